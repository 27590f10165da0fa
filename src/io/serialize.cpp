// Binary files for the objects of both schemes; the format is described in serialize.hpp and
// FORMATS.md §4.
#include "cryptonets/io/serialize.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cassert>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <istream>
#include <limits>
#include <optional>
#include <ostream>
#include <span>
#include <sstream>
#include <stdexcept>
#include <streambuf>
#include <system_error>

#include "cryptonets/bfv/noise_model.hpp"
#include "cryptonets/io/input_file.hpp"
#include "cryptonets/io/little_endian.hpp"
#include "cryptonets/io/sha256.hpp"
#include "cryptonets/rlwe/parameters.hpp"
#include "cryptonets/yashe/noise_model.hpp"

namespace cryptonets {

using rlwe::Ciphertext;

namespace {

constexpr std::array<uint8_t, 4> kMagic = {'C', 'N', 'E', 'T'};
constexpr char kParametersTag = 'P';
constexpr char kPublicKeyTag = 'K';
constexpr char kEvaluationKeyTag = 'E';
constexpr char kSecretKeyTag = 'S';
constexpr char kCiphertextsTag = 'C';

constexpr uint64_t kCoefficientForm = 0;
constexpr uint64_t kEvaluationForm = 1;

constexpr size_t kParameterFixedWords = 5;    // n, k, t, sigma, decomposition_bits
constexpr size_t kCiphertextRecordWords = 2;  // degree, form
constexpr size_t kBatchFixedWords = 2;        // count, parts

// What differs between the schemes in a record: the polynomials of each object.
template <class Scheme>
struct SchemeFormat;

template <>
struct SchemeFormat<yashe::Scheme> {
  static constexpr size_t kPublicKeyParts = 1;  // h
  static constexpr size_t kDigitParts = 1;      // γ_d
  static constexpr size_t kFreshParts = 1;      // c
  static constexpr const char* kSecretName = "f'";
  static std::vector<const RnsPoly*> public_key(const yashe::PublicKey& key) { return {&key.h}; }
  static void set_public_key(yashe::PublicKey& key, std::vector<RnsPoly>& polys) {
    key.h = std::move(polys[0]);
  }
  static std::string public_key_name(size_t) { return "public key h"; }
  static size_t digit_count(const yashe::Context& context) { return context.digit_count(); }
  static size_t digits_of(const yashe::EvaluationKey& key) { return key.gamma.size(); }
  static std::vector<const RnsPoly*> digit(const yashe::EvaluationKey& key, size_t d) {
    return {&key.gamma[d]};
  }
  static void add_digit(yashe::EvaluationKey& key, std::vector<RnsPoly>& polys) {
    key.gamma.push_back(std::move(polys[0]));
  }
  static std::string digit_name(size_t d, size_t) {
    return "evaluation key γ_" + std::to_string(d);
  }
  static const std::vector<int8_t>& secret(const yashe::SecretKey& key) { return key.f_prime; }
  // One part whatever the degree (it is the power of f the ciphertext decrypts under).
  static bool parts_fit(size_t parts, uint64_t degree) {
    return parts == 1 && (degree == 1 || degree == 2);
  }
  static double fresh_noise(const yashe::Context& context) {
    return yashe::NoiseModel(context).fresh();
  }
};

template <>
struct SchemeFormat<bfv::Scheme> {
  static constexpr size_t kPublicKeyParts = 2;  // p_0, p_1
  static constexpr size_t kDigitParts = 2;      // b_d, a_d
  static constexpr size_t kFreshParts = 2;      // c_0, c_1
  static constexpr const char* kSecretName = "s";
  static std::vector<const RnsPoly*> public_key(const bfv::PublicKey& key) {
    return {&key.p0, &key.p1};
  }
  static void set_public_key(bfv::PublicKey& key, std::vector<RnsPoly>& polys) {
    key.p0 = std::move(polys[0]);
    key.p1 = std::move(polys[1]);
  }
  static std::string public_key_name(size_t i) { return "public key p_" + std::to_string(i); }
  static size_t digit_count(const bfv::Context& context) { return context.rns().digit_count(); }
  static size_t digits_of(const bfv::RelinearizationKey& key) {
    return key.b.size() == key.a.size() ? key.b.size() : SIZE_MAX;
  }
  static std::vector<const RnsPoly*> digit(const bfv::RelinearizationKey& key, size_t d) {
    return {&key.b[d], &key.a[d]};
  }
  static void add_digit(bfv::RelinearizationKey& key, std::vector<RnsPoly>& polys) {
    key.b.push_back(std::move(polys[0]));
    key.a.push_back(std::move(polys[1]));
  }
  static std::string digit_name(size_t d, size_t i) {
    return std::string("relinearisation key ") + (i == 0 ? "b_" : "a_") + std::to_string(d);
  }
  static const std::vector<int8_t>& secret(const bfv::SecretKey& key) { return key.coefficients; }
  // c_0..c_degree under (1, s, ..., s^degree).
  static bool parts_fit(size_t parts, uint64_t degree) {
    return (degree == 1 || degree == 2) && parts == degree + 1;
  }
  static double fresh_noise(const bfv::Context& context) {
    return bfv::NoiseModel(context).fresh();
  }
};

std::string kind_name(char tag) {
  switch (tag) {
    case kParametersTag:
      return "parameters";
    case kPublicKeyTag:
      return "a public key";
    case kEvaluationKeyTag:
      return "an evaluation key";
    case kSecretKeyTag:
      return "a secret key";
    case kCiphertextsTag:
      return "a ciphertext batch";
    default: {
      char text[48];
      std::snprintf(text, sizeof text, "an unknown kind of object (tag 0x%02x)",
                    static_cast<unsigned>(static_cast<uint8_t>(tag)));
      return text;
    }
  }
}

std::string hex64(uint64_t value) {
  char text[24];
  std::snprintf(text, sizeof text, "0x%016llx", static_cast<unsigned long long>(value));
  return text;
}

std::string form_name(uint64_t form) {
  if (form == kCoefficientForm) return "coefficient form";
  if (form == kEvaluationForm) return "evaluation form";
  return "unknown form " + std::to_string(form);
}

// ---- Little-endian words.

// Converts words between host order and the file's little-endian order (its own inverse).
void to_from_little_endian(uint64_t* words, size_t count) {
  if constexpr (std::endian::native == std::endian::big) {
    for (size_t i = 0; i < count; ++i)
      words[i] = __builtin_bswap64(words[i]);
  } else {
    (void)words;
    (void)count;
  }
}

uint64_t double_bits(double value) {
  return std::bit_cast<uint64_t>(value);
}
double bits_double(uint64_t bits) {
  return std::bit_cast<double>(bits);
}

// ---- Header.

struct Header {
  char kind = 0;
  SchemeId scheme = SchemeId::kYashe;
  uint16_t version = kSerializationVersion;
  uint64_t fingerprint = 0;
  uint64_t key_id = 0;
  uint64_t payload_length = 0;
};

// magic (0..3) | kind (4) | scheme (5) | version (6..7) | fingerprint (8..15) | key id (16..23)
// | payload length (24..31)
std::array<uint8_t, kSerializationHeaderBytes> encode_header(const Header& header) {
  std::array<uint8_t, kSerializationHeaderBytes> bytes{};
  std::copy(kMagic.begin(), kMagic.end(), bytes.begin());
  bytes[4] = static_cast<uint8_t>(header.kind);
  bytes[5] = static_cast<uint8_t>(header.scheme);
  store_le(&bytes[6], header.version, 2);
  store_le(&bytes[8], header.fingerprint, 8);
  store_le(&bytes[16], header.key_id, 8);
  store_le(&bytes[24], header.payload_length, 8);
  return bytes;
}

// ---- Bit-packed residue rows: each value takes bit_width(q_i) bits, least significant first.

int row_bits(const Modulus& q) {
  return std::bit_width(q.value());
}

size_t packed_words(size_t n, int bits) {
  return (n * static_cast<size_t>(bits) + 63) / 64;
}

template <class Context>
size_t polynomial_bytes(const Context& context) {
  size_t bytes = 0;
  for (const Modulus& q : context.q_base().moduli())
    bytes += 8 * packed_words(context.n(), row_bits(q));
  return bytes;
}

void pack_row(const uint64_t* values, size_t n, int bits, uint64_t* words) {
  std::fill(words, words + packed_words(n, bits), 0);
  size_t bit = 0;
  for (size_t j = 0; j < n; ++j, bit += static_cast<size_t>(bits)) {
    const size_t word = bit / 64;
    const size_t offset = bit % 64;
    words[word] |= values[j] << offset;
    if (offset + static_cast<size_t>(bits) > 64) words[word + 1] |= values[j] >> (64 - offset);
  }
}

void unpack_row(const uint64_t* words, size_t n, int bits, uint64_t* values) {
  const uint64_t mask = (uint64_t{1} << bits) - 1;
  size_t bit = 0;
  for (size_t j = 0; j < n; ++j, bit += static_cast<size_t>(bits)) {
    const size_t word = bit / 64;
    const size_t offset = bit % 64;
    uint64_t value = words[word] >> offset;
    if (offset + static_cast<size_t>(bits) > 64) value |= words[word + 1] << (64 - offset);
    values[j] = value & mask;
  }
}

// The bits after the last value of a packed row (there are some only for n < 64).
bool padding_is_zero(const uint64_t* words, size_t n, int bits) {
  const size_t used = n * static_cast<size_t>(bits) % 64;
  if (used == 0) return true;
  return words[packed_words(n, bits) - 1] >> used == 0;
}

// ---- Writing: header, payload through the hash, checksum.

template <class Context>
bool same_parameters(const RnsPoly& poly, const Context& context) {
  return !poly.empty() && poly.n() == context.n() && poly.ring().base() == context.q_base();
}

}  // namespace

class RecordWriter {
 public:
  RecordWriter(std::ostream& out, std::string what, const Header& header)
      : out_(out), what_(std::move(what)), payload_left_(header.payload_length) {
    const auto bytes = encode_header(header);
    emit(bytes.data(), bytes.size());
  }

