// One batch of the network under chosen plaintext moduli and q, for bench/results/levers.md
// (issue 16, "evaluate the other levers"): per-stage wall and process CPU time, predicted and
// measured noise budget (measured with the secret key, as `cryptonets mnist` does), and whether
// the decrypted scores equal the plain integer network's. Widest SIMD path, INSECURE fixed seeds
// (reproducible benchmark keys). Not built by meson; compile by hand against a release build
// (command in levers.md).
//
//   levers_network MODEL T_BITS T_COUNT COUNTxBITS [images] [threads]
//     T_BITS/T_COUNT: the T_COUNT largest primes < 2^T_BITS that are 1 mod 2n (batching);
//     COUNTxBITS: q as COUNT NTT primes of BITS bits; n = 8192.
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cryptonets/arith/primes.hpp"
#include "cryptonets/arith/simd.hpp"
#include "cryptonets/encoding/plaintext_crt.hpp"
#include "cryptonets/inference/parameter_selection.hpp"
#include "cryptonets/inference/private_inference.hpp"
#include "cryptonets/io/idx.hpp"
#include "cryptonets/io/model_file.hpp"
#include "cryptonets/model/model.hpp"
#include "cryptonets/model/range.hpp"

using namespace cryptonets;
using inference::StageReport;

namespace {
double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr,
                 "usage: levers_network MODEL T_BITS T_COUNT COUNTxBITS [images] [threads]\n");
    return 2;
  }
  const size_t n = 8192;
  const model::Model m = load_model(argv[1]);
  const model::CompiledModel compiled = model::compile_model(m);
  const model::RangeReport ranges = model::track_ranges(m);
  const std::vector<uint64_t> moduli =
      generate_ntt_primes(std::atoi(argv[2]), std::stoul(argv[3]), 2 * n);
  const std::string primes = argv[4];
  const size_t x = primes.find('x');
  const yashe::Parameters params = yashe::Parameters::create(
      n, std::stoul(primes.substr(0, x)), std::stoi(primes.substr(x + 1)), moduli[0]);
  const size_t images = argc > 5 ? std::stoul(argv[5]) : n;
  const int threads = argc > 6 ? std::atoi(argv[6]) : 1;
  const ScopedSimdPath forced(widest_supported_simd_path());

  std::printf("model %s: worst-case output %d bits; moduli suffice: %s\n", argv[1],
              ranges.output_bits(), model::plaintext_moduli_suffice(ranges, moduli) ? "yes" : "NO");
  std::printf("parameters: %s; plaintext moduli:", params.describe().c_str());
  for (uint64_t t : moduli)
    std::printf(" %llu", static_cast<unsigned long long>(t));
  std::printf("\npredicted final budget %.1f bits; path %s; images %zu; threads %d\n",
              inference::predict_budget_over_moduli(params, moduli, compiled),
              to_string(widest_supported_simd_path()), images, threads);

  const std::string data = CRYPTONETS_SOURCE_DATA_DIR;
  const MnistSet test = load_mnist(data + "/mnist", MnistSplit::kTest);
  const auto batch_images = quantised_images(m, test.images, 0, images);
  const auto plain = inference::plain_scores(compiled, batch_images, threads);

  Prng key_prng = Prng::insecure_seeded(2016);  // INSECURE: reproducible benchmark keys
  const encoding::CrtKeys keys = encoding::CrtKeys::generate(params, moduli, key_prng);
  const encoding::CrtEncryptionSet server(keys);
  const encoding::CrtDecryptionSet client(keys);
  Prng prng = Prng::insecure_seeded(7);

  double last_cpu = cpu_seconds(), layers_cpu = 0, layers_wall = 0, total_cpu = 0;
  std::printf(
      "\n| stage | modulus | wall s | CPU s | predicted / measured budget (bits) |\n"
      "|---|---|---|---|---|\n");
  const auto observe = [&](const StageReport& r) {
    const double now = cpu_seconds(), cpu = now - last_cpu;
    last_cpu = now;
    std::string label = r.stage;
    if (r.layer_index) {
      label = std::to_string(*r.layer_index + 1) + ". " + label;
      layers_cpu += cpu;
      layers_wall += r.seconds;
    }
    total_cpu += cpu;
    std::printf("| %s | t%zu | %.3f | %.3f | %.1f / %s |\n", label.c_str(), r.modulus_index + 1,
                r.seconds, cpu, r.predicted_noise_budget,
                r.measured_noise_budget ? std::to_string(*r.measured_noise_budget).c_str() : "-");
  };
  inference::EncryptedBatch batch =
      inference::encrypt_batch(server, m, batch_images, prng, threads, observe);
  inference::InferenceOptions options;
  options.threads = threads;
  options.observe = observe;
  // LEVERS_NOISE=1: measure the noise with the secret key (a diagnostic; it inflates the times).
  const bool noise = std::getenv("LEVERS_NOISE") != nullptr;
  if (noise) options.secret_keys_for_diagnostics = &client;
  options.prng = &prng;
  last_cpu = cpu_seconds();
  const inference::EncryptedBatch scores =
      inference::infer(server, compiled, std::move(batch), options);
  last_cpu = cpu_seconds();
  const auto decrypted = inference::decrypt_scores(client, scores, ranges.output().bound, observe);
  std::printf("\nlayers 1-5, all moduli: %.3f s wall, %.3f s CPU%s\n", layers_wall, layers_cpu,
              noise ? " (includes the noise diagnostics)" : "");
  std::printf("decrypted scores equal the plain network's: %s\n",
              decrypted == plain ? "yes" : "NO");
  return decrypted == plain ? 0 : 1;
}
