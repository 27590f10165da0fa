// Back-propagation and the training loop for the float CryptoNets network.
#include "cryptonets/training/trainer.hpp"

#include <algorithm>
#include <cassert>
#include <chrono>
#include <cmath>
#include <numbers>
#include <numeric>
#include <stdexcept>

namespace cryptonets::training {
namespace {

constexpr size_t kCalibrationImages = 1000;

// y[i] += a · x[i]
void axpy(float a, const float* x, float* y, int n) {
#pragma omp simd
  for (int i = 0; i < n; ++i)
    y[i] += a * x[i];
}

// Softmax probabilities of the scores (shifted by the maximum for stability) and the
// cross-entropy −log p[label].
float softmax_cross_entropy(const ClassScores& scores, int label, ClassScores& probabilities) {
  const float largest = *std::max_element(scores.begin(), scores.end());
  float total = 0.0f;
  probabilities.resize(scores.size());
  for (size_t k = 0; k < scores.size(); ++k) {
    probabilities[k] = std::exp(scores[k] - largest);
    total += probabilities[k];
  }
  for (float& p : probabilities)
    p /= total;
  return std::log(total) - (scores[label] - largest);
}

// Uniform in [0, bound) from the generator; the modulo bias (< bound / 2^64) is negligible. Written
// out rather than std::uniform_int_distribution so that runs agree across standard libraries.
uint64_t uniform_below(std::mt19937_64& rng, uint64_t bound) {
  return rng() % bound;
}

// Standard normal by Box–Muller, again independent of the standard library's distributions.
float standard_normal(std::mt19937_64& rng) {
  constexpr double kTwoToMinus53 = 1.0 / 9007199254740992.0;
  const double u1 = (static_cast<double>(rng() >> 11) + 0.5) * kTwoToMinus53;  // in (0, 1)
  const double u2 = static_cast<double>(rng() >> 11) * kTwoToMinus53;
  return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2));
}

void fill_normal(std::vector<float>& values, std::mt19937_64& rng) {
  for (float& value : values)
    value = standard_normal(rng);
}

void scale(std::vector<float>& values, float factor) {
  for (float& value : values)
    value *= factor;
}

// Root mean square of one traced layer over the calibration images.
template <typename Select>
double traced_rms(const FloatNetwork& network, const LabelledImages& images, Select select) {
  ForwardTrace trace;
  double sum_of_squares = 0.0;
  size_t count = 0;
  for (size_t i = 0; i < images.size(); ++i) {
    forward(network, images.image(i), trace);
    for (const float value : select(trace)) {
      sum_of_squares += double{value} * value;
      ++count;
    }
  }
  const double rms = std::sqrt(sum_of_squares / static_cast<double>(count));
  if (!(rms > 0.0)) throw std::invalid_argument("initialisation: calibration images are all blank");
  return rms;
}

double squared_norm(const FloatNetwork& gradient) {
  double sum = 0.0;
  for (const auto block : parameter_blocks(gradient)) {
    for (const float g : block)
      sum += double{g} * g;
  }
  return sum;
}

// Adam (Kingma & Ba, ICLR 2015, Algorithm 1) with decoupled weight decay on the weight blocks
// (Loshchilov & Hutter, ICLR 2019); biases are not decayed.
class AdamOptimiser {
 public:
  explicit AdamOptimiser(const FloatNetwork& shape)
      : first_moment_(make_zero_float_network(shape.conv_maps, shape.hidden, shape.classes)),
        second_moment_(first_moment_) {}