  void write(const void* bytes, size_t size) {
    assert(size <= payload_left_);
    payload_left_ -= size;
    emit(bytes, size);
  }

  void write_word(uint64_t word) {
    uint8_t bytes[8];
    store_le(bytes, word, 8);
    write(bytes, 8);
  }

  void write_polynomial(const RnsPoly& poly) {
    for (size_t i = 0; i < poly.rns_size(); ++i) {
      const Modulus& q = poly.ring().base()[i];
      const uint64_t* row = poly.residues(i);
      for (size_t j = 0; j < poly.n(); ++j) {
        if (row[j] >= q.value()) {
          throw std::invalid_argument("writing " + what_ + ": residue " + std::to_string(row[j]) +
                                      " is not reduced modulo " + std::to_string(q.value()));
        }
      }
      const int bits = row_bits(q);
      scratch_.resize(packed_words(poly.n(), bits));
      pack_row(row, poly.n(), bits, scratch_.data());
      to_from_little_endian(scratch_.data(), scratch_.size());
      write(scratch_.data(), 8 * scratch_.size());
    }
  }

  Sha256::Digest finish() {
    assert(payload_left_ == 0);
    const Sha256::Digest digest = hash_.digest();
    out_.write(reinterpret_cast<const char*>(digest.data()), digest.size());
    out_.flush();
    check_stream();
    return digest;
  }

 private:
  void emit(const void* bytes, size_t size) {
    hash_.update({static_cast<const uint8_t*>(bytes), size});
    out_.write(static_cast<const char*>(bytes), static_cast<std::streamsize>(size));
    check_stream();
  }

  void check_stream() const {
    if (!out_) throw std::runtime_error("writing " + what_ + ": the output stream failed");
  }

  std::ostream& out_;
  std::string what_;
  uint64_t payload_left_;
  Sha256 hash_;
  std::vector<uint64_t> scratch_;
};

// ---- Reading: every byte of header and payload goes through the hash; the checksum is compared
// in finish(). A problem found before the checksum (reject) first reads and verifies the rest of
// the record, so that damage is reported as damage and not as whatever it happened to look like.

namespace {

// Bytes from the current position to the end, for streams that can seek; nullopt otherwise.
std::optional<uint64_t> bytes_available(std::istream& in) {
  if (!in) return std::nullopt;
  const std::istream::pos_type start = in.tellg();
  if (start == std::istream::pos_type(-1)) {
    in.clear();
    return std::nullopt;
  }
  in.seekg(0, std::ios::end);
  const std::istream::pos_type end = in.tellg();
  in.clear();
  in.seekg(start);
  if (!in || end == std::istream::pos_type(-1) || end < start) {
    in.clear();
    return std::nullopt;
  }
  return static_cast<uint64_t>(end - start);
}

}  // namespace

std::string record_version_refusal(uint16_t version) {
  const std::string reads = "this build reads " + std::to_string(kSerializationVersion);
  if (version == 0) {
    // Versions count from 1: "no longer supported" would send the user looking for an older
    // cryptonets that never existed.
    return "record format version 0 is not a valid version; " + reads +
           " (the file is damaged or was not written by cryptonets)";
  }
  if (version > kSerializationVersion) {
    return "record format version " + std::to_string(version) + ", " + reads +
           " (written by a newer cryptonets)";
  }
  // Version 1 ciphertexts carried the noise estimate in clear (a function of the model);
  // version 2 records do not say which scheme they belong to.
  return "record format version " + std::to_string(version) + " is no longer supported; " + reads +
         " (written by an older cryptonets: make the file again with this version)";
}

class HashingReader {
 public:
  HashingReader(std::istream& in, std::string source, bool whole_input)
      : in_(in), source_(std::move(source)), whole_input_(whole_input) {}

  [[noreturn]] void fail(const std::string& message) const {
    throw std::runtime_error(source_ + ": " + message);
  }

  // Reads the header and checks magic, kind, version and the declared length against the bytes
  // present (when the stream can tell).
  Header read_header(char expected_kind, SchemeId expected_scheme) {
    const std::optional<uint64_t> available = bytes_available(in_);
    std::array<uint8_t, kSerializationHeaderBytes> bytes{};
    in_.read(reinterpret_cast<char*>(bytes.data()), bytes.size());
    const auto got = static_cast<size_t>(in_.gcount());
    if (got >= kMagic.size() && !std::equal(kMagic.begin(), kMagic.end(), bytes.begin())) {
      char text[96];
      std::snprintf(text, sizeof text,
                    "not a cryptonets file (it starts with bytes %02x %02x %02x %02x, expected "
                    "\"CNET\")",
                    bytes[0], bytes[1], bytes[2], bytes[3]);
      fail(text);
    }
    if (got < bytes.size()) {
      fail("truncated: " + std::to_string(got) + " bytes, a header alone needs " +
           std::to_string(bytes.size()));
    }
    Header header;
    header.kind = static_cast<char>(bytes[4]);
    if (header.kind != expected_kind) {
      // Read once, from the header: a secret key sent where it should not be (as a job's batch:
      // 400 as damage, where a secret key file was 422) is told by its type.
      if (header.kind == kSecretKeyTag) {
        throw SecretKeyRecordsError(source_ + ": is " + kind_name(header.kind) + ", expected " +
                                    kind_name(expected_kind));
      }
      fail("is " + kind_name(header.kind) + ", expected " + kind_name(expected_kind));
    }
    header.version = static_cast<uint16_t>(load_le(&bytes[6], 2));
    if (header.version != kSerializationVersion) fail(record_version_refusal(header.version));
    if (!known_scheme(bytes[5])) {
      fail("header byte 5 (scheme) is " + std::to_string(bytes[5]) +
           ", expected 'Y' (YASHE') or 'B' (BFV)");
    }
    header.scheme = static_cast<SchemeId>(bytes[5]);
    if (header.scheme != expected_scheme) {
      fail("holds a " + scheme_name(header.scheme) + " record, but it is read as " +
           scheme_name(expected_scheme) + ": a file of one scheme cannot be used with the other");
    }
    header.fingerprint = load_le(&bytes[8], 8);
    header.key_id = load_le(&bytes[16], 8);
    header.payload_length = load_le(&bytes[24], 8);
    payload_length_ = payload_left_ = header.payload_length;
    if (available) check_length(*available - bytes.size());
    hash_.update(bytes);
    return header;
  }

  uint64_t payload_left() const { return payload_left_; }

  // Payload bytes, hashed.
  void read(void* destination, size_t size, const std::string& what) {
    if (size > payload_left_) {
      reject("the payload (" + std::to_string(payload_length_) + " bytes) ends inside " + what);
    }
    in_.read(static_cast<char*>(destination), static_cast<std::streamsize>(size));
    const auto got = static_cast<uint64_t>(in_.gcount());
    if (got != size) fail_truncated(payload_length_ - payload_left_ + got);
    hash_.update({static_cast<const uint8_t*>(destination), size});
    payload_left_ -= size;
  }

  uint64_t read_word(const std::string& what) {
    uint8_t bytes[8];
    read(bytes, 8, what);
    return load_le(bytes, 8);
  }

  void read_words(uint64_t* words, size_t count, const std::string& what) {
    read(words, 8 * count, what);
    to_from_little_endian(words, count);
  }

