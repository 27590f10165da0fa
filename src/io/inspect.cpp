// `cryptonets inspect`: an independent, keyless reader of every file format (io/FORMATS.md).
#include "cryptonets/io/inspect.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <variant>

#include "cryptonets/arith/format.hpp"
#include "cryptonets/bfv/context.hpp"
#include "cryptonets/bfv/parameters.hpp"
#include "cryptonets/bfv/security.hpp"
#include "cryptonets/inference/parameter_selection.hpp"
#include "cryptonets/io/input_file.hpp"
#include "cryptonets/io/little_endian.hpp"
#include "cryptonets/io/model_file.hpp"
#include "cryptonets/io/model_profile.hpp"
#include "cryptonets/io/protocol_files.hpp"
#include "cryptonets/io/scheme_id.hpp"
#include "cryptonets/io/serialize.hpp"
#include "cryptonets/io/sha256.hpp"
#include "cryptonets/model/layers.hpp"
#include "cryptonets/model/range.hpp"
#include "cryptonets/rlwe/parameters.hpp"
#include "cryptonets/training/float_network.hpp"
#include "cryptonets/training/sequential_network.hpp"
#include "cryptonets/yashe/context.hpp"
#include "cryptonets/yashe/parameters.hpp"
#include "cryptonets/yashe/security.hpp"

using cryptonets::inference::ParameterChoice;
using cryptonets::model::compile_model;
using cryptonets::model::CompiledModel;
using cryptonets::model::CompiledStep;
using cryptonets::model::layer_name;
using cryptonets::model::Model;

namespace cryptonets {

namespace {

std::string hex64(uint64_t value) {
  char text[24];
  std::snprintf(text, sizeof text, "0x%016llx", static_cast<unsigned long long>(value));
  return text;
}

std::string number(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

// `text` with each run of more than 24 digits (a double written by std::to_string, as a
// validation message of a corrupt sigma does: 1e300 in 301 digits) written as %g.
std::string readable_numbers(const std::string& text) {
  constexpr const char* kDigits = "0123456789";
  std::string out;
  for (size_t i = 0; i < text.size();) {
    const size_t end = std::min(text.find_first_not_of(kDigits, i), text.size());
    if (end == i) {
      out += text[i++];
    } else if (end - i <= 24) {
      out.append(text, i, end - i);
      i = end;
    } else {
      const size_t stop = end < text.size() && text[end] == '.'
                              ? std::min(text.find_first_not_of(kDigits, end + 1), text.size())
                              : end;
      out += number(std::strtod(text.substr(i, stop - i).c_str(), nullptr));
      i = stop;
    }
  }
  return out;
}

std::string with_bytes(uint64_t bytes) {
  return std::to_string(bytes) + " bytes";
}

// Each record kind's name ("public key") and what a file of that kind holds ("public keys").
struct RecordKind {
  char tag;
  const char* name;
  const char* contents;
};
constexpr RecordKind kRecordKinds[] = {{'P', "parameters", "a parameter set"},
                                       {'K', "public key", "public keys"},
                                       {'E', "evaluation key", "evaluation keys"},
                                       {'S', "secret key", "secret keys"},
                                       {'C', "ciphertext batch", "ciphertexts"}};

const RecordKind* find_record_kind(char tag) {
  for (const RecordKind& kind : kRecordKinds) {
    if (kind.tag == tag) return &kind;
  }
  return nullptr;
}

std::string record_kind_name(char tag) {
  const RecordKind* kind = find_record_kind(tag);
  return kind != nullptr ? kind->name : "unknown";
}

// What a protocol file of kind `tag` holds (its header's kind byte).
std::string kind_description(char tag) {
  const RecordKind* kind = find_record_kind(tag);
  return kind != nullptr
             ? kind->contents
             : "an unknown kind (tag " + std::to_string(static_cast<uint8_t>(tag)) + ")";
}

std::string scheme_text(uint8_t scheme) {
  return known_scheme(scheme) ? scheme_name(static_cast<SchemeId>(scheme))
                              : "of an unknown scheme (byte " + std::to_string(scheme) + ")";
}

// The first fields of a protocol file's header (FORMATS.md §4.1), read without verifying
// anything: each file's own inspection checks its checksums.
struct HeaderFields {
  char kind = 0;
  uint8_t scheme = 0;
  uint64_t fingerprint = 0;  // of the parameter set
  uint64_t key_set = 0;
};

// None for a file that cannot be opened, is shorter than these fields or is not "CNPF".
std::optional<HeaderFields> peek_header(const std::string& path) {
  if (!special_file_kind(path).empty()) return std::nullopt;  // opening a FIFO would wait
  std::ifstream in(path, std::ios::binary);
  std::array<uint8_t, 24> bytes{};
  in.read(reinterpret_cast<char*>(bytes.data()), bytes.size());
  if (in.gcount() != static_cast<std::streamsize>(bytes.size()) ||
      std::memcmp(bytes.data(), "CNPF", 4) != 0) {
    return std::nullopt;
  }
  return HeaderFields{static_cast<char>(bytes[4]), bytes[5], load_le(&bytes[8], 8),
                      load_le(&bytes[16], 8)};
}

// The kind a file must hold under its name in a key directory (KeyDirectory: params,
// public.key, evaluation.key, secret.key); 0 for any other name.
char role_of(const std::string& path) {
  namespace fs = std::filesystem;
  const std::string name = fs::path(path).filename().string();
  const KeyDirectory names("");
  for (const auto& [file, kind] :
       {std::pair{names.parameters, 'P'}, std::pair{names.public_keys, 'K'},
        std::pair{names.evaluation_keys, 'E'}, std::pair{names.secret_keys, 'S'}}) {
    if (fs::path(file).filename() == name) return kind;
  }
  return 0;
}

// The names of a key directory's files that are given away: params, public.key and
// evaluation.key go to the server, and the profile (`profile_name`) is the server's to publish.
// A file of secret keys under one of them is EXPOSED (found by trials: secret keys copied as
// evaluation.key, then as model.profile, were only "MISMATCHED").
bool shared_name(const std::string& path, const std::string& profile_name) {
  const char role = role_of(path);
  return (role != 0 && role != 'S') || std::filesystem::path(path).filename() == profile_name;
}

// A file under a key directory's name must hold what the name says: the commands load each role
// from its name, and a valid file of another role under it (public.key and evaluation.key
// swapped) is intact on its own.
void check_role(const std::string& path, char kind, FileInspection& report) {
  const char role = role_of(path);
  if (role == 0 || role == kind) return;
  report.problems.push_back("role: '" + path + "' holds " + kind_description(kind) + ", but the " +
                            std::filesystem::path(path).filename().string() +
                            " of a key set holds " + kind_description(role));
}

// What a file's mode lets its group and others do with it ("its group may read it; others may
// read and write it"); empty when the mode gives them nothing.
std::string access_of_others(unsigned bits) {
  auto verbs = [](unsigned rwx) {
    std::vector<std::string> allowed;
    for (const auto& [bit, verb] :
         {std::pair{4u, "read"}, std::pair{2u, "write"}, std::pair{1u, "execute"}})
      if ((rwx & bit) != 0) allowed.emplace_back(verb);
    std::string text;
    for (size_t i = 0; i < allowed.size(); ++i)
      text += (i == 0 ? "" : i + 1 == allowed.size() ? " and " : ", ") + allowed[i];
    return text + " it";
  };
  const unsigned group = (bits >> 3) & 7, others = bits & 7;
  if (group == others) return group == 0 ? "" : "its group and others may " + verbs(group);
  std::string text;
  if (group != 0) text = "its group may " + verbs(group);
  if (others != 0) text += (text.empty() ? "" : "; ") + std::string("others may ") + verbs(others);
  return text;
}

// Why a secret key file's mode lets others than its owner at it (read or write it: execute
// alone gives nothing away); empty when it does not (or cannot be read: `mode` is then empty
// too). `access`: what its group and others may do, empty when nothing.
std::string secret_mode_problem(const std::string& path, std::string* mode = nullptr,
                                std::string* access = nullptr) {
  struct stat status {};
  if (::stat(path.c_str(), &status) != 0) return "";
  const unsigned bits = status.st_mode & 07777;
  char text[8];
  std::snprintf(text, sizeof text, "%04o", bits);
  if (mode != nullptr) *mode = text;
  if (access != nullptr) *access = access_of_others(bits);
  if ((bits & 066) == 0) return "";
  return std::string("mode ") + text + " lets others than its owner at the secret key (" +
         access_of_others(bits) +
         "; keygen writes it with mode 0600: chmod 600 it, and make new keys if others may have "
         "read it)";
}

// A secret key file, however it is named or reached (inspect FILE as well as inspect DIR).
void check_secret_mode(const std::string& path, FileInspection& report) {
  const std::string problem = secret_mode_problem(path);
  if (!problem.empty()) report.problems.push_back(problem);
}

// A key file against the parameter set of its key set: one scheme and one parameter-set
// fingerprint, as the loaders require. The same text whichever of the two is inspected.
void check_against_parameters(const std::string& key_path, const HeaderFields& key,
                              const std::string& params_path, const HeaderFields& params,
                              FileInspection& report) {
  if (params.kind != 'P') {
    report.problems.push_back("parameters: '" + params_path + "' holds " +
                              kind_description(params.kind) + ", not the parameter set of '" +
                              key_path + "'");
  } else if (key.scheme != params.scheme) {
    report.problems.push_back("scheme: '" + key_path + "' is " + scheme_text(key.scheme) +
                              ", but its parameter set '" + params_path + "' is " +
                              scheme_text(params.scheme));
  } else if (key.fingerprint != params.fingerprint) {
    report.problems.push_back("parameter set: '" + key_path + "' was made for the parameter set " +
                              hex64(key.fingerprint) + ", but '" + params_path + "' is " +
                              hex64(params.fingerprint));
  }
}

// A file that holds secret keys by design: a protocol file of secret keys or a secret key record
// (its magic and kind byte 'S'), as inspect_file tells them.
bool holds_secret_keys_by_design(const std::string& path) {
  return starts_as_secret_keys(path);  // the check infer makes of a server's key directory
}

// The identity recipe of FORMATS.md §3.3: the first 8 bytes, little-endian, of
// SHA-256(domain tag ‖ 0x00 ‖ count ‖ words), integers as 8 little-endian bytes. Written again
// from the specification on purpose (protocol_files.cpp has the writer's copy): cli_inspect checks
// that the two agree on every file kind.
uint64_t identity_of(const char* domain_tag, const std::vector<uint64_t>& words) {
  Sha256 hash;
  hash.update({reinterpret_cast<const uint8_t*>(domain_tag), std::strlen(domain_tag) + 1});
  uint8_t bytes[8];
  store_le(bytes, words.size(), 8);
  hash.update(bytes);
  for (uint64_t word : words) {
    store_le(bytes, word, 8);
    hash.update(bytes);
  }
  const Sha256::Digest digest = hash.digest();
  return load_le(digest.data(), 8);
}

// Reads a file front to back, hashing what the current record covers.
class Reader {
 public:
  explicit Reader(const std::string& path) : path_(path), in_(path, std::ios::binary) {
    if (!in_) {
      throw std::runtime_error("cannot open file '" + path +
                               "' for reading: " + std::strerror(errno));
    }
    std::error_code error;
    size_ = std::filesystem::file_size(path, error);
    if (error) throw std::runtime_error("cannot read the size of file '" + path + "'");
  }

  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }
  uint64_t position() const { return position_; }
  uint64_t left() const { return size_ - position_; }

  void start_hash() { hash_ = Sha256(); }
  Sha256::Digest digest() { return hash_.digest(); }

  // Exactly `count` bytes (the caller checked left()); hashed when `hashed`.
  void read(uint8_t* destination, size_t count, bool hashed = true) {
    in_.read(reinterpret_cast<char*>(destination), static_cast<std::streamsize>(count));
    if (static_cast<size_t>(in_.gcount()) != count) throw std::runtime_error("read failed");
    if (hashed) hash_.update({destination, count});
    position_ += count;
  }
  uint64_t read_word() {
    uint8_t bytes[8];
    read(bytes, 8);
    return load_le(bytes, 8);
  }
  // Moves `count` bytes on (the caller checked left()), reading and hashing nothing.
  void seek_forward(uint64_t count) {
    in_.seekg(static_cast<std::streamoff>(count), std::ios::cur);
    if (!in_) throw std::runtime_error("seek failed");
    position_ += count;
  }
  void skip_hashed(uint64_t count) {
    std::vector<uint8_t> chunk(static_cast<size_t>(std::min<uint64_t>(count, 1 << 20)));
    while (count > 0) {
      const size_t step = static_cast<size_t>(std::min<uint64_t>(count, chunk.size()));
      read(chunk.data(), step);
      count -= step;
    }
  }

 private:
  std::string path_;
  std::ifstream in_;
  uint64_t size_ = 0;
  uint64_t position_ = 0;
  Sha256 hash_;
};

// The longest run of zero bytes a record of the project holds: a zero ciphertext (an exact zero
// output) has its form word and up to three zero polynomials (BFV, degree 2) after its nonzero
// degree word, each at most n coefficients of k primes packed in 64 bits (8 bytes each), n and k
// at the limits of a parameter set (rlwe/parameters.hpp, FORMATS.md §2 Limits: 2^15 and 40):
// 30 MiB; every other polynomial written (keys, ciphertexts) is random residues.
constexpr uint64_t kLongestZeroRun =
    8 + 3 * uint64_t{rlwe::kMaxRingDegree} * uint64_t{rlwe::kMaxQPrimes} * 8;

// A hole of a sparse file: it reads as zeros, which the hash of a record would have to take in at
// memory speed, one of 1 TiB for many minutes.
struct Hole {
  uint64_t offset = 0;
  uint64_t length = 0;
};

// The holes of the file `path` within [from, to) (SEEK_HOLE, SEEK_DATA, as find_secret_key_in
// skips them): the first one longer than `longest` bytes, if any, and how many bytes they hold in
// all. The search stops at such a hole, or once the total passes `enough` bytes; a filesystem
// that reports no holes has none.
struct Holes {
  std::optional<Hole> too_long;
  uint64_t total = 0;
};
Holes holes_in(const std::string& path, uint64_t from, uint64_t to, uint64_t longest,
               uint64_t enough) {
  Holes holes;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return holes;
  for (uint64_t at = from; at < to && holes.total <= enough;) {
    const off_t hole = ::lseek(fd, static_cast<off_t>(at), SEEK_HOLE);
    if (hole < 0 || static_cast<uint64_t>(hole) >= to) break;
    const off_t data = ::lseek(fd, hole, SEEK_DATA);  // ENXIO: the hole runs to the end
    const uint64_t end = data < 0 ? to : std::min(to, static_cast<uint64_t>(data));
    const auto start = static_cast<uint64_t>(hole);
    if (end <= at) break;  // no progress (a file that changed meanwhile)
    holes.total += end - start;
    if (end - start > longest) {
      holes.too_long = Hole{start, end - start};
      break;
    }
    at = end;
  }
  ::close(fd);
  return holes;
}

struct Record {
  char kind = 0;
  uint8_t scheme = 0;  // SchemeId byte
  uint16_t version = 0;
  uint64_t fingerprint = 0;
  uint64_t key_id = 0;
  uint64_t payload = 0;
  bool complete = false;  // the whole record was present
  bool checksum_ok = false;
  Sha256::Digest checksum{};  // as stored
};

// One CNET record (FORMATS.md §2): header, payload (summarised, never decoded beyond the fields
// below), checksum. Appends a line to `lines`; problems name `where`.
Record read_record(Reader& reader, const std::string& where, FileInspection& report) {
  Record record;
  if (reader.left() < kSerializationHeaderBytes) {
    report.problems.push_back(where + ": truncated (" + with_bytes(reader.left()) +
                              " left, a record header needs 32)");
    return record;
  }
  reader.start_hash();
  std::array<uint8_t, kSerializationHeaderBytes> header{};
  reader.read(header.data(), header.size());
  if (std::memcmp(header.data(), "CNET", 4) != 0) {
    report.problems.push_back(where + ": does not start with \"CNET\"");
    return record;
  }
  record.kind = static_cast<char>(header[4]);
  record.scheme = header[5];
  record.version = static_cast<uint16_t>(load_le(&header[6], 2));
  record.fingerprint = load_le(&header[8], 8);
  record.key_id = load_le(&header[16], 8);
  record.payload = load_le(&header[24], 8);
  const bool scheme_known = known_scheme(record.scheme);
  const auto scheme = static_cast<SchemeId>(record.scheme);
  std::string line = where + ": " + record_kind_name(record.kind) + ", " +
                     (scheme_known ? scheme_name(scheme) : "unknown scheme") + ", record version " +
                     std::to_string(record.version) + ", fingerprint " + hex64(record.fingerprint);
  if (!scheme_known) {
    report.problems.push_back(where + ": scheme byte " + std::to_string(record.scheme) +
                              ", expected 'Y' (YASHE') or 'B' (BFV)");
  }
  if (record.kind != 'P') line += ", key id " + hex64(record.key_id);
  // In the loaders' words (a trial found inspect wording it otherwise than decrypt).
  if (record.version != kSerializationVersion)
    report.problems.push_back(where + ": " + record_version_refusal(record.version));
  if (record.payload > reader.left() ||
      reader.left() - record.payload < kSerializationChecksumBytes) {
    report.problems.push_back(where + ": truncated (declares a payload of " +
                              with_bytes(record.payload) + " and a 32-byte checksum, " +
                              with_bytes(reader.left()) + " left)");
    report.records.push_back(line);
    return record;
  }

  // Its checksum is not computed over a hole that no record holds (a sparse file whose record
  // declares a payload of 1 TiB was hashed, hole and all, for many minutes), nor over holes that
  // make most of it: many holes each shorter than that cost as much (found by a review). A record
  // holds more zeros than data only in its zero ciphertexts (form word, then up to three zero
  // polynomials), which the project's ciphertexts never are (each is a fresh encryption, or
  // re-randomised): beyond one longest run of zeros, the holes read may not outweigh the data.
  const uint64_t payload_start = reader.position();
  const uint64_t payload_end = payload_start + record.payload;
  const uint64_t most_holes = std::max(kLongestZeroRun, record.payload / 2);
  const Holes holes =
      holes_in(reader.path(), payload_start, payload_end, kLongestZeroRun, most_holes);
  if (holes.too_long) {
    report.problems.push_back(
        where + ": its payload of " + with_bytes(record.payload) +
        " holds a hole (a sparse file) of " + with_bytes(holes.too_long->length) + " from byte " +
        std::to_string(holes.too_long->offset) +
        ": more zero bytes in a row than any record holds (" +
        std::to_string(kLongestZeroRun >> 20) +
        " MiB: three zero polynomials of the largest parameter set); not read");
    report.records.push_back(line);
    return record;
  }
  if (holes.total > most_holes) {
    report.problems.push_back(
        where + ": its payload of " + with_bytes(record.payload) + " is mostly holes (a sparse " +
        "file): at least " + with_bytes(holes.total) + " of it, more than half and more than " +
        std::to_string(kLongestZeroRun >> 20) +
        " MiB, though each hole is shorter (no record of the project is mostly zeros); not read");
    report.records.push_back(line);
    return record;
  }

  uint64_t consumed = 0;
  std::string details;  // lines under the record's line
  // A parameters record of more primes than a parameter set may have (FORMATS.md §2 Limits) is not
  // read here: the loader refuses it by its length (check_with_loader reports that).
  if (record.kind == 'P' && record.payload % 8 == 0 && record.payload >= 48 &&
      record.payload <= 8 * (5 + rlwe::kMaxQPrimes)) {
    std::vector<uint64_t> words(record.payload / 8);
    for (uint64_t& word : words)
      word = reader.read_word();
    consumed = record.payload;
    // The two schemes' parameters have the same fields; their fingerprints differ by domain.
    yashe::Parameters params;
    params.n = static_cast<size_t>(words[0]);
    const uint64_t k = words[1];
    if (k + 5 == words.size()) {
      params.q_primes.assign(words.begin() + 2, words.begin() + 2 + static_cast<ptrdiff_t>(k));
      params.t = words[2 + k];
      params.sigma = std::bit_cast<double>(words[3 + k]);
      params.decomposition_bits = static_cast<int>(words[4 + k]);
      const bfv::Parameters bfv_params{params.n, params.q_primes, params.t, params.sigma,
                                       params.decomposition_bits};
      const bool bfv = scheme == SchemeId::kBfv;
      const uint64_t fingerprint = bfv ? bfv_params.fingerprint() : params.fingerprint();
      // Found by a trial: corrupt values read as real ones ("log2 q = 0" for a prime of 1, a
      // sigma of 1e+300 in 301 digits in the problem): parameters that fail validation are
      // shown as stored, marked INVALID, without what is derived from them (log2 q, security).
      std::string invalid;  // why they fail validation
      try {
        if (bfv)
          bfv_params.validate();
        else
          params.validate();
      } catch (const std::invalid_argument& error) {
        invalid = readable_numbers(error.what());
      }
      details +=
          "\n    n = " + std::to_string(params.n) + ", q = " + std::to_string(k) + " primes" +
          (invalid.empty() ? " (log2 q = " + std::to_string(std::lround(params.log2_q())) + ")"
                           : std::string()) +
          ", t = " + std::to_string(params.t) + ", sigma = " + number(params.sigma) +
          ", decomposition bits = " + std::to_string(params.decomposition_bits);
      std::string primes;
      for (uint64_t q : params.q_primes)
        primes += (primes.empty() ? "" : ", ") + std::to_string(q);
      details += "\n    q primes: " + primes;
      if (fingerprint != record.fingerprint) {
        report.problems.push_back(where + ": fingerprint " + hex64(record.fingerprint) +
                                  " is not that of its parameters (" + hex64(fingerprint) + ")");
      }
      if (invalid.empty()) {
        // What the key set protects, as keygen and mnist print it: a key set made with
        // --insecure-ring-degree must say so wherever it is looked at.
        details += "\n    " + (bfv ? bfv::assess_security(bfv_params).one_line()
                                   : yashe::assess_security(params).one_line());
      } else {
        report.problems.push_back(where + ": invalid parameters: " + invalid);
        details += "\n    (as stored: INVALID, see the problems)";
      }
    } else {
      report.problems.push_back(where + ": declares " + std::to_string(k) +
                                " primes, its payload holds " + std::to_string(words.size() - 5));
    }
  } else if (record.kind == 'E' && record.payload >= 16) {
    reader.read_word();  // form
    const uint64_t digits = reader.read_word();
    consumed = 16;
    line += ", " + std::to_string(digits) + " key-switching digits";
  } else if (record.kind == 'C' && record.payload >= 16) {
    const uint64_t count = reader.read_word();
    const uint64_t parts = reader.read_word();
    consumed = 16;
    line += ", " + std::to_string(count) + " ciphertexts of " + std::to_string(parts) + " part" +
            (parts == 1 ? "" : "s");
    if (count > 0 && (record.payload - 16) % count == 0 && (record.payload - 16) / count >= 16) {
      const uint64_t each = (record.payload - 16) / count;
      std::map<uint64_t, uint64_t> degrees;
      for (uint64_t i = 0; i < count; ++i) {
        ++degrees[reader.read_word()];
        reader.skip_hashed(each - 8);  // form, the packed polynomial
      }
      consumed += count * each;
      line += ", " + with_bytes(each) + " each (degree";
      for (const auto& [degree, how_many] : degrees)
        line += " " + std::to_string(degree) + ": " + std::to_string(how_many);
      line += ")";
    } else if (record.payload != 16 || count != 0) {
      report.problems.push_back(where + ": a payload of " + with_bytes(record.payload) +
                                " cannot hold " + std::to_string(count) + " ciphertexts");
    }
  }
  reader.skip_hashed(record.payload - consumed);
  line += ", payload " + with_bytes(record.payload);

  std::array<uint8_t, kSerializationChecksumBytes> stored{};
  reader.read(stored.data(), stored.size(), false);
  record.complete = true;
  record.checksum_ok = stored == reader.digest();
  record.checksum = stored;
  ++report.checksums_verified;
  line += record.checksum_ok ? ", checksum ok" : ", CHECKSUM MISMATCH";
  line += details;
  if (!record.checksum_ok) {
    report.problems.push_back(where + ": checksum mismatch (SHA-256 over its header and payload)");
  }
  report.records.push_back(line);
  return record;
}

// The 64-byte binding after each ciphertext record (FORMATS.md §5.4): "CNRB", 4 reserved bytes,
// file id, record index, record count, SHA-256 of those 32 bytes and the record's checksum.
void check_binding(Reader& reader, const std::string& where, const Record& record, uint64_t file_id,
                   uint64_t index, uint64_t count, FileInspection& report) {
  if (reader.left() < kProtocolBindingBytes) {
    report.problems.push_back(where + ": its binding is missing (" + with_bytes(reader.left()) +
                              " left, it needs " + std::to_string(kProtocolBindingBytes) + ")");
    return;
  }
  std::array<uint8_t, kProtocolBindingBytes> binding{};
  reader.read(binding.data(), binding.size(), false);
  ++report.checksums_verified;
  Sha256 hash;
  hash.update({binding.data(), 32});
  hash.update(record.checksum);
  const Sha256::Digest digest = hash.digest();
  if (std::memcmp(binding.data(), "CNRB", 4) != 0 || load_le(&binding[4], 4) != 0) {
    report.problems.push_back(where +
                              ": its binding does not start with \"CNRB\" and 4 zero bytes");
  } else if (!std::equal(digest.begin(), digest.end(), binding.begin() + 32)) {
    report.problems.push_back(where +
                              ": binding checksum mismatch (SHA-256 of its first 32 bytes "
                              "and the record's checksum)");
  } else if (load_le(&binding[8], 8) != file_id) {
    report.problems.push_back(where + ": bound to another file (file id " +
                              hex64(load_le(&binding[8], 8)) + ")");
  } else if (load_le(&binding[16], 8) != index || load_le(&binding[24], 8) != count) {
    report.problems.push_back(where + ": bound to position " +
                              std::to_string(load_le(&binding[16], 8) + 1) + " of " +
                              std::to_string(load_le(&binding[24], 8)) + ", it stands at " +
                              std::to_string(index + 1) + " of " + std::to_string(count));
  } else {
    report.records.back() += "; bound to this file at position " + std::to_string(index + 1) +
                             " of " + std::to_string(count) + ", binding ok";
    return;
  }
  report.records.back() += "; BINDING FAILS";
}

// The problem that names secret keys appended to a file (member_state marks the file EXPOSED).
constexpr const char* kAppendedSecretKeys = "secret keys appended: ";
// The problem that names secret keys found elsewhere in a file (inside a truncated or spliced
// one): member_state marks the file EXPOSED too.
constexpr const char* kSecretKeysInside = "secret keys inside: ";

// The problem that names secret keys under a name the README has users copy to the server
// (params, public.key, evaluation.key): member_state marks the file EXPOSED.
constexpr const char* kSecretKeysShared = "secret keys under a shared name: ";

std::string shared_name_problem(const std::string& path) {
  return kSecretKeysShared + std::string("EXPOSED: '") + path +
         "' holds secret keys, under a name whose file is shared (params, public.key and "
         "evaluation.key are given to the server, the model profile is published): whoever is "
         "given it is given the secret key (move it to secret.key, mode 0600, and make new keys "
         "if it has left your hands)";
}

// Where a secret key lies in a file: a protocol file of secret keys ("CNPF") or a single
// secret-key record ("CNET"), recognised by the magic, the kind byte 'S' and a known scheme byte
// (FORMATS.md §4.1, §5.1), or, in the older layouts (protocol files before version 4, records
// before version 3, YASHE' only), a zero byte there and an older version after it.
struct SecretKeyMark {
  uint64_t offset = 0;  // of the magic
  bool file = false;    // "CNPF" (else a "CNET" record)
  uint8_t scheme = 0;   // 0: an older layout
  uint16_t version = 0;

