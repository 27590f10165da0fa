// The float CryptoNets network and its trainer: forward pass and back-propagation against a
// double-precision reference, reproducibility, learning on a small subset, and the model file.
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "cryptonets/io/idx.hpp"
#include "cryptonets/training/float_network.hpp"
#include "cryptonets/training/trainer.hpp"
#include "file_test_support.hpp"
#include "nn_test_support.hpp"

using cryptonets::training::accuracy;
using cryptonets::training::BatchResult;
using cryptonets::training::class_count;
using cryptonets::training::cross_entropy_reference;
using cryptonets::training::EpochReport;
using cryptonets::training::FloatNetwork;
using cryptonets::training::forward;
using cryptonets::training::GradientComputer;
using cryptonets::training::initial_float_network;
using cryptonets::training::kFloatNetworkBlocks;
using cryptonets::training::LabelledImages;
using cryptonets::training::load_float_network;
using cryptonets::training::make_zero_float_network;
using cryptonets::training::parameter_blocks;
using cryptonets::training::parameter_count;
using cryptonets::training::read_float_network;
using cryptonets::training::require_labels_below;
using cryptonets::training::save_float_network;
using cryptonets::training::shift_image;
using cryptonets::training::train_float_network;
using cryptonets::training::TrainingOptions;
using cryptonets::training::write_float_network;

using namespace cryptonets;
using namespace test_support;
namespace fs = std::filesystem;

namespace {

const MnistSet& mnist_train() {
  static const MnistSet set = load_mnist(mnist_directory(), MnistSplit::kTrain, false);
  return set;
}

const MnistSet& mnist_test() {
  static const MnistSet set = load_mnist(mnist_directory(), MnistSplit::kTest, false);
  return set;
}

LabelledImages first_images(const MnistSet& set, size_t count) {
  return {std::span(set.images.pixels).first(count * kMnistImagePixels),
          std::span(set.labels.labels).first(count)};
}

FloatNetwork random_network(int conv_maps, int hidden, const LabelledImages& calibration,
                            uint64_t seed) {
  std::mt19937_64 rng(seed);
  FloatNetwork network = initial_float_network(conv_maps, hidden, 10, calibration, rng);
  // Non-zero biases, so that their gradients and their path through the squares are checked too.
  std::normal_distribution<float> normal(0.0f, 0.3f);
  for (float& b : network.conv_bias)
    b = normal(rng);
  for (float& b : network.dense1_bias)
    b = normal(rng);
  for (float& b : network.dense2_bias)
    b = normal(rng);
  return network;
}

}  // namespace

TEST_CASE("The fast forward pass gives the cross-entropy of the double-precision reference") {
  const LabelledImages images = first_images(mnist_test(), 64);
  const FloatNetwork network = random_network(5, 100, images, 11);
  FloatNetwork gradient;
  GradientComputer computer;
  const BatchResult fast = computer.compute(network, images, gradient, 2);
  const double reference = cross_entropy_reference(network, images);
  CHECK(fast.loss == doctest::Approx(reference).epsilon(1e-4));
}

TEST_CASE("Back-propagated gradients equal central differences of the reference loss") {
  // A tiny network (2 maps, 4 hidden units) on three images: every parameter is checked.
  const LabelledImages images = first_images(mnist_test(), 3);
  FloatNetwork network = random_network(2, 4, images, 5);
  FloatNetwork gradient;
  GradientComputer computer;
  computer.compute(network, images, gradient, 1);

  const auto parameters = parameter_blocks(network);
  const auto gradients = parameter_blocks(gradient);
  const std::string names[] = {"conv_weights", "conv_bias",      "dense1_weights",
                               "dense1_bias",  "dense2_weights", "dense2_bias"};
  size_t checked = 0;
  double largest_gradient = 0.0;
  for (size_t b = 0; b < kFloatNetworkBlocks; ++b) {
    for (size_t i = 0; i < parameters[b].size(); ++i) {
      const float original = parameters[b][i];
      const float step = 1e-4f * std::max(1.0f, std::abs(original));
      parameters[b][i] = original + step;
      const float up = parameters[b][i];
      const double loss_up = cross_entropy_reference(network, images);
      parameters[b][i] = original - step;
      const float down = parameters[b][i];
      const double loss_down = cross_entropy_reference(network, images);
      parameters[b][i] = original;
      const double numeric = (loss_up - loss_down) / (double{up} - double{down});
      INFO(names[b] << "[" << i << "]: back-propagated " << gradients[b][i] << ", numeric "
                    << numeric);
      REQUIRE(gradients[b][i] == doctest::Approx(numeric).epsilon(2e-3).scale(1e-2));
      largest_gradient = std::max(largest_gradient, std::abs(numeric));
      ++checked;
    }
  }
  CHECK(checked == parameter_count(network));
  CHECK(largest_gradient > 0.1);  // the check compared real, non-vanishing gradients
}