  // Reads the checksum and compares it with the hash of everything read.
  Sha256::Digest finish() {
    assert(payload_left_ == 0);
    Sha256::Digest stored{};
    in_.read(reinterpret_cast<char*>(stored.data()), stored.size());
    const auto got = static_cast<uint64_t>(in_.gcount());
    if (got != stored.size()) fail_truncated(payload_length_ + got);
    const Sha256::Digest computed = hash_.digest();
    if (stored != computed) {
      // Whole digests: a flipped byte in the stored checksum may sit past any prefix shown.
      fail("corrupted: checksum mismatch (stored SHA-256 " + to_hex(stored) +
           ", contents hash to " + to_hex(computed) + ")");
    }
    if (whole_input_ && in_.peek() != std::istream::traits_type::eof()) {
      fail("trailing bytes after the checksum");
    }
    return stored;
  }

  // A problem seen before the checksum: verify the checksum first (a damaged record is reported
  // as corrupted), then report the problem.
  [[noreturn]] void reject(const std::string& message) {
    drain();
    finish();
    fail(message);
  }

  template <class Context>
  void check_fingerprint(const Header& header, const Context& context) {
    const uint64_t expected = context.parameters().fingerprint();
    if (header.fingerprint != expected) {
      reject("made for other parameters: fingerprint " + hex64(header.fingerprint) +
             ", these parameters have " + hex64(expected));
    }
  }

  void expect_payload_length(const Header& header, uint64_t expected, const std::string& what) {
    if (header.payload_length != expected) {
      reject("payload length " + std::to_string(header.payload_length) + " bytes, " + what +
             " for these parameters needs " + std::to_string(expected));
    }
  }

  // One packed polynomial of the context's ring, every residue checked against its prime.
  template <class Context>
  RnsPoly read_polynomial(const Context& context, PolyForm form, const std::string& what) {
    RnsPoly poly(context.ring(), form);
    for (size_t i = 0; i < poly.rns_size(); ++i) {
      const Modulus& q = context.q_base()[i];
      const int bits = row_bits(q);
      scratch_.resize(packed_words(poly.n(), bits));
      read_words(scratch_.data(), scratch_.size(), what);
      uint64_t* row = poly.residues(i);
      unpack_row(scratch_.data(), poly.n(), bits, row);
      for (size_t j = 0; j < poly.n(); ++j) {
        if (row[j] >= q.value()) {
          reject("invalid " + what + ": residue row " + std::to_string(i + 1) +
                 " coefficient of x^" + std::to_string(j) + " is " + std::to_string(row[j]) +
                 ", not below the prime " + std::to_string(q.value()));
        }
      }
      if (!padding_is_zero(scratch_.data(), poly.n(), bits)) {
        reject("invalid " + what + ": nonzero padding bits after residue row " +
               std::to_string(i + 1));
      }
    }
    return poly;
  }

 private:
  void check_length(uint64_t after_header) const {
    const uint64_t limit = std::numeric_limits<uint64_t>::max() - kSerializationChecksumBytes;
    const bool too_long = payload_length_ > limit;
    const uint64_t needed = payload_length_ + kSerializationChecksumBytes;
    if (too_long || after_header < needed) {
      fail("truncated: the header declares a payload of " + std::to_string(payload_length_) +
           " bytes and a " + std::to_string(kSerializationChecksumBytes) +
           "-byte checksum, but only " + std::to_string(after_header) + " bytes follow the header");
    }
    if (whole_input_ && after_header > needed) {
      fail("trailing bytes: " + std::to_string(after_header - needed) +
           " bytes after the checksum");
    }
  }

  [[noreturn]] void fail_truncated(uint64_t bytes_after_header) const {
    fail("truncated: the header declares a payload of " + std::to_string(payload_length_) +
         " bytes and a " + std::to_string(kSerializationChecksumBytes) +
         "-byte checksum, but the input ends after " + std::to_string(bytes_after_header) +
         " of them");
  }

  // Reads the rest of the payload through the hash, in bounded chunks.
  void drain() {
    std::vector<uint8_t> chunk(std::min<uint64_t>(payload_left_, 1 << 16));
    while (payload_left_ > 0) {
      const size_t size = static_cast<size_t>(std::min<uint64_t>(payload_left_, chunk.size()));
      read(chunk.data(), size, "the payload");
    }
  }

