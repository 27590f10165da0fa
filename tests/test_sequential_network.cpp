// SequentialNetwork: the paper's 9-layer training network, the merge of its linear layers 3–6
// into one dense layer, back-propagation against the double reference (and the same on any thread
// count), and training with each activation.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "cryptonets/io/idx.hpp"
#include "cryptonets/training/float_network.hpp"
#include "cryptonets/training/sequential_network.hpp"
#include "nn_test_support.hpp"

using namespace cryptonets;
using namespace cryptonets::training;
using namespace test_support;

namespace {

const MnistSet& train_set() {
  static const MnistSet set = load_mnist(mnist_directory(), MnistSplit::kTrain, false);
  return set;
}

const MnistSet& test_set() {
  static const MnistSet set = load_mnist(mnist_directory(), MnistSplit::kTest, false);
  return set;
}

LabelledImages first(const MnistSet& set, size_t count) {
  return {std::span(set.images.pixels).first(count * kMnistImagePixels),
          std::span(set.labels.labels).first(count)};
}

SequentialNetwork random_paper_network(uint64_t seed, int second_maps = 8, int hidden = 16) {
  std::mt19937_64 rng(seed);
  SequentialNetwork network = make_paper_training_network(10, 5, second_maps, hidden);
  initialise(network, first(train_set(), 200), rng);
  std::normal_distribution<float> normal(0.0f, 0.3f);
  for (SequentialLayer& layer : network.layers)
    for (float& b : layer.bias)
      b = normal(rng);
  return network;
}

// Every score of `b` within rounding of `a`'s, and every label the same.
void check_same_outputs(const SequentialNetwork& a, const FloatNetwork& b,
                        const LabelledImages& images) {
  for (size_t i = 0; i < images.size(); ++i) {
    const std::vector<double> expected = forward_reference(a, images.image(i));
    const std::vector<float> got = forward(b, images.image(i));
    double largest = 0.0;
    for (const double e : expected)
      largest = std::max(largest, std::abs(e));
    for (size_t k = 0; k < expected.size(); ++k) {
      INFO("image " << i << " class " << k);
      CHECK(std::abs(got[k] - expected[k]) <= 1e-4 * std::max(largest, 1.0));
    }
    const int expected_label =
        static_cast<int>(std::max_element(expected.begin(), expected.end()) - expected.begin());
    CHECK(predicted_class(got) == expected_label);
  }
}

}  // namespace

TEST_CASE("The paper's training network has the shapes of the re-implementations") {
  const SequentialNetwork network = make_paper_training_network();
  REQUIRE(network.layers.size() == 8);  // the input is the 9th layer
  CHECK(network.layers[0].output_size() == 845);
  CHECK(network.layers[2].output_size() == 845);
  CHECK(network.layers[3].output_size() == 1250);
  CHECK(network.layers[4].output_size() == 1250);
  CHECK(network.layers[5].output_size() == 100);
  CHECK(network.classes() == 10);
  // Layers 3–6 merge into one 845 → 100 dense layer: the 5-layer inference shape.
  const SequentialNetwork merged = merge_linear_runs(network);
  REQUIRE(merged.layers.size() == 5);
  CHECK(merged.layers[2].kind == LayerKind::kDense);
  CHECK(merged.layers[2].inputs == 845);
  CHECK(merged.layers[2].outputs == 100);
}

TEST_CASE("Merging layers 3-6 keeps every output within rounding and every label") {
  const SequentialNetwork network = random_paper_network(3);
  const FloatNetwork merged = to_float_network(merge_linear_runs(network));
  check_same_outputs(network, merged, first(test_set(), 100));
}

TEST_CASE("The sum pool is the window's sum with zero 'same' padding") {
  // A 1×1 identity convolution on the 29×29 frame, then the 3×3 sum pool.
  SequentialNetwork network;
  SequentialLayer identity;
  identity.kind = LayerKind::kConvolution;
  identity.channels = 1;
  identity.side = 29;
  identity.maps = 1;
  identity.kernel = 1;
  identity.stride = 1;
  identity.weights = {1.0f};
  identity.bias = {0.0f};
  SequentialLayer pool;
  pool.kind = LayerKind::kSumPool;
  pool.channels = 1;
  pool.side = 29;
  pool.pool_window = 3;
  network.layers = {identity, pool};
  const auto image = test_set().images.pixels.data();
  const std::vector<double> out =
      forward_reference(network, std::span<const uint8_t>(image, kMnistImagePixels));
  auto padded = [&](int y, int x) -> double {  // image shifted down and right by one
    if (y < 1 || x < 1 || y > 28 || x > 28) return 0.0;
    return image[(y - 1) * 28 + (x - 1)] / 255.0;
  };
  for (int y = 0; y < 29; ++y) {
    for (int x = 0; x < 29; ++x) {
      double sum = 0.0;
      for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx)
          sum += padded(y + dy, x + dx);  // outside the frame: zero
      CHECK(out[y * 29 + x] == doctest::Approx(sum).epsilon(1e-6));
    }
  }
}

