// Range tracking: the bounds hold on random inputs, are attained by the worst-case input, and
// decide correctly whether a plaintext modulus (or a CRT product of moduli) suffices.
#include <doctest/doctest.h>
#include <gmpxx.h>

#include <random>
#include <string>
#include <vector>

#include "cryptonets/arith/wide_integer.hpp"
#include "cryptonets/model/layers.hpp"
#include "cryptonets/model/model.hpp"
#include "cryptonets/model/range.hpp"
#include "nn_test_support.hpp"

using cryptonets::model::centred_bits;
using cryptonets::model::compile_model;
using cryptonets::model::CompiledModel;
using cryptonets::model::DenseLayer;
using cryptonets::model::evaluate;
using cryptonets::model::evaluate_modular;
using cryptonets::model::evaluate_plain;
using cryptonets::model::LayerRange;
using cryptonets::model::LinearMap;
using cryptonets::model::LinearTerm;
using cryptonets::model::merge_linear_layers;
using cryptonets::model::Model;
using cryptonets::model::ModularIntegers;
using cryptonets::model::Padding;
using cryptonets::model::PlainIntegers;
using cryptonets::model::plaintext_moduli_suffice;
using cryptonets::model::plaintext_modulus_suffices;
using cryptonets::model::PlaintextModulusTooSmall;
using cryptonets::model::RangeReport;
using cryptonets::model::require_plaintext_moduli;
using cryptonets::model::Shape;
using cryptonets::model::SquareLayer;
using cryptonets::model::track_ranges;
using cryptonets::model::ValueInterval;

using namespace cryptonets;
using namespace test_support;

namespace {

// Every value of every layer lies in its interval and within the layer bound.
void check_inside_ranges(const CompiledModel& compiled, const RangeReport& report,
                         const std::vector<int64_t>& input) {
  PlainIntegers plain;
  evaluate(compiled, std::vector<i128>(input.begin(), input.end()), plain,
           [&](size_t layer, const std::vector<i128>& values) {
             const LayerRange& range = report.layers[layer];
             REQUIRE(values.size() == range.elements.size());
             for (size_t i = 0; i < values.size(); ++i) {
               mpz_class v = to_mpz(values[i]);
               CHECK(range.elements[i].lower <= v);
               CHECK(v <= range.elements[i].upper);
               CHECK(abs(v) <= range.bound);
             }
           });
}

}  // namespace

TEST_CASE("centred_bits is the bit size of the smallest modulus holding [-B, B]") {
  CHECK(centred_bits(0) == 0);
  CHECK(centred_bits(1) == 2);  // t = 3
  CHECK(centred_bits(2) == 3);  // t = 5
  CHECK(centred_bits(3) == 3);  // t = 7
  CHECK(centred_bits(4) == 4);  // t = 9
  std::mt19937_64 rng(4);
  for (int i = 0; i < 200; ++i) {
    mpz_class bound = static_cast<unsigned long>(rng() >> (rng() % 64));
    int k = centred_bits(bound);
    mpz_class needed = 2 * bound + 1;
    CHECK(needed <= mpz_class(1) << k);
    CHECK((k == 0 || needed > mpz_class(1) << (k - 1)));
  }
}

TEST_CASE(
    "range bounds are never exceeded on random and extreme inputs of the CryptoNets "
    "network") {
  std::mt19937_64 rng(31);
  Model model = random_cryptonets_model(rng, 3, 255.0);
  CompiledModel compiled = compile_model(model);
  RangeReport report = track_ranges(model);
  CHECK(report.max_input == 255);
  REQUIRE(report.layers.size() == model.layers.size());
  CHECK(report.layers[5].bound == report.layers[4].bound);  // Flatten changes nothing
  CHECK(report.layers[1].bound == report.layers[0].bound * report.layers[0].bound);
  for (int image = 0; image < 4; ++image) {
    check_inside_ranges(compiled, report, random_integers(rng, 784, 0, 255));
  }
  check_inside_ranges(compiled, report, std::vector<int64_t>(784, 255));
  check_inside_ranges(compiled, report, std::vector<int64_t>(784, 0));
  // Merging the linear layers can only tighten the bounds (fewer independent intervals).
  RangeReport merged = track_ranges(merge_linear_layers(model));
  CHECK(merged.output().bound <= report.output().bound);
  MESSAGE("CryptoNets shape, weights in [-3, 3], pixels 0..255: output needs "
          << report.output_bits() << " bits unmerged, " << merged.output_bits() << " merged");
}