  void step(FloatNetwork& network, const FloatNetwork& gradient, float learning_rate,
            float weight_decay) {
    ++steps_;
    const float correction1 = 1.0f - std::pow(kBeta1, static_cast<float>(steps_));
    const float correction2 = 1.0f - std::pow(kBeta2, static_cast<float>(steps_));
    const auto parameters = parameter_blocks(network);
    const auto gradients = parameter_blocks(gradient);
    const auto first = parameter_blocks(first_moment_);
    const auto second = parameter_blocks(second_moment_);
    for (size_t b = 0; b < kFloatNetworkBlocks; ++b) {
      const bool is_weight_block = b % 2 == 0;  // blocks alternate weights, bias
      const float decay = is_weight_block ? learning_rate * weight_decay : 0.0f;
      float* w = parameters[b].data();
      const float* g = gradients[b].data();
      float* m = first[b].data();
      float* v = second[b].data();
      const size_t n = parameters[b].size();
#pragma omp simd
      for (size_t i = 0; i < n; ++i) {
        m[i] = kBeta1 * m[i] + (1.0f - kBeta1) * g[i];
        v[i] = kBeta2 * v[i] + (1.0f - kBeta2) * g[i] * g[i];
        const float m_hat = m[i] / correction1;
        const float v_hat = v[i] / correction2;
        w[i] -= learning_rate * m_hat / (std::sqrt(v_hat) + kEpsilon) + decay * w[i];
      }
    }
  }

 private:
  static constexpr float kBeta1 = 0.9f;
  static constexpr float kBeta2 = 0.999f;
  static constexpr float kEpsilon = 1e-8f;
  FloatNetwork first_moment_;
  FloatNetwork second_moment_;
  long steps_ = 0;
};

// Linear warm-up, then cosine decay from learning_rate to final_learning_rate
// (Loshchilov & Hutter, "SGDR", ICLR 2017, eq. 5, a single cycle).
float scheduled_learning_rate(const TrainingOptions& options, long step, long total_steps) {
  const double progress = total_steps > 1 ? double(step) / double(total_steps - 1) : 1.0;
  const double cosine = 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
  const double decayed =
      options.final_learning_rate + (options.learning_rate - options.final_learning_rate) * cosine;
  const double warmup =
      options.warmup_steps > 0 ? std::min(1.0, double(step + 1) / options.warmup_steps) : 1.0;
  return static_cast<float>(decayed * warmup);
}

void validate(const TrainingOptions& options, const LabelledImages& train) {
  if (options.epochs < 0 || options.batch_size <= 0 || options.threads <= 0 ||
      options.max_shift < 0 || options.max_shift >= FloatNetwork::kImageSide ||
      !(options.learning_rate > 0.0f) || !(options.final_learning_rate >= 0.0f) ||
      !(options.gradient_clip_norm > 0.0f) || !(options.weight_decay >= 0.0f) ||
      options.warmup_steps < 0) {
    throw std::invalid_argument(
        "training options: need epochs >= 0, batch_size > 0, threads > 0, 0 <= max_shift < 28, "
        "learning_rate > 0, final_learning_rate >= 0, gradient_clip_norm > 0, weight_decay >= 0, "
        "warmup_steps >= 0");
  }
  if (train.size() == 0 || train.pixels.size() != train.size() * FloatNetwork::kImagePixels) {
    throw std::invalid_argument("training set: need at least one image and 784 pixels per label");
  }
}

}  // namespace

