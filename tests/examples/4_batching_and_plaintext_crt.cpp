// Example 4: batching (SIMD slots) and the plaintext CRT.
//
// Batching (Smart and Vercauteren, DCC 2014, §3; CryptoNets §3): for a prime t = 1 (mod 2n),
// x^n + 1 splits mod t into n linear factors x - psi^(2i+1), so R_t = Z_t^n and one plaintext
// holds n independent values ("slots"); sums and products act slot by slot. Slot i is the
// polynomial's value at psi^(2*brv(i)+1), psi the smallest primitive 2n-th root of unity mod t
// (the order of the negacyclic NTT, ring/ntt.hpp). CryptoNets puts one image per slot.
//
// Plaintext CRT (CryptoNets §3): the network's outputs need about 78 bits, more than one t can
// hold, so the same computation runs under t_1 and t_2 and the results are recombined mod t_1*t_2.
#include <cstdint>
#include <string>
#include <vector>

#include "cryptonets/arith/primes.hpp"
#include "cryptonets/encoding/batch_encoder.hpp"
#include "cryptonets/encoding/plaintext_crt.hpp"
#include "cryptonets/random/chacha20.hpp"
#include "cryptonets/ring/reference.hpp"
#include "example_support.hpp"
#include "lesson.hpp"

using namespace cryptonets;
using example::show;
using lesson::claim;
using lesson::say;

int main(int argc, char** argv) {
  lesson::arguments(argc, argv);
  lesson::title("4. Batching and the plaintext CRT");

  lesson::title("4.1 INSECURE toy: n = 4 slots, t = 17");
  yashe::Parameters toy_params;
  toy_params.n = 4;
  toy_params.q_primes = generate_ntt_primes(30, 1, 8);
  toy_params.t = 17;
  const auto toy = yashe::Context::create(toy_params);
  const encoding::BatchEncoder encoder(toy);
  const Modulus t17(17);
  const uint64_t psi = minimal_primitive_root(8, t17);
  say("psi = %llu; the slots are the values at psi^1, psi^5, psi^3, psi^7 = %llu, %llu, %llu, %llu",
      static_cast<unsigned long long>(psi), static_cast<unsigned long long>(pow_mod(psi, 1, t17)),
      static_cast<unsigned long long>(pow_mod(psi, 5, t17)),
      static_cast<unsigned long long>(pow_mod(psi, 3, t17)),
      static_cast<unsigned long long>(pow_mod(psi, 7, t17)));
  const std::vector<uint64_t> slots_a = {1, 2, 3, 4}, slots_b = {5, 6, 7, 8};
  const yashe::Plaintext a = encoder.encode_unsigned(slots_a), b = encoder.encode_unsigned(slots_b);
  say("slots (1, 2, 3, 4) are the polynomial with coefficients %s", show(a.coeffs, 4).c_str());
  say("slots (5, 6, 7, 8) are the polynomial with coefficients %s", show(b.coeffs, 4).c_str());
  bool evaluations = true;
  const uint64_t exponents[] = {1, 5, 3, 7};
  for (size_t i = 0; i < 4; ++i) {
    const uint64_t root = pow_mod(psi, exponents[i], t17);
    uint64_t value = 0;
    for (size_t j = 4; j-- > 0;)
      value = add_mod(mul_mod(value, root, t17), a.coeffs[j], t17);
    evaluations &= value == slots_a[i];
  }
  claim(evaluations, "slot i of the first plaintext is its value at psi^(2*brv(i)+1)");
  std::vector<mpz_class> pa, pb;
  for (size_t j = 0; j < 4; ++j) {
    pa.emplace_back(static_cast<unsigned long>(a.coeffs[j]));
    pb.emplace_back(static_cast<unsigned long>(b.coeffs[j]));
  }
  yashe::Plaintext product;
  for (const mpz_class& c : reference::negacyclic_multiply_schoolbook(pa, pb)) {
    mpz_class r = c % 17;
    if (r < 0) r += 17;
    product.coeffs.push_back(r.get_ui());
  }
  const std::vector<uint64_t> product_slots = encoder.decode_unsigned(product);
  say("their product in R_17 = Z_17[x]/(x^4 + 1) has slots %s = (1*5, 2*6, 3*7, 4*8) mod 17",
      show(product_slots, 4).c_str());
  claim(product_slots == std::vector<uint64_t>({5, 12, 4, 15}),
        "multiplying polynomials multiplies the slots one by one");

  lesson::title("4.2 INSECURE toy: the plaintext CRT with t_1 = 17 and t_2 = 97");
  const encoding::PlaintextCrt toy_crt({17, 97});
  const std::vector<uint64_t> residues = toy_crt.residues(mpz_class(-700));
  say("-700 is %llu mod 17 and %llu mod 97; T = 17 * 97 = 1649 holds every |x| <= 824",
      static_cast<unsigned long long>(residues[0]), static_cast<unsigned long long>(residues[1]));
  claim(toy_crt.recombine(residues) == -700, "the centred CRT recombination gives -700 back");

  lesson::title("4.3 The real size: n = 8192 slots, two 39-bit plaintext moduli, T of 78 bits");
  yashe::Parameters base = yashe::Parameters::create(8192, 7, 55, 3);
  const std::vector<uint64_t> moduli =
      encoding::select_plaintext_moduli(8192, 39, 2, base.q_primes);
  base.t = moduli.front();
  say("t_1 = %llu, t_2 = %llu", static_cast<unsigned long long>(moduli[0]),
      static_cast<unsigned long long>(moduli[1]));
  Prng prng = Prng::insecure_seeded(4);  // INSECURE: reproducible lesson
  const encoding::CrtKeys keys = encoding::CrtKeys::generate(base, moduli, prng);
  const encoding::CrtEncryptionSet server(keys);
  const encoding::CrtDecryptionSet client(keys);
  std::vector<int64_t> x(8192);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = static_cast<int64_t>(prng.next_u64() % (uint64_t{1} << 36)) - (int64_t{1} << 35);
  const encoding::CrtCiphertext ct = server.encrypt(x, prng);
  const encoding::CrtCiphertext squared = server.multiply(ct, ct);
  const mpz_class bound = mpz_class(1) << 70;
  const std::vector<mpz_class> decrypted = client.decrypt(squared, bound);
  bool exact = true, beyond_one_t = false;
  for (size_t i = 0; i < x.size(); ++i) {
    const mpz_class expected = mpz_class(static_cast<long>(x[i])) * static_cast<long>(x[i]);
    exact &= decrypted[i] == expected;
    beyond_one_t |= expected > mpz_class(static_cast<unsigned long>(moduli[0]));
  }
  say("8192 values of up to 36 bits, squared under encryption: slot 0 is %s^2 = %s",
      std::to_string(x[0]).c_str(), decrypted[0].get_str().c_str());
  claim(beyond_one_t, "the squares exceed what one 39-bit t could hold");
  claim(exact,
        "one ciphertext pair squared 8192 values at once, and the CRT over t_1, t_2 gives "
        "every exact 72-bit square");
  return lesson::finish();
}
