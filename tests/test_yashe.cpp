// YASHE' at the paper's sizes: every operation against plaintext arithmetic in R_t, the RNS
// multiply and decrypt against the GMP reference bit for bit, noise against the model.
#include <doctest/doctest.h>
#include <omp.h>

#include <cmath>
#include <stdexcept>

#include "cryptonets/rlwe/reference.hpp"
#include "cryptonets/yashe/encryptor.hpp"
#include "cryptonets/yashe/evaluator.hpp"
#include "cryptonets/yashe/key_generator.hpp"
#include "cryptonets/yashe/reference.hpp"
#include "cryptonets/yashe/scheme.hpp"
#include "yashe_test_support.hpp"

using namespace test_support;

namespace {

using Fixture = SchemeFixture;

Fixture& paper_fixture() {
  static Fixture fixture(paper_scale_parameters(), 11);
  return fixture;
}

}  // namespace

TEST_CASE("parameters are validated with a message naming the problem") {
  Parameters p = paper_scale_parameters();
  Parameters bad = p;
  bad.n = 3000;
  CHECK_THROWS_WITH_AS(bad.validate(), doctest::Contains("power of two"), std::invalid_argument);
  bad = p;
  bad.t = p.q_primes[0];
  CHECK_THROWS_WITH_AS(bad.validate(), doctest::Contains("coprime"), std::invalid_argument);
  bad = p;
  bad.q_primes[1] = p.q_primes[1] + 2;  // not ≡ 1 mod 2n (or not prime)
  CHECK_THROWS_AS(bad.validate(), std::invalid_argument);
  bad = p;
  bad.q_primes.push_back(p.q_primes[0]);
  CHECK_THROWS_WITH_AS(bad.validate(), doctest::Contains("twice"), std::invalid_argument);
  bad = p;
  bad.q_primes = generate_ntt_primes(50, 1, 2 * p.n);
  bad.t = 1 << 20;
  CHECK_NOTHROW(bad.validate());
  bad.t = uint64_t{1} << 45;
  CHECK_THROWS_WITH_AS(bad.validate(), doctest::Contains("exceed t"), std::invalid_argument);
  // A corrupt sigma is printed short (std::to_string wrote 1e300 in 301 digits, 1e-9 as 0.000000)
  // with the accepted range; a prime below 3 is not called "not below 2^62".
  bad = p;
  bad.sigma = 1e300;
  CHECK_THROWS_WITH_AS(
      bad.validate(),
      "YASHE parameters: sigma = 1e+300 is out of range: it must lie in (0.5, 1000)",
      std::invalid_argument);
  bad.sigma = 1e-9;
  CHECK_THROWS_WITH_AS(bad.validate(), doctest::Contains("sigma = 1e-09 is out of range"),
                       std::invalid_argument);
  bad = p;
  bad.q_primes[0] = 1;
  CHECK_THROWS_WITH_AS(bad.validate(), "YASHE parameters: q prime 1 must lie in [3, 2^62)",
                       std::invalid_argument);
  CHECK(p.fingerprint() != large_parameters().fingerprint());
  CHECK(p.fingerprint() == paper_scale_parameters().fingerprint());
  CHECK(p.log2_q() > 380);
  CHECK(p.log2_q() < 390);
}

TEST_CASE("encryption then decryption returns the message at n = 8192, q ≈ 385 bits, t ≈ 2^40") {
  Fixture& fx = paper_fixture();
  for (int trial = 0; trial < 3; ++trial) {
    Plaintext m = fx.random();
    if (trial == 1) m.coeffs.assign(m.coeffs.size(), fx.context->parameters().t - 1);
    if (trial == 2) m.coeffs.assign(m.coeffs.size(), 0);
    Ciphertext c = fx.encrypt(m);
    CHECK(fx.decryptor.decrypt(c).coeffs == m.coeffs);
    CHECK(reference::decrypt(*fx.context, fx.keys.secret_key, c).coeffs == m.coeffs);
  }
}

