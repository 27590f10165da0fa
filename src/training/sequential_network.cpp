// Forward and backward passes, merging, training and the text format of SequentialNetwork.
#include "cryptonets/training/sequential_network.hpp"

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <istream>
#include <numbers>
#include <numeric>
#include <ostream>
#include <sstream>
#include <stdexcept>

#include "cryptonets/arith/format.hpp"

namespace cryptonets::training {
namespace {

constexpr int kPaddedPixels = FloatNetwork::kPaddedSide * FloatNetwork::kPaddedSide;

// out = layer(in), for float (training) or double (reference, merging).
template <typename T>
void layer_forward(const SequentialLayer& layer, const T* in, T* out) {
  switch (layer.kind) {
    case LayerKind::kConvolution: {
      const int os = layer.out_side(), k = layer.kernel, s = layer.side;
      for (int m = 0; m < layer.maps; ++m) {
        for (int y = 0; y < os; ++y) {
          for (int x = 0; x < os; ++x) {
            T sum = layer.bias[m];
            for (int c = 0; c < layer.channels; ++c) {
              const float* kernel = &layer.weights[size_t((m * layer.channels + c) * k * k)];
              for (int ky = 0; ky < k; ++ky) {
                const T* row = &in[(c * s + layer.stride * y + ky) * s + layer.stride * x];
                for (int kx = 0; kx < k; ++kx)
                  sum += T(kernel[ky * k + kx]) * row[kx];
              }
            }
            out[(m * os + y) * os + x] = sum;
          }
        }
      }
      break;
    }
    case LayerKind::kSumPool: {
      const int s = layer.side, half = layer.pool_window / 2;
      for (int c = 0; c < layer.channels; ++c) {
        for (int y = 0; y < s; ++y) {
          for (int x = 0; x < s; ++x) {
            T sum = 0;
            for (int yy = std::max(0, y - half); yy <= std::min(s - 1, y + half); ++yy) {
              for (int xx = std::max(0, x - half); xx <= std::min(s - 1, x + half); ++xx)
                sum += in[(c * s + yy) * s + xx];
            }
            out[(c * s + y) * s + x] = sum;
          }
        }
      }
      break;
    }
    case LayerKind::kDense:
      for (int o = 0; o < layer.outputs; ++o) {
        const float* row = &layer.weights[size_t(o) * layer.inputs];
        T sum = layer.bias[o];
#pragma omp simd reduction(+ : sum)
        for (int i = 0; i < layer.inputs; ++i)
          sum += T(row[i]) * in[i];
        out[o] = sum;
      }
      break;
    case LayerKind::kActivation:
      for (int i = 0; i < layer.inputs; ++i)
        out[i] = static_cast<T>(layer.activation.value(double(in[i])));
      break;
  }
}

// Scores → probabilities and −log p[label].
double softmax_cross_entropy(std::span<const float> scores, int label, std::vector<float>& p) {
  const float largest = *std::max_element(scores.begin(), scores.end());
  double total = 0.0;
  p.resize(scores.size());
  for (size_t k = 0; k < scores.size(); ++k) {
    p[k] = std::exp(scores[k] - largest);
    total += p[k];
  }
  for (float& v : p)
    v = static_cast<float>(v / total);
  return std::log(total) - (scores[label] - largest);
}

uint64_t uniform_below(std::mt19937_64& rng, uint64_t bound) {
  return rng() % bound;
}

float standard_normal(std::mt19937_64& rng) {
  constexpr double kTwoToMinus53 = 1.0 / 9007199254740992.0;
  const double u1 = (static_cast<double>(rng() >> 11) + 0.5) * kTwoToMinus53;
  const double u2 = static_cast<double>(rng() >> 11) * kTwoToMinus53;
  return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2));
}

std::vector<std::span<float>> parameter_blocks(SequentialNetwork& network) {
  std::vector<std::span<float>> blocks;
  for (SequentialLayer& layer : network.layers) {
    if (!layer.weights.empty()) blocks.emplace_back(layer.weights);
    if (!layer.bias.empty()) blocks.emplace_back(layer.bias);
  }
  return blocks;
}

SequentialNetwork zero_like(const SequentialNetwork& network) {
  SequentialNetwork zero = network;
  for (auto block : parameter_blocks(zero))
    std::fill(block.begin(), block.end(), 0.0f);
  return zero;
}

// Whether `a` has the layers and parameter block sizes of `b` (a gradient for it).
bool same_shape(const SequentialNetwork& a, const SequentialNetwork& b) {
  return std::equal(a.layers.begin(), a.layers.end(), b.layers.begin(), b.layers.end(),
                    [](const SequentialLayer& x, const SequentialLayer& y) {
                      return x.kind == y.kind && x.weights.size() == y.weights.size() &&
                             x.bias.size() == y.bias.size() && x.input_size() == y.input_size() &&
                             x.output_size() == y.output_size();
                    });
}

[[noreturn]] void malformed(const std::string& source, const std::string& problem) {
  throw std::runtime_error("sequential model '" + source + "': " + problem);
}

class TokenReader {
 public:
  TokenReader(std::istream& in, const std::string& source) : in_(in), source_(source) {}
  std::string next(const std::string& expected) {
    std::string token;
    for (;;) {
      if (!(in_ >> token)) malformed(source_, "unexpected end of file, expected " + expected);
      if (token.front() != '#') return token;
      std::string comment;
      std::getline(in_, comment);
      if (const std::string binary = binary_comment_message(token, comment); !binary.empty())
        malformed(source_, binary);
    }
  }
  void expect(const std::string& keyword) {
    const std::string token = next("'" + keyword + "'");
    if (token != keyword)
      malformed(source_, "found " + quoted_word(token) + ", expected '" + keyword + "'");
  }
  [[noreturn]] void fail(const std::string& problem) const { malformed(source_, problem); }
  int integer(const std::string& what, int low, int high) {
    const std::string token = next(what);
    int value = 0;
    const auto [end, error] = std::from_chars(token.data(), token.data() + token.size(), value);
    if (error != std::errc() || end != token.data() + token.size() || value < low || value > high) {
      malformed(source_, "found " + quoted_word(token) + ", expected an integer in [" +
                             std::to_string(low) + ", " + std::to_string(high) + "] (" + what +
                             ")");
    }
    return value;
  }
  template <typename T>
  T real(const std::string& what) {
    const std::string token = next(what);
    T value = 0;
    const auto [end, error] = std::from_chars(token.data(), token.data() + token.size(), value);
    if (error != std::errc() || end != token.data() + token.size() || !std::isfinite(value)) {
      malformed(source_,
                "found " + quoted_word(token) + ", expected a finite number (" + what + ")");
    }
    return value;
  }

