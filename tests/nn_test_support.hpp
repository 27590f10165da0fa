// Shared helpers for the network tests: random models of the CryptoNets family, random images,
// and the repository's data directory with the MNIST files.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <vector>

#include "cryptonets/io/idx.hpp"
#include "cryptonets/model/model.hpp"
#include "cryptonets/training/sequential_network.hpp"

namespace test_support {

using namespace cryptonets;

inline std::vector<int64_t> random_integers(std::mt19937_64& rng, size_t count, int64_t low,
                                            int64_t high) {
  std::uniform_int_distribution<int64_t> dist(low, high);
  std::vector<int64_t> out(count);
  for (auto& v : out)
    v = dist(rng);
  return out;
}

inline model::ConvolutionLayer random_convolution(std::mt19937_64& rng, int64_t in_maps,
                                                  int64_t out_maps, int64_t kernel, int64_t stride,
                                                  model::Padding padding, int64_t max_weight) {
  model::ConvolutionLayer conv{in_maps, out_maps, kernel, kernel, stride, stride, padding, {}, {}};
  conv.weights = random_integers(rng, static_cast<size_t>(out_maps * in_maps * kernel * kernel),
                                 -max_weight, max_weight);
  conv.bias = random_integers(rng, static_cast<size_t>(out_maps), -max_weight, max_weight);
  return conv;
}

inline model::DenseLayer random_dense(std::mt19937_64& rng, int64_t inputs, int64_t outputs,
                                      int64_t max_weight) {
  model::DenseLayer dense{inputs, outputs, {}, {}};
  dense.weights =
      random_integers(rng, static_cast<size_t>(inputs * outputs), -max_weight, max_weight);
  dense.bias = random_integers(rng, static_cast<size_t>(outputs), -max_weight, max_weight);
  return dense;
}

// A small network of the CryptoNets family (Gilad-Bachrach et al. 2016, §4.1) on side×side
// images: conv 5×5 stride 2 (top/left padding 1) → square → dense → square → dense.
inline model::Model random_small_cryptonets_model(std::mt19937_64& rng, int64_t side, int64_t maps,
                                                  int64_t hidden, int64_t classes,
                                                  int64_t max_weight, double input_scale) {
  model::Model model{model::Shape{1, side, side}, input_scale, {}};
  const model::ConvolutionLayer conv =
      random_convolution(rng, 1, maps, 5, 2, model::Padding{1, 1, 0, 0}, max_weight);
  const int64_t conv_side = (side + 1 - 5) / 2 + 1;
  model.layers = {
      {conv, 1.0},
      {model::SquareLayer{}, 1.0},
      {random_dense(rng, maps * conv_side * conv_side, hidden, max_weight), 1.0},
      {model::SquareLayer{}, 1.0},
      {random_dense(rng, hidden, classes, max_weight), 1.0},
  };
  return model;
}

// `model` with its square layers replaced, in order, by the given polynomial activations
// (coefficients lowest degree first, model.hpp PolynomialLayer).
inline model::Model with_polynomial_activations(
    model::Model model, const std::vector<std::vector<int64_t>>& polynomials) {
  size_t next = 0;
  for (model::Layer& layer : model.layers) {
    if (std::holds_alternative<model::SquareLayer>(layer.operation) && next < polynomials.size())
      layer.operation = model::PolynomialLayer{polynomials[next++]};
  }
  return model;
}

// The CryptoNets MNIST network before merging (Gilad-Bachrach et al. 2016, Table 1) on 28×28
// images, with random weights in [-max_weight, max_weight].
inline model::Model random_cryptonets_model(std::mt19937_64& rng, int64_t max_weight,
                                            double input_scale) {
  model::Model model{model::Shape{1, 28, 28}, input_scale, {}};
  const model::ScaledMeanPoolLayer pool{3, 3, 1, 1, model::Padding{1, 1, 1, 1}};
  model.layers = {
      {random_convolution(rng, 1, 5, 5, 2, model::Padding{0, 0, 1, 1}, max_weight),
       1.0},  // 5×13×13
      {model::SquareLayer{}, 1.0},
      {pool, 1.0},
      {random_convolution(rng, 5, 10, 5, 2, model::Padding{}, max_weight), 1.0},  // 10×5×5
      {pool, 1.0},
      {model::FlattenLayer{}, 1.0},
      {random_dense(rng, 250, 100, max_weight), 1.0},
      {model::SquareLayer{}, 1.0},
      {random_dense(rng, 100, 10, max_weight), 1.0},
  };
  return model;
}

// `count` images of the model's input size, each value uniform in [0, max_input_value(model)].
inline std::vector<std::vector<int64_t>> random_images(std::mt19937_64& rng,
                                                       const model::Model& model, size_t count) {
  std::vector<std::vector<int64_t>> images;
  for (size_t s = 0; s < count; ++s) {
    images.push_back(random_integers(rng, static_cast<size_t>(model.input_shape.size()), 0,
                                     model::max_input_value(model)));
  }
  return images;
}

// The repository root: the first directory above the working directory holding data/mnist (the
// tests run from the build directory).
// The 5-layer shape (2 maps, 6 hidden, 3 classes) with weights and biases from N(0, 0.3²) and the
// given activations after the convolution and the first dense layer.
inline training::SequentialNetwork random_polynomial_network(std::mt19937_64& rng,
                                                             const training::Activation& first,
                                                             const training::Activation& second) {
  auto network = training::make_five_layer_network(3, 2, 6);
  std::normal_distribution<float> normal(0.0f, 0.3f);
  for (auto& layer : network.layers) {
    for (float& w : layer.weights)
      w = normal(rng);
    for (float& b : layer.bias)
      b = normal(rng);
  }
  network.layers[1].activation = first;
  network.layers[3].activation = second;
  return network;
}

inline std::filesystem::path repository_root() {
  namespace fs = std::filesystem;
  for (fs::path directory = fs::current_path();; directory = directory.parent_path()) {
    if (fs::exists(directory / "data/mnist/SHA256SUMS.uncompressed")) return directory;
    if (directory == directory.root_path()) break;
  }
  throw std::runtime_error("data/mnist not found above " + fs::current_path().string());
}

// The MNIST files: $CRYPTONETS_MNIST_DIR if set, else data/mnist under repository_root().
inline std::filesystem::path mnist_directory() {
  if (const char* override_directory = std::getenv("CRYPTONETS_MNIST_DIR")) {
    return override_directory;
  }
  return repository_root() / "data/mnist";
}

// The first `count` images of an MNIST set as the model's integer inputs (quantise_pixels).
inline std::vector<std::vector<int64_t>> quantised_mnist_images(const model::Model& model,
                                                                const MnistSet& set, size_t count) {
  return quantised_images(model, set.images, 0, count);
}

}  // namespace test_support
