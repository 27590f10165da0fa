// Parameter selection: the keyless noise prediction against real encrypted runs, the presets and
// the selected parameters for the shipped model (margin kept, one prime fewer predicted to fail),
// and the plaintext-modulus and decomposition decisions.
#include "cryptonets/inference/parameter_selection.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>

#include "cryptonets/encoding/batch_encoder.hpp"
#include "cryptonets/encoding/plaintext_crt.hpp"
#include "cryptonets/inference/encrypted_arithmetic.hpp"
#include "cryptonets/inference/private_inference.hpp"
#include "cryptonets/io/idx.hpp"
#include "cryptonets/io/model_file.hpp"
#include "cryptonets/model/range.hpp"
#include "cryptonets/yashe/encryptor.hpp"
#include "cryptonets/yashe/key_generator.hpp"
#include "cryptonets/yashe/security.hpp"
#include "nn_test_support.hpp"
#include "yashe_test_support.hpp"

using cryptonets::inference::BfvParameterChoice;
using cryptonets::inference::decrypt_scores;
using cryptonets::inference::describe;
using cryptonets::inference::encrypt_batch;
using cryptonets::inference::EncryptedArithmetic;
using cryptonets::inference::EncryptedBatch;
using cryptonets::inference::infer;
using cryptonets::inference::InferenceOptions;
using cryptonets::inference::NoisePrediction;
using cryptonets::inference::ParameterChoice;
using cryptonets::inference::plain_scores;
using cryptonets::inference::predict_budget_over_moduli;
using cryptonets::inference::predict_network_noise;
using cryptonets::inference::preset;
using cryptonets::inference::preset_names;
using cryptonets::inference::select_bfv_parameters;
using cryptonets::inference::select_parameters;
using cryptonets::inference::SelectionTarget;
using cryptonets::model::compile_model;
using cryptonets::model::CompiledModel;
using cryptonets::model::DenseLayer;
using cryptonets::model::evaluate;
using cryptonets::model::evaluate_modular;
using cryptonets::model::FlattenLayer;
using cryptonets::model::Layer;
using cryptonets::model::Model;
using cryptonets::model::plaintext_moduli_suffice;
using cryptonets::model::RangeReport;
using cryptonets::model::Shape;
using cryptonets::model::SquareLayer;
using cryptonets::model::track_ranges;

using namespace test_support;

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string all_reasons(const ParameterChoice& choice) {
  std::string text;
  for (const std::string& line : choice.reasoning)
    text += line + "\n";
  return text;
}

const Model& shipped_model() {
  static const Model model = load_model((repository_root() / "data/model.txt").string());
  return model;
}

// What every choice must satisfy, whatever the mode: valid parameters, plaintext moduli that are
// distinct NTT-friendly primes coprime to q, hold the outputs, and are the fewest and smallest
// that do; the recorded budget is the prediction and keeps the margin.
void check_consistent_choice(const ParameterChoice& choice, const Model& model, double margin) {
  const yashe::Parameters& base = choice.base;
  CHECK_NOTHROW(base.validate());
  REQUIRE(!choice.plaintext_moduli.empty());
  CHECK(base.t == choice.plaintext_moduli.front());
  for (size_t i = 0; i < choice.plaintext_moduli.size(); ++i) {
    const uint64_t t = choice.plaintext_moduli[i];
    CHECK(is_prime(t));
    CHECK(t % (2 * base.n) == 1);
    CHECK(static_cast<int>(std::bit_width(t)) <= 40);
    for (uint64_t q : base.q_primes)
      CHECK(std::gcd(q, t) == 1);
    for (size_t j = 0; j < i; ++j)
      CHECK(choice.plaintext_moduli[j] != t);
  }
  const RangeReport ranges = track_ranges(model);
  CHECK(plaintext_moduli_suffice(ranges, choice.plaintext_moduli));
  const size_t count = choice.plaintext_moduli.size();
  const int bits = static_cast<int>(std::bit_width(choice.plaintext_moduli.front()));
  if (count > 1) {  // one modulus fewer, even at the largest size, does not hold the outputs
    CHECK_FALSE(plaintext_moduli_suffice(
        ranges, encoding::select_plaintext_moduli(base.n, 40, count - 1, base.q_primes)));
  }
  std::vector<uint64_t> one_bit_smaller;
  try {  // the same count one bit smaller does not hold them either (or does not exist)
    one_bit_smaller = encoding::select_plaintext_moduli(base.n, bits - 1, count);
  } catch (const std::invalid_argument&) {
  }
  if (!one_bit_smaller.empty()) CHECK_FALSE(plaintext_moduli_suffice(ranges, one_bit_smaller));

  const CompiledModel compiled = compile_model(model);
  const double budget = predict_budget_over_moduli(base, choice.plaintext_moduli, compiled);
  CHECK(choice.predicted_budget_bits == doctest::Approx(budget));
  CHECK(choice.predicted_budget_bits >= margin);
  CHECK(choice.reasoning.size() >= 5);
}

