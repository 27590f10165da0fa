// What 2 threads can gain over 1 on this machine, whatever our code does: the same work on 1
// thread, then on 2 threads at once (each thread its own copy), for three kinds of loop:
//   multiply: independent 32x32 -> 64-bit vector multiply-adds (vpmuldq + vpaddq on 8 lanes, the
//             inner operation of the dense layer's kernel), on registers only: bound by the
//             core's multiplier throughput and clock (core_sharing.hpp's vector_multiply_loop;
//             until 2026-12-02 this loop computed one product per round and timed additions);
//   scalar:   a chain of 64-bit multiply-adds: bound by latency and clock;
//   stream:   sums over a 256 MiB buffer per thread: bound by memory bandwidth;
//   L2, L3:   the same sums over 512 KiB and 8 MiB per thread, repeated: bound by the bandwidth of
//             the core's own L2 cache and of the last-level cache (which the two vCPUs may share,
//             with each other and with other tenants of the host).
// The ratio 2 x (1-thread time) / (2-thread time) is the ceiling of any 2-thread speed-up for
// loops of that kind: on a machine whose two vCPUs share a core, a lower turbo clock with both
// busy, or a noisy host, it is below 2.
//
// The unpinned 1-thread run lands on whichever CPU the scheduler picks, so where the two CPUs are
// not equally fast its ratio says little. A second table therefore pins the loop to each CPU in
// turn (1 thread on CPU a, then on CPU b), then runs both at once, one thread pinned to each:
// under a hypervisor whose other tenants share a host core with one of our vCPUs, that vCPU's
// vector loops ran 40 % slower than the other's for minutes at a time (2026-12-02), while the
// scalar chain, which does not use the shared vector units, did not slow down. With speeds
// 1/t_a and 1/t_b, no 2-thread run can beat 1 / (1/t_a + 1/t_b) for the work of two loops, which
// is below t_a / 2 as soon as t_b > t_a. The "both at once" column also shows when the two vCPUs
// share one physical core (SMT siblings): at 06:40 on 2026-12-02 the vector loop (then timing
// additions) and the stream loop gained only 1.05-1.08x on both CPUs at once while the scalar
// chain, whose latency SMT hides, still gained 1.95x; half an hour earlier all loops
// gained 1.9-2.0x (core_sharing.hpp). Prints two markdown tables and, when the CPUs differ by more
// than 5 % on a loop, a line saying so.
//
//   build/bench/cryptonets-thread-ceiling [repeats]     (1-100, default 5; the median is reported)
#include <omp.h>
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core_sharing.hpp"
#include "cryptonets/arith/simd.hpp"
#include "tool_support.hpp"

