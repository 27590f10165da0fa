// Whether our two vCPUs can run vector code at the same time right now: a probe for the
// benchmarks that compare 1 thread with 2 (issue 16).
//
// Why: this machine's two vCPUs are threads of a shared host. At some moments they run on two
// different physical cores; at others they are SMT siblings of one core, or each shares its core
// with another tenant's busy hyperthread. Seen on 2026-12-02 (bench/thread_ceiling.cpp, pinned
// table): within an hour, its AVX-512 loop (vector additions, as it then was) run on both CPUs at
// once went from 2.02x the throughput of one CPU to 1.05x, while the scalar multiply chain
// (latency-bound, which SMT hides) still scaled 1.95x. A vCPU alone also runs at the speed its
// core's other hyperthread leaves it: at 07:15 the same multiply-add loop ran 2.6 G/s on CPU 0
// and 1.6 G/s on CPU 1. In a window like the second, no code gets 2 threads to 1.9x, and a
// 2-thread round measured there says nothing about the code.
//
// The probe: a register-only vpmuldq loop (vector_multiply_loop: independent multiply-adds, bound
// by the core's vector multiplier) pinned to CPU a, then to CPU b, then to both at once. sharing()
// is the time both at once took over the slower CPU's time alone: about 1.0 when the vCPUs do not
// share vector units, up to about 2 when they share one core's. It takes about 0.1-0.2 s.
//
// The second probe, probe_memory_sharing: the same three runs of a read of 64 MiB per thread (a
// buffer of its own, summed with vector loads). Seen on 2026-12-02 12:17 (thread_ceiling): the
// vector and L2 loops scaled 1.9-2.0x while the stream loop scaled 1.12-1.18x, and no layer of
// the network scaled beyond 1.78x; the register-only probe saw nothing. About 1.0 when each vCPU
// gets its own bandwidth, up to about 2 when one vCPU's read already takes all there is.
#pragma once

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace cryptonets::bench {

struct CoreSharing {
  double on_a = 0, on_b = 0, both = 0;  // seconds; all 0 if the probe could not run
  bool measured() const { return both > 0; }
  double sharing() const { return both / std::max(on_a, on_b); }
};

#if defined(__x86_64__)
// GCC 12's AVX-512 intrinsics start from _mm512_undefined_epi32(), which -O3 may report as used
// uninitialised (GCC bug 105593, fixed in GCC 13): a false positive.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
// Eight independent 32x32 -> 64-bit vector multiply-adds per round (vpmuldq + vpaddq on eight
// lanes, the dense layer kernel's inner operation), on registers only. The empty asm statement
// tells the compiler that every factor may have changed, so that each round computes its eight
// products (with a loop-invariant factor it computed one product per round and the loop measured
// additions: thread_ceiling's loop did until 2026-12-02).
__attribute__((target("avx512f"), noinline)) inline uint64_t vector_multiply_loop(uint64_t rounds) {
  __m512i sums[8], x[8];
  for (int i = 0; i < 8; ++i) {
    sums[i] = _mm512_set1_epi64(i);
    x[i] = _mm512_set1_epi64(0x12345678 + i);
  }
  __m512i w = _mm512_set1_epi64(77);
  for (uint64_t r = 0; r < rounds; ++r) {
    for (int i = 0; i < 8; ++i)
      sums[i] = _mm512_add_epi64(sums[i], _mm512_mul_epi32(x[i], w));
    __asm__ volatile(""
                     : "+v"(x[0]), "+v"(x[1]), "+v"(x[2]), "+v"(x[3]), "+v"(x[4]), "+v"(x[5]),
                       "+v"(x[6]), "+v"(x[7]), "+v"(w));
  }
  uint64_t total = 0;
  for (int i = 0; i < 8; ++i)
    total += static_cast<uint64_t>(_mm512_reduce_add_epi64(sums[i]));
  return total;
}
#pragma GCC diagnostic pop
#endif

// Runs the probe on cpu_a and cpu_b (which the process must be allowed to use). Needs a CPU with
// AVX-512 (whatever CRYPTONETS_SIMD says); returns an unmeasured result without it or when a
// thread cannot be pinned.
inline CoreSharing probe_core_sharing(int cpu_a, int cpu_b) {
  CoreSharing result;
#if defined(__x86_64__)
  // The CPU itself, not CRYPTONETS_SIMD: the probe measures the host, not a library path.
  if (!__builtin_cpu_supports("avx512f")) return result;
  constexpr uint64_t kRounds = uint64_t{1} << 23;
  std::atomic<bool> pinned{true};
  uint64_t sink = 0;
  const auto on = [&](int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (pthread_setaffinity_np(pthread_self(), sizeof set, &set) != 0) pinned.store(false);
    return vector_multiply_loop(kRounds);
  };
  const auto seconds = [&](auto&& work) {
    const auto start = std::chrono::steady_clock::now();
    work();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  // On threads of their own, so that the caller's affinity is left as it was.
  result.on_a = seconds([&] { std::thread([&] { sink += on(cpu_a); }).join(); });
  result.on_b = seconds([&] { std::thread([&] { sink += on(cpu_b); }).join(); });
  result.both = seconds([&] {
    uint64_t a = 0, b = 0;
    std::thread first([&] { a = on(cpu_a); }), second([&] { b = on(cpu_b); });
    first.join();
    second.join();
    sink += a + b;
  });
  if (sink == 42) result.both += 1e-12;  // the results are used
  if (!pinned.load()) result = CoreSharing{};
#endif
  return result;
}

// Sums `words` 64-bit words (a multiple of 8) with vector loads: a stream from memory.
__attribute__((noinline)) inline uint64_t stream_sum(const uint64_t* data, size_t words) {
  uint64_t lanes[8] = {};
  for (size_t i = 0; i < words; i += 8) {
    for (int l = 0; l < 8; ++l)
      lanes[l] += data[i + static_cast<size_t>(l)];
  }
  uint64_t total = 0;
  for (uint64_t lane : lanes)
    total += lane;
  return total;
}

// Runs the memory probe on cpu_a and cpu_b: each thread reads its own 64 MiB (allocated and
// touched on the first call, kept for the next ones) twice, the fastest of three runs each;
// sharing() as for the vector probe. Returns an unmeasured result when a thread cannot be pinned.
// About 0.2-0.5 s.
inline CoreSharing probe_memory_sharing(int cpu_a, int cpu_b) {
  constexpr size_t kWords = (size_t{64} << 20) / sizeof(uint64_t);
  static const std::vector<std::unique_ptr<uint64_t[]>> buffers = [] {
    std::vector<std::unique_ptr<uint64_t[]>> made;
    for (int b = 0; b < 2; ++b) {
      made.push_back(std::make_unique<uint64_t[]>(kWords));  // zeroed: every page touched
      made.back()[static_cast<size_t>(b)] = 1;
    }
    return made;
  }();
  CoreSharing result;
  std::atomic<bool> pinned{true};
  std::atomic<uint64_t> sink{0};
  const auto on = [&](int cpu, const uint64_t* data) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (pthread_setaffinity_np(pthread_self(), sizeof set, &set) != 0) pinned.store(false);
    sink += stream_sum(data, kWords) + stream_sum(data, kWords);
  };
  const auto seconds = [&](auto&& work) {
    const auto start = std::chrono::steady_clock::now();
    work();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  // Each the fastest of three: a read this short (tens of ms) is easily stretched by the host.
  const auto fastest = [&](auto&& work) {
    return std::min({seconds(work), seconds(work), seconds(work)});
  };
  const uint64_t *a = buffers[0].get(), *b = buffers[1].get();
  result.on_a = fastest([&] { std::thread([&] { on(cpu_a, a); }).join(); });
  result.on_b = fastest([&] { std::thread([&] { on(cpu_b, b); }).join(); });
  result.both = fastest([&] {
    std::thread first([&] { on(cpu_a, a); }), second([&] { on(cpu_b, b); });
    first.join();
    second.join();
  });
  if (sink.load() == 42) result.both += 1e-12;  // the sums are used
  if (!pinned.load()) result = CoreSharing{};
  return result;
}

}  // namespace cryptonets::bench
