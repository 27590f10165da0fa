// CRT slot batching: the slots are the values of the plaintext polynomial at the roots of x^n + 1
// (checked against direct evaluation), and every YASHE' operation acts slot by slot (checked on all
// slots against plain modular arithmetic).
#include <doctest/doctest.h>

#include <limits>
#include <stdexcept>

#include "cryptonets/encoding/batch_encoder.hpp"
#include "cryptonets/encoding/plaintext_crt.hpp"
#include "cryptonets/ring/reference.hpp"
#include "cryptonets/yashe/encryptor.hpp"
#include "cryptonets/yashe/evaluator.hpp"
#include "cryptonets/yashe/key_generator.hpp"
#include "yashe_test_support.hpp"

using namespace test_support;
using cryptonets::encoding::BatchEncoder;

namespace {

std::shared_ptr<const Context> paper_context() {
  static const std::shared_ptr<const Context> context = Context::create(paper_scale_parameters());
  return context;
}

std::shared_ptr<const Context> large_context() {
  static const std::shared_ptr<const Context> context = Context::create(large_parameters());
  return context;
}

int64_t half_of(uint64_t t) {
  return static_cast<int64_t>((t - 1) / 2);
}

// n signed values uniform in [-(t-1)/2, (t-1)/2].
std::vector<int64_t> random_slots(Prng& prng, size_t n, uint64_t t) {
  std::vector<int64_t> values(n);
  for (int64_t& v : values)
    v = static_cast<int64_t>(sample_uniform_below(prng, t)) - half_of(t);
  return values;
}

size_t bit_reverse(size_t i, int bits) {
  size_t r = 0;
  for (int b = 0; b < bits; ++b)
    r |= ((i >> b) & 1) << (bits - 1 - b);
  return r;
}

// m(x) at x by Horner's rule: the slow reference for what a slot is.
uint64_t evaluate(const Plaintext& m, uint64_t x, const Modulus& t) {
  uint64_t value = 0;
  for (size_t j = m.coeffs.size(); j-- > 0;)
    value = add_mod(mul_mod(value, x, t), m.coeffs[j], t);
  return value;
}

// The centred representative of a·b mod t computed in 128-bit signed integers.
int64_t centred_product(int64_t a, int64_t b, uint64_t t) {
  const i128 product = static_cast<i128>(a) * b;
  int64_t r = static_cast<int64_t>(product % static_cast<i128>(t));
  if (r > half_of(t)) r -= static_cast<int64_t>(t);
  if (r < -half_of(t)) r += static_cast<int64_t>(t);
  return r;
}

int64_t centred_sum(int64_t a, int64_t b, uint64_t t) {
  return centred_product(a + b, 1, t);
}

// A keyed scheme that encrypts and decrypts slot vectors.
struct KeyedFixture : KeyedScheme {
  BatchEncoder encoder;

  KeyedFixture(std::shared_ptr<const Context> ctx, uint64_t seed)
      : KeyedScheme(std::move(ctx), seed), encoder(context) {}

