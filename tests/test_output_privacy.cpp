// What the server's outputs reveal (issue 14): no output can be read without the secret key, no
// output carries the computation in clear, equal computations give unrelated ciphertexts, noise
// flooding (circuit privacy) costs what the noise model says, and a model too deep for the keys
// is refused before any work.
#include <doctest/doctest.h>

#include <cmath>
#include <sstream>

#include "cryptonets/encoding/plaintext_crt.hpp"
#include "cryptonets/inference/encrypted_arithmetic.hpp"
#include "cryptonets/inference/parameter_selection.hpp"
#include "cryptonets/inference/private_inference.hpp"
#include "cryptonets/io/inspect.hpp"
#include "cryptonets/io/model_file.hpp"
#include "cryptonets/io/model_profile.hpp"
#include "cryptonets/io/serialize.hpp"
#include "cryptonets/model/range.hpp"
#include "cryptonets/yashe/encryptor.hpp"
#include "cryptonets/yashe/evaluator.hpp"
#include "file_test_support.hpp"
#include "nn_test_support.hpp"
#include "yashe_test_support.hpp"

using cryptonets::inference::decrypt_scores;
using cryptonets::inference::encrypt_batch;
using cryptonets::inference::EncryptedBatch;
using cryptonets::inference::flooding_cost_bits;
using cryptonets::inference::fused_linear_combinations;
using cryptonets::inference::infer;
using cryptonets::inference::InferenceOptions;
using cryptonets::inference::ParameterChoice;
using cryptonets::inference::plain_scores;
using cryptonets::inference::predict_budget_over_moduli;
using cryptonets::inference::predict_network_noise;
using cryptonets::inference::preset;
using cryptonets::inference::SelectionTarget;
using cryptonets::inference::StageReport;
using cryptonets::model::compile_model;
using cryptonets::model::CompiledModel;
using cryptonets::model::DenseLayer;
using cryptonets::model::LinearMap;
using cryptonets::model::Model;
using cryptonets::model::Shape;
using cryptonets::model::track_ranges;

using namespace test_support;
using encoding::CrtDecryptionSet;
using encoding::CrtEncryptionSet;
using encoding::CrtKeys;

namespace {

constexpr int64_t kBias = 12345;

// The attack of issue 14 on one coefficient: round(t·c_j/q) mod t, centred, with no key at all.
// For a transparent ciphertext Δ·m + small it is m_j.
int64_t keyless_read(const Context& context, const Ciphertext& ct, size_t j) {
  const mpz_class c = context.q_base().compose(ct.parts[0].data().data() + j, context.n());
  const mpz_class t = context.parameters().t;
  const mpz_class& q = context.q();
  mpz_class m = (2 * t * c + q) / (2 * q);  // round(t·c/q) for c >= 0
  m %= t;
  if (m > t / 2) m -= t;
  return m.get_si();
}

// Inputs 1x4x4; output 0 has all-zero weights and bias 12345, output 1 sums the inputs, outputs 2
// and 3 have the same weights.
Model zero_row_model() {
  DenseLayer dense;
  dense.inputs = 16;
  dense.outputs = 4;
  dense.weights.assign(64, 0);
  for (size_t j = 0; j < 16; ++j) {
    dense.weights[16 + j] = 1;
    dense.weights[32 + j] = static_cast<int64_t>(j) - 7;
    dense.weights[48 + j] = static_cast<int64_t>(j) - 7;
  }
  dense.bias = {kBias, 0, 3, 3};
  return Model{Shape{1, 4, 4}, 16, {{dense, 1.0}}};
}

CrtKeys small_keys(size_t n, size_t primes, int t_bits, Prng& prng) {
  const Parameters base = Parameters::create(n, primes, 55, 3);
  const std::vector<uint64_t> moduli =
      encoding::select_plaintext_moduli(n, t_bits, 1, base.q_primes);
  Parameters with_t = base;
  with_t.t = moduli[0];
  return CrtKeys::generate(with_t, moduli, prng);
}

}  // namespace

