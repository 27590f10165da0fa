#include "cryptonets/inference/private_inference.hpp"

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdio>
#include <exception>
#include <limits>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>

#include "cryptonets/arith/format.hpp"
#include "cryptonets/arith/wide_integer.hpp"
#include "cryptonets/bfv/scheme.hpp"
#include "cryptonets/inference/encrypted_arithmetic.hpp"
#include "cryptonets/inference/parameter_selection.hpp"
#include "cryptonets/yashe/noise_model.hpp"
#include "cryptonets/yashe/scheme.hpp"

namespace cryptonets::inference {

using model::CompiledModel;
using model::evaluate;
using model::evaluate_plain;
using model::max_input_value;
using model::Model;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

uint64_t ciphertext_bytes(const rlwe::Ciphertext& c) {
  return static_cast<uint64_t>(c.parts[0].ring().n()) * c.parts[0].ring().base().size() *
         c.parts.size() * sizeof(uint64_t);
}

uint64_t memory_bytes_of(const std::vector<rlwe::Ciphertext>& values) {
  return values.empty() ? 0 : values.size() * ciphertext_bytes(values.front());
}

std::string format_bits(double bits) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f", bits);
  return text;
}

template <class Scheme>
double predicted_budget(const std::vector<rlwe::Ciphertext>& values) {
  double worst = -std::numeric_limits<double>::infinity();
  for (const auto& c : values)
    worst = std::max(worst, c.noise_log2);
  return Scheme::NoiseModel::budget_bits(worst);
}

// for (j < count) body(j) on `threads` OpenMP threads. If bodies throw, the exception of the lowest
// index is rethrown afterwards (an exception must not escape an OpenMP region: that terminates),
// so the error a caller sees is the one a serial loop would have stopped at, whatever the threads.
template <class Body>
void parallel_for(size_t count, int threads, const Body& body) {
  std::vector<std::exception_ptr> errors(count);
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
  for (size_t j = 0; j < count; ++j) {
    try {
      body(j);
    } catch (...) {
      errors[j] = std::current_exception();
    }
  }
  for (const std::exception_ptr& error : errors) {
    if (error) std::rethrow_exception(error);
  }
}

// Min budget over at most kNoiseSample ciphertexts spread evenly (the noise of a layer's outputs
// differs little: they share the inputs' noise and weights of one size).
template <class Decryptor>
double measured_budget(const Decryptor& decryptor, const std::vector<rlwe::Ciphertext>& values,
                       int threads) {
  const size_t count = std::min(values.size(), kNoiseSample);
  std::vector<double> budgets(count);
  parallel_for(count, threads, [&](size_t s) {
    budgets[s] = decryptor.invariant_noise_budget(values[s * values.size() / count]);
  });
  return *std::min_element(budgets.begin(), budgets.end());
}

i128 checked_pixel(const Model& model, int64_t value, size_t image, size_t index) {
  const int64_t largest = max_input_value(model);
  if (value < 0 || value > largest) {
    throw std::invalid_argument("encrypt_batch: image " + std::to_string(image + 1) + " value " +
                                std::to_string(index + 1) + " is " + std::to_string(value) +
                                ", outside the model's input range [0, " + std::to_string(largest) +
                                "] (quantise pixels with the model's input scale)");
  }
  return value;
}

template <class Scheme>
void check_batch_against_keys(const encoding::BasicCrtEncryptionSet<Scheme>& keys,
                              const CompiledModel& model, const EncryptedBatch& batch) {
  if (batch.values.size() != keys.size()) {
    throw std::invalid_argument(
        "infer: the batch has " +
        counted(batch.values.size(), "plaintext modulus", "plaintext moduli") + ", the keys have " +
        std::to_string(keys.size()));
  }
  if (batch.images == 0 || batch.images > keys.slot_count()) {
    throw std::invalid_argument("infer: the batch claims " + std::to_string(batch.images) +
                                " images; expected 1 to " + std::to_string(keys.slot_count()));
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    const auto& values = batch.values[i];
    if (values.size() != model.input_size) {
      throw std::invalid_argument("infer: the model takes " + std::to_string(model.input_size) +
                                  " inputs, the batch holds " + std::to_string(values.size()) +
                                  " ciphertexts for plaintext modulus " + std::to_string(i + 1));
    }
    const auto& evaluator = keys.evaluator(i);
    for (const auto& c : values) {
      if (c.key_id != evaluator.key_id()) {
        throw std::invalid_argument(
            "infer: a ciphertext was encrypted under other keys than the evaluation key "
            "(plaintext modulus " +
            std::to_string(i + 1) + ")");
      }
      if (c.degree != 1) {
        throw std::invalid_argument("infer: input ciphertexts must be fresh (degree 1)");
      }
    }
  }
}

