// cryptonets-quantise: turns the trained float CryptoNets network into the integer model that the
// encrypted runtime evaluates, choosing the scales that need the fewest plaintext moduli while
// keeping the test accuracy, and writes the accuracy/bits table. Works on any IDX data set of
// 28×28 grey images (cryptonets-train's); every number it writes is computed from the run.
//
//   cryptonets-quantise --float data/model-float.txt --data data/mnist --out data/model.txt
//                       --results bench/results/quantisation.md
#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <optional>
#include <regex>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "cli_support.hpp"
#include "cryptonets/arith/format.hpp"
#include "cryptonets/inference/parameter_selection.hpp"
#include "cryptonets/io/idx.hpp"
#include "cryptonets/io/model_file.hpp"
#include "cryptonets/io/sha256.hpp"
#include "cryptonets/model/layers.hpp"
#include "cryptonets/model/range.hpp"
#include "cryptonets/training/float_network.hpp"
#include "cryptonets/training/polynomial_quantiser.hpp"
#include "cryptonets/training/quantiser.hpp"
#include "cryptonets/training/sequential_network.hpp"

using cryptonets::inference::preset;
using cryptonets::model::centred_bits;
using cryptonets::model::kMaxParameterMagnitude;
using cryptonets::model::Model;
using cryptonets::training::accuracy;
using cryptonets::training::choose_default;
using cryptonets::training::describe_sweep;
using cryptonets::training::evaluate_integer_model;
using cryptonets::training::evaluate_quantised_network;
using cryptonets::training::FloatNetwork;
using cryptonets::training::kPlaintextModulusBits;
using cryptonets::training::kPlaintextModulusCongruence;
using cryptonets::training::LabelledImages;
using cryptonets::training::measure_quantisation;
using cryptonets::training::more_faithful;
using cryptonets::training::PlainEvaluation;
using cryptonets::training::plaintext_moduli;
using cryptonets::training::QuantisationChoice;
using cryptonets::training::QuantisationResult;
using cryptonets::training::quantise;
using cryptonets::training::require_classes_match;
using cryptonets::training::require_labels_below;
using cryptonets::training::summarise_sweep;
using cryptonets::training::sweep_quantisations;
using cryptonets::training::SweepGrid;

namespace {

using namespace cryptonets;
using namespace cryptonets::cli;

constexpr const char* kProgram = "cryptonets-quantise";

struct CommandLine {
  std::string float_model;
  std::string sequential_model;  // --sequential: a network with polynomial activations
  std::string data_directory;
  std::string output;
  std::string results;
  // --out and --results given (else their defaults, which are never replaced: ToolOutput).
  bool output_named = false;
  bool results_named = false;
  bool float_named = false;  // --float and --data given (else their defaults: relative paths)
  bool data_named = false;
  int threads = 0;
  std::optional<double> min_accuracy;  // nullopt: follows the float model (kDefaultFloorBelowFloat)
  bool verify_checksums = true;
  SweepGrid grid;
  std::string regenerate;  // the command line that reproduces this run's files (printable)
};

// The default accuracy floor: this far below the float model's own test accuracy (0.1 point).
constexpr double kDefaultFloorBelowFloat = 0.001;
// Progress lines in a pipe or log: one every this many seconds.
constexpr double kProgressLogSeconds = 5;

// Rows of the table with the same weight bits in every layer (those the grid allows).
const std::vector<double> kUniformInputScales{1, 4, 8, 16, 255};
constexpr int kUniformMinBits = 3;
constexpr int kUniformMaxBits = 8;
constexpr size_t kMostFaithfulPerModuli = 5;
constexpr size_t kMostAccuratePerModuli = 3;

std::string shown(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

// "1,4,16.5" -> {1, 4, 16.5}: reals in (0, 255]. The integer input is round(p · I / 255) for
// pixel byte p (model/model.hpp): I = 255 is the raw pixel, and a larger I adds no precision, only
// bits (I = 510 doubles every input) or rounding again (I = 300); it was accepted (a review).
std::vector<double> parse_scales(const std::string& text) {
  std::vector<double> values;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    char* end = nullptr;
    const double value = std::strtod(item.c_str(), &end);
    if (item.empty() || *end != '\0' || !(value > 0) || !std::isfinite(value)) {
      throw UsageError("--input-scales expects positive numbers separated by commas, got '" + text +
                       "'");
    }
    if (value > 255) {
      throw UsageError(
          "--input-scales takes scales I from above 0 to 255 (the integer input is "
          "round(pixel * I / 255), I = 255 the raw pixel byte; a larger I adds no "
          "precision), got " +
          shown(value) + " in '" + text + "'");
    }
    // A scale twice was two grid points each ("I in {4, 4}", the grid counted twice; a trial).
    if (std::find(values.begin(), values.end(), value) != values.end())
      throw UsageError("--input-scales lists " + shown(value) + " twice, in '" + text + "'");
    values.push_back(value);
  }
  if (values.empty()) throw UsageError("--input-scales expects at least one number");
  // getline drops a last empty item: "1," was taken as "1" (a trial).
  if (text.ends_with(','))
    throw UsageError("--input-scales expects positive numbers separated by commas, got '" + text +
                     "'");
  return values;
}

// A trial's `--float X --out X` replaced the float model (13 minutes of training) with the
// integer one, and `--out X --results X` the table with the model: any two of the files named
// (option, path) that are the same file (names_same_file) are a UsageError, before any work.
void refuse_same_files(const std::vector<std::pair<std::string, std::string>>& files) {
  for (size_t i = 0; i < files.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (!names_same_file(files[i].second, files[j].second)) continue;
      throw UsageError("--" + files[i].first + " '" + files[i].second + "' is the same file as --" +
                       files[j].first + " '" + files[j].second +
                       "': writing it would destroy the other; choose another path");
    }
  }
}

// The default outputs are relative to the current directory: a bare run from the repository
// replaced the shipped data/model.txt (which every cryptonets command reads by default) and
// bench/results/quantisation.md. An output left at its default that names an existing file is a
// UsageError, before any work; named on the command line, it is replaced.
void refuse_default_over_existing(const OptionParser& options,
                                  const std::vector<std::string>& outputs) {
  std::vector<DefaultOutput> defaults;
  for (const std::string& name : outputs) {
    if (!options.given(name)) defaults.push_back({"--" + name, options.text(name)});
  }
  const std::string refused = existing_default_outputs(defaults);
  if (refused.empty()) return;
  throw UsageError("refusing to replace " + refused +
                   ": a default output never replaces an existing file (run from the repository, "
                   "it would be shipped data); name the outputs with --out FILE and --results "
                   "FILE (a file named there is replaced)");
}

