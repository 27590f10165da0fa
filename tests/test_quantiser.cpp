// The quantiser: the integer model tracks the float network it comes from, its worst-case bound
// holds, the sweep's shared-prefix evaluation equals evaluate_plain, and the shipped default model
// data/model.txt is valid, accurate and decodes from its plaintext moduli.
#include <doctest/doctest.h>
#include <gmpxx.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "cryptonets/arith/primes.hpp"
#include "cryptonets/arith/wide_integer.hpp"
#include "cryptonets/io/idx.hpp"
#include "cryptonets/io/model_file.hpp"
#include "cryptonets/model/layers.hpp"
#include "cryptonets/model/model.hpp"
#include "cryptonets/model/range.hpp"
#include "cryptonets/training/float_network.hpp"
#include "cryptonets/training/polynomial_quantiser.hpp"
#include "cryptonets/training/quantiser.hpp"
#include "cryptonets/training/sequential_network.hpp"
#include "nn_test_support.hpp"

using cryptonets::model::centred_bits;
using cryptonets::model::compile_model;
using cryptonets::model::CompiledModel;
using cryptonets::model::ConvolutionLayer;
using cryptonets::model::DenseLayer;
using cryptonets::model::evaluate_modular;
using cryptonets::model::evaluate_plain;
using cryptonets::model::LayerRange;
using cryptonets::model::Model;
using cryptonets::model::Padding;
using cryptonets::model::quantise_pixel;
using cryptonets::model::RangeReport;
using cryptonets::model::Shape;
using cryptonets::model::SquareLayer;
using cryptonets::model::track_ranges;
using cryptonets::model::validate_model;
using cryptonets::training::choose_default;
using cryptonets::training::ClassScores;
using cryptonets::training::evaluate_integer_model;
using cryptonets::training::evaluate_quantised_network;
using cryptonets::training::FloatNetwork;
using cryptonets::training::forward;
using cryptonets::training::kPlaintextModulusCongruence;
using cryptonets::training::LabelledImages;
using cryptonets::training::load_float_network;
using cryptonets::training::make_zero_float_network;
using cryptonets::training::measure_quantisation;
using cryptonets::training::more_faithful;
using cryptonets::training::PlainEvaluation;
using cryptonets::training::plaintext_moduli;
using cryptonets::training::plaintext_moduli_needed;
using cryptonets::training::predicted_class;
using cryptonets::training::QuantisationChoice;
using cryptonets::training::QuantisationResult;
using cryptonets::training::QuantisationScales;
using cryptonets::training::quantise;
using cryptonets::training::sweep_quantisations;
using cryptonets::training::SweepGrid;
using cryptonets::training::weight_scale_for_bits;

using namespace cryptonets;
using namespace test_support;
namespace fs = std::filesystem;

namespace {

const MnistSet& mnist_test_set() {
  static const MnistSet set = load_mnist(repository_root() / "data/mnist", MnistSplit::kTest);
  return set;
}

LabelledImages first_test_images(size_t count) {
  const MnistSet& set = mnist_test_set();
  count = std::min(count, set.images.count);
  return {std::span(set.images.pixels).first(count * kMnistImagePixels),
          std::span(set.labels.labels).first(count)};
}

void fill_uniform(std::vector<float>& values, std::mt19937_64& rng, float half_width) {
  std::uniform_real_distribution<float> dist(-half_width, half_width);
  for (float& v : values)
    v = dist(rng);
}

// A small float network with random parameters of realistic magnitudes (the trained network's
// conv weights are around 1, its dense weights a few tenths at most).
FloatNetwork random_float_network(std::mt19937_64& rng, int conv_maps = 2, int hidden = 6,
                                  int classes = 10) {
  FloatNetwork network = make_zero_float_network(conv_maps, hidden, classes);
  fill_uniform(network.conv_weights, rng, 1.0f);
  fill_uniform(network.conv_bias, rng, 0.5f);
  fill_uniform(network.dense1_weights, rng, 0.25f);
  fill_uniform(network.dense1_bias, rng, 0.5f);
  fill_uniform(network.dense2_weights, rng, 0.25f);
  fill_uniform(network.dense2_bias, rng, 0.5f);
  return network;
}

std::vector<int64_t> integer_input(const Model& model, std::span<const uint8_t> image) {
  std::vector<int64_t> input;
  for (uint8_t p : image)
    input.push_back(quantise_pixel(model, p));
  return input;
}

// max over images and classes of |integer output / output scale − float output|, relative to the
// largest |float output|.
double relative_output_error(const FloatNetwork& network, const Model& model,
                             const LabelledImages& images) {
  const CompiledModel compiled = compile_model(model);
  double largest_error = 0.0;
  double largest_output = 0.0;
  for (size_t i = 0; i < images.size(); ++i) {
    const ClassScores expected = forward(network, images.image(i));
    const std::vector<i128> actual =
        evaluate_plain(compiled, integer_input(model, images.image(i)));
    for (size_t c = 0; c < expected.size(); ++c) {
      const double decoded = static_cast<double>(actual[c]) / model.layers.back().scale;
      largest_error = std::max(largest_error, std::fabs(decoded - expected[c]));
      largest_output = std::max(largest_output, std::fabs(static_cast<double>(expected[c])));
    }
  }
  return largest_error / largest_output;
}

int64_t max_magnitude(const std::vector<int64_t>& values) {
  int64_t largest = 0;
  for (int64_t v : values)
    largest = std::max(largest, v < 0 ? -v : v);
  return largest;
}

// The weight bits a quantised layer was made with: its largest |weight| is 2^bits − 1.
int weight_bits_of(const std::vector<int64_t>& weights) {
  const int64_t largest = max_magnitude(weights);
  const int bits = static_cast<int>(std::log2(static_cast<double>(largest) + 1.0) + 0.5);
  REQUIRE(largest == (int64_t{1} << bits) - 1);
  return bits;
}

QuantisationResult synthetic_result(int moduli, size_t correct, size_t agree, int worst_case_bits) {
  QuantisationResult result;
  result.evaluated = true;
  result.moduli = moduli;
  result.worst_case_bits = worst_case_bits;
  result.test.images = 1000;
  result.test.correct = correct;
  result.test.agree_with_float = agree;
  return result;
}

RangeReport report_with_output_bound(const mpz_class& bound) {
  RangeReport report;
  LayerRange output;
  output.bound = bound;
  output.bits = centred_bits(bound);
  report.layers.push_back(output);
  return report;
}

}  // namespace