 private:
  std::istream& in_;
  const std::string& source_;
};

template <typename T>
void write_values(std::ostream& out, const char* name, const std::vector<T>& values) {
  out << name << ' ' << values.size() << '\n';
  char buffer[32];
  for (size_t i = 0; i < values.size(); ++i) {
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, values[i]);
    assert(result.ec == std::errc());
    out.write(buffer, result.ptr - buffer);
    out << ((i + 1) % 10 == 0 || i + 1 == values.size() ? '\n' : ' ');
  }
}

void read_values(TokenReader& reader, const char* name, std::vector<float>& values) {
  reader.expect(name);
  const int count = reader.integer(std::string("count of ") + name, 0, 1 << 28);
  if (size_t(count) != values.size()) {
    reader.fail(std::string("count of ") + name + " is " + std::to_string(count) + ", expected " +
                std::to_string(values.size()));
  }
  for (float& value : values)
    value = reader.real<float>(name);
}

void check_shape(const SequentialNetwork& network) {
  if (network.layers.empty()) throw std::invalid_argument("sequential network: no layers");
  int size = kPaddedPixels;
  for (size_t l = 0; l < network.layers.size(); ++l) {
    const SequentialLayer& layer = network.layers[l];
    if (layer.input_size() != size) {
      throw std::invalid_argument("sequential network: layer " + std::to_string(l + 1) + " takes " +
                                  std::to_string(layer.input_size()) +
                                  " inputs, the previous layer gives " + std::to_string(size));
    }
    size = layer.output_size();
  }
}

}  // namespace

double Activation::value(double x) const {
  switch (kind) {
    case ActivationKind::kSquare:
      return x * x;
    case ActivationKind::kRelu:
      return x > 0 ? x : 0.0;
    case ActivationKind::kSigmoid:
      return 1.0 / (1.0 + std::exp(-x));
    case ActivationKind::kPolynomial: {
      double sum = 0.0;  // Horner
      for (size_t i = coefficients.size(); i-- > 0;)
        sum = sum * x + coefficients[i];
      return sum;
    }
  }
  return 0.0;
}

double Activation::derivative(double x) const {
  switch (kind) {
    case ActivationKind::kSquare:
      return 2.0 * x;
    case ActivationKind::kRelu:
      return x > 0 ? 1.0 : 0.0;
    case ActivationKind::kSigmoid: {
      const double s = 1.0 / (1.0 + std::exp(-x));
      return s * (1.0 - s);
    }
    case ActivationKind::kPolynomial: {
      double sum = 0.0;
      for (size_t i = coefficients.size(); i-- > 1;)
        sum = sum * x + double(i) * coefficients[i];
      return sum;
    }
  }
  return 0.0;
}

std::string Activation::name() const {
  switch (kind) {
    case ActivationKind::kSquare:
      return "square";
    case ActivationKind::kRelu:
      return "relu";
    case ActivationKind::kSigmoid:
      return "sigmoid";
    case ActivationKind::kPolynomial: {
      std::ostringstream out;
      out << "polynomial(";
      for (size_t i = 0; i < coefficients.size(); ++i)
        out << (i ? "," : "") << coefficients[i];
      out << ")";
      return out.str();
    }
  }
  return "";
}

Activation parse_activation(const std::string& text) {
  if (text == "square") return {ActivationKind::kSquare, {}};
  if (text == "relu") return {ActivationKind::kRelu, {}};
  if (text == "sigmoid") return {ActivationKind::kSigmoid, {}};
  throw std::invalid_argument("activation '" + text + "': expected square, relu or sigmoid");
}

int SequentialLayer::input_size() const {
  switch (kind) {
    case LayerKind::kConvolution:
      return channels * side * side;
    case LayerKind::kSumPool:
      return channels * side * side;
    case LayerKind::kDense:
    case LayerKind::kActivation:
      return inputs;
  }
  return 0;
}

int SequentialLayer::output_size() const {
  switch (kind) {
    case LayerKind::kConvolution:
      return maps * out_side() * out_side();
    case LayerKind::kSumPool:
      return channels * side * side;
    case LayerKind::kDense:
      return outputs;
    case LayerKind::kActivation:
      return inputs;
  }
  return 0;
}

namespace {

SequentialLayer convolution(int channels, int side, int maps, int kernel, int stride) {
  SequentialLayer layer;
  layer.kind = LayerKind::kConvolution;
  layer.channels = channels;
  layer.side = side;
  layer.maps = maps;
  layer.kernel = kernel;
  layer.stride = stride;
  layer.weights.assign(size_t(maps) * channels * kernel * kernel, 0.0f);
  layer.bias.assign(maps, 0.0f);
  return layer;
}

SequentialLayer activation_layer(int size, const Activation& activation) {
  SequentialLayer layer;
  layer.kind = LayerKind::kActivation;
  layer.inputs = size;
  layer.activation = activation;
  return layer;
}

SequentialLayer sum_pool(int channels, int side, int window) {
  SequentialLayer layer;
  layer.kind = LayerKind::kSumPool;
  layer.channels = channels;
  layer.side = side;
  layer.pool_window = window;
  return layer;
}

SequentialLayer dense(int inputs, int outputs) {
  SequentialLayer layer;
  layer.kind = LayerKind::kDense;
  layer.inputs = inputs;
  layer.outputs = outputs;
  layer.weights.assign(size_t(inputs) * outputs, 0.0f);
  layer.bias.assign(outputs, 0.0f);
  return layer;
}

}  // namespace

