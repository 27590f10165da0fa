// What 2 threads can gain over 1 on this machine, whatever our code does: the same work on 1
// thread, then on 2 threads at once (each thread its own copy), for three kinds of loop:
//   multiply: independent 32x32 -> 64-bit vector multiply-adds (vpmuldq + vpaddq on 8 lanes, the
//             inner operation of the dense layer's kernel), on registers only: bound by the
//             core's multiplier throughput and clock;
//   scalar:   a chain of 64-bit multiply-adds: bound by latency and clock;
//   stream:   sums over a 256 MiB buffer per thread: bound by memory bandwidth;
//   L2, L3:   the same sums over 512 KiB and 8 MiB per thread, repeated: bound by the bandwidth of
//             the core's own L2 cache and of the last-level cache (which the two vCPUs may share,
//             with each other and with other tenants of the host).
// The ratio 2 x (1-thread time) / (2-thread time) is the ceiling of any 2-thread speed-up for
// loops of that kind: on a machine whose two vCPUs share a core, a lower turbo clock with both
// busy, or a noisy host, it is below 2. Prints one markdown table.
//
//   build/bench/cryptonets-thread-ceiling [repeats]     (default 5; the median is reported)
// GCC 12's AVX-512 intrinsics start from _mm512_undefined_epi32(), which -O3 reports as "may be
// used (or "is used") uninitialized" (GCC bug 105593, fixed in GCC 13): a false positive.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "cryptonets/arith/simd.hpp"

namespace {

#if defined(__x86_64__)
__attribute__((target("avx512f"), noinline)) uint64_t multiply_avx512(uint64_t rounds) {
  __m512i sums[16];
  for (int i = 0; i < 16; ++i)
    sums[i] = _mm512_set1_epi64(i);
  __m512i x = _mm512_set1_epi64(0x12345678), w = _mm512_set1_epi64(77);
  for (uint64_t r = 0; r < rounds; ++r) {
    for (int i = 0; i < 16; ++i)
      sums[i] = _mm512_add_epi64(sums[i], _mm512_mul_epi32(x, w));
    __asm__ volatile("" : "+v"(x), "+v"(w));  // keeps the products inside the loop
  }
  uint64_t total = 0;
  for (int i = 0; i < 16; ++i)
    total += static_cast<uint64_t>(_mm512_reduce_add_epi64(sums[i]));
  return total;
}
#endif

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

// Seconds for every thread of `threads` to run `work` once, all at the same time.
template <class Work>
double timed(int threads, const Work& work) {
  std::vector<uint64_t> sink(static_cast<size_t>(threads));
  const auto start = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads)
  sink[static_cast<size_t>(omp_get_thread_num())] = work();
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
  const int repeats = argc > 1 ? std::max(1, std::atoi(argv[1])) : 5;
  const bool avx512 = cryptonets::simd_path_supported(cryptonets::SimdPath::avx512);
  std::vector<std::vector<uint64_t>> buffers(2, std::vector<uint64_t>(size_t{32} << 20, 1));
  struct Kind {
    std::string name;
    double one = 0, two = 0;
  };
  std::vector<Kind> kinds = {{avx512 ? "multiply (AVX-512 vpmuldq)"
                                     : "multiply (skipped: no "
                                       "AVX-512)"},
                             {"scalar (64-bit multiply chain)"},
                             {"stream (256 MiB per thread)"},
                             {"L2 (512 KiB per thread, 65536 passes)"},
                             {"L3 (8 MiB per thread, 4096 passes)"}};
  for (size_t k = 0; k < kinds.size(); ++k) {
    if (k == 0 && !avx512) continue;
    std::vector<double> one, two;
    for (int r = 0; r < repeats; ++r) {
      for (int threads : {1, 2}) {
        const double seconds = timed(threads, [&]() -> uint64_t {
          const auto& buffer = buffers[static_cast<size_t>(omp_get_thread_num())];
          if (k == 2) return stream(buffer, 16);
          if (k == 3) return stream(std::span(buffer).first(size_t{64} << 10), 65536);
          if (k == 4) return stream(std::span(buffer).first(size_t{1} << 20), 4096);
#if defined(__x86_64__)
          if (k == 0) return multiply_avx512(uint64_t{1} << 27);
#endif
          return multiply_scalar(uint64_t{1} << 25);
        });
        (threads == 1 ? one : two).push_back(seconds);
      }
    }
    std::sort(one.begin(), one.end());
    std::sort(two.begin(), two.end());
    kinds[k].one = one[one.size() / 2];
    kinds[k].two = two[two.size() / 2];
  }
  std::printf("| loop | 1 thread s | 2 threads s (twice the work) | 2-thread speed-up |\n");
  std::printf("|---|---|---|---|\n");
  for (const Kind& kind : kinds) {
    if (kind.one == 0) continue;
    std::printf("| %s | %.3f | %.3f | %.2f |\n", kind.name.c_str(), kind.one, kind.two,
                2 * kind.one / kind.two);
  }
  return 0;
}