TEST_CASE("weight_scale_for_bits maps the largest weight to 2^bits - 1") {
  std::mt19937_64 rng(11);
  std::vector<float> weights(300);
  fill_uniform(weights, rng, 0.3f);
  weights[17] = -0.7f;  // the largest magnitude is negative
  for (int bits = 1; bits <= 12; ++bits) {
    const double scale = weight_scale_for_bits(weights, bits);
    int64_t largest = 0;
    for (float w : weights)
      largest = std::max<int64_t>(largest, std::llabs(std::llround(w * scale)));
    CHECK(largest == (int64_t{1} << bits) - 1);
    CHECK(std::llround(weights[17] * scale) == -((int64_t{1} << bits) - 1));
  }
  CHECK_THROWS_AS(weight_scale_for_bits(weights, 0), std::invalid_argument);
  CHECK_THROWS_AS(weight_scale_for_bits(std::vector<float>(5, 0.0f), 4), std::invalid_argument);
  weights[3] = std::nanf("");
  CHECK_THROWS_AS(weight_scale_for_bits(weights, 4), std::invalid_argument);
}

TEST_CASE("quantise builds conv, square, dense, square, dense with each bias at its sum's scale") {
  std::mt19937_64 rng(12);
  const FloatNetwork network = random_float_network(rng, 3, 7);
  const QuantisationScales scales{16.0, 9.5, 300.0, 41.0};
  const Model model = quantise(network, scales);
  validate_model(model);
  REQUIRE(model.layers.size() == 5);
  CHECK(model.input_shape == Shape{1, 28, 28});
  CHECK(model.input_scale == 16.0);

  const double s1 = 16.0 * 9.5;
  const double s2 = s1 * s1 * 300.0;
  const double s3 = s2 * s2 * 41.0;
  CHECK(model.layers[0].scale == s1);
  CHECK(model.layers[1].scale == s1 * s1);
  CHECK(model.layers[2].scale == s2);
  CHECK(model.layers[3].scale == s2 * s2);
  CHECK(model.layers[4].scale == s3);

  const auto& conv = std::get<ConvolutionLayer>(model.layers[0].operation);
  CHECK(conv.in_maps == 1);
  CHECK(conv.out_maps == 3);
  CHECK(conv.kernel_height == 5);
  CHECK(conv.kernel_width == 5);
  CHECK(conv.stride_y == 2);
  CHECK(conv.stride_x == 2);
  CHECK(conv.padding == Padding{1, 1, 0, 0});
  for (size_t i = 0; i < conv.weights.size(); ++i)
    CHECK(conv.weights[i] == std::llround(network.conv_weights[i] * 9.5));
  for (size_t i = 0; i < conv.bias.size(); ++i)
    CHECK(conv.bias[i] == std::llround(network.conv_bias[i] * s1));
  CHECK(std::holds_alternative<SquareLayer>(model.layers[1].operation));
  const auto& dense1 = std::get<DenseLayer>(model.layers[2].operation);
  CHECK(dense1.inputs == 3 * 13 * 13);
  CHECK(dense1.outputs == 7);
  for (size_t i = 0; i < dense1.weights.size(); i += 97)
    CHECK(dense1.weights[i] == std::llround(network.dense1_weights[i] * 300.0));
  for (size_t i = 0; i < dense1.bias.size(); ++i)
    CHECK(dense1.bias[i] == std::llround(network.dense1_bias[i] * s2));
  CHECK(std::holds_alternative<SquareLayer>(model.layers[3].operation));
  const auto& dense2 = std::get<DenseLayer>(model.layers[4].operation);
  CHECK(dense2.inputs == 7);
  CHECK(dense2.outputs == 10);
  for (size_t i = 0; i < dense2.weights.size(); ++i)
    CHECK(dense2.weights[i] == std::llround(network.dense2_weights[i] * 41.0));
  for (size_t i = 0; i < dense2.bias.size(); ++i)
    CHECK(dense2.bias[i] == std::llround(network.dense2_bias[i] * s3));
}