// A model of the other option's kind is a usage error that names that option (a trial gave the
// paper network's sequential model as --float: "found 'cryptonets-sequential-model', expected
// 'cryptonets-float-model'", no word of --sequential).
void refuse_model_of_the_other_option(const CommandLine& line) {
  // The integer model, this tool's output, given as its input (data/model.txt: "found
  // 'cryptonets-model', expected 'cryptonets-float-model'", exit 1).
  const bool sequential = !line.sequential_model.empty();
  const std::string& input = sequential ? line.sequential_model : line.float_model;
  if (text_file_format(input) == "cryptonets-model") {
    throw UsageError(std::string(sequential ? "--sequential '" : "--float '") +
                     printable_text(input) +
                     "' holds an integer model, what cryptonets-quantise writes: it quantises "
                     "a trained network of cryptonets-train (a float model as --float, a "
                     "sequential model as --sequential)");
  }
  if (line.sequential_model.empty()) {
    if (text_file_format(line.float_model) == "cryptonets-sequential-model") {
      throw UsageError("--float '" + printable_text(line.float_model) +
                       "' holds a sequential model (cryptonets-train --architecture paper, "
                       "--activation or --fine-tune): give it as --sequential");
    }
  } else if (text_file_format(line.sequential_model) == "cryptonets-float-model") {
    throw UsageError("--sequential '" + printable_text(line.sequential_model) +
                     "' holds a float model of the 5-layer network: give it as --float");
  }
}

// Parses the options; nullopt after --help.
std::optional<CommandLine> parse_command_line(std::span<char* const> arguments) {
  const SweepGrid defaults;
  std::string default_scales;
  for (double scale : defaults.input_scales)
    default_scales += (default_scales.empty() ? "" : ",") + shown(scale);
  OptionParser options = OptionParser::for_program(
      "cryptonets-quantise",
      "Quantises the trained float CryptoNets network into the integer model of the encrypted\n"
      "runtime (the fewest plaintext moduli that keep the test accuracy) and writes the\n"
      "accuracy/bits table. --data is the data set the float model was trained on (IDX files\n"
      "as for cryptonets-train). A float model below --min-accuracy is refused at once.");
  options.add_value("float", "FILE", "trained float model", "data/model-float.txt");
  options.add_value("sequential", "FILE",
                    "instead of --float: a cryptonets-train sequential model of the\n"
                    "5-layer shape whose activations are squares or polynomials of\n"
                    "degree 1..3 (after --fine-tune FILE --approximate lsq|chebyshev),\n"
                    "quantised into a model with polynomial layers (format version 2)");
  options.add_value("min-bits", "B", "fewest weight bits of every layer in the grid",
                    std::to_string(defaults.min_bits));
  options.add_value("data", "DIR", "the data set's IDX files (and SHA256SUMS)", "data/mnist");
  options.add_value("out", "FILE",
                    "where to write the integer model; an existing file is replaced only when\n"
                    "named here",
                    "data/model.txt");
  options.add_value("results", "FILE",
                    "where to write the table; an existing file is replaced only when named here",
                    "bench/results/quantisation.md");
  options.add_value("threads", "T", "OpenMP threads", "2");
  options.add_value("min-accuracy", "X",
                    "least test accuracy (0..1) of the model written\n[the float model's test "
                    "accuracy - " +
                        shown(100 * kDefaultFloorBelowFloat) + " point]");
  options.add_value("max-moduli", "K", "evaluate grid points needing at most K moduli",
                    std::to_string(defaults.max_moduli));
  options.add_value("input-scales", "LIST",
                    "input scales I of the grid, comma-separated, each above 0 and at most 255\n"
                    "(the integer input is round(pixel * I / 255))",
                    default_scales);
  options.add_value("max-bits", "B",
                    "most weight bits of every layer in the grid [conv " +
                        std::to_string(defaults.max_conv_bits) + ", dense " +
                        std::to_string(defaults.max_dense1_bits) + "/" +
                        std::to_string(defaults.max_dense2_bits) + "]");
  add_no_verify_option(options);
  if (!options.parse(arguments)) return std::nullopt;

  CommandLine line;
  for (const char* name : {"float", "sequential"}) {
    if (options.has(name) && options.text(name).empty())
      throw UsageError("--" + std::string(name) + " needs a file name, not an empty one");
  }
  // A trial gave both and got the sequential model's run without a word about --float.
  if (options.given("float") && options.given("sequential"))
    throw UsageError("--float and --sequential exclude each other: give one of them");
  line.float_model = options.text("float");
  if (options.has("sequential")) line.sequential_model = options.text("sequential");
  if (line.sequential_model.empty())
    require_regular_input_option("float", line.float_model);
  else
    require_regular_input_option("sequential", line.sequential_model);
  refuse_model_of_the_other_option(line);
  line.grid.min_bits = static_cast<int>(options.integer("min-bits", 1, 16));
  line.data_directory = options.text("data");
  line.float_named = options.given("float");
  line.data_named = options.given("data");
  line.output = options.text("out");
  line.results = options.text("results");
  line.output_named = options.given("out");
  line.results_named = options.given("results");
  refuse_default_over_existing(options, {"out", "results"});
  require_output_path("out", line.output, line.output_named);
  require_output_path("results", line.results, line.results_named);
  refuse_output_over_data("out", line.output, line.data_directory);
  refuse_output_over_data("results", line.results, line.data_directory);
  // The same file first: that says more than what the file holds.
  refuse_same_files({{line.sequential_model.empty() ? "float" : "sequential",
                      line.sequential_model.empty() ? line.float_model : line.sequential_model},
                     {"out", line.output},
                     {"results", line.results}});
  refuse_to_replace_project_file("--out '" + line.output + "'", line.output, "an integer model");
  refuse_to_replace_project_file("--results '" + line.results + "'", line.results);
  line.threads = static_cast<int>(options.integer("threads", 1, 1024));
  if (options.has("min-accuracy")) line.min_accuracy = options.real("min-accuracy", 0, 1);
  line.grid.max_moduli = static_cast<int>(options.integer("max-moduli", 1, 8));
  line.grid.input_scales = parse_scales(options.text("input-scales"));
  if (options.has("max-bits")) {
    // Its range starts at --min-bits: say so ("expects an integer in [4, 16], got '3'" named no
    // --min-bits; a trial).
    const int bits = static_cast<int>(options.integer("max-bits", 1, 16));
    if (bits < line.grid.min_bits) {
      throw UsageError("--max-bits " + std::to_string(bits) + " is below --min-bits " +
                       std::to_string(line.grid.min_bits) +
                       (options.given("min-bits") ? "" : " (its default)"));
    }
    line.grid.max_conv_bits = line.grid.max_dense1_bits = line.grid.max_dense2_bits = bits;
  }
  line.verify_checksums = verify_option(options);

  if (line.grid.max_conv_bits < line.grid.min_bits) {
    throw UsageError("--min-bits " + std::to_string(line.grid.min_bits) +
                     " is above the most weight bits of the grid");
  }
  // Each value one word for sh (shell_quoted): the line is pasted into a shell, where a file
  // name with `...` or $(...) ran as a command (a trial). Made printable first (one line, as
  // every file name the tool writes), so the line is written as it is: printable_text of the
  // whole line would double the backslash of the quoting's '\''.
  const auto word = [](const std::string& value) { return shell_quoted(printable_text(value)); };
  line.regenerate =
      "cryptonets-quantise " +
      (line.sequential_model.empty() ? "--float " + word(line.float_model)
                                     : "--sequential " + word(line.sequential_model)) +
      " --data " + word(line.data_directory) + " --out " + word(line.output) + " --results " +
      word(line.results);
  for (const char* name : {"min-accuracy", "max-moduli", "input-scales", "max-bits", "min-bits"}) {
    const std::string value = options.has(name) ? options.text(name) : "";
    const bool is_default =
        (std::string(name) == "max-moduli" && value == std::to_string(defaults.max_moduli)) ||
        (std::string(name) == "input-scales" && value == default_scales) ||
        (std::string(name) == "min-bits" && value == std::to_string(defaults.min_bits));
    if (options.has(name) && !is_default)
      line.regenerate += " --" + std::string(name) + " " + word(value);
  }
  if (!line.verify_checksums) line.regenerate += " --no-verify";
  return line;
}

