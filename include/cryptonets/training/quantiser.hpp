// Quantisation of the float CryptoNets network (float_network.hpp) into the integer Model
// (model.hpp) that the plain and encrypted runtimes evaluate, and the measurements that pick its
// scales.
//
// Every real value v of the float network is represented by the integer round(v · scale)
// (CryptoNets, Gilad-Bachrach et al., ICML 2016, §4.1: weights and inputs are scaled and rounded
// to integers). With input scale I and weight scales s_conv, s_d1, s_d2 the layers carry
//   input    round(p · I / 255)                                   scale I
//   conv     weights round(w · s_conv), bias round(b · S1)         scale S1 = I · s_conv
//   square                                                        scale S1²
//   dense1   weights round(w · s_d1), bias round(b · S2)           scale S2 = S1² · s_d1
//   square                                                        scale S2²
//   dense2   weights round(w · s_d2), bias round(b · S3)           scale S3 = S2² · s_d2
// so that integer output / S3 ≈ float output and the arg max (the class) follows the float
// network's up to rounding. Each bias is quantised at the scale of the sum it joins, which makes
// it a large constant at large scales; constants cost nothing in the encrypted runtime.
//
// The cost that matters is the plaintext modulus: only the final outputs are decoded, so the CRT
// product T of the plaintext moduli must hold the worst-case output bound B of range.hpp
// (2·B + 1 <= T; the intermediate values may wrap, the network being a polynomial over Z), and
// the encrypted inference runs once per modulus.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "cryptonets/arith/uint128.hpp"
#include "cryptonets/model/model.hpp"
#include "cryptonets/model/range.hpp"
#include "cryptonets/training/float_network.hpp"

namespace cryptonets::training {

struct QuantisationScales {
  double input = 255.0;  // integer input = round(p · input / 255)
  double conv = 1.0;     // conv weight scale s_conv
  double dense1 = 1.0;   // dense1 weight scale s_d1
  double dense2 = 1.0;   // dense2 weight scale s_d2

  bool operator==(const QuantisationScales&) const = default;
};

// Magnitude bits of each weight layer: the largest |weight| of the layer becomes 2^bits − 1.
struct WeightBits {
  int conv = 8;
  int dense1 = 8;
  int dense2 = 8;

  bool operator==(const WeightBits&) const = default;
};

// A point of the search space: the input scale and the weight bits of each layer.
struct QuantisationChoice {
  double input_scale = 255.0;
  WeightBits bits;

  std::string label() const;  // "I=16 w=4/6/8"
  bool operator==(const QuantisationChoice&) const = default;
};

// (2^bits − 1) / max|w|: the largest weight maps to ±(2^bits − 1), so every quantised weight has
// at most `bits` magnitude bits plus a sign. Throws std::invalid_argument unless 1 <= bits <= 40,
// every weight is finite and some weight is non-zero.
double weight_scale_for_bits(std::span<const float> weights, int bits);

// Throws std::invalid_argument unless input_scale is finite and positive (and as
// weight_scale_for_bits).
QuantisationScales scales_for_choice(const FloatNetwork& network, const QuantisationChoice& choice);

// The integer network conv (5×5, stride 2, top/left padding as in FloatNetwork), square, dense,
// square, dense, each layer's output scale recorded in Layer::scale. Throws std::invalid_argument
// if a scale is not finite and positive or a parameter vector does not match the network's shape,
// and std::overflow_error if a quantised weight or bias reaches kMaxParameterMagnitude.
model::Model quantise(const FloatNetwork& network, const QuantisationScales& scales);
model::Model quantise(const FloatNetwork& network, const QuantisationChoice& choice);
// The same layers with the two activation layers given by activation(index, input scale)
// (index 0 after the convolution, 1 after dense1), each with its output scale in Layer::scale;
// quantise passes squares (scale s²). Used for polynomial activations (polynomial_quantiser.hpp).
model::Model quantise_with_activations(const FloatNetwork& network,
                                       const QuantisationScales& scales,
                                       const std::function<model::Layer(int, double)>& activation);

// The plaintext moduli the quantiser counts with: the largest primes t < 2^40, t ≡ 1 (mod 2n) for
// batching at n = 8192 (YASHE's multiplication noise grows with t², which caps t near 2^40 at
// log2 q ≈ 385). The runtime's parameter selection (parameter_selection.hpp) takes as many, each
// only as large as the outputs need: 2 × 39 bits for the shipped model's 78-bit outputs.
inline constexpr int kPlaintextModulusBits = 40;
inline constexpr uint64_t kPlaintextModulusCongruence = 2 * 8192;

// The largest `count` primes below 2^modulus_bits that are ≡ 1 (mod congruence), descending.
std::vector<uint64_t> plaintext_moduli(size_t count, int modulus_bits = kPlaintextModulusBits,
                                       uint64_t congruence = kPlaintextModulusCongruence);

// The most plaintext moduli the quantiser's search considers for one model.
inline constexpr int kMaxPlaintextModuliSearched = 8;

// The fewest of those moduli whose CRT product holds the final outputs of `report`
// (plaintext_moduli_suffice), or nullopt if more than `max_moduli` would be needed.
std::optional<int> plaintext_moduli_needed(const model::RangeReport& report,
                                           int max_moduli = kMaxPlaintextModuliSearched,
                                           int modulus_bits = kPlaintextModulusBits,
                                           uint64_t congruence = kPlaintextModulusCongruence);

// Plain-integer results of an integer model on labelled images.
struct PlainEvaluation {
  size_t images = 0;
  size_t correct = 0;
  size_t agree_with_float = 0;  // images classified as the float network classifies them
  mpz_class max_abs_output;     // max |output| over all images and classes
  int max_output_bits = 0;      // centred_bits(max_abs_output)

