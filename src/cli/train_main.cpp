// cryptonets-train: trains the float CryptoNets network on MNIST and writes it as a text model.
//
//   cryptonets-train --data data/mnist --epochs 25 --seed 1 --threads 1 --out data/model-float.txt
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

#include "cryptonets/io/idx.hpp"
#include "cryptonets/nn/float_network.hpp"
#include "cryptonets/nn/trainer.hpp"

namespace {

using namespace cryptonets;

struct CommandLine {
  std::string data_directory = "data/mnist";
  std::string output = "data/model-float.txt";
  size_t train_limit = 0;  // 0: all training images
  bool verify_checksums = true;
  TrainingOptions training;
};

void print_usage() {
  std::cout
      << "usage: cryptonets-train [options]\n"
         "  --data DIR            MNIST IDX files (.gz or plain) and SHA256SUMS.uncompressed"
         " [data/mnist]\n"
         "  --out FILE            where to write the float model [data/model-float.txt]\n"
         "  --epochs N            [25]\n"
         "  --seed S              seeds initialisation, shuffling and augmentation [1]\n"
         "  --threads T           OpenMP threads; the result does not depend on it [1]\n"
         "  --batch N             mini-batch size [64]\n"
         "  --lr X                Adam step size after warm-up [0.002]\n"
         "  --final-lr X          step size at the end of the cosine decay [1e-5]\n"
         "  --warmup N            warm-up steps [500]\n"
         "  --clip X              global gradient-norm clip [5]\n"
         "  --weight-decay X      decoupled weight decay (multiplied by the step size) [0.05]\n"
         "  --shift N             random shift augmentation, ±N pixels [2]\n"
         "  --conv-maps N         convolution maps [5]\n"
         "  --hidden N            hidden units [100]\n"
         "  --train-limit N       train on the first N images only\n"
         "  --no-verify           skip the SHA-256 check of the data files\n";
}

long parse_integer(std::string_view flag, const char* text) {
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (end == text || *end != '\0') {
    throw std::invalid_argument(std::string(flag) + " expects an integer, got '" + text + "'");
  }
  return value;
}

float parse_real(std::string_view flag, const char* text) {
  char* end = nullptr;
  const float value = std::strtof(text, &end);
  if (end == text || *end != '\0') {
    throw std::invalid_argument(std::string(flag) + " expects a number, got '" + text + "'");
  }
  return value;
}

CommandLine parse_command_line(int argc, char** argv) {
  CommandLine line;
  TrainingOptions& t = line.training;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--no-verify") {
      line.verify_checksums = false;
      continue;
    }
    if (i + 1 >= argc) throw std::invalid_argument(std::string(flag) + " needs a value");
    const char* value = argv[++i];
    if (flag == "--data")
      line.data_directory = value;
    else if (flag == "--out")
      line.output = value;
    else if (flag == "--epochs")
      t.epochs = static_cast<int>(parse_integer(flag, value));
    else if (flag == "--seed")
      t.seed = static_cast<uint64_t>(parse_integer(flag, value));
    else if (flag == "--threads")
      t.threads = static_cast<int>(parse_integer(flag, value));
    else if (flag == "--batch")
      t.batch_size = static_cast<int>(parse_integer(flag, value));
    else if (flag == "--lr")
      t.learning_rate = parse_real(flag, value);
    else if (flag == "--final-lr")
      t.final_learning_rate = parse_real(flag, value);
    else if (flag == "--warmup")
      t.warmup_steps = static_cast<int>(parse_integer(flag, value));
    else if (flag == "--clip")
      t.gradient_clip_norm = parse_real(flag, value);
    else if (flag == "--weight-decay")
      t.weight_decay = parse_real(flag, value);
    else if (flag == "--shift")
      t.max_shift = static_cast<int>(parse_integer(flag, value));
    else if (flag == "--conv-maps")
      t.conv_maps = static_cast<int>(parse_integer(flag, value));
    else if (flag == "--hidden")
      t.hidden = static_cast<int>(parse_integer(flag, value));
    else if (flag == "--train-limit")
      line.train_limit = parse_integer(flag, value);
    else
      throw std::invalid_argument("unknown option '" + std::string(flag) + "'");
  }
  return line;
}

LabelledImages view(const MnistSet& set, size_t limit) {
  const size_t count = limit > 0 ? std::min(limit, set.images.count) : set.images.count;
  return {std::span(set.images.pixels).first(count * kMnistImagePixels),
          std::span(set.labels.labels).first(count)};
}

int run(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--help" || std::string_view(argv[i]) == "-h") {
      print_usage();
      return 0;
    }
  }
  const CommandLine line = parse_command_line(argc, argv);
  const MnistSet train = load_mnist(line.data_directory, MnistSplit::kTrain, line.verify_checksums);
  const MnistSet test = load_mnist(line.data_directory, MnistSplit::kTest, line.verify_checksums);
  const TrainingOptions& t = line.training;
  std::printf(
      "training on %zu images, testing on %zu; epochs %d, batch %d, lr %g, seed %llu, "
      "threads %d\n",
      view(train, line.train_limit).size(), test.images.count, t.epochs, t.batch_size,
      double{t.learning_rate}, static_cast<unsigned long long>(t.seed), t.threads);
  std::fflush(stdout);
  double total_seconds = 0.0;
  const FloatNetwork network = train_float_network(
      view(train, line.train_limit), view(test, 0), t, [&](const EpochReport& r) {
        total_seconds += r.seconds;
        std::printf("epoch %3d  loss %.4f  train %.2f%%  test %.2f%%  %.1f s\n", r.epoch, r.loss,
                    100.0 * r.train_accuracy, 100.0 * r.test_accuracy, r.seconds);
        std::fflush(stdout);
      });
  save_float_network(network, line.output);
  std::printf("wrote %s (%zu parameters) after %.1f s of training\n", line.output.c_str(),
              parameter_count(network), total_seconds);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& error) {
    std::cerr << "cryptonets-train: " << error.what() << '\n';
    return 1;
  }
}