// Runs run_modulus(i, threads_i, after_layer) for every modulus i at the same time: modulus 0 on
// the calling thread, the others on threads of their own, each with threads_i of the `threads`
// OpenMP threads (split as evenly as possible). The moduli wait for one another after each layer,
// so that a layer's wall time covers all of them; then one thread reports every modulus's layer,
// in modulus order. The first exception (from a modulus or from `observe`) stops the others at
// their next layer boundary and is rethrown here once all have stopped.
template <class RunModulus>
void run_moduli_at_once(size_t moduli, int threads, const StageObserver& observe,
                        const RunModulus& run_modulus) {
  struct Cancelled {};  // unwinds a modulus stopped because another failed
  std::vector<StageReport> pending(moduli);
  std::vector<Clock::time_point> finished(moduli);
  Clock::time_point layer_start = Clock::now();
  std::atomic<bool> stop{false};
  std::mutex error_mutex;
  std::exception_ptr error;
  const auto record = [&](std::exception_ptr e) {
    const std::lock_guard<std::mutex> lock(error_mutex);
    if (!error) error = std::move(e);
    stop = true;
  };
  const auto publish = [&]() noexcept {
    if (stop) return;  // a modulus dropped out: its report is missing
    const auto end = *std::max_element(finished.begin(), finished.end());
    const double wall = std::chrono::duration<double>(end - layer_start).count();
    try {
      for (StageReport& report : pending) {
        report.seconds_all_moduli = wall;
        if (observe) observe(report);
      }
    } catch (...) {
      record(std::current_exception());
    }
    layer_start = Clock::now();
  };
  std::barrier<decltype(publish)> layer_done(static_cast<std::ptrdiff_t>(moduli), publish);
  const auto body = [&](size_t i) {
    const int own = threads / static_cast<int>(moduli) +
                    (static_cast<int>(i) < threads % static_cast<int>(moduli) ? 1 : 0);
    try {
      run_modulus(i, own, [&](StageReport report, Clock::time_point done) {
        finished[i] = done;
        pending[i] = std::move(report);
        layer_done.arrive_and_wait();
        if (stop) throw Cancelled{};
      });
    } catch (const Cancelled&) {
      layer_done.arrive_and_drop();
    } catch (...) {
      record(std::current_exception());
      layer_done.arrive_and_drop();
    }
  };
  std::vector<std::thread> others;
  others.reserve(moduli - 1);
  try {
    for (size_t i = 1; i < moduli; ++i)
      others.emplace_back(body, i);
  } catch (...) {
    // No thread for modulus i: the barrier would wait for it forever; finish nothing.
    record(std::current_exception());
    for (size_t i = others.size() + 1; i < moduli; ++i)
      layer_done.arrive_and_drop();
  }
  if (!stop) {
    body(0);
  } else {
    layer_done.arrive_and_drop();
  }
  for (std::thread& t : others)
    t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace

std::string StageTotals::label() const {
  return layer_index ? std::to_string(*layer_index + 1) + ". " + stage : stage;
}

void StageSummary::add(const StageReport& report, bool count_sizes) {
  auto row = std::find_if(rows_.begin(), rows_.end(), [&](const StageTotals& r) {
    return r.stage == report.stage && r.layer_index == report.layer_index;
  });
  if (row == rows_.end()) {
    StageTotals fresh;
    fresh.stage = report.stage;
    fresh.layer_index = report.layer_index;
    rows_.push_back(std::move(fresh));
    row = rows_.end() - 1;
  }
  // Moduli that ran at once share one wall time: counted once, with the first modulus.
  if (!report.seconds_all_moduli) {
    row->seconds += report.seconds;
  } else if (report.modulus_index == 0) {
    row->seconds += *report.seconds_all_moduli;
  }
  if (row->per_modulus.size() <= report.modulus_index)
    row->per_modulus.resize(report.modulus_index + 1);
  row->per_modulus[report.modulus_index] += report.seconds;
  if (count_sizes) {
    row->ciphertexts += report.ciphertexts;
    row->memory_bytes += report.memory_bytes;
  }
  row->predicted_noise_budget =
      std::min(row->predicted_noise_budget, report.predicted_noise_budget);
  if (report.measured_noise_budget) {
    row->measured_noise_budget =
        std::min(row->measured_noise_budget.value_or(std::numeric_limits<double>::infinity()),
                 *report.measured_noise_budget);
  }
}

double StageSummary::total_seconds() const {
  double total = 0;
  for (const StageTotals& row : rows_)
    total += row.seconds;
  return total;
}

size_t EncryptedBatch::ciphertext_count() const {
  size_t count = 0;
  for (const auto& row : values)
    count += row.size();
  return count;
}

uint64_t EncryptedBatch::memory_bytes() const {
  uint64_t bytes = 0;
  for (const auto& row : values)
    bytes += memory_bytes_of(row);
  return bytes;
}

template <class Scheme>
EncryptedBatch encrypt_batch(const encoding::BasicCrtEncryptionSet<Scheme>& keys,
                             const Model& model, const std::vector<std::vector<int64_t>>& images,
                             Prng& prng, int threads, const StageObserver& observe,
                             const StageProgress& progress) {
  if (threads < 1) throw std::invalid_argument("encrypt_batch: threads must be >= 1");
  if (images.empty()) throw std::invalid_argument("encrypt_batch: no images");
  if (images.size() > keys.slot_count()) {
    throw std::invalid_argument("encrypt_batch: " + std::to_string(images.size()) +
                                " images do not fit the " + std::to_string(keys.slot_count()) +
                                " slots of one batch; split them into several batches");
  }
  const size_t inputs = static_cast<size_t>(model.input_shape.size());
  for (size_t s = 0; s < images.size(); ++s) {
    if (images[s].size() != inputs) {
      throw std::invalid_argument("encrypt_batch: image " + std::to_string(s + 1) + " has " +
                                  std::to_string(images[s].size()) + " values; the model takes " +
                                  std::to_string(inputs));
    }
    for (size_t j = 0; j < inputs; ++j)
      checked_pixel(model, images[s][j], s, j);
  }

  EncryptedBatch batch;
  batch.images = images.size();
  batch.values.resize(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    const auto start = Clock::now();
    // One generator per ciphertext, forked in a fixed order: a seeded run gives the same
    // ciphertexts whatever the thread count.
    std::vector<Prng> generators;
    generators.reserve(inputs);
    for (size_t j = 0; j < inputs; ++j)
      generators.push_back(prng.fork());
    std::vector<rlwe::Ciphertext>& row = batch.values[i];
    row.resize(inputs);
    std::atomic<size_t> finished{0};
    parallel_for(inputs, threads, [&](size_t j) {
      std::vector<int64_t> slots(images.size());
      for (size_t s = 0; s < images.size(); ++s)
        slots[s] = images[s][j];
      row[j] = keys.encryptor(i).encrypt(keys.encoder(i).encode(slots), generators[j]);
      if (progress) progress("encode+encrypt", i, ++finished, inputs);
    });
    if (observe) {
      StageReport report;
      report.stage = "encode+encrypt";
      report.modulus_index = i;
      report.seconds = seconds_since(start);
      report.ciphertexts = row.size();
      report.memory_bytes = memory_bytes_of(row);
      report.predicted_noise_budget = predicted_budget<Scheme>(row);
      observe(report);
    }
  }
  return batch;
}

template <class Scheme>
void require_noise_budget(const encoding::BasicCrtEncryptionSet<Scheme>& keys,
                          const CompiledModel& model, int circuit_privacy_bits) {
  if (circuit_privacy_bits < 0) {
    throw std::invalid_argument("infer: circuit_privacy_bits must be >= 0");
  }
  constexpr bool kYashe = std::is_same_v<Scheme, yashe::Scheme>;
  if (!kYashe && circuit_privacy_bits > 0) {
    throw std::invalid_argument(
        std::string("infer: circuit privacy (noise flooding) is implemented for YASHE' only, not "
                    "for ") +
        Scheme::kName + "; run without --circuit-privacy (outputs are still re-randomised)");
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    const auto& context = keys.evaluator(i).context();
    double budget = 0, plain_budget = 0, cost = 0;
    if constexpr (kYashe) {
      budget = predict_network_noise(context.parameters(), model, circuit_privacy_bits)
                   .final_budget_bits;
      plain_budget = circuit_privacy_bits > 0
                         ? predict_network_noise(context.parameters(), model).final_budget_bits
                         : budget;
      if (circuit_privacy_bits > 0)
        cost = flooding_cost_bits(context.parameters(), circuit_privacy_bits);
    } else {
      budget = predict_network_noise(context.parameters(), model).final_budget_bits;
      plain_budget = budget;
    }
    if (budget < 1) {
      std::string message =
          "infer: the keyless noise model predicts " + format_bits(budget) +
          " bits of noise budget left after this model under plaintext modulus " +
          std::to_string(i + 1) + " (t = " + std::to_string(context.parameters().t) +
          "), and decryption needs at least 1: the model is too deep for these keys";
      if (circuit_privacy_bits > 0) {
        message += "; circuit privacy at 2^-" + std::to_string(circuit_privacy_bits) + " costs " +
                   format_bits(cost) + " bits and the model alone leaves " +
                   format_bits(plain_budget) + ": make keys with keygen --circuit-privacy " +
                   std::to_string(circuit_privacy_bits) + " (it adds primes to q)";
      } else {
        message += " (make keys for this model: keygen chooses q from the model's profile)";
      }
      throw std::runtime_error(message + "; nothing was computed");
    }
  }
}

template <class Scheme>
EncryptedBatch infer(const encoding::BasicCrtEncryptionSet<Scheme>& keys,
                     const CompiledModel& model, EncryptedBatch batch,
                     const BasicInferenceOptions<Scheme>& options) {
  if (options.threads < 1) throw std::invalid_argument("infer: threads must be >= 1");
  check_batch_against_keys(keys, model, batch);
  const auto* diagnostics = options.secret_keys_for_diagnostics;
  if (diagnostics != nullptr && diagnostics->size() != keys.size()) {
    throw std::invalid_argument("infer: diagnostic keys for another number of moduli");
  }
  if (options.circuit_privacy_bits < 0) {
    throw std::invalid_argument("infer: circuit_privacy_bits must be >= 0");
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!keys.encryptor(i).has_public_key()) {
      throw std::invalid_argument(
          "infer: the server needs the public key to re-randomise its outputs (plaintext "
          "modulus " +
          std::to_string(i + 1) + ")");
    }
  }
  require_noise_budget(keys, model, options.circuit_privacy_bits);
  std::optional<Prng> own_prng;
  if (options.prng == nullptr) own_prng = Prng::from_os_entropy();
  Prng& prng = options.prng != nullptr ? *options.prng : *own_prng;

  EncryptedBatch result;
  result.images = batch.images;
  result.values.resize(keys.size());
  // One modulus's network on `threads` threads; after_layer(report, done) gets each layer's
  // report (its seconds exclude the diagnostics) and the time the layer's work ended.
  std::mutex callback_mutex;  // progress calls from moduli running at once
  const auto run_modulus = [&](size_t i, int threads, const auto& after_layer) {
    BasicEncryptedArithmetic<typename Scheme::Evaluator> arithmetic(keys.evaluator(i), threads);
    size_t step = 0;
    if (options.progress) {
      arithmetic.set_progress([&](size_t done, size_t total) {
        const std::lock_guard<std::mutex> lock(callback_mutex);
        options.progress(model.steps[step].stage_name(), i, done, total);
      });
    }
    auto clock = Clock::now();
    auto observe_step = [&](size_t layer_index, const std::vector<rlwe::Ciphertext>& values) {
      const auto done = Clock::now();
      StageReport report;
      report.seconds = std::chrono::duration<double>(done - clock).count();
      report.stage = model.steps[step++].stage_name();
      report.layer_index = layer_index;
      report.modulus_index = i;
      report.ciphertexts = values.size();
      report.memory_bytes = memory_bytes_of(values);
      report.predicted_noise_budget = predicted_budget<Scheme>(values);
      if (diagnostics != nullptr) {
        report.measured_noise_budget = measured_budget(diagnostics->decryptor(i), values, threads);
      }
      after_layer(std::move(report), done);
      clock = Clock::now();  // diagnostics and reporting are not part of the layer's time
    };
    result.values[i] =
        evaluate(model, std::exchange(batch.values[i], {}), arithmetic, observe_step);
    arithmetic.relinearize_all(result.values[i]);  // a network ending in a square
  };

  const size_t moduli = keys.size();
  if (options.moduli_at_once && moduli >= 2 && static_cast<size_t>(options.threads) >= moduli) {
    run_moduli_at_once(moduli, options.threads, options.observe, run_modulus);
  } else {
    for (size_t i = 0; i < moduli; ++i) {
      run_modulus(i, options.threads, [&](StageReport report, Clock::time_point) {
        if (options.observe) options.observe(report);
      });
    }
  }
  // After every network, in modulus order: the same draws whichever way the moduli ran.
  for (size_t i = 0; i < moduli; ++i)
    rerandomize_outputs(keys, i, result.values[i], options.circuit_privacy_bits, prng);
  return result;
}

