// The integer model and its generic evaluator: hand-computed outputs, the compiled term lists
// checked against a direct nested-loop evaluation, exact merging of linear layers, and the plain
// and modular policies against each other.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <random>
#include <stdexcept>
#include <vector>

#include "cryptonets/model/layers.hpp"
#include "cryptonets/model/model.hpp"
#include "nn_test_support.hpp"

using cryptonets::model::compile_model;
using cryptonets::model::CompiledModel;
using cryptonets::model::CompiledStep;
using cryptonets::model::compose;
using cryptonets::model::ConvolutionLayer;
using cryptonets::model::DenseLayer;
using cryptonets::model::evaluate;
using cryptonets::model::evaluate_modular;
using cryptonets::model::evaluate_plain;
using cryptonets::model::FlattenLayer;
using cryptonets::model::kMaxParameterMagnitude;
using cryptonets::model::Layer;
using cryptonets::model::layer_shapes;
using cryptonets::model::linear_map_of;
using cryptonets::model::LinearMap;
using cryptonets::model::LinearTerm;
using cryptonets::model::max_input_value;
using cryptonets::model::merge_linear_layers;
using cryptonets::model::Model;
using cryptonets::model::ModularIntegers;
using cryptonets::model::output_shape;
using cryptonets::model::Padding;
using cryptonets::model::PlainIntegers;
using cryptonets::model::PolynomialLayer;
using cryptonets::model::quantise_pixel;
using cryptonets::model::ScaledMeanPoolLayer;
using cryptonets::model::Shape;
using cryptonets::model::SquareLayer;
using cryptonets::model::to_dense_layer;
using cryptonets::model::validate_model;

using namespace cryptonets;
using namespace test_support;

namespace {

// Direct evaluation over an explicitly zero-padded array: the slow obvious reference for the
// compiled term lists.
std::vector<i128> reference_sliding_window(const std::vector<i128>& input, const Shape& shape,
                                           const Shape& out_shape, int64_t window_h,
                                           int64_t window_w, int64_t stride_y, int64_t stride_x,
                                           const Padding& pad, const ConvolutionLayer* conv) {
  int64_t padded_h = shape.height + pad.top + pad.bottom;
  int64_t padded_w = shape.width + pad.left + pad.right;
  std::vector<i128> padded(static_cast<size_t>(shape.channels * padded_h * padded_w), 0);
  for (int64_t c = 0; c < shape.channels; ++c)
    for (int64_t y = 0; y < shape.height; ++y)
      for (int64_t x = 0; x < shape.width; ++x)
        padded[static_cast<size_t>((c * padded_h + y + pad.top) * padded_w + x + pad.left)] =
            input[static_cast<size_t>((c * shape.height + y) * shape.width + x)];
  std::vector<i128> out;
  for (int64_t o = 0; o < out_shape.channels; ++o) {
    for (int64_t y = 0; y < out_shape.height; ++y) {
      for (int64_t x = 0; x < out_shape.width; ++x) {
        i128 sum = conv ? conv->bias[static_cast<size_t>(o)] : 0;
        for (int64_t i = 0; i < shape.channels; ++i) {
          if (!conv && i != o) continue;  // pooling keeps channels apart
          for (int64_t ky = 0; ky < window_h; ++ky) {
            for (int64_t kx = 0; kx < window_w; ++kx) {
              i128 value = padded[static_cast<size_t>(
                  (i * padded_h + y * stride_y + ky) * padded_w + x * stride_x + kx)];
              int64_t weight =
                  conv ? conv->weights[static_cast<size_t>(
                             ((o * shape.channels + i) * window_h + ky) * window_w + kx)]
                       : 1;
              sum += value * weight;
            }
          }
        }
        out.push_back(sum);
      }
    }
  }
  return out;
}

std::vector<i128> reference_evaluate(const Model& model, const std::vector<int64_t>& input) {
  std::vector<i128> values(input.begin(), input.end());
  Shape shape = model.input_shape;
  for (const Layer& layer : model.layers) {
    Shape out_shape = output_shape(layer, shape);
    if (const auto* conv = std::get_if<ConvolutionLayer>(&layer.operation)) {
      values = reference_sliding_window(values, shape, out_shape, conv->kernel_height,
                                        conv->kernel_width, conv->stride_y, conv->stride_x,
                                        conv->padding, conv);
    } else if (const auto* pool = std::get_if<ScaledMeanPoolLayer>(&layer.operation)) {
      values = reference_sliding_window(values, shape, out_shape, pool->window_height,
                                        pool->window_width, pool->stride_y, pool->stride_x,
                                        pool->padding, nullptr);
    } else if (const auto* dense = std::get_if<DenseLayer>(&layer.operation)) {
      std::vector<i128> out;
      for (int64_t o = 0; o < dense->outputs; ++o) {
        i128 sum = dense->bias[static_cast<size_t>(o)];
        for (int64_t i = 0; i < dense->inputs; ++i) {
          sum += values[static_cast<size_t>(i)] *
                 dense->weights[static_cast<size_t>(o * dense->inputs + i)];
        }
        out.push_back(sum);
      }
      values = out;
    } else if (std::holds_alternative<SquareLayer>(layer.operation)) {
      for (auto& v : values)
        v *= v;
    } else if (const auto* poly = std::get_if<PolynomialLayer>(&layer.operation)) {
      for (auto& v : values) {  // Σ_i c_i·v^i, term by term
        i128 sum = 0, power = 1;
        for (int64_t c : poly->coefficients) {
          sum += c * power;
          power *= v;
        }
        v = sum;
      }
    }
    shape = out_shape;
  }
  return values;
}

std::vector<i128> as_i128(const std::vector<int64_t>& values) {
  return std::vector<i128>(values.begin(), values.end());
}

// 1×3×3 input 1..9; conv with two 2×2 kernels; square; flatten; dense 8 -> 2.
Model hand_model() {
  ConvolutionLayer conv{1, 2, 2, 2, 1, 1, Padding{}, {1, 2, 0, -1, 0, 1, 1, 0}, {-3, 0}};
  DenseLayer dense{8, 2, {1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, -1, 0, 0, 0, 1}, {0, 7}};
  return Model{Shape{1, 3, 3},
               255.0,
               {{conv, 1.0}, {SquareLayer{}, 1.0}, {FlattenLayer{}, 1.0}, {dense, 1.0}}};
}

}  // namespace

