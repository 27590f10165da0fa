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
void dot_product(uint64_t* out, bool accumulate, const uint64_t* const* a, const uint64_t* const* b,
                 size_t count, size_t n, uint64_t q, int bits, uint64_t mu);
void dot_product_ifma(uint64_t* out, bool accumulate, const uint64_t* const* a,
                      const uint64_t* const* b, size_t count, size_t n, uint64_t q,
                      const ShoupMultiplier* reduce);
void multiply_shoup_subtract(uint64_t* a, const uint64_t* x, size_t n, const ShoupMultiplier& w,
                             uint64_t q);
void extract_digit(uint64_t* out, const uint64_t* y, size_t n, int shift, uint64_t mask,
                   uint64_t q);
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

void dot_product_rows(uint64_t* out, bool accumulate, const uint64_t* const* a,
                      const uint64_t* const* b, size_t count, size_t n, const Modulus& q,
                      SimdPath path) {
  const uint64_t m = q.value() - 1;
  if (count == 0 ||
      (m > 0 && static_cast<u128>(count) > (~u128{0} - q.value()) / (static_cast<u128>(m) * m))) {
    throw std::invalid_argument("dot_product_rows: " + std::to_string(count) +
                                " terms may overflow the 128-bit sum modulo " +
                                std::to_string(q.value()));
  }
  if (use_avx512(path)) {
    if (path >= SimdPath::avx512ifma && count <= 1024) {
      // Shoup multipliers of 1, 2^52 and 2^104 modulo q: the limb sums' weights.
      const uint64_t two52 = (uint64_t{1} << 52) % q.value();
      const ShoupMultiplier reduce[3] = {ShoupMultiplier(1 % q.value(), q),
                                         ShoupMultiplier(two52, q),
                                         ShoupMultiplier(mul_mod(two52, two52, q), q)};
      return rns_avx512::dot_product_ifma(out, accumulate, a, b, count, n, q.value(), reduce);
    }
    if (q.bits() >= 2) {
      return rns_avx512::dot_product(out, accumulate, a, b, count, n, q.value(), q.bits(),
                                     barrett_mu(q));
    }
  }
  const WideReducer reducer(q.value());
  for (size_t j = 0; j < n; ++j) {
    u128 sum = accumulate ? out[j] : 0;
    for (size_t g = 0; g < count; ++g)
      sum += static_cast<u128>(a[g][j]) * b[g][j];
    out[j] = reducer.reduce(sum);
  }
}

void multiply_shoup_subtract_rows(uint64_t* a, const uint64_t* x, size_t n,
                                  const ShoupMultiplier& w, const Modulus& q, SimdPath path) {
  if (use_avx512(path)) return rns_avx512::multiply_shoup_subtract(a, x, n, w, q.value());
  const uint64_t modulus = q.value();
  // No branch: the operands are random, so a branch would be mispredicted.
  for (size_t j = 0; j < n; ++j) {
    const uint64_t product = mul_shoup(x[j], w, modulus);
    a[j] = product - a[j] + (modulus & (uint64_t{0} - static_cast<uint64_t>(product < a[j])));
  }
}

void extract_digit_row(uint64_t* out, const uint64_t* y, size_t n, int shift, uint64_t mask,
                       const Modulus& q, SimdPath path) {
  if (use_avx512(path)) return rns_avx512::extract_digit(out, y, n, shift, mask, q.value());
  const uint64_t modulus = q.value();
  for (size_t j = 0; j < n; ++j) {
    const uint64_t v = (y[j] >> shift) & mask;
    out[j] = v - (modulus & (uint64_t{0} - static_cast<uint64_t>(v >= modulus)));
  }
}

}  // namespace cryptonets
