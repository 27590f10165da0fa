// Training the float CryptoNets network (float_network.hpp) on labelled 28×28 images (MNIST or any
// IDX set): softmax cross-entropy,
// back-propagation, Adam with a warm-up and cosine learning-rate schedule, global-norm gradient
// clipping and random-shift augmentation. Seeded and reproducible: the result depends on the
// options and data only, not on the thread count.
#pragma once

#include <cstdint>
#include <functional>
#include <random>
#include <span>
#include <vector>

#include "cryptonets/training/float_network.hpp"

namespace cryptonets::training {

struct TrainingOptions {
  int conv_maps = 5;
  int hidden = 100;
  int epochs = 25;
  int batch_size = 64;
  float learning_rate = 2e-3f;        // Adam step size after warm-up
  float final_learning_rate = 1e-5f;  // reached by the cosine decay at the last step
  int warmup_steps = 500;             // linear ramp from 0: square activations punish early steps
  float gradient_clip_norm = 5.0f;    // global L2 norm of the batch gradient
  float weight_decay = 0.05f;         // decoupled (AdamW) decay of weights, not biases
  int max_shift = 2;                  // each training image is shifted by dx, dy in ±max_shift
  uint64_t seed = 1;
  int threads = 1;
};

struct EpochReport {
  int epoch = 0;                // 1-based
  double loss = 0.0;            // mean training cross-entropy over the epoch's batches
  double train_accuracy = 0.0;  // on the (augmented) batches, as seen during the epoch
  double test_accuracy = 0.0;
  double seconds = 0.0;
};

struct BatchResult {
  double loss = 0.0;  // mean cross-entropy over the batch
  size_t correct = 0;
};

// Mean softmax cross-entropy of a batch and its gradient with respect to every parameter
// (gradient has the network's shape). The batch is cut into a fixed number of chunks, processed
// in parallel, whose gradients are summed in a fixed order, so the result does not depend on the
// thread count. Holds its work buffers between calls.
class GradientComputer {
 public:
  static constexpr int kChunks = 8;

  BatchResult compute(const FloatNetwork& network, const LabelledImages& batch,
                      FloatNetwork& gradient, int threads);

 private:
  struct Chunk {
    FloatNetwork gradient;
    std::vector<ForwardTrace> traces;
    std::vector<float> hidden_gradient;  // per sample: d loss / d hidden (pre-square)
    std::vector<float> conv_gradient;    // per sample: d loss / d conv (pre-square)
    ClassScores score_gradient;          // d loss / d scores of the current sample
    double loss = 0.0;
    size_t correct = 0;
  };
  void compute_chunk(const FloatNetwork& network, const LabelledImages& batch, size_t begin,
                     size_t end, Chunk& chunk) const;

  std::vector<Chunk> chunks_;
};

// The same mean cross-entropy, computed the slow obvious way in double precision, one image at a
// time: the reference for the forward pass and, by finite differences, for the gradient.
double cross_entropy_reference(const FloatNetwork& network, const LabelledImages& images);

// image translated by (dx, dy) pixels (positive: right, down), zero-filled: augmentation.
void shift_image(std::span<const uint8_t> image, int dx, int dy, std::span<uint8_t> shifted);

// Gaussian weights, zero biases, then each layer rescaled in turn so that its outputs have unit
// standard deviation over the calibration images (layer-sequential unit-variance initialisation,
// Mishkin & Matas 2016): keeps the squares from exploding or vanishing at the start.
FloatNetwork initial_float_network(int conv_maps, int hidden, int classes,
                                   const LabelledImages& calibration, std::mt19937_64& rng);

// Trains from scratch with class_count(train.labels) classes; calls on_epoch after each epoch
// (test accuracy measured on `test`). Throws std::invalid_argument for invalid options, fewer
// than two classes, or a test label outside the training set's classes.
FloatNetwork train_float_network(const LabelledImages& train, const LabelledImages& test,
                                 const TrainingOptions& options,
                                 const std::function<void(const EpochReport&)>& on_epoch = {});

}  // namespace cryptonets::training