TEST_CASE("a hand-computed 1x3x3 model gives the expected layer outputs") {
  const std::vector<int64_t> input{1, 2, 3, 4, 5, 6, 7, 8, 9};
  CompiledModel compiled = compile_model(hand_model());
  CHECK(compiled.steps.size() == 3);  // the Flatten has no step
  std::vector<std::vector<i128>> seen(4);
  PlainIntegers plain;
  auto outputs = evaluate(compiled, as_i128(input), plain,
                          [&](size_t layer, const std::vector<i128>& v) { seen[layer] = v; });
  // map 0: x(y,x) + 2·x(y,x+1) - x(y+1,x+1) - 3; map 1: x(y,x+1) + x(y+1,x).
  CHECK(seen[0] == as_i128({-3, -1, 3, 5, 6, 8, 12, 14}));
  CHECK(seen[1] == as_i128({9, 1, 9, 25, 36, 64, 144, 196}));
  CHECK(seen[2].empty());
  // 9 + 1 + 9 + 25 = 44; -25 + 196 + 7 = 178.
  CHECK(outputs == as_i128({44, 178}));
}

TEST_CASE("a padded strided scaled mean pool sums the window cells inside the input") {
  Model model{Shape{1, 3, 3}, 255.0, {{ScaledMeanPoolLayer{2, 2, 2, 2, Padding{0, 0, 1, 1}}, 1.0}}};
  auto out = evaluate_plain(compile_model(model), std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9});
  // windows {1,2,4,5}, {3,6}, {7,8}, {9}
  CHECK(out == as_i128({12, 9, 15, 9}));
}

TEST_CASE("compiled convolutions and pools equal direct nested-loop evaluation on random shapes") {
  std::mt19937_64 rng(101);
  for (int trial = 0; trial < 40; ++trial) {
    auto pick = [&](int64_t lo, int64_t hi) {
      return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
    };
    Shape input{pick(1, 3), pick(4, 9), pick(4, 9)};
    Padding pad{pick(0, 2), pick(0, 2), pick(0, 2), pick(0, 2)};
    int64_t kernel = pick(1, 4);
    Model model{input, 255.0, {}};
    model.layers.push_back(
        {random_convolution(rng, input.channels, pick(1, 4), kernel, pick(1, 3), pad, 9), 1.0});
    Shape conv_shape = output_shape(model.layers.back(), input);
    model.layers.push_back(
        {ScaledMeanPoolLayer{pick(1, std::min<int64_t>(3, conv_shape.height)),
                             pick(1, std::min<int64_t>(3, conv_shape.width)), pick(1, 2),
                             pick(1, 2), Padding{pick(0, 1), pick(0, 1), pick(0, 1), pick(0, 1)}},
         1.0});
    model.layers.push_back({SquareLayer{}, 1.0});
    auto image = random_integers(rng, static_cast<size_t>(input.size()), 0, 255);
    CAPTURE(trial);
    CHECK(evaluate_plain(compile_model(model), image) == reference_evaluate(model, image));
  }
}