TEST_CASE("quantise rejects bad scales, mismatched networks and biases beyond 2^60") {
  std::mt19937_64 rng(13);
  FloatNetwork network = random_float_network(rng);
  CHECK_THROWS_AS(quantise(network, QuantisationScales{0.0, 1, 1, 1}), std::invalid_argument);
  CHECK_THROWS_AS(quantise(network, QuantisationScales{4, -1, 1, 1}), std::invalid_argument);
  CHECK_THROWS_AS(quantise(network, QuantisationScales{4, 1, INFINITY, 1}), std::invalid_argument);
  // The output bias scale is (I·s_conv)^4 · s_d1^2 · s_d2 = 2^80 here.
  CHECK_THROWS_AS(quantise(network, QuantisationScales{256, 256, 256, 256}), std::overflow_error);
  network.dense1_bias.pop_back();
  CHECK_THROWS_AS(quantise(network, QuantisationScales{4, 4, 4, 4}), std::invalid_argument);
}

TEST_CASE("a network whose parameters are exact at the chosen scales is quantised without error") {
  // Weights and biases that are multiples of 1/4, 1/64 and 1/16 are exact at the weight scales 4,
  // 64, 16 and at the bias scales 255·4, (255·4)²·64 and ((255·4)²·64)²·16 (multiples of those),
  // and I = 255 feeds the raw pixel, so the integer outputs divided by the output scale are the
  // float outputs up to float32 rounding.
  std::mt19937_64 rng(14);
  FloatNetwork network = random_float_network(rng);
  fill_uniform(network.dense2_weights, rng, 1.0f);
  const auto snap = [](std::vector<float>& values, float scale) {
    for (float& v : values)
      v = std::round(v * scale) / scale;
  };
  snap(network.conv_weights, 4.0f);
  snap(network.conv_bias, 4.0f);
  snap(network.dense1_weights, 64.0f);
  snap(network.dense1_bias, 64.0f);
  snap(network.dense2_weights, 16.0f);
  snap(network.dense2_bias, 16.0f);
  const Model model = quantise(network, QuantisationScales{255.0, 4.0, 64.0, 16.0});
  const auto& dense1 = std::get<DenseLayer>(model.layers[2].operation);
  CHECK(max_magnitude(dense1.weights) >= 3);  // the snapped weights are not all zero
  for (size_t i = 0; i < dense1.weights.size(); ++i)
    REQUIRE(static_cast<double>(dense1.weights[i]) == network.dense1_weights[i] * 64.0);
  CHECK(relative_output_error(network, model, first_test_images(20)) < 1e-5);
}

TEST_CASE("integer outputs divided by the output scale approach the float outputs as scales grow") {
  std::mt19937_64 rng(15);
  const FloatNetwork network = random_float_network(rng);
  const LabelledImages images = first_test_images(30);
  struct Step {
    QuantisationChoice choice;
    double tolerance;  // ~ the relative rounding error of inputs and weights: 1/I + 2^-bits
  };
  const std::vector<Step> steps{
      {{4, {3, 3, 3}}, 0.3}, {{8, {4, 4, 4}}, 0.15}, {{16, {5, 5, 5}}, 0.07}};
  double previous = INFINITY;
  for (const Step& step : steps) {
    CAPTURE(step.choice.label());
    const double error = relative_output_error(network, quantise(network, step.choice), images);
    CAPTURE(error);
    CHECK(error < step.tolerance);
    CHECK(error < previous);
    previous = error;
  }
}

TEST_CASE("plaintext moduli are 40-bit batching primes and their count covers the output bound") {
  const std::vector<uint64_t> moduli = plaintext_moduli(3);
  REQUIRE(moduli.size() == 3);
  for (uint64_t t : moduli) {
    CHECK(is_prime(t));
    CHECK(t % kPlaintextModulusCongruence == 1);
    CHECK(t < (uint64_t{1} << 40));
    CHECK(t > (uint64_t{1} << 39));
  }
  CHECK(moduli[0] > moduli[1]);
  const mpz_class t1 = static_cast<unsigned long>(moduli[0]);
  const mpz_class t12 = t1 * static_cast<unsigned long>(moduli[1]);
  // 2·B + 1 <= T exactly at B = (T − 1)/2 (T odd).
  CHECK(plaintext_moduli_needed(report_with_output_bound((t1 - 1) / 2)) == 1);
  CHECK(plaintext_moduli_needed(report_with_output_bound((t1 + 1) / 2)) == 2);
  CHECK(plaintext_moduli_needed(report_with_output_bound((t12 - 1) / 2)) == 2);
  CHECK(plaintext_moduli_needed(report_with_output_bound((t12 + 1) / 2)) == 3);
  CHECK_FALSE(plaintext_moduli_needed(report_with_output_bound((t12 + 1) / 2), 2).has_value());
}

TEST_CASE(
    "choose_default takes the fewest moduli at the required accuracy, then the most faithful") {
  std::vector<QuantisationResult> results{
      synthetic_result(1, 980, 990, 39),   // 0: too inaccurate
      synthetic_result(2, 995, 990, 78),   // 1: qualifies, most accurate
      synthetic_result(2, 992, 996, 79),   // 2: qualifies, agrees more with the float network
      synthetic_result(2, 993, 996, 79),   // 3: as faithful and more accurate
      synthetic_result(2, 993, 996, 77),   // 4: the same with fewer worst-case bits
      synthetic_result(3, 999, 999, 100),  // 5: better in every way but one more modulus
  };
  CHECK(choose_default(results, 0.989) == 4);
  results[0].test.correct = 989;  // now one modulus reaches the threshold
  CHECK(choose_default(results, 0.989) == 0);
  results[0].failure = "overflow";
  CHECK(choose_default(results, 0.989) == 4);
  results[4].evaluated = false;
  CHECK(choose_default(results, 0.989) == 3);
  CHECK(choose_default(results, 0.9935) == 1);
  CHECK(choose_default(results, 0.9995) == std::nullopt);
  CHECK(more_faithful(results[2], results[1]));
  CHECK_FALSE(more_faithful(results[1], results[2]));
}

