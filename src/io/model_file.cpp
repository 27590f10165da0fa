#include "cryptonets/io/model_file.hpp"

#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <variant>
#include <vector>

#include "cryptonets/arith/format.hpp"
#include "cryptonets/io/input_file.hpp"
#include "cryptonets/io/protocol_files.hpp"
#include "cryptonets/io/serialize.hpp"

using cryptonets::model::ConvolutionLayer;
using cryptonets::model::DenseLayer;
using cryptonets::model::FlattenLayer;
using cryptonets::model::kMaxParameterMagnitude;
using cryptonets::model::Layer;
using cryptonets::model::layer_name;
using cryptonets::model::Model;
using cryptonets::model::output_shape;
using cryptonets::model::Padding;
using cryptonets::model::PolynomialLayer;
using cryptonets::model::ScaledMeanPoolLayer;
using cryptonets::model::Shape;
using cryptonets::model::SquareLayer;
using cryptonets::model::validate_model;

namespace cryptonets {

namespace {

constexpr int64_t kMaxFileDimension = int64_t{1} << 20;  // as validate_model
constexpr int64_t kMaxLayerParameters = int64_t{1} << 28;

// As validate_model: any finite positive double (write_model may write up to DBL_MAX).
bool is_valid_scale(double scale) {
  return scale > 0 && std::isfinite(scale);
}

std::string format_scale(double scale) {
  std::array<char, 64> buffer;
  auto [end, error] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), scale);
  if (error != std::errc()) throw std::logic_error("format_scale: buffer too small");
  return std::string(buffer.data(), end);
}

// The whitespace-separated tokens of one line, consumed left to right.
class LineTokens {
 public:
  LineTokens(const std::string& text, int line_number) : line_number_(line_number) {
    std::istringstream stream(text);
    std::string token;
    while (stream >> token)
      tokens_.push_back(token);
  }

  int line_number() const { return line_number_; }
  bool done() const { return position_ == tokens_.size(); }
  size_t count() const { return tokens_.size(); }
  const std::string& peek() const { return tokens_[position_]; }
  const std::string& next() { return tokens_[position_++]; }

 private:
  std::vector<std::string> tokens_;
  size_t position_ = 0;
  int line_number_;
};

class ModelReader {
 public:
  ModelReader(std::istream& in, std::string source_name)
      : in_(in), source_name_(std::move(source_name)) {}

  Model read() {
    read_version();
    Model model;
    read_input(model);
    Shape shape = model.input_shape;
    double scale = model.input_scale;
    while (true) {
      LineTokens line = next_line("a layer or 'end'");
      std::string keyword = line.next();
      if (keyword == "end") {
        expect_done(line);
        break;
      }
      Layer layer = read_layer(keyword, line, scale);
      shape = checked_output_shape(layer, shape, line.line_number());
      scale = layer.scale;
      model.layers.push_back(std::move(layer));
    }
    expect_end_of_file();
    return model;
  }

 private:
  [[noreturn]] void fail(int line_number, const std::string& message) const {
    throw std::runtime_error("model file '" + source_name_ + "' line " +
                             std::to_string(line_number) + ": " + message);
  }

  // The next line that is neither blank nor a '#' comment; nullopt-like false at end of file.
  bool try_next_line(std::string& text) {
    while (std::getline(in_, text)) {
      ++line_number_;
      // In a comment too (first_binary_byte: the classification inspect and the profile use).
      if (const size_t binary = first_binary_byte(text); binary != std::string::npos)
        fail(line_number_, binary_byte_message(binary));
      // Every character operator>> skips (isspace in the "C" locale), so that a line that is not
      // blank has at least one token.
      size_t first = text.find_first_not_of(" \t\n\v\f\r");
      if (first != std::string::npos && text[first] != '#') return true;
    }
    if (in_.bad()) fail(line_number_, "read error");
    return false;
  }

  LineTokens next_line(const std::string& expected) {
    std::string text;
    if (!try_next_line(text))
      fail(line_number_ + 1, "unexpected end of file, expected " + expected);
    return LineTokens(text, line_number_);
  }

  void expect_end_of_file() {
    // In constant memory (arith/format.hpp): getline held a 512 MiB run of zero bytes whole.
    const size_t line = first_content_line(in_, true);
    if (line != 0) {
      fail(line_number_ + static_cast<int>(line), "unexpected content after 'end'");
    }
  }

