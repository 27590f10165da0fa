#include "cryptonets/inference/parameter_selection.hpp"
#include "cryptonets/arith/format.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cassert>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <limits>
#include <optional>
#include <span>
#include <stdexcept>

#include "cryptonets/arith/primes.hpp"
#include "cryptonets/bfv/context.hpp"
#include "cryptonets/bfv/noise_model.hpp"
#include "cryptonets/bfv/security.hpp"
#include "cryptonets/encoding/plaintext_crt.hpp"
#include "cryptonets/inference/deferred_relinearization.hpp"
#include "cryptonets/model/range.hpp"
#include "cryptonets/rlwe/lattice_estimate.hpp"
#include "cryptonets/rlwe/parameters.hpp"
#include "cryptonets/yashe/context.hpp"
#include "cryptonets/yashe/noise_model.hpp"
#include "cryptonets/yashe/security.hpp"

namespace cryptonets::inference {

using model::compile_model;
using model::CompiledModel;
using model::evaluate;
using model::LinearMap;
using model::LinearTerm;
using model::Model;
using model::plaintext_moduli_suffice;
using model::RangeReport;
using model::track_ranges;

namespace {

// CryptoNets (Gilad-Bachrach et al., ICML 2016, §4) uses plaintext moduli of about 2^40; the
// noise grows with t (fresh noise ∝ t³ through r_t(q)·m, each square ∝ t²), so no larger.
constexpr int kMaxPlaintextBits = 40;
// q primes: 55 bits leave the fused linear kernel 2^15 terms between reductions
// (encrypted_arithmetic.cpp) and are plentiful for every n up to 32768.
constexpr int kPrimeBits = 55;
constexpr int kMinPrimeBits = 30;
constexpr size_t kMaxPrimeCount = rlwe::kMaxQPrimes;  // what a parameter set may hold
// The paper: n = 8192, q = 2^383 − 2^33 + 1; 7 primes of 55 bits (≈ 385 bits) stand in for it.
constexpr size_t kPaperN = 8192;
constexpr size_t kPaperPrimeCount = 7;
constexpr std::array<size_t, 4> kRingDegrees = {4096, 8192, 16384, 32768};
// Key-switching digit sizes tried, largest first, when whole-prime digits cost the margin.
constexpr std::array<int, 5> kDigitBits = {48, 40, 32, 24, 16};
// What the fused kernel writes for an output with no terms (an exact zero).
constexpr double kNoNoise = -1e9;
// Smaller digits are tried only when relinearisation costs at least this much budget (they can
// win back no more than that).
constexpr double kNegligibleBits = 0.1;

// The fused kernel's formula (encrypted_arithmetic.cpp): ‖Σ w_j·v_j‖∞ <= Σ |w_j|·‖v_j‖∞,
// accumulated relative to the largest input noise so that 2^v never underflows.
std::vector<double> linear_step_noise(const LinearMap& map, const std::vector<double>& inputs) {
  std::vector<double> outputs(map.outputs);
  for (size_t o = 0; o < map.outputs; ++o) {
    double largest = -1e300;
    for (const LinearTerm& term : map.terms_of(o))
      largest = std::max(largest, inputs[term.input]);
    double bound = 0;
    for (const LinearTerm& term : map.terms_of(o))
      bound +=
          std::fabs(static_cast<double>(term.weight)) * std::exp2(inputs[term.input] - largest);
    outputs[o] = bound > 0 ? largest + std::log2(bound) : kNoNoise;
  }
  return outputs;
}

struct Candidate {
  yashe::Parameters base;
  std::vector<uint64_t> moduli;
  int prime_bits = 0;
  int plaintext_bits = 0;
  double budget = 0;                    // min over moduli
  double key_switching_bits = 0;        // max over moduli
  double whole_prime_digit_budget = 0;  // the budget with decomposition 0
};

struct PlaintextChoice {
  std::vector<uint64_t> moduli;
  int bits = 0;
};

// The fewest moduli of at most 40 bits whose product T holds the outputs (2B + 1 <= T), each the
// smallest size that still fits: primes ≡ 1 (mod 2n) for batching, distinct from the q primes.
PlaintextChoice choose_plaintext_moduli(size_t n, const std::vector<uint64_t>& q_primes,
                                        const RangeReport& ranges) {
  const int needed = ranges.output_bits();
  const size_t first_count =
      static_cast<size_t>(std::max(1, (needed + kMaxPlaintextBits - 1) / kMaxPlaintextBits));
  const size_t last_count = std::min(first_count + 2, rlwe::kMaxPlaintextModuli);
  for (size_t count = first_count; count <= last_count; ++count) {
    const int per_modulus = static_cast<int>((needed + count - 1) / count);
    for (int bits = std::max(2, per_modulus); bits <= kMaxPlaintextBits; ++bits) {
      // Primes of another size cannot collide with q's, and select_plaintext_moduli asks for
      // count + |avoid| candidates, which small sizes (few primes ≡ 1 mod 2n) may not have.
      const bool may_collide = std::any_of(q_primes.begin(), q_primes.end(), [bits](uint64_t q) {
        return static_cast<int>(std::bit_width(q)) == bits;
      });
      std::vector<uint64_t> moduli;
      try {
        moduli = encoding::select_plaintext_moduli(
            n, bits, count,
            may_collide ? std::span<const uint64_t>(q_primes) : std::span<const uint64_t>());
      } catch (const std::invalid_argument&) {
        continue;  // too few primes ≡ 1 (mod 2n) of this size
      }
      if (plaintext_moduli_suffice(ranges, moduli)) return {moduli, bits};
    }
  }
  throw std::runtime_error(
      "parameter selection: no set of at most " + std::to_string(rlwe::kMaxPlaintextModuli) +
      " plaintext moduli of at most " + std::to_string(kMaxPlaintextBits) +
      " bits holds outputs of " + std::to_string(needed) + " bits for n = " + std::to_string(n));
}

// n, `count` primes of `prime_bits` bits, the plaintext moduli and the predicted budget; nullopt
// if no such parameter set exists (too few primes of that size, q not far above t).
std::optional<Candidate> make_candidate(size_t n, size_t count, int prime_bits, int digit_bits,
                                        const RangeReport& ranges, const CompiledModel& model) {
  Candidate candidate;
  try {
    candidate.base = yashe::Parameters::create(n, count, prime_bits, 2);
    candidate.base.decomposition_bits = digit_bits;
    candidate.prime_bits = prime_bits;
    const PlaintextChoice plaintext = choose_plaintext_moduli(n, candidate.base.q_primes, ranges);
    candidate.moduli = plaintext.moduli;
    candidate.plaintext_bits = plaintext.bits;
    candidate.base.t = candidate.moduli.front();
    candidate.base.validate();
  } catch (const std::invalid_argument&) {
    return std::nullopt;
  }
  candidate.budget = std::numeric_limits<double>::infinity();
  for (uint64_t t : candidate.moduli) {
    yashe::Parameters params = candidate.base;
    params.t = t;
    const NoisePrediction prediction = predict_network_noise(params, model);
    candidate.budget = std::min(candidate.budget, prediction.final_budget_bits);
    candidate.key_switching_bits =
        std::max(candidate.key_switching_bits, prediction.key_switching_bits);
  }
  return candidate;
}

// Whole-prime digits (decomposition 0) unless they alone cost the margin: then the largest
// digit size that keeps it, if any.
std::optional<Candidate> evaluate_candidate(size_t n, size_t count, int prime_bits,
                                            const RangeReport& ranges, const CompiledModel& model,
                                            double margin) {
  std::optional<Candidate> whole = make_candidate(n, count, prime_bits, 0, ranges, model);
  if (whole) whole->whole_prime_digit_budget = whole->budget;
  if (!whole || whole->budget >= margin || whole->key_switching_bits < kNegligibleBits) {
    return whole;
  }
  for (int digit_bits : kDigitBits) {
    if (digit_bits >= prime_bits) continue;
    std::optional<Candidate> split =
        make_candidate(n, count, prime_bits, digit_bits, ranges, model);
    if (split && split->budget >= margin) {
      split->whole_prime_digit_budget = whole->budget;
      return split;
    }
  }
  return whole;
}

struct PrimeSearch {
  std::optional<Candidate> chosen;     // the fewest primes keeping the margin
  std::optional<Candidate> best_miss;  // the largest q tried that missed it
};

// The fewest primes (from first_count on) of 55 bits, or fewer bits once log2 q would pass
// max_log2_q, that keep the margin at ring degree n.
PrimeSearch fewest_primes(size_t n, size_t first_count, double max_log2_q,
                          const RangeReport& ranges, const CompiledModel& model, double margin) {
  PrimeSearch search;
  for (size_t count = first_count; count <= kMaxPrimeCount; ++count) {
    int bits = kPrimeBits;
    const bool capped = static_cast<double>(count * kPrimeBits) > max_log2_q;
    if (capped) bits = static_cast<int>(std::floor(max_log2_q / static_cast<double>(count)));
    if (bits < kMinPrimeBits) break;
    std::optional<Candidate> candidate = evaluate_candidate(n, count, bits, ranges, model, margin);
    if (candidate && candidate->budget >= margin) {
      search.chosen = std::move(candidate);
      return search;
    }
    if (candidate) search.best_miss = std::move(candidate);
    if (capped) break;  // q cannot grow any further within the bound
  }
  return search;
}

std::string plaintext_line(const Candidate& c, const RangeReport& ranges) {
  const double log2_product = [&] {
    double bits = 0;
    for (uint64_t t : c.moduli)
      bits += std::log2(static_cast<double>(t));
    return bits;
  }();
  return format(
      "plaintext: the outputs need %d bits (range tracking: |output| <= 2^%.1f over all inputs); "
      "%zu modul%s of %d bits (T = 2^%.1f): the fewest of <= %d bits that hold them, each of "
      "the smallest size that does (noise grows with t), primes = 1 mod 2n for batching, coprime "
      "to q",
      ranges.output_bits(), std::log2(std::max(1.0, ranges.output().bound.get_d())),
      c.moduli.size(), c.moduli.size() == 1 ? "us" : "i", c.plaintext_bits, log2_product,
      kMaxPlaintextBits);
}

std::string decomposition_line(const Candidate& c) {
  if (c.base.decomposition_bits == 0) {
    return format(
        "key switching: one digit per RNS prime (decomposition 0): relinearisation costs %.2f "
        "bits of budget over the whole network and the margin holds without smaller digits "
        "(which would mean larger evaluation keys and slower squares)",
        c.key_switching_bits);
  }
  return format(
      "key switching: base-2^%d digits: with one digit per prime, relinearisation noise would "
      "leave %.1f bits, below the margin; these digits leave %.1f",
      c.base.decomposition_bits, c.whole_prime_digit_budget, c.budget);
}

std::string security_line(const yashe::Parameters& base) {
  const yashe::SecurityReport report = yashe::assess_security(base);
  if (report.established) return report.one_line();
  return format(
      "security NOT established: the HE-standard check and the uSVP estimate (~%.0f bits "
      "classical) are RLWE figures that take YASHE's public key h = [t*g/f]_q as uniform (DSPR); "
      "q = 2^%.1f lies %.0f bits %s the overstretched-NTRU fatigue point 2^%.1f for n = %zu "
      "(Ducas-van Woerden 2021), %s",
      report.rlwe.bkz_classical(), report.log2_q, std::fabs(report.bits_past_fatigue),
      report.past_fatigue ? "past" : "below", report.fatigue_log2_q, report.n,
      report.past_fatigue ? "where subfield/sublattice attacks (ABD16, CJL16, KF17) recover NTRU "
                            "keys far below that estimate"
                          : "but an estimate or the standard's 128-bit bound falls short");
}

std::string noise_line(const Candidate& chosen, const std::optional<Candidate>& one_fewer,
                       double margin) {
  std::string line = format(
      "noise: predicted budget %.1f bits after the network (min over the moduli; keyless model "
      "of yashe/noise_model.hpp, 6-sigma bounds, conservative) >= margin %.1f bits",
      chosen.budget, margin);
  if (one_fewer) {
    line += format("; %zu primes (log2 q = %.1f) would predict %.1f bits",
                   one_fewer->base.q_primes.size(), one_fewer->base.log2_q(), one_fewer->budget);
  }
  return line;
}

ParameterChoice to_choice(std::string name, const Candidate& c, std::vector<std::string> reasons) {
  ParameterChoice choice;
  choice.name = std::move(name);
  choice.base = c.base;
  choice.plaintext_moduli = c.moduli;
  choice.predicted_budget_bits = c.budget;
  choice.reasoning = std::move(reasons);
  return choice;
}

void check_target(const SelectionTarget& target) {
  if (target.security_bits != 128 && target.security_bits != 192 && target.security_bits != 256) {
    throw std::invalid_argument(
        "parameter selection: security_bits = " + std::to_string(target.security_bits) +
        " is not a level of the HE standard (128, 192 or 256)");
  }
  if (!(target.margin_bits >= 0) || !std::isfinite(target.margin_bits)) {
    throw std::invalid_argument("parameter selection: margin_bits must be finite and >= 0");
  }
}

// The HE standard's bound (v1.1, Table 1, classical), the stricter of the Gaussian rows (YASHE's
// encryption s, e ← χ_err) and the ternary rows (its key f', g).
double standard_max_log2_q(size_t n, int level) {
  using yashe::Adversary;
  using yashe::SecretDistribution;
  const auto gaussian =
      yashe::he_standard_max_log2_q(SecretDistribution::kGaussian, Adversary::kClassical, level, n);
  const auto ternary =
      yashe::he_standard_max_log2_q(SecretDistribution::kTernary, Adversary::kClassical, level, n);
  assert(gaussian && ternary);
  return std::min(*gaussian, *ternary);
}

ParameterChoice select_for_paper(const RangeReport& ranges, const CompiledModel& model,
                                 double margin) {
  PrimeSearch search = fewest_primes(
      kPaperN, kPaperPrimeCount, std::numeric_limits<double>::infinity(), ranges, model, margin);
  if (!search.chosen) {
    throw std::runtime_error(
        "parameter selection: no q up to " + std::to_string(kMaxPrimeCount) +
        " primes keeps the margin at n = 8192; lower the model's weights or input scale");
  }
  const Candidate& c = *search.chosen;
  std::vector<std::string> reasons;
  reasons.push_back(plaintext_line(c, ranges));
  reasons.push_back(
      "n = 8192: the CryptoNets paper's ring degree (ICML 2016, section 4), 8192 images per batch");
  if (c.base.q_primes.size() == kPaperPrimeCount) {
    reasons.push_back(format(
        "q: %zu primes of %d bits (log2 q = %.1f), an RNS product of NTT primes standing in for "
        "the paper's q = 2^383 - 2^33 + 1 so that all arithmetic runs in 64-bit words",
        c.base.q_primes.size(), kPrimeBits, c.base.log2_q()));
  } else {
    reasons.push_back(format(
        "q: %zu primes of %d bits (log2 q = %.1f): the paper's ~383 bits (7 primes) predicts "
        "%.1f bits of budget, below the margin, so primes were added",
        c.base.q_primes.size(), kPrimeBits, c.base.log2_q(),
        search.best_miss ? search.best_miss->budget : 0.0));
  }
  reasons.push_back(noise_line(c, search.best_miss, margin));
  reasons.push_back(decomposition_line(c));
  reasons.push_back(security_line(c.base));
  return to_choice("selected", c, std::move(reasons));
}

ParameterChoice select_for_security(const RangeReport& ranges, const CompiledModel& model,
                                    int level, double margin) {
  std::vector<std::string> rejected;
  for (size_t n : kRingDegrees) {
    const double bound = standard_max_log2_q(n, level);
    PrimeSearch search = fewest_primes(n, 1, bound, ranges, model, margin);
    if (!search.chosen) {
      rejected.push_back(
          format("n = %zu allows log2 q <= %.0f, where the largest q tried predicts %.1f bits", n,
                 bound, search.best_miss ? search.best_miss->budget : -1e9));
      continue;
    }
    const Candidate& c = *search.chosen;
    std::vector<std::string> reasons;
    reasons.push_back(plaintext_line(c, ranges));
    // Name both rows: the security report below lists the Gaussian row only, whose bound may be
    // the larger one (440 against the ternary 438 at n = 16384).
    const auto gaussian = yashe::he_standard_max_log2_q(yashe::SecretDistribution::kGaussian,
                                                        yashe::Adversary::kClassical, level, n);
    const auto ternary = yashe::he_standard_max_log2_q(yashe::SecretDistribution::kTernary,
                                                       yashe::Adversary::kClassical, level, n);
    std::string n_line = format(
        "n = %zu: the smallest ring degree whose HE-standard bound for %d-bit classical security "
        "(log2 q <= %.0f; v1.1 Table 1, the stricter of the Gaussian row, %d, and the ternary "
        "row for YASHE's key f', g, %d) leaves room for a q that keeps the margin",
        n, level, bound, static_cast<int>(*gaussian), static_cast<int>(*ternary));
    for (const std::string& why_not : rejected)
      n_line += "; " + why_not;
    reasons.push_back(n_line);
    reasons.push_back(format(
        "q: %zu primes of %d bits (log2 q = %.1f), the fewest that keep the margin within the "
        "bound",
        c.base.q_primes.size(), c.prime_bits, c.base.log2_q()));
    reasons.push_back(noise_line(c, search.best_miss, margin));
    reasons.push_back(decomposition_line(c));
    reasons.push_back(format(
        "the %d-bit target is an RLWE figure only: YASHE's NTRU-type key (DSPR assumption) is not "
        "covered by the standard's tables",
        level));
    reasons.push_back(security_line(c.base));
    return to_choice("selected", c, std::move(reasons));
  }
  std::string message =
      format("parameter selection: no n <= 32768 keeps a %.1f-bit margin within the %d-bit bound",
             margin, level);
  for (const std::string& why_not : rejected)
    message += "; " + why_not;
  throw std::runtime_error(message);
}

// The CryptoNets paper's parameters as far as bench/paper_values.csv sources them (a SEAL
// 1.x-era "Cryptonets" example and SEAL 1.x's defaults): n = 8192, t1 = 2^40 + 294913 and
// t2 = 2^40 + 376833 (both prime, = 1 mod 16384, so both batch), key-switching digits of 32 bits,
// sigma = 3.19, q = 2^383 - 2^33 + 1. That q is one 383-bit prime; we take six 55-bit and one
// 53-bit NTT prime (log2 q = 383.0) so that all arithmetic runs in 64-bit words.
constexpr uint64_t kPaperT1 = 1099511922689ull;
constexpr uint64_t kPaperT2 = 1099512004609ull;
constexpr int kPaperDigitBits = 32;
constexpr double kPaperSigma = 3.19;

ParameterChoice select_paper(const Model& model, double extra_margin) {
  const RangeReport ranges = track_ranges(model);
  const CompiledModel compiled = compile_model(model);
  const double margin = SelectionTarget{}.margin_bits + extra_margin;
  yashe::Parameters base;
  base.n = kPaperN;
  base.q_primes = generate_ntt_primes(kPrimeBits, kPaperPrimeCount - 1, 2 * kPaperN);
  base.q_primes.push_back(generate_ntt_primes(53, 1, 2 * kPaperN).front());
  base.t = kPaperT1;
  base.sigma = kPaperSigma;
  base.decomposition_bits = kPaperDigitBits;
  base.validate();
  const std::vector<uint64_t> moduli = {kPaperT1, kPaperT2};
  if (!plaintext_moduli_suffice(ranges, moduli)) {
    throw std::runtime_error(format(
        "paper parameters: the paper's plaintext moduli t1*t2 = 2^80.0 cannot hold this model's "
        "outputs (%d bits); use the default preset",
        ranges.output_bits()));
  }
  ParameterChoice choice;
  choice.name = "paper";
  choice.base = base;
  choice.plaintext_moduli = moduli;
  choice.predicted_budget_bits = predict_budget_over_moduli(base, moduli, compiled);
  if (!(choice.predicted_budget_bits >= margin)) {
    throw std::runtime_error(format(
        "paper parameters: predicted noise budget %.1f bits after the network, below the margin "
        "%.1f bits; the paper's q of 383 bits does not carry this model",
        choice.predicted_budget_bits, margin));
  }
  choice.reasoning = {
      format("plaintext: the paper's t1 = 1099511922689 = 2^40 + 294913 and t2 = 1099512004609 "
             "= 2^40 + 376833 (T = 2^80.0; primes = 1 mod 16384, so both batch at n = 8192); "
             "the outputs need %d bits",
             ranges.output_bits()),
      "n = 8192: the CryptoNets paper's ring degree (ICML 2016, section 4), 8192 images per batch",
      format("q: %zu NTT primes (six of 55 bits, one of 53; log2 q = %.1f) standing in for the "
             "paper's q = 2^383 - 2^33 + 1, one 383-bit prime, so that all arithmetic runs in "
             "64-bit words",
             base.q_primes.size(), base.log2_q()),
      format("noise: predicted budget %.1f bits after the network (min over the moduli; keyless "
             "model of yashe/noise_model.hpp, 6-sigma bounds, conservative) >= margin %.1f bits",
             choice.predicted_budget_bits, margin),
      "key switching: base-2^32 digits of each RNS digit (the paper-era decomposition bit count "
      "32), sigma = 3.19 (SEAL 1.x's default noise standard deviation)",
      security_line(base)};
  return choice;
}

ParameterChoice select_default(const Model& model, double extra_margin) {
  const RangeReport ranges = track_ranges(model);
  const CompiledModel compiled = compile_model(model);
  const double margin = SelectionTarget{}.margin_bits + extra_margin;
  PrimeSearch search =
      fewest_primes(kPaperN, 1, std::numeric_limits<double>::infinity(), ranges, compiled, margin);
  if (!search.chosen) {
    throw std::runtime_error("default parameters: no q keeps the margin at n = 8192");
  }
  const Candidate& c = *search.chosen;
  std::vector<std::string> reasons;
  reasons.push_back(plaintext_line(c, ranges));
  reasons.push_back(
      "n = 8192: the paper's ring degree, chosen for speed (8192 images per batch); the HE "
      "standard's 128-bit bound for this q would need n = 16384, twice the work per ciphertext");
  reasons.push_back(format(
      "q: %zu primes of %d bits (log2 q = %.1f), the fewest 55-bit primes that keep the margin",
      c.base.q_primes.size(), kPrimeBits, c.base.log2_q()));
  reasons.push_back(noise_line(c, search.best_miss, margin));
  reasons.push_back(decomposition_line(c));
  reasons.push_back(security_line(c.base));
  return to_choice("default", c, std::move(reasons));
}

}  // namespace

namespace {

// The keyless steps of the deferred-relinearisation schedule (deferred_relinearization.hpp): a
// value is its noise estimate log2 ‖v‖∞ and whether it awaits relinearisation. The formulas are
// the scheme's noise model and the fused kernel's Σ |w_j|·v_j (adding a constant leaves the noise
// unchanged). key_switching_bits adds, per relinearisation pass, the largest rise of a value's
// noise due to key switching.
struct NoiseValue {
  double noise_log2 = kNoNoise;
  bool degree_two = false;
};

template <class NoiseModel>
class NoiseOps {
 public:
  using Value = NoiseValue;

