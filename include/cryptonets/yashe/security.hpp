// An honest security report for YASHE' parameters (issue "Parameter selection and an honest
// security report").
//
// YASHE' (Bos, Lauter, Loftus, Naehrig, IMA CC 2013) rests on two assumptions: RLWE for the
// encryption c = [Δ·m + e + h·s]_q with s, e ← χ_err, and the decisional small polynomial ratio
// (DSPR) assumption that h = [t·g·f^-1]_q looks uniform. The second is an NTRU assumption, and at
// the large q that homomorphic evaluation needs it is *overstretched*: Albrecht–Bai–Ducas (Crypto
// 2016), Cheon–Jeong–Lee (ANTS 2016) and Kirchner–Fouque (Eurocrypt 2017) recover NTRU keys far
// faster than the RLWE estimate predicts once q passes the fatigue point, located by Ducas–van
// Woerden (Asiacrypt 2021) at q ≈ 0.004·n^2.484 for ternary keys. Past that point no RLWE figure is
// a security level for YASHE, and this report says so instead of printing one.
//
// Three tools feed the report:
//   * the HomomorphicEncryption.org standard's tables of maximal log2 q (entered as data);
//   * a primal-uSVP estimator (Alkim–Ducas–Pöppelmann–Schwabe 2016, "NewHope", §6), calibrated
//     against those tables by calibrate_against_he_standard();
//   * the NTRU fatigue point and a key-recovery estimate through the public key h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "cryptonets/yashe/parameters.hpp"

#include "cryptonets/rlwe/lattice_estimate.hpp"

namespace cryptonets::yashe {

// The RLWE side lives in rlwe/lattice_estimate.hpp; these names are kept here for the callers.
using rlwe::Adversary;
using rlwe::calibrate_against_he_standard;
using rlwe::Calibration;
using rlwe::CalibrationPoint;
using rlwe::estimate_primal_usvp;
using rlwe::he_standard_max_log2_q;
using rlwe::he_standard_table;
using rlwe::HeStandardBound;
using rlwe::kHeStandardSigma;
using rlwe::LweInstance;
using rlwe::root_hermite_factor;
using rlwe::secret_stddev;
using rlwe::SecretDistribution;
using rlwe::to_string;
using rlwe::UsvpEstimate;

// log2 of the overstretched-NTRU fatigue point q ≈ 0.004·n^2.484 for ternary keys (Ducas and
// van Woerden, "NTRU Fatigue: How Stretched is Overstretched?", Asiacrypt 2021).
double ntru_fatigue_log2_q(size_t n);

struct HeStandardCheck {
  Adversary adversary;
  int level;
  std::optional<int> max_log2_q;  // nullopt: n is not in the table
  bool passes = false;
};

struct SecurityReport {
  size_t n = 0;
  double log2_q = 0;
  double log2_t = 0;
  double sigma = 0;

  // The standard's Gaussian-secret rows: YASHE's RLWE instances (encryption, evaluation key) use
  // s, e ← χ_err. Classical and quantum, 128/192/256.
  std::vector<HeStandardCheck> table_checks;

  // RLWE-only: h·s + e with s, e ← χ_err, treating h as uniform (i.e. assuming DSPR holds).
  UsvpEstimate rlwe;

  // NTRU side.
  double fatigue_log2_q = 0;             // ternary keys, Ducas–van Woerden 2021
  double bits_past_fatigue = 0;          // log2 q − fatigue point (positive: overstretched)
  double key_scaled_fatigue_log2_q = 0;  // fatigue point moved for YASHE's key (f, t·g); see .cpp
  bool past_fatigue = false;
  // Key recovery through h: g − h·f' ≡ h·t^-1 (mod q) is an LWE instance with ternary secret f'
  // and ternary error g. An attack cost (an upper bound on security), ignoring overstretch.
  UsvpEstimate key_recovery;

  // True only below the fatigue point, inside the standard's 128-bit classical bound, and with
  // both estimates at 128 bits or more.
  bool established = false;

  std::string full_text() const;
  std::string one_line() const;  // printed at the top of every main-job run
};

SecurityReport assess_security(const Parameters& params);
// Same from the bare numbers (tests, what-if questions); t ≥ 2, σ > 0, n a power of two ≥ 2.
SecurityReport assess_security(size_t n, double log2_q, uint64_t t, double sigma);

}  // namespace cryptonets::yashe
