// BFV (FV12, RNS variant) at the sizes the network uses: n = 8192 with q = 218 bits (the HE
// standard's 128-bit bound for ternary secrets) and t a 39-bit batching prime; n = 16384 in the
// slow suite. Every operation against plaintext arithmetic in R_t, the RNS multiply, relinearise
// and decrypt against their GMP twins bit for bit, and the measured noise against the keyless
// model.
#include <doctest/doctest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "cryptonets/bfv/encryptor.hpp"
#include "cryptonets/bfv/evaluator.hpp"
#include "cryptonets/bfv/key_generator.hpp"
#include "cryptonets/bfv/reference.hpp"
#include "cryptonets/bfv/scheme.hpp"
#include "cryptonets/bfv/security.hpp"
#include "cryptonets/rlwe/reference.hpp"
#include "cryptonets/rlwe/scale_invariant.hpp"
#include "yashe_test_support.hpp"

namespace {

using namespace cryptonets;
using namespace cryptonets::bfv;
using test_support::PlainRing;
using test_support::random_plaintext;

// q: primes of 55, 55, 54 and 54 bits (log2 q < 218, the HE standard's 128-bit classical bound for
// n = 8192 and a ternary secret); t: the largest 39-bit prime ≡ 1 (mod 2n).
Parameters parameters_8192() {
  const size_t n = 8192;
  Parameters p;
  p.n = n;
  p.q_primes = generate_ntt_primes(55, 2, 2 * n);
  for (uint64_t q : generate_ntt_primes(54, 2, 2 * n))
    p.q_primes.push_back(q);
  p.t = generate_ntt_primes(39, 1, 2 * n)[0];
  p.validate();
  return p;
}

// n = 16384: six primes of 55 bits and two of 54 (log2 q < 438, the 128-bit bound).
Parameters parameters_16384() {
  const size_t n = 16384;
  Parameters p;
  p.n = n;
  p.q_primes = generate_ntt_primes(55, 6, 2 * n);
  for (uint64_t q : generate_ntt_primes(54, 2, 2 * n))
    p.q_primes.push_back(q);
  p.t = generate_ntt_primes(39, 1, 2 * n)[0];
  p.validate();
  return p;
}

struct Fixture {
  std::shared_ptr<const Context> context;
  Prng prng;
  KeySet keys;
  Encryptor encryptor;
  Decryptor decryptor;
  Evaluator evaluator;
  PlainRing plain;

  Fixture(const Parameters& params, uint64_t seed)
      : context(Context::create(params)),
        prng(Prng::insecure_seeded(seed)),
        keys(generate_keys(context, prng)),
        encryptor(context, keys.public_key),
        decryptor(context, keys.secret_key),
        evaluator(context, keys.relinearization_key),
        plain(params.n, params.t) {}

  Plaintext random() { return random_plaintext(prng, context->n(), context->parameters().t); }
  Ciphertext encrypt(const Plaintext& m) { return encryptor.encrypt(m, prng); }
  double measured_log2(const Ciphertext& c) const {
    return -decryptor.invariant_noise_budget(c) - 1;
  }
};

Fixture& fixture_8192() {
  static Fixture fx(parameters_8192(), 7);
  return fx;
}

// The largest |coefficient| of a polynomial of R_q read centred.
mpz_class centred_max(const RnsPoly& p) {
  mpz_class largest = 0;
  for (const mpz_class& x : rlwe::reference::coefficients(p))
    largest = std::max(largest, mpz_class(abs(x)));
  return largest;
}

}  // namespace

