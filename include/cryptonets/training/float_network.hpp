// The floating-point CryptoNets network (Gilad-Bachrach et al., "CryptoNets: Applying Neural
// Networks to Encrypted Data with High Throughput and Accuracy", ICML 2016, §4.1 and Table 1),
// trained in float32 and later quantised to the integer Model (model/model.hpp).
//
//   input    28×28 pixels p, scaled to p / 255 in [0, 1], zero-padded to 29×29 on the upper and
//            left sides (Table 1: "a padding is added to the upper side and left side")
//   conv     conv_maps (5) maps of 5×5 windows, stride 2, with bias → conv_maps × 13 × 13 = 845
//   square
//   dense    845 → hidden (100), with bias. Table 1's layers 3–6 (scaled mean pool, 5×5 stride-2
//            convolution, scaled mean pool, fully connected) are all linear, and §4.1 collapses
//            them into one layer for inference; we train that single dense layer directly.
//   square
//   dense    hidden → classes (10 for MNIST; the data set's labels decide), with bias: the class
//            scores (the sigmoid/softmax of the paper is monotone and is only needed for
//            training).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <span>
#include <string>
#include <vector>

namespace cryptonets::training {

// A view of labelled 28×28 images in MNIST layout (row-major, 0 = background).
struct LabelledImages {
  std::span<const uint8_t> pixels;  // size() · 784
  std::span<const uint8_t> labels;  // class indices

  size_t size() const { return labels.size(); }
  std::span<const uint8_t> image(size_t index) const;
};

struct FloatNetwork {
  static constexpr int kImageSide = 28;
  static constexpr int kImagePixels = kImageSide * kImageSide;
  static constexpr int kPadTop = 1;  // padded[y][x] = image[y - 1][x - 1], zero in row/column 0
  static constexpr int kPadLeft = 1;
  static constexpr int kPaddedSide = 29;
  static constexpr int kKernelSide = 5;
  static constexpr int kStride = 2;
  static constexpr int kConvSide = (kPaddedSide - kKernelSide) / kStride + 1;  // 13
  static constexpr int kMaxClasses = 256;  // labels are IDX unsigned bytes
  static constexpr float kPixelDivisor = 255.0f;

  int conv_maps = 5;
  int hidden = 100;
  int classes = 10;
  // conv[m][y][x] = conv_bias[m] + Σ_{ky,kx} conv_weights[(m·5 + ky)·5 + kx] · padded[2y+ky][2x+kx]
  std::vector<float> conv_weights;  // conv_maps · 5 · 5
  std::vector<float> conv_bias;     // conv_maps
  // Input index of the flattened convolution output: (m · 13 + y) · 13 + x.
  std::vector<float> dense1_weights;  // hidden · conv_outputs(), row-major [output][input]
  std::vector<float> dense1_bias;     // hidden
  std::vector<float> dense2_weights;  // classes · hidden, row-major [class][input]
  std::vector<float> dense2_bias;     // classes

  int conv_outputs() const { return conv_maps * kConvSide * kConvSide; }
  bool operator==(const FloatNetwork&) const = default;
};

inline constexpr size_t kFloatNetworkBlocks = 6;

// All parameters zero. Throws std::invalid_argument unless conv_maps and hidden are positive and
// 2 <= classes <= kMaxClasses.
FloatNetwork make_zero_float_network(int conv_maps = 5, int hidden = 100, int classes = 10);

// The number of classes that labels imply: the largest label + 1. Throws std::invalid_argument,
// naming `source`, for an empty list or fewer than two classes.
int class_count(std::span<const uint8_t> labels, const std::string& source);

// Throws std::invalid_argument, naming `source` and the first offending label, unless every label
// is below `classes`.
void require_labels_below(std::span<const uint8_t> labels, int classes, const std::string& source);

// Throws std::invalid_argument, naming `source`, `model` and both counts, unless the labels imply
// (class_count) exactly `outputs` classes. A model has one output per class of the labels it was
// trained on (cryptonets-train), so a model with other outputs is for another data set: its
// scores would be read as classes the data do not have (a trial: the 10-class MNIST model on a
// 4-class set, 40 % accuracy and exit 0). Call it after require_labels_below.
void require_classes_match(std::span<const uint8_t> labels, int outputs, const std::string& source,
                           const std::string& model);

// The six parameter vectors in the order conv_weights, conv_bias, dense1_weights, dense1_bias,
// dense2_weights, dense2_bias, so that optimisers and gradients treat them uniformly.
std::array<std::span<float>, kFloatNetworkBlocks> parameter_blocks(FloatNetwork& network);
std::array<std::span<const float>, kFloatNetworkBlocks> parameter_blocks(
    const FloatNetwork& network);
size_t parameter_count(const FloatNetwork& network);

// The intermediate values of one forward pass, kept for back-propagation.
struct ForwardTrace {
  std::vector<float> padded;  // 29 · 29 scaled input
  std::vector<float> conv;    // conv_outputs(), before the square
  std::vector<float> conv_squared;
  std::vector<float> hidden;  // hidden, before the square
  std::vector<float> hidden_squared;
  std::vector<float> scores;  // classes
};

using ClassScores = std::vector<float>;  // one score per class

// p / 255 for each pixel, placed in the 29×29 zero-padded frame.
void pad_and_scale_image(std::span<const uint8_t> image, std::span<float> padded);

// Fills trace (resizing its buffers only when the network's shape changed).
void forward(const FloatNetwork& network, std::span<const uint8_t> image, ForwardTrace& trace);
ClassScores forward(const FloatNetwork& network, std::span<const uint8_t> image);

// The index of the largest score (the first one on ties).
int predicted_class(std::span<const float> scores);

// Fraction of images whose predicted class equals the label, over `threads` OpenMP threads.
double accuracy(const FloatNetwork& network, const LabelledImages& images, int threads = 1);

// Versioned text format "cryptonets-float-model 1"; floats are written in shortest round-trip
// form, so loading gives back exactly the same network. Its comment line says how the hidden
// dense layer was trained: as one layer (`merged_layers` 0), or as `merged_layers` linear layers
// merged into it afterwards (merge_linear_runs: cryptonets-train --merged, where "trained as one
// dense layer" was untrue).
void write_float_network(const FloatNetwork& network, std::ostream& out, size_t merged_layers = 0);
// Throws std::runtime_error naming `source` and the offending token on any malformed input.
FloatNetwork read_float_network(std::istream& in, const std::string& source);
void save_float_network(const FloatNetwork& network, const std::filesystem::path& path);
FloatNetwork load_float_network(const std::filesystem::path& path);

}  // namespace cryptonets::training