LabelledImages view(const MnistSet& set) {
  return {std::span(set.images.pixels), std::span(set.labels.labels)};
}

std::string percent(double fraction, int digits = 2) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.*f%%", digits, 100.0 * fraction);
  return buffer;
}

std::string number(double x) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.4g", x);
  return buffer;
}

bool same_measurements(const PlainEvaluation& a, const PlainEvaluation& b) {
  return a.images == b.images && a.correct == b.correct &&
         a.agree_with_float == b.agree_with_float && a.max_abs_output == b.max_abs_output;
}

// Test and training measurements of one choice (exact, evaluate_quantised_network). When the
// sweep measured the same point, its shared-prefix numbers must agree exactly.
QuantisationResult remeasure(const FloatNetwork& network, const QuantisationResult* swept,
                             const QuantisationChoice& choice, const LabelledImages& test,
                             const LabelledImages& train, int threads) {
  QuantisationResult result = measure_quantisation(network, choice, test, threads);
  if (swept && swept->evaluated && result.evaluated &&
      !same_measurements(swept->test, result.test)) {
    throw std::logic_error("the sweep and evaluate_plain disagree at " + choice.label());
  }
  if (result.evaluated && !result.failure) {
    result.train_max_output_bits =
        evaluate_quantised_network(quantise(network, choice), train, threads).max_output_bits;
  }
  if (result.failure && !result.evaluated) {  // no worst case to give ("0 bits" misled a trial)
    std::fprintf(stderr, "  %-18s %s\n", choice.label().c_str(), result.failure->c_str());
    return result;
  }
  std::fprintf(stderr, "  %-18s test %s  worst-case %d bits\n", choice.label().c_str(),
               result.evaluated ? percent(result.test.accuracy()).c_str() : "-",
               result.worst_case_bits);
  return result;
}

const QuantisationResult* find(const std::vector<QuantisationResult>& results,
                               const QuantisationChoice& choice) {
  for (const QuantisationResult& r : results) {
    if (r.choice == choice) return &r;
  }
  return nullptr;
}

// Evaluated sweep points needing exactly `moduli` moduli: the `faithful` most faithful to the
// float network (the default's order) followed by the `accurate` most accurate not already listed.
std::vector<const QuantisationResult*> best_with_moduli(
    const std::vector<QuantisationResult>& results, int moduli, size_t faithful, size_t accurate) {
  std::vector<const QuantisationResult*> matching;
  for (const QuantisationResult& r : results) {
    if (r.evaluated && !r.failure && r.moduli == moduli) matching.push_back(&r);
  }
  std::vector<const QuantisationResult*> chosen;
  std::stable_sort(matching.begin(), matching.end(),
                   [](const auto* a, const auto* b) { return more_faithful(*a, *b); });
  chosen.assign(matching.begin(), matching.begin() + std::min(faithful, matching.size()));
  std::stable_sort(matching.begin(), matching.end(), [](const auto* a, const auto* b) {
    if (a->test.correct != b->test.correct) return a->test.correct > b->test.correct;
    return more_faithful(*a, *b);
  });
  for (size_t i = 0, added = 0; i < matching.size() && added < accurate; ++i) {
    if (std::find(chosen.begin(), chosen.end(), matching[i]) != chosen.end()) continue;
    chosen.push_back(matching[i]);
    ++added;
  }
  return chosen;
}

void write_table_header(std::ostream& out) {
  out << "| choice | I | s_conv | s_d1 | s_d2 | test accuracy | agrees with float | "
         "max \\|out\\| test (bits) | max \\|out\\| train (bits) | worst case (bits) | moduli |\n"
         "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
}

void write_row(std::ostream& out, const QuantisationResult& r, bool is_default) {
  out << "| " << (is_default ? "**" + r.choice.label() + "** (default)" : r.choice.label()) << " | "
      << number(r.scales.input) << " | " << number(r.scales.conv) << " | "
      << number(r.scales.dense1) << " | " << number(r.scales.dense2) << " | ";
  if (r.failure && !r.evaluated) {
    // The reason stands in the accuracy cell: a row has as many cells as the header.
    out << "not evaluated: " << *r.failure << " | — | — | — | — | — |\n";
    return;
  }
  out << percent(r.test.accuracy()) << " | " << percent(r.test.agreement()) << " | "
      << r.test.max_output_bits << " | "
      << (r.train_max_output_bits ? std::to_string(*r.train_max_output_bits) : "—") << " | "
      << r.worst_case_bits << " | " << (r.moduli ? std::to_string(*r.moduli) : "> 8") << " |\n";
}

// What the sweep found for one number of moduli.
struct ModuliSummary {
  size_t evaluated = 0;
  size_t at_least_min_accuracy = 0;
  double best_accuracy = 0;
  double best_agreement = 0;
};

struct Report {
  std::string float_sha256;
  int classes = 0;
  size_t test_images = 0;
  size_t train_images = 0;
  double float_test_accuracy = 0;
  double float_train_accuracy = 0;
  double min_accuracy = 0;       // the floor in force: --min-accuracy or from the float model
  training::SweepSummary sweep;  // how the grid points fared
  double sweep_seconds = 0;
  std::vector<ModuliSummary> per_moduli;    // index k − 1 for k moduli
  std::vector<QuantisationResult> best;     // best per moduli count, re-measured
  std::vector<QuantisationResult> uniform;  // uniform weight bits, re-measured
  std::optional<QuantisationResult> chosen;
  std::vector<uint64_t> runtime_moduli;  // the default preset's plaintext moduli for `chosen`
};