template <class Scheme>
void rerandomize_outputs(const encoding::BasicCrtEncryptionSet<Scheme>& keys, size_t modulus,
                         std::vector<rlwe::Ciphertext>& outputs, int circuit_privacy_bits,
                         Prng& prng) {
  const auto& encryptor = keys.encryptor(modulus);
  for (rlwe::Ciphertext& c : outputs) {
    if constexpr (std::is_same_v<Scheme, yashe::Scheme>) {
      const yashe::NoiseModel& noise = keys.evaluator(modulus).noise_model();
      const double width = circuit_privacy_bits > 0
                               ? noise.flooding_width_log2(c.noise_log2, circuit_privacy_bits)
                               : 0;
      encryptor.rerandomize_inplace(c, prng, width);
    } else {
      encryptor.rerandomize_inplace(c, prng);
    }
  }
}

template <class Scheme>
std::vector<std::vector<mpz_class>> decrypt_scores(
    const encoding::BasicCrtDecryptionSet<Scheme>& keys, const EncryptedBatch& scores,
    const mpz_class& output_bound, const StageObserver& observe, int threads) {
  if (threads < 1) throw std::invalid_argument("decrypt: threads must be >= 1");
  if (scores.values.size() != keys.size()) {
    throw std::invalid_argument(
        "decrypt: the scores have " +
        counted(scores.values.size(), "plaintext modulus", "plaintext moduli") +
        ", the secret keys " + std::to_string(keys.size()));
  }
  const size_t outputs = scores.values.front().size();
  for (const auto& row : scores.values) {
    if (row.size() != outputs || outputs == 0) {
      throw std::invalid_argument(
          "decrypt: every plaintext modulus must hold the same, non-zero "
          "number of scores");
    }
  }
  const auto start = Clock::now();
  // Every ciphertext is decrypted on its own, so the work is shared out over (modulus, output)
  // and over outputs; the checks then run in order, so that the error reported is the same as on
  // one thread (the first ciphertext, in modulus-then-output order, that fails).
  const size_t moduli = keys.size();
  std::vector<double> budgets(moduli * outputs);
  std::vector<char> readable(moduli * outputs);
  parallel_for(moduli * outputs, threads, [&](size_t j) {
    const size_t i = j / outputs, o = j % outputs;
    budgets[j] = keys.decryptor(i).invariant_noise_budget(scores.values[i][o]);
    // Found by argument-dependent lookup: yashe:: or bfv::readable_without_secret_key.
    readable[j] = readable_without_secret_key(keys.decryptor(i).context(), scores.values[i][o]);
  });
  // Exhausted noise decrypts to garbage that may still pass the range check: refuse it first.
  double worst_budget = std::numeric_limits<double>::infinity();
  for (const double budget : budgets) {
    worst_budget = std::min(worst_budget, budget);
    if (budget < 1) {
      throw std::runtime_error(
          "decrypt: the noise budget of the scores is exhausted (" + std::to_string(budget) +
          " bits left): the parameters are too small for this model, the result is unusable");
    }
  }
  for (size_t j = 0; j < moduli * outputs; ++j) {
    if (readable[j] != 0) {
      throw std::runtime_error(
          "decrypt: score " + std::to_string(j % outputs + 1) + " under plaintext modulus " +
          std::to_string(j / outputs + 1) +
          " can be read without the secret key (a transparent ciphertext: the server did not "
          "re-randomise its outputs); refusing it");
    }
  }
  std::vector<std::vector<mpz_class>> per_image(scores.images, std::vector<mpz_class>(outputs));
  parallel_for(outputs, threads, [&](size_t o) {
    encoding::CrtCiphertext across_moduli;
    for (size_t i = 0; i < moduli; ++i)
      across_moduli.push_back(scores.values[i][o]);
    std::vector<mpz_class> slots = keys.decrypt(across_moduli, output_bound);
    if (slots.size() < scores.images) {
      throw std::invalid_argument("decrypt: the scores claim more images than slots");
    }
    for (size_t s = 0; s < scores.images; ++s)
      per_image[s][o].swap(slots[s]);  // its own output's column; a swap, since a copy allocates
  });
  if (observe) {
    StageReport report;
    report.stage = "decrypt+decode";
    report.seconds = seconds_since(start);
    report.ciphertexts = scores.ciphertext_count();
    report.memory_bytes = scores.memory_bytes();
    report.measured_noise_budget = worst_budget;
    report.predicted_noise_budget = worst_budget;
    observe(report);
  }
  return per_image;
}