  std::string what() const {
    return std::string(file ? "a protocol file of secret keys (\"CNPF\", kind 'S')"
                            : "a secret key record (\"CNET\", kind 'S')") +
           (scheme == 0 ? " of an older format (" + std::string(file ? "protocol" : "record") +
                              " version " + std::to_string(version) + ", YASHE')"
                        : " of " + scheme_name(static_cast<SchemeId>(scheme)));
  }
};

// The secret-key signature at `bytes` (8 bytes: magic, kind, scheme, version), if it is one.
std::optional<SecretKeyMark> secret_key_at(const uint8_t* bytes, uint64_t offset) {
  if (bytes[4] != 'S') return std::nullopt;
  const bool file = std::memcmp(bytes, "CNPF", 4) == 0;
  if (!file && std::memcmp(bytes, "CNET", 4) != 0) return std::nullopt;
  const auto version = static_cast<uint16_t>(load_le(bytes + 6, 2));
  // Found by a trial: a secret key of protocol version 3 (scheme byte 0, reserved then) appended
  // to a public key was not flagged.
  const uint16_t current = file ? kProtocolFileVersion : kSerializationVersion;
  if (!known_scheme(bytes[5]) && !(bytes[5] == 0 && version >= 1 && version < current))
    return std::nullopt;
  return SecretKeyMark{offset, file, bytes[5], version};
}

// The first secret-key signature (SecretKeyMark) in the bytes that `read(destination, most)`
// hands out, from offset `start` on, in chunks (it returns how many bytes it wrote: 0 at the
// end). A signature across two chunks is found too.
template <class Read>
std::optional<SecretKeyMark> find_secret_key(uint64_t start, Read read) {
  constexpr size_t kChunkBytes = size_t{1} << 20;
  constexpr size_t kMatchBytes = 8;  // magic, kind, scheme, version
  std::vector<uint8_t> window;       // the chunk, after the last bytes of the one before
  uint64_t window_start = start;
  for (;;) {
    const size_t kept = window.size();
    window.resize(kept + kChunkBytes);
    const size_t got = read(window.data() + kept, kChunkBytes);
    window.resize(kept + got);
    if (got == 0) return std::nullopt;
    // The kind byte 'S' found by memchr first: a 512 MiB file of zeros is searched at memory
    // speed, not byte by byte.
    for (size_t i = 0; i + kMatchBytes <= window.size();) {
      const auto* kind = static_cast<const uint8_t*>(
          std::memchr(&window[i + 4], 'S', window.size() - kMatchBytes + 1 - i));
      if (kind == nullptr) break;
      i = static_cast<size_t>(kind - window.data()) - 4;
      if (std::optional<SecretKeyMark> mark = secret_key_at(&window[i], window_start + i))
        return mark;
      ++i;
    }
    const size_t carry = std::min(window.size(), kMatchBytes - 1);
    window_start += window.size() - carry;
    window.erase(window.begin(), window.end() - static_cast<ptrdiff_t>(carry));
  }
}

// The first secret-key signature in the file `path` from byte `start` on (none when it cannot be
// opened). Holes of a sparse file are skipped (SEEK_DATA, SEEK_HOLE): they read as zeros, which
// hold no signature (found by a trial: a 1 TiB sparse file beside the keys took minutes, 2 GiB
// 13.7 s). Each run of data is searched with the 7 bytes after it, so that a signature whose last
// bytes are zeros of the hole after it is found too. A filesystem without SEEK_DATA has no holes
// to skip: the file is read whole.
std::optional<SecretKeyMark> find_secret_key_in(const std::string& path, uint64_t start = 0) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  struct stat status {};
  std::optional<SecretKeyMark> mark;
  if (::fstat(fd, &status) == 0) {
    const auto size = static_cast<uint64_t>(status.st_size);
    uint64_t data = start;
    while (!mark && data < size) {
      const off_t found = ::lseek(fd, static_cast<off_t>(data), SEEK_DATA);
      if (found < 0 && errno == ENXIO) break;  // only a hole from `data` on
      if (found >= 0) data = static_cast<uint64_t>(found);
      const off_t hole = found < 0 ? -1 : ::lseek(fd, found, SEEK_HOLE);
      const uint64_t data_end = hole < 0 ? size : static_cast<uint64_t>(hole);
      const uint64_t end = std::min(size, data_end + 7);  // the signature's bytes after 'S'
      uint64_t at = data;
      mark = find_secret_key(data, [&](uint8_t* destination, size_t most) -> size_t {
        const size_t step = static_cast<size_t>(std::min<uint64_t>(end - at, most));
        if (step == 0) return 0;
        const ssize_t got = ::pread(fd, destination, step, static_cast<off_t>(at));
        if (got <= 0) return 0;
        at += static_cast<uint64_t>(got);
        return static_cast<size_t>(got);
      });
      if (data_end <= data) break;  // no progress (a file that shrank meanwhile)
      data = data_end;
    }
  }
  ::close(fd);
  return mark;
}

// Bytes after the end of a file that is not itself secret keys (found by a trial: secret.key
// appended to public.key was reported as "trailing bytes" only): a problem of their own when
// they hold a secret key at any offset (find_secret_key_in). Reads the rest of the file (not
// hashed; its holes not at all).
void check_trailing_bytes(Reader& reader, const std::string& after, bool secret_file,
                          FileInspection& report) {
  const uint64_t trailing = reader.left();
  if (trailing == 0) return;
  report.problems.push_back("trailing bytes: " + with_bytes(trailing) + " after " + after);
  if (secret_file) return;
  // Searched by path from here on (holes skipped), then passed over.
  const std::optional<SecretKeyMark> mark = find_secret_key_in(reader.path(), reader.position());
  reader.seek_forward(trailing);
  if (!mark) return;
  report.problems.push_back(
      kAppendedSecretKeys + std::string("EXPOSED: the ") + with_bytes(trailing) + " after " +
      after + " hold " + mark->what() + " from byte " + std::to_string(mark->offset) +
      ": whoever is given this file is given the secret key (cut the file at byte " +
      std::to_string(reader.size() - trailing) + ", and make new keys if it has left your hands)");
}

// A secret key anywhere in a file that is not itself secret keys, and that check_trailing_bytes
// did not name (found by a trial: a secret key inside a truncated or spliced public key file was
// not flagged, as only the bytes after the last complete record were searched). Adds the problem;
// true when the file holds a secret key (named here or there). Reads the whole file again.
bool check_secret_keys_inside(const std::string& path, FileInspection& report) {
  for (const std::string& problem : report.problems)
    if (problem.starts_with(kAppendedSecretKeys)) return true;
  const std::optional<SecretKeyMark> mark = find_secret_key_in(path);
  if (!mark) return false;
  report.problems.push_back(kSecretKeysInside + std::string("EXPOSED: ") + mark->what() +
                            " lies at byte " + std::to_string(mark->offset) +
                            " of this file, which is not itself secret keys: whoever is given "
                            "this file is given the secret key (delete it, and make new keys if "
                            "it has left your hands)");
  return true;
}

// Key and ciphertext files hold only the parameter-set fingerprint, not n or q (FORMATS.md §4.2):
// n and the security line come from the parameter set `params_path`, shown only when its
// fingerprint is the file's. False when the parameter set cannot be read.
template <class Scheme>
bool add_parameters_from(const std::string& params_path, uint64_t fingerprint,
                         FileInspection& report) {
  BasicContextSet<Scheme> contexts;
  try {
    contexts = load_parameter_set<Scheme>(params_path);
  } catch (const std::exception& error) {
    report.fields.emplace_back("ring degree", std::string("unknown: ") + error.what());
    return false;
  }
  const uint64_t theirs = parameter_set_fingerprint(contexts);
  if (theirs != fingerprint) {
    report.fields.emplace_back("ring degree", "unknown: '" + params_path +
                                                  "' is another parameter set (fingerprint " +
                                                  hex64(theirs) + ")");
    return true;
  }
  const auto& params = contexts.front()->parameters();
  report.fields.emplace_back("ring degree", "n = " + std::to_string(params.n) + " (from '" +
                                                params_path + "', its fingerprint matches)");
  std::string security = [&] {
    if constexpr (std::is_same_v<Scheme, bfv::Scheme>)
      return bfv::assess_security(params).one_line();
    else
      return yashe::assess_security(params).one_line();
  }();
  const std::string prefix = "security: ";
  if (security.starts_with(prefix)) security.erase(0, prefix.size());
  report.fields.emplace_back("security", security);
  return true;
}

// The check encrypt, infer and decrypt make before using a key directory (require_one_key_set):
// files that were not made by one keygen are a problem of the file inspected, even when each is
// intact and their parameters are equal.
void check_one_key_set(const std::vector<std::string>& paths, FileInspection& report) {
  try {
    require_one_key_set(paths);
  } catch (const std::runtime_error& error) {
    report.problems.push_back(std::string("key set: ") + error.what());
  }
}

// A protocol file's header as the commands read it (its checksum verified); none when it does not
// read, or is not a regular file (a FIFO would block the read).
std::optional<ProtocolHeader> verified_header(const std::string& path) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) return std::nullopt;
  try {
    return read_protocol_header(path);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// Which file of a key directory has a mismatch between the params and a key file: the key file,
// unless the params is the odd one out (found by a review: a public.key of another key set was
// reported under the intact params as well). It is when at least two key files lie beside it
// (public.key, evaluation.key, secret.key, each with a header that verifies), all of one scheme,
// parameter set and key set, and the params is not of them: then the problem, returned here, is
// the params file's, and the key files only note it. None when `params_path` is no key
// directory's params, or is not the odd one.
std::optional<std::string> odd_parameter_set(const std::string& params_path) {
  namespace fs = std::filesystem;
  std::error_code error;
  const fs::path parent = fs::path(params_path).parent_path();
  const KeyDirectory directory(parent.empty() ? "." : parent.string());
  if (!fs::equivalent(directory.parameters, params_path, error)) return std::nullopt;
  const std::optional<ProtocolHeader> params = verified_header(params_path);
  if (!params || params->kind != ProtocolFileKind::kParameterSet) return std::nullopt;
  std::vector<ProtocolHeader> keys;
  std::string names;
  for (const std::string& key_file :
       {directory.public_keys, directory.evaluation_keys, directory.secret_keys}) {
    const std::optional<ProtocolHeader> key = verified_header(key_file);
    if (!key || key->kind == ProtocolFileKind::kParameterSet ||
        key->kind == ProtocolFileKind::kCiphertexts)
      continue;
    keys.push_back(*key);
    names += (names.empty() ? "" : ", ") + fs::path(key_file).filename().string();
  }
  const auto same = [](const ProtocolHeader& a, const ProtocolHeader& b) {
    return a.scheme == b.scheme && a.parameter_set_fingerprint == b.parameter_set_fingerprint &&
           a.key_set_id == b.key_set_id;
  };
  if (keys.size() < 2 || same(*params, keys.front())) return std::nullopt;
  for (const ProtocolHeader& key : keys)
    if (!same(key, keys.front())) return std::nullopt;
  const auto describe = [](const ProtocolHeader& header) {
    return scheme_name(header.scheme) + ", parameter set " +
           hex64(header.parameter_set_fingerprint) + ", key set " + hex64(header.key_set_id);
  };
  // The key files are named without their directory: each command loads this params, so the
  // problem keeps every use of the set from being called usable (inspect_key_set).
  return "key set: '" + params_path + "' (" + describe(*params) + ") and the " +
         std::to_string(keys.size()) + " key files beside it (" + names + ": " +
         describe(keys.front()) +
         "), which agree with each other, do not belong together: this parameter set is the odd "
         "one (the commands refuse it with them; restore the params of these keys, or run keygen "
         "again)";
}

// The parameter set for a key or ciphertext file: `params_path`, else DIR/params beside the file
// (a key directory), else none (a field says how to get n). A key file must also belong to its
// key set (check_one_key_set), and so must a ciphertext file given `params_path`; one beside
// DIR/params need not (the params only give its n). A key
// file given its parameter set (--params) or standing under its key directory's name
// (public.key, ...) must also have its scheme and fingerprint; one under another name is only
// shown the n of a params file beside it when they match. Returns the parameter set read (empty
// when none was).
std::string add_parameters(const std::string& path, const std::string& params_path,
                           const HeaderFields& file, FileInspection& report) {
  const bool key_file = file.kind != 'C';
  std::string chosen = params_path;
  if (chosen.empty()) {
    std::error_code error;
    const std::filesystem::path beside = std::filesystem::path(path).parent_path() / "params";
    if (std::filesystem::is_regular_file(beside, error) &&
        !std::filesystem::equivalent(beside, path, error)) {
      chosen = beside.string();
    }
  }
  if (chosen.empty()) {
    report.fields.emplace_back("ring degree",
                               "not stored in this file (it holds the parameter-set fingerprint "
                               "only): inspect --params FILE shows n and the security line");
    return "";
  }
  const bool of_key_set = key_file && (!params_path.empty() || role_of(path) != 0);
  // A params beside the file that is no parameter set (a profile or another key file copied over
  // it) is that file's problem, named in its own report; not one of this file (found by a trial:
  // the key files were blamed, and the params shown intact).
  const bool given = !params_path.empty();
  const std::optional<HeaderFields> params = peek_header(chosen);
  if (!given && (!params || params->kind != 'P')) {
    report.fields.emplace_back(
        "ring degree",
        "unknown: '" + chosen + "' beside it is not a parameter set (see its own report)");
    return "";
  }
  // A params beside the key file that is the odd one of its directory has the mismatch itself.
  const bool params_odd = of_key_set && !given && odd_parameter_set(chosen).has_value();
  if (params_odd) {
    report.fields.emplace_back("parameter set",
                               "'" + chosen +
                                   "' beside it is not of the key generation of this file and "
                                   "the other key files, which agree with each other (a problem "
                                   "of that file, not of this one)");
  }
  if (params) {
    if (of_key_set && !params_odd) check_against_parameters(path, file, chosen, *params, report);
    if (params->kind != 'P' || params->scheme != file.scheme) {
      report.fields.emplace_back(
          "ring degree", "unknown: '" + chosen + "' holds " +
                             (params->kind == 'P' ? scheme_text(params->scheme) + " parameters"
                                                  : kind_description(params->kind)) +
                             ", this file is " + scheme_text(file.scheme));
      return "";
    }
  }
  const bool loaded = file.scheme == static_cast<uint8_t>(SchemeId::kBfv)
                          ? add_parameters_from<bfv::Scheme>(chosen, file.fingerprint, report)
                          : add_parameters_from<yashe::Scheme>(chosen, file.fingerprint, report);
  // A ciphertext file given its parameter set (--params) must be of its key set as well: decrypt
  // refuses it otherwise (found by a trial: one of another key set was intact). One merely beside
  // a params file need not be (the params there only give its n).
  if (loaded && key_file && !params_odd) check_one_key_set({chosen, path}, report);
  // Said as decrypt says it: "different key generations (a keygen that failed midway ...; run
  // keygen again)" told of a key directory, not of a batch encrypted under other keys.
  if (loaded && !key_file && given && params && params->key_set != file.key_set) {
    report.problems.push_back("key set: '" + path + "' is encrypted under other keys (key set " +
                              hex64(file.key_set) + ") than those of '" + chosen + "' (key set " +
                              hex64(params->key_set) +
                              "): give --params of the keys it was encrypted under");
  }
  if (!loaded && of_key_set && given) {
    report.problems.push_back("parameters: the parameter set '" + chosen + "' of '" + path +
                              "' cannot be read (see the ring degree line)");
  }
  return loaded ? chosen : "";
}

// The name of the field check_with_loader adds, and the start of the problem it reports.
constexpr const char* kLoaderField = "as the commands load it";
constexpr const char* kLoaderRefuses = "refused by the loader (every command refuses this file): ";

// The loaders' own checks on a protocol file whose checksums and identities verify (found by a
// trial: checksums carry no secret and can be recomputed, so a parameter record of the wrong
// length, a plaintext modulus twice, a public key residue above its prime or a secret key code 3
// was "intact"). Key and ciphertext files are checked against the parameter set `params` (empty:
// none, and what they hold is NOT CHECKED: a gap, see FileInspection::unchecked); ciphertext
// files batch by batch, as infer and decrypt read them, under their own key ids `key_ids`.
template <class Scheme>
void check_with_loader(const std::string& path, char tag, uint64_t fingerprint,
                       const std::string& params, const std::vector<uint64_t>& key_ids,
                       FileInspection& report) {
  // Found by a trial: a key file alone was "intact" with its key material NOT CHECKED, and
  // ciphertext files were not loaded at all. What the loader could not read is a gap: the file
  // is not vouched for, exit status 1.
  const std::string what = tag == 'C' ? "ciphertexts" : "key material";
  const auto not_checked = [&](const std::string& why) {
    report.fields.emplace_back(kLoaderField, "NOT CHECKED: " + why);
    report.unchecked.push_back(what + ": " + why);
  };
  if (tag != 'P' && params.empty()) {
    not_checked("no parameter set to read the " + what + " with (inspect --params FILE reads " +
                (tag == 'C' ? "them" : "it") + " as the commands do)");
    return;
  }
  BasicContextSet<Scheme> contexts;
  try {
    contexts = load_parameter_set<Scheme>(tag == 'P' ? path : params);
  } catch (const std::exception& error) {
    if (tag == 'P')
      report.problems.push_back(kLoaderRefuses + readable_numbers(error.what()));
    else  // the parameter set's own report names it
      not_checked("'" + params + "' cannot be read");
    return;
  }
  if (tag != 'P' && parameter_set_fingerprint(contexts) != fingerprint) {
    not_checked("'" + params + "' is another parameter set");
    return;
  }
  try {
    if (tag == 'K') load_public_keys(path, contexts);
    if (tag == 'E') load_evaluation_keys(path, contexts);
    if (tag == 'S') load_secret_keys(path, contexts);
    if (tag == 'C') {  // one batch at a time, as the commands hold them
      BasicCiphertextFileReader<Scheme> file(path, contexts, key_ids);
      while (file.batches_left() > 0)
        file.next();
      file.finish();
    }
  } catch (const std::exception& error) {
    report.problems.push_back(kLoaderRefuses + readable_numbers(error.what()));
    return;
  }
  report.fields.emplace_back(kLoaderField, "read (every field and residue checked)");
}

// A key directory's parameter set (DIR/params beside DIR's key files): a key file there of
// another scheme, parameter set or key set, or whose header does not read, is that file's problem
// (its own report names it) and only noted here ("beside it"), as is a key file under another
// role's name; unless this params is the odd one out (odd_parameter_set): then it is this file's.
// A params file without key files beside it is not checked.
void check_key_directory_of(const std::string& path, const HeaderFields& params,
                            FileInspection& report) {
  namespace fs = std::filesystem;
  std::error_code error;
  const fs::path parent = fs::path(path).parent_path();
  const KeyDirectory directory(parent.empty() ? "." : parent.string());
  if (!fs::equivalent(directory.parameters, path, error)) return;
  if (const std::optional<std::string> odd = odd_parameter_set(path)) {
    report.problems.push_back(*odd);
    return;
  }
  for (const std::string& key_file :
       {directory.public_keys, directory.evaluation_keys, directory.secret_keys}) {
    // Not a regular file (a FIFO would block the reads): that file's own report refuses it.
    if (!fs::is_regular_file(key_file, error)) continue;
    // Nor one that is no key file (a CSV, profile or ciphertext file copied over public.key): its
    // own report names it, and this params is not the worse for it.
    const std::optional<HeaderFields> key = peek_header(key_file);
    if (!key || std::string_view("KES").find(key->kind) == std::string_view::npos) continue;
    // Named as inspect_file names them from this file's path, so that the problems read alike.
    const std::string shown = (parent / fs::path(key_file).filename()).string();
    // Found by a trial: the params of a set whose public.key and evaluation.key were swapped
    // counted them as its own problems; and by a review: so it did a public.key of another key
    // set, or a damaged one, which its own report names too.
    const char role = role_of(shown);
    if (role != 0 && role != key->kind) {
      report.fields.emplace_back(
          "beside it", "'" + shown + "' holds " + kind_description(key->kind) + ", not " +
                           kind_description(role) + " (a problem of that file, not of this one)");
    }
    FileInspection mismatch;
    check_against_parameters(shown, *key, path, params, mismatch);
    std::string why = mismatch.problems.empty() ? "" : mismatch.problems.front();
    if (why.empty()) {
      try {
        const ProtocolHeader header = read_protocol_header(key_file);
        if (header.key_set_id != params.key_set) {
          why = "key set: '" + shown + "' is of key set " + hex64(header.key_set_id) +
                ", this parameter set of " + hex64(params.key_set);
        }
      } catch (const std::exception& failure) {
        why = "'" + shown + "' cannot be read: " + failure.what();
      }
    }
    if (!why.empty()) {
      report.fields.emplace_back("beside it", why + " (a problem of that file, not of this one)");
    }
  }
}

void inspect_protocol_file(Reader& reader, const std::string& path, const std::string& params_path,
                           FileInspection& report) {
  std::array<uint8_t, kProtocolHeaderBytes> header{};
  if (reader.left() < 8) throw std::runtime_error("truncated: shorter than a protocol header");
  reader.read(header.data(), 8, false);
  const char tag = static_cast<char>(header[4]);
  const auto file_version = static_cast<uint16_t>(load_le(&header[6], 2));
  if (std::string_view("PKESC").find(tag) == std::string_view::npos) {
    throw std::runtime_error("a CNPF protocol file of unknown kind (tag 0x" +
                             hex64(static_cast<uint8_t>(tag)).substr(16) + ")");
  }
  // In the loaders' words (a trial found inspect wording it otherwise than decrypt and infer).
  if (file_version != kProtocolFileVersion) {
    throw std::runtime_error(
        protocol_version_refusal(file_version, static_cast<ProtocolFileKind>(tag)));
  }
  report.kind =
      kind_description(tag) + " (protocol file \"CNPF\", kind '" + std::string(1, tag) + "')";
  const uint8_t file_scheme = header[5];
  if (known_scheme(file_scheme)) {
    report.fields.emplace_back("scheme", scheme_name(static_cast<SchemeId>(file_scheme)));
  } else {
    report.fields.emplace_back("scheme", "unknown (byte " + std::to_string(file_scheme) + ")");
    report.problems.push_back("header: scheme byte " + std::to_string(file_scheme) +
                              ", expected 'Y' (YASHE') or 'B' (BFV)");
  }
  // Found by a trial: "4 (records: 3)" read as a count of three records.
  report.fields.emplace_back(
      "format version", std::to_string(file_version) + " (protocol file; its records are of " +
                            "record format version " + std::to_string(kSerializationVersion) + ")");
  if (reader.left() < kProtocolHeaderBytes - 8) {
    report.problems.push_back("header: truncated (" + with_bytes(reader.size()) +
                              ", the header alone needs " + std::to_string(kProtocolHeaderBytes) +
                              ")");
    return;
  }
  reader.read(header.data() + 8, kProtocolHeaderBytes - 8, false);
  constexpr size_t kFieldBytes = kProtocolHeaderBytes - 32;  // before the header's SHA-256
  const Sha256::Digest digest = sha256({header.data(), kFieldBytes});
  ++report.checksums_verified;
  const bool header_ok = std::equal(digest.begin(), digest.end(), header.begin() + kFieldBytes);
  if (!header_ok) {
    report.problems.push_back("header: checksum mismatch (SHA-256 of its first " +
                              std::to_string(kFieldBytes) + " bytes)");
  }
  const uint64_t fingerprint = load_le(&header[8], 8), key_set = load_le(&header[16], 8),
                 moduli = load_le(&header[24], 8), images = load_le(&header[32], 8),
                 batch_size = load_le(&header[40], 8), values = load_le(&header[48], 8),
                 first = load_le(&header[56], 8), file_id = load_le(&header[64], 8),
                 answers = load_le(&header[72], 8);
  report.fields.emplace_back("parameter set fingerprint", hex64(fingerprint));
  const HeaderFields fields{tag, file_scheme, fingerprint, key_set};
  check_role(path, tag, report);
  if (tag == 'S') check_secret_mode(path, report);
  if (tag == 'P') check_key_directory_of(path, fields, report);
  std::string parameters_read;  // for the key material (check_with_loader)
  if (tag != 'P' && known_scheme(file_scheme))
    parameters_read = add_parameters(path, params_path, fields, report);
  report.fields.emplace_back("key set id", hex64(key_set));
  report.fields.emplace_back("plaintext moduli", std::to_string(moduli));
  uint64_t batches = 1;
  if (tag == 'C') {
    batches = batch_size == 0 ? 0 : images / batch_size + (images % batch_size != 0 ? 1 : 0);
    report.fields.emplace_back(
        "images", std::to_string(images) + " (from image " + std::to_string(first) + ")");
    report.fields.emplace_back(
        "batches", std::to_string(batches) + " of up to " + std::to_string(batch_size) + " images");
    report.fields.emplace_back("ciphertexts per batch and modulus", std::to_string(values));
    report.fields.emplace_back("file id", hex64(file_id));
    report.fields.emplace_back(
        "answers file id", answers == 0 ? "0 (encrypted images)" : hex64(answers) + " (scores)");
    // The images file encrypt read (FORMATS.md §5.1): offsets 80 and 88.
    Sha256::Digest source_digest{};
    std::copy(header.begin() + 88, header.begin() + 120, source_digest.begin());
    report.fields.emplace_back(
        "source images file",
        std::to_string(load_le(&header[80], 8)) + " images, SHA-256 " + to_hex(source_digest));
    // The profile the images were encrypted with (FORMATS.md §3.5, §5.1): offset 120.
    report.fields.emplace_back("model profile fingerprint", hex64(load_le(&header[120], 8)));
  }
  report.fields.emplace_back("header checksum", header_ok ? "ok" : "MISMATCH");
  // The records carry their own checksums: they are read even under a damaged header, as long as
  // its counts are plausible.
  if (moduli == 0 || moduli > kMaxProtocolModuli || (tag == 'C' && batches == 0) ||
      batches > (uint64_t{1} << 32)) {
    report.problems.push_back("header: fields out of range (" + std::to_string(moduli) +
                              " moduli, " + std::to_string(batches) +
                              " batches); records not read");
    return;
  }

  std::vector<uint64_t> fingerprints, key_ids;
  for (uint64_t b = 0; b < batches; ++b) {
    for (uint64_t i = 0; i < moduli; ++i) {
      std::string where = "record " + std::to_string(b * moduli + i + 1);
      if (tag == 'C')
        where += " (batch " + std::to_string(b + 1) + ", modulus " + std::to_string(i + 1) + ")";
      else
        where += " (modulus " + std::to_string(i + 1) + ")";
      const Record record = read_record(reader, where, report);
      if (!record.complete) return;
      if (record.kind != tag) {
        report.problems.push_back(where + ": a " + record_kind_name(record.kind) +
                                  " record in a file of " + kind_description(tag));
      }
      if (record.scheme != file_scheme && known_scheme(record.scheme)) {
        report.problems.push_back(
            where + ": a " + scheme_name(static_cast<SchemeId>(record.scheme)) +
            " record in a file whose header says " +
            (known_scheme(file_scheme) ? scheme_name(static_cast<SchemeId>(file_scheme))
                                       : "an unknown scheme"));
      }
      if (tag == 'C')
        check_binding(reader, where, record, file_id, b * moduli + i, batches * moduli, report);
      if (b == 0) {
        fingerprints.push_back(record.fingerprint);
        key_ids.push_back(record.key_id);
      } else if (record.fingerprint != fingerprints[i] || record.key_id != key_ids[i]) {
        report.problems.push_back(where + ": fingerprint or key id differs from batch 1's");
      }
    }
  }
  check_trailing_bytes(reader, "the last record", tag == 'S', report);
  // The header's identities against those recomputed from the records (FORMATS.md §3.3).
  auto check_identity = [&](const std::string& name, const char* domain_tag,
                            const std::vector<uint64_t>& words, uint64_t stored) {
    const uint64_t recomputed = identity_of(domain_tag, words);
    report.fields.emplace_back(name + " recomputed from the records",
                               recomputed == stored ? "matches" : "DIFFERS");
    if (recomputed != stored) {
      report.problems.push_back("header: " + name + " " + hex64(stored) +
                                " is not that of its records (" + hex64(recomputed) + ")");
    }
  };
  check_identity("parameter set fingerprint", "cryptonets parameter set 1", fingerprints,
                 fingerprint);
  if (tag != 'P') check_identity("key set id", "cryptonets key set 1", key_ids, key_set);
  // What the records hold, once the checksums and identities verify (damage named above is
  // named once; problems of its role, mode or neighbours do not keep the loader from it).
  const bool damaged =
      std::any_of(report.problems.begin(), report.problems.end(), [](const std::string& problem) {
        return problem.starts_with("header:") || problem.starts_with("record ") ||
               problem.starts_with("trailing bytes:");
      });
  if (damaged || !known_scheme(file_scheme)) return;
  if (file_scheme == static_cast<uint8_t>(SchemeId::kBfv))
    check_with_loader<bfv::Scheme>(path, tag, fingerprint, parameters_read, key_ids, report);
  else
    check_with_loader<yashe::Scheme>(path, tag, fingerprint, parameters_read, key_ids, report);
}

// How much of a text file inspect reads (found by a trial: a valid profile or float model padded
// to 512 MiB with zeros, or with other bytes, was read whole: 9-14 s and 1-2 GB of memory). A text
// file is read up to its first byte that no text format of this project holds (read_text_part),
// and at most:
// - a profile, 1 MiB: `profile` writes about ten lines and one per preset (a handful), about
//   1 KB; 1 MiB is room for thousands of presets. What follows its line 'end' is not read as it.
// - a model (integer or float), 64 MiB: the project's networks are 0.2 to 1.6 MB as text (data/),
//   and 64 MiB holds about ten million weights. A larger model is refused by inspect (the
//   commands that run it read it whole).
// - a scores CSV (decrypt --scores), 64 MiB: decrypt writes one row per image, about 220 bytes
//   for the shipped 10-class model (measured: 218 on average, at most 225, over 1024 test
//   images; its scores take up to 67 bits, 20 digits and a sign), at most about 300 for a
//   10-class model (an image index of at most 20 digits, label, predicted, ten scores of about
//   80 bits: 25 digits and a sign each). 64 MiB holds 2^17 rows of 512 bytes: four full
//   batches at the largest ring degree (n <= 2^15 slots), more than all of MNIST (70000 images). A
//   longer scores text is refused by inspect (a CSV of any size was read whole before).
constexpr uint64_t kMaxProfileTextBytes = uint64_t{1} << 20;
constexpr uint64_t kMaxModelTextBytes = uint64_t{64} << 20;
constexpr uint64_t kMaxScoresTextBytes = uint64_t{64} << 20;

// The text of a text file: its bytes up to the first that is not text (text_format_byte, the
// readers' own classification), or up to `bound` bytes; without `keep`, only where it ends (`text`
// stays empty).
struct TextPart {
  std::string text;
  uint64_t stop = 0;         // where `text` ends: the file's size, a non-text byte, or `bound`
  bool binary_stop = false;  // `text` ends at a non-text byte
  uint64_t stop_line = 1;    // of the byte at `stop`, 1-based, as the readers count them
  uint64_t stop_column = 1;
  bool over_bound = false;  // the text goes on past `bound`

  // "a control byte at offset 1047 (line 3, column 5)", for the messages: where, and what kind,
  // never its value (a model is the server's secret; "byte 1047 is 0x12" was printed).
  std::string stop_text() const {
    return "a control byte at offset " + std::to_string(stop) + " (line " +
           std::to_string(stop_line) + ", column " + std::to_string(stop_column) +
           "), which no text format holds";
  }
};

TextPart read_text_part(const std::string& path, uint64_t bound, bool keep = true) {
  TextPart part;
  std::error_code error;
  const uint64_t size = std::filesystem::file_size(path, error);
  if (keep) part.text.reserve(static_cast<size_t>(error ? 0 : std::min(size, bound)));  // no copy
  std::ifstream in(path, std::ios::binary);
  std::vector<char> chunk(size_t{1} << 16);
  uint64_t length = 0;  // of the text so far
  while (in) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    const auto got = static_cast<size_t>(in.gcount());
    const auto stop =
        std::find_if(chunk.begin(), chunk.begin() + static_cast<ptrdiff_t>(got),
                     [](char c) { return !text_format_byte(static_cast<uint8_t>(c)); });
    auto text_bytes = static_cast<size_t>(stop - chunk.begin());
    if (length + text_bytes > bound) {
      text_bytes = static_cast<size_t>(bound - length);
      part.over_bound = true;
    }
    if (keep) part.text.append(chunk.data(), text_bytes);
    length += text_bytes;
    const auto text_end = chunk.begin() + static_cast<ptrdiff_t>(text_bytes);
    const auto newlines = static_cast<uint64_t>(std::count(chunk.begin(), text_end, '\n'));
    if (newlines == 0) {
      part.stop_column += text_bytes;
    } else {
      part.stop_line += newlines;
      const auto back = std::make_reverse_iterator(text_end);  // from the stop backwards
      part.stop_column = static_cast<uint64_t>(std::find(back, chunk.rend(), '\n') - back) + 1;
    }
    if (part.over_bound) break;
    if (text_bytes < got) {
      part.binary_stop = true;
      break;
    }
  }
  part.stop = length;
  return part;
}

