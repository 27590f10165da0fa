#include "cryptonets/rlwe/gadget.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "cryptonets/ring/page_buffer.hpp"
#include "cryptonets/ring/rns_kernels.hpp"

namespace cryptonets::rlwe {

namespace {

void rns_digits_into(const RnsContext& ctx, const RnsPoly& c, uint64_t* y) {
  const size_t n = ctx.n(), k = ctx.q_base().size();
  for (size_t i = 0; i < k; ++i) {
    uint64_t* y_i = y + i * n;
    std::copy(c.residues(i), c.residues(i) + n, y_i);
    multiply_row_shoup(y_i, n, ctx.q_base().punctured_inverse(i), ctx.q_base()[i]);
  }
}

}  // namespace

std::vector<uint64_t> rns_digits(const RnsContext& ctx, const RnsPoly& c) {
  std::vector<uint64_t> y(ctx.q_base().size() * ctx.n());
  rns_digits_into(ctx, c, y.data());
  return y;
}

void gadget_digit_row(const RnsContext& ctx, const uint64_t* y, size_t d, size_t row,
                      uint64_t* out) {
  const size_t n = ctx.n();
  const int w = ctx.digit_bits();
  const uint64_t mask = w >= 64 ? ~uint64_t{0} : (uint64_t{1} << w) - 1;
  const auto [i, l] = ctx.digit(d);
  const int shift = w * static_cast<int>(l);
  const Modulus& q_row = ctx.q_base()[row];
  const uint64_t* y_i = y + i * n;
  // The digit is at most min(mask, (q_i - 1) >> shift): reduce only as far as needed.
  const uint64_t bound = std::min(mask, (ctx.q_base()[i].value() - 1) >> shift);
  if (bound / 2 < q_row.value()) {
    extract_digit_row(out, y_i, n, shift, mask, q_row);
  } else {
    for (size_t j = 0; j < n; ++j)
      out[j] = q_row.reduce((y_i[j] >> shift) & mask);
  }
}

// Digits are taken in groups whose NTTs are kept side by side; each group's Σ digit·key is summed
// and reduced once per coefficient (ring/rns_kernels.hpp, dot_product_rows). Products of b-bit
// residues are below 2^(2b) and the partial sum carried between groups is below 2^62: a group of at
// most 2^(125 - 2b) digits (all of them for b = 55, up to kMaxGroup) keeps the sum below 2^126.
// One thread does the whole product: callers parallelise over ciphertexts (a parallel region per
// call cost more than it saved, and oversubscribed the threads the callers already run).
std::vector<RnsPoly> gadget_product(const RnsContext& ctx, const RnsPoly& c,
                                    std::span<const std::vector<RnsPoly>* const> keys) {
  const size_t n = ctx.n(), k = ctx.q_base().size(), digits = ctx.digit_count();
  if (digits == 0) throw std::invalid_argument("gadget_product: no decomposition digits");
  for (const std::vector<RnsPoly>* key : keys) {
    if (key->size() != digits) {
      throw std::invalid_argument("gadget_product: a key-switching key has " +
                                  std::to_string(key->size()) + " digits, the parameters need " +
                                  std::to_string(digits));
    }
  }
  // Per-thread scratch, grown on demand and reused: a multiplication's buffers are large (the RNS
  // digits of n = 8192 with 7 primes take 448 KiB), and allocating them per call cost page faults
  // every time. In pages of their own (ring/page_buffer.hpp), as every thread writes its own.
  thread_local PageBuffer<uint64_t> y_buffer, digit_buffer;
  uint64_t* y = y_buffer.ensure(k * n);
  rns_digits_into(ctx, c, y);
  // Not zero-filled: the first group of digits writes every word (dot_product_rows, accumulate
  // false), the later ones add to it.
  std::vector<RnsPoly> accumulators(keys.size());
  for (RnsPoly& acc : accumulators)
    acc.reset_uninitialized(ctx.ring(), PolyForm::evaluation);

  int largest_bits = 0;
  for (const Modulus& q : ctx.q_base().moduli())
    largest_bits = std::max(largest_bits, q.bits());
  constexpr size_t kMaxGroup = 8;
  const size_t chunk = size_t{1} << std::min(30, 125 - 2 * largest_bits);
  const size_t group = std::min({chunk, digits, kMaxGroup});
  uint64_t* digit_rows = digit_buffer.ensure(group * n);
  const uint64_t* digit_pointers[kMaxGroup];
  const uint64_t* key_rows[kMaxGroup];
  for (size_t g = 0; g < group; ++g)
    digit_pointers[g] = digit_rows + g * n;
  for (size_t row = 0; row < k; ++row) {
    const Modulus& q_row = ctx.q_base()[row];
    for (size_t first = 0; first < digits; first += group) {
      const size_t count = std::min(group, digits - first);
      for (size_t g = 0; g < count; ++g) {
        uint64_t* digit = digit_rows + g * n;
        gadget_digit_row(ctx, y, first + g, row, digit);
        ctx.ring()->ntt(row).forward(digit);
      }
      for (size_t r = 0; r < keys.size(); ++r) {
        for (size_t g = 0; g < count; ++g)
          key_rows[g] = (*keys[r])[first + g].residues(row);
        dot_product_rows(accumulators[r].residues(row), first > 0, digit_pointers, key_rows, count,
                         n, q_row);
      }
    }
  }
  for (RnsPoly& acc : accumulators)
    acc.to_coefficient();
  return accumulators;
}

}  // namespace cryptonets::rlwe