TEST_CASE("A dense row of zero weights with a bias gives an output that needs the secret key") {
  Prng prng = Prng::insecure_seeded(141);
  const CrtKeys keys = small_keys(256, 3, 20, prng);
  const CrtEncryptionSet server(keys);
  const CrtDecryptionSet client(keys);
  const Model model = zero_row_model();
  std::mt19937_64 rng(142);
  const auto images = random_images(rng, model, 9);
  EncryptedBatch scores = infer(server, compile_model(model),
                                encrypt_batch(server, model, images, prng, 1), InferenceOptions{});
  const Context& context = *keys.contexts[0];
  const Ciphertext& row = scores.values[0][0];
  // Before re-randomisation the constant term read exactly 12345 (issue 14); now no coefficient
  // reads as the message, and the keyless detector agrees.
  size_t exposed = 0;
  for (size_t j = 0; j < context.n(); ++j)
    exposed += keyless_read(context, row, j) == (j == 0 ? kBias : 0);
  CHECK(exposed < 4);  // chance hits only: each is 1 in t ≈ 2^20
  CHECK_FALSE(row.transparent);
  CHECK_FALSE(readable_without_secret_key(context, row));
  // And it still decrypts to the right scores.
  const auto decrypted = decrypt_scores(client, scores, track_ranges(model).output().bound);
  const auto plain = plain_scores(compile_model(model), images, 1);
  CHECK(decrypted == plain);
}

TEST_CASE("Ciphertexts without encryption randomness are tracked, detected and have no budget") {
  SchemeFixture f(Parameters::create(256, 3, 55, 1 << 16 | 1), 143);
  const Ciphertext fresh = f.encrypt(f.random());
  CHECK_FALSE(fresh.transparent);
  CHECK_FALSE(readable_without_secret_key(*f.context, fresh));

  // Every way to lose the randomness: a zero weight, a zero plaintext, a linear combination
  // without terms, then a constant added or a product of such values.
  Ciphertext zero = fresh;
  f.evaluator.multiply_scalar_inplace(zero, 0);
  CHECK(zero.transparent);
  Ciphertext zero_plain = fresh;
  Plaintext nothing;
  nothing.coeffs.assign(f.context->n(), 0);
  f.evaluator.multiply_plain_inplace(zero_plain, nothing);
  CHECK(zero_plain.transparent);
  LinearMap empty_row;
  empty_row.inputs = 1;
  empty_row.outputs = 1;
  empty_row.row_begin = {0, 0};
  empty_row.bias = {0};
  const std::vector<Ciphertext> inputs = {fresh};
  CHECK(fused_linear_combinations(f.evaluator, empty_row, inputs, 1)[0].transparent);
  f.evaluator.add_scalar_inplace(zero, kBias);
  CHECK(zero.transparent);
  CHECK(keyless_read(*f.context, zero, 0) == kBias);  // the leak itself
  CHECK(f.evaluator.multiply(zero, zero).transparent);
  Ciphertext mixed = zero;
  f.evaluator.add_inplace(mixed, fresh);
  CHECK_FALSE(mixed.transparent);  // a real encryption among the terms: randomness again

  // The detector finds a transparent ciphertext whose flag was lost (e.g. read from a file).
  Ciphertext unflagged = zero;
  unflagged.transparent = false;
  CHECK(readable_without_secret_key(*f.context, unflagged));

  // A transparent ciphertext has no noise budget to report (it would look fresh or better).
  CHECK_THROWS_AS(f.decryptor.invariant_noise_budget(zero), std::invalid_argument);

  // Re-randomisation makes it a real ciphertext of the same message, within the noise model.
  f.encryptor.rerandomize_inplace(unflagged, f.prng);
  CHECK_FALSE(unflagged.transparent);
  CHECK_FALSE(readable_without_secret_key(*f.context, unflagged));
  CHECK(f.decryptor.decrypt(unflagged).coeffs[0] == static_cast<uint64_t>(kBias));
  const double budget = f.decryptor.invariant_noise_budget(unflagged);
  CHECK(budget >= NoiseModel::budget_bits(unflagged.noise_log2));
}

