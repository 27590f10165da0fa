#include "cryptonets/rlwe/scale_invariant.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "cryptonets/ring/page_buffer.hpp"
#include "cryptonets/ring/rns_kernels.hpp"

namespace cryptonets::rlwe {

void check_plaintext(const RnsContext& ctx, const Plaintext& m) {
  if (m.coeffs.size() != ctx.n()) {
    throw std::invalid_argument(
        "plaintext has " + std::to_string(m.coeffs.size()) +
        " coefficients, the parameters need n = " + std::to_string(ctx.n()));
  }
  for (uint64_t x : m.coeffs) {
    if (x >= ctx.t().value()) {
      throw std::invalid_argument("plaintext coefficient " + std::to_string(x) +
                                  " is not reduced modulo t = " + std::to_string(ctx.t().value()));
    }
  }
}

void add_scaled_message(const RnsContext& ctx, RnsPoly& c, const Plaintext& m) {
  check_plaintext(ctx, m);
  const size_t n = ctx.n();
  for (size_t i = 0; i < ctx.q_base().size(); ++i) {
    const Modulus& q = ctx.q_base()[i];
    const ShoupMultiplier delta(ctx.delta_mod_q(i), q);
    uint64_t* row = c.residues(i);
    for (size_t j = 0; j < n; ++j) {
      const uint64_t centred = from_signed(to_centered(m.coeffs[j], ctx.t()), q);
      row[j] = add_mod(row[j], mul_shoup(centred, delta, q.value()), q);
    }
  }
}

namespace {

// round(r_t(q)·w / t) = ⌊(2·r_t·w + t) / 2t⌋ for |w| <= t/2; |2·r_t·w| < 2^125.
int64_t rounded_correction(const RnsContext& ctx, int64_t w) {
  const i128 t = ctx.t().value();
  const i128 numerator = 2 * static_cast<i128>(ctx.q_mod_t()) * w + t;
  const i128 denominator = 2 * t;
  i128 quotient = numerator / denominator;
  if (numerator % denominator != 0 && numerator < 0) --quotient;  // floor, not truncation
  return static_cast<int64_t>(quotient);
}

}  // namespace

void add_rounded_scaled_message(const RnsContext& ctx, RnsPoly& c, const Plaintext& m) {
  check_plaintext(ctx, m);
  const size_t n = ctx.n();
  std::vector<int64_t> centred(n), correction(n);
  for (size_t j = 0; j < n; ++j) {
    centred[j] = to_centered(m.coeffs[j], ctx.t());
    correction[j] = rounded_correction(ctx, centred[j]);
  }
  for (size_t i = 0; i < ctx.q_base().size(); ++i) {
    const Modulus& q = ctx.q_base()[i];
    const ShoupMultiplier delta(ctx.delta_mod_q(i), q);
    uint64_t* row = c.residues(i);
    for (size_t j = 0; j < n; ++j) {
      const uint64_t scaled = add_mod(mul_shoup(from_signed(centred[j], q), delta, q.value()),
                                      from_signed(correction[j], q), q);
      row[j] = add_mod(row[j], scaled, q);
    }
  }
}

std::vector<uint64_t> rounded_scaled_value(const RnsContext& ctx, int64_t w) {
  const int64_t correction = rounded_correction(ctx, w);
  std::vector<uint64_t> residues;
  for (size_t i = 0; i < ctx.q_base().size(); ++i) {
    const Modulus& q = ctx.q_base()[i];
    residues.push_back(
        add_mod(mul_mod(ctx.delta_mod_q(i), from_signed(w, q), q), from_signed(correction, q), q));
  }
  return residues;
}

RnsPoly base_extend(const RnsContext& ctx, const RnsPoly& c) {
  RnsPoly lifted;
  base_extend(ctx, c, lifted);
  return lifted;
}

void base_extend_coefficients(const RnsContext& ctx, const RnsPoly& c, RnsPoly& lifted) {
  const size_t n = ctx.n(), k = ctx.q_base().size();
  if (&lifted == &c) throw std::invalid_argument("base_extend: output aliases the input");
  lifted.reset_uninitialized(ctx.product_ring(), PolyForm::coefficient);
  std::copy(c.data().begin(), c.data().end(), lifted.data().begin());
  ctx.q_to_b().convert_centered(c.data().data(), lifted.residues(k), n);
}

void base_extend(const RnsContext& ctx, const RnsPoly& c, RnsPoly& lifted) {
  base_extend_coefficients(ctx, c, lifted);
  lifted.to_evaluation();
}

void exact_product(const RnsContext& ctx, const RnsPoly& a, const RnsPoly& b, RnsPoly& product,
                   RnsPoly& scratch) {
  if (&product == &a || &product == &b || &scratch == &a || &scratch == &b) {
    throw std::invalid_argument("exact_product: an output aliases an input");
  }
  const bool square = &a == &b || a == b;
  base_extend_coefficients(ctx, a, product);
  if (!square) base_extend_coefficients(ctx, b, scratch);
  const RingContext& ring = *ctx.product_ring();
  const size_t n = ctx.n();
  for (size_t i = 0; i < product.rns_size(); ++i) {
    uint64_t* x = product.residues(i);
    const uint64_t* y = x;
    ring.ntt(i).forward(x);
    if (!square) {
      ring.ntt(i).forward(scratch.residues(i));
      y = scratch.residues(i);
    }
    multiply_rows_elementwise(x, y, n, ring.base()[i]);
    ring.ntt(i).inverse(x);
  }
}

// HPS-style scaling made exact (Halevi, Polyakov, Shoup 2019, §2.3 gives the approximate form):
// with r = [t·x]_q (centred), t·x - r is divisible by q and y = (t·x - r)/q = round(t·x/q).
//  1. r mod q_i = t·x_i mod q_i;
//  2. r mod b_j by exact base conversion q -> B;
//  3. y mod b_j = (t·x_j - r_j)·q^-1 mod b_j;
//  4. y mod q_i by exact base conversion B -> q, valid because |y| <= t·n·q/2 < B/2^21.
RnsPoly scale_and_round(const RnsContext& ctx, const RnsPoly& x) {
  const size_t n = ctx.n(), k = ctx.q_base().size(), kb = ctx.b_base().size();
  std::vector<uint64_t> t_mod_q(k), q_inverse_mod_b(kb);
  for (size_t i = 0; i < k; ++i)
    t_mod_q[i] = ctx.t_mod_q(i).operand;
  for (size_t j = 0; j < kb; ++j)
    q_inverse_mod_b[j] = ctx.q_inverse_mod_b(j).operand;
  // Steps 1-2 in one conversion: its first pass multiplies by t. The buffer is per thread and
  // reused (allocating it per call cost page faults every time), in pages of its own
  // (ring/page_buffer.hpp).
  thread_local PageBuffer<uint64_t> diff_buffer;
  uint64_t* diff = diff_buffer.ensure(kb * n);
  ctx.q_to_b().convert_centered_scaled(x.residues(0), t_mod_q.data(), diff, n);
  // Step 3 without the factor q^-1, which the second conversion's first pass applies. One thread:
  // callers parallelise over ciphertexts.
  for (size_t j = 0; j < kb; ++j)
    multiply_shoup_subtract_rows(diff + j * n, x.residues(k + j), n, ctx.t_mod_b(j),
                                 ctx.b_base()[j]);
  // Step 4.
  RnsPoly y;
  y.reset_uninitialized(ctx.ring(), PolyForm::coefficient);  // every word written next
  ctx.b_to_q().convert_centered_scaled(diff, q_inverse_mod_b.data(), y.residues(0), n);
  return y;
}

// With r = [t·x]_q centred, t·x = q·round(t·x/q) + r, so
//   round(t·x/q) = (t·x - r)/q ≡ -r·q^-1 (mod t).
// Only r mod t is needed: an exact base conversion of the centred r from q to {t}.
Plaintext round_to_plaintext(const RnsContext& ctx, const RnsPoly& x) {
  RnsPoly r = x;
  r.multiply_scalar(static_cast<int64_t>(ctx.t().value()));
  Plaintext plain;
  plain.coeffs.resize(ctx.n());
  ctx.q_to_t().convert_centered(r.data().data(), plain.coeffs.data(), ctx.n());
  const uint64_t t = ctx.t().value();
  for (uint64_t& m : plain.coeffs)
    m = mul_shoup(m, ctx.minus_q_inverse_mod_t(), t);
  return plain;
}

// (t/q)·x = m + v + t·k, and r = [t·x]_q = q·v when |v| < 1/2: ‖v‖∞ = max|r| / q.
double invariant_noise_budget(const RnsContext& ctx, const RnsPoly& x) {
  RnsPoly r = x;
  r.multiply_scalar(static_cast<int64_t>(ctx.t().value()));
  mpz_class largest = 0, value;  // value's limbs are reused: no allocation per coefficient
  for (size_t j = 0; j < ctx.n(); ++j) {
    ctx.q_base().compose_centered(r.data().data() + j, ctx.n(), value);
    if (mpz_cmpabs(value.get_mpz_t(), largest.get_mpz_t()) > 0)
      mpz_abs(largest.get_mpz_t(), value.get_mpz_t());
  }
  if (largest == 0) return ctx.log2_q();
  long exponent_q = 0, exponent_r = 0;
  const double mantissa_q = mpz_get_d_2exp(&exponent_q, ctx.q().get_mpz_t());
  const double mantissa_r = mpz_get_d_2exp(&exponent_r, largest.get_mpz_t());
  const double log2_ratio = (std::log2(mantissa_q) + static_cast<double>(exponent_q)) -
                            (std::log2(mantissa_r) + static_cast<double>(exponent_r));
  return std::max(0.0, log2_ratio - 1);
}

bool rounds_to_message_without_key(const RnsContext& ctx, const RnsPoly& x) {
  const size_t n = ctx.n();
  if (n < 64) return false;
  const RnsBase& base = ctx.q_base();
  const uint64_t t = ctx.t().value();
  // t·x/q mod 1 = Σ_i [t·x·q̂_i^-1]_{q_i} / q_i mod 1 (CRT), in double precision: the error,
  // about k·2^-52, is far below the 1/4 margin.
  for (size_t j = 0; j < n; ++j) {
    double fraction = 0;
    for (size_t i = 0; i < base.size(); ++i) {
      const Modulus& q = base[i];
      const uint64_t y = mul_shoup(mul_mod(x.residues(i)[j], q.reduce(t), q),
                                   base.punctured_inverse(i), q.value());
      fraction += static_cast<double>(y) / static_cast<double>(q.value());
    }
    fraction -= std::round(fraction);
    if (std::fabs(fraction) >= 0.25) return false;
  }
  return true;
}

}  // namespace cryptonets::rlwe