// Bits of the largest parameter magnitude a model may hold (model.hpp).
int parameter_limit_bits() {
  return static_cast<int>(std::bit_width(static_cast<uint64_t>(kMaxParameterMagnitude))) - 1;
}

// The centred bits that a CRT product of `moduli` holds: the largest B with 2B + 1 <= T.
int centred_bits_held(const std::vector<uint64_t>& moduli) {
  mpz_class product = 1;
  for (uint64_t t : moduli)
    product *= mpz_class(std::to_string(t));
  return centred_bits((product - 1) / 2);
}

// "39" when every modulus has 39 bits, else "39/38/...".
std::string moduli_bits(const std::vector<uint64_t>& moduli) {
  std::string text;
  for (uint64_t t : moduli) {
    const std::string bits = std::to_string(std::bit_width(t));
    if (text.find(bits) == std::string::npos) text += (text.empty() ? "" : "/") + bits;
  }
  return text;
}

std::string count_word(size_t count) {
  char text[32];
  std::snprintf(text, sizeof text, "%zu", count);
  std::string digits = text;
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3)
    digits.insert(static_cast<size_t>(i), ",");
  return digits;
}

void write_grid_summary(std::ostream& out, const CommandLine& line, const Report& report) {
  out << "The grid has " << report.sweep.points << " points: I ∈ {";
  for (size_t i = 0; i < line.grid.input_scales.size(); ++i)
    out << (i ? ", " : "") << line.grid.input_scales[i];
  out << "}, conv bits " << line.grid.min_bits << "–" << line.grid.max_conv_bits << ", dense1 bits "
      << line.grid.min_bits << "–" << line.grid.max_dense1_bits << ", dense2 bits "
      << line.grid.min_bits << "–" << line.grid.max_dense2_bits << ". "
      << describe_sweep(report.sweep, line.grid.max_moduli,
                        "some quantised bias reaches the 2^" +
                            std::to_string(parameter_limit_bits()) +
                            " limit of model parameters (the output bias scale "
                            "(I·s_conv)^4·s_d1^2·s_d2 grows fastest)")
      << " The sweep took " << number(report.sweep_seconds) << " s.\n\n"
      << "| moduli | points | test accuracy ≥ " << percent(report.min_accuracy, 2)
      << " | best test accuracy | best agreement with float |\n|---:|---:|---:|---:|---:|\n";
  for (size_t k = 0; k < report.per_moduli.size(); ++k) {
    const ModuliSummary& m = report.per_moduli[k];
    out << "| " << k + 1 << " | " << m.evaluated << " | " << m.at_least_min_accuracy << " | "
        << (m.evaluated ? percent(m.best_accuracy) : "—") << " | "
        << (m.evaluated ? percent(m.best_agreement) : "—") << " |\n";
  }
  out << "\n";
}

// Writes the table to `file`'s new file (named later, by the caller).
void write_results(const CommandLine& line, const Report& report, ToolOutput& file) {
  std::ostringstream out;
  const std::vector<uint64_t> moduli = plaintext_moduli(static_cast<size_t>(line.grid.max_moduli));
  out << "# Quantisation of the CryptoNets network: accuracy against plaintext bits\n\n"
      << "Generated " << utc_now() << " on " << cpu_model() << " ("
      << std::thread::hardware_concurrency() << " hardware threads). Regenerate with\n\n```sh\n"
      << line.regenerate << "\n```\n\n"
      << "Float network `" << printable_text(line.float_model) << "` (SHA-256 "
      << report.float_sha256 << ", " << report.classes << " classes): test accuracy "
      << percent(report.float_test_accuracy) << ", training accuracy "
      << percent(report.float_train_accuracy) << ".\n\n"
      << "Accuracies are measured in exact integer arithmetic on the "
      << count_word(report.test_images) << " test images of `"
      << printable_text(line.data_directory)
      << "` (the quantiser's specialised evaluator, which equals `evaluate_plain` exactly: "
         "checked for the default on all test images and in tests/test_quantiser.cpp); \"agrees "
         "with float\" is the fraction of test images classified as the float network classifies "
         "them. `I` is the input scale (integer pixel round(p·I/"
      << FloatNetwork::kPixelDivisor
      << ")), `s_*` the weight scales; `w=c/d1/d2` gives the magnitude bits of each weight "
         "layer, s = (2^bits − 1)/max|w|. Biases are quantised at the scale of the sum they join. "
         "\"max |out|\" is the largest |output| measured over the test or training set ("
      << count_word(report.train_images)
      << " images), in centred bits (⌈log2(2B+1)⌉); \"worst case\" is the range tracker's bound "
         "over all inputs with pixels in [0, "
      << FloatNetwork::kPixelDivisor
      << "], which is what guarantees correct decryption: the encrypted runtime needs the CRT "
         "product T of its plaintext moduli to satisfy 2·B + 1 ≤ T. The moduli counted here are "
         "the largest primes below 2^"
      << kPlaintextModulusBits << " that are ≡ 1 (mod " << kPlaintextModulusCongruence << "): ";
  for (size_t i = 0; i < moduli.size(); ++i)
    out << (i ? ", " : "") << moduli[i];
  out << "; the products of the first ";
  for (size_t k = 1; k <= moduli.size(); ++k)
    out << (k == 1 ? "" : k == moduli.size() ? " and " : ", ") << k;
  out << " hold ";
  for (size_t k = 1; k <= moduli.size(); ++k) {
    out << (k == 1               ? ""
            : k == moduli.size() ? " and "
                                 : ", ")
        << centred_bits_held(std::vector<uint64_t>(moduli.begin(), moduli.begin() + k));
  }
  out << " centred bits. The runtime's parameter selection then takes the fewest moduli of at "
         "most that size that hold the outputs, each as small as it can be.\n\n"
      << "Default rule: the fewest moduli among the choices with test accuracy ≥ "
      << percent(report.min_accuracy)
      << (line.min_accuracy ? " (--min-accuracy)"
                            : " (the float network's test accuracy less " +
                                  number(100 * kDefaultFloorBelowFloat) + " point)")
      << "; among those, the most faithful to the float network (most test images classified "
         "as the float network does), then the most accurate, then the fewest worst-case bits. "
         "Agreement decides before accuracy because the most accurate of thousands of grid "
         "points measured on the same test set is partly luck.\n\n";
  if (report.chosen) {
    const QuantisationResult& c = *report.chosen;
    out << "**Default (`" << printable_text(line.output) << "`): " << c.choice.label()
        << "**: test accuracy " << percent(c.test.accuracy()) << " (float "
        << percent(report.float_test_accuracy) << "), agreement with float "
        << percent(c.test.agreement()) << ", worst-case output " << c.worst_case_bits << " bits → "
        << counted(*c.moduli, "plaintext modulus", "plaintext moduli")
        << " (the default preset's: " << moduli_bits(report.runtime_moduli)
        << " bits each); measured max |output| " << c.test.max_output_bits << " bits (test), "
        << (c.train_max_output_bits ? std::to_string(*c.train_max_output_bits) : "—")
        << " bits (train).\n\n";
  } else {
    out << "**No grid point reaches " << percent(report.min_accuracy)
        << ": no default model was written.**\n\n";
  }
  write_grid_summary(out, line, report);
  out << "## Best choices for each number of plaintext moduli\n\nThe " << kMostFaithfulPerModuli
      << " most faithful, then the " << kMostAccuratePerModuli << " most accurate of the rest.\n\n";
  write_table_header(out);
  for (const QuantisationResult& r : report.best)
    write_row(out, r, report.chosen && r.choice == report.chosen->choice);
  out << "\n## The same weight bits in every layer\n\n";
  write_table_header(out);
  for (const QuantisationResult& r : report.uniform)
    write_row(out, r, report.chosen && r.choice == report.chosen->choice);
  int least_gap = std::numeric_limits<int>::max();
  int most_gap = std::numeric_limits<int>::min();
  for (const auto* rows : {&report.best, &report.uniform}) {
    for (const QuantisationResult& r : *rows) {
      if (!r.evaluated || r.failure) continue;
      least_gap = std::min(least_gap, r.worst_case_bits - r.test.max_output_bits);
      most_gap = std::max(most_gap, r.worst_case_bits - r.test.max_output_bits);
    }
  }
  if (least_gap <= most_gap) {
    out << "\nThe measured maxima stay " << least_gap << "–" << most_gap
        << " bits below the worst case in these tables: the worst case lets every pixel take the "
           "value that maximises each output separately, which no image does, but only it "
           "guarantees correct decryption for every input.\n";
  }
  file.write(out.str());
}

