// cryptonets-reproduce: the CryptoNets paper's measurements (Gilad-Bachrach, Dowlin, Laine, Lauter,
// Naehrig, Wernsing, ICML 2016, §4 and Table 2) on this machine, written as CSV files and a
// Markdown report with the paper's published values in a 'paper' column.
//
// What it runs (issue 9):
//   * the stage table (encode+encrypt, each network layer, decrypt+decode) for one batch at the
//     "paper" and "default" presets, at each thread count;
//   * accuracy of the encrypted network on the MNIST test images, against the plain integer
//     network (the scores must be equal, not merely the labels);
//   * latency, throughput, message sizes, the noise budget after each layer;
//   * network time against the ring degree n (the fewest 55-bit primes that keep the noise margin,
//     chosen with predict_budget_over_moduli) and against the thread count.
// The paper's values are read from bench/paper_values.csv; this program never types one in.
// gnuplot turns the *_plot.csv files into PNGs (bench/reproduce.sh).
#include <gmpxx.h>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
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
#include "cryptonets/bfv/security.hpp"
#include "cryptonets/encoding/plaintext_crt.hpp"
#include "cryptonets/inference/parameter_selection.hpp"
#include "cryptonets/inference/private_inference.hpp"
#include "cryptonets/io/idx.hpp"
#include "cryptonets/io/input_file.hpp"
#include "cryptonets/io/interrupts.hpp"
#include "cryptonets/io/model_file.hpp"
#include "cryptonets/io/serialize.hpp"
#include "cryptonets/io/sha256.hpp"
#include "cryptonets/model/range.hpp"
#include "cryptonets/rlwe/parameters.hpp"
#include "cryptonets/training/sequential_network.hpp"
#include "cryptonets/yashe/security.hpp"

using cryptonets::inference::BasicInferenceOptions;
using cryptonets::inference::BfvParameterChoice;
using cryptonets::inference::decrypt_scores;
using cryptonets::inference::encrypt_batch;
using cryptonets::inference::EncryptedBatch;
using cryptonets::inference::infer;
using cryptonets::inference::kNoiseSample;
using cryptonets::inference::ParameterChoice;
using cryptonets::inference::plain_scores;
using cryptonets::inference::predict_budget_over_moduli;
using cryptonets::inference::predicted_labels;
using cryptonets::inference::preset;
using cryptonets::inference::select_bfv_parameters;
using cryptonets::inference::StageReport;
using cryptonets::inference::StageSummary;
using cryptonets::inference::StageTotals;
using cryptonets::model::compile_model;
using cryptonets::model::CompiledModel;
using cryptonets::model::Model;
using cryptonets::model::plaintext_moduli_suffice;
using cryptonets::model::RangeReport;
using cryptonets::model::track_ranges;

namespace fs = std::filesystem;
using namespace cryptonets;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

constexpr const char* kProgram = "cryptonets-reproduce";

// One printable line (printable_text), as the other tools print: the lines name files as given.
void progress_line(const std::string& text) {
  std::fprintf(stderr, "[reproduce] %s\n", printable_text(text).c_str());
  std::fflush(stderr);
}

// ---------------------------------------------------------------------------------------------
// Command line

struct Options {
  std::string mode = "reduced";  // test | reduced | full
  fs::path out_dir = "bench/results/reproduction";
  fs::path report = "bench/results/reproduction.md";
  fs::path paper_values = "bench/paper_values.csv";
  fs::path model = fs::path(cli::default_data_directory()) / "model.txt";
  fs::path data = fs::path(cli::default_data_directory()) / "mnist";
  // Issue 17: both training networks (integer model, float model) and the activation study.
  fs::path float_model = fs::path(cli::default_data_directory()) / "model-float.txt";
  fs::path paper9_model = fs::path(cli::default_data_directory()) / "model-paper9.txt";
  fs::path paper9_float_model = fs::path(cli::default_data_directory()) / "model-paper9-float.txt";
  fs::path study_manifest =
      fs::path(cli::default_data_directory()) / "activation-study" / "manifest.csv";
  std::optional<size_t> encrypted_images;  // per network x parameter set (default: accuracy)
  std::vector<int> threads;
  std::optional<size_t> timing_n;  // ring degree of the stage table (default: the presets' n)
  std::optional<size_t> batch_images;
  std::optional<size_t> accuracy_images;
  std::vector<size_t> scaling_n;
  std::optional<bool> scaling_all_moduli;
  std::optional<uint64_t> seed;
  bool verify_checksums = true;
  bool study_only = false;  // --study-only: the activation study alone
  // --out and --report given (else their defaults, which are never replaced: cli::ToolOutput).
  bool out_named = false;
  bool report_named = false;
  bool paper_values_named = false;  // --paper-values given (else its default, relative)
  // The MNIST-only inputs named: on another --data the parts that read them run only then
  // (MnistOnlyParts).
  bool data_named = false, float_model_named = false, paper9_model_named = false,
       paper9_float_model_named = false, study_manifest_named = false;
  std::string command_line;
  std::string git_commit;
};

const char* kUsage =
    "usage: cryptonets-reproduce [options]\n"
    "  --mode test|reduced|full  test: n = 1024, 24-image batches, 48 images, scaling n = 1024, "
    "2048\n"
    "                            reduced (default): the presets' n, one full batch (n images) "
    "for\n"
    "                            accuracy, scaling on plaintext modulus 1 only\n"
    "                            full: all 10000 test images, scaling on every plaintext modulus\n"
    "  --out DIR                 CSV and PNG directory [bench/results/reproduction]\n"
    "  --report FILE             Markdown report [bench/results/reproduction.md]\n"
    "                            a default --out or --report that exists is refused: name it\n"
    "                            to replace it (bash bench/reproduce.sh names both);\n"
    "                            a named one replaces no key, profile, model or\n"
    "                            ciphertext file\n"
    "  --paper-values FILE       the paper's values [bench/paper_values.csv]\n"
    "  --model FILE, --data DIR  integer model and MNIST directory [shipped data]\n"
    "  --float-model FILE        the float model behind --model [data/model-float.txt]\n"
    "  --paper9-model FILE, --paper9-float-model FILE\n"
    "                            the 9-layer training network, merged and quantised, and its\n"
    "                            float form [data/model-paper9.txt, data/model-paper9-float.txt]\n"
    "  --study-manifest FILE     the activation study's models "
    "[data/activation-study/manifest.csv]\n"
    "                            on a --data other than the shipped MNIST, the 5-layer row, the\n"
    "                            9-layer network and the study run only with these named\n"
    "  --study-only              run only the activation study (both schemes); --out and\n"
    "                            --report default to bench/results/activation-study/encrypted\n"
    "                            and bench/results/activation-study/encrypted.md\n"
    "  --encrypted-images N      test images each network x parameter set encrypts [accuracy]\n"
    "  --no-verify               read the IDX data without checking the SHA256SUMS beside them\n"
    "  --threads LIST            thread counts from 1 to 1024, each once, e.g. 1,2 [1,2]\n"
    "  --timing-n N              ring degree of the stage table [mode]\n"
    "  --batch-images N          images in the timed batch [mode]\n"
    "  --accuracy-images N       test images for accuracy [mode]\n"
    "                            an image count above the test set's (a batch: above n) is\n"
    "                            lowered to it, and the value used said on stderr\n"
    "  --scaling-n LIST          ring degrees of the scaling curve, each once [mode]\n"
    "  --scaling-all-moduli      scaling runs every plaintext modulus, not only the first\n"
    "  --seed S                  INSECURE deterministic keys, for debugging only: S from 0 to\n"
    "                            2^63 - 1 (9223372036854775807), as for cryptonets keygen --seed\n"
    "  --git-commit TEXT         recorded in the report\n"
    "exit status: 0 done, every encrypted score equal to the plain network's; 1 the encrypted\n"
    "scores differ (the report and CSV files say where) or an error (nothing written); 2 a\n"
    "usage error\n";

std::vector<size_t> parse_list(const std::string& text, const std::string& option) {
  std::vector<size_t> values;
  // getline drops a last empty item: "1024," would read as "1024" (a trial).
  if (!text.empty() && text.back() == ',') {
    throw std::invalid_argument(option + " expects positive integers separated by commas, got '" +
                                text + "'");
  }
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    // No leading zero: "01" is a count as no other tool writes it, and "010" is 8 to a reader of
    // C or of sh's $((...)) (a trial's --threads 01 ran as 1 without a word).
    if (item.size() > 1 && item.front() == '0' &&
        item.find_first_not_of("0123456789") == std::string::npos) {
      throw std::invalid_argument(option + " expects integers without a leading zero, got '" +
                                  text + "'");
    }
    try {
      // Digits only: std::stoull takes a sign and leading spaces, and reads "-1" as 2^64 - 1 (a
      // trial's --threads -1 ran 1024 threads).
      if (item.empty() || item.find_first_not_of("0123456789") != std::string::npos)
        throw std::invalid_argument(item);
      size_t used = 0;
      const unsigned long long value = std::stoull(item, &used);
      if (used != item.size() || value == 0) throw std::invalid_argument(item);
      values.push_back(static_cast<size_t>(value));
    } catch (const std::exception&) {
      throw std::invalid_argument(option + " expects positive integers separated by commas, got '" +
                                  text + "'");
    }
  }
  if (values.empty()) throw std::invalid_argument(option + " expects at least one value");
  return values;
}

// A list whose items are measured each once: a value listed twice is refused (a trial's
// --scaling-n 8192,8192 measured n = 8192 twice, two rows of the same ring degree).
std::vector<size_t> distinct_list(const std::string& text, const std::string& option,
                                  const std::string& what) {
  const std::vector<size_t> values = parse_list(text, option);
  for (size_t i = 0; i < values.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (values[j] == values[i]) {
        throw std::invalid_argument(option + " lists " + std::to_string(values[i]) +
                                    " twice, in '" + text + "': each " + what +
                                    " is measured once; list it once");
      }
    }
  }
  return values;
}

// An option that takes one value: a list is refused (a trial's --timing-n 1024,8192 ran at 1024
// without a word about 8192).
size_t single_value(const std::string& text, const std::string& option) {
  std::vector<size_t> values;
  try {
    values = parse_list(text, option);
  } catch (const std::invalid_argument&) {  // its words are for lists (a trial: --timing-n 0)
    const bool leading_zero = text.size() > 1 && text.front() == '0' &&
                              text.find_first_not_of("0123456789") == std::string::npos;
    throw std::invalid_argument(option + " expects one positive integer" +
                                (leading_zero ? " without a leading zero" : "") + ", got '" + text +
                                "'");
  }
  if (values.size() != 1) {
    throw std::invalid_argument(option + " expects one positive integer, got the list '" + text +
                                "'");
  }
  return values.front();
}

// A ring degree from the command line: a power of two from 4 (at n = 2 the scores' noise budget
// is exhausted, as the cryptonets tool's --insecure-ring-degree refuses) to 2^15, the largest of
// a parameter set (rlwe::kMaxRingDegree; it said 2^17, which the parameters then refused).
size_t ring_degree(size_t n, const std::string& option) {
  if (n < 4 || n > rlwe::kMaxRingDegree || !std::has_single_bit(n)) {
    throw std::invalid_argument(
        option + ": " + std::to_string(n) + " is not a power of two from 4 to " +
        std::to_string(rlwe::kMaxRingDegree) + " (the largest ring degree of a parameter set)");
  }
  return n;
}