// The same parameters with the smallest q prime dropped.
yashe::Parameters one_prime_fewer(const yashe::Parameters& base) {
  yashe::Parameters smaller = base;
  smaller.q_primes.pop_back();
  return smaller;
}

}  // namespace

TEST_CASE("Predicted noise equals what an encrypted run carries and bounds the measured noise") {
  // A small network of the CryptoNets family at the paper's sizes: 8×8 images, conv 5×5 stride 2
  // with 2 maps, square, dense 18 → 8, square, dense 8 → 4; n = 8192, q = 7 × 55 bits, 40-bit t.
  std::mt19937_64 rng(81);
  const Model model = random_small_cryptonets_model(rng, 8, 2, 8, 4, 15, 16);
  const CompiledModel compiled = compile_model(model);
  yashe::Parameters params = paper_scale_parameters();
  const NoisePrediction prediction = predict_network_noise(params, compiled);
  REQUIRE(prediction.noise_log2_after_step.size() == compiled.steps.size());

  auto context = Context::create(params);
  Prng prng = Prng::insecure_seeded(82);
  const KeySet keys = generate_keys(context, prng);
  const Encryptor encryptor(context, keys.public_key);
  const Decryptor decryptor(context, keys.secret_key);
  const Evaluator evaluator(context, keys.evaluation_key);
  const encoding::BatchEncoder encoder(context);

  const auto images = random_images(rng, model, 64);
  std::vector<Ciphertext> inputs;
  for (size_t j = 0; j < compiled.input_size; ++j) {
    std::vector<int64_t> slots;
    for (const auto& image : images)
      slots.push_back(image[j]);
    inputs.push_back(encryptor.encrypt(encoder.encode(slots), prng));
  }

  std::vector<double> carried, measured;  // per step: worst carried estimate, least budget
  EncryptedArithmetic arithmetic(evaluator, 2);
  const std::vector<Ciphertext> outputs =
      evaluate(compiled, inputs, arithmetic, [&](size_t, const std::vector<Ciphertext>& values) {
        double worst = -1e300, least = 1e300;
        for (const Ciphertext& c : values) {
          worst = std::max(worst, c.noise_log2);
          least = std::min(least, decryptor.invariant_noise_budget(c));
        }
        carried.push_back(worst);
        measured.push_back(least);
      });
  REQUIRE(carried.size() == compiled.steps.size());

  for (size_t step = 0; step < carried.size(); ++step) {
    CAPTURE(step);
    // The prediction walks the same formulas as the evaluator and the fused kernel.
    CHECK(prediction.noise_log2_after_step[step] == doctest::Approx(carried[step]).epsilon(1e-9));
    const double predicted_budget =
        yashe::NoiseModel::budget_bits(prediction.noise_log2_after_step[step]);
    INFO("step " << step << ": predicted budget " << predicted_budget << ", measured "
                 << measured[step]);
    CHECK(measured[step] > 0);
    CHECK(predicted_budget <= measured[step] + 1);   // conservative
    CHECK(predicted_budget >= measured[step] - 16);  // and not wildly so
  }
  CHECK(prediction.final_budget_bits ==
        doctest::Approx(yashe::NoiseModel::budget_bits(carried.back())));
  CHECK(prediction.key_switching_bits < 0.01);  // negligible at t ≈ 2^40

  // And the run itself was right: every slot equals the plain network mod t.
  for (size_t o = 0; o < outputs.size(); ++o) {
    const std::vector<uint64_t> slots = encoder.decode_unsigned(decryptor.decrypt(outputs[o]));
    for (size_t s = 0; s < images.size(); ++s)
      CHECK(slots[s] == evaluate_modular(compiled, images[s], params.t)[o]);
  }
}

