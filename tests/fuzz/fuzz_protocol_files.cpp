// Fuzz target for the protocol file readers of io/protocol_files.hpp: load_parameter_set,
// load_public_keys, load_evaluation_keys, load_secret_keys, the streamed CiphertextFileReader
// (next() batch by batch, then finish()) and read_protocol_header.
//
// Input: control byte, then the file content. Control bits 0-2 modulo 6 choose the reader
// (0 parameter set, 1 public keys, 2 evaluation keys, 3 secret keys, 4 ciphertext file, 5 header
// only). Bit 3 recomputes the checksums (the header's SHA-256, then the SHA-256 of each complete
// CNET record in turn), so that mutations also reach the checks that follow them. Bit 4 abandons
// a ciphertext file after its first batch (no finish()), as a client that stops early does.
//
// The files hold two plaintext moduli over the small ring of fuzz_yashe_support.hpp (n = 32, two
// 41-bit primes of q). The readers only take paths: the content is written to an in-memory file
// (memfd_create) that they open through /proc/self/fd; nothing touches the disk or is left behind.
#include <sys/mman.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "cryptonets/io/protocol_files.hpp"
#include "fuzz_yashe_support.hpp"

using cryptonets::inference::EncryptedBatch;

using namespace cryptonets;
using namespace cryptonets::yashe;

