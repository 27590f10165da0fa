// A float network as a list of layers, for training networks that are not the fixed 5-layer
// FloatNetwork (float_network.hpp): the paper's 9-layer training network, and networks with
// other activations (ReLU, sigmoid, polynomials) for the Crypto-Nets activation study.
//
// The 9-layer network (CryptoNets, Gilad-Bachrach et al., ICML 2016; as the re-implementations
// listed in bench/paper_values.csv (training_network) agree, the paper's own table not being
// available here):
//   input     p / 255 on the 29×29 frame padded at the top and left          1 × 29 × 29
//   conv      5 maps, 5×5, stride 2, bias                                     5 × 13 × 13 = 845
//   square
//   sum pool  3×3, stride 1, zero 'same' padding (the window's sum)           845
//   conv      50 maps, 5×5, stride 2, bias                                    50 × 5 × 5 = 1250
//   sum pool  3×3, stride 1, same                                             1250
//   dense     1250 → 100, bias
//   square
//   dense     100 → 10, bias (softmax cross-entropy in training only)
// Layers 3–6 (pool, conv, pool, dense) are affine, so merge_linear_runs() collapses them into one
// 845 → 100 dense layer, and to_float_network() then gives the 5-layer FloatNetwork that the
// quantiser and the encrypted runtime take.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <span>
#include <string>
#include <vector>

#include "cryptonets/training/float_network.hpp"
#include "cryptonets/training/trainer.hpp"

namespace cryptonets::training {

// f(x) of an activation layer. kPolynomial: Σ_i coefficients[i] · x^i (degree = size − 1).
enum class ActivationKind { kSquare, kRelu, kSigmoid, kPolynomial };

struct Activation {
  ActivationKind kind = ActivationKind::kSquare;
  std::vector<double> coefficients;  // kPolynomial only, lowest degree first

  double value(double x) const;
  double derivative(double x) const;
  std::string name() const;  // "square", "relu", "sigmoid", "polynomial(c0,c1,...)"
  bool operator==(const Activation&) const = default;
};

// Parses "square", "relu" or "sigmoid"; throws std::invalid_argument naming the text otherwise.
Activation parse_activation(const std::string& text);

enum class LayerKind { kConvolution, kActivation, kSumPool, kDense };

struct SequentialLayer {
  LayerKind kind = LayerKind::kDense;
  // kConvolution: input channels × side × side → maps × out_side × out_side, no padding
  // (weights [map][channel][ky][kx], bias [map]). kSumPool: channels × side × side, window
  // pool_window, stride 1, zero 'same' padding. kDense: inputs → outputs (weights [out][in]).
  int channels = 0, side = 0, maps = 0, kernel = 0, stride = 1, pool_window = 0;
  int inputs = 0, outputs = 0;
  Activation activation;  // kActivation
  std::vector<float> weights;
  std::vector<float> bias;