// --seed S: an integer from 0 to 2^63 - 1, the range cryptonets keygen --seed takes (a trial's
// --seed 0 got "expects positive integers separated by commas": 0 keys the generator as well
// as any other value).
uint64_t seed_value(const std::string& text) {
  constexpr uint64_t kMostSeed = std::numeric_limits<int64_t>::max();
  uint64_t value = 0;
  bool valid = !text.empty() && text.size() <= 19;
  for (const char c : text) {
    valid = valid && c >= '0' && c <= '9';
    if (valid) value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  if (!valid || value > kMostSeed) {
    throw std::invalid_argument(
        "--seed expects one integer from 0 to 9223372036854775807 (2^63 - 1, as cryptonets "
        "keygen --seed): it keys the INSECURE deterministic generator; got '" +
        text + "'");
  }
  return value;
}

// The parts of the report whose inputs default to the shipped MNIST models: the 5-layer row of
// the networks table (its float model, --float-model), the 9-layer training network
// (--paper9-model, --paper9-float-model) and the activation study (--study-manifest). On another
// --data each runs only when its inputs are named (and their outputs are then the data's classes,
// checked before any work); otherwise it is skipped and the report says why (a review: --data
// mydata ran the MNIST float and 9-layer models on a 4-class set, 20.8 % and 12.5 %, and MNIST's
// study beside them). Each member: why the part is skipped; empty: it runs.
struct MnistOnlyParts {
  std::string five_layer, nine_layer, study;
};

// Whether `directory` holds the shipped MNIST files byte for byte, each as the loader picks it
// (stem.gz, else stem), checked against the shipped SHA256SUMS and SHA256SUMS.uncompressed: a
// copy of the set is MNIST too (a trial: a byte-identical copy lost the papers' columns). Any
// file missing or unreadable: false.
bool holds_shipped_mnist(const fs::path& directory) {
  const fs::path shipped = fs::path(cli::default_data_directory()) / "mnist";
  try {
    const std::map<std::string, std::string> packed = read_sha256sums(shipped / kChecksumFileName);
    const std::map<std::string, std::string> plain =
        read_sha256sums(shipped / kUncompressedChecksumFileName);
    for (const std::string stem : {"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
                                   "train-images-idx3-ubyte", "train-labels-idx1-ubyte"}) {
      std::error_code error;
      const bool gzipped = fs::exists(directory / (stem + ".gz"), error);
      const std::string name = gzipped ? stem + ".gz" : stem;
      const auto& sums = gzipped ? packed : plain;
      const auto expected = sums.find(name);
      if (expected == sums.end() ||
          to_hex(sha256(read_stored_file(directory / name))) != expected->second) {
        return false;
      }
    }
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

// Whether --data is the shipped MNIST set: not named, named as the default however it is spelt,
// or a byte-for-byte copy of it.
bool is_shipped_data(const Options& o) {
  std::error_code error;
  return !o.data_named ||
         fs::equivalent(o.data, fs::path(cli::default_data_directory()) / "mnist", error) ||
         holds_shipped_mnist(o.data);
}

MnistOnlyParts mnist_only_parts(const Options& o) {
  MnistOnlyParts parts;
  if (is_shipped_data(o)) return parts;
  const std::string other = "--data '" + o.data.string() + "' is not the shipped MNIST set and ";
  if (!o.float_model_named) {
    parts.five_layer = other + "--float-model is left at its default, MNIST's float model '" +
                       o.float_model.string() +
                       "' (name the float model of --model with --float-model to run it)";
  }
  if (!o.paper9_model_named || !o.paper9_float_model_named) {
    parts.nine_layer = other +
                       "--paper9-model and --paper9-float-model are not both named (their "
                       "defaults are MNIST's 9-layer network; name both, trained on this data "
                       "set, to run it)";
  }
  if (!o.study_manifest_named) {
    parts.study = other + "--study-manifest is left at its default, MNIST's activation study '" +
                  o.study_manifest.string() +
                  "' (name a manifest of models trained on this data set to run it)";
  }
  return parts;
}

// The default outputs are relative to the current directory: a bare run from the repository
// replaced the shipped report and CSV files (bench/results/reproduction.md and reproduction/).
// A default output that exists is refused before any work; one named with --out or --report is
// replaced (bench/reproduce.sh names both).
void refuse_default_over_existing(const Options& options) {
  std::vector<cryptonets::cli::DefaultOutput> defaults;
  if (!options.report_named) defaults.push_back({"--report", options.report.string()});
  if (!options.out_named) defaults.push_back({"--out", options.out_dir.string()});
  const std::string refused = cryptonets::cli::existing_default_outputs(defaults);
  if (refused.empty()) return;
  throw cli::UsageError(
      "refusing to replace " + refused +
      ": a default output never replaces existing files (run from the repository, they are the "
      "shipped results); name them with --out DIR and --report FILE (what is named there is "
      "replaced), or run bash bench/reproduce.sh");
}

// A directory the driver makes with fs::create_directories (`what`: the option and the path as
// given, for the message): a cli::UsageError, before any work, if it or the nearest of its
// ancestors that exists is not a directory (a trial's --out naming a regular file failed only
// after the measurements had started, with create_directories' raw error, exit 1).
void require_directory_path(const std::string& what, const fs::path& directory) {
  for (fs::path p = directory; !p.empty(); p = p.parent_path()) {
    std::error_code error;
    const fs::file_status entry = fs::symlink_status(p, error);
    if (!fs::exists(entry)) {
      if (p == p.parent_path()) break;
      continue;
    }
    const fs::file_status target = fs::status(p, error);
    if (fs::is_directory(target)) return;
    const std::string kind = !fs::exists(target)           ? "a symbolic link to nothing"
                             : fs::is_regular_file(target) ? "a regular file"
                                                           : special_file_kind(p.string());
    throw cli::UsageError(
        what + ": '" + p.string() + "' is " + kind +
        ", not a directory (the driver makes this directory for its outputs); choose another path");
  }
}

// How the driver was invoked (argv[0]), for the report's command line.
std::string invoked_as = kProgram;

// The report's command line: one sh word per argument (cli::shell_quoted), so that pasting it
// into a shell re-runs the same command (joined with spaces, an --out with a space was two words
// and one with `...` or $(...) ran it). An argument with a control character (a newline) cannot
// stand in the report's one-line table row: it is written as printable_text shows it (\n),
// visibly not the argument itself.
std::string command_line(std::span<char* const> arguments) {
  const auto word = [](std::string_view text) {
    const bool control = std::any_of(text.begin(), text.end(), [](char c) {
      return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
    });
    return cli::shell_quoted(control ? printable_text(text) : std::string(text));
  };
  std::string line = word(invoked_as);
  for (const char* argument : arguments)
    line += " " + word(argument);
  return line;
}

// parse_options' work; its refusals are std::invalid_argument (parse_list's too).
std::optional<Options> parse_arguments(std::span<char* const> arguments) {
  Options options;
  options.command_line = command_line(arguments);
  const size_t count = arguments.size();
  std::set<std::string> given;  // the options with a value met so far
  for (size_t i = 0; i < count; ++i) {
    std::string name = arguments[i];
    // --NAME=VALUE as well as --NAME VALUE, as the cryptonets tools take them (a trial:
    // --mode=test was an unknown option).
    std::optional<std::string> inline_value;
    if (const size_t equals = name.find('=');
        name.rfind("--", 0) == 0 && equals != std::string::npos) {
      inline_value = name.substr(equals + 1);
      name.resize(equals);
    }
    auto value = [&]() -> std::string {
      if (inline_value) return *std::exchange(inline_value, std::nullopt);
      if (i + 1 >= count) throw std::invalid_argument(name + " expects a value");
      return arguments[++i];
    };
    const bool flag = name == "--help" || name == "--study-only" || name == "--no-verify" ||
                      name == "--scaling-all-moduli";
    if (flag && inline_value) throw std::invalid_argument(name + " takes no value");
    // An option with a value given twice is refused, as the cryptonets tools refuse it
    // (OptionParser): the last one was used, silently (a review: --mode test --mode full ran the
    // full mode).
    if (!flag && name.rfind("--", 0) == 0 && !given.insert(name).second)
      throw std::invalid_argument(name + " given twice");
    if (name == "--help") {
      std::printf("%s", kUsage);
      return std::nullopt;
    } else if (name == "--mode") {
      options.mode = value();
      if (options.mode != "test" && options.mode != "reduced" && options.mode != "full") {
        throw std::invalid_argument("--mode expects test, reduced or full, got '" + options.mode +
                                    "'");
      }
    } else if (name == "--out") {
      options.out_dir = value();
      options.out_named = true;
    } else if (name == "--report") {
      options.report = value();
      options.report_named = true;
    } else if (name == "--paper-values") {
      options.paper_values = value();
      options.paper_values_named = true;
    } else if (name == "--model") {
      options.model = value();
    } else if (name == "--data") {
      options.data = value();
      options.data_named = true;
    } else if (name == "--float-model") {
      options.float_model = value();
      options.float_model_named = true;
    } else if (name == "--paper9-model") {
      options.paper9_model = value();
      options.paper9_model_named = true;
    } else if (name == "--paper9-float-model") {
      options.paper9_float_model = value();
      options.paper9_float_model_named = true;
    } else if (name == "--study-manifest") {
      options.study_manifest = value();
      options.study_manifest_named = true;
    } else if (name == "--study-only") {
      options.study_only = true;
    } else if (name == "--encrypted-images") {
      options.encrypted_images = single_value(value(), name);
    } else if (name == "--threads") {
      // At most 1024, as the cryptonets tool's --threads (5000 was silently run at 1024).
      const std::string text = value();
      for (size_t t : distinct_list(text, name, "thread count")) {
        if (t > 1024) {
          throw std::invalid_argument(name + " takes thread counts from 1 to 1024, got '" + text +
                                      "'");
        }
        options.threads.push_back(static_cast<int>(t));
      }
    } else if (name == "--timing-n") {
      options.timing_n = ring_degree(single_value(value(), name), name);
    } else if (name == "--batch-images") {
      options.batch_images = single_value(value(), name);
    } else if (name == "--accuracy-images") {
      options.accuracy_images = single_value(value(), name);
    } else if (name == "--scaling-n") {
      options.scaling_n.clear();
      for (size_t n : distinct_list(value(), name, "ring degree"))
        options.scaling_n.push_back(ring_degree(n, name));
    } else if (name == "--scaling-all-moduli") {
      options.scaling_all_moduli = true;
    } else if (name == "--seed") {
      options.seed = seed_value(value());
    } else if (name == "--no-verify") {
      options.verify_checksums = false;
    } else if (name == "--git-commit") {
      options.git_commit = value();
      // One line of the report's table: a newline would end the row.
      for (const unsigned char c : options.git_commit) {
        if (c < 0x20 || c == 0x7f) {
          throw std::invalid_argument("--git-commit expects one line of printable text, got '" +
                                      printable_text(options.git_commit) + "'");
        }
      }
    } else {
      throw std::invalid_argument("unknown option '" + name + "'");
    }
  }
  if (options.study_only) {
    if (!options.out_named) options.out_dir = "bench/results/activation-study/encrypted";
    if (!options.report_named) options.report = "bench/results/activation-study/encrypted.md";
  }
  if (options.study_only) {
    if (const std::string why = mnist_only_parts(options).study; !why.empty())
      throw cli::UsageError("--study-only has nothing to run: " + why);
  }
  refuse_default_over_existing(options);
  // The directories the driver makes (fs::create_directories): --out itself and the report's.
  if (options.out_dir.empty())
    throw cli::UsageError("--out needs a directory name, not an empty one");
  require_directory_path("--out '" + options.out_dir.string() + "'", options.out_dir);
  if (options.report.has_parent_path()) {
    require_directory_path("--report '" + options.report.string() + "'",
                           options.report.parent_path());
  }
  // A named report is renamed over the file it replaces at the end (cli::ToolOutput): one that
  // cannot be (a FIFO, /dev/stdout) is refused now, not after the measurements. A report in a
  // directory that does not exist yet is new: the driver makes the directory.
  if (options.report_named) {
    const fs::path parent = options.report.parent_path();
    std::error_code error;
    if (fs::is_directory(parent.empty() ? fs::path(".") : parent, error))
      cli::require_output_path("report", options.report.string());
  }
  return options;
}

// The options after the program's name; nullopt after --help (printed). Every refusal is a
// cli::UsageError (exit 2).
std::optional<Options> parse_options(std::span<char* const> arguments) {
  try {
    return parse_arguments(arguments);
  } catch (const cli::UsageError&) {
    throw;
  } catch (const std::invalid_argument& error) {  // parse_list's and the others'
    throw cli::UsageError(error.what());
  }
}

// Mode defaults, filled in where the command line left a knob unset. The stage work does not
// depend on how many slots are filled, so the reduced and full modes time a full batch. The image
// counts are then lowered to what the run can use: a batch to the n slots of the stage table's
// ring, each count to the `test_images` of --data. A count given on the command line that is
// lowered is said on stderr, with the value used (a trial's --accuracy-images 20000 ran on the
// 10000 test images without a word); the mode's own counts are lowered without one (--mode full
// takes all the test images, however many).
void apply_mode_defaults(Options& o, size_t preset_n, size_t test_images) {
  const bool test = o.mode == "test";
  const bool batch_given = o.batch_images.has_value();
  const bool accuracy_given = o.accuracy_images.has_value();
  const bool encrypted_given = o.encrypted_images.has_value();
  if (o.threads.empty()) o.threads = {1, 2};
  if (!o.timing_n) o.timing_n = test ? 1024 : preset_n;
  if (!o.batch_images) o.batch_images = test ? 24 : *o.timing_n;
  if (o.scaling_n.empty()) {
    o.scaling_n =
        test ? std::vector<size_t>{1024, 2048} : std::vector<size_t>{4096, 8192, 16384, 32768};
  }
  if (!o.scaling_all_moduli) o.scaling_all_moduli = o.mode == "full";
  // Each count lowered to the least of its bounds and said once, with the value given and the
  // bound that applied (a review: --batch-images lowered twice named its first lowered value as
  // the one given).
  using Bound = std::pair<size_t, std::string>;
  const auto lower = [](std::optional<size_t>& count, bool given, const char* option,
                        std::initializer_list<Bound> bounds) {
    const size_t asked = *count;
    const std::string* why = nullptr;
    for (const Bound& bound : bounds) {
      if (*count <= bound.first) continue;
      *count = bound.first;
      why = &bound.second;
    }
    if (given && why != nullptr) {
      progress_line(format("%s %zu: %s; using %zu", option, asked, why->c_str(), *count));
    }
  };
  const std::string data_size =
      format("the test set of --data '%s' has %zu images", o.data.c_str(), test_images);
  lower(
      o.batch_images, batch_given, "--batch-images",
      {{*o.timing_n, format("a batch holds at most n = %zu images (the stage table's ring degree)",
                            *o.timing_n)},
       {test_images, data_size}});
  // The defaults that follow --batch-images from its lowered value (a review: test mode's one batch
  // was the value given, 5000 images in batches of 1024).
  if (!o.accuracy_images) {
    o.accuracy_images = test ? 48 : (o.mode == "full" ? 10000 : *o.batch_images);
  }
  // Test mode: one batch per network and parameter set.
  if (!o.encrypted_images) o.encrypted_images = test ? *o.batch_images : *o.accuracy_images;
  lower(o.accuracy_images, accuracy_given, "--accuracy-images", {{test_images, data_size}});
  lower(o.encrypted_images, encrypted_given, "--encrypted-images", {{test_images, data_size}});
}

// ---------------------------------------------------------------------------------------------
// The paper's values: key,quantity,value,unit,source,status (bench/paper_values.csv).

struct PaperValue {
  std::string quantity, value, unit, source, status;
};

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> fields;
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.push_back(field);
      field.clear();
    } else if (c != '\r') {
      field += c;
    }
  }
  fields.push_back(field);
  return fields;
}

class PaperValues {
 public:
  explicit PaperValues(const fs::path& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read the paper's values from " + path.string());
    std::string line;
    std::getline(in, line);
    const std::string expected = "key,quantity,value,unit,source,status";
    if (line != expected) {
      throw std::runtime_error(path.string() + ": the header must be '" + expected + "', got '" +
                               line + "'");
    }
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      const auto fields = split_csv_line(line);
      if (fields.size() != 6) {
        throw std::runtime_error(path.string() + ": a row needs 6 fields: '" + line + "'");
      }
      // A value entered as a new line beside its old row (the last one was used, and the report
      // listed the key twice): which one is meant is the user's to say.
      if (values_.contains(fields[0])) {
        throw std::runtime_error(path.string() + ": the key '" + fields[0] +
                                 "' has two rows; keep one (edit its value in place)");
      }
      order_.push_back(fields[0]);
      values_[fields[0]] = {fields[1], fields[2], fields[3], fields[4], fields[5]};
    }
  }

  // The table cell: the value (with its unit where it helps) and a mark for how far it was
  // checked (kMarks), or why there is none.
  std::string cell(const std::string& key) const {
    const auto found = values_.find(key);
    if (found == values_.end()) return "not entered";
    const PaperValue& v = found->second;
    if (v.value.empty()) return v.status;
    std::string text = v.value;
    if (!v.unit.empty() && v.unit != "-") text += " " + v.unit;
    if (v.status == "paper") return text + " *";
    if (v.status == "authors' repo") return text + " ‡";
    if (v.status == "secondary") return text + " §";
    if (v.status == "code") return text + " ◊";
    if (v.status == "derived") return text + " ≈";
    if (v.status != "verified") return text + " †";
    return text;
  }
  // A plotted number: the value of a row whose status vouches for a measured figure (verified
  // from the paper, or printed by the authors' code), or nothing.
  std::optional<double> number(const std::string& key) const {
    const auto found = values_.find(key);
    if (found == values_.end() || found->second.value.empty()) return std::nullopt;
    const PaperValue& v = found->second;
    if (v.status != "verified" && v.status != "authors' repo") return std::nullopt;
    try {
      size_t used = 0;
      const double x = std::stod(v.value, &used);
      if (used == v.value.size()) return x;
    } catch (const std::exception&) {
    }
    return std::nullopt;
  }
  const std::vector<std::string>& keys() const { return order_; }
  const PaperValue& at(const std::string& key) const { return values_.at(key); }

 private:
  std::vector<std::string> order_;
  std::map<std::string, PaperValue> values_;
};

// ---------------------------------------------------------------------------------------------
// Parameter sets

struct ParameterSet {
  std::string name;  // "paper", "default", "bfv", "n=16384"
  // "yashe" or "bfv". For BFV, `base` carries bfv::Parameters' fields (the same n, q primes, t, σ
  // and digit size; bfv_parameters() converts), so that every table reads one type.
  std::string scheme = "yashe";
  yashe::Parameters base;
  std::vector<uint64_t> moduli;
  double predicted_budget = 0;
  // How the set departs from what its selector chose (bfv_set: n moved down in test mode), for
  // the report; empty when it is the selector's own.
  std::string note;
};

constexpr double kMarginBits = 10;  // the selection's default margin (SelectionTarget)
constexpr size_t kMaxPrimes = 40;

