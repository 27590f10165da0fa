// The model text format: exact round trips, the documented defaults, and the line number of every
// kind of malformed file.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "cryptonets/io/model_file.hpp"
#include "cryptonets/io/sha256.hpp"
#include "cryptonets/model/layers.hpp"
#include "cryptonets/model/model.hpp"
#include "file_test_support.hpp"
#include "nn_test_support.hpp"

using cryptonets::model::compile_model;
using cryptonets::model::ConvolutionLayer;
using cryptonets::model::DenseLayer;
using cryptonets::model::evaluate_plain;
using cryptonets::model::FlattenLayer;
using cryptonets::model::kMaxParameterMagnitude;
using cryptonets::model::merge_linear_layers;
using cryptonets::model::Model;
using cryptonets::model::Padding;
using cryptonets::model::PolynomialLayer;
using cryptonets::model::ScaledMeanPoolLayer;
using cryptonets::model::Shape;
using cryptonets::model::SquareLayer;

using namespace cryptonets;
using namespace test_support;

namespace {

// The CryptoNets MNIST network (Gilad-Bachrach et al. 2016, Table 1) with random weights and
// awkward scales (non-terminating binary fractions) to exercise the exact round trip.
Model awkwardly_scaled_cryptonets_model(std::mt19937_64& rng) {
  auto conv = [&](int64_t in, int64_t out, Padding pad, int64_t max_bias) {
    return ConvolutionLayer{in,
                            out,
                            5,
                            5,
                            2,
                            2,
                            pad,
                            random_integers(rng, out * in * 25, -99, 99),
                            random_integers(rng, out, -max_bias, max_bias)};
  };
  ScaledMeanPoolLayer pool{3, 3, 1, 1, Padding{1, 1, 1, 1}};
  Model model{Shape{1, 28, 28}, 255.0 / 7.0, {}};
  model.layers = {{conv(1, 5, Padding{0, 0, 1, 1}, kMaxParameterMagnitude - 1), 0.1},
                  {SquareLayer{}, 0.01},
                  {pool, 1.0 / 3.0},
                  {conv(5, 10, Padding{}, 1000), 2.5e-7},
                  {pool, 1e300},
                  {FlattenLayer{}, 1e300},
                  {random_dense(rng, 250, 100, 1000), 3.0},
                  {SquareLayer{}, 9.0},
                  {random_dense(rng, 100, 10, 1000), 123456.789}};
  return model;
}

std::string to_text(const Model& model) {
  std::ostringstream out;
  write_model(model, out);
  return out.str();
}

Model from_text(const std::string& text, const std::string& name = "test.model") {
  std::istringstream in(text);
  return read_model(in, name);
}

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
constexpr bool kAddressSanitizer = __has_feature(address_sanitizer);
#else
constexpr bool kAddressSanitizer = false;
#endif

// Bytes of address space mapped by this process (the first field of /proc/self/statm, in pages).
rlim_t address_space_in_use() {
  std::ifstream statm("/proc/self/statm");
  rlim_t pages = 0;
  statm >> pages;
  REQUIRE(pages > 0);
  return pages * static_cast<rlim_t>(::sysconf(_SC_PAGESIZE));
}

// A small valid file; the malformed cases below edit one line of it.
const std::string kSmallModel =
    "cryptonets-model 1\n"                                         // 1
    "input channels 1 height 3 width 3 scale 255\n"                // 2
    "conv in 1 out 2 kernel 2 2 stride 1 1 pad 0 0 0 0 scale 2\n"  // 3
    "1 2 0 -1\n"                                                   // 4
    "0 1 1 0\n"                                                    // 5
    "bias -3 0\n"                                                  // 6
    "square\n"                                                     // 7
    "flatten\n"                                                    // 8
    "dense in 8 out 2 scale 16\n"                                  // 9
    "1 1 1 1 0 0 0 0\n"                                            // 10
    "0 0 0 -1 0 0 0 1\n"                                           // 11
    "bias 0 7\n"                                                   // 12
    "end\n";                                                       // 13

std::string replace_line(const std::string& text, int line_number, const std::string& line) {
  std::istringstream in(text);
  std::string out, current;
  for (int n = 1; std::getline(in, current); ++n) {
    if (n == line_number) {
      if (!line.empty()) out += line + "\n";  // an empty replacement deletes the line
    } else {
      out += current + "\n";
    }
  }
  return out;
}

// The error message of reading `text`, which must fail.
std::string read_error(const std::string& text) {
  try {
    from_text(text, "bad.model");
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  FAIL("the malformed file was accepted:\n" << text);
  return "";
}

void check_error_at_line(const std::string& text, int line, const std::string& fragment) {
  std::string message = read_error(text);
  CAPTURE(message);
  CHECK(message.find("model file 'bad.model' line " + std::to_string(line) + ": ") == 0);
  CHECK(message.find(fragment) != std::string::npos);
}

}  // namespace

// kSmallModel with its square replaced by a degree-2 polynomial layer (format version 2).
const std::string kPolynomialModel = replace_line(
    replace_line(kSmallModel, 1, "cryptonets-model 2"), 7,
    "poly degree 2 scale 40\ncoefficients 5 -3 2");  // lines 7 and 8; the dense layer is at 10

TEST_CASE("a polynomial model is written as version 2 and reads back identical, text too") {
  const Model model = from_text(kPolynomialModel);
  REQUIRE(std::holds_alternative<PolynomialLayer>(model.layers[1].operation));
  CHECK(std::get<PolynomialLayer>(model.layers[1].operation).coefficients ==
        std::vector<int64_t>{5, -3, 2});
  CHECK(model.layers[1].scale == 40.0);
  CHECK(model_file_version(model) == 2);
  const std::string text = to_text(model);
  CHECK(text.rfind("cryptonets-model 2\n", 0) == 0);
  CHECK(text.find("\npoly degree 2 scale 40\ncoefficients 5 -3 2\n") != std::string::npos);
  CHECK(from_text(text) == model);
  CHECK(to_text(from_text(text)) == text);
  for (const std::vector<int64_t>& coefficients :
       {std::vector<int64_t>{-7, 1}, std::vector<int64_t>{0, 0, 0, kMaxParameterMagnitude - 1}}) {
    Model other = model;
    other.layers[1].operation = PolynomialLayer{coefficients};
    CHECK(from_text(to_text(other)) == other);
  }
  // A model without a polynomial layer keeps version 1, byte for byte.
  CHECK(model_file_version(from_text(kSmallModel)) == 1);
  CHECK(to_text(from_text(kSmallModel)).rfind("cryptonets-model 1\n", 0) == 0);
}

TEST_CASE("The float model's SHA-256 that a shipped model and its table record is that file's") {
  // Editing a float model's comment changes its checksum: each record of it must follow.
  const std::filesystem::path root = repository_root();
  const auto file_text = [](const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream content;
    content << in.rdbuf();
    return content.str();
  };
  for (const auto& [model, float_model, table] :
       {std::tuple{"data/model.txt", "data/model-float.txt", "bench/results/quantisation.md"},
        std::tuple{"data/model-paper9.txt", "data/model-paper9-float.txt",
                   "bench/results/quantisation-paper9.md"}}) {
    CAPTURE(float_model);
    const std::string text = file_text(root / float_model);
    const std::string digest =
        to_hex(sha256(std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size())));
    CHECK(file_text(root / model)
              .find(std::string("quantised from ") + float_model + " (SHA-256 " + digest + ")") !=
          std::string::npos);
    CHECK(file_text(root / table)
              .find(std::string("Float network `") + float_model + "` (SHA-256 " + digest + ",") !=
          std::string::npos);
  }
}