TEST_CASE("The batch gradient does not depend on the thread count") {
  const LabelledImages images = first_images(mnist_test(), 37);  // uneven chunks
  const FloatNetwork network = random_network(5, 100, images, 3);
  GradientComputer computer;
  FloatNetwork one_thread;
  FloatNetwork two_threads;
  const BatchResult first = computer.compute(network, images, one_thread, 1);
  const BatchResult second = computer.compute(network, images, two_threads, 2);
  CHECK(first.loss == second.loss);
  CHECK(one_thread == two_threads);
}

TEST_CASE("One epoch on 2000 images lowers the loss and lifts test accuracy far above chance") {
  const LabelledImages train = first_images(mnist_train(), 2000);
  const LabelledImages test = first_images(mnist_test(), 1000);
  TrainingOptions options;
  options.epochs = 1;
  options.warmup_steps = 5;
  options.max_shift = 0;  // unshifted images learn fastest in a single short epoch
  options.weight_decay = 0.0f;
  options.seed = 42;
  options.threads = 2;
  std::mt19937_64 rng(options.seed);  // the trainer's own first draw: its initial network
  const double initial_loss =
      cross_entropy_reference(initial_float_network(5, 100, 10, train, rng), train);
  std::vector<EpochReport> reports;
  const FloatNetwork trained = train_float_network(
      train, test, options, [&](const EpochReport& r) { reports.push_back(r); });
  const double final_loss = cross_entropy_reference(trained, train);
  REQUIRE(reports.size() == 1);
  MESSAGE("loss " << initial_loss << " -> " << final_loss << ", test accuracy "
                  << reports[0].test_accuracy);
  CHECK(final_loss < 0.5 * initial_loss);
  CHECK(reports[0].test_accuracy == doctest::Approx(accuracy(trained, test)));
  CHECK(reports[0].test_accuracy > 0.7);  // chance is 0.1
}

TEST_CASE("Training with the same seed gives the same network whatever the thread count") {
  const LabelledImages train = first_images(mnist_train(), 300);
  TrainingOptions options;
  options.epochs = 1;
  options.batch_size = 50;
  options.seed = 7;
  options.threads = 1;
  const FloatNetwork first = train_float_network(train, {}, options);
  options.threads = 2;
  const FloatNetwork second = train_float_network(train, {}, options);
  CHECK(first == second);
  options.seed = 8;
  CHECK_FALSE(train_float_network(train, {}, options) == first);
}

TEST_CASE("Shifting an image moves its pixels and fills with background") {
  std::vector<uint8_t> image(784, 0);
  image[10 * 28 + 5] = 200;
  image[0] = 9;  // shifted out of the frame
  std::vector<uint8_t> shifted(784);
  shift_image(image, 2, -1, shifted);  // right 2, up 1
  CHECK(shifted[9 * 28 + 7] == 200);
  CHECK(std::count(shifted.begin(), shifted.end(), 0) == 783);
}

TEST_CASE("A saved then loaded network is identical and gives identical scores") {
  const LabelledImages images = first_images(mnist_test(), 100);
  const FloatNetwork network = random_network(5, 100, images, 99);
  const fs::path path =
      fs::temp_directory_path() / ("cryptonets-float-model-" + std::to_string(::getpid()));
  save_float_network(network, path);
  const FloatNetwork loaded = load_float_network(path);
  fs::remove(path);
  CHECK(loaded == network);
  for (size_t i = 0; i < images.size(); ++i) {
    REQUIRE(forward(loaded, images.image(i)) == forward(network, images.image(i)));
  }
}