// Bytes of a text file from `from` on (a non-text byte and all after it, or what follows a
// profile's line 'end'): a problem of their own (check_trailing_bytes: a secret key among them
// is EXPOSED), not read as the format.
void check_after_text(const std::string& path, uint64_t from, const std::string& after,
                      FileInspection& report) {
  Reader reader(path);
  reader.seek_forward(from);
  check_trailing_bytes(reader, after, false, report);
}

// The format's text, as its reader parses it; a reader's error says where the text stopped when
// it stopped at a non-text byte (the reader saw no more).
template <class Parse>
auto parse_text(TextPart& part, const std::string& format, Parse parse) {
  std::istringstream in(std::move(part.text));
  try {
    return parse(in);
  } catch (const std::exception& error) {
    if (!part.binary_stop) throw;
    throw std::runtime_error(std::string(error.what()) + " (the " + format + " was read up to " +
                             part.stop_text() + ")");
  }
}

// The text of a model file (integer or float), within kMaxModelTextBytes; bytes after it are a
// problem (check_after_text). Throws for a larger text.
TextPart read_model_text(const std::string& path, uint64_t size, FileInspection& report) {
  TextPart part = read_text_part(path, kMaxModelTextBytes);
  if (part.over_bound) {
    throw std::runtime_error(
        "more than " + std::to_string(kMaxModelTextBytes >> 20) +
        " MiB of text, the most inspect reads as a model (the project's networks are 0.2 to 1.6 MB "
        "as text); not read further");
  }
  if (part.stop < size)
    check_after_text(path, part.stop, "the text (" + part.stop_text() + ")", report);
  return part;
}