SequentialNetwork make_paper_training_network(int classes, int first_maps, int second_maps,
                                              int hidden, const Activation& activation) {
  if (classes < 2 || first_maps < 1 || second_maps < 1 || hidden < 1) {
    throw std::invalid_argument("paper training network: need classes >= 2 and positive sizes");
  }
  constexpr int side1 = FloatNetwork::kConvSide;  // 13
  constexpr int side2 = (side1 - 5) / 2 + 1;      // 5
  SequentialNetwork network;
  network.layers.push_back(convolution(1, FloatNetwork::kPaddedSide, first_maps, 5, 2));
  network.layers.push_back(activation_layer(first_maps * side1 * side1, activation));
  network.layers.push_back(sum_pool(first_maps, side1, 3));
  network.layers.push_back(convolution(first_maps, side1, second_maps, 5, 2));
  network.layers.push_back(sum_pool(second_maps, side2, 3));
  network.layers.push_back(dense(second_maps * side2 * side2, hidden));
  network.layers.push_back(activation_layer(hidden, activation));
  network.layers.push_back(dense(hidden, classes));
  return network;
}

SequentialNetwork make_five_layer_network(int classes, int conv_maps, int hidden,
                                          const Activation& activation) {
  if (classes < 2 || conv_maps < 1 || hidden < 1) {
    throw std::invalid_argument("five-layer network: need classes >= 2 and positive sizes");
  }
  constexpr int side = FloatNetwork::kConvSide;
  SequentialNetwork network;
  network.layers.push_back(convolution(1, FloatNetwork::kPaddedSide, conv_maps, 5, 2));
  network.layers.push_back(activation_layer(conv_maps * side * side, activation));
  network.layers.push_back(dense(conv_maps * side * side, hidden));
  network.layers.push_back(activation_layer(hidden, activation));
  network.layers.push_back(dense(hidden, classes));
  return network;
}

void forward(const SequentialNetwork& network, std::span<const uint8_t> image,
             std::vector<std::vector<float>>& values) {
  values.resize(network.layers.size() + 1);
  values[0].resize(kPaddedPixels);
  pad_and_scale_image(image, values[0]);
  for (size_t l = 0; l < network.layers.size(); ++l) {
    values[l + 1].resize(network.layers[l].output_size());
    layer_forward(network.layers[l], values[l].data(), values[l + 1].data());
  }
}

std::vector<float> forward(const SequentialNetwork& network, std::span<const uint8_t> image) {
  std::vector<std::vector<float>> values;
  forward(network, image, values);
  return values.back();
}

std::vector<double> forward_reference(const SequentialNetwork& network,
                                      std::span<const uint8_t> image) {
  std::vector<float> padded(kPaddedPixels);
  pad_and_scale_image(image, padded);
  std::vector<double> in(padded.begin(), padded.end());
  for (const SequentialLayer& layer : network.layers) {
    std::vector<double> out(layer.output_size());
    layer_forward(layer, in.data(), out.data());
    in = std::move(out);
  }
  return in;
}

double accuracy(const SequentialNetwork& network, const LabelledImages& images, int threads) {
  const long count = static_cast<long>(images.size());
  long correct = 0;
#pragma omp parallel num_threads(std::max(threads, 1)) reduction(+ : correct)
  {
    std::vector<std::vector<float>> values;  // one per thread, reused across its images
#pragma omp for schedule(static)
    for (long i = 0; i < count; ++i) {
      forward(network, images.image(size_t(i)), values);
      if (predicted_class(values.back()) == images.labels[size_t(i)]) ++correct;
    }
  }
  return count ? double(correct) / double(count) : 0.0;
}

double cross_entropy_reference(const SequentialNetwork& network, const LabelledImages& images) {
  double total = 0.0;
  for (size_t n = 0; n < images.size(); ++n) {
    const std::vector<double> scores = forward_reference(network, images.image(n));
    const double largest = *std::max_element(scores.begin(), scores.end());
    double exp_sum = 0.0;
    for (const double score : scores)
      exp_sum += std::exp(score - largest);
    total += std::log(exp_sum) + largest - scores[images.labels[n]];
  }
  return total / double(images.size());
}

SequentialNetwork merge_linear_runs(const SequentialNetwork& network) {
  check_shape(network);
  SequentialNetwork merged;
  size_t l = 0;
  while (l < network.layers.size()) {
    size_t end = l;
    while (end < network.layers.size() && network.layers[end].is_linear())
      ++end;
    if (end - l < 2) {
      merged.layers.push_back(network.layers[l]);
      ++l;
      continue;
    }
    // The affine map of layers [l, end): bias = f(0), column i = f(e_i) − f(0), in double.
    const int inputs = network.layers[l].input_size();
    auto run = [&](const std::vector<double>& x) {
      std::vector<double> in = x;
      for (size_t k = l; k < end; ++k) {
        std::vector<double> out(network.layers[k].output_size());
        layer_forward(network.layers[k], in.data(), out.data());
        in = std::move(out);
      }
      return in;
    };
    const std::vector<double> offset = run(std::vector<double>(inputs, 0.0));
    SequentialLayer layer = dense(inputs, static_cast<int>(offset.size()));
    for (size_t o = 0; o < offset.size(); ++o)
      layer.bias[o] = static_cast<float>(offset[o]);
    std::vector<double> unit(inputs, 0.0);
    for (int i = 0; i < inputs; ++i) {
      unit[i] = 1.0;
      const std::vector<double> column = run(unit);
      unit[i] = 0.0;
      for (size_t o = 0; o < column.size(); ++o)
        layer.weights[o * inputs + i] = static_cast<float>(column[o] - offset[o]);
    }
    merged.layers.push_back(std::move(layer));
    l = end;
  }
  return merged;
}

