// Private inference on a batch of images (CryptoNets, Gilad-Bachrach et al., ICML 2016, §3-§4):
//
//   client  encrypt_batch   images -> one ciphertext per model input and plaintext modulus; slot s
//                           of ciphertext j holds input j of image s (SIMD batching, §3.1), so one
//                           network evaluation serves up to n images.
//   server  infer           the network of layers.hpp on those ciphertexts, with the public and
//                           evaluation keys only (the CrtEncryptionSet holds no secret key).
//   client  decrypt_scores  the output ciphertexts -> exact integer scores per image (CRT over the
//                           plaintext moduli, checked against the range-tracking bound).
//
// Written once for every scheme (yashe::Scheme, bfv::Scheme; both instantiated in the library): the
// deferred-relinearisation schedule lives in EncryptedArithmetic, the noise law in each scheme.
//
// Each plaintext modulus t_i is an independent run of the same computation (CRT, §3); infer runs
// them one after the other so that only one modulus's ciphertexts are alive at a time.
#pragma once

#include <gmpxx.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "cryptonets/encoding/plaintext_crt.hpp"
#include "cryptonets/model/layers.hpp"
#include "cryptonets/model/model.hpp"
#include "cryptonets/random/chacha20.hpp"
#include "cryptonets/rlwe/types.hpp"

namespace cryptonets::inference {

// values[i][j]: the ciphertext of value j (a model input, or a layer's output j) under plaintext
// modulus i. `images` slots of each ciphertext are in use; the rest hold zeros.
struct EncryptedBatch {
  size_t images = 0;
  std::vector<std::vector<rlwe::Ciphertext>> values;

  size_t ciphertext_count() const;
  // In-memory size of the residues: n·k 64-bit words per ciphertext part (k primes of q). The file
  // format packs them to the primes' width.
  uint64_t memory_bytes() const;
};

// One stage of a run, for the paper-style report (CryptoNets Table 2 lists the same stages).
struct StageReport {
  std::string stage;  // "encode+encrypt", a layer name ("conv", "square", "dense", ...), "decrypt"
  std::optional<size_t> layer_index;  // the model layer, for network stages
  size_t modulus_index = 0;           // which plaintext modulus t_i
  double seconds = 0;                 // wall-clock time of this modulus's stage
  // Set when every modulus ran this stage at the same time, each on its own threads (infer with
  // at least one thread per modulus): `seconds` is then this modulus's own time, and
  // `seconds_all_moduli` the wall time of the stage for all moduli together (the same in each
  // modulus's report). Unset when the moduli ran one after another.
  std::optional<double> seconds_all_moduli;
  size_t ciphertexts = 0;     // produced by the stage
  uint64_t memory_bytes = 0;  // of those ciphertexts
  // Noise budget left (bits), min over the stage's ciphertexts: `predicted` from the keyless noise
  // model carried by every ciphertext; `measured` with the secret key, only when diagnostics were
  // requested (measured on at most kNoiseSample ciphertexts spread evenly over the layer).
  double predicted_noise_budget = 0;
  std::optional<double> measured_noise_budget;
};

inline constexpr size_t kNoiseSample = 32;

// The stage reports of one or more runs folded into one row per stage (in first-seen order),
// summed over plaintext moduli and batches: what the CLI's table and the reproduction report show.
struct StageTotals {
  std::string stage;
  std::optional<size_t> layer_index;
  double seconds = 0;               // wall time, all moduli and batches
  std::vector<double> per_modulus;  // seconds per plaintext modulus, all batches
  size_t ciphertexts = 0;           // counted reports only (see StageSummary::add)
  uint64_t memory_bytes = 0;        // counted reports only
  double predicted_noise_budget = std::numeric_limits<double>::infinity();  // minimum
  std::optional<double> measured_noise_budget;                              // minimum

  // "2. square" for network layers (1-based, as the paper numbers them), else the stage name.
  std::string label() const;
};

class StageSummary {
 public:
  // count_sizes: whether the report's ciphertext count and memory are added (false for repeated
  // batches, so that sizes stay per batch while times add up).
  void add(const StageReport& report, bool count_sizes = true);
  const std::vector<StageTotals>& rows() const { return rows_; }
  double total_seconds() const;

