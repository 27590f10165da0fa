// A second data set for the tests (issue 21): not MNIST, but made from it, so that the tests need
// no other download. The digits 0..3 of MNIST, each image transposed (mirrored across its main
// diagonal) and labelled 3 − digit: four classes, images no MNIST model has seen. Written as plain
// (uncompressed) IDX files in the layout cryptonets-train reads, without a checksum file. CLASSES
// (2..10, default 4) takes the digits 0..CLASSES-1 instead, labelled CLASSES-1 − digit: with 10, a
// set of MNIST's ten classes for the tests that need a model of ten outputs.
//
// usage: make_idx_set MNIST_DIR OUT_DIR TRAIN_IMAGES TEST_IMAGES [CLASSES]
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "cryptonets/io/idx.hpp"

namespace {

using namespace cryptonets;

int classes = 4;

void put_big_endian(std::vector<uint8_t>& out, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<uint8_t>(value >> shift));
}

void write_file(const std::filesystem::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  if (!out.flush()) throw std::runtime_error("cannot write " + path.string());
}

// The first `count` images of `set` whose digit is below `classes`, transformed and relabelled.
void write_split(const MnistSet& set, size_t count, const std::filesystem::path& directory,
                 const std::string& prefix) {
  std::vector<uint8_t> images, labels;
  put_big_endian(images, kIdxImagesMagic);
  put_big_endian(images, static_cast<uint32_t>(count));
  put_big_endian(images, kMnistImageRows);
  put_big_endian(images, kMnistImageCols);
  put_big_endian(labels, kIdxLabelsMagic);
  put_big_endian(labels, static_cast<uint32_t>(count));
  size_t written = 0;
  for (size_t i = 0; i < set.images.count && written < count; ++i) {
    const uint8_t digit = set.labels.labels[i];
    if (digit >= classes) continue;
    const uint8_t* image = set.images.pixels.data() + i * kMnistImagePixels;
    for (size_t y = 0; y < kMnistImageRows; ++y) {
      for (size_t x = 0; x < kMnistImageCols; ++x)
        images.push_back(image[x * kMnistImageCols + y]);
    }
    labels.push_back(static_cast<uint8_t>(classes - 1 - digit));
    ++written;
  }
  if (written < count)
    throw std::runtime_error("not enough images of digits 0.." + std::to_string(classes - 1));
  write_file(directory / (prefix + "-images-idx3-ubyte"), images);
  write_file(directory / (prefix + "-labels-idx1-ubyte"), labels);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5 && argc != 6) {
    std::fprintf(stderr,
                 "usage: make_idx_set MNIST_DIR OUT_DIR TRAIN_IMAGES TEST_IMAGES [CLASSES]\n");
    return 2;
  }
  try {
    if (argc == 6) {
      classes = std::stoi(argv[5]);
      if (classes < 2 || classes > 10) throw std::invalid_argument("CLASSES must be 2..10");
    }
    const std::filesystem::path out = argv[2];
    std::filesystem::create_directories(out);
    write_split(load_mnist(argv[1], MnistSplit::kTrain), std::stoul(argv[3]), out, "train");
    write_split(load_mnist(argv[1], MnistSplit::kTest), std::stoul(argv[4]), out, "t10k");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_idx_set: %s\n", e.what());
    return 1;
  }
  return 0;
}