FloatNetwork to_float_network(const SequentialNetwork& network) {
  check_shape(network);
  const auto& L = network.layers;
  const bool shape = L.size() == 5 && L[0].kind == LayerKind::kConvolution && L[0].channels == 1 &&
                     L[0].side == FloatNetwork::kPaddedSide && L[0].kernel == 5 &&
                     L[0].stride == 2 && L[1].kind == LayerKind::kActivation &&
                     L[2].kind == LayerKind::kDense && L[3].kind == LayerKind::kActivation &&
                     L[4].kind == LayerKind::kDense;
  if (!shape) {
    throw std::invalid_argument(
        "to_float_network: need conv 5x5 stride 2 on the 29x29 input, activation, dense, "
        "activation, dense (merge the linear runs first)");
  }
  if (L[1].activation.kind != ActivationKind::kSquare ||
      L[3].activation.kind != ActivationKind::kSquare) {
    throw std::invalid_argument("to_float_network: FloatNetwork's activations are squares, found " +
                                L[1].activation.name() + " and " + L[3].activation.name());
  }
  FloatNetwork out = make_zero_float_network(L[0].maps, L[2].outputs, L[4].outputs);
  out.conv_weights = L[0].weights;
  out.conv_bias = L[0].bias;
  out.dense1_weights = L[2].weights;
  out.dense1_bias = L[2].bias;
  out.dense2_weights = L[4].weights;
  out.dense2_bias = L[4].bias;
  return out;
}

SequentialNetwork from_float_network(const FloatNetwork& network) {
  SequentialNetwork out =
      make_five_layer_network(network.classes, network.conv_maps, network.hidden);
  out.layers[0].weights = network.conv_weights;
  out.layers[0].bias = network.conv_bias;
  out.layers[2].weights = network.dense1_weights;
  out.layers[2].bias = network.dense1_bias;
  out.layers[4].weights = network.dense2_weights;
  out.layers[4].bias = network.dense2_bias;
  return out;
}

std::vector<std::pair<double, double>> activation_input_ranges(const SequentialNetwork& network,
                                                               const LabelledImages& images) {
  std::vector<std::pair<double, double>> ranges;
  std::vector<std::vector<float>> values;
  for (size_t i = 0; i < images.size(); ++i) {
    forward(network, images.image(i), values);
    size_t a = 0;
    for (size_t l = 0; l < network.layers.size(); ++l) {
      if (network.layers[l].kind != LayerKind::kActivation) continue;
      if (ranges.size() <= a) ranges.emplace_back(INFINITY, -INFINITY);
      for (const float v : values[l]) {
        ranges[a].first = std::min(ranges[a].first, double(v));
        ranges[a].second = std::max(ranges[a].second, double(v));
      }
      ++a;
    }
  }
  return ranges;
}

namespace {

void check_fit(double low, double high, int degree) {
  if (!(low < high) || !std::isfinite(low) || !std::isfinite(high) || degree < 1 || degree > 6) {
    throw std::invalid_argument("polynomial fit: need finite low < high and 1 <= degree <= 6");
  }
}

// Solves the augmented system m = [A | b] (terms × terms+1) by Gauss–Jordan elimination with
// partial pivoting.
std::vector<double> solve_normal_equations(std::vector<std::vector<double>> m) {
  const int terms = static_cast<int>(m.size());
  for (int col = 0; col < terms; ++col) {
    int pivot = col;
    for (int r = col + 1; r < terms; ++r)
      if (std::abs(m[r][col]) > std::abs(m[pivot][col])) pivot = r;
    std::swap(m[col], m[pivot]);
    if (m[col][col] == 0.0)
      throw std::invalid_argument("polynomial fit: singular normal equations");
    for (int r = 0; r < terms; ++r) {
      if (r == col) continue;
      const double factor = m[r][col] / m[col][col];
      for (int c = col; c <= terms; ++c)
        m[r][c] -= factor * m[col][c];
    }
  }
  std::vector<double> a(terms);
  for (int r = 0; r < terms; ++r)
    a[r] = m[r][terms] / m[r][r];
  return a;
}

// Σ a_k·u^k with u = (x − mid) / half, as monomial coefficients in x.
Activation expand(const std::vector<double>& a, double low, double high) {
  const double mid = 0.5 * (low + high), half = 0.5 * (high - low);
  std::vector<double> c(a.size(), 0.0);
  for (size_t k = 0; k < a.size(); ++k) {
    // a_k·((x − mid)/half)^k = a_k/half^k · Σ_j C(k, j)·x^j·(−mid)^(k−j)
    double binomial = 1.0;
    for (size_t j = 0; j <= k; ++j) {
      c[j] += a[k] / std::pow(half, double(k)) * binomial * std::pow(-mid, double(k - j));
      binomial = binomial * double(k - j) / double(j + 1);
    }
  }
  return Activation{ActivationKind::kPolynomial, c};
}

}  // namespace

Activation fit_least_squares(const Activation& activation, double low, double high, int degree) {
  check_fit(low, high, degree);
  const int terms = degree + 1;
  constexpr int kPoints = 2001;
  // Normal equations in u ∈ [−1, 1] (well conditioned at these degrees), Gaussian elimination
  // with partial pivoting.
  std::vector<std::vector<double>> m(terms, std::vector<double>(terms + 1, 0.0));
  for (int i = 0; i < kPoints; ++i) {
    const double u = -1.0 + 2.0 * i / (kPoints - 1);
    const double f = activation.value(0.5 * (low + high) + 0.5 * (high - low) * u);
    for (int r = 0; r < terms; ++r) {
      for (int c = 0; c < terms; ++c)
        m[r][c] += std::pow(u, r + c);
      m[r][terms] += std::pow(u, r) * f;
    }
  }
  return expand(solve_normal_equations(m), low, high);
}

