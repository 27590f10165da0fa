// The RLWE side of a security estimate, shared by every scheme on the ring: the
// HomomorphicEncryption.org standard's tables of maximal log2 q (entered as data) and a primal-uSVP
// estimator (Alkim–Ducas–Pöppelmann–Schwabe 2016, "NewHope", §6) calibrated against those tables by
// calibrate_against_he_standard(). Scheme-specific assumptions (YASHE's NTRU side, BFV's circular
// security of the relinearisation key) are each scheme's own report (yashe/security.hpp,
// bfv/security.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace cryptonets::rlwe {

// Secret distributions of the HE standard's tables: uniform mod q, the error distribution
// (discrete Gaussian, σ ≈ 3.2) and uniform ternary {-1, 0, 1}.
enum class SecretDistribution { kUniform, kGaussian, kTernary };
enum class Adversary { kClassical, kQuantum };

std::string to_string(SecretDistribution secret);
std::string to_string(Adversary adversary);

// One entry of the HomomorphicEncryption.org standard: the largest log2 q for which a ring of
// degree n with that secret distribution and error σ = 8/√(2π) reaches `level` bits.
struct HeStandardBound {
  SecretDistribution secret;
  Adversary adversary;
  int level;  // 128, 192 or 256
  size_t n;   // 1024 … 32768
  int max_log2_q;
};

// Albrecht et al., "Homomorphic Encryption Security Standard", HomomorphicEncryption.org,
// v1.1, November 2018 (ePrint 2019/939), Table 1 (classical) and Table 2 (quantum): all 108
// entries (3 secret distributions × 2 adversaries × 3 levels × 6 ring degrees).
std::span<const HeStandardBound> he_standard_table();

// The table's bound, or nullopt where n is not one of the table's ring degrees.
std::optional<int> he_standard_max_log2_q(SecretDistribution secret, Adversary adversary, int level,
                                          size_t n);

// The error width the standard's tables were computed for: σ = 8/√(2π) ≈ 3.19.
inline constexpr double kHeStandardSigma = 3.1915382432114616;

// Standard deviation of one secret coefficient. Ternary: √(2/3). Gaussian: the error σ. Uniform:
// the normal-form transform (Applebaum et al. 2009) swaps the secret for an error-distributed
// one, so σ as well.
double secret_stddev(SecretDistribution secret, double error_stddev);

// Search-LWE instance b = A·s + e mod q with s ∈ Z^n and at most `max_samples` samples (n for one
// RLWE sample: the attacker sees n coefficients).
struct LweInstance {
  size_t n = 0;
  double log2_q = 0;
  double secret_stddev = 0;
  double error_stddev = 0;
  size_t max_samples = 0;
};

// Outcome of the primal-uSVP estimate. Cost models (log2 of the attack's cost):
//   core-SVP: 0.292β classical (BDGL16 sieve), 0.265β quantum (Laarhoven's quantum sieve);
//   BKZ:      0.292β + 16.4 + log2(8d) classical, 0.265β + 16.4 + log2(8d) quantum, the sieving
//             BKZ cost the lattice estimator used for the HE standard's tables.
struct UsvpEstimate {
  int beta = 0;             // smallest BKZ block size meeting the ADPS16 success condition
  size_t samples = 0;       // m, chosen to minimise β
  size_t dimension = 0;     // d = m + n + 1
  double root_hermite = 0;  // δ(β)
  bool beyond_full_dimension = false;  // no β ≤ d succeeds: β reported as d

  double core_svp_classical() const;
  double core_svp_quantum() const;
  double bkz_classical() const;
  double bkz_quantum() const;
  double bits(Adversary adversary) const;  // the BKZ model, the one calibrated against the table
};

// Root-Hermite factor of BKZ-β under the geometric series assumption:
// δ = ((πβ)^(1/β)·β/(2πe))^(1/(2(β−1))) (Chen's thesis 2013; ADPS16 §6.1).
double root_hermite_factor(int beta);

// Primal uSVP with Kannan's embedding, dimension d = m + n + 1, volume q^m, and Bai–Galbraith
// rescaling of the smaller of secret and error (volume × (σ_e/σ_s)^n for a small secret), so every
// coordinate of the target has the same width σ. Smallest β with
//     σ·√β ≤ δ(β)^(2β−d−1)·Vol^(1/d)           (ADPS16 §6.3, the "2016 estimate"),
// minimised over m ≤ max_samples. β below 40 is reported as 40, where δ(β) is meaningless and
// such instances fall to LLL/BKZ-40 anyway. Throws std::invalid_argument on a malformed instance.
UsvpEstimate estimate_primal_usvp(const LweInstance& instance);

// The estimator's self-check: the estimated cost (BKZ model of `adversary`) at every table entry
// (n, max log2 q) of the standard, with its deviation from the entry's level.
struct CalibrationPoint {
  HeStandardBound bound;
  double estimate_bits = 0;
  double deviation_bits = 0;  // estimate − level
};
struct Calibration {
  std::vector<CalibrationPoint> points;
  double max_abs_deviation = 0;
  double mean_deviation = 0;
  CalibrationPoint worst;
};
Calibration calibrate_against_he_standard(SecretDistribution secret, Adversary adversary);

// Three lines: β, m, d, δ, then the BKZ and core-SVP costs, classical and quantum.
std::string describe(const UsvpEstimate& estimate);

}  // namespace cryptonets::rlwe
