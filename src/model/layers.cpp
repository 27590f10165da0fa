#include "cryptonets/model/layers.hpp"

#include <algorithm>
#include <cassert>
#include <stdexcept>
#include <variant>

namespace cryptonets::model {

namespace {

// Appends rows to a LinearMap, dropping zero weights (a zero term would cost a ciphertext
// multiplication for nothing).
class LinearMapBuilder {
 public:
  LinearMapBuilder(size_t inputs, size_t outputs) {
    map_.inputs = inputs;
    map_.outputs = outputs;
    map_.row_begin.reserve(outputs + 1);
    map_.row_begin.push_back(0);
    map_.bias.reserve(outputs);
  }

  void add_term(int64_t input, int64_t weight) {
    assert(input >= 0 && static_cast<size_t>(input) < map_.inputs);
    if (weight != 0) map_.terms.push_back(LinearTerm{static_cast<uint32_t>(input), weight});
  }

  void end_row(int64_t bias) {
    map_.bias.push_back(bias);
    map_.row_begin.push_back(map_.terms.size());
  }

  LinearMap finish() {
    assert(map_.bias.size() == map_.outputs);
    return std::move(map_);
  }

 private:
  LinearMap map_;
};

// The window of output position (y, x) covers padded rows y·sy .. y·sy + kh - 1; in input
// coordinates that is shifted up by the top padding (and left by the left padding).
struct WindowGeometry {
  int64_t height, width, stride_y, stride_x, top, left;
};

// Calls emit(input_index_within_channel, ky, kx) for each window cell that falls inside the input
// (cells in the padding are zeros and contribute nothing).
template <class Emit>
void for_each_window_cell(const WindowGeometry& window, const Shape& input, int64_t y, int64_t x,
                          Emit&& emit) {
  for (int64_t ky = 0; ky < window.height; ++ky) {
    int64_t in_y = y * window.stride_y + ky - window.top;
    if (in_y < 0 || in_y >= input.height) continue;
    for (int64_t kx = 0; kx < window.width; ++kx) {
      int64_t in_x = x * window.stride_x + kx - window.left;
      if (in_x < 0 || in_x >= input.width) continue;
      emit(in_y * input.width + in_x, ky, kx);
    }
  }
}

LinearMap convolution_map(const ConvolutionLayer& conv, const Shape& input, const Shape& output) {
  LinearMapBuilder builder(static_cast<size_t>(input.size()), static_cast<size_t>(output.size()));
  WindowGeometry window{conv.kernel_height, conv.kernel_width, conv.stride_y,
                        conv.stride_x,      conv.padding.top,  conv.padding.left};
  int64_t plane = input.height * input.width;
  int64_t kernel_plane = conv.kernel_height * conv.kernel_width;
  for (int64_t o = 0; o < output.channels; ++o) {
    for (int64_t y = 0; y < output.height; ++y) {
      for (int64_t x = 0; x < output.width; ++x) {
        for (int64_t i = 0; i < conv.in_maps; ++i) {
          const int64_t* kernel =
              &conv.weights[static_cast<size_t>((o * conv.in_maps + i) * kernel_plane)];
          for_each_window_cell(window, input, y, x, [&](int64_t cell, int64_t ky, int64_t kx) {
            builder.add_term(i * plane + cell, kernel[ky * conv.kernel_width + kx]);
          });
        }
        builder.end_row(conv.bias[static_cast<size_t>(o)]);
      }
    }
  }
  return builder.finish();
}

LinearMap pool_map(const ScaledMeanPoolLayer& pool, const Shape& input, const Shape& output) {
  LinearMapBuilder builder(static_cast<size_t>(input.size()), static_cast<size_t>(output.size()));
  WindowGeometry window{pool.window_height, pool.window_width, pool.stride_y,
                        pool.stride_x,      pool.padding.top,  pool.padding.left};
  int64_t plane = input.height * input.width;
  for (int64_t c = 0; c < output.channels; ++c) {
    for (int64_t y = 0; y < output.height; ++y) {
      for (int64_t x = 0; x < output.width; ++x) {
        for_each_window_cell(window, input, y, x, [&](int64_t cell, int64_t, int64_t) {
          builder.add_term(c * plane + cell, 1);
        });
        builder.end_row(0);
      }
    }
  }
  return builder.finish();
}

LinearMap dense_map(const DenseLayer& dense) {
  LinearMapBuilder builder(static_cast<size_t>(dense.inputs), static_cast<size_t>(dense.outputs));
  for (int64_t o = 0; o < dense.outputs; ++o) {
    for (int64_t i = 0; i < dense.inputs; ++i) {
      builder.add_term(i, dense.weights[static_cast<size_t>(o * dense.inputs + i)]);
    }
    builder.end_row(dense.bias[static_cast<size_t>(o)]);
  }
  return builder.finish();
}

LinearMap identity_map(size_t size) {
  LinearMapBuilder builder(size, size);
  for (size_t i = 0; i < size; ++i) {
    builder.add_term(static_cast<int64_t>(i), 1);
    builder.end_row(0);
  }
  return builder.finish();
}

[[noreturn]] void composed_parameter_overflow() {
  throw std::overflow_error(
      "merging linear layers: a composed weight or bias reaches 2^60 (kMaxParameterMagnitude)");
}

i128 checked_multiply(i128 a, i128 b) {
  i128 product;
  if (__builtin_mul_overflow(a, b, &product)) composed_parameter_overflow();
  return product;
}

void checked_accumulate(i128& accumulator, i128 addend) {
  if (__builtin_add_overflow(accumulator, addend, &accumulator)) composed_parameter_overflow();
}

int64_t to_parameter(i128 value) {
  if (value <= -kMaxParameterMagnitude || value >= kMaxParameterMagnitude) {
    composed_parameter_overflow();
  }
  return static_cast<int64_t>(value);
}

[[noreturn]] void plain_overflow() {
  throw std::overflow_error(
      "plain integer evaluation: a value left the 128-bit signed range; the model needs a wider "
      "type (see track_ranges)");
}

}  // namespace

LinearMap linear_map_of(const Layer& layer, const Shape& input) {
  assert(is_linear(layer));
  Shape output = output_shape(layer, input);
  if (const auto* conv = std::get_if<ConvolutionLayer>(&layer.operation)) {
    return convolution_map(*conv, input, output);
  }
  if (const auto* pool = std::get_if<ScaledMeanPoolLayer>(&layer.operation)) {
    return pool_map(*pool, input, output);
  }
  if (const auto* dense = std::get_if<DenseLayer>(&layer.operation)) return dense_map(*dense);
  return identity_map(static_cast<size_t>(input.size()));
}

// Row o of second ∘ first: Σ_j w2_oj · (row j of first), accumulated in a dense scratch vector
// over first's inputs; `touched` lists the scratch entries to read back and clear.
LinearMap compose(const LinearMap& first, const LinearMap& second) {
  if (second.inputs != first.outputs) {
    throw std::invalid_argument("compose: the second map takes " + std::to_string(second.inputs) +
                                " inputs but the first gives " + std::to_string(first.outputs));
  }
  LinearMapBuilder builder(first.inputs, second.outputs);
  std::vector<i128> scratch(first.inputs, 0);
  std::vector<bool> is_touched(first.inputs, false);
  std::vector<uint32_t> touched;
  for (size_t o = 0; o < second.outputs; ++o) {
    i128 bias = second.bias[o];
    for (const LinearTerm& outer : second.terms_of(o)) {
      checked_accumulate(bias, checked_multiply(outer.weight, first.bias[outer.input]));
      for (const LinearTerm& inner : first.terms_of(outer.input)) {
        checked_accumulate(scratch[inner.input], checked_multiply(outer.weight, inner.weight));
        if (!is_touched[inner.input]) {
          is_touched[inner.input] = true;
          touched.push_back(inner.input);
        }
      }
    }
    std::sort(touched.begin(), touched.end());
    for (uint32_t i : touched) {
      builder.add_term(i, to_parameter(scratch[i]));
      scratch[i] = 0;
      is_touched[i] = false;
    }
    touched.clear();
    builder.end_row(to_parameter(bias));
  }
  return builder.finish();
}

DenseLayer to_dense_layer(const LinearMap& map) {
  DenseLayer dense;
  dense.inputs = static_cast<int64_t>(map.inputs);
  dense.outputs = static_cast<int64_t>(map.outputs);
  dense.weights.assign(map.inputs * map.outputs, 0);
  for (size_t o = 0; o < map.outputs; ++o) {
    for (const LinearTerm& term : map.terms_of(o)) {
      dense.weights[o * map.inputs + term.input] = term.weight;
    }
  }
  dense.bias = map.bias;
  return dense;
}

CompiledModel compile_model(const Model& model) {
  validate_model(model);
  std::vector<Shape> shapes = layer_shapes(model);
  CompiledModel compiled;
  compiled.input_size = static_cast<size_t>(shapes.front().size());
  compiled.output_size = static_cast<size_t>(shapes.back().size());
  for (size_t i = 0; i < model.layers.size(); ++i) {
    const Layer& layer = model.layers[i];
    if (std::holds_alternative<FlattenLayer>(layer.operation)) continue;
    CompiledStep step;
    step.layer_index = i;
    step.layer_name = layer_name(layer);
    if (is_linear(layer)) {
      step.kind = CompiledStep::Kind::kLinear;
      step.map = linear_map_of(layer, shapes[i]);
    } else {
      step.kind = CompiledStep::Kind::kSquare;
    }
    compiled.steps.push_back(std::move(step));
  }
  return compiled;
}

void PlainIntegers::add(Value& accumulator, const Value& addend) const {
  if (__builtin_add_overflow(accumulator, addend, &accumulator)) plain_overflow();
}

PlainIntegers::Value PlainIntegers::multiply_accumulate(std::span<const Value> inputs,
                                                        std::span<const LinearTerm> terms) const {
  Value sum = 0;
  for (const LinearTerm& term : terms) {
    assert(term.input < inputs.size());
    Value product;
    if (__builtin_mul_overflow(inputs[term.input], static_cast<Value>(term.weight), &product) ||
        __builtin_add_overflow(sum, product, &sum)) {
      plain_overflow();
    }
  }
  return sum;
}

void PlainIntegers::add_constant(Value& value, int64_t constant) const {
  if (__builtin_add_overflow(value, static_cast<Value>(constant), &value)) plain_overflow();
}

void PlainIntegers::square(Value& value) const {
  if (__builtin_mul_overflow(value, value, &value)) plain_overflow();
}

ModularIntegers::ModularIntegers(uint64_t plaintext_modulus) : modulus_(plaintext_modulus) {}

ModularIntegers::Value ModularIntegers::from_integer(i128 x) const {
  u128 magnitude = x < 0 ? -static_cast<u128>(x) : static_cast<u128>(x);
  // (hi · 2^64 + lo) mod t, with (hi mod t) · 2^64 + lo < 2^126 as Modulus::reduce requires.
  uint64_t high = modulus_.reduce(static_cast<uint64_t>(magnitude >> 64));
  uint64_t residue =
      modulus_.reduce((static_cast<u128>(high) << 64) | static_cast<uint64_t>(magnitude));
  return x < 0 ? neg_mod(residue, modulus_) : residue;
}

ModularIntegers::Value ModularIntegers::multiply_accumulate(
    std::span<const Value> inputs, std::span<const LinearTerm> terms) const {
  Value sum = 0;
  for (const LinearTerm& term : terms) {
    assert(term.input < inputs.size());
    sum = add_mod(sum, mul_mod(inputs[term.input], from_signed(term.weight, modulus_), modulus_),
                  modulus_);
  }
  return sum;
}

std::vector<i128> evaluate_plain(const CompiledModel& model, std::span<const int64_t> input) {
  PlainIntegers arithmetic;
  return evaluate(model, std::vector<i128>(input.begin(), input.end()), arithmetic);
}

std::vector<uint64_t> evaluate_modular(const CompiledModel& model, std::span<const int64_t> input,
                                       uint64_t plaintext_modulus) {
  ModularIntegers arithmetic(plaintext_modulus);
  std::vector<uint64_t> residues;
  residues.reserve(input.size());
  for (int64_t x : input)
    residues.push_back(arithmetic.from_integer(x));
  return evaluate(model, std::move(residues), arithmetic);
}

}  // namespace cryptonets::model