TEST_CASE("the specialised evaluation equals evaluate_plain and refuses other model shapes") {
  std::mt19937_64 rng(18);
  const FloatNetwork network = random_float_network(rng, 5, 12);
  const LabelledImages images = first_test_images(200);
  for (const QuantisationChoice& choice :
       {QuantisationChoice{1, {3, 4, 5}}, QuantisationChoice{16, {5, 5, 6}},
        QuantisationChoice{255, {3, 3, 3}}}) {
    CAPTURE(choice.label());
    const Model model = quantise(network, choice);
    const PlainEvaluation fast = evaluate_quantised_network(model, images, 2, &network);
    const PlainEvaluation reference = evaluate_integer_model(model, images, 1, &network);
    CHECK(fast.images == reference.images);
    CHECK(fast.correct == reference.correct);
    CHECK(fast.agree_with_float == reference.agree_with_float);
    CHECK(fast.max_abs_output == reference.max_abs_output);
  }
  Model other = quantise(network, QuantisationChoice{4, {4, 4, 4}});
  other.layers.push_back({SquareLayer{}, 1.0});
  CHECK_THROWS_AS(evaluate_quantised_network(other, images), std::invalid_argument);
  other.layers.pop_back();
  std::get<ConvolutionLayer>(other.layers[0].operation).padding = Padding{0, 0, 1, 1};
  CHECK_THROWS_AS(evaluate_quantised_network(other, images), std::invalid_argument);
}

TEST_CASE("the sweep's shared-prefix evaluation equals evaluate_plain at every grid point") {
  std::mt19937_64 rng(16);
  const FloatNetwork network = random_float_network(rng, 2, 5);
  const LabelledImages images = first_test_images(150);
  SweepGrid grid;
  grid.input_scales = {3, 255};
  grid.min_bits = 2;
  grid.max_conv_bits = 4;
  grid.max_dense1_bits = 4;
  grid.max_dense2_bits = 3;
  grid.max_moduli = 2;
  size_t last_done = 0;
  const std::vector<QuantisationResult> swept =
      sweep_quantisations(network, images, grid, 2, [&](size_t done, size_t total) {
        CHECK(done > last_done);
        CHECK(total == 2 * 3 * 3 * 2);
        last_done = done;
      });
  REQUIRE(swept.size() == 2 * 3 * 3 * 2);
  CHECK(last_done == swept.size());
  size_t evaluated = 0;
  size_t skipped = 0;
  size_t failed = 0;
  for (const QuantisationResult& s : swept) {
    CAPTURE(s.choice.label());
    const QuantisationResult m = measure_quantisation(network, s.choice, images, 1);
    CHECK(s.scales == m.scales);
    CHECK(s.worst_case_bits == m.worst_case_bits);
    CHECK(s.moduli == m.moduli);
    CHECK(s.failure.has_value() == m.failure.has_value());
    failed += s.failure ? 1 : 0;
    if (s.evaluated) {
      ++evaluated;
      REQUIRE(m.evaluated);
      const PlainEvaluation reference =
          evaluate_integer_model(quantise(network, s.choice), images, 1, &network);
      CHECK(s.test.images == reference.images);
      CHECK(s.test.correct == reference.correct);
      CHECK(s.test.agree_with_float == reference.agree_with_float);
      CHECK(s.test.max_abs_output == reference.max_abs_output);
      CHECK(s.test.max_output_bits == reference.max_output_bits);
      CHECK(m.test.correct == reference.correct);
      CHECK(m.test.max_abs_output == reference.max_abs_output);
      CHECK(s.moduli <= grid.max_moduli);
    } else if (!s.failure) {
      ++skipped;
      CHECK((!s.moduli || *s.moduli > grid.max_moduli));
    }
  }
  // Evaluated points, points needing too many moduli and unrepresentable points all occur.
  CHECK(evaluated > 0);
  CHECK(skipped > 0);
  CHECK(failed > 0);
}

TEST_CASE("a 4-class network quantises to 4 outputs and the sweep still equals evaluate_plain") {
  std::mt19937_64 rng(21);
  const FloatNetwork network = random_float_network(rng, 2, 5, 4);
  const LabelledImages mnist = first_test_images(120);
  std::vector<uint8_t> labels(mnist.labels.begin(), mnist.labels.end());
  for (uint8_t& label : labels)
    label %= 4;  // four classes
  const LabelledImages images{mnist.pixels, labels};
  const Model model = quantise(network, QuantisationChoice{16, {4, 4, 4}});
  CHECK(std::get<DenseLayer>(model.layers.back().operation).outputs == 4);
  CHECK(compile_model(model).output_size == 4);
  SweepGrid grid;
  grid.input_scales = {16};
  grid.max_conv_bits = grid.max_dense1_bits = grid.max_dense2_bits = 3;
  for (const QuantisationResult& s : sweep_quantisations(network, images, grid, 2)) {
    CAPTURE(s.choice.label());
    if (!s.evaluated) continue;
    const PlainEvaluation reference =
        evaluate_integer_model(quantise(network, s.choice), images, 1, &network);
    CHECK(s.test.correct == reference.correct);
    CHECK(s.test.agree_with_float == reference.agree_with_float);
    CHECK(s.test.max_abs_output == reference.max_abs_output);
  }
}

