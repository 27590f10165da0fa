// Protocol files: a checksummed header and k CNET records per object (format in
// protocol_files.hpp).
#include "cryptonets/io/protocol_files.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <system_error>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cryptonets/arith/format.hpp"
#include "cryptonets/bfv/encryptor.hpp"
#include "cryptonets/io/input_file.hpp"
#include "cryptonets/io/little_endian.hpp"
#include "cryptonets/io/sha256.hpp"
#include "cryptonets/random/chacha20.hpp"
#include "cryptonets/yashe/encryptor.hpp"

using cryptonets::inference::EncryptedBatch;

namespace cryptonets {

namespace {

constexpr std::array<uint8_t, 4> kProtocolMagic = {'C', 'N', 'P', 'F'};
constexpr std::array<uint8_t, 4> kRecordMagic = {'C', 'N', 'E', 'T'};
constexpr size_t kHeaderFieldBytes = 128;  // before the header's SHA-256
constexpr size_t kSourceOffset = 80;       // source images, then the source SHA-256
constexpr size_t kProfileOffset = 120;     // the model profile fingerprint
constexpr std::array<uint8_t, 4> kBindingMagic = {'C', 'N', 'R', 'B'};
constexpr size_t kBindingFieldBytes = 32;  // magic, reserved, file id, index, count
constexpr size_t kHeaderFieldOffset = 8;   // after magic, kind, reserved byte and version

std::string hex64(uint64_t value) {
  char text[24];
  std::snprintf(text, sizeof text, "0x%016llx", static_cast<unsigned long long>(value));
  return text;
}

std::string file_source(const std::string& path) {
  return "file '" + path + "'";
}

[[noreturn]] void fail(const std::string& source, const std::string& message) {
  throw std::runtime_error(source + ": " + message);
}

bool known_kind(uint8_t tag) {
  return tag == 'P' || tag == 'K' || tag == 'E' || tag == 'S' || tag == 'C';
}

// First 8 bytes of SHA-256(tag ‖ count ‖ words), little-endian: a 64-bit identity of a list.
uint64_t hash_words(const char* domain_tag, const std::vector<uint64_t>& words) {
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

std::array<uint8_t, kProtocolHeaderBytes> encode_header(const ProtocolHeader& header) {
  std::array<uint8_t, kProtocolHeaderBytes> bytes{};
  std::copy(kProtocolMagic.begin(), kProtocolMagic.end(), bytes.begin());
  bytes[4] = static_cast<uint8_t>(header.kind);
  bytes[5] = static_cast<uint8_t>(header.scheme);
  store_le(&bytes[6], kProtocolFileVersion, 2);
  const uint64_t fields[] = {header.parameter_set_fingerprint,
                             header.key_set_id,
                             header.moduli,
                             header.images,
                             header.batch_size,
                             header.values,
                             header.first_image,
                             header.file_id,
                             header.answers_file_id,
                             header.source.images};
  static_assert(kHeaderFieldOffset + 8 * std::size(fields) == kSourceOffset + 8);
  for (size_t i = 0; i < std::size(fields); ++i)
    store_le(&bytes[kHeaderFieldOffset + 8 * i], fields[i], 8);
  static_assert(kSourceOffset + 8 + sizeof(header.source.sha256) == kProfileOffset);
  std::copy(header.source.sha256.begin(), header.source.sha256.end(),
            bytes.begin() + kSourceOffset + 8);
  static_assert(kProfileOffset + 8 == kHeaderFieldBytes);
  store_le(&bytes[kProfileOffset], header.profile_fingerprint, 8);
  const Sha256::Digest digest = sha256({bytes.data(), kHeaderFieldBytes});
  std::copy(digest.begin(), digest.end(), bytes.begin() + kHeaderFieldBytes);
  return bytes;
}

}  // namespace

// "CNRB" | reserved (4 bytes, 0) | file id | record index | record count | SHA-256 of those 32
// bytes followed by the record's own SHA-256 checksum.
std::array<uint8_t, kProtocolBindingBytes> encode_binding(uint64_t file_id, uint64_t index,
                                                          uint64_t count,
                                                          const Sha256::Digest& record_digest) {
  std::array<uint8_t, kProtocolBindingBytes> bytes{};
  std::copy(kBindingMagic.begin(), kBindingMagic.end(), bytes.begin());
  store_le(&bytes[8], file_id, 8);
  store_le(&bytes[16], index, 8);
  store_le(&bytes[24], count, 8);
  Sha256 hash;
  hash.update({bytes.data(), kBindingFieldBytes});
  hash.update(record_digest);
  const Sha256::Digest digest = hash.digest();
  std::copy(digest.begin(), digest.end(), bytes.begin() + kBindingFieldBytes);
  return bytes;
}

namespace {

// The header's own consistency, after its checksum has been verified.
void check_header_fields(const ProtocolHeader& header, const std::string& source) {
  if (header.moduli == 0 || header.moduli > kMaxProtocolModuli) {
    fail(source, "invalid header: " + std::to_string(header.moduli) +
                     " plaintext moduli, expected 1 to " + std::to_string(kMaxProtocolModuli));
  }
  const bool ciphertexts = header.kind == ProtocolFileKind::kCiphertexts;
  if (!ciphertexts &&
      (header.images != 0 || header.batch_size != 0 || header.values != 0 ||
       header.first_image != 0 || header.file_id != 0 || header.answers_file_id != 0 ||
       header.source.images != 0 || header.source.sha256 != Sha256::Digest{} ||
       header.profile_fingerprint != 0)) {
    fail(source,
         "invalid header: image fields set in a file of " + protocol_kind_name(header.kind));
  }
  if (ciphertexts && (header.images == 0 || header.batch_size == 0 || header.values == 0)) {
    fail(source, "invalid header: a ciphertext file needs images, batch size and values >= 1 (" +
                     std::to_string(header.images) + ", " + std::to_string(header.batch_size) +
                     ", " + std::to_string(header.values) + ")");
  }
  if (header.images > UINT64_MAX - header.first_image) {
    fail(source, "invalid header: first image " + std::to_string(header.first_image) + " + " +
                     std::to_string(header.images) + " images exceeds 2^64 - 1");
  }
  // B·K records, each bound to its index and to B·K (§5.4): a count past 2^64 - 1 wrapped, to 0
  // for 2^63 images of one per batch under 2 moduli, and the bare header passed as a whole file.
  if (ciphertexts && header.batch_count() > UINT64_MAX / header.moduli) {
    fail(source, "invalid header: " + std::to_string(header.batch_count()) + " batches under " +
                     std::to_string(header.moduli) +
                     " plaintext moduli make more than 2^64 - 1 records");
  }
  if (ciphertexts && header.file_id == 0) fail(source, "invalid header: file id 0");
  if (ciphertexts && header.source.images < header.first_image + header.images) {
    fail(source, "invalid header: images " + std::to_string(header.first_image) + " to " +
                     std::to_string(header.first_image + header.images - 1) +
                     " of a source images file of " + std::to_string(header.source.images));
  }
}

// Files of another format version are refused with what to do about them.
void check_version(uint16_t version, ProtocolFileKind kind, const std::string& source) {
  if (version != kProtocolFileVersion) fail(source, protocol_version_refusal(version, kind));
}

ProtocolHeader read_header(std::istream& in, const std::string& source) {
  std::array<uint8_t, kProtocolHeaderBytes> bytes{};
  in.read(reinterpret_cast<char*>(bytes.data()), bytes.size());
  const auto got = static_cast<size_t>(in.gcount());
  if (got == 0) fail(source, "empty file, expected a cryptonets protocol file");
  const size_t compared = std::min(got, kProtocolMagic.size());
  if (!std::equal(kProtocolMagic.begin(), kProtocolMagic.begin() + compared, bytes.begin())) {
    if (got >= kRecordMagic.size() &&
        std::equal(kRecordMagic.begin(), kRecordMagic.end(), bytes.begin())) {
      fail(source,
           "a single CNET record (serialize.hpp), not a cryptonets protocol file (\"CNPF\")");
    }
    char text[128];
    std::snprintf(text, sizeof text,
                  "not a cryptonets protocol file (it starts with bytes %02x %02x %02x %02x, "
                  "expected \"CNPF\")",
                  bytes[0], bytes[1], bytes[2], bytes[3]);
    fail(source, text);
  }
  // Kind and version before the length: a version 1 file (88-byte header) is named as such.
  if (got > 4 && !known_kind(bytes[4])) {
    fail(source, "unknown protocol file kind (tag 0x" + hex64(bytes[4]).substr(16) + ")");
  }
  if (got >= kHeaderFieldOffset) {
    check_version(static_cast<uint16_t>(load_le(&bytes[6], 2)),
                  static_cast<ProtocolFileKind>(bytes[4]), source);
  }
  if (got < bytes.size()) {
    fail(source, "truncated: " + std::to_string(got) + " bytes, the header alone needs " +
                     std::to_string(bytes.size()));
  }
  const Sha256::Digest digest = sha256({bytes.data(), kHeaderFieldBytes});
  if (!std::equal(digest.begin(), digest.end(), bytes.begin() + kHeaderFieldBytes)) {
    fail(source, "corrupted: header checksum mismatch");
  }
  if (!known_scheme(bytes[5])) {
    fail(source, "invalid header: scheme byte " + std::to_string(bytes[5]) +
                     ", expected 'Y' (YASHE') or 'B' (BFV)");
  }
  ProtocolHeader header;
  header.kind = static_cast<ProtocolFileKind>(bytes[4]);
  header.scheme = static_cast<SchemeId>(bytes[5]);
  header.parameter_set_fingerprint = load_le(&bytes[8], 8);
  header.key_set_id = load_le(&bytes[16], 8);
  header.moduli = load_le(&bytes[24], 8);
  header.images = load_le(&bytes[32], 8);
  header.batch_size = load_le(&bytes[40], 8);
  header.values = load_le(&bytes[48], 8);
  header.first_image = load_le(&bytes[56], 8);
  header.file_id = load_le(&bytes[64], 8);
  header.answers_file_id = load_le(&bytes[72], 8);
  header.source.images = load_le(&bytes[kSourceOffset], 8);
  std::copy(bytes.begin() + kSourceOffset + 8, bytes.begin() + kProfileOffset,
            header.source.sha256.begin());
  header.profile_fingerprint = load_le(&bytes[kProfileOffset], 8);
  check_header_fields(header, source);
  return header;
}

// `what` names what the file is read with, for the cross-scheme refusal.
ProtocolHeader read_header_of_kind(std::istream& in, const std::string& source,
                                   ProtocolFileKind expected, SchemeId scheme,
                                   const std::string& what) {
  const ProtocolHeader header = read_header(in, source);
  if (header.kind != expected) {
    fail(source,
         "holds " + protocol_kind_name(header.kind) + ", expected " + protocol_kind_name(expected));
  }
  if (header.scheme != scheme) {
    throw std::runtime_error(scheme_mismatch(source, header.scheme, scheme, what));
  }
  return header;
}

// The header belongs to the parameter set of `moduli` records and fingerprint `expected` (§3.3).
void check_parameter_set(const ProtocolHeader& header, uint64_t moduli, uint64_t expected,
                         const std::string& source) {
  if (header.moduli != moduli) {
    fail(source, "made for other parameters: " +
                     counted(header.moduli, "plaintext modulus", "plaintext moduli") +
                     ", the parameter set has " + std::to_string(moduli));
  }
  if (header.parameter_set_fingerprint != expected) {
    fail(source, "made for other parameters: parameter set fingerprint " +
                     hex64(header.parameter_set_fingerprint) + ", the parameter set has " +
                     hex64(expected));
  }
}

// The header belongs to this parameter set (and, for keys and ciphertexts, to these keys).
template <class Contexts>
void check_parameter_set(const ProtocolHeader& header, const Contexts& contexts,
                         const std::string& source) {
  check_parameter_set(header, contexts.size(), parameter_set_fingerprint(contexts), source);
}

// Failures of the operating system (the open, or a read: EMFILE, ENOMEM, EIO, ...) are thrown as
// std::system_error carrying errno, so that a caller can tell them from what the file holds: a
// read error must not pass for a truncated file (protocol_files.hpp).
std::ifstream open_for_reading(const std::string& path) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    throw std::runtime_error("cannot read " + file_source(path) + ": it is a directory");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::system_error(errno, std::generic_category(),
                            "cannot open " + file_source(path) + " for reading");
  }
  in.exceptions(std::ios::badbit);  // a failed read(2) throws instead of looking like the end
  return in;
}

// read() on `path`, its read errors (std::ios_base::failure from the stream) rethrown naming the
// file.
template <class Read>
auto reading(const std::string& path, Read read) -> decltype(read()) {
  try {
    return read();
  } catch (const std::ios_base::failure& e) {
    throw std::system_error(e.code(), "cannot read " + file_source(path));
  }
}

// Whether `in` goes on with a secret key: its protocol file or one of its records (the magic, then
// the kind 'S'). Reads 5 bytes.
bool starts_secret_keys(std::istream& in) {
  std::array<uint8_t, 5> start{};
  in.read(reinterpret_cast<char*>(start.data()), start.size());
  return in.gcount() == static_cast<std::streamsize>(start.size()) &&
         start[4] == static_cast<uint8_t>(ProtocolFileKind::kSecretKeys) &&
         (std::equal(kRecordMagic.begin(), kRecordMagic.end(), start.begin()) ||
          std::equal(kProtocolMagic.begin(), kProtocolMagic.end(), start.begin()));
}

// A secret key (its file or its records) after the last record is named as such
// (SecretKeyRecordsError): the service answers it as a secret key sent.
void expect_end(std::istream& in, const std::string& source) {
  if (in.peek() == std::istream::traits_type::eof()) return;
  if (starts_secret_keys(in)) {
    throw SecretKeyRecordsError(source +
                                ": trailing bytes after the last record: a secret key (the "
                                "server never holds the secret key)");
  }
  fail(source, "trailing bytes after the last record");
}

std::string record_source(const std::string& source, size_t modulus, size_t moduli) {
  return source + " (modulus " + std::to_string(modulus + 1) + " of " + std::to_string(moduli) +
         ")";
}

void write_header(std::ostream& out, const ProtocolHeader& header) {
  const auto bytes = encode_header(header);
  out.write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// Writes header and one record per modulus atomically; write_one(out, context, key).
template <class S, class Key, class WriteOne>
void save_key_file(const std::string& path, ProtocolFileKind kind,
                   const BasicContextSet<S>& contexts, const std::vector<Key>& keys,
                   bool owner_only, WriteOne write_one) {
  if (keys.size() != contexts.size() || contexts.empty()) {
    throw std::invalid_argument("saving " + protocol_kind_name(kind) + ": " +
                                std::to_string(keys.size()) + " keys for " +
                                std::to_string(contexts.size()) + " plaintext moduli");
  }
  ProtocolHeader header;
  header.kind = kind;
  header.scheme = scheme_id<S>();
  header.parameter_set_fingerprint = parameter_set_fingerprint(contexts);
  header.key_set_id = key_set_id(key_ids_of(keys));
  header.moduli = contexts.size();
  AtomicFileWriter file(path, owner_only, /*may_replace_keys=*/true);
  try {
    write_header(file.stream(), header);
    for (size_t i = 0; i < keys.size(); ++i)
      write_one(file.stream(), *contexts[i], keys[i]);
    if (!file.stream()) throw std::runtime_error("the output stream failed");
  } catch (const std::runtime_error& error) {
    throw std::runtime_error("cannot write " + file_source(path) + ": " + error.what() + " (" +
                             file.failure() + ")");
  }
  file.commit();
}

template <class S, class Key, class ReadOne>
std::vector<Key> load_key_records(const std::string& path, ProtocolFileKind kind,
                                  const BasicContextSet<S>& contexts, ReadOne read_one) {
  const std::string source = file_source(path);
  std::ifstream in = open_for_reading(path);
  const ProtocolHeader header =
      read_header_of_kind(in, source, kind, scheme_id<S>(), "the parameter set is");
  check_parameter_set(header, contexts, source);
  std::vector<Key> keys;
  for (size_t i = 0; i < contexts.size(); ++i)
    keys.push_back(read_one(in, contexts[i], record_source(source, i, contexts.size())));
  expect_end(in, source);
  if (header.key_set_id != key_set_id(key_ids_of(keys))) {
    fail(source, "invalid: the header's key set id " + hex64(header.key_set_id) +
                     " is not that of its records (assembled from different key generations?)");
  }
  return keys;
}

template <class S, class Key, class ReadOne>
std::vector<Key> load_key_file(const std::string& path, ProtocolFileKind kind,
                               const BasicContextSet<S>& contexts, ReadOne read_one) {
  return reading(path, [&] { return load_key_records<S, Key>(path, kind, contexts, read_one); });
}

}  // namespace

std::string protocol_kind_name(ProtocolFileKind kind) {
  switch (kind) {
    case ProtocolFileKind::kParameterSet:
      return "a parameter set";
    case ProtocolFileKind::kPublicKeys:
      return "public keys";
    case ProtocolFileKind::kEvaluationKeys:
      return "evaluation keys";
    case ProtocolFileKind::kSecretKeys:
      return "secret keys";
    case ProtocolFileKind::kCiphertexts:
      return "ciphertexts";
  }
  return "an unknown kind of file";
}

std::string protocol_version_refusal(uint16_t version, ProtocolFileKind kind) {
  // Versions count from 1: a 0 was never written, so "no longer supported" would send the user
  // looking for an older cryptonets that never existed (found by a trial of inspect).
  if (version == 0) {
    return "format version 0 is not a valid version; this build reads " +
           std::to_string(kProtocolFileVersion) +
           " (the file is damaged or was not written by cryptonets)";
  }
  if (version > kProtocolFileVersion) {
    return "format version " + std::to_string(version) + ", this build reads " +
           std::to_string(kProtocolFileVersion) + " (written by a newer cryptonets)";
  }
  // Version 1 ciphertext files do not record their first image, version 2 files do not bind their
  // records to the file and carry noise estimates in clear, version 3 files do not say which
  // scheme they belong to, version 4 files do not record their images file, version 5 files do
  // not record the model profile they were encrypted with. One version for all
  // files keeps the rule simple: everything is made again.
  const std::string redo = kind == ProtocolFileKind::kCiphertexts
                               ? "re-run encrypt (and infer on its output)"
                               : "re-run keygen";
  return "format version " + std::to_string(version) +
         " is no longer supported; this build reads " + std::to_string(kProtocolFileVersion) +
         " (written by an older cryptonets; " + redo + ")";
}

std::string other_profile_refusal(const std::string& file, uint64_t found, uint64_t expected,
                                  ProfileSource source) {
  const std::string fetch = source == ProfileSource::kService
                                ? "cryptonets client profile --server URL --out FILE"
                                : "made with cryptonets profile --model MODEL --out FILE";
  return file + " was encrypted with another model profile (fingerprint " + hex64(found) +
         ") than the server's model (profile fingerprint " + hex64(expected) +
         "): its images were quantised and laid out for another model, and its scores would "
         "decrypt to wrong labels. Fetch the server's profile (" +
         fetch + "), make keys for it (keygen --profile FILE) and encrypt again";
}

uint64_t ProtocolHeader::batch_count() const {
  // ceil(images / batch_size) without images + batch_size - 1, which wraps for huge headers.
  return batch_size == 0 ? 0 : images / batch_size + (images % batch_size != 0 ? 1 : 0);
}

uint64_t ProtocolHeader::images_in_batch(uint64_t batch) const {
  if (batch >= batch_count()) return 0;
  return std::min(batch_size, images - batch * batch_size);
}

namespace {

template <class S>
BasicContextSet<S> make_contexts(const typename S::Parameters& base,
                                 const std::vector<uint64_t>& moduli) {
  if (moduli.empty()) throw std::invalid_argument("make_context_set: no plaintext modulus");
  if (moduli.size() > kMaxProtocolModuli) {
    throw std::invalid_argument("make_context_set: " + std::to_string(moduli.size()) +
                                " plaintext moduli, more than the " +
                                std::to_string(kMaxProtocolModuli) + " this build supports");
  }
  BasicContextSet<S> contexts;
  for (uint64_t t : moduli) {
    typename S::Parameters params = base;
    params.t = t;
    contexts.push_back(S::Context::create(params));
  }
  return contexts;
}

template <class Contexts>
std::vector<uint64_t> moduli_of(const Contexts& contexts) {
  std::vector<uint64_t> moduli;
  for (const auto& context : contexts)
    moduli.push_back(context->parameters().t);
  return moduli;
}

// Parameter fingerprints are domain-separated by scheme (yashe/, bfv/ parameters.cpp), so the
// identity of a set differs between the schemes too.
template <class Contexts>
uint64_t fingerprint_of(const Contexts& contexts) {
  std::vector<uint64_t> fingerprints;
  for (const auto& context : contexts)
    fingerprints.push_back(context->parameters().fingerprint());
  return hash_words("cryptonets parameter set 1", fingerprints);
}

// The same identity from the parameters, before any context is built.
template <class Parameters>
uint64_t fingerprint_of_records(const std::vector<Parameters>& records) {
  std::vector<uint64_t> fingerprints;
  for (const Parameters& params : records)
    fingerprints.push_back(params.fingerprint());
  return hash_words("cryptonets parameter set 1", fingerprints);
}

}  // namespace

ContextSet make_context_set(const yashe::Parameters& base, const std::vector<uint64_t>& moduli) {
  return make_contexts<yashe::Scheme>(base, moduli);
}
BfvContextSet make_context_set(const bfv::Parameters& base, const std::vector<uint64_t>& moduli) {
  return make_contexts<bfv::Scheme>(base, moduli);
}
std::vector<uint64_t> plaintext_moduli_of(const ContextSet& contexts) {
  return moduli_of(contexts);
}
std::vector<uint64_t> plaintext_moduli_of(const BfvContextSet& contexts) {
  return moduli_of(contexts);
}
uint64_t parameter_set_fingerprint(const ContextSet& contexts) {
  return fingerprint_of(contexts);
}
uint64_t parameter_set_fingerprint(const BfvContextSet& contexts) {
  return fingerprint_of(contexts);
}

uint64_t key_set_id(const std::vector<uint64_t>& key_ids) {
  return hash_words("cryptonets key set 1", key_ids);
}

KeyDirectory::KeyDirectory(const std::string& directory)
    : parameters(directory + "/params"),
      public_keys(directory + "/public.key"),
      evaluation_keys(directory + "/evaluation.key"),
      secret_keys(directory + "/secret.key") {}

ProtocolHeader read_protocol_header(const std::string& path) {
  return reading(path, [&] {
    std::ifstream in = open_for_reading(path);
    return read_header(in, file_source(path));
  });
}

SchemeId protocol_file_scheme(const std::string& path) {
  return read_protocol_header(path).scheme;
}

namespace {

template <class S>
void save_parameters_file(const std::string& path, const BasicContextSet<S>& contexts,
                          uint64_t key_set) {
  if (contexts.empty()) throw std::invalid_argument("save_parameter_set: no plaintext modulus");
  ProtocolHeader header;
  header.kind = ProtocolFileKind::kParameterSet;
  header.scheme = scheme_id<S>();
  header.parameter_set_fingerprint = parameter_set_fingerprint(contexts);
  header.key_set_id = key_set;
  header.moduli = contexts.size();
  AtomicFileWriter file(path, false, /*may_replace_keys=*/true);
  try {
    write_header(file.stream(), header);
    for (const auto& context : contexts)
      write_parameters(file.stream(), context->parameters());
    if (!file.stream()) throw std::runtime_error("the output stream failed");
  } catch (const std::runtime_error& error) {
    throw std::runtime_error("cannot write " + file_source(path) + ": " + error.what() + " (" +
                             file.failure() + ")");
  }
  file.commit();
}

}  // namespace

void save_parameter_set(const std::string& path, const ContextSet& contexts, uint64_t key_set) {
  save_parameters_file<yashe::Scheme>(path, contexts, key_set);
}
void save_parameter_set(const std::string& path, const BfvContextSet& contexts, uint64_t key_set) {
  save_parameters_file<bfv::Scheme>(path, contexts, key_set);
}

namespace {

// The parameter set's records, every check made but no context built (contexts_of builds them).
template <class S>
std::vector<typename S::Parameters> read_parameter_records(const std::string& path) {
  using Parameters = typename S::Parameters;
  const std::string source = file_source(path);
  std::ifstream in = open_for_reading(path);
  const ProtocolHeader header = read_header_of_kind(
      in, source, ProtocolFileKind::kParameterSet, scheme_id<S>(), "the files it is used with are");
  std::vector<Parameters> all;
  for (uint64_t i = 0; i < header.moduli; ++i)
    all.push_back(read_parameters<S>(in, record_source(source, i, header.moduli)));
  expect_end(in, source);
  std::set<uint64_t> moduli;
  for (const Parameters& params : all) {
    Parameters same_t = params;
    same_t.t = all.front().t;
    if (same_t != all.front()) {
      fail(source, "invalid: its parameter sets differ in more than the plaintext modulus");
    }
    if (!moduli.insert(params.t).second) {
      fail(source, "invalid: plaintext modulus " + std::to_string(params.t) + " appears twice");
    }
  }
  if (fingerprint_of_records(all) != header.parameter_set_fingerprint) {
    fail(source, "invalid: the header's fingerprint " + hex64(header.parameter_set_fingerprint) +
                     " is not that of its records");
  }
  return all;
}

template <class S>
BasicContextSet<S> contexts_of(const std::vector<typename S::Parameters>& records) {
  BasicContextSet<S> contexts;
  for (const auto& params : records)
    contexts.push_back(S::Context::create(params));
  return contexts;
}

// A key file's header and size against the parameter set's records, before any context is built:
// the tables of a context take memory and time in proportion to K·n·(primes of q and of its
// auxiliary base), which a parameter set of a few hundred bytes could make gigabytes even within
// the limits of rlwe/parameters.hpp (about 1.5 GB at 8 moduli, n = 2^15, 40 primes), while key
// files of the size those parameters need cost more than that to send. The header's refusals
// (damage, kind, scheme, parameter set) are the loader's own.
template <class S>
void require_key_file_size(const std::string& path, ProtocolFileKind kind,
                           const std::vector<typename S::Parameters>& records) {
  const std::string source = file_source(path);
  reading(path, [&] {
    std::ifstream in = open_for_reading(path);
    const ProtocolHeader header =
        read_header_of_kind(in, source, kind, scheme_id<S>(), "the parameter set is");
    check_parameter_set(header, records.size(), fingerprint_of_records(records), source);
    // Secret key records under this header are named as such, as the record reader names them,
    // not reported by their size: the server is told it was sent a secret key (and answers it
    // as a secret key file, SecretKeyRecordsError).
    if (starts_secret_keys(in)) {
      throw SecretKeyRecordsError(source + ": record 1 is a secret key, expected " +
                                  std::string(kind == ProtocolFileKind::kPublicKeys
                                                  ? "a public key"
                                                  : "an evaluation key") +
                                  " (the server never holds the secret key)");
    }
  });
  uint64_t expected = kProtocolHeaderBytes;
  for (const auto& params : records) {
    expected += kind == ProtocolFileKind::kPublicKeys ? public_key_record_bytes(params)
                                                      : evaluation_key_record_bytes(params);
  }
  std::error_code error;
  const uint64_t size = std::filesystem::file_size(path, error);
  if (error || size == expected) return;  // not a regular file: the loader reports it
  const std::string sizes = std::to_string(size) + " bytes, where the " + protocol_kind_name(kind) +
                            " of its parameter set take " + std::to_string(expected) +
                            " (checked before the parameters' tables are built)";
  if (size > expected) {
    // A secret key (its file or its records) appended after the keys is a secret key sent, as
    // one under the header is, not mere trailing bytes.
    const bool secret = reading(path, [&] {
      std::ifstream in = open_for_reading(path);
      in.seekg(static_cast<std::streamoff>(expected));
      return starts_secret_keys(in);
    });
    if (secret) {
      throw SecretKeyRecordsError(source + ": trailing bytes: a secret key follows its " +
                                  protocol_kind_name(kind) + " at byte " +
                                  std::to_string(expected) + " (" + sizes +
                                  "); the server never holds the secret key");
    }
  }
  fail(source, std::string(size < expected ? "truncated" : "trailing bytes") + ": " + sizes);
}

}  // namespace

template <class S>
BasicContextSet<S> load_parameter_set(const std::string& path) {
  return contexts_of<S>(reading(path, [&] { return read_parameter_records<S>(path); }));
}

template ContextSet load_parameter_set<yashe::Scheme>(const std::string& path);
template BfvContextSet load_parameter_set<bfv::Scheme>(const std::string& path);

#define CRYPTONETS_KEY_FILES(S, CONTEXTS)                                                         \
  void save_public_keys(const std::string& path, const CONTEXTS& contexts,                        \
                        const std::vector<S::PublicKey>& keys) {                                  \
    save_key_file<S>(path, ProtocolFileKind::kPublicKeys, contexts, keys, false,                  \
                     [](std::ostream& out, const S::Context& context, const S::PublicKey& key) {  \
                       write_public_key(out, context, key);                                       \
                     });                                                                          \
  }                                                                                               \
  std::vector<S::PublicKey> load_public_keys(const std::string& path, const CONTEXTS& contexts) { \
    return load_key_file<S, S::PublicKey>(                                                        \
        path, ProtocolFileKind::kPublicKeys, contexts,                                            \
        [](std::istream& in, const auto& context, const std::string& source) {                    \
          return read_public_key(in, context, source);                                            \
        });                                                                                       \
  }                                                                                               \
  void save_evaluation_keys(const std::string& path, const CONTEXTS& contexts,                    \
                            const std::vector<S::EvaluationKey>& keys) {                          \
    save_key_file<S>(                                                                             \
        path, ProtocolFileKind::kEvaluationKeys, contexts, keys, false,                           \
        [](std::ostream& out, const S::Context& context, const S::EvaluationKey& key) {           \
          write_evaluation_key(out, context, key);                                                \
        });                                                                                       \
  }                                                                                               \
  std::vector<S::EvaluationKey> load_evaluation_keys(const std::string& path,                     \
                                                     const CONTEXTS& contexts) {                  \
    return load_key_file<S, S::EvaluationKey>(                                                    \
        path, ProtocolFileKind::kEvaluationKeys, contexts,                                        \
        [](std::istream& in, const auto& context, const std::string& source) {                    \
          return read_evaluation_key(in, context, source);                                        \
        });                                                                                       \
  }                                                                                               \
  void save_secret_keys(const std::string& path, const CONTEXTS& contexts,                        \
                        const std::vector<S::SecretKey>& keys) {                                  \
    save_key_file<S>(path, ProtocolFileKind::kSecretKeys, contexts, keys, true,                   \
                     [](std::ostream& out, const S::Context& context, const S::SecretKey& key) {  \
                       write_secret_key(out, context, key);                                       \
                     });                                                                          \
  }                                                                                               \
  std::vector<S::SecretKey> load_secret_keys(const std::string& path, const CONTEXTS& contexts) { \
    return load_key_file<S, S::SecretKey>(                                                        \
        path, ProtocolFileKind::kSecretKeys, contexts,                                            \
        [](std::istream& in, const auto& context, const std::string& source) {                    \
          return read_secret_key(in, context, source);                                            \
        });                                                                                       \
  }

CRYPTONETS_KEY_FILES(yashe::Scheme, ContextSet)
CRYPTONETS_KEY_FILES(bfv::Scheme, BfvContextSet)
#undef CRYPTONETS_KEY_FILES

template <class S>
void save_key_directory(const KeyDirectory& files, const encoding::BasicCrtKeys<S>& keys) {
  const encoding::BasicEncryptionKeys<S> encryption = keys.encryption_keys();
  const encoding::BasicServerKeys<S> server = keys.server_keys();
  const encoding::BasicDecryptionKeys<S> decryption = keys.decryption_keys();
  save_parameter_set(files.parameters, keys.contexts, key_set_id(keys.key_ids()));
  save_public_keys(files.public_keys, keys.contexts, encryption.public_keys);
  save_evaluation_keys(files.evaluation_keys, keys.contexts, server.evaluation_keys);
  save_secret_keys(files.secret_keys, keys.contexts, decryption.secret_keys);
}

template <class S>
encoding::BasicEncryptionKeys<S> load_encryption_keys(const std::string& parameters,
                                                      const std::string& public_keys) {
  encoding::BasicEncryptionKeys<S> keys;
  keys.contexts = load_parameter_set<S>(parameters);
  keys.public_keys = load_public_keys(public_keys, keys.contexts);
  require_one_key_set({parameters, public_keys});
  return keys;
}

namespace {

// The first 6 bytes of `path` (magic, kind, scheme), if it is a regular file that has them. Only a
// regular file is opened (the last session's list: every entry of a key directory was opened; a
// device's open can act by itself, a tape rewinds, a watchdog starts). O_NONBLOCK and fstat for
// one put in place after this check: a FIFO must not hold the open, and only a regular file is
// read, only those bytes.
std::optional<std::array<uint8_t, 6>> binary_start(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) return std::nullopt;
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::array<uint8_t, 6> start{};
  const ssize_t got =
      ::fstat(fd, &info) == 0 && S_ISREG(info.st_mode) ? ::pread(fd, start.data(), 6, 0) : -1;
  ::close(fd);
  // 5 bytes are enough for starts_as_secret_keys; the scheme byte reads as 0 (unknown) then.
  if (got < 5) return std::nullopt;
  return start;
}

bool protocol_or_record_magic(const std::array<uint8_t, 6>& start) {
  return std::equal(kProtocolMagic.begin(), kProtocolMagic.end(), start.begin()) ||
         std::equal(kRecordMagic.begin(), kRecordMagic.end(), start.begin());
}

}  // namespace

