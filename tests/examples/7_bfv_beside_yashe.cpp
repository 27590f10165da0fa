// Example 7: BFV beside YASHE' — the same message through both schemes on the same ring.
//
//   YASHE' (Bos, Lauter, Loftus, Naehrig, IMA CC 2013, §4)      BFV (Fan, Vercauteren, ePrint
//   2012/144, §3-§4) secret   f = t·f' + 1, f' ternary                          s ternary public h
//   = [t·g·f^-1]_q  (one polynomial)                pk = ([-(a·s + e)]_q, a)  (two) encrypt  c =
//   [Δ·m + e + h·s]_q  (one part)                 (p0·u + e1 + round(q/t·m), p1·u + e2)  (two)
//   decrypt  [round(t/q·[f·c]_q)]_t                            [round(t/q·[c0 + c1·s]_q)]_t
//   multiply one part, decrypts under f² (degree 2)            three parts, under (1, s, s²)
//   relin    Σ D_d(c)·γ_d, k key polynomials                   (c0 + Σ D_d(c2)·b_d, c1 + Σ
//   D_d(c2)·a_d), 2k
//
// Noise: at the same q, YASHE' starts about 2·log2 t bits lower (its fresh noise carries
// r_t(q)·f'·m) and loses about log2 t bits more per product (every noise term carries f, of size
// t), so where BFV carries two products YASHE' carries one: the lesson shows it and checks it.
//
// Security: BFV's public key and ciphertexts are RLWE samples, so the HE standard's tables apply.
// YASHE's public key h is an NTRU instance (the DSPR assumption), and at the q that homomorphic
// evaluation needs NTRU is overstretched (Albrecht–Bai–Ducas 2016; Kirchner–Fouque 2017;
// Ducas–van Woerden 2021): no security level is claimed for YASHE' at any size here.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "cryptonets/arith/primes.hpp"
#include "cryptonets/bfv/encryptor.hpp"
#include "cryptonets/bfv/evaluator.hpp"
#include "cryptonets/bfv/key_generator.hpp"
#include "cryptonets/bfv/reference.hpp"
#include "cryptonets/bfv/security.hpp"
#include "cryptonets/encoding/batch_encoder.hpp"
#include "cryptonets/encoding/plaintext_crt.hpp"
#include "cryptonets/random/chacha20.hpp"
#include "cryptonets/yashe/encryptor.hpp"
#include "cryptonets/yashe/evaluator.hpp"
#include "cryptonets/yashe/key_generator.hpp"
#include "cryptonets/yashe/reference.hpp"
#include "cryptonets/yashe/security.hpp"
#include "example_support.hpp"
#include "lesson.hpp"

using namespace cryptonets;
using example::show;
using lesson::claim;
using lesson::say;

namespace {

// [c0 + c1·s (+ c2·s²)]_q, centred: BFV's decryption before the rounding, written out.
std::vector<mpz_class> bfv_key_product(const bfv::KeySet& keys, const rlwe::Ciphertext& ct) {
  RnsPoly sum = ct.parts[0];
  sum.to_evaluation();
  RnsPoly power = keys.secret_key.s;  // evaluation form
  for (size_t i = 1; i < ct.parts.size(); ++i) {
    sum += multiply(ct.parts[i], power);
    power = multiply(power, keys.secret_key.s);
  }
  sum.to_coefficient();
  return sum.to_bigint_centered();
}

// [f^degree·c]_q, centred: YASHE's decryption before the rounding.
std::vector<mpz_class> yashe_key_product(const yashe::KeySet& keys, const rlwe::Ciphertext& ct) {
  RnsPoly key = keys.secret_key.f;
  for (int i = 1; i < ct.degree; ++i)
    key = multiply(key, keys.secret_key.f);
  RnsPoly product = multiply(key, ct.parts[0]);
  product.to_coefficient();
  return product.to_bigint_centered();
}

struct Budgets {
  double fresh = 0, product = 0, relinearised = 0, second_product = 0;
};

// v mod t, centred in (-t/2, t/2]: how a slot holds an integer.
int64_t centred(int64_t v, uint64_t t) {
  const auto tt = static_cast<int64_t>(t);
  int64_t r = ((v % tt) + tt) % tt;
  return r > tt / 2 ? r - tt : r;
}

struct Pair {
  yashe::Parameters yashe_params;
  bfv::Parameters bfv_params;
  std::shared_ptr<const yashe::Context> yashe_context;
  std::shared_ptr<const bfv::Context> bfv_context;
  yashe::KeySet yashe_keys;
  bfv::KeySet bfv_keys;