TEST_CASE("the bound of a convolution then square is attained by the worst-case input") {
  std::mt19937_64 rng(8);
  const int64_t max_input = 200;
  Model model{Shape{1, 4, 4}, 200.0, {}};
  model.layers = {{random_convolution(rng, 1, 2, 3, 1, Padding{1, 0, 0, 1}, 7), 1.0},
                  {SquareLayer{}, 1.0}};
  CompiledModel compiled = compile_model(model);
  RangeReport report = track_ranges(model, max_input);
  const LinearMap& map = compiled.steps[0].map;
  for (size_t o = 0; o < map.outputs; ++o) {
    // x_j = max where w_j > 0 gives the largest output, the opposite choice the smallest.
    std::vector<int64_t> largest(16, 0), smallest(16, 0);
    for (const LinearTerm& term : map.terms_of(o)) {
      (term.weight > 0 ? largest : smallest)[term.input] = max_input;
    }
    const ValueInterval& conv_range = report.layers[0].elements[o];
    const ValueInterval& square_range = report.layers[1].elements[o];
    i128 high = evaluate_plain(compiled, largest)[o];
    i128 low = evaluate_plain(compiled, smallest)[o];
    // The evaluation returns squares; the conv extremes are their signed roots.
    CHECK(mpz_class(conv_range.upper * conv_range.upper) == to_mpz(high));
    CHECK(mpz_class(conv_range.lower * conv_range.lower) == to_mpz(low));
    CHECK(to_mpz(std::max(high, low)) == square_range.upper);
  }
  // The layer bound is the largest element bound, hence also attained.
  mpz_class largest_square = 0;
  for (const auto& e : report.layers[1].elements)
    largest_square = std::max(largest_square, e.upper);
  CHECK(report.layers[1].bound == largest_square);
}

TEST_CASE("interval bounds are never looser than the classical sum of |w|·B + |b|") {
  std::mt19937_64 rng(12);
  Model model{Shape{1, 1, 30}, 255.0, {}};
  model.layers = {{random_dense(rng, 30, 20, 50), 1.0},
                  {SquareLayer{}, 1.0},
                  {random_dense(rng, 20, 5, 50), 1.0}};
  RangeReport report = track_ranges(model, 255);
  std::vector<mpz_class> classical(30, mpz_class(255));
  for (size_t layer = 0; layer < model.layers.size(); ++layer) {
    std::vector<mpz_class> next;
    if (const auto* dense = std::get_if<DenseLayer>(&model.layers[layer].operation)) {
      for (int64_t o = 0; o < dense->outputs; ++o) {
        mpz_class sum = std::abs(dense->bias[static_cast<size_t>(o)]);
        for (int64_t i = 0; i < dense->inputs; ++i) {
          sum += std::abs(dense->weights[static_cast<size_t>(o * dense->inputs + i)]) *
                 classical[static_cast<size_t>(i)];
        }
        next.push_back(sum);
      }
    } else {
      for (const auto& b : classical)
        next.push_back(b * b);
    }
    classical = next;
    for (size_t i = 0; i < classical.size(); ++i) {
      const ValueInterval& e = report.layers[layer].elements[i];
      CHECK(abs(e.lower) <= classical[i]);
      CHECK(abs(e.upper) <= classical[i]);
    }
  }
}

TEST_CASE("a plaintext modulus suffices exactly when t >= 2B + 1") {
  Model model{Shape{1, 1, 2}, 255.0, {{DenseLayer{2, 1, {3, -2}, {1}}, 1.0}}};
  RangeReport report = track_ranges(model, 10);  // outputs in [1 - 20, 1 + 30]: B = 31
  CHECK(report.output().bound == 31);
  CHECK(report.output_bits() == 6);
  CHECK(plaintext_modulus_suffices(report, 63));
  CHECK_FALSE(plaintext_modulus_suffices(report, 62));
  CHECK(plaintext_moduli_suffice(report, {7, 9}));
  CHECK_FALSE(plaintext_moduli_suffice(report, {7, 8}));
  CHECK_NOTHROW(require_plaintext_moduli(report, {63}));
  // Decoding at the boundary: t = 2B + 1 recovers both extremes.
  CompiledModel compiled = compile_model(model);
  ModularIntegers modular(63);
  CHECK(modular.centred(evaluate_modular(compiled, std::vector<int64_t>{10, 0}, 63)[0]) == 31);
  CHECK(modular.centred(evaluate_modular(compiled, std::vector<int64_t>{0, 10}, 63)[0]) == -19);
}

