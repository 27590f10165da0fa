// Fuzz target for the BFV loaders of io/serialize.hpp: read_parameters<bfv::Scheme>,
// read_public_key, read_evaluation_key (the relinearisation key), read_secret_key (the cases of
// fuzz_key_cases.hpp, which fuzz_keys.cpp runs for YASHE'), read_ciphertexts and the streaming
// BfvCiphertextReader, on records with two-part (fresh) and three-part (unrelinearised product)
// ciphertexts.
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
#include "fuzz_key_cases.hpp"

using namespace cryptonets;

namespace {

constexpr uint8_t kReaderMask = 0x07;
constexpr uint8_t kFixChecksum = 0x08;
constexpr uint8_t kPipe = 0x10;

// Readers 0-3 are fuzz::KeyReader (parameters, public, relinearisation and secret key).
enum Reader : uint8_t { kCiphertexts = fuzz::kKeyReaders, kStreaming = fuzz::kKeyReaders + 1 };

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

// A batch written back with the header's key id and number of parts (an empty batch keeps both).
fuzz::Bytes batch_back(const std::vector<rlwe::Ciphertext>& batch, const fuzz::Bytes& record) {
  const auto& context = bfv_objects().context;
  const uint64_t key_id = fuzz::load_le64(record.data() + 16);
  const uint64_t parts = fuzz::load_le64(record.data() + fuzz::kHeaderBytes + 8);
  return fuzz::write_back(
      [&](std::ostream& out) {
        BfvCiphertextWriter writer(out, context, batch.size(), key_id, parts);
        for (const rlwe::Ciphertext& ct : batch)
          writer.append(ct);
        writer.finish();
      },
      "BFV ciphertext batch");
}

void read_and_check(uint8_t reader, std::istream& in, const fuzz::Bytes& record) {
  const auto& context = bfv_objects().context;
  if (reader != kCiphertexts && reader != kStreaming) {  // 6 and 7 read parameters too
    const auto key_reader = static_cast<fuzz::KeyReader>(
        reader < fuzz::kKeyReaders ? reader : uint8_t{fuzz::kParameters});
    fuzz::read_key_and_check<bfv::Scheme>(key_reader, in, context, record.data(), record.size());
    return;
  }
  std::vector<rlwe::Ciphertext> batch;
  const char* what = "BFV ciphertext batch";
  if (reader == kCiphertexts) {
    if (!fuzz::accepted([&] { batch = read_ciphertexts(in, context, "fuzz"); })) return;
  } else {
    what = "BFV ciphertext batch (streamed)";
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
  }
  fuzz::check_written_back(batch_back(batch, record), record.data(), record.size(), what);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::read_record(data, size, kFixChecksum, kPipe,
                    [&](std::istream& in, const fuzz::Bytes& record) {
                      read_and_check(data[0] & kReaderMask, in, record);
                    });
  return 0;
}

std::vector<std::vector<uint8_t>> fuzz_seed_inputs() {
  const BfvObjects& objects = bfv_objects();
  const bfv::Context& context = *objects.context;
  auto batch_bytes = [&](const std::vector<rlwe::Ciphertext>& batch) {
    return fuzz::serialized([&](std::ostream& out) { write_ciphertexts(out, context, batch); });
  };
  std::vector<std::pair<uint8_t, fuzz::Bytes>> records =
      fuzz::key_seed_records<bfv::Scheme>(context, objects.keys);
  records.insert(records.end(), {
                                    {kCiphertexts, batch_bytes({objects.fresh, objects.fresh})},
                                    {kCiphertexts, batch_bytes({objects.product})},
                                    {kCiphertexts, batch_bytes({})},
                                    {kStreaming, batch_bytes({objects.fresh})},
                                    {kStreaming, batch_bytes({objects.product, objects.product})},
                                });
  return fuzz::seeds_in_every_mode(records, kFixChecksum, kPipe);
}
