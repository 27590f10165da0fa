#include "cryptonets/yashe/context.hpp"

#include <algorithm>
#include <cmath>

#include "cryptonets/arith/primes.hpp"

namespace cryptonets::yashe {

namespace {

constexpr int kAuxiliaryPrimeBits = 61;
constexpr double kAuxiliaryHeadroomBits = 20;

uint64_t mpz_mod_word(const mpz_class& x, uint64_t m) {
  mpz_class r;
  mpz_fdiv_r_ui(r.get_mpz_t(), x.get_mpz_t(), m);
  return r.get_ui();
}

// Enough 61-bit NTT primes, distinct from q's primes and t, that
// log2 B >= log2 q + log2 t + log2 n + 1 + headroom: the rescaled product round(t/q · c1·c2) is at
// most t·n·q/4 in absolute value and must be recovered from its residues mod B exactly.
std::vector<uint64_t> auxiliary_primes(const Parameters& p) {
  const double needed = p.log2_q() + std::log2(static_cast<double>(p.t)) +
                        std::log2(static_cast<double>(p.n)) + 1 + kAuxiliaryHeadroomBits;
  const size_t count = static_cast<size_t>(std::ceil(needed / (kAuxiliaryPrimeBits - 1)));
  std::vector<uint64_t> candidates =
      generate_ntt_primes(kAuxiliaryPrimeBits, count + p.q_primes.size() + 1, 2 * p.n);
  std::vector<uint64_t> chosen;
  for (uint64_t b : candidates) {
    bool clash = b == p.t || std::find(p.q_primes.begin(), p.q_primes.end(), b) != p.q_primes.end();
    if (!clash && chosen.size() < count) chosen.push_back(b);
  }
  return chosen;
}

}  // namespace

std::shared_ptr<const Context> Context::create(const Parameters& params) {
  params.validate();
  return std::shared_ptr<const Context>(new Context(params));
}

Context::Context(const Parameters& params)
    : params_(params), t_(params.t), b_base_(auxiliary_primes(params)) {
  const size_t n = params.n;
  ring_q_ = std::make_shared<const RingContext>(n, params.q_primes);
  std::vector<uint64_t> qb = params.q_primes;
  for (const Modulus& b : b_base_.moduli())
    qb.push_back(b.value());
  ring_qb_ = std::make_shared<const RingContext>(n, qb);

  q_to_b_ = std::make_unique<BaseConverter>(q_base(), b_base_.moduli());
  b_to_q_ = std::make_unique<BaseConverter>(b_base_, q_base().moduli());
  q_to_t_ = std::make_unique<BaseConverter>(q_base(), std::vector<Modulus>{t_});

  mpz_class t_big;
  mpz_set_ui(t_big.get_mpz_t(), params.t);
  mpz_fdiv_q(delta_.get_mpz_t(), q().get_mpz_t(), t_big.get_mpz_t());
  for (const Modulus& qi : q_base().moduli()) {
    delta_mod_q_.push_back(mpz_mod_word(delta_, qi.value()));
    t_mod_q_.emplace_back(qi.reduce(params.t), qi);
  }
  q_mod_t_ = mpz_mod_word(q(), params.t);
  for (const Modulus& bj : b_base_.moduli()) {
    t_mod_b_.emplace_back(bj.reduce(params.t), bj);
    q_inverse_mod_b_.emplace_back(inv_mod(mpz_mod_word(q(), bj.value()), bj), bj);
  }
  minus_q_inverse_mod_t_ = ShoupMultiplier(neg_mod(inv_mod(q_mod_t_, t_), t_), t_);

  digit_bits_ = params.decomposition_bits == 0 ? Modulus::kMaxBits : params.decomposition_bits;
  for (const Modulus& qi : q_base().moduli()) {
    size_t digits = static_cast<size_t>((qi.bits() + digit_bits_ - 1) / digit_bits_);
    digits_per_prime_.push_back(digits);
    digit_count_ += digits;
  }
}

}  // namespace cryptonets::yashe