TEST_CASE("the CryptoNets-shaped model compiles to the published layer sizes") {
  std::mt19937_64 rng(5);
  Model model = random_cryptonets_model(rng, 3, 255.0);
  std::vector<Shape> shapes = layer_shapes(model);
  CHECK(shapes[1] == Shape{5, 13, 13});  // 845 values after the first convolution
  CHECK(shapes[4] == Shape{10, 5, 5});
  CHECK(shapes.back() == Shape{10, 1, 1});
  auto image = random_integers(rng, 784, 0, 255);
  CHECK(evaluate_plain(compile_model(model), image) == reference_evaluate(model, image));
}

TEST_CASE("merging linear layers leaves the outputs of the CryptoNets network unchanged") {
  std::mt19937_64 rng(2016);
  Model model = random_cryptonets_model(rng, 3, 255.0);
  Model merged = merge_linear_layers(model);
  REQUIRE(merged.layers.size() == 5);  // conv, square, dense 845 -> 100, square, dense
  CHECK(merged.layers[0] == model.layers[0]);
  const auto& dense = std::get<DenseLayer>(merged.layers[2].operation);
  CHECK(dense.inputs == 845);
  CHECK(dense.outputs == 100);
  CHECK(merged.layers[4] == model.layers[8]);
  CompiledModel original = compile_model(model);
  CompiledModel collapsed = compile_model(merged);
  for (int image = 0; image < 5; ++image) {
    auto pixels = random_integers(rng, 784, 0, 255);
    CHECK(evaluate_plain(original, pixels) == evaluate_plain(collapsed, pixels));
  }
  CHECK(merge_linear_layers(merged) == merged);  // nothing left to merge
}

TEST_CASE("merging keeps runs that end in a spatial shape and joins pure Flatten runs") {
  std::mt19937_64 rng(3);
  Model model{Shape{2, 6, 6}, 255.0, {}};
  model.layers = {{random_convolution(rng, 2, 3, 3, 1, Padding{}, 4), 2.0},
                  {ScaledMeanPoolLayer{2, 2, 1, 1, Padding{}}, 2.0},
                  {SquareLayer{}, 4.0},
                  {FlattenLayer{}, 4.0},
                  {FlattenLayer{}, 4.0}};
  Model merged = merge_linear_layers(model);
  REQUIRE(merged.layers.size() == 4);
  CHECK(merged.layers[0] == model.layers[0]);
  CHECK(merged.layers[1] == model.layers[1]);
  CHECK(std::holds_alternative<FlattenLayer>(merged.layers[3].operation));
  auto image = random_integers(rng, 72, 0, 255);
  CHECK(evaluate_plain(compile_model(merged), image) ==
        evaluate_plain(compile_model(model), image));
}

TEST_CASE("composing linear maps is the matrix product with propagated biases") {
  // first: y = [[1, 2], [0, -3]] x + [5, -1]; second: z = [4, 1] y + 2
  // z = 4(x1 + 2 x2 + 5) + (-3 x2 - 1) + 2 = 4 x1 + 5 x2 + 21.
  DenseLayer first{2, 2, {1, 2, 0, -3}, {5, -1}};
  DenseLayer second{2, 1, {4, 1}, {2}};
  LinearMap composed = compose(linear_map_of({first, 1.0}, Shape{2, 1, 1}),
                               linear_map_of({second, 1.0}, Shape{2, 1, 1}));
  DenseLayer dense = to_dense_layer(composed);
  CHECK(dense.weights == std::vector<int64_t>{4, 5});
  CHECK(dense.bias == std::vector<int64_t>{21});
}

TEST_CASE("merging refuses composed weights that reach 2^60") {
  int64_t big = int64_t{1} << 29;
  Model model{Shape{1, 1, 1}, 255.0, {}};
  model.layers = {{DenseLayer{1, 1, {big}, {0}}, 1.0}, {DenseLayer{1, 1, {big}, {0}}, 1.0}};
  Model merged = merge_linear_layers(model);  // 2^58 fits
  CHECK(std::get<DenseLayer>(merged.layers[0].operation).weights[0] == int64_t{1} << 58);
  model.layers.push_back({DenseLayer{1, 1, {big}, {0}}, 1.0});  // 2^87 does not
  CHECK_THROWS_AS(merge_linear_layers(model), std::overflow_error);
}

TEST_CASE("plain and modular evaluation agree mod t on the CryptoNets network") {
  std::mt19937_64 rng(77);
  Model model = random_cryptonets_model(rng, 3, 255.0);
  CompiledModel compiled = compile_model(merge_linear_layers(model));
  for (uint64_t t : {uint64_t{65537}, uint64_t{1} << 40, (uint64_t{1} << 61) - 1}) {
    ModularIntegers modular(t);
    auto pixels = random_integers(rng, 784, 0, 255);
    auto plain = evaluate_plain(compiled, pixels);
    auto residues = evaluate_modular(compiled, pixels, t);
    REQUIRE(plain.size() == residues.size());
    for (size_t i = 0; i < plain.size(); ++i)
      CHECK(modular.from_integer(plain[i]) == residues[i]);
  }
}