  double accuracy() const;
  double agreement() const;
};

// The index of the largest output (the first one on ties), as predicted_class does for floats.
int predicted_class(std::span<const i128> outputs);

// Evaluates every image exactly over Z with compile_model + evaluate_plain, over `threads` OpenMP
// threads. If `reference` is given, also counts the images on which the integer model predicts
// the float network's class. Propagates std::overflow_error if a value leaves the 128-bit range.
PlainEvaluation evaluate_integer_model(const model::Model& model, const LabelledImages& images,
                                       int threads = 1, const FloatNetwork* reference = nullptr);
// The same with the reference network's predicted class of each image given (empty: no
// reference), for float networks of another type (polynomial_quantiser.hpp). Any model: the
// outputs are the compiled network's (output_factor × the model's, layers.hpp).
PlainEvaluation evaluate_integer_model(const model::Model& model, const LabelledImages& images,
                                       int threads, std::span<const int> reference_classes);

// The same results as evaluate_integer_model, three to four times faster, for a model with the
// structure quantise produces (conv 5×5 stride 2 padded top and left, square, dense, square,
// dense): exact integer arithmetic specialised to that network, shared with sweep_quantisations.
// Throws std::invalid_argument for any other model and std::overflow_error if a value leaves the
// 128-bit range. Reference twin: evaluate_integer_model (model::evaluate_plain per image).
PlainEvaluation evaluate_quantised_network(const model::Model& model, const LabelledImages& images,
                                           int threads = 1,
                                           const FloatNetwork* reference = nullptr);

// One row of the accuracy/bits table.
struct QuantisationResult {
  QuantisationChoice choice;
  QuantisationScales scales;
  std::optional<std::string> failure;  // why there is no model or no measurement
  int worst_case_bits = 0;             // centred_bits of the worst-case output bound (range.hpp)
  std::optional<int> moduli;           // plaintext moduli needed (nullopt: more than the maximum)
  bool evaluated = false;              // whether `test` holds measurements
  PlainEvaluation test;
  std::optional<int> train_max_output_bits;  // measured on the training set, when evaluated
};

// Whether `a` tracks the float network better than `b`: more test images classified as the float
// network classifies them, then more correct, then fewer worst-case bits. Both evaluated.
bool more_faithful(const QuantisationResult& a, const QuantisationResult& b);

// The default: among the evaluated results without failure whose test accuracy is at least
// `min_accuracy`, those needing the fewest moduli; among them the most faithful to the float
// network (more_faithful). Agreement rather than accuracy decides because the integer model is
// meant to reproduce the float network; picking the most accurate of thousands of grid points
// would reward the lucky ones. Returns the index, or nullopt if no result qualifies.
std::optional<size_t> choose_default(std::span<const QuantisationResult> results,
                                     double min_accuracy);

// Quantises, tracks the worst-case range and evaluates on `test` with evaluate_quantised_network
// (the training set is left to the caller). A quantisation or evaluation that overflows is
// recorded in `failure`.
QuantisationResult measure_quantisation(const FloatNetwork& network,
                                        const QuantisationChoice& choice,
                                        const LabelledImages& test, int threads);

// The search space of sweep_quantisations: every input scale with every combination of weight
// bits in [min_bits, max_*_bits].
struct SweepGrid {
  std::vector<double> input_scales{1, 2, 4, 8, 16, 32, 64, 128, 255};
  int min_bits = 2;
  int max_conv_bits = 8;
  int max_dense1_bits = 10;
  int max_dense2_bits = 10;
  int max_moduli = 3;  // points needing more moduli are tracked but not evaluated
};

// Worst-case bits and moduli of every grid point, and test results of those needing at most
// grid.max_moduli moduli. Gives the same numbers as measure_quantisation but shares the work of
// common layer prefixes: the convolution is computed once per (input scale, conv bits) and the
// first dense layer once per dense1 bits, in exact integer arithmetic. `progress` is called with
// (points done, points in all) as the sweep goes.
std::vector<QuantisationResult> sweep_quantisations(
    const FloatNetwork& network, const LabelledImages& test, const SweepGrid& grid, int threads,
    const std::function<void(size_t, size_t)>& progress = {});

// How the points of a sweep (sweep_quantisations, sweep_polynomial_quantisations) fared, for
// its report. A point is unrepresentable when quantising it failed (a parameter reaches the
// model's limit: no model, no moduli count); an evaluation failure has a model and a moduli
// count but no measurement (a value left the 128-bit range). Each point is in at most one count.
struct SweepSummary {
  size_t points = 0;
  size_t unrepresentable = 0;
  size_t evaluation_failures = 0;
  std::string evaluation_failure;  // the first evaluation failure's message ("" without one)
  size_t evaluated = 0;            // measured on the test set
  std::optional<int> widest_worst_case_bits;  // of the points with a model; nullopt: none
};
SweepSummary summarise_sweep(std::span<const QuantisationResult> results);

// The report's sentences on `summary` for a grid evaluated up to `max_moduli` plaintext moduli:
// how many points are not representable (followed by `unrepresentable_why`), the widest
// representable point's worst case, how many points were evaluated and how many could not be.
// A count of zero gets no clause ("0 are not representable" was printed, and evaluation
// failures were counted as not representable).
std::string describe_sweep(const SweepSummary& summary, int max_moduli,
                           const std::string& unrepresentable_why);

}  // namespace cryptonets::training