  int input_size() const;
  int output_size() const;
  int out_side() const { return (side - kernel) / stride + 1; }  // kConvolution
  bool is_linear() const { return kind != LayerKind::kActivation; }
  bool operator==(const SequentialLayer&) const = default;
};

struct SequentialNetwork {
  std::vector<SequentialLayer> layers;  // the first takes the 29·29 padded input
  int classes() const { return layers.back().output_size(); }
  bool operator==(const SequentialNetwork&) const = default;
};

// The 9-layer network above with zero parameters; first_maps/second_maps/hidden default to the
// paper's 5/50/100, `activation` replaces both squares.
SequentialNetwork make_paper_training_network(int classes = 10, int first_maps = 5,
                                              int second_maps = 50, int hidden = 100,
                                              const Activation& activation = {});
// The 5-layer shape of FloatNetwork (conv 5×5 stride 2, act, dense, act, dense).
SequentialNetwork make_five_layer_network(int classes = 10, int conv_maps = 5, int hidden = 100,
                                          const Activation& activation = {});

// Forward pass; values[l] is the input of layer l, values.back() the class scores.
void forward(const SequentialNetwork& network, std::span<const uint8_t> image,
             std::vector<std::vector<float>>& values);
std::vector<float> forward(const SequentialNetwork& network, std::span<const uint8_t> image);
// The same in double precision, obvious loops: the reference for the merge and the gradient.
std::vector<double> forward_reference(const SequentialNetwork& network,
                                      std::span<const uint8_t> image);
// Fraction of images whose predicted class equals the label, over `threads` OpenMP threads.
double accuracy(const SequentialNetwork& network, const LabelledImages& images, int threads = 1);
// Mean softmax cross-entropy in double precision (forward_reference).
double cross_entropy_reference(const SequentialNetwork& network, const LabelledImages& images);

// Every run of two or more consecutive linear layers replaced by the one dense layer it equals
// (computed in double: the bias is the run's response to 0, column i its response to e_i minus
// that). The outputs agree with the unmerged network's up to float rounding.
SequentialNetwork merge_linear_runs(const SequentialNetwork& network);

// A merged network of the FloatNetwork shape with square activations as a FloatNetwork; throws
// std::invalid_argument saying what differs otherwise.
FloatNetwork to_float_network(const SequentialNetwork& network);
SequentialNetwork from_float_network(const FloatNetwork& network);

// Smallest and largest input each activation layer sees over `images` (index: activation layers in
// order), for fitting polynomial approximations on the observed range.
std::vector<std::pair<double, double>> activation_input_ranges(const SequentialNetwork& network,
                                                               const LabelledImages& images);

// Polynomial approximations of degree `degree` (1..6) of `activation` on [low, high] (low < high),
// as Activation{kPolynomial} with monomial coefficients in x:
//  * least squares: minimises Σ (p(x) − f(x))² over 2001 evenly spaced points of the interval;
//  * Chebyshev: the Chebyshev series of f on the interval truncated at `degree` (coefficients by
//    Gauss–Chebyshev quadrature on 1000 nodes; Trefethen, "Approximation Theory and
//    Approximation Practice", ch. 3), near-minimax.
// Throws std::invalid_argument for a bad interval or degree.
Activation fit_least_squares(const Activation& activation, double low, double high, int degree);
Activation fit_chebyshev(const Activation& activation, double low, double high, int degree);

// Least squares weighted by the observed input distribution: for each activation layer of
// `network` (in order), the polynomial of degree `degree` (1..6) minimising Σ_x (p(x) − f(x))²
// over every input x that the layer sees on `images` (each occurrence counts once, so the fit is
// accurate where the inputs are dense rather than uniformly over a range set by rare extremes).
// Normal equations in u = (x − mid) / half over the observed [min, max]. Throws
// std::invalid_argument for a bad degree or when a layer's inputs are all equal.
std::vector<Activation> fit_least_squares_observed(const SequentialNetwork& network,
                                                   const LabelledImages& images, int degree);

// The fit `method` of every activation layer of `network`, in order: "lsq" (fit_least_squares)
// or "chebyshev" (fit_chebyshev) on the range activation_input_ranges finds on `images`, or
// "lsq-observed" (fit_least_squares_observed over `images`). What cryptonets-train --approximate
// puts in place and the reproduction driver recomputes. Throws std::invalid_argument for another
// method or a bad degree.
std::vector<Activation> fit_activations(const SequentialNetwork& network,
                                        const LabelledImages& images, const std::string& method,
                                        int degree);

// Mean cross-entropy of a batch and its gradient (same shape as network), over `threads` OpenMP
// threads: each sample's backward pass in parallel, then each parameter sums its samples' terms in
// sample order, so the result does not depend on the thread count and equals the single-threaded
// loop's bit for bit. Holds its work buffers (every layer's input and output gradient, per sample)
// between calls.
class SequentialGradientComputer {
 public:
  BatchResult compute(const SequentialNetwork& network, const LabelledImages& batch,
                      SequentialNetwork& gradient, int threads);

 private:
  struct Sample {
    std::vector<std::vector<float>> values;            // values[l]: the input of layer l
    std::vector<std::vector<float>> output_gradients;  // d loss / d output of layers with weights
    std::vector<float> g_in;                           // scratch: d loss / d input, softmax
    double loss = 0.0;
    bool correct = false;
  };
  static void backward(const SequentialNetwork& network, const LabelledImages& batch, size_t n,
                       Sample& sample);

  std::vector<Sample> samples_;
};

// One SequentialGradientComputer::compute (its buffers not kept).
BatchResult compute_gradient(const SequentialNetwork& network, const LabelledImages& batch,
                             SequentialNetwork& gradient, int threads = 1);

// Layer-sequential unit-variance initialisation (as initial_float_network) of the shape's weights.
void initialise(SequentialNetwork& network, const LabelledImages& calibration,
                std::mt19937_64& rng);

// Trains `network` in place (from initialise() unless `from_scratch` is false: fine-tuning) with
// the options' optimiser, schedule, clipping and augmentation (trainer.hpp), over
// options.threads OpenMP threads; the result does not depend on the thread count.
void train_sequential_network(SequentialNetwork& network, const LabelledImages& train,
                              const LabelledImages& test, const TrainingOptions& options,
                              bool from_scratch,
                              const std::function<void(const EpochReport&)>& on_epoch = {});

// Text format "cryptonets-sequential-model 1" (shortest round-trip floats); the reader throws
// std::runtime_error naming `source` and the offending token.
void write_sequential_network(const SequentialNetwork& network, std::ostream& out);
SequentialNetwork read_sequential_network(std::istream& in, const std::string& source);
void save_sequential_network(const SequentialNetwork& network, const std::filesystem::path& path);
SequentialNetwork load_sequential_network(const std::filesystem::path& path);

}  // namespace cryptonets::training