  NoiseOps(const NoiseModel& noise, double& key_switching_bits)
      : noise_(noise), key_switching_bits_(key_switching_bits) {}

  std::vector<Value> linear(const LinearMap& map, std::span<const Value> inputs) const {
    std::vector<double> noise(inputs.size());
    for (size_t j = 0; j < inputs.size(); ++j)
      noise[j] = inputs[j].noise_log2;
    std::vector<Value> outputs;
    for (double v : linear_step_noise(map, noise))
      outputs.push_back({v, !inputs.empty() && inputs[0].degree_two});
    return outputs;
  }
  void relinearize(Value& value) {
    if (!value.degree_two) return;
    const double before = value.noise_log2;
    value.noise_log2 = noise_.relinearize(before);
    value.degree_two = false;
    pass_rise_ = std::max(pass_rise_, value.noise_log2 - before);
  }
  void relinearize_all(std::vector<Value>& values) {
    for_each(values, [this](Value& value) { relinearize(value); });
  }
  void add_scalar(Value&, int64_t) const {}
  void square_unrelinearized(Value& value) const {
    value.noise_log2 = noise_.multiply(value.noise_log2, value.noise_log2);
    value.degree_two = true;
  }
  template <class F>
  void for_each(std::vector<Value>& values, const F& f) {
    pass_rise_ = 0;
    for (Value& value : values)
      f(value);
    key_switching_bits_ += pass_rise_;
  }

