// IDX layout (MNIST database page, "FILE FORMATS FOR THE MNIST DATABASE"): a big-endian 32-bit
// magic number, one big-endian 32-bit size per dimension, then the unsigned bytes row-major.
#include "cryptonets/io/idx.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <utility>

#include "cryptonets/arith/format.hpp"
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

// What is wrong with `path` when it is a symbolic link whose target is not there: "it is a
// symbolic link to 'TARGET', which does not exist ..."; else "" (a link loop is said elsewhere).
// A dangling link was "missing" or "no such regular file", as if nothing had the name (a review).
std::string dangling_link_problem(const std::filesystem::path& path) {
  std::error_code error;
  if (!std::filesystem::is_symlink(std::filesystem::symlink_status(path, error))) return "";
  const bool reachable = std::filesystem::exists(path, error);
  if (reachable || (error && error != std::errc::no_such_file_or_directory &&
                    error != std::errc::not_a_directory)) {
    return "";
  }
  const std::filesystem::path target = std::filesystem::read_symlink(path, error);
  if (error) {
    return "it is a symbolic link to a target that does not exist (a dangling link: restore "
           "its target or remove the link)";
  }
  // A chain of links: its last link's target is the one missing ("'b', which does not exist"
  // called a link that is there absent; a review).
  std::filesystem::path last = target.is_absolute() ? target : path.parent_path() / target;
  std::filesystem::path end = target;
  for (int hop = 0; hop < 40; ++hop) {
    if (!std::filesystem::is_symlink(std::filesystem::symlink_status(last, error))) break;
    end = std::filesystem::read_symlink(last, error);
    if (error) break;
    last = end.is_absolute() ? end : last.parent_path() / end;
  }
  const std::string chain =
      end == target ? "" : ", a chain of links whose last points to '" + end.string() + "'";
  return "it is a symbolic link to '" + target.string() + "'" + chain +
         ", which does not exist (a dangling link: restore its target or remove the link)";
}

// The file for `stem` in `directory`: stem.gz if present, else stem.
// Never throws: a directory that cannot be searched (a link loop) is the loader's error to report
// ("filesystem error: status: Too many levels of symbolic links" came from here, past it; a trial).
// A stem.gz there that cannot be reached (a link loop, a dangling link) is chosen too, for the
// loader to name: taken as absent, it was "missing 'stem'", or the plain file read in its place.
std::filesystem::path data_file(const std::filesystem::path& directory, const std::string& stem) {
  const std::filesystem::path gzipped = directory / (stem + ".gz");
  std::error_code error;
  const bool there = std::filesystem::exists(gzipped, error);
  const bool unreachable =
      error && error != std::errc::no_such_file_or_directory && error != std::errc::not_a_directory;
  return there || unreachable || !dangling_link_problem(gzipped).empty() ? gzipped
                                                                         : directory / stem;
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

// check_data_file, with the file's SHA-256 as stored from `actual_sha256` (called only when a
// checksum file lists it).
template <class Hash>
ChecksumCheck check_data_file_with(const std::filesystem::path& data_file, bool verify,
                                   Hash actual_sha256) {
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
    const std::string actual = actual_sha256();
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
  // The command as one pastes it, as the note on a directory without a checksum file says it:
  // run in the file's directory (sha256sum lists names as given), each path one sh word ("my
  // data", a name with a quote), none taken for an option ('-x' as './-x', which the list
  // reader takes as 'x'). It was "sha256sum NAME >> SHA256SUMS", to be run who knew where.
  const auto word = [](const std::string& path) {
    return shell_quoted(path.starts_with('-') ? "./" + path : path);
  };
  const std::string directory = data_file.parent_path().string();
  throw ChecksumError(missing + " (the file as stored; add it with: " +
                      (directory.empty() ? "" : "cd " + word(directory) + " && ") + "sha256sum " +
                      word(name) + " >> " + kChecksumFileName + ")");
}

}  // namespace

std::vector<uint8_t> read_stored_file(const std::filesystem::path& path) {
  const std::string source = path.string();
  require_regular_input(source);  // before the open: a FIFO would block it
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) {
    // A directory (encrypt --images DATA_DIR, a trial) was "no such regular file", as if absent.
    if (const std::string problem = dangling_link_problem(path); !problem.empty()) {
      fail(source, problem);
    }
    const std::string kind = special_file_kind(source);
    fail(source, kind.empty() ? "cannot open: no such regular file"
                              : "it is " + kind + ", not an IDX file: give the file itself");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(source, std::string("cannot open: ") + std::strerror(errno));
  std::vector<uint8_t> bytes;
  const uint64_t size = std::filesystem::file_size(path, error);
  if (!error) bytes.reserve(static_cast<size_t>(size));  // a guess: the file may grow meanwhile
  std::vector<char> chunk(size_t{1} << 20);
  while (in) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    bytes.insert(bytes.end(), chunk.data(), chunk.data() + in.gcount());
  }
  if (in.bad()) fail(source, "read error");
  return bytes;
}