TEST_CASE("evaluate_integer_model counts the same correct images as a one-image-at-a-time loop") {
  std::mt19937_64 rng(17);
  const FloatNetwork network = random_float_network(rng);
  const Model model = quantise(network, QuantisationChoice{8, {4, 5, 6}});
  const LabelledImages images = first_test_images(60);
  const PlainEvaluation evaluation = evaluate_integer_model(model, images, 2, &network);
  const CompiledModel compiled = compile_model(model);
  size_t correct = 0;
  size_t agree = 0;
  mpz_class largest = 0;
  for (size_t i = 0; i < images.size(); ++i) {
    const std::vector<i128> out = evaluate_plain(compiled, integer_input(model, images.image(i)));
    const auto best = std::max_element(out.begin(), out.end()) - out.begin();
    correct += best == images.labels[i] ? 1 : 0;
    agree += best == predicted_class(forward(network, images.image(i))) ? 1 : 0;
    for (i128 v : out)
      largest = std::max<mpz_class>(largest, abs(to_mpz(v)));
  }
  CHECK(evaluation.images == images.size());
  CHECK(evaluation.correct == correct);
  CHECK(evaluation.agree_with_float == agree);
  CHECK(evaluation.max_abs_output == largest);
  CHECK(evaluation.max_output_bits == centred_bits(largest));
}

// --- The shipped default model --------------------------------------------------------------

namespace {

Model shipped_model() {
  return load_model((repository_root() / "data/model.txt").string());
}

// Plain-integer accuracy (evaluate_plain, the runtime's generic path), the worst-case bound never
// exceeded, and exact decoding of the outputs from their residues modulo the model's plaintext
// moduli (CRT) on the first 20 images.
void check_shipped_model_on_images(const LabelledImages& images, double min_accuracy) {
  const Model model = shipped_model();
  const RangeReport report = track_ranges(model);
  const std::optional<int> moduli_count = plaintext_moduli_needed(report);
  REQUIRE(moduli_count.has_value());
  const PlainEvaluation evaluation = evaluate_integer_model(model, images, 2);
  MESSAGE("data/model.txt on ", images.size(), " images: accuracy ", evaluation.accuracy(),
          ", max |output| ", evaluation.max_output_bits, " bits, worst case ", report.output_bits(),
          " bits, ", *moduli_count, " moduli");
  CHECK(evaluation.accuracy() >= min_accuracy);
  CHECK(evaluation.max_abs_output <= report.output().bound);

  const std::vector<uint64_t> moduli = plaintext_moduli(static_cast<size_t>(*moduli_count));
  mpz_class product = 1;
  for (uint64_t t : moduli)
    product *= static_cast<unsigned long>(t);
  const CompiledModel compiled = compile_model(model);
  for (size_t i = 0; i < std::min<size_t>(images.size(), 20); ++i) {
    const std::vector<int64_t> input = integer_input(model, images.image(i));
    const std::vector<i128> exact = evaluate_plain(compiled, input);
    std::vector<mpz_class> combined(exact.size(), 0);
    for (uint64_t t : moduli) {
      // CRT: x = Σ r_t · (T/t) · ((T/t)^-1 mod t) mod T.
      const mpz_class cofactor = product / static_cast<unsigned long>(t);
      mpz_class inverse;
      const mpz_class t_mpz = static_cast<unsigned long>(t);
      mpz_invert(inverse.get_mpz_t(), cofactor.get_mpz_t(), t_mpz.get_mpz_t());
      const std::vector<uint64_t> residues = evaluate_modular(compiled, input, t);
      for (size_t c = 0; c < exact.size(); ++c)
        combined[c] += static_cast<unsigned long>(residues[c]) * cofactor * inverse;
    }
    for (size_t c = 0; c < exact.size(); ++c) {
      mpz_class centred = combined[c] % product;
      if (centred > product / 2) centred -= product;
      CHECK(centred == to_mpz(exact[c]));
    }
  }
}

}  // namespace

TEST_CASE("the shipped data/model.txt loads, validates and has the CryptoNets shape") {
  const Model model = shipped_model();
  validate_model(model);
  CHECK(model.input_shape == Shape{1, 28, 28});
  REQUIRE(model.layers.size() == 5);
  const auto* conv = std::get_if<ConvolutionLayer>(&model.layers[0].operation);
  REQUIRE(conv != nullptr);
  CHECK(conv->in_maps == 1);
  CHECK(conv->out_maps == 5);
  CHECK(conv->kernel_height == 5);
  CHECK(conv->kernel_width == 5);
  CHECK(conv->stride_y == 2);
  CHECK(conv->stride_x == 2);
  CHECK(conv->padding == Padding{1, 1, 0, 0});
  CHECK(std::holds_alternative<SquareLayer>(model.layers[1].operation));
  const auto* dense1 = std::get_if<DenseLayer>(&model.layers[2].operation);
  REQUIRE(dense1 != nullptr);
  CHECK(dense1->inputs == 845);
  CHECK(dense1->outputs == 100);
  CHECK(std::holds_alternative<SquareLayer>(model.layers[3].operation));
  const auto* dense2 = std::get_if<DenseLayer>(&model.layers[4].operation);
  REQUIRE(dense2 != nullptr);
  CHECK(dense2->inputs == 100);
  CHECK(dense2->outputs == 10);
  // The recorded scales follow the layer rules: a square squares its input's scale.
  CHECK(model.layers[1].scale == model.layers[0].scale * model.layers[0].scale);
  CHECK(model.layers[3].scale == model.layers[2].scale * model.layers[2].scale);
}