bool starts_as_secret_keys(const std::string& path) {
  const auto start = binary_start(path);
  return start && (*start)[4] == static_cast<uint8_t>(ProtocolFileKind::kSecretKeys) &&
         protocol_or_record_magic(*start);
}

std::optional<std::string> cryptonets_binary_kind(const std::string& path) {
  const auto start = binary_start(path);
  if (!start || !protocol_or_record_magic(*start) || !known_scheme((*start)[5])) {
    return std::nullopt;
  }
  const bool file = std::equal(kProtocolMagic.begin(), kProtocolMagic.end(), start->begin());
  std::string what;  // as a protocol file ("CNPF"), or as a single record ("CNET")
  switch (static_cast<ProtocolFileKind>((*start)[4])) {
    case ProtocolFileKind::kParameterSet:
      what = file ? "a cryptonets parameter set" : "a single cryptonets parameters record";
      break;
    case ProtocolFileKind::kPublicKeys:
      what = file ? "a cryptonets public key file" : "a single cryptonets public key record";
      break;
    case ProtocolFileKind::kEvaluationKeys:
      what =
          file ? "a cryptonets evaluation key file" : "a single cryptonets evaluation key record";
      break;
    case ProtocolFileKind::kSecretKeys:
      what = file ? "a cryptonets secret key file" : "a single cryptonets secret key record";
      break;
    case ProtocolFileKind::kCiphertexts:
      what = file ? "a cryptonets ciphertext file" : "a single cryptonets ciphertext record";
      break;
    default:
      return std::nullopt;  // another kind byte
  }
  return what + " (" + scheme_name(static_cast<SchemeId>((*start)[5])) + ")";
}