namespace {

// The bytes of one element of an IDX type code (MNIST database page: 0x08 unsigned byte, 0x09
// signed byte, 0x0B short, 0x0C int, 0x0D float, 0x0E double); 0 for any other code.
size_t idx_element_bytes(uint8_t type) {
  switch (type) {
    case 0x08:
    case 0x09:
      return 1;
    case 0x0B:
      return 2;
    case 0x0C:
    case 0x0D:
      return 4;
    case 0x0E:
      return 8;
    default:
      return 0;
  }
}

// What the IDX header at the start of `content` announces: the whole file's size in bytes, the
// header included; kHeaderIncomplete while too few bytes are there to tell, kNotIdx when they
// start no IDX header (magic 00 00 TYPE DIMS, then DIMS big-endian 32-bit sizes).
constexpr uint64_t kHeaderIncomplete = 0;
constexpr uint64_t kNotIdx = UINT64_MAX;
constexpr uint64_t kDeflateMostExpansion = 1032;
uint64_t idx_announced_bytes(std::span<const uint8_t> content) {
  if (content.size() < 4) return kHeaderIncomplete;
  const size_t element = idx_element_bytes(content[2]);
  const size_t dimensions = content[3];
  if (content[0] != 0 || content[1] != 0 || element == 0 || dimensions == 0) return kNotIdx;
  const uint64_t header = 4 + 4 * uint64_t{dimensions};
  if (content.size() < header) return kHeaderIncomplete;
  uint64_t elements = 1;
  for (size_t i = 0; i < dimensions; ++i) {
    const uint64_t size = read_big_endian_u32(content, 4 + 4 * i);
    // Past 2^64 bytes: no file; the parser refuses its header (images are 28x28, a count is 32
    // bits) from the first bytes.
    if (size != 0 && elements > (kNotIdx - 1 - header) / element / size) return kNotIdx;
    elements *= size;
  }
  return header + elements * element;
}

}  // namespace

std::vector<uint8_t> gunzip_if_gzipped(std::vector<uint8_t> stored, const std::string& source) {
  // RFC 1952's magic; anything else is taken as stored, as gzread takes a plain file.
  if (stored.size() < 2 || stored[0] != 0x1f || stored[1] != 0x8b) return stored;
  z_stream stream{};
  if (inflateInit2(&stream, 15 + 16) != Z_OK) {  // 15: the largest window; + 16: gzip only
    fail(source, "gzip decompression failed: zlib could not start");
  }
  constexpr size_t kChunkBytes = size_t{1} << 20;  // zlib counts in 32 bits: fed in chunks
  std::vector<uint8_t> content;
  size_t fed = 0;  // bytes of `stored` handed to zlib so far
  const auto feed = [&](size_t from) {
    const size_t count = std::min(kChunkBytes, stored.size() - from);
    stream.next_in = stored.data() + from;
    stream.avail_in = static_cast<uInt>(count);
    fed = from + count;
  };
  feed(0);
  // The size the IDX header announces, known from the first bytes out: decompression stops one
  // byte past it (a review: a small file of gzipped zeros, a gzip bomb, was decompressed whole,
  // gigabytes, before its header was read). No IDX header: stopped at once, for the parser to
  // name the magic number.
  uint64_t announced = kHeaderIncomplete;
  std::string problem;
  for (;;) {
    if (stream.avail_in == 0 && fed < stored.size()) feed(fed);
    const size_t old_size = content.size();
    const size_t wanted =
        announced == kHeaderIncomplete
            ? kChunkBytes
            : static_cast<size_t>(std::min<uint64_t>(kChunkBytes, announced + 1 - old_size));
    content.resize(old_size + wanted);
    stream.next_out = content.data() + old_size;
    stream.avail_out = static_cast<uInt>(wanted);
    const int status = inflate(&stream, Z_NO_FLUSH);
    content.resize(old_size + wanted - stream.avail_out);
    if (announced == kHeaderIncomplete) {
      announced = idx_announced_bytes(content);
      // Deflate expands at most 1032 times (a 258-byte match in 2 bits): a header announcing
      // more than the gzip data can hold is refused before more is decompressed.
      if (announced != kHeaderIncomplete && announced != kNotIdx &&
          announced / kDeflateMostExpansion > stored.size()) {
        problem = "truncated: the IDX header announces " + std::to_string(announced) +
                  " bytes, more than " + std::to_string(stored.size()) +
                  " bytes of gzip data can hold (deflate expands at most " +
                  std::to_string(kDeflateMostExpansion) + " times)";
        break;
      }
    }
    if (announced == kNotIdx) break;
    if (announced != kHeaderIncomplete && content.size() > announced) {
      problem = "too long: the IDX header announces " + std::to_string(announced) +
                " bytes, but the decompressed content is longer (decompression stopped there)";
      break;
    }
    if (status == Z_STREAM_END) {
      // Another member may follow (gzip -c a b > c); other bytes after the last, but zero
      // padding, are refused (the last session's list: gzread ignores them, so junk appended to a
      // data file, or a file that was cut and appended to, went unnoticed; gzip -t calls them
      // "trailing garbage").
      const size_t next = fed - stream.avail_in;
      if (next == stored.size()) break;
      // Zero bytes alone are padding (a tape or disk block filled out), as gzip -d takes them
      // ("decompression OK, trailing zero bytes ignored"); they were refused as trailing data.
      if (std::all_of(stored.begin() + static_cast<std::ptrdiff_t>(next), stored.end(),
                      [](uint8_t byte) { return byte == 0; })) {
        break;
      }
      if (stored.size() - next < 2 || stored[next] != 0x1f || stored[next + 1] != 0x8b) {
        const size_t trailing = stored.size() - next;
        problem = "trailing data: " + std::to_string(trailing) +
                  (trailing == 1 ? " byte" : " bytes") +
                  " after the end of the gzip data (from byte " + std::to_string(next) + " of " +
                  std::to_string(stored.size()) + "), which start no other gzip member";
        break;
      }
      inflateReset(&stream);
      feed(next);
      continue;
    }
    if (status == Z_OK) continue;
    if (status == Z_BUF_ERROR && stream.avail_in == 0 && fed < stored.size()) continue;
    problem = status == Z_BUF_ERROR   ? "unexpected end of file"
              : stream.msg != nullptr ? stream.msg
                                      : "zlib error " + std::to_string(status);
    break;
  }
  inflateEnd(&stream);
  if (!problem.empty()) {
    const bool idx_problem = problem.starts_with("too long") || problem.starts_with("truncated") ||
                             problem.starts_with("trailing data");
    fail(source, idx_problem ? problem : "gzip decompression failed: " + problem);
  }
  // A stream that ends short of the announced size: the parser says so, naming what the header
  // announces (images, labels).
  return content;
}

