// The scale-invariant steps shared by YASHE' (BLLN13 §4) and BFV (FV12 §3-§4): the message at
// scale Δ = ⌊q/t⌋, base extension of a centred lift (ModUp), the exact scale-and-round by t/q
// (Halevi–Polyakov–Shoup, made exact), and the rounding of decryption.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "cryptonets/rlwe/rns_context.hpp"
#include "cryptonets/rlwe/types.hpp"

namespace cryptonets::rlwe {

// Throws std::invalid_argument unless m has n coefficients, each in [0, t).
void check_plaintext(const RnsContext& context, const Plaintext& m);

// c += Δ·[m]_t, with [m]_t the centred lift in (-t/2, t/2] (which keeps r_t(q)·m small).
// c: coefficient form, base q; m: n coefficients in [0, t) (std::invalid_argument otherwise).
// Reference twin: none in the library (Δ·m is one multiplication per residue); test_rlwe checks
// that Δ·m decrypts to m with the whole gap as budget.
void add_scaled_message(const RnsContext& context, RnsPoly& c, const Plaintext& m);

// c += round(q/t·[m]_t) = Δ·[m]_t + round(r_t(q)·[m]_t / t): the message at the exact scale q/t
// (Kim, Polyakov, Zucca, "Revisiting Homomorphic Encryption Schemes for Finite Fields", Asiacrypt
// 2021, §3). Then (t/q)·round(q/t·m) = m + ε·t/q with |ε| <= 1/2, instead of the -r_t(q)·m/q that
// Δ·m leaves: up to log2(t) bits less fresh noise. BFV uses this form. Same arguments and errors as
// add_scaled_message. Reference twin: reference::rounded_scaled_message.
void add_rounded_scaled_message(const RnsContext& context, RnsPoly& c, const Plaintext& m);

// round(q/t·w) for one centred value w in (-t/2, t/2], modulo q_i for each prime: what
// add_rounded_scaled_message adds for a coefficient w.
std::vector<uint64_t> rounded_scaled_value(const RnsContext& context, int64_t w);

// Base extension (ModUp): the centred lift of c (base q, coefficient form) into base q ∪ B, exact
// (HPS19 §2.2 with the exact fallback of ring/base_converter.hpp), returned in evaluation form
// ready for the tensor product.
// Reference twin: reference::base_convert_centered (ring/reference.hpp), through the converter it
// uses (test_base_converter); end to end, the schemes' multiply twins.
RnsPoly base_extend(const RnsContext& context, const RnsPoly& c);
// The same into `lifted`, reusing its memory (RnsPoly::reset_uninitialized): for per-thread
// scratch polynomials. Throws std::invalid_argument if lifted is c (also base_extend_coefficients).
void base_extend(const RnsContext& context, const RnsPoly& c, RnsPoly& lifted);
// The same lift left in coefficient form.
void base_extend_coefficients(const RnsContext& context, const RnsPoly& c, RnsPoly& lifted);

// The exact product of the centred lifts of a and b (base q, coefficient form) over q ∪ B, in
// coefficient form, into `product` (its memory reused): the tensor product that scale_and_round
// then rescales. Row by row: each 64 KiB row is transformed forward, multiplied pointwise and
// transformed back while it sits in the L2 cache, one pass over the k + |B| rows instead of
// three. A square (b is a, or equal to it) takes one forward NTT per row; otherwise b's lift goes
// to `scratch`. Throws std::invalid_argument if product or scratch is a or b.
// Reference twin: base_extend(a) *= base_extend(b), then to_coefficient(): the same words
// (test_rlwe); through the schemes' multiply twins, the GMP product.
void exact_product(const RnsContext& context, const RnsPoly& a, const RnsPoly& b, RnsPoly& product,
                   RnsPoly& scratch);

// round(t/q · x) for x in base q ∪ B (coefficient form) with |x| < q·B/2, returned in base q
// (coefficient form). Exact for every input.
// Reference twin: reference::scale_and_round (rlwe/reference.hpp).
RnsPoly scale_and_round(const RnsContext& context, const RnsPoly& x);

// Decryption rounding: [round(t/q · x)]_t for x = [key·c]_q in coefficient form (YASHE': f^d·c;
// BFV: Σ c_i·s^i), exactly. Returns n coefficients in [0, t).
// Reference twin: reference::round_to_plaintext (rlwe/reference.hpp).
Plaintext round_to_plaintext(const RnsContext& context, const RnsPoly& x);

// The invariant noise budget -log2(2‖v‖∞) in bits, for x = [key·c]_q as above, where
// (t/q)·x = m + v + t·k; 0 when the noise has reached the message.
// Reference twin: none (a diagnostic measurement); the noise models are checked against it.
double invariant_noise_budget(const RnsContext& context, const RnsPoly& x);

// Whether x (base q, coefficient form) reads as a message without any key: every coefficient of
// t·x/q lies within 1/4 of an integer, as Δ·m + small does, so that round(t·x/q) is m. A part
// with encryption randomness has [t·x]_q uniform: each coefficient passes with probability 1/2, a
// false alarm has probability 2^-n; for n < 64 the answer is false. Keyless: O(n·k). The test of
// yashe:: and bfv::readable_without_secret_key (on c, and on c_0).
bool rounds_to_message_without_key(const RnsContext& context, const RnsPoly& x);

}  // namespace cryptonets::rlwe