std::optional<std::string> secret_keys_in_directory(const std::string& directory) {
  std::error_code error;
  std::vector<std::string> names;
  for (std::filesystem::directory_iterator it(directory, error), end; !error && it != end;
       it.increment(error))
    names.push_back(it->path().filename().string());
  std::sort(names.begin(), names.end());  // the same file named on every run
  std::string prefix = directory == "." ? "" : directory;
  if (!prefix.empty() && !prefix.ends_with('/')) prefix += '/';
  for (const std::string& name : names) {
    if (starts_as_secret_keys(prefix + name)) return prefix + name;
  }
  return std::nullopt;
}

void refuse_secret_key_file(const std::string& path) {
  if (!starts_as_secret_keys(path)) return;  // anything else: the loader reports it
  // The scheme where the header can be read (a file of another format version, or a single
  // record, is refused without it).
  std::string scheme;
  try {
    const ProtocolHeader header = read_protocol_header(path);
    scheme = " (" + scheme_name(header.scheme) + ")";
  } catch (const std::runtime_error&) {
  }
  throw std::runtime_error("refused: '" + path + "' holds secret keys" + scheme +
                           "; the server never holds the secret key: give it only params, "
                           "evaluation.key and public.key");
}

template <class S>
encoding::BasicServerKeys<S> load_server_keys(const std::string& parameters,
                                              const std::string& evaluation_keys,
                                              const std::string& public_keys) {
  for (const std::string& path : {parameters, evaluation_keys, public_keys})
    refuse_secret_key_file(path);
  // The server's keys come from its clients (POST /v1/keysets, anyone's): the key files must be
  // as large as their parameters need before the contexts are built.
  const auto records = reading(parameters, [&] { return read_parameter_records<S>(parameters); });
  require_key_file_size<S>(evaluation_keys, ProtocolFileKind::kEvaluationKeys, records);
  require_key_file_size<S>(public_keys, ProtocolFileKind::kPublicKeys, records);
  encoding::BasicServerKeys<S> keys;
  keys.contexts = contexts_of<S>(records);
  keys.evaluation_keys = load_evaluation_keys(evaluation_keys, keys.contexts);
  keys.public_keys = load_public_keys(public_keys, keys.contexts);
  require_one_key_set({parameters, evaluation_keys, public_keys});
  return keys;
}