TEST_CASE("the shipped models still read and write back as version 1, byte for byte") {
  for (const char* name : {"data/model.txt", "data/model-paper9.txt"}) {
    const std::filesystem::path path = repository_root() / name;
    std::ifstream in(path);
    std::ostringstream content;
    content << in.rdbuf();
    std::string text = content.str();
    CAPTURE(name);
    REQUIRE(text.rfind("cryptonets-model 1\n", 0) == 0);
    const Model model = from_text(text);
    // The file's comments are not part of the model; everything else is written back as read.
    std::string without_comments;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);)
      if (line.empty() || line[0] != '#') without_comments += line + "\n";
    CHECK(to_text(model) == without_comments);
  }
}

TEST_CASE("malformed polynomial layers are reported at the right line") {
  SUBCASE("a poly layer in a version-1 file") {
    check_error_at_line(replace_line(kPolynomialModel, 1, "cryptonets-model 1"), 7,
                        "the 'poly' layer needs format version 2");
  }
  SUBCASE("degree 4") {
    check_error_at_line(replace_line(kPolynomialModel, 7, "poly degree 4 scale 40"), 7,
                        "polynomial degree 4 is outside [1, 3]");
  }
  SUBCASE("degree 0") {
    check_error_at_line(replace_line(kPolynomialModel, 7, "poly degree 0 scale 40"), 7,
                        "polynomial degree 0 is outside [1, 3]");
  }
  SUBCASE("no scale") {
    check_error_at_line(replace_line(kPolynomialModel, 7, "poly degree 2"), 7,
                        "expected 'scale', found end of line");
  }
  SUBCASE("too few coefficients") {
    check_error_at_line(replace_line(kPolynomialModel, 8, "coefficients 5 -3"), 8,
                        "expected 3 coefficients (degree 2, lowest degree first), found 2");
  }
  SUBCASE("too many coefficients") {
    check_error_at_line(replace_line(kPolynomialModel, 8, "coefficients 5 -3 2 1"), 8,
                        "expected 3 coefficients");
  }
  SUBCASE("a zero leading coefficient") {
    check_error_at_line(replace_line(kPolynomialModel, 8, "coefficients 5 -3 0"), 8,
                        "the leading coefficient (of x^2) is 0");
  }
  SUBCASE("a coefficient of 2^60") {
    check_error_at_line(replace_line(kPolynomialModel, 8, "coefficients 5 1152921504606846976 1"),
                        8, "polynomial coefficient 1152921504606846976 is outside");
  }
  SUBCASE("a coefficient that is not an integer") {
    check_error_at_line(replace_line(kPolynomialModel, 8, "coefficients 5 -3 2.5"), 8,
                        "'2.5' is not an integer");
  }
  SUBCASE("the coefficients line missing") {
    check_error_at_line(replace_line(kPolynomialModel, 8, ""), 8, "expected 'coefficients'");
  }
}