  std::istream& in_;
  std::string source_;
  bool whole_input_;
  Sha256 hash_;
  uint64_t payload_length_ = 0;
  uint64_t payload_left_ = 0;
  std::vector<uint64_t> scratch_;
};

namespace {

std::string file_source(const std::string& path) {
  return "file '" + path + "'";
}

std::ifstream open_for_reading(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::runtime_error("cannot open " + file_source(path) +
                             " for reading: " + std::strerror(errno));
  }
  return in;
}

// Writes through an AtomicFileWriter; a failing stream is reported with the path. The key and
// parameter writers pass may_replace_keys; ciphertexts never replace a key file.
template <class Write>
void save_atomically(const std::string& path, bool owner_only, Write&& write,
                     bool may_replace_keys = false) {
  AtomicFileWriter file(path, owner_only, may_replace_keys);
  try {
    write(file.stream());
  } catch (const std::runtime_error& error) {
    throw std::runtime_error("cannot write " + file_source(path) + ": " + error.what() + " (" +
                             file.failure() + ")");
  }
  file.commit();
}

template <class Context>
void check_key_polynomial(const RnsPoly& poly, const Context& context, const std::string& what) {
  if (!same_parameters(poly, context)) {
    throw std::invalid_argument("writing " + what + ": it belongs to other parameters");
  }
  if (poly.form() != PolyForm::evaluation) {
    throw std::invalid_argument("writing " + what + ": keys are kept in evaluation form");
  }
}

template <class S>
void check_ciphertext(const Ciphertext& ct, const typename S::Context& context, uint64_t key_id,
                      size_t parts) {
  if (ct.parts.size() != parts) {
    throw std::invalid_argument("writing a " + std::string(S::kName) +
                                " ciphertext: " + std::to_string(ct.parts.size()) +
                                " parts, the batch holds " + std::to_string(parts));
  }
  if (!SchemeFormat<S>::parts_fit(ct.parts.size(), static_cast<uint64_t>(ct.degree))) {
    throw std::invalid_argument("writing a " + std::string(S::kName) + " ciphertext: degree " +
                                std::to_string(ct.degree) + " with " +
                                std::to_string(ct.parts.size()) + " parts");
  }
  for (const RnsPoly& part : ct.parts) {
    if (!same_parameters(part, context)) {
      throw std::invalid_argument("writing a ciphertext: it belongs to other parameters");
    }
    if (part.form() != PolyForm::coefficient) {
      throw std::invalid_argument("writing a ciphertext: ciphertexts are kept in coefficient form");
    }
  }
  if (ct.key_id != key_id) {
    throw std::invalid_argument("writing a ciphertext batch: ciphertext key id " +
                                hex64(ct.key_id) + " differs from the batch's " + hex64(key_id));
  }
}

template <class S>
size_t parts_or_fresh(size_t parts) {
  return parts == 0 ? SchemeFormat<S>::kFreshParts : parts;
}

template <class Context>
uint64_t ciphertext_record_bytes(const Context& context, size_t parts) {
  return 8 * kCiphertextRecordWords + parts * polynomial_bytes(context);
}

size_t secret_key_words(size_t n) {
  return (n + 31) / 32;
}

// s ∈ {-1, 0, 1} as 2-bit codes 0, 1, 2 (3 is invalid).
uint64_t ternary_code(int8_t value) {
  return value == -1 ? 2 : static_cast<uint64_t>(value);
}

template <class S>
Header object_header(char kind, const typename S::Context& context, uint64_t key_id,
                     uint64_t payload) {
  Header header;
  header.kind = kind;
  header.scheme = scheme_id<S>();
  header.fingerprint = context.parameters().fingerprint();
  header.key_id = key_id;
  header.payload_length = payload;
  return header;
}

// ---- Readers of whole objects, shared by the stream and file variants.

template <class S>
typename S::Parameters read_parameters_from(HashingReader& reader) {
  const Header header = reader.read_header(kParametersTag, scheme_id<S>());
  const uint64_t length = header.payload_length;
  const uint64_t min_length = 8 * (kParameterFixedWords + 1);
  // At most the primes a parameter set may have (FORMATS.md §2 Limits): more are refused by the
  // length alone, before the words are read, and not by validate() after.
  const uint64_t max_length = 8 * (kParameterFixedWords + rlwe::kMaxQPrimes);
  if (length < min_length || length > max_length || length % 8 != 0) {
    reader.reject(
        "payload length " + std::to_string(length) +
        " bytes is not that of parameters (8·(5 + k) bytes for k primes of q, 1 <= k <= " +
        std::to_string(rlwe::kMaxQPrimes) +
        ", the most a parameter set may have: FORMATS.md §2 Limits)");
  }
  std::vector<uint64_t> words(length / 8);
  reader.read_words(words.data(), words.size(), "the parameters");
  reader.finish();

  if (header.key_id != 0) {
    reader.fail("invalid parameters: key id field is " + hex64(header.key_id) + ", expected 0");
  }
  const uint64_t prime_count = words[1];
  if (prime_count != words.size() - kParameterFixedWords) {
    reader.fail("invalid parameters: " + std::to_string(prime_count) +
                " primes declared, the payload holds " +
                std::to_string(words.size() - kParameterFixedWords));
  }
  typename S::Parameters params;
  params.n = static_cast<size_t>(words[0]);
  params.q_primes.assign(words.begin() + 2,
                         words.begin() + 2 + static_cast<ptrdiff_t>(prime_count));
  size_t next = 2 + prime_count;
  params.t = words[next++];
  params.sigma = bits_double(words[next++]);
  const uint64_t decomposition_bits = words[next++];
  if (decomposition_bits > static_cast<uint64_t>(Modulus::kMaxBits)) {
    reader.fail("invalid parameters: decomposition_bits = " + std::to_string(decomposition_bits) +
                ", expected at most " + std::to_string(Modulus::kMaxBits));
  }
  params.decomposition_bits = static_cast<int>(decomposition_bits);
  try {
    params.validate();
  } catch (const std::invalid_argument& error) {
    reader.fail(std::string("invalid parameters: ") + error.what());
  }
  if (params.fingerprint() != header.fingerprint) {
    reader.fail("invalid parameters: the header's fingerprint " + hex64(header.fingerprint) +
                " is not theirs (" + hex64(params.fingerprint()) + ")");
  }
  return params;
}

template <class S>
typename S::PublicKey read_public_key_from(
    HashingReader& reader, const std::shared_ptr<const typename S::Context>& context) {
  using Format = SchemeFormat<S>;
  const Header header = reader.read_header(kPublicKeyTag, scheme_id<S>());
  reader.check_fingerprint(header, *context);
  reader.expect_payload_length(header, 8 + Format::kPublicKeyParts * polynomial_bytes(*context),
                               "a " + std::string(S::kName) + " public key");
  const uint64_t form = reader.read_word("the form");
  if (form != kEvaluationForm) {
    reader.reject("invalid public key: stored in " + form_name(form) + ", expected " +
                  form_name(kEvaluationForm));
  }
  std::vector<RnsPoly> polys;
  for (size_t i = 0; i < Format::kPublicKeyParts; ++i) {
    polys.push_back(
        reader.read_polynomial(*context, PolyForm::evaluation, Format::public_key_name(i)));
  }
  // The server re-randomises every output by adding an encryption of zero under this key; a part
  // that is zero modulo a prime makes that encryption small noise there, so that two runs of one
  // computation differ by a few bits instead of being unrelated (an audit). keygen never makes
  // one (a uniform or masked polynomial is zero with probability q_i^-n). Only such accidents are
  // caught: a client that builds its key with a structure it knows defeats the re-randomisation
  // whatever the server checks (README, What the server learns). Checked before finish(), as
  // reject() verifies the checksum first: a damaged file is reported as damaged.
  for (size_t i = 0; i < polys.size(); ++i) {
    for (size_t row = 0; row < polys[i].rns_size(); ++row) {
      const uint64_t* residues = polys[i].residues(row);
      if (std::all_of(residues, residues + polys[i].n(), [](uint64_t x) { return x == 0; })) {
        reader.reject("invalid public key: " + Format::public_key_name(i) +
                      " is zero modulo prime " + std::to_string(row + 1) + " of q (not a key " +
                      "keygen makes: the server's outputs would not be re-randomised)");
      }
    }
  }
  reader.finish();
  typename S::PublicKey key;
  Format::set_public_key(key, polys);
  key.key_id = header.key_id;
  return key;
}

template <class S>
typename S::EvaluationKey read_evaluation_key_from(
    HashingReader& reader, const std::shared_ptr<const typename S::Context>& context) {
  using Format = SchemeFormat<S>;
  const Header header = reader.read_header(kEvaluationKeyTag, scheme_id<S>());
  reader.check_fingerprint(header, *context);
  const size_t digits = Format::digit_count(*context);
  reader.expect_payload_length(header,
                               16 + digits * Format::kDigitParts * polynomial_bytes(*context),
                               "an evaluation key of " + std::to_string(digits) + " digits");
  const uint64_t form = reader.read_word("the form");
  if (form != kEvaluationForm) {
    reader.reject("invalid evaluation key: stored in " + form_name(form) + ", expected " +
                  form_name(kEvaluationForm));
  }
  const uint64_t count = reader.read_word("the digit count");
  if (count != digits) {
    reader.reject("invalid evaluation key: " + std::to_string(count) +
                  " key-switching digits, these parameters use " + std::to_string(digits));
  }
  typename S::EvaluationKey key;
  for (size_t d = 0; d < digits; ++d) {
    std::vector<RnsPoly> polys;
    for (size_t i = 0; i < Format::kDigitParts; ++i) {
      polys.push_back(
          reader.read_polynomial(*context, PolyForm::evaluation, Format::digit_name(d, i)));
    }
    Format::add_digit(key, polys);
  }
  reader.finish();
  key.key_id = header.key_id;
  return key;
}

// f is invertible in R_q iff none of its NTT values vanishes (R_q is a product of fields).
bool invertible(const RnsPoly& f_evaluation) {
  const auto values = f_evaluation.data();
  return std::find(values.begin(), values.end(), uint64_t{0}) == values.end();
}

// The secret key from its ternary coefficients.
yashe::SecretKey make_secret_key(HashingReader& reader, const yashe::Context& context,
                                 std::vector<int8_t> f_prime) {
  yashe::SecretKey key;
  // f = t·f' + 1 (BLLN13 §4, KeyGen).
  const auto t = static_cast<int64_t>(context.parameters().t);
  std::vector<int64_t> f_coeffs(f_prime.size());
  for (size_t j = 0; j < f_prime.size(); ++j)
    f_coeffs[j] = t * f_prime[j];
  f_coeffs[0] += 1;
  key.f = RnsPoly::from_signed(context.ring(), f_coeffs);
  key.f.to_evaluation();
  if (!invertible(key.f)) reader.fail("invalid secret key: f = t·f' + 1 is not invertible in R_q");
  key.f_prime = std::move(f_prime);
  return key;
}

bfv::SecretKey make_secret_key(HashingReader&, const bfv::Context& context,
                               std::vector<int8_t> coefficients) {
  bfv::SecretKey key;
  key.s = RnsPoly::from_signed(context.ring(),
                               std::vector<int64_t>(coefficients.begin(), coefficients.end()));
  key.s.to_evaluation();
  key.coefficients = std::move(coefficients);
  return key;
}

template <class S>
typename S::SecretKey read_secret_key_from(
    HashingReader& reader, const std::shared_ptr<const typename S::Context>& context) {
  const std::string name = SchemeFormat<S>::kSecretName;
  const Header header = reader.read_header(kSecretKeyTag, scheme_id<S>());
  reader.check_fingerprint(header, *context);
  const size_t n = context->n();
  reader.expect_payload_length(header, 8 * secret_key_words(n), "a secret key");
  std::vector<uint64_t> words(secret_key_words(n));
  reader.read_words(words.data(), words.size(), "the secret key");
  std::vector<int8_t> coefficients(n);
  for (size_t j = 0; j < 32 * words.size(); ++j) {
    const uint64_t code = (words[j / 32] >> (2 * (j % 32))) & 3;
    if (j >= n) {
      if (code != 0) reader.reject("invalid secret key: nonzero padding after " + name);
    } else if (code == 3) {
      reader.reject("invalid secret key: " + name + " coefficient of x^" + std::to_string(j) +
                    " has code 3, expected 0, 1 or 2 (0, 1, -1)");
    } else {
      coefficients[j] = code == 2 ? int8_t{-1} : static_cast<int8_t>(code);
    }
  }
  reader.finish();
  std::fill(words.begin(), words.end(), 0);
  typename S::SecretKey key = make_secret_key(reader, *context, std::move(coefficients));
  key.key_id = header.key_id;
  return key;
}

template <class S>
std::vector<Ciphertext> read_all_ciphertexts(BasicCiphertextReader<S>& reader) {
  std::vector<Ciphertext> batch;
  batch.reserve(static_cast<size_t>(std::min<uint64_t>(reader.count(), 1024)));
  while (reader.remaining() > 0)
    batch.push_back(reader.next());
  reader.finish();
  return batch;
}

template <class S>
void write_parameters_of(std::ostream& out, const typename S::Parameters& params) {
  params.validate();
  Header header;
  header.kind = kParametersTag;
  header.scheme = scheme_id<S>();
  header.fingerprint = params.fingerprint();
  header.payload_length = 8 * (kParameterFixedWords + params.q_primes.size());
  RecordWriter writer(out, "parameters", header);
  writer.write_word(params.n);
  writer.write_word(params.q_primes.size());
  for (uint64_t q : params.q_primes)
    writer.write_word(q);
  writer.write_word(params.t);
  writer.write_word(double_bits(params.sigma));
  writer.write_word(static_cast<uint64_t>(params.decomposition_bits));
  writer.finish();
}

template <class S>
void write_public_key_of(std::ostream& out, const typename S::Context& context,
                         const typename S::PublicKey& key) {
  using Format = SchemeFormat<S>;
  const auto polys = Format::public_key(key);
  for (const RnsPoly* poly : polys)
    check_key_polynomial(*poly, context, "a public key");
  RecordWriter writer(out, "a public key",
                      object_header<S>(kPublicKeyTag, context, key.key_id,
                                       8 + polys.size() * polynomial_bytes(context)));
  writer.write_word(kEvaluationForm);
  for (const RnsPoly* poly : polys)
    writer.write_polynomial(*poly);
  writer.finish();
}

template <class S>
void write_evaluation_key_of(std::ostream& out, const typename S::Context& context,
                             const typename S::EvaluationKey& key) {
  using Format = SchemeFormat<S>;
  const size_t digits = Format::digit_count(context);
  if (Format::digits_of(key) != digits) {
    throw std::invalid_argument("writing an evaluation key: it does not have the " +
                                std::to_string(digits) + " digits these parameters use");
  }
  for (size_t d = 0; d < digits; ++d) {
    for (const RnsPoly* poly : Format::digit(key, d))
      check_key_polynomial(*poly, context, "an evaluation key");
  }
  RecordWriter writer(
      out, "an evaluation key",
      object_header<S>(kEvaluationKeyTag, context, key.key_id,
                       16 + digits * Format::kDigitParts * polynomial_bytes(context)));
  writer.write_word(kEvaluationForm);
  writer.write_word(digits);
  for (size_t d = 0; d < digits; ++d) {
    for (const RnsPoly* poly : Format::digit(key, d))
      writer.write_polynomial(*poly);
  }
  writer.finish();
}

template <class S>
void write_secret_key_of(std::ostream& out, const typename S::Context& context,
                         const typename S::SecretKey& key) {
  const std::string name = SchemeFormat<S>::kSecretName;
  const std::vector<int8_t>& secret = SchemeFormat<S>::secret(key);
  const size_t n = context.n();
  if (secret.size() != n) {
    throw std::invalid_argument("writing a secret key: " + name + " has " +
                                std::to_string(secret.size()) + " coefficients, expected " +
                                std::to_string(n));
  }
  std::vector<uint64_t> words(secret_key_words(n), 0);
  for (size_t j = 0; j < n; ++j) {
    const int8_t value = secret[j];
    if (value < -1 || value > 1) {
      throw std::invalid_argument("writing a secret key: " + name + " coefficient of x^" +
                                  std::to_string(j) + " is " + std::to_string(value) +
                                  ", expected -1, 0 or 1");
    }
    words[j / 32] |= ternary_code(value) << (2 * (j % 32));
  }
  RecordWriter writer(out, "a secret key",
                      object_header<S>(kSecretKeyTag, context, key.key_id, 8 * words.size()));
  for (uint64_t word : words)
    writer.write_word(word);
  writer.finish();
  std::fill(words.begin(), words.end(), 0);
}

template <class S>
void write_ciphertexts_of(std::ostream& out, const typename S::Context& context,
                          const std::vector<Ciphertext>& batch) {
  const uint64_t key_id = batch.empty() ? 0 : batch.front().key_id;
  const size_t parts = batch.empty() ? SchemeFormat<S>::kFreshParts : batch.front().parts.size();
  // Check everything first so that a bad batch writes nothing.
  for (const Ciphertext& ct : batch)
    check_ciphertext<S>(ct, context, key_id, parts);
  using Context = typename S::Context;
  BasicCiphertextWriter<S> writer(out,
                                  std::shared_ptr<const Context>(&context, [](const Context*) {}),
                                  batch.size(), key_id, parts);
  for (const Ciphertext& ct : batch)
    writer.append(ct);
  writer.finish();
}

// The sizes of §4.2 and §4.3 from the parameters alone (a context computes the same from its
// tables: polynomial_bytes, digit_count).
template <class Parameters>
uint64_t polynomial_bytes_of(const Parameters& params) {
  uint64_t bytes = 0;
  for (uint64_t q : params.q_primes)
    bytes += 8 * packed_words(params.n, std::bit_width(q));
  return bytes;
}

template <class Parameters>
uint64_t digit_count_of(const Parameters& params) {
  const int digit_bits =
      params.decomposition_bits == 0 ? Modulus::kMaxBits : params.decomposition_bits;
  uint64_t digits = 0;
  for (uint64_t q : params.q_primes)
    digits += static_cast<uint64_t>((std::bit_width(q) + digit_bits - 1) / digit_bits);
  return digits;
}

template <class S>
uint64_t public_key_record_bytes_of(const typename S::Parameters& params) {
  return kSerializationHeaderBytes + 8 +
         SchemeFormat<S>::kPublicKeyParts * polynomial_bytes_of(params) +
         kSerializationChecksumBytes;
}

template <class S>
uint64_t evaluation_key_record_bytes_of(const typename S::Parameters& params) {
  return kSerializationHeaderBytes + 16 +
         digit_count_of(params) * SchemeFormat<S>::kDigitParts * polynomial_bytes_of(params) +
         kSerializationChecksumBytes;
}

template <class S>
uint64_t ciphertext_batch_bytes_of(const typename S::Context& context, uint64_t count,
                                   size_t parts) {
  return kSerializationHeaderBytes + 8 * kBatchFixedWords +
         count * ciphertext_record_bytes(context, parts_or_fresh<S>(parts)) +
         kSerializationChecksumBytes;
}

}  // namespace