template <class S>
encoding::BasicDecryptionKeys<S> load_decryption_keys(const std::string& parameters,
                                                      const std::string& secret_keys) {
  encoding::BasicDecryptionKeys<S> keys;
  keys.contexts = load_parameter_set<S>(parameters);
  keys.secret_keys = load_secret_keys(secret_keys, keys.contexts);
  require_one_key_set({parameters, secret_keys});
  return keys;
}

#define CRYPTONETS_ROLE_FILES(S)                                                              \
  template void save_key_directory<S>(const KeyDirectory&, const encoding::BasicCrtKeys<S>&); \
  template encoding::BasicEncryptionKeys<S> load_encryption_keys<S>(const std::string&,       \
                                                                    const std::string&);      \
  template encoding::BasicServerKeys<S> load_server_keys<S>(                                  \
      const std::string&, const std::string&, const std::string&);                            \
  template encoding::BasicDecryptionKeys<S> load_decryption_keys<S>(const std::string&,       \
                                                                    const std::string&);
CRYPTONETS_ROLE_FILES(yashe::Scheme)
CRYPTONETS_ROLE_FILES(bfv::Scheme)
#undef CRYPTONETS_ROLE_FILES

void require_one_key_set(const std::vector<std::string>& paths) {
  std::string first_path;
  uint64_t first_id = 0;
  for (const std::string& path : paths) {
    std::error_code error;
    if (!std::filesystem::exists(path, error)) continue;
    // Before the open: a FIFO would block it until a writer came (the callers that filter first
    // are not the only ones).
    require_regular_input(path);
    const ProtocolHeader header = read_protocol_header(path);
    if (first_path.empty()) {
      first_path = path;
      first_id = header.key_set_id;
    } else if (header.key_set_id != first_id) {
      throw std::runtime_error(
          "'" + first_path + "' (key set " + hex64(first_id) + ") and '" + path + "' (key set " +
          hex64(header.key_set_id) +
          ") do not belong together: they come from different key generations (a keygen that "
          "failed midway, or files copied from different key sets); refusing them (run keygen "
          "again, and give the server the new files)");
    }
  }
  if (!first_path.empty() && first_id == 0) {
    throw std::runtime_error("'" + first_path +
                             "' is tied to no key set (key set id 0): a key directory's parameter "
                             "set comes from keygen, which records its key set");
  }
}