TEST_CASE("Scores carry nothing of the model in clear and equal rows give unrelated ciphertexts") {
  Prng prng = Prng::insecure_seeded(144);
  const CrtKeys keys = small_keys(256, 3, 20, prng);
  const CrtEncryptionSet server(keys);
  const Model model = zero_row_model();
  std::mt19937_64 rng(145);
  const auto images = random_images(rng, model, 5);
  const EncryptedBatch scores =
      infer(server, compile_model(model), encrypt_batch(server, model, images, prng, 1),
            InferenceOptions{});
  // Outputs 2 and 3: the same weights and bias on the same inputs.
  CHECK(scores.values[0][2].parts[0] != scores.values[0][3].parts[0]);

  // The serialised record holds degree, form and the polynomial only: two ciphertexts that
  // differ only in their (model-dependent) noise estimate give the same bytes.
  const Context& context = *keys.contexts[0];
  Ciphertext a = scores.values[0][1];
  Ciphertext b = a;
  a.noise_log2 = -60;
  b.noise_log2 = -20;
  std::ostringstream out_a, out_b;
  write_ciphertexts(out_a, context, {a});
  write_ciphertexts(out_b, context, {b});
  CHECK(out_a.str() == out_b.str());
  CHECK(out_a.str().size() == ciphertext_batch_bytes(context, 1));
}

TEST_CASE("Noise flooding: what it costs, refused where the keys leave no room, exact otherwise") {
  // The cost at the default sizes (n = 8192, t ≈ 2^39, σ = 3.2) for 2^-40: λ + log2 n +
  // log2(6·t·sqrt(n·(2/3 + σ²)/3)) ≈ 40 + 13 + 2.6 + 39 + 7.4.
  Parameters big = Parameters::create(8192, 7, 55, (uint64_t{1} << 39) + 1);
  CHECK(flooding_cost_bits(big, 40) == doctest::Approx(102).epsilon(0.02));
  // The same as the noise model's flooding formulas, which need a context.
  const yashe::NoiseModel model_noise(*Context::create(big));
  CHECK(flooding_cost_bits(big, 40) ==
        doctest::Approx(model_noise.flooding_noise(model_noise.flooding_width_log2(-50, 40)) + 50));

  Prng prng = Prng::insecure_seeded(146);
  const Model model = zero_row_model();
  const CompiledModel compiled = compile_model(model);
  std::mt19937_64 rng(147);
  const auto images = random_images(rng, model, 7);

  // Two primes: room for the network but not for flooding to 2^-40.
  const CrtKeys tight = small_keys(256, 2, 20, prng);
  REQUIRE(predict_network_noise(tight.contexts[0]->parameters(), compiled).final_budget_bits > 1);
  REQUIRE(predict_network_noise(tight.contexts[0]->parameters(), compiled, 40).final_budget_bits <
          1);
  InferenceOptions flooded;
  flooded.circuit_privacy_bits = 40;
  try {
    infer(CrtEncryptionSet(tight), compiled,
          encrypt_batch(CrtEncryptionSet(tight), model, images, prng, 1), flooded);
    FAIL("flooding without room must be refused");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find("circuit privacy at 2^-40 costs") != std::string::npos);
    CHECK(std::string(e.what()).find("keygen --circuit-privacy 40") != std::string::npos);
  }

  // Four primes: flooded outputs still decrypt exactly, with about the predicted budget left.
  const CrtKeys roomy = small_keys(256, 4, 20, prng);
  const CrtEncryptionSet server(roomy);
  const CrtDecryptionSet client(roomy);
  const EncryptedBatch scores =
      infer(server, compiled, encrypt_batch(server, model, images, prng, 1), flooded);
  CHECK(decrypt_scores(client, scores, track_ranges(model).output().bound) ==
        plain_scores(compiled, images, 1));
  const double predicted =
      predict_network_noise(roomy.contexts[0]->parameters(), compiled, 40).final_budget_bits;
  for (size_t o = 0; o < scores.values[0].size(); ++o) {
    const double measured = client.decryptor(0).invariant_noise_budget(scores.values[0][o]);
    CHECK(measured >= predicted);  // the model bounds the noise from above
    // Flooding did cost its bits. Output 0 (no terms) had no noise from the computation to hide:
    // a fresh encryption of zero suffices there.
    if (o != 0) CHECK(measured <= predicted + 12);
  }
}