// SHA-256 of the file, for a text file read whole; not computed otherwise.
std::string text_sha256(const TextPart& part, uint64_t size) {
  if (part.stop < size) {
    return "not computed: the file has " + with_bytes(size - part.stop) + " after its text";
  }
  return to_hex(sha256({reinterpret_cast<const uint8_t*>(part.text.data()), part.text.size()}));
}

void inspect_model(const std::string& path, uint64_t size, FileInspection& report) {
  TextPart part = read_model_text(path, size, report);
  const std::string sha = text_sha256(part, size);
  // Validates it completely.
  const Model model =
      parse_text(part, "model", [&path](std::istream& in) { return read_model(in, path); });
  const CompiledModel compiled = compile_model(model);
  report.kind = "an integer model (text)";
  report.fields.emplace_back("format version", std::to_string(model_file_version(model)));
  report.fields.emplace_back("input", std::to_string(model.input_shape.channels) + " x " +
                                          std::to_string(model.input_shape.height) + " x " +
                                          std::to_string(model.input_shape.width) + ", scale " +
                                          std::to_string(model.input_scale));
  std::string layers;
  size_t parameters = 0;
  for (const auto& layer : model.layers) {
    layers += (layers.empty() ? "" : " -> ") + layer_name(layer);
    // The degree decides how a polynomial layer is compiled (and whether a ciphertext runs it).
    if (const auto* poly = std::get_if<cryptonets::model::PolynomialLayer>(&layer.operation))
      layers += " (degree " + std::to_string(poly->degree()) + ")";
  }
  // The rows of the stage table (mnist, StageTotals::label): what runs on ciphertexts.
  std::string stages;
  for (const CompiledStep& step : compiled.steps) {
    parameters += step.map.terms.size() + step.map.bias.size() + step.coefficients.size();
    stages += (stages.empty() ? "" : " -> ") + std::to_string(step.layer_index + 1) + ". " +
              step.stage_name();
  }
  report.fields.emplace_back("layers", layers);
  // A degree-3 step runs in the plain evaluators only: every command that encrypts refuses the
  // model (require_encryptable), in these words.
  if (!compiled.has_polynomial_step()) {
    report.fields.emplace_back("encrypted stages", stages);
  } else {
    report.fields.emplace_back("encrypted stages",
                               "none: the encrypted runtime refuses this model: " +
                                   inference::encrypted_degree_three_requirement(model));
    report.fields.emplace_back("plain stages", stages);
  }
  report.fields.emplace_back("outputs", std::to_string(compiled.output_size));
  if (compiled.output_factor != 1) {
    report.fields.emplace_back("output factor",
                               cryptonets::model::describe_output_factor(compiled) +
                                   ": the compiled network (and so every decrypted score) computes "
                                   "this multiple of the model's outputs (polynomial layers)");
  }
  report.fields.emplace_back("nonzero weights and biases", std::to_string(parameters));
  // Its profile's (FORMATS.md §3.5): what infer requires of an encrypted images file.
  try {
    report.fields.emplace_back("profile fingerprint", hex64(profile_fingerprint(model)));
  } catch (const std::exception&) {
    // a model whose ranges cannot be tracked has no profile; track_ranges's refusal is infer's
  }
  report.fields.emplace_back("SHA-256 of the file", sha);
  report.fields.emplace_back("checksum", "none in this text format: it was validated by parsing");
}