// Writes the model to `file`'s new file and reads it back (named later, by the caller).
void save_chosen_model(const CommandLine& line, const Report& report, const Model& model,
                       ToolOutput& file) {
  const QuantisationResult& c = *report.chosen;
  std::ostringstream text;
  write_model(model, text);
  const std::string body = text.str();
  const size_t first_line = body.find('\n') + 1;
  // The file names on one printable line each (printable_text): a name with a newline would
  // otherwise end the comment and forge a line of the model.
  std::ostringstream comments;
  comments << "# CryptoNets network for the " << report.classes << " classes of "
           << printable_text(line.data_directory) << " quantised from "
           << printable_text(line.float_model) << " (SHA-256 " << report.float_sha256 << ")\n# "
           << c.choice.label() << ": input scale " << number(c.scales.input)
           << ", weight scales conv " << c.scales.conv << ", dense1 " << c.scales.dense1
           << ", dense2 " << c.scales.dense2 << "\n"
           << "# test accuracy " << percent(c.test.accuracy()) << " in plain integers (float "
           << percent(report.float_test_accuracy) << "); worst-case output bound "
           << c.worst_case_bits << " bits -> "
           << counted(report.runtime_moduli.size(), "plaintext modulus", "plaintext moduli")
           << " of " << moduli_bits(report.runtime_moduli) << " bits; measured max |output| "
           << c.test.max_output_bits << " bits\n"
           << "# regenerate: " << line.regenerate << "\n";
  file.write(body.substr(0, first_line) + comments.str() + body.substr(first_line));
  if (load_model(file.write_path()) != model) {
    throw std::logic_error("'" + line.output + "' does not read back as the model written");
  }
}

// --sequential: a network with polynomial activations. Every grid point is quantised, tracked and
// (if it needs at most --max-moduli moduli) evaluated exactly with the generic evaluator
// (compile_model + evaluate_plain: the compiled network, output factor included).
std::string describe_polynomial_layers(const Model& model) {
  std::string text;
  for (size_t i = 0; i < model.layers.size(); ++i) {
    const auto* poly = std::get_if<model::PolynomialLayer>(&model.layers[i].operation);
    if (!poly) continue;
    text += (text.empty() ? "" : "; ") + std::string("layer ") + std::to_string(i + 1) + " p(x) =";
    for (size_t k = poly->coefficients.size(); k-- > 0;) {
      text += " " + std::string(poly->coefficients[k] < 0 ? "-" : "+") + " " +
              std::to_string(std::llabs(poly->coefficients[k])) +
              (k == 0   ? ""
               : k == 1 ? "·x"
                        : "·x^" + std::to_string(k));
    }
    text += " (scale " + number(model.layers[i].scale) + ")";
  }
  return text;
}

// The grid points with no accuracy, grouped by why (a failure's message with its decimal numbers
// as "…", or more plaintext moduli than --max-moduli): without this a sweep in which every point
// fails printed empty tables.
void write_unmeasured(std::ostream& out, const std::vector<QuantisationResult>& sweep,
                      int max_moduli) {
  static const std::regex decimal(R"(-?[0-9]+\.[0-9]+(e[-+]?[0-9]+)?)");
  std::vector<std::pair<std::string, std::vector<const QuantisationResult*>>> groups;
  for (const QuantisationResult& r : sweep) {
    std::string why;
    if (r.failure && !r.evaluated) {
      why = std::regex_replace(*r.failure, decimal, "…");
    } else if (!r.evaluated) {
      why = "needs more than " + std::to_string(max_moduli) + " plaintext moduli";
    } else {
      continue;
    }
    auto group =
        std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == why; });
    if (group == groups.end()) group = groups.insert(groups.end(), {why, {}});
    group->second.push_back(&r);
  }
  if (groups.empty()) return;
  out << "\n## Grid points without a measurement\n\n| why | points | choices (worst case bits) |\n"
         "|---|---:|---|\n";
  for (const auto& [why, points] : groups) {
    out << "| " << why << " | " << points.size() << " | ";
    for (size_t k = 0; k < points.size(); ++k) {
      out << (k ? ", " : "") << points[k]->choice.label();
      if (!points[k]->failure) out << " (" << points[k]->worst_case_bits << ")";
    }
    out << " |\n";
  }
}

// Where the accuracy floor comes from, as the messages say it.
std::string floor_source(const CommandLine& line) {
  return line.min_accuracy
             ? " (--min-accuracy)"
             : " (float test accuracy - " + number(100 * kDefaultFloorBelowFloat) + " point)";
}

