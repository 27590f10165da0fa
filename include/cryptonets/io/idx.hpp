// Reader for IDX files of 28×28 grey images and their labels, in the layout of the MNIST database
// (http://yann.lecun.com/exdb/mnist/, "FILE FORMATS FOR THE MNIST DATABASE"), gzipped or plain,
// and the data set's checksum file.
//
// A data set is a directory with train-images-idx3-ubyte, train-labels-idx1-ubyte,
// t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (each optionally gzipped, ".gz"); a label is
// any byte 0..255, the class index. Its checksum file is SHA256SUMS in the same directory, as
// sha256sum(1) writes it for the files as they are stored (`sha256sum *-ubyte* > SHA256SUMS`).
//
// Every problem (missing file, gzip error, wrong magic, wrong dimensions, truncated or overlong
// file, checksum mismatch, images/labels count mismatch) throws std::runtime_error whose message
// names the file and says what was expected and what was found.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "cryptonets/model/model.hpp"

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
  std::vector<uint8_t> labels;  // class indices, 0..255
};

// How a data file was checked against its data set's checksum file.
enum class ChecksumCheck {
  kVerified,        // SHA256SUMS beside it lists it with its SHA-256
  kNoChecksumFile,  // no SHA256SUMS beside it: read unverified
  kNotAsked,        // the caller skipped verification
};

// A checksum file that exists but does not vouch for a data file: no entry for it, a different
// digest, or a malformed line. Always an error (unlike a missing checksum file).
class ChecksumError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Images and their labels, checked to have the same count.
struct MnistSet {
  MnistImages images;
  MnistLabels labels;
  ChecksumCheck checksums = ChecksumCheck::kVerified;  // of both files (they share a directory)
};

enum class MnistSplit { kTrain, kTest };

// An IDX file's content: the whole file, gunzipped when it is gzip-compressed (zlib reads plain
// files unchanged), decompression bounded as gunzip_if_gzipped bounds it (so not for other files:
// a gzipped file without an IDX header is returned only as far as it was decompressed).
std::vector<uint8_t> read_possibly_gzipped_file(const std::filesystem::path& path);

// The two halves of read_possibly_gzipped_file, for a caller that also checks the bytes as stored
// (check_data_file) and hashes the content, all from one read of the file: a file replaced between
// two reads would otherwise be checked in one version and used in the other.
// read_stored_file: the bytes as stored; std::runtime_error "IDX file 'PATH': cannot open: ..."
// for a missing file or one that is not a regular file.
std::vector<uint8_t> read_stored_file(const std::filesystem::path& path);
// `stored` gunzipped when it starts with the gzip magic (1f 8b; members one after the other, as
// gzip -c a b writes them), else unchanged. std::runtime_error "IDX file 'SOURCE': gzip
// decompression failed: ..." for a damaged or truncated stream, "trailing data: ..." for bytes
// after the last member that start no other (zlib's gzread ignores them). Decompression is bounded
// by the IDX header, read from the first bytes out: "too long: ..." one byte past the size it
// announces, "truncated: ..." when it announces more than the gzip data can hold (deflate expands
// at most 1032 times); content that starts with no IDX header is returned as far as it was
// decompressed, for the parser to name its magic number.
std::vector<uint8_t> gunzip_if_gzipped(std::vector<uint8_t> stored, const std::string& source);

// Parses the lines of sha256sum(1) as sha256sum -c reads them: "<64 hex digits>  <file name>"
// (or " *<file name>"), "SHA256 (<file name>) = <64 hex digits>" (--tag), either with an escaped
// name after a leading backslash ("\\", "\n", "\r"), hex digits of either case, a CR before the
// newline, names starting with "./" taken without it: file name → lower-case hex digest.
// Throws ChecksumError for a malformed line, std::runtime_error if the file cannot be opened or
// is not a regular file (a FIFO would block the read; a directory is named as one, "it is a
// directory, not a regular file").
std::map<std::string, std::string> read_sha256sums(const std::filesystem::path& path);

// The checksum file of a data set: kChecksumFileName in the directory of its data files.
inline constexpr const char* kChecksumFileName = "SHA256SUMS";
std::filesystem::path checksum_file_for(const std::filesystem::path& data_file);
// The checksums of the decompressed content of a data set's gzipped files, under their names
// without ".gz" (data/mnist ships one beside SHA256SUMS): the stored bytes of a plain copy made
// with gunzip, which SHA256SUMS (the .gz files as stored) does not list.
inline constexpr const char* kUncompressedChecksumFileName = "SHA256SUMS.uncompressed";
std::filesystem::path uncompressed_checksum_file_for(const std::filesystem::path& data_file);

// The one rule for every data file a command reads: with `verify`, the checksum files beside
// `data_file` that exist are SHA256SUMS and, for a file not named *.gz, SHA256SUMS.uncompressed;
// the first of them that lists the file under its stored name (".gz" included) must give the
// SHA-256 of its stored bytes (kVerified; ChecksumError "does not match" otherwise). One or both
// present without an entry for it: ChecksumError ("has no entry for"). Neither present: the file
// is unverified (kNoChecksumFile, for the caller to say so). Without `verify`: kNotAsked. A
// checksum file that is not a regular file (a FIFO, a directory): std::runtime_error.
ChecksumCheck check_data_file(const std::filesystem::path& data_file, bool verify);
// The same rule for a file already read (read_stored_file): `stored` is what is hashed, and
// `data_file` is not read again.
ChecksumCheck check_data_file(const std::filesystem::path& data_file, bool verify,
                              std::span<const uint8_t> stored);

// Parse already-read IDX content; `source` names the file in error messages.
MnistImages parse_mnist_images(std::span<const uint8_t> content, const std::string& source);
MnistLabels parse_mnist_labels(std::span<const uint8_t> content, const std::string& source);

// Reads one file; if expected_sha256 is given (lower-case hex), the SHA-256 of the uncompressed
// content must equal it.
MnistImages read_mnist_images(const std::filesystem::path& path,
                              const std::optional<std::string>& expected_sha256 = std::nullopt);
MnistLabels read_mnist_labels(const std::filesystem::path& path,
                              const std::optional<std::string>& expected_sha256 = std::nullopt);

// The file of a split in `directory`: e.g. t10k-images-idx3-ubyte.gz if present (or there but
// unreachable, a link loop or a dangling link: load_mnist then says so), else
// t10k-images-idx3-ubyte. Never throws.
std::filesystem::path split_images_file(const std::filesystem::path& directory, MnistSplit split);
std::filesystem::path split_labels_file(const std::filesystem::path& directory, MnistSplit split);

// Reads both files of a split from `directory`, each checked by check_data_file(file,
// verify_checksums); `checksums` of the result says whether they were verified.
MnistSet load_mnist(const std::filesystem::path& directory, MnistSplit split,
                    bool verify_checksums = true);

// Images first .. first + count - 1, each quantised with the model's input scale
// (quantise_pixels). Throws std::out_of_range if they run past the end of `images`.
std::vector<std::vector<int64_t>> quantised_images(const model::Model& model,
                                                   const MnistImages& images, size_t first,
                                                   size_t count);

}  // namespace cryptonets
