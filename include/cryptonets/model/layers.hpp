// One layer code path for every kind of value: plain integers, residues mod t, and (later)
// YASHE' ciphertexts. A model is compiled once into a list of steps, each either a linear map
// ("for each output o: y_o = b_o + Σ_j w_oj · x_j", stored as precomputed sparse term lists) or
// an element-wise square; the steps are then run by evaluate() with a value-type policy.
//
// Policy (the `LayerArithmetic` concept):
//   using Value = ...;
//   Value multiply_accumulate(std::span<const Value> inputs, std::span<const LinearTerm> terms);
//       Σ terms[k].weight · inputs[terms[k].input]; an empty list gives zero. It receives ALL
//       terms of one output at once, so a ciphertext policy can fuse the whole sum in one kernel.
//   void add_constant(Value& v, int64_t c);   v += c
//   void square(Value& v);                    v = v² (in place: no copy of a ciphertext)
// Optional whole-layer hooks, used instead of the per-output loop when present (e.g. to spread
// the outputs of a layer over threads, or to batch a layer's work on an accelerator):
//   std::vector<Value> apply_linear(const LinearMap& map, std::span<const Value> inputs);
//   void square_all(std::vector<Value>& values);
// The plain policies also offer zero() and add() for callers that build their own sums.
//
// Batches: the plain policies hold one image per evaluation (call evaluate once per image); a
// ciphertext policy packs the images of a batch into plaintext slots, so one evaluation runs all.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "cryptonets/arith/modulus.hpp"
#include "cryptonets/arith/uint128.hpp"
#include "cryptonets/model/model.hpp"

namespace cryptonets::model {

struct LinearTerm {
  uint32_t input = 0;  // index into the layer's input vector
  int64_t weight = 0;  // never 0: zero weights are dropped when a map is built

  bool operator==(const LinearTerm&) const = default;
};

// An affine map Z^inputs -> Z^outputs in compressed-row form:
//   y_o = bias[o] + Σ_{k = row_begin[o]}^{row_begin[o+1]-1} terms[k].weight · x[terms[k].input]
struct LinearMap {
  size_t inputs = 0;
  size_t outputs = 0;
  std::vector<size_t> row_begin;  // outputs + 1 offsets into terms
  std::vector<LinearTerm> terms;
  std::vector<int64_t> bias;  // outputs