void require_same_keys(const std::vector<uint64_t>& a, const std::string& a_what,
                       const std::vector<uint64_t>& b, const std::string& b_what) {
  if (a != b) {
    throw std::runtime_error(a_what + " and " + b_what +
                             " come from different key generations (key set ids " +
                             hex64(key_set_id(a)) + " and " + hex64(key_set_id(b)) + ")");
  }
}

// ---- Ciphertext files.

template <class S>
BasicCiphertextFileWriter<S>::BasicCiphertextFileWriter(
    const std::string& path, BasicContextSet<S> contexts, std::vector<uint64_t> key_ids,
    uint64_t profile_fingerprint, const ImageSource& source, uint64_t first_image, uint64_t images,
    uint64_t batch_size, uint64_t values, uint64_t answers_file_id, bool owner_only)
    : path_(path),
      contexts_(std::move(contexts)),
      key_ids_(std::move(key_ids)),
      file_(path, owner_only) {
  if (contexts_.empty() || key_ids_.size() != contexts_.size()) {
    throw std::invalid_argument("CiphertextFileWriter: " + std::to_string(key_ids_.size()) +
                                " key ids for " + std::to_string(contexts_.size()) +
                                " plaintext moduli");
  }
  if (images == 0 || values == 0 || batch_size == 0 || batch_size > contexts_.front()->n()) {
    throw std::invalid_argument(
        "CiphertextFileWriter: needs images >= 1, values >= 1 and a batch "
        "size in [1, n = " +
        std::to_string(contexts_.front()->n()) + "]");
  }
  if (images > UINT64_MAX - first_image) {
    throw std::invalid_argument("CiphertextFileWriter: first image " + std::to_string(first_image) +
                                " + " + std::to_string(images) + " images exceeds 2^64 - 1");
  }
  if (source.images < first_image + images) {
    throw std::invalid_argument("CiphertextFileWriter: images " + std::to_string(first_image) +
                                " to " + std::to_string(first_image + images - 1) +
                                " of a source images file of " + std::to_string(source.images));
  }
  header_.kind = ProtocolFileKind::kCiphertexts;
  header_.scheme = scheme_id<S>();
  header_.parameter_set_fingerprint = parameter_set_fingerprint(contexts_);
  header_.key_set_id = key_set_id(key_ids_);
  header_.moduli = contexts_.size();
  header_.images = images;
  header_.batch_size = batch_size;
  header_.values = values;
  header_.first_image = first_image;
  Prng prng = Prng::from_os_entropy();
  do {
    header_.file_id = prng.next_u64();
  } while (header_.file_id == 0);
  header_.answers_file_id = answers_file_id;
  header_.source = source;
  header_.profile_fingerprint = profile_fingerprint;
  write_header(file_.stream(), header_);
}

