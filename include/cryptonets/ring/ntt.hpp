// Negacyclic number-theoretic transform over Z_q[x]/(x^n + 1).
//
// With ψ a primitive 2n-th root of unity mod q, the forward transform maps a(x) to its values
// a(ψ^(2·brv(i)+1)) for i = 0..n-1 (brv = bit reversal of log2 n bits): the roots of x^n + 1, in
// bit-reversed order. Products in R_q are then pointwise products of these values.
// Butterflies follow Harvey ("Faster arithmetic for number-theoretic transforms", 2014): Shoup
// multiplication by precomputed twiddles, values kept lazily in [0, 4q) and reduced once at the
// end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "cryptonets/arith/modulus.hpp"

namespace cryptonets {

enum class NttPath {
  scalar,  // portable C++; always available
  avx2,    // AVX2 kernels, bit-for-bit equal to the scalar path; only where the CPU has AVX2
  best,    // the fastest path this CPU supports
};

bool ntt_path_available(NttPath path);

class NttTables {
 public:
  // n a power of two in [2, 2^17]; q a prime ≡ 1 (mod 2n), q < 2^62. Throws std::invalid_argument.
  NttTables(size_t n, const Modulus& q);

  size_t n() const { return n_; }
  const Modulus& modulus() const { return q_; }
  uint64_t psi() const { return psi_; }

  // In place. Input: n residues in [0, q) in coefficient order. Output: [0, q), bit-reversed.
  // Reference twin: reference::negacyclic_evaluations (ring/reference.hpp), the definition.
  void forward(uint64_t* a, NttPath path = NttPath::best) const;
  // In place, exact inverse of forward (the factor n^-1 included).
  // Reference twin: none of its own; tested as the inverse of forward.
  void inverse(uint64_t* a, NttPath path = NttPath::best) const;

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
};

}  // namespace cryptonets
