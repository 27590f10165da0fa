// Contiguous ranges of tasks per thread, with work splitting: the schedule of the fused linear
// kernel's dense layers (encrypted_arithmetic.cpp).
//
// Why: the kernel's task t reads one block of coefficients of every input, and while it computes it
// prefetches the block of task t + 1, assuming the thread takes that task next. With OpenMP's
// dynamic schedule (claims of four tasks) two threads alternate claims, so a quarter of each
// thread's tasks started with nothing prefetched; on the 100 → 10 output layer, whose 45.9 MB of
// inputs come from memory, that cost about 6 % on 2 threads and nothing on 1 (bench_linear
// LinearLayer/output-cold-inputs, alternating runs, 2026-12-03: 7.1 ms against 6.7 ms with one
// contiguous range per thread). A static split alone would leave a thread idle whenever the host
// slows the other vCPU, hence the splitting: a thread whose range is empty takes the upper half of
// the largest range left.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace cryptonets::inference {

class WorkSplitter {
 public:
  // Tasks [0, count) for `threads` threads (1 to 1024): thread i starts with
  // [i·count/threads, (i+1)·count/threads). count must be below 2^32.
  // Throws std::invalid_argument otherwise.
  WorkSplitter(size_t count, int threads);

  struct Claim {
    size_t task;
    // The task this thread will most likely take next (the next one of its range), if any: the one
    // to prefetch for. Another thread may still split it off.
    std::optional<size_t> next;
  };

  // The next task of thread `thread` (0 ≤ thread < threads): the first of its own range, or, once
  // that is empty, the first of the upper half split off the largest range of the other threads
  // (which becomes its own range). Empty when no task is left anywhere. Every task in [0, count) is
  // returned exactly once over all calls of all threads. Thread-safe (lock-free), as long as each
  // thread index is used by one thread at a time.
  std::optional<Claim> next(int thread);

 private:
  // One range per thread, [front, back) packed as front · 2^32 + back, on a cache line of its own.
  struct alignas(64) Range {
    std::atomic<uint64_t> bounds{0};
  };
  std::vector<Range> ranges_;
};

}  // namespace cryptonets::inference