TEST_CASE(
    "modular evaluation decodes to the exact integers when the outputs fit, even if "
    "intermediate values wrap") {
  // The squares reach 527² > t, but the output is a difference of nearby squares:
  // (16a + b)² - (16a)² + 3 = 32ab + b² + 3 <= 31716 < t / 2 for a, b in [0, 31].
  Model model{Shape{1, 1, 2}, 255.0, {}};
  model.layers = {{DenseLayer{2, 2, {16, 0, 16, 1}, {0, 0}}, 1.0},
                  {SquareLayer{}, 1.0},
                  {DenseLayer{2, 1, {-1, 1}, {3}}, 1.0}};
  const uint64_t t = 1 << 16;
  CompiledModel compiled = compile_model(model);
  ModularIntegers modular(t);
  std::mt19937_64 rng(9);
  bool wrapped = false;
  for (int trial = 0; trial < 50; ++trial) {
    auto input = random_integers(rng, 2, 0, 31);
    std::vector<i128> plain = evaluate_plain(compiled, input);
    auto residues = evaluate_modular(compiled, input, t);
    CHECK(modular.centred(residues[0]) == static_cast<int64_t>(plain[0]));
    wrapped = wrapped || 256 * input[0] * input[0] >= static_cast<int64_t>(t);
  }
  CHECK(wrapped);
}

TEST_CASE("modular policy maps negative weights, biases and 128-bit integers to residues") {
  const uint64_t t = 1009;
  ModularIntegers modular(t);
  CHECK(modular.from_integer(int64_t{-1}) == t - 1);
  CHECK(modular.from_integer(i128{-2019}) == t - 1);  // -2019 = -2·1009 - 1
  i128 huge = (i128{1} << 100) + 5;
  i128 expected = huge % static_cast<i128>(t);
  CHECK(modular.from_integer(huge) == static_cast<uint64_t>(expected));
  CHECK(modular.from_integer(-huge) == static_cast<uint64_t>((t - expected) % t));
  std::vector<uint64_t> inputs{3, 10};
  std::vector<LinearTerm> terms{{0, -5}, {1, 2}};
  uint64_t y = modular.multiply_accumulate(inputs, terms);  // -15 + 20 = 5
  modular.add_constant(y, -7);
  CHECK(modular.centred(y) == -2);
  modular.square(y);
  CHECK(y == 4);
  CHECK_THROWS_AS(ModularIntegers(uint64_t{1} << 62), std::invalid_argument);
}

TEST_CASE("plain evaluation throws instead of wrapping past 128 bits") {
  Model model{Shape{1, 1, 1}, 255.0, {}};
  model.layers = {
      {DenseLayer{1, 1, {int64_t{1} << 40}, {0}}, 1.0}, {SquareLayer{}, 1.0}, {SquareLayer{}, 1.0}};
  CompiledModel compiled = compile_model(model);
  CHECK_THROWS_AS(evaluate_plain(compiled, std::vector<int64_t>{1}), std::overflow_error);  // 2^160
  model.layers[0].operation = DenseLayer{1, 1, {int64_t{1} << 31}, {0}};
  CHECK(evaluate_plain(compile_model(model), std::vector<int64_t>{1})[0] == i128{1} << 124);
}

TEST_CASE("invalid models are rejected with a message naming the layer") {
  std::mt19937_64 rng(1);
  Model model = random_cryptonets_model(rng, 3, 255.0);
  SUBCASE("input map count differs from the channels") {
    std::get<ConvolutionLayer>(model.layers[3].operation).in_maps = 4;
  }
  SUBCASE("weight count is wrong") {
    std::get<DenseLayer>(model.layers[6].operation).weights.pop_back();
  }
  SUBCASE("a weight is too large") {
    std::get<DenseLayer>(model.layers[8].operation).weights[3] = kMaxParameterMagnitude;
  }
  SUBCASE("the window is larger than the input") {
    model.layers[4].operation = ScaledMeanPoolLayer{6, 6, 1, 1, Padding{}};
  }
  SUBCASE("a scale is not positive") {
    model.layers[1].scale = 0.0;
  }
  CHECK_THROWS_AS(validate_model(model), std::invalid_argument);
  CHECK_THROWS_AS(compile_model(model), std::invalid_argument);
}

TEST_CASE("evaluation rejects an input of the wrong size") {
  CHECK_THROWS_AS(evaluate_plain(compile_model(hand_model()), std::vector<int64_t>(8, 1)),
                  std::invalid_argument);
}

