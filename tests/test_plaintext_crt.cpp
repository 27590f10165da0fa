// Multi-modulus plaintexts: moduli selection, exact CRT recombination of centred values (the
// 128-bit Garner path against the GMP path and against the definition), the capacity and bound
// checks, and a product wider than one plaintext modulus recovered exactly under encryption.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <stdexcept>

#include "cryptonets/encoding/plaintext_crt.hpp"
#include "yashe_test_support.hpp"

using namespace test_support;
using namespace cryptonets::encoding;

namespace {

mpz_class to_mpz(i128 x) {
  const bool negative = x < 0;
  const u128 m = negative ? -static_cast<u128>(x) : static_cast<u128>(x);
  mpz_class r = static_cast<uint64_t>(m >> 64);
  r <<= 64;
  r += static_cast<uint64_t>(m);
  return negative ? mpz_class(-r) : r;
}

// The definition: x ≡ r_i (mod t_i) for every i and -T/2 < x <= T/2.
bool is_centred_crt_solution(const PlaintextCrt& crt, const mpz_class& x,
                             const std::vector<uint64_t>& residues) {
  for (size_t i = 0; i < crt.size(); ++i) {
    if (mpz_fdiv_ui(x.get_mpz_t(), crt.moduli()[i]) != residues[i]) return false;
  }
  return 2 * x > -crt.product() && 2 * x <= crt.product();
}

// The GMP path, the word path (when T < 2^126) and the residues of the result all agree with x.
void check_round_trip(const PlaintextCrt& crt, const mpz_class& x) {
  CAPTURE(x.get_str());
  const std::vector<uint64_t> r = crt.residues(x);
  CHECK(crt.recombine(r) == x);
  if (crt.has_word_path()) CHECK(to_mpz(crt.recombine_word(r)) == x);
}

std::vector<uint64_t> forty_bit_moduli(size_t k) {
  return select_plaintext_moduli(8192, 40, k);
}

// Residue rows (one per modulus) for a batch of values.
std::vector<std::vector<uint64_t>> residue_rows(const PlaintextCrt& crt,
                                                const std::vector<mpz_class>& values) {
  std::vector<std::vector<uint64_t>> rows(crt.size(), std::vector<uint64_t>(values.size()));
  for (size_t s = 0; s < values.size(); ++s) {
    const std::vector<uint64_t> r = crt.residues(values[s]);
    for (size_t i = 0; i < crt.size(); ++i)
      rows[i][s] = r[i];
  }
  return rows;
}

std::vector<mpz_class> random_values(gmp_randclass& random, const mpz_class& bound, size_t count) {
  std::vector<mpz_class> values(count);
  for (mpz_class& v : values)
    v = random.get_z_range(2 * bound + 1) - bound;
  return values;
}

}  // namespace

TEST_CASE("plaintext moduli are distinct primes ≡ 1 mod 2n of the requested size, avoiding q") {
  for (size_t n : {size_t{8192}, size_t{16384}}) {
    const std::vector<uint64_t> moduli = select_plaintext_moduli(n, 40, 3);
    CHECK(moduli.size() == 3);
    CHECK(std::set<uint64_t>(moduli.begin(), moduli.end()).size() == 3);
    for (uint64_t t : moduli) {
      CHECK(is_prime(t));
      CHECK(t % (2 * n) == 1);
      CHECK((t >> 39) == 1);  // exactly 40 bits
    }
    // Avoided primes are skipped, the next ones taken.
    const std::vector<uint64_t> avoiding = select_plaintext_moduli(n, 40, 2, {&moduli[0], 1});
    CHECK(avoiding == std::vector<uint64_t>{moduli[1], moduli[2]});
  }
  // Same size as q's primes: none of them may be chosen.
  const Parameters params = paper_scale_parameters();
  const std::vector<uint64_t> same_size = select_plaintext_moduli(8192, 55, 2, params.q_primes);
  for (uint64_t t : same_size) {
    CHECK(std::find(params.q_primes.begin(), params.q_primes.end(), t) == params.q_primes.end());
  }
  CHECK_THROWS_AS(select_plaintext_moduli(8192, 15, 1), std::invalid_argument);  // none below 2^15
}