template <class S>
void BasicCiphertextFileWriter<S>::write(EncryptedBatch batch, const std::function<void()>& tick) {
  if (batches_written_ == header_.batch_count()) {
    throw std::logic_error("CiphertextFileWriter: all " + std::to_string(batches_written_) +
                           " batches were already written");
  }
  const uint64_t images = header_.images_in_batch(batches_written_);
  if (batch.images != images || batch.values.size() != contexts_.size()) {
    throw std::invalid_argument(
        "CiphertextFileWriter: batch " + std::to_string(batches_written_ + 1) + " must hold " +
        std::to_string(images) + " images under " + std::to_string(contexts_.size()) + " moduli");
  }
  for (size_t i = 0; i < batch.values.size(); ++i) {
    if (batch.values[i].size() != header_.values) {
      throw std::invalid_argument(
          "CiphertextFileWriter: " + std::to_string(batch.values[i].size()) +
          " ciphertexts per modulus, the file holds " + std::to_string(header_.values));
    }
    // Checked before anything is written, so that a refused batch leaves the file consistent.
    for (size_t j = 0; j < batch.values[i].size(); ++j) {
      const rlwe::Ciphertext& ct = batch.values[i][j];
      if (ct.key_id != key_ids_[i]) {
        throw std::invalid_argument("CiphertextFileWriter: a ciphertext of modulus " +
                                    std::to_string(i + 1) + " has key id " + hex64(ct.key_id) +
                                    ", the file's keys have " + hex64(key_ids_[i]));
      }
      if (!ct.parts.empty() && !ct.parts[0].empty() &&
          readable_without_secret_key(*contexts_[i], ct)) {
        throw std::invalid_argument(
            "CiphertextFileWriter: ciphertext " + std::to_string(j + 1) + " of modulus " +
            std::to_string(i + 1) +
            " can be read without the secret key (transparent: no encryption randomness); "
            "re-randomise it (Encryptor::rerandomize_inplace) before it leaves");
      }
    }
  }
  if (failed_) throw std::logic_error("CiphertextFileWriter: an earlier write failed");
  failed_ = true;  // until this batch is complete
  try {
    for (size_t i = 0; i < contexts_.size(); ++i) {
      BasicCiphertextWriter<S> writer(file_.stream(), contexts_[i], header_.values, key_ids_[i],
                                      batch.values[i].front().parts.size());
      for (rlwe::Ciphertext& ct : batch.values[i]) {
        writer.append(ct);
        ct = rlwe::Ciphertext{};  // written: release it
        if (tick) tick();
      }
      const auto binding =
          encode_binding(header_.file_id, batches_written_ * contexts_.size() + i,
                         header_.batch_count() * contexts_.size(), writer.finish());
      file_.stream().write(reinterpret_cast<const char*>(binding.data()), binding.size());
      if (!file_.stream()) throw std::runtime_error("the output stream failed");
    }
  } catch (const std::runtime_error& error) {
    throw std::runtime_error("cannot write " + file_source(path_) + ": " + error.what() + " (" +
                             file_.failure() + ")");
  }
  failed_ = false;
  ++batches_written_;
}

