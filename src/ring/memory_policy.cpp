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
#include <new>
#include <vector>
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

namespace {

// The pool of freed polynomial blocks (see memory_policy.hpp): per block size, the blocks freed and
// not yet taken again. Few sizes occur in a run (one per ring and base), so a linear search over
// at most kPoolSizeClasses entries is enough; the least recently used size is handed back to malloc
// when a new one needs its place.
constexpr size_t kPoolSizeClasses = 8;

struct SizeClass {
  size_t bytes = 0;
  uint64_t last_use = 0;
  std::vector<void*> blocks;
};

struct BlockPool {
  std::mutex mutex;
  std::vector<SizeClass> classes;
  uint64_t clock = 0;
  std::atomic<bool> enabled{false};
};

// Never destroyed: polynomials in static storage may be freed after the end of main.
BlockPool& pool() {
  static BlockPool* const instance = new BlockPool;
  return *instance;
}

bool pooled_size(size_t bytes) {
  return bytes >= kHugePageAdviceMinimumBytes && bytes <= kPooledBlockMaximumBytes;
}

}  // namespace

void* take_pooled_block(size_t bytes) noexcept {
  BlockPool& p = pool();
  if (!pooled_size(bytes) || !p.enabled.load(std::memory_order_relaxed)) return nullptr;
  const std::lock_guard<std::mutex> lock(p.mutex);
  for (SizeClass& c : p.classes) {
    if (c.bytes != bytes) continue;
    c.last_use = ++p.clock;
    if (c.blocks.empty()) return nullptr;
    void* block = c.blocks.back();
    c.blocks.pop_back();
    return block;
  }
  return nullptr;
}

bool return_pooled_block(void* block, size_t bytes) noexcept {
  BlockPool& p = pool();
  if (!pooled_size(bytes) || !p.enabled.load(std::memory_order_relaxed)) return false;
  std::vector<void*> evicted;
  bool kept = false;
  {
    const std::lock_guard<std::mutex> lock(p.mutex);
    SizeClass* target = nullptr;
    for (SizeClass& c : p.classes)
      target = c.bytes == bytes ? &c : target;
    try {
      if (target == nullptr) {
        if (p.classes.size() == kPoolSizeClasses) {
          auto oldest = p.classes.begin();
          for (auto c = p.classes.begin(); c != p.classes.end(); ++c)
            oldest = c->last_use < oldest->last_use ? c : oldest;
          evicted = std::move(oldest->blocks);
          p.classes.erase(oldest);
        }
        p.classes.push_back(SizeClass{bytes, 0, {}});
        target = &p.classes.back();
      }
      target->last_use = ++p.clock;
      target->blocks.push_back(block);
      kept = true;
    } catch (const std::bad_alloc&) {
      // No room to record it: the caller hands it back to malloc.
    }
  }
  for (void* old : evicted)
    ::operator delete(old, kPolynomialBlockAlignment);
  return kept;
}

void set_block_pool_enabled(bool enabled) noexcept {
  BlockPool& p = pool();
  std::vector<void*> released;
  {
    const std::lock_guard<std::mutex> lock(p.mutex);
    p.enabled.store(enabled, std::memory_order_relaxed);
    if (!enabled) {
      for (SizeClass& c : p.classes)
        released.insert(released.end(), c.blocks.begin(), c.blocks.end());
      p.classes.clear();
    }
  }
  for (void* block : released)
    ::operator delete(block, kPolynomialBlockAlignment);
}

PoolStatistics pooled_block_statistics() {
  BlockPool& p = pool();
  const std::lock_guard<std::mutex> lock(p.mutex);
  PoolStatistics statistics;
  statistics.sizes = p.classes.size();
  for (const SizeClass& c : p.classes) {
    statistics.blocks += c.blocks.size();
    statistics.bytes += c.blocks.size() * c.bytes;
  }
  return statistics;
}
#else
void advise_huge_pages_after_heap_growth() noexcept {}
void* take_pooled_block(size_t) noexcept {
  return nullptr;
}
bool return_pooled_block(void*, size_t) noexcept {
  return false;
}
void set_block_pool_enabled(bool) noexcept {}
PoolStatistics pooled_block_statistics() {
  return {};
}
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
  pool().enabled.store(true, std::memory_order_relaxed);
#endif
  return arenas && trim && mmap && pad;
#else
  return false;
#endif
}

}  // namespace cryptonets