// ---- The public functions: one overload per scheme, each the template above.

template <class S>
typename S::Parameters read_parameters(std::istream& in, const std::string& source_name) {
  HashingReader reader(in, source_name, false);
  return read_parameters_from<S>(reader);
}

template <class S>
typename S::Parameters load_parameters(const std::string& path) {
  std::ifstream in = open_for_reading(path);
  HashingReader reader(in, file_source(path), true);
  return read_parameters_from<S>(reader);
}

#define CRYPTONETS_SERIALIZE_SCHEME(S)                                                             \
  void write_parameters(std::ostream& out, const S::Parameters& params) {                          \
    write_parameters_of<S>(out, params);                                                           \
  }                                                                                                \
  void save_parameters(const std::string& path, const S::Parameters& params) {                     \
    save_atomically(                                                                               \
        path, false, [&](std::ostream& out) { write_parameters_of<S>(out, params); }, true);       \
  }                                                                                                \
  template S::Parameters read_parameters<S>(std::istream & in, const std::string& source_name);    \
  template S::Parameters load_parameters<S>(const std::string& path);                              \
  void write_public_key(std::ostream& out, const S::Context& context, const S::PublicKey& key) {   \
    write_public_key_of<S>(out, context, key);                                                     \
  }                                                                                                \
  S::PublicKey read_public_key(std::istream& in, const std::shared_ptr<const S::Context>& context, \
                               const std::string& source_name) {                                   \
    HashingReader reader(in, source_name, false);                                                  \
    return read_public_key_from<S>(reader, context);                                               \
  }                                                                                                \
  void save_public_key(const std::string& path, const S::Context& context,                         \
                       const S::PublicKey& key) {                                                  \
    save_atomically(                                                                               \
        path, false, [&](std::ostream& out) { write_public_key_of<S>(out, context, key); }, true); \
  }                                                                                                \
  S::PublicKey load_public_key(const std::string& path,                                            \
                               const std::shared_ptr<const S::Context>& context) {                 \
    std::ifstream in = open_for_reading(path);                                                     \
    HashingReader reader(in, file_source(path), true);                                             \
    return read_public_key_from<S>(reader, context);                                               \
  }                                                                                                \
  void write_evaluation_key(std::ostream& out, const S::Context& context,                          \
                            const S::EvaluationKey& key) {                                         \
    write_evaluation_key_of<S>(out, context, key);                                                 \
  }                                                                                                \
  S::EvaluationKey read_evaluation_key(std::istream& in,                                           \
                                       const std::shared_ptr<const S::Context>& context,           \
                                       const std::string& source_name) {                           \
    HashingReader reader(in, source_name, false);                                                  \
    return read_evaluation_key_from<S>(reader, context);                                           \
  }                                                                                                \
  void save_evaluation_key(const std::string& path, const S::Context& context,                     \
                           const S::EvaluationKey& key) {                                          \
    save_atomically(                                                                               \
        path, false, [&](std::ostream& out) { write_evaluation_key_of<S>(out, context, key); },    \
        true);                                                                                     \
  }                                                                                                \
  S::EvaluationKey load_evaluation_key(const std::string& path,                                    \
                                       const std::shared_ptr<const S::Context>& context) {         \
    std::ifstream in = open_for_reading(path);                                                     \
    HashingReader reader(in, file_source(path), true);                                             \
    return read_evaluation_key_from<S>(reader, context);                                           \
  }                                                                                                \
  void write_secret_key(std::ostream& out, const S::Context& context, const S::SecretKey& key) {   \
    write_secret_key_of<S>(out, context, key);                                                     \
  }                                                                                                \
  S::SecretKey read_secret_key(std::istream& in, const std::shared_ptr<const S::Context>& context, \
                               const std::string& source_name) {                                   \
    HashingReader reader(in, source_name, false);                                                  \
    return read_secret_key_from<S>(reader, context);                                               \
  }                                                                                                \
  void save_secret_key(const std::string& path, const S::Context& context,                         \
                       const S::SecretKey& key) {                                                  \
    save_atomically(                                                                               \
        path, true, [&](std::ostream& out) { write_secret_key_of<S>(out, context, key); }, true);  \
  }                                                                                                \
  S::SecretKey load_secret_key(const std::string& path,                                            \
                               const std::shared_ptr<const S::Context>& context) {                 \
    std::ifstream in = open_for_reading(path);                                                     \
    HashingReader reader(in, file_source(path), true);                                             \
    return read_secret_key_from<S>(reader, context);                                               \
  }                                                                                                \
  void write_ciphertexts(std::ostream& out, const S::Context& context,                             \
                         const std::vector<Ciphertext>& batch) {                                   \
    write_ciphertexts_of<S>(out, context, batch);                                                  \
  }                                                                                                \
  std::vector<Ciphertext> read_ciphertexts(std::istream& in,                                       \
                                           const std::shared_ptr<const S::Context>& context,       \
                                           const std::string& source_name) {                       \
    BasicCiphertextReader<S> reader(in, context, source_name, false);                              \
    return read_all_ciphertexts(reader);                                                           \
  }                                                                                                \
  void save_ciphertexts(const std::string& path, const S::Context& context,                        \
                        const std::vector<Ciphertext>& batch) {                                    \
    save_atomically(path, false,                                                                   \
                    [&](std::ostream& out) { write_ciphertexts_of<S>(out, context, batch); });     \
  }                                                                                                \
  std::vector<Ciphertext> load_ciphertexts(const std::string& path,                                \
                                           const std::shared_ptr<const S::Context>& context) {     \
    std::ifstream in = open_for_reading(path);                                                     \
    BasicCiphertextReader<S> reader(in, context, file_source(path), true);                         \
    return read_all_ciphertexts(reader);                                                           \
  }                                                                                                \
  uint64_t ciphertext_batch_bytes(const S::Context& context, uint64_t count, size_t parts) {       \
    return ciphertext_batch_bytes_of<S>(context, count, parts);                                    \
  }                                                                                                \
  uint64_t public_key_record_bytes(const S::Parameters& params) {                                  \
    return public_key_record_bytes_of<S>(params);                                                  \
  }                                                                                                \
  uint64_t evaluation_key_record_bytes(const S::Parameters& params) {                              \
    return evaluation_key_record_bytes_of<S>(params);                                              \
  }