std::vector<int> predicted_labels(const std::vector<std::vector<mpz_class>>& scores) {
  std::vector<int> labels;
  labels.reserve(scores.size());
  for (const auto& row : scores) {
    if (row.empty()) throw std::invalid_argument("predicted_labels: an image has no scores");
    labels.push_back(static_cast<int>(std::max_element(row.begin(), row.end()) - row.begin()));
  }
  return labels;
}

std::vector<std::vector<mpz_class>> plain_scores(const CompiledModel& model,
                                                 const std::vector<std::vector<int64_t>>& images,
                                                 int threads) {
  std::vector<std::vector<i128>> wide(images.size());
  parallel_for(images.size(), std::max(threads, 1),
               [&](size_t s) { wide[s] = evaluate_plain(model, images[s]); });
  std::vector<std::vector<mpz_class>> scores(images.size());
  for (size_t s = 0; s < images.size(); ++s) {
    for (i128 value : wide[s])
      scores[s].push_back(to_mpz(value));
  }
  return scores;
}

#define CRYPTONETS_INSTANTIATE_INFERENCE(SCHEME)                                                  \
  template EncryptedBatch encrypt_batch<SCHEME>(const encoding::BasicCrtEncryptionSet<SCHEME>&,   \
                                                const Model&,                                     \
                                                const std::vector<std::vector<int64_t>>&, Prng&,  \
                                                int, const StageObserver&, const StageProgress&); \
  template void require_noise_budget<SCHEME>(const encoding::BasicCrtEncryptionSet<SCHEME>&,      \
                                             const CompiledModel&, int);                          \
  template EncryptedBatch infer<SCHEME>(const encoding::BasicCrtEncryptionSet<SCHEME>&,           \
                                        const CompiledModel&, EncryptedBatch,                     \
                                        const BasicInferenceOptions<SCHEME>&);                    \
  template void rerandomize_outputs<SCHEME>(const encoding::BasicCrtEncryptionSet<SCHEME>&,       \
                                            size_t, std::vector<rlwe::Ciphertext>&, int, Prng&);  \
  template std::vector<std::vector<mpz_class>> decrypt_scores<SCHEME>(                            \
      const encoding::BasicCrtDecryptionSet<SCHEME>&, const EncryptedBatch&, const mpz_class&,    \
      const StageObserver&, int);
CRYPTONETS_INSTANTIATE_INFERENCE(yashe::Scheme)
CRYPTONETS_INSTANTIATE_INFERENCE(bfv::Scheme)
#undef CRYPTONETS_INSTANTIATE_INFERENCE

}  // namespace cryptonets::inference