// The parameters of `like` moved to ring degree n: same prime size and plaintext modulus size
// and count (one bit more at a time if batching primes of that size run out or T no longer holds
// the outputs), and the fewest primes whose predicted budget keeps the margin. nullopt, with
// the reason in `why_not`, when none up to kMaxPrimes does.
std::optional<ParameterSet> at_degree(const ParameterSet& like, size_t n,
                                      const CompiledModel& compiled, const RangeReport& ranges,
                                      std::string& why_not) {
  if (n == like.base.n) return like;
  const int prime_bits = static_cast<int>(std::bit_width(like.base.q_primes.front()));
  const int plain_bits = static_cast<int>(std::bit_width(like.moduli.front()));
  double best = -std::numeric_limits<double>::infinity();
  for (size_t count = 1; count <= kMaxPrimes; ++count) {
    ParameterSet set;
    set.name = "n=" + std::to_string(n);
    try {
      set.base = yashe::Parameters::create(n, count, prime_bits, 2);
    } catch (const std::invalid_argument&) {
      continue;
    }
    set.base.sigma = like.base.sigma;
    set.base.decomposition_bits = like.base.decomposition_bits;
    // Moduli that batch at n as well (the paper's t1, t2 = 1 mod 16384) are kept as they are.
    if (std::all_of(like.moduli.begin(), like.moduli.end(),
                    [n](uint64_t t) { return t % (2 * n) == 1; })) {
      set.moduli = like.moduli;
    }
    for (int bits = plain_bits; bits <= 40 && set.moduli.empty(); ++bits) {
      try {
        auto moduli =
            encoding::select_plaintext_moduli(n, bits, like.moduli.size(), set.base.q_primes);
        if (plaintext_moduli_suffice(ranges, moduli)) set.moduli = std::move(moduli);
      } catch (const std::invalid_argument&) {
      }
    }
    if (set.moduli.empty()) {
      why_not = format("no %zu plaintext moduli of <= 40 bits, = 1 mod 2n, hold the outputs",
                       like.moduli.size());
      return std::nullopt;
    }
    set.base.t = set.moduli.front();
    try {
      set.base.validate();
      set.predicted_budget = predict_budget_over_moduli(set.base, set.moduli, compiled);
    } catch (const std::invalid_argument&) {
      continue;
    }
    best = std::max(best, set.predicted_budget);
    if (set.predicted_budget >= kMarginBits) return set;
  }
  why_not = format("no q of up to %zu primes of %d bits keeps a %.0f-bit margin (best %.1f bits)",
                   kMaxPrimes, prime_bits, kMarginBits, best);
  return std::nullopt;
}

ParameterSet from_preset(const std::string& name, const Model& model) {
  const ParameterChoice choice = preset(name, model);
  return {name, "yashe", choice.base, choice.plaintext_moduli, choice.predicted_budget_bits, {}};
}

// BFV's one parameter set for the model (select_bfv_parameters: the least ring degree whose
// 128-bit bound of the HE standard holds its q). The run's ring degree `n` never changes it
// silently (a trial: --mode reduced --timing-n 4096 ran BFV at n = 4096 with the primes chosen
// for 8192, with no security and no word of it). When the selector's n is above `n`:
// `move_to_smaller_n` (test mode, n = 1024 by design) keeps the same primes and moduli, which stay
// = 1 mod 2n, at `n`, with NO security, and says so in the set's note; otherwise throws
// std::runtime_error naming both ring degrees and the options that avoid it. An `n` above the
// selector's leaves BFV at its own n.
ParameterSet bfv_set(const Model& model, std::optional<size_t> n, bool move_to_smaller_n) {
  const BfvParameterChoice choice = select_bfv_parameters(model);
  ParameterSet set{"bfv", "bfv", {}, choice.plaintext_moduli, choice.predicted_budget_bits, {}};
  set.base.n = choice.base.n;
  set.base.q_primes = choice.base.q_primes;
  set.base.t = choice.base.t;
  set.base.sigma = choice.base.sigma;
  set.base.decomposition_bits = choice.base.decomposition_bits;
  if (!n || *n >= set.base.n) return set;
  if (!move_to_smaller_n) {
    throw std::runtime_error(format(
        "BFV: select_bfv_parameters chose n = %zu for this model (%zu primes, log2 q = %.1f), "
        "above this run's ring degree n = %zu (--timing-n); BFV is not moved to a smaller n "
        "outside --mode test (its primes at n = %zu would have no security): give --timing-n %zu "
        "or more, or --mode test",
        set.base.n, set.base.q_primes.size(), set.base.log2_q(), *n, *n, set.base.n));
  }
  set.note = format(
      "n moved from select_bfv_parameters' %zu to this mode's %zu, with the same "
      "primes and moduli: NO security",
      set.base.n, *n);
  set.base.n = *n;
  return set;
}

bfv::Parameters bfv_parameters(const ParameterSet& set) {
  bfv::Parameters p;
  p.n = set.base.n;
  p.q_primes = set.base.q_primes;
  p.t = set.base.t;
  p.sigma = set.base.sigma;
  p.decomposition_bits = set.base.decomposition_bits;
  p.validate();
  return p;
}

bool same_parameters(const ParameterSet& a, const ParameterSet& b) {
  return a.scheme == b.scheme && a.base == b.base && a.moduli == b.moduli;
}

std::string q_description(const yashe::Parameters& p) {
  return format("%zu x %d-bit primes (log2 q = %.1f)", p.q_primes.size(),
                static_cast<int>(std::bit_width(p.q_primes.front())), p.log2_q());
}

std::string moduli_description(const std::vector<uint64_t>& moduli) {
  std::string text;
  for (uint64_t t : moduli)
    text += (text.empty() ? "" : ", ") + std::to_string(t);
  return text;
}

// ---------------------------------------------------------------------------------------------
// Runs

// One row per stage of a batch, summed over the plaintext moduli (inference/private_inference).
using StageRow = StageTotals;

struct RunResult {
  ParameterSet set;
  int threads = 1;
  size_t batch_images = 0;
  double keygen_seconds = 0;
  std::vector<StageRow> stages;  // the first batch
  uint64_t upload_bytes = 0;     // one batch, client -> server
  uint64_t download_bytes = 0;   // one batch, server -> client
  size_t upload_ciphertexts = 0, download_ciphertexts = 0;
  // All batches (accuracy runs): exact scores per image.
  std::vector<std::vector<mpz_class>> scores;
  size_t batches = 0;

  double stage_seconds(const std::string& stage) const {
    double total = 0;
    for (const auto& row : stages)
      if (row.stage == stage && !row.layer_index) total += row.seconds;
    return total;
  }
  double network_seconds() const {
    double total = 0;
    for (const auto& row : stages)
      if (row.layer_index) total += row.seconds;
    return total;
  }
  double stage_seconds_modulus(const std::string& stage, size_t i) const {
    double total = 0;
    for (const auto& row : stages)
      if (row.stage == stage && !row.layer_index && i < row.per_modulus.size()) {
        total += row.per_modulus[i];
      }
    return total;
  }
  double network_seconds_modulus(size_t i) const {
    double total = 0;
    for (const auto& row : stages)
      if (row.layer_index && i < row.per_modulus.size()) total += row.per_modulus[i];
    return total;
  }
  double latency_seconds() const {
    return stage_seconds("encode+encrypt") + network_seconds() + stage_seconds("decrypt+decode");
  }
  // No comma: it heads CSV columns of the plots.
  std::string config_name() const { return set.name + " " + std::to_string(threads) + "T"; }
};

struct Session {
  const Model& model;
  const CompiledModel& compiled;
  const RangeReport& ranges;
  const MnistSet& test;
  Prng& prng;
};

// Keys of one parameter set under its scheme (exactly one of the two is set).
struct KeyedSet {
  ParameterSet set;
  std::shared_ptr<const encoding::CrtKeys> yashe_keys;
  std::shared_ptr<const encoding::BfvCrtKeys> bfv_keys;
  double keygen_seconds = 0;
};

KeyedSet generate_keys(const ParameterSet& set, Prng& prng) {
  progress_line(
      format("key generation: %s (%s), n = %zu, %s, %s", set.name.c_str(), set.scheme.c_str(),
             set.base.n, q_description(set.base).c_str(),
             counted(set.moduli.size(), "plaintext modulus", "plaintext moduli").c_str()));
  const auto start = Clock::now();
  KeyedSet keyed{set, nullptr, nullptr, 0};
  if (set.scheme == "bfv") {
    keyed.bfv_keys = std::make_shared<const encoding::BfvCrtKeys>(
        encoding::BfvCrtKeys::generate(bfv_parameters(set), set.moduli, prng));
  } else {
    keyed.yashe_keys = std::make_shared<const encoding::CrtKeys>(
        encoding::CrtKeys::generate(set.base, set.moduli, prng));
  }
  keyed.keygen_seconds = seconds_since(start);
  return keyed;
}

template <class Scheme>
RunResult run_with(Session& session, const KeyedSet& keyed,
                   const encoding::BasicCrtKeys<Scheme>& keys, int threads, size_t count,
                   size_t batch_size, bool decrypt);

// Encrypt, evaluate and (when `decrypt`) decrypt `count` images from the first, in batches of
// `batch_size`; the stages of the first batch are kept. Noise is measured with the secret key as
// a diagnostic, outside the timed stages.
RunResult run(Session& session, const KeyedSet& keyed, int threads, size_t count, size_t batch_size,
              bool decrypt) {
  return keyed.bfv_keys
             ? run_with(session, keyed, *keyed.bfv_keys, threads, count, batch_size, decrypt)
             : run_with(session, keyed, *keyed.yashe_keys, threads, count, batch_size, decrypt);
}

template <class Scheme>
RunResult run_with(Session& session, const KeyedSet& keyed,
                   const encoding::BasicCrtKeys<Scheme>& keys, int threads, size_t count,
                   size_t batch_size, bool decrypt) {
  RunResult result;
  result.set = keyed.set;
  result.threads = threads;
  result.keygen_seconds = keyed.keygen_seconds;
  result.batch_images = std::min(batch_size, count);
  const encoding::BasicCrtEncryptionSet<Scheme> server(keys);
  const encoding::BasicCrtDecryptionSet<Scheme> client(keys);
  const size_t batches = (count + batch_size - 1) / batch_size;
  result.batches = batches;
  for (size_t b = 0; b < batches; ++b) {
    const size_t first = b * batch_size, size = std::min(batch_size, count - first);
    progress_line(format("%s, %s: batch %zu/%zu (%s)", keyed.set.name.c_str(),
                         counted(static_cast<size_t>(threads), "thread", "threads").c_str(), b + 1,
                         batches, counted(size, "image", "images").c_str()));
    StageSummary collector;
    const auto observe = [&](const StageReport& report) { collector.add(report); };
    const auto images = quantised_images(session.model, session.test.images, first, size);
    EncryptedBatch batch =
        encrypt_batch(server, session.model, images, session.prng, threads, observe);
    BasicInferenceOptions<Scheme> inference;
    inference.threads = threads;
    inference.observe = observe;
    inference.prng = &session.prng;  // the output re-randomisation
    inference.secret_keys_for_diagnostics = &client;
    const EncryptedBatch scores = infer(server, session.compiled, std::move(batch), inference);
    if (decrypt) {
      auto decrypted =
          decrypt_scores(client, scores, session.ranges.output().bound, observe, threads);
      for (auto& row : decrypted)
        result.scores.push_back(std::move(row));
    }
    if (b == 0) result.stages = collector.rows();
  }
  for (const auto& context : keys.contexts) {
    result.upload_bytes += ciphertext_batch_bytes(*context, session.compiled.input_size);
    result.download_bytes += ciphertext_batch_bytes(*context, session.compiled.output_size);
    result.upload_ciphertexts += session.compiled.input_size;
    result.download_ciphertexts += session.compiled.output_size;
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Machine facts

std::string read_first(const fs::path& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

size_t cpu_count() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  size_t count = 0;
  while (std::getline(in, line))
    count += line.rfind("processor", 0) == 0;
  return count ? count : std::thread::hardware_concurrency();
}

std::string memory_total() {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("MemTotal:", 0) == 0) {
      std::stringstream fields(line.substr(9));
      double kib = 0;
      fields >> kib;
      return format("%.1f GiB", kib / 1048576);
    }
  }
  return "unknown";
}

std::string load_average() {
  std::stringstream fields(read_first("/proc/loadavg"));
  std::string one, five, fifteen;
  fields >> one >> five >> fifteen;
  return one + " / " + five + " / " + fifteen;
}

// ---------------------------------------------------------------------------------------------
// Outputs against inputs

// The CSV files in --out DIR: those of --study-only, and those of a whole run (OutputFiles::csv
// takes no other name, so that refuse_outputs_over_inputs knows every file the run writes).
constexpr const char* kStudyCsvNames[] = {"activation_study.csv", "activation_study_plot.csv"};
constexpr const char* kRunCsvNames[] = {"stages.csv",           "summary.csv",
                                        "accuracy.csv",         "noise.csv",
                                        "scaling_n.csv",        "networks.csv",
                                        "layers_plot.csv",      "noise_plot.csv",
                                        "scaling_n_plot.csv",   "scaling_threads_plot.csv",
                                        "activation_study.csv", "activation_study_plot.csv"};

std::vector<std::string> csv_names(const Options& o) {
  if (o.study_only) return {std::begin(kStudyCsvNames), std::end(kStudyCsvNames)};
  return {std::begin(kRunCsvNames), std::end(kRunCsvNames)};
}

// A file the driver reads or writes, with how a message names it.
struct NamedFile {
  std::string shown;  // "--model 'data/model.txt'"
  fs::path path;
};

// The model files the study manifest names (paths relative to it), as far as it can be read:
// check_study_manifest reports a manifest that cannot. Not opened unless a regular file (a FIFO
// would block).
std::vector<NamedFile> study_models(const fs::path& manifest) {
  std::vector<NamedFile> models;
  std::error_code error;
  if (!fs::is_regular_file(manifest, error)) return models;
  std::ifstream in(manifest);
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto fields = split_csv_line(line);
    if (fields.size() != 7) continue;
    for (const size_t field : {size_t{2}, size_t{5}}) {
      if (fields[field].empty()) continue;
      const fs::path model = manifest.parent_path() / fields[field];
      models.push_back({"the activation study's model '" + model.string() +
                            "' (--study-manifest '" + manifest.string() + "')",
                        model});
    }
  }
  return models;
}

// An output over a file of this project's own (a key, a profile, a model, a ciphertext file:
// cli::refuse_to_replace_project_file) is a cli::UsageError before any work: the report and each
// CSV file the run writes in --out (a trial: --report keys/secret.key replaced the secret key with
// the report, exit 0, and so did it a profile and an encrypted batch).
void refuse_to_replace_project_files(const Options& o) {
  cli::refuse_to_replace_project_file("--report '" + o.report.string() + "'", o.report.string());
  for (const std::string& name : csv_names(o)) {
    const fs::path path = o.out_dir / name;
    cli::refuse_to_replace_project_file(
        "'" + path.string() + "' (a CSV file the run writes in --out '" + o.out_dir.string() + "')",
        path.string());
  }
}

