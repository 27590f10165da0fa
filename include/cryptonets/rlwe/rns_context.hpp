// What every scale-invariant scheme on R_q = Z_q[x]/(x^n + 1) precomputes once for (n, q, t, w):
// the ciphertext ring, the auxiliary base B of the exact multiplication, the base converters, the
// constants of the Halevi–Polyakov–Shoup scale-and-round, Δ = ⌊q/t⌋, and the layout of the gadget
// decomposition used for key switching. YASHE' (yashe::Context) and BFV (bfv::Context) each hold
// one and add only their own scheme's data.
#pragma once

#include <gmpxx.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "cryptonets/ring/base_converter.hpp"
#include "cryptonets/ring/poly.hpp"

namespace cryptonets::rlwe {

// One digit of the gadget decomposition: bits [l·w, (l+1)·w) of the RNS digit [c_i·q̂_i^-1]_{q_i}.
struct GadgetDigit {
  size_t prime = 0;  // i
  size_t piece = 0;  // l
};

class RnsContext {
 public:
  // n a power of two; q_primes distinct NTT primes ≡ 1 (mod 2n) below 2^62; t coprime to q with
  // log2 t well below log2 q; decomposition_bits w = 0 (one digit per prime) or in [4, 62].
  // The schemes validate their parameters first (with messages naming the field); this
  // constructor only asserts what it relies on. auxiliary_prime_bits: the size of B's primes, 50
  // or 61, or 0 for auxiliary_prime_bits_for_this_cpu(); std::invalid_argument for any other. B
  // only carries exact intermediate values, so every result is the same word for word whichever B
  // is used (tested).
  static std::shared_ptr<const RnsContext> create(size_t n, const std::vector<uint64_t>& q_primes,
                                                  uint64_t t, int decomposition_bits,
                                                  int auxiliary_prime_bits = 0);

  // 50 where the CPU has AVX-512 IFMA, 61 otherwise. With IFMA, primes below 2^50 take the IFMA
  // NTT and narrow (one-limb) base conversions; a square at the default parameters measured
  // 1.04-1.06 ms with 8 primes of 61 bits against 0.98-0.99 ms with 10 of 50 (bench_simd,
  // square_without_relinearization, IFMA path). Without IFMA the two more primes cost more than
  // they save (AVX-512 path 1.38-1.47 against 1.65-1.70 ms), hence the choice by CPU, which no
  // file records: it changes speed, never a result.
  static int auxiliary_prime_bits_for_this_cpu();

  size_t n() const { return n_; }
  const Modulus& t() const { return t_; }

  // R_q, the ciphertext ring.
  const std::shared_ptr<const RingContext>& ring() const { return ring_q_; }
  const RnsBase& q_base() const { return ring_q_->base(); }
  const mpz_class& q() const { return ring_q_->base().product(); }
  double log2_q() const { return log2_q_; }

  // The base q ∪ B of the exact multiplication. B holds the exact tensor of two centred lifts
  // (|Σ c_i·d_j| <= 2·n·(q/2)² < q·B/2) and the rescaled result round(t/q·x), |.| <= t·n·q/2,
  // with 2^20 to spare (scale_invariant.cpp).
  const std::shared_ptr<const RingContext>& product_ring() const { return ring_qb_; }
  const RnsBase& b_base() const { return b_base_; }
  const BaseConverter& q_to_b() const { return *q_to_b_; }
  const BaseConverter& b_to_q() const { return *b_to_q_; }
  const BaseConverter& q_to_t() const { return *q_to_t_; }

  // Δ = ⌊q/t⌋ (FV12 §3, BLLN13 §4), as a big integer and modulo each q_i.
  const mpz_class& delta() const { return delta_; }
  uint64_t delta_mod_q(size_t i) const { return delta_mod_q_[i]; }
  // r_t(q) = q mod t: the part of q that Δ·t misses.
  uint64_t q_mod_t() const { return q_mod_t_; }
  const ShoupMultiplier& t_mod_q(size_t i) const { return t_mod_q_[i]; }
  const ShoupMultiplier& t_mod_b(size_t j) const { return t_mod_b_[j]; }
  const ShoupMultiplier& q_inverse_mod_b(size_t j) const { return q_inverse_mod_b_[j]; }
  const ShoupMultiplier& minus_q_inverse_mod_t() const { return minus_q_inverse_mod_t_; }

  // Gadget layout: digit d = (i, l) in the order keys are made (i outer, l inner).
  size_t digits_per_prime(size_t i) const { return digits_per_prime_[i]; }
  size_t digit_count() const { return digits_.size(); }
  const GadgetDigit& digit(size_t d) const { return digits_[d]; }
  int digit_bits() const { return digit_bits_; }  // w (62 for one digit per prime)
  // The gadget vector's entry g_d = q̂_i·2^(w·l), so that c ≡ Σ_d D_d(c)·g_d (mod q).
  mpz_class gadget_factor(size_t d) const;

 private:
  RnsContext(size_t n, const std::vector<uint64_t>& q_primes, uint64_t t, int decomposition_bits,
             int auxiliary_prime_bits);

  size_t n_;
  Modulus t_;
  double log2_q_ = 0;
  std::shared_ptr<const RingContext> ring_q_;
  std::shared_ptr<const RingContext> ring_qb_;
  RnsBase b_base_;
  std::unique_ptr<BaseConverter> q_to_b_, b_to_q_, q_to_t_;
  mpz_class delta_;
  std::vector<uint64_t> delta_mod_q_;
  uint64_t q_mod_t_ = 0;
  std::vector<ShoupMultiplier> t_mod_q_, t_mod_b_, q_inverse_mod_b_;
  ShoupMultiplier minus_q_inverse_mod_t_;
  std::vector<size_t> digits_per_prime_;
  std::vector<GadgetDigit> digits_;
  int digit_bits_ = 0;
};

}  // namespace cryptonets::rlwe