// The error when no grid point reaches the accuracy floor `floor` (a trial: --sequential exited 1
// without a word): the best test accuracy among the points choose_default may take, and what to
// try.
void report_floor_not_reached(const std::vector<QuantisationResult>& sweep, double floor,
                              const CommandLine& line) {
  static const std::regex decimal(R"(-?[0-9]+\.[0-9]+(e[-+]?[0-9]+)?)");
  const QuantisationResult* best = nullptr;
  size_t measured = 0;
  size_t more_moduli = 0;      // skipped: they need more plaintext moduli than --max-moduli
  size_t unrepresentable = 0;  // no model: a parameter reaches the limit
  // The points without a measurement for a failure, grouped by why (as write_unmeasured does).
  std::vector<std::pair<std::string, std::vector<std::string>>> failed;
  for (const QuantisationResult& r : sweep) {
    // Beyond the most moduli counted (8): --max-moduli cannot reach it either.
    const bool too_wide = !r.failure && !r.moduli;
    if ((r.failure && !r.evaluated) || too_wide) {
      // Quantisation failures leave no moduli count; evaluation failures (overflow) have one.
      unrepresentable += r.moduli ? 0 : 1;
      const std::string why =
          too_wide ? "not representable: the outputs need more than " +
                         std::to_string(training::kMaxPlaintextModuliSearched) + " plaintext moduli"
          : r.moduli ? "could not be evaluated: " + *r.failure
                     : "not representable: " + std::regex_replace(*r.failure, decimal, "…");
      auto group =
          std::find_if(failed.begin(), failed.end(), [&](const auto& g) { return g.first == why; });
      if (group == failed.end()) group = failed.insert(failed.end(), {why, {}});
      group->second.push_back(r.choice.label());
      continue;
    }
    if (!r.evaluated || !r.moduli || *r.moduli > line.grid.max_moduli) {
      ++more_moduli;
      continue;
    }
    if (r.failure || r.test.images == 0) continue;
    ++measured;
    if (!best || r.test.correct > best->test.correct) best = &r;
  }
  std::string found;
  if (best) {
    found = "the best found is " + percent(best->test.accuracy()) + " (" + best->choice.label() +
            ", of " + counted(measured, "grid point", "grid points") + " measured)";
  } else {
    found = sweep.size() == 1
                ? "the 1 grid point could not be measured"
                : "none of the " + std::to_string(sweep.size()) + " grid points could be measured";
  }
  for (const auto& [why, labels] : failed) {
    found += "; " + counted(labels.size(), "point", "points") + " " + why + " (";
    constexpr size_t kLabelsShown = 3;
    for (size_t k = 0; k < std::min(labels.size(), kLabelsShown); ++k)
      found += (k ? ", " : "") + labels[k];
    found += labels.size() > kLabelsShown ? ", …)" : ")";
  }
  if (more_moduli > 0) {
    found += "; " + counted(more_moduli, "point needs", "points need") + " more than " +
             counted(line.grid.max_moduli, "plaintext modulus", "plaintext moduli") +
             (more_moduli == 1 ? " (--max-moduli) and was not measured"
                               : " (--max-moduli) and were not measured");
  }
  // Only the advice that can help: raising --max-moduli where points were skipped for it, smaller
  // scales where points were not representable.
  std::vector<std::string> tries;
  if (measured > 0)
    tries.push_back(
        "a lower --min-accuracy, or a wider grid (--max-bits, --min-bits, --input-scales)");
  if (unrepresentable > 0) {
    tries.push_back(
        "smaller --input-scales or --max-bits (quantised parameters must stay below 2^" +
        std::to_string(parameter_limit_bits()) + ")");
  }
  if (more_moduli > 0) tries.push_back("a larger --max-moduli, to measure the points needing more");
  if (tries.empty()) tries.push_back("a wider grid (--max-bits, --min-bits, --input-scales)");
  std::string advice = "Try";
  for (size_t k = 0; k < tries.size(); ++k)
    advice += (k ? "; or " : " ") + tries[k];
  std::fprintf(stderr,
               "cryptonets-quantise: no grid point reaches the accuracy floor %s%s: %s; %s not "
               "written (%s lists the grid). %s\n",
               percent(floor).c_str(), floor_source(line).c_str(), found.c_str(),
               printable_text(line.output).c_str(), printable_text(line.results).c_str(),
               advice.c_str());
}