Activation fit_chebyshev(const Activation& activation, double low, double high, int degree) {
  check_fit(low, high, degree);
  constexpr int kNodes = 1000;
  // c_k = (2/N) Σ_j f(cos θ_j) cos(k θ_j), θ_j = π (j + 1/2) / N; c_0 halved.
  std::vector<double> chebyshev(degree + 1, 0.0);
  for (int j = 0; j < kNodes; ++j) {
    const double theta = std::numbers::pi * (j + 0.5) / kNodes;
    const double f = activation.value(0.5 * (low + high) + 0.5 * (high - low) * std::cos(theta));
    for (int k = 0; k <= degree; ++k)
      chebyshev[k] += 2.0 / kNodes * f * std::cos(k * theta);
  }
  chebyshev[0] *= 0.5;
  // T_0 = 1, T_1 = u, T_{k+1} = 2u·T_k − T_{k−1}, as monomials in u.
  std::vector<double> a(degree + 1, 0.0);
  std::vector<double> previous = {1.0}, current = {0.0, 1.0};
  a[0] += chebyshev[0];
  if (degree >= 1) a[1] += chebyshev[1];
  for (int k = 2; k <= degree; ++k) {
    std::vector<double> next(k + 1, 0.0);
    for (size_t i = 0; i < current.size(); ++i)
      next[i + 1] += 2.0 * current[i];
    for (size_t i = 0; i < previous.size(); ++i)
      next[i] -= previous[i];
    for (int i = 0; i <= k; ++i)
      a[i] += chebyshev[k] * next[i];
    previous = std::move(current);
    current = std::move(next);
  }
  return expand(a, low, high);
}

std::vector<Activation> fit_least_squares_observed(const SequentialNetwork& network,
                                                   const LabelledImages& images, int degree) {
  const auto ranges = activation_input_ranges(network, images);
  for (const auto& [low, high] : ranges)
    check_fit(low, high, degree);
  const int terms = degree + 1;
  // One augmented normal-equation matrix per activation layer, summed over every input seen.
  std::vector<std::vector<std::vector<double>>> m(
      ranges.size(), std::vector<std::vector<double>>(terms, std::vector<double>(terms + 1, 0.0)));
  std::vector<const Activation*> originals;
  for (const SequentialLayer& layer : network.layers)
    if (layer.kind == LayerKind::kActivation) originals.push_back(&layer.activation);
  std::vector<std::vector<float>> values;
  std::vector<double> powers(2 * terms - 1);
  for (size_t i = 0; i < images.size(); ++i) {
    forward(network, images.image(i), values);
    size_t a = 0;
    for (size_t l = 0; l < network.layers.size(); ++l) {
      if (network.layers[l].kind != LayerKind::kActivation) continue;
      const double mid = 0.5 * (ranges[a].first + ranges[a].second);
      const double half = 0.5 * (ranges[a].second - ranges[a].first);
      for (const float v : values[l]) {
        const double u = (double(v) - mid) / half, f = originals[a]->value(double(v));
        powers[0] = 1.0;
        for (size_t k = 1; k < powers.size(); ++k)
          powers[k] = powers[k - 1] * u;
        for (int r = 0; r < terms; ++r) {
          for (int c = 0; c < terms; ++c)
            m[a][r][c] += powers[r + c];
          m[a][r][terms] += powers[r] * f;
        }
      }
      ++a;
    }
  }
  std::vector<Activation> fits;
  for (size_t a = 0; a < ranges.size(); ++a)
    fits.push_back(expand(solve_normal_equations(m[a]), ranges[a].first, ranges[a].second));
  return fits;
}

std::vector<Activation> fit_activations(const SequentialNetwork& network,
                                        const LabelledImages& images, const std::string& method,
                                        int degree) {
  if (method == "lsq-observed") return fit_least_squares_observed(network, images, degree);
  if (method != "lsq" && method != "chebyshev") {
    throw std::invalid_argument("polynomial fit: expected lsq, chebyshev or lsq-observed, got '" +
                                method + "'");
  }
  const auto ranges = activation_input_ranges(network, images);
  std::vector<Activation> fits;
  size_t a = 0;
  for (const SequentialLayer& layer : network.layers) {
    if (layer.kind != LayerKind::kActivation) continue;
    const auto [low, high] = ranges[a++];
    fits.push_back(method == "lsq" ? fit_least_squares(layer.activation, low, high, degree)
                                   : fit_chebyshev(layer.activation, low, high, degree));
  }
  return fits;
}