TEST_CASE("BFV parameters are validated with a message naming the problem") {
  Parameters p = parameters_8192();
  CHECK(p.log2_q() < 218);
  CHECK(p.log2_q() > 217.9);
  p.t = p.q_primes[0];
  CHECK_THROWS_WITH_AS(p.validate(), doctest::Contains("BFV parameters: t ="),
                       std::invalid_argument);
  p = parameters_8192();
  p.n = 1000;
  CHECK_THROWS_WITH_AS(p.validate(), doctest::Contains("power of two"), std::invalid_argument);
  // Domain separation: the same numbers as YASHE' parameters give another fingerprint.
  const Parameters b = parameters_8192();
  yashe::Parameters y{b.n, b.q_primes, b.t, b.sigma, b.decomposition_bits};
  CHECK(b.fingerprint() != y.fingerprint());
}

TEST_CASE("BFV keys satisfy p0 + p1·s = -e and b_d + a_d·s = g_d·s² - e_d with small e") {
  Fixture& fx = fixture_8192();
  const KeySet& keys = fx.keys;
  const auto& rns = fx.context->rns();
  const int64_t bound = static_cast<int64_t>(std::ceil(6 * fx.context->parameters().sigma));
  RnsPoly e = keys.public_key.p1;
  e *= keys.secret_key.s;
  e += keys.public_key.p0;
  e.to_coefficient();
  CHECK(centred_max(e) <= bound);
  CHECK(centred_max(e) > 0);
  CHECK(std::all_of(keys.secret_key.coefficients.begin(), keys.secret_key.coefficients.end(),
                    [](int8_t c) { return c >= -1 && c <= 1; }));
  REQUIRE(keys.relinearization_key.b.size() == rns.digit_count());
  RnsPoly s_squared = keys.secret_key.s;
  s_squared *= keys.secret_key.s;
  for (size_t d = 0; d < rns.digit_count(); ++d) {
    RnsPoly r = keys.relinearization_key.a[d];
    r *= keys.secret_key.s;
    r += keys.relinearization_key.b[d];
    RnsPoly g = s_squared;
    g.multiply_bigint(rns.gadget_factor(d));
    r -= g;
    r.to_coefficient();
    CHECK(centred_max(r) <= bound);
  }
}

TEST_CASE("BFV encryption then decryption returns the message, fast and GMP decryption agree") {
  Fixture& fx = fixture_8192();
  for (int trial = 0; trial < 3; ++trial) {
    Plaintext m = fx.random();
    if (trial == 1) m.coeffs.assign(m.coeffs.size(), fx.context->parameters().t - 1);
    if (trial == 2) m.coeffs.assign(m.coeffs.size(), 0);
    const Ciphertext c = fx.encrypt(m);
    CHECK(c.parts.size() == 2);
    CHECK(fx.decryptor.decrypt(c).coeffs == m.coeffs);
    CHECK(reference::decrypt(*fx.context, fx.keys.secret_key, c).coeffs == m.coeffs);
  }
  Plaintext bad = fx.random();
  bad.coeffs[5] = fx.context->parameters().t;
  CHECK_THROWS_WITH_AS(fx.encrypt(bad), doctest::Contains("not reduced modulo t"),
                       std::invalid_argument);
}

TEST_CASE("the message at scale q/t is round(q/t·[m]_t), equal to its GMP twin") {
  Fixture& fx = fixture_8192();
  const Plaintext m = fx.random();
  RnsPoly c(fx.context->ring(), PolyForm::coefficient);
  rlwe::add_rounded_scaled_message(fx.context->rns(), c, m);
  CHECK(c == rlwe::reference::rounded_scaled_message(fx.context->rns(), m));
  CHECK(rlwe::round_to_plaintext(fx.context->rns(), c).coeffs == m.coeffs);
}

