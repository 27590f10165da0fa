// Example 1: modular arithmetic and the negacyclic NTT.
//
// Every ciphertext of this project is a polynomial in R_q = Z_q[x]/(x^n + 1) with q a product of
// word-size primes. This lesson shows the two tools everything else is built on: multiplication
// modulo a word prime (Barrett; Shoup's precomputed quotient), and the number-theoretic transform
// that turns a product of polynomials into n products of numbers.
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "cryptonets/arith/modulus.hpp"
#include "cryptonets/arith/primes.hpp"
#include "cryptonets/ring/ntt.hpp"
#include "cryptonets/ring/reference.hpp"
#include "lesson.hpp"

using namespace cryptonets;
using lesson::claim;
using lesson::say;

namespace {

size_t bit_reverse(size_t i, int bits) {
  size_t r = 0;
  for (int b = 0; b < bits; ++b)
    r |= ((i >> b) & 1) << (bits - 1 - b);
  return r;
}

std::vector<mpz_class> to_mpz(const std::vector<uint64_t>& v) {
  std::vector<mpz_class> out;
  for (uint64_t x : v)
    out.emplace_back(static_cast<unsigned long>(x));
  return out;
}

// The product in Z_q[x]/(x^n + 1) by NTT: forward, pointwise multiply, inverse.
std::vector<uint64_t> ntt_product(const NttTables& ntt, std::vector<uint64_t> a,
                                  std::vector<uint64_t> b) {
  ntt.forward(a.data());
  ntt.forward(b.data());
  for (size_t i = 0; i < a.size(); ++i)
    a[i] = mul_mod(a[i], b[i], ntt.modulus());
  ntt.inverse(a.data());
  return a;
}

// The schoolbook product (reference twin), reduced mod q into [0, q).
std::vector<uint64_t> schoolbook_product(const std::vector<uint64_t>& a,
                                         const std::vector<uint64_t>& b, uint64_t q) {
  const auto exact = reference::negacyclic_multiply_schoolbook(to_mpz(a), to_mpz(b));
  std::vector<uint64_t> out;
  for (const mpz_class& c : exact) {
    mpz_class r = c % mpz_class(static_cast<unsigned long>(q));
    if (r < 0) r += static_cast<unsigned long>(q);
    out.push_back(r.get_ui());
  }
  return out;
}

std::string show(const std::vector<uint64_t>& v) {
  std::string text = "(";
  for (size_t i = 0; i < v.size(); ++i)
    text += (i ? ", " : "") + std::to_string(v[i]);
  return text + ")";
}

}  // namespace