TEST_CASE("Predicted noise grows with the weights, the plaintext modulus and shrinks with q") {
  std::mt19937_64 rng(91);
  const Model light = random_small_cryptonets_model(rng, 8, 2, 8, 4, 3, 16);
  Model heavy = light;
  for (Layer& layer : heavy.layers) {  // every weight ×16: +4 bits per linear layer at least
    if (auto* dense = std::get_if<DenseLayer>(&layer.operation)) {
      for (int64_t& w : dense->weights)
        w *= 16;
    }
  }
  const yashe::Parameters params = paper_scale_parameters();
  const double light_budget = predict_network_noise(params, compile_model(light)).final_budget_bits;
  const double heavy_budget = predict_network_noise(params, compile_model(heavy)).final_budget_bits;
  CHECK(heavy_budget < light_budget - 4);

  yashe::Parameters smaller_t = params;
  smaller_t.t = encoding::select_plaintext_moduli(params.n, 30, 1, params.q_primes)[0];
  CHECK(predict_network_noise(smaller_t, compile_model(light)).final_budget_bits > light_budget);
  CHECK(predict_network_noise(one_prime_fewer(params), compile_model(light)).final_budget_bits <
        light_budget - 40);

  // An empty network leaves the fresh budget, less the one bit of the outputs' re-randomisation
  // (a fresh encryption of zero added: twice the fresh noise); invalid parameters are refused.
  const CompiledModel identity = compile_model(Model{Shape{3, 1, 1}, 16, {{FlattenLayer{}, 1}}});
  auto context = Context::create(params);
  CHECK(predict_network_noise(params, identity).final_budget_bits ==
        doctest::Approx(yashe::NoiseModel::budget_bits(yashe::NoiseModel(*context).fresh()) - 1));
  yashe::Parameters invalid = params;
  invalid.t = params.q_primes[0];
  CHECK_THROWS_AS(predict_network_noise(invalid, identity), std::invalid_argument);
}

TEST_CASE("The default preset keeps the margin on the shipped model and one prime fewer fails") {
  const Model& model = shipped_model();
  const ParameterChoice choice = preset("default", model);
  CHECK(choice.name == "default");
  check_consistent_choice(choice, model, 10);
  CHECK(choice.base.n == 8192);
  CHECK(choice.base.decomposition_bits == 0);
  for (uint64_t q : choice.base.q_primes)
    CHECK(static_cast<int>(std::bit_width(q)) == 55);
  CHECK(choice.plaintext_moduli.size() == 2);  // the model's outputs need 78 bits
  const double fewer = predict_budget_over_moduli(one_prime_fewer(choice.base),
                                                  choice.plaintext_moduli, compile_model(model));
  INFO("default: " << choice.base.q_primes.size() << " primes predict "
                   << choice.predicted_budget_bits << " bits; one fewer " << fewer);
  CHECK(fewer < 10);
  CHECK(contains(all_reasons(choice), "NOT established"));
}

TEST_CASE(
    "The paper preset is n = 8192, q of about 383 bits, the paper's t1 and t2, w = 2^32, "
    "sigma = 3.19, security not established") {
  const Model& model = shipped_model();
  const ParameterChoice choice = preset("paper", model);
  CHECK(choice.name == "paper");
  // Fixed, not minimal: the moduli are the paper's 41-bit primes, so check_consistent_choice's
  // minimality does not apply; what must hold does.
  CHECK_NOTHROW(choice.base.validate());
  CHECK(choice.base.t == choice.plaintext_moduli.front());
  for (uint64_t t : choice.plaintext_moduli) {
    CHECK(is_prime(t));
    CHECK(t % (2 * choice.base.n) == 1);
    for (uint64_t q : choice.base.q_primes)
      CHECK(std::gcd(q, t) == 1);
  }
  CHECK(plaintext_moduli_suffice(track_ranges(model), choice.plaintext_moduli));
  CHECK(choice.predicted_budget_bits >= 10);
  CHECK(choice.predicted_budget_bits ==
        predict_budget_over_moduli(choice.base, choice.plaintext_moduli, compile_model(model)));
  CHECK(choice.base.n == 8192);
  CHECK(choice.base.log2_q() > 380);
  CHECK(choice.base.log2_q() < 390);
  CHECK(choice.plaintext_moduli == std::vector<uint64_t>{1099511922689ull, 1099512004609ull});
  CHECK(choice.base.decomposition_bits == 32);
  CHECK(choice.base.sigma == 3.19);
  CHECK(choice.base.log2_q() == doctest::Approx(383.0).epsilon(0.001));
  CHECK(choice.base != preset("default", model).base);
  const yashe::SecurityReport report = yashe::assess_security(choice.base);
  CHECK(report.past_fatigue);
  CHECK_FALSE(report.established);
  const std::string text = describe(choice);
  CHECK(contains(text, "parameters 'paper'"));
  CHECK(contains(text, "2^383 - 2^33 + 1"));
  CHECK(contains(text, "NOT ESTABLISHED"));
  CHECK(contains(text, "predicted noise budget"));
  CHECK(contains(all_reasons(choice), "NOT established"));
}