TEST_CASE(
    "BFV add, sub, negate, add_plain, add_scalar and signed scalars commute with decryption") {
  Fixture& fx = fixture_8192();
  const Plaintext m1 = fx.random(), m2 = fx.random();
  const Ciphertext c1 = fx.encrypt(m1), c2 = fx.encrypt(m2);

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

  Ciphertext plus_scalar = c1;
  fx.evaluator.add_scalar_inplace(plus_scalar, -12345);
  Plaintext constant = fx.plain.zero();
  constant.coeffs[0] = from_signed(-12345, Modulus(fx.context->parameters().t));
  CHECK(fx.decryptor.decrypt(plus_scalar).coeffs == fx.plain.add(m1, constant).coeffs);

  for (int64_t w : {int64_t{0}, int64_t{1}, int64_t{-1}, int64_t{255}, int64_t{-255},
                    int64_t{1} << 40, -(int64_t{1} << 50)}) {
    CAPTURE(w);
    Ciphertext scaled = c1;
    fx.evaluator.multiply_scalar_inplace(scaled, w);
    CHECK(fx.decryptor.decrypt(scaled).coeffs == fx.plain.scale(m1, w).coeffs);
  }
}

TEST_CASE("BFV re-randomisation keeps the message, changes every part, and refuses foreign input") {
  Fixture& fx = fixture_8192();
  const Plaintext m = fx.random();
  const Ciphertext c = fx.encrypt(m);
  Ciphertext fresh = c;
  fx.encryptor.rerandomize_inplace(fresh, fx.prng);
  CHECK(fx.decryptor.decrypt(fresh).coeffs == m.coeffs);
  CHECK(fresh.parts[0] != c.parts[0]);
  CHECK(fresh.parts[1] != c.parts[1]);
  CHECK(fresh.noise_log2 == doctest::Approx(c.noise_log2 + 1));  // two fresh noises
  CHECK(fx.measured_log2(fresh) <= fresh.noise_log2);
  // A noiseless "ciphertext" (Δ-scaled message, zero mask) becomes a real one.
  Ciphertext transparent = c;
  fx.evaluator.multiply_scalar_inplace(transparent, 0);
  fx.evaluator.add_scalar_inplace(transparent, 7);
  fx.encryptor.rerandomize_inplace(transparent, fx.prng);
  CHECK(transparent.parts[1] != RnsPoly(fx.context->ring(), PolyForm::coefficient));
  CHECK(fx.decryptor.decrypt(transparent).coeffs[0] == 7);
  Ciphertext three = fx.evaluator.multiply_without_relinearization(c, c);
  CHECK_THROWS_WITH_AS(fx.encryptor.rerandomize_inplace(three, fx.prng),
                       doctest::Contains("relinearise first"), std::invalid_argument);
  Ciphertext foreign = c;
  foreign.key_id ^= 1;
  CHECK_THROWS_WITH_AS(fx.encryptor.rerandomize_inplace(foreign, fx.prng),
                       doctest::Contains("another key pair"), std::invalid_argument);
}

TEST_CASE("a negative weight costs BFV its absolute value in noise, not t - |w|") {
  Fixture& fx = fixture_8192();
  const Ciphertext c = fx.encrypt(fx.random());
  const double before = fx.decryptor.invariant_noise_budget(c);
  Ciphertext scaled = c;
  fx.evaluator.multiply_scalar_inplace(scaled, -3);
  const double after = fx.decryptor.invariant_noise_budget(scaled);
  CHECK(before - after < 3);
  CHECK(before - after > 0.5);
  CHECK(scaled.noise_log2 == doctest::Approx(c.noise_log2 + std::log2(3.0)));
}

TEST_CASE("BFV multiply by a plaintext polynomial commutes with decryption") {
  Fixture& fx = fixture_8192();
  const Plaintext m = fx.random();
  Plaintext p = fx.plain.zero();
  for (size_t j = 0; j < 64; ++j)
    p.coeffs[j * 37 % p.coeffs.size()] =
        from_signed(int64_t(j) - 32, Modulus(fx.context->parameters().t));
  Ciphertext c = fx.encrypt(m);
  fx.evaluator.multiply_plain_inplace(c, p);
  CHECK(fx.decryptor.decrypt(c).coeffs == fx.plain.multiply(m, p).coeffs);
}