TEST_CASE("add, sub, negate, add_plain and multiply by signed scalars commute with decryption") {
  Fixture& fx = paper_fixture();
  Plaintext m1 = fx.random(), m2 = fx.random();
  Ciphertext c1 = fx.encrypt(m1), c2 = fx.encrypt(m2);

  Ciphertext sum = c1;
  fx.evaluator.add_inplace(sum, c2);
  CHECK(fx.decryptor.decrypt(sum).coeffs == fx.plain.add(m1, m2).coeffs);

  Ciphertext difference = c1;
  fx.evaluator.sub_inplace(difference, c2);
  CHECK(fx.decryptor.decrypt(difference).coeffs == fx.plain.add(m1, fx.plain.scale(m2, -1)).coeffs);

  Ciphertext negated = c1;
  fx.evaluator.negate_inplace(negated);
  CHECK(fx.decryptor.decrypt(negated).coeffs == fx.plain.scale(m1, -1).coeffs);

  Ciphertext plus_plain = c1;
  fx.evaluator.add_plain_inplace(plus_plain, m2);
  CHECK(fx.decryptor.decrypt(plus_plain).coeffs == fx.plain.add(m1, m2).coeffs);

  for (int64_t w : {int64_t{0}, int64_t{1}, int64_t{-1}, int64_t{255}, int64_t{-255},
                    int64_t{1} << 40, -(int64_t{1} << 50)}) {
    CAPTURE(w);
    Ciphertext scaled = c1;
    fx.evaluator.multiply_scalar_inplace(scaled, w);
    CHECK(fx.decryptor.decrypt(scaled).coeffs == fx.plain.scale(m1, w).coeffs);
  }
}

TEST_CASE("a negative weight costs its absolute value in noise, not t - |w|") {
  Fixture& fx = paper_fixture();
  Ciphertext c = fx.encrypt(fx.random());
  const double before = fx.decryptor.invariant_noise_budget(c);
  Ciphertext scaled = c;
  fx.evaluator.multiply_scalar_inplace(scaled, -3);
  const double after = fx.decryptor.invariant_noise_budget(scaled);
  // -3 costs about log2(3) bits; reducing it to t - 3 ≈ 2^40 would cost 40.
  CHECK(before - after < 3);
  CHECK(before - after > 0.5);
}

TEST_CASE("multiply by a plaintext polynomial commutes with decryption") {
  Fixture& fx = paper_fixture();
  Plaintext m = fx.random();
  Plaintext p = fx.plain.zero();
  for (size_t j = 0; j < 64; ++j)
    p.coeffs[j * 37 % p.coeffs.size()] =
        from_signed(int64_t(j) - 32, Modulus(fx.context->parameters().t));
  Ciphertext c = fx.encrypt(m);
  fx.evaluator.multiply_plain_inplace(c, p);
  CHECK(fx.decryptor.decrypt(c).coeffs == fx.plain.multiply(m, p).coeffs);
}

TEST_CASE("RNS multiply equals the GMP reference bit for bit and decrypts to the product") {
  Fixture& fx = paper_fixture();
  Plaintext m1 = fx.random(), m2 = fx.random();
  Ciphertext c1 = fx.encrypt(m1), c2 = fx.encrypt(m2);

  Ciphertext product = fx.evaluator.multiply_without_relinearization(c1, c2);
  RnsPoly expected =
      reference::multiply_without_relinearization(*fx.context, c1.parts[0], c2.parts[0]);
  CHECK(product.parts[0] == expected);
  CHECK(product.degree == 2);
  // Before relinearisation it decrypts under f².
  const Plaintext m1m2 = fx.plain.multiply(m1, m2);
  CHECK(fx.decryptor.decrypt(product).coeffs == m1m2.coeffs);
  CHECK(reference::decrypt(*fx.context, fx.keys.secret_key, product).coeffs == m1m2.coeffs);

  fx.evaluator.relinearize_inplace(product);
  CHECK(product.degree == 1);
  CHECK(fx.decryptor.decrypt(product).coeffs == m1m2.coeffs);

  Ciphertext squared = fx.evaluator.square(c1);
  CHECK(fx.decryptor.decrypt(squared).coeffs == fx.plain.multiply(m1, m1).coeffs);
  CHECK(fx.evaluator.multiply_without_relinearization(c1, c1).parts[0] ==
        reference::multiply_without_relinearization(*fx.context, c1.parts[0], c1.parts[0]));
}