TEST_CASE("pixels are quantised as round(p · input_scale / 255)") {
  Model model{Shape{1, 1, 1}, 255.0, {}};
  CHECK(quantise_pixel(model, 200) == 200);
  CHECK(max_input_value(model) == 255);
  model.input_scale = 16.0;
  CHECK(quantise_pixel(model, 0) == 0);
  CHECK(quantise_pixel(model, 8) == 1);  // 0.502 rounds up
  CHECK(quantise_pixel(model, 7) == 0);  // 0.439 rounds down
  CHECK(quantise_pixel(model, 255) == 16);
  CHECK(max_input_value(model) == 16);
}

// ---- Polynomial activations (issue 17): the compiled network computes output_factor × the
// model's outputs exactly, whatever the degree, the sign of the leading coefficient and the
// layer's position.

TEST_CASE("a degree-2 polynomial compiles to (2A·x + B)² plus a constant, times the factor 4A") {
  // p(x) = 5x² − 2x + 3 as the only layer: 20·p(x) = (10x − 2)² + 56.
  Model model{Shape{1, 1, 3}, 255.0, {{PolynomialLayer{{3, -2, 5}}, 7.0}}};
  CompiledModel compiled = compile_model(model);
  REQUIRE(compiled.steps.size() == 3);  // the affine map, the square, the constant
  CHECK(compiled.steps[0].kind == CompiledStep::Kind::kLinear);
  CHECK(compiled.steps[0].map.terms[0].weight == 10);
  CHECK(compiled.steps[0].map.bias[0] == -2);
  CHECK(compiled.steps[1].kind == CompiledStep::Kind::kSquare);
  CHECK(compiled.steps[2].map.terms[0].weight == 1);
  CHECK(compiled.steps[2].map.bias[0] == 56);
  CHECK(compiled.output_factor == 20);
  const std::vector<int64_t> input{0, 7, 255};
  CHECK(evaluate_plain(compiled, input) ==
        as_i128({20 * 3, 20 * (5 * 49 - 14 + 3), 20 * (5 * 255 * 255 - 510 + 3)}));
}

TEST_CASE("a degree-2 polynomial whose 2A divides B completes the square with no factor") {
  // x² + 6x + 5 = (x + 3)² − 4 and −3x² + 6x + 5 = −3·(x − 1)² + 8, before a dense layer.
  for (const std::vector<int64_t>& coefficients :
       {std::vector<int64_t>{5, 6, 1}, std::vector<int64_t>{5, 6, -3}}) {
    Model model{Shape{1, 1, 2}, 255.0, {}};
    model.layers = {{DenseLayer{2, 2, {1, 2, -1, 1}, {4, 0}}, 1.0},
                    {PolynomialLayer{coefficients}, 1.0},
                    {DenseLayer{2, 1, {1, -2}, {9}}, 1.0}};
    CompiledModel compiled = compile_model(model);
    CHECK(compiled.output_factor == 1);
    REQUIRE(compiled.steps.size() == 3);  // the shift folded into the first dense layer
    CHECK(compiled.steps[0].map.bias[0] == 4 + coefficients[1] / (2 * coefficients[2]));
    std::mt19937_64 rng(5);
    for (int trial = 0; trial < 20; ++trial) {
      auto input = random_integers(rng, 2, -50, 50);
      CHECK(evaluate_plain(compiled, input) == reference_evaluate(model, input));
    }
  }
}

TEST_CASE("a degree-1 polynomial folded into the step before it is named in that step's stage") {
  // 3x + 2 after the last dense layer, and the identity x after a square: neither gets a step of
  // its own, and neither may vanish from the stage table.
  Model model{Shape{1, 1, 2}, 255.0, {}};
  model.layers = {{DenseLayer{2, 2, {1, 2, -1, 1}, {4, 0}}, 1.0},
                  {SquareLayer{}, 1.0},
                  {PolynomialLayer{{0, 1}}, 1.0},
                  {DenseLayer{2, 1, {1, -2}, {9}}, 1.0},
                  {PolynomialLayer{{2, 3}}, 1.0}};
  const CompiledModel compiled = compile_model(model);
  REQUIRE(compiled.steps.size() == 3);
  CHECK(compiled.steps[1].stage_name() == "square + 3. poly (folded)");
  CHECK(compiled.steps[2].stage_name() == "dense + 5. poly (folded)");
  CHECK(compiled.steps[2].folded_layers == std::vector<size_t>{4});
  std::mt19937_64 rng(6);
  for (int trial = 0; trial < 10; ++trial) {
    auto input = random_integers(rng, 2, -50, 50);
    CHECK(evaluate_plain(compiled, input) == reference_evaluate(model, input));
  }
}

