#include "cryptonets/model/layers.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>
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
      "merging linear layers: a composed weight or bias reaches 2^60, the largest a model may "
      "hold");
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

namespace {

// i128 arithmetic of compile_model's folding, every result checked; `what` names the layer.
// `cause`, when set, names the polynomial layer whose coefficients are being folded into it: an
// overflow is then that layer's doing, not the one being compiled.
class FoldArithmetic {
 public:
  explicit FoldArithmetic(std::string what, std::string cause = "")
      : what_(std::move(what)), cause_(std::move(cause)) {}

  i128 multiply(i128 a, i128 b) const {
    i128 product;
    if (__builtin_mul_overflow(a, b, &product)) overflow("an intermediate product");
    return product;
  }
  i128 add(i128 a, i128 b) const {
    i128 sum;
    if (__builtin_add_overflow(a, b, &sum)) overflow("an intermediate sum");
    return sum;
  }
  // A weight, bias or coefficient of the compiled network: |value| < kMaxParameterMagnitude.
  int64_t parameter(i128 value, const char* kind) const {
    if (value <= -kMaxParameterMagnitude || value >= kMaxParameterMagnitude) {
      overflow(std::string("a folded ") + kind);
    }
    return static_cast<int64_t>(value);
  }
  [[noreturn]] void overflow(const std::string& quantity) const {
    if (!cause_.empty()) {
      throw std::overflow_error("compiling " + what_ + ": the coefficients of " + cause_ +
                                " make the folded parameters of " + what_ +
                                " overflow: " + quantity +
                                " reaches 2^60 (kMaxParameterMagnitude) or leaves 127 bits; use "
                                "smaller coefficients in " +
                                cause_);
    }
    throw std::overflow_error("compiling " + what_ + ": " + quantity +
                              " reaches 2^60 (kMaxParameterMagnitude) or leaves 127 bits; use "
                              "smaller scales or polynomial coefficients");
  }
  const std::string& what() const { return what_; }

 private:
  std::string what_;
  std::string cause_;
};

// "2^k.k" for a positive factor, for messages.
std::string describe_factor(i128 factor) {
  char text[32];
  std::snprintf(text, sizeof text, "2^%.1f", std::log2(static_cast<double>(factor)));
  return text;
}

// Numbered from 1, as in the stage table (StageTotals::label) and the other messages.
std::string describe_layer(size_t index, const Layer& layer) {
  return "layer " + std::to_string(index + 1) + " (" + layer_name(layer) + ")";
}

// compile_model's state. The values after the emitted steps are v; the model's values times
// `factor` are pending_scale·v + pending_shift (element-wise, the same for every element), a map
// not yet applied: it is absorbed by the next linear step or applied by apply_elementwise.
class ModelCompiler {
 public:
  explicit ModelCompiler(const Model& model) : model_(model), shapes_(layer_shapes(model)) {
    compiled_.input_size = static_cast<size_t>(shapes_.front().size());
    compiled_.output_size = static_cast<size_t>(shapes_.back().size());
  }

  CompiledModel run() {
    for (size_t i = 0; i < model_.layers.size(); ++i) {
      const Layer& layer = model_.layers[i];
      const FoldArithmetic fold(describe_layer(i, layer));
      if (std::holds_alternative<FlattenLayer>(layer.operation)) continue;
      if (const auto* poly = std::get_if<PolynomialLayer>(&layer.operation)) {
        add_polynomial(i, *poly, fold);
      } else if (std::holds_alternative<SquareLayer>(layer.operation)) {
        apply_pending(i, fold);
        push_square(i);
        factor_ = fold.multiply(factor_, factor_);
      } else {
        add_linear(i, fold);
      }
    }
    if (!model_.layers.empty()) {
      const size_t last = model_.layers.size() - 1;
      apply_pending(last, FoldArithmetic(describe_layer(last, model_.layers[last])));
    }
    compiled_.output_factor = factor_;
    return std::move(compiled_);
  }

 private:
  // The arithmetic for consuming the pending map in layer i: when a polynomial layer left it,
  // an overflow names that layer as the cause.
  FoldArithmetic consuming_pending(size_t i, const FoldArithmetic& fold) const {
    if (!pending_polynomial_ || *pending_polynomial_ == i) return fold;
    const size_t p = *pending_polynomial_;
    std::string cause = describe_layer(p, model_.layers[p]);
    // The output factor multiplies every later bias and constant: when an earlier polynomial
    // layer started it (an odd linear coefficient), that layer may be the one to change.
    for (size_t source : factor_sources_) {
      if (source != p) {
        cause += " (with the output factor " + describe_factor(factor_) + " that " +
                 describe_layer(source, model_.layers[source]) + " started)";
        break;
      }
    }
    return FoldArithmetic(fold.what(), cause);
  }