TEST_CASE("measured noise stays within the noise model's prediction") {
  Fixture& fx = paper_fixture();
  Ciphertext c = fx.encrypt(fx.random());
  auto measured_log2 = [&](const Ciphertext& ct) {
    return -fx.decryptor.invariant_noise_budget(ct) - 1;
  };
  const double fresh = measured_log2(c);
  CHECK(fresh <= c.noise_log2);
  CHECK(c.noise_log2 - fresh < 12);
  MESSAGE("fresh noise: measured 2^" << fresh << ", model 2^" << c.noise_log2);

  // Plaintexts added: each brings a fresh ciphertext's message terms (r_t(q)·f'·m); the estimate
  // rises with them (it stayed at the fresh value: a review) and stays above the measured noise.
  Ciphertext with_plains = c;
  for (int k = 0; k < 8; ++k)
    fx.evaluator.add_plain_inplace(with_plains, fx.random());
  CHECK(with_plains.noise_log2 > c.noise_log2);
  CHECK(measured_log2(with_plains) <= with_plains.noise_log2);
  MESSAGE("after 8 plaintexts added: measured 2^" << measured_log2(with_plains) << ", model 2^"
                                                  << with_plains.noise_log2);

  Ciphertext product = fx.evaluator.multiply_without_relinearization(c, c);
  const double before_relin = measured_log2(product);
  fx.evaluator.relinearize_inplace(product);
  const double after_relin = measured_log2(product);
  CHECK(after_relin <= product.noise_log2);
  CHECK(product.noise_log2 - after_relin < 20);
  // Key switching must be small beside the multiplication noise.
  CHECK(after_relin - before_relin < 1);
  CHECK(fx.evaluator.noise_model().key_switching() < before_relin - 20);
  MESSAGE("after square: measured 2^" << before_relin << " (before relinearisation), 2^"
                                      << after_relin << " after; model 2^" << product.noise_log2
                                      << "; key switching model 2^"
                                      << fx.evaluator.noise_model().key_switching());
}

