#include "cryptonets/ring/memory_policy.hpp"

#include <cstddef>  // defines __GLIBC__ where the C library is glibc
#include <cstdint>

#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
#define CRYPTONETS_HEAP_HUGE_PAGES 1
#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#elif defined(__GLIBC__)
#include <malloc.h>
#endif

namespace cryptonets {

#if defined(CRYPTONETS_HEAP_HUGE_PAGES)
namespace {

// The heap's end up to which MADV_HUGEPAGE has been applied; 0 while the policy is off.
std::atomic<uintptr_t> advised_end{0};
std::mutex advice_mutex;

uintptr_t heap_end() {
  return reinterpret_cast<uintptr_t>(sbrk(0));
}

uintptr_t page_floor(uintptr_t address) {
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  return address / page * page;
}

}  // namespace

void advise_huge_pages_after_heap_growth() noexcept {
  const uintptr_t from = advised_end.load(std::memory_order_acquire);
  if (from == 0 || heap_end() <= from) return;
  const std::lock_guard<std::mutex> lock(advice_mutex);
  const uintptr_t start = advised_end.load(std::memory_order_relaxed), end = heap_end();
  if (end <= start) return;
  // Best effort: a kernel without transparent huge pages refuses the advice (EINVAL), and the
  // heap keeps its 4 KiB pages.
  madvise(reinterpret_cast<void*>(start), end - start, MADV_HUGEPAGE);
  advised_end.store(end, std::memory_order_release);
}
#else
void advise_huge_pages_after_heap_growth() noexcept {}
#endif

bool keep_freed_memory_for_reuse() {
#if defined(__GLIBC__)
  constexpr int kTrimThreshold = 2147483647;  // 2 GiB - 1: mallopt takes an int
  constexpr int kMmapThreshold = 32 << 20;    // glibc's largest allowed threshold
  // Heap growth in steps of 64 MiB (virtual until touched): a step's 2 MiB ranges are then
  // still untouched when the next large block marks them for huge pages.
  constexpr int kTopPad = 64 << 20;
  const bool arenas = mallopt(M_ARENA_MAX, 1) == 1;
  const bool trim = mallopt(M_TRIM_THRESHOLD, kTrimThreshold) == 1;
  const bool mmap = mallopt(M_MMAP_THRESHOLD, kMmapThreshold) == 1;
  const bool pad = mallopt(M_TOP_PAD, kTopPad) == 1;
#if defined(CRYPTONETS_HEAP_HUGE_PAGES)
  // From the current end of the heap on: what is below is already in use.
  uintptr_t expected = 0;
  advised_end.compare_exchange_strong(expected, page_floor(heap_end()));
#endif
  return arenas && trim && mmap && pad;
#else
  return false;
#endif
}

}  // namespace cryptonets