  // y = W·(a·v + c) + factor·b: weights a·w, bias factor·b + c·Σ_j w_j. When that overflows and
  // a polynomial layer left the pending map, the map becomes that layer's own diagonal step
  // (a·v + c, each parameter below 2^60) and y = W·v' + factor·b: a degree-2 fit with a small x²
  // coefficient (a sigmoid fit) leaves a constant c close to 2^60 that Σ_j w_j would carry past it.
  void add_linear(size_t i, const FoldArithmetic& layer_fold) {
    const FoldArithmetic fold = consuming_pending(i, layer_fold);
    LinearMap map = linear_map_of(model_.layers[i], shapes_[i]);
    if (pending_scale_ != 1 || pending_shift_ != 0 || factor_ != 1) {
      try {
        map = folded_map(map, pending_scale_, pending_shift_, fold);
      } catch (const std::overflow_error&) {
        if (!pending_polynomial_ || pending_shift_ == 0 || !is_parameter(pending_scale_) ||
            !is_parameter(pending_shift_)) {
          throw;
        }
        LinearMap own = folded_map(map, 1, 0, fold);  // factor·b alone may overflow too
        push_diagonal(*pending_polynomial_);
        map = std::move(own);
      }
    }
    pending_polynomial_.reset();
    pending_scale_ = 1;
    pending_shift_ = 0;
    CompiledStep step = make_step(i, CompiledStep::Kind::kLinear);
    step.map = std::move(map);
    size_ = step.map.outputs;
    compiled_.steps.push_back(std::move(step));
  }

  // `map` applied to a·v + c, its biases multiplied by the factor (add_linear).
  LinearMap folded_map(LinearMap map, i128 a, i128 c, const FoldArithmetic& fold) const {
    for (size_t o = 0; o < map.outputs; ++o) {
      i128 weight_sum = 0;
      for (LinearTerm& term : map.terms_of_mutable(o)) {
        weight_sum = fold.add(weight_sum, term.weight);
        term.weight = fold.parameter(fold.multiply(a, term.weight), "weight");
      }
      map.bias[o] = fold.parameter(
          fold.add(fold.multiply(factor_, map.bias[o]), fold.multiply(c, weight_sum)), "bias");
    }
    return map;
  }

  static bool is_parameter(i128 value) {
    return value > -kMaxParameterMagnitude && value < kMaxParameterMagnitude;
  }

  // The pending map (scale and shift below 2^60) as a diagonal linear step of polynomial layer p.
  void push_diagonal(size_t p) {
    CompiledStep step = make_step(p, CompiledStep::Kind::kLinear);
    std::erase(step.folded_layers, p);  // a degree-1 layer left unattached is this step itself
    LinearMapBuilder builder(size_, size_);
    for (size_t j = 0; j < size_; ++j) {
      builder.add_term(static_cast<int64_t>(j), static_cast<int64_t>(pending_scale_));
      builder.end_row(static_cast<int64_t>(pending_shift_));
    }
    step.map = builder.finish();
    compiled_.steps.push_back(std::move(step));
  }

