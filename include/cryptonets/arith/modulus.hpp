// Word-size modular arithmetic for moduli q < 2^62.
//
// Two multiplication strategies:
//  * Barrett reduction (Barrett 1986) of the 128-bit product with the precomputed ratio
//    floor(2^128 / q): for two variable operands.
//  * Shoup's precomputed quotient (as in NTL's MulModPrecon; Harvey 2014, §2): when one operand w
//    is fixed, w' = floor(w · 2^64 / q) turns x·w mod q into two multiplications and no division.
//    This is what every NTT butterfly uses.
// All functions take and return canonical residues in [0, q) unless their name says "lazy".
#pragma once

#include <cstdint>

#include "cryptonets/arith/uint128.hpp"

namespace cryptonets {

class Modulus {
 public:
  static constexpr int kMaxBits = 62;

  // Throws std::invalid_argument unless 2 <= value < 2^62.
  explicit Modulus(uint64_t value);

  uint64_t value() const { return value_; }
  int bits() const { return bits_; }

  // x mod q for any 64-bit x.
  // Reference twin: reference::reduce (arith/reference.hpp).
  uint64_t reduce(uint64_t x) const {
    uint64_t r = x - mul_high(x, ratio_hi_) * value_;  // floor(x / q) estimated low by at most 1
    return r >= value_ ? r - value_ : r;
  }

  // x mod q for any x < 2^128 / 4 (in particular any product of two residues).
  // Barrett: quotient estimate floor(x · ratio / 2^128), computed from the four partial products
  // of x = x1·2^64 + x0 and ratio = r1·2^64 + r0. Dropping the low fractions makes the estimate
  // fall short of floor(x / q) by at most 2, fixed by the corrections below.
  // Reference twin: reference::reduce (arith/reference.hpp).
  uint64_t reduce(u128 x) const {
    const uint64_t x0 = static_cast<uint64_t>(x);
    const uint64_t x1 = static_cast<uint64_t>(x >> 64);
    const u128 low_carry = static_cast<u128>(x0) * ratio_lo_ >> 64;
    const u128 mid_a = static_cast<u128>(x0) * ratio_hi_ + low_carry;
    const u128 mid_b = static_cast<u128>(x1) * ratio_lo_ + static_cast<uint64_t>(mid_a);
    const uint64_t quotient =
        x1 * ratio_hi_ + static_cast<uint64_t>(mid_a >> 64) + static_cast<uint64_t>(mid_b >> 64);
    uint64_t r = x0 - quotient * value_;  // exact modulo 2^64: the true remainder is below 3q
    if (r >= value_) r -= value_;
    if (r >= value_) r -= value_;
    return r;
  }

  bool operator==(const Modulus& other) const { return value_ == other.value_; }

 private:
  uint64_t value_;
  int bits_;
  // floor(2^128 / q) = ratio_hi_ · 2^64 + ratio_lo_.
  uint64_t ratio_hi_;
  uint64_t ratio_lo_;
};

inline uint64_t add_mod(uint64_t a, uint64_t b, const Modulus& q) {
  uint64_t s = a + b;
  return s >= q.value() ? s - q.value() : s;
}

inline uint64_t sub_mod(uint64_t a, uint64_t b, const Modulus& q) {
  return a >= b ? a - b : a + q.value() - b;
}

inline uint64_t neg_mod(uint64_t a, const Modulus& q) {
  return a == 0 ? 0 : q.value() - a;
}

// a·b mod q by Barrett reduction of the 128-bit product.
// Reference twin: reference::mul_mod (arith/reference.hpp).
inline uint64_t mul_mod(uint64_t a, uint64_t b, const Modulus& q) {
  return q.reduce(static_cast<u128>(a) * b);
}

// A fixed multiplicand w < q with its Shoup quotient w' = floor(w · 2^64 / q).
struct ShoupMultiplier {
  uint64_t operand = 0;
  uint64_t quotient = 0;

