// YASHE' objects for the key and ciphertext fuzz targets: small parameters so that records are a
// few hundred bytes and mutations are cheap, built once per process.
//
// Inputs of these targets start with one control byte that chooses how the rest (a record in the
// io/serialize.hpp format) is read; see each target. Control bit kFixChecksum recomputes the
// record's SHA-256 before reading, so that mutations also reach the content checks that follow
// the checksum.
#pragma once

#include <cstring>
#include <memory>
#include <sstream>

#include "cryptonets/arith/primes.hpp"
#include "cryptonets/io/sha256.hpp"
#include "cryptonets/random/chacha20.hpp"
#include "cryptonets/random/samplers.hpp"
#include "cryptonets/yashe/context.hpp"
#include "cryptonets/yashe/encryptor.hpp"
#include "cryptonets/yashe/evaluator.hpp"
#include "cryptonets/yashe/key_generator.hpp"
#include "fuzz_support.hpp"

namespace fuzz {

struct YasheObjects {
  std::shared_ptr<const cryptonets::yashe::Context> context;
  cryptonets::yashe::KeySet keys;
  cryptonets::yashe::Ciphertext fresh;    // degree 1
  cryptonets::yashe::Ciphertext product;  // degree 2 (not relinearised)
};

// n = 32 and two 41-bit primes: a residue row is 32·41 = 1312 bits, so rows end in padding bits
// (which the loader must check are zero); t = 65537.
inline cryptonets::yashe::Parameters fuzz_parameters() {
  const size_t n = 32;
  return cryptonets::yashe::Parameters::create(n, 2, 41, 65537);
}

inline YasheObjects make_yashe_objects() {
  using namespace cryptonets;
  using namespace cryptonets::yashe;
  YasheObjects objects;
  objects.context = Context::create(fuzz_parameters());
  // Deterministic keys for reproducible seeds (never for real keys).
  Prng prng = Prng::insecure_seeded(7);
  objects.keys = generate_keys(objects.context, prng);
  const uint64_t t = objects.context->parameters().t;
  Plaintext plain;
  for (size_t j = 0; j < objects.context->n(); ++j)
    plain.coeffs.push_back(sample_uniform_below(prng, t));
  const Encryptor encryptor(objects.context, objects.keys.public_key);
  objects.fresh = encryptor.encrypt(plain, prng);
  const Evaluator evaluator(objects.context, objects.keys.evaluation_key);
  objects.product = evaluator.multiply_without_relinearization(objects.fresh, objects.fresh);
  return objects;
}

inline const YasheObjects& yashe_objects() {
  static const YasheObjects objects = make_yashe_objects();
  return objects;
}

inline uint64_t load_le64(const uint8_t* bytes) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i)
    value |= uint64_t{bytes[i]} << (8 * i);
  return value;
}

constexpr size_t kHeaderBytes = 32;
constexpr size_t kChecksumBytes = 32;

// The record's size according to its header (header, declared payload, checksum), or 0 if the
// header is incomplete or the record does not fit in `size` bytes.
inline size_t declared_record_size(const uint8_t* record, size_t size) {
  if (size < kHeaderBytes) return 0;
  const uint64_t payload = load_le64(record + 24);
  if (payload > size - kHeaderBytes || size - kHeaderBytes - payload < kChecksumBytes) return 0;
  return kHeaderBytes + static_cast<size_t>(payload) + kChecksumBytes;
}

// Stores a valid SHA-256 after the declared payload, when the record is complete.
inline void recompute_checksum(Bytes& record) {
  const size_t record_size = declared_record_size(record.data(), record.size());
  if (record_size == 0) return;
  const size_t hashed = record_size - kChecksumBytes;
  const auto digest = cryptonets::sha256({record.data(), hashed});
  std::memcpy(record.data() + hashed, digest.data(), digest.size());
}

template <class Write>
Bytes serialized(Write&& write) {
  std::ostringstream out;
  write(out);
  return to_bytes(out.str());
}

// An accepted object, written back, must be exactly the record that was read: every field is
// checked, so no two different records load as the same object.
inline void check_written_back(const Bytes& written, const uint8_t* record, size_t size,
                               const char* what) {
  const size_t record_size = declared_record_size(record, size);
  if (record_size != written.size() || std::memcmp(written.data(), record, record_size) != 0) {
    finding(std::string("an accepted ") + what +
            " does not write back to the bytes it was read from");
  }
}

}  // namespace fuzz