 private:
  const NoiseModel& noise_;
  double& key_switching_bits_;
  double pass_rise_ = 0;
};

double worst_noise(const std::vector<NoiseValue>& values) {
  double worst = kNoNoise;
  for (const NoiseValue& value : values)
    worst = std::max(worst, value.noise_log2);
  return worst;
}

// The network's noise under any scheme's keyless noise model, through the same schedule as an
// encrypted run (infer: evaluate, then relinearize_all, then the re-randomisation of every
// output with the public key, `rerandomize` on its noise estimate).
template <class NoiseModel, class Rerandomize>
NoisePrediction predict_with(const NoiseModel& noise, const CompiledModel& model,
                             const Rerandomize& rerandomize) {
  NoisePrediction prediction;
  DeferredRelinearization<NoiseOps<NoiseModel>> arithmetic(noise, prediction.key_switching_bits);
  std::vector<NoiseValue> values =
      evaluate(model, std::vector<NoiseValue>(model.input_size, {noise.fresh(), false}), arithmetic,
               [&](size_t, const std::vector<NoiseValue>& after) {
                 prediction.noise_log2_after_step.push_back(worst_noise(after));
               });
  arithmetic.relinearize_all(values);
  for (NoiseValue& value : values)
    value.noise_log2 = rerandomize(value.noise_log2);
  prediction.final_budget_bits = NoiseModel::budget_bits(worst_noise(values));
  return prediction;
}

}  // namespace

NoisePrediction predict_network_noise(const yashe::Parameters& params, const CompiledModel& model,
                                      int circuit_privacy_bits) {
  const auto context = yashe::Context::create(params);
  const yashe::NoiseModel noise(*context);
  // infer's re-randomisation: a fresh encryption of zero, or for circuit_privacy_bits = λ > 0
  // the flooding noise at the width flooding_width_log2(v, λ), rounded up to a whole bit as
  // Encryptor::rerandomize_inplace does.
  return predict_with(noise, model, [&](double v) {
    const double width =
        circuit_privacy_bits > 0 ? noise.flooding_width_log2(v, circuit_privacy_bits) : 0;
    return width > 0 ? yashe::NoiseModel::add(v, noise.flooding_noise(std::ceil(width)))
                     : yashe::NoiseModel::add(v, noise.fresh());
  });
}

NoisePrediction predict_network_noise(const bfv::Parameters& params, const CompiledModel& model) {
  const auto context = bfv::Context::create(params);
  const bfv::NoiseModel noise(*context);
  // infer's re-randomisation: a fresh encryption of zero added
  // (bfv::Encryptor::rerandomize_inplace).
  return predict_with(noise, model,
                      [&](double v) { return bfv::NoiseModel::add(v, noise.fresh()); });
}

double predict_budget_over_moduli(const yashe::Parameters& base,
                                  const std::vector<uint64_t>& plaintext_moduli,
                                  const CompiledModel& model, int circuit_privacy_bits) {
  if (plaintext_moduli.empty()) {
    throw std::invalid_argument("predict_budget_over_moduli: no plaintext modulus given");
  }
  double budget = std::numeric_limits<double>::infinity();
  for (uint64_t t : plaintext_moduli) {
    yashe::Parameters params = base;
    params.t = t;
    budget = std::min(budget,
                      predict_network_noise(params, model, circuit_privacy_bits).final_budget_bits);
  }
  return budget;
}

double flooding_cost_bits(const yashe::Parameters& params, int circuit_privacy_bits) {
  return yashe::NoiseModel::flooding_cost_bits(params.n, static_cast<double>(params.t),
                                               params.sigma, circuit_privacy_bits);
}

ParameterChoice select_parameters(const Model& model, const SelectionTarget& target) {
  require_encryptable(model);
  check_target(target);
  const RangeReport ranges = track_ranges(model);
  const CompiledModel compiled = compile_model(model);
  if (target.mode == SelectionTarget::Mode::kPaper) {
    return select_for_paper(ranges, compiled, target.margin_bits);
  }
  return select_for_security(ranges, compiled, target.security_bits, target.margin_bits);
}

std::vector<std::string> preset_names() {
  return {"default", "paper", "table-bound"};
}

namespace {

ParameterChoice preset_with_margin(const std::string& name, const Model& model,
                                   double extra_margin) {
  if (name == "default") return select_default(model, extra_margin);
  SelectionTarget target;
  target.margin_bits += extra_margin;
  if (name == "paper") return select_paper(model, extra_margin);
  if (name == "table-bound") {
    target.mode = SelectionTarget::Mode::kSecurity;
    target.security_bits = 128;
    ParameterChoice choice = select_parameters(model, target);
    choice.name = "table-bound";
    return choice;
  }
  std::string names;
  for (const std::string& known : preset_names())
    names += (names.empty() ? "" : ", ") + known;
  throw std::invalid_argument("unknown parameter preset '" + name + "' (valid presets: " + names +
                              ")");
}

}  // namespace

ParameterChoice preset(const std::string& name, const Model& model, int circuit_privacy_bits) {
  require_encryptable(model);
  if (circuit_privacy_bits < 0) {
    throw std::invalid_argument("preset: circuit_privacy_bits must be >= 0");
  }
  ParameterChoice choice = preset_with_margin(name, model, 0);
  if (circuit_privacy_bits == 0) return choice;
  // The plaintext moduli (and so the cost) do not depend on the margin; n may grow with it
  // (table-bound), so the cost is taken at the largest ring degree the selection tries.
  double cost = 0;
  for (uint64_t t : choice.plaintext_moduli) {
    yashe::Parameters params = choice.base;
    params.t = t;
    if (name == "table-bound") params.n = kRingDegrees.back();
    cost = std::max(cost, flooding_cost_bits(params, circuit_privacy_bits));
  }
  choice = preset_with_margin(name, model, cost + 2);  // 2: rounding of the width, and add()
  const CompiledModel compiled = compile_model(model);
  choice.predicted_budget_bits = predict_budget_over_moduli(choice.base, choice.plaintext_moduli,
                                                            compiled, circuit_privacy_bits);
  choice.reasoning.push_back(format(
      "circuit privacy: noise flooding to statistical distance 2^-%d costs %.1f bits of budget; "
      "the margin grew by that much, leaving %.1f bits after flooding",
      circuit_privacy_bits, cost, choice.predicted_budget_bits));
  return choice;
}

namespace {

// BFV at ring degree n with q filling the HE standard's 128-bit classical bound for ternary
// secrets: the fewest primes of at most kPrimeBits bits whose sizes sum to the bound (each prime
// of b bits is below 2^b, so log2 q stays below the bound). t is left to the caller.
bfv::Parameters bfv_base_at_bound(size_t n) {
  const std::optional<int> bound = rlwe::he_standard_max_log2_q(
      rlwe::SecretDistribution::kTernary, rlwe::Adversary::kClassical, 128, n);
  assert(bound);
  const int count = (*bound + kPrimeBits - 1) / kPrimeBits;
  const int small_bits = *bound / count, larger = *bound - small_bits * count;
  bfv::Parameters base;
  base.n = n;
  if (larger > 0) base.q_primes = generate_ntt_primes(small_bits + 1, larger, 2 * n);
  for (uint64_t q : generate_ntt_primes(small_bits, count - larger, 2 * n))
    base.q_primes.push_back(q);
  return base;
}

// The compiled model with every kPolynomial (degree-3) step replaced by `squares` square steps:
// the noise stand-in of x³ = x·x². Two squares compute x⁴ = (x²)², a product of two relinearised
// values each at least as noisy as x and x², so its noise bounds that of x·x² in the noise models
// (the product's noise grows with each factor's); one square is the layer as a degree-2 one.
CompiledModel with_squares_for_cubes(const CompiledModel& model, int squares) {
  CompiledModel out = model;
  out.steps.clear();
  for (const model::CompiledStep& step : model.steps) {
    if (step.kind != model::CompiledStep::Kind::kPolynomial) {
      out.steps.push_back(step);
      continue;
    }
    model::CompiledStep square = step;
    square.kind = model::CompiledStep::Kind::kSquare;
    square.coefficients.clear();
    for (int k = 0; k < squares; ++k)
      out.steps.push_back(square);
  }
  return out;
}

}  // namespace

std::string encrypted_degree_three_requirement(const Model& model) {
  const RangeReport ranges = track_ranges(model);
  const CompiledModel compiled = compile_model(model);
  std::string layers;
  for (const model::CompiledStep& step : compiled.steps) {
    if (step.kind == model::CompiledStep::Kind::kPolynomial)
      layers += (layers.empty() ? "" : ", ") + std::to_string(step.layer_index + 1);
  }
  if (layers.empty()) return "";
  const CompiledModel one_level = with_squares_for_cubes(compiled, 1);
  const CompiledModel two_levels = with_squares_for_cubes(compiled, 2);
  const double margin = SelectionTarget{}.margin_bits;
  std::string text = "layer " + layers +
                     " (poly) has degree 3: x^3 = x*x^2 needs a second ciphertext multiplication "
                     "in the layer, which the encrypted runtime (one square per activation) does "
                     "not have, so degree 3 runs in the plain evaluators only. What it would "
                     "need, from the keyless noise models (one more square's noise per cubic, an "
                     "upper bound), with outputs of " +
                     std::to_string(ranges.output_bits()) + " bits: ";
  const PrimeSearch as_square =
      fewest_primes(kPaperN, 1, std::numeric_limits<double>::infinity(), ranges, one_level, margin);
  const PrimeSearch needed = fewest_primes(kPaperN, 1, std::numeric_limits<double>::infinity(),
                                           ranges, two_levels, margin);
  if (as_square.chosen) {
    const Candidate& c = *as_square.chosen;
    const double with_cube = predict_budget_over_moduli(c.base, c.moduli, two_levels);
    text += format(
        "YASHE' (n = 8192): at the %zu primes of 55 bits (log2 q = %.1f) that a square there "
        "needs, the second level costs %.1f bits of noise budget (%.1f bits left instead of "
        "%.1f); ",
        c.base.q_primes.size(), c.base.log2_q(), c.budget - with_cube, with_cube, c.budget);
  }
  if (needed.chosen) {
    text += format("keeping the %.0f-bit margin takes %zu primes (log2 q = %.1f)", margin,
                   needed.chosen->base.q_primes.size(), needed.chosen->base.log2_q());
  } else {
    text += "no q of up to 40 primes keeps the margin at n = 8192";
  }
  bfv::Parameters base = bfv_base_at_bound(kPaperN);
  const PlaintextChoice plaintext = choose_plaintext_moduli(kPaperN, base.q_primes, ranges);
  double one = std::numeric_limits<double>::infinity(), two = one;
  for (uint64_t t : plaintext.moduli) {
    base.t = t;
    one = std::min(one, predict_network_noise(base, one_level).final_budget_bits);
    two = std::min(two, predict_network_noise(base, two_levels).final_budget_bits);
  }
  text += format(
      "; BFV (n = 8192, log2 q = %.1f, the 128-bit bound): %.1f bits left with a square there, "
      "%.1f with the second level (%.1f bits more noise)%s",
      base.log2_q(), one, two, one - two,
      two >= margin ? "" : ", below the margin: a larger n and q");
  return text;
}

void require_encryptable(const Model& model) {
  const std::string requirement = encrypted_degree_three_requirement(model);
  if (!requirement.empty()) throw std::invalid_argument(requirement);
}

BfvParameterChoice select_bfv_parameters(const Model& model, double margin_bits) {
  require_encryptable(model);
  if (!(margin_bits >= 0)) throw std::invalid_argument("BFV parameters: the margin must be >= 0");
  const RangeReport ranges = track_ranges(model);
  const CompiledModel compiled = compile_model(model);
  std::vector<std::string> misses;
  for (size_t n : {size_t{8192}, size_t{16384}, size_t{32768}}) {
    bfv::Parameters base = bfv_base_at_bound(n);
    const std::optional<int> bound = rlwe::he_standard_max_log2_q(
        rlwe::SecretDistribution::kTernary, rlwe::Adversary::kClassical, 128, n);
    const int count = (*bound + kPrimeBits - 1) / kPrimeBits;
    const int small_bits = *bound / count, larger = *bound - small_bits * count;
    const PlaintextChoice plaintext = choose_plaintext_moduli(n, base.q_primes, ranges);
    double budget = std::numeric_limits<double>::infinity();
    for (uint64_t t : plaintext.moduli) {
      base.t = t;
      budget = std::min(budget, predict_network_noise(base, compiled).final_budget_bits);
    }
    base.t = plaintext.moduli[0];
    if (budget < margin_bits) {
      misses.push_back(
          format("n = %zu (log2 q = %.1f): %.1f bits predicted", n, base.log2_q(), budget));
      continue;
    }
    BfvParameterChoice choice;
    choice.name = "bfv";
    choice.base = base;
    choice.plaintext_moduli = plaintext.moduli;
    choice.predicted_budget_bits = budget;
    choice.reasoning.push_back(format(
        "plaintext: the outputs need %d bits; %zu moduli of %d bits, primes = 1 mod 2n (batching), "
        "as for YASHE'",
        ranges.output_bits(), plaintext.moduli.size(), plaintext.bits));
    choice.reasoning.push_back(format(
        "n = %zu, q: %zu primes of %d-%d bits, log2 q = %.1f <= %d, the HE standard's 128-bit "
        "classical bound for ternary secrets (Table 1); no special prime is needed, so all of it "
        "is q",
        n, base.q_primes.size(), small_bits, larger > 0 ? small_bits + 1 : small_bits,
        base.log2_q(), *bound));
    for (const std::string& miss : misses)
      choice.reasoning.push_back("smaller ring rejected: " + miss + ", below the margin");
    choice.reasoning.push_back(
        format("noise: %.1f bits predicted after the network (keyless 6-sigma model), margin %.0f",
               budget, margin_bits));
    choice.reasoning.push_back(
        "relinearisation: one RNS digit per prime (its noise follows a weighted sum and costs "
        "< 0.01 bit; a special prime would take bits from q inside the same bound)");
    return choice;
  }
  std::string text;
  for (const std::string& miss : misses)
    text += (text.empty() ? "" : "; ") + miss;
  throw std::runtime_error("BFV parameters: no ring degree up to 32768 keeps the margin (" + text +
                           ")");
}

namespace {

// The text of `cryptonets params` for either scheme.
std::string describe_choice(const std::string& name, const std::string& parameters,
                            const std::vector<uint64_t>& q_primes,
                            const std::vector<uint64_t>& plaintext_moduli, double budget,
                            const std::vector<std::string>& reasoning,
                            const std::string& security_report) {
  std::string text = "parameters '" + name + "': " + parameters + "\n";
  text += "  q primes:";
  for (uint64_t q : q_primes)
    text.append(" ").append(std::to_string(q));
  text += "\n  plaintext moduli:";
  for (uint64_t t : plaintext_moduli)
    text += format(" %llu (%.1f bits)", static_cast<unsigned long long>(t),
                   std::log2(static_cast<double>(t)));
  text += format("\n  predicted noise budget after the network: %.1f bits\n", budget);
  text += "why:\n";
  for (const std::string& line : reasoning)
    text.append("  - ").append(line).append("\n");
  text.append("\n").append(security_report);
  return text;
}

}  // namespace

std::string describe(const BfvParameterChoice& choice) {
  return describe_choice(choice.name, choice.base.describe(), choice.base.q_primes,
                         choice.plaintext_moduli, choice.predicted_budget_bits, choice.reasoning,
                         bfv::assess_security(choice.base).full_text());
}

std::string describe(const ParameterChoice& choice) {
  return describe_choice(choice.name, choice.base.describe(), choice.base.q_primes,
                         choice.plaintext_moduli, choice.predicted_budget_bits, choice.reasoning,
                         yashe::assess_security(choice.base).full_text());
}

}  // namespace cryptonets::inference
