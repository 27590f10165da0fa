// IDX layout (MNIST database page, "FILE FORMATS FOR THE MNIST DATABASE"): a big-endian 32-bit
// magic number, one big-endian 32-bit size per dimension, then the unsigned bytes row-major.
#include "cryptonets/io/idx.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "cryptonets/io/input_file.hpp"
#include "cryptonets/io/sha256.hpp"

using cryptonets::model::Model;
using cryptonets::model::quantise_pixels;

namespace cryptonets {
namespace {

constexpr size_t kImagesHeaderBytes = 16;  // magic, count, rows, cols
constexpr size_t kLabelsHeaderBytes = 8;   // magic, count

[[noreturn]] void fail(const std::string& source, const std::string& problem) {
  throw std::runtime_error("IDX file '" + source + "': " + problem);
}

uint32_t read_big_endian_u32(std::span<const uint8_t> content, size_t offset) {
  return (uint32_t{content[offset]} << 24) | (uint32_t{content[offset + 1]} << 16) |
         (uint32_t{content[offset + 2]} << 8) | uint32_t{content[offset + 3]};
}

std::string hex32(uint32_t value) {
  std::ostringstream text;
  text << "0x" << std::hex;
  text.width(8);
  text.fill('0');
  text << value;
  return text.str();
}

void check_header_present(std::span<const uint8_t> content, size_t header_bytes,
                          const std::string& source) {
  if (content.size() < header_bytes) {
    fail(source, "truncated: " + std::to_string(content.size()) + " bytes is shorter than the " +
                     std::to_string(header_bytes) + "-byte IDX header");
  }
}

void check_magic(std::span<const uint8_t> content, uint32_t expected, const char* what,
                 const std::string& source) {
  const uint32_t magic = read_big_endian_u32(content, 0);
  if (magic != expected) {
    fail(source, "wrong magic number " + hex32(magic) + ", expected " + hex32(expected) + " (" +
                     what + ")");
  }
}

void check_length(std::span<const uint8_t> content, uint64_t expected_bytes,
                  const std::string& announced, const std::string& source) {
  if (content.size() < expected_bytes) {
    fail(source, "truncated: the header announces " + announced + ", i.e. " +
                     std::to_string(expected_bytes) + " bytes, but the file holds only " +
                     std::to_string(content.size()) + " bytes");
  }
  if (content.size() > expected_bytes) {
    fail(source, "too long: the header announces " + announced + ", i.e. " +
                     std::to_string(expected_bytes) + " bytes, but the file holds " +
                     std::to_string(content.size()) + " bytes");
  }
}

void check_sha256(std::span<const uint8_t> content, const std::string& expected_hex,
                  const std::string& source) {
  const std::string actual = to_hex(sha256(content));
  if (actual != expected_hex) {
    fail(source, "SHA-256 mismatch (corrupted file?): the uncompressed content hashes to " +
                     actual + ", expected " + expected_hex);
  }
}

// The file for `stem` in `directory`: stem.gz if present, else stem.
std::filesystem::path data_file(const std::filesystem::path& directory, const std::string& stem) {
  const std::filesystem::path gzipped = directory / (stem + ".gz");
  return std::filesystem::exists(gzipped) ? gzipped : directory / stem;
}

std::string split_prefix(MnistSplit split) {
  return split == MnistSplit::kTrain ? "train" : "t10k";
}

// SHA-256 of the file's bytes as stored (what sha256sum(1) prints).
std::string stored_sha256(const std::filesystem::path& path) {
  require_regular_input(path.string());
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path.string(), std::string("cannot open: ") + std::strerror(errno));
  Sha256 hash;
  std::vector<char> chunk(1 << 20);
  while (in) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    hash.update(std::span(reinterpret_cast<const uint8_t*>(chunk.data()),
                          static_cast<size_t>(in.gcount())));
  }
  if (in.bad()) fail(path.string(), "read error");
  return to_hex(hash.digest());
}

}  // namespace

std::vector<uint8_t> read_possibly_gzipped_file(const std::filesystem::path& path) {
  const std::string source = path.string();
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) {
    fail(source, "cannot open: no such regular file");
  }
  gzFile file = gzopen(source.c_str(), "rb");
  if (file == nullptr) fail(source, std::string("cannot open: ") + std::strerror(errno));

  std::vector<uint8_t> content;
  constexpr unsigned kChunkBytes = 1u << 20;
  for (;;) {
    const size_t old_size = content.size();
    content.resize(old_size + kChunkBytes);
    const int got = gzread(file, content.data() + old_size, kChunkBytes);
    if (got < 0) break;  // reported through gzerror below
    content.resize(old_size + static_cast<size_t>(got));
    if (got == 0) break;
  }
  int status = Z_OK;
  const std::string zlib_message = gzerror(file, &status);
  gzclose(file);
  if (status != Z_OK) fail(source, "gzip decompression failed: " + zlib_message);
  return content;
}