// The trained float networks (cryptonets-train): described, not refused, with the step that
// turns them into the integer model that keygen, infer and this command's model report take.
void add_float_fields(const std::string& format, const std::string& layers, int outputs,
                      size_t parameters, const std::string& quantise, const std::string& sha,
                      FileInspection& report) {
  report.kind = "a float model (text; trained, not yet quantised)";
  report.fields.emplace_back("format", format);
  report.fields.emplace_back("input", "1 x 28 x 28, pixels / 255, padded to 1 x 29 x 29");
  report.fields.emplace_back("layers", layers);
  report.fields.emplace_back("outputs", std::to_string(outputs));
  report.fields.emplace_back("weights and biases", std::to_string(parameters) + " (float)");
  report.fields.emplace_back("quantised", "no: the encrypted runtime takes an integer model");
  report.fields.emplace_back("to quantise", quantise);
  report.fields.emplace_back("SHA-256 of the file", sha);
  report.fields.emplace_back("checksum", "none in this text format: it was validated by parsing");
}

void inspect_float_model(const std::string& path, uint64_t size, FileInspection& report) {
  using training::FloatNetwork;
  TextPart part = read_model_text(path, size, report);
  const std::string sha = text_sha256(part, size);
  const FloatNetwork network = parse_text(part, "float model", [&path](std::istream& in) {
    return training::read_float_network(in, path);  // validates it
  });
  const std::string conv = std::to_string(network.conv_maps) + " x " +
                           std::to_string(FloatNetwork::kConvSide) + " x " +
                           std::to_string(FloatNetwork::kConvSide);
  const std::string layers = "conv 5x5 stride 2 (-> " + conv + ") -> square -> dense (" +
                             std::to_string(network.conv_outputs()) + " -> " +
                             std::to_string(network.hidden) + ") -> square -> dense (" +
                             std::to_string(network.hidden) + " -> " +
                             std::to_string(network.classes) + ")";
  const size_t parameters = network.conv_weights.size() + network.conv_bias.size() +
                            network.dense1_weights.size() + network.dense1_bias.size() +
                            network.dense2_weights.size() + network.dense2_bias.size();
  add_float_fields("cryptonets-float-model 1", layers, network.classes, parameters,
                   "cryptonets-quantise --float " + path +
                       " --data DIR --out MODEL (DIR: the IDX data it was trained on)",
                   sha, report);
}

void inspect_sequential_model(const std::string& path, uint64_t size, FileInspection& report) {
  using training::ActivationKind;
  using training::LayerKind;
  TextPart part = read_model_text(path, size, report);
  const std::string sha = text_sha256(part, size);
  const training::SequentialNetwork network =
      parse_text(part, "float model",
                 [&path](std::istream& in) { return training::read_sequential_network(in, path); });
  std::string layers;
  size_t parameters = 0;
  bool polynomial_only = true;  // what cryptonets-quantise --sequential takes
  for (const training::SequentialLayer& layer : network.layers) {
    std::string text;
    switch (layer.kind) {
      case LayerKind::kConvolution:
        text = "conv " + std::to_string(layer.kernel) + "x" + std::to_string(layer.kernel) +
               " stride " + std::to_string(layer.stride) + " (-> " + std::to_string(layer.maps) +
               " x " + std::to_string(layer.out_side()) + " x " + std::to_string(layer.out_side()) +
               ")";
        break;
      case LayerKind::kSumPool:
        text = "sum pool " + std::to_string(layer.pool_window) + "x" +
               std::to_string(layer.pool_window) + " (" + std::to_string(layer.channels) + " x " +
               std::to_string(layer.side) + " x " + std::to_string(layer.side) + ")";
        break;
      case LayerKind::kDense:
        text =
            "dense (" + std::to_string(layer.inputs) + " -> " + std::to_string(layer.outputs) + ")";
        break;
      case LayerKind::kActivation:
        text = layer.activation.name();
        polynomial_only = polynomial_only && (layer.activation.kind == ActivationKind::kSquare ||
                                              layer.activation.kind == ActivationKind::kPolynomial);
        break;
    }
    layers += (layers.empty() ? "" : " -> ") + text;
    parameters += layer.weights.size() + layer.bias.size();
  }
  const std::string quantise =
      "cryptonets-quantise --sequential " + path + " --data DIR --out MODEL";
  add_float_fields(
      "cryptonets-sequential-model 1", layers, network.classes(), parameters,
      polynomial_only
          ? quantise + " (DIR: the IDX data it was trained on)"
          : "replace relu/sigmoid by polynomials first (cryptonets-train --fine-tune " + path +
                " --approximate lsq --out FILE), then cryptonets-quantise "
                "--sequential FILE --data DIR --out MODEL",
      sha, report);
}

// Splits a CSV line at its commas (the scores CSV quotes nothing).
std::vector<std::string> csv_cells(const std::string& line) {
  std::vector<std::string> cells(1);
  for (char c : line) {
    if (c == ',')
      cells.emplace_back();
    else if (c != '\r')
      cells.back() += c;
  }
  return cells;
}

// An integer as decrypt writes it (std::to_string, GMP's get_str): digits without a sign, a
// leading zero or spaces; a '-' before a nonzero one where `negative` allows it.
bool canonical_integer(const std::string& text, bool negative) {
  const size_t sign = negative && text.starts_with('-') ? 1 : 0;
  const std::string_view digits = std::string_view(text).substr(sign);
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string_view::npos)
    return false;
  if (digits.size() > 1 && digits[0] == '0') return false;  // "07"
  return !(sign == 1 && digits == "0");                     // "-0"
}

// The longest line of a scores CSV read: far above what decrypt writes (a few hundred digits per
// score), and a bound on what a file without newlines costs (whole lines were read before).
constexpr size_t kMaxCsvLine = size_t{1} << 20;

// The lines of the first `length` bytes of a file, read a chunk at a time: a scores CSV is not
// held whole (a 64 MiB one of tiny rows cost 320 MB resident, found by a review).
class CsvLines {
 public:
  CsvLines(const std::string& path, uint64_t length)
      : in_(path, std::ios::binary), left_(length), chunk_(size_t{1} << 16) {}

  // The next line, without its '\n', as std::getline reads it (false at the end), but at most
  // kMaxCsvLine bytes: false with `too_long` set when the line is longer.
  bool next(std::string& line, bool& too_long) {
    line.clear();
    too_long = false;
    for (;;) {
      if (at_ == got_ && !refill()) return !line.empty();
      const char* start = chunk_.data() + at_;
      const char* end = chunk_.data() + got_;
      const char* newline = std::find(start, end, '\n');
      const auto piece = static_cast<size_t>(newline - start);
      if (line.size() + piece > kMaxCsvLine) {
        too_long = true;
        return false;
      }
      line.append(start, piece);
      at_ += piece;
      if (newline != end) {
        ++at_;
        return true;
      }
    }
  }

 private:
  bool refill() {
    if (left_ == 0 || !in_) return false;
    const auto want = static_cast<std::streamsize>(std::min<uint64_t>(left_, chunk_.size()));
    in_.read(chunk_.data(), want);
    got_ = static_cast<size_t>(in_.gcount());
    at_ = 0;
    left_ -= got_;
    return got_ > 0;
  }

  std::ifstream in_;
  uint64_t left_;
  std::vector<char> chunk_;
  size_t at_ = 0, got_ = 0;
};

// A cell as a problem quotes it: a cell of a CSV line may be up to kMaxCsvLine long, so a longer
// one is cut after 60 characters (UTF-8 sequences kept whole) and marked "…".
std::string quoted_cell(const std::string& cell) {
  constexpr size_t kShown = 60;
  if (cell.size() <= kShown) return cell;
  size_t cut = kShown;
  while (cut > 0 && (static_cast<uint8_t>(cell[cut]) & 0xC0) == 0x80)
    --cut;  // not inside a UTF-8 sequence
  return cell.substr(0, cut) + "\u2026";
}

// The image indices of a scores CSV's rows, as runs of consecutive indices (decrypt writes one
// run): repeated and missing images are found in memory bounded by the number of runs, not rows
// (a set of every index held 5 million entries for a 64 MiB file of tiny rows).
class ImageRuns {
 public:
  // At most this many runs are kept: a file of more is scattered beyond what decrypt writes,
  // and is not followed further.
  static constexpr size_t kMaxRuns = size_t{1} << 16;

  // False when `image` was added before.
  bool add(uint64_t image) {
    auto after = runs_.upper_bound(image);  // the first run starting after it
    if (after != runs_.begin()) {
      const auto before = std::prev(after);
      if (image <= before->second) return false;
      if (before->second + 1 == image) {  // extends the run before it
        before->second = image;
        if (after != runs_.end() && after->first == image + 1) {
          before->second = after->second;
          runs_.erase(after);
        }
        return true;
      }
    }
    if (after != runs_.end() && after->first == image + 1) {  // starts the run after it earlier
      const uint64_t last = after->second;
      runs_.erase(after);
      runs_.emplace(image, last);
      return true;
    }
    runs_.emplace(image, image);
    return true;
  }
  bool overflowing() const { return runs_.size() > kMaxRuns; }
  bool empty() const { return runs_.empty(); }
  size_t count() const { return runs_.size(); }
  uint64_t lowest() const { return runs_.begin()->first; }
  uint64_t highest() const { return runs_.rbegin()->second; }
  uint64_t first_missing() const { return runs_.begin()->second + 1; }  // with two runs or more

 private:
  std::map<uint64_t, uint64_t> runs_;  // first image of a run -> its last
};

