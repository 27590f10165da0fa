// A residue number system (RNS) base: pairwise distinct word primes q_0..q_{k-1} and the
// Chinese-remainder constants that let a big integer travel as k words.
//   x ≡ Σ_i [x_i · q̂_i^-1]_{q_i} · q̂_i  (mod Q),  Q = Π q_i,  q̂_i = Q / q_i.
#pragma once

#include <gmpxx.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "cryptonets/arith/modulus.hpp"

namespace cryptonets {

class RnsBase {
 public:
  // Throws std::invalid_argument for an empty list, a modulus outside [2, 2^62), a repeated
  // modulus or two that share a factor. Primality is the caller's (RingContext checks it).
  explicit RnsBase(const std::vector<uint64_t>& primes);

  size_t size() const { return moduli_.size(); }
  const Modulus& operator[](size_t i) const { return moduli_[i]; }
  const std::vector<Modulus>& moduli() const { return moduli_; }
  const mpz_class& product() const { return product_; }  // Q
  // q̂_i^-1 mod q_i, with its Shoup quotient.
  const ShoupMultiplier& punctured_inverse(size_t i) const { return punctured_inverse_[i]; }
  // q̂_i = Q / q_i as a big integer.
  const mpz_class& punctured_product(size_t i) const { return punctured_product_[i]; }

  // decompose, compose and compose_centered are GMP code: the slow, exact side of RNS.
  // residues[i·stride] = x mod q_i in [0, q_i), for x of any sign.
  void decompose(const mpz_class& x, uint64_t* residues, size_t stride = 1) const;
  // The x in [0, Q) with x ≡ residues[i·stride] (mod q_i).
  mpz_class compose(const uint64_t* residues, size_t stride = 1) const;
  // The same x as its centred representative in (-Q/2, Q/2].
  mpz_class compose_centered(const uint64_t* residues, size_t stride = 1) const;
  // compose and compose_centered into `out`, reusing its limbs: a loop over n coefficients then
  // allocates nothing. That matters on threads, since memory_policy's single malloc arena makes
  // every allocation a lock the threads contend for.
  void compose(const uint64_t* residues, size_t stride, mpz_class& out) const;
  void compose_centered(const uint64_t* residues, size_t stride, mpz_class& out) const;

  bool operator==(const RnsBase& other) const { return moduli_ == other.moduli_; }

 private:
  std::vector<Modulus> moduli_;
  mpz_class product_;
  mpz_class half_product_;  // floor(Q / 2)
  std::vector<mpz_class> punctured_product_;
  std::vector<ShoupMultiplier> punctured_inverse_;
};

}  // namespace cryptonets