  void expect_done(const LineTokens& line) {
    if (!line.done())
      fail(line.line_number(), "unexpected " + quoted_word(line.peek()) + " at end of line");
  }

  void expect_keyword(LineTokens& line, const std::string& keyword) {
    if (line.done()) fail(line.line_number(), "expected '" + keyword + "', found end of line");
    const std::string& token = line.next();
    if (token != keyword) {
      fail(line.line_number(), "expected '" + keyword + "', found " + quoted_word(token));
    }
  }

  int64_t parse_integer(const LineTokens& line, const std::string& token, int64_t min, int64_t max,
                        const std::string& what) {
    int64_t value = 0;
    auto [end, error] = std::from_chars(token.data(), token.data() + token.size(), value);
    if (error != std::errc() || end != token.data() + token.size()) {
      fail(line.line_number(), what + ": " + quoted_word(token) + " is not an integer in range");
    }
    if (value < min || value > max) {
      fail(line.line_number(), what + " " + token + " is outside [" + std::to_string(min) + ", " +
                                   std::to_string(max) + "]");
    }
    return value;
  }

  int64_t next_integer(LineTokens& line, int64_t min, int64_t max, const std::string& what) {
    if (line.done()) fail(line.line_number(), "expected " + what + ", found end of line");
    return parse_integer(line, line.next(), min, max, what);
  }

  int64_t next_dimension(LineTokens& line, const std::string& what) {
    return next_integer(line, 1, kMaxFileDimension, what);
  }

  int64_t next_keyword_dimension(LineTokens& line, const std::string& keyword) {
    expect_keyword(line, keyword);
    return next_dimension(line, keyword);
  }

  double next_scale(LineTokens& line) {
    if (line.done()) fail(line.line_number(), "expected a scale, found end of line");
    const std::string& token = line.next();
    double value = 0;
    auto [end, error] = std::from_chars(token.data(), token.data() + token.size(), value);
    if (error != std::errc() || end != token.data() + token.size() || !is_valid_scale(value)) {
      fail(line.line_number(), "scale " + quoted_word(token) + " is not a finite positive number");
    }
    return value;
  }

  // "scale S" at the end of a layer header, or the default.
  double optional_scale(LineTokens& line, double default_scale) {
    double scale = default_scale;
    if (!line.done()) {
      expect_keyword(line, "scale");
      scale = next_scale(line);
    } else if (!is_valid_scale(default_scale)) {
      // The default of 'square', the previous scale squared, can underflow or overflow.
      fail(line.line_number(), "the default scale " + format_scale(default_scale) +
                                   " is not a finite positive number; give 'scale S'");
    }
    expect_done(line);
    return scale;
  }

  Padding next_padding(LineTokens& line) {
    expect_keyword(line, "pad");
    Padding padding;
    for (int64_t* side : {&padding.top, &padding.left, &padding.bottom, &padding.right}) {
      *side = next_integer(line, 0, kMaxFileDimension, "padding");
    }
    return padding;
  }

  void read_version() {
    LineTokens line = next_line("'cryptonets-model " + std::to_string(kModelFileVersion) + "'");
    // A trained network where its integer model belongs (a trial's first guess: --model
    // data/model-float.txt): the message says what makes the one from the other.
    if (!line.done() &&
        (line.peek() == "cryptonets-float-model" || line.peek() == "cryptonets-sequential-model")) {
      const bool sequential = line.peek() == "cryptonets-sequential-model";
      fail(line.line_number(),
           std::string("expected 'cryptonets-model', found '") + line.peek() +
               "': this is a trained network of cryptonets-train, not the integer model that the "
               "encrypted network runs; cryptonets-quantise " +
               (sequential ? "--sequential" : "--float") + " FILE makes that");
    }
    expect_keyword(line, "cryptonets-model");
    int64_t version = next_integer(line, 0, INT64_MAX, "format version");
    if (version < kOldestModelFileVersion || version > kModelFileVersion) {
      fail(line.line_number(), "unsupported format version " + std::to_string(version) +
                                   " (this reader supports " +
                                   std::to_string(kOldestModelFileVersion) + " to " +
                                   std::to_string(kModelFileVersion) + ")");
    }
    version_ = static_cast<int>(version);
    expect_done(line);
  }

