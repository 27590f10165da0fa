// Fuzz target for the parameter and key loaders of io/serialize.hpp: read_parameters,
// read_public_key, read_evaluation_key, read_secret_key.
//
// Input: control byte, then the bytes of the stream. Control bits 0-1 choose the reader
// (0 parameters, 1 public key, 2 evaluation key, 3 secret key), bit 2 recomputes the checksum
// (fuzz_yashe_support.hpp), bit 3 reads through a stream that cannot seek (a pipe).
#include "cryptonets/io/serialize.hpp"
#include "fuzz_yashe_support.hpp"

using namespace cryptonets;
using namespace cryptonets::yashe;

namespace {

constexpr uint8_t kReaderMask = 0x03;
constexpr uint8_t kFixChecksum = 0x04;
constexpr uint8_t kPipe = 0x08;

enum Reader : uint8_t { kParameters = 0, kPublicKey = 1, kEvaluationKey = 2, kSecretKey = 3 };

// Writes an accepted object back; the writer refusing it is a finding too.
template <class Write>
fuzz::Bytes write_back(Write&& write, const char* what) {
  try {
    return fuzz::serialized(write);
  } catch (const std::exception& e) {
    fuzz::finding(std::string("writing back an accepted ") + what + " fails: " + e.what());
  }
}

void read_and_check(Reader reader, std::istream& in, const uint8_t* record, size_t size) {
  const auto& context = fuzz::yashe_objects().context;
  fuzz::Bytes written;
  const char* what = "";
  switch (reader) {
    case kParameters: {
      what = "parameters record";
      Parameters params;
      if (!fuzz::accepted([&] { params = read_parameters(in, "fuzz"); })) return;
      written = write_back([&](std::ostream& out) { write_parameters(out, params); }, what);
      break;
    }
    case kPublicKey: {
      what = "public key";
      PublicKey key;
      if (!fuzz::accepted([&] { key = read_public_key(in, context, "fuzz"); })) return;
      written = write_back([&](std::ostream& out) { write_public_key(out, *context, key); }, what);
      break;
    }
    case kEvaluationKey: {
      what = "evaluation key";
      EvaluationKey key;
      if (!fuzz::accepted([&] { key = read_evaluation_key(in, context, "fuzz"); })) return;
      written =
          write_back([&](std::ostream& out) { write_evaluation_key(out, *context, key); }, what);
      break;
    }
    case kSecretKey: {
      what = "secret key";
      SecretKey key;
      if (!fuzz::accepted([&] { key = read_secret_key(in, context, "fuzz"); })) return;
      written = write_back([&](std::ostream& out) { write_secret_key(out, *context, key); }, what);
      break;
    }
  }
  fuzz::check_written_back(written, record, size, what);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t control = data[0];
  fuzz::Bytes record(data + 1, data + size);
  if (control & kFixChecksum) fuzz::recompute_checksum(record);
  fuzz::SpanBuffer buffer(record.data(), record.size(), !(control & kPipe));
  std::istream in(&buffer);
  read_and_check(static_cast<Reader>(control & kReaderMask), in, record.data(), record.size());
  return 0;
}

std::vector<std::vector<uint8_t>> fuzz_seed_inputs() {
  const fuzz::YasheObjects& objects = fuzz::yashe_objects();
  const Context& context = *objects.context;
  Parameters digit_parameters = context.parameters();
  digit_parameters.decomposition_bits = 20;
  const std::vector<std::pair<Reader, fuzz::Bytes>> records = {
      {kParameters,
       fuzz::serialized([&](std::ostream& out) { write_parameters(out, context.parameters()); })},
      {kParameters,
       fuzz::serialized([&](std::ostream& out) { write_parameters(out, digit_parameters); })},
      {kPublicKey, fuzz::serialized([&](std::ostream& out) {
         write_public_key(out, context, objects.keys.public_key);
       })},
      {kEvaluationKey, fuzz::serialized([&](std::ostream& out) {
         write_evaluation_key(out, context, objects.keys.evaluation_key);
       })},
      {kSecretKey, fuzz::serialized([&](std::ostream& out) {
         write_secret_key(out, context, objects.keys.secret_key);
       })},
  };
  std::vector<std::vector<uint8_t>> seeds;
  for (const auto& [reader, record] : records) {
    for (uint8_t mode : {uint8_t{0}, kFixChecksum, kPipe, uint8_t(kFixChecksum | kPipe)}) {
      seeds.push_back(fuzz::with_control(static_cast<uint8_t>(reader | mode), record));
    }
  }
  return seeds;
}