TEST_CASE("BFV multiply, relinearise and decrypt equal their GMP twins bit for bit, n = 8192") {
  Fixture& fx = fixture_8192();
  const Plaintext m1 = fx.random(), m2 = fx.random();
  const Ciphertext c1 = fx.encrypt(m1), c2 = fx.encrypt(m2);
  const int previous_threads = omp_get_max_threads();
  for (const bool square : {false, true}) {
    CAPTURE(square);
    const Ciphertext& other = square ? c1 : c2;
    const Ciphertext expected = reference::multiply_without_relinearization(*fx.context, c1, other);
    const Ciphertext expected_relinearised =
        reference::relinearize(*fx.context, fx.keys.relinearization_key, expected);
    const Plaintext product = fx.plain.multiply(m1, square ? m1 : m2);
    for (const int threads : {1, 2}) {
      omp_set_num_threads(threads);
      Ciphertext c = fx.evaluator.multiply_without_relinearization(c1, other);
      REQUIRE(c.parts.size() == 3);
      CHECK(c.degree == 2);
      CHECK(c.parts == expected.parts);
      CHECK(fx.decryptor.decrypt(c).coeffs == product.coeffs);
      if (threads == 1) {
        CHECK(reference::decrypt(*fx.context, fx.keys.secret_key, c).coeffs == product.coeffs);
      }
      std::vector<Ciphertext> all = {c, c1, c};  // relinearize_all: the same words
      fx.evaluator.relinearize_all(all, threads);
      fx.evaluator.relinearize_inplace(c);
      REQUIRE(c.parts.size() == 2);
      CHECK(c.parts == expected_relinearised.parts);
      CHECK(fx.decryptor.decrypt(c).coeffs == product.coeffs);
      CHECK(all[0].parts == expected_relinearised.parts);
      CHECK(all[1].parts == c1.parts);
      CHECK(all[2].parts == expected_relinearised.parts);
      CHECK(all[2].noise_log2 == c.noise_log2);
    }
  }
  omp_set_num_threads(previous_threads);
}

TEST_CASE("BFV measured noise stays within the noise model's prediction") {
  Fixture& fx = fixture_8192();
  const Ciphertext c = fx.encrypt(fx.random());
  const double fresh = fx.measured_log2(c);
  CHECK(fresh <= c.noise_log2);
  CHECK(c.noise_log2 - fresh < 8);
  Ciphertext product = fx.evaluator.multiply_without_relinearization(c, c);
  const double before_relin = fx.measured_log2(product);
  CHECK(before_relin <= product.noise_log2);
  fx.evaluator.relinearize_inplace(product);
  const double after_relin = fx.measured_log2(product);
  CHECK(after_relin <= product.noise_log2);
  CHECK(product.noise_log2 - after_relin < 12);
  // Key switching adds t/q·Σ_d D_d·e_d, within the model's bound: here, right after the first
  // square, it is as large as the product's noise (in the network it follows a weighted sum and
  // vanishes beside it).
  CHECK(std::exp2(after_relin) <=
        std::exp2(before_relin) + std::exp2(fx.evaluator.noise_model().key_switching()));
  MESSAGE("BFV n = 8192 fresh: measured 2^" << fresh << ", model 2^" << c.noise_log2
                                            << "; square: measured 2^" << after_relin
                                            << ", model 2^" << product.noise_log2);
}