TEST_CASE("a too small plaintext modulus is refused with the bits needed and the moduli to use") {
  std::mt19937_64 rng(40);
  Model model = random_cryptonets_model(rng, 3, 255.0);
  RangeReport report = track_ranges(merge_linear_layers(model));
  const uint64_t t = (uint64_t{1} << 40) + 15;
  REQUIRE(report.output_bits() > 41);
  try {
    require_plaintext_moduli(report, {t});
    FAIL("a 41-bit modulus was accepted for a " << report.output_bits() << "-bit model");
  } catch (const PlaintextModulusTooSmall& e) {
    CHECK(e.needed_bits() == report.output_bits());
    CHECK(e.modulus_bits() == 41);
    std::string message = e.what();
    CHECK(message.find("needs " + std::to_string(report.output_bits()) + " bits") !=
          std::string::npos);
    CHECK(message.find("t has 41 bits") != std::string::npos);
    CHECK(message.find("use " + std::to_string(e.moduli_needed()) + " moduli (CRT)") !=
          std::string::npos);
    // K moduli of that size suffice and K - 1 do not.
    std::vector<uint64_t> moduli(static_cast<size_t>(e.moduli_needed()), t);
    CHECK(plaintext_moduli_suffice(report, moduli));
    moduli.pop_back();
    CHECK_FALSE(plaintext_moduli_suffice(report, moduli));
  }
  CHECK_THROWS_AS(require_plaintext_moduli(report, {}), std::invalid_argument);
  CHECK_THROWS_AS(require_plaintext_moduli(report, {1}), std::invalid_argument);
}

TEST_CASE("two CRT moduli recover the exact outputs of a network that needs more than 62 bits") {
  std::mt19937_64 rng(55);
  Model model = merge_linear_layers(random_cryptonets_model(rng, 3, 255.0));
  RangeReport report = track_ranges(model);
  const std::vector<uint64_t> moduli{(uint64_t{1} << 61) - 1, (uint64_t{1} << 60) - 93};
  REQUIRE(report.output_bits() > 62);
  REQUIRE_NOTHROW(require_plaintext_moduli(report, moduli));
  CompiledModel compiled = compile_model(model);
  const mpz_class q0 = static_cast<unsigned long>(moduli[0]);
  const mpz_class q1 = static_cast<unsigned long>(moduli[1]);
  const mpz_class product = q0 * q1;
  mpz_class q0_inverse;  // q0^-1 mod q1
  mpz_invert(q0_inverse.get_mpz_t(), q0.get_mpz_t(), q1.get_mpz_t());
  for (int image = 0; image < 3; ++image) {
    auto pixels = random_integers(rng, 784, 0, 255);
    auto plain = evaluate_plain(compiled, pixels);
    auto r0 = evaluate_modular(compiled, pixels, moduli[0]);
    auto r1 = evaluate_modular(compiled, pixels, moduli[1]);
    for (size_t i = 0; i < plain.size(); ++i) {
      // Garner: x = r0 + q0 · ((r1 - r0) · q0^-1 mod q1), then centre mod q0·q1.
      mpz_class a0 = static_cast<unsigned long>(r0[i]);
      mpz_class a1 = static_cast<unsigned long>(r1[i]);
      mpz_class k = ((a1 - a0) * q0_inverse) % q1;
      if (k < 0) k += q1;
      mpz_class x = a0 + q0 * k;
      if (2 * x > product) x -= product;
      CHECK(x == to_mpz(plain[i]));
    }
  }
}

TEST_CASE("the range bound of polynomial networks is never exceeded on random and extreme inputs") {
  std::mt19937_64 rng(17);
  const std::vector<std::vector<std::vector<int64_t>>> activations{
      {{7, -3, -2}, {5, 6, 1}}, {{-4, 3}, {1, 2, 0, -1}}, {{0, 0, 0, 2}, {3, -1, -1}}};
  for (const auto& polynomials : activations) {
    const Model model = with_polynomial_activations(
        random_small_cryptonets_model(rng, 9, 2, 5, 3, 3, 4), polynomials);
    const CompiledModel compiled = compile_model(model);
    const RangeReport report = track_ranges(model);
    for (int trial = 0; trial < 40; ++trial) {
      // Random pixels, and the extremes (all 0, all max).
      std::vector<int64_t> image = trial == 0   ? std::vector<int64_t>(81, 0)
                                   : trial == 1 ? std::vector<int64_t>(81, 4)
                                                : random_integers(rng, 81, 0, 4);
      // A polynomial layer may have several steps: its range is that of its last one.
      std::vector<std::vector<i128>> seen(model.layers.size());
      PlainIntegers plain;
      evaluate(compiled, std::vector<i128>(image.begin(), image.end()), plain,
               [&](size_t layer, const std::vector<i128>& v) { seen[layer] = v; });
      for (size_t layer = 0; layer < model.layers.size(); ++layer) {
        const LayerRange& range = report.layers[layer];
        for (size_t i = 0; i < seen[layer].size(); ++i) {
          const mpz_class v = to_mpz(seen[layer][i]);
          CHECK(range.elements[i].lower <= v);
          CHECK(v <= range.elements[i].upper);
        }
      }
    }
  }
}
