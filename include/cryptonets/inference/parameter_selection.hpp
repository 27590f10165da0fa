// Choosing YASHE' parameters for a model (issue "Parameter selection and an honest security
// report"): the plaintext moduli from the model's worst-case output range, the ring degree n, the
// RNS primes of q and the key-switching decomposition from the keyless noise model, and the
// security verdict from yashe/security.hpp. Every decision is explained in one line of text.
//
// Noise prediction runs the compiled network through the runtime's own schedule
// (deferred_relinearization.hpp) on noise estimates instead of ciphertexts, with the formulas the
// library uses to carry `noise_log2` on every ciphertext (each scheme's noise_model.hpp, the fused
// kernel's Σ |w|·v), so the prediction equals the estimate that an encrypted run carries, without
// keys or ciphertexts (checked for both schemes in the tests). BFV parameters:
// select_bfv_parameters below.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cryptonets/bfv/parameters.hpp"
#include "cryptonets/model/layers.hpp"
#include "cryptonets/model/model.hpp"
#include "cryptonets/yashe/parameters.hpp"

namespace cryptonets::inference {

struct NoisePrediction {
  // log2 of the invariant-noise bound after each compiled step, worst over the step's outputs.
  std::vector<double> noise_log2_after_step;
  // -(log2 ‖v‖∞ + 1) of the outputs as infer sends them: after the last step and the output
  // re-randomisation (a fresh encryption of zero added, or noise flooding).
  double final_budget_bits = 0;
  // Bits of budget that relinearisation costs, summed over the relinearisations (the largest rise
  // of a value's noise due to key switching at each): an upper bound on what smaller
  // decomposition digits could win back.
  double key_switching_bits = 0;
};

// Keyless prediction of the network's noise under `params` (its t is the plaintext modulus):
// from NoiseModel::fresh() for every input, a linear step gives each output log2(Σ_j |w_j|·2^v_j)
// (adding the bias leaves the noise unchanged) and a square gives multiply(v, v), relinearised
// (relinearize) where an encrypted run does it: the same evaluate() through the same
// DeferredRelinearization schedule (deferred_relinearization.hpp), with noise estimates as values.
// Values are tracked one by one, so that a layer's outputs may differ. Every output then gets
// infer's re-randomisation: NoiseModel::add with fresh(), or, for circuit_privacy_bits = λ > 0,
// the flooding noise of NoiseModel::flooding_noise at the width flooding_width_log2(v, λ)
// (rounded up to a whole bit, as Encryptor::rerandomize_inplace does). Throws
// std::invalid_argument if the parameters are invalid.
// Reference twin: the noise estimate an encrypted run carries (equal) and the noise measured with
// the secret key (bounded by it), tests/test_parameter_selection.cpp.
NoisePrediction predict_network_noise(const yashe::Parameters& params,
                                      const model::CompiledModel& model,
                                      int circuit_privacy_bits = 0);
// The same circuit under BFV's keyless noise model (bfv/noise_model.hpp), each output
// re-randomised with a fresh encryption of zero (no circuit-privacy flooding under BFV).
NoisePrediction predict_network_noise(const bfv::Parameters& params,
                                      const model::CompiledModel& model);

// The smallest predicted final budget over the plaintext moduli (each t_i has its own r_t(q) and
// therefore its own noise).
double predict_budget_over_moduli(const yashe::Parameters& base,
                                  const std::vector<uint64_t>& plaintext_moduli,
                                  const model::CompiledModel& model, int circuit_privacy_bits = 0);

// Bits of noise budget that flooding to statistical distance 2^-λ costs an output at ring degree
// n, plaintext modulus t and σ (noise_model.hpp; independent of q): λ + log2 n +
// log2(6·t·sqrt(n·(2/3 + σ²)/3)), about 102 bits for λ = 40, n = 8192, t ≈ 2^39.
double flooding_cost_bits(const yashe::Parameters& params, int circuit_privacy_bits);

struct SelectionTarget {
  // kPaper: the CryptoNets paper's n = 8192 and q of about 383 bits (more primes only if the model
  // needs them). kSecurity: the smallest n and q within the HE standard's bound for
  // `security_bits` (an RLWE figure only, see the reasoning) that keep the margin.
  enum class Mode { kPaper, kSecurity };
  Mode mode = Mode::kSecurity;
  int security_bits = 128;  // 128, 192 or 256
  double margin_bits = 10;  // predicted noise budget required after the whole network
};

struct ParameterChoice {
  std::string name;        // "paper", "default", or "selected"
  yashe::Parameters base;  // base.t = plaintext_moduli[0]
  std::vector<uint64_t> plaintext_moduli;
  double predicted_budget_bits = 0;    // min over moduli, after the whole network
  std::vector<std::string> reasoning;  // one line per decision

