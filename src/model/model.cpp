#include "cryptonets/model/model.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "cryptonets/model/layers.hpp"

namespace cryptonets::model {

namespace {

// Dimension limits keep every size product (c · h · w, out · in · kh · kw) far from int64
// overflow and every index within the uint32 of LinearTerm.
constexpr int64_t kMaxDimension = int64_t{1} << 20;
constexpr int64_t kMaxTensorSize = int64_t{1} << 28;

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;  // C++17 form: clang 14 lacks C++20 aggregate CTAD

[[noreturn]] void fail(const std::string& message) {
  throw std::invalid_argument(message);
}

void require_dimension(int64_t value, const char* what) {
  if (value < 1 || value > kMaxDimension) {
    fail(std::string(what) + " must be in [1, 2^20], got " + std::to_string(value));
  }
}

void require_padding(const Padding& padding) {
  for (int64_t p : {padding.top, padding.left, padding.bottom, padding.right}) {
    if (p < 0 || p > kMaxDimension) {
      fail("padding must be in [0, 2^20], got " + std::to_string(p));
    }
  }
}

void require_parameters(const std::vector<int64_t>& values, size_t expected_count,
                        const char* what) {
  if (values.size() != expected_count) {
    fail(std::string(what) + " count is " + std::to_string(values.size()) + ", expected " +
         std::to_string(expected_count));
  }
  for (int64_t v : values) {
    if (v <= -kMaxParameterMagnitude || v >= kMaxParameterMagnitude) {
      fail(std::string(what) + " value " + std::to_string(v) + " is outside (-2^60, 2^60)");
    }
  }
}

// Output extent of a window sliding over a padded extent (the floor rule of model.hpp).
int64_t window_positions(int64_t extent, int64_t pad_before, int64_t pad_after, int64_t window,
                         int64_t stride, const char* axis) {
  int64_t padded = extent + pad_before + pad_after;
  if (window > padded) {
    fail(std::string("window ") + axis + " " + std::to_string(window) +
         " is larger than the padded input " + axis + " " + std::to_string(padded));
  }
  return (padded - window) / stride + 1;
}

Shape sliding_window_shape(const Shape& input, int64_t channels, int64_t window_height,
                           int64_t window_width, int64_t stride_y, int64_t stride_x,
                           const Padding& padding) {
  require_dimension(window_height, "window height");
  require_dimension(window_width, "window width");
  require_dimension(stride_y, "vertical stride");
  require_dimension(stride_x, "horizontal stride");
  require_padding(padding);
  return Shape{
      channels,
      window_positions(input.height, padding.top, padding.bottom, window_height, stride_y,
                       "height"),
      window_positions(input.width, padding.left, padding.right, window_width, stride_x, "width")};
}

Shape convolution_shape(const ConvolutionLayer& conv, const Shape& input) {
  require_dimension(conv.in_maps, "input map count");
  require_dimension(conv.out_maps, "output map count");
  if (input.channels != conv.in_maps) {
    fail("the convolution expects " + std::to_string(conv.in_maps) + " input maps, the input has " +
         std::to_string(input.channels) + " channels");
  }
  Shape out = sliding_window_shape(input, conv.out_maps, conv.kernel_height, conv.kernel_width,
                                   conv.stride_y, conv.stride_x, conv.padding);
  int64_t kernel_size = conv.in_maps * conv.kernel_height * conv.kernel_width;
  if (kernel_size > kMaxTensorSize || conv.out_maps * kernel_size > kMaxTensorSize) {
    fail("the convolution has more than 2^28 weights");
  }
  require_parameters(conv.weights, static_cast<size_t>(conv.out_maps * kernel_size), "weight");
  require_parameters(conv.bias, static_cast<size_t>(conv.out_maps), "bias");
  return out;
}

Shape dense_shape(const DenseLayer& dense, const Shape& input) {
  require_dimension(dense.inputs, "dense input count");
  require_dimension(dense.outputs, "dense output count");
  if (input.size() != dense.inputs) {
    fail("the dense layer expects " + std::to_string(dense.inputs) + " inputs, the input has " +
         std::to_string(input.size()) + " values");
  }
  if (dense.inputs * dense.outputs > kMaxTensorSize)
    fail("the dense layer has more than 2^28 weights");
  require_parameters(dense.weights, static_cast<size_t>(dense.inputs * dense.outputs), "weight");
  require_parameters(dense.bias, static_cast<size_t>(dense.outputs), "bias");
  return Shape{dense.outputs, 1, 1};
}

void require_polynomial(const PolynomialLayer& poly) {
  const int degree = poly.degree();
  if (degree < kMinPolynomialDegree || degree > kMaxPolynomialDegree) {
    fail("polynomial degree must be in [" + std::to_string(kMinPolynomialDegree) + ", " +
         std::to_string(kMaxPolynomialDegree) + "], got " + std::to_string(degree) + " (" +
         std::to_string(poly.coefficients.size()) + " coefficients)");
  }
  for (int64_t c : poly.coefficients) {
    if (c <= -kMaxPolynomialCoefficient || c >= kMaxPolynomialCoefficient) {
      fail("polynomial coefficient " + std::to_string(c) + " is outside (-2^60, 2^60)");
    }
  }
  if (poly.coefficients.back() == 0) {
    fail("the leading coefficient (of x^" + std::to_string(degree) +
         ") is 0: write the polynomial with its true degree");
  }
}

void require_shape(const Shape& shape) {
  require_dimension(shape.channels, "channel count");
  require_dimension(shape.height, "height");
  require_dimension(shape.width, "width");
  if (shape.size() > kMaxTensorSize) fail("a tensor has more than 2^28 values");
}

void require_scale(double scale, const std::string& what) {
  if (!std::isfinite(scale) || scale <= 0) {
    fail(what + " must be finite and positive, got " + std::to_string(scale));
  }
}

}  // namespace

bool is_linear(const Layer& layer) {
  return !std::holds_alternative<SquareLayer>(layer.operation) &&
         !std::holds_alternative<PolynomialLayer>(layer.operation);
}

bool has_polynomial_layer(const Model& model) {
  return std::any_of(model.layers.begin(), model.layers.end(), [](const Layer& layer) {
    return std::holds_alternative<PolynomialLayer>(layer.operation);
  });
}

std::string layer_name(const Layer& layer) {
  return std::visit(Overloaded{[](const ConvolutionLayer&) { return "conv"; },
                               [](const SquareLayer&) { return "square"; },
                               [](const DenseLayer&) { return "dense"; },
                               [](const ScaledMeanPoolLayer&) { return "pool"; },
                               [](const FlattenLayer&) { return "flatten"; },
                               [](const PolynomialLayer&) { return "poly"; }},
                    layer.operation);
}

Shape output_shape(const Layer& layer, const Shape& input) {
  require_shape(input);
  Shape out = std::visit(
      Overloaded{[&](const ConvolutionLayer& conv) { return convolution_shape(conv, input); },
                 [&](const SquareLayer&) { return input; },
                 [&](const DenseLayer& dense) { return dense_shape(dense, input); },
                 [&](const ScaledMeanPoolLayer& pool) {
                   return sliding_window_shape(input, input.channels, pool.window_height,
                                               pool.window_width, pool.stride_y, pool.stride_x,
                                               pool.padding);
                 },
                 [&](const FlattenLayer&) {
                   return Shape{input.size(), 1, 1};
                 },
                 [&](const PolynomialLayer& poly) {
                   require_polynomial(poly);
                   return input;
                 }},
      layer.operation);
  require_shape(out);
  return out;
}

std::vector<Shape> layer_shapes(const Model& model) {
  std::vector<Shape> shapes{model.input_shape};
  try {
    require_shape(model.input_shape);
  } catch (const std::invalid_argument& e) {
    fail(std::string("model input: ") + e.what());
  }
  for (size_t i = 0; i < model.layers.size(); ++i) {
    const Layer& layer = model.layers[i];
    try {
      require_scale(layer.scale, "scale");
      shapes.push_back(output_shape(layer, shapes.back()));
    } catch (const std::invalid_argument& e) {
      fail("layer " + std::to_string(i + 1) + " (" + layer_name(layer) + "): " + e.what());
    }
  }
  return shapes;
}

void validate_model(const Model& model) {
  require_scale(model.input_scale, "model input scale");
  if (!(model.input_scale < kInputScaleLimit)) {
    fail("model input scale must be below 2^63, got " + std::to_string(model.input_scale));
  }
  layer_shapes(model);
}

int64_t max_input_value(const Model& model) {
  return static_cast<int64_t>(std::llround(model.input_scale));
}

int64_t quantise_pixel(const Model& model, uint8_t pixel) {
  return static_cast<int64_t>(std::llround(pixel * model.input_scale / 255.0));
}

std::vector<int64_t> quantise_pixels(const Model& model, const std::vector<uint8_t>& pixels) {
  std::vector<int64_t> out;
  out.reserve(pixels.size());
  for (uint8_t p : pixels)
    out.push_back(quantise_pixel(model, p));
  return out;
}

namespace {

bool is_flatten(const Layer& layer) {
  return std::holds_alternative<FlattenLayer>(layer.operation);
}

// Merges layers [begin, end), all linear, whose input has shape `input`.
Layer merge_run(const Model& model, size_t begin, size_t end, Shape input) {
  bool only_flatten = true;
  for (size_t i = begin; i < end; ++i)
    only_flatten = only_flatten && is_flatten(model.layers[i]);
  if (only_flatten) return Layer{FlattenLayer{}, model.layers[end - 1].scale};
  if (end - begin == 1) return model.layers[begin];

  LinearMap merged = linear_map_of(model.layers[begin], input);
  input = output_shape(model.layers[begin], input);
  for (size_t i = begin + 1; i < end; ++i) {
    merged = compose(merged, linear_map_of(model.layers[i], input));
    input = output_shape(model.layers[i], input);
  }
  return Layer{to_dense_layer(merged), model.layers[end - 1].scale};
}

}  // namespace

Model merge_linear_layers(const Model& model) {
  std::vector<Shape> shapes = layer_shapes(model);
  require_scale(model.input_scale, "model input scale");
  Model merged{model.input_shape, model.input_scale, {}};
  size_t i = 0;
  while (i < model.layers.size()) {
    if (!is_linear(model.layers[i])) {
      merged.layers.push_back(model.layers[i++]);
      continue;
    }
    size_t end = i;
    while (end < model.layers.size() && is_linear(model.layers[end]))
      ++end;
    if (shapes[end].height == 1 && shapes[end].width == 1) {
      merged.layers.push_back(merge_run(model, i, end, shapes[i]));
    } else {
      // A Dense layer cannot give back the spatial shape that later layers may rely on.
      merged.layers.insert(merged.layers.end(), model.layers.begin() + i,
                           model.layers.begin() + end);
    }
    i = end;
  }
  return merged;
}

}  // namespace cryptonets::model