CRYPTONETS_SERIALIZE_SCHEME(yashe::Scheme)
CRYPTONETS_SERIALIZE_SCHEME(bfv::Scheme)
#undef CRYPTONETS_SERIALIZE_SCHEME

// ---- Ciphertext batches, streamed.

template <class S>
BasicCiphertextWriter<S>::BasicCiphertextWriter(std::ostream& out,
                                                std::shared_ptr<const typename S::Context> context,
                                                uint64_t count, uint64_t key_id, size_t parts)
    : context_(std::move(context)),
      count_(count),
      key_id_(key_id),
      parts_(parts_or_fresh<S>(parts)) {
  if (!SchemeFormat<S>::parts_fit(parts_, 1) && !SchemeFormat<S>::parts_fit(parts_, 2)) {
    throw std::invalid_argument("CiphertextWriter: a " + std::string(S::kName) +
                                " ciphertext does not have " + std::to_string(parts_) + " parts");
  }
  const uint64_t record = ciphertext_record_bytes(*context_, parts_);
  if (count > (std::numeric_limits<uint64_t>::max() - 8 * kBatchFixedWords) / record) {
    throw std::invalid_argument("CiphertextWriter: " + std::to_string(count) +
                                " ciphertexts do not fit in one file");
  }
  writer_ = std::make_unique<RecordWriter>(
      out, "a ciphertext batch",
      object_header<S>(kCiphertextsTag, *context_, key_id, 8 * kBatchFixedWords + count * record));
  writer_->write_word(count);
  writer_->write_word(parts_);
}

template <class S>
BasicCiphertextWriter<S>::~BasicCiphertextWriter() = default;

template <class S>
void BasicCiphertextWriter<S>::append(const Ciphertext& ct) {
  if (written_ == count_) {
    throw std::invalid_argument("CiphertextWriter: the batch was declared with " +
                                std::to_string(count_) + " ciphertexts");
  }
  check_ciphertext<S>(ct, *context_, key_id_, parts_);
  writer_->write_word(static_cast<uint64_t>(ct.degree));
  writer_->write_word(kCoefficientForm);
  for (const RnsPoly& part : ct.parts)
    writer_->write_polynomial(part);
  ++written_;
}

template <class S>
Sha256::Digest BasicCiphertextWriter<S>::finish() {
  if (written_ != count_) {
    throw std::logic_error("CiphertextWriter: " + std::to_string(written_) + " of " +
                           std::to_string(count_) + " ciphertexts appended before finish()");
  }
  return writer_->finish();
}

template <class S>
BasicCiphertextReader<S>::BasicCiphertextReader(std::istream& in,
                                                std::shared_ptr<const typename S::Context> context,
                                                std::string source_name, bool whole_input)
    : reader_(std::make_unique<HashingReader>(in, std::move(source_name), whole_input)),
      context_(std::move(context)) {
  const Header header = reader_->read_header(kCiphertextsTag, scheme_id<S>());
  reader_->check_fingerprint(header, *context_);
  const uint64_t length = header.payload_length;
  if (length < 8 * kBatchFixedWords) {
    reader_->reject("payload length " + std::to_string(length) +
                    " bytes is too short for a ciphertext batch (at least 16)");
  }
  count_ = reader_->read_word("the ciphertext count");
  const uint64_t parts = reader_->read_word("the parts per ciphertext");
  if (!SchemeFormat<S>::parts_fit(parts, 1) && !SchemeFormat<S>::parts_fit(parts, 2)) {
    reader_->reject("invalid ciphertext batch: " + std::to_string(parts) +
                    " parts per ciphertext, a " + std::string(S::kName) + " ciphertext has " +
                    (SchemeFormat<S>::kFreshParts == 1 ? "1" : "2 or 3"));
  }
  parts_ = static_cast<size_t>(parts);
  const uint64_t record = ciphertext_record_bytes(*context_, parts_);
  if ((length - 8 * kBatchFixedWords) % record != 0 ||
      (length - 8 * kBatchFixedWords) / record != count_) {
    reader_->reject("payload length " + std::to_string(length) + " bytes does not match " +
                    std::to_string(count_) + " ciphertexts of " + std::to_string(record) +
                    " bytes each for these parameters");
  }
  key_id_ = header.key_id;
  fresh_noise_log2_ = SchemeFormat<S>::fresh_noise(*context_);
}

template <class S>
BasicCiphertextReader<S>::~BasicCiphertextReader() = default;

template <class S>
Ciphertext BasicCiphertextReader<S>::next() {
  if (read_ == count_) throw std::logic_error("CiphertextReader: no ciphertext left");
  const std::string what = "ciphertext " + std::to_string(read_ + 1);
  Ciphertext ct;
  const uint64_t degree = reader_->read_word(what + " degree");
  if (!SchemeFormat<S>::parts_fit(parts_, degree)) {
    reader_->reject("invalid " + what + ": degree " + std::to_string(degree) + ", expected " +
                    (SchemeFormat<S>::kFreshParts == 1 ? "1 or 2"
                                                       : std::to_string(parts_ - 1) + " for " +
                                                             std::to_string(parts_) + " parts"));
  }
  const uint64_t form = reader_->read_word(what + " form");
  if (form != kCoefficientForm) {
    reader_->reject("invalid " + what + ": stored in " + form_name(form) + ", expected " +
                    form_name(kCoefficientForm));
  }
  ct.noise_log2 = fresh_noise_log2_;  // files carry no noise estimate
  for (size_t i = 0; i < parts_; ++i)
    ct.parts.push_back(reader_->read_polynomial(*context_, PolyForm::coefficient, what));
  ct.degree = static_cast<int>(degree);
  ct.key_id = key_id_;
  ++read_;
  return ct;
}

template <class S>
Sha256::Digest BasicCiphertextReader<S>::finish() {
  if (read_ != count_) {
    throw std::logic_error("CiphertextReader: finish() after " + std::to_string(read_) + " of " +
                           std::to_string(count_) + " ciphertexts");
  }
  return reader_->finish();
}