std::map<std::string, std::string> read_sha256sums(const std::filesystem::path& path) {
  // Before the open: a FIFO there blocked encrypt, decrypt --labels and mnist for ever, and a
  // directory read as an empty list ("has no entry for ...").
  if (const std::string kind = special_file_kind(path.string()); !kind.empty()) {
    throw std::runtime_error("cannot read file '" + path.string() + "': it is " + kind +
                             ", not a regular file (a checksum file is a regular file, as "
                             "sha256sum writes it)");
  }
  std::ifstream in(path);
  if (!in) {
    throw std::runtime_error("cannot open checksum file '" + path.string() +
                             "': " + std::strerror(errno));
  }
  std::map<std::string, std::string> sums;
  std::string line;
  for (int line_number = 1; std::getline(in, line); ++line_number) {
    if (line.empty()) continue;
    // sha256sum(1): 64 hex digits, a space, then ' ' (text mode) or '*' (binary mode), the name.
    const bool well_formed = line.size() > 66 && line[64] == ' ' &&
                             (line[65] == ' ' || line[65] == '*') &&
                             line.find_first_not_of("0123456789abcdef") >= 64;
    if (!well_formed) {
      throw ChecksumError("checksum file '" + path.string() + "', line " +
                          std::to_string(line_number) +
                          ": expected '<64 lower-case hex digits>  <file name>'");
    }
    sums[line.substr(66)] = line.substr(0, 64);
  }
  return sums;
}

MnistImages parse_mnist_images(std::span<const uint8_t> content, const std::string& source) {
  check_header_present(content, kImagesHeaderBytes, source);
  check_magic(content, kIdxImagesMagic, "IDX unsigned-byte 3-D images", source);
  const uint32_t count = read_big_endian_u32(content, 4);
  const uint32_t rows = read_big_endian_u32(content, 8);
  const uint32_t cols = read_big_endian_u32(content, 12);
  if (rows != kMnistImageRows || cols != kMnistImageCols) {
    fail(source,
         "images are " + std::to_string(rows) + "x" + std::to_string(cols) + ", expected 28x28");
  }
  check_length(content, kImagesHeaderBytes + uint64_t{count} * kMnistImagePixels,
               std::to_string(count) + " images of 28x28", source);
  MnistImages images;
  images.count = count;
  images.pixels.assign(content.begin() + kImagesHeaderBytes, content.end());
  return images;
}

MnistLabels parse_mnist_labels(std::span<const uint8_t> content, const std::string& source) {
  check_header_present(content, kLabelsHeaderBytes, source);
  check_magic(content, kIdxLabelsMagic, "IDX unsigned-byte 1-D labels", source);
  const uint32_t count = read_big_endian_u32(content, 4);
  check_length(content, kLabelsHeaderBytes + uint64_t{count}, std::to_string(count) + " labels",
               source);
  MnistLabels labels;
  labels.labels.assign(content.begin() + kLabelsHeaderBytes, content.end());
  return labels;
}

MnistImages read_mnist_images(const std::filesystem::path& path,
                              const std::optional<std::string>& expected_sha256) {
  const std::vector<uint8_t> content = read_possibly_gzipped_file(path);
  if (expected_sha256) check_sha256(content, *expected_sha256, path.string());
  return parse_mnist_images(content, path.string());
}

MnistLabels read_mnist_labels(const std::filesystem::path& path,
                              const std::optional<std::string>& expected_sha256) {
  const std::vector<uint8_t> content = read_possibly_gzipped_file(path);
  if (expected_sha256) check_sha256(content, *expected_sha256, path.string());
  return parse_mnist_labels(content, path.string());
}

std::filesystem::path checksum_file_for(const std::filesystem::path& data_file) {
  return data_file.parent_path() / kChecksumFileName;
}

std::filesystem::path uncompressed_checksum_file_for(const std::filesystem::path& data_file) {
  return data_file.parent_path() / kUncompressedChecksumFileName;
}

