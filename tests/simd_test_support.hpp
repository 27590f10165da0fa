// The SIMD paths a test runs: every path this CPU supports. The ones it cannot run are reported
// (doctest MESSAGE) so that a log shows what was skipped.
#pragma once

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "cryptonets/arith/simd.hpp"

namespace cryptonets::test {

inline std::vector<SimdPath> supported_simd_paths() {
  std::vector<SimdPath> paths;
  std::string skipped;
  for (SimdPath path : {SimdPath::scalar, SimdPath::avx2, SimdPath::avx512, SimdPath::avx512ifma}) {
    if (simd_path_supported(path)) {
      paths.push_back(path);
    } else {
      skipped += std::string(skipped.empty() ? "" : ", ") + to_string(path);
    }
  }
  if (!skipped.empty()) MESSAGE("this CPU lacks these SIMD paths, not tested: " << skipped);
  return paths;
}

// The supported paths other than scalar.
inline std::vector<SimdPath> supported_vector_paths() {
  std::vector<SimdPath> paths = supported_simd_paths();
  paths.erase(paths.begin());
  return paths;
}

}  // namespace cryptonets::test