  uint64_t t() const { return context->parameters().t; }
  Ciphertext encrypt(const std::vector<int64_t>& values) {
    return encryptor.encrypt(encoder.encode(values), prng);
  }
  std::vector<int64_t> decrypt(const Ciphertext& c) const {
    return encoder.decode(decryptor.decrypt(c));
  }
};

// Every operation on random values in all slots against slot-wise arithmetic mod t.
void check_slot_wise_operations(KeyedFixture& fx) {
  const size_t n = fx.encoder.slot_count();
  const uint64_t t = fx.t();
  const std::vector<int64_t> a = random_slots(fx.prng, n, t), b = random_slots(fx.prng, n, t);
  const Ciphertext ca = fx.encrypt(a), cb = fx.encrypt(b);
  std::vector<int64_t> expected(n);

  Ciphertext sum = ca;
  fx.evaluator.add_inplace(sum, cb);
  for (size_t i = 0; i < n; ++i)
    expected[i] = centred_sum(a[i], b[i], t);
  CHECK(fx.decrypt(sum) == expected);

  for (int64_t w : {int64_t{-255}, int64_t{3}, half_of(t)}) {
    CAPTURE(w);
    for (size_t i = 0; i < n; ++i)
      expected[i] = centred_product(a[i], w, t);
    Ciphertext scaled = ca;
    fx.evaluator.multiply_scalar_inplace(scaled, w);
    CHECK(fx.decrypt(scaled) == expected);
    Ciphertext by_constant = ca;
    fx.evaluator.multiply_plain_inplace(by_constant, fx.encoder.encode_scalar(w));
    CHECK(fx.decrypt(by_constant) == expected);
  }

  for (size_t i = 0; i < n; ++i)
    expected[i] = centred_product(a[i], b[i], t);
  Ciphertext times_plain = ca;
  fx.evaluator.multiply_plain_inplace(times_plain, fx.encoder.encode(b));
  CHECK(fx.decrypt(times_plain) == expected);

  const Ciphertext product = fx.evaluator.multiply(ca, cb);
  CHECK(product.degree == 1);
  CHECK(fx.decrypt(product) == expected);
}

}  // namespace

TEST_CASE("BatchEncoder refuses a plaintext modulus that is not a prime ≡ 1 mod 2n") {
  const Parameters good = paper_scale_parameters();
  const size_t two_n = 2 * good.n;
  Parameters composite = good;
  composite.t = uint64_t{1} << 20;
  CHECK_THROWS_WITH_AS(BatchEncoder(Context::create(composite)),
                       doctest::Contains("prime ≡ 1 (mod 2n = 16384)"), std::invalid_argument);
  Parameters wrong_congruence = good;
  wrong_congruence.t = (uint64_t{1} << 39) + 1;
  while (!is_prime(wrong_congruence.t) || wrong_congruence.t % two_n == 1)
    wrong_congruence.t += 2;
  CHECK_THROWS_WITH_AS(BatchEncoder(Context::create(wrong_congruence)),
                       doctest::Contains("must be a prime"), std::invalid_argument);
  CHECK_THROWS_AS(BatchEncoder(nullptr), std::invalid_argument);
  CHECK(BatchEncoder(paper_context()).slot_count() == 8192);
}

TEST_CASE("slot i holds the plaintext polynomial's value at ψ^(2·brv(i)+1) at n = 8192") {
  const BatchEncoder encoder(paper_context());
  const size_t n = encoder.slot_count();
  const Modulus t(encoder.plain_modulus());
  const uint64_t psi = minimal_primitive_root(2 * n, t);
  Prng prng = Prng::insecure_seeded(3);
  const std::vector<int64_t> values = random_slots(prng, n, t.value());
  const Plaintext m = encoder.encode(values);
  for (size_t i : {size_t{0}, size_t{1}, size_t{2}, size_t{1000}, size_t{4097}, n - 1}) {
    CAPTURE(i);
    const uint64_t root = pow_mod(psi, 2 * bit_reverse(i, 13) + 1, t);
    CHECK(evaluate(m, root, t) == from_signed(values[i], t));
  }
}

TEST_CASE("decode equals the ring layer's reference twin, the NTT by its definition, at n = 1024") {
  Parameters params = Parameters::create(1024, 2, 50, 3);
  params.t = cryptonets::encoding::select_plaintext_moduli(1024, 30, 1, params.q_primes).front();
  const BatchEncoder encoder(Context::create(params));
  const Modulus t(params.t);
  Prng prng = Prng::insecure_seeded(4);
  const Plaintext m = encoder.encode(random_slots(prng, 1024, t.value()));
  CHECK(encoder.decode_unsigned(m) == cryptonets::reference::negacyclic_evaluations(
                                          m.coeffs, minimal_primitive_root(2048, t), t.value()));
}

