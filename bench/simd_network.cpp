// The shipped network on one batch of MNIST test images with every SIMD path this CPU supports,
// in one process and with the same keys and the same (insecurely seeded, for reproducibility)
// encryption randomness, so each path's gain is a ratio measured in one run. Every path must give
// the same output ciphertexts bit for bit and the plain integer network's scores; the program
// exits with status 1 otherwise.
//
//   build/bench/cryptonets-simd-network [images] [primes] [threads] [paths] [warm]
//     images: 1..8192 (default 8192, one full batch); primes: "default" (the preset) or
//     COUNTxBITS such as 8x50 (same n and plaintext moduli); threads (default 1);
//     paths: comma-separated names or "widest" (default: every supported path);
//     warm: "warm" runs one untimed batch on the first path before the timed ones, so that the
//     timed runs reuse the process's memory as a server's later batches do ("cold", the
//     default, times the first batch of a fresh process: its first-touch page faults included).
//     The environment variable CRYPTONETS_WARM_BATCHES=N runs N untimed batches instead of one:
//     without the block pool (below), the second batch of a process grew the heap
//     (fragmentation), and the first large allocation then cleared fresh 2 MiB pages inside
//     malloc; from the third on it did not.
//     CRYPTONETS_BLOCK_POOL=0 turns the pool of freed polynomial blocks off (memory_policy.hpp),
//     to measure what it changes.
// Prints one markdown table: seconds per stage (wall and process CPU time) and the process's page
// faults during the stage, per path.
#include <sys/resource.h>
#include <time.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cli_support.hpp"
#include "cryptonets/arith/primes.hpp"
#include "cryptonets/arith/simd.hpp"
#include "cryptonets/encoding/plaintext_crt.hpp"
#include "cryptonets/inference/parameter_selection.hpp"
#include "cryptonets/inference/private_inference.hpp"
#include "cryptonets/io/idx.hpp"
#include "cryptonets/io/model_file.hpp"
#include "cryptonets/model/model.hpp"
#include "cryptonets/model/range.hpp"
#include "cryptonets/ring/memory_policy.hpp"
#include "tool_support.hpp"

using cryptonets::inference::decrypt_scores;
using cryptonets::inference::encrypt_batch;
using cryptonets::inference::EncryptedBatch;
using cryptonets::inference::infer;
using cryptonets::inference::InferenceOptions;
using cryptonets::inference::ParameterChoice;
using cryptonets::inference::plain_scores;
using cryptonets::inference::predict_budget_over_moduli;
using cryptonets::inference::preset;
using cryptonets::inference::StageReport;
using cryptonets::model::compile_model;
using cryptonets::model::CompiledModel;
using cryptonets::model::Model;
using cryptonets::model::RangeReport;
using cryptonets::model::track_ranges;

using namespace cryptonets;

namespace {

double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

struct StageTime {
  std::string label;
  double wall = 0, cpu = 0;
  long faults = 0;  // page faults of the process during the stage
};

long page_faults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt + usage.ru_majflt;
}

}  // namespace

namespace {

// As the cryptonets program does (src/cli/main.cpp), before any other static initialiser can
// allocate or start a thread; CRYPTONETS_DEFAULT_MALLOC=1 leaves glibc's defaults, to measure
// what the policy changes.
bool allocator_policy() {
  const char* defaults = std::getenv("CRYPTONETS_DEFAULT_MALLOC");
  return defaults == nullptr || std::string(defaults) != "1";
}

bool block_pool() {
  const char* pool = std::getenv("CRYPTONETS_BLOCK_POOL");
  return pool == nullptr || std::string(pool) != "0";
}

// CRYPTONETS_MODULI_AT_ONCE=1: the plaintext moduli at the same time, each on its own threads
// (InferenceOptions::moduli_at_once), to measure what that changes against one after another.
bool moduli_at_once() {
  const char* at_once = std::getenv("CRYPTONETS_MODULI_AT_ONCE");
  return at_once != nullptr && std::string(at_once) == "1";
}

__attribute__((constructor(101))) void set_allocator_policy() {
  if (allocator_policy()) keep_freed_memory_for_reuse();
  set_block_pool_enabled(allocator_policy() && block_pool());
}

}  // namespace

