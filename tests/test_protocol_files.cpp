// Protocol files (key directory and ciphertext files with several plaintext moduli) at the paper's
// sizes (n = 8192, q ≈ 385 bits, two 40-bit plaintext moduli): round trips that still decrypt,
// streaming in batches, the recorded first image index, and refusals of other parameters, other
// keys, older format versions and damage; and at a small ring, both schemes: key sets by role,
// cross-scheme refusals naming both schemes, the server refusing secret keys.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <utility>

#include "cryptonets/arith/primes.hpp"
#include "cryptonets/encoding/plaintext_crt.hpp"
#include "cryptonets/io/little_endian.hpp"
#include "cryptonets/io/protocol_files.hpp"
#include "cryptonets/io/sha256.hpp"
#include "file_test_support.hpp"
#include "yashe_test_support.hpp"

using cryptonets::inference::EncryptedBatch;

using namespace test_support;
using namespace cryptonets::encoding;
namespace fs = std::filesystem;

namespace {

// The model profile fingerprint the test files record (any value: the files' readers only carry
// it; infer and decrypt compare it).
constexpr uint64_t kProfile = 0x0123456789abcdefull;

ContextSet key_contexts(const CrtKeys& keys) {
  return keys.contexts;
}

struct CrtFixture {
  yashe::Parameters base = paper_scale_parameters();
  std::vector<uint64_t> moduli = select_plaintext_moduli(base.n, 40, 2, base.q_primes);
  Prng prng;
  CrtKeys keys;
  CrtEncryptionSet server;
  CrtDecryptionSet client;

  explicit CrtFixture(uint64_t seed)
      : prng(Prng::insecure_seeded(seed)),
        keys(CrtKeys::generate(base, moduli, prng)),
        server(keys),
        client(keys) {}

  std::vector<uint64_t> key_ids() const {
    std::vector<uint64_t> ids;
    for (const auto& key_set : keys.keys)
      ids.push_back(key_set.public_key.key_id);
    return ids;
  }
  template <class Pick>
  auto keys_of(Pick pick) const {
    std::vector<std::decay_t<decltype(pick(keys.keys.front()))>> out;
    for (const auto& key_set : keys.keys)
      out.push_back(pick(key_set));
    return out;
  }
};

CrtFixture& fixture() {
  static CrtFixture f(41);
  return f;
}

// Same parameters, another key generation.
CrtFixture& other_keys() {
  static CrtFixture f(42);
  return f;
}

// Slot value s·1000 + j·7 - 3000 of value j in image s: distinct, signed, below both moduli.
int64_t slot_value(uint64_t image, size_t value) {
  return static_cast<int64_t>(image) * 1000 + static_cast<int64_t>(value) * 7 - 3000;
}

// A batch of `values` CRT ciphertexts holding slot_value(first + s, j) in slot s.
EncryptedBatch make_batch(CrtFixture& f, uint64_t first, uint64_t images, size_t values) {
  EncryptedBatch batch;
  batch.images = images;
  batch.values.resize(f.server.size());
  for (size_t j = 0; j < values; ++j) {
    std::vector<int64_t> slots;
    for (uint64_t s = 0; s < images; ++s)
      slots.push_back(slot_value(first + s, j));
    CrtCiphertext ct = f.server.encrypt(slots, f.prng);
    for (size_t i = 0; i < ct.size(); ++i)
      batch.values[i].push_back(std::move(ct[i]));
  }
  return batch;
}

void check_batch_decrypts(CrtFixture& f, const EncryptedBatch& batch, uint64_t first,
                          size_t values) {
  REQUIRE(batch.values.size() == f.client.size());
  for (size_t j = 0; j < values; ++j) {
    CrtCiphertext ct;
    for (size_t i = 0; i < batch.values.size(); ++i)
      ct.push_back(batch.values[i][j]);
    const std::vector<mpz_class> slots = f.client.decrypt(ct, mpz_class(1) << 40);
    for (uint64_t s = 0; s < batch.images; ++s)
      CHECK(slots[s] == slot_value(first + s, j));
  }
}

// A ciphertext file of images first_image .. first_image + images - 1 in batches of `batch_size`,
// `values` per image.
void write_file(CrtFixture& f, const std::string& path, uint64_t images, uint64_t batch_size,
                size_t values, uint64_t first_image = 0) {
  // The images file held exactly these images and those before them.
  CiphertextFileWriter writer(path, key_contexts(f.keys), f.key_ids(), kProfile,
                              ImageSource{first_image + images, {}}, first_image, images,
                              batch_size, values);
  for (uint64_t b = 0; b < writer.header().batch_count(); ++b) {
    writer.write(
        make_batch(f, first_image + b * batch_size, writer.header().images_in_batch(b), values));
  }
  writer.commit();
}

// Header offsets (protocol_files.hpp): the version, the images, first image and source images
// fields, and the SHA-256 over the bytes before it.
constexpr size_t kVersionOffset = 6;
constexpr size_t kImagesOffset = 32;
constexpr size_t kFirstImageOffset = 56;
constexpr size_t kSourceImagesOffset = 80;
constexpr size_t kProfileOffset = 120;
constexpr size_t kHeaderChecksumOffset = 128;

// `bytes` (a whole file) with the 64-bit header field at `offset` set to `value` and the header's
// checksum redone, as a writer with that value would have written it.
std::string with_header_field(std::string bytes, size_t offset, uint64_t value) {
  for (size_t i = 0; i < 8; ++i)
    bytes[offset + i] = static_cast<char>(value >> (8 * i));
  const auto digest =
      sha256({reinterpret_cast<const uint8_t*>(bytes.data()), kHeaderChecksumOffset});
  std::copy(digest.begin(), digest.end(), bytes.begin() + kHeaderChecksumOffset);
  return bytes;
}

// `bytes` (a whole file of this version) with version 1's 88-byte header: no first image field, no
// file ids, its SHA-256 over the 56 bytes before it.
std::string as_version_1(const std::string& bytes) {
  std::string header = bytes.substr(0, kFirstImageOffset);
  header[kVersionOffset] = 1;
  header[kVersionOffset + 1] = 0;
  const auto digest = sha256({reinterpret_cast<const uint8_t*>(header.data()), header.size()});
  header.append(digest.begin(), digest.end());
  return header + bytes.substr(kProtocolHeaderBytes);
}

std::string read_all_batches(CrtFixture& f, const std::string& path) {
  return error_of([&] {
    CiphertextFileReader reader(path, key_contexts(f.keys), f.key_ids());
    while (reader.batches_left() > 0)
      reader.next();
    reader.finish();
  });
}

}  // namespace