TEST_CASE("PlaintextCrt refuses an empty or non-coprime set of moduli") {
  CHECK_THROWS_AS(PlaintextCrt(std::vector<uint64_t>{}), std::invalid_argument);
  CHECK_THROWS_WITH_AS(PlaintextCrt({15, 7, 21}), doctest::Contains("not coprime"),
                       std::invalid_argument);
  CHECK_THROWS_AS(PlaintextCrt(std::vector<uint64_t>{1}), std::invalid_argument);
  CHECK_NOTHROW(PlaintextCrt({15, 7, 22}));
}

TEST_CASE("signed values near ±T/2 recombine exactly for k = 1, 2, 3 and 4 moduli") {
  gmp_randclass random(gmp_randinit_mt);
  random.seed(7);
  for (size_t k = 1; k <= 4; ++k) {
    CAPTURE(k);
    const PlaintextCrt crt(forty_bit_moduli(k));
    const mpz_class& T = crt.product();
    CHECK(crt.product_bits() == 40 * k);
    CHECK(crt.has_word_path() == (k <= 3));
    const mpz_class half = (T - 1) / 2;  // T is odd: (-T/2, T/2] = [-half, half]
    for (const mpz_class& x : {half, mpz_class(-half), mpz_class(half - 1), mpz_class(-half + 1),
                               mpz_class(0), mpz_class(1), mpz_class(-1)}) {
      check_round_trip(crt, x);
    }
    for (const mpz_class& x : random_values(random, half, 200))
      check_round_trip(crt, x);
    if (!crt.has_word_path()) {
      CHECK_THROWS_AS(crt.recombine_word(crt.residues(mpz_class(1))), std::invalid_argument);
    }
    // Outside the centred range a value comes back shifted by T.
    CHECK(crt.recombine(crt.residues(mpz_class(half + 1))) == half + 1 - T);

    // Random residues: the result is the centred solution of the congruences.
    for (int trial = 0; trial < 200; ++trial) {
      std::vector<uint64_t> r;
      for (uint64_t t : crt.moduli())
        r.push_back(mpz_class(random.get_z_range(t)).get_ui());
      const mpz_class x = crt.recombine(r);
      CHECK(is_centred_crt_solution(crt, x, r));
      if (crt.has_word_path()) CHECK(to_mpz(crt.recombine_word(r)) == x);
    }
  }
}

TEST_CASE("with an even T the centred range (-T/2, T/2] includes T/2 and -T/2 + 1") {
  std::vector<uint64_t> moduli = forty_bit_moduli(2);
  moduli.push_back(uint64_t{1} << 20);
  const PlaintextCrt crt(moduli);
  const mpz_class half = crt.product() / 2;
  check_round_trip(crt, half);
  check_round_trip(crt, -half + 1);
  CHECK(crt.recombine(crt.residues(mpz_class(-half))) == half);  // -T/2 ≡ T/2
}

TEST_CASE("the capacity check names the missing bits of plaintext modulus") {
  const PlaintextCrt crt(forty_bit_moduli(2));
  const mpz_class& T = crt.product();
  CHECK(crt.missing_bits((T - 1) / 2) == 0);
  CHECK_NOTHROW(crt.require_capacity((T - 1) / 2));
  CHECK(crt.missing_bits((T + 1) / 2) == 1);
  CHECK_THROWS_WITH_AS(crt.require_capacity((T + 1) / 2),
                       doctest::Contains("values may wrap modulo T: need 1 more bits"),
                       std::invalid_argument);
  // 2^N·T >= 2·32·T + 1 first holds at N = 7.
  CHECK(crt.missing_bits(T * 32) == 7);
  CHECK_THROWS_WITH_AS(crt.recombine_batch({{0}, {0}}, T * 32),
                       doctest::Contains("need 7 more bits of plaintext modulus"),
                       std::invalid_argument);
  CHECK_THROWS_AS(crt.missing_bits(-1), std::invalid_argument);
}