// An output that is the same file (cli::names_same_file) as an input, as the data set's files
// (an IDX file, SHA256SUMS) or as another output is a cli::UsageError before any work: a trial's
// --report equal to --paper-values, --model, DATA/SHA256SUMS or a CSV file of --out replaced it
// (exit 0). The outputs: the report and each CSV file the run writes in --out.
void refuse_outputs_over_inputs(const Options& o) {
  const auto shown = [](const std::string& option, const fs::path& path) {
    return option + " '" + path.string() + "'";
  };
  std::vector<NamedFile> inputs{
      {shown("--paper-values", o.paper_values), o.paper_values},
      {shown("--model", o.model), o.model},
      {shown("--float-model", o.float_model), o.float_model},
      {shown("--paper9-model", o.paper9_model), o.paper9_model},
      {shown("--paper9-float-model", o.paper9_float_model), o.paper9_float_model},
      {shown("--study-manifest", o.study_manifest), o.study_manifest}};
  for (NamedFile& model : study_models(o.study_manifest))
    inputs.push_back(std::move(model));
  std::vector<NamedFile> outputs{{shown("--report", o.report), o.report}};
  for (const std::string& name : csv_names(o)) {
    outputs.push_back({"'" + (o.out_dir / name).string() + "' (a CSV file the run writes in " +
                           shown("--out", o.out_dir) + ")",
                       o.out_dir / name});
  }
  const auto refuse = [](const NamedFile& output, const std::string& other) {
    throw cli::UsageError(output.shown + " is the same file as " + other +
                          ": writing it would destroy the other; choose another path");
  };
  for (const NamedFile& output : outputs) {
    for (const NamedFile& input : inputs)
      if (cli::names_same_file(output.path.string(), input.path.string()))
        refuse(output, input.shown);
    cli::refuse_output_over_data(output.path == o.report ? "report" : "out", output.path.string(),
                                 o.data.string());
  }
  for (size_t i = 1; i < outputs.size(); ++i)
    if (cli::names_same_file(o.report.string(), outputs[i].path.string()))
      refuse(outputs.front(), outputs[i].shown);
  if (cli::names_same_file(o.report.string(), o.out_dir.string()))
    refuse(outputs.front(), shown("--out", o.out_dir) + " (the CSV files' directory)");
}

// ---------------------------------------------------------------------------------------------
// Output

// The run's files, the CSV files in --out DIR and the report: gathered in memory while the tables
// are written, then written out together by commit(), after every measurement. One left at its
// default goes through cli::ToolOutput: an unnamed file, given its name only if that name is still
// free (the start-up check alone let a file that appeared during hours of measurement be replaced
// at the end), and nothing left behind if the driver is killed.
class OutputFiles {
 public:
  explicit OutputFiles(const Options& o) : o_(o) {}

  std::ostream& csv(const std::string& name) {
    const std::vector<std::string> names = csv_names(o_);
    if (std::find(names.begin(), names.end(), name) == names.end())
      throw std::logic_error(name + " is not in kRunCsvNames or kStudyCsvNames");
    return add(o_.out_dir / name, "--out", o_.out_named);
  }
  std::ostream& report() { return add(o_.report, "--report", o_.report_named); }

  // Writes every file and then names them: a named one replaces its file (atomically: the old
  // file stays whole until then), a default takes a free name. Throws std::system_error naming
  // the file and the reason if one cannot be written ("File too large"), std::runtime_error if a
  // default's name was taken meanwhile (cli::publish_together): then none of the defaults' files
  // is left (a named file replaced before the failure stays replaced).
  void commit() {
    std::vector<std::unique_ptr<cli::ToolOutput>> outputs;
    for (File& file : files_) {
      auto output = std::make_unique<cli::ToolOutput>(file.option, file.path.string(), file.named);
      output->write(file.text.str());
      outputs.push_back(std::move(output));
    }
    std::vector<cli::ToolOutput*> all;
    for (const auto& output : outputs)
      all.push_back(output.get());
    cli::publish_together(kProgram, all);
  }

 private:
  struct File {
    fs::path path;
    std::string option;  // "--out" or "--report"
    bool named = false;  // given on the command line: replaces its file
    std::ostringstream text;
  };
  std::ostream& add(const fs::path& path, const std::string& option, bool named) {
    File& file = files_.emplace_back();
    file.path = path;
    file.option = option;
    file.named = named;
    return file.text;
  }

  const Options& o_;
  std::deque<File> files_;  // a deque: the streams handed out stay where they are
};

// SIGINT (Ctrl-C), SIGTERM, SIGHUP and SIGPIPE while the driver holds directories it made for its
// outputs (a trial: a SIGTERM during the measurements left them behind, which a failure removes,
// and so did a closed pipe, `2>&1 | head`): the handler removes them and ends the process by the
// signal, as its default action would (a shell reports 130, 143, 141). Only those still empty go
// (rmdir, deepest first): nothing the driver did not make, nor what was put in one meanwhile. The
// outputs are gathered in memory until OutputFiles::commit, while which a signal is only noted, and
// taken at the end (the outputs complete, or removed after a failure). The state machine is
// io/interrupts.hpp's; the cleanup below makes only async-signal-safe calls (rmdir, write) on paths
// prepared while held.
namespace made_directory_signals {

constexpr size_t kMostDirectories = 64;
constexpr size_t kPathBytes = 4096;
char paths[kMostDirectories][kPathBytes];  // deepest first
size_t count = 0;                          // written only while held
constexpr char kMessage[] =
    "cryptonets-reproduce: interrupted; no output was written, and the directories made for the "
    "outputs were removed\n";
// SIGPIPE: a pipe it writes to (stderr's progress lines: `2>&1 | head`) was closed. Said on
// stderr too, which may be that pipe: then the line is lost, and the exit status (141) tells.
constexpr char kPipeMessage[] =
    "cryptonets-reproduce: a pipe it wrote to was closed (SIGPIPE); no output was written, and "
    "the directories made for the outputs were removed\n";

void remove_directories(int signal) {
  for (size_t i = 0; i < count; ++i)
    ::rmdir(paths[i]);
  interrupts::say(signal == SIGPIPE ? kPipeMessage : kMessage);
}

}  // namespace made_directory_signals

// The directories this run makes for its outputs, removed again (those left empty) unless keep()
// is called: a run that fails after making them, or whose default outputs are refused at the
// end, leaves no empty directory behind; nor does one ended by SIGINT, SIGTERM, SIGHUP or SIGPIPE
// (made_directory_signals). One object at a time.
class MadeDirectories {
 public:
  MadeDirectories() {
    made_directory_signals::count = 0;
    interrupts::install(made_directory_signals::remove_directories);
  }
  MadeDirectories(const MadeDirectories&) = delete;
  MadeDirectories& operator=(const MadeDirectories&) = delete;
  ~MadeDirectories() {
    interrupts::hold();
    for (const fs::path& directory : made_) {  // deepest first; only empty ones go
      std::error_code ignored;
      fs::remove(directory, ignored);
    }
    made_directory_signals::count = 0;
    interrupts::restore();
  }

  // fs::create_directories, noting each directory it makes (held meanwhile: a signal then
  // finds the list whole, and is taken after).
  void make(const fs::path& directory) {
    interrupts::hold();
    std::vector<fs::path> missing;
    std::error_code error;
    for (fs::path p = fs::absolute(directory).lexically_normal();
         !p.empty() && !fs::exists(fs::symlink_status(p, error)); p = p.parent_path()) {
      missing.push_back(p);
      if (p == p.parent_path()) break;
    }
    // Noted before they are made: one made before a failure is removed too (rmdir of one
    // that was not made does nothing).
    made_.insert(made_.end(), missing.begin(), missing.end());
    std::sort(made_.begin(), made_.end(), [](const fs::path& a, const fs::path& b) {
      return a.native().size() > b.native().size();
    });
    // The handler's copy: a path too long for it, or too many, stays (removed by the
    // destructor on a failure, left by a signal).
    size_t& count = made_directory_signals::count;
    count = 0;
    for (const fs::path& made : made_) {
      if (count == made_directory_signals::kMostDirectories ||
          made.native().size() >= made_directory_signals::kPathBytes)
        continue;
      std::memcpy(made_directory_signals::paths[count++], made.c_str(), made.native().size() + 1);
    }
    try {
      fs::create_directories(directory);
    } catch (...) {
      interrupts::open();
      throw;
    }
    interrupts::open();
  }

  // The outputs are being written (OutputFiles::commit): a signal is noted, and taken by the
  // destructor, after keep() or the removal.
  void hold() { interrupts::hold(); }
  void keep() { made_.clear(); }

 private:
  std::vector<fs::path> made_;
};

class CsvFile {
 public:
  CsvFile(OutputFiles& files, const std::string& name, const std::string& header)
      : out_(files.csv(name)) {
    out_ << header << '\n';
  }
  template <class... Fields>
  void row(const Fields&... fields) {
    bool first = true;
    ((out_ << (first ? "" : ",") << quote(fields), first = false), ...);
    out_ << '\n';
  }
  // A line already joined (plot tables with a column per configuration).
  void raw(const std::string& line) { out_ << line << '\n'; }

 private:
  template <class T>
  static std::string quote(const T& value) {
    std::ostringstream text;
    text << value;
    std::string s = text.str();
    if (s.find_first_of(",\"") == std::string::npos) return s;
    std::string quoted = "\"";
    for (char c : s)
      quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
    return quoted + "\"";
  }
  std::ostream& out_;
};

// A literal pattern, so that format's check covers this call too.
std::string optional_number(const std::optional<double>& value) {
  return value ? format("%.1f", *value) : std::string();
}

// Everything the report needs, gathered while the runs go.
struct Results {
  std::vector<ParameterSet> presets;  // paper, default
  bool presets_identical = false;
  std::vector<RunResult> timing;          // preset × threads
  std::optional<RunResult> accuracy_run;  // default preset, most threads
  size_t accuracy_images = 0, encrypted_correct = 0, plain_correct = 0, score_mismatches = 0,
         label_mismatches = 0;
  double plain_seconds = 0;
  struct ScalingRow {
    size_t n = 0;
    std::optional<ParameterSet> set;
    std::string note;
    size_t moduli_run = 0;
    double keygen_seconds = 0, encrypt_seconds = 0, encrypt_seconds_modulus1 = 0,
           network_seconds = 0, network_seconds_modulus1 = 0;
    std::optional<double> final_measured;
    uint64_t ciphertext_bytes = 0;  // one ciphertext, file format
    bool measured = false;
  };
  std::vector<ScalingRow> scaling;
  int scaling_threads = 1;
  // Issue 17: both training networks under each parameter set, and the activation study.
  struct NetworkRow {
    std::string network, model_file;
    ParameterSet set;
    int output_bits = 0, threads = 1;
    size_t images = 0;  // float and integer accuracy
    double float_accuracy = 0, integer_accuracy = 0;
    size_t encrypted_images = 0, encrypted_correct = 0, score_mismatches = 0, batches = 0;
    double predicted_budget = 0, batch_seconds = 0;
    std::optional<double> measured_budget;
    size_t batch_images = 0;
  };
  std::vector<NetworkRow> networks;
  std::vector<std::string> networks_skipped;  // "(9-layer ...): why" (MnistOnlyParts)
  std::string study_skipped;                  // why the study was not run (MnistOnlyParts)
  // One scheme's encrypted run of a study row's integer model.
  struct StudyRun {
    ParameterSet set;
    std::string why_not;   // no parameter set for this scheme (then nothing below is measured)
    std::string security;  // BFV: assess_security's line; YASHE': empty (no level is claimed)
    size_t encrypted_images = 0, encrypted_correct = 0, score_mismatches = 0;
    double predicted_budget = 0, batch_seconds = 0;
    std::optional<double> measured_budget;
    bool measured() const { return why_not.empty(); }
  };
  struct StudyRow {
    std::string activation, variant, float_model, fit, integer_model;
    std::string note;  // why there is no integer model, when there is none
    int degree = 2;
    std::string activations;  // the float network's activation layers
    size_t images = 0;        // float and integer accuracy
    double float_accuracy = 0;
    std::optional<double> integer_accuracy;
    int output_bits = 0, threads = 1;
    std::vector<StudyRun> runs;  // YASHE' default, then BFV; empty: not run encrypted
    bool encrypted() const { return !runs.empty(); }
    std::string label() const { return activation + " " + variant; }
  };
  std::vector<StudyRow> study;
  size_t study_fit_images = 10000;
  double driver_seconds = 0;
  std::string load_before, load_after;
};

// The noise budget left after the network's last layer (predicted, measured) of a run's first
// batch.
std::pair<double, std::optional<double>> final_budgets(const RunResult& run) {
  std::pair<double, std::optional<double>> budgets{0.0, std::nullopt};
  for (const auto& stage : run.stages) {
    if (!stage.layer_index) continue;
    budgets = {stage.predicted_noise_budget, stage.measured_noise_budget};
  }
  return budgets;
}

std::string percent(double fraction) {
  return format("%.2f%%", 100.0 * fraction);
}

std::string plaintext_bits(const ParameterSet& set) {
  return format("%zu x %d", set.moduli.size(),
                static_cast<int>(std::bit_width(set.moduli.front())));
}

std::string config_label(const ParameterSet& set) {
  return set.scheme == "bfv" ? std::string("BFV") : "YASHE' " + set.name;
}

// Keys of the values printed by the paper's group's open-source code (bench/paper_values.csv).
const std::string kAuthorsCode = "authors_code_";

// The paper's five network layers, in order, for the 'paper' column of the stage table.
std::string paper_stage_key(const StageRow& row) {
  if (row.layer_index) return "time_layer_" + std::to_string(*row.layer_index + 1);
  if (row.stage == "encode+encrypt") return "time_encode_encrypt";
  if (row.stage == "decrypt+decode") return "time_decrypt_decode";
  return "";
}

// activation_study.csv and activation_study_plot.csv (also written by --study-only).
void write_study_csvs(OutputFiles& files, const Results& r) {
  // One row per integer model and scheme (scheme empty: no encrypted form); column 14 (equal)
  // comes before the only fields with commas (activations, last).
  CsvFile csv(files, "activation_study.csv",
              "activation,variant,float_model,fit,degree,integer_model,images,"
              "float_accuracy,integer_accuracy,scheme,n,encrypted_images,encrypted_accuracy,"
              "equal,plaintext_moduli,output_bits,predicted_budget_bits,measured_budget_bits,"
              "threads,batch_seconds,activations");
  CsvFile plot(files, "activation_study_plot.csv",
               "variant,float,integer (quantised),encrypted (YASHE'),encrypted (BFV)");
  for (const auto& row : r.study) {
    const auto common = [&](const Results::StudyRun* run, bool measured) {
      csv.row(row.activation, row.variant, row.float_model, row.fit,
              row.fit.empty() ? std::string() : std::to_string(row.degree), row.integer_model,
              row.images, format("%.4f", row.float_accuracy),
              row.integer_accuracy ? format("%.4f", *row.integer_accuracy) : std::string(),
              run ? run->set.scheme : std::string(),
              measured ? std::to_string(run->set.base.n) : std::string(),
              measured ? std::to_string(run->encrypted_images) : std::string(),
              measured ? format("%.4f", static_cast<double>(run->encrypted_correct) /
                                            static_cast<double>(run->encrypted_images))
                       : std::string(),
              measured ? (run->score_mismatches == 0 ? "yes" : "no") : "",
              measured ? moduli_description(run->set.moduli) : std::string(),
              measured ? std::to_string(row.output_bits) : std::string(),
              measured ? format("%.1f", run->predicted_budget) : std::string(),
              measured ? optional_number(run->measured_budget) : std::string(),
              measured ? std::to_string(row.threads) : std::string(),
              measured ? format("%.3f", run->batch_seconds) : std::string(),
              row.activations);  // last: it holds commas (quoted)
    };
    if (!row.encrypted()) common(nullptr, false);
    for (const auto& run : row.runs)
      common(&run, run.measured());
    // NaN: gnuplot leaves the bar out (no integer or encrypted form).
    std::string line =
        row.label() + "," + format("%.2f", 100.0 * row.float_accuracy) + "," +
        (row.integer_accuracy ? format("%.2f", 100.0 * *row.integer_accuracy) : std::string("NaN"));
    for (const std::string scheme : {"yashe", "bfv"}) {
      std::string cell = "NaN";
      for (const auto& run : row.runs)
        if (run.set.scheme == scheme && run.measured())
          cell = format("%.2f", 100.0 * static_cast<double>(run.encrypted_correct) /
                                    static_cast<double>(run.encrypted_images));
      line += "," + cell;
    }
    plot.raw(line);
  }
}