void SequentialGradientComputer::backward(const SequentialNetwork& network,
                                          const LabelledImages& batch, size_t n, Sample& sample) {
  std::vector<std::vector<float>>& values = sample.values;
  forward(network, batch.image(n), values);
  const int label = batch.labels[n];
  sample.correct = predicted_class(values.back()) == label;
  sample.loss = softmax_cross_entropy(values.back(), label, sample.g_in);
  std::vector<float> g = sample.g_in;
  g[label] -= 1.0f;
  const float inverse_batch = 1.0f / static_cast<float>(batch.size());
  for (float& v : g)
    v *= inverse_batch;
  sample.output_gradients.resize(network.layers.size());
  for (size_t l = network.layers.size(); l-- > 0;) {
    const SequentialLayer& layer = network.layers[l];
    const std::vector<float>& in = values[l];
    if (!layer.weights.empty()) sample.output_gradients[l] = g;
    if (l == 0) break;  // the image needs no gradient
    std::vector<float>& g_in = sample.g_in;
    g_in.assign(layer.input_size(), 0.0f);
    switch (layer.kind) {
      case LayerKind::kDense:
        for (int o = 0; o < layer.outputs; ++o) {
          const float go = g[o];
          const float* w = &layer.weights[size_t(o) * layer.inputs];
#pragma omp simd
          for (int i = 0; i < layer.inputs; ++i)
            g_in[i] += go * w[i];
        }
        break;
      case LayerKind::kActivation:
        for (int i = 0; i < layer.inputs; ++i)
          g_in[i] = g[i] * static_cast<float>(layer.activation.derivative(in[i]));
        break;
      case LayerKind::kSumPool:
        // The window is symmetric, so the adjoint of the same-padded window sum is itself.
        layer_forward(layer, g.data(), g_in.data());
        break;
      case LayerKind::kConvolution: {
        const int os = layer.out_side(), k = layer.kernel, s = layer.side;
        for (int m = 0; m < layer.maps; ++m) {
          for (int y = 0; y < os; ++y) {
            for (int x = 0; x < os; ++x) {
              const float go = g[(m * os + y) * os + x];
              for (int c = 0; c < layer.channels; ++c) {
                const size_t kbase = size_t((m * layer.channels + c) * k * k);
                for (int ky = 0; ky < k; ++ky) {
                  const int base = (c * s + layer.stride * y + ky) * s + layer.stride * x;
                  for (int kx = 0; kx < k; ++kx)
                    g_in[base + kx] += go * layer.weights[kbase + ky * k + kx];
                }
              }
            }
          }
        }
        break;
      }
    }
    std::swap(g, g_in);
  }
}

BatchResult SequentialGradientComputer::compute(const SequentialNetwork& network,
                                                const LabelledImages& batch,
                                                SequentialNetwork& gradient, int threads) {
  const long count = static_cast<long>(batch.size());
  if (samples_.size() < batch.size()) samples_.resize(batch.size());
#pragma omp parallel for num_threads(std::max(threads, 1)) schedule(static)
  for (long n = 0; n < count; ++n)
    backward(network, batch, size_t(n), samples_[size_t(n)]);

  // Each parameter sums its samples' terms in sample order, as one thread taking the samples one
  // after the other would: the same floating-point sums for any thread count.
  if (!same_shape(gradient, network)) gradient = zero_like(network);
  for (size_t l = 0; l < network.layers.size(); ++l) {
    const SequentialLayer& layer = network.layers[l];
    SequentialLayer& grad = gradient.layers[l];
    std::fill(grad.weights.begin(), grad.weights.end(), 0.0f);
    std::fill(grad.bias.begin(), grad.bias.end(), 0.0f);
    if (layer.kind == LayerKind::kDense) {
#pragma omp parallel for num_threads(std::max(threads, 1)) schedule(static)
      for (int o = 0; o < layer.outputs; ++o) {
        float* wg = &grad.weights[size_t(o) * layer.inputs];
        for (long n = 0; n < count; ++n) {
          const float go = samples_[size_t(n)].output_gradients[l][size_t(o)];
          const float* in = samples_[size_t(n)].values[l].data();
          grad.bias[size_t(o)] += go;
#pragma omp simd
          for (int i = 0; i < layer.inputs; ++i)
            wg[i] += go * in[i];
        }
      }
    } else if (layer.kind == LayerKind::kConvolution) {
      const int os = layer.out_side(), k = layer.kernel, s = layer.side;
#pragma omp parallel for num_threads(std::max(threads, 1)) schedule(static)
      for (int m = 0; m < layer.maps; ++m) {
        for (long n = 0; n < count; ++n) {
          const std::vector<float>& g = samples_[size_t(n)].output_gradients[l];
          const float* in = samples_[size_t(n)].values[l].data();
          for (int y = 0; y < os; ++y) {
            for (int x = 0; x < os; ++x) {
              const float go = g[size_t((m * os + y) * os + x)];
              grad.bias[size_t(m)] += go;
              for (int c = 0; c < layer.channels; ++c) {
                const size_t kbase = size_t((m * layer.channels + c) * k * k);
                for (int ky = 0; ky < k; ++ky) {
                  const int base = (c * s + layer.stride * y + ky) * s + layer.stride * x;
                  for (int kx = 0; kx < k; ++kx)
                    grad.weights[kbase + size_t(ky * k + kx)] += go * in[base + kx];
                }
              }
            }
          }
        }
      }
    }
  }
  BatchResult result;
  for (long n = 0; n < count; ++n) {
    result.loss += samples_[size_t(n)].loss;
    result.correct += samples_[size_t(n)].correct ? 1 : 0;
  }
  result.loss /= double(count);
  return result;
}

BatchResult compute_gradient(const SequentialNetwork& network, const LabelledImages& batch,
                             SequentialNetwork& gradient, int threads) {
  SequentialGradientComputer computer;
  return computer.compute(network, batch, gradient, threads);
}

void initialise(SequentialNetwork& network, const LabelledImages& calibration,
                std::mt19937_64& rng) {
  check_shape(network);
  // Squares are even, so the sign of their inputs does not matter and unit RMS suffices (the
  // shipped square models were initialised so). ReLU, sigmoid and polynomials need centred inputs:
  // then each layer's outputs get zero mean and unit standard deviation.
  bool centre = false;
  for (const SequentialLayer& layer : network.layers)
    centre |=
        layer.kind == LayerKind::kActivation && layer.activation.kind != ActivationKind::kSquare;
  const size_t count = std::min<size_t>(calibration.size(), 500);
  std::vector<std::vector<float>> values;
  for (size_t l = 0; l < network.layers.size(); ++l) {
    SequentialLayer& layer = network.layers[l];
    if (layer.weights.empty()) continue;
    for (float& w : layer.weights)
      w = standard_normal(rng);
    std::fill(layer.bias.begin(), layer.bias.end(), 0.0f);
    double sum = 0.0, sum_of_squares = 0.0;
    size_t n = 0;
    for (size_t i = 0; i < count; ++i) {
      forward(network, calibration.image(i), values);
      for (const float v : values[l + 1]) {
        sum += v;
        sum_of_squares += double(v) * v;
        ++n;
      }
    }
    n = std::max<size_t>(n, 1);
    const double mean = centre ? sum / double(n) : 0.0;
    const double spread = std::sqrt(std::max(0.0, sum_of_squares / double(n) - mean * mean));
    if (!(spread > 0.0))
      throw std::invalid_argument("initialisation: calibration images are blank");
    for (float& w : layer.weights)
      w = static_cast<float>(w / spread);
    if (centre) {
      for (float& b : layer.bias)
        b = static_cast<float>(-mean / spread);
    }
  }
}