void GradientComputer::compute_chunk(const FloatNetwork& network, const LabelledImages& batch,
                                     size_t begin, size_t end, Chunk& chunk) const {
  const int conv_outputs = network.conv_outputs();
  const int hidden = network.hidden;
  const int samples = static_cast<int>(end - begin);
  const float inverse_batch = 1.0f / static_cast<float>(batch.size());
  FloatNetwork& gradient = chunk.gradient;
  for (const auto block : parameter_blocks(gradient))
    std::fill(block.begin(), block.end(), 0.0f);
  chunk.loss = 0.0;
  chunk.correct = 0;
  if (chunk.traces.size() < size_t(samples)) chunk.traces.resize(samples);
  chunk.hidden_gradient.assign(size_t(samples) * hidden, 0.0f);
  chunk.conv_gradient.assign(size_t(samples) * conv_outputs, 0.0f);

  // Forward, softmax, and the output layer: d loss / d score_k = (p_k − [k = label]) / batch.
  for (int s = 0; s < samples; ++s) {
    ForwardTrace& trace = chunk.traces[s];
    const int label = batch.labels[begin + s];
    forward(network, batch.image(begin + s), trace);
    if (predicted_class(trace.scores) == label) ++chunk.correct;
    ClassScores& score_gradient = chunk.score_gradient;
    chunk.loss += softmax_cross_entropy(trace.scores, label, score_gradient);
    score_gradient[label] -= 1.0f;
    float* hidden_gradient = &chunk.hidden_gradient[size_t(s) * hidden];
    for (int k = 0; k < network.classes; ++k) {
      const float g = score_gradient[k] * inverse_batch;
      gradient.dense2_bias[k] += g;
      axpy(g, trace.hidden_squared.data(), &gradient.dense2_weights[size_t(k) * hidden], hidden);
      axpy(g, &network.dense2_weights[size_t(k) * hidden], hidden_gradient, hidden);
    }
    // Through the square: d(h²)/dh = 2h.
    for (int j = 0; j < hidden; ++j)
      hidden_gradient[j] *= 2.0f * trace.hidden[j];
  }

  // First dense layer, one weight row at a time for all samples of the chunk so that the row and
  // its gradient stay in L1 cache.
  for (int o = 0; o < hidden; ++o) {
    const float* weight_row = &network.dense1_weights[size_t(o) * conv_outputs];
    float* gradient_row = &gradient.dense1_weights[size_t(o) * conv_outputs];
    for (int s = 0; s < samples; ++s) {
      const float g = chunk.hidden_gradient[size_t(s) * hidden + o];
      gradient.dense1_bias[o] += g;
      axpy(g, chunk.traces[s].conv_squared.data(), gradient_row, conv_outputs);
      axpy(g, weight_row, &chunk.conv_gradient[size_t(s) * conv_outputs], conv_outputs);
    }
  }

  // Through the square, then the convolution: d loss / d w[m][ky][kx] = Σ_{y,x} g[m][y][x] ·
  // padded[2y + ky][2x + kx].
  constexpr int k = FloatNetwork::kKernelSide;
  constexpr int side = FloatNetwork::kConvSide;
  for (int s = 0; s < samples; ++s) {
    const ForwardTrace& trace = chunk.traces[s];
    float* conv_gradient = &chunk.conv_gradient[size_t(s) * conv_outputs];
    for (int i = 0; i < conv_outputs; ++i)
      conv_gradient[i] *= 2.0f * trace.conv[i];
    for (int m = 0; m < network.conv_maps; ++m) {
      float* kernel_gradient = &gradient.conv_weights[m * k * k];
      for (int y = 0; y < side; ++y) {
        for (int x = 0; x < side; ++x) {
          const float g = conv_gradient[(m * side + y) * side + x];
          gradient.conv_bias[m] += g;
          for (int ky = 0; ky < k; ++ky) {
            const float* row =
                &trace.padded[(FloatNetwork::kStride * y + ky) * FloatNetwork::kPaddedSide +
                              FloatNetwork::kStride * x];
            for (int kx = 0; kx < k; ++kx)
              kernel_gradient[ky * k + kx] += g * row[kx];
          }
        }
      }
    }
  }
}

BatchResult GradientComputer::compute(const FloatNetwork& network, const LabelledImages& batch,
                                      FloatNetwork& gradient, int threads) {
  assert(batch.size() > 0);
  if (chunks_.empty() || chunks_[0].gradient.conv_maps != network.conv_maps ||
      chunks_[0].gradient.hidden != network.hidden ||
      chunks_[0].gradient.classes != network.classes) {
    chunks_.assign(
        kChunks, Chunk{make_zero_float_network(network.conv_maps, network.hidden, network.classes),
                       {},
                       {},
                       {},
                       {},
                       0.0,
                       0});
  }
  const size_t n = batch.size();
#pragma omp parallel for num_threads(std::max(threads, 1)) schedule(static)
  for (int c = 0; c < kChunks; ++c) {
    compute_chunk(network, batch, n * c / kChunks, n * (c + 1) / kChunks, chunks_[c]);
  }

  // Sum the chunk gradients in chunk order: the same floating-point sums for any thread count.
  if (gradient.conv_maps != network.conv_maps || gradient.hidden != network.hidden ||
      gradient.classes != network.classes) {
    gradient = make_zero_float_network(network.conv_maps, network.hidden, network.classes);
  }
  const auto total = parameter_blocks(gradient);
  for (size_t b = 0; b < kFloatNetworkBlocks; ++b) {
    float* out = total[b].data();
    const long size = static_cast<long>(total[b].size());
#pragma omp parallel for num_threads(std::max(threads, 1)) schedule(static)
    for (long i = 0; i < size; ++i) {
      float sum = 0.0f;
      for (const Chunk& chunk : chunks_)
        sum += parameter_blocks(chunk.gradient)[b][i];
      out[i] = sum;
    }
  }
  BatchResult result;
  for (const Chunk& chunk : chunks_) {
    result.loss += chunk.loss;
    result.correct += chunk.correct;
  }
  result.loss /= static_cast<double>(n);
  return result;
}