TEST_CASE("Back-propagated gradients of the 9-layer network equal central differences") {
  SequentialNetwork network = random_paper_network(5, 4, 6);
  const LabelledImages batch = first(train_set(), 6);
  SequentialNetwork gradient;
  compute_gradient(network, batch, gradient);
  std::mt19937_64 rng(9);
  for (size_t l = 0; l < network.layers.size(); ++l) {
    if (network.layers[l].weights.empty()) continue;
    for (int part = 0; part < 2; ++part) {
      std::vector<float>& values = part ? network.layers[l].bias : network.layers[l].weights;
      const std::vector<float>& grads = part ? gradient.layers[l].bias : gradient.layers[l].weights;
      for (int trial = 0; trial < 3; ++trial) {
        const size_t i = rng() % values.size();
        const float saved = values[i];
        const float h = 1e-3f * std::max(1.0f, std::abs(saved));
        values[i] = saved + h;
        const double up = cross_entropy_reference(network, batch);
        values[i] = saved - h;
        const double down = cross_entropy_reference(network, batch);
        values[i] = saved;
        const double numeric = (up - down) / (double(values[i] + h) - double(values[i] - h));
        INFO("layer " << l << std::string(part ? " bias " : " weight ") << i);
        CHECK(grads[i] == doctest::Approx(numeric).epsilon(2e-2).scale(1e-3));
      }
    }
  }
}

TEST_CASE("The 9-layer network's gradient and training do not depend on the thread count") {
  const SequentialNetwork network = random_paper_network(3);
  const LabelledImages batch = first(train_set(), 37);  // not a multiple of the thread count
  SequentialNetwork one_thread, two_threads;
  const BatchResult first_result = compute_gradient(network, batch, one_thread, 1);
  const BatchResult second_result = compute_gradient(network, batch, two_threads, 2);
  CHECK(first_result.loss == second_result.loss);
  CHECK(first_result.correct == second_result.correct);
  CHECK(one_thread == two_threads);
  // A computer reused on a smaller batch keeps nothing of the larger one.
  SequentialGradientComputer computer;
  SequentialNetwork reused;
  computer.compute(network, batch, reused, 2);
  computer.compute(network, first(train_set(), 5), reused, 2);
  compute_gradient(network, first(train_set(), 5), one_thread, 1);
  CHECK(reused == one_thread);

  const LabelledImages train = first(train_set(), 200);
  const LabelledImages test = first(test_set(), 100);
  TrainingOptions options;
  options.epochs = 1;
  options.batch_size = 50;
  options.seed = 7;
  options.threads = 1;
  SequentialNetwork trained_once = make_paper_training_network(10, 5, 8, 16);
  std::vector<EpochReport> reports;
  const auto report = [&](const EpochReport& r) { reports.push_back(r); };
  train_sequential_network(trained_once, train, test, options, true, report);
  options.threads = 2;
  SequentialNetwork trained_twice = make_paper_training_network(10, 5, 8, 16);
  train_sequential_network(trained_twice, train, test, options, true, report);
  CHECK(trained_once == trained_twice);
  REQUIRE(reports.size() == 2);
  CHECK(reports[0].loss == reports[1].loss);
  CHECK(reports[0].test_accuracy == reports[1].test_accuracy);
  options.threads = 0;
  CHECK_THROWS_AS(train_sequential_network(trained_twice, train, test, options, false),
                  std::invalid_argument);
}

TEST_CASE("Training lowers the loss on a subset for each activation") {
  const LabelledImages train = first(train_set(), 600);
  const LabelledImages none{};
  TrainingOptions options;
  options.epochs = 3;
  options.batch_size = 32;
  options.warmup_steps = 5;
  options.learning_rate = 1e-2f;
  options.max_shift = 0;
  for (const Activation& activation :
       {Activation{ActivationKind::kSquare, {}}, Activation{ActivationKind::kRelu, {}},
        Activation{ActivationKind::kSigmoid, {}},
        Activation{ActivationKind::kPolynomial, {0.1, 0.5, 0.25}}}) {
    INFO(activation.name());
    SequentialNetwork network = make_five_layer_network(10, 3, 16, activation);
    std::mt19937_64 rng(1);
    initialise(network, train, rng);
    const double before = cross_entropy_reference(network, train);
    train_sequential_network(network, train, none, options, false);
    const double after = cross_entropy_reference(network, train);
    CHECK(after < 0.8 * before);
  }
}