TEST_CASE("Presets are listed, and an unknown preset name is refused naming the valid ones") {
  CHECK(preset_names() == std::vector<std::string>{"default", "paper", "table-bound"});
  const ParameterChoice rlwe = preset("table-bound", shipped_model());
  CHECK(rlwe.name == "table-bound");
  CHECK_THROWS_WITH_AS(preset("rlwe128", shipped_model()), doctest::Contains("table-bound"),
                       std::invalid_argument);
  CHECK(rlwe.base.n == 16384);
  CHECK(rlwe.predicted_budget_bits >= 10);
  try {
    preset("fastest", shipped_model());
    FAIL("an unknown preset must throw");
  } catch (const std::invalid_argument& e) {
    const std::string message = e.what();
    CHECK(contains(message, "fastest"));
    CHECK(contains(message, "default"));
    CHECK(contains(message, "paper"));
  }
}

TEST_CASE(
    "Security-mode selection takes the smallest n within the HE standard's bound and says "
    "it is an RLWE figure only") {
  const Model& model = shipped_model();
  const CompiledModel compiled = compile_model(model);
  const SelectionTarget target{SelectionTarget::Mode::kSecurity, 128, 10};
  const ParameterChoice choice = select_parameters(model, target);
  CHECK(choice.name == "selected");
  check_consistent_choice(choice, model, target.margin_bits);

  using yashe::Adversary;
  using yashe::SecretDistribution;
  auto bound = [](size_t n) {
    return std::min(*yashe::he_standard_max_log2_q(SecretDistribution::kGaussian,
                                                   Adversary::kClassical, 128, n),
                    *yashe::he_standard_max_log2_q(SecretDistribution::kTernary,
                                                   Adversary::kClassical, 128, n));
  };
  const size_t n = choice.base.n;
  CHECK(choice.base.log2_q() <= bound(n));
  CHECK(n == 16384);  // 2 × 39-bit t and two squares need ~340 bits of q: 8192 allows 218
  // Half the ring degree: even the largest q its bound allows is predicted to fail.
  const int half_bound = bound(n / 2);
  const size_t count = static_cast<size_t>((half_bound + 54) / 55);
  yashe::Parameters half =
      yashe::Parameters::create(n / 2, count, half_bound / static_cast<int>(count), 2);
  CHECK(half.log2_q() <= half_bound);
  const std::vector<uint64_t> half_moduli =
      encoding::select_plaintext_moduli(n / 2, 39, 2, half.q_primes);
  half.t = half_moduli[0];
  CHECK(predict_budget_over_moduli(half, half_moduli, compiled) < target.margin_bits);
  // One prime fewer at the chosen n fails too.
  CHECK(predict_budget_over_moduli(one_prime_fewer(choice.base), choice.plaintext_moduli,
                                   compiled) < target.margin_bits);

  const std::string reasons = all_reasons(choice);
  CHECK(contains(reasons, "RLWE figure only"));
  CHECK(contains(reasons, "NOT established"));
  CHECK(contains(reasons, "fatigue"));
  CHECK_FALSE(yashe::assess_security(choice.base).established);

  // Higher levels need larger rings; bad targets are refused.
  const ParameterChoice level_192 =
      select_parameters(model, {SelectionTarget::Mode::kSecurity, 192, 10});
  CHECK(level_192.base.n == 32768);
  CHECK(level_192.base.log2_q() <= 611);
  CHECK_THROWS_AS(select_parameters(model, {SelectionTarget::Mode::kSecurity, 100, 10}),
                  std::invalid_argument);
  CHECK_THROWS_AS(select_parameters(model, {SelectionTarget::Mode::kSecurity, 128, -1}),
                  std::invalid_argument);
}

