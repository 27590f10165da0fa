#include "cryptonets/bfv/security.hpp"
#include "cryptonets/arith/format.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdarg>
#include <cstdio>

#include "cryptonets/arith/modulus.hpp"

namespace cryptonets::bfv {

namespace {

using enum rlwe::SecretDistribution;
using enum rlwe::Adversary;

}  // namespace

SecurityReport assess_security(const Parameters& params) {
  params.validate();
  SecurityReport report;
  report.n = params.n;
  report.log2_q = params.log2_q();
  report.sigma = params.sigma;
  // The public key and one relinearisation key element per gadget digit share the secret s.
  size_t digits = 0;
  const int w = params.decomposition_bits == 0 ? Modulus::kMaxBits : params.decomposition_bits;
  for (uint64_t q : params.q_primes)
    digits += static_cast<size_t>((std::bit_width(q) + w - 1) / w);
  report.rlwe_samples = 1 + digits;

  for (rlwe::Adversary adversary : {kClassical, kQuantum}) {
    for (int level : {128, 192, 256}) {
      const std::optional<int> bound =
          rlwe::he_standard_max_log2_q(kTernary, adversary, level, params.n);
      const bool passes = bound.has_value() && report.log2_q <= *bound;
      report.table_checks.push_back({adversary, level, bound, passes});
      if (adversary == kClassical && passes) report.highest_table_level = level;
    }
  }
  report.estimate = rlwe::estimate_primal_usvp({params.n, report.log2_q,
                                                rlwe::secret_stddev(kTernary, params.sigma),
                                                params.sigma, report.rlwe_samples * params.n});
  report.meets_128_classical =
      report.table_checks.front().passes && report.estimate.bkz_classical() >= 128;
  return report;
}

std::string SecurityReport::one_line() const {
  if (!meets_128_classical) {
    return format(
        "security: NOT 128-bit — log2 q = %.1f for n = %zu is outside the HE standard's 128-bit "
        "classical bound for ternary secrets and/or the primal-uSVP estimate is ~%.0f bits",
        log2_q, n, estimate.bkz_classical());
  }
  int bound = 0;  // the table's max log2 q at that level
  for (const TableCheck& check : table_checks) {
    if (check.adversary == rlwe::Adversary::kClassical && check.level == highest_table_level &&
        check.max_log2_q) {
      bound = *check.max_log2_q;
    }
  }
  return format(
      "security: %d-bit classical per the HE standard's ternary-secret table (log2 q = %.1f <= "
      "%d for n = %zu; primal-uSVP estimate ~%.0f bits), assuming decision RLWE with a ternary "
      "secret and circular security of the relinearisation key",
      highest_table_level, log2_q, bound, n, estimate.bkz_classical());
}

std::string SecurityReport::full_text() const {
  std::string text = "BFV security report\n";
  text += format("  n = %zu, log2 q = %.1f (no special prime), sigma = %.2f, ternary secret\n", n,
                 log2_q, sigma);
  text += "  " + one_line() + "\n\n";
  text +=
      "1. HomomorphicEncryption.org standard v1.1 (Albrecht et al. 2018, Tables 1-2),\n"
      "   ternary-secret rows, max log2 q for this n (the whole key-switching modulus counts;\n"
      "   the multiplication's auxiliary base is never public and does not):\n";
  for (const TableCheck& check : table_checks) {
    if (check.max_log2_q) {
      text += format("     %-9s %3d bits: max log2 q = %4d -> %s\n",
                     rlwe::to_string(check.adversary).c_str(), check.level, *check.max_log2_q,
                     check.passes ? "pass" : "FAIL");
    } else {
      text += format("     %-9s %3d bits: n = %zu is not in the table (1024..32768) -> FAIL\n",
                     rlwe::to_string(check.adversary).c_str(), check.level, n);
    }
  }
  text += format(
      "\n2. Primal uSVP (ADPS16 2016 estimate, Bai-Galbraith scaling), ternary secret, error\n"
      "   sigma = %.2f, up to %zu RLWE samples of s (public key and %zu relinearisation key\n"
      "   elements):\n    ",
      sigma, rlwe_samples, rlwe_samples - 1);
  text += rlwe::describe(estimate);
  const rlwe::Calibration calibration = rlwe::calibrate_against_he_standard(kTernary, kClassical);
  text += format(
      "   Self-check against the standard's ternary classical table: max |estimate - level|\n"
      "   = %.1f bits (worst at n = %zu, %d bits), mean %+.1f bits.\n\n",
      calibration.max_abs_deviation, calibration.worst.bound.n, calibration.worst.bound.level,
      calibration.mean_deviation);
  text +=
      "3. Assumptions: decision RLWE with a uniform ternary secret (public key, encryptions);\n"
      "   circular security of the relinearisation key (rlk_d encrypts g_d*s^2 under s, FV12\n"
      "   Sec. 6.1), which RLWE alone does not give. Outside the models: side channels, the\n"
      "   randomness source, and attacks newer than the standard's tables.\n";
  return text;
}

}  // namespace cryptonets::bfv