TEST_CASE("A saved then loaded sequential network is identical; bad files are refused") {
  SequentialNetwork network = random_paper_network(7, 3, 4);
  network.layers[1].activation = Activation{ActivationKind::kPolynomial, {0.5, 0.25, 0.125}};
  std::stringstream text;
  write_sequential_network(network, text);
  CHECK(read_sequential_network(text, "round trip") == network);
  std::string bad = text.str();
  bad.replace(bad.find("sumpool"), 7, "maxpool");
  std::istringstream in(bad);
  CHECK_THROWS_WITH_AS(read_sequential_network(in, "bad.txt"), doctest::Contains("'maxpool'"),
                       std::runtime_error);
  std::istringstream truncated(text.str().substr(0, text.str().size() / 2));
  CHECK_THROWS_WITH_AS(read_sequential_network(truncated, "half.txt"),
                       doctest::Contains("half.txt"), std::runtime_error);
  // Blanks and comments may follow the last layer; anything else is refused.
  std::istringstream commented(text.str() + "\n# fine-tuned\n");
  CHECK(read_sequential_network(commented, "c.txt") == network);
  std::istringstream junk(text.str() + "junk\n");
  CHECK_THROWS_WITH_AS(read_sequential_network(junk, "j.txt"),
                       doctest::Contains("unexpected content after the last layer: 'junk'"),
                       std::runtime_error);
  // A control byte in a comment, within the layers or after the last, is binary data (comments
  // were skipped unread, and inspect refused what this reader took).
  const size_t second_line = text.str().find('\n') + 1;
  std::istringstream inside(text.str().substr(0, second_line) + "# x\x7f\n" +
                            text.str().substr(second_line));
  CHECK_THROWS_WITH_AS(read_sequential_network(inside, "b.txt"),
                       doctest::Contains("found binary data (not text) in a '#' comment"),
                       std::runtime_error);
  std::istringstream after(text.str() + "# \x1b[2J\n");
  CHECK_THROWS_WITH_AS(read_sequential_network(after, "b.txt"),
                       doctest::Contains("found binary data (not text) in a '#' comment"),
                       std::runtime_error);
}

TEST_CASE("Polynomial fits: exact on polynomials, least squares no worse than Chebyshev in L2") {
  const Activation square{ActivationKind::kSquare, {}};
  for (const Activation& fit :
       {fit_least_squares(square, -3.0, 5.0, 2), fit_chebyshev(square, -3.0, 5.0, 2)}) {
    REQUIRE(fit.coefficients.size() == 3);
    CHECK(fit.coefficients[0] == doctest::Approx(0.0).scale(1.0).epsilon(1e-9));
    CHECK(fit.coefficients[1] == doctest::Approx(0.0).scale(1.0).epsilon(1e-9));
    CHECK(fit.coefficients[2] == doctest::Approx(1.0).epsilon(1e-9));
  }
  for (const Activation& f :
       {Activation{ActivationKind::kRelu, {}}, Activation{ActivationKind::kSigmoid, {}}}) {
    for (int degree : {2, 3}) {
      INFO(f.name() << " degree " << degree);
      const Activation lsq = fit_least_squares(f, -6.0, 4.0, degree);
      const Activation cheb = fit_chebyshev(f, -6.0, 4.0, degree);
      double lsq_error = 0.0, cheb_error = 0.0, cheb_max = 0.0;
      for (int i = 0; i <= 2000; ++i) {  // the least-squares grid
        const double x = -6.0 + 10.0 * i / 2000;
        lsq_error += std::pow(lsq.value(x) - f.value(x), 2);
        cheb_error += std::pow(cheb.value(x) - f.value(x), 2);
        cheb_max = std::max(cheb_max, std::abs(cheb.value(x) - f.value(x)));
      }
      CHECK(lsq_error <= cheb_error * (1 + 1e-9));
      // ReLU on [-6, 4] by a quadratic: within a fraction of the interval; sigmoid closer.
      CHECK(cheb_max < (f.kind == ActivationKind::kRelu ? 1.0 : 0.2));
    }
  }
  CHECK_THROWS_AS(fit_chebyshev(square, 1.0, 1.0, 2), std::invalid_argument);
}

