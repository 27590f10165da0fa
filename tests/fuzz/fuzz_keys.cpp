// Fuzz target for the YASHE' parameter and key loaders of io/serialize.hpp: read_parameters,
// read_public_key, read_evaluation_key, read_secret_key (the cases of fuzz_key_cases.hpp, which
// fuzz_bfv.cpp runs for BFV).
//
// Input: control byte, then the bytes of the stream. Control bits 0-1 choose the reader
// (0 parameters, 1 public key, 2 evaluation key, 3 secret key), bit 2 recomputes the checksum
// (fuzz_yashe_support.hpp), bit 3 reads through a stream that cannot seek (a pipe).
#include "fuzz_key_cases.hpp"

using namespace cryptonets;

namespace {

constexpr uint8_t kReaderMask = 0x03;
constexpr uint8_t kFixChecksum = 0x04;
constexpr uint8_t kPipe = 0x08;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::read_record(
      data, size, kFixChecksum, kPipe, [&](std::istream& in, const fuzz::Bytes& record) {
        fuzz::read_key_and_check<yashe::Scheme>(static_cast<fuzz::KeyReader>(data[0] & kReaderMask),
                                                in, fuzz::yashe_objects().context, record.data(),
                                                record.size());
      });
  return 0;
}

std::vector<std::vector<uint8_t>> fuzz_seed_inputs() {
  const fuzz::YasheObjects& objects = fuzz::yashe_objects();
  return fuzz::seeds_in_every_mode(
      fuzz::key_seed_records<yashe::Scheme>(*objects.context, objects.keys), kFixChecksum, kPipe);
}