template class BasicCiphertextWriter<yashe::Scheme>;
template class BasicCiphertextWriter<bfv::Scheme>;
template class BasicCiphertextReader<yashe::Scheme>;
template class BasicCiphertextReader<bfv::Scheme>;

// ---- Atomic files.

namespace {

// Makes the rename durable; best effort (some file systems refuse fsync on directories).
void sync_directory_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  const std::string directory =
      slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

}  // namespace

// An output buffer over a POSIX file descriptor (std::ofstream cannot set the mode or fsync).
class AtomicFileWriter::FdBuffer : public std::streambuf {
 public:
  explicit FdBuffer(int fd) : fd_(fd), buffer_(1 << 16) { reset(); }
  int error() const { return error_; }

 protected:
  int_type overflow(int_type ch) override {
    if (!flush_buffer()) return traits_type::eof();
    if (!traits_type::eq_int_type(ch, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(ch);
      pbump(1);
    }
    return traits_type::not_eof(ch);
  }

  std::streamsize xsputn(const char* bytes, std::streamsize count) override {
    if (count < static_cast<std::streamsize>(buffer_.size())) {
      return std::streambuf::xsputn(bytes, count);
    }
    // Large blocks (residue rows) bypass the buffer.
    if (!flush_buffer() || !write_all(bytes, static_cast<size_t>(count))) return 0;
    return count;
  }

  int sync() override { return flush_buffer() ? 0 : -1; }

 private:
  void reset() { setp(buffer_.data(), buffer_.data() + buffer_.size()); }

  bool flush_buffer() {
    const bool ok = write_all(pbase(), static_cast<size_t>(pptr() - pbase()));
    reset();
    return ok;
  }

  bool write_all(const char* bytes, size_t size) {
    while (size > 0) {
      const ssize_t written = ::write(fd_, bytes, size);
      if (written < 0) {
        if (errno == EINTR) continue;
        error_ = errno;
        return false;
      }
      bytes += written;
      size -= static_cast<size_t>(written);
    }
    return true;
  }

  int fd_;
  std::vector<char> buffer_;
  int error_ = 0;
};

namespace {

std::string directory_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
}

std::string base_name_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// A new file's directory must exist: checked before any work, where only the final write would
// otherwise find it missing (after the whole job, and after the command's other outputs).
void require_directory_of(const std::string& path) {
  const std::string directory = directory_of(path);
  std::error_code error;
  const std::filesystem::file_status status = std::filesystem::status(directory, error);
  if (std::filesystem::is_directory(status)) return;
  if (error && error != std::errc::no_such_file_or_directory &&
      error != std::errc::not_a_directory) {
    return;  // e.g. no permission to look: the write itself reports the cause
  }
  throw std::runtime_error("cannot write " + file_source(path) + ": " +
                           (std::filesystem::exists(status)
                                ? "'" + directory + "' is not a directory"
                                : "its directory '" + directory + "' does not exist") +
                           " (outputs go into an existing directory)");
}

// Named temporaries "<name>.tmp-<pid>-<n>" of a process that no longer exists (killed before it
// could remove them, on a file system without O_TMPFILE, or between link and rename): removed.
void remove_stale_temporaries(const std::string& path) {
  const std::string prefix = base_name_of(path) + ".tmp-";
  DIR* directory = ::opendir(directory_of(path).c_str());
  if (directory == nullptr) return;
  while (const dirent* entry = ::readdir(directory)) {
    const std::string name = entry->d_name;
    if (name.rfind(prefix, 0) != 0) continue;
    // Exactly temporary_name()'s shape, "<pid>-<counter>" in digits, and a regular file: a
    // user's file that merely starts with the prefix is never touched.
    const std::string rest = name.substr(prefix.size());
    const size_t dash = rest.find('-');
    const auto digits = [](const std::string& text) {
      return !text.empty() && text.size() <= 19 &&
             text.find_first_not_of("0123456789") == std::string::npos;
    };
    if (dash == std::string::npos || !digits(rest.substr(0, dash)) ||
        !digits(rest.substr(dash + 1))) {
      continue;
    }
    struct stat info {};
    if (::fstatat(::dirfd(directory), name.c_str(), &info, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISREG(info.st_mode)) {
      continue;
    }
    const long pid = std::strtol(rest.c_str(), nullptr, 10);
    if (pid <= 0 || pid == static_cast<long>(::getpid())) continue;
    if (!process_has_ended(pid)) continue;  // still running
    (void)::unlinkat(::dirfd(directory), name.c_str(), 0);
  }
  ::closedir(directory);
}

std::atomic<unsigned> temporary_counter{0};

std::string temporary_name(const std::string& path) {
  return path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(temporary_counter++);
}

// The write links its file in as temporary_name(target), then renames it: a name that fits the
// file system's NAME_MAX (or the path PATH_MAX) with no room for the ".tmp-PID-N" suffix failed
// at that link, after all the work (a trial: mnist --csv NAME of 255 bytes). Refused up front,
// allowing the counter 1000 more temporaries than this process has made.
void require_room_for_temporary_name(const std::string& path, const std::string& target) {
  const size_t suffix = std::string(".tmp-").size() + std::to_string(::getpid()).size() + 1 +
                        std::to_string(temporary_counter.load() + 1000).size();
  const long name_max = ::pathconf(directory_of(target).c_str(), _PC_NAME_MAX);
  const size_t most_per_name = name_max > 0 ? static_cast<size_t>(name_max) : 255;
  const size_t name = base_name_of(target).size();
  if (name + suffix > most_per_name) {
    throw std::runtime_error(
        "cannot write " + file_source(path) + ": its name is " + std::to_string(name) +
        " bytes, and the temporary name the write goes through (the name, then '.tmp-PID-N') "
        "would pass the " +
        std::to_string(most_per_name) + " bytes this file system allows per name: choose a name " +
        "of at most " + std::to_string(most_per_name - suffix) + " bytes");
  }
  if (target.size() + suffix >= static_cast<size_t>(PATH_MAX)) {
    throw std::runtime_error("cannot write " + file_source(path) + ": its path is " +
                             std::to_string(target.size()) +
                             " bytes, too long for the temporary file beside it (PATH_MAX " +
                             std::to_string(PATH_MAX) + "): choose a shorter path");
  }
}

}  // namespace

std::string file_replaced_by_write(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code error;
  const fs::file_status own = fs::symlink_status(path, error);
  // A name longer than the file system holds (NAME_MAX per component, PATH_MAX in all) passed
  // every check here and failed at the final link, after all the work (a trial: mnist --csv).
  if (error == std::errc::filename_too_long) {
    throw std::runtime_error("cannot write " + file_source(path) + ": " + error.message() +
                             " (a name of this path is longer than the file system allows)");
  }
  if (error || !fs::exists(own)) {  // a new file: its directory must be there to hold it
    require_directory_of(path);
    require_room_for_temporary_name(path, path);
    return path;
  }
  // Follow the chain by hand: canonical() and weakly_canonical() stop at a link whose file does
  // not exist yet, which is a link to be written through too.
  fs::path target = path;
  for (int depth = 0; fs::is_symlink(fs::symlink_status(target, error)); ++depth) {
    const fs::path next = fs::read_symlink(target, error);
    if (error || depth == 40) {
      throw std::runtime_error("cannot write " + file_source(path) +
                               ": cannot follow its symbolic link" +
                               (error ? ": " + error.message() : " (a loop?)"));
    }
    target = next.is_absolute() ? next : target.parent_path() / next;
  }
  const fs::file_status status = fs::status(target, error);
  if (!error && fs::exists(status) && !fs::is_regular_file(status)) {
    throw std::runtime_error("refusing to write " + file_source(path) +
                             ": it is not a regular file (a device, directory, FIFO or socket), "
                             "which the write would replace; choose a file path");
  }
  if (error || !fs::exists(status)) require_directory_of(target.string());  // a dangling link
  require_room_for_temporary_name(path, target.string());
  return target.string();
}

bool keep_owner_read_write(int fd, unsigned mode) {
  struct stat made {};
  const mode_t owner = static_cast<mode_t>(mode) & 0600;
  return ::fstat(fd, &made) == 0 &&
         ((made.st_mode & owner) == owner || ::fchmod(fd, (made.st_mode & 07777) | owner) == 0);
}

ReplacementFile::ReplacementFile(std::string target, unsigned mode) : target_(std::move(target)) {
  remove_stale_temporaries(target_);
  // The unnamed file is linked in through /proc/self/fd: without /proc, a named temporary.
  if (::access("/proc/self/fd", X_OK) == 0) {
    fd_ = ::open(directory_of(target_).c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC,
                 static_cast<mode_t>(mode));
    if (fd_ >= 0) path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  // No O_TMPFILE on this file system (EOPNOTSUPP) or kernel (EISDIR, EINVAL), or another
  // failure, which the named temporary then meets and reports.
  for (int attempt = 0; attempt < 100 && fd_ < 0; ++attempt) {
    temp_path_ = temporary_name(target_);
    // A fresh name, so O_EXCL (never follow or reuse an existing file) instead of O_TRUNC.
    fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                 static_cast<mode_t>(mode));
    if (fd_ < 0 && errno != EEXIST) break;
  }
  if (fd_ < 0) {
    const int error = errno;
    temp_path_.clear();
    throw std::system_error(error, std::generic_category(),
                            "cannot create a temporary file next to " + file_source(target_));
  }
  if (path_.empty()) path_ = temp_path_;
  // The umask takes what it will of `mode` for group and others, never the owner's read and
  // write that `mode` gives: under umask 0777 keygen wrote params and public.key with mode 0000,
  // which the next encrypt could not read (a trial).
  if (!keep_owner_read_write(fd_, mode)) {
    const int error = errno;
    discard();
    throw std::system_error(
        error, std::generic_category(),
        "cannot give the owner read and write on a temporary file next to " + file_source(target_));
  }
}

ReplacementFile::~ReplacementFile() {
  discard();
}

void ReplacementFile::replace() {
  auto fail = [this](const std::string& step, int error) {
    discard();
    throw std::system_error(error, std::generic_category(),
                            "cannot write " + file_source(target_) + ": " + step);
  };
  if (fd_ < 0) fail("the file was discarded", EBADF);
  if (::fsync(fd_) != 0) fail("fsync failed", errno);
  if (temp_path_.empty()) {
    // Give the unnamed file a temporary name, then rename it over the target: linkat cannot
    // replace an existing file.
    for (int attempt = 0; attempt < 100; ++attempt) {
      temp_path_ = temporary_name(target_);
      if (::linkat(AT_FDCWD, path_.c_str(), AT_FDCWD, temp_path_.c_str(), AT_SYMLINK_FOLLOW) == 0) {
        break;
      }
      const int error = errno;
      temp_path_.clear();
      if (error != EEXIST) fail("linkat failed", error);
    }
    if (temp_path_.empty()) fail("linkat failed", EEXIST);
  }
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) fail("close failed", errno);
  if (::rename(temp_path_.c_str(), target_.c_str()) != 0) fail("rename failed", errno);
  replaced_ = true;
  sync_directory_of(target_);
}

