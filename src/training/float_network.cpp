// Forward pass and text format of the float CryptoNets network (see float_network.hpp).
#include "cryptonets/training/float_network.hpp"

#include <algorithm>
#include <cassert>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <istream>
#include <ostream>
#include <stdexcept>

#include "cryptonets/arith/format.hpp"

namespace cryptonets::training {
namespace {

constexpr const char* kFormatMagic = "cryptonets-float-model";
constexpr int kFormatVersion = 1;
constexpr int kValuesPerLine = 10;

// Σ a[i]·b[i]; omp simd lets the compiler reorder the sum into vector lanes.
float dot(const float* a, const float* b, int n) {
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int i = 0; i < n; ++i)
    sum += a[i] * b[i];
  return sum;
}

void square_into(const std::vector<float>& in, std::vector<float>& out) {
  for (size_t i = 0; i < in.size(); ++i)
    out[i] = in[i] * in[i];
}

// Table 1, layer 1: 5×5 windows, stride 2, over the padded input.
void convolution_forward(const FloatNetwork& network, const std::vector<float>& padded,
                         std::vector<float>& conv) {
  constexpr int k = FloatNetwork::kKernelSide;
  constexpr int side = FloatNetwork::kConvSide;
  for (int m = 0; m < network.conv_maps; ++m) {
    const float* kernel = &network.conv_weights[m * k * k];
    for (int y = 0; y < side; ++y) {
      for (int x = 0; x < side; ++x) {
        float sum = network.conv_bias[m];
        for (int ky = 0; ky < k; ++ky) {
          const float* row = &padded[(FloatNetwork::kStride * y + ky) * FloatNetwork::kPaddedSide +
                                     FloatNetwork::kStride * x];
          for (int kx = 0; kx < k; ++kx)
            sum += kernel[ky * k + kx] * row[kx];
        }
        conv[(m * side + y) * side + x] = sum;
      }
    }
  }
}

void dense_forward(const std::vector<float>& weights, const std::vector<float>& bias,
                   const float* in, int inputs, float* out) {
  const int outputs = static_cast<int>(bias.size());
  for (int o = 0; o < outputs; ++o)
    out[o] = bias[o] + dot(&weights[size_t(o) * inputs], in, inputs);
}

[[noreturn]] void malformed(const std::string& source, const std::string& problem) {
  throw std::runtime_error("float model '" + source + "': " + problem);
}

// Whitespace-separated tokens with a readable error on the first unexpected one.
class TokenReader {
 public:
  TokenReader(std::istream& in, const std::string& source) : in_(in), source_(source) {}