int run_polynomial(const CommandLine& line, ToolOutput& results_file, ToolOutput& model_file) {
  using training::float_classes;
  using training::PolynomialFloatNetwork;
  using training::SequentialNetwork;
  const SequentialNetwork merged =
      training::merge_linear_runs(load_sequential_model(line.sequential_model));
  const PolynomialFloatNetwork network = training::to_polynomial_float_network(merged);
  const MnistSet train_set = with_default_hint("--data", line.data_directory, line.data_named, [&] {
    return load_data_split(line.data_directory, MnistSplit::kTrain, line.verify_checksums);
  });
  const MnistSet test_set =
      load_data_split(line.data_directory, MnistSplit::kTest, line.verify_checksums);
  for (const MnistSplit split : {MnistSplit::kTrain, MnistSplit::kTest}) {
    require_labels_below((split == MnistSplit::kTrain ? train_set : test_set).labels.labels,
                         network.linear.classes,
                         "'" + split_labels_file(line.data_directory, split).string() +
                             "' (the model '" + line.sequential_model + "' has " +
                             std::to_string(network.linear.classes) + " classes)");
  }
  // The training rule (cryptonets-train): one output per class of the training labels.
  require_classes_match(
      train_set.labels.labels, network.linear.classes,
      "'" + split_labels_file(line.data_directory, MnistSplit::kTrain).string() + "'",
      "the model '" + line.sequential_model + "'");
  const LabelledImages train = view(train_set);
  const LabelledImages test = view(test_set);
  const auto float_accuracy = [&](const LabelledImages& images) {
    const std::vector<int> classes = float_classes(network, images, line.threads);
    size_t correct = 0;
    for (size_t i = 0; i < images.size(); ++i)
      correct += classes[i] == images.labels[i] ? 1 : 0;
    return static_cast<double>(correct) / static_cast<double>(images.size());
  };
  const double float_test = float_accuracy(test);
  constexpr double kRoundingSlack = 1e-9;
  const double floor = line.min_accuracy.value_or(
      std::max(0.0, float_test - kDefaultFloorBelowFloat - kRoundingSlack));
  std::fprintf(stderr, "float network: activations %s and %s, test %s; accuracy floor %s\n",
               network.activations[0].name().c_str(), network.activations[1].name().c_str(),
               percent(float_test).c_str(), percent(floor).c_str());
  const auto start = std::chrono::steady_clock::now();
  std::vector<QuantisationResult> sweep;
  {
    std::optional<Progress> bar;
    size_t shown_done = 0;
    sweep = training::sweep_polynomial_quantisations(
        network, test, line.grid, line.threads, [&](size_t done, size_t total) {
          if (!bar) bar.emplace("sweep (grid points)", total, kProgressLogSeconds);
          bar->advance(done - shown_done);
          shown_done = done;
        });
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const std::optional<size_t> chosen = choose_default(sweep, floor);

  std::ostringstream out;
  out << "# Quantisation of a network with polynomial activations\n\nGenerated " << utc_now()
      << " on " << cpu_model() << ". Regenerate with\n\n```sh\n"
      << line.regenerate << "\n```\n\nFloat network `" << printable_text(line.sequential_model)
      << "` (SHA-256 " << to_hex(sha256(read_stored_file(line.sequential_model)))
      << "), activations " << network.activations[0].name() << " and "
      << network.activations[1].name() << ": test accuracy " << percent(float_test)
      << ". Each activation Σ a_i·x^i of degree d "
      << "on an input at scale s is written at output scale s^d/|a_d| with leading coefficient "
      << "±1 (and an even x coefficient for degree 2, so that the compiled network completes the "
      << "square exactly: training/polynomial_quantiser.hpp; a small leading coefficient, as a "
      << "sigmoid fit's, makes that scale large, and model parameters reaching 2^60 then bound "
      << "the grid). Accuracies and max |out| are those "
      << "of the compiled network in exact integer arithmetic on the " << count_word(test.size())
      << " test images; worst case from the range tracker. The grid: " << sweep.size()
      << " points, swept in " << number(seconds) << " s.\n\n";
  std::optional<Model> model;
  if (chosen) {
    QuantisationResult c = sweep[*chosen];
    model = training::quantise(network, c.choice);
    c.train_max_output_bits =
        training::evaluate_integer_model(*model, train, line.threads, std::span<const int>{})
            .max_output_bits;
    const model::CompiledModel compiled = model::compile_model(*model);
    out << "**Default (`" << printable_text(line.output) << "`): " << c.choice.label()
        << "**: test accuracy " << percent(c.test.accuracy()) << " (float " << percent(float_test)
        << "), agreement with float " << percent(c.test.agreement()) << ", worst-case output "
        << c.worst_case_bits << " bits → " << *c.moduli << " plaintext modul"
        << (*c.moduli == 1 ? "us" : "i") << " of at most " << kPlaintextModulusBits
        << " bits; measured max |output| " << c.test.max_output_bits << " bits (test), "
        << *c.train_max_output_bits << " bits (train); output factor "
        << model::describe_output_factor(compiled) << "; " << describe_polynomial_layers(*model)
        << ".\n\n";
    sweep[*chosen] = c;
  } else {
    out << "**No grid point reaches " << percent(floor) << ": no model was written.**\n\n";
  }
  out << "## Best choices for each number of plaintext moduli\n\n";
  write_table_header(out);
  for (int moduli = 1; moduli <= line.grid.max_moduli; ++moduli) {
    for (const QuantisationResult* r :
         best_with_moduli(sweep, moduli, kMostFaithfulPerModuli, kMostAccuratePerModuli))
      write_row(out, *r, chosen && r == &sweep[*chosen]);
  }
  write_unmeasured(out, sweep, line.grid.max_moduli);
  results_file.write(out.str());
  if (!model) {
    // The table alone: it lists the grid that did not reach the floor.
    results_file.publish(kProgram);
    std::fprintf(stderr, "wrote %s\n", printable_text(line.results).c_str());
    report_floor_not_reached(sweep, floor, line);
    return kExitFailure;
  }
  const QuantisationResult& c = sweep[*chosen];
  std::ostringstream text;
  write_model(*model, text);
  const std::string body = text.str();
  const size_t first_line = body.find('\n') + 1;
  std::ostringstream file;
  // The file names escaped, as save_chosen_model's: one comment line each.
  file << body.substr(0, first_line) << "# quantised from " << printable_text(line.sequential_model)
       << " (" << network.activations[0].name() << ", " << network.activations[1].name() << ")\n# "
       << c.choice.label() << ": test accuracy " << percent(c.test.accuracy())
       << " in plain integers (float " << percent(float_test) << "); worst-case output bound "
       << c.worst_case_bits << " bits -> " << *c.moduli << " plaintext modul"
       << (*c.moduli == 1 ? "us" : "i") << "; measured max "
       << "|output| " << c.test.max_output_bits << " bits\n# regenerate: " << line.regenerate
       << "\n"
       << body.substr(first_line);
  model_file.write(file.str());
  if (load_model(model_file.write_path()) != *model) {
    throw std::logic_error("'" + line.output + "' does not read back as the model written");
  }
  // Both or neither (a trial: the model refused at the end, its table kept).
  ToolOutput* const outputs[] = {&results_file, &model_file};
  publish_together(kProgram, outputs);
  std::fprintf(stderr, "wrote %s\n", printable_text(line.results).c_str());
  std::fprintf(stderr, "wrote %s: %s, test %s, worst case %d bits, %d plaintext modul%s\n",
               printable_text(line.output).c_str(), c.choice.label().c_str(),
               percent(c.test.accuracy()).c_str(), c.worst_case_bits, *c.moduli,
               *c.moduli == 1 ? "us" : "i");
  return kExitSuccess;
}

int run(std::span<char* const> arguments) {
  const std::optional<CommandLine> parsed = parse_command_line(arguments);
  if (!parsed) return kExitSuccess;
  const CommandLine& line = *parsed;
  // Both outputs made before any work: a directory that cannot take them stops the run now,
  // and their unnamed files leave nothing if it is killed (ToolOutput).
  ToolOutput results_file("--results", line.results, line.results_named);
  ToolOutput model_file("--out", line.output, line.output_named);
  if (!line.sequential_model.empty()) return run_polynomial(line, results_file, model_file);
  const FloatNetwork network =
      with_default_hint("--float", line.float_model, line.float_named,
                        [&] { return load_float_model(line.float_model); });
  const MnistSet train_set = with_default_hint("--data", line.data_directory, line.data_named, [&] {
    return load_data_split(line.data_directory, MnistSplit::kTrain, line.verify_checksums);
  });
  const MnistSet test_set =
      load_data_split(line.data_directory, MnistSplit::kTest, line.verify_checksums);
  for (const MnistSplit split : {MnistSplit::kTrain, MnistSplit::kTest}) {
    require_labels_below(
        (split == MnistSplit::kTrain ? train_set : test_set).labels.labels, network.classes,
        "'" + split_labels_file(line.data_directory, split).string() + "' (the float model '" +
            line.float_model + "' has " + std::to_string(network.classes) + " classes)");
  }
  // The training rule (cryptonets-train): one output per class of the training labels. A float
  // model of another data set was quantised and its model file said "for the 10 classes of" a
  // 4-class --data (a trial).
  require_classes_match(
      train_set.labels.labels, network.classes,
      "'" + split_labels_file(line.data_directory, MnistSplit::kTrain).string() + "'",
      "the float model '" + line.float_model + "'" +
          (line.float_named ? "" : " (the default of --float)"));
  const LabelledImages train = view(train_set);
  const LabelledImages test = view(test_set);

  Report report;
  report.classes = network.classes;
  report.test_images = test.size();
  report.train_images = train.size();
  // The file as stored (what sha256sum prints): read_possibly_gzipped_file is for IDX files and
  // stops a gzipped non-IDX file after its first megabyte (a review).
  report.float_sha256 = to_hex(sha256(read_stored_file(line.float_model)));
  report.float_test_accuracy = accuracy(network, test, line.threads);
  report.float_train_accuracy = accuracy(network, train, line.threads);
  // The slack keeps a grid point exactly 0.1 point below the float model (9914 against 9924 of
  // 10,000) above a floor that floating-point subtraction would put a hair higher.
  constexpr double kRoundingSlack = 1e-9;
  report.min_accuracy = line.min_accuracy.value_or(
      std::max(0.0, report.float_test_accuracy - kDefaultFloorBelowFloat - kRoundingSlack));
  std::fprintf(stderr, "float network: %d classes, test %s, train %s; accuracy floor %s%s\n",
               network.classes, percent(report.float_test_accuracy).c_str(),
               percent(report.float_train_accuracy).c_str(), percent(report.min_accuracy).c_str(),
               floor_source(line).c_str());
  // Quantisation only approximates the float network: a float network below the floor cannot be
  // expected to give an integer model above it, so refuse before the sweep.
  if (report.float_test_accuracy < report.min_accuracy) {
    std::fprintf(stderr,
                 "the float model '%s' reaches %s on the test set of %s, below the floor %s of "
                 "--min-accuracy: no quantisation is tried (retrain it, or lower "
                 "--min-accuracy); %s and %s not written\n",
                 printable_text(line.float_model).c_str(),
                 percent(report.float_test_accuracy).c_str(),
                 printable_text(line.data_directory).c_str(), percent(report.min_accuracy).c_str(),
                 printable_text(line.output).c_str(), printable_text(line.results).c_str());
    return kExitFailure;
  }

  const auto start = std::chrono::steady_clock::now();
  std::vector<QuantisationResult> sweep;
  {
    std::optional<Progress> bar;
    size_t shown_done = 0;
    sweep =
        sweep_quantisations(network, test, line.grid, line.threads, [&](size_t done, size_t total) {
          if (!bar) bar.emplace("sweep (grid points)", total, kProgressLogSeconds);
          bar->advance(done - shown_done);
          shown_done = done;
        });
  }
  report.sweep_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  report.sweep = summarise_sweep(sweep);

  report.per_moduli.resize(static_cast<size_t>(line.grid.max_moduli));
  for (const QuantisationResult& r : sweep) {
    if (!r.evaluated || r.failure || !r.moduli || *r.moduli > line.grid.max_moduli) continue;
    ModuliSummary& m = report.per_moduli[static_cast<size_t>(*r.moduli - 1)];
    ++m.evaluated;
    m.at_least_min_accuracy += r.test.accuracy() >= report.min_accuracy ? 1 : 0;
    m.best_accuracy = std::max(m.best_accuracy, r.test.accuracy());
    m.best_agreement = std::max(m.best_agreement, r.test.agreement());
  }
  const std::optional<size_t> chosen = choose_default(sweep, report.min_accuracy);
  for (int moduli = 1; moduli <= line.grid.max_moduli; ++moduli) {
    for (const QuantisationResult* r :
         best_with_moduli(sweep, moduli, kMostFaithfulPerModuli, kMostAccuratePerModuli))
      report.best.push_back(remeasure(network, r, r->choice, test, train, line.threads));
  }
  // The uniform rows: the usual input scales and bits where the grid has them, else the grid's.
  std::vector<double> uniform_scales;
  for (double scale : kUniformInputScales) {
    if (std::find(line.grid.input_scales.begin(), line.grid.input_scales.end(), scale) !=
        line.grid.input_scales.end())
      uniform_scales.push_back(scale);
  }
  if (uniform_scales.empty()) uniform_scales = line.grid.input_scales;
  const int uniform_max_bits = std::min({kUniformMaxBits, line.grid.max_conv_bits,
                                         line.grid.max_dense1_bits, line.grid.max_dense2_bits});
  for (double input_scale : uniform_scales) {
    for (int bits = std::max(kUniformMinBits, line.grid.min_bits); bits <= uniform_max_bits;
         ++bits) {
      const QuantisationChoice choice{input_scale, {bits, bits, bits}};
      report.uniform.push_back(
          remeasure(network, find(sweep, choice), choice, test, train, line.threads));
    }
  }
  std::optional<Model> chosen_model;
  if (chosen) {
    const QuantisationChoice& choice = sweep[*chosen].choice;
    report.chosen = remeasure(network, &sweep[*chosen], choice, test, train, line.threads);
    chosen_model = quantise(network, choice);
    // The generic runtime path (compile_model + evaluate_plain) must give the same numbers.
    const PlainEvaluation generic =
        evaluate_integer_model(*chosen_model, test, line.threads, &network);
    if (!same_measurements(generic, report.chosen->test)) {
      throw std::logic_error("evaluate_plain disagrees with the quantiser's evaluation at " +
                             choice.label());
    }
    // What the main job and keygen will use for this model (not the 2^40 bound counted above).
    report.runtime_moduli = preset("default", *chosen_model).plaintext_moduli;
    if (static_cast<int>(report.runtime_moduli.size()) != *report.chosen->moduli) {
      throw std::logic_error("the default preset takes " +
                             std::to_string(report.runtime_moduli.size()) +
                             " plaintext moduli for " + choice.label() +
                             ", the quantiser counted " + std::to_string(*report.chosen->moduli));
    }
  }
  write_results(line, report, results_file);
  if (!report.chosen) {
    // The table alone: it lists the grid that did not reach the floor.
    results_file.publish(kProgram);
    std::fprintf(stderr, "wrote %s\n", printable_text(line.results).c_str());
    report_floor_not_reached(sweep, report.min_accuracy, line);
    return kExitFailure;
  }
  save_chosen_model(line, report, *chosen_model, model_file);
  // Both or neither (a trial: the model refused at the end, its table kept).
  ToolOutput* const outputs[] = {&results_file, &model_file};
  publish_together(kProgram, outputs);
  std::fprintf(stderr, "wrote %s\n", printable_text(line.results).c_str());
  std::fprintf(stderr, "wrote %s: %s, test %s, %zu plaintext modul%s of %s bits\n",
               printable_text(line.output).c_str(), report.chosen->choice.label().c_str(),
               percent(report.chosen->test.accuracy()).c_str(), report.runtime_moduli.size(),
               report.runtime_moduli.size() == 1 ? "us" : "i",
               moduli_bits(report.runtime_moduli).c_str());
  return kExitSuccess;
}

}  // namespace

int main(int argc, char** argv) {
  return run_standalone(kProgram, run, argc, argv);
}
