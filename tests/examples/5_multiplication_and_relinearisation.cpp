// Example 5: multiplication and relinearisation (BLLN13 §4, Mult and KeySwitch).
//
//   Mult      c~ = [round(t/q · c1·c2)]_q, c1·c2 the exact product of the centred lifts in
//             Z[x]/(x^n + 1). Since f·c_i = Δ·m_i + noise, f²·c~ = Δ·m1·m2 + noise: the product
//             decrypts under f², which the ciphertext's degree field records (degree 2).
//   KeySwitch c = [Σ_d D_d(c~)·γ_d]_q with γ_d = [f·P_d + e_d + h·s_d]_q: the digits D_d(c~) of c~
//             times an encryption of f·P_d under f turn "decrypts under f²" into "under f".
// The RNS multiplication (base extension to q ∪ B, NTT product, exact scale-and-round) is checked
// bit for bit against the GMP reference twin yashe::reference::multiply_without_relinearization.
#include <cstdint>
#include <string>
#include <vector>

#include "cryptonets/encoding/batch_encoder.hpp"
#include "cryptonets/encoding/plaintext_crt.hpp"
#include "cryptonets/random/chacha20.hpp"
#include "cryptonets/yashe/encryptor.hpp"
#include "cryptonets/yashe/evaluator.hpp"
#include "cryptonets/yashe/key_generator.hpp"
#include "cryptonets/yashe/reference.hpp"
#include "example_support.hpp"
#include "lesson.hpp"

using namespace cryptonets;
using example::show;
using lesson::claim;
using lesson::say;

namespace {

struct Scheme {
  std::shared_ptr<const yashe::Context> context;
  yashe::KeySet keys;
  encoding::BatchEncoder encoder;
  yashe::Encryptor encryptor;
  yashe::Decryptor decryptor;
  yashe::Evaluator evaluator;

  Scheme(size_t n, size_t primes, int t_bits, Prng& prng)
      : context(make_context(n, primes, t_bits)),
        keys(yashe::generate_keys(context, prng)),
        encoder(context),
        encryptor(context, keys.public_key),
        decryptor(context, keys.secret_key),
        evaluator(context, keys.evaluation_key) {}

  static std::shared_ptr<const yashe::Context> make_context(size_t n, size_t primes, int t_bits) {
    yashe::Parameters params = yashe::Parameters::create(n, primes, 55, 3);
    params.t = encoding::select_plaintext_moduli(n, t_bits, 1, params.q_primes).front();
    return yashe::Context::create(params);
  }
};

void lesson_at(const Scheme& s, Prng& prng, size_t shown) {
  const size_t n = s.context->n();
  std::vector<int64_t> x(n), y(n), xy(n);
  for (size_t i = 0; i < n; ++i) {
    x[i] = static_cast<int64_t>(i % 50) - 20;
    y[i] = 3 - static_cast<int64_t>(i % 7);
    xy[i] = x[i] * y[i];
  }
  const yashe::Ciphertext cx = s.encryptor.encrypt(s.encoder.encode(x), prng);
  const yashe::Ciphertext cy = s.encryptor.encrypt(s.encoder.encode(y), prng);
  yashe::Ciphertext product = s.evaluator.multiply_without_relinearization(cx, cy);
  say("x = %s, y = %s", show(x, shown).c_str(), show(y, shown).c_str());
  say("c~ = round(t/q * cx*cy) has degree %d; budget %.1f bits", product.degree,
      s.decryptor.invariant_noise_budget(product));
  claim(product.degree == 2, "the product is of degree 2 (it decrypts under f^2)");
  claim(
      product.parts[0] ==
          yashe::reference::multiply_without_relinearization(*s.context, cx.parts[0], cy.parts[0]),
      "the RNS product equals the GMP reference twin bit for bit (n = " + std::to_string(n) + ")");
  const RnsPoly& f = s.keys.secret_key.f;
  const auto under_f2 = example::decrypt_by_formula(*s.context, multiply(f, f), product.parts[0]);
  const auto under_f = example::decrypt_by_formula(*s.context, f, product.parts[0]);
  say("decrypted under f^2: slots %s",
      show(s.encoder.decode(yashe::Plaintext{under_f2}), shown).c_str());
  say("decrypted under f:   slots %s  (garbage)",
      show(s.encoder.decode(yashe::Plaintext{under_f}), shown).c_str());
  claim(s.encoder.decode(yashe::Plaintext{under_f2}) == xy, "under f^2 the slots are x*y");
  claim(s.encoder.decode(yashe::Plaintext{under_f}) != xy, "under f alone they are not");
  const double before = s.decryptor.invariant_noise_budget(product);
  s.evaluator.relinearize_inplace(product);
  const double after = s.decryptor.invariant_noise_budget(product);
  say("after relinearisation: degree %d, budget %.1f bits (key switching cost %.2f bits)",
      product.degree, after, before - after);
  claim(product.degree == 1 && s.encoder.decode(yashe::Plaintext{example::decrypt_by_formula(
                                   *s.context, f, product.parts[0])}) == xy,
        "relinearised, the product decrypts under f to x*y");
  if (n >= 8192) {
    claim(before - after < 1, "at the real size relinearisation costs under one bit of budget");
  } else {
    say("(at this toy size the product's noise is so small that key switching's own noise,");
    say(" about n * sigma * max q_i, shows; at n = 8192 it vanishes beside the product's)");
  }
}

}  // namespace

int main(int argc, char** argv) {
  lesson::arguments(argc, argv);
  lesson::title("5. Multiplication and relinearisation");
  Prng prng = Prng::insecure_seeded(5);  // INSECURE: reproducible lesson

  lesson::title("5.1 INSECURE toy: n = 16, q = 7 primes of 55 bits, t of 17 bits");
  const Scheme toy(16, 7, 17, prng);
  lesson_at(toy, prng, 8);

  lesson::title("5.2 The real size: n = 8192, log2 q ~ 385, t of 39 bits");
  const Scheme real(8192, 7, 39, prng);
  lesson_at(real, prng, 8);
  say("The evaluation key holds %zu polynomials gamma_d, one per RNS digit [c*qhat_i^-1]_{q_i}.",
      real.keys.evaluation_key.gamma.size());
  return lesson::finish();
}
