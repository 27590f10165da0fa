// The key cases of the YASHE' (fuzz_keys.cpp) and BFV (fuzz_bfv.cpp) targets, written once over
// the scheme: read a parameters, public key, evaluation (relinearisation) key or secret key record
// of io/serialize.hpp, and write an accepted one back byte for byte. Each target keeps its own
// control byte; this header only needs the reader it chose.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cryptonets/io/serialize.hpp"
#include "fuzz_yashe_support.hpp"

namespace fuzz {

// The key readers, numbered as both targets' control bits choose them.
enum KeyReader : uint8_t { kParameters = 0, kPublicKey = 1, kEvaluationKey = 2, kSecretKey = 3 };
constexpr uint8_t kKeyReaders = 4;

// Writes an accepted object back; the writer refusing it is a finding too.
template <class Write>
Bytes write_back(Write&& write, const std::string& what) {
  try {
    return serialized(write);
  } catch (const std::exception& e) {
    finding("writing back an accepted " + what + " fails: " + e.what());
  }
}

// Reads the record in `in` (`record`, `size`: its bytes) with `reader` under `context`; an
// accepted object must write back to the record (check_written_back).
template <class Scheme>
void read_key_and_check(KeyReader reader, std::istream& in,
                        const std::shared_ptr<const typename Scheme::Context>& context,
                        const uint8_t* record, size_t size) {
  using namespace cryptonets;
  const std::string scheme = Scheme::kName;
  std::string what;
  Bytes written;
  switch (reader) {
    case kParameters: {
      what = scheme + " parameters record";
      typename Scheme::Parameters params;
      if (!accepted([&] { params = read_parameters<Scheme>(in, "fuzz"); })) return;
      written = write_back([&](std::ostream& out) { write_parameters(out, params); }, what);
      break;
    }
    case kPublicKey: {
      what = scheme + " public key";
      typename Scheme::PublicKey key;
      if (!accepted([&] { key = read_public_key(in, context, "fuzz"); })) return;
      written = write_back([&](std::ostream& out) { write_public_key(out, *context, key); }, what);
      break;
    }
    case kEvaluationKey: {
      what = scheme + " evaluation key";
      typename Scheme::EvaluationKey key;
      if (!accepted([&] { key = read_evaluation_key(in, context, "fuzz"); })) return;
      written =
          write_back([&](std::ostream& out) { write_evaluation_key(out, *context, key); }, what);
      break;
    }
    case kSecretKey: {
      what = scheme + " secret key";
      typename Scheme::SecretKey key;
      if (!accepted([&] { key = read_secret_key(in, context, "fuzz"); })) return;
      written = write_back([&](std::ostream& out) { write_secret_key(out, *context, key); }, what);
      break;
    }
  }
  check_written_back(written, record, size, what.c_str());
}

// Seed records for the key readers: the context's parameters, the same with a decomposition base
// (2^20), and the three keys of `keys`.
template <class Scheme>
std::vector<std::pair<uint8_t, Bytes>> key_seed_records(const typename Scheme::Context& context,
                                                        const typename Scheme::KeySet& keys) {
  using namespace cryptonets;
  typename Scheme::Parameters digit_parameters = context.parameters();
  digit_parameters.decomposition_bits = 20;
  return {
      {kParameters,
       serialized([&](std::ostream& out) { write_parameters(out, context.parameters()); })},
      {kParameters,
       serialized([&](std::ostream& out) { write_parameters(out, digit_parameters); })},
      {kPublicKey,
       serialized([&](std::ostream& out) { write_public_key(out, context, keys.public_key); })},
      {kEvaluationKey, serialized([&](std::ostream& out) {
         write_evaluation_key(out, context, Scheme::evaluation_key(keys));
       })},
      {kSecretKey,
       serialized([&](std::ostream& out) { write_secret_key(out, context, keys.secret_key); })},
  };
}

// Each (reader, record) seed in the four modes of the control bits `fix_checksum` and `pipe`.
inline std::vector<Bytes> seeds_in_every_mode(const std::vector<std::pair<uint8_t, Bytes>>& records,
                                              uint8_t fix_checksum, uint8_t pipe) {
  std::vector<Bytes> seeds;
  for (const auto& [reader, record] : records) {
    for (uint8_t mode : {uint8_t{0}, fix_checksum, pipe, uint8_t(fix_checksum | pipe)})
      seeds.push_back(with_control(static_cast<uint8_t>(reader | mode), record));
  }
  return seeds;
}

// The input's record after its control byte, its checksum recomputed when `fix_checksum` is set,
// read through a stream that cannot seek when `pipe` is set: `read(in, record)`.
template <class Read>
void read_record(const uint8_t* data, size_t size, uint8_t fix_checksum, uint8_t pipe,
                 Read&& read) {
  if (size == 0) return;
  const uint8_t control = data[0];
  Bytes record(data + 1, data + size);
  if (control & fix_checksum) recompute_checksum(record);
  SpanBuffer buffer(record.data(), record.size(), !(control & pipe));
  std::istream in(&buffer);
  read(in, record);
}

}  // namespace fuzz