void write_csvs(OutputFiles& files, const Options& o, const Results& r, const PaperValues& paper) {
  {
    CsvFile csv(files, "stages.csv",
                "preset,n,log2_q,primes,moduli,threads,images,stage,layer,seconds,"
                "seconds_per_modulus,ciphertexts,memory_bytes,predicted_budget_bits,"
                "measured_budget_bits");
    for (const auto& run : r.timing) {
      for (const auto& row : run.stages) {
        std::string per_modulus;
        for (double s : row.per_modulus)
          per_modulus += (per_modulus.empty() ? "" : ";") + format("%.3f", s);
        csv.row(run.set.name, run.set.base.n, format("%.1f", run.set.base.log2_q()),
                run.set.base.q_primes.size(), run.set.moduli.size(), run.threads, run.batch_images,
                row.stage, row.layer_index ? std::to_string(*row.layer_index + 1) : std::string(),
                format("%.3f", row.seconds), per_modulus, row.ciphertexts, row.memory_bytes,
                format("%.1f", row.predicted_noise_budget),
                optional_number(row.measured_noise_budget));
      }
    }
  }
  {
    CsvFile csv(files, "summary.csv",
                "preset,n,log2_q,primes,moduli,threads,images,keygen_seconds,encrypt_seconds,"
                "network_seconds,decrypt_seconds,latency_seconds,predictions_per_hour,"
                "full_batch_predictions_per_hour,upload_bytes,download_bytes");
    for (const auto& run : r.timing) {
      const double latency = run.latency_seconds();
      csv.row(
          run.set.name, run.set.base.n, format("%.1f", run.set.base.log2_q()),
          run.set.base.q_primes.size(), run.set.moduli.size(), run.threads, run.batch_images,
          format("%.2f", run.keygen_seconds), format("%.3f", run.stage_seconds("encode+encrypt")),
          format("%.3f", run.network_seconds()),
          format("%.3f", run.stage_seconds("decrypt+decode")), format("%.3f", latency),
          format("%.0f", run.batch_images / latency * 3600),
          format("%.0f", run.set.base.n / latency * 3600), run.upload_bytes, run.download_bytes);
    }
  }
  if (r.accuracy_run) {
    CsvFile csv(files, "accuracy.csv",
                "preset,n,threads,images,batches,encrypted_accuracy,plain_accuracy,"
                "score_mismatches,label_mismatches,agree");
    const double images = static_cast<double>(r.accuracy_images);
    csv.row(r.accuracy_run->set.name, r.accuracy_run->set.base.n, r.accuracy_run->threads,
            r.accuracy_images, r.accuracy_run->batches,
            format("%.4f", r.encrypted_correct / images), format("%.4f", r.plain_correct / images),
            r.score_mismatches, r.label_mismatches, r.score_mismatches == 0 ? "yes" : "no");
  }
  {
    CsvFile csv(files, "noise.csv",
                "preset,threads,step,stage,predicted_budget_bits,measured_budget_bits");
    for (const auto& run : r.timing) {
      for (const auto& row : run.stages)
        csv.row(run.set.name, run.threads, row.layer_index ? *row.layer_index + 1 : 0, row.stage,
                format("%.1f", row.predicted_noise_budget),
                optional_number(row.measured_noise_budget));
    }
  }
  {
    CsvFile csv(files, "scaling_n.csv",
                "n,primes,log2_q,plaintext_moduli,moduli_run,threads,predicted_budget_bits,"
                "measured_budget_bits,keygen_seconds,encrypt_seconds,encrypt_seconds_modulus1,"
                "network_seconds,network_seconds_modulus1,ciphertext_bytes,status");
    for (const auto& row : r.scaling) {
      if (!row.set) {
        csv.row(row.n, "", "", "", 0, r.scaling_threads, "", "", "", "", "", "", "", "",
                "skipped: " + row.note);
        continue;
      }
      csv.row(row.n, row.set->base.q_primes.size(), format("%.1f", row.set->base.log2_q()),
              row.set->moduli.size(), row.moduli_run, r.scaling_threads,
              format("%.1f", row.set->predicted_budget), optional_number(row.final_measured),
              format("%.2f", row.keygen_seconds), format("%.3f", row.encrypt_seconds),
              format("%.3f", row.encrypt_seconds_modulus1), format("%.3f", row.network_seconds),
              format("%.3f", row.network_seconds_modulus1), row.ciphertext_bytes,
              row.measured ? "measured" : row.note);
    }
  }
  {
    CsvFile csv(files, "networks.csv",
                "network,model,scheme,preset,n,log2_q,plaintext_moduli,output_bits,images,"
                "float_accuracy,integer_accuracy,encrypted_images,encrypted_accuracy,"
                "score_mismatches,equal,predicted_budget_bits,measured_budget_bits,threads,"
                "batch_images,batch_seconds");
    for (const auto& row : r.networks) {
      csv.row(row.network, row.model_file, row.set.scheme, row.set.name, row.set.base.n,
              format("%.1f", row.set.base.log2_q()), moduli_description(row.set.moduli),
              row.output_bits, row.images, format("%.4f", row.float_accuracy),
              format("%.4f", row.integer_accuracy), row.encrypted_images,
              format("%.4f", static_cast<double>(row.encrypted_correct) / row.encrypted_images),
              row.score_mismatches, row.score_mismatches == 0 ? "yes" : "no",
              format("%.1f", row.predicted_budget), optional_number(row.measured_budget),
              row.threads, row.batch_images, format("%.3f", row.batch_seconds));
    }
  }
  write_study_csvs(files, r);
  {
    // Plot inputs: one column per configuration.
    CsvFile layers(files, "layers_plot.csv", [&] {
      std::string header = "stage";
      for (const auto& run : r.timing)
        header += "," + run.config_name();
      return header + ",authors' code (SEAL 3.2)";
    }());
    if (!r.timing.empty()) {
      for (size_t i = 0; i < r.timing.front().stages.size(); ++i) {
        const StageRow& first = r.timing.front().stages[i];
        std::ostringstream line;
        line << first.label();
        for (const auto& run : r.timing)
          line << "," << format("%.3f", i < run.stages.size() ? run.stages[i].seconds : 0.0);
        // NaN: gnuplot leaves the bar out where the authors' code printed no time.
        const auto authors = paper.number(kAuthorsCode + paper_stage_key(first));
        line << "," << (authors ? format("%.3f", *authors) : std::string("NaN"));
        layers.raw(line.str());
      }
    }
  }
  {
    CsvFile noise(files, "noise_plot.csv", [&] {
      std::string header = "stage";
      for (const auto& set : r.presets) {
        if (set.name == "paper" && r.presets_identical) continue;
        header += "," + set.name + " predicted," + set.name + " measured";
      }
      return header;
    }());
    std::vector<const RunResult*> runs;
    for (const auto& set : r.presets) {
      if (set.name == "paper" && r.presets_identical) continue;
      for (const auto& run : r.timing)
        if (run.set.name == set.name) {
          runs.push_back(&run);
          break;
        }
    }
    if (!runs.empty()) {
      for (size_t i = 0; i < runs.front()->stages.size(); ++i) {
        std::ostringstream line;
        line << runs.front()->stages[i].label();
        for (const RunResult* run : runs) {
          const StageRow& row = run->stages[i];
          line << "," << format("%.1f", row.predicted_noise_budget) << ","
               << (row.measured_noise_budget ? format("%.1f", *row.measured_noise_budget)
                                             : std::string("NaN"));
        }
        noise.raw(line.str());
      }
    }
  }
  {
    CsvFile plot(files, "scaling_n_plot.csv",
                 "n,network seconds (plaintext modulus 1),encode+encrypt seconds (modulus 1)");
    for (const auto& row : r.scaling) {
      if (!row.measured) continue;
      plot.row(row.n, format("%.3f", row.network_seconds_modulus1),
               format("%.3f", row.encrypt_seconds_modulus1));
    }
  }
  {
    std::string header = "threads";
    std::vector<std::string> names;
    for (const auto& run : r.timing) {
      if (std::find(names.begin(), names.end(), run.set.name) == names.end()) {
        names.push_back(run.set.name);
        header += "," + run.set.name + " network seconds";
      }
    }
    CsvFile plot(files, "scaling_threads_plot.csv", header);
    for (int threads : o.threads) {
      std::ostringstream line;
      line << threads;
      for (const auto& name : names) {
        std::string cell = "NaN";
        for (const auto& run : r.timing)
          if (run.set.name == name && run.threads == threads) {
            cell = format("%.3f", run.network_seconds());
          }
        line << "," << cell;
      }
      plot.raw(line.str());
    }
  }
}