void train_sequential_network(SequentialNetwork& network, const LabelledImages& train,
                              const LabelledImages& test, const TrainingOptions& options,
                              bool from_scratch,
                              const std::function<void(const EpochReport&)>& on_epoch) {
  check_shape(network);
  if (options.epochs < 0 || options.batch_size <= 0 || options.threads <= 0 ||
      options.max_shift < 0 || options.max_shift >= FloatNetwork::kImageSide ||
      !(options.learning_rate > 0.0f) || train.size() == 0) {
    throw std::invalid_argument(
        "training options: need epochs >= 0, batch_size > 0, threads > 0, 0 <= max_shift < 28, "
        "learning_rate > 0 and training images");
  }
  require_labels_below(train.labels, network.classes(), "training labels");
  require_labels_below(test.labels, network.classes(), "test labels");
  std::mt19937_64 rng(options.seed);
  if (from_scratch) initialise(network, train, rng);
  SequentialGradientComputer gradients;
  SequentialNetwork gradient = zero_like(network);
  SequentialNetwork first = zero_like(network), second = zero_like(network);
  // Adam with decoupled weight decay on weight blocks (as trainer.cpp's AdamOptimiser).
  constexpr float kBeta1 = 0.9f, kBeta2 = 0.999f, kEpsilon = 1e-8f;
  long step = 0;
  const size_t n = train.size();
  const size_t batches = (n + options.batch_size - 1) / options.batch_size;
  const long total_steps = long(batches) * options.epochs;
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  // No batch holds more than the n images (a batch size of 2^20 sized 820 MB for 100 images).
  const size_t most_in_batch = std::min<size_t>(options.batch_size, n);
  std::vector<uint8_t> pixels(most_in_batch * FloatNetwork::kImagePixels);
  std::vector<uint8_t> labels(most_in_batch);
  const int shifts = 2 * options.max_shift + 1;
  for (int epoch = 1; epoch <= options.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    for (size_t i = n - 1; i > 0; --i)
      std::swap(order[i], order[uniform_below(rng, i + 1)]);
    double loss_sum = 0.0;
    size_t correct = 0;
    for (size_t begin = 0; begin < n; begin += options.batch_size, ++step) {
      const size_t size = std::min<size_t>(options.batch_size, n - begin);
      for (size_t s = 0; s < size; ++s) {
        const int dx = int(uniform_below(rng, shifts)) - options.max_shift;
        const int dy = int(uniform_below(rng, shifts)) - options.max_shift;
        shift_image(
            train.image(order[begin + s]), dx, dy,
            std::span(pixels).subspan(s * FloatNetwork::kImagePixels, FloatNetwork::kImagePixels));
        labels[s] = train.labels[order[begin + s]];
      }
      const LabelledImages batch{std::span(pixels).first(size * FloatNetwork::kImagePixels),
                                 std::span(labels).first(size)};
      const BatchResult result = gradients.compute(network, batch, gradient, options.threads);
      loss_sum += result.loss * double(size);
      correct += result.correct;
      double norm = 0.0;
      for (auto block : parameter_blocks(gradient))
        for (const float v : block)
          norm += double(v) * v;
      norm = std::sqrt(norm);
      const float clip = norm > options.gradient_clip_norm
                             ? static_cast<float>(options.gradient_clip_norm / norm)
                             : 1.0f;
      // Learning rate: linear warm-up, then one cosine decay (as trainer.cpp).
      const double progress = total_steps > 1 ? double(step) / double(total_steps - 1) : 1.0;
      const double cosine = 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
      const double warm =
          options.warmup_steps > 0 ? std::min(1.0, double(step + 1) / options.warmup_steps) : 1.0;
      const float rate = static_cast<float>(
          warm * (options.final_learning_rate +
                  (options.learning_rate - options.final_learning_rate) * cosine));
      const float c1 = 1.0f - std::pow(kBeta1, float(step + 1));
      const float c2 = 1.0f - std::pow(kBeta2, float(step + 1));
      const auto w = parameter_blocks(network);
      const auto gb = parameter_blocks(gradient);
      const auto mb = parameter_blocks(first);
      const auto vb = parameter_blocks(second);
      size_t b = 0;
      for (size_t l = 0; l < network.layers.size(); ++l) {
        const SequentialLayer& layer = network.layers[l];
        for (int part = 0; part < 2; ++part) {
          const bool is_weight = part == 0;
          if ((is_weight ? layer.weights : layer.bias).empty()) continue;
          const float decay = is_weight ? rate * options.weight_decay : 0.0f;
          for (size_t i = 0; i < w[b].size(); ++i) {
            const float gi = gb[b][i] * clip;
            mb[b][i] = kBeta1 * mb[b][i] + (1.0f - kBeta1) * gi;
            vb[b][i] = kBeta2 * vb[b][i] + (1.0f - kBeta2) * gi * gi;
            w[b][i] -=
                rate * (mb[b][i] / c1) / (std::sqrt(vb[b][i] / c2) + kEpsilon) + decay * w[b][i];
          }
          ++b;
        }
      }
    }
    EpochReport report;
    report.epoch = epoch;
    report.loss = loss_sum / double(n);
    report.train_accuracy = double(correct) / double(n);
    report.test_accuracy = test.size() > 0 ? accuracy(network, test, options.threads) : 0.0;
    report.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (on_epoch) on_epoch(report);
  }
}

