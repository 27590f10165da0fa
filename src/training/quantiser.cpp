#include "cryptonets/training/quantiser.hpp"

#include <algorithm>
#include <array>
#include <cassert>
#include <cmath>
#include <exception>
#include <optional>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "cryptonets/arith/format.hpp"
#include "cryptonets/arith/primes.hpp"
#include "cryptonets/model/layers.hpp"

namespace cryptonets::training {

using model::centred_bits;
using model::compile_model;
using model::CompiledModel;
using model::ConvolutionLayer;
using model::DenseLayer;
using model::evaluate_plain;
using model::kMaxParameterMagnitude;
using model::Model;
using model::Padding;
using model::plaintext_moduli_suffice;
using model::quantise_pixel;
using model::RangeReport;
using model::Shape;
using model::SquareLayer;
using model::track_ranges;
using model::validate_model;

namespace {

void require_scale(double scale, const char* what) {
  if (!std::isfinite(scale) || scale <= 0.0) {
    std::ostringstream message;
    message << "quantise: the " << what << " scale must be finite and positive, got " << scale;
    throw std::invalid_argument(message.str());
  }
}

void require_size(std::span<const float> values, size_t expected, const char* what) {
  if (values.size() != expected) {
    throw std::invalid_argument("quantise: the float network has " + std::to_string(values.size()) +
                                " " + what + ", expected " + std::to_string(expected));
  }
}

// round(value · scale), the representation of a real value at that scale (round half away from
// zero, as quantise_pixel does).
int64_t quantise_value(float value, double scale, const char* what) {
  const double scaled = std::round(static_cast<double>(value) * scale);
  if (!(std::fabs(scaled) < static_cast<double>(kMaxParameterMagnitude))) {
    std::ostringstream message;
    message << "quantise: " << what << " " << value << " at scale " << scale << " gives " << scaled
            << ", beyond the 2^60 limit of model parameters; use smaller scales";
    throw std::overflow_error(message.str());
  }
  return static_cast<int64_t>(scaled);
}

std::vector<int64_t> quantise_values(std::span<const float> values, double scale,
                                     const char* what) {
  std::vector<int64_t> out;
  out.reserve(values.size());
  for (float v : values)
    out.push_back(quantise_value(v, scale, what));
  return out;
}

ConvolutionLayer quantise_convolution(const FloatNetwork& network, double weight_scale,
                                      double bias_scale) {
  ConvolutionLayer conv;
  conv.in_maps = 1;
  conv.out_maps = network.conv_maps;
  conv.kernel_height = FloatNetwork::kKernelSide;
  conv.kernel_width = FloatNetwork::kKernelSide;
  conv.stride_y = FloatNetwork::kStride;
  conv.stride_x = FloatNetwork::kStride;
  conv.padding =
      Padding{FloatNetwork::kPadTop, FloatNetwork::kPadLeft,
              FloatNetwork::kPaddedSide - FloatNetwork::kImageSide - FloatNetwork::kPadTop,
              FloatNetwork::kPaddedSide - FloatNetwork::kImageSide - FloatNetwork::kPadLeft};
  // Both layouts are (map, ky, kx) row-major with a single input map.
  conv.weights = quantise_values(network.conv_weights, weight_scale, "conv weight");
  conv.bias = quantise_values(network.conv_bias, bias_scale, "conv bias");
  return conv;
}

DenseLayer quantise_dense(std::span<const float> weights, std::span<const float> bias,
                          int64_t inputs, int64_t outputs, double weight_scale, double bias_scale,
                          const char* weight_name, const char* bias_name) {
  // FloatNetwork's dense layers are [output][input] row-major, and its flattened convolution
  // index (m · 13 + y) · 13 + x is the model's row-major (channel, y, x): the layouts agree.
  DenseLayer dense;
  dense.inputs = inputs;
  dense.outputs = outputs;
  dense.weights = quantise_values(weights, weight_scale, weight_name);
  dense.bias = quantise_values(bias, bias_scale, bias_name);
  return dense;
}

void require_network_shape(const FloatNetwork& network) {
  if (network.conv_maps <= 0 || network.hidden <= 0 || network.classes < 2) {
    throw std::invalid_argument(
        "quantise: the float network needs positive conv_maps and hidden and two or more classes");
  }
  const auto conv_maps = static_cast<size_t>(network.conv_maps);
  const auto hidden = static_cast<size_t>(network.hidden);
  const auto conv_outputs = static_cast<size_t>(network.conv_outputs());
  constexpr size_t kKernel = FloatNetwork::kKernelSide * FloatNetwork::kKernelSide;
  require_size(network.conv_weights, conv_maps * kKernel, "conv weights");
  require_size(network.conv_bias, conv_maps, "conv biases");
  require_size(network.dense1_weights, hidden * conv_outputs, "dense1 weights");
  require_size(network.dense1_bias, hidden, "dense1 biases");
  const auto classes = static_cast<size_t>(network.classes);
  require_size(network.dense2_weights, classes * hidden, "dense2 weights");
  require_size(network.dense2_bias, classes, "dense2 biases");
}

mpz_class to_mpz(u128 x) {
  mpz_class high = static_cast<unsigned long>(x >> 64);
  return (high << 64) + static_cast<unsigned long>(static_cast<uint64_t>(x));
}

u128 magnitude(i128 x) {
  return x < 0 ? -static_cast<u128>(x) : static_cast<u128>(x);
}

// Integer input of every pixel value for the model's input scale.
std::array<int64_t, 256> pixel_table(const Model& model) {
  std::array<int64_t, 256> table{};
  for (int p = 0; p < 256; ++p)
    table[static_cast<size_t>(p)] = quantise_pixel(model, static_cast<uint8_t>(p));
  return table;
}

std::vector<int> float_predictions(const FloatNetwork& network, const LabelledImages& images,
                                   int threads) {
  std::vector<int> predictions(images.size());
  const long count = static_cast<long>(images.size());
#pragma omp parallel num_threads(std::max(threads, 1))
  {
    ForwardTrace trace;
#pragma omp for schedule(static)
    for (long i = 0; i < count; ++i) {
      forward(network, images.image(static_cast<size_t>(i)), trace);
      predictions[static_cast<size_t>(i)] = predicted_class(trace.scores);
    }
  }
  return predictions;
}

// Per-thread tallies of an evaluation, merged in a fixed order.
struct Tally {
  size_t correct = 0;
  size_t agree = 0;
  u128 max_abs = 0;
  bool overflow = false;

