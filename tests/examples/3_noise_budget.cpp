// Example 3: the noise budget.
//
// The invariant noise v of a ciphertext (Bos et al. 2013 §4; the invariant form of Fan and
// Vercauteren 2012, §4, and Costache-Smart 2016) is defined by  t/q·[f^d·c]_q = m + v + t·k;
// decryption rounds away v and is correct while ‖v‖∞ < 1/2. The budget -log2(2‖v‖∞) is the number
// of bits of noise growth left. The client measures it with the secret key
// (Decryptor::invariant_noise_budget); the server cannot, so every ciphertext carries the keyless
// noise model's estimate (noise_model.hpp), which is meant to stay above the measured noise.
#include <cstdint>
#include <string>
#include <vector>

#include "cryptonets/encoding/batch_encoder.hpp"
#include "cryptonets/encoding/plaintext_crt.hpp"
#include "cryptonets/random/chacha20.hpp"
#include "cryptonets/yashe/encryptor.hpp"
#include "cryptonets/yashe/evaluator.hpp"
#include "cryptonets/yashe/key_generator.hpp"
#include "cryptonets/yashe/noise_model.hpp"
#include "lesson.hpp"

using namespace cryptonets;
using lesson::claim;
using lesson::say;

namespace {

struct Setting {
  std::shared_ptr<const yashe::Context> context;
  yashe::KeySet keys;
};

Setting make(size_t n, size_t primes, int prime_bits, int t_bits, Prng& prng) {
  yashe::Parameters params = yashe::Parameters::create(n, primes, prime_bits, 3);
  params.t = encoding::select_plaintext_moduli(n, t_bits, 1, params.q_primes).front();
  Setting s{yashe::Context::create(params), {}};
  s.keys = yashe::generate_keys(s.context, prng);
  return s;
}

// Prints one row and checks that the keyless estimate is no smaller than the measured noise.
void row(const std::string& step, const yashe::Decryptor& decryptor, const yashe::Ciphertext& ct,
         bool& model_above) {
  const double measured = decryptor.invariant_noise_budget(ct);
  const double predicted = yashe::NoiseModel::budget_bits(ct.noise_log2);
  say("  %-34s measured %6.1f bits   predicted (keyless) %6.1f bits", step.c_str(), measured,
      predicted);
  model_above &= predicted <= measured;
}

}  // namespace

int main(int argc, char** argv) {
  lesson::arguments(argc, argv);
  lesson::title("3. The noise budget");
  Prng prng = Prng::insecure_seeded(3);  // INSECURE: reproducible lesson

  lesson::title("3.1 The real size: n = 8192, log2 q ~ 385, t of 39 bits");
  const Setting real = make(8192, 7, 55, 39, prng);
  say("%s", real.context->parameters().describe().c_str());
  const encoding::BatchEncoder encoder(real.context);
  const yashe::Encryptor encryptor(real.context, real.keys.public_key);
  const yashe::Decryptor decryptor(real.context, real.keys.secret_key);
  const yashe::Evaluator evaluator(real.context, real.keys.evaluation_key);
  std::vector<int64_t> x(8192);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = static_cast<int64_t>(i % 200) - 100;
  bool model_above = true;
  yashe::Ciphertext a = encryptor.encrypt(encoder.encode(x), prng);
  const double fresh = decryptor.invariant_noise_budget(a);
  row("fresh encryption", decryptor, a, model_above);
  yashe::Ciphertext sum = a;
  evaluator.add_inplace(sum, a);
  row("a + a", decryptor, sum, model_above);
  const double after_add = decryptor.invariant_noise_budget(sum);
  yashe::Ciphertext scaled = a;
  evaluator.multiply_scalar_inplace(scaled, 1000);
  row("1000 * a", decryptor, scaled, model_above);
  const double after_scalar = decryptor.invariant_noise_budget(scaled);
  yashe::Ciphertext squared = evaluator.multiply_without_relinearization(a, a);
  row("a * a (degree 2, under f^2)", decryptor, squared, model_above);
  const double after_square = decryptor.invariant_noise_budget(squared);
  evaluator.relinearize_inplace(squared);
  row("relinearised (degree 1)", decryptor, squared, model_above);
  yashe::Ciphertext fourth = evaluator.square(squared);
  row("(a * a)^2, relinearised", decryptor, fourth, model_above);

  say("An addition costs at most 1 bit, a multiplication by w about log2 |w| bits, a ciphertext");
  say("product about %.0f bits here (the noise is multiplied by about t * n * ||f||): products",
      fresh - after_square);
  say("dominate, which is why CryptoNets uses x^2 as its activation and only two of them.");
  claim(fresh - after_add <= 1.01, "a + a costs at most one bit of budget");
  claim(fresh - after_scalar >= 9 && fresh - after_scalar <= 11,
        "1000 * a costs about log2(1000) = 10 bits");
  claim(fresh - after_square > 30, "a ciphertext product costs far more (over 30 bits)");
  claim(model_above, "the keyless estimate never promises more budget than was measured");
  std::vector<int64_t> expected(8192);
  for (size_t i = 0; i < x.size(); ++i)
    expected[i] = x[i] * x[i] * x[i] * x[i];
  claim(encoder.decode(decryptor.decrypt(fourth)) == expected,
        "with budget left, (a*a)^2 decrypts to x^4 in all 8192 slots");

  lesson::title("3.2 INSECURE toy: n = 256, log2 q ~ 150 (three 50-bit primes), t of 20 bits");
  say("A small q runs out after a few squares; at zero budget decryption is wrong.");
  const Setting toy = make(256, 3, 50, 20, prng);
  const encoding::BatchEncoder toy_encoder(toy.context);
  const yashe::Encryptor toy_encryptor(toy.context, toy.keys.public_key);
  const yashe::Decryptor toy_decryptor(toy.context, toy.keys.secret_key);
  const yashe::Evaluator toy_evaluator(toy.context, toy.keys.evaluation_key);
  const uint64_t t = toy.context->parameters().t;
  std::vector<uint64_t> values(256), powers(256);
  for (size_t i = 0; i < 256; ++i)
    values[i] = powers[i] = 2 + i;
  yashe::Ciphertext c = toy_encryptor.encrypt(toy_encoder.encode_unsigned(values), prng);
  bool correct_while_positive = true, wrong_once_exhausted = false, toy_model_above = true;
  for (int squarings = 0; squarings <= 4; ++squarings) {
    // Once the noise wraps, ‖v‖∞ sits within about 2/n of 1/2: the budget reads as about 0.
    const bool exhausted = toy_decryptor.invariant_noise_budget(c) < 0.01;
    const bool right = toy_encoder.decode_unsigned(toy_decryptor.decrypt(c)) == powers;
    bool model_here = true;
    row("x^(2^" + std::to_string(squarings) + ")  " + (right ? "decrypts right" : "WRONG"),
        toy_decryptor, c, model_here);
    if (!exhausted) {
      correct_while_positive &= right;
      toy_model_above &= model_here;
    } else {
      wrong_once_exhausted = !right;
      break;
    }
    c = toy_evaluator.square(c);
    for (uint64_t& p : powers)
      p = static_cast<uint64_t>(static_cast<u128>(p) * p % t);
  }
  claim(correct_while_positive, "while the budget is positive, every slot decrypts right");
  claim(wrong_once_exhausted, "once the budget is exhausted, decryption is wrong");
  claim(toy_model_above, "the keyless estimate stays on the safe side here too");
  return lesson::finish();
}
