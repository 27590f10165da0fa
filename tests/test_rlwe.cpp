// The shared RLWE layer: each fast path against its reference twin at n = 8192 (gadget product
// with several key rows, scale-and-round, decryption rounding), on every SIMD path the CPU has,
// and the gadget identity itself.
#include <doctest/doctest.h>

#include <stdexcept>
#include <vector>

#include "cryptonets/arith/primes.hpp"
#include "cryptonets/random/chacha20.hpp"
#include "cryptonets/random/samplers.hpp"
#include "cryptonets/rlwe/gadget.hpp"
#include "cryptonets/rlwe/reference.hpp"
#include "cryptonets/rlwe/scale_invariant.hpp"
#include "simd_test_support.hpp"

using namespace cryptonets;

namespace {

std::shared_ptr<const rlwe::RnsContext> context_8192(int decomposition_bits) {
  const size_t n = 8192;
  std::vector<uint64_t> q = generate_ntt_primes(55, 3, 2 * n);
  q.push_back(generate_ntt_primes(62, 1, 2 * n)[0]);
  return rlwe::RnsContext::create(n, q, generate_ntt_primes(40, 1, 2 * n)[0], decomposition_bits);
}

// The exact product over q ∪ B the unfused way: both lifts in evaluation form, the pointwise
// product, the inverse NTT (rlwe::exact_product's reference twin).
RnsPoly unfused_product(const rlwe::RnsContext& ctx, const RnsPoly& a, const RnsPoly& b) {
  RnsPoly product = rlwe::base_extend(ctx, a);
  product *= rlwe::base_extend(ctx, b);
  product.to_coefficient();
  return product;
}

}  // namespace

TEST_CASE("c equals the sum of its gadget digits times the gadget vector, modulo q") {
  const auto ctx = context_8192(20);
  Prng prng = Prng::insecure_seeded(1);
  const RnsPoly c = sample_uniform_poly(prng, ctx->ring(), PolyForm::coefficient);
  const std::vector<uint64_t> y = rlwe::rns_digits(*ctx, c);
  std::vector<uint64_t> row(ctx->n());
  for (size_t j : {size_t{0}, size_t{1}, size_t{4095}, size_t{8191}}) {
    mpz_class sum = 0;
    for (size_t d = 0; d < ctx->digit_count(); ++d) {
      // The digit of row 0 reduced mod q_1 is the digit itself when it is below q_1.
      const auto [i, l] = ctx->digit(d);
      const uint64_t digit = (y[i * ctx->n() + j] >> (20 * l)) & ((uint64_t{1} << 20) - 1);
      rlwe::gadget_digit_row(*ctx, y.data(), d, 0, row.data());
      CHECK(row[j] == digit);
      sum += mpz_class(static_cast<unsigned long>(digit)) * ctx->gadget_factor(d);
    }
    mpz_class expected = ctx->q_base().compose(c.residues(0) + j, ctx->n());
    mpz_class reduced;
    mpz_fdiv_r(reduced.get_mpz_t(), sum.get_mpz_t(), ctx->q().get_mpz_t());
    CHECK(reduced == expected);
  }
}

TEST_CASE("the gadget product over two key rows equals the term-by-term reference, n = 8192") {
  for (int w : {0, 24}) {
    CAPTURE(w);
    const auto ctx = context_8192(w);
    Prng prng = Prng::insecure_seeded(2);
    const RnsPoly c = sample_uniform_poly(prng, ctx->ring(), PolyForm::coefficient);
    std::vector<RnsPoly> key0, key1;
    for (size_t d = 0; d < ctx->digit_count(); ++d) {
      key0.push_back(sample_uniform_poly(prng, ctx->ring(), PolyForm::evaluation));
      key1.push_back(sample_uniform_poly(prng, ctx->ring(), PolyForm::evaluation));
    }
    const std::vector<RnsPoly>* keys[] = {&key0, &key1};
    const RnsPoly expected0 = rlwe::reference::gadget_product(*ctx, c, key0);
    const RnsPoly expected1 = rlwe::reference::gadget_product(*ctx, c, key1);
    for (SimdPath path : test::supported_simd_paths()) {
      CAPTURE(to_string(path));
      const ScopedSimdPath forced(path);
      const std::vector<RnsPoly> fast = rlwe::gadget_product(*ctx, c, keys);
      REQUIRE(fast.size() == 2);
      CHECK(fast[0] == expected0);
      CHECK(fast[1] == expected1);
    }
    std::vector<RnsPoly> short_key(key0.begin(), key0.end() - 1);
    const std::vector<RnsPoly>* bad[] = {&short_key};
    CHECK_THROWS_AS(rlwe::gadget_product(*ctx, c, bad), std::invalid_argument);
  }
}