double cross_entropy_reference(const FloatNetwork& network, const LabelledImages& images) {
  constexpr int k = FloatNetwork::kKernelSide;
  constexpr int side = FloatNetwork::kConvSide;
  constexpr int padded_side = FloatNetwork::kPaddedSide;
  double total = 0.0;
  for (size_t n = 0; n < images.size(); ++n) {
    const auto image = images.image(n);
    // Padding on the upper and left sides: padded[y][x] = image[y − 1][x − 1].
    auto pixel = [&](int y, int x) -> double {
      const int iy = y - FloatNetwork::kPadTop;
      const int ix = x - FloatNetwork::kPadLeft;
      if (iy < 0 || ix < 0 || iy >= FloatNetwork::kImageSide || ix >= FloatNetwork::kImageSide) {
        return 0.0;
      }
      return image[iy * FloatNetwork::kImageSide + ix] / 255.0;
    };
    std::vector<double> conv_squared;
    for (int m = 0; m < network.conv_maps; ++m) {
      for (int y = 0; y < side; ++y) {
        for (int x = 0; x < side; ++x) {
          double sum = network.conv_bias[m];
          for (int ky = 0; ky < k; ++ky) {
            for (int kx = 0; kx < k; ++kx) {
              assert(2 * y + ky < padded_side && 2 * x + kx < padded_side);
              sum += double{network.conv_weights[(m * k + ky) * k + kx]} *
                     pixel(2 * y + ky, 2 * x + kx);
            }
          }
          conv_squared.push_back(sum * sum);
        }
      }
    }
    std::vector<double> hidden_squared;
    for (int o = 0; o < network.hidden; ++o) {
      double sum = network.dense1_bias[o];
      for (size_t i = 0; i < conv_squared.size(); ++i) {
        sum += double{network.dense1_weights[o * conv_squared.size() + i]} * conv_squared[i];
      }
      hidden_squared.push_back(sum * sum);
    }
    std::vector<double> scores;
    for (int c = 0; c < network.classes; ++c) {
      double sum = network.dense2_bias[c];
      for (int j = 0; j < network.hidden; ++j) {
        sum += double{network.dense2_weights[c * network.hidden + j]} * hidden_squared[j];
      }
      scores.push_back(sum);
    }
    // −log softmax(scores)[label] = log Σ exp(score) − score[label], shifted by the maximum.
    const double largest = *std::max_element(scores.begin(), scores.end());
    double exp_sum = 0.0;
    for (const double score : scores)
      exp_sum += std::exp(score - largest);
    total += std::log(exp_sum) + largest - scores[images.labels[n]];
  }
  return total / static_cast<double>(images.size());
}

void shift_image(std::span<const uint8_t> image, int dx, int dy, std::span<uint8_t> shifted) {
  constexpr int side = FloatNetwork::kImageSide;
  assert(image.size() == size_t(side * side) && shifted.size() == image.size());
  for (int y = 0; y < side; ++y) {
    for (int x = 0; x < side; ++x) {
      const int source_y = y - dy;
      const int source_x = x - dx;
      const bool inside = source_y >= 0 && source_y < side && source_x >= 0 && source_x < side;
      shifted[y * side + x] = inside ? image[source_y * side + source_x] : 0;
    }
  }
}