TEST_CASE("a CryptoNets-shaped depth-2 circuit decrypts correctly") {
  // 25-term weighted sums with weights up to ±255, square, 845-term weighted sums, square, and a
  // final weighted sum: the noise growth of the MNIST network, on random polynomial messages.
  Fixture& fx = paper_fixture();
  Prng weights = Prng::insecure_seeded(99);
  auto weight = [&weights] {
    return static_cast<int64_t>(sample_uniform_below(weights, 511)) - 255;
  };

  // Values computed on the plaintexts and on their encryptions side by side.
  struct Values {
    std::vector<Plaintext> plain;
    std::vector<Ciphertext> cipher;
  };
  // Output o is (Σ_{i < terms} w_oi · in_{i mod |in|})², with fresh random weights.
  auto squared_weighted_sums = [&](const Values& in, int outputs, int terms) {
    Values out;
    for (int o = 0; o < outputs; ++o) {
      Plaintext p = fx.plain.zero();
      Ciphertext c = in.cipher[0];
      fx.evaluator.multiply_scalar_inplace(c, 0);
      for (int i = 0; i < terms; ++i) {
        const size_t k = static_cast<size_t>(i) % in.plain.size();
        const int64_t w = weight();
        p = fx.plain.add(p, fx.plain.scale(in.plain[k], w));
        Ciphertext term = in.cipher[k];
        fx.evaluator.multiply_scalar_inplace(term, w);
        fx.evaluator.add_inplace(c, term);
      }
      out.plain.push_back(fx.plain.multiply(p, p));
      out.cipher.push_back(fx.evaluator.square(c));
    }
    return out;
  };

  Values inputs;
  for (int i = 0; i < 25; ++i) {
    inputs.plain.push_back(fx.random());
    inputs.cipher.push_back(fx.encrypt(inputs.plain.back()));
  }
  // Layer 1: three weighted sums of the 25 inputs, then squares.
  const Values layer1 = squared_weighted_sums(inputs, 3, 25);
  // Layer 2: 845-term weighted sums over the squared values, then squares.
  const Values layer2 = squared_weighted_sums(layer1, 2, 845);
  // Layer 3: a final weighted sum.
  Plaintext expected =
      fx.plain.add(fx.plain.scale(layer2.plain[0], 200), fx.plain.scale(layer2.plain[1], -117));
  Ciphertext out = layer2.cipher[0];
  fx.evaluator.multiply_scalar_inplace(out, 200);
  Ciphertext second = layer2.cipher[1];
  fx.evaluator.multiply_scalar_inplace(second, -117);
  fx.evaluator.add_inplace(out, second);

  const double budget = fx.decryptor.invariant_noise_budget(out);
  MESSAGE("noise budget left after the depth-2 circuit: "
          << budget << " bits (model: " << NoiseModel::budget_bits(out.noise_log2) << ")");
  CHECK(budget > 0);
  CHECK(budget >= NoiseModel::budget_bits(out.noise_log2));
  CHECK(fx.decryptor.decrypt(out).coeffs == expected.coeffs);
}

TEST_CASE("a ciphertext pushed past its noise budget is reported as exhausted") {
  // A small q (3 primes, ≈ 150 bits) runs out after a couple of squarings.
  Fixture fx(Parameters::create(8192, 3, 50, generate_ntt_primes(40, 1, 16384)[0]), 5);
  Plaintext m = fx.random();
  Ciphertext c = fx.encrypt(m);
  Plaintext expected = m;
  double budget = fx.decryptor.invariant_noise_budget(c);
  CHECK(budget > 0);
  int squarings = 0;
  // Once the noise wraps, ‖v‖∞ is within about 2/n of 1/2 and the budget within 0.001 bit of 0.
  while (budget > 0.01 && squarings < 6) {
    c = fx.evaluator.square(c);
    expected = fx.plain.multiply(expected, expected);
    budget = fx.decryptor.invariant_noise_budget(c);
    ++squarings;
  }
  CHECK(budget < 0.01);
  CHECK(fx.decryptor.decrypt(c).coeffs != expected.coeffs);
  CHECK(NoiseModel::budget_bits(c.noise_log2) <= 0);  // the model saw it coming too
}

