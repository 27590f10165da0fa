#include "cryptonets/arith/modulus.hpp"

#include <bit>
#include <stdexcept>
#include <string>

namespace cryptonets {

Modulus::Modulus(uint64_t value) : value_(value) {
  if (value < 2 || value >> kMaxBits != 0) {
    throw std::invalid_argument("Modulus: " + std::to_string(value) +
                                " is outside [2, 2^62); word moduli must be at most 62 bits");
  }
  bits_ = std::bit_width(value);
  // floor(2^128 / q) by long division of 2^128 = (2^64)·2^64 in two 64-bit steps.
  u128 high = (static_cast<u128>(1) << 64) / value;  // floor(2^64 / q)
  u128 rem = (static_cast<u128>(1) << 64) % value;
  ratio_hi_ = static_cast<uint64_t>(high);
  ratio_lo_ = static_cast<uint64_t>((rem << 64) / value);
}

ShoupMultiplier::ShoupMultiplier(uint64_t w, const Modulus& q)
    : operand(w), quotient(static_cast<uint64_t>((static_cast<u128>(w) << 64) / q.value())) {}

uint64_t pow_mod(uint64_t base, uint64_t exponent, const Modulus& q) {
  uint64_t result = q.reduce(uint64_t{1});
  base = q.reduce(base);
  while (exponent != 0) {
    if (exponent & 1) result = mul_mod(result, base, q);
    base = mul_mod(base, base, q);
    exponent >>= 1;
  }
  return result;
}

uint64_t inv_mod(uint64_t a, const Modulus& q) {
  // Extended Euclid on (q, a mod q), tracking only the coefficient of a.
  int64_t t0 = 0, t1 = 1;
  uint64_t r0 = q.value(), r1 = q.reduce(a);
  while (r1 != 0) {
    uint64_t quotient = r0 / r1;
    uint64_t r2 = r0 - quotient * r1;
    int64_t t2 = t0 - static_cast<int64_t>(quotient) * t1;
    r0 = r1, r1 = r2, t0 = t1, t1 = t2;
  }
  if (r0 != 1) {
    throw std::invalid_argument("inv_mod: " + std::to_string(a) + " is not invertible modulo " +
                                std::to_string(q.value()));
  }
  return from_signed(t0, q);
}

}  // namespace cryptonets
