// Element-wise RNS row arithmetic: the scalar twins, and the dispatch to the AVX-512 kernels of
// rns_kernels_avx512.cpp.
#include "cryptonets/ring/rns_kernels.hpp"

#include <stdexcept>
#include <string>

namespace cryptonets {

namespace rns_avx512 {
// Barrett constants of rns_kernels_avx512.cpp for q of `bits` bits: μ = floor(2^(2·bits) / q).
void multiply(uint64_t* a, const uint64_t* b, size_t n, uint64_t q, int bits, uint64_t mu);
void multiply_accumulate(uint64_t* acc, const uint64_t* a, const uint64_t* b, size_t n, uint64_t q,
                         int bits, uint64_t mu);
void multiply_shoup(uint64_t* a, size_t n, const ShoupMultiplier& w, uint64_t q);
void add(uint64_t* a, const uint64_t* b, size_t n, uint64_t q);
void subtract(uint64_t* a, const uint64_t* b, size_t n, uint64_t q);
}  // namespace rns_avx512

namespace {

bool use_avx512(SimdPath path) {
  if (!simd_path_supported(path)) {
    throw std::invalid_argument(std::string("rns_kernels: this CPU does not support the ") +
                                to_string(path) + " path");
  }
  return path >= SimdPath::avx512;
}

// floor(2^(2·bits) / q) < 2^(bits + 1) (q ≥ 2^(bits − 1) and not a power of two).
uint64_t barrett_mu(const Modulus& q) {
  return static_cast<uint64_t>((u128{1} << (2 * q.bits())) / q.value());
}

}  // namespace

void multiply_rows_elementwise(uint64_t* a, const uint64_t* b, size_t n, const Modulus& q,
                               SimdPath path) {
  if (use_avx512(path) && q.bits() >= 2) {
    return rns_avx512::multiply(a, b, n, q.value(), q.bits(), barrett_mu(q));
  }
  for (size_t j = 0; j < n; ++j)
    a[j] = mul_mod(a[j], b[j], q);
}

void multiply_accumulate_rows(uint64_t* acc, const uint64_t* a, const uint64_t* b, size_t n,
                              const Modulus& q, SimdPath path) {
  if (use_avx512(path) && q.bits() >= 2) {
    return rns_avx512::multiply_accumulate(acc, a, b, n, q.value(), q.bits(), barrett_mu(q));
  }
  for (size_t j = 0; j < n; ++j)
    acc[j] = add_mod(acc[j], mul_mod(a[j], b[j], q), q);
}

void multiply_row_shoup(uint64_t* a, size_t n, const ShoupMultiplier& w, const Modulus& q,
                        SimdPath path) {
  if (use_avx512(path)) return rns_avx512::multiply_shoup(a, n, w, q.value());
  for (size_t j = 0; j < n; ++j)
    a[j] = mul_shoup(a[j], w, q.value());
}

void add_rows(uint64_t* a, const uint64_t* b, size_t n, const Modulus& q, SimdPath path) {
  if (use_avx512(path)) return rns_avx512::add(a, b, n, q.value());
  for (size_t j = 0; j < n; ++j)
    a[j] = add_mod(a[j], b[j], q);
}

void subtract_rows(uint64_t* a, const uint64_t* b, size_t n, const Modulus& q, SimdPath path) {
  if (use_avx512(path)) return rns_avx512::subtract(a, b, n, q.value());
  for (size_t j = 0; j < n; ++j)
    a[j] = sub_mod(a[j], b[j], q);
}

}  // namespace cryptonets
