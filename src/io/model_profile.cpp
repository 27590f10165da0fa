// The weight-free model profile (format in model_profile.hpp).
#include "cryptonets/io/model_profile.hpp"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>

#include "cryptonets/arith/format.hpp"
#include "cryptonets/io/input_file.hpp"
#include "cryptonets/io/little_endian.hpp"
#include "cryptonets/io/protocol_files.hpp"
#include "cryptonets/io/serialize.hpp"
#include "cryptonets/io/sha256.hpp"
#include "cryptonets/rlwe/parameters.hpp"

using cryptonets::inference::BfvParameterChoice;
using cryptonets::inference::ParameterChoice;
using cryptonets::inference::preset;
using cryptonets::inference::preset_names;
using cryptonets::model::centred_bits;
using cryptonets::model::compile_model;
using cryptonets::model::LayerRange;
using cryptonets::model::max_input_value;
using cryptonets::model::Model;
using cryptonets::model::RangeReport;
using cryptonets::model::track_ranges;

namespace cryptonets {

namespace {

std::string shortest(double value) {
  char text[64];
  const auto result = std::to_chars(text, text + sizeof text, value);
  return std::string(text, result.ptr);
}

// A word of the file in a message: as it is, or quoted and cut when long (quoted_word), so that a
// megabyte line makes no megabyte message; bytes that are not text are never shown, however few
// (a short word of bytes above 0x7f was printed as it was).
std::string shown_word(const std::string& word) {
  const std::string quoted = quoted_word(word);
  return word.size() <= 40 && quoted.front() == '\'' ? word : quoted;
}

class ProfileReader {
 public:
  ProfileReader(std::istream& in, std::string source) : in_(in), source_(std::move(source)) {}

  [[noreturn]] void fail(const std::string& message) const {
    throw std::runtime_error("profile '" + source_ + "' line " + std::to_string(line_number_) +
                             ": " + message);
  }

  // The next non-comment line as words; fails at the end of the input, and at a line with binary
  // data.
  std::vector<std::string> next(const std::string& expected) {
    std::string line;
    while (std::getline(in_, line)) {
      ++line_number_;
      // Before the comment test: a comment of binary data is refused as inspect refuses it.
      refuse_binary(line);
      if (line.empty() || line[0] == '#') continue;
      std::istringstream words(line);
      std::vector<std::string> result;
      for (std::string word; words >> word;)
        result.push_back(word);
      if (!result.empty()) return result;
    }
    ++line_number_;
    fail("unexpected end of file, expected " + expected);
  }

  int64_t integer(const std::string& text, const std::string& what, int64_t low, int64_t high) {
    int64_t value = 0;
    const auto result = std::from_chars(text.data(), text.data() + text.size(), value);
    if (result.ec != std::errc() || result.ptr != text.data() + text.size() || value < low ||
        value > high) {
      fail(what + " must be an integer in [" + std::to_string(low) + ", " + std::to_string(high) +
           "], got " + quoted_word(text));
    }
    return value;
  }

  uint64_t word(const std::string& text, const std::string& what) {
    uint64_t value = 0;
    const auto result = std::from_chars(text.data(), text.data() + text.size(), value);
    if (result.ec != std::errc() || result.ptr != text.data() + text.size()) {
      fail(what + " must be an unsigned 64-bit integer, got " + quoted_word(text));
    }
    return value;
  }

  double real(const std::string& text, const std::string& what) {
    double value = 0;
    const auto result = std::from_chars(text.data(), text.data() + text.size(), value);
    if (result.ec != std::errc() || result.ptr != text.data() + text.size() || !(value > 0)) {
      fail(what + " must be a positive number, got " + quoted_word(text));
    }
    return value;
  }

  // "KEY value".
  void expect_value(const std::vector<std::string>& words, const std::string& key) {
    if (words.size() != 2 || words[0] != key) fail("expected '" + key + " VALUE'");
  }

  // "input channels C height H ..." lines with an exact layout.
  void expect_words(const std::vector<std::string>& words, const std::vector<std::string>& keys) {
    if (words.size() != 2 * keys.size() - 1 || words[0] != keys[0]) {
      fail("expected '" + keys[0] + "' with " + std::to_string(keys.size() - 1) + " fields");
    }
    for (size_t i = 1; i < keys.size(); ++i) {
      if (words[2 * i - 1] != keys[i]) {
        fail("expected '" + keys[i] + "', got " + quoted_word(words[2 * i - 1]));
      }
    }
  }

 private:
  // A line with a byte no text format holds (first_binary_byte: a NUL or another control byte
  // but white space): named by its column and kind, never its value or the line (a trial: a
  // secret key given as --profile had its first line, key bytes up to the first 0x0a, printed to
  // stderr; and a NUL ended a quoted value where the message, a C string, was printed ("got '1").
  void refuse_binary(const std::string& line) const {
    if (const size_t found = first_binary_byte(line); found != std::string::npos)
      fail(binary_byte_message(found));
  }