// decrypt --scores: image, label, predicted, score_0 .. score_{C-1}, each cell an integer as
// decrypt writes it (canonical_integer: "07", "+2" and " 2" alike are not), the images distinct,
// the label empty or a class, as the predicted label. Each row's predicted label must be the
// first largest of its scores, as decrypt chose it (predicted_labels): a row where it is not was
// edited, or its scores were.
// Read as text (read_text_part), within kMaxScoresTextBytes: what follows its first byte that no
// text holds (a NUL: the hole of a sparse file) is a problem of its own (check_after_text: holes
// skipped), not rows. Throws for a longer text. The rows are read one at a time (CsvLines), and
// their image indices kept as runs (ImageRuns): memory stays bounded whatever the rows.
void inspect_scores_csv(const std::string& path, uint64_t size, FileInspection& report) {
  constexpr size_t kRowsNamed = 5;  // rows named one by one; the rest are counted
  // The other problems of the rows, named up to kRowProblemsNamed and counted after that: a CSV
  // of junk rows gave a line of report per row (a 64 MiB one holds millions of rows).
  constexpr size_t kRowProblemsNamed = 20;
  size_t row_problems = 0;
  const auto row_problem = [&](std::string problem) {
    if (++row_problems <= kRowProblemsNamed) report.problems.push_back(std::move(problem));
  };
  // The last image a ciphertext file can hold (FORMATS.md §4.1: first image + images <= 2^64 - 1).
  constexpr uint64_t kMaxImageIndex = std::numeric_limits<uint64_t>::max() - 1;
  // Where the text ends, without keeping it: the rows are read again, one at a time.
  const TextPart part = read_text_part(path, kMaxScoresTextBytes, false);
  if (part.over_bound) {
    throw std::runtime_error(
        "more than " + std::to_string(kMaxScoresTextBytes >> 20) +
        " MiB of text, the most inspect reads as a scores CSV (decrypt writes about 220 bytes per "
        "image of a 10-class model, 300 at most: that holds more than 2^17 images, four full "
        "batches at the largest ring degree, 2^15); not read further");
  }
  if (part.stop < size)
    check_after_text(path, part.stop, "the text (" + part.stop_text() + ")", report);
  CsvLines in(path, part.stop);
  std::string header, line;
  bool too_long = false;
  in.next(header, too_long);
  if (too_long) {
    report.kind = "not readable as decrypted scores (see the problems)";
    report.problems.push_back("header: longer than " + with_bytes(kMaxCsvLine) +
                              " (decrypt --scores writes a short header line)");
    return;
  }
  size_t rows = 0, labelled = 0, checked = 0, wrong = 0;
  const std::vector<std::string> names = csv_cells(header);
  const size_t classes = names.size() - 3;
  // The columns are read by position: a header naming them otherwise (score_1 before score_0)
  // is another file's.
  for (size_t c = 0; c < names.size(); ++c) {
    const std::string expected = c == 0   ? "image"
                                 : c == 1 ? "label"
                                 : c == 2 ? "predicted"
                                          : "score_" + std::to_string(c - 3);
    if (names[c] != expected) {
      report.problems.push_back("header: column " + std::to_string(c + 1) + " is '" +
                                quoted_cell(names[c]) + "', expected '" + expected + "'");
      break;
    }
  }
  // Found by a trial: the header "image,label,predicted" alone was intact, and its rows' labels
  // were "not a class in 0..0". decrypt writes one score column per class, at least one.
  if (classes == 0) {
    report.problems.push_back(
        "header: no score columns (decrypt --scores writes score_0 .. score_{C-1}, one per class, "
        "after image, label and predicted)");
  }
  const std::string class_range =
      classes == 0 ? "(the file has no classes)" : "in 0.." + std::to_string(classes - 1);
  auto is_class = [&](const std::string& text) {
    if (!canonical_integer(text, false) || text.size() > 18) return false;
    return std::stoull(text) < classes;
  };
  // The images seen, as runs of consecutive indices (found by a review: a set of them made 320 MB
  // resident for the millions of rows a 64 MiB file can hold).
  ImageRuns images;
  bool scattered = false;  // more runs than ImageRuns keeps: not followed further
  size_t indexed = 0;      // rows whose image index parses and is new
  // The first row whose image is not the one after the previous row's (decrypt writes them in
  // order): its row number, its image and the previous one.
  std::optional<std::array<uint64_t, 3>> out_of_order;
  std::optional<uint64_t> previous;
  bool all_rows_read = true;
  while (in.next(line, too_long)) {
    ++rows;
    const std::vector<std::string> cells = csv_cells(line);
    const std::string image = quoted_cell(cells[0]);
    const std::string where = "row " + std::to_string(rows) + " (image " + image + ")";
    if (cells.size() != classes + 3) {
      row_problem("row " + std::to_string(rows) + ": not " + std::to_string(classes + 3) +
                  " columns");
      all_rows_read = false;
      break;
    }
    uint64_t number = 0;
    const char* end = cells[0].data() + cells[0].size();
    const std::from_chars_result parsed = std::from_chars(cells[0].data(), end, number);
    if (!canonical_integer(cells[0], false) || parsed.ptr != end) {
      row_problem("row " + std::to_string(rows) + ": image '" + image + "' is not an image index");
      all_rows_read = false;
    } else if (parsed.ec == std::errc::result_out_of_range || number > kMaxImageIndex) {
      // Found by a trial: 2^64 overflowed to 0 and was reported as "image 1 is missing". Such a
      // row is no image of the file: the gaps are not sought among the others.
      row_problem("row " + std::to_string(rows) + " (line " + std::to_string(rows + 1) +
                  "): image " + image + " is out of range: an image index is at most " +
                  std::to_string(kMaxImageIndex) +
                  " (a ciphertext file's first image + images <= 2^64 - 1)");
      all_rows_read = false;
    } else if (!scattered && !images.add(number)) {
      row_problem(where + ": image " + image + " appears twice");
    } else {
      ++indexed;
      if (previous && number != *previous + 1 && !out_of_order)
        out_of_order = std::array<uint64_t, 3>{rows, number, *previous};
      previous = number;
      if (!scattered && images.overflowing()) {
        scattered = true;
        images = ImageRuns();
        row_problem(where + ": the images of the rows so far fall into more than " +
                    std::to_string(ImageRuns::kMaxRuns) +
                    " runs of consecutive indices (decrypt writes one): repeated and missing "
                    "images are not sought further");
      }
    }
    labelled += !cells[1].empty();
    if (!cells[1].empty() && !is_class(cells[1])) {
      row_problem(where + ": label '" + quoted_cell(cells[1]) + "' is not a class " + class_range);
    }
    // Checked whatever the scores hold (found by a trial: 'xyz' passed when they did not parse).
    const std::string& predicted = cells[2];
    const bool predicted_class = is_class(predicted);
    if (!predicted_class) {
      row_problem(where + ": predicted '" + quoted_cell(predicted) + "' is not a class " +
                  class_range);
    }
    // The first largest score, as decrypt's predicted_labels takes it (std::max_element).
    size_t best = 0;
    mpz_class best_score, score;
    bool numbers = true;
    for (size_t c = 0; c < classes && numbers; ++c) {
      const std::string& text = cells[3 + c];
      numbers = canonical_integer(text, true) && score.set_str(text, 10) == 0;
      if (!numbers) {
        row_problem(where + ": score_" + std::to_string(c) + " '" + quoted_cell(text) +
                    "' is not an integer");
      } else if (c == 0 || score > best_score) {
        best = c;
        best_score = score;
      }
    }
    if (!numbers || classes == 0 || !predicted_class) continue;
    const size_t label = std::stoull(predicted);
    ++checked;
    if (label == best) continue;
    if (++wrong <= kRowsNamed) {
      report.problems.push_back(where + ": predicted " + predicted +
                                ", but its largest score is score_" + std::to_string(best) +
                                " (predicted is the first largest score)");
    }
  }
  // Each summing-up line stands for that many problems (found by a trial: 199,999 repeated
  // images gave the verdict "(21 problems)").
  if (row_problems > kRowProblemsNamed) {
    report.add_summed_up(
        row_problems - kRowProblemsNamed,
        counted(row_problems - kRowProblemsNamed, "more problem", "more problems") +
            " in the rows (the first " + std::to_string(kRowProblemsNamed) + " are named)");
  }
  if (wrong > kRowsNamed) {
    report.add_summed_up(
        wrong - kRowsNamed,
        counted(wrong - kRowsNamed, "more row whose predicted label is not its largest score",
                "more rows whose predicted label is not their largest score"));
  }
  // decrypt writes one row per image of the file, images first, first + 1, ... in order: a
  // missing row (found by a trial: a deleted row, or the header alone, was judged intact) is
  // named by its image, the first one missing.
  if (too_long) {
    report.problems.push_back("row " + std::to_string(rows + 1) + ": longer than " +
                              with_bytes(kMaxCsvLine) + "; not read, nor any row after it");
  } else if (rows == 0) {
    report.problems.push_back(
        "no rows: decrypt --scores writes one row per image (at least one) after the header");
  } else if (all_rows_read && !scattered && !images.empty()) {
    if (images.count() > 1) {
      report.problems.push_back(
          "image " + std::to_string(images.first_missing()) + " is missing: the rows hold images " +
          std::to_string(images.lowest()) + " to " + std::to_string(images.highest()) +
          ", but decrypt writes every image from the first, one row each");
    } else if (indexed == rows && out_of_order) {  // (a repeated image is named above)
      const auto& [row, image, before] = *out_of_order;
      report.problems.push_back("row " + std::to_string(row) + " (image " + std::to_string(image) +
                                "): out of order after image " + std::to_string(before) +
                                " (decrypt writes the images in order)");
    }
  }
  report.kind = "decrypted scores (CSV from cryptonets decrypt --scores)";
  report.fields.emplace_back("images", std::to_string(rows));
  report.fields.emplace_back("classes", std::to_string(classes));
  report.fields.emplace_back("rows with a true label", std::to_string(labelled));
  report.fields.emplace_back("predicted = largest score",
                             wrong == 0 ? "in all " + std::to_string(checked) + " rows checked"
                                        : "NOT in " + std::to_string(wrong) + " of " +
                                              std::to_string(checked) + " rows checked");
  report.fields.emplace_back("checksum", "none in this text format");
}

// How much of a file is read to tell its text format: the first keyword follows at most a few
// comment lines. Found by a trial: whole lines were read, four times, so a 2 GiB file without a
// newline took 145 s and 4.27 GB to be called foreign.
constexpr size_t kSniffBytes = 8192;

// The first line of `prefix` (a file's first kSniffBytes) that is neither blank nor a '#'
// comment, from its first non-blank character: the text formats allow such lines before their
// first keyword ("cryptonets-model", "cryptonets-profile", ...). Empty when there is none.
std::string first_text_line(const std::string& prefix) {
  for (size_t start = 0; start < prefix.size();) {
    const size_t newline = prefix.find('\n', start);
    const size_t stop = newline == std::string::npos ? prefix.size() : newline;
    const size_t first = prefix.find_first_not_of(" \t\r", start);
    if (first < stop && prefix[first] != '#') return prefix.substr(first, stop - first);
    start = stop + 1;
  }
  return "";
}

// The offset just after a profile's line 'end' (its last line), or npos when it has none.
size_t profile_text_end(const std::string& text) {
  for (size_t start = 0; start < text.size();) {
    const size_t newline = text.find('\n', start);
    const size_t stop = newline == std::string::npos ? text.size() : newline + 1;
    std::istringstream words(text.substr(start, stop - start));
    std::string first, second;
    if (words >> first && first == "end" && !(words >> second)) return stop;
    start = stop;
  }
  return std::string::npos;
}

// A profile's text, up to its line 'end' (read_profile_text). Throws what read_profile throws,
// and for a file whose first kMaxProfileTextBytes hold no line 'end'. Bytes after the line 'end'
// (which load_profile refuses) are a problem when `report` is given (check_after_text: secret
// keys among them EXPOSED, as a trial's profile with secret.key appended was called intact), and
// the profile is read without them, so the report still says what it holds.
ModelProfile read_profile_text(const std::string& path, uint64_t size, FileInspection* report) {
  TextPart part = read_text_part(path, kMaxProfileTextBytes);
  const size_t end = profile_text_end(part.text);
  if (end == std::string::npos && part.over_bound) {
    throw std::runtime_error(
        "profile '" + path + "': no line 'end' in its first " +
        std::to_string(kMaxProfileTextBytes >> 20) +
        " MiB, the most inspect reads as a profile (profile writes about 1 KB: ten lines and one "
        "per preset); not read further");
  }
  if (end != std::string::npos) {
    const bool more =
        part.text.find_first_not_of(" \t\r\n", end) != std::string::npos || part.stop < size;
    if (more && report != nullptr) check_after_text(path, end, "the line 'end'", *report);
    part.text.resize(end);
    part.binary_stop = false;  // the reader stops at 'end' anyway
  }
  return parse_text(part, "profile", [&path](std::istream& in) { return read_profile(in, path); });
}

void inspect_profile(const std::string& path, uint64_t size, FileInspection& report) {
  const ModelProfile profile = read_profile_text(path, size, &report);  // validates it
  report.kind = "a model profile (text; the model without its weights)";
  report.fields.emplace_back("format version", std::to_string(kModelProfileVersion));
  report.fields.emplace_back("input", std::to_string(profile.input_shape.channels) + " x " +
                                          std::to_string(profile.input_shape.height) + " x " +
                                          std::to_string(profile.input_shape.width) + ", scale " +
                                          number(profile.input_scale));
  report.fields.emplace_back("outputs", std::to_string(profile.outputs));
  report.fields.emplace_back(
      "output bound",
      std::to_string(mpz_sizeinbase(profile.output_bound.get_mpz_t(), 2)) + " bits (+ sign)");
  report.fields.emplace_back("circuit privacy",
                             std::to_string(profile.circuit_privacy_bits) + " bits (0: none)");
  // What every encrypted images file made with it records (FORMATS.md §3.5), for comparison.
  report.fields.emplace_back("profile fingerprint", hex64(profile.fingerprint()));
  const auto add_preset = [&report](const auto& choice, const std::string& scheme) {
    report.fields.emplace_back(
        "preset " + choice.name,
        scheme + ", n = " + std::to_string(choice.base.n) +
            ", q = " + std::to_string(choice.base.q_primes.size()) +
            " primes (log2 q = " + std::to_string(std::lround(choice.base.log2_q())) + "), " +
            std::to_string(choice.plaintext_moduli.size()) + " plaintext moduli");
  };
  for (const ParameterChoice& choice : profile.presets)
    add_preset(choice, "YASHE'");
  for (const inference::BfvParameterChoice& choice : profile.bfv_presets)
    add_preset(choice, "BFV");
  report.fields.emplace_back("checksum", "none in this text format: it was validated by parsing");
}

std::string join_numbers(const std::vector<uint64_t>& values) {
  std::string text;
  for (uint64_t value : values)
    text += (text.empty() ? "" : ", ") + std::to_string(value);
  return text;
}

// How the profile stands to a key set's parameter set. The profile fixes, per preset, n, q,
// sigma, the decomposition bits and the plaintext moduli, and keygen makes the keys from one
// preset (with a smaller n only under --insecure-ring-degree, which keeps the preset's primes):
// the parameter set must be one of the profile's presets of its scheme, down to its fingerprint.
// And encrypt and decrypt refuse a model whose outputs the plaintext moduli cannot hold.
struct ProfileFit {
  std::string note;                   // how it matches (n reduced, ...)
  std::vector<std::string> problems;  // each on its own, without the common start
};

template <class Contexts, class Choice>
void match_presets(const Contexts& contexts, const std::vector<Choice>& presets,
                   const std::string& scheme, ProfileFit& fit) {
  const auto& keys = contexts.front()->parameters();
  const std::vector<uint64_t> moduli = plaintext_moduli_of(contexts);
  const uint64_t fingerprint = parameter_set_fingerprint(contexts);
  std::vector<std::string> closest;  // the differences from the closest preset
  std::string closest_name;
  for (const Choice& choice : presets) {
    std::vector<std::string> differences;
    const auto& base = choice.base;
    const bool reduced = keys.n < base.n && std::has_single_bit(keys.n);
    if (keys.n != base.n && !reduced) {
      differences.push_back("n = " + std::to_string(keys.n) + ", the preset's " +
                            std::to_string(base.n));
    }
    if (keys.q_primes != base.q_primes) {
      differences.push_back("q primes " + join_numbers(keys.q_primes) + ", the preset's " +
                            join_numbers(base.q_primes));
    }
    if (keys.sigma != base.sigma) {
      differences.push_back("sigma " + number(keys.sigma) + ", the preset's " + number(base.sigma));
    }
    if (keys.decomposition_bits != base.decomposition_bits) {
      differences.push_back("decomposition bits " + std::to_string(keys.decomposition_bits) +
                            ", the preset's " + std::to_string(base.decomposition_bits));
    }
    if (moduli != choice.plaintext_moduli) {
      differences.push_back("plaintext moduli " + join_numbers(moduli) + ", the preset's " +
                            join_numbers(choice.plaintext_moduli));
    }
    // The parameter-set fingerprint of the preset at the keys' n (FORMATS.md §3.3): equal
    // fields give equal fingerprints; it is what every key and ciphertext file carries.
    std::vector<uint64_t> fingerprints;
    for (uint64_t t : choice.plaintext_moduli) {
      auto params = base;
      params.n = keys.n;
      params.t = t;
      fingerprints.push_back(params.fingerprint());
    }
    const uint64_t theirs = identity_of("cryptonets parameter set 1", fingerprints);
    if (theirs != fingerprint) {
      differences.push_back("parameter set fingerprint " + hex64(fingerprint) + ", the preset's " +
                            hex64(theirs));
    }
    if (differences.empty()) {
      fit.note = "was made from its preset '" + choice.name + "' (" + scheme + ": n, q, sigma, " +
                 "decomposition bits, plaintext moduli and parameter set fingerprint match" +
                 (reduced ? "; n reduced from " + std::to_string(base.n) + " to " +
                                std::to_string(keys.n) + " by --insecure-ring-degree"
                          : std::string()) +
                 ")";
      return;
    }
    if (closest_name.empty() || differences.size() < closest.size()) {
      closest = differences;
      closest_name = choice.name;
    }
  }
  if (closest_name.empty()) {
    fit.problems.push_back("it holds no " + scheme + " preset, and the keys are " + scheme);
    return;
  }
  std::string text;
  for (const std::string& difference : closest)
    text += (text.empty() ? "" : "; ") + difference;
  fit.problems.push_back("the keys were not made from it: no " + scheme +
                         " preset of it is their parameter set; the closest, '" + closest_name +
                         "', differs: " + text);
}

