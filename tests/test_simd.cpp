// The SIMD path selector: names, forcing, restoring, and refusal of paths the CPU lacks.
#include <doctest/doctest.h>

#include <stdexcept>

#include "cryptonets/arith/simd.hpp"
#include "simd_test_support.hpp"

using namespace cryptonets;

TEST_CASE("SIMD path names round-trip and unknown names are rejected") {
  for (SimdPath path : {SimdPath::scalar, SimdPath::avx2, SimdPath::avx512, SimdPath::avx512ifma}) {
    CHECK(parse_simd_path(to_string(path)) == path);
  }
  CHECK_FALSE(parse_simd_path("sse2").has_value());
  CHECK_FALSE(parse_simd_path("").has_value());
  CHECK_FALSE(parse_simd_path("AVX2").has_value());
}

TEST_CASE("SIMD paths are supported in order and the widest is the default's ceiling") {
  CHECK(simd_path_supported(SimdPath::scalar));
  const SimdPath widest = widest_supported_simd_path();
  CHECK(simd_path_supported(widest));
  for (SimdPath path : {SimdPath::scalar, SimdPath::avx2, SimdPath::avx512, SimdPath::avx512ifma}) {
    CHECK(simd_path_supported(path) == (path <= widest));
  }
  CHECK(simd_path() <= widest);
}

TEST_CASE("forcing a SIMD path sets it, scopes nest, and unsupported paths are refused") {
  const SimdPath before = simd_path();
  for (SimdPath path : test::supported_simd_paths()) {
    const ScopedSimdPath outer(path);
    CHECK(simd_path() == path);
    {
      const ScopedSimdPath inner(SimdPath::scalar);
      CHECK(simd_path() == SimdPath::scalar);
    }
    CHECK(simd_path() == path);
  }
  CHECK(simd_path() == before);
  if (!simd_path_supported(SimdPath::avx512ifma)) {
    CHECK_THROWS_AS(force_simd_path(SimdPath::avx512ifma), std::invalid_argument);
    CHECK(simd_path() == before);
  }
}
