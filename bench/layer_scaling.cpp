// 2-thread scaling of the shipped network, layer by layer, in one process: the same batch (one
// full batch of MNIST test images, default preset, widest SIMD path) is inferred again and again,
// alternating 1 thread pinned to the first allowed CPU, 1 thread pinned to the second, and
// 2 threads (one modulus after another, infer's default), ROUNDS times each. Why one process and
// alternation: on a shared virtual machine the host's other tenants move single runs by 10-40 %
// for seconds or minutes at a time, and one vCPU can be slower than the other (bench/
// thread_ceiling.cpp). Runs a few seconds apart see the same host, and noise only ever adds time,
// so each layer's fastest round is the best estimate of what the code does on an idle host.
//
// Prints per layer (all plaintext moduli together): the fastest and the median round on each CPU
// and on 2 threads; best / best, the speed-up of the fastest 2-thread round over the faster
// CPU's fastest round (issue 16 asks 1.9x on every layer); and the bound 1/(1/t_a + 1/t_b) from
// the two CPUs' fastest rounds, the best a 2-thread run could do if the CPUs kept those speeds.
//
//   build/bench/cryptonets-layer-scaling [rounds]     (default 5; 1-40)
//
// Around every 2-thread round two probes (core_sharing.hpp) check whether the two vCPUs can run
// vector code at the same time (at some moments the host runs them as SMT siblings of one core)
// and whether each gets memory bandwidth of its own (at others one vCPU's stream takes all the
// host gives us): a 2-thread round then measures the host, not the code. A second table repeats the
// comparison over the clean rounds only. The probe cannot see other processes of this machine: run
// nothing else.
//
// Every round's decrypted scores are checked against the plain integer network's: the program
// exits 1 if any differs. The keys and the encryption randomness are seeded (INSECURE, for
// reproducible benchmarks only).
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cli_support.hpp"
#include "core_sharing.hpp"
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

using namespace cryptonets;
using cryptonets::inference::decrypt_scores;
using cryptonets::inference::encrypt_batch;
using cryptonets::inference::EncryptedBatch;
using cryptonets::inference::infer;
using cryptonets::inference::InferenceOptions;
using cryptonets::inference::plain_scores;
using cryptonets::inference::preset;
using cryptonets::inference::StageReport;

namespace {

// As the cryptonets program does (src/cli/main.cpp), before any thread starts.
__attribute__((constructor(101))) void set_allocator_policy() {
  keep_freed_memory_for_reuse();
  set_block_pool_enabled(true);
}

bool pin_to(const cpu_set_t& set) {
  return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

double best(const std::vector<double>& v) {
  return *std::min_element(v.begin(), v.end());
}

// The benchmark; its errors are thrown (main prints them: an uncaught one aborted, a review).
int run(int argc, char** argv) {
  if (argc == 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
    std::printf("usage: cryptonets-layer-scaling [rounds 1-40] (default 5)\n");
    return 0;
  }
  const std::optional<int> parsed =
      argc == 1 ? std::optional<int>(5) : bench::parse_count(argv[1], 1, 40);
  if (argc > 2 || !parsed) {
    std::fprintf(stderr, "usage: cryptonets-layer-scaling [rounds 1-40] (default 5)\n");
    return 2;
  }
  const int rounds = *parsed;
  const double load_before = bench::load_average();
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof allowed, &allowed) == 0) {
    for (int c = 0; c < CPU_SETSIZE && cpus.size() < 2; ++c) {
      if (CPU_ISSET(c, &allowed)) cpus.push_back(c);
    }
  }
  if (cpus.size() < 2) {
    std::fprintf(stderr, "cryptonets-layer-scaling needs two CPUs\n");
    return 2;
  }

  std::printf("# Thread scaling, layer by layer, in one process\n\n");
  bench::print_machine();
  const std::string data = CRYPTONETS_SOURCE_DATA_DIR;
  const model::Model net = load_model(data + "/model.txt");
  const model::CompiledModel compiled = model::compile_model(net);
  const model::RangeReport ranges = model::track_ranges(net);
  const inference::ParameterChoice choice = preset("default", net);
  // As the commands read it (checksums, an empty split an error naming the file; a review), but
  // with no --no-verify to name.
  const MnistSet test =
      cli::load_data_split(data + "/mnist", MnistSplit::kTest, true, cli::NoVerifyOption::kAbsent);
  const size_t images = 8192;
  const auto batch_images = quantised_images(net, test.images, 0, images);
  const auto plain = plain_scores(compiled, batch_images, 2);
  Prng key_prng = Prng::insecure_seeded(2016);  // INSECURE: reproducible benchmark keys
  const encoding::CrtKeys keys =
      encoding::CrtKeys::generate(choice.base, choice.plaintext_moduli, key_prng);
  const encoding::CrtEncryptionSet server(keys);
  const encoding::CrtDecryptionSet client(keys);
  const ScopedSimdPath widest(widest_supported_simd_path());

