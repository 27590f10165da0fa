// Reader for the IDX files of the MNIST database (http://yann.lecun.com/exdb/mnist/, "FILE
// FORMATS FOR THE MNIST DATABASE"), gzipped or plain, with an optional SHA-256 check of the
// uncompressed content.
//
// Every problem (missing file, gzip error, wrong magic, wrong dimensions, truncated or overlong
// file, label > 9, checksum mismatch, images/labels count mismatch) throws std::runtime_error
// whose message names the file and says what was expected and what was found.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "cryptonets/nn/model.hpp"

namespace cryptonets {

// IDX magic numbers: two zero bytes, the type code 0x08 (unsigned byte), the dimension count.
inline constexpr uint32_t kIdxImagesMagic = 0x00000803;
inline constexpr uint32_t kIdxLabelsMagic = 0x00000801;
inline constexpr size_t kMnistImageRows = 28;
inline constexpr size_t kMnistImageCols = 28;
inline constexpr size_t kMnistImagePixels = kMnistImageRows * kMnistImageCols;

struct MnistImages {
  size_t count = 0;
  std::vector<uint8_t> pixels;  // count · 28 · 28, image-major then row-major, 0 = background
};

struct MnistLabels {
  std::vector<uint8_t> labels;  // each in 0..9
};

// Images and their labels, checked to have the same count.
struct MnistSet {
  MnistImages images;
  MnistLabels labels;
};

enum class MnistSplit { kTrain, kTest };

// The whole file, gunzipped when it is gzip-compressed (zlib reads plain files unchanged).
std::vector<uint8_t> read_possibly_gzipped_file(const std::filesystem::path& path);

// Parses "<64 hex digits>  <file name>" lines, as written by sha256sum(1): file name → hex digest.
std::map<std::string, std::string> read_sha256sums(const std::filesystem::path& path);

// Parse already-read IDX content; `source` names the file in error messages.
MnistImages parse_mnist_images(std::span<const uint8_t> content, const std::string& source);
MnistLabels parse_mnist_labels(std::span<const uint8_t> content, const std::string& source);

// Reads one file; if expected_sha256 is given (lower-case hex), the SHA-256 of the uncompressed
// content must equal it.
MnistImages read_mnist_images(const std::filesystem::path& path,
                              const std::optional<std::string>& expected_sha256 = std::nullopt);
MnistLabels read_mnist_labels(const std::filesystem::path& path,
                              const std::optional<std::string>& expected_sha256 = std::nullopt);

// Reads both files of a split from `directory` (train-*-ubyte or t10k-*-ubyte, ".gz" preferred
// when present). With verify_checksums, each file's uncompressed content is checked against
// directory/SHA256SUMS.uncompressed, which must list it.
MnistSet load_mnist(const std::filesystem::path& directory, MnistSplit split,
                    bool verify_checksums = true);

// Images first .. first + count - 1, each quantised with the model's input scale
// (quantise_pixels). Throws std::out_of_range if they run past the end of `images`.
std::vector<std::vector<int64_t>> quantised_images(const Model& model, const MnistImages& images,
                                                   size_t first, size_t count);

}  // namespace cryptonets