  std::istream& in_;
  std::string source_;
  int line_number_ = 0;
};

// preset NAME scheme S n N sigma S decomposition D q Q1 .. Qk t T1 .. Tm, for a Choice of
// either scheme (ParameterChoice, BfvParameterChoice).
template <class Choice>
Choice read_preset(ProfileReader& reader, const std::vector<std::string>& words) {
  Choice choice;
  choice.name = words[1];
  choice.base.n = static_cast<size_t>(
      reader.integer(words[5], "n", 2, static_cast<int64_t>(rlwe::kMaxRingDegree)));
  choice.base.sigma = reader.real(words[7], "sigma");
  choice.base.decomposition_bits =
      static_cast<int>(reader.integer(words[9], "decomposition", 0, 62));
  size_t i = 11;
  for (; i < words.size() && words[i] != "t"; ++i)
    choice.base.q_primes.push_back(reader.word(words[i], "a prime of q"));
  if (i == words.size()) reader.fail("preset " + shown_word(choice.name) + ": no 't' field");
  for (++i; i < words.size(); ++i)
    choice.plaintext_moduli.push_back(reader.word(words[i], "a plaintext modulus"));
  if (choice.base.q_primes.empty() || choice.plaintext_moduli.empty()) {
    reader.fail("preset " + shown_word(choice.name) + ": needs at least one prime of q and one t");
  }
  // Before any check per modulus: each is a context (its tables) at keygen (rlwe/parameters.hpp).
  if (choice.base.q_primes.size() > rlwe::kMaxQPrimes) {
    reader.fail("preset " + shown_word(choice.name) + ": q has " +
                std::to_string(choice.base.q_primes.size()) + " primes, more than the " +
                std::to_string(rlwe::kMaxQPrimes) + " this build supports");
  }
  if (choice.plaintext_moduli.size() > rlwe::kMaxPlaintextModuli) {
    reader.fail("preset " + shown_word(choice.name) + ": " +
                std::to_string(choice.plaintext_moduli.size()) +
                " plaintext moduli, more than the " + std::to_string(rlwe::kMaxPlaintextModuli) +
                " this build supports");
  }
  choice.base.t = choice.plaintext_moduli.front();
  try {
    for (uint64_t t : choice.plaintext_moduli) {
      auto params = choice.base;
      params.t = t;
      params.validate();
    }
  } catch (const std::invalid_argument& error) {
    reader.fail("preset " + shown_word(choice.name) + ": invalid parameters: " + error.what());
  }
  return choice;
}

// The fingerprint's encoding (model_profile.hpp, FORMATS.md §3.5).
uint64_t fingerprint_of(const model::Shape& input_shape, double input_scale, size_t outputs,
                        const mpz_class& output_bound) {
  static constexpr char kTag[] = "cryptonets model profile 1";
  Sha256 hash;
  hash.update({reinterpret_cast<const uint8_t*>(kTag), sizeof kTag});  // with its 0 byte
  const std::string bound = output_bound.get_str();
  const uint64_t words[] = {static_cast<uint64_t>(input_shape.channels),
                            static_cast<uint64_t>(input_shape.height),
                            static_cast<uint64_t>(input_shape.width),
                            std::bit_cast<uint64_t>(input_scale),
                            static_cast<uint64_t>(outputs),
                            static_cast<uint64_t>(bound.size())};
  for (uint64_t word : words) {
    uint8_t bytes[8];
    store_le(bytes, word, 8);
    hash.update(bytes);
  }
  hash.update({reinterpret_cast<const uint8_t*>(bound.data()), bound.size()});
  const Sha256::Digest digest = hash.digest();
  return load_le(digest.data(), 8);
}

}  // namespace

uint64_t ModelProfile::fingerprint() const {
  return fingerprint_of(input_shape, input_scale, outputs, output_bound);
}

uint64_t profile_fingerprint(const Model& model) {
  return fingerprint_of(model.input_shape, model.input_scale, compile_model(model).output_size,
                        track_ranges(model).output().bound);
}

Model ModelProfile::input_model() const {
  Model model;
  model.input_shape = input_shape;
  model.input_scale = input_scale;
  return model;
}

RangeReport ModelProfile::output_range() const {
  RangeReport report;
  report.max_input = max_input_value(input_model());
  LayerRange output;
  output.layer_name = "output";
  output.bound = output_bound;
  output.bits = centred_bits(output_bound);
  report.layers.push_back(std::move(output));
  return report;
}

const ParameterChoice& ModelProfile::preset(const std::string& name) const {
  std::string names;
  for (const ParameterChoice& choice : presets) {
    if (choice.name == name) return choice;
    names += (names.empty() ? "" : ", ") + choice.name;
  }
  for (const BfvParameterChoice& choice : bfv_presets) {
    if (choice.name == name) {
      throw std::invalid_argument("the model profile's preset '" + name +
                                  "' is a BFV one, not YASHE' (use --scheme bfv)");
    }
  }
  throw std::invalid_argument("the model profile has no YASHE' preset '" + name +
                              "' (it has: " + names + ")");
}

const BfvParameterChoice& ModelProfile::bfv_preset(const std::string& name) const {
  std::string names;
  for (const BfvParameterChoice& choice : bfv_presets) {
    if (choice.name == name) return choice;
    names += (names.empty() ? "" : ", ") + choice.name;
  }
  throw std::invalid_argument(
      "the model profile has no BFV preset '" + name + "' (it has: " +
      (names.empty() ? std::string("none; a profile made with --circuit-privacy has no BFV "
                                   "preset, BFV has no noise flooding")
                     : names) +
      ")");
}

ModelProfile make_profile(const Model& model, int circuit_privacy_bits) {
  const RangeReport ranges = track_ranges(model);
  ModelProfile profile;
  profile.input_shape = model.input_shape;
  profile.input_scale = model.input_scale;
  profile.outputs = compile_model(model).output_size;
  profile.output_bound = ranges.output().bound;
  profile.circuit_privacy_bits = circuit_privacy_bits;
  for (const std::string& name : preset_names()) {
    ParameterChoice full;
    try {
      full = preset(name, model, circuit_privacy_bits);
    } catch (const std::runtime_error&) {
      // The paper's parameters are fixed: a model (or circuit privacy) they cannot carry gets a
      // profile without them, and keygen --preset paper then says the profile has no such preset.
      if (name == "paper") continue;
      throw;
    }
    ParameterChoice kept;
    kept.name = full.name;
    kept.base = full.base;
    kept.plaintext_moduli = full.plaintext_moduli;
    profile.presets.push_back(std::move(kept));
  }
  if (circuit_privacy_bits == 0) {  // BFV has no noise flooding (private_inference.hpp)
    const BfvParameterChoice full = inference::select_bfv_parameters(model);
    BfvParameterChoice kept;
    kept.name = full.name;
    kept.base = full.base;
    kept.plaintext_moduli = full.plaintext_moduli;
    profile.bfv_presets.push_back(std::move(kept));
  }
  return profile;
}

void write_profile(const ModelProfile& profile, std::ostream& out) {
  out << "cryptonets-profile " << kModelProfileVersion << "\n";
  out << "# what a client needs of the model, without its weights (cryptonets profile)\n";
  out << "input channels " << profile.input_shape.channels << " height "
      << profile.input_shape.height << " width " << profile.input_shape.width << " scale "
      << shortest(profile.input_scale) << "\n";
  out << "outputs " << profile.outputs << "\n";
  out << "# " << centred_bits(profile.output_bound) << " plaintext bits\n";
  out << "output-bound " << profile.output_bound.get_str() << "\n";
  out << "circuit-privacy " << profile.circuit_privacy_bits << "\n";
  const auto write_preset = [&out](const auto& choice, const char* scheme) {
    out << "preset " << choice.name << " scheme " << scheme << " n " << choice.base.n << " sigma "
        << shortest(choice.base.sigma) << " decomposition " << choice.base.decomposition_bits
        << " q";
    for (uint64_t q : choice.base.q_primes)
      out << " " << q;
    out << " t";
    for (uint64_t t : choice.plaintext_moduli)
      out << " " << t;
    out << "\n";
  };
  for (const ParameterChoice& choice : profile.presets)
    write_preset(choice, "yashe");
  for (const BfvParameterChoice& choice : profile.bfv_presets)
    write_preset(choice, "bfv");
  out << "end\n";
}

void save_profile(const ModelProfile& profile, const std::string& path) {
  // A profile may replace a profile (the server's refreshed one); never a key file.
  AtomicFileWriter file(path, false, /*may_replace_keys=*/false, /*may_replace_profile=*/true);
  write_profile(profile, file.stream());
  if (!file.stream()) {
    throw std::runtime_error("cannot write profile '" + path + "': " + file.failure());
  }
  file.commit();
}

ModelProfile read_profile(std::istream& in, const std::string& source_name) {
  ProfileReader reader(in, source_name);
  const std::string header = "cryptonets-profile " + std::to_string(kModelProfileVersion);
  std::vector<std::string> words = reader.next("'" + header + "'");
  if (words.size() != 2 || words[0] != "cryptonets-profile") {
    reader.fail(words[0] == "cryptonets-model"
                    ? "a model file, not a profile (make one with cryptonets profile --model FILE)"
                    : "expected '" + header + "'");
  }
  if (words[1] != std::to_string(kModelProfileVersion)) {
    const bool older = words[1] == "1";  // version 1: preset lines without a scheme (YASHE')
    reader.fail("profile format version " + shown_word(words[1]) +
                (older ? " is no longer supported; this build reads " : ", this build reads ") +
                std::to_string(kModelProfileVersion) +
                (older ? " (make it again: cryptonets profile --model FILE --out FILE)" : ""));
  }
  ModelProfile profile;
  words = reader.next("'input channels C height H width W scale S'");
  reader.expect_words(words, {"input", "channels", "height", "width", "scale"});
  profile.input_shape.channels = reader.integer(words[2], "channels", 1, 1 << 20);
  profile.input_shape.height = reader.integer(words[4], "height", 1, 1 << 20);
  profile.input_shape.width = reader.integer(words[6], "width", 1, 1 << 20);
  profile.input_scale = reader.real(words[8], "scale");
  // As a model file's input line (model::kInputScaleLimit): round(scale) is the largest input.
  if (!(profile.input_scale < model::kInputScaleLimit)) {
    reader.fail("scale must be below 2^63 (9.2e18), got " + quoted_word(words[8]));
  }
  words = reader.next("'outputs K'");
  reader.expect_value(words, "outputs");
  profile.outputs = static_cast<size_t>(reader.integer(words[1], "outputs", 1, 1 << 24));
  words = reader.next("'output-bound B'");
  reader.expect_value(words, "output-bound");
  if (profile.output_bound.set_str(words[1], 10) != 0 || profile.output_bound < 0) {
    reader.fail("output-bound must be a non-negative decimal integer, got " +
                quoted_word(words[1]));
  }
  words = reader.next("'circuit-privacy L'");
  reader.expect_value(words, "circuit-privacy");
  profile.circuit_privacy_bits =
      static_cast<int>(reader.integer(words[1], "circuit-privacy", 0, 128));
  for (words = reader.next("'preset ...' or 'end'"); words[0] == "preset";
       words = reader.next("'preset ...' or 'end'")) {
    if (words.size() < 14 || words[2] != "scheme" || words[4] != "n" || words[6] != "sigma" ||
        words[8] != "decomposition" || words[10] != "q") {
      reader.fail(
          "expected 'preset NAME scheme S n N sigma S decomposition D q Q1 .. Qk t T1 .. Tm'");
    }
    if (words[3] == "yashe") {
      profile.presets.push_back(read_preset<ParameterChoice>(reader, words));
    } else if (words[3] == "bfv") {
      profile.bfv_presets.push_back(read_preset<BfvParameterChoice>(reader, words));
    } else {
      reader.fail("preset " + shown_word(words[1]) + ": scheme must be yashe or bfv, got " +
                  quoted_word(words[3]));
    }
  }
  if (words.size() != 1 || words[0] != "end") reader.fail("expected 'preset ...' or 'end'");
  if (profile.presets.empty() && profile.bfv_presets.empty()) reader.fail("no preset");
  // Nothing may follow 'end' but white space: a trial's profile with secret.key appended was
  // read (and inspect called it intact) because the rest was ignored.
  // Scanned in constant memory (arith/format.hpp): the rest was read whole, 512 MiB of zero bytes
  // padding a profile too.
  if (const size_t line = first_content_line(in, false); line != 0) {
    reader.fail("unexpected content after 'end', " + std::to_string(line) +
                (line == 1 ? " line" : " lines") +
                " below it (cryptonets inspect says what it is)");
  }
  return profile;
}

ModelProfile load_profile(const std::string& path) {
  // A directory opens as a stream that reads nothing ("unexpected end of file" at line 1).
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    throw std::runtime_error("cannot open profile '" + path + "': it is a directory");
  }
  require_regular_input(path);
  std::ifstream in(path);
  if (!in) {
    throw std::runtime_error("cannot open profile '" + path + "': " + std::strerror(errno));
  }
  // A file of this project's own given in its place (keygen --profile keys/secret.key): named by
  // its kind, which says more than "binary data" at line 1.
  std::optional<ProtocolFileKind> kind;
  try {
    kind = read_protocol_header(path).kind;
  } catch (const std::exception&) {
  }
  if (kind) {
    throw std::runtime_error(
        "profile '" + path + "' holds " + protocol_kind_name(*kind) +
        " (a binary file of cryptonets), not a model profile (keygen writes one as "
        "model.profile in its key directory; cryptonets profile makes one)");
  }
  return read_profile(in, path);
}

}  // namespace cryptonets
