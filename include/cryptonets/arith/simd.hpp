// Run-time choice of the SIMD kernels (scalar, AVX2, AVX-512, AVX-512 IFMA).
//
// Every vectorised kernel of the library asks simd_path() which instruction set to use. The
// paths are ordered: a kernel uses the widest one it has that does not exceed simd_path() (the
// NTT, for instance, uses IFMA only for primes below 2^50 and 64-bit AVX-512 otherwise). Every
// path gives the same results as the scalar path bit for bit, so the choice changes speed only;
// parameters and file formats never depend on it.
//
// The default is the widest path the CPU supports (CPUID through __builtin_cpu_supports). The
// environment variable CRYPTONETS_SIMD = scalar | avx2 | avx512 | avx512ifma, read once, lowers
// it as if the CPU lacked the wider paths (so a whole test suite can run as on an older CPU);
// force_simd_path() chooses among the available paths at run time (tests, benchmarks).
#pragma once

#include <optional>
#include <string_view>

namespace cryptonets {

enum class SimdPath {
  scalar,      // portable C++
  avx2,        // AVX2 (256-bit)
  avx512,      // AVX-512 F, DQ, VL, BW (512-bit, 64-bit lanes)
  avx512ifma,  // the above plus IFMA (52-bit multiply-add: vpmadd52luq / vpmadd52huq)
};

// Whether the path is available: the CPU has it and CRYPTONETS_SIMD does not exclude it.
bool simd_path_supported(SimdPath path);
// The widest available path: the CPU's widest, or CRYPTONETS_SIMD where that names a narrower
// one (an unknown name or a path the CPU lacks is reported once on stderr and ignored).
SimdPath widest_supported_simd_path();

// The path the kernels use now: the forced one if any, else widest_supported_simd_path().
SimdPath simd_path();

// Makes simd_path() return `path` from now on (all threads). Throws std::invalid_argument if the
// path is not available. Not meant to be called while kernels run on other threads.
void force_simd_path(SimdPath path);
// Undoes force_simd_path().
void reset_simd_path();

// "scalar", "avx2", "avx512", "avx512ifma".
const char* to_string(SimdPath path);
// The inverse of to_string(); nullopt for any other text.
std::optional<SimdPath> parse_simd_path(std::string_view name);

// Forces a path for the lifetime of the object (tests, benchmarks), restoring the previous
// forced path or none afterwards.
class ScopedSimdPath {
 public:
  explicit ScopedSimdPath(SimdPath path);
  ~ScopedSimdPath();
  ScopedSimdPath(const ScopedSimdPath&) = delete;
  ScopedSimdPath& operator=(const ScopedSimdPath&) = delete;

 private:
  std::optional<SimdPath> previous_;
};

}  // namespace cryptonets
