#include "cryptonets/arith/simd.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace cryptonets {

namespace {

constexpr int kNotForced = -1;
// The forced path as an int (kNotForced when none): read by every kernel call, so atomic.
std::atomic<int> forced_path{kNotForced};

bool detect(SimdPath path) {
  // __builtin_cpu_init makes this safe in static initialisers (benchmark registration) that may
  // run before libgcc's own detection.
  __builtin_cpu_init();
  switch (path) {
    case SimdPath::scalar:
      return true;
    case SimdPath::avx2:
      return __builtin_cpu_supports("avx2") != 0;
    case SimdPath::avx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw");
    case SimdPath::avx512ifma:
      return detect(SimdPath::avx512) && __builtin_cpu_supports("avx512ifma");
  }
  return false;
}

SimdPath detect_widest() {
  for (SimdPath path : {SimdPath::avx512ifma, SimdPath::avx512, SimdPath::avx2}) {
    if (detect(path)) return path;
  }
  return SimdPath::scalar;
}

// The widest path the CPU has, lowered by CRYPTONETS_SIMD if set.
SimdPath ceiling() {
  const SimdPath widest = detect_widest();
  const char* requested = std::getenv("CRYPTONETS_SIMD");
  if (requested == nullptr || *requested == '\0') return widest;
  const std::optional<SimdPath> path = parse_simd_path(requested);
  if (!path) {
    std::fprintf(stderr,
                 "cryptonets: CRYPTONETS_SIMD=%s is not one of scalar, avx2, avx512, avx512ifma; "
                 "using %s\n",
                 requested, to_string(widest));
    return widest;
  }
  if (*path > widest) {
    std::fprintf(stderr, "cryptonets: CRYPTONETS_SIMD=%s is not supported by this CPU; using %s\n",
                 requested, to_string(widest));
    return widest;
  }
  return *path;
}

}  // namespace

bool simd_path_supported(SimdPath path) {
  return path <= widest_supported_simd_path();
}

SimdPath widest_supported_simd_path() {
  static const SimdPath widest = ceiling();
  return widest;
}

SimdPath simd_path() {
  const int forced = forced_path.load(std::memory_order_relaxed);
  if (forced != kNotForced) return static_cast<SimdPath>(forced);
  return widest_supported_simd_path();
}

void force_simd_path(SimdPath path) {
  if (!simd_path_supported(path)) {
    throw std::invalid_argument(std::string("force_simd_path: the ") + to_string(path) +
                                " path is not available (CPU or CRYPTONETS_SIMD)");
  }
  forced_path.store(static_cast<int>(path), std::memory_order_relaxed);
}

void reset_simd_path() {
  forced_path.store(kNotForced, std::memory_order_relaxed);
}

const char* to_string(SimdPath path) {
  switch (path) {
    case SimdPath::scalar:
      return "scalar";
    case SimdPath::avx2:
      return "avx2";
    case SimdPath::avx512:
      return "avx512";
    case SimdPath::avx512ifma:
      return "avx512ifma";
  }
  return "unknown";
}

std::optional<SimdPath> parse_simd_path(std::string_view name) {
  for (SimdPath path : {SimdPath::scalar, SimdPath::avx2, SimdPath::avx512, SimdPath::avx512ifma}) {
    if (name == to_string(path)) return path;
  }
  return std::nullopt;
}

ScopedSimdPath::ScopedSimdPath(SimdPath path) {
  const int forced = forced_path.load(std::memory_order_relaxed);
  if (forced != kNotForced) previous_ = static_cast<SimdPath>(forced);
  force_simd_path(path);
}

ScopedSimdPath::~ScopedSimdPath() {
  if (previous_) {
    forced_path.store(static_cast<int>(*previous_), std::memory_order_relaxed);
  } else {
    reset_simd_path();
  }
}

}  // namespace cryptonets
