// Fuzz target for the MNIST loaders of io/idx.hpp: the in-memory IDX parsers, the file readers
// (gzipped or plain, optionally with a SHA-256) and the SHA256SUMS reader.
//
// Input: control byte, then the file content. Control bits 0-6 modulo 5 choose the loader:
// 0 parse_mnist_images, 1 parse_mnist_labels (in memory), 2 read_mnist_images, 3 read_mnist_labels
// (through a file, so gzip decompression is fuzzed too), 4 read_sha256sums. Bit 7 passes the
// SHA-256 of the content to the file readers as the expected checksum.
//
// The file readers only take paths: the content is written to an in-memory file (memfd_create)
// that they open through /proc/self/fd; nothing touches the disk or is left behind.
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "cryptonets/io/idx.hpp"
#include "cryptonets/io/sha256.hpp"
#include "fuzz_support.hpp"

using namespace cryptonets;

namespace {

constexpr uint8_t kModeCount = 5;
constexpr uint8_t kWithChecksum = 0x80;
enum Mode : uint8_t { kImages = 0, kLabels = 1, kImagesFile = 2, kLabelsFile = 3, kSums = 4 };

bool is_gzip(std::span<const uint8_t> content) {
  return content.size() >= 2 && content[0] == 0x1f && content[1] == 0x8b;
}

void check_images(const MnistImages& images, std::span<const uint8_t> content, bool from_file) {
  if (images.pixels.size() != images.count * kMnistImagePixels) {
    fuzz::finding("accepted images whose pixel count is not count · 784");
  }
  if (!from_file || is_gzip(content)) return;
  // A plain file reads as its bytes: the same images as the in-memory parser gives.
  MnistImages direct;
  if (!fuzz::accepted([&] { direct = parse_mnist_images(content, "memory"); })) {
    fuzz::finding("a plain images file is accepted but its bytes are refused");
  }
  if (direct.count != images.count || direct.pixels != images.pixels) {
    fuzz::finding("a plain images file reads differently from its bytes");
  }
}

void check_labels(const MnistLabels& labels, std::span<const uint8_t> content, bool from_file) {
  if (!from_file || is_gzip(content)) return;
  MnistLabels direct;
  if (!fuzz::accepted([&] { direct = parse_mnist_labels(content, "memory"); })) {
    fuzz::finding("a plain labels file is accepted but its bytes are refused");
  }
  if (direct.labels != labels.labels) {
    fuzz::finding("a plain labels file reads differently from its bytes");
  }
}

void check_sums(const std::map<std::string, std::string>& sums) {
  for (const auto& [name, digest] : sums) {
    if (name.empty()) fuzz::finding("accepted a checksum line without a file name");
    if (digest.size() != 64 || digest.find_first_not_of("0123456789abcdef") != std::string::npos) {
      fuzz::finding("accepted a digest that is not 64 lower-case hex digits");
    }
  }
}

void run(uint8_t control, std::span<const uint8_t> content) {
  const auto mode = static_cast<Mode>((control & ~kWithChecksum) % kModeCount);
  std::optional<std::string> expected_sha256;
  if (control & kWithChecksum) expected_sha256 = to_hex(sha256(content));
  if (mode >= kImagesFile) fuzz::scratch_file().assign(content.data(), content.size());
  const std::string& path = fuzz::scratch_file().path();
  switch (mode) {
    case kImages: {
      MnistImages images;
      if (fuzz::accepted([&] { images = parse_mnist_images(content, "fuzz"); })) {
        check_images(images, content, false);
      }
      break;
    }
    case kLabels: {
      MnistLabels labels;
      if (fuzz::accepted([&] { labels = parse_mnist_labels(content, "fuzz"); })) {
        check_labels(labels, content, false);
      }
      break;
    }
    case kImagesFile: {
      MnistImages images;
      if (fuzz::accepted([&] { images = read_mnist_images(path, expected_sha256); })) {
        check_images(images, content, true);
      }
      break;
    }
    case kLabelsFile: {
      MnistLabels labels;
      if (fuzz::accepted([&] { labels = read_mnist_labels(path, expected_sha256); })) {
        check_labels(labels, content, true);
      }
      break;
    }
    case kSums: {
      std::map<std::string, std::string> sums;
      if (fuzz::accepted([&] { sums = read_sha256sums(path); })) check_sums(sums);
      break;
    }
  }
}

fuzz::Bytes big_endian_u32(uint32_t value) {
  return {static_cast<uint8_t>(value >> 24), static_cast<uint8_t>(value >> 16),
          static_cast<uint8_t>(value >> 8), static_cast<uint8_t>(value)};
}

fuzz::Bytes idx_file(uint32_t magic, const std::vector<uint32_t>& dimensions,
                     const fuzz::Bytes& values) {
  fuzz::Bytes file = big_endian_u32(magic);
  for (uint32_t dimension : dimensions) {
    const fuzz::Bytes encoded = big_endian_u32(dimension);
    file.insert(file.end(), encoded.begin(), encoded.end());
  }
  file.insert(file.end(), values.begin(), values.end());
  return file;
}

// gzip (RFC 1952) of `content`, through zlib's deflate with a gzip wrapper (windowBits 16 + 15).
fuzz::Bytes gzipped(const fuzz::Bytes& content) {
  z_stream stream{};
  if (deflateInit2(&stream, 9, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    fuzz::finding("harness: deflateInit2 failed");
  }
  fuzz::Bytes out(deflateBound(&stream, content.size()) + 32);
  stream.next_in = const_cast<Bytef*>(content.data());
  stream.avail_in = static_cast<uInt>(content.size());
  stream.next_out = out.data();
  stream.avail_out = static_cast<uInt>(out.size());
  if (deflate(&stream, Z_FINISH) != Z_STREAM_END) fuzz::finding("harness: deflate failed");
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  run(data[0], {data + 1, size - 1});
  return 0;
}

std::vector<std::vector<uint8_t>> fuzz_seed_inputs() {
  fuzz::Bytes pixels(2 * kMnistImagePixels);
  for (size_t i = 0; i < pixels.size(); ++i)
    pixels[i] = static_cast<uint8_t>(i * 37 % 256);
  const fuzz::Bytes images = idx_file(kIdxImagesMagic, {2, 28, 28}, pixels);
  const fuzz::Bytes labels = idx_file(kIdxLabelsMagic, {3}, {7, 0, 9});
  const std::string sums = to_hex(sha256(images)) + "  train-images-idx3-ubyte\n\n" +
                           to_hex(sha256(labels)) + " *t10k-labels-idx1-ubyte\n";
  return {fuzz::with_control(kImages, images),
          fuzz::with_control(kLabels, labels),
          fuzz::with_control(kImagesFile, images),
          fuzz::with_control(kImagesFile | kWithChecksum, images),
          fuzz::with_control(kImagesFile, gzipped(images)),
          fuzz::with_control(kLabelsFile, gzipped(labels)),
          fuzz::with_control(kLabelsFile | kWithChecksum, labels),
          fuzz::with_control(kSums, fuzz::to_bytes(sums))};
}