TEST_CASE("gadget products on 1 and 2 threads, written, added or in place, equal gadget_product") {
  // 3 and 33 sources at 1 and 2 threads: written over fresh destinations, added to others, and in
  // place (destination = source, as YASHE' relinearises).
  const auto ctx = context_8192(24);
  Prng prng = Prng::insecure_seeded(3);
  std::vector<RnsPoly> key0, key1;
  for (size_t d = 0; d < ctx->digit_count(); ++d) {
    key0.push_back(sample_uniform_poly(prng, ctx->ring(), PolyForm::evaluation));
    key1.push_back(sample_uniform_poly(prng, ctx->ring(), PolyForm::evaluation));
  }
  const std::vector<RnsPoly>* keys[] = {&key0, &key1};
  std::vector<RnsPoly> sources, addends;
  std::vector<std::vector<RnsPoly>> expected;
  for (size_t j = 0; j < 33; ++j) {
    sources.push_back(sample_uniform_poly(prng, ctx->ring(), PolyForm::coefficient));
    addends.push_back(sample_uniform_poly(prng, ctx->ring(), PolyForm::coefficient));
    expected.push_back(rlwe::gadget_product(*ctx, sources.back(), keys));
  }
  for (const size_t count : {size_t{3}, size_t{33}}) {
    for (const int threads : {1, 2}) {
      CAPTURE(count);
      CAPTURE(threads);
      std::vector<RnsPoly> in(sources.begin(), sources.begin() + static_cast<long>(count));
      std::vector<RnsPoly> written, added;
      std::vector<RnsPoly*> from, to_written, to_added;
      for (size_t j = 0; j < count; ++j) {
        written.push_back(sample_uniform_poly(prng, ctx->ring(), PolyForm::coefficient));
        written.push_back(sample_uniform_poly(prng, ctx->ring(), PolyForm::coefficient));
        added.push_back(addends[j]);
        added.push_back(addends[j]);
      }
      for (size_t j = 0; j < count; ++j) {
        from.push_back(&in[j]);
        for (size_t r = 0; r < 2; ++r) {
          to_written.push_back(&written[2 * j + r]);
          to_added.push_back(&added[2 * j + r]);
        }
      }
      rlwe::gadget_products(*ctx, from, keys, to_written, false, threads);
      rlwe::gadget_products(*ctx, from, keys, to_added, true, threads);
      for (size_t j = 0; j < count; ++j) {
        for (size_t r = 0; r < 2; ++r) {
          CHECK(written[2 * j + r] == expected[j][r]);
          RnsPoly sum = addends[j];
          sum += expected[j][r];
          CHECK(added[2 * j + r] == sum);
        }
      }
      const std::vector<RnsPoly>* one_key[] = {&key1};
      rlwe::gadget_products(*ctx, from, one_key, from, false, threads);  // in place
      for (size_t j = 0; j < count; ++j)
        CHECK(in[j] == expected[j][1]);
    }
  }
  std::vector<RnsPoly*> one = {&sources[0]}, two = {&sources[0], &sources[1]};
  CHECK_THROWS_AS(rlwe::gadget_products(*ctx, one, keys, one, false, 1), std::invalid_argument);
  CHECK_THROWS_AS(rlwe::gadget_products(*ctx, two, keys, two, false, 1), std::invalid_argument);
  const std::vector<RnsPoly>* one_key[] = {&key0};
  CHECK_THROWS_AS(rlwe::gadget_products(*ctx, one, one_key, one, false, 0), std::invalid_argument);
  std::vector<RnsPoly> short_key(key0.begin(), key0.end() - 1);
  const std::vector<RnsPoly>* bad[] = {&short_key};
  CHECK_THROWS_AS(rlwe::gadget_products(*ctx, one, bad, one, false, 1), std::invalid_argument);
  RnsPoly evaluation_form = sources[0];
  evaluation_form.to_evaluation();
  std::vector<RnsPoly*> wrong_form = {&evaluation_form};
  CHECK_THROWS_AS(rlwe::gadget_products(*ctx, wrong_form, one_key, one, false, 1),
                  std::invalid_argument);
}

TEST_CASE("scale-and-round and decryption rounding equal their GMP twins, n = 8192") {
  const auto ctx = context_8192(0);
  Prng prng = Prng::insecure_seeded(3);
  // x = a product of two uniform polynomials' lifts: the size the tensor product has.
  const RnsPoly a = sample_uniform_poly(prng, ctx->ring(), PolyForm::coefficient);
  const RnsPoly b = sample_uniform_poly(prng, ctx->ring(), PolyForm::coefficient);
  const RnsPoly product = unfused_product(*ctx, a, b);
  const std::vector<mpz_class> exact = product.to_bigint_centered();
  const RnsPoly expected = rlwe::reference::scale_and_round(*ctx, exact);
  for (SimdPath path : test::supported_simd_paths()) {
    CAPTURE(to_string(path));
    const ScopedSimdPath forced(path);
    CHECK(rlwe::scale_and_round(*ctx, product) == expected);
    // The scratch-reusing base extension gives the same lift, also into a polynomial that held
    // another value.
    RnsPoly lifted = product;
    rlwe::base_extend(*ctx, a, lifted);
    CHECK(lifted == rlwe::base_extend(*ctx, a));
  }

  const std::vector<mpz_class> x = rlwe::reference::coefficients(a);
  CHECK(rlwe::round_to_plaintext(*ctx, a).coeffs ==
        rlwe::reference::round_to_plaintext(*ctx, x).coeffs);
}