  void add_polynomial(size_t i, const PolynomialLayer& poly, const FoldArithmetic& fold) {
    const i128 a = pending_scale_, c = pending_shift_, f = factor_;
    const std::vector<int64_t>& p = poly.coefficients;
    if (poly.degree() == 1) {
      // f·(B·z + C) with f·z = a·v + c: (B·a)·v + (B·c + f·C), applied at once.
      pending_scale_ = fold.multiply(p[1], a);
      pending_shift_ = fold.add(fold.multiply(p[1], c), fold.multiply(f, p[0]));
      const bool previous_linear =
          !compiled_.steps.empty() && compiled_.steps.back().kind == CompiledStep::Kind::kLinear;
      const bool identity = pending_scale_ == 1 && pending_shift_ == 0;
      if (!identity && !previous_linear && next_layer_is_linear(i)) {
        // Nothing before it can take the map (it is the first layer, or follows a square), but
        // the next linear step can, in its weights and biases: a step of its own would cost a
        // linear layer and, after a square, a relinearisation per value.
        pending_polynomial_ = i;
        unattached_folds_.push_back(i);
        return;
      }
      const size_t steps = compiled_.steps.size();
      apply_pending(i, fold);
      // Absorbed by the previous step (or the identity): said in that step's stage name.
      if (compiled_.steps.size() == steps) {
        if (compiled_.steps.empty())
          unattached_folds_.push_back(i);
        else
          compiled_.steps.back().folded_layers.push_back(i);
      }
    } else if (poly.degree() == 2) {
      // In v' = f·z = a·v + c: f²·p(z) = A·v'² + b·v' + k with b = f·B, k = f²·C.
      const i128 big_a = p[2];
      const i128 b = fold.multiply(f, p[1]);
      const i128 k = fold.multiply(fold.multiply(f, f), p[0]);
      const i128 two_a = fold.multiply(2, big_a);
      if (b % two_a == 0) {
        // Completing the square exactly: f²·p(z) = A·(v' + h)² + (k − A·h²), h = b / 2A. The
        // factor stays f², and A joins the next step's weights.
        const i128 h = b / two_a;
        pending_shift_ = fold.add(c, h);
        apply_pending(i, fold);
        push_square(i);
        factor_ = fold.multiply(f, f);
        pending_scale_ = big_a;
        pending_shift_ = fold.add(k, -fold.multiply(big_a, fold.multiply(h, h)));
        pending_polynomial_ = i;
      } else {
        // 4A·f²·p(z) = (2A·v' + b)² + (4A·k − b²).
        pending_scale_ = fold.multiply(two_a, a);
        pending_shift_ = fold.add(fold.multiply(two_a, c), b);
        apply_pending(i, fold);
        push_square(i);
        const i128 constant =
            fold.add(fold.multiply(fold.multiply(2, two_a), k), -fold.multiply(b, b));
        // |4A|·f²·p(z) = s·(u + constant), s = sign(A): the sign goes to the next weights.
        const i128 sign = big_a > 0 ? 1 : -1;
        factor_ = fold.multiply(fold.multiply(fold.multiply(2, two_a), sign), fold.multiply(f, f));
        factor_sources_.push_back(i);
        pending_scale_ = sign;
        pending_shift_ = fold.multiply(sign, constant);
        pending_polynomial_ = i;
      }
    } else {
      // f³·p(z) = D·v³ + (A·f)·v² + (B·f²)·v + C·f³ with v = f·z.
      apply_pending(i, fold);
      CompiledStep step = make_step(i, CompiledStep::Kind::kPolynomial);
      i128 power = 1;  // f^(degree − k) for coefficient k
      step.coefficients.assign(p.size(), 0);
      for (size_t k = p.size(); k-- > 0;) {
        step.coefficients[k] = fold.parameter(fold.multiply(p[k], power), "coefficient");
        power = fold.multiply(power, f);
      }
      factor_ = fold.multiply(fold.multiply(f, f), f);
      compiled_.steps.push_back(std::move(step));
    }
  }

  // Whether the first layer after i that is not a flatten is linear (conv, dense, pooling).
  bool next_layer_is_linear(size_t i) const {
    for (size_t j = i + 1; j < model_.layers.size(); ++j) {
      const auto& operation = model_.layers[j].operation;
      if (std::holds_alternative<FlattenLayer>(operation)) continue;
      return !std::holds_alternative<PolynomialLayer>(operation) &&
             !std::holds_alternative<SquareLayer>(operation);
    }
    return false;
  }

  // Applies the pending map: folded into the last step when that is a linear step (its outputs
  // feed nothing else), else as a diagonal linear step of layer i.
  void apply_pending(size_t i, const FoldArithmetic& layer_fold) {
    const FoldArithmetic fold = consuming_pending(i, layer_fold);
    pending_polynomial_.reset();
    const i128 scale = pending_scale_, shift = pending_shift_;
    pending_scale_ = 1;
    pending_shift_ = 0;
    if (scale == 1 && shift == 0) return;
    if (!compiled_.steps.empty() && compiled_.steps.back().kind == CompiledStep::Kind::kLinear) {
      LinearMap& map = compiled_.steps.back().map;
      for (LinearTerm& term : map.terms)
        term.weight = fold.parameter(fold.multiply(scale, term.weight), "weight");
      for (int64_t& b : map.bias)
        b = fold.parameter(fold.add(fold.multiply(scale, b), shift), "bias");
      return;
    }
    CompiledStep step = make_step(i, CompiledStep::Kind::kLinear);
    LinearMapBuilder builder(size_, size_);
    const int64_t weight = fold.parameter(scale, "weight");
    const int64_t bias = fold.parameter(shift, "bias");
    for (size_t j = 0; j < size_; ++j) {
      builder.add_term(static_cast<int64_t>(j), weight);
      builder.end_row(bias);
    }
    step.map = builder.finish();
    compiled_.steps.push_back(std::move(step));
  }

