#include "cryptonets/ring/memory_policy.hpp"

#include <cstddef>  // defines __GLIBC__ where the C library is glibc

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace cryptonets {

bool keep_freed_memory_for_reuse() {
#if defined(__GLIBC__)
  constexpr int kTrimThreshold = 2147483647;  // 2 GiB - 1: mallopt takes an int
  constexpr int kMmapThreshold = 32 << 20;    // glibc's largest allowed threshold
  const bool arenas = mallopt(M_ARENA_MAX, 1) == 1;
  const bool trim = mallopt(M_TRIM_THRESHOLD, kTrimThreshold) == 1;
  const bool mmap = mallopt(M_MMAP_THRESHOLD, kMmapThreshold) == 1;
  return arenas && trim && mmap;
#else
  return false;
#endif
}

}  // namespace cryptonets