TEST_CASE("the shipped data/model.txt is the quantisation of the shipped float model") {
  const fs::path float_path = repository_root() / "data/model-float.txt";
  if (!fs::exists(float_path)) {
    MESSAGE("data/model-float.txt is absent: skipped");
    return;
  }
  const Model model = shipped_model();
  const FloatNetwork network = load_float_network(float_path);
  const QuantisationChoice choice{
      model.input_scale,
      {weight_bits_of(std::get<ConvolutionLayer>(model.layers[0].operation).weights),
       weight_bits_of(std::get<DenseLayer>(model.layers[2].operation).weights),
       weight_bits_of(std::get<DenseLayer>(model.layers[4].operation).weights)}};
  CAPTURE(choice.label());
  CHECK(quantise(network, choice) == model);
}

// All 10,000 test images take about a second: the first 2,000 alone would not do, being harder
// than the rest (the float network itself gets 98.95% on them against 99.24% on all).
TEST_CASE("the shipped model reaches 98.9% on the test images within its worst-case bound") {
  check_shipped_model_on_images(first_test_images(10000), 0.989);
}

TEST_CASE("the shipped model stays within its worst-case bound on the training images" *
          doctest::test_suite("slow")) {
  const MnistSet train = load_mnist(repository_root() / "data/mnist", MnistSplit::kTrain);
  check_shipped_model_on_images({std::span(train.images.pixels), std::span(train.labels.labels)},
                                0.989);
}

// --- Polynomial activations (issue 17) --------------------------------------------------------

using test_support::random_polynomial_network;

TEST_CASE("a float network with polynomial activations quantises to exact +-1 leading terms") {
  using cryptonets::training::Activation;
  using cryptonets::training::ActivationKind;
  std::mt19937_64 rng(2014);
  const Activation relu_fit{ActivationKind::kPolynomial, {0.68794, 0.522639, 0.0648756}};
  const Activation cubic{ActivationKind::kPolynomial, {0.5, 0.25, 0.0, -0.1}};
  const auto sequential = random_polynomial_network(rng, cubic, relu_fit);
  const auto network = cryptonets::training::to_polynomial_float_network(sequential);
  const QuantisationChoice choice{2, {3, 4, 4}};
  const Model model = cryptonets::training::quantise(network, choice);
  REQUIRE(model.layers.size() == 5);
  const auto& p2 = std::get<cryptonets::model::PolynomialLayer>(model.layers[1].operation);
  const auto& p1 = std::get<cryptonets::model::PolynomialLayer>(model.layers[3].operation);
  const double s2 = model.layers[0].scale, s1 = model.layers[2].scale;
  // Degree 2: A = 1, B even and round(S·b/s) within 1, C = round(S·c), S = s²/a.
  CHECK(p1.coefficients[2] == 1);
  CHECK(p1.coefficients[1] % 2 == 0);
  CHECK(model.layers[3].scale == doctest::Approx(s1 * s1 / 0.0648756));
  CHECK(std::fabs(p1.coefficients[1] - model.layers[3].scale * 0.522639 / s1) <= 1.0);
  CHECK(std::fabs(p1.coefficients[0] - model.layers[3].scale * 0.68794) <= 0.5);
  // Degree 3 with a negative leading coefficient: D = −1, no x² term.
  CHECK(p2.coefficients == std::vector<int64_t>{p2.coefficients[0], p2.coefficients[1], 0, -1});
  CHECK(std::fabs(p2.coefficients[1] - model.layers[1].scale * 0.25 / s2) <= 0.5);
  // The compiled network needs no factor for the completed square, and the integer scores over
  // the output scale track the float scores.
  const CompiledModel compiled = compile_model(model);
  CHECK(compiled.output_factor == 1);
  CHECK(compiled.has_polynomial_step());
  std::vector<uint8_t> pixels(20 * 784);
  for (auto& p : pixels)
    p = static_cast<uint8_t>(rng() % 256);
  std::vector<uint8_t> labels(20, 0);
  const LabelledImages images{pixels, labels};
  const std::vector<int> classes = cryptonets::training::float_classes(network, images, 1);
  const PlainEvaluation integer = evaluate_integer_model(model, images, 1, classes);
  CHECK(integer.agree_with_float >= 18);
  // Bookkeeping: the integer scores over the output scale equal the float forward pass of the
  // dequantised network (every integer parameter divided by its scale), on images whose pixels
  // (0 or 255) quantise exactly; only float32 rounding separates them.
  auto dequantised = sequential;
  const auto& conv = std::get<ConvolutionLayer>(model.layers[0].operation);
  const auto& dense1 = std::get<DenseLayer>(model.layers[2].operation);
  const auto& dense2 = std::get<DenseLayer>(model.layers[4].operation);
  const auto divide = [](const std::vector<int64_t>& values, double scale) {
    std::vector<float> out;
    for (int64_t v : values)
      out.push_back(static_cast<float>(static_cast<double>(v) / scale));
    return out;
  };
  const double input_scale = model.input_scale;
  dequantised.layers[0].weights = divide(conv.weights, s2 / input_scale);
  dequantised.layers[0].bias = divide(conv.bias, s2);
  dequantised.layers[2].weights = divide(dense1.weights, s1 / model.layers[1].scale);
  dequantised.layers[2].bias = divide(dense1.bias, s1);
  dequantised.layers[4].weights =
      divide(dense2.weights, model.layers[4].scale / model.layers[3].scale);
  dequantised.layers[4].bias = divide(dense2.bias, model.layers[4].scale);
  for (int a : {1, 3}) {
    const auto& poly = std::get<cryptonets::model::PolynomialLayer>(model.layers[a].operation);
    const double in = model.layers[a - 1].scale, out = model.layers[a].scale;
    auto& coefficients = dequantised.layers[a].activation.coefficients;
    coefficients.assign(poly.coefficients.size(), 0.0);
    for (size_t k = 0; k < poly.coefficients.size(); ++k)
      coefficients[k] = static_cast<double>(poly.coefficients[k]) * std::pow(in, k) / out;
  }
  for (int trial = 0; trial < 3; ++trial) {
    std::vector<uint8_t> image(784);
    for (auto& p : image)
      p = rng() % 3 == 0 ? 255 : 0;
    const std::vector<float> expected = forward(dequantised, image);
    const auto outputs = evaluate_plain(compiled, cryptonets::model::quantise_pixels(model, image));
    for (size_t c = 0; c < 3; ++c) {
      const double scaled = static_cast<double>(outputs[c]) / model.layers[4].scale;
      CHECK(scaled == doctest::Approx(expected[c]).epsilon(1e-3));
    }
  }
  // ReLU itself has no integer form.
  const auto relu = random_polynomial_network(rng, Activation{ActivationKind::kRelu, {}}, cubic);
  CHECK_THROWS_WITH_AS(cryptonets::training::to_polynomial_float_network(relu),
                       doctest::Contains("replace it by its polynomial fit first"),
                       std::invalid_argument);
}