TEST_CASE("Plaintext moduli: the fewest of at most 40 bits that hold the outputs") {
  std::mt19937_64 rng(101);
  // Small outputs: one small modulus.
  const Model narrow{Shape{2, 1, 1}, 1, {{DenseLayer{2, 1, {1, 1}, {0}}, 1}}};
  const ParameterChoice small = select_parameters(narrow, {SelectionTarget::Mode::kPaper, 128, 10});
  check_consistent_choice(small, narrow, 10);
  CHECK(small.plaintext_moduli.size() == 1);
  CHECK(static_cast<int>(std::bit_width(small.plaintext_moduli[0])) < 20);

  // Outputs of more than 120 bits: four moduli, and q grows to keep the margin.
  const Model wide = random_small_cryptonets_model(rng, 8, 2, 8, 4, 1 << 10, 255);
  REQUIRE(track_ranges(wide).output_bits() > 120);
  const ParameterChoice choice = select_parameters(wide, {SelectionTarget::Mode::kPaper, 128, 10});
  check_consistent_choice(choice, wide, 10);
  CHECK(choice.plaintext_moduli.size() ==
        static_cast<size_t>((track_ranges(wide).output_bits() + 39) / 40));

  // Paper mode keeps the paper's q unless the margin demands more.
  const ParameterChoice demanding =
      select_parameters(shipped_model(), {SelectionTarget::Mode::kPaper, 128, 50});
  check_consistent_choice(demanding, shipped_model(), 50);
  CHECK(demanding.base.q_primes.size() == 8);
  CHECK(contains(all_reasons(demanding), "primes were added"));
}

TEST_CASE("Smaller key-switching digits are chosen only when whole-prime digits miss the margin") {
  // Two squares of a 1-bit value: t is tiny (17 bits), so relinearisation noise is comparable
  // to the multiplication noise at the first square.
  const Model squares{Shape{1, 1, 1}, 1, {{SquareLayer{}, 1}, {SquareLayer{}, 1}}};
  const CompiledModel compiled = compile_model(squares);
  const ParameterChoice plain =
      select_parameters(squares, {SelectionTarget::Mode::kPaper, 128, 10});
  CHECK(plain.base.decomposition_bits == 0);  // the margin holds: whole-prime digits

  yashe::Parameters whole = plain.base;
  yashe::Parameters split = plain.base;
  split.decomposition_bits = 16;
  const NoisePrediction whole_prediction = predict_network_noise(whole, compiled);
  const NoisePrediction split_prediction = predict_network_noise(split, compiled);
  REQUIRE(whole_prediction.key_switching_bits > 1);
  CHECK(split_prediction.key_switching_bits < 0.01);
  REQUIRE(split_prediction.final_budget_bits > whole_prediction.final_budget_bits + 1);

  // A margin between the two: the selection keeps the paper's q and splits the digits.
  const double margin =
      (whole_prediction.final_budget_bits + split_prediction.final_budget_bits) / 2;
  const ParameterChoice choice =
      select_parameters(squares, {SelectionTarget::Mode::kPaper, 128, margin});
  check_consistent_choice(choice, squares, margin);
  CHECK(choice.base.q_primes == plain.base.q_primes);
  CHECK(choice.base.decomposition_bits > 0);
  CHECK(contains(all_reasons(choice), "digits"));
}