TEST_CASE("a model written and read back is identical, and so is its text") {
  std::mt19937_64 rng(1);
  Model model = awkwardly_scaled_cryptonets_model(rng);
  std::string text = to_text(model);
  Model loaded = from_text(text);
  CHECK(loaded == model);
  CHECK(to_text(loaded) == text);
  Model merged = merge_linear_layers(model);
  CHECK(from_text(to_text(merged)) == merged);
}

TEST_CASE("the small example file reads as written, with documented default scales") {
  std::string text = replace_line(kSmallModel, 5, "# comment line\n\n  0 1 1 0  \r");
  Model model = from_text(text);
  CHECK(model.input_shape == Shape{1, 3, 3});
  CHECK(model.input_scale == 255.0);
  REQUIRE(model.layers.size() == 4);
  const auto& conv = std::get<ConvolutionLayer>(model.layers[0].operation);
  CHECK(conv.weights == std::vector<int64_t>{1, 2, 0, -1, 0, 1, 1, 0});
  CHECK(conv.bias == std::vector<int64_t>{-3, 0});
  CHECK(model.layers[0].scale == 2.0);
  CHECK(model.layers[1].scale == 4.0);  // square without "scale": previous scale squared
  CHECK(model.layers[2].scale == 4.0);  // flatten: previous scale
  CHECK(model.layers[3].scale == 16.0);
  // The hand-computed outputs of this network (see test_model.cpp).
  CHECK(evaluate_plain(compile_model(model), std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9}) ==
        std::vector<i128>{44, 178});
}

TEST_CASE("save_model and load_model round trip through a file") {
  std::mt19937_64 rng(2);
  Model model = awkwardly_scaled_cryptonets_model(rng);
  auto path = std::filesystem::temp_directory_path() / "cryptonets_test_model_file.model";
  save_model(model, path.string());
  CHECK(load_model(path.string()) == model);
  std::filesystem::remove(path);
  CHECK_THROWS_AS(load_model(path.string()), std::runtime_error);
}