TEST_CASE("a degree-1 polynomial folded into the step after it is named inside that step") {
  // The identity x before the first dense layer has no step of its own: the stage names it inside
  // the dense step, in the model's order ("2. dense (1. poly folded in)"), not after it as
  // "2. dense + 1. poly"; one after the step still follows it.
  Model model{Shape{1, 1, 2}, 255.0, {}};
  model.layers = {{PolynomialLayer{{0, 1}}, 1.0},
                  {DenseLayer{2, 2, {1, 2, -1, 1}, {4, 0}}, 1.0},
                  {PolynomialLayer{{2, 3}}, 1.0}};
  const CompiledModel compiled = compile_model(model);
  REQUIRE(compiled.steps.size() == 1);
  CHECK(compiled.steps[0].layer_index == 1);
  CHECK(compiled.steps[0].folded_layers == std::vector<size_t>{0, 2});
  CHECK(compiled.steps[0].stage_name() == "dense (1. poly folded in) + 3. poly (folded)");
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 10; ++trial) {
    auto input = random_integers(rng, 2, -50, 50);
    CHECK(evaluate_plain(compiled, input) == reference_evaluate(model, input));
  }
}

TEST_CASE("an affine layer first or after a square is taken into the next linear step") {
  // 3x + 5 before the first dense layer, and 2x − 7 between a square and the second: neither
  // has a step of its own (after a square one would cost a relinearisation per value).
  Model model{Shape{1, 1, 2}, 255.0, {}};
  model.layers = {{PolynomialLayer{{5, 3}}, 1.0},
                  {DenseLayer{2, 3, {1, 2, -1, 1, 0, 3}, {4, 0, -2}}, 1.0},
                  {SquareLayer{}, 1.0},
                  {PolynomialLayer{{-7, 2}}, 1.0},
                  {DenseLayer{3, 2, {1, -2, 3, 0, 1, 1}, {1, -1}}, 1.0}};
  const CompiledModel compiled = compile_model(model);
  REQUIRE(compiled.steps.size() == 3);
  CHECK(compiled.steps[0].stage_name() == "dense (1. poly folded in)");
  CHECK(compiled.steps[1].kind == CompiledStep::Kind::kSquare);
  CHECK(compiled.steps[2].stage_name() == "dense (4. poly folded in)");
  CHECK(compiled.output_factor == 1);
  std::mt19937_64 rng(23);
  for (int trial = 0; trial < 20; ++trial) {
    auto input = random_integers(rng, 2, -60, 60);
    CHECK(evaluate_plain(compiled, input) == reference_evaluate(model, input));
  }
  // Before a square there is no linear step to take it: it stays a step of its own.
  Model before_square{Shape{1, 1, 2}, 255.0, {}};
  before_square.layers = {{PolynomialLayer{{5, 3}}, 1.0}, {SquareLayer{}, 1.0}};
  const CompiledModel own_step = compile_model(before_square);
  REQUIRE(own_step.steps.size() == 2);
  CHECK(own_step.steps[0].stage_name() == "poly (affine)");
  const std::vector<int64_t> input{4, -9};
  CHECK(evaluate_plain(own_step, input) == reference_evaluate(before_square, input));
}

TEST_CASE("a negative leading coefficient keeps the factor positive and the scores' order") {
  // p(x) = −3x² + 4x + 1 then a dense layer: the factor is |4A| = 12 and the dense layer's
  // weights change sign in the compiled map.
  Model model{Shape{1, 1, 2}, 255.0, {}};
  model.layers = {{PolynomialLayer{{1, 4, -3}}, 1.0},
                  {DenseLayer{2, 2, {1, 0, 2, -1}, {5, -4}}, 1.0}};
  CompiledModel compiled = compile_model(model);
  CHECK(compiled.output_factor == 12);
  REQUIRE(compiled.steps.size() == 3);
  CHECK(compiled.steps[2].map.terms[0].weight == -1);
  std::mt19937_64 rng(17);
  for (int trial = 0; trial < 20; ++trial) {
    auto input = random_integers(rng, 2, -40, 40);
    auto expected = reference_evaluate(model, input);
    for (auto& v : expected)
      v *= 12;
    CHECK(evaluate_plain(compiled, input) == expected);
  }
}