TEST_CASE("A model deeper than the keys' noise budget is refused before any work") {
  Prng prng = Prng::insecure_seeded(148);
  std::mt19937_64 rng(149);
  const Model model = random_small_cryptonets_model(rng, 12, 3, 12, 10, 15, 16);
  const CompiledModel compiled = compile_model(model);
  const size_t n = 256;
  const Parameters base = Parameters::create(n, 3, 55, 3);
  const std::vector<uint64_t> moduli = encoding::select_plaintext_moduli(n, 36, 2, base.q_primes);
  Parameters with_t = base;
  with_t.t = moduli[0];
  const CrtKeys keys = CrtKeys::generate(with_t, moduli, prng);
  const CrtEncryptionSet server(keys);
  REQUIRE(predict_budget_over_moduli(with_t, moduli, compiled) < 1);
  InferenceOptions options;
  size_t stages = 0;
  options.observe = [&](const StageReport&) { ++stages; };
  try {
    infer(server, compiled, encrypt_batch(server, model, random_images(rng, model, 3), prng, 1),
          options);
    FAIL("a model too deep for the keys must be refused");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find("the model is too deep for these keys") != std::string::npos);
    CHECK(std::string(e.what()).find("nothing was computed") != std::string::npos);
  }
  CHECK(stages == 0);  // no layer ran
}

TEST_CASE("The model profile holds no weights: reordered weights give the same profile") {
  std::mt19937_64 rng(150);
  const Model model = random_small_cryptonets_model(rng, 12, 3, 12, 10, 15, 16);
  // The same network with the last layer's rows 0 and 1 (weights and bias) exchanged: other
  // weights in every position of those rows, the same outputs up to their order.
  Model reordered = model;
  auto& dense = std::get<DenseLayer>(reordered.layers.back().operation);
  for (int64_t j = 0; j < dense.inputs; ++j)
    std::swap(dense.weights[static_cast<size_t>(j)],
              dense.weights[static_cast<size_t>(dense.inputs + j)]);
  std::swap(dense.bias[0], dense.bias[1]);
  REQUIRE(reordered != model);

  const ModelProfile profile = make_profile(model);
  std::ostringstream text, reordered_text;
  write_profile(profile, text);
  write_profile(make_profile(reordered), reordered_text);
  CHECK(text.str() == reordered_text.str());

  // What it holds: the shapes, the output bound and the presets' parameters, nothing else.
  CHECK(profile.input_shape == model.input_shape);
  CHECK(profile.outputs == 10);
  CHECK(profile.output_bound == track_ranges(model).output().bound);
  CHECK(profile.input_model().layers.empty());
  CHECK(profile.preset("default").base == preset("default", model).base);
  std::istringstream in(text.str());
  CHECK(read_profile(in, "text") == profile);

  // Made for circuit privacy, every preset has room for the flooding: more primes, and at least
  // the margin left after flooding to 2^-40.
  const ModelProfile flooded = make_profile(model, 40);
  CHECK(flooded.circuit_privacy_bits == 40);
  for (const ParameterChoice& choice : flooded.presets) {
    CHECK(choice.base.q_primes.size() > profile.preset(choice.name).base.q_primes.size());
    CHECK(predict_budget_over_moduli(choice.base, choice.plaintext_moduli, compile_model(model),
                                     40) >= SelectionTarget{}.margin_bits);
  }

  // A model file in place of a profile is named as such.
  std::ostringstream model_text;
  model_text << "cryptonets-model 1\n";
  std::istringstream model_in(model_text.str());
  CHECK_THROWS_WITH_AS(read_profile(model_in, "m.txt"),
                       doctest::Contains("a model file, not a profile"), std::runtime_error);
}