TEST_CASE("encode then decode returns random and extreme values at n = 8192 and n = 16384") {
  for (const auto& context : {paper_context(), large_context()}) {
    const BatchEncoder encoder(context);
    const size_t n = encoder.slot_count();
    const uint64_t t = encoder.plain_modulus();
    CAPTURE(n);
    Prng prng = Prng::insecure_seeded(n);

    const std::vector<int64_t> random = random_slots(prng, n, t);
    CHECK(encoder.decode(encoder.encode(random)) == random);

    std::vector<int64_t> extremes(n);
    for (size_t i = 0; i < n; ++i)
      extremes[i] = i % 3 == 0 ? half_of(t) : i % 3 == 1 ? -half_of(t) : 0;
    CHECK(encoder.decode(encoder.encode(extremes)) == extremes);

    // Fewer values than slots: the rest are zero.
    const std::vector<int64_t> few = {5, -7, half_of(t)};
    std::vector<int64_t> padded(n, 0);
    std::copy(few.begin(), few.end(), padded.begin());
    CHECK(encoder.decode(encoder.encode(few)) == padded);

    std::vector<uint64_t> residues(n);
    for (uint64_t& r : residues)
      r = sample_uniform_below(prng, t);
    residues[0] = t - 1;
    CHECK(encoder.decode_unsigned(encoder.encode_unsigned(residues)) == residues);
  }
}

TEST_CASE("encode_scalar is the constant polynomial with the same value in every slot") {
  const BatchEncoder encoder(paper_context());
  const uint64_t t = encoder.plain_modulus();
  for (int64_t w : {int64_t{0}, int64_t{1}, int64_t{-255}, half_of(t), -half_of(t)}) {
    CAPTURE(w);
    const Plaintext p = encoder.encode_scalar(w);
    CHECK(p.coeffs[0] == from_signed(w, Modulus(t)));
    CHECK(std::all_of(p.coeffs.begin() + 1, p.coeffs.end(), [](uint64_t c) { return c == 0; }));
    CHECK(encoder.decode(p) == std::vector<int64_t>(encoder.slot_count(), w));
    CHECK(p.coeffs == encoder.encode(std::vector<int64_t>(encoder.slot_count(), w)).coeffs);
  }
}

// Slots are numbered from 1 in messages, as everywhere in the CLI: values[7] is slot 8.
TEST_CASE("values outside (-t/2, t/2) and malformed plaintexts are refused with the slot named") {
  const BatchEncoder encoder(paper_context());
  const uint64_t t = encoder.plain_modulus();
  std::vector<int64_t> values(100, 1);
  values[7] = half_of(t) + 1;
  CHECK_THROWS_WITH_AS(encoder.encode(values), doctest::Contains("slot 8 "), std::invalid_argument);
  values[7] = -half_of(t) - 1;
  CHECK_THROWS_WITH_AS(encoder.encode(values), doctest::Contains("slot 8 "), std::invalid_argument);
  values[7] = std::numeric_limits<int64_t>::min();
  CHECK_THROWS_AS(encoder.encode(values), std::invalid_argument);
  CHECK_THROWS_AS(encoder.encode_scalar(half_of(t) + 1), std::invalid_argument);
  CHECK_THROWS_WITH_AS(encoder.encode(std::vector<int64_t>(8193, 0)), doctest::Contains("8193"),
                       std::invalid_argument);
  std::vector<uint64_t> residues(10, 0);
  residues[9] = t;
  CHECK_THROWS_WITH_AS(encoder.encode_unsigned(residues), doctest::Contains("slot 10 "),
                       std::invalid_argument);
  CHECK_THROWS_AS(encoder.decode(Plaintext{std::vector<uint64_t>(4096, 0)}), std::invalid_argument);
  Plaintext unreduced{std::vector<uint64_t>(8192, 0)};
  unreduced.coeffs[5] = t;
  CHECK_THROWS_AS(encoder.decode(unreduced), std::invalid_argument);
}

TEST_CASE("add, scalar, plaintext and ciphertext products act slot by slot on all 8192 slots") {
  KeyedFixture fx(paper_context(), 41);
  check_slot_wise_operations(fx);
}

TEST_CASE("add, scalar, plaintext and ciphertext products act slot by slot on all 16384 slots") {
  KeyedFixture fx(large_context(), 42);
  check_slot_wise_operations(fx);
}
