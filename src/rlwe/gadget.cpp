#include "cryptonets/rlwe/gadget.hpp"

#include <algorithm>
#include <cstdint>
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

namespace {

void check_key_rows(const RnsContext& ctx, std::span<const std::vector<RnsPoly>* const> keys) {
  if (ctx.digit_count() == 0)
    throw std::invalid_argument("gadget_product: no decomposition digits");
  for (const std::vector<RnsPoly>* key : keys) {
    if (key->size() != ctx.digit_count()) {
      throw std::invalid_argument("gadget_product: a key-switching key has " +
                                  std::to_string(key->size()) + " digits, the parameters need " +
                                  std::to_string(ctx.digit_count()));
    }
  }
}

bool in_base_q(const RnsContext& ctx, const RnsPoly& p) {
  return p.n() == ctx.n() && p.ring().base() == ctx.q_base();
}

// Digits are taken in groups whose NTTs are kept side by side; each group's Σ digit·key is summed
// and reduced once per coefficient (ring/rns_kernels.hpp, dot_product_rows). Products of b-bit
// residues are below 2^(2b) and the partial sum carried between groups is below 2^62: a group of at
// most 2^(125 - 2b) digits (all of them for b = 55, up to kMaxGroup) keeps the sum below 2^126.
constexpr size_t kMaxGroup = 8;

size_t digit_group(const RnsContext& ctx) {
  int largest_bits = 0;
  for (const Modulus& q : ctx.q_base().moduli())
    largest_bits = std::max(largest_bits, q.bits());
  const size_t chunk = size_t{1} << std::min(30, 125 - 2 * largest_bits);
  return std::min({chunk, ctx.digit_count(), kMaxGroup});
}

// Row `row` (the prime q_row) of Σ_d D_d(c)·keys[r][d] for every key row r, from the RNS digits y
// of c: written to out[r] in coefficient form (the row's inverse NTT), or added to out[r] when
// add is true. The rows of a product are independent: this is the unit of work both schedules
// below share out. Scratch: the calling thread's own.
void gadget_product_row(const RnsContext& ctx, const uint64_t* y,
                        std::span<const std::vector<RnsPoly>* const> keys, size_t row,
                        uint64_t* const* out, bool add) {
  const size_t n = ctx.n(), digits = ctx.digit_count(), group = digit_group(ctx);
  // In pages of their own (ring/page_buffer.hpp), as every thread writes its own.
  thread_local PageBuffer<uint64_t> digit_buffer, sum_buffer;
  uint64_t* digit_rows = digit_buffer.ensure(group * n);
  uint64_t* sums = add ? sum_buffer.ensure(keys.size() * n) : nullptr;
  const uint64_t* digit_pointers[kMaxGroup];
  const uint64_t* key_rows[kMaxGroup];
  for (size_t g = 0; g < group; ++g)
    digit_pointers[g] = digit_rows + g * n;
  const Modulus& q_row = ctx.q_base()[row];
  const NttTables& ntt = ctx.ring()->ntt(row);
  for (size_t first = 0; first < digits; first += group) {
    const size_t count = std::min(group, digits - first);
    for (size_t g = 0; g < count; ++g) {
      uint64_t* digit = digit_rows + g * n;
      gadget_digit_row(ctx, y, first + g, row, digit);
      ntt.forward(digit);
    }
    for (size_t r = 0; r < keys.size(); ++r) {
      for (size_t g = 0; g < count; ++g)
        key_rows[g] = (*keys[r])[first + g].residues(row);
      // Not zero-filled: the first group writes every word (accumulate false).
      dot_product_rows(add ? sums + r * n : out[r], first > 0, digit_pointers, key_rows, count, n,
                       q_row);
    }
  }
  for (size_t r = 0; r < keys.size(); ++r) {
    if (add) {
      ntt.inverse(sums + r * n);
      add_rows(out[r], sums + r * n, n, q_row);
    } else {
      ntt.inverse(out[r]);
    }
  }
}

}  // namespace

// One thread does the whole product: callers parallelise over ciphertexts (a parallel region per
// call cost more than it saved, and oversubscribed the threads the callers already run).
std::vector<RnsPoly> gadget_product(const RnsContext& ctx, const RnsPoly& c,
                                    std::span<const std::vector<RnsPoly>* const> keys) {
  check_key_rows(ctx, keys);
  const size_t n = ctx.n(), k = ctx.q_base().size();
  // Per-thread scratch, grown on demand and reused: a multiplication's buffers are large (the RNS
  // digits of n = 8192 with 7 primes take 448 KiB), and allocating them per call cost page faults
  // every time. In pages of their own (ring/page_buffer.hpp), as every thread writes its own.
  thread_local PageBuffer<uint64_t> y_buffer;
  uint64_t* y = y_buffer.ensure(k * n);
  rns_digits_into(ctx, c, y);
  std::vector<RnsPoly> accumulators(keys.size());
  for (RnsPoly& acc : accumulators)
    acc.reset_uninitialized(ctx.ring(), PolyForm::coefficient);  // every row written below
  std::vector<uint64_t*> out(keys.size());
  for (size_t row = 0; row < k; ++row) {
    for (size_t r = 0; r < keys.size(); ++r)
      out[r] = accumulators[r].residues(row);
    gadget_product_row(ctx, y, keys, row, out.data(), false);
  }
  return accumulators;
}

void gadget_products(const RnsContext& ctx, std::span<RnsPoly* const> sources,
                     std::span<const std::vector<RnsPoly>* const> keys,
                     std::span<RnsPoly* const> destinations, bool add, int threads) {
  check_key_rows(ctx, keys);
  if (threads < 1) throw std::invalid_argument("gadget_products: threads must be >= 1");
  const size_t count = sources.size(), n = ctx.n(), k = ctx.q_base().size(), parts = keys.size();
  if (destinations.size() != count * parts) {
    throw std::invalid_argument("gadget_products: expected " + std::to_string(count * parts) +
                                " destinations, got " + std::to_string(destinations.size()));
  }
  for (size_t j = 0; j < count; ++j) {
    const RnsPoly& c = *sources[j];
    if (c.empty() || !in_base_q(ctx, c) || c.form() != PolyForm::coefficient) {
      throw std::invalid_argument("gadget_products: a source is not in base q, coefficient form");
    }
    for (size_t r = 0; r < parts; ++r) {
      const RnsPoly& d = *destinations[j * parts + r];
      if (d.empty() || !in_base_q(ctx, d) || d.form() != PolyForm::coefficient) {
        throw std::invalid_argument(
            "gadget_products: a destination is not in base q, coefficient form");
      }
    }
  }
  // One product per task, each on one thread, as gadget_product (a thread's scratch holds one
  // product's digits). Tasks of one RNS row of one product (7 per product) were measured too, for
  // the 10 relinearisations after CryptoNets' output layer: no faster on 2 threads, in alternating
  // runs (bench/results/simd.md, eighth session), so the simpler schedule stays.
#pragma omp parallel num_threads(threads)
  {
    thread_local PageBuffer<uint64_t> y_buffer;
    uint64_t* y = y_buffer.ensure(k * n);
    std::vector<uint64_t*> out(parts);
#pragma omp for schedule(dynamic, 1)
    for (size_t j = 0; j < count; ++j) {
      rns_digits_into(ctx, *sources[j], y);  // before any row is written: out may be the source
      for (size_t row = 0; row < k; ++row) {
        for (size_t r = 0; r < parts; ++r)
          out[r] = destinations[j * parts + r]->residues(row);
        gadget_product_row(ctx, y, keys, row, out.data(), add);
      }
    }
  }
}

}  // namespace cryptonets::rlwe
