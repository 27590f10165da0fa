// Example 6: CryptoNets layer by layer (Gilad-Bachrach et al., ICML 2016, §4 and Table 1).
//
// The shipped integer model (data/model.txt) is the CryptoNets MNIST network with its linear
// layers merged: conv 5x5 stride 2 (845 outputs) -> square -> pool+conv+dense merged (100) ->
// square -> dense (10 scores). Images travel one per slot; each model input (a pixel position)
// is one ciphertext per plaintext modulus. We run the network on encrypted images and, after
// every layer, decrypt a few values and compare them with the plain integer network's.
//
// usage: 6_cryptonets_layer_by_layer DATA_DIR   (DATA_DIR holds model.txt and mnist/)
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "cryptonets/arith/wide_integer.hpp"
#include "cryptonets/encoding/plaintext_crt.hpp"
#include "cryptonets/inference/encrypted_arithmetic.hpp"
#include "cryptonets/inference/parameter_selection.hpp"
#include "cryptonets/inference/private_inference.hpp"
#include "cryptonets/io/idx.hpp"
#include "cryptonets/io/model_file.hpp"
#include "cryptonets/model/layers.hpp"
#include "cryptonets/model/range.hpp"
#include "cryptonets/random/chacha20.hpp"
#include "cryptonets/yashe/key_generator.hpp"
#include "example_support.hpp"
#include "lesson.hpp"

using cryptonets::inference::decrypt_scores;
using cryptonets::inference::encrypt_batch;
using cryptonets::inference::EncryptedArithmetic;
using cryptonets::inference::EncryptedBatch;
using cryptonets::inference::ParameterChoice;
using cryptonets::inference::predicted_labels;
using cryptonets::inference::preset;
using cryptonets::model::centred_bits;
using cryptonets::model::compile_model;
using cryptonets::model::CompiledModel;
using cryptonets::model::evaluate;
using cryptonets::model::LinearMap;
using cryptonets::model::LinearTerm;
using cryptonets::model::Model;
using cryptonets::model::PlainIntegers;
using cryptonets::model::RangeReport;
using cryptonets::model::track_ranges;

using namespace cryptonets;
using lesson::claim;
using lesson::say;