int main(int argc, char** argv) {
  lesson::arguments(argc, argv);
  lesson::title("1. Modular arithmetic and the NTT");
  say("INSECURE toy sizes first (q = 17, n = 4) so that every number fits on the screen;");
  say("then the real size of this project (n = 8192, 55-bit primes).");

  lesson::title("1.1 Multiplying modulo a word prime");
  const Modulus q17(17);
  say("In Z_17: 13 * 11 = 143 = 8*17 + 7, so 13 * 11 = %llu (mod 17).",
      static_cast<unsigned long long>(mul_mod(13, 11, q17)));
  claim(mul_mod(13, 11, q17) == 7, "Barrett multiplication: 13 * 11 mod 17 = 7");
  say("Barrett (1986) replaces the division by a multiplication with floor(2^128 / q).");
  say("Shoup: for a fixed w, precompute w' = floor(w * 2^64 / q); then x*w mod q costs two");
  say("multiplications and no division. Every NTT butterfly multiplies by fixed twiddles this "
      "way.");
  const ShoupMultiplier w11(11, q17);
  say("w = 11: w' = floor(11 * 2^64 / 17) = %llu", static_cast<unsigned long long>(w11.quotient));
  claim(mul_shoup(13, w11, 17) == 7, "Shoup multiplication gives the same 7");

  const Modulus q55(generate_ntt_primes(55, 1, 2 * 8192).front());
  std::mt19937_64 rng(1);
  bool all_equal = true;
  for (int i = 0; i < 100000; ++i) {
    const uint64_t a = rng() % q55.value(), b = rng() % q55.value();
    const ShoupMultiplier wb(b, q55);
    const uint64_t expected = static_cast<uint64_t>((static_cast<u128>(a) * b) % q55.value());
    all_equal &= mul_mod(a, b, q55) == expected && mul_shoup(a, wb, q55.value()) == expected;
  }
  claim(all_equal,
        "real size: Barrett and Shoup equal the 128-bit remainder on 100000 random "
        "products mod the 55-bit prime " +
            std::to_string(q55.value()));

  lesson::title("1.2 The negacyclic NTT (INSECURE toy: n = 4, q = 17)");
  say("x^4 + 1 has 4 roots mod 17 because 17 = 1 (mod 8): the odd powers of a primitive 8th");
  say("root of unity psi. The project always takes the smallest such psi.");
  const NttTables toy(4, q17);
  const uint64_t psi = toy.psi();
  say("psi = %llu; psi^4 = %llu = -1 (mod 17)", static_cast<unsigned long long>(psi),
      static_cast<unsigned long long>(pow_mod(psi, 4, q17)));
  claim(psi == minimal_primitive_root(8, q17) && pow_mod(psi, 4, q17) == 16,
        "psi is the minimal primitive 8th root of unity and psi^4 = -1");
  const std::vector<uint64_t> a = {1, 2, 3, 4};  // 1 + 2x + 3x^2 + 4x^3
  std::vector<uint64_t> values = a;
  toy.forward(values.data());
  say("a(x) = 1 + 2x + 3x^2 + 4x^3; NTT(a) = %s", show(values).c_str());
  say("Slot i is a(psi^(2*brv(i)+1)), brv = bit reversal of log2 n bits: the roots");
  std::string roots;
  bool evaluations = true;
  for (size_t i = 0; i < 4; ++i) {
    const uint64_t root = pow_mod(psi, 2 * bit_reverse(i, 2) + 1, q17);
    roots += std::to_string(root) + (i < 3 ? ", " : "");
    uint64_t value = 0;
    for (size_t j = 4; j-- > 0;)
      value = add_mod(mul_mod(value, root, q17), a[j], q17);
    evaluations &= value == values[i];
  }
  say("in the order %s.", roots.c_str());
  claim(evaluations, "NTT output i = a(psi^(2*brv(i)+1)) for i = 0..3");
  std::vector<uint64_t> back = values;
  toy.inverse(back.data());
  claim(back == a, "the inverse NTT gives the coefficients back");

  lesson::title("1.3 Products: pointwise after the NTT, negacyclic in coefficients");
  const std::vector<uint64_t> x3 = {0, 0, 0, 1}, x1 = {0, 1, 0, 0};
  const auto wrap = ntt_product(toy, x3, x1);
  say("x^3 * x = x^4 = -1 in R: NTT product = %s", show(wrap).c_str());
  claim(wrap == std::vector<uint64_t>({16, 0, 0, 0}), "x^3 * x = -1 = 16 (mod 17): the wrap");
  const std::vector<uint64_t> b = {5, 0, 16, 1};
  claim(ntt_product(toy, a, b) == schoolbook_product(a, b, 17),
        "NTT product of a and 5 - x^2 + x^3 equals the schoolbook product " +
            show(schoolbook_product(a, b, 17)));

  lesson::title("1.4 The real size: n = 8192, one 55-bit prime");
  const NttTables real(8192, q55);
  say("q = %llu (55 bits, = 1 mod 16384), psi = %llu", static_cast<unsigned long long>(q55.value()),
      static_cast<unsigned long long>(real.psi()));
  std::vector<uint64_t> p(8192), r(8192);
  for (size_t i = 0; i < 8192; ++i) {
    p[i] = rng() % q55.value();
    r[i] = rng() % q55.value();
  }
  const auto fast = ntt_product(real, p, r);
  const auto exact = reference::negacyclic_multiply_ntl(to_mpz(p), to_mpz(r));
  bool same = true;
  for (size_t i = 0; i < 8192; ++i) {
    mpz_class c = exact[i] % mpz_class(static_cast<unsigned long>(q55.value()));
    if (c < 0) c += static_cast<unsigned long>(q55.value());
    same &= c.get_ui() == fast[i];
  }
  say("One product by NTT: 3 transforms of n log n butterflies instead of n^2 = 67 million");
  say("multiplications. Its reference twin is NTL's exact integer product, reduced mod x^n + 1.");
  claim(same, "NTT product of two random polynomials equals NTL's product mod q at n = 8192");
  return lesson::finish();
}