TEST_CASE("the row-fused exact product equals extend, multiply, inverse NTT, n = 8192") {
  const auto ctx = context_8192(0);
  Prng prng = Prng::insecure_seeded(5);
  const RnsPoly a = sample_uniform_poly(prng, ctx->ring(), PolyForm::coefficient);
  const RnsPoly b = sample_uniform_poly(prng, ctx->ring(), PolyForm::coefficient);
  const RnsPoly expected_square = unfused_product(*ctx, a, a);
  const RnsPoly expected_product = unfused_product(*ctx, a, b);
  for (SimdPath path : test::supported_simd_paths()) {
    CAPTURE(to_string(path));
    const ScopedSimdPath forced(path);
    // Outputs that held other values: every word is written.
    RnsPoly product = expected_product, scratch = expected_square;
    rlwe::exact_product(*ctx, a, a, product, scratch);
    CHECK(product.form() == PolyForm::coefficient);
    CHECK(product == expected_square);
    const RnsPoly a_copy = a;  // equal, not the same object: still a square
    rlwe::exact_product(*ctx, a, a_copy, product, scratch);
    CHECK(product == expected_square);
    rlwe::exact_product(*ctx, a, b, product, scratch);
    CHECK(product == expected_product);
  }
  RnsPoly scratch;
  RnsPoly aliased = a;
  CHECK_THROWS_AS(rlwe::exact_product(*ctx, aliased, b, aliased, scratch), std::invalid_argument);
  CHECK_THROWS_AS(rlwe::exact_product(*ctx, a, aliased, scratch, aliased), std::invalid_argument);
}

TEST_CASE("the exact product and its scale-and-round are the same words with 50- and 61-bit B") {
  // B only carries exact intermediate values (rns_context.hpp): whichever primes it has, and
  // whatever the CPU would choose, the tensor's integers and the rescaled result must not change.
  const size_t n = 8192;
  const std::vector<uint64_t> q = generate_ntt_primes(55, 7, 2 * n);
  const uint64_t t = generate_ntt_primes(39, 1, 2 * n)[0];
  Prng prng = Prng::insecure_seeded(9);
  const auto narrow = rlwe::RnsContext::create(n, q, t, 0, 50);
  const auto wide = rlwe::RnsContext::create(n, q, t, 0, 61);
  CHECK(narrow->b_base().size() == 10);  // ⌈(385 + 39 + 13 + 1 + 20) / 49⌉ primes below 2^50
  CHECK(wide->b_base().size() == 8);
  for (const Modulus& b : narrow->b_base().moduli())
    CHECK(b.value() < (uint64_t{1} << 50));
  const RnsPoly a = sample_uniform_poly(prng, narrow->ring(), PolyForm::coefficient);
  std::vector<std::vector<mpz_class>> tensors;
  std::vector<RnsPoly> rescaled;
  for (const auto& ctx : {narrow, wide}) {
    RnsPoly a_here = RnsPoly::from_bigint(ctx->ring(), a.to_bigint_centered());
    RnsPoly product = rlwe::base_extend(*ctx, a_here);
    product *= product;
    product.to_coefficient();
    tensors.push_back(product.to_bigint_centered());
    for (SimdPath path : test::supported_simd_paths()) {
      CAPTURE(to_string(path));
      const ScopedSimdPath forced(path);
      rescaled.push_back(rlwe::scale_and_round(*ctx, product));
    }
  }
  CHECK(tensors[0] == tensors[1]);
  const std::vector<mpz_class> expected =
      rlwe::reference::scale_and_round(*wide, tensors[1]).to_bigint_centered();
  for (const RnsPoly& r : rescaled)
    CHECK(r.to_bigint_centered() == expected);
  CHECK_THROWS_AS(rlwe::RnsContext::create(n, q, t, 0, 55), std::invalid_argument);
}

TEST_CASE("Δ·m decrypts to m with no noise, and its noise budget is the whole gap") {
  const auto ctx = context_8192(0);
  Prng prng = Prng::insecure_seeded(4);
  rlwe::Plaintext m;
  for (size_t j = 0; j < ctx->n(); ++j)
    m.coeffs.push_back(sample_uniform_below(prng, ctx->t().value()));
  RnsPoly c(ctx->ring(), PolyForm::coefficient);
  rlwe::add_scaled_message(*ctx, c, m);
  CHECK(rlwe::round_to_plaintext(*ctx, c).coeffs == m.coeffs);
  // v = -r_t(q)·m/q only: the budget is about log2 q - log2 t - log2 r_t(q).
  CHECK(rlwe::invariant_noise_budget(*ctx, c) > ctx->log2_q() - 2 * 40 - 2);
  m.coeffs[0] = ctx->t().value();
  CHECK_THROWS_AS(rlwe::add_scaled_message(*ctx, c, m), std::invalid_argument);
}
