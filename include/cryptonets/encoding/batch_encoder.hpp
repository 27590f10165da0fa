// CRT slot batching (Smart and Vercauteren, "Fully homomorphic SIMD operations", DCC 2014, §3;
// used by CryptoNets, Gilad-Bachrach et al., ICML 2016, §3 "Batching").
//
// For a prime t ≡ 1 (mod 2n), Z_t contains a primitive 2n-th root of unity ψ and
// x^n + 1 = Π_i (x - ψ^(2i+1)) splits into n distinct linear factors mod t, so by the CRT
//   R_t = Z_t[x]/(x^n + 1) ≅ Z_t^n,   m(x) ↦ (m(ψ^(2·brv(i)+1)))_i.
// Slot i of a plaintext is its value at the i-th root in the order of the negacyclic NTT
// (ring/ntt.hpp); sums and products of plaintexts (and so of ciphertexts) act slot by slot.
// encode is the inverse NTT mod t, decode the forward NTT.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "cryptonets/arith/modulus.hpp"
#include "cryptonets/ring/ntt.hpp"
#include "cryptonets/yashe/context.hpp"
#include "cryptonets/yashe/types.hpp"

namespace cryptonets::encoding {

class BatchEncoder {
 public:
  // Slots of R_t at ring degree n, for any scheme. Throws std::invalid_argument unless n is a
  // power of two in [2, 2^17] (the NTT's range, ring/ntt.hpp; a parameter set's n, and so a
  // context's, is at most rlwe::kMaxRingDegree = 2^15) and t a prime ≡ 1 (mod 2n) below 2^62.
  BatchEncoder(size_t n, uint64_t t);
  // The same for a YASHE' context's n and t (context() then returns it); std::invalid_argument
  // for a null context.
  explicit BatchEncoder(std::shared_ptr<const yashe::Context> context);

  size_t slot_count() const { return ntt_.n(); }
  uint64_t plain_modulus() const { return t_.value(); }
  // The YASHE' context it was made from; null when made from (n, t).
  const std::shared_ptr<const yashe::Context>& context() const { return context_; }

  // Reference twin of encode and encode_unsigned: decode (they are each other's inverse).
  // Up to n signed values, the remaining slots zero. Each must satisfy |v| < t/2
  // (std::invalid_argument naming the slot, from 1, otherwise; also for more than n values).
  yashe::Plaintext encode(std::span<const int64_t> values) const;
  // Up to n residues in [0, t), the remaining slots zero (std::invalid_argument as encode).
  yashe::Plaintext encode_unsigned(std::span<const uint64_t> values) const;
  // The constant polynomial `value`: every slot holds `value` (|value| < t/2, std::invalid_argument
  // otherwise). No transform needed, which is why network weights shared by the whole batch are
  // encoded this way.
  yashe::Plaintext encode_scalar(int64_t value) const;

  // The n slots, centred in (-t/2, t/2]. Throws std::invalid_argument unless plain has n
  // coefficients, each in [0, t) (as decode_unsigned).
  // Reference twin: reference::negacyclic_evaluations (ring/reference.hpp) with ψ mod t.
  std::vector<int64_t> decode(const yashe::Plaintext& plain) const;
  // The n slots in [0, t).
  std::vector<uint64_t> decode_unsigned(const yashe::Plaintext& plain) const;

 private:
  uint64_t checked_residue(int64_t value, size_t slot) const {
    // t is odd, so |v| < t/2 means |v| <= (t - 1)/2; then v or v + t is the residue, no division.
    const int64_t half = static_cast<int64_t>((t_.value() - 1) / 2);
    if (value > half || value < -half) [[unlikely]] {
      throw_slot_out_of_range(slot, value);
    }
    return static_cast<uint64_t>(value) + (value < 0 ? t_.value() : 0);
  }
  [[noreturn]] void throw_slot_out_of_range(size_t slot, int64_t value) const;

  std::shared_ptr<const yashe::Context> context_;
  Modulus t_;
  NttTables ntt_;
};

}  // namespace cryptonets::encoding