TEST_CASE("the polynomial sweep measures every grid point as measure_polynomial_quantisation") {
  using cryptonets::training::Activation;
  using cryptonets::training::ActivationKind;
  std::mt19937_64 rng(1412);
  const Activation quadratic{ActivationKind::kPolynomial, {0.7, 0.5, 0.065}};
  const auto network = cryptonets::training::to_polynomial_float_network(
      random_polynomial_network(rng, quadratic, Activation{}));
  std::vector<uint8_t> pixels(30 * 784), labels(30);
  for (auto& p : pixels)
    p = static_cast<uint8_t>(rng() % 256);
  for (auto& l : labels)
    l = static_cast<uint8_t>(rng() % 3);
  const LabelledImages images{pixels, labels};
  SweepGrid grid;
  grid.input_scales = {2, 4};
  grid.min_bits = 3;
  grid.max_conv_bits = grid.max_dense1_bits = 3;
  grid.max_dense2_bits = 4;
  grid.max_moduli = 8;
  const auto results =
      cryptonets::training::sweep_polynomial_quantisations(network, images, grid, 1);
  REQUIRE(results.size() == 4);
  const std::vector<int> classes = cryptonets::training::float_classes(network, images, 1);
  for (const QuantisationResult& r : results) {
    CAPTURE(r.choice.label());
    const QuantisationResult single = cryptonets::training::measure_polynomial_quantisation(
        network, r.choice, images, classes, grid.max_moduli, 1);
    CHECK(r.evaluated);
    CHECK(single.worst_case_bits == r.worst_case_bits);
    CHECK(single.test.correct == r.test.correct);
    CHECK(single.test.agree_with_float == r.test.agree_with_float);
    CHECK(single.test.max_abs_output == r.test.max_abs_output);
    CHECK(r.test.max_output_bits <= r.worst_case_bits);
  }
}