TEST_CASE("compiled polynomial networks equal the direct evaluation times the output factor") {
  std::mt19937_64 rng(1412);
  // Degrees 1, 2 (either sign), 3; as first layer, after a square, twice in a row, last layer.
  const std::vector<std::vector<std::vector<int64_t>>> cases{
      {{7, 3, 2}, {-5, 1, 1}},      // two degree-2 activations
      {{7, -3, -2}, {0, 0, -1}},    // negative A twice
      {{4, -3}, {2, 5, 3}},         // degree 1, then degree 2
      {{1, 2, 0, -1}, {0, 1, 3}},   // degree 3, then degree 2
      {{-6, 1, 4}, {3, -1, 2, 1}},  // degree 2, then degree 3
  };
  for (size_t c = 0; c < cases.size(); ++c) {
    Model model = with_polynomial_activations(
        random_small_cryptonets_model(rng, 9, 2, 5, 3, 3, 255.0), cases[c]);
    CompiledModel compiled = compile_model(model);
    for (int trial = 0; trial < 5; ++trial) {
      auto image = random_integers(rng, 81, 0, 15);
      auto expected = reference_evaluate(model, image);
      for (auto& v : expected)
        v *= compiled.output_factor;
      CAPTURE(c);
      CHECK(evaluate_plain(compiled, image) == expected);
    }
  }
  // The polynomial as the first and as the last layer, and right after a square.
  Model edges{Shape{1, 2, 2}, 255.0, {}};
  edges.layers = {{PolynomialLayer{{-1, 2, 3}}, 1.0}, {SquareLayer{}, 1.0},
                  {PolynomialLayer{{5, 0, -1}}, 1.0}, {FlattenLayer{}, 1.0},
                  {random_dense(rng, 4, 3, 5), 1.0},  {PolynomialLayer{{2, -7, 1}}, 1.0}};
  CompiledModel compiled = compile_model(edges);
  for (int trial = 0; trial < 10; ++trial) {
    auto input = random_integers(rng, 4, -9, 9);
    auto expected = reference_evaluate(edges, input);
    for (auto& v : expected)
      v *= compiled.output_factor;
    CHECK(evaluate_plain(compiled, input) == expected);
  }
}

TEST_CASE("modular evaluation of polynomial networks equals the plain one mod t") {
  std::mt19937_64 rng(31);
  Model model = with_polynomial_activations(
      random_small_cryptonets_model(rng, 9, 2, 5, 3, 3, 255.0), {{1, 2, 0, -1}, {7, -3, -2}});
  CompiledModel compiled = compile_model(model);
  CHECK(compiled.has_polynomial_step());
  for (uint64_t t : {uint64_t{65537}, (uint64_t{1} << 61) - 1}) {
    ModularIntegers modular(t);
    auto image = random_integers(rng, 81, 0, 15);
    auto plain = evaluate_plain(compiled, image);
    auto residues = evaluate_modular(compiled, image, t);
    for (size_t i = 0; i < plain.size(); ++i)
      CHECK(modular.from_integer(plain[i]) == residues[i]);
  }
}