namespace {

__attribute__((noinline)) uint64_t multiply_scalar(uint64_t rounds) {
  uint64_t x = 1;
  for (uint64_t r = 0; r < 16 * rounds; ++r) {
    x = x * 6364136223846793005u + 1442695040888963407u;
    __asm__ volatile("" : "+r"(x));
  }
  return x;
}

uint64_t stream(std::span<const uint64_t> buffer, int passes) {
  uint64_t total = 0;
  for (int p = 0; p < passes; ++p) {
    for (size_t i = 0; i < buffer.size(); i += 8)
      total += buffer[i];
  }
  return total;
}

// Pins the calling thread to `cpu` (-1: every CPU in `allowed`); false if the kernel refuses.
bool pin(int cpu, const cpu_set_t& allowed) {
  cpu_set_t set;
  if (cpu < 0) {
    set = allowed;
  } else {
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
  }
  return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}

// Seconds for every thread of `threads` to run `work` once, all at the same time; thread t runs on
// cpus[t] if `cpus` is given (and is unpinned afterwards).
template <class Work>
double timed(int threads, const Work& work, const cpu_set_t& allowed,
             const std::vector<int>& cpus = {}) {
  std::vector<uint64_t> sink(static_cast<size_t>(threads));
  std::chrono::steady_clock::time_point start;
#pragma omp parallel num_threads(threads)
  {
    const auto t = static_cast<size_t>(omp_get_thread_num());
    if (!cpus.empty()) pin(cpus[t], allowed);
#pragma omp barrier
#pragma omp master
    start = std::chrono::steady_clock::now();
    sink[t] = work();
    if (!cpus.empty()) pin(-1, allowed);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  uint64_t total = 0;
  for (uint64_t s : sink)
    total += s;
  if (total == 42) std::printf(" ");  // the results are used
  return seconds;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
    std::printf("usage: cryptonets-thread-ceiling [repeats 1-100] (default 5)\n");
    return 0;
  }
  const std::optional<int> parsed =
      argc == 1 ? std::optional<int>(5) : cryptonets::bench::parse_count(argv[1], 1, 100);
  if (argc > 2 || !parsed) {
    std::fprintf(stderr, "usage: cryptonets-thread-ceiling [repeats 1-100] (default 5)\n");
    return 2;
  }
  const int repeats = *parsed;
  const double load_before = cryptonets::bench::load_average();
  cryptonets::bench::print_machine();
  const bool avx512 = cryptonets::simd_path_supported(cryptonets::SimdPath::avx512);
  std::vector<std::vector<uint64_t>> buffers(2, std::vector<uint64_t>(size_t{32} << 20, 1));
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  std::vector<int> cpus;  // the first two CPUs this process may run on
  if (sched_getaffinity(0, sizeof allowed, &allowed) == 0) {
    for (int c = 0; c < CPU_SETSIZE && cpus.size() < 2; ++c) {
      if (CPU_ISSET(c, &allowed)) cpus.push_back(c);
    }
  }
  struct Kind {
    std::string name;
    double one = 0, two = 0;              // unpinned
    double on_a = 0, on_b = 0, both = 0;  // pinned: 1 thread on CPU a, on CPU b, both at once
  };
  std::vector<Kind> kinds = {{avx512 ? "multiply (AVX-512 vpmuldq)"
                                     : "multiply (skipped: no "
                                       "AVX-512)"},
                             {"scalar (64-bit multiply chain)"},
                             {"stream (256 MiB per thread)"},
                             {"L2 (512 KiB per thread, 65536 passes)"},
                             {"L3 (8 MiB per thread, 4096 passes)"}};
  const auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  for (size_t k = 0; k < kinds.size(); ++k) {
    if (k == 0 && !avx512) continue;
    const auto work = [&]() -> uint64_t {
      const auto& buffer = buffers[static_cast<size_t>(omp_get_thread_num())];
      if (k == 2) return stream(buffer, 16);
      if (k == 3) return stream(std::span(buffer).first(size_t{64} << 10), 65536);
      if (k == 4) return stream(std::span(buffer).first(size_t{1} << 20), 4096);
#if defined(__x86_64__)
      if (k == 0) return cryptonets::bench::vector_multiply_loop(uint64_t{1} << 25);
#endif
      return multiply_scalar(uint64_t{1} << 25);
    };
    std::vector<double> one, two, on_a, on_b, both;
    // Alternating, so that a change of the host's load in the middle touches every column.
    for (int r = 0; r < repeats; ++r) {
      one.push_back(timed(1, work, allowed));
      two.push_back(timed(2, work, allowed));
      if (cpus.size() == 2) {
        on_a.push_back(timed(1, work, allowed, {cpus[0]}));
        on_b.push_back(timed(1, work, allowed, {cpus[1]}));
        both.push_back(timed(2, work, allowed, cpus));
      }
    }
    kinds[k].one = median(one);
    kinds[k].two = median(two);
    if (cpus.size() == 2) {
      kinds[k].on_a = median(on_a);
      kinds[k].on_b = median(on_b);
      kinds[k].both = median(both);
    }
  }
  cryptonets::bench::print_load("before", load_before, 1.0);
  cryptonets::bench::print_load("after", cryptonets::bench::load_average(), 2.5);
  std::printf("\n| loop | 1 thread s | 2 threads s (twice the work) | 2-thread speed-up |\n");
  std::printf("|---|---|---|---|\n");
  for (const Kind& kind : kinds) {
    if (kind.one == 0) continue;
    std::printf("| %s | %.3f | %.3f | %.2f |\n", kind.name.c_str(), kind.one, kind.two,
                2 * kind.one / kind.two);
  }
  if (cpus.size() < 2) {
    std::printf("\n(fewer than two CPUs allowed: no pinned measurement)\n");
    return cryptonets::bench::finish_stdout(0);
  }
  std::printf(
      "\nPinned (CPU %d, CPU %d): 1 thread on each CPU in turn, then one thread on each at once;"
      " CPU %d / CPU %d is the ratio of their 1-thread times (1.00: equally fast); the speed-up"
      " is twice the faster CPU's time over the time of both at once (2.00: no loss):\n\n",
      cpus[0], cpus[1], cpus[1], cpus[0]);
  std::printf(
      "| loop | CPU %d s | CPU %d s | CPU %d / CPU %d | both at once s | speed-up over the faster "
      "CPU |\n",
      cpus[0], cpus[1], cpus[1], cpus[0]);
  std::printf("|---|---|---|---|---|---|\n");
  std::vector<std::string> unequal;
  for (const Kind& kind : kinds) {
    if (kind.on_a == 0) continue;
    const double ratio = kind.on_b / kind.on_a;
    std::printf("| %s | %.3f | %.3f | %.2f | %.3f | %.2f |\n", kind.name.c_str(), kind.on_a,
                kind.on_b, ratio, kind.both, 2 * std::min(kind.on_a, kind.on_b) / kind.both);
    if (ratio > 1.05 || ratio < 1 / 1.05) unequal.push_back(kind.name);
  }
  if (!unequal.empty()) {
    std::printf("\n**The two CPUs were not equally fast** (more than 5 %% apart) on:");
    for (size_t u = 0; u < unequal.size(); ++u)
      std::printf("%s %s", u == 0 ? "" : ",", unequal[u].c_str());
    std::printf(". A 2-thread run of such work cannot reach 2x the faster CPU's 1-thread time.\n");
  }
  return cryptonets::bench::finish_stdout(0);
}