// `text` as a code span (CommonMark): fenced by one backtick more than its longest run of
// backticks, with a space inside each fence when the text holds a backtick (CommonMark strips it).
std::string code_span(const std::string& text) {
  size_t longest = 0;
  size_t run = 0;
  for (const char c : text) {
    run = c == '`' ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  const std::string fence(longest + 1, '`');
  const std::string pad = longest > 0 ? " " : "";
  return fence + pad + text + pad + fence;
}

// `text` as a code span in a cell of a Markdown table (CommonMark, GFM tables): code_span, every |
// written \| (the table's escape, taken out before the code span is read): a command line with a
// backtick or a | broke the code span or the row.
std::string table_code_cell(const std::string& text) {
  std::string cell;
  for (const char c : code_span(text))
    cell += c == '|' ? std::string("\\|") : std::string(1, c);
  return cell;
}

// The 'Machine and run' section.
void write_machine_table(std::ostream& md, const Options& o, const Results& r) {
  md << "## Machine and run\n\n| | |\n|---|---|\n";
  md << "| date | " << cli::utc_now() << " |\n";
  md << "| CPU | " << cli::cpu_model() << " |\n";
  md << "| logical CPUs | " << cpu_count() << " |\n";
  md << "| memory | " << memory_total() << " |\n";
  md << "| thread counts run | ";
  for (size_t i = 0; i < o.threads.size(); ++i)
    md << (i ? ", " : "") << o.threads[i];
  md << " |\n";
  md << "| load average (1/5/15 min) before / after | " << r.load_before << " ; " << r.load_after
     << " |\n";
  md << "| compiler | g++ " << __VERSION__ << " |\n";
  if (!o.git_commit.empty()) md << "| commit | " << table_code_cell(o.git_commit) << " |\n";
  md << "| keys | "
     << (o.seed ? "derived from --seed: INSECURE, for debugging only" : "fresh, from OS entropy")
     << " |\n";
  md << "| command | " << table_code_cell(o.command_line) << " |\n";
  md << "| driver wall time | " << format("%.0f s", r.driver_seconds) << " |\n\n";
  md << "The machine is shared: other jobs ran at the same time (see the load average), so every "
        "time below is an upper bound on what this code needs on an idle machine.\n\n";
}

// The activation study's section (also the whole of the --study-only report).
void write_study_section(std::ostream& md, const Options& o, const Results& r,
                         const PaperValues& paper, const std::string& rel) {
  md << "## Activation study (Crypto-Nets, 2014)\n\n";
  if (!r.study_skipped.empty()) {  // another --data (MnistOnlyParts)
    md << "Not run: " << r.study_skipped << ".\n\n";
    return;
  }
  md << "Xie, Bilenko, Finley, Gilad-Bachrach, Lauter, Naehrig, \"Crypto-Nets: Neural Networks "
        "over Encrypted Data\", arXiv 1412.6181: "
     << paper.cell("crypto_nets_claim") << "; training: " << paper.cell("crypto_nets_training")
     << "; the paper's activations and accuracies: " << paper.cell("crypto_nets_activations")
     << ". 5-layer networks of the shipped shape trained with ReLU and with sigmoid; each "
        "activation replaced by a degree-2 polynomial fitted on the first "
     << r.study_fit_images
     << " training images (LSQ: least squares on 2001 evenly spaced points of the range the "
        "layer's inputs "
        "take; Chebyshev: the truncated Chebyshev series on that range; LSQ observed: least "
        "squares over the observed inputs themselves, i.e. weighted by their distribution), used "
        "as a drop-in (recomputed here from the original) or fine-tuned with the polynomial in "
        "place (the trainer keeps the polynomial's coefficients fixed and trains the weights, so "
        "a fine-tuned row lists the fit it started from). Models: `"
     << o.study_manifest.generic_string()
     << "` and data/README.md. Float and integer accuracy on the first "
     << (r.study.empty() ? 0 : r.study.front().images) << " test images; encrypted: the first "
     << *o.encrypted_images << " in batches of " << *o.batch_images
     << " under both schemes, each compared score by score with the plain integer network: "
        "YASHE' at the default preset chosen for each integer model (its own plaintext moduli; "
        "no security level is claimed for YASHE', whose NTRU-style parameters are overstretched) "
        "and BFV at the parameter set select_bfv_parameters chooses for it (its own n, q and "
        "plaintext moduli"
     << (o.mode == "test" ? ", moved to this mode's small n" : "")
     << "; its security line is below the table). Noise left: after the last layer; time: the "
        "first batch, encryption to decrypted scores"
     << (o.mode == "test" ? " (test mode: only the first integer model of each activation)" : "")
     << ". ReLU and sigmoid "
        "themselves are not polynomials: their networks have no integer or encrypted form (-).\n\n";
  md << "| activation | variant | activation layers | float | integer | encrypted YASHE' | "
        "encrypted BFV | encrypted = plain (YASHE' / BFV) | output bits | plaintext bits (YASHE' "
        "/ BFV) | noise left, bits: measured (predicted), YASHE' / BFV | time per batch, s (YASHE' "
        "/ BFV) |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  std::vector<std::pair<std::string, std::string>> notes;  // rows, note
  const auto add_note = [&](const std::string& label, const std::string& note) {
    // Rows with the same note share one line.
    auto same =
        std::find_if(notes.begin(), notes.end(), [&](const auto& n) { return n.second == note; });
    if (same == notes.end()) {
      notes.emplace_back(label, note);
    } else {
      same->first += ", " + label;
    }
  };
  std::vector<std::string> bfv_security;  // distinct lines
  for (const auto& row : r.study) {
    md << "| " << row.activation << " | " << row.variant << " | " << row.activations << " | "
       << percent(row.float_accuracy) << " | "
       << (row.integer_accuracy ? percent(*row.integer_accuracy) : std::string("-")) << " | ";
    if (!row.encrypted()) {
      md << "- | - | - | - | - | - | - |\n";
      if (!row.note.empty()) add_note(row.label(), row.note);
      continue;
    }
    // Cells of the runs in order (YASHE', BFV), joined with " / "; "-" for a scheme without
    // parameters (its reason is a note).
    const auto cells = [&](const auto& cell) {
      std::string text;
      for (size_t k = 0; k < row.runs.size(); ++k)
        text += (k ? " / " : "") + (row.runs[k].measured() ? cell(row.runs[k]) : std::string("-"));
      return text;
    };
    for (const auto& run : row.runs) {
      md << (run.measured() ? percent(static_cast<double>(run.encrypted_correct) /
                                      static_cast<double>(run.encrypted_images)) +
                                  " (" + std::to_string(run.encrypted_images) + ")"
                            : std::string("-"))
         << " | ";
      if (!run.measured())
        add_note(row.label(), "no " + config_label(run.set) + " parameters: " + run.why_not);
      if (!run.security.empty() &&
          std::find(bfv_security.begin(), bfv_security.end(), run.security) == bfv_security.end())
        bfv_security.push_back(run.security);
    }
    md << cells([](const Results::StudyRun& run) {
      return run.score_mismatches == 0 ? std::string("yes")
                                       : "NO (" + std::to_string(run.score_mismatches) + " differ)";
    }) << " | "
       << row.output_bits << " | "
       << cells([](const Results::StudyRun& run) { return plaintext_bits(run.set); }) << " | "
       << cells([](const Results::StudyRun& run) {
            return optional_number(run.measured_budget) + " (" +
                   format("%.1f", run.predicted_budget) + ")";
          })
       << " | "
       << cells([](const Results::StudyRun& run) { return format("%.1f", run.batch_seconds); })
       << " |\n";
  }
  if (!notes.empty()) {
    md << "\nRows without an integer model or a scheme's run:\n\n";
    for (const auto& [rows, note] : notes)
      md << "- " << rows << ": " << note << "\n";
  }
  if (!bfv_security.empty()) {
    md << "\nBFV parameters of the study's runs, "
       << (bfv_security.size() == 1 ? "every one" : "each") << ":\n\n";
    for (const auto& line : bfv_security)
      md << "- " << line << "\n";
  }
  md << "\n![activation study](" << rel << "/activation_study.png)\n\nCSV: `" << rel
     << "/activation_study.csv` (one row per integer model and scheme).\n\n";
}

// --study-only: the machine table and the study's section.
void write_study_report(OutputFiles& files, const Options& o, const Results& r,
                        const PaperValues& paper) {
  std::ostream& md = files.report();
  const fs::path report_dir = o.report.has_parent_path() ? o.report.parent_path() : ".";
  const std::string rel = fs::proximate(o.out_dir, report_dir).generic_string();
  md << "# The activation study under YASHE' and BFV\n\n"
     << "Written by `bench/reproduce.sh --study-only` (driver `cryptonets-reproduce`, mode "
     << o.mode
     << "): the activation study of bench/results/reproduction.md run on its own, with the "
        "same code.\n\n";
  write_machine_table(md, o, r);
  write_study_section(md, o, r, paper, rel);
}

void write_report(OutputFiles& files, const Options& o, const Results& r,
                  const PaperValues& paper) {
  std::ostream& md = files.report();
  const fs::path report_dir = o.report.has_parent_path() ? o.report.parent_path() : ".";
  const std::string rel = fs::proximate(o.out_dir, report_dir).generic_string();

  md << "# Reproducing CryptoNets (ICML 2016) on this machine\n\n";
  md << "Gilad-Bachrach, Dowlin, Laine, Lauter, Naehrig, Wernsing, \"CryptoNets: Applying Neural "
        "Networks to Encrypted Data with High Throughput and Accuracy\", ICML 2016 (PMLR 48). "
        "Written by `bench/reproduce.sh` (driver `cryptonets-reproduce`). The 'paper' columns "
        "come from "
     << code_span(o.paper_values.string())
     << "; see [the paper's values](#the-papers-values) for their sources and which are verified. "
        "Marks in the 'paper' cells: * the paper's own words "
        "(abstract); ◊ from someone's implementation of the paper (a SEAL 1.x-era example); "
        "§ a third party's report, not checked against the paper's text; ≈ arithmetic on "
        "those; † not checked against the paper's text; ‡ printed by the authors' later "
        "open-source code, not by the paper; "
        "'not verified' = no value entered because the paper's text could not be checked.\n\n";
  if (o.mode != "full") {
    md << "> **Mode: " << o.mode << ".** This is not the full run: ";
    if (o.mode == "test") {
      md << "small ring degree and batch (a smoke test); the numbers are not comparable with the "
            "paper's.";
    } else {
      md << "accuracy covers the first " << r.accuracy_images
         << " test images (one full batch), not all 10,000, and the scaling curve runs plaintext "
            "modulus 1 only. `bash bench/reproduce.sh --mode full` runs everything.";
    }
    md << "\n\n";
  }

  write_machine_table(md, o, r);

  md << "## Parameters\n\n";
  md << "| preset | n | q | plaintext moduli t_i | predicted budget after the network | "
        "paper |\n|---|---|---|---|---|---|\n";
  for (const auto& set : r.presets) {
    md << "| " << config_label(set) << " | " << set.base.n << " | " << q_description(set.base)
       << " | " << moduli_description(set.moduli) << " | "
       << format("%.1f bits", set.predicted_budget) << " | ";
    if (set.scheme == "bfv") {
      md << "- (the paper used YASHE') |\n";
      continue;
    }
    md << "n = " << paper.cell("param_n") << "; q = " << paper.cell("param_q")
       << "; t = " << paper.cell("param_t1") << ", " << paper.cell("param_t2") << " |\n";
  }
  md << "\nq is an RNS product of word-size NTT primes standing in for the paper's single q. The "
        "`paper` preset takes the paper's t1, t2 and base-2^32 relinearisation digits; `default` "
        "the smallest plaintext moduli that hold the model's outputs and one digit per prime "
        "(bench/results/paper-reproduction.md, section 2, says what each difference costs). ";
  if (r.presets_identical) {
    md << "**The two presets are identical here**, so each configuration was measured once and "
          "is listed under both names.";
  }
  md << "BFV (issue 15) is the same network under the Brakerski/Fan-Vercauteren scheme at its one "
        "parameter set (select_bfv_parameters: q inside the HE standard's 128-bit bound for "
        "ternary secrets at n = 8192"
     << (r.presets.back().note.empty() ? "" : "; " + r.presets.back().note) << ").\n\n"
     << "YASHE' " << yashe::assess_security(r.presets.front().base).one_line() << "\n\nBFV "
     << bfv::assess_security(bfv_parameters(r.presets.back())).one_line()
     << "\n\n(`cryptonets params` prints the full reports.)\n\n";

  md << "## Time per stage, one batch (cf. the paper's Table 2)\n\n";
  md << "Seconds of wall-clock time for one batch of "
     << (r.timing.empty() ? 0 : r.timing.front().batch_images)
     << " images (each stage's cost does not depend on how many of the n slots are filled), "
        "summed over the plaintext moduli.\n\n| stage |";
  for (const auto& run : r.timing)
    md << " " << run.config_name() << " |";
  md << " paper | authors' code ‡ |\n|---|";
  for (size_t i = 0; i < r.timing.size(); ++i)
    md << "---|";
  md << "---|---|\n";
  if (!r.timing.empty()) {
    for (size_t i = 0; i < r.timing.front().stages.size(); ++i) {
      const StageRow& first = r.timing.front().stages[i];
      md << "| " << first.label() << " |";
      for (const auto& run : r.timing)
        md << " " << format("%.2f", i < run.stages.size() ? run.stages[i].seconds : 0.0) << " |";
      const std::string key = paper_stage_key(first);
      md << " " << paper.cell(key) << " | " << paper.cell(kAuthorsCode + key) << " |\n";
    }
    md << "| **total** |";
    for (const auto& run : r.timing)
      md << " **" << format("%.2f", run.latency_seconds()) << "** |";
    md << " " << paper.cell("time_total") << " | " << paper.cell(kAuthorsCode + "time_total")
       << " |\n";
  }
  md << "\n‡ 'authors' code': the expected output printed in the README of microsoft/CryptoNets, "
        "the paper's group's later open-source version of the same network (SEAL 3.2 where the "
        "paper used SEAL 1.0; batch of "
     << paper.cell(kAuthorsCode + "batch") << ", plaintext moduli "
     << paper.cell(kAuthorsCode + "plain_moduli")
     << "; machine not stated). It is not the paper's Table 2, which could not be checked here; "
        "it shows what the same layers cost with a mature library.\n";
  md << "\nThe model's layers: 1 convolution (5 maps, 5x5, stride 2), 2 square, 3 the mean pool "
        "and the 100-unit layer folded into one linear map, 4 square, 5 the 10 outputs: the "
        "paper's five-layer network for prediction. Per-layer times of each modulus are in "
        "`stages.csv`.\n\n";
  md << "![time per stage](" << rel << "/layers.png)\n\n";

  md << "## Latency and throughput\n\n";
  md << "Latency: one batch from encryption to decrypted scores (key generation and transfer "
        "excluded). Throughput: a full batch of n images per latency.\n\n";
  md << "| configuration | key generation (s) | latency (s) | network only (s) | predictions / "
        "hour (full batch) | paper latency | paper throughput |\n|---|---|---|---|---|---|---|\n";
  for (const auto& run : r.timing) {
    const double latency = run.latency_seconds();
    md << "| " << run.config_name() << " | " << format("%.2f", run.keygen_seconds) << " | "
       << format("%.1f", latency) << " | " << format("%.1f", run.network_seconds()) << " | "
       << format("%.0f", run.set.base.n / latency * 3600) << " | " << paper.cell("latency") << " | "
       << paper.cell("throughput") << " |\n";
  }
  md << "\n";

  // The data run: with --data another set, the heading said MNIST all the same (a trial).
  const bool shipped_data = is_shipped_data(o);
  md << "## Accuracy on the "
     << (shipped_data ? std::string("MNIST test images")
                      : "test images of --data " + code_span(printable_text(o.data.string())))
     << "\n\n";
  // The paper's accuracies are MNIST's: beside another data set's (marked * as if comparable)
  // they mislead, so its column is left out there (a review).
  const auto paper_cell = [&](const std::string& key) {
    return shipped_data ? " " + paper.cell(key) + " |" : std::string();
  };
  const std::string not_mnist =
      "No 'paper' column: the paper's accuracy figures are MNIST's, not this data set's.\n\n";
  if (r.accuracy_run) {
    const double images = static_cast<double>(r.accuracy_images);
    if (!shipped_data) md << not_mnist;
    md << (shipped_data ? "| | this project | paper |\n|---|---|---|\n"
                        : "| | this project |\n|---|---|\n");
    md << "| images | " << r.accuracy_images << " (" << r.accuracy_run->batches << " batch"
       << (r.accuracy_run->batches == 1 ? "" : "es") << ", preset " << r.accuracy_run->set.name
       << ", " << r.accuracy_run->threads << " threads) |" << paper_cell("accuracy_images") << "\n";
    md << "| encrypted accuracy | " << format("%.2f%%", 100.0 * r.encrypted_correct / images)
       << " (" << r.encrypted_correct << "/" << r.accuracy_images << ") |" << paper_cell("accuracy")
       << "\n";
    md << "| plain integer network | " << format("%.2f%%", 100.0 * r.plain_correct / images) << " |"
       << paper_cell("accuracy_plain") << "\n";
    md << "| encrypted scores equal the plain ones | "
       << (r.score_mismatches == 0 ? std::string("yes, on every image")
                                   : "NO: " + std::to_string(r.score_mismatches) + " images differ")
       << " (labels differ on " << r.label_mismatches << ") |" << paper_cell("accuracy_agree")
       << "\n\n";
  }

  md << "## Message sizes (one batch)\n\n";
  md << "Exact sizes of the serialised ciphertext batches (`ciphertext_batch_bytes`: the file "
        "format packs residues to the primes' width).\n\n";
  md << "| configuration | client -> server | server -> client | per image (full batch) | paper "
        "client -> server | paper server -> client |\n|---|---|---|---|---|---|\n";
  for (const auto& run : r.timing) {
    if (run.threads != r.timing.front().threads) continue;  // sizes do not depend on threads
    md << "| " << run.set.name << " | " << cli::format_bytes(run.upload_bytes) << " ("
       << run.upload_ciphertexts << " ciphertexts) | " << cli::format_bytes(run.download_bytes)
       << " (" << run.download_ciphertexts << " ciphertexts) | "
       << format("%.1f KiB up, %.2f KiB down",
                 static_cast<double>(run.upload_bytes) / run.set.base.n / 1024,
                 static_cast<double>(run.download_bytes) / run.set.base.n / 1024)
       << " | " << paper.cell("message_client_to_server") << " | "
       << paper.cell("message_server_to_client") << " |\n";
  }
  md << "\n";

  md << "## Noise budget after each layer\n\n";
  md << "Bits left, minimum over the layer's ciphertexts and the plaintext moduli: measured with "
        "the secret key (a client-side diagnostic, on up to "
     << kNoiseSample
     << " ciphertexts per layer and modulus) / predicted by the keyless noise model.\n\n| stage |";
  std::vector<const RunResult*> noise_runs;
  for (const auto& set : r.presets) {
    if (set.name == "paper" && r.presets_identical) continue;
    for (const auto& run : r.timing)
      if (run.set.name == set.name) {
        noise_runs.push_back(&run);
        break;
      }
  }
  for (const RunResult* run : noise_runs)
    md << " " << run->set.name << " measured / predicted |";
  md << " paper |\n|---|";
  for (size_t i = 0; i < noise_runs.size(); ++i)
    md << "---|";
  md << "---|\n";
  if (!noise_runs.empty()) {
    for (size_t i = 0; i < noise_runs.front()->stages.size(); ++i) {
      md << "| " << noise_runs.front()->stages[i].label() << " |";
      for (const RunResult* run : noise_runs) {
        const StageRow& row = run->stages[i];
        md << " "
           << (row.measured_noise_budget ? format("%.1f", *row.measured_noise_budget)
                                         : std::string("-"))
           << " / " << format("%.1f", row.predicted_noise_budget) << " |";
      }
      md << " " << paper.cell("noise_budget") << " |\n";
    }
  }
  md << "\n![noise budget](" << rel << "/noise.png)\n\n";

  md << "## Scaling with the ring degree n\n\n";
  md << "For each n: the fewest "
     << (r.presets.empty()
             ? 0
             : static_cast<int>(std::bit_width(r.presets.at(1).base.q_primes.front())))
     << "-bit primes whose predicted budget (predict_budget_over_moduli) keeps a "
     << format("%.0f", kMarginBits) << "-bit margin, plaintext moduli = 1 mod 2n of the same size; "
     << r.scaling_threads << " threads; one batch"
     << (o.scaling_all_moduli.value_or(false) ? " on every plaintext modulus"
                                              : " on plaintext modulus 1 only (the others "
                                                "cost the same again)")
     << ". Times are plaintext modulus 1's; the measured budget is the minimum over the moduli "
        "run.\n\n";
  md << "| n | q | predicted / measured budget (bits) | encode+encrypt, modulus 1 (s) | network, "
        "modulus 1 (s) | one ciphertext | paper |\n|---|---|---|---|---|---|---|\n";
  for (const auto& row : r.scaling) {
    if (!row.set) {
      md << "| " << row.n << " | skipped: " << row.note << " | | | | | " << paper.cell("scaling_n")
         << " |\n";
      continue;
    }
    md << "| " << row.n << " | " << q_description(row.set->base) << " | "
       << format("%.1f", row.set->predicted_budget) << " / " << optional_number(row.final_measured)
       << " | " << (row.measured ? format("%.2f", row.encrypt_seconds_modulus1) : row.note) << " | "
       << (row.measured ? format("%.2f", row.network_seconds_modulus1) : std::string()) << " | "
       << (row.ciphertext_bytes ? format("%.0f KiB", row.ciphertext_bytes / 1024.0) : std::string())
       << " | " << paper.cell("scaling_n") << " |\n";
  }
  md << "\n![scaling with n](" << rel << "/scaling_n.png)\n\n";

  md << "## Scaling with threads\n\n| preset | threads | network (s) | speed-up | paper "
        "|\n|---|---|---|---|---|\n";
  for (const auto& run : r.timing) {
    double one_thread = 0;
    for (const auto& other : r.timing)
      if (other.set.name == run.set.name && other.threads == 1)
        one_thread = other.network_seconds();
    md << "| " << run.set.name << " | " << run.threads << " | "
       << format("%.1f", run.network_seconds()) << " | "
       << (one_thread > 0 ? format("%.2fx", one_thread / run.network_seconds()) : std::string("-"))
       << " | " << paper.cell("scaling_threads") << " |\n";
  }
  if (std::atof(r.load_before.c_str()) >= static_cast<double>(cpu_count())) {
    md << "\nThe load average (" << r.load_before << ") was at or above the " << cpu_count()
       << " logical CPUs during these runs: the extra threads competed with other jobs' "
          "processes, so this speed-up says little about the code's on an idle machine.\n";
  }
  md << "\n![scaling with threads](" << rel << "/scaling_threads.png)\n\n";

  md << "## Both training networks under each parameter set\n\n";
  // A network not run on another --data says why (MnistOnlyParts), in place of its rows.
  for (const std::string& skipped : r.networks_skipped)
    md << "Not run " << skipped << ".\n\n";
  if (!r.networks.empty()) {
    // The files run, not the shipped ones' names (a trial: --model mydata/model.txt was reported
    // as `data/model.txt`, from `data/model-float.txt`).
    md << "The 5-layer network trained directly (" << code_span(o.model.string()) << ", from "
       << code_span(o.float_model.string()) << ") and the paper's 9-layer training network ("
       << paper.cell("training_network")
       << ") trained, its linear layers 3-6 merged into one 845 -> 100 map and quantised ("
       << code_span(o.paper9_model.string()) << ", from "
       << code_span(o.paper9_float_model.string())
       << "; data/README.md has the commands). Float and integer accuracy on the first "
       << (r.networks.empty() ? 0 : r.networks.front().images)
       << " test images; encrypted on the first "
       << (r.networks.empty() ? 0 : r.networks.front().encrypted_images) << " in batches of "
       << (r.networks.empty() ? 0 : r.networks.front().batch_images) << " ("
       << (r.networks.empty() ? 0 : r.networks.front().threads)
       << " threads; the `model.txt` rows reuse the timing and accuracy runs above where they "
          "cover the images); 'equal' compares every decrypted score with the plain integer "
          "network's. "
          "Noise: bits left after the last layer, measured with the secret key / predicted; time: "
          "the first batch, encryption to decrypted scores.\n\n";
    if (!shipped_data) md << not_mnist;
    md << "| network | parameters | n | log2 q | plaintext moduli | output bits | float | integer "
          "| encrypted | encrypted = plain | noise left (bits) | time per batch (s) |"
       << (shipped_data ? " paper accuracy |" : "")
       << "\n|---|---|---|---|---|---|---|---|---|---|---|---|" << (shipped_data ? "---|" : "")
       << "\n";
    for (const auto& row : r.networks) {
      md << "| " << row.network << " (`" << row.model_file << "`) | " << config_label(row.set)
         << " | " << row.set.base.n << " | " << format("%.1f", row.set.base.log2_q()) << " | "
         << plaintext_bits(row.set) << " bits | " << row.output_bits << " | "
         << percent(row.float_accuracy) << " | " << percent(row.integer_accuracy) << " | "
         << percent(static_cast<double>(row.encrypted_correct) / row.encrypted_images) << " ("
         << row.encrypted_images << ") | "
         << (row.score_mismatches == 0 ? std::string("yes")
                                       : "NO (" + std::to_string(row.score_mismatches) + " differ)")
         << " | " << optional_number(row.measured_budget) << " / "
         << format("%.1f", row.predicted_budget) << " | " << format("%.1f", row.batch_seconds)
         << " |" << paper_cell("accuracy") << "\n";
    }
  }
  md << "\nCSV: `" << rel << "/networks.csv`.\n\n";

  write_study_section(md, o, r, paper, rel);

  md << "## The paper's values\n\n";
  md << "From " << code_span(o.paper_values.string())
     << ". Status 'verified' means checked against the paper's "
        "text; any other status says how far the value could be checked. An empty value is "
        "never filled in by guesswork.\n\n| key | quantity | value | source | status |\n"
        "|---|---|---|---|---|\n";
  for (const auto& key : paper.keys()) {
    const PaperValue& v = paper.at(key);
    md << "| " << key << " | " << v.quantity << " | "
       << (v.value.empty() ? "-" : v.value + (v.unit.empty() || v.unit == "-" ? "" : " " + v.unit))
       << " | " << v.source << " | " << v.status << " |\n";
  }
  md << "\n## Not reproduced\n\n";
  md << "- The paper's per-stage times, latency and noise figures could not be "
        "checked against its text (the paper is not among the sources this project can read "
        "offline), so their 'paper' cells stay empty; the stage table shows the authors' later "
        "open-source code instead (‡). Enter the paper's values in `bench/paper_values.csv` with "
        "table and page and rerun.\n";
  md << "- The paper ran SEAL's YASHE' with one q = 2^383 - 2^33 + 1 on a different machine; "
        "this project uses an RNS q of word primes, its own model and quantisation, so equal "
        "times are not expected, only the shape of the table.\n";
  md << "- Security: the parameters of both presets are not secure for YASHE' (overstretched "
        "NTRU); they reproduce the paper's setting for study only.\n";
  for (const auto& row : r.scaling)
    if (!row.set) md << "- n = " << row.n << ": " << row.note << ".\n";
  md << "\nCSV files: `" << rel << "/` (stages, summary, accuracy, noise, scaling_n, networks, "
     << "activation_study, and the "
     << "*_plot.csv inputs of the PNGs).\n";
}

// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------
// Issue 17: both training networks under each parameter set, and the activation study

training::LabelledImages first_images(const MnistSet& set, size_t count) {
  count = std::min(count, set.images.count);
  return {std::span(set.images.pixels).first(count * kMnistImagePixels),
          std::span(set.labels.labels).first(count)};
}

// A model's YASHE' preset moved to the timing ring degree (test mode: n = 1024).
ParameterSet preset_at(const std::string& name, const Model& model, const CompiledModel& compiled,
                       const RangeReport& ranges, size_t n) {
  std::string why_not;
  auto set = at_degree(from_preset(name, model), n, compiled, ranges, why_not);
  if (!set) throw std::runtime_error(name + " preset at n = " + std::to_string(n) + ": " + why_not);
  set->name = name;
  return *set;
}

struct Comparison {
  size_t correct = 0, mismatches = 0;
};

// The encrypted scores of a run against the plain integer network's (the first run.scores.size()
// images).
Comparison compare(const RunResult& run, const std::vector<std::vector<mpz_class>>& plain,
                   const MnistSet& test) {
  Comparison c;
  const auto labels = predicted_labels(run.scores);
  for (size_t s = 0; s < run.scores.size(); ++s) {
    c.correct += labels[s] == test.labels.labels[s];
    c.mismatches += run.scores[s] != plain.at(s);
  }
  return c;
}

// Both training networks (the 5-layer network trained directly, the paper's 9-layer training
// network merged) under the YASHE' paper and default presets and BFV: float, integer and
// encrypted accuracy, output bits, moduli, noise left and time per batch.
// A network skipped on another --data (MnistOnlyParts) is listed in r.networks_skipped.
void measure_networks(const Options& o, Results& r, const MnistSet& test, Prng& prng, int threads,
                      const std::vector<RunResult>& main_model_runs, const MnistOnlyParts& parts) {
  struct Entry {
    std::string label;
    fs::path integer_model, float_model;
    std::string skipped;
  };
  const std::vector<Entry> entries = {
      {"5-layer, trained directly", o.model, o.float_model, parts.five_layer},
      {"9-layer training network, merged", o.paper9_model, o.paper9_float_model, parts.nine_layer}};
  const size_t images = std::min(*o.accuracy_images, test.images.count);
  const size_t encrypted = std::min(*o.encrypted_images, test.images.count);
  for (const Entry& entry : entries) {
    if (!entry.skipped.empty()) {
      progress_line("networks: " + entry.label + " skipped: " + entry.skipped);
      r.networks_skipped.push_back("(" + entry.label + "): " + entry.skipped);
      continue;
    }
    progress_line("networks: " + entry.label + " (" + entry.integer_model.string() + ")");
    const Model model = load_model(entry.integer_model.string());
    const CompiledModel compiled = compile_model(model);
    const RangeReport ranges = track_ranges(model);
    const double float_accuracy = training::accuracy(
        training::load_float_network(entry.float_model), first_images(test, images), threads);
    const auto plain = plain_scores(
        compiled, quantised_images(model, test.images, 0, std::max(images, encrypted)), threads);
    const auto plain_labels = predicted_labels(plain);
    size_t integer_correct = 0;
    for (size_t s = 0; s < images; ++s)
      integer_correct += plain_labels[s] == test.labels.labels[s];
    Session session{model, compiled, ranges, test, prng};
    std::vector<ParameterSet> sets;
    for (const char* name : {"paper", "default"})
      sets.push_back(preset_at(name, model, compiled, ranges, *o.timing_n));
    sets.push_back(bfv_set(model, o.timing_n, o.mode == "test"));
    for (const ParameterSet& set : sets) {
      // The main model's runs at these parameters, when one covers the images: not run twice.
      const RunResult* reuse = nullptr;
      if (entry.integer_model == o.model) {
        for (const RunResult& run : main_model_runs)
          if (same_parameters(run.set, set) && run.threads == threads &&
              run.scores.size() >= encrypted) {
            reuse = &run;
          }
      }
      RunResult result;
      if (reuse) {
        result = *reuse;
        result.scores.resize(encrypted);
      } else {
        const KeyedSet keyed = generate_keys(set, prng);
        result = run(session, keyed, threads, encrypted, *o.batch_images, true);
      }
      Results::NetworkRow row;
      row.network = entry.label;
      row.model_file = entry.integer_model.filename().string();
      row.set = set;
      row.output_bits = ranges.output_bits();
      row.threads = threads;
      row.images = images;
      row.float_accuracy = float_accuracy;
      row.integer_accuracy = static_cast<double>(integer_correct) / images;
      const Comparison c = compare(result, plain, test);
      row.encrypted_images = result.scores.size();
      row.encrypted_correct = c.correct;
      row.score_mismatches = c.mismatches;
      row.batches = (encrypted + result.batch_images - 1) / result.batch_images;
      std::tie(row.predicted_budget, row.measured_budget) = final_budgets(result);
      row.batch_seconds = result.latency_seconds();
      row.batch_images = result.batch_images;
      r.networks.push_back(row);
    }
  }
}

constexpr const char* kStudyManifestHeader =
    "activation,variant,float_model,fit,degree,integer_model,note";

// The drop-in fits measure_study recomputes (training::fit_activations' methods and degrees).
constexpr std::array<const char*, 3> kStudyFits{"lsq", "chebyshev", "lsq-observed"};
constexpr size_t kStudyMaxDegree = 6;

// The manifest's header, its rows' fields and the model files they name, checked before any
// directory is made or anything measured: a trial's missing --study-manifest failed only after
// the other measurements (27 s in test mode, hours in full mode), leaving empty directories; so
// did a row's unknown fit or degree, a model file of the other kind (a float network where an
// integer model goes) and a manifest without rows. Each model file is read once here.
// `require_outputs(outputs, what)` refuses a model whose outputs are not the data's classes.
template <class RequireOutputs>
void check_study_manifest(const fs::path& path, const RequireOutputs& require_outputs) {
  std::error_code error;
  if (fs::is_directory(path, error))
    throw std::runtime_error("--study-manifest " + path.string() + " is a directory, not a file");
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read the activation study's manifest " + path.string());
  std::string line;
  std::getline(in, line);
  if (line != kStudyManifestHeader) {
    throw std::runtime_error(path.string() + ": the header must be '" + kStudyManifestHeader +
                             "', got '" + line + "'");
  }
  size_t rows = 0;
  std::set<std::pair<size_t, fs::path>> read;  // (field, file) read already
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto fields = split_csv_line(line);
    if (fields.size() != 7)
      throw std::runtime_error(path.string() + ": a row needs 7 fields: '" + line + "'");
    ++rows;
    for (const size_t field : {size_t{2}, size_t{5}}) {
      if (field == 5 && fields[field].empty()) continue;  // a row without an integer model
      const fs::path file = path.parent_path() / fields[field];
      if (!fs::is_regular_file(file, error))
        throw std::runtime_error(path.string() + ": no model file " + file.string());
      if (!read.insert({field, file.lexically_normal()}).second) continue;
      try {
        if (field == 2) {
          require_outputs(training::load_sequential_network(file).classes(),
                          "the float network '" + file.string() + "'");
        } else {
          require_outputs(compile_model(load_model(file.string())).output_size,
                          "the integer model '" + file.string() + "'");
        }
      } catch (const std::exception& e) {
        throw std::runtime_error(path.string() + ": the " +
                                 (field == 2 ? "float network" : "integer model") + " of row '" +
                                 line + "': " + e.what());
      }
    }
    const std::string& fit = fields[3];
    if (fit.empty()) continue;
    if (std::find(kStudyFits.begin(), kStudyFits.end(), fit) == kStudyFits.end()) {
      throw std::runtime_error(path.string() + ": row '" + line +
                               "': the fit must be lsq, chebyshev, lsq-observed or empty, got '" +
                               fit + "'");
    }
    const std::string& degree = fields[4];
    if (degree.empty() || degree.size() > 1 || degree[0] < '1' ||
        static_cast<size_t>(degree[0] - '0') > kStudyMaxDegree) {
      throw std::runtime_error(path.string() + ": row '" + line +
                               "': a fit's degree must be 1 to " + std::to_string(kStudyMaxDegree) +
                               ", got '" + degree + "'");
    }
  }
  if (rows == 0) throw std::runtime_error(path.string() + ": no rows");
}