TEST_CASE(
    "The default parameters decrypt the shipped model on a full MNIST batch with the "
    "predicted margin" *
    doctest::test_suite("slow")) {
  const Model& model = shipped_model();
  const ParameterChoice choice = preset("default", model);
  const MnistSet test = load_mnist(repository_root() / "data/mnist", MnistSplit::kTest);
  const size_t count = choice.base.n;  // a full batch: one image per slot
  const auto images = quantised_mnist_images(model, test, count);
  Prng prng = Prng::insecure_seeded(111);
  const encoding::CrtKeys keys =
      encoding::CrtKeys::generate(choice.base, choice.plaintext_moduli, prng);
  const encoding::CrtEncryptionSet server(keys);
  const encoding::CrtDecryptionSet client(keys);
  const CompiledModel compiled = compile_model(model);
  InferenceOptions options;
  options.threads = 2;
  const EncryptedBatch scores =
      infer(server, compiled, encrypt_batch(server, model, images, prng, 2), options);

  double measured = 1e300, carried = -1e300;
  for (size_t o = 0; o < scores.values[0].size(); ++o) {
    encoding::CrtCiphertext output;
    for (const auto& per_modulus : scores.values)
      output.push_back(per_modulus[o]);
    measured = std::min(measured, client.noise_budget(output));
    for (const auto& c : output)
      carried = std::max(carried, c.noise_log2);
  }
  MESSAGE("default preset on " << count << " MNIST images: predicted budget "
                               << choice.predicted_budget_bits << " bits, measured " << measured);
  CHECK(yashe::NoiseModel::budget_bits(carried) == doctest::Approx(choice.predicted_budget_bits));
  CHECK(measured >= choice.predicted_budget_bits - 1);
  CHECK(measured >= 10);

  const auto decrypted = decrypt_scores(client, scores, track_ranges(model).output().bound);
  CHECK(decrypted == plain_scores(compiled, images, 2));
}

TEST_CASE("BFV parameters for the shipped model: n = 8192 inside the 128-bit ternary bound") {
  const BfvParameterChoice choice = select_bfv_parameters(shipped_model());
  CHECK(choice.name == "bfv");
  CHECK(choice.base.n == 8192);
  CHECK(choice.base.log2_q() <= 218);
  CHECK(choice.base.log2_q() > 217.5);
  CHECK(choice.base.q_primes.size() == 4);
  CHECK(choice.plaintext_moduli.size() == 2);
  CHECK(choice.predicted_budget_bits >= 10);
  // The prediction is the one predict_network_noise gives for each modulus.
  bfv::Parameters with_t = choice.base;
  double worst = 1e9;
  for (uint64_t t : choice.plaintext_moduli) {
    with_t.t = t;
    worst = std::min(
        worst, predict_network_noise(with_t, compile_model(shipped_model())).final_budget_bits);
  }
  CHECK(choice.predicted_budget_bits == doctest::Approx(worst));
  const std::string text = describe(choice);
  CHECK(text.find("circular security of the relinearisation key") != std::string::npos);
  CHECK(text.find("128-bit classical per the HE standard") != std::string::npos);
  // A margin no parameter set keeps is refused, naming what each ring degree left.
  CHECK_THROWS_WITH_AS(select_bfv_parameters(shipped_model(), 1e6),
                       doctest::Contains("no ring degree up to 32768"), std::runtime_error);
}

TEST_CASE("A degree-3 polynomial model is refused for encryption, saying what it would need") {
  std::mt19937_64 rng(3);
  const Model model = with_polynomial_activations(
      random_small_cryptonets_model(rng, 12, 3, 12, 10, 3, 4), {{1, 2, 0, -1}});
  const std::string requirement = cryptonets::inference::encrypted_degree_three_requirement(model);
  CAPTURE(requirement);
  // Numbered from 1, as the stage table and the encrypted runtime's own refusal number it.
  CHECK(requirement.find("layer 2 (poly) has degree 3") == 0);
  CHECK(requirement.find("second ciphertext multiplication") != std::string::npos);
  CHECK(requirement.find("bits of noise budget") != std::string::npos);
  CHECK(requirement.find("keeping the 10-bit margin takes") != std::string::npos);
  CHECK(requirement.find("BFV (n = 8192") != std::string::npos);
  CHECK_THROWS_WITH_AS(preset("default", model), doctest::Contains("has degree 3"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(select_bfv_parameters(model), doctest::Contains("has degree 3"),
                       std::invalid_argument);
  // The keyless prediction itself cannot run the cubic step either.
  CHECK_THROWS_AS(predict_network_noise(paper_scale_parameters(), compile_model(model)),
                  std::invalid_argument);
  // The same network with a degree-2 activation there needs no such text.
  const Model quadratic = with_polynomial_activations(
      random_small_cryptonets_model(rng, 12, 3, 12, 10, 3, 4), {{1, 2, -1}});
  CHECK(cryptonets::inference::encrypted_degree_three_requirement(quadratic).empty());
}