TEST_CASE("Least squares over the observed inputs: exact on squares, orthogonal residuals") {
  const LabelledImages images = first(train_set(), 20);
  std::mt19937_64 rng(5);
  for (const ActivationKind kind :
       {ActivationKind::kSquare, ActivationKind::kRelu, ActivationKind::kSigmoid}) {
    SequentialNetwork network = make_five_layer_network(10, 5, 100, Activation{kind, {}});
    initialise(network, first(train_set(), 50), rng);
    const std::vector<Activation> fits = fit_least_squares_observed(network, images, 2);
    const auto ranges = activation_input_ranges(network, images);
    REQUIRE(fits.size() == 2);
    // The reference: every input of each activation layer, gathered by the plain forward pass.
    std::vector<std::vector<double>> inputs(2);
    std::vector<std::vector<float>> values;
    for (size_t i = 0; i < images.size(); ++i) {
      forward(network, images.image(i), values);
      inputs[0].insert(inputs[0].end(), values[1].begin(), values[1].end());
      inputs[1].insert(inputs[1].end(), values[3].begin(), values[3].end());
    }
    for (size_t a = 0; a < 2; ++a) {
      INFO(Activation{kind, {}}.name() << " layer " << a);
      const Activation& fit = fits[a];
      REQUIRE(fit.coefficients.size() == 3);
      const Activation& f = network.layers[2 * a + 1].activation;
      if (kind == ActivationKind::kSquare) {
        CHECK(fit.coefficients[0] == doctest::Approx(0.0).scale(1.0).epsilon(1e-7));
        CHECK(fit.coefficients[1] == doctest::Approx(0.0).scale(1.0).epsilon(1e-7));
        CHECK(fit.coefficients[2] == doctest::Approx(1.0).epsilon(1e-7));
        continue;
      }
      // Normal equations: the residual is orthogonal to 1, u and u^2 (u scaled to [-1, 1]).
      const double mid = 0.5 * (ranges[a].first + ranges[a].second);
      const double half = 0.5 * (ranges[a].second - ranges[a].first);
      double dot[3] = {0, 0, 0}, norm[3] = {0, 0, 0}, observed_error = 0, uniform_error = 0;
      const Activation uniform = fit_least_squares(f, ranges[a].first, ranges[a].second, 2);
      for (const double x : inputs[a]) {
        const double r = fit.value(x) - f.value(x), u = (x - mid) / half;
        for (int k = 0; k < 3; ++k) {
          dot[k] += r * std::pow(u, k);
          norm[k] += std::abs(r * std::pow(u, k));
        }
        observed_error += r * r;
        uniform_error += std::pow(uniform.value(x) - f.value(x), 2);
      }
      for (int k = 0; k < 3; ++k)
        CHECK(std::abs(dot[k]) <= 1e-6 * norm[k]);
      // The minimiser over these inputs is no worse on them than the uniform-grid fit.
      CHECK(observed_error <= uniform_error * (1 + 1e-9));
    }
  }
}

TEST_CASE("The shipped 9-layer model merges into the shipped 845->100 float model") {
  const std::filesystem::path data = mnist_directory().parent_path();
  const SequentialNetwork trained = load_sequential_network(data / "model-paper9-train.txt");
  REQUIRE(trained.layers.size() == 8);
  const FloatNetwork shipped = load_float_network(data / "model-paper9-float.txt");
  // The merge is deterministic, and what was shipped is what it gives, byte for byte: its
  // comment says the hidden layer was trained as 4 linear layers, then merged (it said "trained
  // as one dense layer", a review).
  CHECK(to_float_network(merge_linear_runs(trained)) == shipped);
  std::ostringstream written;
  write_float_network(to_float_network(merge_linear_runs(trained)), written, 4);
  std::ifstream in(data / "model-paper9-float.txt", std::ios::binary);
  std::ostringstream file;
  file << in.rdbuf();
  // Compared where they first differ (the whole files are 8591 lines).
  const std::string expected = written.str();
  const std::string shipped_text = file.str();
  const size_t differ =
      std::mismatch(expected.begin(), expected.end(), shipped_text.begin(), shipped_text.end())
          .first -
      expected.begin();
  CHECK(expected.substr(differ >= 80 ? differ - 80 : 0, 200) ==
        shipped_text.substr(differ >= 80 ? differ - 80 : 0, 200));
  CHECK(expected.size() == shipped_text.size());
  check_same_outputs(trained, shipped, first(test_set(), 200));
}