TEST_CASE(
    "a full batch recombines exactly and a value beyond the bound is reported with its slot") {
  gmp_randclass random(gmp_randinit_mt);
  random.seed(11);
  for (size_t k : {size_t{2}, size_t{4}}) {  // the word path and the GMP path
    CAPTURE(k);
    const PlaintextCrt crt(forty_bit_moduli(k));
    const mpz_class bound = (crt.product() - 1) / 2 - 5;
    std::vector<mpz_class> values = random_values(random, bound, 8192);
    values[0] = bound;
    values[1] = -bound;
    values[2] = 0;
    const std::vector<mpz_class> recombined = crt.recombine_batch(residue_rows(crt, values), bound);
    CHECK(recombined == values);

    values[123] = bound + 1;  // representable modulo T, but impossible for the computation
    // Slots are numbered from 1 in messages: values[123] is slot 124.
    CHECK_THROWS_WITH_AS(crt.recombine_batch(residue_rows(crt, values), bound),
                         doctest::Contains("slot 124 "), std::runtime_error);
    values[123] = -bound - 2;
    CHECK_THROWS_WITH_AS(crt.recombine_batch(residue_rows(crt, values), bound),
                         doctest::Contains("wrapped modulo T"), std::runtime_error);

    std::vector<std::vector<uint64_t>> bad = residue_rows(crt, {mpz_class(1)});
    bad[0][0] = crt.moduli()[0];  // not reduced
    CHECK_THROWS_AS(crt.recombine_batch(bad, bound), std::invalid_argument);
    bad.pop_back();
    CHECK_THROWS_AS(crt.recombine_batch(bad, bound), std::invalid_argument);
  }
}

TEST_CASE(
    "products of 35-bit values, wider than one 40-bit t, are recovered exactly under two moduli") {
  const Parameters base = paper_scale_parameters();
  const std::vector<uint64_t> moduli = select_plaintext_moduli(base.n, 40, 2, base.q_primes);
  Prng prng = Prng::insecure_seeded(2024);
  const CrtKeys keys = CrtKeys::generate(base, moduli, prng);

  // The server holds only public and evaluation keys.
  std::vector<yashe::PublicKey> public_keys;
  std::vector<yashe::EvaluationKey> evaluation_keys;
  for (const KeySet& k : keys.keys) {
    public_keys.push_back(k.public_key);
    evaluation_keys.push_back(k.evaluation_key);
  }
  const CrtEncryptionSet server(keys.contexts, public_keys, evaluation_keys);
  const CrtDecryptionSet client(keys);
  CHECK(server.size() == 2);
  CHECK(server.slot_count() == 8192);

  const int64_t max_input = (int64_t{1} << 35) - 1;
  const size_t n = server.slot_count();
  std::vector<int64_t> a(n), b(n);
  for (size_t s = 0; s < n; ++s) {
    a[s] = static_cast<int64_t>(sample_uniform_below(prng, 2 * max_input + 1)) - max_input;
    b[s] = static_cast<int64_t>(sample_uniform_below(prng, 2 * max_input + 1)) - max_input;
  }
  a[0] = b[0] = max_input;  // the extremes: ±(2^35 - 1)^2 ≈ ±2^70 > t ≈ 2^40
  a[1] = -max_input;
  b[1] = max_input;
  a[2] = 0;

  const CrtCiphertext ca = server.encrypt(a, prng), cb = server.encrypt(b, prng);
  CrtCiphertext product = server.multiply(ca, cb);
  const mpz_class product_bound = mpz_class(max_input) * max_input;
  const std::vector<mpz_class> decrypted = client.decrypt(product, product_bound);
  bool all_exact = true;
  for (size_t s = 0; s < n; ++s)
    all_exact &= decrypted[s] == mpz_class(a[s]) * b[s];
  CHECK(all_exact);
  CHECK(decrypted[0] == product_bound);
  CHECK(decrypted[1] == -product_bound);
  CHECK(client.noise_budget(product) > 0);

  // a·b·(-3) + a, then times a small batch-encoded plaintext c.
  std::vector<int64_t> c(n);
  for (size_t s = 0; s < n; ++s)
    c[s] = static_cast<int64_t>(s % 15) - 7;
  server.multiply_scalar_inplace(product, -3);
  server.add_inplace(product, ca);
  server.multiply_plain_inplace(product, server.encode(c));
  const mpz_class bound = (3 * product_bound + max_input) * 7;
  const std::vector<mpz_class> combined = client.decrypt(product, bound);
  all_exact = true;
  for (size_t s = 0; s < n; ++s) {
    all_exact &= combined[s] == (mpz_class(a[s]) * b[s] * -3 + a[s]) * c[s];
  }
  CHECK(all_exact);

  // A bound the moduli cannot hold is refused before decryption; a bound that is too tight is
  // caught on the slot that exceeds it.
  CHECK_THROWS_WITH_AS(client.decrypt(product, bound << 20),
                       doctest::Contains("values may wrap modulo T"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(client.decrypt(product, bound / 1000), doctest::Contains("outside"),
                       std::runtime_error);
  CHECK_THROWS_AS(client.decrypt({product[0]}, bound), std::invalid_argument);
}