template <class S>
void BasicCiphertextFileWriter<S>::commit() {
  if (failed_) throw std::logic_error("CiphertextFileWriter: commit() after a failed write");
  if (batches_written_ != header_.batch_count()) {
    throw std::logic_error("CiphertextFileWriter: " + std::to_string(batches_written_) + " of " +
                           std::to_string(header_.batch_count()) +
                           " batches written before commit()");
  }
  file_.commit();
}

template <class S>
BasicCiphertextFileReader<S>::BasicCiphertextFileReader(const std::string& path,
                                                        BasicContextSet<S> contexts,
                                                        const std::vector<uint64_t>& key_ids)
    : path_(path),
      source_(file_source(path)),
      contexts_(std::move(contexts)),
      key_ids_(key_ids),
      in_(open_for_reading(path)) {
  reading(path_, [&] { read_header_and_check(); });
}

template <class S>
void BasicCiphertextFileReader<S>::read_header_and_check() {
  header_ = read_header_of_kind(in_, source_, ProtocolFileKind::kCiphertexts, scheme_id<S>(),
                                "the keys are");
  check_parameter_set(header_, contexts_, source_);
  if (key_ids_.size() != contexts_.size()) {
    throw std::invalid_argument("CiphertextFileReader: " + std::to_string(key_ids_.size()) +
                                " key ids for " + std::to_string(contexts_.size()) + " moduli");
  }
  const uint64_t expected = key_set_id(key_ids_);
  if (header_.key_set_id != expected) {
    fail(source_, "encrypted under other keys: key set id " + hex64(header_.key_set_id) +
                      ", these keys have " + hex64(expected));
  }
  const uint64_t slots = contexts_.front()->n();
  if (header_.batch_size > slots) {
    fail(source_, "invalid header: batches of " + std::to_string(header_.batch_size) +
                      " images, the parameters have " + std::to_string(slots) + " slots");
  }
  diagnose_record_order();
}

template <class S>
std::string BasicCiphertextFileReader<S>::describe_record(uint64_t index) const {
  const uint64_t k = contexts_.size();
  return "record " + std::to_string(index + 1) + " (batch " + std::to_string(index / k + 1) +
         ", modulus " + std::to_string(index % k + 1) + ")";
}

