#include "cryptonets/rlwe/gadget.hpp"

#include <algorithm>
#include <memory>
#include <stdexcept>

namespace cryptonets::rlwe {

std::vector<uint64_t> rns_digits(const RnsContext& ctx, const RnsPoly& c) {
  const size_t n = ctx.n(), k = ctx.q_base().size();
  std::vector<uint64_t> y(k * n);
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < k; ++i) {
    const uint64_t q_i = ctx.q_base()[i].value();
    const uint64_t* c_i = c.residues(i);
    const ShoupMultiplier punctured_inverse = ctx.q_base().punctured_inverse(i);
    uint64_t* y_i = y.data() + i * n;
    for (size_t j = 0; j < n; ++j)
      y_i[j] = mul_shoup(c_i[j], punctured_inverse, q_i);
  }
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
  const uint64_t q = q_row.value();
  const uint64_t* y_i = y + i * n;
  // The digit is at most min(mask, (q_i - 1) >> shift): reduce only as far as needed.
  const uint64_t bound = std::min(mask, (ctx.q_base()[i].value() - 1) >> shift);
  if (bound < q) {
    for (size_t j = 0; j < n; ++j)
      out[j] = (y_i[j] >> shift) & mask;
  } else if (bound / 2 < q) {
    for (size_t j = 0; j < n; ++j) {
      const uint64_t v = (y_i[j] >> shift) & mask;
      out[j] = v - (q & (uint64_t{0} - static_cast<uint64_t>(v >= q)));
    }
  } else {
    for (size_t j = 0; j < n; ++j)
      out[j] = q_row.reduce((y_i[j] >> shift) & mask);
  }
}

// Rows (primes of q) are independent: each thread owns one output row of every key row. Digits
// are taken in groups whose NTTs are kept side by side; each group's Σ digit·key is summed in 128
// bits and reduced once per coefficient. Products of b-bit residues are below 2^(2b) and the
// partial sum carried between groups is below 2^62: a group of at most 2^(125 - 2b) digits (all of
// them for b = 55, up to kMaxGroup) keeps the sum below 2^126, within the reduction's range.
std::vector<RnsPoly> gadget_product(const RnsContext& ctx, const RnsPoly& c,
                                    std::span<const std::vector<RnsPoly>* const> keys) {
  const size_t n = ctx.n(), k = ctx.q_base().size(), digits = ctx.digit_count();
  for (const std::vector<RnsPoly>* key : keys) {
    if (key->size() != digits) {
      throw std::invalid_argument("gadget_product: a key-switching key has " +
                                  std::to_string(key->size()) + " digits, the parameters need " +
                                  std::to_string(digits));
    }
  }
  const std::vector<uint64_t> y = rns_digits(ctx, c);
  std::vector<RnsPoly> accumulators;
  for (size_t r = 0; r < keys.size(); ++r)
    accumulators.emplace_back(ctx.ring(), PolyForm::evaluation);

  int largest_bits = 0;
  for (const Modulus& q : ctx.q_base().moduli())
    largest_bits = std::max(largest_bits, q.bits());
  constexpr size_t kMaxGroup = 4;
  const size_t chunk = size_t{1} << std::min(30, 125 - 2 * largest_bits);
  const size_t group = std::min({chunk, digits, kMaxGroup});
#pragma omp parallel
  {
    auto digit_rows = std::make_unique_for_overwrite<uint64_t[]>(group * n);
    const uint64_t* key_rows[kMaxGroup];
#pragma omp for schedule(static)
    for (size_t row = 0; row < k; ++row) {
      const WideReducer reducer(ctx.q_base()[row].value());
      for (size_t first = 0; first < digits; first += group) {
        const size_t count = std::min(group, digits - first);
        for (size_t g = 0; g < count; ++g) {
          uint64_t* digit = digit_rows.get() + g * n;
          gadget_digit_row(ctx, y.data(), first + g, row, digit);
          ctx.ring()->ntt(row).forward(digit);
        }
        const bool carry = first > 0;
        for (size_t r = 0; r < keys.size(); ++r) {
          uint64_t* acc = accumulators[r].residues(row);
          for (size_t g = 0; g < count; ++g)
            key_rows[g] = (*keys[r])[first + g].residues(row);
          for (size_t j = 0; j < n; ++j) {
            u128 sum = carry ? acc[j] : 0;
            for (size_t g = 0; g < count; ++g)
              sum += static_cast<u128>(digit_rows[g * n + j]) * key_rows[g][j];
            acc[j] = reducer.reduce(sum);
          }
        }
      }
    }
  }
  for (RnsPoly& acc : accumulators)
    acc.to_coefficient();
  return accumulators;
}

}  // namespace cryptonets::rlwe