// save_model wrote in place: an invalid model truncated the file it was to replace, and a write
// that failed part way (here a file-size limit: EFBIG) left part of a model under its name.
TEST_CASE("save_model that fails leaves the file as it was and no temporary beside it") {
  TempDir dir("cryptonets-save-model");
  const std::string path = dir.file("model.txt");
  const std::string fresh = dir.file("fresh.txt");
  write_bytes(path, "the previous model\n");
  std::mt19937_64 rng(2);
  const Model model = awkwardly_scaled_cryptonets_model(rng);
  Model invalid = model;
  std::get<DenseLayer>(invalid.layers.back().operation).bias.pop_back();
  CHECK_THROWS_AS(save_model(invalid, path), std::invalid_argument);

  std::ostringstream text;
  write_model(model, text);
  struct sigaction ignore {
  }, previous_action{};
  ignore.sa_handler = SIG_IGN;
  REQUIRE(::sigaction(SIGXFSZ, &ignore, &previous_action) == 0);
  rlimit previous{};
  REQUIRE(::getrlimit(RLIMIT_FSIZE, &previous) == 0);
  rlimit limited = previous;
  limited.rlim_cur = static_cast<rlim_t>(text.str().size() / 2);
  std::string over_old, over_none;
  const bool tried = previous.rlim_max == RLIM_INFINITY || previous.rlim_max >= limited.rlim_cur;
  if (tried) {
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &limited) == 0);
    over_old = error_of([&] { save_model(model, path); });
    over_none = error_of([&] { save_model(model, fresh); });
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &previous) == 0);
  }
  REQUIRE(::sigaction(SIGXFSZ, &previous_action, nullptr) == 0);
  if (tried) {
    CAPTURE(over_old);
    CHECK(contains(over_old, "cannot write file '" + path + "'"));
    CHECK(contains(over_none, "File too large"));
  }
  CHECK(read_bytes(path) == "the previous model\n");
  CHECK(dir.names() == std::vector<std::string>{"model.txt"});
  save_model(model, fresh);
  CHECK(load_model(fresh) == model);
}

// Found by tests/fuzz/fuzz_model (libFuzzer): a line of only a vertical tab or form feed was not
// blank to the reader but had no token, and reading its keyword dereferenced past the end.
TEST_CASE("lines of vertical tabs and form feeds are blank lines") {
  const Model expected = from_text(kSmallModel);
  CHECK(from_text(replace_line(kSmallModel, 7, "\v\nsquare\n\f \t")) == expected);
  check_error_at_line("cryptonets-model 1\n\v\f\n", 3, "unexpected end of file");
  check_error_at_line(replace_line(kSmallModel, 13, "\v"), 14, "unexpected end of file");
}

// Found by tests/fuzz/fuzz_model: read_model refused scales above 1e308 that validate_model
// accepts and write_model writes, so such a model did not read back.
TEST_CASE("scales up to the largest finite double and down to the smallest denormal read back") {
  Model model = from_text(kSmallModel);
  model.layers[1].scale = std::numeric_limits<double>::max();
  model.layers[2].scale = 1.5e308;
  model.layers[3].scale = std::numeric_limits<double>::denorm_min();
  CHECK(from_text(to_text(model)) == model);
  // A square's default scale near the top of the range: 1.2e154² ≈ 1.44e308 is finite.
  const Model squared = from_text(replace_line(
      kSmallModel, 3, "conv in 1 out 2 kernel 2 2 stride 1 1 pad 0 0 0 0 scale 1.2e154"));
  CHECK(squared.layers[1].scale == 1.2e154 * 1.2e154);
  CHECK(from_text(to_text(squared)) == squared);
}

// Found by tests/fuzz/fuzz_model: a header "dense in 1048576 out 256" made read_model reserve
// 2^28 weights (2 GiB) before reading any of them, so a 300-byte file could exhaust memory or end
// in std::bad_alloc. With the address space limited to 1 GiB above what is in use, the file must
// still be refused with the documented error.
TEST_CASE("a short file that declares 2^28 weights is refused without reserving memory for them") {
  if (kAddressSanitizer) return;  // ASan's shadow memory does not live under an address-space limit
  const std::string text = replace_line(kSmallModel, 9, "dense in 1048576 out 256");
  rlimit previous{};
  REQUIRE(::getrlimit(RLIMIT_AS, &previous) == 0);
  rlimit limited = previous;
  limited.rlim_cur = address_space_in_use() + (rlim_t{1} << 30);
  if (previous.rlim_max != RLIM_INFINITY && previous.rlim_max < limited.rlim_cur) return;
  REQUIRE(::setrlimit(RLIMIT_AS, &limited) == 0);
  std::string message;
  bool out_of_memory = false;
  try {
    from_text(text, "bad.model");
  } catch (const std::runtime_error& e) {
    message = e.what();
  } catch (const std::bad_alloc&) {
    out_of_memory = true;
  }
  REQUIRE(::setrlimit(RLIMIT_AS, &previous) == 0);
  CHECK_FALSE(out_of_memory);
  CHECK(message.find("model file 'bad.model' line 10: expected 1048576 integers") == 0);
}