TEST_CASE("invalid polynomial layers are refused naming the layer, folds that overflow too") {
  Model model{Shape{1, 1, 1}, 255.0, {{DenseLayer{1, 1, {3}, {1}}, 1.0}, {PolynomialLayer{}, 1.0}}};
  auto message = [&]() -> std::string {
    try {
      validate_model(model);
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "";
  };
  model.layers[1].operation = PolynomialLayer{{1}};
  // Layers are numbered from 1, as in the stage table.
  CHECK(message().find("layer 2 (poly): polynomial degree must be in [1, 3], got 0") == 0);
  model.layers[1].operation = PolynomialLayer{{1, 1, 1, 1, 1}};
  CHECK(message().find("got 4") != std::string::npos);
  model.layers[1].operation = PolynomialLayer{{1, 1, 0}};
  CHECK(message().find("leading coefficient (of x^2) is 0") != std::string::npos);
  model.layers[1].operation = PolynomialLayer{{1, kMaxParameterMagnitude, 1}};
  CHECK(message().find("outside (-2^60, 2^60)") != std::string::npos);
  // 2A = 2^60 (B odd: no completed square) cannot be folded into the dense layer's weight.
  model.layers[1].operation = PolynomialLayer{{0, 1, int64_t{1} << 59}};
  CHECK(message().empty());
  try {
    compile_model(model);
    FAIL("the overflowing fold was accepted");
  } catch (const std::overflow_error& e) {
    CHECK(std::string(e.what()).find("compiling layer 2 (poly): a folded weight") == 0);
  }
}

namespace {

// The message compile_model throws for a valid model whose folds overflow ("" and a failed check
// if it compiles).
std::string overflow_message(const Model& model) {
  validate_model(model);
  try {
    compile_model(model);
  } catch (const std::overflow_error& e) {
    return e.what();
  }
  FAIL_CHECK("the overflowing fold was accepted");
  return "";
}

}  // namespace

TEST_CASE("a polynomial layer whose coefficients overflow the next layer's fold is named") {
  // A = 2^40 completes the square (B = 0): A joins the next dense layer's weights, 2^21 · 2^40
  // reaches 2^60. The dense layer is valid on its own: the message must blame the poly layer.
  Model model{Shape{1, 1, 1}, 255.0, {}};
  model.layers = {{DenseLayer{1, 1, {3}, {1}}, 1.0},
                  {PolynomialLayer{{0, 0, int64_t{1} << 40}}, 1.0},
                  {DenseLayer{1, 1, {int64_t{1} << 21}, {0}}, 1.0}};
  const std::string message = overflow_message(model);
  CAPTURE(message);
  CHECK(message.find("compiling layer 3 (dense): the coefficients of layer 2 (poly) make the "
                     "folded parameters of layer 3 (dense) overflow: a folded weight") == 0);
  CHECK(message.find("use smaller coefficients in layer 2 (poly)") != std::string::npos);
  // Without the polynomial's weight on it the same dense layer compiles.
  model.layers[1].operation = PolynomialLayer{{0, 0, 1}};
  CHECK_NOTHROW(compile_model(model));
}

TEST_CASE("an overflow from the output factor names the polynomial layer that started it") {
  // Layer 2 has an odd linear coefficient: compiled as 4A·p(x), it starts an output factor of 4,
  // squared to 16 by layer 4, which multiplies layer 5's bias of 2^57 past 2^60. Layer 4's
  // coefficients are harmless; the message must also name layer 2 (layers numbered from 1).
  Model model{Shape{1, 1, 1}, 255.0, {}};
  model.layers = {{DenseLayer{1, 1, {3}, {1}}, 1.0},
                  {PolynomialLayer{{0, 1, 1}}, 1.0},
                  {DenseLayer{1, 1, {2}, {0}}, 1.0},
                  {PolynomialLayer{{0, 0, 1}}, 1.0},
                  {DenseLayer{1, 1, {1}, {int64_t{1} << 57}}, 1.0}};
  const std::string message = overflow_message(model);
  CAPTURE(message);
  CHECK(message.find("the coefficients of layer 4 (poly) (with the output factor 2^4.0 that "
                     "layer 2 (poly) started) make the folded parameters of layer 5 (dense) "
                     "overflow: a folded bias") != std::string::npos);
  // With an even linear coefficient layer 2 completes its square, the factor stays 1, and the
  // same bias compiles.
  model.layers[1].operation = PolynomialLayer{{0, 2, 1}};
  CHECK_NOTHROW(compile_model(model));
}

TEST_CASE("a completed square's constant too large to fold becomes a diagonal step of its own") {
  // p(x) = x² + 6x + 2^57 (a sigmoid fit has this shape: a large constant beside a small x²
  // term): completing the square leaves the constant 2^57 − 9, which the next dense layer's
  // weight sum 32 would carry to about 2^62 in its bias. The constant gets a step of its own,
  // every compiled parameter stays below 2^60, and the network is evaluated exactly.
  Model model{Shape{1, 1, 2}, 255.0, {}};
  model.layers = {{DenseLayer{2, 2, {1, 2, -1, 3}, {0, 1}}, 1.0},
                  {PolynomialLayer{{int64_t{1} << 57, 6, 1}}, 1.0},
                  {DenseLayer{2, 2, {16, 16, -16, 15}, {5, -4}}, 1.0}};
  const CompiledModel compiled = compile_model(model);
  CHECK(compiled.output_factor == 1);
  REQUIRE(compiled.steps.size() == 4);
  CHECK(compiled.steps[0].map.bias == std::vector<int64_t>{3, 4});  // the shift h = 3 folded in
  CHECK(compiled.steps[1].kind == CompiledStep::Kind::kSquare);
  const CompiledStep& diagonal = compiled.steps[2];
  CHECK(diagonal.kind == CompiledStep::Kind::kLinear);
  CHECK(diagonal.layer_index == 1);
  CHECK(diagonal.stage_name() == "poly (affine)");
  CHECK(diagonal.map.bias == std::vector<int64_t>(2, (int64_t{1} << 57) - 9));
  CHECK(compiled.steps[3].map.bias == std::vector<int64_t>{5, -4});  // its own bias only
  for (const CompiledStep& step : compiled.steps) {
    for (const LinearTerm& term : step.map.terms)
      CHECK(std::llabs(term.weight) < kMaxParameterMagnitude);
    for (int64_t b : step.map.bias)
      CHECK(std::llabs(b) < kMaxParameterMagnitude);
  }
  std::mt19937_64 rng(1412);
  for (int trial = 0; trial < 10; ++trial) {
    const auto input = random_integers(rng, 2, -200, 200);
    const auto plain = evaluate_plain(compiled, input);
    CHECK(plain == reference_evaluate(model, input));
    ModularIntegers modular((uint64_t{1} << 61) - 1);
    const auto residues = evaluate_modular(compiled, input, (uint64_t{1} << 61) - 1);
    for (size_t i = 0; i < plain.size(); ++i)
      CHECK(modular.from_integer(plain[i]) == residues[i]);
  }
  // The ordinary fold still applies below 2^60 (a constant of 2^50 joins the bias).
  model.layers[1].operation = PolynomialLayer{{int64_t{1} << 50, 6, 1}};
  CHECK(compile_model(model).steps.size() == 3);
}