void ReplacementFile::link_as_new() {
  int error = 0;
  if (fd_ < 0) {
    error = EBADF;
  } else if (temp_path_.empty()) {
    if (::linkat(AT_FDCWD, path_.c_str(), AT_FDCWD, target_.c_str(), AT_SYMLINK_FOLLOW) == 0) {
      discard();  // closes the descriptor; the file stays under its name
      return;
    }
    error = errno;
  } else {
    if (::renameat2(AT_FDCWD, temp_path_.c_str(), AT_FDCWD, target_.c_str(), RENAME_NOREPLACE) ==
        0) {
      replaced_ = true;
      discard();
      return;
    }
    error = errno;
    if (error == EINVAL || error == ENOSYS || error == EOPNOTSUPP) {
      // A file system without RENAME_NOREPLACE (or an old kernel): a hard link, then the
      // temporary's name removed, leaves the same file under the target's name.
      if (::link(temp_path_.c_str(), target_.c_str()) == 0) {
        discard();
        return;
      }
      error = errno;
    }
  }
  discard();
  throw std::system_error(error, std::generic_category(),
                          "cannot give the finished output the name " + file_source(target_));
}

void ReplacementFile::discard() noexcept {
  if (fd_ >= 0) {
    ::close(fd_);  // the unnamed file goes with its last descriptor
    fd_ = -1;
  }
  if (!replaced_ && !temp_path_.empty()) {
    ::unlink(temp_path_.c_str());
    temp_path_.clear();
  }
}

AtomicFileWriter::AtomicFileWriter(std::string path, bool owner_only, bool may_replace_keys,
                                   bool may_replace_profile)
    : path_(file_replaced_by_write(path)) {
  if (!may_replace_keys) refuse_to_replace_key_file(path_, may_replace_profile);
  file_ = std::make_unique<ReplacementFile>(path_, owner_only ? 0600 : 0644);
  // The umask may have removed bits; the secret key must be exactly owner read/write.
  if (owner_only && ::fchmod(file_->fd(), 0600) != 0) {
    const int error = errno;
    discard();
    throw std::system_error(
        error, std::generic_category(),
        "cannot set mode 0600 on a temporary file next to " + file_source(path_));
  }
  buffer_ = std::make_unique<FdBuffer>(file_->fd());
  stream_ = std::make_unique<std::ostream>(buffer_.get());
}

AtomicFileWriter::~AtomicFileWriter() {
  discard();
}

std::ostream& AtomicFileWriter::stream() {
  return *stream_;
}

std::string AtomicFileWriter::failure() const {
  const int error = buffer_ ? buffer_->error() : 0;
  return error != 0 ? std::strerror(error) : "the output stream failed";
}

void AtomicFileWriter::commit() {
  stream_->flush();
  if (!*stream_) {
    const int error = buffer_->error() != 0 ? buffer_->error() : EIO;
    discard();
    throw std::system_error(error, std::generic_category(),
                            "cannot write " + file_source(path_) + ": write failed");
  }
  file_->replace();
}

void AtomicFileWriter::discard() noexcept {
  if (file_) file_->discard();
}

std::string special_file_kind(const std::string& path) {
  struct stat status {};
  if (::stat(path.c_str(), &status) != 0 || S_ISREG(status.st_mode)) return "";
  if (S_ISFIFO(status.st_mode)) return "a FIFO (named pipe)";
  if (S_ISSOCK(status.st_mode)) return "a socket";
  if (S_ISCHR(status.st_mode)) return "a character device";
  if (S_ISBLK(status.st_mode)) return "a block device";
  if (S_ISDIR(status.st_mode)) return "a directory";
  return "not a regular file";
}

void require_regular_input(const std::string& path) {
  const std::string kind = special_file_kind(path);
  if (kind.empty() || kind == "a directory") return;
  throw std::runtime_error("cannot read file '" + path + "': it is " + kind +
                           ", not a regular file (inputs are read from regular files only)");
}

void refuse_to_replace_key_file(const std::string& path, bool may_replace_profile) {
  // Only a regular file can be a key file; opening a FIFO to look would wait for a writer.
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) return;
  std::ifstream existing(path, std::ios::binary);
  if (!existing) return;
  // The first 64 KiB: enough for a profile's comment lines, little for a large file.
  std::string start(size_t{64} << 10, '\0');
  existing.read(start.data(), static_cast<std::streamsize>(start.size()));
  start.resize(static_cast<size_t>(existing.gcount()));
  // A key set's DIR/model.profile decides how encrypt quantises and decrypt decodes: losing it
  // sends those commands to the shipped profile, which may be another model's. A profile is
  // recognised as its reader reads it (io/model_profile.cpp): the first line that is not empty,
  // blank or a '#' comment starts with the word cryptonets-profile.
  bool profile = false;
  std::istringstream lines(start);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream words(line);
    std::string first;
    if (!(words >> first)) continue;
    profile = first == "cryptonets-profile";
    break;
  }
  if (!may_replace_profile && profile) {
    throw std::runtime_error("refusing to write over " + file_source(path) +
                             ": it is a model profile (outputs never replace a key set's "
                             "model.profile or another profile; choose another path)");
  }
  if (start.size() < 5) return;
  const char head[5] = {start[0], start[1], start[2], start[3], start[4]};
  const std::string magic(head, 4);
  const char kind = head[4];
  if ((magic != "CNPF" && magic != "CNET") ||
      (kind != 'P' && kind != 'K' && kind != 'E' && kind != 'S')) {
    return;
  }
  const char* what = kind == 'P'   ? "a parameter set"
                     : kind == 'K' ? "a public key file"
                     : kind == 'E' ? "an evaluation key file"
                                   : "a secret key file";
  throw std::runtime_error("refusing to write over " + file_source(path) + ": it is " + what +
                           " (outputs never replace keys; choose another path)");
}

bool process_has_ended(long pid) {
  if (pid <= 0 || pid > std::numeric_limits<pid_t>::max()) return false;
  if (::kill(static_cast<pid_t>(pid), 0) != 0) return errno == ESRCH;
  // kill succeeds on a zombie too (found by a trial: a SIGKILLed keygen whose parent had not
  // reaped it kept its staging directory through the next keygen). The state is the first field
  // after the command name, which is in parentheses and may itself hold ") ".
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  // Unreadable: reaped meanwhile, or no /proc (then taken as running, as kill says).
  if (!std::getline(stat, line)) return ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
  const size_t name_end = line.rfind(')');
  if (name_end == std::string::npos || name_end + 2 >= line.size()) return false;
  const char state = line[name_end + 2];
  return state == 'Z' || state == 'X';
}

}  // namespace cryptonets
