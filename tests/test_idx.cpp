// The IDX reader on the real MNIST files and on damaged copies of them, and the checksum rule
// (SHA256SUMS beside the data files).
#include <doctest/doctest.h>

#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "cryptonets/arith/format.hpp"
#include "cryptonets/io/idx.hpp"
#include "cryptonets/io/sha256.hpp"
#include "nn_test_support.hpp"

using namespace cryptonets;
using namespace test_support;
namespace fs = std::filesystem;

namespace {

// A scratch directory removed at the end of the test.
struct ScratchDirectory {
  fs::path path;
  explicit ScratchDirectory(const std::string& name)
      : path(fs::temp_directory_path() /
             ("cryptonets-" + name + "-" + std::to_string(::getpid()))) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~ScratchDirectory() { fs::remove_all(path); }
};

// doctest::Contains takes a doctest::String; it copies the text.
doctest::Contains contains(const std::string& text) {
  return doctest::Contains(text.c_str());
}

void write_file(const fs::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

std::vector<uint8_t> test_images_content() {
  return read_possibly_gzipped_file(mnist_directory() / "t10k-images-idx3-ubyte.gz");
}

std::vector<uint8_t> test_labels_content() {
  return read_possibly_gzipped_file(mnist_directory() / "t10k-labels-idx1-ubyte.gz");
}

// Plain (uncompressed) copies of the test split and their checksum list, for damaging. The
// SHA-256 of the uncompressed MNIST files are those of SHA256SUMS.uncompressed, which lists them
// under their plain names as sha256sum(1) would.
void write_plain_test_split(const fs::path& directory, const std::vector<uint8_t>& images,
                            const std::vector<uint8_t>& labels) {
  write_file(directory / "t10k-images-idx3-ubyte", images);
  write_file(directory / "t10k-labels-idx1-ubyte", labels);
  fs::copy_file(mnist_directory() / "SHA256SUMS.uncompressed", directory / "SHA256SUMS");
}

}  // namespace

TEST_CASE(
    "The MNIST test set reads as 10000 checksummed 28x28 images with labels 7 2 1 0 4 first") {
  const MnistSet test = load_mnist(mnist_directory(), MnistSplit::kTest);
  CHECK(test.checksums == ChecksumCheck::kVerified);  // the .gz files against SHA256SUMS
  CHECK(test.images.count == 10000);
  CHECK(test.images.pixels.size() == 10000 * 28 * 28);
  REQUIRE(test.labels.labels.size() == 10000);
  CHECK(std::vector<uint8_t>(test.labels.labels.begin(), test.labels.labels.begin() + 5) ==
        std::vector<uint8_t>{7, 2, 1, 0, 4});
  // The first image is a 7: ink in the middle rows, a blank first row.
  CHECK(test.images.pixels[0] == 0);
  size_t ink = 0;
  for (size_t i = 0; i < 784; ++i)
    ink += test.images.pixels[i] > 128;
  CHECK(ink > 50);
}

TEST_CASE("The MNIST training set reads as 60000 checksummed images and labels") {
  const MnistSet train = load_mnist(mnist_directory(), MnistSplit::kTrain);
  CHECK(train.images.count == 60000);
  CHECK(train.labels.labels.size() == 60000);
  CHECK(train.labels.labels[0] == 5);  // the first training digit is a 5
}

TEST_CASE("Plain and gzipped copies of an IDX file read the same") {
  ScratchDirectory scratch("idx-plain");
  write_plain_test_split(scratch.path, test_images_content(), test_labels_content());
  const MnistSet plain = load_mnist(scratch.path, MnistSplit::kTest);
  const MnistSet gzipped = load_mnist(mnist_directory(), MnistSplit::kTest);
  CHECK(plain.checksums == ChecksumCheck::kVerified);
  CHECK(plain.images.pixels == gzipped.images.pixels);
  CHECK(plain.labels.labels == gzipped.labels.labels);
}

TEST_CASE("A truncated image file is rejected naming the file and the expected and actual sizes") {
  ScratchDirectory scratch("idx-truncated");
  std::vector<uint8_t> content = test_images_content();
  content.resize(5000);
  const fs::path path = scratch.path / "short-images";
  write_file(path, content);
  CHECK_THROWS_WITH_AS(
      read_mnist_images(path),
      contains(path.string() + "': truncated: the header announces "
                               "10000 images of 28x28, i.e. 7840016 bytes, but the "
                               "file holds only 5000 bytes"),
      std::runtime_error);
  content.resize(10);  // not even a whole header
  write_file(path, content);
  CHECK_THROWS_WITH_AS(read_mnist_images(path),
                       doctest::Contains("truncated: 10 bytes is shorter than the 16-byte IDX "
                                         "header"),
                       std::runtime_error);
}

TEST_CASE("A truncated gzip file is rejected as a decompression failure naming the file") {
  ScratchDirectory scratch("idx-truncated-gz");
  std::ifstream in(mnist_directory() / "t10k-labels-idx1-ubyte.gz", std::ios::binary);
  std::vector<uint8_t> compressed((std::istreambuf_iterator<char>(in)), {});
  compressed.resize(compressed.size() / 2);
  const fs::path path = scratch.path / "t10k-labels-idx1-ubyte.gz";
  write_file(path, compressed);
  CHECK_THROWS_WITH_AS(read_mnist_labels(path),
                       contains(path.string() + "': gzip decompression failed"),
                       std::runtime_error);
}

namespace {

// What zlib's gzread makes of `stored`, written to `path` (the reader before gunzip_if_gzipped).
std::vector<uint8_t> gzread_of(const fs::path& path, const std::vector<uint8_t>& stored) {
  write_file(path, stored);
  gzFile file = gzopen(path.c_str(), "rb");
  REQUIRE(file != nullptr);
  std::vector<uint8_t> content;
  std::vector<uint8_t> chunk(1 << 16);
  int got = 0;
  while ((got = gzread(file, chunk.data(), static_cast<unsigned>(chunk.size()))) > 0)
    content.insert(content.end(), chunk.begin(), chunk.begin() + got);
  gzclose(file);
  REQUIRE(got == 0);
  return content;
}

// `content` as one gzip member, `zeros` zero bytes after it (written without holding them).
std::vector<uint8_t> gzip_of(const std::vector<uint8_t>& content, size_t zeros = 0) {
  z_stream stream{};
  REQUIRE(deflateInit2(&stream, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) == Z_OK);
  std::vector<uint8_t> out;
  std::vector<uint8_t> chunk(1 << 16);
  const std::vector<uint8_t> zero_block(1 << 20, 0);
  const auto run = [&](const uint8_t* data, size_t size, int flush) {
    stream.next_in = const_cast<uint8_t*>(data);
    stream.avail_in = static_cast<uInt>(size);
    do {
      stream.next_out = chunk.data();
      stream.avail_out = static_cast<uInt>(chunk.size());
      REQUIRE(deflate(&stream, flush) != Z_STREAM_ERROR);
      out.insert(out.end(), chunk.data(), chunk.data() + chunk.size() - stream.avail_out);
    } while (stream.avail_out == 0);
  };
  run(content.data(), content.size(), Z_NO_FLUSH);
  for (size_t left = zeros; left > 0;) {
    const size_t now = std::min(left, zero_block.size());
    run(zero_block.data(), now, Z_NO_FLUSH);
    left -= now;
  }
  run(nullptr, 0, Z_FINISH);
  deflateEnd(&stream);
  return out;
}

}  // namespace

TEST_CASE("gunzip_if_gzipped reads what zlib's gzread reads, from bytes already read") {
  // One read of a data file serves its checksum and its content (encrypt hashed a second read).
  ScratchDirectory scratch("idx-gunzip");
  const fs::path path = scratch.path / "reference";
  std::ifstream in(mnist_directory() / "t10k-labels-idx1-ubyte.gz", std::ios::binary);
  const std::vector<uint8_t> member((std::istreambuf_iterator<char>(in)), {});
  CHECK(gunzip_if_gzipped(member, "labels") == gzread_of(path, member));
  // Members one after the other (gzip -c a b, here the two halves of one IDX file) are read one
  // after the other; bytes after the last that start no member are refused, naming the file
  // (gzread ignores them: junk appended to a data file went unnoticed).
  const std::vector<uint8_t> content = gzread_of(path, member);
  const size_t half = content.size() / 2;
  std::vector<uint8_t> two = gzip_of({content.begin(), content.begin() + half});
  const std::vector<uint8_t> second = gzip_of({content.begin() + half, content.end()});
  two.insert(two.end(), second.begin(), second.end());
  CHECK(gunzip_if_gzipped(two, "labels") == gzread_of(path, two));
  CHECK(gunzip_if_gzipped(two, "labels") == content);
  const size_t two_size = two.size();
  // An empty member last (gzip -c data /dev/null) is a member too.
  std::vector<uint8_t> with_empty = two;
  const std::vector<uint8_t> empty = gzip_of({});
  with_empty.insert(with_empty.end(), empty.begin(), empty.end());
  CHECK(gunzip_if_gzipped(with_empty, "labels") == content);
  two.insert(two.end(), {0x00, 0x01, 0x1f});
  CHECK_THROWS_WITH_AS(gunzip_if_gzipped(two, "labels.gz"),
                       contains("IDX file 'labels.gz': trailing data: 3 bytes after the end of the "
                                "gzip data (from byte " +
                                std::to_string(two_size) + " of " + std::to_string(two_size + 3) +
                                "), which start no other gzip member"),
                       std::runtime_error);
  // One byte, the first of a gzip magic, is no member either.
  two.resize(two_size + 1);
  two.back() = 0x1f;
  CHECK_THROWS_WITH_AS(gunzip_if_gzipped(two, "labels.gz"), contains("trailing data: 1 byte after"),
                       std::runtime_error);
  // Zero padding (a block filled out) is taken as gzip -d takes it, with a warning there: one
  // zero byte or a block of them. Zeros followed by anything else are still trailing data.
  two.resize(two_size);
  two.resize(two_size + 1, 0);
  CHECK(gunzip_if_gzipped(two, "labels.gz") == content);
  two.resize(two_size + 512, 0);
  CHECK(gunzip_if_gzipped(two, "labels.gz") == content);
  two.back() = 0x01;
  CHECK_THROWS_WITH_AS(gunzip_if_gzipped(two, "labels.gz"),
                       contains("trailing data: 512 bytes after the end of the gzip data"),
                       std::runtime_error);
  two.back() = 0;
  two.push_back(0x1f);
  two.push_back(0x8b);
  CHECK_THROWS_WITH_AS(gunzip_if_gzipped(two, "labels.gz"), contains("trailing data: 514 bytes"),
                       std::runtime_error);
  // After a single member too, and bytes that start like a member but are none are a damaged
  // member.
  std::vector<uint8_t> junk = member;
  junk.insert(junk.end(), {'j', 'u', 'n', 'k', '\n'});
  CHECK_THROWS_WITH_AS(gunzip_if_gzipped(junk, "labels.gz"),
                       contains("IDX file 'labels.gz': trailing data: 5 bytes"),
                       std::runtime_error);
  junk = member;
  junk.insert(junk.end(), {0x1f, 0x8b, 'j', 'u', 'n', 'k'});
  CHECK_THROWS_WITH_AS(gunzip_if_gzipped(junk, "labels.gz"),
                       contains("IDX file 'labels.gz': gzip decompression failed"),
                       std::runtime_error);
  // A whole second copy is past what the header announces.
  two = member;
  two.insert(two.end(), member.begin(), member.end());
  CHECK_THROWS_WITH_AS(gunzip_if_gzipped(two, "labels.gz"),
                       contains("IDX file 'labels.gz': too long: the IDX header announces 10008 "
                                "bytes, but the decompressed content is longer"),
                       std::runtime_error);
  // A plain file is its own content; a damaged member is refused, naming the source.
  CHECK(gunzip_if_gzipped(content, "labels") == content);
  std::vector<uint8_t> damaged = member;
  damaged[member.size() - 5] ^= 1;  // the length in the trailer
  CHECK_THROWS_WITH_AS(gunzip_if_gzipped(damaged, "labels.gz"),
                       contains("IDX file 'labels.gz': gzip decompression failed"),
                       std::runtime_error);
  damaged = member;
  damaged.resize(member.size() / 2);
  CHECK_THROWS_WITH_AS(gunzip_if_gzipped(damaged, "labels.gz"),
                       contains("gzip decompression failed: unexpected end of file"),
                       std::runtime_error);
}

TEST_CASE("A gzipped IDX file is decompressed only as far as its header announces") {
  // A gzip bomb: an 18-byte labels file (10 labels) followed by 64 MiB of zeros, about 64 KiB
  // gzipped, was decompressed whole before its header was read (a review). Decompression now
  // stops one byte past the announced size.
  std::vector<uint8_t> labels = {0, 0, 8, 1, 0, 0, 0, 10};
  labels.resize(labels.size() + 10, 3);
  const std::vector<uint8_t> bomb = gzip_of(labels, size_t{64} << 20);
  CHECK_THROWS_WITH_AS(gunzip_if_gzipped(bomb, "bomb.gz"),
                       contains("IDX file 'bomb.gz': too long: the IDX header announces 18 bytes, "
                                "but the decompressed content is longer (decompression stopped "
                                "there)"),
                       std::runtime_error);
  // A header that announces more than the gzip data can hold (4 billion labels in a few bytes) is
  // refused from the header, before the rest is decompressed.
  const std::vector<uint8_t> overstated = gzip_of({0, 0, 8, 1, 0xff, 0xff, 0xff, 0xff, 1, 2});
  CHECK_THROWS_WITH_AS(gunzip_if_gzipped(overstated, "big.gz"),
                       contains("IDX file 'big.gz': truncated: the IDX header announces "
                                "4294967303 bytes, more than " +
                                std::to_string(overstated.size()) + " bytes of gzip data can hold"),
                       std::runtime_error);
  // Shorter than announced (within what the data could hold): the parser says so.
  const std::vector<uint8_t> short_labels = {0, 0, 8, 1, 0, 0, 0, 10, 1, 2, 3};
  CHECK(gunzip_if_gzipped(gzip_of(short_labels), "short.gz") == short_labels);
  CHECK_THROWS_WITH_AS(
      parse_mnist_labels(gunzip_if_gzipped(gzip_of(short_labels), "short.gz"), "short.gz"),
      contains("truncated: the header announces 10 labels"), std::runtime_error);
  // No IDX header: its first bytes, for the parser to name the magic number.
  const std::vector<uint8_t> text(size_t{4} << 20, 'x');
  const std::vector<uint8_t> first = gunzip_if_gzipped(gzip_of(text), "text.gz");
  CHECK(first.size() < text.size());
  CHECK_THROWS_WITH_AS(parse_mnist_labels(first, "text.gz"),
                       contains("wrong magic number 0x78787878"), std::runtime_error);
}

TEST_CASE("A labels file read as images is rejected for its magic number") {
  const fs::path path = mnist_directory() / "t10k-labels-idx1-ubyte.gz";
  CHECK_THROWS_WITH_AS(read_mnist_images(path),
                       doctest::Contains("t10k-labels-idx1-ubyte.gz': wrong magic number "
                                         "0x00000801, expected 0x00000803"),
                       std::runtime_error);
  CHECK_THROWS_WITH_AS(read_mnist_labels(mnist_directory() / "t10k-images-idx3-ubyte.gz"),
                       doctest::Contains("wrong magic number 0x00000803, expected 0x00000801"),
                       std::runtime_error);
}

TEST_CASE("Images that are not 28x28 are rejected; a label is any class index 0..255") {
  std::vector<uint8_t> images = test_images_content();
  images[11] = 29;  // the big-endian row count's low byte
  CHECK_THROWS_WITH_AS(parse_mnist_images(images, "wide.idx"),
                       doctest::Contains("'wide.idx': images are 29x28, expected 28x28"),
                       std::runtime_error);
  std::vector<uint8_t> labels = test_labels_content();
  labels[8 + 3] = 10;  // the fourth label: an eleventh class
  labels[8 + 4] = 255;
  const MnistLabels read = parse_mnist_labels(labels, "labels.idx");
  CHECK(read.labels[3] == 10);
  CHECK(read.labels[4] == 255);
}

TEST_CASE("A file with one flipped byte passes parsing but fails the SHA-256 check") {
  ScratchDirectory scratch("idx-corrupt");
  std::vector<uint8_t> images = test_images_content();
  images[16 + 400] ^= 0x01;  // one pixel of the first image: still a well-formed IDX file
  write_plain_test_split(scratch.path, images, test_labels_content());
  const MnistSet unchecked = load_mnist(scratch.path, MnistSplit::kTest, /*verify=*/false);
  CHECK(unchecked.images.count == 10000);
  CHECK(unchecked.checksums == ChecksumCheck::kNotAsked);
  const std::string images_path = (scratch.path / "t10k-images-idx3-ubyte").string();
  CHECK_THROWS_WITH_AS(load_mnist(scratch.path, MnistSplit::kTest),
                       contains("data file '" + images_path +
                                "' does not match its checksum file (corrupted or replaced?): "
                                "SHA-256 "),
                       ChecksumError);
  CHECK_THROWS_WITH_AS(load_mnist(scratch.path, MnistSplit::kTest),
                       contains("SHA256SUMS' lists 0fa7898d509279e482958e8ce81c8e77db3f2f8254e2666"
                                "1ceb7762c4d494ce7"),
                       ChecksumError);
}

TEST_CASE("The checksum rule: verified when SHA256SUMS lists the file, unverified without one") {
  ScratchDirectory scratch("idx-rule");
  write_plain_test_split(scratch.path, test_images_content(), test_labels_content());
  const fs::path images = scratch.path / "t10k-images-idx3-ubyte";
  CHECK(check_data_file(images, true) == ChecksumCheck::kVerified);
  CHECK(check_data_file(images, false) == ChecksumCheck::kNotAsked);
  CHECK(checksum_file_for(images) == scratch.path / "SHA256SUMS");

  // Present without an entry for the file read: an error naming both.
  std::ofstream(scratch.path / "SHA256SUMS")
      << "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7  other-file\n";
  CHECK_THROWS_WITH_AS(check_data_file(images, true),
                       contains("checksum file '" + (scratch.path / "SHA256SUMS").string() +
                                "' has no entry for 't10k-images-idx3-ubyte'"),
                       ChecksumError);
  CHECK_THROWS_AS(load_mnist(scratch.path, MnistSplit::kTest), ChecksumError);
  // Malformed: an error too, not a reason to skip the check.
  std::ofstream(scratch.path / "SHA256SUMS") << "not a checksum line\n";
  CHECK_THROWS_AS(check_data_file(images, true), ChecksumError);

  // Absent: the files read, reported as unverified.
  fs::remove(scratch.path / "SHA256SUMS");
  CHECK(check_data_file(images, true) == ChecksumCheck::kNoChecksumFile);
  const MnistSet set = load_mnist(scratch.path, MnistSplit::kTest);
  CHECK(set.checksums == ChecksumCheck::kNoChecksumFile);
  CHECK(set.images.count == 10000);
}

TEST_CASE("A checksum file without the file's entry says how to add it, each path one sh word") {
  // The hint was "sha256sum NAME >> SHA256SUMS", to be run who knew where, its name unquoted: a
  // name with a space or a quote pasted as two words, a name starting with '-' as an option.
  ScratchDirectory scratch("idx-hint");
  const fs::path directory = scratch.path / "my data";
  fs::create_directories(directory);
  std::ofstream(directory / "SHA256SUMS") << std::string(64, '0') << "  other-file\n";
  for (const auto& [name, word] : std::vector<std::pair<std::string, std::string>>{
           {"t10k-labels-idx1-ubyte", "t10k-labels-idx1-ubyte"},
           {"Bob's labels", "'Bob'\\''s labels'"},
           {"-labels", "./-labels"}}) {
    std::ofstream(directory / name) << "x";
    CHECK_THROWS_WITH_AS(check_data_file(directory / name, true),
                         contains("add it with: cd " + shell_quoted(directory.string()) +
                                  " && sha256sum " + word + " >> SHA256SUMS)"),
                         ChecksumError);
  }
  CHECK(shell_quoted(directory.string()) == "'" + directory.string() + "'");
}

TEST_CASE(
    "Checksum lists in every form sha256sum writes are read: --tag, escaped names, upper case") {
  // sha256sum writes a name holding a backslash, newline or CR escaped after a leading backslash,
  // and --tag lines "SHA256 (name) = digest"; sha256sum -c takes hex digits of either case. Such
  // lines made the whole list malformed (a review), so that one odd file name in a directory's
  // list stopped every run on that data.
  ScratchDirectory scratch("idx-sums-forms");
  write_plain_test_split(scratch.path, test_images_content(), test_labels_content());
  const fs::path images = scratch.path / "t10k-images-idx3-ubyte";
  const fs::path labels = scratch.path / "t10k-labels-idx1-ubyte";
  const std::string images_sum = to_hex(sha256(test_images_content()));
  std::string labels_upper = to_hex(sha256(test_labels_content()));
  for (char& c : labels_upper)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const std::string other = std::string(64, '0');
  std::ofstream(scratch.path / "SHA256SUMS")
      << "\\" << other << "  we\\\\ird\n"             // a name with a backslash
      << "\\SHA256 (new\\nline) = " << other << "\n"  // --tag, a name with a newline
      << "SHA256 (t10k-images-idx3-ubyte) = " << images_sum << "\n"
      << "\\" << labels_upper << " *t10k-labels-idx1-ubyte\r\n";  // escaped though plain
  CHECK(check_data_file(images, true) == ChecksumCheck::kVerified);
  CHECK(check_data_file(labels, true) == ChecksumCheck::kVerified);
  const auto sums = read_sha256sums(scratch.path / "SHA256SUMS");
  CHECK(sums.count("we\\ird") == 1);
  CHECK(sums.count("new\nline") == 1);
  CHECK(sums.at("t10k-labels-idx1-ubyte") == to_hex(sha256(test_labels_content())));
  // A wrong digest in --tag form is still a mismatch.
  std::ofstream(scratch.path / "SHA256SUMS")
      << "SHA256 (t10k-images-idx3-ubyte) = " << other << "\n";
  CHECK_THROWS_WITH_AS(check_data_file(images, true), contains("does not match its checksum file"),
                       ChecksumError);
  // Malformed still: an unknown escape, another algorithm's tag, a short digest.
  for (const std::string& line : {"\\" + other + "  bad\\xname", "MD5 (x) = " + other.substr(0, 32),
                                  "SHA256 (x) = " + other.substr(1), other + "  "}) {
    CAPTURE(line);
    std::ofstream(scratch.path / "SHA256SUMS") << line << "\n";
    CHECK_THROWS_WITH_AS(check_data_file(images, true), contains("line 1: expected"),
                         ChecksumError);
  }
}

TEST_CASE("Plain copies of the shipped .gz files are verified against SHA256SUMS.uncompressed") {
  // data/mnist after gunzip: SHA256SUMS lists only the .gz names, SHA256SUMS.uncompressed the
  // plain ones (it was read by nothing: the plain files were refused, "has no entry", and without
  // SHA256SUMS read unverified, a corrupted copy included).
  ScratchDirectory scratch("idx-uncompressed");
  std::vector<uint8_t> images = test_images_content();
  write_file(scratch.path / "t10k-images-idx3-ubyte", images);
  write_file(scratch.path / "t10k-labels-idx1-ubyte", test_labels_content());
  fs::copy_file(mnist_directory() / "SHA256SUMS", scratch.path / "SHA256SUMS");
  fs::copy_file(mnist_directory() / kUncompressedChecksumFileName,
                scratch.path / kUncompressedChecksumFileName);
  const fs::path plain = scratch.path / "t10k-images-idx3-ubyte";
  CHECK(uncompressed_checksum_file_for(plain) == scratch.path / "SHA256SUMS.uncompressed");
  CHECK(check_data_file(plain, true) == ChecksumCheck::kVerified);
  CHECK(load_mnist(scratch.path, MnistSplit::kTest).checksums == ChecksumCheck::kVerified);

  // A corrupted plain copy, with and without SHA256SUMS beside it: refused, naming the list.
  images[16 + 400] ^= 0x01;
  write_file(plain, images);
  for (bool with_sums : {true, false}) {
    if (!with_sums) fs::remove(scratch.path / "SHA256SUMS");
    CAPTURE(with_sums);
    CHECK_THROWS_WITH_AS(check_data_file(plain, true),
                         contains("data file '" + plain.string() +
                                  "' does not match its checksum file (corrupted or replaced?)"),
                         ChecksumError);
    CHECK_THROWS_WITH_AS(load_mnist(scratch.path, MnistSplit::kTest),
                         contains("SHA256SUMS.uncompressed' lists 0fa7898d509279e482958e8ce81c8e77"
                                  "db3f2f8254e26661ceb7762c4d494ce7"),
                         ChecksumError);
  }
  // Neither list names the file: refused, naming both.
  fs::copy_file(mnist_directory() / "SHA256SUMS", scratch.path / "SHA256SUMS");
  fs::rename(plain, scratch.path / "other-images");
  CHECK_THROWS_WITH_AS(check_data_file(scratch.path / "other-images", true),
                       contains("neither checksum file '" + (scratch.path / "SHA256SUMS").string() +
                                "' nor '" + (scratch.path / "SHA256SUMS.uncompressed").string() +
                                "' has an entry for 'other-images'"),
                       ChecksumError);
  // It vouches for no gzipped file: the .gz files are listed in SHA256SUMS as stored.
  fs::copy_file(mnist_directory() / "t10k-labels-idx1-ubyte.gz",
                scratch.path / "t10k-labels-idx1-ubyte.gz");
  fs::remove(scratch.path / "SHA256SUMS");
  CHECK(check_data_file(scratch.path / "t10k-labels-idx1-ubyte.gz", true) ==
        ChecksumCheck::kNoChecksumFile);
}

TEST_CASE("A checksum file that is a directory is named as such, not read as an empty list") {
  ScratchDirectory scratch("idx-sums-directory");
  write_plain_test_split(scratch.path, test_images_content(), test_labels_content());
  fs::remove(scratch.path / "SHA256SUMS");
  fs::create_directory(scratch.path / "SHA256SUMS");
  const std::string sums = (scratch.path / "SHA256SUMS").string();
  CHECK_THROWS_WITH_AS(
      read_sha256sums(sums),
      contains("cannot read file '" + sums + "': it is a directory, not a regular file"),
      std::runtime_error);
  CHECK_THROWS_WITH_AS(
      load_mnist(scratch.path, MnistSplit::kTest),
      contains("cannot read file '" + sums + "': it is a directory, not a regular file"),
      std::runtime_error);
}

TEST_CASE("A checksum file that is a link to nothing is refused, not taken as absent") {
  // Found by a trial: a dangling SHA256SUMS (or SHA256SUMS.uncompressed) link turned verification
  // off, with only the "unverified" note.
  for (const char* name : {"SHA256SUMS", kUncompressedChecksumFileName}) {
    CAPTURE(name);
    ScratchDirectory scratch("idx-sums-dangling");
    write_plain_test_split(scratch.path, test_images_content(), test_labels_content());
    fs::remove(scratch.path / "SHA256SUMS");
    fs::create_symlink(scratch.path / "nowhere", scratch.path / name);
    const std::string link = (scratch.path / name).string();
    CHECK_THROWS_WITH_AS(
        load_mnist(scratch.path, MnistSplit::kTest),
        contains("checksum file '" + link + "' is a symbolic link to a file that does not exist"),
        ChecksumError);
    CHECK(check_data_file(scratch.path / "t10k-images-idx3-ubyte", false) ==
          ChecksumCheck::kNotAsked);  // --no-verify still reads the data
  }
}

TEST_CASE("Image and label files of different lengths are rejected as a pair") {
  ScratchDirectory scratch("idx-mismatch");
  std::vector<uint8_t> labels = test_labels_content();
  labels.pop_back();
  labels[7] = 0x0f;  // count 10000 = 0x2710 becomes 0x270f = 9999, matching the shorter file
  write_plain_test_split(scratch.path, test_images_content(), labels);
  CHECK_THROWS_WITH_AS(load_mnist(scratch.path, MnistSplit::kTest, /*verify_checksums=*/false),
                       doctest::Contains("disagree: 10000 images but 9999 labels"),
                       std::runtime_error);
}

TEST_CASE("A missing file is rejected naming it") {
  const fs::path path = mnist_directory() / "no-such-file-idx3-ubyte.gz";
  CHECK_THROWS_WITH_AS(
      read_mnist_images(path),
      contains("IDX file '" + path.string() + "': cannot open: no such regular file"),
      std::runtime_error);
  ScratchDirectory scratch("idx-empty");
  CHECK_THROWS_WITH_AS(read_mnist_images(scratch.path),
                       contains("IDX file '" + scratch.path.string() +
                                "': it is a directory, not an IDX file: give the file itself"),
                       std::runtime_error);
  CHECK_THROWS_WITH_AS(load_mnist(scratch.path, MnistSplit::kTest),
                       contains("data set '" + scratch.path.string() +
                                "': expected IDX files t10k-images-idx3-ubyte and "
                                "t10k-labels-idx1-ubyte (each optionally .gz); missing "
                                "'t10k-images-idx3-ubyte'"),
                       std::runtime_error);
}

TEST_CASE("A data set that is no directory is said so, not a missing file in it") {
  ScratchDirectory scratch("idx-not-a-directory");
  const fs::path absent = scratch.path / "no-such-directory";
  CHECK_THROWS_WITH_AS(load_mnist(absent, MnistSplit::kTrain),
                       contains("data set '" + absent.string() + "': no such directory"),
                       std::runtime_error);
  const fs::path loop = scratch.path / "loop";  // a link to itself: reaching it fails (ELOOP)
  fs::create_symlink("loop", loop);
  CHECK_THROWS_WITH_AS(load_mnist(loop, MnistSplit::kTrain),
                       contains("data set '" + loop.string() +
                                "': cannot reach it: Too many levels of symbolic links"),
                       std::runtime_error);
  const fs::path file = scratch.path / "a-file";
  std::ofstream(file) << "not a directory\n";
  CHECK_THROWS_WITH_AS(load_mnist(file, MnistSplit::kTest),
                       contains("data set '" + file.string() + "' is not a directory"),
                       std::runtime_error);
}

TEST_CASE("A directory under an IDX file's name in a data set is the data set's fault") {
  // Not "give the file itself": the user named the data set, not that file.
  ScratchDirectory scratch("idx-directory-in-set");
  const fs::path images = scratch.path / "t10k-images-idx3-ubyte";
  fs::create_directory(images);
  std::ofstream(scratch.path / "t10k-labels-idx1-ubyte", std::ios::binary) << "labels";
  CHECK_THROWS_WITH_AS(
      load_mnist(scratch.path, MnistSplit::kTest),
      ("IDX file '" + images.string() + "': it is a directory, not an IDX file: data set '" +
       scratch.path.string() + "' needs the IDX file itself under that name")
          .c_str(),
      std::runtime_error);
}

TEST_CASE("A gzipped IDX file that cannot be reached is named, not taken as missing") {
  // A link loop as t10k-images-idx3-ubyte.gz: it was "missing 't10k-images-idx3-ubyte'".
  ScratchDirectory scratch("idx-gz-loop");
  const fs::path loop = scratch.path / "t10k-images-idx3-ubyte.gz";
  fs::create_symlink("t10k-images-idx3-ubyte.gz", loop);
  std::ofstream(scratch.path / "t10k-labels-idx1-ubyte", std::ios::binary) << "labels";
  CHECK(split_images_file(scratch.path, MnistSplit::kTest) == loop);
  CHECK_THROWS_WITH_AS(
      load_mnist(scratch.path, MnistSplit::kTest),
      ("IDX file '" + loop.string() + "': cannot reach it: Too many levels of symbolic links")
          .c_str(),
      std::runtime_error);
}

TEST_CASE("The checksum list is read as sha256sum -c reads it: CR line ends, ./ before names") {
  ScratchDirectory scratch("idx-sums-forms");
  const fs::path path = scratch.path / "SHA256SUMS";
  const std::string hash(64, 'a');
  std::ofstream(path, std::ios::binary) << hash << "  train-images-idx3-ubyte\r\n"
                                        << hash << " *./t10k-images-idx3-ubyte\n";
  const auto sums = read_sha256sums(path);
  CHECK(sums.size() == 2);
  CHECK(sums.count("train-images-idx3-ubyte") == 1);
  CHECK(sums.count("t10k-images-idx3-ubyte") == 1);
}

TEST_CASE("The checksum list names the four MNIST files and rejects malformed lines") {
  const auto sums = read_sha256sums(mnist_directory() / "SHA256SUMS.uncompressed");
  CHECK(sums.size() == 4);
  CHECK(sums.at("t10k-labels-idx1-ubyte") ==
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2");
  ScratchDirectory scratch("idx-sums");
  const fs::path path = scratch.path / "SHA256SUMS";
  std::ofstream(path) << "not-a-hash  file\n";
  CHECK_THROWS_WITH_AS(read_sha256sums(path), doctest::Contains("line 1: expected"),
                       std::runtime_error);
}