namespace {

constexpr const char* kUsage =
    "usage: cryptonets-simd-network [images 1-8192] [primes: default or COUNTxBITS] [threads "
    "1-1024]\n"
    "                               [paths: comma-separated or widest] [warm|cold]\n"
    "  (defaults: 8192 default 1, every supported path, cold)\n";

int usage_error(const char* what, const char* value) {
  std::fprintf(stderr, "cryptonets-simd-network: %s, got '%s'\n%s", what, value, kUsage);
  return 2;
}

int run(int argc, char** argv) {
  const bool policy = allocator_policy();
  if (argc > 1 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
    std::printf("%s", kUsage);
    return 0;
  }
  if (argc > 6) {
    std::fprintf(stderr, "cryptonets-simd-network: at most 5 arguments, got %d\n%s", argc - 1,
                 kUsage);
    return 2;
  }
  // Every argument is checked before any work (a bad count threw out of main: std::stoul).
  const auto parsed_images = argc > 1 ? bench::parse_count(argv[1], 1, 8192) : 8192;
  if (!parsed_images) return usage_error("images is an integer from 1 to 8192", argv[1]);
  const size_t images = static_cast<size_t>(*parsed_images);
  const std::string primes = argc > 2 ? argv[2] : "default";
  std::optional<int> prime_count, prime_bits;
  if (primes != "default") {
    const size_t x = primes.find('x');
    if (x != std::string::npos) {
      prime_count = bench::parse_count(primes.substr(0, x).c_str(), 1, 64);
      prime_bits = bench::parse_count(primes.substr(x + 1).c_str(), 2, 62);
    }
    if (!prime_count || !prime_bits)
      return usage_error("primes is default or COUNTxBITS (1-64 primes of 2-62 bits)", argv[2]);
  }
  const auto parsed_threads = argc > 3 ? bench::parse_count(argv[3], 1, 1024) : 1;
  if (!parsed_threads) return usage_error("threads is an integer from 1 to 1024", argv[3]);
  const int threads = *parsed_threads;
  const bool warm = argc > 5 && std::string(argv[5]) == "warm";
  if (argc > 5 && !warm && std::string(argv[5]) != "cold")
    return usage_error("the fifth argument is warm or cold", argv[5]);
  std::vector<SimdPath> paths;
  if (argc > 4) {
    std::stringstream list(argv[4]);
    for (std::string name; std::getline(list, name, ',');) {
      const auto path = name == "widest" ? widest_supported_simd_path() : parse_simd_path(name);
      if (!path || !simd_path_supported(*path)) {
        std::fprintf(stderr, "cryptonets-simd-network: unknown or unsupported path '%s'\n%s",
                     name.c_str(), kUsage);
        return 2;
      }
      paths.push_back(*path);
    }
    if (paths.empty()) return usage_error("paths names at least one path", argv[4]);
  } else {
    for (SimdPath path :
         {SimdPath::scalar, SimdPath::avx2, SimdPath::avx512, SimdPath::avx512ifma}) {
      if (simd_path_supported(path)) paths.push_back(path);
    }
  }
  const std::string data = CRYPTONETS_SOURCE_DATA_DIR;
  const Model model = load_model(data + "/model.txt");
  const CompiledModel compiled = compile_model(model);
  const RangeReport ranges = track_ranges(model);
  const ParameterChoice choice = preset("default", model);
  yashe::Parameters params = choice.base;
  if (primes != "default") {
    params = yashe::Parameters::create(choice.base.n, static_cast<size_t>(*prime_count),
                                       *prime_bits, choice.base.t);
  }
  const double budget = predict_budget_over_moduli(params, choice.plaintext_moduli, compiled);
  // As the commands read it (checksums, an empty split an error naming the file; a review), but
  // with no --no-verify to name.
  const MnistSet test =
      cli::load_data_split(data + "/mnist", MnistSplit::kTest, true, cli::NoVerifyOption::kAbsent);
  const auto batch_images = quantised_images(model, test.images, 0, images);
  const auto plain = plain_scores(compiled, batch_images, threads);

  Prng key_prng = Prng::insecure_seeded(2016);  // INSECURE: reproducible benchmark keys
  const encoding::CrtKeys keys =
      encoding::CrtKeys::generate(params, choice.plaintext_moduli, key_prng);
  const encoding::CrtEncryptionSet server(keys);
  const encoding::CrtDecryptionSet client(keys);

  std::printf("# SIMD paths on the shipped network, one process\n\n");
  std::printf("parameters: %s; plaintext moduli: %zu; predicted noise budget %.1f bits\n",
              params.describe().c_str(), choice.plaintext_moduli.size(), budget);
  std::printf("images: %zu (one batch); threads: %d; allocator: %s%s; moduli: %s\n\n", images,
              threads, policy ? "keep_freed_memory_for_reuse" : "glibc defaults",
              policy && block_pool() ? " with the block pool" : "",
              moduli_at_once() && threads >= static_cast<int>(choice.plaintext_moduli.size()) &&
                      choice.plaintext_moduli.size() > 1
                  ? "at once, each on its own threads"
                  : "one after another, each on all threads");

  // CRYPTONETS_WARM_BATCHES (default 1): untimed batches before the timed one (see the top).
  const char* warm_batches = std::getenv("CRYPTONETS_WARM_BATCHES");
  for (int w = 0; warm && w < (warm_batches ? std::max(1, std::atoi(warm_batches)) : 1); ++w) {
    const ScopedSimdPath forced(paths.front());
    Prng prng = Prng::insecure_seeded(7);
    InferenceOptions options;
    options.threads = threads;
    options.moduli_at_once = moduli_at_once();
    const EncryptedBatch scores =
        infer(server, compiled, encrypt_batch(server, model, batch_images, prng, threads), options);
    if (decrypt_scores(client, scores, ranges.output().bound) != plain) {
      std::fprintf(stderr, "the warm-up batch's scores differ from the plain network's\n");
      return 1;
    }
  }
  std::printf("batch: %s\n\n", warm ? "warm (a second batch in the same process)"
                                    : "cold (the first batch of a fresh process)");

  std::map<SimdPath, std::vector<StageTime>> times;
  std::vector<yashe::Ciphertext> reference_outputs;
  bool all_equal = true;
  for (SimdPath path : paths) {
    const ScopedSimdPath forced(path);
    Prng prng = Prng::insecure_seeded(7);  // the same encryption randomness on every path
    std::vector<StageTime>& stages = times[path];
    std::map<size_t, StageTime> layers;  // per layer, all moduli
    double last_cpu = cpu_seconds();
    long last_faults = page_faults();
    const auto observe = [&](const StageReport& report) {
      const double now = cpu_seconds();
      const long faults = page_faults();
      std::string label = report.stage;
      if (report.layer_index) label = std::to_string(*report.layer_index + 1) + ". " + label;
      StageTime own{label + " (t" + std::to_string(report.modulus_index + 1) + ")", report.seconds,
                    now - last_cpu, faults - last_faults};
      if (report.layer_index) {
        StageTime& all = layers[*report.layer_index];
        all.label = label + " (all moduli)";
        all.wall =
            report.seconds_all_moduli ? *report.seconds_all_moduli : all.wall + report.seconds;
        all.cpu += own.cpu;
        all.faults += own.faults;
      }
      if (report.seconds_all_moduli) {
        // The moduli ran at once: the process's CPU time and page faults are not one modulus's.
        own.cpu = std::nan("");
        own.faults = -1;
      }
      stages.push_back(own);
      last_cpu = now;
      last_faults = faults;
    };
    EncryptedBatch batch = encrypt_batch(server, model, batch_images, prng, threads, observe);
    InferenceOptions options;
    options.threads = threads;
    options.moduli_at_once = moduli_at_once();
    options.observe = observe;
    last_cpu = cpu_seconds();
    last_faults = page_faults();
    const EncryptedBatch scores = infer(server, compiled, std::move(batch), options);
    last_cpu = cpu_seconds();
    last_faults = page_faults();
    for (const auto& [layer, all] : layers)
      stages.push_back(all);
    const auto decrypted = decrypt_scores(client, scores, ranges.output().bound, observe, threads);
    std::vector<yashe::Ciphertext> outputs;
    for (const auto& row : scores.values)
      outputs.insert(outputs.end(), row.begin(), row.end());
    if (reference_outputs.empty()) reference_outputs = outputs;
    bool equal = decrypted == plain && outputs.size() == reference_outputs.size();
    for (size_t i = 0; equal && i < outputs.size(); ++i)
      equal = outputs[i].parts[0] == reference_outputs[i].parts[0];
    std::printf(
        "path %s: output ciphertexts equal the first path's and scores equal the plain "
        "network's: %s\n",
        to_string(path), equal ? "yes" : "NO");
    all_equal = all_equal && equal;
  }

  std::printf("\n| stage |");
  for (SimdPath path : paths)
    std::printf(" %s wall s | %s CPU s | page faults |", to_string(path), to_string(path));
  std::printf(" CPU ratio %s / %s |\n|---|", to_string(paths.front()), to_string(paths.back()));
  for (size_t p = 0; p < paths.size(); ++p)
    std::printf("---|---|---|");
  std::printf("---|\n");
  const size_t rows = times[paths.front()].size();
  std::vector<double> wall_total(paths.size()), cpu_total(paths.size());
  std::vector<double> layer_wall(paths.size()), layer_cpu(paths.size());
  std::vector<long> fault_total(paths.size()), layer_faults(paths.size());
  for (size_t r = 0; r < rows; ++r) {
    const std::string& label = times[paths.front()][r].label;
    std::printf("| %s |", label.c_str());
    // Layers count once, in their all-moduli rows; the per-modulus rows are the moduli's shares.
    const bool layer = label.find("(all moduli)") != std::string::npos;
    const bool stage = layer || !(label[0] >= '1' && label[0] <= '9');
    for (size_t p = 0; p < paths.size(); ++p) {
      const StageTime& t = times[paths[p]][r];
      if (t.faults < 0) {
        std::printf(" %.3f | - | - |", t.wall);
      } else {
        std::printf(" %.3f | %.3f | %ld |", t.wall, t.cpu, t.faults);
      }
      if (!stage) continue;
      wall_total[p] += t.wall;
      cpu_total[p] += t.cpu;
      fault_total[p] += t.faults;
      if (layer) {
        layer_wall[p] += t.wall;
        layer_cpu[p] += t.cpu;
        layer_faults[p] += t.faults;
      }
    }
    if (times[paths.front()][r].faults < 0) {
      std::printf(" - |\n");
    } else {
      std::printf(" %.2f |\n", times[paths.front()][r].cpu / times[paths.back()][r].cpu);
    }
  }
  std::printf("| layers 1-5, all moduli |");
  for (size_t p = 0; p < paths.size(); ++p)
    std::printf(" %.3f | %.3f | %ld |", layer_wall[p], layer_cpu[p], layer_faults[p]);
  std::printf(" %.2f |\n| encryption to decrypted scores |", layer_cpu.front() / layer_cpu.back());
  for (size_t p = 0; p < paths.size(); ++p)
    std::printf(" %.3f | %.3f | %ld |", wall_total[p], cpu_total[p], fault_total[p]);
  std::printf(" %.2f |\n", cpu_total.front() / cpu_total.back());
  return all_equal ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "cryptonets-simd-network: %s\n", error.what());
    return 1;
  }
}