  void record(std::span<const i128> outputs, int label, int float_class) {
    const int predicted = predicted_class(outputs);
    if (predicted == label) ++correct;
    if (predicted == float_class) ++agree;
    for (i128 v : outputs)
      max_abs = std::max(max_abs, magnitude(v));
  }
  void merge(const Tally& other) {
    correct += other.correct;
    agree += other.agree;
    max_abs = std::max(max_abs, other.max_abs);
    overflow = overflow || other.overflow;
  }
};

PlainEvaluation to_evaluation(const Tally& tally, size_t images, bool with_reference) {
  PlainEvaluation evaluation;
  evaluation.images = images;
  evaluation.correct = tally.correct;
  evaluation.agree_with_float = with_reference ? tally.agree : 0;
  evaluation.max_abs_output = to_mpz(tally.max_abs);
  evaluation.max_output_bits = centred_bits(evaluation.max_abs_output);
  return evaluation;
}

// --- The sweep's shared-prefix evaluation -------------------------------------------------------
// The same exact integer arithmetic as evaluate_plain, specialised to the quantised network so
// that the prefix common to many grid points is computed once.

// Squared convolution outputs of every image (image-major), as int64 (checked).
struct ConvolutionStage {
  size_t outputs = 0;
  std::vector<int64_t> squared;
  std::vector<uint8_t> overflow;  // per image
};

ConvolutionStage convolution_stage(const Model& model, const LabelledImages& images, int threads) {
  const auto& conv = std::get<ConvolutionLayer>(model.layers[0].operation);
  const std::array<int64_t, 256> pixels = pixel_table(model);
  constexpr int kSide = FloatNetwork::kImageSide;
  constexpr int kOut = FloatNetwork::kConvSide;
  constexpr int kKernel = FloatNetwork::kKernelSide;
  ConvolutionStage stage;
  stage.outputs = static_cast<size_t>(conv.out_maps) * kOut * kOut;
  stage.squared.assign(images.size() * stage.outputs, 0);
  stage.overflow.assign(images.size(), 0);
  const long count = static_cast<long>(images.size());
#pragma omp parallel for num_threads(std::max(threads, 1)) schedule(static)
  for (long i = 0; i < count; ++i) {
    const std::span<const uint8_t> image = images.image(static_cast<size_t>(i));
    int64_t* out = stage.squared.data() + static_cast<size_t>(i) * stage.outputs;
    bool overflow = false;
    for (int64_t m = 0; m < conv.out_maps; ++m) {
      for (int y = 0; y < kOut; ++y) {
        for (int x = 0; x < kOut; ++x) {
          int64_t sum = conv.bias[static_cast<size_t>(m)];
          for (int ky = 0; ky < kKernel; ++ky) {
            const int row = y * FloatNetwork::kStride + ky - FloatNetwork::kPadTop;
            if (row < 0 || row >= kSide) continue;  // zero padding
            for (int kx = 0; kx < kKernel; ++kx) {
              const int column = x * FloatNetwork::kStride + kx - FloatNetwork::kPadLeft;
              if (column < 0 || column >= kSide) continue;
              const int64_t w =
                  conv.weights[static_cast<size_t>((m * kKernel + ky) * kKernel + kx)];
              int64_t product = 0;
              overflow |= __builtin_mul_overflow(w, pixels[image[row * kSide + column]], &product);
              overflow |= __builtin_add_overflow(sum, product, &sum);
            }
          }
          overflow |= __builtin_mul_overflow(sum, sum, &out[(m * kOut + y) * kOut + x]);
        }
      }
    }
    stage.overflow[static_cast<size_t>(i)] = overflow ? 1 : 0;
  }
  return stage;
}

// Squared first-dense outputs of every image (image-major), as i128.
struct HiddenStage {
  size_t outputs = 0;
  std::vector<i128> squared;
  std::vector<uint8_t> overflow;  // per image
};

HiddenStage hidden_stage(const DenseLayer& dense, const ConvolutionStage& conv, int threads) {
  assert(static_cast<size_t>(dense.inputs) == conv.outputs);
  // |w| < 2^41 (at most 40 weight bits) and |x| < 2^63 give products below 2^104; fewer than
  // 2^20 of them plus a bias below 2^60 cannot overflow 128 bits, so the sum needs no check.
  assert(conv.outputs < (size_t{1} << 20));
  // Where Σ_j |w_j|·max|x| stays below 2^62, every partial sum fits int64, the faster loop.
  u128 max_weight = 0;
  for (int64_t w : dense.weights)
    max_weight = std::max(max_weight, magnitude(w));
  u128 max_input = 0;
  for (int64_t x : conv.squared)
    max_input = std::max(max_input, magnitude(x));
  const bool fits_int64 =
      max_input == 0 || max_weight <= ((u128{1} << 62) / max_input) / conv.outputs;
  HiddenStage stage;
  stage.outputs = static_cast<size_t>(dense.outputs);
  const size_t images = conv.overflow.size();
  stage.squared.assign(images * stage.outputs, 0);
  stage.overflow = conv.overflow;
  const long count = static_cast<long>(images);
#pragma omp parallel for num_threads(std::max(threads, 1)) schedule(static)
  for (long i = 0; i < count; ++i) {
    const auto image = static_cast<size_t>(i);
    if (stage.overflow[image]) continue;
    const int64_t* x = conv.squared.data() + image * conv.outputs;
    i128* out = stage.squared.data() + image * stage.outputs;
    bool overflow = false;
    for (size_t o = 0; o < stage.outputs; ++o) {
      const int64_t* w = dense.weights.data() + o * conv.outputs;
      i128 sum = dense.bias[o];
      if (fits_int64) {
        int64_t narrow = 0;
        for (size_t j = 0; j < conv.outputs; ++j)
          narrow += w[j] * x[j];
        sum += narrow;
      } else {
        for (size_t j = 0; j < conv.outputs; ++j)
          sum += static_cast<i128>(w[j]) * x[j];
      }
      overflow |= __builtin_mul_overflow(sum, sum, &out[o]);
    }
    stage.overflow[image] = overflow ? 1 : 0;
  }
  return stage;
}

Tally output_stage(const DenseLayer& dense, const HiddenStage& hidden, const LabelledImages& images,
                   const std::vector<int>& float_classes, int threads) {
  Tally total;
  const long count = static_cast<long>(images.size());
#pragma omp parallel num_threads(std::max(threads, 1))
  {
    Tally local;
    std::vector<i128> outputs(static_cast<size_t>(dense.outputs));
#pragma omp for schedule(static)
    for (long i = 0; i < count; ++i) {
      const auto image = static_cast<size_t>(i);
      if (hidden.overflow[image]) {
        local.overflow = true;
        continue;
      }
      const i128* x = hidden.squared.data() + image * hidden.outputs;
      bool overflow = false;
      for (size_t o = 0; o < outputs.size(); ++o) {
        i128 sum = dense.bias[o];
        for (size_t j = 0; j < hidden.outputs; ++j) {
          i128 product = 0;
          overflow |= __builtin_mul_overflow(
              static_cast<i128>(dense.weights[o * hidden.outputs + j]), x[j], &product);
          overflow |= __builtin_add_overflow(sum, product, &sum);
        }
        outputs[o] = sum;
      }
      if (overflow) {
        local.overflow = true;
        continue;
      }
      local.record(outputs, images.labels[image], float_classes[image]);
    }
#pragma omp critical
    total.merge(local);
  }
  return total;
}

constexpr const char* kOverflowFailure = "a value leaves the 128-bit range";
constexpr const char* kParameterOverflowFailure = "a quantised bias reaches 2^60";

void require(bool condition, const std::string& what) {
  if (!condition) {
    throw std::invalid_argument(
        "evaluate_quantised_network: the model is not a quantised "
        "CryptoNets network: " +
        what);
  }
}

// The layer structure that quantise produces and the specialised stages assume.
void require_quantised_shape(const Model& model) {
  validate_model(model);
  require(model.input_shape == Shape{1, FloatNetwork::kImageSide, FloatNetwork::kImageSide},
          "input shape");
  require(model.layers.size() == 5, "layer count");
  const auto* conv = std::get_if<ConvolutionLayer>(&model.layers[0].operation);
  require(conv && conv->in_maps == 1 && conv->kernel_height == FloatNetwork::kKernelSide &&
              conv->kernel_width == FloatNetwork::kKernelSide &&
              conv->stride_y == FloatNetwork::kStride && conv->stride_x == FloatNetwork::kStride &&
              conv->padding == Padding{FloatNetwork::kPadTop, FloatNetwork::kPadLeft, 0, 0},
          "layer 1 must be the 5x5 stride-2 convolution padded top and left");
  require(std::holds_alternative<SquareLayer>(model.layers[1].operation), "layer 2 is not square");
  require(std::holds_alternative<DenseLayer>(model.layers[2].operation), "layer 3 is not dense");
  require(std::holds_alternative<SquareLayer>(model.layers[3].operation), "layer 4 is not square");
  require(std::holds_alternative<DenseLayer>(model.layers[4].operation), "layer 5 is not dense");
}

}  // namespace

std::string QuantisationChoice::label() const {
  std::ostringstream out;
  out << "I=" << input_scale << " w=" << bits.conv << '/' << bits.dense1 << '/' << bits.dense2;
  return out.str();
}

double weight_scale_for_bits(std::span<const float> weights, int bits) {
  if (bits < 1 || bits > 40) {
    throw std::invalid_argument("weight_scale_for_bits: bits must be in [1, 40], got " +
                                std::to_string(bits));
  }
  float largest = 0.0f;
  for (float w : weights) {
    if (!std::isfinite(w))
      throw std::invalid_argument("weight_scale_for_bits: a weight is not finite");
    largest = std::max(largest, std::fabs(w));
  }
  if (largest == 0.0f) throw std::invalid_argument("weight_scale_for_bits: all weights are zero");
  return (std::ldexp(1.0, bits) - 1.0) / static_cast<double>(largest);
}

QuantisationScales scales_for_choice(const FloatNetwork& network,
                                     const QuantisationChoice& choice) {
  require_scale(choice.input_scale, "input");
  return QuantisationScales{choice.input_scale,
                            weight_scale_for_bits(network.conv_weights, choice.bits.conv),
                            weight_scale_for_bits(network.dense1_weights, choice.bits.dense1),
                            weight_scale_for_bits(network.dense2_weights, choice.bits.dense2)};
}

Model quantise_with_activations(const FloatNetwork& network, const QuantisationScales& scales,
                                const std::function<model::Layer(int, double)>& activation) {
  require_scale(scales.input, "input");
  require_scale(scales.conv, "conv weight");
  require_scale(scales.dense1, "dense1 weight");
  require_scale(scales.dense2, "dense2 weight");
  require_network_shape(network);

  // The scale of each layer's output (see the header): a linear layer multiplies its input's
  // scale by its weight scale, an activation gives its own (a square squares it).
  const double conv_scale = scales.input * scales.conv;
  const model::Layer first = activation(0, conv_scale);
  const double hidden_scale = first.scale * scales.dense1;
  const model::Layer second = activation(1, hidden_scale);
  const double output_scale = second.scale * scales.dense2;

  Model model;
  model.input_shape = Shape{1, FloatNetwork::kImageSide, FloatNetwork::kImageSide};
  model.input_scale = scales.input;
  model.layers.push_back({quantise_convolution(network, scales.conv, conv_scale), conv_scale});
  model.layers.push_back(first);
  model.layers.push_back(
      {quantise_dense(network.dense1_weights, network.dense1_bias, network.conv_outputs(),
                      network.hidden, scales.dense1, hidden_scale, "dense1 weight", "dense1 bias"),
       hidden_scale});
  model.layers.push_back(second);
  model.layers.push_back(
      {quantise_dense(network.dense2_weights, network.dense2_bias, network.hidden, network.classes,
                      scales.dense2, output_scale, "dense2 weight", "dense2 bias"),
       output_scale});
  validate_model(model);
  return model;
}

Model quantise(const FloatNetwork& network, const QuantisationScales& scales) {
  return quantise_with_activations(network, scales, [](int, double input_scale) {
    return model::Layer{SquareLayer{}, input_scale * input_scale};
  });
}

Model quantise(const FloatNetwork& network, const QuantisationChoice& choice) {
  return quantise(network, scales_for_choice(network, choice));
}

std::vector<uint64_t> plaintext_moduli(size_t count, int modulus_bits, uint64_t congruence) {
  return generate_ntt_primes(modulus_bits, count, congruence);
}

std::optional<int> plaintext_moduli_needed(const RangeReport& report, int max_moduli,
                                           int modulus_bits, uint64_t congruence) {
  if (max_moduli < 1) return std::nullopt;
  const std::vector<uint64_t> moduli =
      plaintext_moduli(static_cast<size_t>(max_moduli), modulus_bits, congruence);
  for (int count = 1; count <= max_moduli; ++count) {
    const std::vector<uint64_t> first(moduli.begin(), moduli.begin() + count);
    if (plaintext_moduli_suffice(report, first)) return count;
  }
  return std::nullopt;
}

double PlainEvaluation::accuracy() const {
  return images == 0 ? 0.0 : static_cast<double>(correct) / static_cast<double>(images);
}

double PlainEvaluation::agreement() const {
  return images == 0 ? 0.0 : static_cast<double>(agree_with_float) / static_cast<double>(images);
}

int predicted_class(std::span<const i128> outputs) {
  assert(!outputs.empty());
  return static_cast<int>(std::max_element(outputs.begin(), outputs.end()) - outputs.begin());
}

PlainEvaluation evaluate_integer_model(const Model& model, const LabelledImages& images,
                                       int threads, const FloatNetwork* reference) {
  const std::vector<int> float_classes =
      reference ? float_predictions(*reference, images, threads) : std::vector<int>{};
  return evaluate_integer_model(model, images, threads, float_classes);
}

PlainEvaluation evaluate_integer_model(const Model& model, const LabelledImages& images,
                                       int threads, std::span<const int> reference_classes) {
  if (!reference_classes.empty() && reference_classes.size() != images.size()) {
    throw std::invalid_argument(
        "evaluate_integer_model: " + std::to_string(reference_classes.size()) +
        " float classes for " + std::to_string(images.size()) + " images");
  }
  const bool with_reference = !reference_classes.empty();
  const CompiledModel compiled = compile_model(model);
  const std::array<int64_t, 256> pixels = pixel_table(model);
  const std::vector<int> float_classes =
      with_reference ? std::vector<int>(reference_classes.begin(), reference_classes.end())
                     : std::vector<int>(images.size(), -1);
  Tally total;
  std::exception_ptr error;
  const long count = static_cast<long>(images.size());
#pragma omp parallel num_threads(std::max(threads, 1))
  {
    Tally local;
    std::vector<int64_t> input;
#pragma omp for schedule(static)
    for (long i = 0; i < count; ++i) {
      const auto index = static_cast<size_t>(i);
      try {
        input.clear();
        for (uint8_t p : images.image(index))
          input.push_back(pixels[p]);
        const std::vector<i128> outputs = evaluate_plain(compiled, input);
        local.record(outputs, images.labels[index], float_classes[index]);
      } catch (...) {
#pragma omp critical
        if (!error) error = std::current_exception();
      }
    }
#pragma omp critical
    total.merge(local);
  }
  if (error) std::rethrow_exception(error);
  return to_evaluation(total, images.size(), with_reference);
}

PlainEvaluation evaluate_quantised_network(const Model& model, const LabelledImages& images,
                                           int threads, const FloatNetwork* reference) {
  require_quantised_shape(model);
  const std::vector<int> float_classes = reference ? float_predictions(*reference, images, threads)
                                                   : std::vector<int>(images.size(), -1);
  const ConvolutionStage conv = convolution_stage(model, images, threads);
  const HiddenStage hidden =
      hidden_stage(std::get<DenseLayer>(model.layers[2].operation), conv, threads);
  const Tally tally = output_stage(std::get<DenseLayer>(model.layers[4].operation), hidden, images,
                                   float_classes, threads);
  if (tally.overflow)
    throw std::overflow_error("evaluate_quantised_network: " + std::string(kOverflowFailure));
  return to_evaluation(tally, images.size(), reference != nullptr);
}

bool more_faithful(const QuantisationResult& a, const QuantisationResult& b) {
  // Fractions compared by cross-multiplication, exact whatever the image counts.
  const auto compare = [](size_t count_a, size_t images_a, size_t count_b, size_t images_b) {
    const u128 left = static_cast<u128>(count_a) * images_b;
    const u128 right = static_cast<u128>(count_b) * images_a;
    return left < right ? -1 : (left > right ? 1 : 0);
  };
  const int agreement =
      compare(a.test.agree_with_float, a.test.images, b.test.agree_with_float, b.test.images);
  if (agreement != 0) return agreement > 0;
  const int accuracy = compare(a.test.correct, a.test.images, b.test.correct, b.test.images);
  if (accuracy != 0) return accuracy > 0;
  return a.worst_case_bits < b.worst_case_bits;
}

std::optional<size_t> choose_default(std::span<const QuantisationResult> results,
                                     double min_accuracy) {
  std::optional<size_t> best;
  auto better = [&](const QuantisationResult& a, const QuantisationResult& b) {
    if (*a.moduli != *b.moduli) return *a.moduli < *b.moduli;
    return more_faithful(a, b);
  };
  for (size_t i = 0; i < results.size(); ++i) {
    const QuantisationResult& r = results[i];
    if (r.failure || !r.evaluated || !r.moduli || r.test.images == 0) continue;
    if (r.test.accuracy() < min_accuracy) continue;
    if (!best || better(r, results[*best])) best = i;
  }
  return best;
}

SweepSummary summarise_sweep(std::span<const QuantisationResult> results) {
  SweepSummary summary;
  summary.points = results.size();
  for (const QuantisationResult& r : results) {
    if (r.evaluated && !r.failure) ++summary.evaluated;
    // A failed quantisation leaves nothing tracked: no moduli count, no worst case.
    if (r.failure && !r.evaluated && !r.moduli && r.worst_case_bits == 0) {
      ++summary.unrepresentable;
      continue;
    }
    if (r.failure && !r.evaluated) {
      if (summary.evaluation_failures++ == 0) summary.evaluation_failure = *r.failure;
    }
    summary.widest_worst_case_bits =
        std::max(summary.widest_worst_case_bits.value_or(0), r.worst_case_bits);
  }
  return summary;
}

std::string describe_sweep(const SweepSummary& summary, int max_moduli,
                           const std::string& unrepresentable_why) {
  std::ostringstream out;
  const size_t representable = summary.points - summary.unrepresentable;
  if (representable == 0) {
    out << "No point is representable: " << unrepresentable_why;
  } else if (summary.unrepresentable > 0) {
    out << counted(summary.unrepresentable, "point is", "points are")
        << " not representable: " << unrepresentable_why
        << "; the widest representable point has a worst case of "
        << summary.widest_worst_case_bits.value_or(0) << " bits";
  } else {
    out << "Every point is representable; the widest has a worst case of "
        << summary.widest_worst_case_bits.value_or(0) << " bits";
  }
  out << ". ";
  const std::string moduli = counted(max_moduli, "plaintext modulus", "plaintext moduli");
  if (summary.evaluated > 0) {
    out << counted(summary.evaluated, "point needs", "points need") << " at most " << moduli
        << " and " << (summary.evaluated == 1 ? "was" : "were") << " evaluated on the test set";
  }
  if (summary.evaluation_failures > 0) {
    out << (summary.evaluated > 0 ? "; " : "")
        << counted(summary.evaluation_failures, "point needs", "points need") << " at most "
        << moduli << " but could not be evaluated (" << summary.evaluation_failure << ")";
  }
  if (summary.evaluated == 0 && summary.evaluation_failures == 0) {
    out << "No point was evaluated on the test set ("
        << (representable > 0 ? "each representable point needs more than " + moduli
                              : std::string("none is representable"))
        << ")";
  }
  out << ".";
  return out.str();
}

namespace {

// Quantisation and worst-case range of one choice, without evaluation; nullopt model on failure.
std::optional<Model> quantise_and_track(const FloatNetwork& network,
                                        const QuantisationChoice& choice,
                                        QuantisationResult& result) {
  result.choice = choice;
  result.scales = scales_for_choice(network, choice);
  std::optional<Model> model;
  try {
    model = quantise(network, result.scales);
  } catch (const std::overflow_error&) {
    result.failure = kParameterOverflowFailure;
    return std::nullopt;
  }
  const RangeReport report = track_ranges(*model);
  result.worst_case_bits = report.output_bits();
  result.moduli = plaintext_moduli_needed(report);
  return model;
}

}  // namespace

QuantisationResult measure_quantisation(const FloatNetwork& network,
                                        const QuantisationChoice& choice,
                                        const LabelledImages& test, int threads) {
  QuantisationResult result;
  const std::optional<Model> model = quantise_and_track(network, choice, result);
  if (!model) return result;
  try {
    result.test = evaluate_quantised_network(*model, test, threads, &network);
    result.evaluated = true;
  } catch (const std::overflow_error&) {
    result.failure = kOverflowFailure;
  }
  return result;
}

std::vector<QuantisationResult> sweep_quantisations(
    const FloatNetwork& network, const LabelledImages& test, const SweepGrid& grid, int threads,
    const std::function<void(size_t, size_t)>& progress) {
  if (grid.min_bits < 1 || grid.max_conv_bits < grid.min_bits ||
      grid.max_dense1_bits < grid.min_bits || grid.max_dense2_bits < grid.min_bits) {
    throw std::invalid_argument("sweep_quantisations: empty or invalid range of weight bits");
  }
  require_network_shape(network);
  const std::vector<int> float_classes = float_predictions(network, test, threads);
  const size_t dense1_choices = static_cast<size_t>(grid.max_dense1_bits - grid.min_bits + 1);
  const size_t dense2_choices = static_cast<size_t>(grid.max_dense2_bits - grid.min_bits + 1);
  const size_t total = grid.input_scales.size() *
                       static_cast<size_t>(grid.max_conv_bits - grid.min_bits + 1) *
                       dense1_choices * dense2_choices;
  std::vector<QuantisationResult> results;
  results.reserve(total);

  for (double input_scale : grid.input_scales) {
    for (int conv_bits = grid.min_bits; conv_bits <= grid.max_conv_bits; ++conv_bits) {
      // Every (dense1, dense2) point of this convolution: its model, if it is to be evaluated.
      const size_t first = results.size();
      std::vector<std::optional<Model>> models;
      for (int d1 = grid.min_bits; d1 <= grid.max_dense1_bits; ++d1) {
        for (int d2 = grid.min_bits; d2 <= grid.max_dense2_bits; ++d2) {
          QuantisationResult result;
          std::optional<Model> model =
              quantise_and_track(network, {input_scale, {conv_bits, d1, d2}}, result);
          if (!result.moduli || *result.moduli > grid.max_moduli) model.reset();
          models.push_back(std::move(model));
          results.push_back(std::move(result));
        }
      }
      const auto any_model = [](auto begin, auto end) {
        return std::any_of(begin, end, [](const std::optional<Model>& m) { return m.has_value(); });
      };
      if (any_model(models.begin(), models.end())) {
        const Model& some = **std::find_if(models.begin(), models.end(),
                                           [](const auto& m) { return m.has_value(); });
        const ConvolutionStage conv = convolution_stage(some, test, threads);
        for (size_t d1 = 0; d1 < dense1_choices; ++d1) {
          const auto row = models.begin() + static_cast<long>(d1 * dense2_choices);
          if (!any_model(row, row + static_cast<long>(dense2_choices))) continue;
          const Model& model_d1 = **std::find_if(row, row + static_cast<long>(dense2_choices),
                                                 [](const auto& m) { return m.has_value(); });
          const HiddenStage hidden =
              hidden_stage(std::get<DenseLayer>(model_d1.layers[2].operation), conv, threads);
          for (size_t d2 = 0; d2 < dense2_choices; ++d2) {
            const std::optional<Model>& model = models[d1 * dense2_choices + d2];
            if (!model) continue;
            QuantisationResult& result = results[first + d1 * dense2_choices + d2];
            const Tally tally = output_stage(std::get<DenseLayer>(model->layers[4].operation),
                                             hidden, test, float_classes, threads);
            if (tally.overflow) {
              result.failure = kOverflowFailure;
            } else {
              result.test = to_evaluation(tally, test.size(), true);
              result.evaluated = true;
            }
          }
        }
      }
      if (progress) progress(results.size(), total);
    }
  }
  return results;
}

}  // namespace cryptonets::training