TEST_CASE("ciphertexts of another key pair or other parameters are refused") {
  Fixture& fx = paper_fixture();
  Fixture other(paper_scale_parameters(), 12);
  Ciphertext mine = fx.encrypt(fx.random());
  Ciphertext theirs = other.encrypt(other.random());
  CHECK_THROWS_WITH_AS(fx.decryptor.decrypt(theirs), doctest::Contains("another key pair"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(fx.evaluator.add_inplace(mine, theirs), doctest::Contains("different keys"),
                       std::invalid_argument);
  CHECK_THROWS_AS(other.evaluator.relinearize_inplace(
                      mine = fx.evaluator.multiply_without_relinearization(mine, mine)),
                  std::invalid_argument);

  Fixture small(Parameters::create(8192, 3, 50, generate_ntt_primes(40, 1, 16384)[0]), 5);
  Ciphertext foreign = small.encrypt(small.random());
  foreign.key_id = fx.keys.secret_key.key_id;  // even with a matching key id
  CHECK_THROWS_WITH_AS(fx.decryptor.decrypt(foreign), doctest::Contains("other parameters"),
                       std::invalid_argument);
}

TEST_CASE("n = 16384, q ≈ 440 bits: round trip, multiply equals the reference, product decrypts") {
  Fixture fx(large_parameters(), 21);
  CHECK(fx.context->parameters().log2_q() > 435);
  Plaintext m1 = fx.random(), m2 = fx.random();
  Ciphertext c1 = fx.encrypt(m1), c2 = fx.encrypt(m2);
  CHECK(fx.decryptor.decrypt(c1).coeffs == m1.coeffs);
  Ciphertext product = fx.evaluator.multiply_without_relinearization(c1, c2);
  CHECK(product.parts[0] ==
        reference::multiply_without_relinearization(*fx.context, c1.parts[0], c2.parts[0]));
  fx.evaluator.relinearize_inplace(product);
  CHECK(fx.decryptor.decrypt(product).coeffs == fx.plain.multiply(m1, m2).coeffs);
}

TEST_CASE("relinearisation equals key switching written out term by term, mixed prime sizes") {
  // Primes of 62, 55, 55 and 45 bits: whole-prime digits of the 62-bit prime exceed twice the
  // other rows, those of the larger 55-bit prime exceed the smaller one by less than twice, 20-bit
  // digits need no reduction: every branch of the evaluator's digit reduction runs. The first
  // coefficients are set so that every digit y_i = q_i - 1 is at its largest.
  const size_t n = 8192;
  Parameters params = Parameters::create(n, 1, 62, generate_ntt_primes(40, 1, 2 * n)[0]);
  for (const uint64_t q : generate_ntt_primes(55, 2, 2 * n))
    params.q_primes.push_back(q);
  params.q_primes.push_back(generate_ntt_primes(45, 1, 2 * n)[0]);
  for (const int digit_bits : {0, 20}) {
    CAPTURE(digit_bits);
    params.decomposition_bits = digit_bits;
    Fixture fx(params, 29);
    const Plaintext m1 = fx.random(), m2 = fx.random();
    Ciphertext product =
        fx.evaluator.multiply_without_relinearization(fx.encrypt(m1), fx.encrypt(m2));
    for (size_t i = 0; i < params.q_primes.size(); ++i) {
      const Modulus& q = fx.context->q_base()[i];
      const uint64_t undo = inv_mod(fx.context->q_base().punctured_inverse(i).operand, q);
      for (size_t j = 0; j < 16; ++j)
        product.parts[0].residues(i)[j] = mul_mod(q.value() - 1, undo, q);
    }
    // Key switching written out term by term: rlwe::reference::gadget_product.
    const RnsPoly expected = rlwe::reference::gadget_product(fx.context->rns(), product.parts[0],
                                                             fx.keys.evaluation_key.gamma);
    const int previous_threads = omp_get_max_threads();
    for (const int threads : {1, 2}) {
      omp_set_num_threads(threads);
      Ciphertext relinearised = product;
      fx.evaluator.relinearize_inplace(relinearised);
      CHECK(relinearised.parts[0] == expected);
    }
    omp_set_num_threads(previous_threads);
    // relinearize_all: the same words on 1 and 2 threads, a fresh value among them left as it is.
    const Ciphertext fresh = fx.encrypt(m1);
    for (const size_t count : {size_t{3}, size_t{40}}) {
      for (const int threads : {1, 2}) {
        CAPTURE(count);
        CAPTURE(threads);
        std::vector<Ciphertext> values(count, product);
        values[1] = fresh;
        fx.evaluator.relinearize_all(values, threads);
        for (size_t j = 0; j < count; ++j) {
          CHECK(values[j].degree == 1);
          CHECK(values[j].parts[0] == (j == 1 ? fresh.parts[0] : expected));
        }
        CHECK(values[0].noise_log2 == fx.evaluator.noise_model().relinearize(product.noise_log2));
      }
    }
  }
}

TEST_CASE("an encryptor without a public key refuses to encrypt instead of reading a null ring") {
  test_support::check_encryptor_without_public_key_refuses<yashe::Scheme>();
}
