// The integer neural-network model: the CryptoNets family of networks (Gilad-Bachrach et al.,
// "CryptoNets", ICML 2016, §4.1 and Table 1), with every weight and bias a signed integer so that
// the network is a polynomial with integer coefficients and can be evaluated exactly over Z, over
// Z_t, or on YASHE' ciphertexts.
//
// Tensors are (channels, height, width), stored row-major: index = (c · height + y) · width + x.
// A flat vector of n values is the shape (n, 1, 1); Flatten only relabels the shape.
//
// Scales (metadata, never used by the integer arithmetic): every integer value v of the model
// stands for the real value v / scale of the floating-point network it was quantised from.
//   * The float network's input is the pixel intensity p / 255 in [0, 1]; the integer input is
//     round(p · input_scale / 255) (see quantise_pixel). input_scale = 255 feeds the raw pixel.
//   * Layer::scale is the scale of that layer's output (e.g. a Square of a scale-s input has
//     scale s², a linear layer with weights quantised at scale w has scale s · w, a polynomial
//     layer whose float polynomial was quantised at output scale S has scale S).
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace cryptonets::model {

// |weight| and |bias| must stay below 2^60: int64 storage with headroom for negation and for the
// products that merge_linear_layers forms (merged weights are products of small weights).
inline constexpr int64_t kMaxParameterMagnitude = int64_t{1} << 60;

// The input scale must be below 2^63 so that the largest input, round(input_scale), is an int64_t
// (max_input_value): a larger one overflowed the conversion (found by a trial: a model with input
// scale 1e19 gave "track_ranges: max_input must be >= 0, got -9223372036854775808").
inline constexpr double kInputScaleLimit = 0x1p63;

struct Shape {
  int64_t channels = 0;
  int64_t height = 1;
  int64_t width = 1;

  int64_t size() const { return channels * height * width; }
  bool operator==(const Shape&) const = default;
};

// Implicit zero padding around the spatial dimensions, in pixels.
struct Padding {
  int64_t top = 0;
  int64_t left = 0;
  int64_t bottom = 0;
  int64_t right = 0;

  bool operator==(const Padding&) const = default;
};

// out[o][y][x] = bias[o] + Σ_{i,ky,kx} weights[o][i][ky][kx] · in_padded[i][y·sy + ky][x·sx + kx]
// Output size per dimension: (in + pad_before + pad_after - kernel) / stride + 1 (floor).
struct ConvolutionLayer {
  int64_t in_maps = 0;
  int64_t out_maps = 0;
  int64_t kernel_height = 0;
  int64_t kernel_width = 0;
  int64_t stride_y = 1;
  int64_t stride_x = 1;
  Padding padding;
  std::vector<int64_t> weights;  // out_maps · in_maps · kernel_height · kernel_width, row-major
  std::vector<int64_t> bias;     // out_maps

  bool operator==(const ConvolutionLayer&) const = default;
};

// out[o] = bias[o] + Σ_i weights[o][i] · in[i], the input read row-major whatever its shape.
struct DenseLayer {
  int64_t inputs = 0;
  int64_t outputs = 0;
  std::vector<int64_t> weights;  // outputs · inputs, row-major
  std::vector<int64_t> bias;     // outputs

  bool operator==(const DenseLayer&) const = default;
};

// CryptoNets' "scaled mean pool": the SUM over each window of each channel (the mean without the
// division by the window size, which is absorbed into the scale). Same output size rule as
// ConvolutionLayer; padded positions count as zeros.
struct ScaledMeanPoolLayer {
  int64_t window_height = 0;
  int64_t window_width = 0;
  int64_t stride_y = 1;
  int64_t stride_x = 1;
  Padding padding;

  bool operator==(const ScaledMeanPoolLayer&) const = default;
};

// Element-wise x², the CryptoNets activation (§4.1: the square replaces the sigmoid/ReLU).
struct SquareLayer {
  bool operator==(const SquareLayer&) const = default;
};

// Element-wise p(x) = Σ_i coefficients[i] · x^i of degree 1..3, the polynomial activations of
// Crypto-Nets (Xie, Bilenko, Finley, Gilad-Bachrach, Lauter, Naehrig, arXiv 1412.6181, 2014: a
// low-degree polynomial replaces the sigmoid/ReLU). The coefficients are integers at the layer's
// scale: for an input at scale s and a float polynomial Σ a_i·x^i quantised at output scale S,
// coefficients[i] = round(S · a_i / s^i). Degree 2 reads A·x² + B·x + C with
// coefficients {C, B, A}; degree 3 adds D·x³. The leading coefficient is non-zero and every
// |coefficient| < kMaxPolynomialCoefficient. Evaluated exactly as written over Z by the model's
// reference semantics; compile_model (layers.hpp) turns degree 2 into the square of an affine map
// and scales the network's outputs by a known factor (CompiledModel::output_factor).
struct PolynomialLayer {
  std::vector<int64_t> coefficients;  // lowest degree first: 2 to 4 entries

  int degree() const { return static_cast<int>(coefficients.size()) - 1; }
  bool operator==(const PolynomialLayer&) const = default;
};

inline constexpr int kMinPolynomialDegree = 1;
inline constexpr int kMaxPolynomialDegree = 3;
// |coefficient| < 2^60, as for weights: 2A (the affine map of the degree-2 route) and the
// products compile_model forms are then checked against kMaxParameterMagnitude.
inline constexpr int64_t kMaxPolynomialCoefficient = kMaxParameterMagnitude;

// (c, h, w) -> (c·h·w, 1, 1); the data is unchanged.
struct FlattenLayer {
  bool operator==(const FlattenLayer&) const = default;
};

using LayerOperation = std::variant<ConvolutionLayer, SquareLayer, DenseLayer, ScaledMeanPoolLayer,
                                    FlattenLayer, PolynomialLayer>;

struct Layer {
  LayerOperation operation;
  double scale = 1.0;  // scale of this layer's output relative to the float network

  bool operator==(const Layer&) const = default;
};

struct Model {
  Shape input_shape;
  double input_scale = 255.0;  // integer input = round(p · input_scale / 255) for pixel p
  std::vector<Layer> layers;

  bool operator==(const Model&) const = default;
};

// Linear layers (convolution, dense, pool, flatten) are affine maps over Z; Square and Polynomial
// (even of degree 1, an element-wise affine map) are not merged.
bool is_linear(const Layer& layer);

// Whether some layer is a PolynomialLayer (such a model needs model-file format version 2).
bool has_polynomial_layer(const Model& model);

// "conv", "square", "dense", "pool", "flatten", "poly" (the model-file keywords).
std::string layer_name(const Layer& layer);

// The shape a layer produces from the given input shape. Throws std::invalid_argument if the layer
// does not accept that shape (wrong channel count, window larger than the padded input, ...).
Shape output_shape(const Layer& layer, const Shape& input);

// shapes[0] = input shape, shapes[i + 1] = output shape of layer i. Validates as validate_model.
std::vector<Shape> layer_shapes(const Model& model);

// Checks everything: positive dimensions and strides, non-negative padding, weight and bias counts,
// |parameters| < kMaxParameterMagnitude, polynomial degrees in [1, 3] with a non-zero leading
// coefficient, shapes consistent from layer to layer, finite positive scales, an input scale below
// kInputScaleLimit. Throws std::invalid_argument naming the layer (by index and kind) and the
// problem.
void validate_model(const Model& model);

// The largest integer input: round(input_scale), the image of a white pixel (p = 255).
int64_t max_input_value(const Model& model);

// round(p · input_scale / 255) for a pixel p in [0, 255].
int64_t quantise_pixel(const Model& model, uint8_t pixel);
std::vector<int64_t> quantise_pixels(const Model& model, const std::vector<uint8_t>& pixels);

// Replaces each maximal run of consecutive linear layers by one Dense layer with the composed
// weights and biases, computed exactly over Z (CryptoNets §4.1: "the layers ... can be collapsed
// into a single layer at inference"). The merged layer takes the scale of the run's last layer.
// Runs made only of Flatten layers become a single Flatten; a single-layer run is kept as is, and
// so is a run whose output is spatial (height or width > 1), since a Dense layer's output is flat.
// Throws std::overflow_error if a composed parameter reaches kMaxParameterMagnitude.
Model merge_linear_layers(const Model& model);

}  // namespace cryptonets::model
