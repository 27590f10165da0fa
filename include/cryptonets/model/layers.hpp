// One layer code path for every kind of value: plain integers, residues mod t, and YASHE'/BFV
// ciphertexts. A model is compiled once into a list of steps, each either a linear map
// ("for each output o: y_o = b_o + Σ_j w_oj · x_j", stored as precomputed sparse term lists), an
// element-wise square, or (plain evaluators only) an element-wise polynomial of degree 3; the
// steps are then run by evaluate() with a value-type policy.
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
// Optional: void polynomial(Value& v, std::span<const int64_t> c);  v = Σ_i c_i·v^i (degree-3
// steps; a policy without it refuses them with std::invalid_argument).
// The plain policies also offer zero() and add() for callers that build their own sums.
//
// Polynomial layers (model.hpp) are compiled without a new ciphertext operation (a YASHE'
// square is a degree-2 ciphertext under f², to which B·x cannot be added). Degree 2, written in
// the compiled input v (the model's value times the factor F reached so far) as A·v² + b·v + k:
//  * if 2A divides b: A·v² + b·v + k = A·(v + h)² + (k − A·h²), h = b / 2A (completing the
//    square): the shift h is folded into the preceding linear step (or is its own diagonal
//    step), the existing square step follows, and A and the constant join the next linear step
//    (weights ×A, bias_o += constant·Σ_j w_oj). The factor becomes F² as for a square. The
//    quantiser writes A = ±1 and an even B so that this route applies. When constant·Σ_j w_oj
//    would reach 2^60 (a fit with a small x² coefficient, as of a sigmoid, has a constant near
//    it), A·u + constant is a diagonal linear step of its own and the next step keeps its bias.
//  * otherwise 4A·(A·v² + b·v + k) = (2A·v + b)² + (4Ak − b²): the same steps with the affine
//    map 2A·v + b, and the factor becomes |4A|·F²; a negative A flips the sign of the next
//    step's weights so that the factor stays positive and the scores keep their order.
// A polynomial layer that is the last layer (or is followed by a square or another polynomial)
// gets a diagonal linear step for its constant. The compiled network therefore computes
// output_factor × the model's outputs exactly, every later bias being multiplied by the factor
// reached before it. Degree 1 (B·x + C) is an affine map folded into the preceding linear step.
// Degree 3 becomes a kPolynomial step that only the plain evaluators run (the ciphertext runtime
// has one square per activation: x³ needs a second multiplication level).
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
  std::span<LinearTerm> terms_of_mutable(size_t output) {
    return std::span<LinearTerm>(terms).subspan(row_begin[output],
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
  enum class Kind { kLinear, kSquare, kPolynomial };
  Kind kind = Kind::kLinear;
  size_t layer_index = 0;  // the model layer this step computes
  std::string layer_name;  // its model-file keyword ("conv", "square", "dense", "pool", "poly")
  LinearMap map;           // for kLinear only
  std::vector<int64_t> coefficients;  // kPolynomial only: v -> Σ_i coefficients[i]·v^i
  // Degree-1 polynomial layers (0-based) whose affine map this step absorbed: they have no step of
  // their own, and stage_name() names them so that no layer vanishes from the stage table.
  std::vector<size_t> folded_layers;

  int polynomial_degree() const { return static_cast<int>(coefficients.size()) - 1; }
  // The step's name in stage reports and progress: layer_name, and for a polynomial layer, which
  // may compile to two steps (a diagonal affine step and a square), what this step computes:
  // "poly (affine)", "poly (square)" or "poly (degree 3)"; then the folded layers, numbered from 1
  // as in the stage table, those before the step inside it and those after it behind it:
  // "conv (1. poly folded in)", "dense + 6. poly (folded)".
  std::string stage_name() const;
};

// The model as evaluation steps, computing output_factor × the model's outputs exactly.
// Without polynomial layers: Flatten layers produce no step (they do not touch the data), every
// other layer exactly one, in order, and output_factor = 1. A polynomial layer gives a square
// step (degree 2), possibly a diagonal linear step (when no linear step precedes it to absorb its
// affine map, when it is the last layer, or when folding its constant into the next linear step
// would take a parameter to 2^60), or a kPolynomial step (degree 3); it may also change
// the preceding linear step (its outputs become y + h or 2A·y + b) and the following one. A
// degree-1 layer after a linear step is folded into it, and one that is the identity before any
// step into the first step (listed in their folded_layers).
struct CompiledModel {
  size_t input_size = 0;
  size_t output_size = 0;
  std::vector<CompiledStep> steps;
  // Exact positive integer: compiled outputs = output_factor × the model's outputs (1 without
  // polynomial layers or when every degree-2 layer completes its square exactly).
  i128 output_factor = 1;

  bool has_polynomial_step() const;  // some step is kPolynomial (degree 3)
};

// Validates the model (validate_model) and precomputes the term lists of its linear layers.
// Throws std::overflow_error, naming the layer, if a folded weight, bias or coefficient reaches
// kMaxParameterMagnitude or the output factor leaves 127 bits.
// Reference twin: none in the library; tests/test_model.cpp evaluates every layer by direct
// nested loops and compares (outputs × output_factor).
CompiledModel compile_model(const Model& model);

// "1" or the factor's decimal digits with its log2, e.g. "1024 (2^10)", for reports.
std::string describe_output_factor(const CompiledModel& model);

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
void apply_polynomial_step(const CompiledStep& step, std::vector<typename A::Value>& values,
                           A& arithmetic) {
  if constexpr (requires(typename A::Value & v) {
                  arithmetic.polynomial(v, std::span<const int64_t>(step.coefficients));
                }) {
    for (auto& value : values)
      arithmetic.polynomial(value, std::span<const int64_t>(step.coefficients));
  } else {
    throw std::invalid_argument(
        "layer " + std::to_string(step.layer_index + 1) + " (poly) has degree " +
        std::to_string(step.polynomial_degree()) +
        ": this evaluator runs polynomial activations of degree at most 2 (one square each)");
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
    } else if (step.kind == CompiledStep::Kind::kPolynomial) {
      apply_polynomial_step(step, values, arithmetic);
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
  void polynomial(Value& value, std::span<const int64_t> coefficients) const;  // Horner
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
  void polynomial(Value& value, std::span<const int64_t> coefficients) const;  // Horner mod t

 private:
  Modulus modulus_;
};

// Convenience wrappers for one image given as integers (see quantise_pixels). evaluate_plain is the
// exact twin of the others: evaluate_modular equals it reduced mod t, and the encrypted runtime
// (inference/) decrypts to it.
std::vector<i128> evaluate_plain(const CompiledModel& model, std::span<const int64_t> input);
std::vector<uint64_t> evaluate_modular(const CompiledModel& model, std::span<const int64_t> input,
                                       uint64_t plaintext_modulus);

}  // namespace cryptonets::model