TEST_CASE("a key directory with two plaintext moduli at n = 8192 loads back and still decrypts") {
  CrtFixture& f = fixture();
  TempDir dir;
  const KeyDirectory files(dir.path.string());
  const ContextSet contexts = key_contexts(f.keys);
  save_parameter_set(files.parameters, contexts);
  save_public_keys(files.public_keys, contexts,
                   f.keys_of([](const yashe::KeySet& k) { return k.public_key; }));
  save_evaluation_keys(files.evaluation_keys, contexts,
                       f.keys_of([](const yashe::KeySet& k) { return k.evaluation_key; }));
  save_secret_keys(files.secret_keys, contexts,
                   f.keys_of([](const yashe::KeySet& k) { return k.secret_key; }));

  struct stat info {};
  REQUIRE(::stat(files.secret_keys.c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0600);

  const ContextSet loaded = load_parameter_set(files.parameters);
  REQUIRE(loaded.size() == 2);
  CHECK(plaintext_moduli_of(loaded) == f.moduli);
  CHECK(parameter_set_fingerprint(loaded) == parameter_set_fingerprint(contexts));
  for (size_t i = 0; i < loaded.size(); ++i)
    CHECK(loaded[i]->parameters() == contexts[i]->parameters());

  auto public_keys = load_public_keys(files.public_keys, loaded);
  auto evaluation_keys = load_evaluation_keys(files.evaluation_keys, loaded);
  auto secret_keys = load_secret_keys(files.secret_keys, loaded);
  CHECK(key_ids_of(public_keys) == f.key_ids());
  CHECK(key_ids_of(evaluation_keys) == f.key_ids());
  CHECK(key_ids_of(secret_keys) == f.key_ids());
  CHECK_NOTHROW(require_same_keys(key_ids_of(public_keys), "public.key",
                                  key_ids_of(evaluation_keys), "evaluation.key"));

  // Encrypt with the loaded public keys, multiply with the loaded evaluation keys, decrypt with
  // the loaded secret keys: -1234 · 5678 recombined over both moduli.
  const CrtEncryptionSet server(loaded, std::move(public_keys), std::move(evaluation_keys));
  const CrtDecryptionSet client(loaded, std::move(secret_keys));
  const std::vector<int64_t> a = {-1234, 17, 0, 99999};
  const std::vector<int64_t> b = {5678, -17, 5, 99999};
  const CrtCiphertext product =
      server.multiply(server.encrypt(a, f.prng), server.encrypt(b, f.prng));
  const std::vector<mpz_class> slots = client.decrypt(product, mpz_class(1) << 60);
  for (size_t s = 0; s < a.size(); ++s)
    CHECK(slots[s] == mpz_class(a[s]) * b[s]);
}

TEST_CASE("key files of another key generation are named as such, and other parameters refused") {
  CrtFixture& f = fixture();
  CrtFixture& g = other_keys();
  TempDir dir;
  const ContextSet contexts = key_contexts(f.keys);
  save_public_keys(dir.file("public.key"), contexts,
                   f.keys_of([](const yashe::KeySet& k) { return k.public_key; }));
  save_evaluation_keys(dir.file("evaluation.key"), contexts,
                       g.keys_of([](const yashe::KeySet& k) { return k.evaluation_key; }));
  const auto public_ids = key_ids_of(load_public_keys(dir.file("public.key"), contexts));
  const auto evaluation_ids =
      key_ids_of(load_evaluation_keys(dir.file("evaluation.key"), contexts));
  CHECK(contains(error_of([&] {
                   require_same_keys(public_ids, "public.key", evaluation_ids, "evaluation.key");
                 }),
                 "come from different key generations"));

  // The same keys against a parameter set with only the first modulus.
  const ContextSet one_modulus(contexts.begin(), contexts.begin() + 1);
  CHECK(contains(error_of([&] { load_public_keys(dir.file("public.key"), one_modulus); }),
                 "made for other parameters"));
  // A parameter file read as public keys names both kinds.
  save_parameter_set(dir.file("params"), contexts);
  CHECK(contains(error_of([&] { load_public_keys(dir.file("params"), contexts); }),
                 "holds a parameter set, expected public keys"));
}

TEST_CASE("a ciphertext file streams back batch by batch, the last batch partly filled") {
  CrtFixture& f = fixture();
  TempDir dir;
  const std::string path = dir.file("batch.ct");
  // Images 100 .. 109 in batches of 4: 4, 4, 2.
  write_file(f, path, 10, 4, 3, 100);
  const ProtocolHeader header = read_protocol_header(path);
  CHECK(header.kind == ProtocolFileKind::kCiphertexts);
  CHECK(header.first_image == 100);
  CHECK(header.images == 10);
  CHECK(header.batch_size == 4);
  CHECK(header.values == 3);
  CHECK(header.moduli == 2);
  CHECK(header.batch_count() == 3);
  CHECK(header.key_set_id == key_set_id(f.key_ids()));
  // Header + 3 batches × 2 moduli × one record of 3 ciphertexts and its binding.
  CHECK(fs::file_size(path) ==
        kProtocolHeaderBytes +
            3 * (ciphertext_batch_bytes(*f.keys.contexts[0], 3) +
                 ciphertext_batch_bytes(*f.keys.contexts[1], 3) + 2 * kProtocolBindingBytes));
  CHECK(header.file_id != 0);
  CHECK(header.answers_file_id == 0);

  CiphertextFileReader reader(path, key_contexts(f.keys), f.key_ids());
  CHECK(reader.header().first_image == 100);
  const uint64_t expected_images[] = {4, 4, 2};
  for (uint64_t b = 0; b < 3; ++b) {
    size_t ticks = 0;
    const EncryptedBatch batch = reader.next([&] { ++ticks; });
    CHECK(ticks == 6);
    CHECK(batch.images == expected_images[b]);
    check_batch_decrypts(f, batch, 100 + b * 4, 3);
  }
  CHECK(reader.batches_left() == 0);
  CHECK_NOTHROW(reader.finish());
}

TEST_CASE("a ciphertext file is refused from its header under other keys or other parameters") {
  CrtFixture& f = fixture();
  CrtFixture& g = other_keys();
  TempDir dir;
  const std::string path = dir.file("batch.ct");
  write_file(f, path, 3, 3, 2);

  CHECK(contains(error_of([&] { CiphertextFileReader(path, key_contexts(g.keys), g.key_ids()); }),
                 "encrypted under other keys"));

  yashe::Parameters smaller = f.base;
  smaller.n = 4096;
  const ContextSet other_parameters = make_context_set(smaller, f.moduli);
  CHECK(contains(error_of([&] { CiphertextFileReader(path, other_parameters, f.key_ids()); }),
                 "made for other parameters"));

  // A header of f's keys spliced onto g's records passes the header check and is refused from
  // the records' bindings (they name g's file).
  const std::string other_path = dir.file("other.ct");
  write_file(g, other_path, 3, 3, 2);
  const std::string mine = read_bytes(path), theirs = read_bytes(other_path);
  REQUIRE(mine.size() == theirs.size());
  write_bytes(dir.file("spliced.ct"),
              mine.substr(0, kProtocolHeaderBytes) + theirs.substr(kProtocolHeaderBytes));
  const std::string error = read_all_batches(f, dir.file("spliced.ct"));
  CHECK(contains(error, "position 1 holds a record of another file"));
  CHECK(contains(error, "spliced in from another file"));
}

TEST_CASE("damaged ciphertext files are refused: truncated, flipped bytes, trailing bytes") {
  CrtFixture& f = fixture();
  TempDir dir;
  const std::string path = dir.file("batch.ct");
  write_file(f, path, 5, 3, 2);
  const std::string good = read_bytes(path);
  CHECK(read_all_batches(f, path).empty());

  const std::string damaged = dir.file("damaged.ct");
  write_bytes(damaged, good.substr(0, good.size() - 100));
  CHECK(contains(read_all_batches(f, damaged), "truncated"));
  // Cut exactly after the first batch: the second batch's records are missing.
  const uint64_t first_batch =
      kProtocolHeaderBytes + ciphertext_batch_bytes(*f.keys.contexts[0], 2) +
      ciphertext_batch_bytes(*f.keys.contexts[1], 2) + 2 * kProtocolBindingBytes;
  write_bytes(damaged, good.substr(0, first_batch));
  CHECK(contains(read_all_batches(f, damaged),
                 "record 3 (batch 2, modulus 1) is missing: the file holds 2 of its 4 records"));
  write_bytes(damaged, good.substr(0, first_batch + 1000));
  CHECK(contains(read_all_batches(f, damaged), "batch 2 of 2 (modulus 1 of 2): truncated"));
  write_bytes(damaged, good.substr(0, 50));
  CHECK(contains(read_all_batches(f, damaged), "truncated: 50 bytes, the header alone needs 160"));

  // Header fields (fingerprint, batch size, first image) and the checksum.
  for (size_t offset : {size_t{9}, size_t{40}, size_t{60}, size_t{70}}) {
    std::string bytes = good;
    bytes[offset] ^= 0x10;
    write_bytes(damaged, bytes);
    CHECK(contains(read_all_batches(f, damaged), "corrupted: header checksum mismatch"));
  }
  const size_t second_record =
      kProtocolHeaderBytes + ciphertext_batch_bytes(*f.keys.contexts[0], 2) + kProtocolBindingBytes;
  for (size_t offset : {kProtocolHeaderBytes + 5000, second_record + 5000}) {
    std::string bytes = good;
    bytes[offset] ^= 0x01;
    write_bytes(damaged, bytes);
    CHECK(contains(read_all_batches(f, damaged), "corrupted: checksum mismatch"));
  }
  // The last byte is in the last record's binding (its checksum).
  std::string last = good;
  last.back() ^= 0x01;
  write_bytes(damaged, last);
  CHECK(contains(read_all_batches(f, damaged), "corrupted: the record binding's checksum"));
  write_bytes(damaged, good + "x");
  CHECK(contains(read_all_batches(f, damaged), "trailing bytes after the last record"));
  write_bytes(damaged, "cryptonets-model 1\n");
  CHECK(contains(read_all_batches(f, damaged), "not a cryptonets protocol file"));
  write_bytes(damaged, "");
  CHECK(contains(read_all_batches(f, damaged), "empty file"));
  CHECK(contains(read_all_batches(f, dir.file("missing.ct")), "cannot open"));
  CHECK(contains(read_all_batches(f, dir.path.string()), "it is a directory"));

  save_secret_keys(dir.file("secret.key"), key_contexts(f.keys),
                   f.keys_of([](const yashe::KeySet& k) { return k.secret_key; }));
  CHECK(contains(read_all_batches(f, dir.file("secret.key")),
                 "holds secret keys, expected ciphertexts"));
}

TEST_CASE("the ciphertext writer refuses other keys and leaves no file unless committed") {
  CrtFixture& f = fixture();
  CrtFixture& g = other_keys();
  TempDir dir;
  {
    CiphertextFileWriter writer(dir.file("out.ct"), key_contexts(f.keys), f.key_ids(), kProfile,
                                {6, {}}, 0, 6, 3, 2);
    writer.write(make_batch(f, 0, 3, 2));
    // g's ciphertexts under f's key ids.
    CHECK_THROWS_AS(writer.write(make_batch(g, 3, 3, 2)), std::invalid_argument);
    CHECK_THROWS_AS(writer.commit(), std::logic_error);
  }
  CHECK(dir.names().empty());
  {
    CiphertextFileWriter writer(dir.file("out.ct"), key_contexts(f.keys), f.key_ids(), kProfile,
                                {6, {}}, 0, 6, 3, 2);
    // 2 images; batches are numbered from 1 in messages.
    CHECK_THROWS_WITH_AS(writer.write(make_batch(f, 0, 2, 2)),
                         doctest::Contains("batch 1 must hold 3 images"), std::invalid_argument);
    CHECK_THROWS_AS(writer.write(make_batch(f, 0, 3, 1)), std::invalid_argument);  // 1 value
  }
  CHECK(dir.names().empty());
}

TEST_CASE("a ciphertext header promising 2^64 - 1 images is not read as a file of no batch") {
  // Found while writing tests/fuzz/fuzz_protocol_files: ceil(images / batch size) computed as
  // (images + batch_size - 1) / batch_size wrapped to 0 batches, and a bare header was accepted.
  ProtocolHeader header;
  header.images = UINT64_MAX;
  header.batch_size = 3;
  CHECK(header.batch_count() == UINT64_MAX / 3);
  header.batch_size = 2;
  CHECK(header.batch_count() == UINT64_MAX / 2 + 1);
  CHECK(header.images_in_batch(UINT64_MAX / 2) == 1);

  CrtFixture& f = fixture();
  TempDir dir;
  const std::string path = dir.file("batch.ct");
  write_file(f, path, 3, 3, 2);
  // The header alone, its images and source images fields set to 2^64 - 1 and its checksum
  // redone.
  write_bytes(path,
              with_header_field(with_header_field(read_bytes(path).substr(0, kProtocolHeaderBytes),
                                                  kImagesOffset, UINT64_MAX),
                                kSourceImagesOffset, UINT64_MAX));
  CHECK(read_protocol_header(path).images == UINT64_MAX);
  CHECK(contains(read_all_batches(f, path),
                 "batch 1 of 6148914691236517205 (modulus 1 of 2): truncated"));
}

TEST_CASE("a corrupted first image index is caught by the header checksum") {
  CrtFixture& f = fixture();
  TempDir dir;
  const std::string path = dir.file("batch.ct");
  write_file(f, path, 3, 3, 2, 7);
  const std::string good = read_bytes(path);
  REQUIRE(read_protocol_header(path).first_image == 7);
  // 7 -> 6 and 7 -> 7 + 2^56: each byte of the field is covered.
  for (size_t offset : {kFirstImageOffset, kFirstImageOffset + 7}) {
    std::string bytes = good;
    bytes[offset] ^= 0x01;
    write_bytes(path, bytes);
    CHECK(contains(read_all_batches(f, path), "corrupted: header checksum mismatch"));
  }
  // The same change with the checksum redone is a valid file of other images: what the field
  // records is what the reader reports.
  write_bytes(path, with_header_field(good, kFirstImageOffset, 6));
  CHECK(read_all_batches(f, path).empty());
  CHECK(read_protocol_header(path).first_image == 6);
}

TEST_CASE("the model profile fingerprint is recorded, checksummed, and only in ciphertext files") {
  CrtFixture& f = fixture();
  TempDir dir;
  const std::string path = dir.file("batch.ct");
  write_file(f, path, 3, 3, 2);
  CHECK(read_protocol_header(path).profile_fingerprint == kProfile);
  const std::string good = read_bytes(path);
  CHECK(load_le(reinterpret_cast<const uint8_t*>(good.data()) + kProfileOffset, 8) == kProfile);
  std::string bytes = good;
  bytes[kProfileOffset + 7] ^= 0x01;
  write_bytes(path, bytes);
  CHECK(contains(read_all_batches(f, path), "corrupted: header checksum mismatch"));
  // Checksum redone: a valid file of another profile, whose fingerprint the reader reports.
  write_bytes(path, with_header_field(good, kProfileOffset, 7));
  CHECK(read_all_batches(f, path).empty());
  CHECK(read_protocol_header(path).profile_fingerprint == 7);
  save_parameter_set(dir.file("params"), key_contexts(f.keys));
  write_bytes(dir.file("params"),
              with_header_field(read_bytes(dir.file("params")), kProfileOffset, kProfile));
  CHECK(contains(error_of([&] { load_parameter_set(dir.file("params")); }),
                 "invalid header: image fields set in a file of a parameter set"));
}

TEST_CASE("files of format version 1, without the first image index, are refused by name") {
  CrtFixture& f = fixture();
  TempDir dir;
  const std::string path = dir.file("batch.ct");
  write_file(f, path, 3, 3, 2, 7);
  const std::string version_1 = as_version_1(read_bytes(path));
  REQUIRE(version_1.size() + (kProtocolHeaderBytes - 88) == fs::file_size(path));
  write_bytes(path, version_1);
  const std::string error = read_all_batches(f, path);
  CHECK(contains(error, "format version 1 is no longer supported; this build reads 6"));
  CHECK(contains(error, "written by an older cryptonets; re-run encrypt"));
  CHECK(contains(error_of([&] { read_protocol_header(path); }), "format version 1"));
  // Even its header alone (88 bytes, shorter than a version 2 header) is named by its version.
  write_bytes(path, version_1.substr(0, 88));
  CHECK(contains(read_all_batches(f, path), "written by an older cryptonets; re-run encrypt"));

  // A version 1 key file asks for new keys.
  const std::string key_path = dir.file("secret.key");
  save_secret_keys(key_path, key_contexts(f.keys),
                   f.keys_of([](const yashe::KeySet& k) { return k.secret_key; }));
  write_bytes(key_path, as_version_1(read_bytes(key_path)));
  CHECK(contains(error_of([&] { load_secret_keys(key_path, key_contexts(f.keys)); }),
                 "format version 1 is no longer supported; this build reads 6 (written by an "
                 "older cryptonets; re-run keygen)"));

  // Versions 2 (no file ids nor record bindings, noise estimates in clear), 3 (no scheme), 4
  // (no source images) and 5 (no profile fingerprint) are refused by name.
  write_file(f, path, 3, 3, 2, 7);
  std::string bytes = read_bytes(path);
  for (char version : {2, 3, 4, 5}) {
    bytes[kVersionOffset] = version;
    write_bytes(path, bytes);
    CHECK(contains(read_all_batches(f, path),
                   "format version " + std::to_string(version) +
                       " is no longer supported; this build reads 6 (written by an older "
                       "cryptonets; re-run encrypt"));
  }

  // A later version is named as such, not as an older one.
  bytes[kVersionOffset] = 7;
  write_bytes(path, bytes);
  CHECK(contains(read_all_batches(f, path),
                 "format version 7, this build reads 6 (written by a newer cryptonets)"));
}

TEST_CASE(
    "a first image index whose last image would pass 2^64 - 1 is refused, writing and reading") {
  CrtFixture& f = fixture();
  TempDir dir;
  const ContextSet contexts = key_contexts(f.keys);
  // Images 2^64 - 3 .. 2^64 - 1 wrap to 0 at the end; 2^64 - 4 .. 2^64 - 2 do not.
  CHECK_THROWS_AS(CiphertextFileWriter(dir.file("out.ct"), contexts, f.key_ids(), kProfile,
                                       {UINT64_MAX, {}}, UINT64_MAX - 2, 3, 3, 2),
                  std::invalid_argument);
  CHECK(dir.names().empty());
  const std::string path = dir.file("batch.ct");
  write_file(f, path, 3, 3, 2, UINT64_MAX - 3);
  CHECK(read_all_batches(f, path).empty());
  CHECK(read_protocol_header(path).first_image == UINT64_MAX - 3);

  // A header that claims it, checksum redone, is refused before any ciphertext is read.
  const std::string good = read_bytes(path);
  for (uint64_t first : {UINT64_MAX - 2, UINT64_MAX}) {
    write_bytes(path, with_header_field(good, kFirstImageOffset, first));
    const std::string error = read_all_batches(f, path);
    CHECK(contains(error, "invalid header: first image " + std::to_string(first) +
                              " + 3 images exceeds 2^64 - 1"));
    CHECK(contains(error_of([&] { read_protocol_header(path); }), "exceeds 2^64 - 1"));
  }
  // Only ciphertext files record a first image.
  save_parameter_set(dir.file("params"), contexts);
  write_bytes(dir.file("params"),
              with_header_field(read_bytes(dir.file("params")), kFirstImageOffset, 5));
  CHECK(contains(error_of([&] { load_parameter_set(dir.file("params")); }),
                 "invalid header: image fields set in a file of a parameter set"));
}

// ---- Both schemes (issue 15): every file records its scheme, a file of one scheme is refused by
// the other naming both, and the key sets by role load from a key directory.

namespace {

// A small ring for quick files (n = 64, four 50-bit primes, two 20-bit plaintext moduli).
template <class Parameters>
Parameters small_parameters() {
  Parameters params;
  params.n = 64;
  params.q_primes = generate_ntt_primes(50, 4, 2 * params.n);
  params.t = select_plaintext_moduli(params.n, 20, 1, params.q_primes).front();
  return params;
}

template <class Scheme>
struct SchemeDirectory {
  TempDir dir;
  KeyDirectory files{dir.file("keys")};
  BasicCrtKeys<Scheme> keys;

  explicit SchemeDirectory(uint64_t seed) {
    using Parameters = typename Scheme::Parameters;
    const Parameters base = small_parameters<Parameters>();
    Prng prng = Prng::insecure_seeded(seed);
    keys = BasicCrtKeys<Scheme>::generate(
        base, select_plaintext_moduli(base.n, 20, 2, base.q_primes), prng);
    fs::create_directory(dir.file("keys"));
    save_key_directory(files, keys);
  }

  // A ciphertext file of one image: value j holds 10·j - 7 in slot 0; with `squared`, value j
  // holds its square as an unrelinearised product (three parts under BFV).
  std::string write_ciphertexts(const std::string& name, bool squared = false) const {
    const BasicCrtEncryptionSet<Scheme> client(keys.encryption_keys());
    Prng prng = Prng::insecure_seeded(7);
    inference::EncryptedBatch batch;
    batch.images = 1;
    batch.values.resize(client.size());
    for (int64_t j = 0; j < 3; ++j) {
      const std::vector<int64_t> slots = {10 * j - 7};
      const CrtCiphertext ct = client.encrypt(slots, prng);
      for (size_t i = 0; i < client.size(); ++i) {
        batch.values[i].push_back(squared ? typename Scheme::Evaluator(keys.contexts[i])
                                                .multiply_without_relinearization(ct[i], ct[i])
                                          : ct[i]);
      }
    }
    const std::string path = dir.file(name);
    BasicCiphertextFileWriter<Scheme> writer(path, keys.contexts, keys.key_ids(), kProfile, {1, {}},
                                             0, 1, 1, 3);
    writer.write(std::move(batch));
    writer.commit();
    return path;
  }
};

bool names_both_schemes(const std::string& error) {
  return contains(error, "YASHE'") && contains(error, "BFV") &&
         contains(error, "a file of one scheme cannot be used with the other");
}

}  // namespace

TEST_CASE("BFV key directories and ciphertext files round-trip through the key sets by role") {
  const SchemeDirectory<bfv::Scheme> bfv_files(51);
  CHECK(read_protocol_header(bfv_files.files.parameters).scheme == SchemeId::kBfv);
  for (const std::string& path :
       {bfv_files.files.public_keys, bfv_files.files.evaluation_keys, bfv_files.files.secret_keys})
    CHECK(protocol_file_scheme(path) == SchemeId::kBfv);

  const BfvEncryptionKeys encryption =
      load_encryption_keys<bfv::Scheme>(bfv_files.files.parameters, bfv_files.files.public_keys);
  const BfvServerKeys server = load_server_keys<bfv::Scheme>(
      bfv_files.files.parameters, bfv_files.files.evaluation_keys, bfv_files.files.public_keys);
  const BfvDecryptionKeys decryption =
      load_decryption_keys<bfv::Scheme>(bfv_files.files.parameters, bfv_files.files.secret_keys);
  REQUIRE(server.evaluation_keys.size() == 2);
  for (size_t i = 0; i < 2; ++i) {
    const bfv::KeySet& original = bfv_files.keys.keys[i];
    CHECK(encryption.public_keys[i].p0 == original.public_key.p0);
    CHECK(encryption.public_keys[i].p1 == original.public_key.p1);
    CHECK(server.evaluation_keys[i].b == original.relinearization_key.b);
    CHECK(server.evaluation_keys[i].a == original.relinearization_key.a);
    CHECK(decryption.secret_keys[i].coefficients == original.secret_key.coefficients);
    CHECK(decryption.secret_keys[i].s == original.secret_key.s);
  }

  // The encrypting party's set cannot multiply (it has no evaluation keys); the server's can, and
  // what it computes decrypts under the loaded secret keys.
  const BfvCrtEncryptionSet encrypting(encryption);
  CHECK_FALSE(encrypting.has_evaluation_keys());
  Prng prng = Prng::insecure_seeded(3);
  const CrtCiphertext six = encrypting.encrypt(std::vector<int64_t>{6}, prng);
  CHECK_THROWS_AS(encrypting.multiply(six, six), std::logic_error);
  const BfvCrtEncryptionSet evaluating(server);
  const BfvCrtDecryptionSet client(decryption);
  CHECK(client.decrypt(evaluating.multiply(six, six), 100).front() == 36);

  // A ciphertext file: every record of scheme BFV, read back to the same values.
  const std::string path = bfv_files.write_ciphertexts("images.ct");
  CHECK(read_protocol_header(path).scheme == SchemeId::kBfv);
  BfvCiphertextFileReader reader(path, decryption.contexts, bfv_files.keys.key_ids());
  const inference::EncryptedBatch batch = reader.next();
  reader.finish();
  for (int64_t j = 0; j < 3; ++j) {
    CrtCiphertext value;
    for (const auto& row : batch.values)
      value.push_back(row[static_cast<size_t>(j)]);
    CHECK(client.decrypt(value, 100).front() == 10 * j - 7);
  }
}

TEST_CASE("the record-order check reads the parts per ciphertext: 3-part BFV records swapped") {
  const SchemeDirectory<bfv::Scheme> bfv_files(53);
  const std::string path = bfv_files.write_ciphertexts("products.ct", true);
  const BfvDecryptionKeys decryption =
      load_decryption_keys<bfv::Scheme>(bfv_files.files.parameters, bfv_files.files.secret_keys);
  {  // intact: the products (three parts each) read back and decrypt to the squares
    BfvCiphertextFileReader reader(path, decryption.contexts, bfv_files.keys.key_ids());
    const inference::EncryptedBatch batch = reader.next();
    reader.finish();
    REQUIRE(batch.values.size() == 2);
    CHECK(batch.values[0][0].parts.size() == 3);
    const BfvCrtDecryptionSet client(decryption);
    for (int64_t j = 0; j < 3; ++j) {
      const CrtCiphertext value = {batch.values[0][static_cast<size_t>(j)],
                                   batch.values[1][static_cast<size_t>(j)]};
      CHECK(client.decrypt(value, 1000).front() == (10 * j - 7) * (10 * j - 7));
    }
  }
  // The two records (one per modulus) swapped: named as a reordering before any ciphertext is
  // read (with the stride of fresh two-part records the check found no binding and said less).
  const std::string bytes = read_bytes(path);
  const size_t stride = (bytes.size() - kProtocolHeaderBytes) / 2;
  REQUIRE(kProtocolHeaderBytes + 2 * stride == bytes.size());
  write_bytes(bfv_files.dir.file("swapped.ct"),
              bytes.substr(0, kProtocolHeaderBytes) +
                  bytes.substr(kProtocolHeaderBytes + stride, stride) +
                  bytes.substr(kProtocolHeaderBytes, stride));
  const std::string error = error_of([&] {
    BfvCiphertextFileReader(bfv_files.dir.file("swapped.ct"), decryption.contexts,
                            bfv_files.keys.key_ids());
  });
  CHECK(contains(error, "position 1 holds record 2 (batch 1, modulus 2) instead of record 1"));
  CHECK(contains(error, "the records were reordered"));
}

TEST_CASE("A file of one scheme is refused by the other, naming both schemes") {
  const SchemeDirectory<bfv::Scheme> bfv_files(52);
  const SchemeDirectory<yashe::Scheme> yashe_files(53);
  const std::string bfv_ct = bfv_files.write_ciphertexts("bfv.ct");
  const std::string yashe_ct = yashe_files.write_ciphertexts("yashe.ct");

  // Parameter sets.
  CHECK(names_both_schemes(error_of([&] { load_parameter_set(bfv_files.files.parameters); })));
  CHECK(names_both_schemes(
      error_of([&] { load_parameter_set<bfv::Scheme>(yashe_files.files.parameters); })));
  // Keys of the other scheme beside a parameter set.
  const ContextSet yashe_contexts = yashe_files.keys.contexts;
  const BfvContextSet bfv_contexts = bfv_files.keys.contexts;
  CHECK(names_both_schemes(
      error_of([&] { load_public_keys(bfv_files.files.public_keys, yashe_contexts); })));
  CHECK(names_both_schemes(
      error_of([&] { load_evaluation_keys(yashe_files.files.evaluation_keys, bfv_contexts); })));
  CHECK(names_both_schemes(
      error_of([&] { load_secret_keys(yashe_files.files.secret_keys, bfv_contexts); })));
  // A YASHE' ciphertext file with BFV keys, and the other way round: refused from the header.
  const std::string yashe_with_bfv =
      error_of([&] { BfvCiphertextFileReader(yashe_ct, bfv_contexts, bfv_files.keys.key_ids()); });
  CHECK(names_both_schemes(yashe_with_bfv));
  CHECK(contains(yashe_with_bfv, "is a YASHE' file, but the keys are BFV"));
  CHECK(names_both_schemes(
      error_of([&] { CiphertextFileReader(bfv_ct, yashe_contexts, yashe_files.keys.key_ids()); })));
  // A single record of the other scheme (serialize.hpp): refused by its own scheme byte.
  std::stringstream record;
  write_public_key(record, *bfv_contexts.front(), bfv_files.keys.keys.front().public_key);
  const std::string record_error =
      error_of([&] { read_public_key(record, yashe_contexts.front(), "record"); });
  CHECK(contains(record_error, "holds a BFV record, but it is read as YASHE'"));
}

TEST_CASE("The server's key loader refuses a secret key under both schemes") {
  const SchemeDirectory<bfv::Scheme> bfv_files(54);
  const SchemeDirectory<yashe::Scheme> yashe_files(55);
  for (const KeyDirectory* files : {&bfv_files.files, &yashe_files.files}) {
    const bool bfv = files == &bfv_files.files;
    CAPTURE(bfv);
    auto load = [&](const std::string& parameters, const std::string& evaluation,
                    const std::string& public_keys) {
      return error_of([&] {
        if (bfv)
          load_server_keys<bfv::Scheme>(parameters, evaluation, public_keys);
        else
          load_server_keys<yashe::Scheme>(parameters, evaluation, public_keys);
      });
    };
    CHECK(load(files->parameters, files->evaluation_keys, files->public_keys).empty());
    const std::string refusal = std::string("holds secret keys (") + (bfv ? "BFV" : "YASHE'") +
                                "); the server never holds the secret key";
    CHECK(contains(load(files->parameters, files->secret_keys, files->public_keys), refusal));
    CHECK(contains(load(files->parameters, files->evaluation_keys, files->secret_keys), refusal));
    CHECK(contains(load(files->secret_keys, files->evaluation_keys, files->public_keys), refusal));
  }
}

TEST_CASE("A failure of the system, not of the file, is a std::system_error carrying errno") {
  // The service retries a key set that it could not read for such a reason instead of calling it
  // damaged: a read error must not pass for a truncated file. /proc/self/mem opens, and read(2)
  // at offset 0 fails with EIO (address 0 is never mapped).
  const SchemeDirectory<yashe::Scheme> files(56);
  const ContextSet contexts = load_parameter_set<yashe::Scheme>(files.files.parameters);
  const std::string mem = "/proc/self/mem";
  auto failure_of = [](auto&& load) -> std::pair<std::error_code, std::string> {
    try {
      load();
    } catch (const std::system_error& e) {
      return {e.code(), e.what()};
    } catch (const std::exception& e) {
      return {std::error_code(), e.what()};
    }
    return {};
  };
  const std::vector<std::pair<std::error_code, std::string>> failures = {
      failure_of([&] { read_protocol_header(mem); }),
      failure_of([&] { load_parameter_set<yashe::Scheme>(mem); }),
      failure_of([&] { load_public_keys(mem, contexts); }),
      failure_of([&] { load_evaluation_keys(mem, contexts); }),
      failure_of([&] { CiphertextFileReader(mem, contexts, files.keys.key_ids()); })};
  for (const auto& failure : failures) {
    CAPTURE(failure.second);
    CHECK(failure.first == std::errc::io_error);
    CHECK(contains(failure.second, "cannot read file '/proc/self/mem'"));
    CHECK(!contains(failure.second, "truncated"));
  }
  // A missing file: ENOENT, with the message it always had.
  const auto missing = failure_of([&] {
    load_server_keys<yashe::Scheme>(files.dir.file("none"), files.files.evaluation_keys,
                                    files.files.public_keys);
  });
  CHECK(missing.first == std::errc::no_such_file_or_directory);
  CHECK(contains(missing.second, "for reading: No such file or directory"));
  // What the file holds is no system error.
  const std::string cut = files.dir.file("cut.key");
  fs::copy_file(files.files.evaluation_keys, cut);
  fs::resize_file(cut, fs::file_size(cut) / 2);
  const auto damaged = failure_of([&] { load_evaluation_keys(cut, contexts); });
  CHECK(!damaged.first);
  CHECK(contains(damaged.second, "truncated"));
}

TEST_CASE("The server's search for secret keys opens only the regular files of a directory") {
  // infer looks at the first bytes of every entry at the top level of its key directory: a FIFO
  // or a device there is never opened (a device's open can act by itself; a FIFO's must not
  // block). inotify sees every open of the FIFO; a copy of the secret key under another name is
  // still found, and a directory holding only the FIFO gives nothing.
  const SchemeDirectory<yashe::Scheme> files(58);
  const fs::path directory = files.dir.file("search");
  fs::create_directory(directory);
  fs::copy_file(files.files.secret_keys, directory / "z-copy");
  REQUIRE(::mkfifo((directory / "a-pipe").c_str(), 0600) == 0);
  const int watch = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  REQUIRE(watch >= 0);
  REQUIRE(::inotify_add_watch(watch, directory.c_str(), IN_OPEN) >= 0);
  CHECK(secret_keys_in_directory(directory.string()) == (directory / "z-copy").string());
  CHECK_FALSE(starts_as_secret_keys((directory / "a-pipe").string()));
  fs::remove(directory / "z-copy");
  CHECK(secret_keys_in_directory(directory.string()) == std::nullopt);
  alignas(inotify_event) char events[4096];
  std::vector<std::string> opened;
  for (ssize_t got; (got = ::read(watch, events, sizeof events)) > 0;) {
    for (char* at = events; at < events + got;) {
      const auto* event = reinterpret_cast<const inotify_event*>(at);
      if (event->len > 0) opened.emplace_back(event->name);
      at += sizeof(inotify_event) + event->len;
    }
  }
  ::close(watch);
  CHECK(std::count(opened.begin(), opened.end(), "z-copy") >= 1);
  CHECK(std::count(opened.begin(), opened.end(), "a-pipe") == 0);
}

TEST_CASE("require_one_key_set refuses a FIFO before opening it (opening one waits for a writer)") {
  // A caller that does not check its paths first (found by a review: the check relied on every
  // caller filtering FIFOs out). Should the FIFO be opened after all, a writer that opens and
  // closes it at once makes the read end at EOF instead of blocking the test for ever.
  const SchemeDirectory<yashe::Scheme> files(57);
  const std::string fifo = files.dir.file("fifo.key");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  std::atomic<bool> done{false};
  std::thread writer([&] {
    while (!done.load()) {
      const int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);  // ENXIO while no reader
      if (fd >= 0) {
        ::close(fd);
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  const std::string refusal = error_of([&] {
    require_one_key_set({files.files.parameters, fifo});
  });
  done.store(true);
  writer.join();
  CAPTURE(refusal);
  CHECK(contains(refusal, "cannot read file '" + fifo + "': it is a FIFO (named pipe)"));
  // The regular files of the set still pass.
  CHECK(error_of([&] {
          require_one_key_set({files.files.parameters, files.files.public_keys});
        }).empty());
}

namespace {

// The inverse of an odd number modulo 2^64 (Newton: each step doubles the bits that are right).
uint64_t inverse_mod_2_64(uint64_t odd) {
  uint64_t x = odd;  // right to 3 bits: odd·odd ≡ 1 (mod 8)
  for (int i = 0; i < 5; ++i)
    x *= 2 - odd * x;
  return x;
}

// `bytes` (a whole file) with its header's kind byte set to `kind` and the checksum redone.
std::string with_kind(std::string bytes, ProtocolFileKind kind) {
  bytes[4] = static_cast<char>(kind);
  const auto digest =
      sha256({reinterpret_cast<const uint8_t*>(bytes.data()), kHeaderChecksumOffset});
  std::copy(digest.begin(), digest.end(), bytes.begin() + kHeaderChecksumOffset);
  return bytes;
}

// A YASHE' parameter set file of `base` with t = each of `moduli`, written as FORMATS.md §3.3,
// §4.1 and §5 say with every checksum right but without validating the parameters (as a hostile
// client or server would write it).
std::string unchecked_parameter_set(const yashe::Parameters& base,
                                    const std::vector<uint64_t>& moduli) {
  const auto word = [](uint64_t value) {
    std::string bytes(8, '\0');
    store_le(reinterpret_cast<uint8_t*>(bytes.data()), value, 8);
    return bytes;
  };
  std::string records;
  Sha256 identity;
  const std::string tag = "cryptonets parameter set 1";
  identity.update({reinterpret_cast<const uint8_t*>(tag.c_str()), tag.size() + 1});
  identity.update({reinterpret_cast<const uint8_t*>(word(moduli.size()).data()), 8});
  for (uint64_t t : moduli) {
    yashe::Parameters params = base;
    params.t = t;
    identity.update({reinterpret_cast<const uint8_t*>(word(params.fingerprint()).data()), 8});
    std::string payload = word(params.n) + word(params.q_primes.size());
    for (uint64_t q : params.q_primes)
      payload += word(q);
    payload += word(t) + word(std::bit_cast<uint64_t>(params.sigma)) +
               word(static_cast<uint64_t>(params.decomposition_bits));
    std::string record = "CNETPY";
    record += static_cast<char>(kSerializationVersion & 0xff);
    record += static_cast<char>(kSerializationVersion >> 8);
    record += word(params.fingerprint()) + word(0) + word(payload.size()) + payload;
    const auto digest = sha256({reinterpret_cast<const uint8_t*>(record.data()), record.size()});
    records += record + std::string(digest.begin(), digest.end());
  }
  std::string header(kProtocolHeaderBytes, '\0');
  std::copy_n("CNPFPY", 6, header.begin());
  header[kVersionOffset] = static_cast<char>(kProtocolFileVersion);
  header = with_header_field(header, 8, load_le(identity.digest().data(), 8));
  return with_header_field(header, 24, moduli.size()) + records;
}

}  // namespace

TEST_CASE("A parameter set beyond the limits is refused when read, before any table is built") {
  // Found by an audit: a parameter set of a few kilobytes (8 moduli at n = 2^17 with 64 primes)
  // asked for gigabytes of tables, which inspect, the server's key loader and keygen on a
  // server's profile built (std::bad_alloc under a 4 GB limit). FORMATS.md §2 Limits.
  TempDir dir;
  const std::string path = dir.file("params");
  const auto refusal = [&](const yashe::Parameters& base, const std::vector<uint64_t>& moduli) {
    write_bytes(path, unchecked_parameter_set(base, moduli));
    const auto start = std::chrono::steady_clock::now();
    const std::string error = error_of([&] { load_parameter_set(path); });
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(1));
    return error;
  };
  yashe::Parameters base;
  base.n = size_t{1} << 17;
  // More primes than a parameter set may have are refused by the record's length, before its
  // words are read (the reader took up to 64 and left them to validation).
  base.q_primes = generate_ntt_primes(61, 64, 2 * base.n);
  const std::string too_long =
      " bytes is not that of parameters (8·(5 + k) bytes for k primes of q, 1 <= k <= 40, the "
      "most a parameter set may have: FORMATS.md §2 Limits)";
  CHECK(contains(refusal(base, {65537}), "payload length 552" + too_long));
  base.q_primes.resize(1);  // the smallest such file: one prime
  CHECK(contains(refusal(base, {65537}),
                 "n = 131072 must be a power of two in [2, 2^15] (the largest ring degree this "
                 "build supports, 32768)"));
  base.n = rlwe::kMaxRingDegree;
  base.q_primes = generate_ntt_primes(61, rlwe::kMaxQPrimes + 1, 2 * base.n);
  CHECK(contains(refusal(base, {65537}), "payload length 368" + too_long));
  // At the limit the record is read, and validated.
  base.q_primes.pop_back();
  base.q_primes.back() = 4;  // not a prime: refused by validation, past the length
  CHECK(contains(refusal(base, {65537}), "invalid parameters: YASHE parameters: "));
  // Nine moduli: refused at the header, before any record is read.
  base.n = 4096;
  base.q_primes = generate_ntt_primes(55, 4, 2 * base.n);
  const std::vector<uint64_t> nine = generate_ntt_primes(30, 9, 2 * base.n);
  CHECK(contains(refusal(base, nine), "9 plaintext moduli, expected 1 to 8"));
  CHECK_THROWS_WITH_AS(make_context_set(base, nine),
                       "make_context_set: 9 plaintext moduli, more than the 8 this build supports",
                       std::invalid_argument);
  // At the limits a parameter set still loads.
  base.q_primes.resize(2);
  const std::vector<uint64_t> eight(nine.begin(), nine.end() - 1);
  write_bytes(path, unchecked_parameter_set(base, eight));
  CHECK(load_parameter_set(path).size() == rlwe::kMaxPlaintextModuli);
}

TEST_CASE("A header's values that overflow a record's size are refused, not divided by zero") {
  // Found by an audit: the record-order check computed the stride between bindings as
  // header + values·(bytes per ciphertext) + checksum + binding in 64 bits, and for values like
  // these it wrapped to 0: SIGFPE in every reader (inspect, infer, decrypt) of a 1 KB file.
  const SchemeDirectory<bfv::Scheme> bfv_files(57);
  const SchemeDirectory<yashe::Scheme> yashe_files(58);
  for (const bool bfv : {true, false}) {
    CAPTURE(bfv);
    const std::string path =
        bfv ? bfv_files.write_ciphertexts("images.ct") : yashe_files.write_ciphertexts("images.ct");
    const size_t parts = bfv ? 2 : 1;
    const uint64_t empty = bfv ? ciphertext_batch_bytes(*bfv_files.keys.contexts[0], 0, parts)
                               : ciphertext_batch_bytes(*yashe_files.keys.contexts[0], 0, parts);
    const uint64_t each = (bfv ? ciphertext_batch_bytes(*bfv_files.keys.contexts[0], 1, parts)
                               : ciphertext_batch_bytes(*yashe_files.keys.contexts[0], 1, parts)) -
                          empty;
    // values·each ≡ -(empty + binding) (mod 2^64): each is 16 times an odd number here.
    const int shift = std::countr_zero(each);
    const uint64_t fixed = empty + kProtocolBindingBytes;
    REQUIRE(fixed % (uint64_t{1} << shift) == 0);
    const uint64_t values = (0 - (fixed >> shift)) * inverse_mod_2_64(each >> shift);
    REQUIRE(fixed + values * each == 0);
    write_bytes(path, with_header_field(read_bytes(path), 48, values));
    const std::string error = error_of([&] {
      if (bfv) {
        BfvCiphertextFileReader reader(path, bfv_files.keys.contexts, bfv_files.keys.key_ids());
        reader.next();
      } else {
        CiphertextFileReader reader(path, yashe_files.keys.contexts, yashe_files.keys.key_ids());
        reader.next();
      }
    });
    CHECK(contains(error,
                   "invalid: 3 ciphertexts, the file's header promises " + std::to_string(values)));
  }
}

TEST_CASE("A ciphertext header whose batches times moduli pass 2^64 - 1 records is refused") {
  // Found by an audit: B·K wrapped (2^63 batches under 2 moduli: 0 records), and the service's
  // keyless check of a ciphertext file (verify_ciphertext_file: client submit and fetch, the
  // server's scores) took the bare header for a whole file.
  const SchemeDirectory<yashe::Scheme> files(59);
  const std::string path = files.write_ciphertexts("images.ct");
  const uint64_t images = uint64_t{1} << 63;
  write_bytes(path,
              with_header_field(with_header_field(read_bytes(path).substr(0, kProtocolHeaderBytes),
                                                  kImagesOffset, images),
                                kSourceImagesOffset, images));
  CHECK(contains(error_of([&] { read_protocol_header(path); }),
                 "invalid header: 9223372036854775808 batches under 2 plaintext moduli make more "
                 "than 2^64 - 1 records"));
}

TEST_CASE("The server's key loader checks the key files' sizes before building any context") {
  // Found by an audit: POST /v1/keysets (no token needed) built the contexts of the uploaded
  // parameter set before reading its keys, and a 5 KB body of 8 moduli at n = 2^17 with 64
  // primes (1.2 GB of tables and 5 s each) ran the server out of memory. Such parameters are now
  // refused as read (the test above); those here, at the limits (one modulus), would still take
  // about 180 MB, and the refusal comes before any of it.
  const size_t n = rlwe::kMaxRingDegree;
  yashe::Parameters params;
  params.n = n;
  params.q_primes = generate_ntt_primes(61, rlwe::kMaxQPrimes, 2 * n);
  params.t = 65537;
  const uint64_t key_set = 0x0123456789abcdefull;
  // The parameter set's identity (FORMATS.md §3.3) of its one record's fingerprint.
  Sha256 identity;
  const std::string tag = "cryptonets parameter set 1";
  identity.update({reinterpret_cast<const uint8_t*>(tag.c_str()), tag.size() + 1});
  uint8_t word[8];
  for (uint64_t value : {uint64_t{1}, params.fingerprint()}) {
    store_le(word, value, 8);
    identity.update(word);
  }
  std::string header(kProtocolHeaderBytes, '\0');
  std::copy_n("CNPFPY", 6, header.begin());
  header[kVersionOffset] = static_cast<char>(kProtocolFileVersion);
  header = with_header_field(header, 8, load_le(identity.digest().data(), 8));
  header = with_header_field(header, 16, key_set);
  header = with_header_field(header, 24, 1);
  std::ostringstream record;
  write_parameters(record, params);
  TempDir dir;
  const KeyDirectory files(dir.path.string());
  write_bytes(files.parameters, header + record.str());
  write_bytes(files.evaluation_keys, with_kind(header, ProtocolFileKind::kEvaluationKeys));
  write_bytes(files.public_keys, with_kind(header, ProtocolFileKind::kPublicKeys));
  const auto start = std::chrono::steady_clock::now();
  const std::string error = error_of([&] {
    load_server_keys<yashe::Scheme>(files.parameters, files.evaluation_keys, files.public_keys);
  });
  CHECK(contains(error,
                 "evaluation.key': truncated: 160 bytes, where the evaluation keys of its "
                 "parameter set take " +
                     std::to_string(kProtocolHeaderBytes + evaluation_key_record_bytes(params))));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
  // A header of another parameter set is refused before the contexts too, in the loader's words
  // (left to the loader, it let them be built first all the same).
  write_bytes(files.evaluation_keys,
              with_kind(with_header_field(header, 8, 1), ProtocolFileKind::kEvaluationKeys));
  const auto again = std::chrono::steady_clock::now();
  CHECK(contains(error_of([&] {
                   load_server_keys<yashe::Scheme>(files.parameters, files.evaluation_keys,
                                                   files.public_keys);
                 }),
                 "evaluation.key': made for other parameters: parameter set fingerprint "
                 "0x0000000000000001"));
  CHECK(std::chrono::steady_clock::now() - again < std::chrono::seconds(2));
  write_bytes(files.evaluation_keys, with_kind(header, ProtocolFileKind::kEvaluationKeys));
  // The public keys likewise, once the evaluation keys are as long as they should be.
  // (hundreds of MB at these parameters: a sparse file.)
  fs::resize_file(files.evaluation_keys,
                  kProtocolHeaderBytes + evaluation_key_record_bytes(params));
  CHECK(contains(error_of([&] {
                   load_server_keys<yashe::Scheme>(files.parameters, files.evaluation_keys,
                                                   files.public_keys);
                 }),
                 "public.key': truncated: 160 bytes, where the public keys of its parameter set "
                 "take"));
}

TEST_CASE("A public key part that is zero modulo a prime is refused (no re-randomisation)") {
  // With h = 0 (YASHE') or p_0 = p_1 = 0 (BFV) the server's re-randomisation of its outputs adds
  // only small noise: two runs of one computation differ by a few bits (an audit). A part zero
  // modulo one prime of q is refused too, naming the part and the prime.
  const SchemeDirectory<yashe::Scheme> yashe_files(61);
  const SchemeDirectory<bfv::Scheme> bfv_files(62);
  TempDir dir;
  {
    auto keys = yashe_files.keys.keys;
    std::vector<yashe::PublicKey> public_keys;
    for (const auto& k : keys)
      public_keys.push_back(k.public_key);
    CHECK_NOTHROW(load_public_keys(yashe_files.files.public_keys, yashe_files.keys.contexts));
    uint64_t* row = public_keys[1].h.residues(1);
    std::fill(row, row + public_keys[1].h.n(), 0);
    save_public_keys(dir.file("yashe.key"), yashe_files.keys.contexts, public_keys);
    const std::string error =
        error_of([&] { load_public_keys(dir.file("yashe.key"), yashe_files.keys.contexts); });
    INFO(error);
    CHECK(contains(error, "public key h is zero modulo prime 2 of q"));
  }
  {
    std::vector<bfv::PublicKey> public_keys;
    for (const auto& k : bfv_files.keys.keys)
      public_keys.push_back(k.public_key);
    CHECK_NOTHROW(load_public_keys(bfv_files.files.public_keys, bfv_files.keys.contexts));
    for (bfv::PublicKey& key : public_keys) {
      for (RnsPoly* part : {&key.p0, &key.p1}) {
        for (size_t r = 0; r < part->rns_size(); ++r)
          std::fill(part->residues(r), part->residues(r) + part->n(), 0);
      }
    }
    save_public_keys(dir.file("bfv.key"), bfv_files.keys.contexts, public_keys);
    const std::string error =
        error_of([&] { load_public_keys(dir.file("bfv.key"), bfv_files.keys.contexts); });
    INFO(error);
    CHECK(contains(error, "public key p_0 is zero modulo prime 1 of q"));
  }
}