// The profile against the parameter set, as described at ProfileFit. Throws what the loader
// throws for a file that cannot be read as a parameter set.
ProfileFit profile_fit(const std::string& params_path, const ModelProfile& profile) {
  ProfileFit fit;
  std::vector<uint64_t> moduli;
  if (protocol_file_scheme(params_path) == SchemeId::kBfv) {
    const BfvContextSet contexts = load_parameter_set<bfv::Scheme>(params_path);
    match_presets(contexts, profile.bfv_presets, "BFV", fit);
    moduli = plaintext_moduli_of(contexts);
  } else {
    const ContextSet contexts = load_parameter_set<yashe::Scheme>(params_path);
    match_presets(contexts, profile.presets, "YASHE'", fit);
    moduli = plaintext_moduli_of(contexts);
  }
  try {
    model::require_plaintext_moduli(profile.output_range(), moduli);
  } catch (const std::exception& e) {
    fit.problems.push_back(e.what());
  }
  return fit;
}

// The name of the field check_profile_fit adds.
constexpr const char* kProfileFitField = "key set";

// A key set's profile (DIR/model.profile beside DIR/params, or the --params given) against that
// parameter set (profile_fit): a field saying how it matches, or a problem per misfit, "does not
// fit the parameter set ..." (encrypt and decrypt read this profile with those keys). Nothing is
// added twice, and nothing when the parameter set cannot be read: its own report says why.
void check_profile_fit(const std::string& profile_path, const std::string& params_path,
                       FileInspection& report) {
  for (const auto& [name, value] : report.fields)
    if (name == kProfileFitField) return;
  const std::optional<HeaderFields> params = peek_header(params_path);
  if (!params || params->kind != 'P') return;
  // The profile as its own report read it: within its bound, without what follows its line
  // 'end' (found by a trial: the profile was read again whole, and its error was reported as the
  // params' one, "'DIR/params' cannot be read: profile 'DIR/model.profile' ...").
  ModelProfile profile;
  try {
    std::error_code error;
    const uint64_t size = std::filesystem::file_size(profile_path, error);
    profile = read_profile_text(profile_path, error ? 0 : size, nullptr);
  } catch (const std::exception& e) {
    report.fields.emplace_back(kProfileFitField,
                               "not checked: the profile cannot be read: " + std::string(e.what()));
    report.unchecked.push_back("fit to the parameter set '" + params_path +
                               "': the profile cannot be read");
    return;
  }
  ProfileFit fit;
  try {
    fit = profile_fit(params_path, profile);
  } catch (const std::exception& e) {
    report.fields.emplace_back(kProfileFitField,
                               "not checked: '" + params_path + "' cannot be read: " + e.what());
    report.unchecked.push_back("fit to the parameter set '" + params_path + "': it cannot be read");
    return;
  }
  report.fields.emplace_back(kProfileFitField, fit.problems.empty()
                                                   ? "'" + params_path + "' " + fit.note
                                                   : "DOES NOT FIT '" + params_path + "'");
  for (const std::string& problem : fit.problems) {
    report.problems.push_back("does not fit the parameter set '" + params_path +
                              "' (encrypt and decrypt use this profile): " + problem);
  }
}

// A file under the key set's profile name is read by encrypt and decrypt as a profile
// (load_profile): any other kind of file there is named as such, by its own report too.
void check_profile_role(const std::string& path, const std::string& profile_name,
                        FileInspection& report) {
  if (std::filesystem::path(path).filename() != profile_name) return;
  if (report.kind.starts_with("a model profile")) return;
  const std::string problem = "role: '" + path + "' holds " + report.kind + ", but the " +
                              profile_name + " of a key set holds a model profile";
  if (std::find(report.problems.begin(), report.problems.end(), problem) == report.problems.end())
    report.problems.push_back(problem);
}

}  // namespace

std::optional<SecretKeyLocation> locate_secret_key(const std::string& path, uint64_t start) {
  const std::optional<SecretKeyMark> mark = find_secret_key_in(path, start);
  if (!mark) return std::nullopt;
  return SecretKeyLocation{mark->offset, mark->what()};
}

FileInspection inspect_file(const std::string& path, const std::string& params_path) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    throw std::runtime_error("file '" + path + "' is a directory");
  }
  require_regular_input(path);  // before any open: a FIFO would block it
  if (!params_path.empty()) require_regular_input(params_path);
  Reader reader(path);
  FileInspection report;
  report.fields.emplace_back("size", with_bytes(reader.size()));
  struct stat status {};
  if (::stat(path.c_str(), &status) == 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(status.st_mode & 07777));
    report.fields.emplace_back("mode", mode);
  }
  std::array<uint8_t, 16> start{};
  const size_t peek = static_cast<size_t>(std::min<uint64_t>(reader.size(), start.size()));
  {
    std::ifstream in(path, std::ios::binary);
    in.read(reinterpret_cast<char*>(start.data()), static_cast<std::streamsize>(peek));
  }
  const std::string text(start.begin(), start.begin() + static_cast<ptrdiff_t>(peek));
  // A file of secret keys, or a secret-key record, holds secret keys by design; any other file
  // holding one anywhere is EXPOSED (check_secret_keys_inside).
  const bool secret_file =
      (text.starts_with("CNPF") || text.starts_with("CNET")) && peek > 4 && start[4] == 'S';
  // A file too malformed to be read still names a secret key inside it: reported (exit status 1,
  // as for the error alone), not thrown, so that the key is not left unmentioned.
  const bool shared = secret_file && shared_name(path, "model.profile");
  const auto unreadable = [&](const std::string& why) {
    if (secret_file && !shared) return false;
    report.problems.insert(report.problems.begin(), "not readable: " + why);
    if (shared)
      report.problems.push_back(shared_name_problem(path));
    else if (!check_secret_keys_inside(path, report))
      return false;
    if (report.kind.empty()) report.kind = "not readable (see the problems)";
    return true;
  };
  // The text formats are told by a bounded prefix, read once.
  const std::string first_line = [&] {
    if (text.starts_with("CNPF") || text.starts_with("CNET")) return std::string();
    std::ifstream in(path, std::ios::binary);
    std::string prefix(kSniffBytes, '\0');
    in.read(prefix.data(), static_cast<std::streamsize>(prefix.size()));
    prefix.resize(static_cast<size_t>(in.gcount()));
    return first_text_line(prefix);
  }();
  try {
    if (text.starts_with("CNPF")) {
      inspect_protocol_file(reader, path, params_path, report);
    } else if (text.starts_with("CNET")) {
      report.kind = "a single CNET record (serialize.hpp), not a protocol file";
      const Record record = read_record(reader, "record 1", report);
      if (record.kind == 'S') check_secret_mode(path, report);
      report.fields.emplace_back("scheme", known_scheme(record.scheme)
                                               ? scheme_name(static_cast<SchemeId>(record.scheme))
                                               : "unknown");
      check_trailing_bytes(reader, "the record", record.kind == 'S', report);
    } else if (first_line.starts_with("cryptonets-model")) {
      inspect_model(path, reader.size(), report);
    } else if (first_line.starts_with("cryptonets-profile")) {
      inspect_profile(path, reader.size(), report);
    } else if (first_line.starts_with("cryptonets-float-model")) {
      inspect_float_model(path, reader.size(), report);
    } else if (first_line.starts_with("cryptonets-sequential-model")) {
      inspect_sequential_model(path, reader.size(), report);
    } else if (text.starts_with("image,label,pre")) {
      inspect_scores_csv(path, reader.size(), report);
    } else if (!first_line.empty() && first_line.size() <= 3 &&
               first_line.find_first_not_of("0123456789") == std::string::npos) {
      // decrypt --out's labels (FORMATS.md §6.3): "not a cryptonets file" said of the project's
      // own output (a trial, after the README's "any file: what it is").
      throw std::runtime_error(
          "it looks like predicted labels as decrypt --out writes them (one class index per "
          "line, FORMATS.md 6.3): inspect does not verify them, since they carry no header, "
          "checksum or reference to their images");
    } else {
      char bytes[64] = "";
      for (size_t i = 0; i < std::min<size_t>(peek, 4); ++i)
        std::snprintf(bytes + 3 * i, sizeof bytes - 3 * i, "%02x ", start[i]);
      throw std::runtime_error(
          peek == 0 ? "empty file"
                    : std::string("not a cryptonets file (it starts with bytes ") + bytes +
                          "; expected \"CNPF\", \"CNET\", a cryptonets model or profile, or "
                          "a scores CSV)");
    }
  } catch (const std::runtime_error& e) {
    const std::string why = "file '" + path + "': " + e.what();
    if (unreadable(why)) return report;
    throw std::runtime_error(why);
  } catch (const std::exception& e) {  // a model or profile may throw invalid_argument
    if (unreadable(e.what())) return report;
    throw;
  }
  if (!secret_file) check_secret_keys_inside(path, report);
  // Found by a trial: secret keys copied as evaluation.key or public.key were only "MISMATCHED",
  // yet the README has users copy those files (and params) to the server.
  if (shared) report.problems.push_back(shared_name_problem(path));
  check_profile_role(path, "model.profile", report);
  // Under a key file's name, a file that is no protocol file at all (a profile, model or CSV
  // copied there): the commands would refuse it by that name (protocol files: check_role).
  if (const char role = role_of(path); role != 0 && !text.starts_with("CNPF")) {
    report.problems.push_back("role: '" + path + "' holds " + report.kind + ", but the " +
                              std::filesystem::path(path).filename().string() +
                              " of a key set holds " + kind_description(role));
  }
  if (report.kind.starts_with("a model profile") &&
      (!params_path.empty() || std::filesystem::path(path).filename() == "model.profile")) {
    const std::filesystem::path beside = std::filesystem::path(path).parent_path() / "params";
    if (!params_path.empty())
      check_profile_fit(path, params_path, report);
    else if (std::filesystem::is_regular_file(beside, error))
      check_profile_fit(path, beside.string(), report);
  }
  return report;
}

std::string printable_text(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  const auto escape = [&out](uint8_t byte) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "\\x%02x", static_cast<unsigned>(byte));
    out += hex;
  };
  for (size_t i = 0; i < text.size();) {
    const auto byte = static_cast<uint8_t>(text[i]);
    if (byte < 0x80) {
      if (byte == '\n')
        out += "\\n";
      else if (byte == '\r')
        out += "\\r";
      else if (byte == '\t')
        out += "\\t";
      else if (byte == '\\')
        out += "\\\\";
      else if (byte < 0x20 || byte == 0x7f)
        escape(byte);
      else
        out += static_cast<char>(byte);
      ++i;
      continue;
    }
    // A UTF-8 sequence is kept whole when it is well formed (no overlong form, surrogate or code
    // point above U+10FFFF) and not a C1 control (U+0080 to U+009F: some terminals obey them).
    size_t length = 0;
    uint8_t low = 0x80, high = 0xbf;  // the range of the second byte
    if (byte >= 0xc2 && byte <= 0xdf) {
      length = 2;
      if (byte == 0xc2) low = 0xa0;
    } else if (byte >= 0xe0 && byte <= 0xef) {
      length = 3;
      if (byte == 0xe0) low = 0xa0;
      if (byte == 0xed) high = 0x9f;
    } else if (byte >= 0xf0 && byte <= 0xf4) {
      length = 4;
      if (byte == 0xf0) low = 0x90;
      if (byte == 0xf4) high = 0x8f;
    }
    bool valid = length != 0 && i + length <= text.size();
    for (size_t k = 1; valid && k < length; ++k) {
      const auto next = static_cast<uint8_t>(text[i + k]);
      valid = k == 1 ? next >= low && next <= high : next >= 0x80 && next <= 0xbf;
    }
    if (valid) {
      out.append(text, i, length);
      i += length;
    } else {
      escape(byte);
      ++i;
    }
  }
  return out;
}

std::string format_inspection(const std::string& path, const FileInspection& inspection) {
  // Every line printable: a file name (in the path, a field or a problem) with a newline could
  // otherwise forge a line such as a verdict, and one with ESC could drive the terminal.
  const auto line = [](std::string_view piece) { return printable_text(piece) + "\n"; };
  std::string text = "file: " + line(path) + "kind: " + line(inspection.kind);
  for (const auto& [name, value] : inspection.fields)
    text += printable_text(name) + ": " + line(value);
  // A record's continuation lines ("\n    n = 8192, ...") are the report's own structure, made of
  // numbers (read_record): each line is escaped, not the newlines between them (a trial saw
  // "checksum ok\n    n = 8192" printed with a literal backslash-n).
  for (const std::string& record : inspection.records) {
    for (size_t start = 0;;) {
      const size_t newline = record.find('\n', start);
      text += line(std::string_view(record).substr(start, newline - start));
      if (newline == std::string::npos) break;
      start = newline + 1;
    }
  }
  for (const std::string& gap : inspection.unchecked)
    text += "NOT CHECKED: " + line(gap);
  if (inspection.intact()) {
    text += "verdict: intact (" + counted(inspection.checksums_verified, "checksum", "checksums") +
            " verified)\n";
  } else if (inspection.problems.empty()) {
    text += "verdict: NOT VERIFIED (no problem found in what was checked, " +
            counted(inspection.checksums_verified, "checksum", "checksums") + " verified; " +
            counted(inspection.unchecked.size(), "thing", "things") + " NOT CHECKED)\n";
  } else {
    for (const std::string& problem : inspection.problems)
      text += "PROBLEM: " + line(problem);
    text += "verdict: DAMAGED or inconsistent (" +
            counted(inspection.problem_count(), "problem", "problems") + ")\n";
  }
  return text;
}

namespace {

// How far inspect DIR searches below DIR for secret keys. keygen writes no subdirectory: a few
// levels and a few thousand files cover a directory the user added notes or backups to, and bound
// what a mistaken DIR (a home directory) costs. Beyond them the tree is not vouched for.
constexpr int kMaxSearchDepth = 8;          // subdirectory levels below DIR
constexpr size_t kMaxSearchedFiles = 4096;  // files searched in all

struct TreeSearch {
  size_t files = 0;                                          // regular files searched
  std::vector<std::pair<std::string, SecretKeyMark>> found;  // (path below DIR, where)
  std::vector<std::string> not_searched;                     // "PATH: why"
  std::vector<std::string> links_not_followed;               // links to directories
  bool full = false;                                         // kMaxSearchedFiles were searched
};

enum class EntryKind { kFile, kDirectory, kOther };

// Searches DIR/`relative` for secret keys (find_secret_key_in): a regular file (a link to one
// too, as the top-level files are), or each entry of a directory (`depth` levels below DIR), in
// name order. Links to directories are not followed, so a link loop is not either.
EntryKind search_entry(const std::filesystem::path& root, const std::string& relative, int depth,
                       TreeSearch& search) {
  namespace fs = std::filesystem;
  std::error_code error;
  const fs::path path = root / relative;
  const fs::file_status link = fs::symlink_status(path, error);
  const fs::file_status target = fs::status(path, error);
  if (fs::is_directory(target) && fs::is_symlink(link)) {
    search.links_not_followed.push_back(relative);
    return EntryKind::kOther;
  }
  if (fs::is_regular_file(target)) {
    if (search.files == kMaxSearchedFiles) {  // named once: the files after it are not either
      if (!search.full) {
        search.not_searched.push_back(relative +
                                      " and the files after it (in name order): beyond "
                                      "the first " +
                                      std::to_string(kMaxSearchedFiles) + " files");
      }
      search.full = true;
      return EntryKind::kFile;
    }
    ++search.files;
    if (std::optional<SecretKeyMark> mark = find_secret_key_in(path.string()))
      search.found.emplace_back(relative, *mark);
    return EntryKind::kFile;
  }
  if (!fs::is_directory(target)) return EntryKind::kOther;  // a FIFO would block the reads
  if (search.full) return EntryKind::kDirectory;            // named already
  if (depth == kMaxSearchDepth) {
    search.not_searched.push_back(relative + "/: more than " + std::to_string(kMaxSearchDepth) +
                                  " directory levels below the key directory");
    return EntryKind::kDirectory;
  }
  std::vector<std::string> names;
  fs::directory_iterator entries(path, error), end;
  for (; !error && entries != end; entries.increment(error))
    names.push_back(entries->path().filename().string());
  if (error) {
    search.not_searched.push_back(relative + "/: cannot be listed: " + error.message());
    return EntryKind::kDirectory;
  }
  std::sort(names.begin(), names.end());
  for (const std::string& name : names)
    search_entry(root, relative + "/" + name, depth + 1, search);
  return EntryKind::kDirectory;
}

}  // namespace