// manifest.csv: activation,variant,float_model,fit,degree,integer_model,note (paths relative to
// the manifest; note: why a row has no integer model). `fit` non-empty: the float network is
// float_model with its activations replaced by that fit (a drop-in, recomputed here as
// cryptonets-train --approximate FIT --epochs 0 does).
void measure_study(const Options& o, Results& r, const MnistSet& test, Prng& prng, int threads) {
  std::ifstream in(o.study_manifest);
  if (!in)
    throw std::runtime_error("cannot read the activation study's manifest " +
                             o.study_manifest.string());
  const std::string expected = kStudyManifestHeader;
  std::string line;
  std::getline(in, line);
  if (line != expected) {
    throw std::runtime_error(o.study_manifest.string() + ": the header must be '" + expected +
                             "', got '" + line + "'");
  }
  const fs::path directory = o.study_manifest.parent_path();
  const size_t images = std::min(*o.accuracy_images, test.images.count);
  // As cryptonets-train --approximate: the first 10,000 training images (test mode: 1,000, and
  // only the first integer model of each activation encrypted, to stay quick).
  const bool test_mode = o.mode == "test";
  r.study_fit_images = test_mode ? 1000 : 10000;
  std::set<std::string> encrypted_activations;
  std::optional<MnistSet> train;  // for the drop-ins' fits, read once
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto fields = split_csv_line(line);
    if (fields.size() != 7) {
      throw std::runtime_error(o.study_manifest.string() + ": a row needs 7 fields: '" + line +
                               "'");
    }
    Results::StudyRow row;
    row.activation = fields[0];
    row.variant = fields[1];
    row.float_model = fields[2];
    row.fit = fields[3];
    row.integer_model = fields[5];
    row.note = fields[6];
    progress_line("activation study: " + row.label());
    training::SequentialNetwork network =
        training::load_sequential_network(directory / row.float_model);
    if (!row.fit.empty()) {
      row.degree = static_cast<int>(parse_list(fields[4], "manifest degree").front());
      if (!train) train = cli::load_data_split(o.data, MnistSplit::kTrain, o.verify_checksums);
      // The first 10,000 training images, as cryptonets-train --approximate.
      const auto fits = training::fit_activations(network, first_images(*train, r.study_fit_images),
                                                  row.fit, row.degree);
      size_t a = 0;
      for (auto& layer : network.layers)
        if (layer.kind == training::LayerKind::kActivation) layer.activation = fits.at(a++);
    }
    for (const auto& layer : network.layers)
      if (layer.kind == training::LayerKind::kActivation) {
        row.activations += (row.activations.empty() ? "" : "; ") + layer.activation.name();
      }
    row.images = images;
    row.float_accuracy = training::accuracy(network, first_images(test, images));
    if (!row.integer_model.empty()) {
      const Model model = load_model((directory / row.integer_model).string());
      const CompiledModel compiled = compile_model(model);
      const RangeReport ranges = track_ranges(model);
      const size_t encrypted = std::min(*o.encrypted_images, test.images.count);
      const auto plain = plain_scores(
          compiled, quantised_images(model, test.images, 0, std::max(images, encrypted)), threads);
      const auto labels = predicted_labels(plain);
      size_t correct = 0;
      for (size_t s = 0; s < images; ++s)
        correct += labels[s] == test.labels.labels[s];
      row.integer_accuracy = static_cast<double>(correct) / images;
      if (test_mode && !encrypted_activations.insert(row.activation).second) {
        r.study.push_back(row);
        continue;
      }
      // Encrypted under both schemes, as many images as each network of the table above, in
      // batches of the timed batch size: YASHE' default at the timing ring degree, and BFV's own
      // parameter set (select_bfv_parameters; test mode: moved to the small n, with no security).
      Session session{model, compiled, ranges, test, prng};
      row.output_bits = ranges.output_bits();
      row.threads = threads;
      for (const std::string scheme : {"yashe", "bfv"}) {
        Results::StudyRun study_run;
        study_run.set.scheme = scheme;
        try {
          study_run.set = scheme == "bfv"
                              ? bfv_set(model, test_mode ? o.timing_n : std::nullopt, test_mode)
                              : preset_at("default", model, compiled, ranges, *o.timing_n);
        } catch (const std::exception& error) {
          study_run.why_not = error.what();
          progress_line("activation study: " + row.label() + ": no " + scheme +
                        " parameters: " + study_run.why_not);
          row.runs.push_back(study_run);
          continue;
        }
        if (scheme == "bfv")
          study_run.security = bfv::assess_security(bfv_parameters(study_run.set)).one_line();
        const KeyedSet keyed = generate_keys(study_run.set, prng);
        const RunResult result = run(session, keyed, threads, encrypted, *o.batch_images, true);
        const Comparison c = compare(result, plain, test);
        study_run.encrypted_images = result.scores.size();
        study_run.encrypted_correct = c.correct;
        study_run.score_mismatches = c.mismatches;
        std::tie(study_run.predicted_budget, study_run.measured_budget) = final_budgets(result);
        study_run.batch_seconds = result.latency_seconds();
        row.runs.push_back(study_run);
      }
    }
    r.study.push_back(row);
  }
  if (r.study.empty()) throw std::runtime_error(o.study_manifest.string() + ": no rows");
}