TEST_CASE("Malformed model files are rejected naming the problem") {
  const FloatNetwork network = make_zero_float_network(2, 3);
  std::ostringstream out;
  write_float_network(network, out);
  const std::string text = out.str();

  std::istringstream wrong_version("cryptonets-float-model 2\n");
  CHECK_THROWS_WITH_AS(read_float_network(wrong_version, "m.txt"),
                       doctest::Contains("float model 'm.txt': format version is 2, expected 1"),
                       std::runtime_error);
  std::istringstream truncated(text.substr(0, text.size() / 2));
  CHECK_THROWS_WITH_AS(read_float_network(truncated, "m.txt"),
                       doctest::Contains("unexpected end of file"), std::runtime_error);
  const size_t first_bias = text.find("bias 2\n") + 7;
  std::istringstream bad(text.substr(0, first_bias) + "x" + text.substr(first_bias + 1));
  CHECK_THROWS_WITH_AS(read_float_network(bad, "m.txt"),
                       doctest::Contains("found 'x', expected a finite number"),
                       std::runtime_error);
  std::istringstream good(text);
  CHECK(read_float_network(good, "m.txt") == network);
  // Blanks and comments may follow 'end'; anything else is refused, as the integer model is.
  std::istringstream commented(text + "\n# trained on MNIST\n\n");
  CHECK(read_float_network(commented, "m.txt") == network);
  std::istringstream junk(text + "junk 1 2\n");
  CHECK_THROWS_WITH_AS(read_float_network(junk, "m.txt"),
                       doctest::Contains("unexpected content after 'end': 'junk'"),
                       std::runtime_error);
  // Zero bytes after 'end' are named as binary data, never shown, not even escaped (they were:
  // bytes of a model file in a message), and not read whole as one token.
  std::istringstream zeros(text + std::string(size_t{1} << 20, '\0'));
  const std::string zeros_message =
      test_support::error_of([&] { read_float_network(zeros, "m.txt"); });
  CHECK(zeros_message.find("unexpected content after 'end': binary data (not text)") !=
        std::string::npos);
  CHECK(zeros_message.find("\\x") == std::string::npos);
  std::istringstream indented_comment(text + "  # a comment after blanks\n\t\n");
  CHECK(read_float_network(indented_comment, "m.txt") == network);
  // A control byte in a comment is binary data, as the integer model's and the profile's readers
  // and inspect say (a comment was skipped unread), within the layers and in the first word.
  const size_t second_line = text.find('\n') + 1;
  for (const std::string& comment : {std::string("# key\x06"
                                                 "bytes\n"),
                                     std::string("#\x01\n")}) {
    std::istringstream spliced(text.substr(0, second_line) + comment + text.substr(second_line));
    const std::string message =
        test_support::error_of([&] { read_float_network(spliced, "m.txt"); });
    CHECK(message.find("float model 'm.txt': found binary data (not text) in a '#' comment") !=
          std::string::npos);
    CHECK(message.find('\x06') == std::string::npos);
  }
}

TEST_CASE("The class count comes from the labels: a 4-class set trains a 4-class network") {
  CHECK(class_count(std::vector<uint8_t>{0, 3, 1}, "l") == 4);
  CHECK(class_count(std::vector<uint8_t>{9, 0}, "l") == 10);
  CHECK_THROWS_WITH_AS(class_count(std::vector<uint8_t>{}, "l"), doctest::Contains("l: no labels"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(class_count(std::vector<uint8_t>{0, 0}, "l"),
                       doctest::Contains("a classifier needs two classes"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(require_labels_below(std::vector<uint8_t>{1, 4, 0}, 4, "t"),
                       doctest::Contains("t: label 4 at index 1 is not one of the 4 classes 0..3"),
                       std::invalid_argument);

  // MNIST digits mod 4: a 4-class problem; its float model file keeps the class count.
  const LabelledImages mnist = first_images(mnist_train(), 400);
  std::vector<uint8_t> labels(mnist.labels.begin(), mnist.labels.end());
  for (uint8_t& label : labels)
    label %= 4;
  const LabelledImages train{mnist.pixels, labels};
  TrainingOptions options;
  options.epochs = 1;
  options.hidden = 8;
  options.warmup_steps = 2;
  const FloatNetwork network = train_float_network(train, train, options);
  CHECK(network.classes == 4);
  CHECK(network.dense2_bias.size() == 4);
  CHECK(forward(network, train.image(0)).size() == 4);
  std::ostringstream out;
  write_float_network(network, out);
  std::istringstream in(out.str());
  CHECK(read_float_network(in, "m.txt") == network);

  // Test labels outside the training set's classes are refused, not scored as wrong.
  const LabelledImages ten_classes = first_images(mnist_test(), 100);
  CHECK_THROWS_WITH_AS(train_float_network(train, ten_classes, options),
                       doctest::Contains("test labels: label"), std::invalid_argument);
}
