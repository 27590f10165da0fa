// The gadget decomposition and the gadget product (key switching), one home for every scheme.
//
// With RNS digits (Bajard, Eynard, Hasan, Zucca, SAC 2016, §4; the "RNS variant" of the
// relinearisation), every c in R_q satisfies
//   c ≡ Σ_i [c·q̂_i^-1]_{q_i}·q̂_i (mod q),   q̂_i = q/q_i,
// and each RNS digit y_i = [c_i·q̂_i^-1]_{q_i} < 2^62 is split further into base-2^w pieces
//   D_(i,l)(c) = ⌊y_i / 2^(w·l)⌋ mod 2^w,   so that   c ≡ Σ_d D_d(c)·g_d (mod q),
// with the gadget vector g_(i,l) = q̂_i·2^(w·l) (RnsContext::gadget_factor). A key-switching key
// for a key z under a key s holds, per digit, an encryption of g_d·z; the gadget product
//   Σ_d D_d(c)·k_d
// then turns c·z into a ciphertext under s whose added noise is small because every D_d < 2^w.
// YASHE' (BLLN13 §4, KeySwitch) uses one key row γ; BFV relinearisation (FV12 §6.1, version 1)
// uses two rows (b_d, a_d).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "cryptonets/rlwe/rns_context.hpp"

namespace cryptonets::rlwe {

// The RNS digits y_i = [c_i·q̂_i^-1]_{q_i}, row i at i·n (c in coefficient form, base q).
// Reference twin: the identity c ≡ Σ_d D_d(c)·g_d (mod q), checked with GMP in test_rlwe
// (with gadget_digit_row).
std::vector<uint64_t> rns_digits(const RnsContext& context, const RnsPoly& c);

// Digit d = (i, l) of the decomposition, D_d = ⌊y_i / 2^(w·l)⌋ mod 2^w, reduced modulo the prime
// of q's row `row` and written to out[0..n) (coefficient form).
void gadget_digit_row(const RnsContext& context, const uint64_t* y, size_t d, size_t row,
                      uint64_t* out);

// The gadget product Σ_d D_d(c)·keys[r][d] for every key row r at once (the digits are computed
// once). c: coefficient form in base q. keys[r]: digit_count() polynomials in evaluation form.
// Returns one polynomial per key row, coefficient form. Throws std::invalid_argument if a key row
// does not have digit_count() entries. Runs on the calling thread (callers parallelise over
// ciphertexts); the inner loops use the SIMD path of simd_path() (ring/rns_kernels.hpp).
// Reference twin: reference::gadget_product (rlwe/reference.hpp).
std::vector<RnsPoly> gadget_product(const RnsContext& context, const RnsPoly& c,
                                    std::span<const std::vector<RnsPoly>* const> keys);

// The gadget products of many polynomials on `threads` OpenMP threads: for every j, the product
// Σ_d D_d(*sources[j])·keys[r][d] of key row r is written to *destinations[j·keys.size() + r]
// (add false) or added to it (add true). Sources and destinations: base q, coefficient form; a
// destination may be its own source (YASHE' replaces the relinearised part in place, with no
// allocation). Equal, bit for bit, to gadget_product for each source, whatever the number of
// threads: one product per task. Every argument is checked before any work, so that no exception
// is thrown inside the parallel region. Throws std::invalid_argument if a key row does not have
// digit_count() entries, the counts do not match, a polynomial is not in base q and coefficient
// form, or threads < 1.
void gadget_products(const RnsContext& context, std::span<RnsPoly* const> sources,
                     std::span<const std::vector<RnsPoly>* const> keys,
                     std::span<RnsPoly* const> destinations, bool add, int threads);

}  // namespace cryptonets::rlwe