 private:
  std::vector<StageTotals> rows_;
};

using StageObserver = std::function<void(const StageReport&)>;
// Progress within a stage: (stage name, modulus index, units done, units in the stage). Called
// from worker threads: the callee must be thread-safe.
using StageProgress = std::function<void(const std::string&, size_t, size_t, size_t)>;

// Client: the images (each model.input_shape.size() integers, already quantised with
// quantise_pixels) encoded slot-wise and encrypted under every plaintext modulus. Throws
// std::invalid_argument for no images, more images than slots, or an image of the wrong size.
// Encryption runs on `threads` threads, each with a generator forked from `prng` in a fixed order.
template <class Scheme>
EncryptedBatch encrypt_batch(const encoding::BasicCrtEncryptionSet<Scheme>& keys,
                             const model::Model& model,
                             const std::vector<std::vector<int64_t>>& images, Prng& prng,
                             int threads, const StageObserver& observe = {},
                             const StageProgress& progress = {});

template <class Scheme>
struct BasicInferenceOptions {
  int threads = 1;
  // true, with at least one thread per plaintext modulus: run the moduli's networks at the same
  // time, the threads split evenly between them, in step layer by layer (the stage reports then
  // carry seconds_all_moduli). false (the default): one modulus after another, each on all the
  // threads. The outputs are the same either way, bit for bit. Measured on 2 cores
  // (bench/results/threads.md): no faster on a later batch, and a first batch in a fresh process
  // is slower, since both moduli's layers are then first-touched at once (twice the fresh memory).
  bool moduli_at_once = false;
  // Diagnostics only: when set, the noise budget of every layer is measured with the secret key.
  // A real server never has it.
  const encoding::BasicCrtDecryptionSet<Scheme>* secret_keys_for_diagnostics = nullptr;
  StageObserver observe;
  StageProgress progress;
  // Every output is re-randomised before it is returned (a fresh encryption of zero added, with
  // the public key): it then carries no trace of the computation beyond its noise, and none is
  // transparent. circuit_privacy_bits = λ > 0 floods the noise instead, to statistical distance
  // 2^-λ (yashe/noise_model.hpp; the heuristic assumption is stated there): YASHE' only, refused
  // under BFV.
  int circuit_privacy_bits = 0;
  // Randomness for the re-randomisation; nullptr: a generator seeded by the OS.
  Prng* prng = nullptr;
};
using InferenceOptions = BasicInferenceOptions<yashe::Scheme>;
using BfvInferenceOptions = BasicInferenceOptions<bfv::Scheme>;

// Throws std::runtime_error, naming the plaintext modulus, the predicted budget and what to do,
// when the keyless noise model (predict_network_noise, with the output re-randomisation or
// flooding of `circuit_privacy_bits`) leaves less than one bit of budget under some modulus:
// what infer checks before any work. Throws std::invalid_argument for circuit_privacy_bits < 0,
// and for circuit_privacy_bits > 0 under BFV (noise flooding is implemented for YASHE' only).
template <class Scheme>
void require_noise_budget(const encoding::BasicCrtEncryptionSet<Scheme>& keys,
                          const model::CompiledModel& model, int circuit_privacy_bits);

// Server: the compiled model on every modulus's ciphertexts, then every output re-randomised with
// the public key (options.circuit_privacy_bits: flooding instead, YASHE' only). The moduli's
// networks are independent: with options.moduli_at_once and options.threads >= the number of
// moduli, they run at the same time, each on threads/moduli threads (the first threads % moduli get
// one more), in step layer by layer; the peak memory then holds every modulus's widest layer at
// once instead of one. options.observe and options.progress are never called concurrently, but may
// be called from threads other than the caller's. Throws std::invalid_argument if the batch does
// not match the keys (modulus count, parameters, key ids) or the model's input size, or if the keys
// hold no public key; std::runtime_error, before any work, if the keyless noise model
// (predict_network_noise) leaves less than one bit of budget under some plaintext modulus
// (decryption would fail). The input batch is consumed (its ciphertexts are released as soon as
// they are used). Reference twin: plain_scores (the plain integer network): decrypt_scores of
// infer's output equals it on every image (tests/test_encrypted_network.cpp).
template <class Scheme>
EncryptedBatch infer(const encoding::BasicCrtEncryptionSet<Scheme>& keys,
                     const model::CompiledModel& model, EncryptedBatch batch,
                     const BasicInferenceOptions<Scheme>& options);

// What infer does to the outputs of plaintext modulus `modulus` before they leave the server:
// each re-randomised with the public key (a fresh encryption of zero added), in order, from
// `prng`; under YASHE' with circuit_privacy_bits > 0, flooded instead (yashe/noise_model.hpp).
// The distributed runtime's rank 0 calls it on the gathered outputs, so that a seeded run gives
// the same bytes as one process.
template <class Scheme>
void rerandomize_outputs(const encoding::BasicCrtEncryptionSet<Scheme>& keys, size_t modulus,
                         std::vector<rlwe::Ciphertext>& outputs, int circuit_privacy_bits,
                         Prng& prng);

// Client: scores[s][c] = output c of image s, exact, for s < batch.images. `output_bound` is the
// range-tracking bound of the outputs (track_ranges(model).output().bound); a value outside it can
// only come from a wrap or damage and throws std::runtime_error, as do exhausted noise and a
// score that anyone could read without the key (yashe:: or bfv::readable_without_secret_key: a
// server that did not re-randomise its outputs). The ciphertexts are decrypted on `threads` OpenMP
// threads (one ciphertext per task); the result, and the error thrown if several ciphertexts fail,
// are the same whatever the number of threads (std::invalid_argument if threads < 1).
template <class Scheme>
std::vector<std::vector<mpz_class>> decrypt_scores(
    const encoding::BasicCrtDecryptionSet<Scheme>& keys, const EncryptedBatch& scores,
    const mpz_class& output_bound, const StageObserver& observe = {}, int threads = 1);

// The index of the largest score per image (the first one on ties, as the plain argmax).
std::vector<int> predicted_labels(const std::vector<std::vector<mpz_class>>& scores);

// The same scores from the plain integer path (evaluate_plain), for comparison.
std::vector<std::vector<mpz_class>> plain_scores(const model::CompiledModel& model,
                                                 const std::vector<std::vector<int64_t>>& images,
                                                 int threads);

}  // namespace cryptonets::inference