  ShoupMultiplier() = default;
  ShoupMultiplier(uint64_t w, const Modulus& q);
};

// x·w mod q up to one extra q: the result lies in [0, 2q). Valid for every 64-bit x.
// Reference twin: reference::mul_mod (arith/reference.hpp), for this and mul_shoup.
inline uint64_t mul_shoup_lazy(uint64_t x, const ShoupMultiplier& w, uint64_t q) {
  uint64_t quotient_estimate = mul_high(x, w.quotient);
  return x * w.operand - quotient_estimate * q;  // exact modulo 2^64, and < 2q
}

inline uint64_t mul_shoup(uint64_t x, const ShoupMultiplier& w, uint64_t q) {
  uint64_t r = mul_shoup_lazy(x, w, q);
  return r >= q ? r - q : r;
}

// base^exponent mod q by square-and-multiply.
// Reference twin: reference::pow_mod (arith/reference.hpp).
uint64_t pow_mod(uint64_t base, uint64_t exponent, const Modulus& q);

// a^-1 mod q by the extended Euclidean algorithm; throws std::invalid_argument if gcd(a, q) != 1.
// Reference twin: reference::inv_mod (arith/reference.hpp).
uint64_t inv_mod(uint64_t a, const Modulus& q);

// The residue of a signed integer.
inline uint64_t from_signed(int64_t x, const Modulus& q) {
  if (x >= 0) return q.reduce(static_cast<uint64_t>(x));
  return neg_mod(q.reduce(static_cast<uint64_t>(-(x + 1)) + 1), q);
}

// x mod c for any x < 2^128 without branches (Modulus::reduce branches, which costs where the
// residues are random). With x = x1·2^64 + x0: x1·(2^64 mod c) by Shoup's precomputed quotient
// (Harvey 2014, §2) lands in [0, 2c); x0 - floor(x0·floor(2^64/c)/2^64)·c lands in [0, 2c)
// (Barrett 1986: the estimate is short by at most one); their sum, below 4c < 2^64 for c < 2^62,
// needs two conditional subtractions.
// Reference twin: reference::reduce (arith/reference.hpp).
class WideReducer {
 public:
  explicit WideReducer(uint64_t modulus)
      : c_(modulus),
        twice_c_(2 * modulus),
        two64_mod_c_(static_cast<uint64_t>((u128{1} << 64) % modulus)),
        two64_mod_c_quotient_(
            static_cast<uint64_t>((static_cast<u128>(two64_mod_c_) << 64) / modulus)),
        two64_over_c_(static_cast<uint64_t>((u128{1} << 64) / modulus)) {}

  uint64_t reduce(u128 x) const {
    const uint64_t x1 = static_cast<uint64_t>(x >> 64), x0 = static_cast<uint64_t>(x);
    const uint64_t high_part = x1 * two64_mod_c_ - mul_high(x1, two64_mod_c_quotient_) * c_;
    const uint64_t low_part = x0 - mul_high(x0, two64_over_c_) * c_;
    uint64_t r = high_part + low_part;
    r -= twice_c_ & (uint64_t{0} - static_cast<uint64_t>(r >= twice_c_));
    r -= c_ & (uint64_t{0} - static_cast<uint64_t>(r >= c_));
    return r;
  }

 private:
  uint64_t c_, twice_c_;
  uint64_t two64_mod_c_, two64_mod_c_quotient_;  // 2^64 mod c and floor((2^64 mod c)·2^64 / c)
  uint64_t two64_over_c_;                        // floor(2^64 / c)
};

// x mod q for |x| < q, without branches: x, or x + q when x is negative.
// Reference twin: from_signed.
inline uint64_t lift_small(int64_t x, const Modulus& q) {
  return static_cast<uint64_t>(x) + (q.value() & (uint64_t{0} - (static_cast<uint64_t>(x) >> 63)));
}

// The centred representative of a residue, in (-q/2, q/2].
inline int64_t to_centered(uint64_t a, const Modulus& q) {
  return a > q.value() / 2 ? static_cast<int64_t>(a) - static_cast<int64_t>(q.value())
                           : static_cast<int64_t>(a);
}

}  // namespace cryptonets