TEST_CASE("sigmoid fits quantise where folding their constant into the last layer passes 2^60") {
  // The study's sigmoid LSQ fits (|a2| about 3e-4): at output scale s²/|a2| the second fit's
  // completed-square constant K is near 2^57 here, and the compiler used to fold K·Σ_j w_oj
  // into the last layer's biases, past 2^60 at every grid point but the coarsest (issue 17).
  using cryptonets::training::Activation;
  using cryptonets::training::ActivationKind;
  std::mt19937_64 rng(95);
  const Activation first{ActivationKind::kPolynomial, {0.522758, 0.0396606, -0.000318805}};
  const Activation second{ActivationKind::kPolynomial, {0.480913, 0.0431434, 0.000319096}};
  const auto network = cryptonets::training::to_polynomial_float_network(
      random_polynomial_network(rng, first, second));
  std::vector<uint8_t> pixels(30 * 784), labels(30);
  for (auto& p : pixels)
    p = static_cast<uint8_t>(rng() % 256);
  for (auto& l : labels)
    l = static_cast<uint8_t>(rng() % 3);
  const LabelledImages images{pixels, labels};
  const std::vector<int> classes = cryptonets::training::float_classes(network, images, 1);
  const QuantisationChoice choice{2, {3, 3, 3}};
  const QuantisationResult r =
      cryptonets::training::measure_polynomial_quantisation(network, choice, images, classes, 8, 1);
  CAPTURE(r.failure.value_or(""));
  CHECK_FALSE(r.failure);
  REQUIRE(r.evaluated);
  CHECK(r.moduli == 2);
  CHECK(r.test.agreement() >= 0.9);
  // The constant is a step of its own, and it is the case above: |K·Σ_j w_oj| >= 2^60.
  const Model model = cryptonets::training::quantise(network, choice);
  const CompiledModel compiled = compile_model(model);
  REQUIRE(compiled.steps.size() == 6);
  CHECK(compiled.steps[4].stage_name() == "poly (affine)");
  const auto& poly = std::get<cryptonets::model::PolynomialLayer>(model.layers[3].operation);
  const i128 h = poly.coefficients[1] / (2 * poly.coefficients[2]);
  const i128 constant = poly.coefficients[0] - poly.coefficients[2] * h * h;
  const auto& last = std::get<DenseLayer>(model.layers[4].operation);
  i128 largest = 0;
  for (int64_t o = 0; o < last.outputs; ++o) {
    i128 sum = 0;
    for (int64_t j = 0; j < last.inputs; ++j)
      sum += last.weights[static_cast<size_t>(o * last.inputs + j)];
    largest = std::max(largest, sum < 0 ? -sum : sum);
  }
  CHECK(constant < cryptonets::model::kMaxParameterMagnitude);
  CHECK(largest * (constant < 0 ? -constant : constant) >=
        cryptonets::model::kMaxParameterMagnitude);
  // Past the model's own limits a point still fails, and says which parameter.
  const QuantisationResult too_fine = cryptonets::training::measure_polynomial_quantisation(
      network, {64, {8, 8, 6}}, images, classes, 8, 1);
  REQUIRE(too_fine.failure);
  CHECK(too_fine.failure->find("beyond the 2^60 limit") != std::string::npos);
}

TEST_CASE("the sweep's report counts evaluation failures apart and gives no clause of count 0") {
  using cryptonets::training::describe_sweep;
  using cryptonets::training::summarise_sweep;
  const auto point = [](std::optional<std::string> failure, std::optional<int> moduli, int bits,
                        bool evaluated) {
    QuantisationResult r;
    r.failure = std::move(failure);
    r.moduli = moduli;
    r.worst_case_bits = bits;
    r.evaluated = evaluated;
    if (evaluated) r.test.images = 10;
    return r;
  };
  const std::string overflow = "a value leaves the 128-bit range";
  const std::string why = "a bias reaches 2^60";
  // Evaluated, evaluation failure (a model and its moduli, no measurement), beyond the moduli
  // evaluated, and a failed quantisation.
  const QuantisationResult evaluated = point(std::nullopt, 2, 70, true);
  const QuantisationResult failed = point(overflow, 3, 110, false);
  const QuantisationResult wide = point(std::nullopt, std::nullopt, 400, false);
  const QuantisationResult unrepresentable = point(why, std::nullopt, 0, false);

  // A trial's table said "N are not representable" of evaluation failures, and "0 are not
  // representable" when none was.
  const std::vector<QuantisationResult> mixed{evaluated, failed, wide, unrepresentable};
  const auto summary = summarise_sweep(mixed);
  CHECK(summary.points == 4);
  CHECK(summary.unrepresentable == 1);
  CHECK(summary.evaluation_failures == 1);
  CHECK(summary.evaluation_failure == overflow);
  CHECK(summary.evaluated == 1);
  CHECK(summary.widest_worst_case_bits == 400);
  CHECK(describe_sweep(summary, 3, why) ==
        "1 point is not representable: a bias reaches 2^60; the widest representable point has a "
        "worst case of 400 bits. 1 point needs at most 3 plaintext moduli and was evaluated on the "
        "test set; 1 point needs at most 3 plaintext moduli but could not be evaluated (a value "
        "leaves the 128-bit range).");

  const std::vector<QuantisationResult> clean{evaluated, evaluated, wide};
  const std::string text = describe_sweep(summarise_sweep(clean), 3, why);
  CHECK(text ==
        "Every point is representable; the widest has a worst case of 400 bits. 2 points need at "
        "most 3 plaintext moduli and were evaluated on the test set.");
  CHECK(text.find(" 0 ") == std::string::npos);

  const std::vector<QuantisationResult> only_failures{failed, failed, unrepresentable};
  CHECK(describe_sweep(summarise_sweep(only_failures), 1, why) ==
        "1 point is not representable: a bias reaches 2^60; the widest representable point has a "
        "worst case of 110 bits. 2 points need at most 1 plaintext modulus but could not be "
        "evaluated (a value leaves the 128-bit range).");
  const std::vector<QuantisationResult> none{unrepresentable, unrepresentable};
  CHECK(describe_sweep(summarise_sweep(none), 3, why) ==
        "No point is representable: a bias reaches 2^60. No point was evaluated on the test set "
        "(none is representable).");
  const std::vector<QuantisationResult> too_wide{wide};
  CHECK(describe_sweep(summarise_sweep(too_wide), 3, why) ==
        "Every point is representable; the widest has a worst case of 400 bits. No point was "
        "evaluated on the test set (each representable point needs more than 3 plaintext "
        "moduli).");
}