FloatNetwork initial_float_network(int conv_maps, int hidden, int classes,
                                   const LabelledImages& calibration, std::mt19937_64& rng) {
  FloatNetwork network = make_zero_float_network(conv_maps, hidden, classes);
  fill_normal(network.conv_weights, rng);
  fill_normal(network.dense1_weights, rng);
  fill_normal(network.dense2_weights, rng);
  const size_t count = std::min(calibration.size(), kCalibrationImages);
  const LabelledImages sample{calibration.pixels.first(count * FloatNetwork::kImagePixels),
                              calibration.labels.first(count)};
  // Layer by layer, as later layers see the rescaled outputs of earlier ones.
  scale(network.conv_weights,
        1.0f / traced_rms(network, sample, [](const ForwardTrace& t) { return t.conv; }));
  scale(network.dense1_weights,
        1.0f / traced_rms(network, sample, [](const ForwardTrace& t) { return t.hidden; }));
  scale(network.dense2_weights, 1.0f / traced_rms(network, sample, [](const ForwardTrace& t) {
                                  return std::vector<float>(t.scores.begin(), t.scores.end());
                                }));
  return network;
}

FloatNetwork train_float_network(const LabelledImages& train, const LabelledImages& test,
                                 const TrainingOptions& options,
                                 const std::function<void(const EpochReport&)>& on_epoch) {
  validate(options, train);
  const int classes = class_count(train.labels, "training labels");
  require_labels_below(test.labels, classes, "test labels");
  std::mt19937_64 rng(options.seed);
  FloatNetwork network =
      initial_float_network(options.conv_maps, options.hidden, classes, train, rng);
  FloatNetwork gradient = make_zero_float_network(options.conv_maps, options.hidden, classes);
  GradientComputer gradients;
  AdamOptimiser optimiser(network);

  const size_t n = train.size();
  const size_t batches_per_epoch = (n + options.batch_size - 1) / options.batch_size;
  const long total_steps = static_cast<long>(batches_per_epoch) * options.epochs;
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  // No batch holds more than the n images (a batch size of 2^20 sized 820 MB for 100 images).
  const size_t most_in_batch = std::min<size_t>(options.batch_size, n);
  std::vector<uint8_t> batch_pixels(most_in_batch * FloatNetwork::kImagePixels);
  std::vector<uint8_t> batch_labels(most_in_batch);
  const int shift_choices = 2 * options.max_shift + 1;
  long step = 0;

  for (int epoch = 1; epoch <= options.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    for (size_t i = n - 1; i > 0; --i)
      std::swap(order[i], order[uniform_below(rng, i + 1)]);
    double loss_sum = 0.0;
    size_t correct = 0;
    for (size_t first = 0; first < n; first += options.batch_size, ++step) {
      const size_t size = std::min<size_t>(options.batch_size, n - first);
      for (size_t s = 0; s < size; ++s) {
        const int dx = static_cast<int>(uniform_below(rng, shift_choices)) - options.max_shift;
        const int dy = static_cast<int>(uniform_below(rng, shift_choices)) - options.max_shift;
        shift_image(train.image(order[first + s]), dx, dy,
                    std::span(batch_pixels)
                        .subspan(s * FloatNetwork::kImagePixels, FloatNetwork::kImagePixels));
        batch_labels[s] = train.labels[order[first + s]];
      }
      const LabelledImages batch{std::span(batch_pixels).first(size * FloatNetwork::kImagePixels),
                                 std::span(batch_labels).first(size)};
      const BatchResult result = gradients.compute(network, batch, gradient, options.threads);
      loss_sum += result.loss * static_cast<double>(size);
      correct += result.correct;
      const double norm = std::sqrt(squared_norm(gradient));
      if (norm > options.gradient_clip_norm) {
        for (const auto block : parameter_blocks(gradient)) {
          for (float& g : block)
            g *= static_cast<float>(options.gradient_clip_norm / norm);
        }
      }
      optimiser.step(network, gradient, scheduled_learning_rate(options, step, total_steps),
                     options.weight_decay);
    }
    EpochReport report;
    report.epoch = epoch;
    report.loss = loss_sum / static_cast<double>(n);
    report.train_accuracy = static_cast<double>(correct) / static_cast<double>(n);
    report.test_accuracy = test.size() > 0 ? accuracy(network, test, options.threads) : 0.0;
    report.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (on_epoch) on_epoch(report);
  }
  return network;
}

}  // namespace cryptonets::training