  void read_input(Model& model) {
    LineTokens line = next_line("the 'input' line");
    expect_keyword(line, "input");
    model.input_shape.channels = next_keyword_dimension(line, "channels");
    model.input_shape.height = next_keyword_dimension(line, "height");
    model.input_shape.width = next_keyword_dimension(line, "width");
    expect_keyword(line, "scale");
    model.input_scale = next_scale(line);
    if (!(model.input_scale < model::kInputScaleLimit)) {
      fail(line.line_number(), "input scale " + format_scale(model.input_scale) +
                                   " is not below 2^63 (9.2e18): the input values it gives, up "
                                   "to round(scale), must be 64-bit integers");
    }
    expect_done(line);
    if (model.input_shape.size() > kMaxLayerParameters) {
      fail(line.line_number(), "the input has more than 2^28 values");
    }
  }

  // One line of exactly `count` parameters.
  void read_parameter_line(std::vector<int64_t>& out, int64_t count, const std::string& what) {
    LineTokens line = next_line(what);
    if (line.count() != static_cast<size_t>(count)) {
      fail(line.line_number(), "expected " + std::to_string(count) + " integers (" + what +
                                   "), found " + std::to_string(line.count()) + " tokens");
    }
    while (!line.done()) {
      out.push_back(
          next_integer(line, -kMaxParameterMagnitude + 1, kMaxParameterMagnitude - 1, "parameter"));
    }
  }

  void read_bias(std::vector<int64_t>& bias, int64_t count) {
    LineTokens line = next_line("the 'bias' line");
    int line_number = line.line_number();
    expect_keyword(line, "bias");
    if (line.count() != static_cast<size_t>(count) + 1) {
      fail(line_number, "expected " + std::to_string(count) + " biases, found " +
                            std::to_string(line.count() - 1));
    }
    while (!line.done()) {
      bias.push_back(
          next_integer(line, -kMaxParameterMagnitude + 1, kMaxParameterMagnitude - 1, "bias"));
    }
  }

  // The weights are not reserved up front: memory grows only with the lines actually read, so a
  // short file that declares 2^28 weights cannot make the reader allocate 2 GiB.
  void require_parameter_count(const LineTokens& line, int64_t rows, int64_t per_row) {
    if (per_row > kMaxLayerParameters || rows * per_row > kMaxLayerParameters) {
      fail(line.line_number(), "the layer has more than 2^28 weights");
    }
  }

  Layer read_convolution(LineTokens& line, double previous_scale) {
    ConvolutionLayer conv;
    conv.in_maps = next_keyword_dimension(line, "in");
    conv.out_maps = next_keyword_dimension(line, "out");
    expect_keyword(line, "kernel");
    conv.kernel_height = next_dimension(line, "kernel height");
    conv.kernel_width = next_dimension(line, "kernel width");
    expect_keyword(line, "stride");
    conv.stride_y = next_dimension(line, "vertical stride");
    conv.stride_x = next_dimension(line, "horizontal stride");
    conv.padding = next_padding(line);
    double scale = optional_scale(line, previous_scale);
    int64_t per_map = conv.in_maps * conv.kernel_height * conv.kernel_width;
    require_parameter_count(line, conv.out_maps, per_map);
    for (int64_t o = 0; o < conv.out_maps; ++o) {
      read_parameter_line(conv.weights, per_map, "weights of output map " + std::to_string(o + 1));
    }
    read_bias(conv.bias, conv.out_maps);
    return Layer{std::move(conv), scale};
  }

  Layer read_dense(LineTokens& line, double previous_scale) {
    DenseLayer dense;
    dense.inputs = next_keyword_dimension(line, "in");
    dense.outputs = next_keyword_dimension(line, "out");
    double scale = optional_scale(line, previous_scale);
    require_parameter_count(line, dense.outputs, dense.inputs);
    for (int64_t o = 0; o < dense.outputs; ++o) {
      read_parameter_line(dense.weights, dense.inputs,
                          "weights of output " + std::to_string(o + 1));
    }
    read_bias(dense.bias, dense.outputs);
    return Layer{std::move(dense), scale};
  }

  Layer read_pool(LineTokens& line, double previous_scale) {
    ScaledMeanPoolLayer pool;
    expect_keyword(line, "window");
    pool.window_height = next_dimension(line, "window height");
    pool.window_width = next_dimension(line, "window width");
    expect_keyword(line, "stride");
    pool.stride_y = next_dimension(line, "vertical stride");
    pool.stride_x = next_dimension(line, "horizontal stride");
    pool.padding = next_padding(line);
    return Layer{pool, optional_scale(line, previous_scale)};
  }