// Every record's binding sits at a known offset (records have a fixed size for given
// parameters), so the whole file's order is read before any ciphertext: a splice, duplicate,
// omission or reordering is named as such. Damage is left to the record checks.
template <class S>
void BasicCiphertextFileReader<S>::diagnose_record_order() {
  const uint64_t k = contexts_.size();
  const uint64_t count = header_.batch_count() * k;
  const std::istream::pos_type start = in_.tellg();
  in_.seekg(0, std::ios::end);
  const std::istream::pos_type end_position = in_.tellg();
  in_.clear();
  if (start == std::istream::pos_type(-1) || end_position == std::istream::pos_type(-1)) return;
  const uint64_t begin = static_cast<uint64_t>(start);
  // The records' size follows from the parameters and the parts per ciphertext, which the first
  // record states (its C payload: count, then m; FORMATS.md): 3-part BFV products are as
  // checkable as fresh ciphertexts. An implausible m is left to the record checks.
  constexpr uint64_t kPartsWordOffset = 32 + 8;  // record header, then the count word
  size_t parts = 0;                              // 0: a fresh ciphertext's
  {
    std::array<uint8_t, 8> word{};
    in_.seekg(static_cast<std::streamoff>(begin + kPartsWordOffset));
    in_.read(reinterpret_cast<char*>(word.data()), word.size());
    const uint64_t m = in_.gcount() == 8 ? load_le(word.data(), 8) : 0;
    if (m >= 1 && m <= 3) parts = static_cast<size_t>(m);
    in_.clear();
    in_.seekg(start);
  }
  // A header's values so many that one record would not fit in 2^64 bytes: no such record is in
  // the file, and the record checks say so. Computed regardless, the size wrapped around (to a
  // stride of 0 for some values: a division by zero, SIGFPE, on a 1 KB file).
  const uint64_t empty = ciphertext_batch_bytes(*contexts_.front(), 0, parts);
  const uint64_t each = ciphertext_batch_bytes(*contexts_.front(), 1, parts) - empty;
  if (header_.values > (UINT64_MAX - empty - kProtocolBindingBytes) / each) return;
  const uint64_t record = ciphertext_batch_bytes(*contexts_.front(), header_.values, parts);
  const uint64_t stride = record + kProtocolBindingBytes;
  const uint64_t size = static_cast<uint64_t>(end_position);
  const uint64_t present = size < begin ? 0 : std::min(count, (size - begin) / stride);
  std::vector<uint64_t> found;  // the index each position holds
  for (uint64_t p = 0; p < present; ++p) {
    std::array<uint8_t, kBindingFieldBytes> bytes{};
    in_.seekg(static_cast<std::streamoff>(begin + p * stride + record));
    in_.read(reinterpret_cast<char*>(bytes.data()), bytes.size());
    if (in_.gcount() != static_cast<std::streamsize>(bytes.size()) ||
        !std::equal(kBindingMagic.begin(), kBindingMagic.end(), bytes.begin())) {
      in_.clear();
      in_.seekg(start);
      return;  // damaged: the record checks report it
    }
    const uint64_t file_id = load_le(&bytes[8], 8);
    const uint64_t index = load_le(&bytes[16], 8);
    const uint64_t total = load_le(&bytes[24], 8);
    if (file_id != header_.file_id) {
      fail(source_, "position " + std::to_string(p + 1) +
                        " holds a record of another file (file id " + hex64(file_id) +
                        ", this file's is " + hex64(header_.file_id) +
                        "): spliced in from another file; refusing it");
    }
    if (total != count || index >= count) {
      fail(source_, "position " + std::to_string(p + 1) + " holds record " +
                        std::to_string(index + 1) + " of " + std::to_string(total) +
                        ", this file's header promises " + std::to_string(count) +
                        " records: records were added or removed; refusing it");
    }
    found.push_back(index);
  }
  in_.clear();
  in_.seekg(start);
  if (found.empty()) return;                 // a bare header: "truncated" from the record checks
  std::map<uint64_t, uint64_t> position_of;  // index -> first position (bounded by the file size)
  for (uint64_t p = 0; p < found.size(); ++p) {
    const auto [where, inserted] = position_of.emplace(found[p], p);
    if (!inserted) {
      fail(source_, describe_record(found[p]) + " appears twice (positions " +
                        std::to_string(where->second + 1) + " and " + std::to_string(p + 1) +
                        "): a duplicated record; refusing it");
    }
  }
  // Fewer whole records than promised (a record cut short is left to the record checks).
  if (found.size() < count && (size - begin) % stride == 0) {
    uint64_t missing = 0;
    while (position_of.count(missing) != 0)
      ++missing;
    fail(source_, describe_record(missing) + " is missing: the file holds " +
                      std::to_string(found.size()) + " of its " + std::to_string(count) +
                      " records (an omitted record, or a file cut short); refusing it");
  }
  for (uint64_t p = 0; p < found.size(); ++p) {
    if (found[p] != p) {
      fail(source_, "position " + std::to_string(p + 1) + " holds " + describe_record(found[p]) +
                        " instead of " + describe_record(p) +
                        ": the records were reordered; refusing it");
    }
  }
}

template <class S>
EncryptedBatch BasicCiphertextFileReader<S>::next(const std::function<void()>& tick) {
  if (batches_left() == 0) throw std::logic_error("CiphertextFileReader: no batch left");
  return reading(path_, [&] { return read_batch(tick); });
}

template <class S>
EncryptedBatch BasicCiphertextFileReader<S>::read_batch(const std::function<void()>& tick) {
  EncryptedBatch batch;
  batch.images = header_.images_in_batch(batches_read_);
  const std::string batch_source = source_ + " batch " + std::to_string(batches_read_ + 1) +
                                   " of " + std::to_string(header_.batch_count());
  for (size_t i = 0; i < contexts_.size(); ++i) {
    const std::string source = record_source(batch_source, i, contexts_.size());
    BasicCiphertextReader<S> reader(in_, contexts_[i], source, false);
    std::vector<rlwe::Ciphertext> row;
    while (reader.remaining() > 0) {
      row.push_back(reader.next());
      if (tick) tick();
    }
    const Sha256::Digest digest = reader.finish();
    check_binding(batches_read_ * contexts_.size() + i, digest, source);
    if (reader.count() != header_.values) {
      fail(source, "invalid: " + std::to_string(reader.count()) +
                       " ciphertexts, the file's header promises " +
                       std::to_string(header_.values));
    }
    if (reader.key_id() != key_ids_[i]) {
      fail(source, "encrypted under other keys: key id " + hex64(reader.key_id()) +
                       ", these keys have " + hex64(key_ids_[i]));
    }
    batch.values.push_back(std::move(row));
  }
  ++batches_read_;
  return batch;
}

template <class S>
void BasicCiphertextFileReader<S>::check_binding(uint64_t index, const Sha256::Digest& digest,
                                                 const std::string& source) {
  std::array<uint8_t, kProtocolBindingBytes> stored{};
  in_.read(reinterpret_cast<char*>(stored.data()), stored.size());
  if (in_.gcount() != static_cast<std::streamsize>(stored.size())) {
    fail(source, "truncated: the file ends inside the binding after the record");
  }
  if (!std::equal(kBindingMagic.begin(), kBindingMagic.end(), stored.begin())) {
    fail(source, "corrupted: no record binding (\"CNRB\") after the record");
  }
  const uint64_t count = header_.batch_count() * contexts_.size();
  const auto expected = encode_binding(header_.file_id, index, count, digest);
  if (!std::equal(expected.begin(), expected.begin() + kBindingFieldBytes, stored.begin())) {
    fail(source, "the record binding names file " + hex64(load_le(&stored[8], 8)) + ", record " +
                     std::to_string(load_le(&stored[16], 8) + 1) +
                     ", expected this file's record " + std::to_string(index + 1) +
                     ": spliced or reordered; refusing it");
  }
  if (expected != stored) {
    fail(source,
         "corrupted: the record binding's checksum does not match the record (a record "
         "of another file or position in its place?)");
  }
}

template <class S>
void BasicCiphertextFileReader<S>::finish() {
  if (batches_left() != 0) {
    throw std::logic_error("CiphertextFileReader: finish() with " + std::to_string(batches_left()) +
                           " batches unread");
  }
  reading(path_, [&] { expect_end(in_, source_); });
}

template class BasicCiphertextFileWriter<yashe::Scheme>;
template class BasicCiphertextFileWriter<bfv::Scheme>;
template class BasicCiphertextFileReader<yashe::Scheme>;
template class BasicCiphertextFileReader<bfv::Scheme>;

}  // namespace cryptonets