namespace {

// 25-term weighted sums (weights ±255), square, 845-term weighted sums, square, a final weighted
// sum: the noise growth of the CryptoNets MNIST network, on random polynomial messages, with the
// relinearisation deferred past the next weighted sum as the network runtime does it.
void depth_two_circuit(Fixture& fx, int first_outputs) {
  Prng weights = Prng::insecure_seeded(99);
  auto weight = [&weights] {
    return static_cast<int64_t>(sample_uniform_below(weights, 511)) - 255;
  };
  struct Values {
    std::vector<Plaintext> plain;
    std::vector<Ciphertext> cipher;
  };
  // Output o is Σ_{i < terms} w_oi·in_{i mod |in|}; relinearised after the sum.
  auto weighted_sums = [&](const Values& in, int outputs, int terms) {
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
      fx.evaluator.relinearize_inplace(c);
      out.plain.push_back(p);
      out.cipher.push_back(std::move(c));
    }
    return out;
  };
  auto squares = [&](Values v) {
    for (size_t k = 0; k < v.plain.size(); ++k) {
      v.plain[k] = fx.plain.multiply(v.plain[k], v.plain[k]);
      v.cipher[k] = fx.evaluator.multiply_without_relinearization(v.cipher[k], v.cipher[k]);
    }
    return v;
  };
  Values inputs;
  for (int i = 0; i < 25; ++i) {
    inputs.plain.push_back(fx.random());
    inputs.cipher.push_back(fx.encrypt(inputs.plain.back()));
  }
  const Values layer1 = squares(weighted_sums(inputs, first_outputs, 25));
  const Values layer2 = squares(weighted_sums(layer1, 2, 845));
  const Values out = weighted_sums(layer2, 1, 2);
  const double budget = fx.decryptor.invariant_noise_budget(out.cipher[0]);
  MESSAGE("BFV n = " << fx.context->n() << ", log2 q = " << fx.context->parameters().log2_q()
                     << ": noise budget after the depth-2 circuit " << budget << " bits (model: "
                     << NoiseModel::budget_bits(out.cipher[0].noise_log2) << ")");
  CHECK(budget > 0);
  CHECK(budget >= NoiseModel::budget_bits(out.cipher[0].noise_log2));
  CHECK(fx.decryptor.decrypt(out.cipher[0]).coeffs == out.plain[0].coeffs);
}

}  // namespace

TEST_CASE("a CryptoNets-shaped depth-2 circuit decrypts correctly under BFV, n = 8192" *
          doctest::test_suite("slow")) {
  depth_two_circuit(fixture_8192(), 3);
}

TEST_CASE(
    "a CryptoNets-shaped depth-2 circuit decrypts correctly under BFV, n = 2048 (same q, t)") {
  // The default suite's twin of the n = 8192 case: the 8192-parameters' primes also serve n = 2048
  // (≡ 1 mod 2·8192 implies ≡ 1 mod 2·2048). Not a secure size; the arithmetic is the same.
  Parameters params = parameters_8192();
  params.n = 2048;
  Fixture fx(params, 8);
  depth_two_circuit(fx, 2);
}

TEST_CASE("BFV refuses ciphertexts of another key pair, other parameters or the wrong shape") {
  Fixture& fx = fixture_8192();
  Fixture other(parameters_8192(), 12);
  const Ciphertext mine = fx.encrypt(fx.random());
  const Ciphertext theirs = other.encrypt(other.random());
  CHECK_THROWS_WITH_AS(fx.decryptor.decrypt(theirs), doctest::Contains("another key pair"),
                       std::invalid_argument);
  Ciphertext sum = mine;
  CHECK_THROWS_WITH_AS(fx.evaluator.add_inplace(sum, theirs), doctest::Contains("different keys"),
                       std::invalid_argument);
  Ciphertext product = other.evaluator.multiply_without_relinearization(theirs, theirs);
  CHECK_THROWS_WITH_AS(fx.evaluator.relinearize_inplace(product),
                       doctest::Contains("another key pair"), std::invalid_argument);
  Ciphertext missing = mine;
  missing.parts.pop_back();
  CHECK_THROWS_AS(fx.decryptor.decrypt(missing), std::invalid_argument);
  CHECK_THROWS_AS(fx.evaluator.negate_inplace(missing), std::invalid_argument);
  const Evaluator keyless(fx.context);
  Ciphertext square = fx.evaluator.multiply_without_relinearization(mine, mine);
  CHECK_THROWS_WITH_AS(keyless.relinearize_inplace(square),
                       doctest::Contains("needs the relinearisation key"), std::invalid_argument);
  Fixture small(Parameters::create(1024, 3, 50, generate_ntt_primes(30, 1, 2048)[0]), 3);
  CHECK_THROWS_WITH_AS(small.decryptor.decrypt(mine), doctest::Contains("another key pair"),
                       std::invalid_argument);
  Ciphertext foreign = mine;
  foreign.key_id = small.keys.secret_key.key_id;
  CHECK_THROWS_WITH_AS(small.decryptor.decrypt(foreign), doctest::Contains("other parameters"),
                       std::invalid_argument);
}