ChecksumCheck check_data_file(const std::filesystem::path& data_file, bool verify) {
  if (!verify) return ChecksumCheck::kNotAsked;
  const std::string name = data_file.filename().string();
  // SHA256SUMS lists the files as stored; SHA256SUMS.uncompressed the content of gzipped files,
  // under their names without ".gz", which is what a plain copy (gunzip) of one stores.
  std::vector<std::filesystem::path> candidates = {checksum_file_for(data_file)};
  if (!name.ends_with(".gz")) candidates.push_back(uncompressed_checksum_file_for(data_file));
  std::vector<std::filesystem::path> present;
  for (const std::filesystem::path& sums_path : candidates) {
    std::error_code error;  // set only when existence cannot be decided (absence is no error)
    const bool exists = std::filesystem::exists(sums_path, error);
    if (error) {
      throw ChecksumError("cannot tell whether checksum file '" + sums_path.string() +
                          "' exists: " + error.message());
    }
    if (!exists) {
      // A link to nothing is not an absent checksum file: skipping it turned verification off
      // without a word but the "unverified" note (found by a trial).
      if (std::filesystem::is_symlink(std::filesystem::symlink_status(sums_path, error))) {
        throw ChecksumError("checksum file '" + sums_path.string() +
                            "' is a symbolic link to a file that does not exist; restore its "
                            "target or remove the link");
      }
      continue;
    }
    present.push_back(sums_path);
    const auto sums = read_sha256sums(sums_path);
    const auto entry = sums.find(name);
    if (entry == sums.end()) continue;
    const std::string actual = stored_sha256(data_file);
    if (actual != entry->second) {
      throw ChecksumError("data file '" + data_file.string() +
                          "' does not match its checksum file (corrupted or replaced?): SHA-256 " +
                          actual + ", '" + sums_path.string() + "' lists " + entry->second);
    }
    return ChecksumCheck::kVerified;
  }
  if (present.empty()) return ChecksumCheck::kNoChecksumFile;
  const std::string missing =
      present.size() == 1
          ? "checksum file '" + present.front().string() + "' has no entry for '" + name + "'"
          : "neither checksum file '" + present.front().string() + "' nor '" +
                present.back().string() + "' has an entry for '" + name + "'";
  throw ChecksumError(missing + " (the file as stored; add it with: sha256sum " + name + " >> " +
                      kChecksumFileName + ")");
}

std::filesystem::path split_images_file(const std::filesystem::path& directory, MnistSplit split) {
  return data_file(directory, split_prefix(split) + "-images-idx3-ubyte");
}

std::filesystem::path split_labels_file(const std::filesystem::path& directory, MnistSplit split) {
  return data_file(directory, split_prefix(split) + "-labels-idx1-ubyte");
}

MnistSet load_mnist(const std::filesystem::path& directory, MnistSplit split,
                    bool verify_checksums) {
  const std::filesystem::path images_path = split_images_file(directory, split);
  const std::filesystem::path labels_path = split_labels_file(directory, split);
  if (!std::filesystem::exists(images_path) || !std::filesystem::exists(labels_path)) {
    const std::string prefix = split_prefix(split);
    throw std::runtime_error(
        "data set '" + directory.string() + "': expected IDX files " + prefix +
        "-images-idx3-ubyte and " + prefix + "-labels-idx1-ubyte (each optionally .gz); missing '" +
        (std::filesystem::exists(images_path) ? labels_path : images_path).filename().string() +
        "'");
  }
  const ChecksumCheck images_check = check_data_file(images_path, verify_checksums);
  const ChecksumCheck labels_check = check_data_file(labels_path, verify_checksums);
  MnistSet set{read_mnist_images(images_path), read_mnist_labels(labels_path),
               std::max(images_check, labels_check)};
  if (set.images.count != set.labels.labels.size()) {
    throw std::runtime_error("IDX files '" + images_path.string() + "' and '" +
                             labels_path.string() +
                             "' disagree: " + std::to_string(set.images.count) + " images but " +
                             std::to_string(set.labels.labels.size()) + " labels");
  }
  return set;
}

}  // namespace cryptonets

namespace cryptonets {

std::vector<std::vector<int64_t>> quantised_images(const Model& model, const MnistImages& images,
                                                   size_t first, size_t count) {
  if (first > images.count || count > images.count - first) {
    throw std::out_of_range("images " + std::to_string(first) + " to " +
                            std::to_string(first + count) + " requested; the file holds " +
                            std::to_string(images.count));
  }
  std::vector<std::vector<int64_t>> out;
  out.reserve(count);
  for (size_t s = first; s < first + count; ++s) {
    const uint8_t* pixels = images.pixels.data() + s * kMnistImagePixels;
    out.push_back(quantise_pixels(model, std::vector<uint8_t>(pixels, pixels + kMnistImagePixels)));
  }
  return out;
}

}  // namespace cryptonets