namespace {

constexpr size_t kImages = 4;  // a few images: the lesson is the layers, not the throughput
constexpr size_t kShown = 3;   // values shown per layer

// The value x (any size) modulo t, in [0, t).
uint64_t residue(i128 x, uint64_t t) {
  i128 r = x % static_cast<i128>(t);
  if (r < 0) r += static_cast<i128>(t);
  return static_cast<uint64_t>(r);
}

// The lesson on the model and images of `data`.
int run(const std::string& data) {
  lesson::title("6. CryptoNets layer by layer");
  const Model model = load_model(data + "/model.txt");
  const CompiledModel compiled = compile_model(model);
  const RangeReport ranges = track_ranges(model);
  const MnistImages mnist = read_mnist_images(data + "/mnist/t10k-images-idx3-ubyte.gz");
  const auto images = quantised_images(model, mnist, 0, kImages);
  say("model: %zu inputs -> %zu steps -> %zu scores; worst-case scores need %d bits",
      compiled.input_size, compiled.steps.size(), compiled.output_size,
      centred_bits(ranges.output().bound));

  // The plain integer network, layer by layer: what the encrypted one must reproduce.
  std::vector<std::vector<std::vector<i128>>> plain(kImages);  // [image][step][value]
  for (size_t s = 0; s < kImages; ++s) {
    PlainIntegers arithmetic;
    std::vector<i128> input(images[s].begin(), images[s].end());
    evaluate(compiled, std::move(input), arithmetic,
             [&](size_t, const std::vector<i128>& values) { plain[s].push_back(values); });
  }

  lesson::title("6.1 INSECURE toy ring: n = 256 slots, the default preset's q and moduli");
  say("Only n is made small (256 instead of 8192): the primes of q and the plaintext moduli are");
  say("the real ones, so the values are those of the real run; the noise is somewhat smaller");
  say("(it grows with n), and there is no security at all.");
  ParameterChoice choice = preset("default", model);
  yashe::Parameters params = choice.base;
  params.n = 256;  // INSECURE: a test-only ring; the primes are also = 1 mod 512
  say("%s", params.describe().c_str());
  Prng prng = Prng::insecure_seeded(6);  // INSECURE: reproducible lesson
  const encoding::CrtKeys keys = encoding::CrtKeys::generate(params, choice.plaintext_moduli, prng);
  const encoding::CrtEncryptionSet server(keys);
  const encoding::CrtDecryptionSet client(keys);
  EncryptedBatch batch = encrypt_batch(server, model, images, prng, 1);
  say("client: %zu images -> %zu ciphertexts per modulus (one per pixel), %zu moduli", kImages,
      batch.values[0].size(), batch.values.size());

  bool every_layer_matches = true, budget_positive = true;
  for (size_t i = 0; i < server.size(); ++i) {
    const uint64_t t = server.encoder(i).plain_modulus();
    say("\nserver, plaintext modulus t_%zu = %llu (no secret key on this side):", i + 1,
        static_cast<unsigned long long>(t));
    EncryptedArithmetic arithmetic(server.evaluator(i), 1);
    size_t step = 0;
    auto observe = [&](size_t layer, const std::vector<yashe::Ciphertext>& values) {
      // Client-side diagnostics: decrypt the first values of this layer for the first images.
      const yashe::Decryptor& decryptor = client.decryptor(i);
      bool matches = true;
      std::string shown;
      for (size_t v = 0; v < kShown; ++v) {
        const yashe::Plaintext plaintext = decryptor.decrypt(values[v]);
        const std::vector<uint64_t> slots = server.encoder(i).decode_unsigned(plaintext);
        for (size_t s = 0; s < kImages; ++s)
          matches &= slots[s] == residue(plain[s][step][v], t);
        // Shown centred in (-t/2, t/2]: the integer itself while it is below t/2.
        shown +=
            std::to_string(server.encoder(i).decode(plaintext)[0]) + (v + 1 < kShown ? ", " : "");
      }
      const double budget = decryptor.invariant_noise_budget(values[0]);
      budget_positive &= budget > 0;
      say("  layer %zu %-7s %4zu ciphertexts (degree %d)  image 0: %s ... budget %5.1f bits  %s",
          layer + 1, compiled.steps[step].layer_name.c_str(), values.size(), values[0].degree,
          shown.c_str(), budget, matches ? "= plain mod t" : "DIFFERS");
      every_layer_matches &= matches;
      ++step;
    };
    batch.values[i] = evaluate(compiled, std::move(batch.values[i]), arithmetic, observe);
    arithmetic.relinearize_all(batch.values[i]);
  }
  claim(every_layer_matches,
        "after every layer the decrypted values equal the plain integer network's, mod each t_i");
  claim(budget_positive, "noise budget is left after every layer");

  const auto scores = decrypt_scores(client, batch, ranges.output().bound);
  bool exact = true;
  for (size_t s = 0; s < kImages; ++s) {
    for (size_t c = 0; c < compiled.output_size; ++c)
      exact &= scores[s][c] == to_mpz(plain[s].back()[c]);
  }
  say("\nclient: CRT over both moduli -> exact scores; image 0: %s",
      example::show(scores[0], 10).c_str());
  claim(exact, "the recombined scores of all " + std::to_string(kImages) +
                   " images equal the plain integer network's exactly");
  const std::vector<int> labels = predicted_labels(scores);
  say("predicted labels: %s", example::show(labels, kImages).c_str());

  lesson::title("6.2 The real size, n = 8192: one path through the network");
  say("A full encrypted run at n = 8192 takes seconds per layer (cryptonets mnist does it); here");
  say("one output of the first layer: 25 encrypted pixels -> weighted sum + bias -> square.");
  const yashe::Parameters real = choice.base;
  const auto context = yashe::Context::create(real);
  const yashe::KeySet real_keys = yashe::generate_keys(context, prng);
  const yashe::Encryptor encryptor(context, real_keys.public_key);
  const yashe::Decryptor decryptor(context, real_keys.secret_key);
  const yashe::Evaluator evaluator(context, real_keys.evaluation_key);
  const encoding::BatchEncoder encoder(context);
  const LinearMap& conv = compiled.steps[0].map;
  const size_t output = 7 * 13 + 6;  // an output of the first map near the image centre
  // Only the pixels this output reads are encrypted; the terms are renumbered to match.
  std::vector<yashe::Ciphertext> pixels;
  std::vector<LinearTerm> terms;
  for (const LinearTerm& term : conv.terms_of(output)) {
    std::vector<int64_t> slots(kImages);
    for (size_t s = 0; s < kImages; ++s)
      slots[s] = images[s][term.input];
    terms.push_back({static_cast<uint32_t>(pixels.size()), term.weight});
    pixels.push_back(encryptor.encrypt(encoder.encode(slots), prng));
  }
  EncryptedArithmetic arithmetic(evaluator, 1);
  yashe::Ciphertext y = arithmetic.multiply_accumulate(pixels, terms);
  arithmetic.add_constant(y, conv.bias[output]);
  arithmetic.square(y);
  const std::vector<uint64_t> got = encoder.decode_unsigned(decryptor.decrypt(y));
  bool path_exact = true;
  for (size_t s = 0; s < kImages; ++s)
    path_exact &= got[s] == residue(plain[s][1][output], real.t);
  say("%zu encrypted pixels, conv output %zu squared, image 0: %llu (mod t); budget left %.1f "
      "bits",
      conv.terms_of(output).size(), output, static_cast<unsigned long long>(got[0]),
      decryptor.invariant_noise_budget(y));
  claim(path_exact,
        "at n = 8192 the squared convolution output equals the plain network's (mod t)");
  return lesson::finish();
}

}  // namespace

int main(int argc, char** argv) {
  // A DATA_DIR that is no directory: a usage error, exit 2.
  const std::string data = lesson::directory_argument(argc, argv, "DATA_DIR");
  // A DATA_DIR without model.txt or mnist/ is an error, exit 1 (it ended in std::terminate's
  // abort, exit 134, after "terminate called after throwing ..."; a trial).
  try {
    return run(data);
  } catch (const std::exception& error) {
    std::fflush(stdout);
    std::fprintf(stderr, "%s: error: %s (DATA_DIR is the repository's data directory)\n", argv[0],
                 error.what());
    return 1;
  }
}
