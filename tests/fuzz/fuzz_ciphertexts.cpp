// Fuzz target for the ciphertext batch loaders of io/serialize.hpp: read_ciphertexts and the
// streaming CiphertextReader (next() until remaining() == 0, then finish()).
//
// Input: control byte, then the bytes of the stream. Control bit 0 recomputes the checksum
// (fuzz_yashe_support.hpp), bit 1 reads through a stream that cannot seek (a pipe), bit 2 uses
// CiphertextReader instead of read_ciphertexts, bit 3 sets its whole_input flag (trailing bytes
// refused, as for files).
#include "cryptonets/io/serialize.hpp"
#include "fuzz_yashe_support.hpp"

using namespace cryptonets;
using namespace cryptonets::yashe;

namespace {

constexpr uint8_t kFixChecksum = 0x01;
constexpr uint8_t kPipe = 0x02;
constexpr uint8_t kStreaming = 0x04;
constexpr uint8_t kWholeInput = 0x08;

std::vector<Ciphertext> read_streaming(std::istream& in, bool whole_input) {
  CiphertextReader reader(in, fuzz::yashe_objects().context, "fuzz", whole_input);
  const uint64_t count = reader.count();
  std::vector<Ciphertext> batch;
  while (reader.remaining() > 0) {
    batch.push_back(reader.next());
    if (batch.back().key_id != reader.key_id()) fuzz::finding("a ciphertext lost its key id");
  }
  reader.finish();
  if (batch.size() != count) fuzz::finding("CiphertextReader returned another count than count()");
  return batch;
}

void check_written_back(const std::vector<Ciphertext>& batch, const fuzz::Bytes& record) {
  const auto& context = fuzz::yashe_objects().context;
  const uint64_t key_id = fuzz::load_le64(record.data() + 16);  // the header's, also when empty
  fuzz::Bytes written;
  try {
    written = fuzz::serialized([&](std::ostream& out) {
      CiphertextWriter writer(out, context, batch.size(), key_id);
      for (const Ciphertext& ct : batch)
        writer.append(ct);
      writer.finish();
    });
  } catch (const std::exception& e) {
    fuzz::finding(std::string("writing back an accepted ciphertext batch fails: ") + e.what());
  }
  fuzz::check_written_back(written, record.data(), record.size(), "ciphertext batch");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t control = data[0];
  fuzz::Bytes record(data + 1, data + size);
  if (control & kFixChecksum) fuzz::recompute_checksum(record);
  fuzz::SpanBuffer buffer(record.data(), record.size(), !(control & kPipe));
  std::istream in(&buffer);
  const bool whole_input = (control & kStreaming) && (control & kWholeInput);
  std::vector<Ciphertext> batch;
  const bool ok = fuzz::accepted([&] {
    batch = (control & kStreaming) ? read_streaming(in, whole_input)
                                   : read_ciphertexts(in, fuzz::yashe_objects().context, "fuzz");
  });
  if (!ok) return 0;
  if (whole_input && fuzz::declared_record_size(record.data(), record.size()) != record.size()) {
    fuzz::finding("whole_input accepted bytes after the record");
  }
  check_written_back(batch, record);
  return 0;
}

std::vector<std::vector<uint8_t>> fuzz_seed_inputs() {
  const fuzz::YasheObjects& objects = fuzz::yashe_objects();
  const Context& context = *objects.context;
  auto batch_bytes = [&](const std::vector<Ciphertext>& batch) {
    return fuzz::serialized([&](std::ostream& out) { write_ciphertexts(out, context, batch); });
  };
  const fuzz::Bytes pair = batch_bytes({objects.fresh, objects.product});
  const fuzz::Bytes single = batch_bytes({objects.product});
  const fuzz::Bytes empty = batch_bytes({});
  std::vector<std::vector<uint8_t>> seeds;
  for (uint8_t control = 0; control < 16; ++control)
    seeds.push_back(fuzz::with_control(control, pair));
  for (uint8_t control : {uint8_t{0}, uint8_t{kFixChecksum | kStreaming | kWholeInput}}) {
    seeds.push_back(fuzz::with_control(control, single));
    seeds.push_back(fuzz::with_control(control, empty));
  }
  return seeds;
}