  void push_square(size_t i) {
    compiled_.steps.push_back(make_step(i, CompiledStep::Kind::kSquare));
  }

  CompiledStep make_step(size_t i, CompiledStep::Kind kind) {
    CompiledStep step;
    step.kind = kind;
    step.layer_index = i;
    step.layer_name = layer_name(model_.layers[i]);
    step.folded_layers = std::move(unattached_folds_);
    unattached_folds_.clear();
    return step;
  }

  const Model& model_;
  std::vector<Shape> shapes_;
  CompiledModel compiled_;
  size_t size_ = static_cast<size_t>(shapes_.front().size());  // values after the emitted steps
  i128 factor_ = 1;
  std::vector<size_t> factor_sources_;  // polynomial layers that multiplied the factor by 4|A|
  i128 pending_scale_ = 1;
  i128 pending_shift_ = 0;
  std::optional<size_t> pending_polynomial_;  // the polynomial layer that left the pending map
  std::vector<size_t> unattached_folds_;      // degree-1 layers the next step takes in: named in it
};

}  // namespace

CompiledModel compile_model(const Model& model) {
  validate_model(model);
  return ModelCompiler(model).run();
}

std::string CompiledStep::stage_name() const {
  std::string name = layer_name;
  if (layer_name == "poly") {
    switch (kind) {
      case Kind::kLinear:
        name += " (affine)";
        break;
      case Kind::kSquare:
        name += " (square)";
        break;
      case Kind::kPolynomial:
        name += " (degree " + std::to_string(polynomial_degree()) + ")";
        break;
    }
  }
  // No comma: the name is a field of mnist --csv. The callers put this step's number first
  // ("2. conv ..."), so a layer folded in from before it is named inside, in the order of the
  // model: "conv (1. poly folded in)"; one from after it follows it: "dense + 6. poly (folded)".
  std::string before, after;
  for (size_t layer : folded_layers) {
    std::string& list = layer < layer_index ? before : after;
    list += (list.empty() ? "" : " + ") + std::to_string(layer + 1) + ". poly";
  }
  if (!before.empty()) name += " (" + before + " folded in)";
  if (!after.empty()) name += " + " + after + " (folded)";
  return name;
}

bool CompiledModel::has_polynomial_step() const {
  return std::any_of(steps.begin(), steps.end(), [](const CompiledStep& step) {
    return step.kind == CompiledStep::Kind::kPolynomial;
  });
}

std::string describe_output_factor(const CompiledModel& model) {
  const u128 factor = static_cast<u128>(model.output_factor);
  std::string digits;
  u128 rest = factor;
  do {
    digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(rest % 10)));
    rest /= 10;
  } while (rest != 0);
  if (factor == 1) return digits;
  char log2_text[32];
  std::snprintf(log2_text, sizeof log2_text, "%.1f", std::log2(static_cast<double>(factor)));
  return digits + " (2^" + log2_text + ")";
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

void PlainIntegers::polynomial(Value& value, std::span<const int64_t> coefficients) const {
  assert(!coefficients.empty());
  Value result = coefficients.back();
  for (size_t k = coefficients.size() - 1; k-- > 0;) {
    if (__builtin_mul_overflow(result, value, &result) ||
        __builtin_add_overflow(result, static_cast<Value>(coefficients[k]), &result)) {
      plain_overflow();
    }
  }
  value = result;
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

void ModularIntegers::polynomial(Value& value, std::span<const int64_t> coefficients) const {
  assert(!coefficients.empty());
  Value result = from_signed(coefficients.back(), modulus_);
  for (size_t k = coefficients.size() - 1; k-- > 0;) {
    result =
        add_mod(mul_mod(result, value, modulus_), from_signed(coefficients[k], modulus_), modulus_);
  }
  value = result;
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