  std::string next(const std::string& expected) {
    std::string token;
    for (;;) {
      if (!(in_ >> token)) malformed(source_, "unexpected end of file, expected " + expected);
      if (token.front() != '#') return token;
      std::string comment;  // '#' starts a comment that runs to the end of the line
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
  int integer(const std::string& what) {
    const std::string token = next(what);
    int value = 0;
    const auto [end, error] = std::from_chars(token.data(), token.data() + token.size(), value);
    if (error != std::errc() || end != token.data() + token.size()) {
      malformed(source_, "found " + quoted_word(token) + ", expected an integer (" + what + ")");
    }
    return value;
  }
  void expect_integer(int expected, const std::string& what) {
    const int value = integer(what);
    if (value != expected) {
      malformed(source_,
                what + " is " + std::to_string(value) + ", expected " + std::to_string(expected));
    }
  }
  float real(const std::string& what) {
    const std::string token = next(what);
    float value = 0.0f;
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

void write_values(std::ostream& out, const char* name, const std::vector<float>& values) {
  out << name << ' ' << values.size() << '\n';
  char buffer[32];
  for (size_t i = 0; i < values.size(); ++i) {
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, values[i]);
    assert(result.ec == std::errc());
    out.write(buffer, result.ptr - buffer);
    out << ((i + 1) % kValuesPerLine == 0 || i + 1 == values.size() ? '\n' : ' ');
  }
}

void read_values(TokenReader& reader, const char* name, std::vector<float>& values) {
  reader.expect(name);
  reader.expect_integer(static_cast<int>(values.size()), std::string("count of ") + name);
  for (float& value : values)
    value = reader.real(name);
}

}  // namespace

std::span<const uint8_t> LabelledImages::image(size_t index) const {
  assert(index < size());
  return pixels.subspan(index * FloatNetwork::kImagePixels, FloatNetwork::kImagePixels);
}

FloatNetwork make_zero_float_network(int conv_maps, int hidden, int classes) {
  if (conv_maps <= 0 || hidden <= 0) {
    throw std::invalid_argument("float network: conv_maps (" + std::to_string(conv_maps) +
                                ") and hidden (" + std::to_string(hidden) + ") must be positive");
  }
  if (classes < 2 || classes > FloatNetwork::kMaxClasses) {
    throw std::invalid_argument("float network: " + std::to_string(classes) +
                                " classes, expected 2 to " +
                                std::to_string(FloatNetwork::kMaxClasses));
  }
  FloatNetwork network;
  network.conv_maps = conv_maps;
  network.hidden = hidden;
  network.classes = classes;
  constexpr int k = FloatNetwork::kKernelSide;
  network.conv_weights.assign(size_t(conv_maps) * k * k, 0.0f);
  network.conv_bias.assign(conv_maps, 0.0f);
  network.dense1_weights.assign(size_t(hidden) * network.conv_outputs(), 0.0f);
  network.dense1_bias.assign(hidden, 0.0f);
  network.dense2_weights.assign(size_t(classes) * hidden, 0.0f);
  network.dense2_bias.assign(classes, 0.0f);
  return network;
}

int class_count(std::span<const uint8_t> labels, const std::string& source) {
  if (labels.empty()) throw std::invalid_argument(source + ": no labels");
  const int classes = *std::max_element(labels.begin(), labels.end()) + 1;
  if (classes < 2) {
    throw std::invalid_argument(source + ": every label is 0; a classifier needs two classes");
  }
  return classes;
}

void require_labels_below(std::span<const uint8_t> labels, int classes, const std::string& source) {
  const auto found = std::find_if(labels.begin(), labels.end(),
                                  [classes](uint8_t label) { return label >= classes; });
  if (found != labels.end()) {
    throw std::invalid_argument(source + ": label " + std::to_string(*found) + " at index " +
                                std::to_string(found - labels.begin()) + " is not one of the " +
                                std::to_string(classes) + " classes 0.." +
                                std::to_string(classes - 1));
  }
}

void require_classes_match(std::span<const uint8_t> labels, int outputs, const std::string& source,
                           const std::string& model) {
  const int classes = labels.empty() ? 0 : *std::max_element(labels.begin(), labels.end()) + 1;
  if (classes == outputs) return;
  throw std::invalid_argument(
      source + " has " + std::to_string(classes) + " classes (labels 0.." +
      std::to_string(classes - 1) + "), but " + model + " has " + std::to_string(outputs) +
      " outputs: it is a model for another data set (a model has one output per class of the "
      "labels it was trained on; make one for this data set with cryptonets-train and "
      "cryptonets-quantise, README: Your own data)");
}

std::array<std::span<float>, kFloatNetworkBlocks> parameter_blocks(FloatNetwork& network) {
  return {network.conv_weights, network.conv_bias,      network.dense1_weights,
          network.dense1_bias,  network.dense2_weights, network.dense2_bias};
}

std::array<std::span<const float>, kFloatNetworkBlocks> parameter_blocks(
    const FloatNetwork& network) {
  return {network.conv_weights, network.conv_bias,      network.dense1_weights,
          network.dense1_bias,  network.dense2_weights, network.dense2_bias};
}

size_t parameter_count(const FloatNetwork& network) {
  size_t count = 0;
  for (const auto block : parameter_blocks(network))
    count += block.size();
  return count;
}

void pad_and_scale_image(std::span<const uint8_t> image, std::span<float> padded) {
  assert(image.size() == FloatNetwork::kImagePixels);
  assert(padded.size() == FloatNetwork::kPaddedSide * FloatNetwork::kPaddedSide);
  std::fill(padded.begin(), padded.end(), 0.0f);
  for (int y = 0; y < FloatNetwork::kImageSide; ++y) {
    for (int x = 0; x < FloatNetwork::kImageSide; ++x) {
      padded[(y + FloatNetwork::kPadTop) * FloatNetwork::kPaddedSide + x + FloatNetwork::kPadLeft] =
          image[y * FloatNetwork::kImageSide + x] / FloatNetwork::kPixelDivisor;
    }
  }
}

void forward(const FloatNetwork& network, std::span<const uint8_t> image, ForwardTrace& trace) {
  const int conv_outputs = network.conv_outputs();
  trace.padded.resize(FloatNetwork::kPaddedSide * FloatNetwork::kPaddedSide);
  trace.conv.resize(conv_outputs);
  trace.conv_squared.resize(conv_outputs);
  trace.hidden.resize(network.hidden);
  trace.hidden_squared.resize(network.hidden);
  trace.scores.resize(network.classes);

  pad_and_scale_image(image, trace.padded);
  convolution_forward(network, trace.padded, trace.conv);
  square_into(trace.conv, trace.conv_squared);
  dense_forward(network.dense1_weights, network.dense1_bias, trace.conv_squared.data(),
                conv_outputs, trace.hidden.data());
  square_into(trace.hidden, trace.hidden_squared);
  dense_forward(network.dense2_weights, network.dense2_bias, trace.hidden_squared.data(),
                network.hidden, trace.scores.data());
}

ClassScores forward(const FloatNetwork& network, std::span<const uint8_t> image) {
  ForwardTrace trace;
  forward(network, image, trace);
  return trace.scores;
}

int predicted_class(std::span<const float> scores) {
  return static_cast<int>(std::max_element(scores.begin(), scores.end()) - scores.begin());
}

double accuracy(const FloatNetwork& network, const LabelledImages& images, int threads) {
  if (images.size() == 0) return 0.0;
  const long count = static_cast<long>(images.size());
  long correct = 0;
#pragma omp parallel num_threads(std::max(threads, 1)) reduction(+ : correct)
  {
    ForwardTrace trace;  // one per thread, reused across its images
#pragma omp for schedule(static)
    for (long i = 0; i < count; ++i) {
      forward(network, images.image(i), trace);
      if (predicted_class(trace.scores) == images.labels[i]) ++correct;
    }
  }
  return static_cast<double>(correct) / static_cast<double>(count);
}

void write_float_network(const FloatNetwork& network, std::ostream& out, size_t merged_layers) {
  out << kFormatMagic << ' ' << kFormatVersion << '\n';
  out << "# CryptoNets (Gilad-Bachrach et al., ICML 2016, Table 1); ";
  if (merged_layers == 0) {
    out << "Table 1's linear layers 3-6 trained as one dense layer\n";
  } else {
    out << "the hidden dense layer trained as " << merged_layers
        << " linear layers, then merged into one (as Table 1's layers 3-6)\n";
  }
  out << "input " << FloatNetwork::kImageSide << ' ' << FloatNetwork::kImageSide
      << " pixel_divisor " << FloatNetwork::kPixelDivisor << '\n';
  out << "pad top " << FloatNetwork::kPadTop << " left " << FloatNetwork::kPadLeft
      << " bottom 0 right 0\n";
  out << "conv maps " << network.conv_maps << " kernel " << FloatNetwork::kKernelSide << ' '
      << FloatNetwork::kKernelSide << " stride " << FloatNetwork::kStride << '\n';
  write_values(out, "weights", network.conv_weights);
  write_values(out, "bias", network.conv_bias);
  out << "square\n";
  out << "dense outputs " << network.hidden << " inputs " << network.conv_outputs() << '\n';
  write_values(out, "weights", network.dense1_weights);
  write_values(out, "bias", network.dense1_bias);
  out << "square\n";
  out << "dense outputs " << network.classes << " inputs " << network.hidden << '\n';
  write_values(out, "weights", network.dense2_weights);
  write_values(out, "bias", network.dense2_bias);
  out << "end\n";
}

FloatNetwork read_float_network(std::istream& in, const std::string& source) {
  TokenReader reader(in, source);
  reader.expect(kFormatMagic);
  reader.expect_integer(kFormatVersion, "format version");
  reader.expect("input");
  reader.expect_integer(FloatNetwork::kImageSide, "input height");
  reader.expect_integer(FloatNetwork::kImageSide, "input width");
  reader.expect("pixel_divisor");
  if (reader.real("pixel divisor") != FloatNetwork::kPixelDivisor) {
    malformed(source, "pixel_divisor must be 255");
  }
  reader.expect("pad");
  reader.expect("top");
  reader.expect_integer(FloatNetwork::kPadTop, "top padding");
  reader.expect("left");
  reader.expect_integer(FloatNetwork::kPadLeft, "left padding");
  reader.expect("bottom");
  reader.expect_integer(0, "bottom padding");
  reader.expect("right");
  reader.expect_integer(0, "right padding");

  reader.expect("conv");
  reader.expect("maps");
  const int conv_maps = reader.integer("convolution map count");
  reader.expect("kernel");
  reader.expect_integer(FloatNetwork::kKernelSide, "kernel height");
  reader.expect_integer(FloatNetwork::kKernelSide, "kernel width");
  reader.expect("stride");
  reader.expect_integer(FloatNetwork::kStride, "stride");
  if (conv_maps <= 0 || conv_maps > 1000) malformed(source, "convolution map count out of range");
  // The hidden width comes after the convolution weights: read those into a provisional network.
  FloatNetwork network = make_zero_float_network(conv_maps, 1);
  read_values(reader, "weights", network.conv_weights);
  read_values(reader, "bias", network.conv_bias);
  reader.expect("square");

  reader.expect("dense");
  reader.expect("outputs");
  const int hidden = reader.integer("hidden width");
  if (hidden <= 0 || hidden > 100000) malformed(source, "hidden width out of range");
  FloatNetwork sized = make_zero_float_network(conv_maps, hidden);
  sized.conv_weights = std::move(network.conv_weights);
  sized.conv_bias = std::move(network.conv_bias);
  reader.expect("inputs");
  reader.expect_integer(sized.conv_outputs(), "first dense layer inputs");
  read_values(reader, "weights", sized.dense1_weights);
  read_values(reader, "bias", sized.dense1_bias);
  reader.expect("square");

  reader.expect("dense");
  reader.expect("outputs");
  const int classes = reader.integer("class count");
  if (classes < 2 || classes > FloatNetwork::kMaxClasses) {
    malformed(source, "class count " + std::to_string(classes) + ", expected 2 to " +
                          std::to_string(FloatNetwork::kMaxClasses));
  }
  sized.classes = classes;
  sized.dense2_weights.assign(size_t(classes) * hidden, 0.0f);
  sized.dense2_bias.assign(classes, 0.0f);
  reader.expect("inputs");
  reader.expect_integer(hidden, "second dense layer inputs");
  read_values(reader, "weights", sized.dense2_weights);
  read_values(reader, "bias", sized.dense2_bias);
  reader.expect("end");
  // Nothing but blanks and '#' comments may follow, as in the integer model and the profile
  // (found by a trial: junk after 'end' was read, and inspect called the file intact).
  // Scanned in constant memory (arith/format.hpp): a token of 512 MiB of zero bytes was read
  // whole. The first word found is quoted (at most 40 bytes; binary data named, not shown: its
  // bytes were printed escaped, a model file's bytes in a message).
  if (first_content_line(in, true) != 0) {
    std::string token;
    size_t bytes = 0;
    for (int c = in.get(); c != EOF && !std::isspace(c) && bytes < 40; c = in.get(), ++bytes)
      token += static_cast<char>(c);
    malformed(source, "unexpected content after 'end': " + quoted_word(token));
  }
  return sized;
}

void save_float_network(const FloatNetwork& network, const std::filesystem::path& path) {
  std::ofstream out(path);
  if (!out) throw std::runtime_error("cannot write float model '" + path.string() + "'");
  write_float_network(network, out);
  out.flush();
  if (!out) throw std::runtime_error("error while writing float model '" + path.string() + "'");
}

FloatNetwork load_float_network(const std::filesystem::path& path) {
  errno = 0;
  std::ifstream in(path);
  // The reason too (a trial: "cannot open float model 'absent.txt'", not why).
  if (!in) {
    throw std::runtime_error("cannot open float model '" + path.string() + "'" +
                             (errno != 0 ? std::string(": ") + std::strerror(errno) : ""));
  }
  return read_float_network(in, path.string());
}

}  // namespace cryptonets::training