namespace {

constexpr uint8_t kReaderCount = 6;
constexpr uint8_t kReaderMask = 0x07;
constexpr uint8_t kFixChecksums = 0x08;
constexpr uint8_t kFirstBatchOnly = 0x10;
enum Reader : uint8_t {
  kParameterSet = 0,
  kPublicKeys = 1,
  kEvaluationKeys = 2,
  kSecretKeys = 3,
  kCiphertextFile = 4,
  kHeaderOnly = 5,
};

// Offsets in the protocol header (protocol_files.hpp): fields before the checksum.
constexpr size_t kHeaderFieldBytes = 128;
constexpr size_t kBindingFieldBytes = 32;  // before a record binding's SHA-256

// The objects of one key generation under two plaintext moduli.
struct ProtocolObjects {
  ContextSet contexts;
  std::vector<KeySet> keys;
  std::vector<uint64_t> key_ids;
  // Per modulus: a fresh (degree 1) and a product (degree 2) ciphertext.
  std::vector<std::vector<Ciphertext>> ciphertexts;
};

ProtocolObjects make_protocol_objects() {
  ProtocolObjects objects;
  // 65537 and 786433 = 3·2^18 + 1: both prime and ≡ 1 mod 2n, as select_plaintext_moduli picks.
  objects.contexts = make_context_set(fuzz::fuzz_parameters(), {65537, 786433});
  // Deterministic keys for reproducible seeds (never for real keys).
  Prng prng = Prng::insecure_seeded(11);
  for (const auto& context : objects.contexts) {
    objects.keys.push_back(generate_keys(context, prng));
    objects.key_ids.push_back(objects.keys.back().public_key.key_id);
    Plaintext plain;
    for (size_t j = 0; j < context->n(); ++j)
      plain.coeffs.push_back(sample_uniform_below(prng, context->parameters().t));
    const Encryptor encryptor(context, objects.keys.back().public_key);
    const Evaluator evaluator(context, objects.keys.back().evaluation_key);
    const Ciphertext fresh = encryptor.encrypt(plain, prng);
    objects.ciphertexts.push_back(
        {fresh, evaluator.multiply_without_relinearization(fresh, fresh)});
  }
  return objects;
}

const ProtocolObjects& protocol_objects() {
  static const ProtocolObjects objects = make_protocol_objects();
  return objects;
}

// ---- Checksums.

// The header's SHA-256, then each complete record's and record binding's, in file order: what a
// writer would store.
void recompute_checksums(fuzz::Bytes& file) {
  if (file.size() < kProtocolHeaderBytes) return;
  const auto header_digest = sha256({file.data(), kHeaderFieldBytes});
  std::memcpy(file.data() + kHeaderFieldBytes, header_digest.data(), header_digest.size());
  size_t offset = kProtocolHeaderBytes;
  Sha256::Digest last_record{};
  while (offset < file.size()) {
    uint8_t* record = file.data() + offset;
    if (file.size() - offset >= kProtocolBindingBytes && std::memcmp(record, "CNRB", 4) == 0) {
      Sha256 hash;
      hash.update({record, kBindingFieldBytes});
      hash.update(last_record);
      const auto digest = hash.digest();
      std::memcpy(record + kBindingFieldBytes, digest.data(), digest.size());
      offset += kProtocolBindingBytes;
      continue;
    }
    const size_t record_size = fuzz::declared_record_size(record, file.size() - offset);
    if (record_size == 0) return;
    const size_t hashed = record_size - fuzz::kChecksumBytes;
    const auto digest = sha256({record, hashed});
    std::memcpy(record + hashed, digest.data(), digest.size());
    last_record = digest;
    offset += record_size;
  }
}

// ---- Writing back: the harness encodes the header itself (the layout of protocol_files.hpp), an
// independent check of the reader's field order.

void append_le64(fuzz::Bytes& bytes, uint64_t value) {
  for (int i = 0; i < 8; ++i)
    bytes.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

fuzz::Bytes encoded_header(const ProtocolHeader& header) {
  fuzz::Bytes bytes = {
      'C', 'N', 'P', 'F', static_cast<uint8_t>(header.kind), static_cast<uint8_t>(header.scheme)};
  bytes.push_back(static_cast<uint8_t>(kProtocolFileVersion));
  bytes.push_back(static_cast<uint8_t>(kProtocolFileVersion >> 8));
  for (uint64_t field : {header.parameter_set_fingerprint, header.key_set_id, header.moduli,
                         header.images, header.batch_size, header.values, header.first_image,
                         header.file_id, header.answers_file_id, header.source.images}) {
    append_le64(bytes, field);
  }
  bytes.insert(bytes.end(), header.source.sha256.begin(), header.source.sha256.end());
  append_le64(bytes, header.profile_fingerprint);
  const auto digest = sha256(bytes);
  bytes.insert(bytes.end(), digest.begin(), digest.end());
  return bytes;
}

ProtocolHeader key_file_header(ProtocolFileKind kind, const ContextSet& contexts,
                               const std::vector<uint64_t>& key_ids) {
  ProtocolHeader header;
  header.kind = kind;
  header.parameter_set_fingerprint = parameter_set_fingerprint(contexts);
  header.key_set_id = kind == ProtocolFileKind::kParameterSet ? 0 : key_set_id(key_ids);
  // (a parameter set's key set id is taken from the file: keygen records its key set there)
  header.moduli = contexts.size();
  return header;
}

// Header, then the records that write_record(out, i) writes for each modulus i (or each batch and
// modulus); the library's writer refusing an accepted object is a finding.
template <class WriteRecords>
fuzz::Bytes written_file(const ProtocolHeader& header, WriteRecords&& write_records,
                         const char* what) {
  fuzz::Bytes bytes = encoded_header(header);
  try {
    const fuzz::Bytes records = fuzz::serialized(write_records);
    bytes.insert(bytes.end(), records.begin(), records.end());
  } catch (const std::exception& e) {
    fuzz::finding(std::string("writing back an accepted ") + what + " fails: " + e.what());
  }
  return bytes;
}

// An accepted file, written back, is exactly the file that was read, and its header reads alone
// as the loader read it.
void check_written_back(const fuzz::Bytes& written, const fuzz::Bytes& file, const char* what) {
  if (written != file) {
    fuzz::finding(std::string("an accepted ") + what +
                  " file does not write back to the bytes it was read from");
  }
  ProtocolHeader header;
  if (!fuzz::accepted([&] { header = read_protocol_header(fuzz::scratch_file().path()); })) {
    fuzz::finding(std::string("read_protocol_header refuses an accepted ") + what + " file");
  }
  if (encoded_header(header) != fuzz::Bytes(file.begin(), file.begin() + kProtocolHeaderBytes)) {
    fuzz::finding(std::string("read_protocol_header reads another header of a ") + what + " file");
  }
}

// ---- Readers.

template <class Key, class Load, class WriteOne>
void read_key_file(ProtocolFileKind kind, Load&& load, WriteOne&& write_one,
                   const fuzz::Bytes& file, const char* what) {
  const ContextSet& contexts = protocol_objects().contexts;
  std::vector<Key> keys;
  if (!fuzz::accepted([&] { keys = load(fuzz::scratch_file().path(), contexts); })) return;
  if (keys.size() != contexts.size()) fuzz::finding(std::string("wrong number of ") + what);
  const ProtocolHeader header = key_file_header(kind, contexts, key_ids_of(keys));
  const fuzz::Bytes written = written_file(
      header,
      [&](std::ostream& out) {
        for (size_t i = 0; i < keys.size(); ++i)
          write_one(out, *contexts[i], keys[i]);
      },
      what);
  check_written_back(written, file, what);
}

void read_parameter_set(const fuzz::Bytes& file) {
  ContextSet contexts;
  if (!fuzz::accepted([&] { contexts = load_parameter_set(fuzz::scratch_file().path()); })) return;
  if (contexts.empty()) fuzz::finding("an accepted parameter set has no plaintext modulus");
  ProtocolHeader header = key_file_header(ProtocolFileKind::kParameterSet, contexts, {});
  header.key_set_id = read_protocol_header(fuzz::scratch_file().path()).key_set_id;
  const fuzz::Bytes written = written_file(
      header,
      [&](std::ostream& out) {
        for (const auto& context : contexts)
          write_parameters(out, context->parameters());
      },
      "parameter set");
  check_written_back(written, file, "parameter set");
}

void check_batch_shape(const ProtocolHeader& header, const EncryptedBatch& batch, uint64_t index,
                       size_t ticks) {
  if (batch.images != header.images_in_batch(index) || batch.images == 0 ||
      batch.images > header.batch_size) {
    fuzz::finding("a ciphertext batch holds another image count than its header promises");
  }
  if (batch.values.size() != header.moduli) fuzz::finding("a batch with a wrong modulus count");
  for (size_t i = 0; i < batch.values.size(); ++i) {
    if (batch.values[i].size() != header.values) {
      fuzz::finding("a batch with another value count than its header promises");
    }
    for (const Ciphertext& ct : batch.values[i])
      if (ct.key_id != protocol_objects().key_ids[i]) fuzz::finding("a ciphertext of other keys");
  }
  if (ticks != header.moduli * header.values) fuzz::finding("tick() not called per ciphertext");
}

// Images first_image .. first_image + images - 1 must all have an index below 2^64, and lie in
// the images file they were encrypted from.
void check_image_range(const ProtocolHeader& header) {
  if (header.images > UINT64_MAX - header.first_image) {
    fuzz::finding("an accepted header's first image + images wraps past 2^64 - 1");
  } else if (header.kind == ProtocolFileKind::kCiphertexts &&
             header.source.images < header.first_image + header.images) {
    fuzz::finding("an accepted header's images run past its source images");
  }
}

void read_ciphertext_file(const fuzz::Bytes& file, bool first_batch_only) {
  const ProtocolObjects& objects = protocol_objects();
  ProtocolHeader header;
  std::vector<EncryptedBatch> batches;
  const bool ok = fuzz::accepted([&] {
    CiphertextFileReader reader(fuzz::scratch_file().path(), objects.contexts, objects.key_ids);
    header = reader.header();
    check_image_range(header);
    while (reader.batches_left() > 0) {
      size_t ticks = 0;
      batches.push_back(reader.next([&] { ++ticks; }));
      check_batch_shape(header, batches.back(), batches.size() - 1, ticks);
      if (first_batch_only) return;
    }
    reader.finish();
  });
  if (!ok || first_batch_only) return;
  uint64_t images = 0;
  for (const EncryptedBatch& batch : batches)
    images += batch.images;
  if (images != header.images || batches.size() != header.batch_count()) {
    fuzz::finding("an accepted ciphertext file holds another image count than its header");
  }
  const fuzz::Bytes written = written_file(
      header,
      [&](std::ostream& out) {
        const uint64_t k = objects.contexts.size();
        for (uint64_t b = 0; b < batches.size(); ++b) {
          for (size_t i = 0; i < k; ++i) {
            CiphertextWriter writer(out, objects.contexts[i], header.values, objects.key_ids[i]);
            for (const Ciphertext& ct : batches[b].values[i])
              writer.append(ct);
            const auto binding =
                encode_binding(header.file_id, b * k + i, batches.size() * k, writer.finish());
            out.write(reinterpret_cast<const char*>(binding.data()), binding.size());
          }
        }
      },
      "ciphertext");
  check_written_back(written, file, "ciphertext");
}

void read_header_only(const fuzz::Bytes& file) {
  ProtocolHeader header;
  if (!fuzz::accepted([&] { header = read_protocol_header(fuzz::scratch_file().path()); })) return;
  check_image_range(header);
  if (encoded_header(header) != fuzz::Bytes(file.begin(), file.begin() + kProtocolHeaderBytes)) {
    fuzz::finding("an accepted header does not write back to the bytes it was read from");
  }
}

void run(Reader reader, const fuzz::Bytes& file, bool first_batch_only) {
  switch (reader) {
    case kParameterSet:
      read_parameter_set(file);
      break;
    case kPublicKeys:
      read_key_file<PublicKey>(
          ProtocolFileKind::kPublicKeys,
          [](const std::string& path, const ContextSet& c) { return load_public_keys(path, c); },
          [](std::ostream& out, const auto& context, const PublicKey& key) {
            write_public_key(out, context, key);
          },
          file, "public keys");
      break;
    case kEvaluationKeys:
      read_key_file<EvaluationKey>(
          ProtocolFileKind::kEvaluationKeys,
          [](const std::string& path, const ContextSet& c) {
            return load_evaluation_keys(path, c);
          },
          [](std::ostream& out, const auto& context, const EvaluationKey& key) {
            write_evaluation_key(out, context, key);
          },
          file, "evaluation keys");
      break;
    case kSecretKeys:
      read_key_file<SecretKey>(
          ProtocolFileKind::kSecretKeys,
          [](const std::string& path, const ContextSet& c) { return load_secret_keys(path, c); },
          [](std::ostream& out, const auto& context, const SecretKey& key) {
            write_secret_key(out, context, key);
          },
          file, "secret keys");
      break;
    case kCiphertextFile:
      read_ciphertext_file(file, first_batch_only);
      break;
    case kHeaderOnly:
      read_header_only(file);
      break;
  }
}

// ---- Seeds: files written by the library's own writers into a temporary directory.

struct TempDir {
  std::filesystem::path path;
  TempDir()
      : path(std::filesystem::temp_directory_path() /
             ("cryptonets-fuzz-protocol-" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

fuzz::Bytes file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return fuzz::Bytes(std::istreambuf_iterator<char>(in), {});
}

template <class Pick>
auto keys_of(Pick pick) {
  std::vector<std::decay_t<decltype(pick(protocol_objects().keys.front()))>> out;
  for (const KeySet& key_set : protocol_objects().keys)
    out.push_back(pick(key_set));
  return out;
}

// A ciphertext file of images first_image .. first_image + images - 1 in batches of
// `batch_size`, the two ciphertexts of each modulus as its `values` = 2 values.
fuzz::Bytes ciphertext_file(const TempDir& dir, uint64_t first_image, uint64_t images,
                            uint64_t batch_size) {
  const ProtocolObjects& objects = protocol_objects();
  const std::string path = dir.file("batch.ct");
  CiphertextFileWriter writer(path, objects.contexts, objects.key_ids, /*profile_fingerprint=*/1,
                              ImageSource{first_image + images, {}}, first_image, images,
                              batch_size, 2);
  for (uint64_t b = 0; b < writer.header().batch_count(); ++b) {
    EncryptedBatch batch;
    batch.images = writer.header().images_in_batch(b);
    batch.values = objects.ciphertexts;
    writer.write(std::move(batch));
  }
  writer.commit();
  return file_bytes(path);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t control = data[0];
  fuzz::Bytes file(data + 1, data + size);
  if (control & kFixChecksums) recompute_checksums(file);
  fuzz::scratch_file().assign(file.data(), file.size());
  run(static_cast<Reader>((control & kReaderMask) % kReaderCount), file,
      (control & kFirstBatchOnly) != 0);
  return 0;
}

std::vector<std::vector<uint8_t>> fuzz_seed_inputs() {
  const ProtocolObjects& objects = protocol_objects();
  const ContextSet& contexts = objects.contexts;
  const TempDir dir;
  const KeyDirectory files(dir.path.string());
  save_parameter_set(files.parameters, contexts);
  save_public_keys(files.public_keys, contexts,
                   keys_of([](const KeySet& k) { return k.public_key; }));
  save_evaluation_keys(files.evaluation_keys, contexts,
                       keys_of([](const KeySet& k) { return k.evaluation_key; }));
  save_secret_keys(files.secret_keys, contexts,
                   keys_of([](const KeySet& k) { return k.secret_key; }));
  const std::vector<std::pair<Reader, fuzz::Bytes>> inputs = {
      {kParameterSet, file_bytes(files.parameters)},
      {kPublicKeys, file_bytes(files.public_keys)},
      {kEvaluationKeys, file_bytes(files.evaluation_keys)},
      {kSecretKeys, file_bytes(files.secret_keys)},
      {kCiphertextFile, ciphertext_file(dir, 7, 3, 2)},    // batches of 2 and 1 images
      {kCiphertextFile, ciphertext_file(dir, 0, 32, 32)},  // one full batch of n images
      {kHeaderOnly, file_bytes(files.parameters)},
      {kHeaderOnly, ciphertext_file(dir, 7, 3, 2)},  // a first image index in the header
  };
  std::vector<std::vector<uint8_t>> seeds;
  for (const auto& [reader, file] : inputs) {
    seeds.push_back(fuzz::with_control(reader, file));
    seeds.push_back(fuzz::with_control(reader | kFixChecksums, file));
    if (reader == kCiphertextFile) {
      seeds.push_back(fuzz::with_control(reader | kFixChecksums | kFirstBatchOnly, file));
    }
  }
  return seeds;
}