  // poly degree D scale S, then "coefficients c_0 ... c_D" (lowest degree first).
  Layer read_polynomial(LineTokens& line) {
    if (version_ < kPolynomialModelFileVersion) {
      fail(line.line_number(),
           "the 'poly' layer needs format version " + std::to_string(kPolynomialModelFileVersion) +
               " ('cryptonets-model " + std::to_string(kPolynomialModelFileVersion) +
               "'); this file declares version " + std::to_string(version_));
    }
    expect_keyword(line, "degree");
    const int64_t degree = next_integer(line, model::kMinPolynomialDegree,
                                        model::kMaxPolynomialDegree, "polynomial degree");
    expect_keyword(line, "scale");
    const double scale = next_scale(line);
    expect_done(line);
    LineTokens coefficients = next_line("the 'coefficients' line");
    expect_keyword(coefficients, "coefficients");
    if (coefficients.count() != static_cast<size_t>(degree) + 2) {
      fail(coefficients.line_number(), "expected " + std::to_string(degree + 1) +
                                           " coefficients (degree " + std::to_string(degree) +
                                           ", lowest degree first), found " +
                                           std::to_string(coefficients.count() - 1));
    }
    PolynomialLayer poly;
    while (!coefficients.done()) {
      poly.coefficients.push_back(next_integer(coefficients, -model::kMaxPolynomialCoefficient + 1,
                                               model::kMaxPolynomialCoefficient - 1,
                                               "polynomial coefficient"));
    }
    if (poly.coefficients.back() == 0) {
      fail(coefficients.line_number(), "the leading coefficient (of x^" + std::to_string(degree) +
                                           ") is 0: declare the polynomial's true degree");
    }
    return Layer{std::move(poly), scale};
  }

  Layer read_layer(const std::string& keyword, LineTokens& line, double previous_scale) {
    if (keyword == "conv") return read_convolution(line, previous_scale);
    if (keyword == "dense") return read_dense(line, previous_scale);
    if (keyword == "pool") return read_pool(line, previous_scale);
    if (keyword == "square") {
      return Layer{SquareLayer{}, optional_scale(line, previous_scale * previous_scale)};
    }
    if (keyword == "flatten") return Layer{FlattenLayer{}, optional_scale(line, previous_scale)};
    if (keyword == "poly") return read_polynomial(line);
    fail(line.line_number(), "unknown keyword '" + keyword +
                                 "' (expected conv, square, dense, pool, flatten, poly or end)");
  }

  // Shape errors are reported at the layer's header line.
  Shape checked_output_shape(const Layer& layer, const Shape& input, int header_line_number) {
    try {
      return output_shape(layer, input);
    } catch (const std::invalid_argument& e) {
      fail(header_line_number, layer_name(layer) + " layer: " + e.what());
    }
  }

  std::istream& in_;
  std::string source_name_;
  int line_number_ = 0;
  int version_ = 0;
};

void write_padding(std::ostream& out, const Padding& p) {
  out << " pad " << p.top << ' ' << p.left << ' ' << p.bottom << ' ' << p.right;
}

void write_rows(std::ostream& out, const std::vector<int64_t>& values, size_t per_row) {
  for (size_t i = 0; i < values.size(); ++i) {
    out << values[i] << ((i + 1) % per_row == 0 ? '\n' : ' ');
  }
}

void write_bias(std::ostream& out, const std::vector<int64_t>& bias) {
  out << "bias";
  for (int64_t b : bias)
    out << ' ' << b;
  out << '\n';
}

