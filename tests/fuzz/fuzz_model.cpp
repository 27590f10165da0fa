// Fuzz target for the text model loader (io/model_file.hpp): read_model on arbitrary bytes.
// Accepted models must be valid (write_model, which validates, must not refuse them) and must
// round-trip: read_model(write_model(m)) == m, and the canonical text is a fixed point.
#include <sstream>

#include "cryptonets/io/model_file.hpp"
#include "cryptonets/model/model.hpp"
#include "fuzz_support.hpp"

using cryptonets::model::ConvolutionLayer;
using cryptonets::model::DenseLayer;
using cryptonets::model::FlattenLayer;
using cryptonets::model::kMaxParameterMagnitude;
using cryptonets::model::Model;
using cryptonets::model::Padding;
using cryptonets::model::ScaledMeanPoolLayer;
using cryptonets::model::Shape;
using cryptonets::model::SquareLayer;

using namespace cryptonets;

namespace {

std::string to_text(const Model& model) {
  std::ostringstream out;
  write_model(model, out);
  return out.str();
}

Model from_text(const std::string& text) {
  std::istringstream in(text);
  return read_model(in, "fuzz");
}

void check_round_trip(const Model& model) {
  std::string text;
  try {
    text = to_text(model);
  } catch (const std::invalid_argument& e) {
    fuzz::finding(std::string("read_model accepted a model that write_model refuses: ") + e.what());
  }
  Model again;
  try {
    again = from_text(text);
  } catch (const std::runtime_error& e) {
    fuzz::finding(std::string("read_model refuses the text write_model made: ") + e.what());
  }
  if (!(again == model)) fuzz::finding("read_model(write_model(m)) != m");
  if (to_text(again) != text) fuzz::finding("the canonical text is not a fixed point");
}

std::vector<int64_t> counting(size_t count, int64_t first) {
  std::vector<int64_t> values(count);
  for (size_t i = 0; i < count; ++i)
    values[i] = first + static_cast<int64_t>(i % 7) - 3;
  return values;
}

// Every layer kind, padding, strides and scales; small enough that mutations stay cheap.
Model every_layer_model() {
  const Padding pad{0, 0, 1, 1};
  ConvolutionLayer conv{
      1, 2, 3, 3, 2, 2, pad, counting(2 * 9, 1), {5, -kMaxParameterMagnitude + 1}};
  ScaledMeanPoolLayer pool{2, 2, 1, 1, Padding{1, 1, 0, 0}};
  DenseLayer dense{2 * 3 * 3, 3, counting(3 * 18, -2), {kMaxParameterMagnitude - 1, 0, -7}};
  Model model{Shape{1, 7, 7}, 255.0 / 7.0, {}};
  model.layers = {{conv, 0.1},
                  {SquareLayer{}, 0.01},
                  {pool, 1.0 / 3.0},
                  {pool, 1e300},
                  {FlattenLayer{}, 1e300},
                  {dense, 123456.789},
                  {SquareLayer{}, 4.9e-324}};
  return model;
}

// Hand-written: comments, blank lines, CR LF, omitted (default) scales, extra spaces.
const char* const kHandWritten =
    "# a comment before the version\n"
    "cryptonets-model 1\r\n"
    "\n"
    "input channels 1 height 3 width 3 scale 255\n"
    "conv in 1 out 2 kernel 2 2 stride 1 1 pad 0 0 0 0\n"
    "1 2 0 -1\n"
    "   # comment between weight lines\n"
    "0 1 1 0\t\n"
    "bias -3 0\n"
    "square\n"
    "flatten scale 2.5e3\n"
    "dense in 8 out 2\n"
    "1 1 1 1 0 0 0 0\n"
    "0 0 0 -1 0 0 0 1\n"
    "bias 0 7\n"
    "end\n"
    "# trailing comment\n";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::istringstream in{std::string(fuzz::as_text(data, size))};
  Model model;
  if (fuzz::accepted([&] { model = read_model(in, "fuzz"); })) check_round_trip(model);
  return 0;
}

std::vector<std::vector<uint8_t>> fuzz_seed_inputs() {
  return {fuzz::to_bytes(to_text(every_layer_model())), fuzz::to_bytes(kHandWritten)};
}