TEST_CASE("Binary data in a profile is named by its kind and column, never by its value") {
  // Quoted as a value, the NUL ended the message there: "got '1"; quoted as the line, a secret
  // key's bytes up to its first 0x0a were printed (a trial).
  using namespace std::string_literals;
  std::istringstream in("cryptonets-profile "s + std::to_string(cryptonets::kModelProfileVersion) +
                        "\ninput channels 1 height 28 width 28 scale 16\noutputs 1\0"s + "2\n");
  CHECK_THROWS_WITH_AS(read_profile(in, "p"),
                       "profile 'p' line 3: found binary data (not text): a control byte at "
                       "column 10, which no text format holds",
                       std::runtime_error);
  std::istringstream alone("\0"s + "\n");
  CHECK_THROWS_WITH_AS(read_profile(alone, "p"),
                       "profile 'p' line 1: found binary data (not text): a control byte at "
                       "column 1, which no text format holds",
                       std::runtime_error);
  std::istringstream control(
      "CNPF\x06secret\x84"
      "bytes\n");
  CHECK_THROWS_WITH_AS(read_profile(control, "p"),
                       "profile 'p' line 1: found binary data (not text): a control byte at "
                       "column 5, which no text format holds",
                       std::runtime_error);
  // A long value is cut in the message, not printed whole.
  std::istringstream long_value("cryptonets-profile "s + std::string(100000, '9') + "\n");
  try {
    read_profile(long_value, "p");
    FAIL("a profile of a 100000-digit version was read");
  } catch (const std::runtime_error& error) {
    CHECK(std::string(error.what()).size() < 200);
  }
  // A short word of bytes that are not UTF-8 (no control byte) is named as binary, not printed.
  std::istringstream high_bytes("cryptonets-profile \x89\xb5\xa8\xfe\n");
  CHECK_THROWS_WITH_AS(read_profile(high_bytes, "p"),
                       doctest::Contains("profile format version binary data (not text)"),
                       std::runtime_error);
}

// inspect reads a text file up to its first byte that no text format holds; the readers read it
// line by line. Both classify bytes alike (first_binary_byte): a control byte in a '#' comment was
// taken by the readers and refused by inspect. Each input below is refused by both or by neither,
// a refusal naming the byte's line and column, never its value ("byte 622 is 0x12" was printed).
TEST_CASE("inspect and the profile and model readers refuse the same binary bytes, by position") {
  std::mt19937_64 rng(151);
  const Model model = random_small_cryptonets_model(rng, 12, 3, 12, 10, 15, 16);
  std::ostringstream profile_text, model_text;
  write_profile(make_profile(model), profile_text);
  write_model(model, model_text);
  // `text` with a comment as its line 2 and `byte` inserted at (line, column), both 1-based.
  const auto altered = [](const std::string& text, size_t line, size_t column, char byte) {
    std::string out = text;
    out.insert(out.find('\n') + 1, "# a comment line\n");
    size_t at = 0;
    for (size_t i = 1; i < line; ++i)
      at = out.find('\n', at) + 1;
    out.insert(at + column - 1, 1, byte);
    return out;
  };
  struct Case {
    size_t line, column;
    char byte;
    bool binary;
  };
  const Case cases[] = {{2, 5, '\x12', true}, {2, 3, '\x7f', true}, {2, 17, '\0', true},
                        {3, 3, '\x06', true}, {3, 1, '\x1b', true}, {2, 5, '\xff', false},
                        {2, 5, '\v', false}};
  TempDir dir("cryptonets-binary-lines");
  const std::string path = dir.file("file.txt");
  for (const bool profile : {true, false}) {
    for (const Case& c : cases) {
      CAPTURE(profile);
      CAPTURE(c.line);
      CAPTURE(c.column);
      CAPTURE(static_cast<int>(static_cast<unsigned char>(c.byte)));
      write_bytes(path,
                  altered((profile ? profile_text : model_text).str(), c.line, c.column, c.byte));
      const std::string reader = error_of([&] {
        if (profile)
          load_profile(path);
        else
          load_model(path);
      });
      std::string inspected = error_of([&] {
        const FileInspection report = inspect_file(path);
        for (const std::string& problem : report.problems)
          throw std::runtime_error(problem);
      });
      CHECK(reader.empty() != c.binary);
      CHECK(inspected.empty() != c.binary);
      if (!c.binary) continue;
      const std::string line = "line " + std::to_string(c.line);
      const std::string column = "column " + std::to_string(c.column);
      CHECK(contains(reader, line + ": found binary data (not text): a control byte at " + column));
      CHECK(contains(inspected, "(" + line + ", " + column + ")"));
      for (const std::string& message : {reader, inspected})
        CHECK_FALSE(contains(message, "0x"));
    }
  }
  // After 'end', in a comment: the readers took it, inspect called it trailing bytes.
  for (const bool profile : {true, false}) {
    CAPTURE(profile);
    write_bytes(path, (profile ? profile_text : model_text).str() + "# after \x01 end\n");
    CHECK(contains(error_of([&] {
                     if (profile)
                       load_profile(path);
                     else
                       load_model(path);
                   }),
                   "unexpected content after 'end'"));
    CHECK_FALSE(inspect_file(path).problems.empty());
  }
}