std::vector<uint8_t> read_possibly_gzipped_file(const std::filesystem::path& path) {
  return gunzip_if_gzipped(read_stored_file(path), path.string());
}

namespace {

// 64 hex digits, either case (sha256sum -c takes both), in lower case; nullopt otherwise.
std::optional<std::string> sha256_digest(std::string_view text) {
  if (text.size() != 64 || text.find_first_not_of("0123456789abcdefABCDEF") != text.npos)
    return std::nullopt;
  std::string digest(text);
  for (char& c : digest)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return digest;
}

// One line of sha256sum(1) (coreutils 9), (name, digest): "<digest> <' ' or '*'><name>", or with
// --tag "SHA256 (<name>) = <digest>". A name holding a backslash, newline or CR is written escaped
// ("\\", "\n", "\r") on a line that starts with a backslash. nullopt for anything else (a
// line of another algorithm's tag too). Found by a review: such lines, valid for sha256sum -c,
// made the whole list malformed.
std::optional<std::pair<std::string, std::string>> parse_checksum_line(std::string_view line) {
  const bool escaped = line.starts_with('\\');
  if (escaped) line.remove_prefix(1);
  std::string_view name;
  std::optional<std::string> digest;
  if (line.starts_with("SHA256 (")) {
    const size_t close = line.rfind(") = ");
    if (close == line.npos || close < 8) return std::nullopt;
    name = line.substr(8, close - 8);
    digest = sha256_digest(line.substr(close + 4));
  } else {
    if (line.size() < 67 || line[64] != ' ' || (line[65] != ' ' && line[65] != '*'))
      return std::nullopt;
    name = line.substr(66);
    digest = sha256_digest(line.substr(0, 64));
  }
  if (!digest || name.empty()) return std::nullopt;
  if (!escaped) return std::pair(std::string(name), *digest);
  std::string unescaped;
  for (size_t i = 0; i < name.size(); ++i) {
    if (name[i] != '\\') {
      unescaped += name[i];
      continue;
    }
    if (++i == name.size()) return std::nullopt;
    switch (name[i]) {
      case '\\':
        unescaped += '\\';
        break;
      case 'n':
        unescaped += '\n';
        break;
      case 'r':
        unescaped += '\r';
        break;
      default:
        return std::nullopt;
    }
  }
  return std::pair(unescaped, *digest);
}

}  // namespace

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
    // As sha256sum -c reads them: a line may end in CR (a file written on Windows) and a name may
    // start with "./" (sha256sum ./*); both were "no entry for" a file the list names (a trial).
    if (line.ends_with('\r')) line.pop_back();
    if (line.empty()) continue;
    std::optional<std::pair<std::string, std::string>> entry = parse_checksum_line(line);
    if (!entry) {
      throw ChecksumError("checksum file '" + path.string() + "', line " +
                          std::to_string(line_number) +
                          ": expected '<64 hex digits>  <file name>' (sha256sum) or 'SHA256 "
                          "(<file name>) = <64 hex digits>' (sha256sum --tag)");
    }
    auto& [name, digest] = *entry;
    while (name.starts_with("./") && name.size() > 2)
      name.erase(0, 2);
    sums[name] = digest;
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
  return check_data_file_with(data_file, verify, [&] { return stored_sha256(data_file); });
}