  // Both schemes on the same ring: the same n, primes of q, t and σ.
  Pair(size_t n, std::vector<uint64_t> q_primes, uint64_t t, Prng& prng) {
    yashe_params.n = bfv_params.n = n;
    yashe_params.q_primes = bfv_params.q_primes = std::move(q_primes);
    yashe_params.t = bfv_params.t = t;
    yashe_context = yashe::Context::create(yashe_params);
    bfv_context = bfv::Context::create(bfv_params);
    yashe_keys = yashe::generate_keys(yashe_context, prng);
    bfv_keys = bfv::generate_keys(bfv_context, prng);
  }
};

// The same two messages through both schemes: encrypt, multiply, relinearise, decrypt; the noise
// budget after each step. `shown` coefficients of each object are printed (toy size only).
void lesson_at(const Pair& p, Prng& prng, size_t shown, Budgets& yashe_budget,
               Budgets& bfv_budget) {
  const size_t n = p.bfv_params.n;
  const encoding::BatchEncoder encoder(n, p.bfv_params.t);
  std::vector<int64_t> x(n), y(n), xy(n);
  for (size_t i = 0; i < n; ++i) {
    x[i] = static_cast<int64_t>(i % 9) - 4;
    y[i] = static_cast<int64_t>(i % 5) + 1;
    xy[i] = x[i] * y[i];
  }
  const rlwe::Plaintext mx = encoder.encode(x), my = encoder.encode(y);
  say("slots x = %s, y = %s", show(x, 8).c_str(), show(y, 8).c_str());

  const yashe::Encryptor y_enc(p.yashe_context, p.yashe_keys.public_key);
  const yashe::Decryptor y_dec(p.yashe_context, p.yashe_keys.secret_key);
  const yashe::Evaluator y_eval(p.yashe_context, p.yashe_keys.evaluation_key);
  const bfv::Encryptor b_enc(p.bfv_context, p.bfv_keys.public_key);
  const bfv::Decryptor b_dec(p.bfv_context, p.bfv_keys.secret_key);
  const bfv::Evaluator b_eval(p.bfv_context, p.bfv_keys.relinearization_key);

  // Encrypt.
  const rlwe::Ciphertext ycx = y_enc.encrypt(mx, prng), ycy = y_enc.encrypt(my, prng);
  const rlwe::Ciphertext bcx = b_enc.encrypt(mx, prng), bcy = b_enc.encrypt(my, prng);
  say("encrypted x: YASHE' %zu part, BFV %zu parts (each a polynomial of R_q)", ycx.parts.size(),
      bcx.parts.size());
  claim(ycx.parts.size() == 1 && bcx.parts.size() == 2,
        "a YASHE' ciphertext is one polynomial, a BFV ciphertext two: BFV's are twice the size");
  if (shown > 0) {
    RnsPoly c = ycx.parts[0];
    c.to_coefficient();
    say("  YASHE' c        = %s", show(c.to_bigint_centered(), shown).c_str());
    RnsPoly c0 = bcx.parts[0], c1 = bcx.parts[1];
    c0.to_coefficient();
    c1.to_coefficient();
    say("  BFV    (c0, c1) = %s,", show(c0.to_bigint_centered(), shown).c_str());
    say("                    %s", show(c1.to_bigint_centered(), shown).c_str());
    say("  before rounding, both keys give q/t*m + small: [f*c]_q = %s",
        show(yashe_key_product(p.yashe_keys, ycx), shown).c_str());
    say("                                         [c0 + c1*s]_q = %s",
        show(bfv_key_product(p.bfv_keys, bcx), shown).c_str());
  }
  claim(encoder.decode(y_dec.decrypt(ycx)) == x && encoder.decode(b_dec.decrypt(bcx)) == x,
        "both decrypt to x");
  yashe_budget.fresh = y_dec.invariant_noise_budget(ycx);
  bfv_budget.fresh = b_dec.invariant_noise_budget(bcx);

  // Multiply.
  rlwe::Ciphertext yp = y_eval.multiply_without_relinearization(ycx, ycy);
  rlwe::Ciphertext bp = b_eval.multiply_without_relinearization(bcx, bcy);
  say("x*y before relinearisation: YASHE' %zu part of degree %d (under f^2), BFV %zu parts "
      "(under 1, s, s^2)",
      yp.parts.size(), yp.degree, bp.parts.size());
  claim(yp.parts.size() == 1 && yp.degree == 2 && bp.parts.size() == 3,
        "the product is one part of degree 2 in YASHE', three parts in BFV");
  claim(yp.parts[0] == yashe::reference::multiply_without_relinearization(
                           *p.yashe_context, ycx.parts[0], ycy.parts[0]) &&
            bp.parts ==
                bfv::reference::multiply_without_relinearization(*p.bfv_context, bcx, bcy).parts,
        "both RNS products equal their GMP reference twins bit for bit (n = " + std::to_string(n) +
            ")");
  claim(encoder.decode(y_dec.decrypt(yp)) == xy && encoder.decode(b_dec.decrypt(bp)) == xy,
        "both products decrypt to x*y");
  yashe_budget.product = y_dec.invariant_noise_budget(yp);
  bfv_budget.product = b_dec.invariant_noise_budget(bp);

  // Relinearise.
  y_eval.relinearize_inplace(yp);
  b_eval.relinearize_inplace(bp);
  claim(yp.parts.size() == 1 && yp.degree == 1 && bp.parts.size() == 2,
        "relinearised: one part under f (YASHE'), two parts under (1, s) (BFV)");
  claim(encoder.decode(y_dec.decrypt(yp)) == xy && encoder.decode(b_dec.decrypt(bp)) == xy,
        "both relinearised products decrypt to x*y");
  yashe_budget.relinearised = y_dec.invariant_noise_budget(yp);
  bfv_budget.relinearised = b_dec.invariant_noise_budget(bp);

  // A second product, (x*y)*y: the depth CryptoNets needs (two squares).
  std::vector<int64_t> xyy(n);
  for (size_t i = 0; i < n; ++i)
    xyy[i] = centred(xy[i] * y[i], p.bfv_params.t);
  const rlwe::Ciphertext yp2 = y_eval.multiply(yp, ycy);
  const rlwe::Ciphertext bp2 = b_eval.multiply(bp, bcy);
  yashe_budget.second_product = y_dec.invariant_noise_budget(yp2);
  bfv_budget.second_product = b_dec.invariant_noise_budget(bp2);

  say("noise budget (bits left, measured with the secret key):");
  say("  %-28s %10s %10s", "", "YASHE'", "BFV");
  say("  %-28s %10.1f %10.1f", "fresh", yashe_budget.fresh, bfv_budget.fresh);
  say("  %-28s %10.1f %10.1f", "x*y", yashe_budget.product, bfv_budget.product);
  say("  %-28s %10.1f %10.1f", "x*y relinearised", yashe_budget.relinearised,
      bfv_budget.relinearised);
  say("  %-28s %10.1f %10.1f", "(x*y)*y relinearised", yashe_budget.second_product,
      bfv_budget.second_product);
  const double yashe_cost = yashe_budget.fresh - yashe_budget.product;
  const double bfv_cost = bfv_budget.fresh - bfv_budget.product;
  say("one product costs YASHE' %.1f bits, BFV %.1f bits (log2 t = %.1f)", yashe_cost, bfv_cost,
      std::log2(static_cast<double>(p.bfv_params.t)));
  claim(yashe_cost > bfv_cost,
        "a product costs YASHE' more budget than BFV: f = t*f' + 1 has coefficients of size t, "
        "s of size 1, and every noise term of the product carries the key");
  claim(encoder.decode(b_dec.decrypt(bp2)) == xyy,
        "BFV: the second product still decrypts to x*y*y (budget left > cost of a product)");
  claim(yashe_budget.relinearised < yashe_cost && encoder.decode(y_dec.decrypt(yp2)) != xyy,
        "YASHE': the budget left after one product is below what a product costs, and the second "
        "product decrypts to garbage");
  say("key sizes in polynomials of R_q: public key %d / %d, evaluation key %zu / %zu", 1, 2,
      p.yashe_keys.evaluation_key.gamma.size(),
      p.bfv_keys.relinearization_key.a.size() + p.bfv_keys.relinearization_key.b.size());
  claim(p.bfv_keys.relinearization_key.a.size() + p.bfv_keys.relinearization_key.b.size() ==
            2 * p.yashe_keys.evaluation_key.gamma.size(),
        "BFV's relinearisation key has two polynomials per digit, YASHE's evaluation key one");
}

}  // namespace

