// Negacyclic number-theoretic transform over Z_q[x]/(x^n + 1).
//
// With ψ a primitive 2n-th root of unity mod q, the forward transform maps a(x) to its values
// a(ψ^(2·brv(i)+1)) for i = 0..n-1 (brv = bit reversal of log2 n bits): the roots of x^n + 1, in
// bit-reversed order. Products in R_q are then pointwise products of these values. The powers of ψ
// are merged into the Cooley-Tukey (forward) and Gentleman-Sande (inverse) butterflies (Longa and
// Naehrig, CANS 2016, Alg. 1 and 2), so no pre- or post-multiplication by ψ^i is needed.
// Butterflies follow Harvey ("Faster arithmetic for number-theoretic transforms", 2014): Shoup
// multiplication by precomputed twiddles, values kept lazily in [0, 4q) and reduced once at the
// end.
//
// Paths (arith/simd.hpp): scalar; AVX2 (n ≥ 8); AVX-512 with 64-bit words (n ≥ 16); AVX-512
// IFMA with 52-bit words (n ≥ 16, q < 2^50). All give the same output bit for bit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "cryptonets/arith/modulus.hpp"
#include "cryptonets/arith/simd.hpp"

namespace cryptonets {

class NttTables {
 public:
  // n a power of two in [2, 2^17]; q a prime ≡ 1 (mod 2n), q < 2^62. Throws std::invalid_argument.
  NttTables(size_t n, const Modulus& q);

  size_t n() const { return n_; }
  const Modulus& modulus() const { return q_; }
  uint64_t psi() const { return psi_; }

  // In place. Input: n residues in [0, q) in coefficient order. Output: [0, q), bit-reversed.
  // Uses the widest kernel allowed by simd_path().
  // Reference twin: reference::negacyclic_evaluations (ring/reference.hpp), the definition.
  void forward(uint64_t* a) const { forward(a, simd_path()); }
  // In place, exact inverse of forward (the factor n^-1 included).
  // Reference twin: none of its own; tested as the inverse of forward.
  void inverse(uint64_t* a) const { inverse(a, simd_path()); }
  // The same with the widest kernel allowed by `path`; throws std::invalid_argument if this CPU
  // does not support `path`.
  void forward(uint64_t* a, SimdPath path) const;
  void inverse(uint64_t* a, SimdPath path) const;
  // The kernel that `path` selects for this table (scalar below n = 8, IFMA only for q < 2^50).
  SimdPath kernel(SimdPath path) const;

 private:
  size_t n_;
  int log_n_;
  Modulus q_;
  uint64_t psi_;  // the minimal primitive 2n-th root of unity
  // psi_powers_[i] = ψ^brv(i) for the forward transform; inverse_psi_powers_ likewise for ψ^-1,
  // ordered as the inverse (Gentleman-Sande) loop consumes them (all stages but the last).
  std::vector<ShoupMultiplier> psi_powers_;
  std::vector<ShoupMultiplier> inverse_psi_powers_;
  ShoupMultiplier inverse_n_;
  // n^-1 · ψ^-brv(1): the twiddle of the last inverse stage with n^-1 folded in.
  ShoupMultiplier inverse_n_last_twiddle_;
  // For q < 2^50 (IFMA kernels): the same tables with quotients floor(w·2^52/q); else empty.
  std::vector<ShoupMultiplier> psi_powers_52_;
  std::vector<ShoupMultiplier> inverse_psi_powers_52_;
  ShoupMultiplier inverse_n_52_;
  ShoupMultiplier inverse_n_last_twiddle_52_;
};

}  // namespace cryptonets