TEST_CASE("BFV at n = 16384: round trip, multiply and relinearise equal the GMP twins, depth 2" *
          doctest::test_suite("slow")) {
  Fixture fx(parameters_16384(), 21);
  CHECK(fx.context->parameters().log2_q() < 438);
  const Plaintext m1 = fx.random(), m2 = fx.random();
  const Ciphertext c1 = fx.encrypt(m1), c2 = fx.encrypt(m2);
  CHECK(fx.decryptor.decrypt(c1).coeffs == m1.coeffs);
  Ciphertext product = fx.evaluator.multiply_without_relinearization(c1, c2);
  const Ciphertext expected = reference::multiply_without_relinearization(*fx.context, c1, c2);
  CHECK(product.parts == expected.parts);
  CHECK(reference::decrypt(*fx.context, fx.keys.secret_key, product).coeffs ==
        fx.plain.multiply(m1, m2).coeffs);
  fx.evaluator.relinearize_inplace(product);
  CHECK(product.parts ==
        reference::relinearize(*fx.context, fx.keys.relinearization_key, expected).parts);
  CHECK(fx.decryptor.decrypt(product).coeffs == fx.plain.multiply(m1, m2).coeffs);
  CHECK(fx.measured_log2(product) <= product.noise_log2);
  depth_two_circuit(fx, 3);
}

TEST_CASE(
    "the BFV security report: 128 bits inside the standard's ternary bound, assumptions named") {
  const bfv::SecurityReport report = bfv::assess_security(parameters_8192());
  CHECK(report.meets_128_classical);
  CHECK(report.highest_table_level == 128);
  CHECK(report.rlwe_samples == 5);  // the public key and one rlk element per prime
  CHECK(report.estimate.bkz_classical() >= 128);
  const std::string text = report.full_text();
  CHECK(text.find("decision RLWE with a uniform ternary secret") != std::string::npos);
  CHECK(text.find("circular security of the relinearisation key") != std::string::npos);
  CHECK(report.one_line().find("128-bit classical") != std::string::npos);
  // The one line names the table bound, the estimate and both assumptions.
  CHECK(report.one_line().find("log2 q = 218.0 <= 218 for n = 8192") != std::string::npos);
  CHECK(report.one_line().find("primal-uSVP estimate ~128 bits") != std::string::npos);
  CHECK(report.one_line().find("decision RLWE with a ternary secret and circular security of "
                               "the relinearisation key") != std::string::npos);
  // One 30-bit prime more: 248 bits, past the bound; the report says so.
  Parameters wider = parameters_8192();
  wider.q_primes.push_back(generate_ntt_primes(30, 1, 2 * wider.n)[0]);
  const bfv::SecurityReport failing = bfv::assess_security(wider);
  CHECK_FALSE(failing.meets_128_classical);
  CHECK(failing.highest_table_level == 0);
  CHECK(failing.one_line().find("NOT 128-bit") != std::string::npos);
}

TEST_CASE(
    "A BFV encryptor without a public key refuses to encrypt instead of reading a null ring") {
  test_support::check_encryptor_without_public_key_refuses<bfv::Scheme>();
}
