// Fuzz target for the BFV loaders of io/serialize.hpp: read_parameters<bfv::Scheme>,
// read_public_key, read_evaluation_key (the relinearisation key), read_secret_key,
// read_ciphertexts and the streaming BfvCiphertextReader, on records with two-part (fresh) and
// three-part (unrelinearised product) ciphertexts.
//
// Input: control byte, then the bytes of the stream. Control bits 0-2 choose the reader
// (0 parameters, 1 public key, 2 relinearisation key, 3 secret key, 4 ciphertexts, 5 streaming
// ciphertexts with whole_input; 6 and 7 read parameters too), bit 3 recomputes the checksum
// (fuzz_yashe_support.hpp: the record layout is the same for both schemes), bit 4 reads through a
// stream that cannot seek (a pipe).
#include "cryptonets/bfv/context.hpp"
#include "cryptonets/bfv/encryptor.hpp"
#include "cryptonets/bfv/evaluator.hpp"
#include "cryptonets/bfv/key_generator.hpp"
#include "cryptonets/bfv/scheme.hpp"
#include "cryptonets/io/serialize.hpp"
#include "fuzz_yashe_support.hpp"

using namespace cryptonets;

namespace {

constexpr uint8_t kReaderMask = 0x07;
constexpr uint8_t kFixChecksum = 0x08;
constexpr uint8_t kPipe = 0x10;

enum Reader : uint8_t {
  kParameters = 0,
  kPublicKey = 1,
  kRelinearizationKey = 2,
  kSecretKey = 3,
  kCiphertexts = 4,
  kStreaming = 5,
};

struct BfvObjects {
  std::shared_ptr<const bfv::Context> context;
  bfv::KeySet keys;
  rlwe::Ciphertext fresh;    // two parts
  rlwe::Ciphertext product;  // three parts (not relinearised)
};

// The YASHE' targets' sizes: n = 32, two 41-bit primes (rows end in padding bits), t = 65537.
const BfvObjects& bfv_objects() {
  static const BfvObjects objects = [] {
    BfvObjects o;
    o.context = bfv::Context::create(bfv::Parameters::create(32, 2, 41, 65537));
    // Deterministic keys for reproducible seeds (never for real keys).
    Prng prng = Prng::insecure_seeded(11);
    o.keys = bfv::generate_keys(o.context, prng);
    rlwe::Plaintext plain;
    for (size_t j = 0; j < o.context->n(); ++j)
      plain.coeffs.push_back(sample_uniform_below(prng, o.context->parameters().t));
    o.fresh = bfv::Encryptor(o.context, o.keys.public_key).encrypt(plain, prng);
    o.product = bfv::Evaluator(o.context).multiply_without_relinearization(o.fresh, o.fresh);
    return o;
  }();
  return objects;
}

template <class Write>
fuzz::Bytes write_back(Write&& write, const char* what) {
  try {
    return fuzz::serialized(write);
  } catch (const std::exception& e) {
    fuzz::finding(std::string("writing back an accepted BFV ") + what + " fails: " + e.what());
  }
}

// A batch written back with the header's key id and number of parts (an empty batch keeps both).
fuzz::Bytes batch_back(const std::vector<rlwe::Ciphertext>& batch, const fuzz::Bytes& record) {
  const auto& context = bfv_objects().context;
  const uint64_t key_id = fuzz::load_le64(record.data() + 16);
  const uint64_t parts = fuzz::load_le64(record.data() + fuzz::kHeaderBytes + 8);
  return write_back(
      [&](std::ostream& out) {
        BfvCiphertextWriter writer(out, context, batch.size(), key_id, parts);
        for (const rlwe::Ciphertext& ct : batch)
          writer.append(ct);
        writer.finish();
      },
      "ciphertext batch");
}

void read_and_check(Reader reader, std::istream& in, const fuzz::Bytes& record) {
  const auto& context = bfv_objects().context;
  fuzz::Bytes written;
  const char* what = "";
  switch (reader) {
    case kPublicKey: {
      what = "BFV public key";
      bfv::PublicKey key;
      if (!fuzz::accepted([&] { key = read_public_key(in, context, "fuzz"); })) return;
      written = write_back([&](std::ostream& out) { write_public_key(out, *context, key); }, what);
      break;
    }
    case kRelinearizationKey: {
      what = "BFV relinearisation key";
      bfv::RelinearizationKey key;
      if (!fuzz::accepted([&] { key = read_evaluation_key(in, context, "fuzz"); })) return;
      written =
          write_back([&](std::ostream& out) { write_evaluation_key(out, *context, key); }, what);
      break;
    }
    case kSecretKey: {
      what = "BFV secret key";
      bfv::SecretKey key;
      if (!fuzz::accepted([&] { key = read_secret_key(in, context, "fuzz"); })) return;
      written = write_back([&](std::ostream& out) { write_secret_key(out, *context, key); }, what);
      break;
    }
    case kCiphertexts: {
      what = "BFV ciphertext batch";
      std::vector<rlwe::Ciphertext> batch;
      if (!fuzz::accepted([&] { batch = read_ciphertexts(in, context, "fuzz"); })) return;
      written = batch_back(batch, record);
      break;
    }
    case kStreaming: {
      what = "BFV ciphertext batch (streamed)";
      std::vector<rlwe::Ciphertext> batch;
      if (!fuzz::accepted([&] {
            BfvCiphertextReader stream(in, context, "fuzz", /*whole_input=*/true);
            while (stream.remaining() > 0) {
              batch.push_back(stream.next());
              if (batch.back().parts.size() != stream.parts()) {
                fuzz::finding("a streamed ciphertext has another number of parts than the header");
              }
            }
            stream.finish();
          })) {
        return;
      }
      if (fuzz::declared_record_size(record.data(), record.size()) != record.size()) {
        fuzz::finding("whole_input accepted bytes after the record");
      }
      written = batch_back(batch, record);
      break;
    }
    default: {
      what = "BFV parameters record";
      bfv::Parameters params;
      if (!fuzz::accepted([&] { params = read_parameters<bfv::Scheme>(in, "fuzz"); })) return;
      written = write_back([&](std::ostream& out) { write_parameters(out, params); }, what);
      break;
    }
  }
  fuzz::check_written_back(written, record.data(), record.size(), what);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t control = data[0];
  fuzz::Bytes record(data + 1, data + size);
  if (control & kFixChecksum) fuzz::recompute_checksum(record);
  fuzz::SpanBuffer buffer(record.data(), record.size(), !(control & kPipe));
  std::istream in(&buffer);
  read_and_check(static_cast<Reader>(control & kReaderMask), in, record);
  return 0;
}

std::vector<std::vector<uint8_t>> fuzz_seed_inputs() {
  const BfvObjects& objects = bfv_objects();
  const bfv::Context& context = *objects.context;
  auto batch_bytes = [&](const std::vector<rlwe::Ciphertext>& batch) {
    return fuzz::serialized([&](std::ostream& out) { write_ciphertexts(out, context, batch); });
  };
  const std::vector<std::pair<Reader, fuzz::Bytes>> records = {
      {kParameters,
       fuzz::serialized([&](std::ostream& out) { write_parameters(out, context.parameters()); })},
      {kPublicKey, fuzz::serialized([&](std::ostream& out) {
         write_public_key(out, context, objects.keys.public_key);
       })},
      {kRelinearizationKey, fuzz::serialized([&](std::ostream& out) {
         write_evaluation_key(out, context, objects.keys.relinearization_key);
       })},
      {kSecretKey, fuzz::serialized([&](std::ostream& out) {
         write_secret_key(out, context, objects.keys.secret_key);
       })},
      {kCiphertexts, batch_bytes({objects.fresh, objects.fresh})},
      {kCiphertexts, batch_bytes({objects.product})},
      {kCiphertexts, batch_bytes({})},
      {kStreaming, batch_bytes({objects.fresh})},
      {kStreaming, batch_bytes({objects.product, objects.product})},
  };
  std::vector<std::vector<uint8_t>> seeds;
  for (const auto& [reader, record] : records) {
    for (uint8_t mode : {uint8_t{0}, kFixChecksum, kPipe, uint8_t(kFixChecksum | kPipe)})
      seeds.push_back(fuzz::with_control(static_cast<uint8_t>(reader | mode), record));
  }
  return seeds;
}