TEST_CASE("writing an invalid model is refused") {
  Model model = from_text(kSmallModel);
  std::get<DenseLayer>(model.layers[3].operation).bias.pop_back();
  std::ostringstream out;
  CHECK_THROWS_AS(write_model(model, out), std::invalid_argument);
}

TEST_CASE("each malformed file is reported at the right line") {
  SUBCASE("wrong magic") {
    check_error_at_line(replace_line(kSmallModel, 1, "cryptonet-model 1"), 1,
                        "expected 'cryptonets-model'");
  }
  SUBCASE("unsupported version") {
    check_error_at_line(replace_line(kSmallModel, 1, "cryptonets-model 3"), 1,
                        "unsupported format version 3 (this reader supports 1 to 2)");
  }
  SUBCASE("missing input scale") {
    check_error_at_line(replace_line(kSmallModel, 2, "input channels 1 height 3 width 3"), 2,
                        "expected 'scale'");
  }
  SUBCASE("zero input height") {
    check_error_at_line(replace_line(kSmallModel, 2, "input channels 1 height 0 width 3 scale 1"),
                        2, "height 0 is outside");
  }
  SUBCASE("unknown layer keyword") {
    check_error_at_line(replace_line(kSmallModel, 7, "relu"), 7, "unknown keyword 'relu'");
  }
  // Maps and outputs are numbered from 1, as everywhere in the CLI: line 4 holds map 1's weights,
  // line 11 output 2's.
  SUBCASE("too few weights on a line") {
    check_error_at_line(replace_line(kSmallModel, 4, "1 2 0"), 4,
                        "expected 4 integers (weights of output map 1)");
  }
  SUBCASE("too many weights on a line") {
    check_error_at_line(replace_line(kSmallModel, 11, "0 0 0 -1 0 0 0 1 5"), 11,
                        "expected 8 integers (weights of output 2)");
  }
  SUBCASE("a weight that is not an integer") {
    check_error_at_line(replace_line(kSmallModel, 5, "0 1 1.5 0"), 5, "'1.5' is not an integer");
  }
  SUBCASE("a weight out of range") {
    check_error_at_line(replace_line(kSmallModel, 10, "1 1 1 1 0 0 0 1152921504606846976"), 10,
                        "outside");
  }
  SUBCASE("a weight line missing") {
    check_error_at_line(replace_line(kSmallModel, 5, ""), 5, "expected 4 integers");
  }
  SUBCASE("the bias line missing") {
    check_error_at_line(replace_line(kSmallModel, 6, ""), 6, "expected 'bias'");
  }
  SUBCASE("too few biases") {
    check_error_at_line(replace_line(kSmallModel, 12, "bias 0"), 12, "expected 2 biases, found 1");
  }
  SUBCASE("dense input count inconsistent with the previous layer") {
    std::string text =
        replace_line(replace_line(kSmallModel, 9, "dense in 9 out 2"), 10, "1 1 1 1 0 0 0 0 0");
    text = replace_line(text, 11, "0 0 0 -1 0 0 0 1 0");
    check_error_at_line(text, 9, "expects 9 inputs, the input has 8 values");
  }
  SUBCASE("convolution input maps inconsistent with the channels") {
    std::string text =
        replace_line(kSmallModel, 3, "conv in 2 out 1 kernel 2 2 stride 1 1 pad 0 0 0 0");
    text = replace_line(replace_line(text, 4, "1 2 0 -1 0 1 1 0"), 5, "");
    text = replace_line(text, 5, "bias 3");
    check_error_at_line(text, 3, "expects 2 input maps");
  }
  SUBCASE("window larger than the padded input") {
    check_error_at_line(replace_line(kSmallModel, 8, "pool window 4 4 stride 1 1 pad 0 0 0 0"), 8,
                        "larger than the padded input");
  }
  SUBCASE("negative padding") {
    check_error_at_line(
        replace_line(kSmallModel, 3, "conv in 1 out 2 kernel 2 2 stride 1 1 pad 0 -1 0 0"), 3,
        "padding -1 is outside");
  }
  SUBCASE("a scale that is zero") {
    check_error_at_line(replace_line(kSmallModel, 7, "square scale 0"), 7,
                        "not a finite positive number");
  }
  SUBCASE("an infinite scale") {  // from_chars reads "inf"
    check_error_at_line(replace_line(kSmallModel, 7, "square scale inf"), 7,
                        "not a finite positive number");
  }
  // Found by tests/fuzz/fuzz_model: the default of 'square' (the previous scale squared) was not
  // checked, so a file could load as a model that validate_model and write_model refuse.
  SUBCASE("a square whose default scale underflows to zero") {
    check_error_at_line(
        replace_line(kSmallModel, 3,
                     "conv in 1 out 2 kernel 2 2 stride 1 1 pad 0 0 0 0 scale 1e-200"),
        7, "default scale 0 is not a finite positive number");
  }
  SUBCASE("a square whose default scale overflows to infinity") {
    check_error_at_line(
        replace_line(kSmallModel, 3,
                     "conv in 1 out 2 kernel 2 2 stride 1 1 pad 0 0 0 0 scale 1e200"),
        7, "default scale inf is not a finite positive number");
  }
  // Found by a trial: round(1e19), the largest input, overflowed int64 ("max_input must be >= 0").
  SUBCASE("an input scale of 2^63 or more") {
    check_error_at_line(
        replace_line(kSmallModel, 2, "input channels 1 height 3 width 3 scale 1e19"), 2,
        "input scale 1e+19 is not below 2^63");
  }
  SUBCASE("a scale that is not a number") {
    check_error_at_line(replace_line(kSmallModel, 7, "square scale nan"), 7,
                        "not a finite positive number");
  }
  SUBCASE("an extra token after a layer") {
    check_error_at_line(replace_line(kSmallModel, 7, "square scale 4 please"), 7,
                        "unexpected 'please'");
  }
  SUBCASE("a misspelt header key") {
    check_error_at_line(replace_line(kSmallModel, 9, "dense input 8 out 2"), 9,
                        "expected 'in', found 'input'");
  }
  SUBCASE("a truncated header") {
    check_error_at_line(replace_line(kSmallModel, 9, "dense in 8 out"), 9, "found end of line");
  }
  SUBCASE("a float model of cryptonets-train: says how to make the integer model") {
    check_error_at_line(replace_line(kSmallModel, 1, "cryptonets-float-model 1"), 1,
                        "not the integer model that the encrypted network runs; "
                        "cryptonets-quantise --float FILE makes that");
    check_error_at_line(replace_line(kSmallModel, 1, "cryptonets-sequential-model 1"), 1,
                        "cryptonets-quantise --sequential FILE makes that");
  }
  SUBCASE("binary data for the first word: said so, not quoted up to its first NUL") {
    check_error_at_line(replace_line(kSmallModel, 1, std::string("CNPF\0\x01 1", 8)), 1,
                        "found binary data (not text): a control byte at column 5, which no "
                        "text format holds");
  }
  SUBCASE("a control byte in a comment is binary data too, as inspect has it") {
    check_error_at_line(replace_line(kSmallModel, 2, "# a \x12 comment"), 2,
                        "found binary data (not text): a control byte at column 5");
  }
  SUBCASE("bytes that are not UTF-8 are binary too, never quoted; UTF-8 text is quoted") {
    check_error_at_line(
        replace_line(kSmallModel, 9, "dense in 8 out 2 scale 16 A\x90(\xa1\xa1()ib\xa8"), 9,
        "unexpected binary data (not text) at end of line");
    check_error_at_line(replace_line(kSmallModel, 9, "dense in 8 out 2 scale 16 \xc0\xaf"), 9,
                        "unexpected binary data (not text) at end of line");  // overlong '/'
    check_error_at_line(replace_line(kSmallModel, 9, "dense in 8 out 2 scale 16 \xed\xa0\x80"), 9,
                        "unexpected binary data (not text) at end of line");  // a surrogate
    check_error_at_line(replace_line(kSmallModel, 9, "dense in 8 out 2 scale 16 caf\xc3\xa9"), 9,
                        "unexpected 'caf\xc3\xa9' at end of line");
  }
  SUBCASE("missing end") {
    check_error_at_line(replace_line(kSmallModel, 13, ""), 13, "unexpected end of file");
  }
  SUBCASE("trailing garbage after end") {
    check_error_at_line(kSmallModel + "\n# fine\nsquare\n", 16, "unexpected content after 'end'");
  }
  SUBCASE("an empty file") {
    check_error_at_line("", 1, "unexpected end of file");
  }
}