  // Configurations: 0 = 1 thread on cpus[0], 1 = 1 thread on cpus[1], 2 = 2 threads (unpinned).
  // label -> configuration -> one wall time per round (all moduli).
  std::map<std::string, std::vector<std::vector<double>>> times;
  std::vector<std::string> order;
  bool all_equal = true;
  const auto run = [&](int config, bool timed) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (config < 2) {
      CPU_SET(cpus[static_cast<size_t>(config)], &set);
    } else {
      set = allowed;
    }
    if (!pin_to(set)) {
      std::fprintf(stderr, "could not set the thread's CPU affinity\n");
      std::exit(2);
    }
    const int threads = config < 2 ? 1 : 2;
    std::map<std::string, double> round;
    const auto observe = [&](const StageReport& report) {
      std::string label = report.stage;
      if (report.layer_index) label = std::to_string(*report.layer_index + 1) + ". " + label;
      round[label] += report.seconds;
      if (std::find(order.begin(), order.end(), label) == order.end()) order.push_back(label);
    };
    Prng prng = Prng::insecure_seeded(7);  // INSECURE: the same encryption randomness each round
    const auto start = std::chrono::steady_clock::now();
    EncryptedBatch batch = encrypt_batch(server, net, batch_images, prng, threads, observe);
    InferenceOptions options;
    options.threads = threads;
    options.observe = observe;
    const EncryptedBatch scores = infer(server, compiled, std::move(batch), options);
    const auto decrypted = decrypt_scores(client, scores, ranges.output().bound, observe, threads);
    round["encryption to decrypted scores"] =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    all_equal = all_equal && decrypted == plain;
    if (!timed) return;
    for (const auto& [label, seconds] : round) {
      auto& per_config = times[label];
      per_config.resize(3);
      per_config[static_cast<size_t>(config)].push_back(seconds);
    }
  };
  // Untimed: the 2-thread pool is created unpinned (its threads keep the affinity they are born
  // with), and every configuration's memory is touched once.
  run(2, false);
  run(0, false);
  // The core-sharing probe (core_sharing.hpp) before and after every 2-thread round: a round is
  // clean if neither showed the vCPUs sharing vector units (sharing <= kCleanSharing).
  // The memory probe too (core_sharing.hpp): a round is clean only if neither saw the vCPUs
  // share memory bandwidth either (memory sharing <= kCleanMemorySharing).
  constexpr double kCleanSharing = 1.10, kCleanMemorySharing = 1.25;
  std::vector<bench::CoreSharing> sharing_before, sharing_after, memory_before, memory_after;
  std::vector<bool> clean;
  for (int r = 0; r < rounds; ++r) {
    for (int config : {0, 1, 2}) {
      if (config == 2) {
        sharing_before.push_back(bench::probe_core_sharing(cpus[0], cpus[1]));
        memory_before.push_back(bench::probe_memory_sharing(cpus[0], cpus[1]));
      }
      run(config, true);
      if (config == 2) {
        sharing_after.push_back(bench::probe_core_sharing(cpus[0], cpus[1]));
        memory_after.push_back(bench::probe_memory_sharing(cpus[0], cpus[1]));
        const bench::CoreSharing &before = sharing_before.back(), &after = sharing_after.back();
        const bench::CoreSharing &m_before = memory_before.back(), &m_after = memory_after.back();
        clean.push_back(
            before.measured() && after.measured() && before.sharing() <= kCleanSharing &&
            after.sharing() <= kCleanSharing && m_before.measured() && m_after.measured() &&
            m_before.sharing() <= kCleanMemorySharing && m_after.sharing() <= kCleanMemorySharing);
      }
    }
    std::fprintf(stderr, "\rround %d/%d", r + 1, rounds);
  }
  std::fprintf(stderr, "\n");
  order.push_back("encryption to decrypted scores");

  std::printf(
      "\nparameters: %s; plaintext moduli: %zu; SIMD path %s; %zu images (one batch); "
      "%d rounds, alternating 1 thread on CPU %d, 1 thread on CPU %d, 2 threads\n\n",
      choice.base.describe().c_str(), choice.plaintext_moduli.size(),
      to_string(widest_supported_simd_path()), images, rounds, cpus[0], cpus[1]);
  bench::print_load("before", load_before, 1.0);
  bench::print_load("after", bench::load_average(), 2.5);
  std::printf(
      "\nWall seconds, all plaintext moduli; best = the fastest round, med = the median. "
      "best / best: the faster CPU's fastest 1-thread round over the fastest 2-thread round "
      "(issue 16 asks 1.9 on every layer). bound: 1/(1/a+1/b) from the two CPUs' fastest rounds, "
      "the best 2 threads could do at those speeds; bound / 2 threads: 1.00 = as good as that "
      "bound.\n\n");
  std::printf(
      "| stage | CPU %d best | CPU %d best | 2 threads best | best / best | "
      "bound 1/(1/a+1/b) | bound / 2 threads | CPU %d med | CPU %d med | 2 threads med | "
      "med / med |\n",
      cpus[0], cpus[1], cpus[0], cpus[1]);
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (const std::string& label : order) {
    const auto& t = times[label];
    if (t.size() < 3 || t[0].empty() || t[1].empty() || t[2].empty()) continue;
    const double a = best(t[0]), b = best(t[1]), two = best(t[2]);
    const double one = std::min(a, b), bound = 1 / (1 / a + 1 / b);
    const double ma = median(t[0]), mb = median(t[1]), mtwo = median(t[2]);
    std::printf(
        "| %s | %.4f | %.4f | %.4f | **%.2f** | %.4f | %.2f | %.4f | %.4f | %.4f | %.2f |\n",
        label.c_str(), a, b, two, one / two, bound, bound / two, ma, mb, mtwo,
        std::min(ma, mb) / mtwo);
  }
  // The same comparison over the clean 2-thread rounds only.
  const size_t clean_rounds = static_cast<size_t>(std::count(clean.begin(), clean.end(), true));
  const bool probed = std::all_of(sharing_before.begin(), sharing_before.end(),
                                  [](const bench::CoreSharing& p) { return p.measured(); });
  if (!probed) {
    std::printf(
        "\nCore-sharing probe: not available (it needs a CPU with AVX-512), so no 2-thread round "
        "is classed clean or not.\n");
  } else {
    std::printf(
        "\nCore-sharing probe around each 2-thread round (bench/core_sharing.hpp: the time of an "
        "AVX-512 multiply loop on both CPUs at once over the slower CPU's time alone; 1.0 = the "
        "vCPUs do not share vector units, up to 2 = they share one core's; other processes on "
        "this machine also raise it), before / after:");
    for (size_t r = 0; r < sharing_before.size(); ++r) {
      std::printf(" %.2f/%.2f%s", sharing_before[r].sharing(), sharing_after[r].sharing(),
                  clean[r] ? "" : "*");
    }
    std::printf(" (* = round not clean, by this probe or the memory probe below)\n\n");
    std::printf(
        "Memory probe around each 2-thread round (core_sharing.hpp: a 64 MiB read per CPU, both "
        "at once over the slower alone; 1.0 = each vCPU gets its own memory bandwidth, up to 2 "
        "= they share what one uses), before / after:");
    for (size_t r = 0; r < memory_before.size(); ++r)
      std::printf(" %.2f/%.2f", memory_before[r].sharing(), memory_after[r].sharing());
    std::printf("\n\n");
  }
  if (probed && clean_rounds == 0) {
    std::printf(
        "No clean 2-thread round (vector sharing <= %.2f and memory sharing <= %.2f, before and "
        "after).\n",
        kCleanSharing, kCleanMemorySharing);
  } else if (probed) {
    std::printf(
        "Clean 2-thread rounds only (vector sharing <= %.2f and memory sharing <= %.2f, before "
        "and after): %zu of %zu. Against the 1-thread rounds' best as above:\n\n",
        kCleanSharing, kCleanMemorySharing, clean_rounds, clean.size());
    std::printf("| stage | 2 threads best, clean | best / best, clean | bound / 2 threads |\n");
    std::printf("|---|---|---|---|\n");
    for (const std::string& label : order) {
      const auto& t = times[label];
      if (t.size() < 3 || t[0].empty() || t[1].empty() || t[2].size() != clean.size()) continue;
      double two = 1e300;
      for (size_t r = 0; r < clean.size(); ++r) {
        if (clean[r]) two = std::min(two, t[2][r]);
      }
      const double a = best(t[0]), b = best(t[1]);
      std::printf("| %s | %.4f | **%.2f** | %.2f |\n", label.c_str(), two, std::min(a, b) / two,
                  1 / (1 / a + 1 / b) / two);
    }
  }
  std::printf("\nEvery round's decrypted scores equal the plain integer network's: %s\n",
              all_equal ? "yes" : "NO");
  return bench::finish_stdout(all_equal ? 0 : 1);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "cryptonets-layer-scaling: %s\n", error.what());
    return 1;
  }
}