  std::span<const LinearTerm> terms_of(size_t output) const {
    return std::span<const LinearTerm>(terms).subspan(row_begin[output],
                                                      row_begin[output + 1] - row_begin[output]);
  }
};

// The affine map of a linear layer (conv, dense, pool, flatten) applied to `input`. Flatten gives
// the identity map. Precondition: is_linear(layer) and the layer accepts the shape.
LinearMap linear_map_of(const Layer& layer, const Shape& input);

// second ∘ first, computed exactly (weights compose by the matrix product, biases propagate:
// b = W2 · b1 + b2). Throws std::overflow_error if a result reaches kMaxParameterMagnitude.
LinearMap compose(const LinearMap& first, const LinearMap& second);

// The map as a Dense layer (dense weight matrix, zeros included).
DenseLayer to_dense_layer(const LinearMap& map);

struct CompiledStep {
  enum class Kind { kLinear, kSquare };
  Kind kind = Kind::kLinear;
  size_t layer_index = 0;  // the model layer this step computes
  std::string layer_name;  // its model-file keyword ("conv", "square", "dense", "pool")
  LinearMap map;           // for kLinear only
};

// The model as evaluation steps. Flatten layers produce no step (they do not touch the data); every
// other layer gives exactly one step, in order.
struct CompiledModel {
  size_t input_size = 0;
  size_t output_size = 0;
  std::vector<CompiledStep> steps;
};

// Validates the model (validate_model) and precomputes the term lists of its linear layers.
CompiledModel compile_model(const Model& model);

template <class A>
concept LayerArithmetic = requires(A& arithmetic, typename A::Value& value,
                                   std::span<const typename A::Value> inputs,
                                   std::span<const LinearTerm> terms, int64_t constant) {
  { arithmetic.multiply_accumulate(inputs, terms) } -> std::convertible_to<typename A::Value>;
  arithmetic.add_constant(value, constant);
  arithmetic.square(value);
};

// Called after each step with (model layer index, values after that layer).
struct IgnoreLayerOutputs {
  template <class Value>
  void operator()(size_t, const std::vector<Value>&) const {}
};

template <LayerArithmetic A>
std::vector<typename A::Value> apply_linear_step(const LinearMap& map,
                                                 std::span<const typename A::Value> inputs,
                                                 A& arithmetic) {
  if constexpr (requires { arithmetic.apply_linear(map, inputs); }) {
    return arithmetic.apply_linear(map, inputs);
  } else {
    std::vector<typename A::Value> outputs;
    outputs.reserve(map.outputs);
    for (size_t o = 0; o < map.outputs; ++o) {
      typename A::Value y = arithmetic.multiply_accumulate(inputs, map.terms_of(o));
      arithmetic.add_constant(y, map.bias[o]);
      outputs.push_back(std::move(y));
    }
    return outputs;
  }
}

template <LayerArithmetic A>
void apply_square_step(std::vector<typename A::Value>& values, A& arithmetic) {
  if constexpr (requires { arithmetic.square_all(values); }) {
    arithmetic.square_all(values);
  } else {
    for (auto& value : values)
      arithmetic.square(value);
  }
}

// Runs the compiled model on one input vector (row-major input_shape). Throws
// std::invalid_argument if the input has the wrong size; policy errors propagate.
template <LayerArithmetic A, class Observer = IgnoreLayerOutputs>
std::vector<typename A::Value> evaluate(const CompiledModel& model,
                                        std::vector<typename A::Value> values, A& arithmetic,
                                        Observer&& observe = {}) {
  if (values.size() != model.input_size) {
    throw std::invalid_argument("evaluate: the model expects " + std::to_string(model.input_size) +
                                " input values, got " + std::to_string(values.size()));
  }
  for (const CompiledStep& step : model.steps) {
    if (step.kind == CompiledStep::Kind::kSquare) {
      apply_square_step(values, arithmetic);
    } else {
      values = apply_linear_step(step.map, std::span<const typename A::Value>(values), arithmetic);
    }
    observe(step.layer_index, std::as_const(values));
  }
  return values;
}

// Exact evaluation over Z in 128-bit signed integers. Every product and sum is overflow-checked
// (__builtin_*_overflow): an intermediate outside [-2^127, 2^127) throws std::overflow_error
// instead of wrapping. 127 bits is ample for the CryptoNets network at pixel scale (the range
// tracker in range.hpp tells how many bits a given model needs); no GMP in the loop.
class PlainIntegers {
 public:
  using Value = i128;

  Value zero() const { return 0; }
  void add(Value& accumulator, const Value& addend) const;
  Value multiply_accumulate(std::span<const Value> inputs, std::span<const LinearTerm> terms) const;
  void add_constant(Value& value, int64_t constant) const;
  void square(Value& value) const;
};

// Evaluation in Z_t, t < 2^62, residues in [0, t). Negative weights and biases are mapped to their
// residues, so the result is the exact integer result reduced mod t (Z -> Z_t is a ring
// homomorphism and the network is a polynomial); centred() recovers the integer whenever its
// absolute value is below t/2, whatever the sizes of the intermediate values.
class ModularIntegers {
 public:
  using Value = uint64_t;

  explicit ModularIntegers(uint64_t plaintext_modulus);  // throws unless 2 <= t < 2^62

  uint64_t modulus() const { return modulus_.value(); }
  Value from_integer(int64_t x) const { return from_signed(x, modulus_); }
  Value from_integer(i128 x) const;
  // The representative in (-t/2, t/2].
  int64_t centred(Value residue) const { return to_centered(residue, modulus_); }

  Value zero() const { return 0; }
  void add(Value& accumulator, const Value& addend) const {
    accumulator = add_mod(accumulator, addend, modulus_);
  }
  Value multiply_accumulate(std::span<const Value> inputs, std::span<const LinearTerm> terms) const;
  void add_constant(Value& value, int64_t constant) const {
    value = add_mod(value, from_signed(constant, modulus_), modulus_);
  }
  void square(Value& value) const { value = mul_mod(value, value, modulus_); }

 private:
  Modulus modulus_;
};

// Convenience wrappers for one image given as integers (see quantise_pixels).
std::vector<i128> evaluate_plain(const CompiledModel& model, std::span<const int64_t> input);
std::vector<uint64_t> evaluate_modular(const CompiledModel& model, std::span<const int64_t> input,
                                       uint64_t plaintext_modulus);

}  // namespace cryptonets::model