ChecksumCheck check_data_file(const std::filesystem::path& data_file, bool verify,
                              std::span<const uint8_t> stored) {
  return check_data_file_with(data_file, verify, [&] { return to_hex(sha256(stored)); });
}

std::filesystem::path split_images_file(const std::filesystem::path& directory, MnistSplit split) {
  return data_file(directory, split_prefix(split) + "-images-idx3-ubyte");
}

std::filesystem::path split_labels_file(const std::filesystem::path& directory, MnistSplit split) {
  return data_file(directory, split_prefix(split) + "-labels-idx1-ubyte");
}

MnistSet load_mnist(const std::filesystem::path& directory, MnistSplit split,
                    bool verify_checksums) {
  // A directory that is not there, or a file, is said so: both were 'missing
  // train-images-idx3-ubyte', as if the directory were there without it (a trial).
  std::error_code error;
  const std::filesystem::file_status status = std::filesystem::status(directory, error);
  if (!std::filesystem::exists(status)) {
    throw std::runtime_error("data set '" + directory.string() + "': " +
                             (error && error != std::errc::no_such_file_or_directory
                                  ? "cannot reach it: " + error.message()
                                  : std::string("no such directory")));
  }
  if (!std::filesystem::is_directory(status)) {
    throw std::runtime_error("data set '" + directory.string() +
                             "' is not a directory: a data set is the directory that holds its "
                             "IDX files");
  }
  const std::filesystem::path images_path = split_images_file(directory, split);
  const std::filesystem::path labels_path = split_labels_file(directory, split);
  // Whether each is there, without throwing: a file that is a link loop threw std::filesystem's
  // bare "filesystem error: status: Too many levels of symbolic links" (a trial).
  const auto present = [](const std::filesystem::path& path) {
    std::error_code cause;
    const bool exists = std::filesystem::exists(path, cause);
    if (cause && cause != std::errc::no_such_file_or_directory) {
      fail(path.string(), "cannot reach it: " + cause.message());
    }
    return exists;
  };
  const bool images_present = present(images_path);
  const bool labels_present = present(labels_path);
  for (const std::filesystem::path& path : {images_path, labels_path}) {
    if (const std::string problem = dangling_link_problem(path); !problem.empty()) {
      fail(path.string(), problem);
    }
  }
  if (!images_present || !labels_present) {
    const std::string prefix = split_prefix(split);
    throw std::runtime_error(
        "data set '" + directory.string() + "': expected IDX files " + prefix +
        "-images-idx3-ubyte and " + prefix + "-labels-idx1-ubyte (each optionally .gz); missing '" +
        (images_present ? labels_path : images_path).filename().string() + "'");
  }
  // A directory under a file's name is the data set's fault, not the user's choice of file:
  // read_stored_file's "give the file itself" would send them to name a file they never named.
  for (const std::filesystem::path& path : {images_path, labels_path}) {
    std::error_code cause;
    if (std::filesystem::is_directory(path, cause)) {
      fail(path.string(), "it is a directory, not an IDX file: data set '" + directory.string() +
                              "' needs the IDX file itself under that name");
    }
  }
  // Each file read once: checked and parsed from the same bytes.
  std::vector<uint8_t> images_stored = read_stored_file(images_path);
  std::vector<uint8_t> labels_stored = read_stored_file(labels_path);
  const ChecksumCheck images_check = check_data_file(images_path, verify_checksums, images_stored);
  const ChecksumCheck labels_check = check_data_file(labels_path, verify_checksums, labels_stored);
  MnistSet set{parse_mnist_images(gunzip_if_gzipped(std::move(images_stored), images_path.string()),
                                  images_path.string()),
               parse_mnist_labels(gunzip_if_gzipped(std::move(labels_stored), labels_path.string()),
                                  labels_path.string()),
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