  bool operator==(const ParameterChoice&) const = default;
};

// Throws std::invalid_argument for an invalid model or target (security level not 128/192/256,
// negative margin) and std::runtime_error when no parameter set up to n = 32768 satisfies it.
ParameterChoice select_parameters(const model::Model& model, const SelectionTarget& target);

std::vector<std::string> preset_names();  // {"default", "paper", "table-bound"}
// "default": n = 8192 and the fewest 55-bit primes that keep the default 10-bit margin (what the
// main job uses). "paper": the CryptoNets paper's parameters (n = 8192, t1 = 1099511922689,
// t2 = 1099512004609, q of 383 bits as six 55-bit and one 53-bit NTT prime standing in for its
// 383-bit prime 2^383 - 2^33 + 1, key-switching digits w = 2^32, sigma = 3.19); fixed, so it
// throws std::runtime_error if the model's outputs exceed t1·t2 or the predicted budget misses
// the margin. "table-bound": kSecurity mode at 128
// bits: q inside the HE standard's 128-bit RLWE table bound (n = 16384 for the shipped model). The
// name claims nothing: for YASHE' an RLWE table bound establishes no security (see the security
// report); it was called "rlwe128" before. Throws
// std::invalid_argument naming the valid presets for any other name.
// circuit_privacy_bits = λ > 0: the margin grows by the cost of noise flooding to 2^-λ
// (flooding_cost_bits), so that the keys leave room for `infer --circuit-privacy λ`; the
// predicted budget reported is then the one after flooding.
ParameterChoice preset(const std::string& name, const model::Model& model,
                       int circuit_privacy_bits = 0);

// Models with a degree-3 polynomial layer (model.hpp) run in the plain evaluators only: the
// ciphertext schedule has one square per activation, and x³ = x·x² needs a second multiplication
// level. encrypted_degree_three_requirement says what that level would need, computed with the
// keyless noise models on a stand-in circuit (each cubic as two squares, an upper bound on x·x²'s
// noise): the budget it costs at the default preset's q, the primes of 55 bits that would keep
// the 10-bit margin at n = 8192 (YASHE'), and BFV's budget at its 128-bit-bound q. Empty for a
// model without degree-3 layers. require_encryptable throws std::invalid_argument with that text;
// preset, select_parameters and select_bfv_parameters call it first.
std::string encrypted_degree_three_requirement(const model::Model& model);
void require_encryptable(const model::Model& model);

// ---- BFV (bfv/): parameters inside the HE standard's 128-bit classical bound for ternary secrets.

struct BfvParameterChoice {
  std::string name;      // "bfv"
  bfv::Parameters base;  // base.t = plaintext_moduli[0]
  std::vector<uint64_t> plaintext_moduli;
  double predicted_budget_bits = 0;    // min over moduli, after the whole network
  std::vector<std::string> reasoning;  // one line per decision

  bool operator==(const BfvParameterChoice&) const = default;
};

// The smallest n of 8192, 16384, 32768 at which q filling the standard's 128-bit classical bound
// for ternary secrets (log2 q <= 218, 438, 881; no special prime: relinearisation uses RNS digits,
// bfv/README.md) keeps `margin_bits` of predicted budget after the network, with the plaintext
// moduli chosen as for YASHE'. q: the fewest primes of at most 55 bits, sizes summing to the bound
// (n = 8192: 55 + 55 + 54 + 54). Throws std::runtime_error when none fits, std::invalid_argument
// for a negative margin.
BfvParameterChoice select_bfv_parameters(const model::Model& model, double margin_bits = 10);

// Multi-line text for `cryptonets params --scheme bfv`: parameters, moduli, predicted budget,
// reasoning and the BFV security report.
std::string describe(const BfvParameterChoice& choice);

// Multi-line text for `cryptonets params`: the parameters, the plaintext moduli, the predicted
// budget, the reasoning and the full security report.
std::string describe(const ParameterChoice& choice);

}  // namespace cryptonets::inference