void write_layer(std::ostream& out, const Layer& layer) {
  const std::string scale = " scale " + format_scale(layer.scale) + "\n";
  if (const auto* conv = std::get_if<ConvolutionLayer>(&layer.operation)) {
    out << "conv in " << conv->in_maps << " out " << conv->out_maps << " kernel "
        << conv->kernel_height << ' ' << conv->kernel_width << " stride " << conv->stride_y << ' '
        << conv->stride_x;
    write_padding(out, conv->padding);
    out << scale;
    write_rows(out, conv->weights,
               static_cast<size_t>(conv->in_maps * conv->kernel_height * conv->kernel_width));
    write_bias(out, conv->bias);
  } else if (const auto* dense = std::get_if<DenseLayer>(&layer.operation)) {
    out << "dense in " << dense->inputs << " out " << dense->outputs << scale;
    write_rows(out, dense->weights, static_cast<size_t>(dense->inputs));
    write_bias(out, dense->bias);
  } else if (const auto* pool = std::get_if<ScaledMeanPoolLayer>(&layer.operation)) {
    out << "pool window " << pool->window_height << ' ' << pool->window_width << " stride "
        << pool->stride_y << ' ' << pool->stride_x;
    write_padding(out, pool->padding);
    out << scale;
  } else if (const auto* poly = std::get_if<PolynomialLayer>(&layer.operation)) {
    out << "poly degree " << poly->degree() << scale << "coefficients";
    for (int64_t c : poly->coefficients)
      out << ' ' << c;
    out << '\n';
  } else {
    out << layer_name(layer) << scale;
  }
}

}  // namespace

int model_file_version(const Model& model) {
  return model::has_polynomial_layer(model) ? kPolynomialModelFileVersion : kOldestModelFileVersion;
}

Model read_model(std::istream& in, const std::string& source_name) {
  return ModelReader(in, source_name).read();
}

Model load_model(const std::string& path) {
  require_regular_input(path);
  // A directory opens as a stream whose first read fails: "line 0: read error" said nothing of
  // what was wrong.
  if (special_file_kind(path) == "a directory") {
    throw std::runtime_error("model file '" + path +
                             "': it is a directory, not a model file: give the file itself");
  }
  errno = 0;
  std::ifstream in(path);
  if (!in) {
    const int cause = errno;  // ifstream sets it from open(2)
    std::string message = "model file '" + path + "': cannot open for reading";
    if (cause != 0) message += std::string(": ") + std::strerror(cause);
    // The default under CRYPTONETS_DATA (DIR/model.txt, cli default_data_directory): the variable
    // is what to fix. Only that file: any path under DIR was said to come from it, a --model given
    // there too (a trial).
    const char* data = std::getenv("CRYPTONETS_DATA");
    if (data != nullptr && *data != '\0' && path == std::string(data) + "/model.txt") {
      message += " (under CRYPTONETS_DATA='" + std::string(data) + "')";
    }
    throw std::runtime_error(message);
  }
  // A file of this project's own in its place (--model keys/secret.key): named by its kind, as
  // load_profile does, which says more than "binary data" at line 1.
  std::optional<ProtocolFileKind> kind;
  try {
    kind = read_protocol_header(path).kind;
  } catch (const std::exception&) {
  }
  if (kind) {
    throw std::runtime_error("model file '" + path + "' holds " + protocol_kind_name(*kind) +
                             " (a binary file of cryptonets), not a model");
  }
  return read_model(in, path);
}

namespace {

// A binary file of this project's in place of a float model: named by its kind (it was "found
// binary data (not text)" at line 1, as for any other file).
void refuse_cryptonets_binary(const std::string& path, const std::string& what) {
  if (const auto kind = cryptonets_binary_kind(path))
    throw std::runtime_error(what + " '" + path + "': this is " + *kind + ", not a " + what);
}

}  // namespace

training::FloatNetwork load_float_model(const std::string& path) {
  refuse_cryptonets_binary(path, "float model");
  return training::load_float_network(path);
}

training::SequentialNetwork load_sequential_model(const std::string& path) {
  refuse_cryptonets_binary(path, "sequential model");
  return training::load_sequential_network(path);
}

void write_model(const Model& model, std::ostream& out) {
  validate_model(model);
  out << "cryptonets-model " << model_file_version(model) << '\n';
  out << "input channels " << model.input_shape.channels << " height " << model.input_shape.height
      << " width " << model.input_shape.width << " scale " << format_scale(model.input_scale)
      << '\n';
  for (const Layer& layer : model.layers)
    write_layer(out, layer);
  out << "end\n";
}

void save_model(const Model& model, const std::string& path) {
  // As the other outputs (AtomicFileWriter): an invalid model or a failed write truncated the
  // file in place, or left part of a model under its name.
  AtomicFileWriter writer(path, false);
  write_model(model, writer.stream());
  writer.commit();
}

}  // namespace cryptonets