void write_sequential_network(const SequentialNetwork& network, std::ostream& out) {
  check_shape(network);
  out << "cryptonets-sequential-model 1\n"
      << "input 28 28 pixel_divisor 255 pad top 1 left 1\n"
      << "layers " << network.layers.size() << '\n';
  for (const SequentialLayer& layer : network.layers) {
    switch (layer.kind) {
      case LayerKind::kConvolution:
        out << "conv channels " << layer.channels << " side " << layer.side << " maps "
            << layer.maps << " kernel " << layer.kernel << " stride " << layer.stride << '\n';
        write_values(out, "weights", layer.weights);
        write_values(out, "bias", layer.bias);
        break;
      case LayerKind::kSumPool:
        out << "sumpool channels " << layer.channels << " side " << layer.side << " window "
            << layer.pool_window << '\n';
        break;
      case LayerKind::kDense:
        out << "dense outputs " << layer.outputs << " inputs " << layer.inputs << '\n';
        write_values(out, "weights", layer.weights);
        write_values(out, "bias", layer.bias);
        break;
      case LayerKind::kActivation: {
        static const char* names[] = {"square", "relu", "sigmoid", "polynomial"};
        out << "activation size " << layer.inputs << ' '
            << names[static_cast<int>(layer.activation.kind)] << '\n';
        if (layer.activation.kind == ActivationKind::kPolynomial)
          write_values(out, "coefficients", layer.activation.coefficients);
        break;
      }
    }
  }
}

SequentialNetwork read_sequential_network(std::istream& in, const std::string& source) {
  TokenReader r(in, source);
  r.expect("cryptonets-sequential-model");
  r.integer("format version (1)", 1, 1);
  for (const char* word :
       {"input", "28", "28", "pixel_divisor", "255", "pad", "top", "1", "left", "1", "layers"})
    r.expect(word);
  const int count = r.integer("layer count", 1, 64);
  SequentialNetwork network;
  constexpr int kMost = 1 << 20;
  for (int l = 0; l < count; ++l) {
    const std::string kind = r.next("a layer kind (conv, sumpool, dense, activation)");
    SequentialLayer layer;
    if (kind == "conv") {
      r.expect("channels");
      const int channels = r.integer("channels", 1, 4096);
      r.expect("side");
      const int side = r.integer("side", 1, 4096);
      r.expect("maps");
      const int maps = r.integer("maps", 1, 4096);
      r.expect("kernel");
      const int kernel = r.integer("kernel", 1, side);
      r.expect("stride");
      const int stride = r.integer("stride", 1, side);
      layer = convolution(channels, side, maps, kernel, stride);
    } else if (kind == "sumpool") {
      r.expect("channels");
      const int channels = r.integer("channels", 1, 4096);
      r.expect("side");
      const int side = r.integer("side", 1, 4096);
      r.expect("window");
      const int window = r.integer("window (odd)", 1, 63);
      if (window % 2 == 0)
        malformed(source, "sum-pool window " + std::to_string(window) + " is even");
      layer = sum_pool(channels, side, window);
    } else if (kind == "dense") {
      r.expect("outputs");
      const int outputs = r.integer("outputs", 1, kMost);
      r.expect("inputs");
      const int inputs = r.integer("inputs", 1, kMost);
      layer = dense(inputs, outputs);
    } else if (kind == "activation") {
      r.expect("size");
      const int size = r.integer("size", 1, kMost);
      const std::string name = r.next("an activation name");
      Activation a;
      if (name == "polynomial") {
        r.expect("coefficients");
        const int terms = r.integer("coefficient count", 1, 16);
        a.kind = ActivationKind::kPolynomial;
        for (int i = 0; i < terms; ++i)
          a.coefficients.push_back(r.real<double>("coefficient"));
      } else {
        try {
          a = parse_activation(name);
        } catch (const std::invalid_argument& e) {
          malformed(source, e.what());
        }
      }
      layer = activation_layer(size, a);
    } else {
      malformed(source,
                "found " + quoted_word(kind) + ", expected conv, sumpool, dense or activation");
    }
    if (!layer.weights.empty()) {
      read_values(r, "weights", layer.weights);
      read_values(r, "bias", layer.bias);
    }
    network.layers.push_back(std::move(layer));
  }
  try {
    check_shape(network);
  } catch (const std::invalid_argument& e) {
    malformed(source, e.what());
  }
  if (network.classes() < 2) malformed(source, "fewer than two classes");
  // Nothing but blanks and '#' comments may follow the last layer, as in the other model files
  // (found by a trial: junk after it was read, and inspect called the file intact).
  std::string token;
  while (in >> token) {
    if (token.front() != '#') {
      malformed(source, "unexpected content after the last layer: " + quoted_word(token));
    }
    std::string comment;
    std::getline(in, comment);
    if (const std::string binary = binary_comment_message(token, comment); !binary.empty())
      malformed(source, binary);
  }
  return network;
}

void save_sequential_network(const SequentialNetwork& network, const std::filesystem::path& path) {
  std::ostringstream text;
  write_sequential_network(network, text);
  const std::filesystem::path temporary = path.string() + ".partial";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << text.str();
    out.flush();
    if (!out) {
      std::filesystem::remove(temporary);
      throw std::runtime_error("cannot write '" + path.string() + "'");
    }
  }
  std::filesystem::rename(temporary, path);
}

SequentialNetwork load_sequential_network(const std::filesystem::path& path) {
  errno = 0;
  std::ifstream in(path);
  // The reason too (a trial: "cannot open float model 'absent.txt'", not why).
  if (!in) {
    throw std::runtime_error("cannot open sequential model '" + path.string() + "'" +
                             (errno != 0 ? std::string(": ") + std::strerror(errno) : ""));
  }
  return read_sequential_network(in, path.string());
}

}  // namespace cryptonets::training
