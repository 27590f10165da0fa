#include "cryptonets/rlwe/rns_context.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <stdexcept>
#include <string>

#include "cryptonets/arith/primes.hpp"
#include "cryptonets/arith/simd.hpp"
#include "cryptonets/rlwe/parameters.hpp"

namespace cryptonets::rlwe {

namespace {

constexpr double kAuxiliaryHeadroomBits = 20;

uint64_t mpz_mod_word(const mpz_class& x, uint64_t m) {
  mpz_class r;
  mpz_fdiv_r_ui(r.get_mpz_t(), x.get_mpz_t(), m);
  return r.get_ui();
}

// Enough NTT primes of `bits` bits, distinct from q's primes and t, that
// log2 B >= log2 q + log2 t + log2 n + 1 + headroom: the rescaled product round(t/q·x) is at most
// t·n·q/2 in absolute value (a BFV cross term; t·n·q/4 for one product) and must be recovered from
// its residues mod B exactly.
std::vector<uint64_t> auxiliary_primes(size_t n, const std::vector<uint64_t>& q_primes, uint64_t t,
                                       int bits) {
  const double needed = log2_of_product(q_primes) + std::log2(static_cast<double>(t)) +
                        std::log2(static_cast<double>(n)) + 1 + kAuxiliaryHeadroomBits;
  const size_t count = static_cast<size_t>(std::ceil(needed / (bits - 1)));
  std::vector<uint64_t> candidates = generate_ntt_primes(bits, count + q_primes.size() + 1, 2 * n);
  std::vector<uint64_t> chosen;
  for (uint64_t b : candidates) {
    bool clash = b == t || std::find(q_primes.begin(), q_primes.end(), b) != q_primes.end();
    if (!clash && chosen.size() < count) chosen.push_back(b);
  }
  return chosen;
}

}  // namespace

std::shared_ptr<const RnsContext> RnsContext::create(size_t n,
                                                     const std::vector<uint64_t>& q_primes,
                                                     uint64_t t, int decomposition_bits,
                                                     int auxiliary_prime_bits) {
  if (auxiliary_prime_bits == 0) auxiliary_prime_bits = auxiliary_prime_bits_for_this_cpu();
  if (auxiliary_prime_bits != 50 && auxiliary_prime_bits != 61) {
    throw std::invalid_argument("RnsContext: auxiliary primes of 50 or 61 bits, not " +
                                std::to_string(auxiliary_prime_bits));
  }
  return std::shared_ptr<const RnsContext>(
      new RnsContext(n, q_primes, t, decomposition_bits, auxiliary_prime_bits));
}

int RnsContext::auxiliary_prime_bits_for_this_cpu() {
  return simd_path_supported(SimdPath::avx512ifma) ? 50 : 61;
}

RnsContext::RnsContext(size_t n, const std::vector<uint64_t>& q_primes, uint64_t t,
                       int decomposition_bits, int auxiliary_prime_bits)
    : n_(n),
      t_(t),
      log2_q_(log2_of_product(q_primes)),
      b_base_(auxiliary_primes(n, q_primes, t, auxiliary_prime_bits)) {
  assert(!q_primes.empty() && t >= 2 && decomposition_bits >= 0);
  ring_q_ = std::make_shared<const RingContext>(n, q_primes);
  std::vector<uint64_t> qb = q_primes;
  for (const Modulus& b : b_base_.moduli())
    qb.push_back(b.value());
  ring_qb_ = std::make_shared<const RingContext>(n, qb);

  q_to_b_ = std::make_unique<BaseConverter>(q_base(), b_base_.moduli());
  b_to_q_ = std::make_unique<BaseConverter>(b_base_, q_base().moduli());
  q_to_t_ = std::make_unique<BaseConverter>(q_base(), std::vector<Modulus>{t_});

  mpz_class t_big;
  mpz_set_ui(t_big.get_mpz_t(), t);
  mpz_fdiv_q(delta_.get_mpz_t(), q().get_mpz_t(), t_big.get_mpz_t());
  for (const Modulus& qi : q_base().moduli()) {
    delta_mod_q_.push_back(mpz_mod_word(delta_, qi.value()));
    t_mod_q_.emplace_back(qi.reduce(t), qi);
  }
  q_mod_t_ = mpz_mod_word(q(), t);
  for (const Modulus& bj : b_base_.moduli()) {
    t_mod_b_.emplace_back(bj.reduce(t), bj);
    q_inverse_mod_b_.emplace_back(inv_mod(mpz_mod_word(q(), bj.value()), bj), bj);
  }
  minus_q_inverse_mod_t_ = ShoupMultiplier(neg_mod(inv_mod(q_mod_t_, t_), t_), t_);

  digit_bits_ = decomposition_bits == 0 ? Modulus::kMaxBits : decomposition_bits;
  for (size_t i = 0; i < q_base().size(); ++i) {
    const size_t pieces = static_cast<size_t>((q_base()[i].bits() + digit_bits_ - 1) / digit_bits_);
    digits_per_prime_.push_back(pieces);
    for (size_t l = 0; l < pieces; ++l)
      digits_.push_back({i, l});
  }
}

mpz_class RnsContext::gadget_factor(size_t d) const {
  mpz_class factor = q_base().punctured_product(digits_[d].prime);
  factor <<= static_cast<mp_bitcnt_t>(digit_bits_) * digits_[d].piece;
  return factor;
}

}  // namespace cryptonets::rlwe