int main(int argc, char** argv) {
  lesson::arguments(argc, argv);
  lesson::title("7. BFV beside YASHE'");
  say("All randomness in this lesson comes from Prng::insecure_seeded: INSECURE, reproducible.");
  Prng prng = Prng::insecure_seeded(7);

  lesson::title("7.1 INSECURE toy: n = 16, q = two 30-bit primes, t = 97");
  {
    const Pair toy(16, generate_ntt_primes(30, 2, 32), 97, prng);
    say("q = %s, t = 97", toy.yashe_context->q().get_str().c_str());
    std::vector<int> f_prime(toy.yashe_keys.secret_key.f_prime.begin(),
                             toy.yashe_keys.secret_key.f_prime.end());
    std::vector<int> s(toy.bfv_keys.secret_key.coefficients.begin(),
                       toy.bfv_keys.secret_key.coefficients.end());
    say("YASHE' secret f = 97*f' + 1 with f' = %s", show(f_prime, 16).c_str());
    say("BFV    secret s                 = %s", show(s, 16).c_str());
    Budgets yb, bb;
    lesson_at(toy, prng, 3, yb, bb);
    say("(the coefficients of [f*c]_q and [c0 + c1*s]_q sit near multiples of q/t ~ %s)",
        mpz_class(toy.yashe_context->q() / 97).get_str().c_str());
  }

  lesson::title("7.2 The real size: n = 8192, q = BFV's 218 bits (2 x 55 + 2 x 54), t of 39 bits");
  std::vector<uint64_t> q = generate_ntt_primes(55, 2, 2 * 8192);
  for (uint64_t p : generate_ntt_primes(54, 2, 2 * 8192))
    q.push_back(p);
  const uint64_t t = encoding::select_plaintext_moduli(8192, 39, 1, q).front();
  const Pair real(8192, q, t, prng);
  say("%s", real.bfv_params.describe().c_str());
  Budgets yb, bb;
  lesson_at(real, prng, 0, yb, bb);
  const double log2_t = std::log2(static_cast<double>(t));
  say("Why YASHE' starts lower: f*c = Delta*f*m + f*e + t*g*s, and Delta*f*m = Delta*m + "
      "Delta*t*f'*m");
  say("= Delta*m - r_t(q)*f'*m (mod q), r_t(q) = q mod t: with slots filled, f'*m has "
      "coefficients");
  say("near sqrt(n)*t, so the fresh noise is about t^2*sqrt(n), against sigma*sqrt(n) for BFV "
      "(whose");
  say("message sits at round(q/t*m), with no r_t(q) term). Measured difference: %.1f bits.",
      bb.fresh - yb.fresh);
  claim(bb.fresh - yb.fresh > 2 * log2_t - 10 && bb.fresh - yb.fresh < 2 * log2_t + 10,
        "BFV's fresh budget exceeds YASHE's by about 2*log2 t (to within 10 bits)");
  const double extra = (yb.fresh - yb.product) - (bb.fresh - bb.product);
  say("A product costs YASHE' %.1f bits more than BFV: about log2 t = %.1f, the size of f.", extra,
      log2_t);
  claim(extra > log2_t - 8 && extra < log2_t + 8,
        "the extra cost of a YASHE' product is log2 t to within 8 bits");
  say("So at BFV's 218 bits YASHE' carries one product, not CryptoNets' two: this project's "
      "YASHE'");
  say("parameters use log2 q ~ 385 for the network, BFV's 218.");

  lesson::title("7.3 What each scheme can claim about security at n = 8192, log2 q = 218");
  const bfv::SecurityReport bfv_report = bfv::assess_security(real.bfv_params);
  const yashe::SecurityReport yashe_report = yashe::assess_security(real.yashe_params);
  say("BFV:    %s", bfv_report.one_line().c_str());
  say("YASHE': %s", yashe_report.one_line().c_str());
  claim(
      bfv_report.meets_128_classical,
      "BFV: log2 q = 218 is inside the HE standard's 128-bit classical bound for ternary "
      "secrets at n = 8192, and the primal-uSVP estimate agrees (~" +
          std::to_string(static_cast<int>(bfv_report.estimate.bits(rlwe::Adversary::kClassical))) +
          " bits)");
  say("YASHE' on the RLWE side alone (h taken as uniform) estimates %.0f bits; but h = t*g/f is",
      yashe_report.rlwe.bits(rlwe::Adversary::kClassical));
  say("an NTRU instance, and NTRU is overstretched above q ~ 0.004*n^2.484 = 2^%.1f at n = 8192:",
      yashe_report.fatigue_log2_q);
  say("subfield and sublattice attacks then recover f far below any RLWE estimate. 218 bits is "
      "%.0f",
      yashe_report.bits_past_fatigue);
  say("bits past that point, and no parameters that carry a homomorphic product come close.");
  claim(yashe_report.past_fatigue && yashe_report.fatigue_log2_q < 30,
        "YASHE': q is past the NTRU fatigue point (below 2^30 at n = 8192)");
  claim(!yashe_report.established, "YASHE': the report establishes no security level");
  say("The same ring and the same q; what separates the schemes is the key. BFV's public key is "
      "an");
  say("RLWE sample; YASHE's is an NTRU ratio, and the large key f also costs it noise budget.");
  return lesson::finish();
}