KeySetInspection inspect_key_set(const std::string& directory, const std::string& profile_name) {
  namespace fs = std::filesystem;
  std::error_code error;
  if (!fs::is_directory(directory, error)) {
    throw std::runtime_error("'" + directory + "' is not a directory");
  }
  // Without trailing separators, so that DIR/name is the path each file's own inspection gives
  // its neighbours (DIR/params) and their problems read alike.
  fs::path root(directory);
  while (root.has_relative_path() && root.filename().empty())
    root = root.parent_path();
  const KeyDirectory names("");
  KeySetInspection set;
  for (const std::string& file :
       {names.parameters, names.public_keys, names.evaluation_keys, names.secret_keys}) {
    set.members.push_back({fs::path(file).filename().string(), "", false, std::nullopt, ""});
  }
  set.members.push_back({profile_name, "", false, std::nullopt, ""});
  for (KeySetInspection::Member& member : set.members) {
    member.path = (root / member.name).string();
    member.present = fs::exists(member.path, error);
  }
  if (std::none_of(set.members.begin(), set.members.end(),
                   [](const auto& member) { return member.present; })) {
    throw std::runtime_error("'" + directory +
                             "' is a directory with none of a key set's files (params, "
                             "public.key, evaluation.key, secret.key, " +
                             profile_name + ")");
  }

  std::string present, missing;
  std::vector<std::string> seen;  // problems without their file's name, each reported once
  auto add_problem = [&](const std::string& name, const std::string& problem) {
    if (std::find(seen.begin(), seen.end(), problem) != seen.end()) return;
    seen.push_back(problem);
    set.problems.push_back(name + ": " + problem);
  };
  for (KeySetInspection::Member& member : set.members) {
    std::string& list = member.present ? present : missing;
    list += (list.empty() ? "" : ", ") + member.name;
    if (!member.present) continue;
    try {
      member.inspection = inspect_file(member.path);
      check_profile_role(member.path, profile_name, *member.inspection);
      // inspect_file knows the profile as model.profile only: under another profile name, a file
      // of secret keys is EXPOSED all the same.
      std::vector<std::string>& problems = member.inspection->problems;
      if (&member == &set.members.back() && holds_secret_keys_by_design(member.path) &&
          std::find(problems.begin(), problems.end(), shared_name_problem(member.path)) ==
              problems.end())
        problems.push_back(shared_name_problem(member.path));
      // Under another name than model.profile, inspect_file did not check it against params.
      if (&member == &set.members.back() && set.members[0].present &&
          member.inspection->kind.starts_with("a model profile"))
        check_profile_fit(member.path, set.members[0].path, *member.inspection);
      set.checksums_verified += member.inspection->checksums_verified;
    } catch (const std::exception& e) {  // a profile or model may throw invalid_argument
      member.error = e.what();
    }
  }
  // The params file reports the key files beside it too: their own reports name a problem first.
  for (size_t i : {1, 2, 3, 4, 0}) {
    const KeySetInspection::Member& member = set.members[i];
    if (!member.error.empty()) add_problem(member.name, member.error);
    if (!member.inspection) continue;
    for (const std::string& problem : member.inspection->problems)
      add_problem(member.name, problem);
    for (const std::string& gap : member.inspection->unchecked)
      set.unchecked.push_back(member.name + ": " + gap);
  }
  const KeySetInspection::Member& params = set.members[0];
  const KeySetInspection::Member& secret = set.members[3];
  const KeySetInspection::Member& profile = set.members[4];
  // Checked against the params too (check_profile_fit): encrypt and decrypt refuse a profile whose
  // model needs more plaintext bits than the keys have (found by a tester: "usable for: encrypt
  // ..." then "the model needs 80 bits"), or that the keys were not made from.
  const bool profile_fits =
      !profile.present || (profile.inspection && profile.inspection->intact());
  std::string profile_note;
  if (profile.inspection) {
    for (const auto& [name, value] : profile.inspection->fields)
      if (name == kProfileFitField && !value.starts_with("DOES NOT FIT")) profile_note = value;
  }
  if (!params.present) {
    set.problems.push_back(
        "params: missing: the key set's files cannot be used or checked "
        "without their parameter set");
  }
  set.fields.emplace_back("present", present);
  set.fields.emplace_back(
      "missing", missing.empty() ? "none (the whole key set, as keygen writes it)" : missing);
  if (!secret.present) {
    set.fields.emplace_back("secret key",
                            "absent (as in a server's or an encrypting client's copy)");
  } else {
    std::string mode, access;
    // The same text as the file's own report (a file of secret keys): named once.
    const std::string problem = secret_mode_problem(secret.path, &mode, &access);
    // Judged by what the file holds, not by its name (found by a trial: public keys under
    // secret.key, mode 0644, were reported as an exposed secret key). Its own report checks the
    // mode of secret keys it can read; a header that says secret keys counts too.
    const std::optional<HeaderFields> header = peek_header(secret.path);
    const bool holds_secret =
        (header && header->kind == 'S') ||
        (secret.inspection &&
         std::any_of(secret.inspection->problems.begin(), secret.inspection->problems.end(),
                     [](const std::string& p) { return p.starts_with("mode "); }));
    if (mode.empty()) {
      set.problems.push_back("secret.key: cannot read its mode: " +
                             std::string(std::strerror(errno)));
    } else if (!holds_secret) {
      set.fields.emplace_back(
          "secret key", "present, mode " + mode + ", but it holds no secret keys (see its report)");
    } else if (problem.empty()) {
      set.fields.emplace_back("secret key", "present, mode " + mode +
                                                (access.empty() ? " (its owner only)"
                                                                : " (only its owner may read or "
                                                                  "write it; " +
                                                                      access + ")"));
    } else {
      std::string shout = access;
      std::transform(shout.begin(), shout.end(), shout.begin(),
                     [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
      set.fields.emplace_back("secret key", "present, mode " + mode + ": " + shout);
      add_problem(secret.name, problem);
    }
  }
  if (!profile_note.empty()) set.fields.emplace_back("profile", profile_note);
  // What the files present serve (the files each command loads): a command's files must be
  // present and read, with no problem but those that name only files it does not load (a params
  // file reports the evaluation.key beside it of another scheme; decrypt does not care), or the
  // secret key's mode (decrypt works, but the key may be known to others: a problem of the set).
  auto usable = [&](std::initializer_list<size_t> indices) {
    auto loaded = [&](size_t i) {
      return std::find(indices.begin(), indices.end(), i) != indices.end();
    };
    return std::all_of(indices.begin(), indices.end(), [&](size_t i) {
      const KeySetInspection::Member& member = set.members[i];
      if (!member.inspection) return false;
      return std::all_of(member.inspection->problems.begin(), member.inspection->problems.end(),
                         [&](const std::string& problem) {
                           if (problem.starts_with("mode ")) return true;
                           for (size_t other = 0; other < set.members.size(); ++other) {
                             if (!loaded(other) && problem.find("'" + set.members[other].path +
                                                                "'") != std::string::npos)
                               return true;
                           }
                           return false;
                         });
    });
  };
  // encrypt and decrypt read the profile too, where there is one (profile_fits).
  std::string uses;
  if (usable({0, 1}) && profile_fits) uses += "encrypt (params, public.key)";
  if (usable({0, 1, 2}))
    uses += std::string(uses.empty() ? "" : "; ") + "infer (params, evaluation.key, public.key)";
  if (usable({0, 3}) && profile_fits)
    uses += std::string(uses.empty() ? "" : "; ") + "decrypt (params, secret.key)";
  set.fields.emplace_back("usable for", uses.empty() ? "nothing" : uses);
  std::vector<std::string> others;
  for (const auto& entry : fs::directory_iterator(root, error)) {
    const std::string name = entry.path().filename().string();
    if (std::none_of(set.members.begin(), set.members.end(),
                     [&](const auto& member) { return member.name == name; }))
      others.push_back(name);
  }
  if (!others.empty()) {
    std::sort(others.begin(), others.end());
    // Found by a trial: secret.key.bak, or public.key.orig with a secret key appended, went
    // unmentioned; whoever copies the directory gives them away. And so did a copy of secret.key
    // in a subdirectory (DIR/sub/secret.key), which was listed as searched and was not: every
    // regular file under DIR is searched (search_tree), within its bounds.
    TreeSearch search;
    std::string list;
    for (const std::string& name : others) {
      list += (list.empty() ? "" : ", ") + name;
      const size_t found_before = search.found.size(), files_before = search.files;
      const EntryKind kind = search_entry(root, name, 0, search);
      if (kind == EntryKind::kDirectory) {
        list += "/ (a directory: " + counted(search.files - files_before, "file", "files") +
                " in it searched)";
      } else if (kind == EntryKind::kOther) {
        // A FIFO, socket, device or dangling link: nothing to read (a trial saw them listed as
        // "searched for secret keys" below).
        list += " (not a regular file: not read)";
      }
      for (size_t i = found_before; i < search.found.size(); ++i) {
        const auto& [where, mark] = search.found[i];
        list += (where == name ? " " : ", " + where + " ") + "(EXPOSED: secret keys)";
        set.problems.push_back(where + ": " + kSecretKeysInside + "EXPOSED: " + mark.what() +
                               " lies at byte " + std::to_string(mark.offset) + " of this file " +
                               (where == name ? "beside" : "under") +
                               " the key set: whoever is given a copy of the directory is given "
                               "the secret key (delete it or move it out, and make new keys if "
                               "it has left your hands)");
      }
    }
    // A part of the tree not searched is not vouched for: the set is not called intact.
    for (const std::string& why : search.not_searched) {
      set.problems.push_back("not searched for secret keys: " + why +
                             ": a secret key there would go unreported");
    }
    set.fields.emplace_back("other files",
                            list + " (not part of a key set; searched for secret keys only)");
    if (!search.links_not_followed.empty()) {
      std::string links;
      for (const std::string& link : search.links_not_followed)
        links += (links.empty() ? "" : ", ") + link;
      set.fields.emplace_back("links to directories",
                              links +
                                  " (not followed: a copy of the directory holds the link, "
                                  "not what it names)");
    }
  }
  return set;
}

namespace {

// A key set's file with problems: of another role, scheme, parameter set or key set than the
// set's (each file intact on its own), damaged, or both.
std::string member_state(const std::vector<std::string>& problems) {
  bool mismatched = false, damaged = false, exposed = false, appended = false, inside = false,
       shared = false;
  for (const std::string& problem : problems) {
    if (problem.starts_with("mode ")) {  // secret_mode_problem
      exposed = true;
      continue;
    }
    if (problem.starts_with(kAppendedSecretKeys)) {  // check_trailing_bytes
      appended = true;
      continue;
    }
    if (problem.starts_with(kSecretKeysInside)) {  // check_secret_keys_inside
      inside = true;
      continue;
    }
    if (problem.starts_with(kSecretKeysShared)) {  // inspect_file
      shared = true;
      continue;
    }
    // A key set check that could not read a header is damage, not a mismatch.
    const bool mismatch = problem.starts_with("role:") || problem.starts_with("scheme:") ||
                          problem.starts_with("parameter set:") ||
                          problem.starts_with("parameters:") ||
                          problem.starts_with("does not fit the parameter set") ||
                          (problem.starts_with("key set:") &&
                           problem.find("do not belong together") != std::string::npos);
    (mismatch ? mismatched : damaged) = true;
  }
  std::string state;
  for (const auto& [is, name] :
       {std::pair{damaged, "DAMAGED"}, std::pair{mismatched, "MISMATCHED"},
        std::pair{exposed, "EXPOSED (mode)"}, std::pair{appended, "EXPOSED (secret keys appended)"},
        std::pair{inside, "EXPOSED (secret keys inside)"},
        std::pair{shared, "EXPOSED (secret keys under a shared name)"}}) {
    if (is) state += (state.empty() ? "" : " and ") + std::string(name);
  }
  return state;
}

}  // namespace

std::string format_key_set_inspection(const std::string& directory,
                                      const KeySetInspection& inspection) {
  // Every line printable, as in format_inspection (the names under DIR are anyone's).
  const auto line = [](std::string_view piece) { return printable_text(piece) + "\n"; };
  std::string text;
  for (const KeySetInspection::Member& member : inspection.members) {
    if (!member.present) continue;
    if (member.inspection) {
      text += format_inspection(member.path, *member.inspection);
    } else {
      text += "file: " + line(member.path) + "PROBLEM: " + line(member.error) +
              "verdict: NOT READABLE\n";
    }
    text += "\n";
  }
  text += "key set: " + line(directory);
  for (const auto& [name, value] : inspection.fields)
    text += printable_text(name) + ": " + line(value);
  for (const KeySetInspection::Member& member : inspection.members) {
    if (!member.present) continue;
    text += printable_text(member.name) + ": ";
    if (!member.inspection)
      text += "NOT READABLE\n";
    else if (member.inspection->intact())
      text += "intact\n";
    else if (member.inspection->problems.empty())
      text += "NOT VERIFIED (" + counted(member.inspection->unchecked.size(), "thing", "things") +
              " NOT CHECKED)\n";
    else
      text += member_state(member.inspection->problems) + " (" +
              counted(member.inspection->problem_count(), "problem", "problems") + ")\n";
  }
  for (const std::string& gap : inspection.unchecked)
    text += "NOT CHECKED: " + line(gap);
  size_t files = 0;
  for (const KeySetInspection::Member& member : inspection.members)
    files += member.present;
  if (inspection.intact()) {
    text += "key set verdict: intact (" + counted(files, "file", "files") + ", " +
            counted(inspection.checksums_verified, "checksum", "checksums") + " verified)\n";
  } else if (inspection.problems.empty()) {
    text += "key set verdict: NOT VERIFIED (no problem found in what was checked, " +
            counted(files, "file", "files") + ", " +
            counted(inspection.checksums_verified, "checksum", "checksums") + " verified; " +
            counted(inspection.unchecked.size(), "thing", "things") + " NOT CHECKED)\n";
  } else {
    for (const std::string& problem : inspection.problems)
      text += "PROBLEM: " + line(problem);
    text += "key set verdict: DAMAGED or inconsistent (" +
            counted(inspection.problems.size(), "problem", "problems") + ")\n";
  }
  return text;
}

}  // namespace cryptonets