// Whether every encrypted run of the study decrypted to the plain integer network's scores.
bool study_scores_equal(const Results& r) {
  for (const auto& row : r.study)
    for (const auto& run : row.runs)
      if (run.measured() && run.score_mismatches != 0) return false;
  return true;
}

int reproduce(Options o) {
  const auto driver_start = Clock::now();
  Results r;
  r.load_before = load_average();
  // The one default input relative to the current directory: outside the repository it was only
  // "cannot read the paper's values from bench/paper_values.csv", as if the user had named it.
  const PaperValues paper =
      cli::with_default_hint("--paper-values", o.paper_values.string(), o.paper_values_named,
                             [&] { return PaperValues(o.paper_values); });
  const MnistOnlyParts parts = mnist_only_parts(o);
  const Model model = load_model(o.model.string());
  const CompiledModel compiled = compile_model(model);
  const RangeReport ranges = track_ranges(model);
  const MnistSet test = cli::load_data_split(o.data, MnistSplit::kTest, o.verify_checksums);
  // The model's outputs are the data's classes (as cryptonets mnist checks): a label beyond them
  // was never predicted, and a model of more outputs is for another data set.
  const std::string test_labels = "'" + split_labels_file(o.data, MnistSplit::kTest).string() + "'";
  const std::string model_name = "the model '" + o.model.string() + "'";
  cryptonets::training::require_labels_below(
      test.labels.labels, static_cast<int>(compiled.output_size),
      test_labels + " (" + model_name + " has " + std::to_string(compiled.output_size) +
          " outputs)");
  // The data's classes: the largest training label + 1 (README: Your own data), as
  // cryptonets-train counts them; a test split without the top class was refused (a review).
  const std::string train_labels = split_labels_file(o.data, MnistSplit::kTrain).string();
  const MnistLabels training_labels = cli::read_labels_file(train_labels, o.verify_checksums);
  cryptonets::training::require_classes_match(training_labels.labels,
                                              static_cast<int>(compiled.output_size),
                                              "'" + train_labels + "'", model_name);
  // The other models the run reads, as --model: each has one output per class of the data.
  const auto require_outputs = [&](size_t outputs, const std::string& what) {
    cryptonets::training::require_classes_match(training_labels.labels, static_cast<int>(outputs),
                                                "'" + train_labels + "'", what);
  };
  if (!o.study_only && parts.five_layer.empty()) {
    require_outputs(training::load_float_network(o.float_model).classes,
                    "the float model '" + o.float_model.string() + "' (--float-model)");
  }
  if (!o.study_only && parts.nine_layer.empty()) {
    require_outputs(compile_model(load_model(o.paper9_model.string())).output_size,
                    "the 9-layer model '" + o.paper9_model.string() + "' (--paper9-model)");
    require_outputs(
        training::load_float_network(o.paper9_float_model).classes,
        "the 9-layer float model '" + o.paper9_float_model.string() + "' (--paper9-float-model)");
  }
  if (parts.study.empty()) check_study_manifest(o.study_manifest, require_outputs);
  Prng prng = o.seed ? Prng::insecure_seeded(*o.seed) : Prng::from_os_entropy();
  Session session{model, compiled, ranges, test, prng};

  const ParameterSet paper_preset = from_preset("paper", model);
  const ParameterSet default_preset = from_preset("default", model);
  apply_mode_defaults(o, default_preset.base.n, test.images.count);
  // BFV's sets first, the 9-layer network's too (measure_networks, hours later in full mode): a
  // --timing-n below their ring degree is refused before any file is written.
  std::optional<ParameterSet> bfv_preset;
  if (!o.study_only) {
    const auto bfv_of = [&o](const Model& of, const fs::path& path) {
      try {
        return bfv_set(of, o.timing_n, o.mode == "test");
      } catch (const std::runtime_error& error) {
        throw std::runtime_error(path.string() + ": " + error.what());
      }
    };
    bfv_preset = bfv_of(model, o.model);
    if (!bfv_preset->note.empty()) progress_line("BFV: " + bfv_preset->note);
    if (parts.nine_layer.empty()) bfv_of(load_model(o.paper9_model.string()), o.paper9_model);
  }
  MadeDirectories made;
  made.make(o.out_dir);
  if (o.report.has_parent_path()) made.make(o.report.parent_path());
  if (o.study_only) {
    measure_study(o, r, test, prng, *std::max_element(o.threads.begin(), o.threads.end()));
    r.load_after = load_average();
    r.driver_seconds = seconds_since(driver_start);
    OutputFiles files(o);
    write_study_csvs(files, r);
    write_study_report(files, o, r, paper);
    made.hold();
    files.commit();
    made.keep();
    progress_line(format("wrote %s and %s/activation_study*.csv in %.0f s", o.report.c_str(),
                         o.out_dir.c_str(), r.driver_seconds));
    return study_scores_equal(r) ? 0 : 1;
  }

  // The presets at the timing ring degree (test mode moves them to a small n).
  for (const ParameterSet* like : {&paper_preset, &default_preset}) {
    std::string why_not;
    auto set = at_degree(*like, *o.timing_n, compiled, ranges, why_not);
    if (!set)
      throw std::runtime_error(like->name + " preset at n = " + std::to_string(*o.timing_n) + ": " +
                               why_not);
    set->name = like->name;
    r.presets.push_back(*set);
  }
  r.presets.push_back(*bfv_preset);
  r.presets_identical = same_parameters(r.presets[0], r.presets[1]);
  const int most_threads = *std::max_element(o.threads.begin(), o.threads.end());
  const size_t accuracy_images = std::min(*o.accuracy_images, test.images.count);

  // Timing (and, at the default preset with the most threads, accuracy).
  std::map<std::string, KeyedSet> keyed;
  for (const ParameterSet& set : r.presets) {
    if (set.name == "paper" && r.presets_identical) continue;
    keyed.emplace(set.name, generate_keys(set, prng));
  }
  for (const ParameterSet& set : r.presets) {
    const bool alias = set.name == "paper" && r.presets_identical;
    for (int threads : o.threads) {
      if (alias) continue;
      const bool accuracy = set.name == "default" && threads == most_threads;
      const size_t count = accuracy ? std::max(accuracy_images, *o.batch_images) : *o.batch_images;
      RunResult result = run(session, keyed.at(set.name), threads, count, *o.batch_images, true);
      if (accuracy) r.accuracy_run = result;
      r.timing.push_back(std::move(result));
    }
  }
  if (r.presets_identical) {
    // Listed under both names: same parameters, same measurement.
    std::vector<RunResult> both;
    for (const auto& run : r.timing) {
      RunResult alias = run;
      alias.set.name = "paper";
      alias.scores.clear();
      both.push_back(std::move(alias));
    }
    for (auto& run : r.timing)
      both.push_back(std::move(run));
    r.timing = std::move(both);
  }

  // Accuracy: the encrypted scores against the plain integer network.
  if (r.accuracy_run) {
    const auto start = Clock::now();
    const size_t count = std::min(accuracy_images, r.accuracy_run->scores.size());
    r.accuracy_images = count;
    const auto plain =
        plain_scores(compiled, quantised_images(model, test.images, 0, count), most_threads);
    r.plain_seconds = seconds_since(start);
    std::vector<std::vector<mpz_class>> encrypted(r.accuracy_run->scores.begin(),
                                                  r.accuracy_run->scores.begin() + count);
    const auto encrypted_labels = predicted_labels(encrypted);
    const auto plain_labels = predicted_labels(plain);
    for (size_t s = 0; s < count; ++s) {
      r.encrypted_correct += encrypted_labels[s] == test.labels.labels[s];
      r.plain_correct += plain_labels[s] == test.labels.labels[s];
      r.score_mismatches += encrypted[s] != plain[s];
      r.label_mismatches += encrypted_labels[s] != plain_labels[s];
    }
  }
  // Before the scores are dropped: the main model's runs are rows of the networks table.
  measure_networks(o, r, test, prng, most_threads, r.timing, parts);
  if (r.accuracy_run) r.accuracy_run->scores.clear();
  for (auto& run : r.timing)
    run.scores.clear();

  if (parts.study.empty()) {
    measure_study(o, r, test, prng, most_threads);
  } else {
    progress_line("activation study skipped: " + parts.study);
    r.study_skipped = parts.study;
  }

  // Scaling with n at the default preset's sizes, with the most threads.
  r.scaling_threads = most_threads;
  const ParameterSet& reference = r.presets.at(1);  // default
  for (size_t n : o.scaling_n) {
    Results::ScalingRow row;
    row.n = n;
    std::string why_not;
    row.set = at_degree(reference, n, compiled, ranges, why_not);
    if (!row.set) {
      row.note = why_not;
      progress_line("scaling: n = " + std::to_string(n) + " skipped: " + why_not);
      r.scaling.push_back(row);
      continue;
    }
    const RunResult* reuse = nullptr;
    for (const auto& run : r.timing)
      if (run.set.name == "default" && run.threads == most_threads && n == run.set.base.n) {
        reuse = &run;
      }
    std::shared_ptr<const yashe::Context> context;
    if (reuse) {
      row.moduli_run = reuse->set.moduli.size();
      row.keygen_seconds = reuse->keygen_seconds;
      row.encrypt_seconds = reuse->stage_seconds("encode+encrypt");
      row.encrypt_seconds_modulus1 = reuse->stage_seconds_modulus("encode+encrypt", 0);
      row.network_seconds = reuse->network_seconds();
      row.network_seconds_modulus1 = reuse->network_seconds_modulus(0);
      for (const auto& stage : reuse->stages)
        if (stage.layer_index) row.final_measured = stage.measured_noise_budget;
      row.measured = true;
      context = keyed.at("default").yashe_keys->contexts.front();
    } else {
      ParameterSet run_set = *row.set;
      if (!o.scaling_all_moduli.value_or(false)) run_set.moduli.resize(1);
      const KeyedSet keys = generate_keys(run_set, prng);
      // One slot per image, as many images as the timed batch (at most n).
      const size_t images = std::min(*o.batch_images, n);
      const RunResult result = run(session, keys, most_threads, images, images,
                                   /*decrypt=*/run_set.moduli.size() == row.set->moduli.size());
      row.moduli_run = run_set.moduli.size();
      row.keygen_seconds = keys.keygen_seconds;
      row.encrypt_seconds = result.stage_seconds("encode+encrypt");
      row.encrypt_seconds_modulus1 = result.stage_seconds_modulus("encode+encrypt", 0);
      row.network_seconds = result.network_seconds();
      row.network_seconds_modulus1 = result.network_seconds_modulus(0);
      for (const auto& stage : result.stages)
        if (stage.layer_index) row.final_measured = stage.measured_noise_budget;
      row.measured = true;
      context = keys.yashe_keys->contexts.front();
    }
    row.ciphertext_bytes = ciphertext_batch_bytes(*context, 1);
    r.scaling.push_back(row);
  }

  r.load_after = load_average();
  r.driver_seconds = seconds_since(driver_start);
  OutputFiles files(o);
  write_csvs(files, o, r, paper);
  write_report(files, o, r, paper);
  made.hold();
  files.commit();
  made.keep();
  progress_line(format("wrote %s and %s/*.csv in %.0f s", o.report.c_str(), o.out_dir.c_str(),
                       r.driver_seconds));
  return r.score_mismatches == 0 && study_scores_equal(r) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 0) invoked_as = argv[0];
  // As the other tools: messages prefixed and made printable, usage errors exit 2 with a pointer
  // to --help, every other failure 1 (cli::run_standalone).
  return cli::run_standalone(
      kProgram,
      [](std::span<char* const> arguments) {
        const std::optional<Options> options = parse_options(arguments);
        if (!options) return 0;
        refuse_outputs_over_inputs(*options);
        refuse_to_replace_project_files(*options);
        return reproduce(*options);
      },
      argc, argv);
}
