// The ciphertext policy of the network runtime: the fused linear kernel against its one-term-at-a-
// time reference, and whole networks whose decrypted outputs must equal the plain integer network.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <optional>
#include <thread>
#include <type_traits>
#include <vector>

#include "cryptonets/encoding/batch_encoder.hpp"
#include "cryptonets/encoding/plaintext_crt.hpp"
#include "cryptonets/inference/encrypted_arithmetic.hpp"
#include "cryptonets/inference/parameter_selection.hpp"
#include "cryptonets/inference/private_inference.hpp"
#include "cryptonets/inference/work_splitting.hpp"
#include "cryptonets/io/idx.hpp"
#include "cryptonets/io/model_file.hpp"
#include "cryptonets/model/range.hpp"
#include "cryptonets/training/polynomial_quantiser.hpp"
#include "cryptonets/yashe/encryptor.hpp"
#include "cryptonets/yashe/key_generator.hpp"
#include "nn_test_support.hpp"
#include "yashe_test_support.hpp"

using cryptonets::inference::BfvInferenceOptions;
using cryptonets::inference::decrypt_scores;
using cryptonets::inference::encrypt_batch;
using cryptonets::inference::EncryptedArithmetic;
using cryptonets::inference::EncryptedBatch;
using cryptonets::inference::fused_linear_combinations;
using cryptonets::inference::infer;
using cryptonets::inference::InferenceOptions;
using cryptonets::inference::linear_kernel_applies;
using cryptonets::inference::LinearKernel;
using cryptonets::inference::NoisePrediction;
using cryptonets::inference::plain_scores;
using cryptonets::inference::predict_network_noise;
using cryptonets::inference::predicted_labels;
using cryptonets::inference::require_noise_budget;
using cryptonets::inference::StageReport;
using cryptonets::inference::StageSummary;
using cryptonets::inference::weighted_sum_reference;
using cryptonets::model::compile_model;
using cryptonets::model::CompiledModel;
using cryptonets::model::evaluate_modular;
using cryptonets::model::LinearMap;
using cryptonets::model::LinearTerm;
using cryptonets::model::Model;
using cryptonets::model::RangeReport;
using cryptonets::model::track_ranges;

using namespace test_support;

namespace {

LinearMap random_map(Prng& prng, size_t inputs, size_t outputs, size_t terms_per_output) {
  const int64_t special[] = {1, -1, 255, -255, int64_t{1} << 40, -(int64_t{1} << 50), 2, -2};
  LinearMap map;
  map.inputs = inputs;
  map.outputs = outputs;
  map.row_begin.push_back(0);
  for (size_t o = 0; o < outputs; ++o) {
    for (size_t k = 0; k < terms_per_output; ++k) {
      LinearTerm term;
      term.input = static_cast<uint32_t>(sample_uniform_below(prng, inputs));
      term.weight =
          k < 8 ? special[k] : static_cast<int64_t>(sample_uniform_below(prng, 511)) - 255;
      if (term.weight != 0) map.terms.push_back(term);
    }
    map.row_begin.push_back(map.terms.size());
    map.bias.push_back(0);
  }
  return map;
}

}  // namespace

TEST_CASE("The work splitter hands out every task once, each thread's own range in order") {
  using cryptonets::inference::WorkSplitter;
  SUBCASE("one thread takes its range in order, and nothing after it") {
    WorkSplitter splitter(5, 1);
    for (size_t task = 0; task < 5; ++task) {
      const auto claim = splitter.next(0);
      REQUIRE(claim);
      CHECK(claim->task == task);
      CHECK(claim->next == (task + 1 < 5 ? std::optional<size_t>(task + 1) : std::nullopt));
    }
    CHECK_FALSE(splitter.next(0));
  }
  SUBCASE("a thread that runs out takes the upper half of the largest range left") {
    WorkSplitter splitter(10, 2);  // [0, 5) and [5, 10)
    for (size_t task = 5; task < 10; ++task)
      CHECK(splitter.next(1)->task == task);
    const auto first = splitter.next(0);
    CHECK(first->task == 0);
    const auto stolen = splitter.next(1);  // [1, 5) left: thread 1 takes [3, 5)
    CHECK(stolen->task == 3);
    CHECK(stolen->next == std::optional<size_t>(4));
    CHECK(splitter.next(0)->task == 1);
    CHECK(splitter.next(0)->task == 2);
    CHECK(splitter.next(1)->task == 4);
    CHECK_FALSE(splitter.next(0));
    CHECK_FALSE(splitter.next(1));
  }
  SUBCASE("threads at once: each task exactly once, for any count and thread count") {
    for (int threads : {1, 2, 3, 8}) {
      for (size_t count : {size_t{0}, size_t{1}, size_t{7}, size_t{4096}}) {
        WorkSplitter splitter(count, threads);
        std::vector<std::atomic<int>> taken(count);
        std::atomic<int> outside{0};  // (no doctest assertion in the threads: REQUIRE would throw)
        std::vector<std::thread> pool;
        for (int t = 0; t < threads; ++t) {
          pool.emplace_back([&, t] {
            while (const auto claim = splitter.next(t)) {
              if (claim->task < count)
                taken[claim->task].fetch_add(1);
              else
                outside.fetch_add(1);
            }
          });
        }
        for (std::thread& thread : pool)
          thread.join();
        CHECK(outside.load() == 0);
        CHECK(std::all_of(taken.begin(), taken.end(), [](const auto& c) { return c.load() == 1; }));
      }
    }
  }
  CHECK_THROWS_AS(WorkSplitter(10, 0), std::invalid_argument);
  CHECK_THROWS_AS(WorkSplitter(size_t{1} << 32, 2), std::invalid_argument);
}

TEST_CASE("the fused linear kernel equals one multiply_scalar and add per term, bit for bit") {
  const Parameters params = paper_scale_parameters();
  SchemeFixture scheme(params, 31);
  Prng& prng = scheme.prng;
  const Decryptor& decryptor = scheme.decryptor;
  const Evaluator& evaluator = scheme.evaluator;
  const PlainRing& plain = scheme.plain;

  std::vector<Plaintext> messages;
  std::vector<Ciphertext> inputs;
  for (int j = 0; j < 12; ++j) {
    messages.push_back(random_plaintext(prng, params.n, params.t));
    inputs.push_back(scheme.encrypt(messages.back()));
  }
  const LinearMap map = random_map(prng, inputs.size(), 5, 40);
  for (int threads : {1, 2}) {
    const std::vector<Ciphertext> fused =
        fused_linear_combinations(evaluator, map, inputs, threads);
    REQUIRE(fused.size() == map.outputs);
    for (size_t o = 0; o < map.outputs; ++o) {
      const Ciphertext expected = weighted_sum_reference(evaluator, inputs, map.terms_of(o));
      CHECK(fused[o].parts[0] == expected.parts[0]);
      CHECK(std::fabs(fused[o].noise_log2 - expected.noise_log2) < 1e-6);
      Plaintext sum = plain.zero();
      for (const LinearTerm& term : map.terms_of(o)) {
        sum = plain.add(sum, plain.scale(messages[term.input], term.weight));
      }
      CHECK(decryptor.decrypt(fused[o]).coeffs == sum.coeffs);
    }
  }
  LinearMap wrong = map;
  wrong.inputs = inputs.size() + 1;
  CHECK_THROWS_AS(fused_linear_combinations(evaluator, wrong, inputs, 1), std::invalid_argument);
}

namespace {

// The AVX2 and AVX-512 kernels for every thread count, the scalar kernel and the one-term-at-a-time
// reference agree: the reference on every `reference_stride`-th output (it is slow), the kernels
// on every output, bit for bit.
void check_kernels_agree(const Evaluator& evaluator, const LinearMap& map,
                         const std::vector<Ciphertext>& inputs, size_t reference_stride = 1) {
  const auto scalar =
      fused_linear_combinations(evaluator, map, inputs, 2, {}, LinearKernel::scalar);
  for (size_t o = 0; o < map.outputs; o += reference_stride)
    CHECK(scalar[o].parts[0] ==
          weighted_sum_reference(evaluator, inputs, map.terms_of(o)).parts[0]);
  for (LinearKernel kernel : {LinearKernel::avx2, LinearKernel::avx512}) {
    if (!linear_kernel_applies(kernel, map)) {
      MESSAGE("this CPU lacks the " << (kernel == LinearKernel::avx2 ? "AVX2" : "AVX-512")
                                    << " linear kernel: not checked");
      continue;
    }
    // 3 threads: ranges of unequal length, split between threads (work_splitting.hpp).
    for (int threads : {1, 2, 3}) {
      const auto vector = fused_linear_combinations(evaluator, map, inputs, threads, {}, kernel);
      for (size_t o = 0; o < map.outputs; ++o)
        CHECK(vector[o].parts[0] == scalar[o].parts[0]);
    }
  }
}

}  // namespace

TEST_CASE(
    "The AVX2 and AVX-512 small-weight kernels equal the 128-bit kernel and the reference, bit for "
    "bit") {
  const size_t n = 1024;
  const Parameters params = Parameters::create(n, 7, 55, generate_ntt_primes(30, 1, 2 * n)[0]);
  SchemeFixture scheme(params, 33);
  Prng& prng = scheme.prng;
  const Evaluator& evaluator = scheme.evaluator;
  std::vector<Ciphertext> inputs;
  for (int j = 0; j < 16; ++j)
    inputs.push_back(scheme.encrypt(scheme.random()));
  // Weights up to 2^20 - 1 in magnitude, and 5000 terms per output: more than the 2^12 terms that
  // fit the 64-bit lanes at once, so the folding into 128-bit totals is exercised too.
  LinearMap map;
  map.inputs = inputs.size();
  map.outputs = 3;
  map.row_begin = {0};
  const int64_t edge[] = {(int64_t{1} << 20) - 1, -((int64_t{1} << 20) - 1), 1, -1};
  for (size_t o = 0; o < map.outputs; ++o) {
    for (size_t k = 0; k < 5000; ++k) {
      const int64_t weight =
          k < 4 ? edge[k]
                : static_cast<int64_t>(sample_uniform_below(prng, (uint64_t{1} << 21) - 1)) -
                      ((int64_t{1} << 20) - 1);
      if (weight != 0)
        map.terms.push_back({static_cast<uint32_t>(sample_uniform_below(prng, 16)), weight});
    }
    map.row_begin.push_back(map.terms.size());
    map.bias.push_back(0);
  }
  if (!linear_kernel_applies(LinearKernel::avx2, map)) {
    MESSAGE("this CPU has no AVX2: only the scalar kernel is checked");
  }
  check_kernels_agree(evaluator, map, inputs);
  // A weight of 2^20 is beyond the vector kernels: refused when asked for, scalar under `best`.
  map.terms[0].weight = int64_t{1} << 20;
  CHECK_FALSE(linear_kernel_applies(LinearKernel::avx2, map));
  CHECK_FALSE(linear_kernel_applies(LinearKernel::avx512, map));
  CHECK_THROWS_AS(fused_linear_combinations(evaluator, map, inputs, 1, {}, LinearKernel::avx2),
                  std::invalid_argument);
  CHECK(fused_linear_combinations(evaluator, map, inputs, 1)[0].parts[0] ==
        weighted_sum_reference(evaluator, inputs, map.terms_of(0)).parts[0]);
}

TEST_CASE(
    "The one-output vector kernels reduce their sums exactly at the extremes, for primes of 30 to "
    "60 bits") {
  // The AVX-512 one-output kernel reduces a single pass's sums in vector registers from a
  // double-precision quotient estimate (linear_kernel_avx512.cpp): the largest sums (every
  // residue q − 1 or 0 under a negated weight, every weight ±(2^20 − 1), 2^12 terms: the most
  // one pass holds) must still reduce exactly. Rows of 1, 25 and 4096 terms; the map's rows
  // share no structure, so no output is grouped and the one-output kernel computes them all.
  const size_t n = 2048;  // two blocks of the one-output kernel's 1024 coefficients
  for (const int bits : {30, 45, 55, 60}) {
    CAPTURE(bits);
    const Parameters params = Parameters::create(n, 2, bits, generate_ntt_primes(20, 1, 2 * n)[0]);
    SchemeFixture scheme(params, 61);
    Prng& prng = scheme.prng;
    const RnsBase& base = scheme.evaluator.context().q_base();
    std::vector<Ciphertext> inputs(3, scheme.encrypt(scheme.random()));
    for (size_t i = 0; i < base.size(); ++i) {
      for (size_t x = 0; x < n; ++x) {
        inputs[0].parts[0].residues(i)[x] = base[i].value() - 1;
        inputs[1].parts[0].residues(i)[x] = 0;
        inputs[2].parts[0].residues(i)[x] =
            x % 2 == 0 ? base[i].value() - 1 : sample_uniform_below(prng, base[i].value());
      }
    }
    const int64_t largest = (int64_t{1} << 20) - 1;
    LinearMap map;
    map.inputs = inputs.size();
    map.row_begin = {0};
    const auto add_row = [&](size_t terms, auto weight_of) {
      for (size_t t = 0; t < terms; ++t)
        map.terms.push_back({static_cast<uint32_t>(t % 3), weight_of(t)});
      map.row_begin.push_back(map.terms.size());
      map.bias.push_back(0);
      ++map.outputs;
    };
    for (const size_t terms : {size_t{1}, size_t{25}, size_t{4096}}) {
      add_row(terms, [&](size_t) { return largest; });
      add_row(terms, [&](size_t) { return -largest; });
      add_row(terms, [&](size_t t) { return t % 2 == 0 ? largest : -largest; });
    }
    check_kernels_agree(scheme.evaluator, map, inputs);
  }
}

TEST_CASE(
    "The grouped vector kernels reduce their sums exactly at the extremes, for primes of 30 to 60 "
    "bits") {
  // The AVX-512 grouped kernel (dense layers) reduces one pass's signed sums in vector registers
  // (linear_kernel_avx512.cpp, reduce_signed_split_sum) when they stay below 2^46·q. The largest
  // ones: every residue q − 1 under weights all +(2^20 − 1), all −(2^20 − 1), or alternating, over
  // 1, 100 and 4096 inputs (4096: the most one pass holds); 4097 inputs take the 128-bit fold.
  // Each block of four outputs shares its inputs, so the grouped kernel computes them all.
  const size_t n = 1024;
  for (const int bits : {30, 45, 55, 60}) {
    CAPTURE(bits);
    const Parameters params = Parameters::create(n, 1, bits, generate_ntt_primes(20, 1, 2 * n)[0]);
    SchemeFixture scheme(params, 67);
    Prng& prng = scheme.prng;
    const Modulus& q = scheme.evaluator.context().q_base()[0];
    std::vector<Ciphertext> inputs(4097, scheme.encrypt(scheme.random()));
    for (size_t j = 0; j < inputs.size(); ++j) {
      uint64_t* row = inputs[j].parts[0].residues(0);
      for (size_t x = 0; x < n; ++x)
        row[x] =
            x < n / 2 ? q.value() - 1 : (x % 3 == 0 ? 0 : sample_uniform_below(prng, q.value()));
    }
    const int64_t largest = (int64_t{1} << 20) - 1;
    LinearMap map;
    map.inputs = inputs.size();
    map.row_begin = {0};
    for (const size_t terms : {size_t{1}, size_t{100}, size_t{4096}, size_t{4097}}) {
      for (int pattern = 0; pattern < 4; ++pattern) {
        for (size_t j = 0; j < terms; ++j) {
          const int64_t weight =
              pattern == 0   ? largest
              : pattern == 1 ? -largest
              : pattern == 2
                  ? (j % 2 == 0 ? largest : -largest)
                  : static_cast<int64_t>(sample_uniform_below(prng, 2 * largest + 1)) - largest;
          if (weight != 0) map.terms.push_back({static_cast<uint32_t>(j), weight});
        }
        map.row_begin.push_back(map.terms.size());
        map.bias.push_back(0);
        ++map.outputs;
      }
    }
    check_kernels_agree(scheme.evaluator, map, inputs, 5);
  }
}

TEST_CASE(
    "The grouped vector kernels correct a quotient estimate that is one too low or too high") {
  // reduce_signed_split_sum (AVX2 and AVX-512) estimates ⌊v / q⌋ in double precision and corrects
  // it by one either way. Sums that are exact multiples of q (v = w·q, from inputs a and q − a
  // under the same weight w), or one off (q − a ± 1), with |w| just below a power of two, are where
  // the rounded quotient falls just below or just above the integer: both corrections are needed
  // somewhere among these primes and weights (checked: removing either one fails this test).
  const size_t n = 1024;
  for (const int bits : {30, 40, 50, 55, 60}) {
    CAPTURE(bits);
    const Parameters params = Parameters::create(n, 4, bits, generate_ntt_primes(20, 1, 2 * n)[0]);
    SchemeFixture scheme(params, 71);
    Prng& prng = scheme.prng;
    const RnsBase& base = scheme.evaluator.context().q_base();
    std::vector<Ciphertext> inputs(2, scheme.encrypt(scheme.random()));
    for (size_t i = 0; i < base.size(); ++i) {
      const uint64_t q = base[i].value();
      for (size_t x = 0; x < n; ++x) {
        const uint64_t a = 2 + sample_uniform_below(prng, q - 4);
        inputs[0].parts[0].residues(i)[x] = a;
        inputs[1].parts[0].residues(i)[x] = q - a + x % 3 - 1;  // v = w·q + w·(x mod 3 − 1)
      }
    }
    LinearMap map;
    map.inputs = inputs.size();
    map.row_begin = {0};
    for (int k = 1; k <= 20; ++k) {
      const int64_t w = (int64_t{1} << k) - 1;
      for (const int64_t weight : {w, -w, w, -w}) {  // one group of four outputs
        map.terms.push_back({0, weight});
        map.terms.push_back({1, weight});
        map.row_begin.push_back(map.terms.size());
        map.bias.push_back(0);
        ++map.outputs;
      }
    }
    check_kernels_agree(scheme.evaluator, map, inputs);
  }
}

namespace {

// The network cases run under both schemes through the same runtime and pipeline code; a scheme
// brings only its parameters and key generation (NetworkScheme below) and its ciphertext shape.
template <class Scheme>
struct NetworkScheme;

template <>
struct NetworkScheme<yashe::Scheme> {
  static constexpr size_t kParts = 1;  // YASHE' ciphertexts are one polynomial
  // q: `primes` primes of 55 bits.
  static yashe::Parameters base(size_t n, size_t primes) {
    return yashe::Parameters::create(n, primes, 55, 3);
  }
  static constexpr size_t kPrimes = 7;
};

template <>
struct NetworkScheme<bfv::Scheme> {
  static constexpr size_t kParts = 2;  // (c0, c1)
  // q: primes of 55, 55, 54, 54 bits (< 2^218, the HE standard's 128-bit bound at n = 8192 for
  // ternary secrets; the same primes serve smaller n); fewer primes take the first ones.
  static bfv::Parameters base(size_t n, size_t primes) {
    bfv::Parameters p;
    p.n = n;
    p.q_primes = generate_ntt_primes(55, 2, 16384);
    for (uint64_t q : generate_ntt_primes(54, 2, 16384))
      p.q_primes.push_back(q);
    p.q_primes.resize(primes);
    p.t = 3;
    return p;
  }
  static constexpr size_t kPrimes = 4;
};

// Keys for `count` plaintext moduli of `t_bits` bits at ring degree n, over `primes` primes.
template <class Scheme>
encoding::BasicCrtKeys<Scheme> network_keys(size_t n, int t_bits, size_t count, Prng& prng,
                                            size_t primes = NetworkScheme<Scheme>::kPrimes) {
  typename Scheme::Parameters with_t = NetworkScheme<Scheme>::base(n, primes);
  std::vector<uint64_t> moduli =
      encoding::select_plaintext_moduli(n, t_bits, count, with_t.q_primes);
  with_t.t = moduli[0];
  return encoding::BasicCrtKeys<Scheme>::generate(with_t, moduli, prng);
}

// Runs the whole client/server/client pipeline and returns the decrypted scores.
template <class Scheme>
std::vector<std::vector<mpz_class>> private_scores(const encoding::BasicCrtKeys<Scheme>& keys,
                                                   const Model& model,
                                                   const std::vector<std::vector<int64_t>>& images,
                                                   Prng& prng, int threads) {
  const encoding::BasicCrtEncryptionSet<Scheme> server(keys);
  const encoding::BasicCrtDecryptionSet<Scheme> client(keys);
  EncryptedBatch batch = encrypt_batch(server, model, images, prng, threads);
  cryptonets::inference::BasicInferenceOptions<Scheme> options;
  options.threads = threads;
  const EncryptedBatch scores = infer(server, compile_model(model), std::move(batch), options);
  const mpz_class bound = track_ranges(model).output().bound;
  std::vector<std::vector<mpz_class>> decrypted = decrypt_scores(client, scores, bound);
  // Decryption shares the ciphertexts out over threads: the same scores on 2 or 3 of them.
  for (int decrypt_threads : {2, 3})
    CHECK(decrypt_scores(client, scores, bound, {}, decrypt_threads) == decrypted);
  return decrypted;
}

}  // namespace

#define BOTH_SCHEMES yashe::Scheme, bfv::Scheme

TEST_CASE_TEMPLATE(
    "A network decrypts to the plain integer outputs mod t on every slot of a full "
    "batch",
    Scheme, BOTH_SCHEMES) {
  // One 30-bit plaintext modulus, outputs far wider: the residues mod t must still agree with the
  // mod-t evaluation, slot by slot (Z -> Z_t is a ring homomorphism).
  std::mt19937_64 rng(11);
  const Model model = random_small_cryptonets_model(rng, 12, 3, 12, 10, 15, 16);
  const CompiledModel compiled = compile_model(model);
  Prng prng = Prng::insecure_seeded(12);
  const size_t n = 1024;
  const auto keys = network_keys<Scheme>(n, 30, 1, prng);
  const encoding::BasicCrtEncryptionSet<Scheme> server(keys);
  const auto images = random_images(rng, model, n);
  REQUIRE(track_ranges(model).output_bits() > 30);

  cryptonets::inference::BasicInferenceOptions<Scheme> options;
  options.threads = 2;
  std::vector<StageReport> stages;
  options.observe = [&](const StageReport& report) { stages.push_back(report); };
  const encoding::BasicCrtDecryptionSet<Scheme> client(keys);
  options.secret_keys_for_diagnostics = &client;
  const EncryptedBatch scores =
      infer(server, compiled, encrypt_batch(server, model, images, prng, 2), options);
  REQUIRE(scores.values.size() == 1);
  REQUIRE(scores.values[0].size() == 10);

  const uint64_t t = keys.contexts[0]->parameters().t;
  std::vector<std::vector<uint64_t>> decrypted;
  for (const auto& c : scores.values[0])
    decrypted.push_back(server.encoder(0).decode_unsigned(client.decryptor(0).decrypt(c)));
  size_t mismatches = 0;
  for (size_t s = 0; s < n; ++s) {
    const std::vector<uint64_t> expected = evaluate_modular(compiled, images[s], t);
    for (size_t o = 0; o < 10; ++o)
      mismatches += decrypted[o][s] != expected[o];
  }
  CHECK(mismatches == 0);

  // The report: one stage per layer, in order, with shrinking noise budgets that stay positive.
  REQUIRE(stages.size() == 5);
  const char* names[] = {"conv", "square", "dense", "square", "dense"};
  for (size_t k = 0; k < 5; ++k) {
    CHECK(stages[k].stage == names[k]);
    CHECK(stages[k].layer_index == k);
    REQUIRE(stages[k].measured_noise_budget.has_value());
    CHECK(*stages[k].measured_noise_budget > 0);
    // The keyless prediction is meant to be pessimistic.
    CHECK(stages[k].predicted_noise_budget <= *stages[k].measured_noise_budget + 2);
  }
  CHECK(stages[0].ciphertexts == 75);
  CHECK(stages[2].ciphertexts == 12);
  CHECK(stages[4].memory_bytes ==
        10 * n * NetworkScheme<Scheme>::kPrimes * 8 * NetworkScheme<Scheme>::kParts);
  CHECK(*stages[3].measured_noise_budget < *stages[0].measured_noise_budget);
}

TEST_CASE_TEMPLATE("With two plaintext moduli and CRT, outputs wider than one t decrypt exactly",
                   Scheme, BOTH_SCHEMES) {
  std::mt19937_64 rng(21);
  const Model model = random_small_cryptonets_model(rng, 12, 3, 12, 10, 15, 16);
  Prng prng = Prng::insecure_seeded(22);
  const size_t n = 1024;
  const auto keys = network_keys<Scheme>(n, 36, 2, prng);
  const RangeReport ranges = track_ranges(model);
  REQUIRE(ranges.output_bits() > 36);
  REQUIRE(ranges.output_bits() <= 71);
  const auto images = random_images(rng, model, 700);
  const auto encrypted = private_scores(keys, model, images, prng, 2);
  const auto expected = plain_scores(compile_model(model), images, 2);
  REQUIRE(encrypted.size() == images.size());
  CHECK(encrypted == expected);
  CHECK(predicted_labels(encrypted) == predicted_labels(expected));
  // Some outputs really are wider than one modulus: CRT did work.
  mpz_class widest = 0;
  for (const auto& row : expected)
    for (const auto& x : row)
      widest = std::max(widest, mpz_class(abs(x)));
  CHECK(mpz_sizeinbase(widest.get_mpz_t(), 2) > 36);
}

TEST_CASE_TEMPLATE(
    "Moduli at once, each on its own threads, give the same ciphertexts as one after another",
    Scheme, BOTH_SCHEMES) {
  std::mt19937_64 rng(23);
  const Model model = random_small_cryptonets_model(rng, 12, 3, 12, 10, 15, 16);
  const CompiledModel compiled = compile_model(model);
  Prng key_prng = Prng::insecure_seeded(24);
  const size_t n = 1024;
  const auto keys = network_keys<Scheme>(n, 36, 2, key_prng);
  const encoding::BasicCrtEncryptionSet<Scheme> server(keys);
  const encoding::BasicCrtDecryptionSet<Scheme> client(keys);
  const auto images = random_images(rng, model, 300);
  Prng input_prng = Prng::insecure_seeded(25);
  const EncryptedBatch inputs = encrypt_batch(server, model, images, input_prng, 2);

  // Same inputs and re-randomisation draws; only the threading differs.
  const auto run = [&](int threads, bool at_once, std::vector<StageReport>& reports) {
    cryptonets::inference::BasicInferenceOptions<Scheme> options;
    options.threads = threads;
    options.moduli_at_once = at_once;
    options.observe = [&](const StageReport& report) { reports.push_back(report); };
    Prng prng = Prng::insecure_seeded(26);
    options.prng = &prng;
    return infer(server, compiled, inputs, options);
  };
  std::vector<StageReport> one_after_another, at_once, uneven, single;
  const EncryptedBatch reference = run(2, false, one_after_another);
  // 2 threads: one per modulus; 3: two for the first modulus, one for the second; 1: no split.
  const EncryptedBatch outputs[] = {run(2, true, at_once), run(3, true, uneven),
                                    run(1, true, single)};
  for (const EncryptedBatch& output : outputs) {
    REQUIRE(output.values.size() == 2);
    for (size_t i = 0; i < 2; ++i) {
      REQUIRE(output.values[i].size() == reference.values[i].size());
      for (size_t o = 0; o < output.values[i].size(); ++o)
        CHECK(output.values[i][o].parts == reference.values[i][o].parts);
    }
  }
  CHECK(decrypt_scores(client, outputs[0], track_ranges(model).output().bound) ==
        plain_scores(compiled, images, 1));

  // One after another: modulus 1's five layers, then modulus 2's, each its own wall time.
  REQUIRE(one_after_another.size() == 10);
  for (size_t r = 0; r < 10; ++r) {
    CHECK(one_after_another[r].modulus_index == r / 5);
    CHECK(one_after_another[r].layer_index == r % 5);
    CHECK_FALSE(one_after_another[r].seconds_all_moduli.has_value());
  }
  CHECK(single.size() == 10);
  CHECK_FALSE(single.front().seconds_all_moduli.has_value());
  // At once: layer by layer, both moduli, and one wall time for the layer that covers each
  // modulus's own time.
  for (const auto* reports : {&at_once, &uneven}) {
    REQUIRE(reports->size() == 10);
    for (size_t r = 0; r < 10; ++r) {
      const StageReport& report = (*reports)[r];
      CHECK(report.layer_index == r / 2);
      CHECK(report.modulus_index == r % 2);
      REQUIRE(report.seconds_all_moduli.has_value());
      CHECK(*report.seconds_all_moduli >= report.seconds);
      CHECK(*report.seconds_all_moduli == *(*reports)[r - r % 2].seconds_all_moduli);
      CHECK(report.ciphertexts == one_after_another[report.modulus_index * 5 + r / 2].ciphertexts);
    }
  }
}

TEST_CASE(
    "Moduli at once: an exception in an observer stops every modulus and reaches the caller") {
  std::mt19937_64 rng(27);
  const Model model = random_small_cryptonets_model(rng, 12, 3, 12, 10, 15, 16);
  Prng prng = Prng::insecure_seeded(28);
  const auto keys = network_keys<yashe::Scheme>(1024, 36, 2, prng);
  const encoding::CrtEncryptionSet server(keys);
  const auto images = random_images(rng, model, 10);
  for (size_t failing_layer : {0, 2, 4}) {
    CAPTURE(failing_layer);
    InferenceOptions options;
    options.threads = 2;
    options.moduli_at_once = true;
    size_t reports = 0;
    options.observe = [&](const StageReport& report) {
      ++reports;
      if (report.layer_index == failing_layer && report.modulus_index == 1)
        throw std::runtime_error("observer failed");
    };
    CHECK_THROWS_WITH_AS(
        infer(server, compile_model(model), encrypt_batch(server, model, images, prng, 2), options),
        "observer failed", std::runtime_error);
    CHECK(reports == 2 * failing_layer + 2);  // nothing reported after the failure
  }
}

TEST_CASE_TEMPLATE(
    "The shipped model's encrypted predictions on MNIST test images equal the plain "
    "ones",
    Scheme, BOTH_SCHEMES) {
  const Model model = load_model((repository_root() / "data/model.txt").string());
  const MnistSet test = load_mnist(repository_root() / "data/mnist", MnistSplit::kTest);
  const size_t count = 300;
  const auto images = quantised_mnist_images(model, test, count);
  Prng prng = Prng::insecure_seeded(31);
  // n = 1024 keeps this quick; the ring degree does not change the slot arithmetic.
  const auto keys = network_keys<Scheme>(1024, 39, 2, prng);
  const auto encrypted = private_scores(keys, model, images, prng, 2);
  const auto expected = plain_scores(compile_model(model), images, 2);
  CHECK(encrypted == expected);
  const std::vector<int> labels = predicted_labels(encrypted);
  size_t correct = 0;
  for (size_t s = 0; s < count; ++s)
    correct += labels[s] == test.labels.labels[s];
  CHECK(correct >= 295);  // the model is 99.2% accurate on the whole test set
}

TEST_CASE_TEMPLATE("A full n = 8192 batch through a CryptoNets-shaped network decrypts exactly" *
                       doctest::test_suite("slow"),
                   Scheme, BOTH_SCHEMES) {
  std::mt19937_64 rng(41);
  const Model model = random_small_cryptonets_model(rng, 16, 5, 20, 10, 15, 16);
  Prng prng = Prng::insecure_seeded(42);
  const auto keys = network_keys<Scheme>(8192, 39, 2, prng);
  const auto images = random_images(rng, model, 8192);
  const auto encrypted = private_scores(keys, model, images, prng, 2);
  CHECK(encrypted == plain_scores(compile_model(model), images, 2));
}

TEST_CASE_TEMPLATE("Private inference refuses bad batches with clear errors", Scheme,
                   BOTH_SCHEMES) {
  std::mt19937_64 rng(51);
  const Model model = random_small_cryptonets_model(rng, 12, 3, 12, 10, 15, 16);
  Prng prng = Prng::insecure_seeded(52);
  const auto keys = network_keys<Scheme>(1024, 36, 2, prng);
  const encoding::BasicCrtEncryptionSet<Scheme> server(keys);
  const encoding::BasicCrtDecryptionSet<Scheme> client(keys);
  const CompiledModel compiled = compile_model(model);
  auto images = random_images(rng, model, 4);

  auto message_of = [](auto&& action) {
    try {
      action();
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(message_of([&] { encrypt_batch(server, model, {}, prng, 1); }).find("no images") !=
        std::string::npos);
  CHECK(message_of([&] {
          encrypt_batch(server, model, random_images(rng, model, 1025), prng, 1);
        }).find("split them into several batches") != std::string::npos);
  auto wrong_size = images;
  wrong_size[2].pop_back();
  CHECK(message_of([&] {
          encrypt_batch(server, model, wrong_size, prng, 1);
        }).find("image 3 has 143 values") != std::string::npos);  // numbered from 1
  auto out_of_range = images;
  out_of_range[1][5] = 17;
  CHECK(message_of([&] {
          encrypt_batch(server, model, out_of_range, prng, 1);
        }).find("image 2 value 6 is 17, outside the model's input range [0, 16]") !=
        std::string::npos);

  // Ciphertexts under other keys: the server refuses them before any work.
  const auto other_keys = network_keys<Scheme>(1024, 36, 2, prng);
  const EncryptedBatch foreign =
      encrypt_batch(encoding::BasicCrtEncryptionSet<Scheme>(other_keys), model, images, prng, 1);
  const cryptonets::inference::BasicInferenceOptions<Scheme> defaults;
  CHECK(message_of([&] { infer(server, compiled, foreign, defaults); }).find("other keys") !=
        std::string::npos);
  EncryptedBatch one_modulus = encrypt_batch(server, model, images, prng, 1);
  one_modulus.values.pop_back();
  CHECK(message_of([&] {
          infer(server, compiled, one_modulus, defaults);
        }).find("1 plaintext modulus, the keys have 2") != std::string::npos);

  // Scores decrypted with the wrong secret keys: refused, never returned as labels.
  const EncryptedBatch scores =
      infer(server, compiled, encrypt_batch(server, model, images, prng, 1), defaults);
  const mpz_class bound = track_ranges(model).output().bound;
  CHECK_THROWS_AS(
      decrypt_scores(encoding::BasicCrtDecryptionSet<Scheme>(other_keys), scores, bound),
      std::exception);
}

TEST_CASE_TEMPLATE("Exhausted noise is reported instead of returning wrong scores", Scheme,
                   BOTH_SCHEMES) {
  std::mt19937_64 rng(61);
  const Model model = random_small_cryptonets_model(rng, 12, 3, 12, 10, 15, 16);
  Prng prng = Prng::insecure_seeded(62);
  // Two or three word primes cannot carry two squares with a 36-bit t.
  const size_t primes = std::is_same_v<Scheme, yashe::Scheme> ? 3 : 2;
  const auto keys = network_keys<Scheme>(1024, 36, 2, prng, primes);
  const auto images = random_images(rng, model, 8);
  try {
    private_scores(keys, model, images, prng, 1);
    FAIL("decryption of exhausted ciphertexts must fail");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find("noise budget") != std::string::npos);
  }
}

TEST_CASE("The stage summary folds moduli and batches into one row per stage, sizes per batch") {
  const auto report = [](std::string stage, std::optional<size_t> layer, size_t modulus,
                         double seconds, size_t ciphertexts, double predicted,
                         std::optional<double> measured) {
    StageReport r;
    r.stage = std::move(stage);
    r.layer_index = layer;
    r.modulus_index = modulus;
    r.seconds = seconds;
    r.ciphertexts = ciphertexts;
    r.memory_bytes = 1000 * ciphertexts;
    r.predicted_noise_budget = predicted;
    r.measured_noise_budget = measured;
    return r;
  };
  StageSummary summary;
  for (size_t batch = 0; batch < 2; ++batch) {
    for (size_t modulus = 0; modulus < 2; ++modulus) {
      const double m = static_cast<double>(modulus);
      summary.add(report("encode+encrypt", std::nullopt, modulus, 1 + m, 784, 250, std::nullopt),
                  batch == 0);
      summary.add(report("square", 1, modulus, 4 + m, 845, 160 - m, 170 + m), batch == 0);
      summary.add(report("square", 3, modulus, 0.5, 100, 50 + m, std::nullopt), batch == 0);
    }
  }
  const auto& rows = summary.rows();
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].label() == "encode+encrypt");
  CHECK(rows[1].label() == "2. square");
  CHECK(rows[2].label() == "4. square");
  // Times add over both moduli and both batches; per modulus over both batches.
  CHECK(rows[1].seconds == doctest::Approx(2 * (4 + 5)));
  REQUIRE(rows[1].per_modulus.size() == 2);
  CHECK(rows[1].per_modulus[0] == doctest::Approx(8));
  CHECK(rows[1].per_modulus[1] == doctest::Approx(10));
  CHECK(summary.total_seconds() == doctest::Approx(2 * (1 + 2) + 18 + 2 * 2 * 0.5));
  // Sizes count the first batch only: both moduli, one batch.
  CHECK(rows[0].ciphertexts == 2 * 784);
  CHECK(rows[1].memory_bytes == 2 * 845 * 1000);
  // Budgets are minima; a stage never measured stays unmeasured.
  CHECK(rows[1].predicted_noise_budget == 159);
  REQUIRE(rows[1].measured_noise_budget.has_value());
  CHECK(*rows[1].measured_noise_budget == 170);
  CHECK(!rows[2].measured_noise_budget.has_value());
  CHECK(rows[2].predicted_noise_budget == 50);

  // Moduli that ran at once: the layer's wall time counts once, each modulus keeps its own time.
  StageSummary at_once;
  for (size_t modulus = 0; modulus < 2; ++modulus) {
    StageReport r = report("dense", 2, modulus, 3 + static_cast<double>(modulus), 100, 40, {});
    r.seconds_all_moduli = 4.5;
    at_once.add(r);
  }
  REQUIRE(at_once.rows().size() == 1);
  CHECK(at_once.rows()[0].seconds == doctest::Approx(4.5));
  CHECK(at_once.rows()[0].per_modulus == std::vector<double>{3, 4});
  CHECK(at_once.total_seconds() == doctest::Approx(4.5));
}

TEST_CASE(
    "Squares defer relinearisation to the next linear layer, which relinearises each output") {
  const Parameters params = paper_scale_parameters();
  SchemeFixture scheme(params, 47);
  Prng& prng = scheme.prng;
  const Decryptor& decryptor = scheme.decryptor;
  const Evaluator& evaluator = scheme.evaluator;
  const PlainRing& plain = scheme.plain;
  EncryptedArithmetic arithmetic(evaluator, 2);

  std::vector<Plaintext> messages;
  std::vector<Ciphertext> values;
  for (int j = 0; j < 6; ++j) {
    messages.push_back(random_plaintext(prng, params.n, params.t));
    values.push_back(scheme.encrypt(messages.back()));
  }
  // Square: degree 2, the same ciphertext as multiply without relinearisation.
  std::vector<Ciphertext> squares = values;
  arithmetic.square_all(squares);
  for (size_t j = 0; j < values.size(); ++j) {
    CHECK(squares[j].degree == 2);
    CHECK(squares[j].parts[0] ==
          evaluator.multiply_without_relinearization(values[j], values[j]).parts[0]);
  }
  // Linear layer on degree-2 inputs: outputs of degree 1 that decrypt to Σ w·m² + b, and equal to
  // relinearising the degree-2 combination (key switching is linear in the ciphertext).
  LinearMap map = random_map(prng, values.size(), 3, 5);
  map.bias = {7, 0, -3};
  const std::vector<Ciphertext> outputs = arithmetic.apply_linear(map, squares);
  const std::vector<Ciphertext> unrelinearised =
      fused_linear_combinations(evaluator, map, squares, 1);
  for (size_t o = 0; o < map.outputs; ++o) {
    CHECK(outputs[o].degree == 1);
    Ciphertext expected = unrelinearised[o];
    evaluator.relinearize_inplace(expected);
    evaluator.add_scalar_inplace(expected, map.bias[o]);
    CHECK(outputs[o].parts[0] == expected.parts[0]);
    Plaintext sum = plain.zero();
    for (const LinearTerm& term : map.terms_of(o)) {
      const Plaintext square = plain.multiply(messages[term.input], messages[term.input]);
      sum = plain.add(sum, plain.scale(square, term.weight));
    }
    Plaintext bias = plain.zero();
    bias.coeffs[0] = static_cast<uint64_t>(
        (map.bias[o] % static_cast<int64_t>(params.t) + static_cast<int64_t>(params.t)) %
        static_cast<int64_t>(params.t));
    sum = plain.add(sum, bias);
    CHECK(decryptor.decrypt(outputs[o]).coeffs == sum.coeffs);
  }
  // Squaring a degree-2 value relinearises it first; a constant is added under f only.
  Ciphertext twice = squares[0];
  arithmetic.square(twice);
  CHECK(twice.degree == 2);
  Ciphertext with_constant = squares[1];
  arithmetic.add_constant(with_constant, 5);
  CHECK(with_constant.degree == 1);
  const Plaintext m0_squared = plain.multiply(messages[0], messages[0]);
  CHECK(decryptor.decrypt(twice).coeffs == plain.multiply(m0_squared, m0_squared).coeffs);
}

namespace {

// A uniform weight in (-2^20, 2^20), the AVX2 kernel's range.
int64_t random_small_weight(Prng& prng) {
  const int64_t limit = (int64_t{1} << 20) - 1;
  return static_cast<int64_t>(sample_uniform_below(prng, 2 * limit + 1)) - limit;
}

// Appends a dense row over inputs [0, inputs): each input is dropped (a zero weight) with
// probability gap_percent / 100; the first two kept terms carry ±(2^20 - 1).
void append_dense_row(Prng& prng, LinearMap& map, size_t inputs, uint64_t gap_percent) {
  const int64_t edge = (int64_t{1} << 20) - 1;
  size_t kept = 0;
  for (size_t j = 0; j < inputs; ++j) {
    if (sample_uniform_below(prng, 100) < gap_percent) continue;
    const int64_t weight = kept == 0 ? edge : kept == 1 ? -edge : random_small_weight(prng);
    ++kept;
    if (weight != 0) map.terms.push_back({static_cast<uint32_t>(j), weight});
  }
  map.row_begin.push_back(map.terms.size());
  map.bias.push_back(0);
}

}  // namespace

TEST_CASE(
    "The AVX2 and AVX-512 kernels' grouped outputs equal the 128-bit kernel at n = 8192, bit for "
    "bit") {
  const Parameters params = paper_scale_parameters();  // n = 8192, q = 7 primes of 55 bits
  SchemeFixture scheme(params, 53);
  Prng& prng = scheme.prng;
  const Evaluator& evaluator = scheme.evaluator;
  const size_t input_count = 40;
  std::vector<Ciphertext> inputs;
  for (size_t j = 0; j < input_count; ++j)
    inputs.push_back(scheme.encrypt(scheme.random()));

  // Outputs are grouped four at a time in order: [0, 8) dense rows with zero-weight gaps and
  // different lengths (grouped); [8, 12) sparse rows of 3 random inputs (their union is too large:
  // one output at a time); [12, 16) dense, but row 13 names an input twice (one output at a time);
  // [16, 20) three dense rows and a row of 5 inputs (grouped: lengths 40 down to 5); [20, 24)
  // alternating two sets of 5 inputs (union 10 > 1.25 × 5: single); [24, 27) dense, a group of
  // three.
  LinearMap map;
  map.inputs = input_count;
  map.row_begin = {0};
  for (size_t o = 0; o < 8; ++o)
    append_dense_row(prng, map, o == 5 ? input_count - 6 : input_count, o % 3 == 0 ? 0 : 15);
  for (size_t o = 8; o < 12; ++o) {
    for (int k = 0; k < 3; ++k) {
      map.terms.push_back({static_cast<uint32_t>(sample_uniform_below(prng, input_count)),
                           random_small_weight(prng)});
    }
    map.row_begin.push_back(map.terms.size());
    map.bias.push_back(0);
  }
  for (size_t o = 12; o < 16; ++o) {
    append_dense_row(prng, map, input_count, 10);
    if (o == 13) {
      map.terms.push_back({map.terms.back().input, -77});
      map.row_begin.back() = map.terms.size();
    }
  }
  for (size_t o = 16; o < 19; ++o)
    append_dense_row(prng, map, input_count, 10);
  const uint32_t shared_inputs[2][5] = {{1, 5, 9, 13, 17}, {2, 6, 10, 30, 39}};
  for (size_t o = 19; o < 24; ++o) {
    for (uint32_t input : shared_inputs[o % 2])
      map.terms.push_back({input, random_small_weight(prng)});
    map.row_begin.push_back(map.terms.size());
    map.bias.push_back(0);
  }
  for (size_t o = 24; o < 27; ++o)
    append_dense_row(prng, map, input_count, 10);
  map.outputs = map.bias.size();
  REQUIRE(map.outputs == 27);
  check_kernels_agree(evaluator, map, inputs);
}

TEST_CASE(
    "The AVX2 and AVX-512 kernels' grouped outputs fold rows longer than 2^12 terms exactly") {
  // Rows of more than 2^12 distinct inputs with 20-bit weights overflow the grouped kernel's
  // 64-bit lanes unless folded. Distinct inputs need one polynomial each, so the ring is small
  // (n = 1024, 2 primes of 55 bits) and the inputs are uniform residues rather than encryptions:
  // the kernel is linear in the residues either way.
  const size_t n = 1024;
  const Parameters params = Parameters::create(n, 2, 55, generate_ntt_primes(30, 1, 2 * n)[0]);
  SchemeFixture scheme(params, 59);
  Prng& prng = scheme.prng;
  const Evaluator& evaluator = scheme.evaluator;
  const Ciphertext encrypted = scheme.encrypt(scheme.random());
  const RnsBase& base = scheme.context->q_base();
  const size_t input_count = 5000;
  std::vector<Ciphertext> inputs(input_count, encrypted);
  for (Ciphertext& input : inputs) {
    for (size_t i = 0; i < base.size(); ++i) {
      uint64_t* residues = input.parts[0].residues(i);
      for (size_t x = 0; x < n; ++x)
        residues[x] = sample_uniform_below(prng, base[i].value());
    }
  }
  // Past the lane bound: row 0 weighs -(2^20 - 1) on its 4984 inputs, and the first 4500 have
  // every residue's low 31 bits set, so the low halves sum to about -2^63.2 (they would wrap
  // without folding; random residues alone would not reach 2^63).
  for (size_t j = 0; j < 4500; ++j) {
    for (size_t i = 0; i < base.size(); ++i) {
      const uint64_t low_ones = (((base[i].value() >> 31) - 1) << 31) | ((uint64_t{1} << 31) - 1);
      std::fill_n(inputs[j].parts[0].residues(i), n, low_ones);
    }
  }
  LinearMap map;
  map.inputs = input_count;
  map.row_begin = {0};
  for (size_t j = 0; j < input_count - 16; ++j)
    map.terms.push_back({static_cast<uint32_t>(j), -((int64_t{1} << 20) - 1)});
  map.row_begin.push_back(map.terms.size());
  map.bias.push_back(0);
  for (size_t o = 1; o < 6; ++o)
    append_dense_row(prng, map, input_count, 3);
  map.outputs = map.bias.size();
  check_kernels_agree(evaluator, map, inputs);
}

// ---- The same runtime under BFV (the deferred-relinearisation schedule and the fused kernel are
// scheme-generic; each scheme brings only its evaluator and noise law).

namespace {

using encoding::BfvCrtDecryptionSet;
using encoding::BfvCrtEncryptionSet;
using encoding::BfvCrtKeys;

// q: primes of 55, 55, 54, 54 bits (< 2^218, the HE standard's 128-bit bound at n = 8192 for
// ternary secrets; the same primes serve smaller n), `count` plaintext moduli of `t_bits` bits.
BfvCrtKeys bfv_network_keys(size_t n, int t_bits, size_t count, Prng& prng) {
  bfv::Parameters base;
  base.n = n;
  base.q_primes = generate_ntt_primes(55, 2, 16384);
  for (uint64_t q : generate_ntt_primes(54, 2, 16384))
    base.q_primes.push_back(q);
  const std::vector<uint64_t> moduli =
      encoding::select_plaintext_moduli(n, t_bits, count, base.q_primes);
  base.t = moduli[0];
  return BfvCrtKeys::generate(base, moduli, prng);
}

}  // namespace

TEST_CASE("BFV: the fused kernel over three-part ciphertexts equals the term-by-term reference") {
  // n = 2048 (the 8192-parameters' primes): the kernel's blocks and parts do not depend on n.
  const size_t n = 2048;
  Prng prng = Prng::insecure_seeded(61);
  const BfvCrtKeys keys = bfv_network_keys(n, 39, 1, prng);
  const bfv::Evaluator evaluator(keys.contexts[0], keys.keys[0].relinearization_key);
  const bfv::Encryptor encryptor(keys.contexts[0], keys.keys[0].public_key);
  const bfv::Decryptor decryptor(keys.contexts[0], keys.keys[0].secret_key);
  const PlainRing plain(n, keys.contexts[0]->parameters().t);
  std::vector<Plaintext> messages;
  std::vector<Ciphertext> squares;
  for (int j = 0; j < 6; ++j) {
    messages.push_back(random_plaintext(prng, n, keys.contexts[0]->parameters().t));
    const Ciphertext c = encryptor.encrypt(messages.back(), prng);
    squares.push_back(evaluator.multiply_without_relinearization(c, c));
    REQUIRE(squares.back().parts.size() == 3);
  }
  const LinearMap map = random_map(prng, squares.size(), 3, 12);
  for (LinearKernel kernel : {LinearKernel::scalar, LinearKernel::best}) {
    for (int threads : {1, 2}) {
      const std::vector<Ciphertext> fused =
          fused_linear_combinations(evaluator, map, squares, threads, {}, kernel);
      for (size_t o = 0; o < map.outputs; ++o) {
        const Ciphertext expected = weighted_sum_reference(evaluator, squares, map.terms_of(o));
        CHECK(fused[o].parts == expected.parts);
        CHECK(fused[o].degree == 2);
        Plaintext sum = plain.zero();
        for (const LinearTerm& term : map.terms_of(o)) {
          const Plaintext m2 = plain.multiply(messages[term.input], messages[term.input]);
          sum = plain.add(sum, plain.scale(m2, term.weight));
        }
        CHECK(decryptor.decrypt(fused[o]).coeffs == sum.coeffs);
      }
    }
  }
}

namespace {

// The shipped model on the first `count` MNIST test images under BFV at ring degree n, with the
// noise measured at every stage: the decrypted and the plain scores, and the stage reports.
struct BfvMnistRun {
  std::vector<std::vector<mpz_class>> encrypted, expected;
  std::vector<StageReport> stages;
  std::vector<bfv::Parameters> params;  // per plaintext modulus
  bool outputs_private = true;          // no output transparent or readable without the key
};

BfvMnistRun run_bfv_mnist(size_t n, size_t count, uint64_t seed) {
  const Model model = load_model((repository_root() / "data/model.txt").string());
  const MnistSet test = load_mnist(repository_root() / "data/mnist", MnistSplit::kTest);
  const auto images = quantised_mnist_images(model, test, count);
  Prng prng = Prng::insecure_seeded(seed);
  const BfvCrtKeys keys = bfv_network_keys(n, 39, 2, prng);
  const BfvCrtEncryptionSet server(keys);
  const BfvCrtDecryptionSet client(keys);
  BfvMnistRun run;
  for (const auto& context : keys.contexts)
    run.params.push_back(context->parameters());
  BfvInferenceOptions options;
  options.threads = 2;
  options.secret_keys_for_diagnostics = &client;
  options.observe = [&](const StageReport& report) { run.stages.push_back(report); };
  const EncryptedBatch scores =
      infer(server, compile_model(model), encrypt_batch(server, model, images, prng, 2), options);
  for (size_t i = 0; i < scores.values.size(); ++i) {
    for (const Ciphertext& c : scores.values[i]) {
      run.outputs_private = run.outputs_private && !c.transparent &&
                            !bfv::readable_without_secret_key(*keys.contexts[i], c);
    }
  }
  run.encrypted = decrypt_scores(client, scores, track_ranges(model).output().bound);
  run.expected = plain_scores(compile_model(model), images, 2);
  return run;
}

}  // namespace

TEST_CASE("BFV: every stage's measured noise is within the keyless prediction, n = 1024") {
  // n = 1024 keeps this quick (not a secure size); the n = 8192 run is in the slow suite. The
  // shipped model's scores under both schemes are checked by the templated case above.
  const BfvMnistRun run = run_bfv_mnist(1024, 64, 62);
  CHECK(run.encrypted == run.expected);
  CHECK(run.outputs_private);  // infer re-randomised every output with the public key
  REQUIRE(!run.stages.empty());
  for (const StageReport& stage : run.stages) {
    CAPTURE(stage.stage);
    REQUIRE(stage.measured_noise_budget.has_value());
    CHECK(*stage.measured_noise_budget > 0);
    CHECK(stage.predicted_noise_budget <= *stage.measured_noise_budget);
  }
  // BFV ciphertexts have two parts: the memory report counts both.
  CHECK(run.stages.back().memory_bytes == 10 * 1024 * 4 * 8 * 2);
  // The keyless prediction (parameter selection) is the estimate the encrypted run carried.
  const CompiledModel compiled =
      compile_model(load_model((repository_root() / "data/model.txt").string()));
  for (const StageReport& stage : run.stages) {
    if (!stage.layer_index) continue;
    const NoisePrediction prediction =
        predict_network_noise(run.params.at(stage.modulus_index), compiled);
    size_t step = 0;
    while (compiled.steps[step].layer_index != *stage.layer_index)
      ++step;
    CHECK(stage.predicted_noise_budget ==
          doctest::Approx(bfv::NoiseModel::budget_bits(prediction.noise_log2_after_step[step]))
              .epsilon(1e-9));
  }
}

TEST_CASE("BFV: transparent ciphertexts are tracked, refused and made private (issue 14)") {
  const size_t n = 1024;  // not a secure size: the checks do not depend on n
  Prng prng = Prng::insecure_seeded(64);
  const BfvCrtKeys keys = bfv_network_keys(n, 39, 1, prng);
  const auto& context = keys.contexts[0];
  const bfv::Evaluator evaluator(context, keys.keys[0].relinearization_key);
  const bfv::Encryptor encryptor(context, keys.keys[0].public_key);
  const bfv::Decryptor decryptor(context, keys.keys[0].secret_key);
  const Plaintext message = random_plaintext(prng, n, context->parameters().t);
  const Ciphertext fresh = encryptor.encrypt(message, prng);
  CHECK_FALSE(fresh.transparent);
  CHECK_FALSE(bfv::readable_without_secret_key(*context, fresh));
  // A product with zero keeps no encryption randomness.
  Ciphertext zero = fresh;
  evaluator.multiply_scalar_inplace(zero, 0);
  CHECK(zero.transparent);
  CHECK(bfv::readable_without_secret_key(*context, zero));
  CHECK_THROWS_AS(decryptor.invariant_noise_budget(zero), std::invalid_argument);
  Ciphertext zero_plain = fresh;
  evaluator.multiply_plain_inplace(zero_plain, Plaintext{std::vector<uint64_t>(n, 0)});
  CHECK(zero_plain.transparent);
  Ciphertext sum = zero;
  evaluator.add_inplace(sum, zero_plain);
  CHECK(sum.transparent);
  evaluator.add_inplace(sum, fresh);  // a real encryption among the terms: randomness again
  CHECK_FALSE(sum.transparent);
  // An empty linear combination is an exact zero.
  LinearMap empty_row;
  empty_row.inputs = 1;
  empty_row.outputs = 1;
  empty_row.row_begin = {0, 0};
  empty_row.bias = {0};
  const std::vector<Ciphertext> inputs{fresh};
  CHECK(fused_linear_combinations(evaluator, empty_row, inputs, 1)[0].transparent);
  // Re-randomisation makes it a real encryption of the same message.
  encryptor.rerandomize_inplace(zero, prng);
  CHECK_FALSE(zero.transparent);
  CHECK_FALSE(bfv::readable_without_secret_key(*context, zero));
  CHECK(decryptor.decrypt(zero).coeffs == std::vector<uint64_t>(n, 0));
  CHECK(decryptor.invariant_noise_budget(zero) > 1);
  // A c_1 of zero is readable whatever the flag says.
  Ciphertext unflagged = fresh;
  evaluator.multiply_scalar_inplace(unflagged, 0);
  unflagged.transparent = false;
  CHECK(bfv::readable_without_secret_key(*context, unflagged));

  // The client refuses a transparent score; the server refuses circuit privacy under BFV, before
  // any work (noise flooding is YASHE'-only).
  const BfvCrtEncryptionSet server(keys);
  const BfvCrtDecryptionSet client(keys);
  Ciphertext transparent_score = fresh;
  evaluator.multiply_scalar_inplace(transparent_score, 0);
  EncryptedBatch scores;
  scores.images = 1;
  scores.values = {{transparent_score}};
  CHECK_THROWS(decrypt_scores(client, scores, mpz_class(1)));
  // With several bad scores, every number of threads reports the same error as one thread (the
  // first bad score's, in modulus-then-output order).
  scores.values = {{zero, transparent_score, zero, transparent_score}};
  const auto error_of = [&](int threads) -> std::string {
    try {
      decrypt_scores(client, scores, mpz_class(1), {}, threads);
    } catch (const std::exception& error) {
      return error.what();
    }
    return "no error";
  };
  const std::string serial = error_of(1);
  CHECK(serial.find("transparent") != std::string::npos);
  for (int threads : {2, 4})
    CHECK(error_of(threads) == serial);
  scores.values = {{zero, zero, zero}};
  for (int threads : {1, 2, 4})
    CHECK(decrypt_scores(client, scores, mpz_class(1), {}, threads) ==
          std::vector<std::vector<mpz_class>>{{0, 0, 0}});
  CHECK_THROWS_AS(decrypt_scores(client, scores, mpz_class(1), {}, 0), std::invalid_argument);
  const CompiledModel compiled =
      compile_model(load_model((repository_root() / "data/model.txt").string()));
  CHECK_THROWS_WITH_AS(require_noise_budget(server, compiled, 40), doctest::Contains("YASHE' only"),
                       std::invalid_argument);
}

TEST_CASE("BFV: an output re-randomised under a public key with p_1 = 0 is found readable") {
  // Found by an audit: the keyless detector looked only for c_1 = 0. Outputs are re-randomised
  // with the client's public key, which the key loader takes as it comes: with p_0 = p_1 = 0 the
  // encryption of zero added is (e_1, e_2), c_1 = e_2 is no longer zero, and a row of zero weights
  // with bias 12345 left (Δ·12345 + e_1, e_2), which anyone reads as 12345 from c_0 alone. The
  // writer of scores files and decrypt passed it as private.
  const size_t n = 1024;
  Prng prng = Prng::insecure_seeded(66);
  const BfvCrtKeys keys = bfv_network_keys(n, 39, 1, prng);
  const auto& context = keys.contexts[0];
  const bfv::Evaluator evaluator(context, keys.keys[0].relinearization_key);
  const bfv::Encryptor honest(context, keys.keys[0].public_key);
  bfv::PublicKey degenerate = keys.keys[0].public_key;
  degenerate.p0 = RnsPoly(context->ring(), PolyForm::evaluation);
  degenerate.p1 = RnsPoly(context->ring(), PolyForm::evaluation);
  const bfv::Encryptor hostile(context, degenerate);
  Ciphertext bias = honest.encrypt(random_plaintext(prng, n, context->parameters().t), prng);
  evaluator.multiply_scalar_inplace(bias, 0);
  evaluator.add_scalar_inplace(bias, 12345);
  REQUIRE(bias.transparent);

  Ciphertext output = bias;
  hostile.rerandomize_inplace(output, prng);
  CHECK_FALSE(output.transparent);
  CHECK(output.parts[1] != RnsPoly(context->ring(), PolyForm::coefficient));
  // The leak: round(t·c_0/q) of the constant coefficient, no key.
  const mpz_class c0 = context->q_base().compose(output.parts[0].data().data(), n);
  const mpz_class t = context->parameters().t;
  CHECK(mpz_class((2 * t * c0 + context->rns().q()) / (2 * context->rns().q())) % t == 12345);
  CHECK(bfv::readable_without_secret_key(*context, output));
  const BfvCrtDecryptionSet client(keys);
  EncryptedBatch scores;
  scores.images = 1;
  scores.values = {{output}};
  CHECK_THROWS_WITH(decrypt_scores(client, scores, mpz_class(1) << 20),
                    doctest::Contains("can be read without the secret key"));

  // Under the real public key the same output is private.
  Ciphertext private_output = bias;
  honest.rerandomize_inplace(private_output, prng);
  CHECK_FALSE(bfv::readable_without_secret_key(*context, private_output));
}
TEST_CASE("BFV at n = 8192, log2 q = 218: a full batch of MNIST equals the plain network" *
          doctest::test_suite("slow")) {
  const BfvMnistRun run = run_bfv_mnist(8192, 8192, 63);
  CHECK(run.encrypted == run.expected);
  for (const StageReport& stage : run.stages) {
    MESSAGE("BFV n = 8192 modulus " << stage.modulus_index << " " << stage.stage << ": "
                                    << stage.seconds << " s, budget measured "
                                    << stage.measured_noise_budget.value_or(-1)
                                    << " bits, predicted " << stage.predicted_noise_budget);
    REQUIRE(stage.measured_noise_budget.has_value());
    CHECK(stage.predicted_noise_budget <= *stage.measured_noise_budget);
  }
}

// ---- Polynomial activations (issue 17): compiled into the existing steps, so the ciphertext
// runtime and the keyless noise prediction run them unchanged; degree 3 is refused.

namespace {

// The small CryptoNets-shaped network with polynomial activations: −2x² − 3x + 7 (no exact square
// completion: output factor 8, the next weights' sign flipped), a degree-1 activation 3x − 4 in
// place of the second square, and x² − 5x + 2 after the last layer (a completed square, and a
// polynomial as the last layer: a diagonal step for its constant).
std::vector<Model> polynomial_models(std::mt19937_64& rng) {
  Model model = with_polynomial_activations(random_small_cryptonets_model(rng, 12, 3, 12, 10, 3, 4),
                                            {{7, -3, -2}, {-4, 3}});
  model.layers.push_back({model::PolynomialLayer{{2, -5, 1}}, 1.0});
  return {model};
}

}  // namespace

TEST_CASE_TEMPLATE("Polynomial activations decrypt to the plain integer network on every slot",
                   Scheme, BOTH_SCHEMES) {
  std::mt19937_64 rng(1412);
  Prng prng = Prng::insecure_seeded(1413);
  const size_t n = 1024;
  for (const Model& model : polynomial_models(rng)) {
    const CompiledModel compiled = compile_model(model);
    // |4A| = 8 from the first activation, squared by the last one (a completed square).
    CHECK(compiled.output_factor == 64);
    const RangeReport ranges = track_ranges(model);
    const int moduli = (ranges.output_bits() + 34) / 35;
    CAPTURE(ranges.output_bits());
    REQUIRE(moduli <= 3);
    const auto keys = network_keys<Scheme>(n, 36, static_cast<size_t>(moduli), prng);
    const encoding::BasicCrtEncryptionSet<Scheme> server(keys);
    const encoding::BasicCrtDecryptionSet<Scheme> client(keys);
    const auto images = random_images(rng, model, n);
    cryptonets::inference::BasicInferenceOptions<Scheme> options;
    options.threads = 2;
    std::vector<StageReport> stages;
    options.observe = [&](const StageReport& report) { stages.push_back(report); };
    options.secret_keys_for_diagnostics = &client;
    const EncryptedBatch scores =
        infer(server, compiled, encrypt_batch(server, model, images, prng, 2), options);
    const auto decrypted = decrypt_scores(client, scores, ranges.output().bound);
    // Every slot of the batch equals the plain integer network (output_factor × the model).
    CHECK(decrypted == plain_scores(compiled, images, 2));
    // The keyless prediction stays pessimistic at every step, the extra steps included.
    REQUIRE(stages.size() >= compiled.steps.size());
    // One stage per step, each named for what it computes: the last polynomial layer's square
    // and its diagonal step (for A and the constant) are two stages of one layer, not two "poly".
    std::string names;  // "stage@layer, ...", readable when the check fails
    for (size_t k = 0; k < compiled.steps.size(); ++k) {
      names += (k == 0 ? "" : ", ") + stages[k].stage + "@" +
               std::to_string(stages[k].layer_index.value_or(99));
    }
    // The degree-1 layer (layer 4) is folded into layer 3's dense step, and its name says so.
    CHECK(names ==
          "conv@0, poly (square)@1, dense + 4. poly (folded)@2, dense@4, poly (square)@5, "
          "poly (affine)@5");
    for (const StageReport& stage : stages) {
      if (!stage.measured_noise_budget) continue;
      CAPTURE(stage.stage);
      CHECK(*stage.measured_noise_budget > 0);
      CHECK(stage.predicted_noise_budget <= *stage.measured_noise_budget + 2);
    }
  }
}

namespace {

// The study's sigmoid LSQ fits (data/activation-study/manifest.csv) in a small 5-layer network
// (2 maps, 6 hidden, 3 classes; random weights, small last biases), quantised at a choice where
// the second fit's completed-square constant, folded into the last layer's biases as the compiler
// used to do, would pass 2^60: it compiles to a diagonal step of its own (layers.hpp).
constexpr double kSigmoidInputScale = 4;
constexpr training::WeightBits kSigmoidBits{3, 2, 4};

Model quantised_sigmoid_fit_model() {
  using training::Activation;
  using training::ActivationKind;
  std::mt19937_64 rng(1217);
  auto network = test_support::random_polynomial_network(
      rng, Activation{ActivationKind::kPolynomial, {0.522758, 0.0396606, -0.000318805}},
      Activation{ActivationKind::kPolynomial, {0.480913, 0.0431434, 0.000319096}});
  for (float& b : network.layers[4].bias)
    b *= 0.01f;
  return training::quantise(training::to_polynomial_float_network(network),
                            training::QuantisationChoice{kSigmoidInputScale, kSigmoidBits});
}

}  // namespace

TEST_CASE_TEMPLATE("A quantised sigmoid fit decrypts to the plain integer network on every slot",
                   Scheme, BOTH_SCHEMES) {
  const Model model = quantised_sigmoid_fit_model();
  const CompiledModel compiled = compile_model(model);
  // conv, square, dense, square, the second fit's constant, dense.
  REQUIRE(compiled.steps.size() == 6);
  CHECK(compiled.steps[4].stage_name() == "poly (affine)");
  CHECK(compiled.output_factor == 1);
  const RangeReport ranges = track_ranges(model);
  const int moduli = (ranges.output_bits() + 34) / 35;
  CAPTURE(ranges.output_bits());
  REQUIRE(moduli <= 3);
  std::mt19937_64 rng(1218);
  Prng prng = Prng::insecure_seeded(1219);
  const auto keys = network_keys<Scheme>(1024, 36, static_cast<size_t>(moduli), prng);
  const auto images = random_images(rng, model, 16);
  CHECK(private_scores(keys, model, images, prng, 2) == plain_scores(compiled, images, 2));
}

// The study's own integer model of a sigmoid fit (data/activation-study/, written by
// bench/activation_study.sh), at the parameters the study runs it with: YASHE' default, BFV
// select_bfv_parameters.
TEST_CASE_TEMPLATE("The study's quantised sigmoid fit decrypts exactly on a full batch" *
                       doctest::test_suite("slow"),
                   Scheme, BOTH_SCHEMES) {
  const Model model = cryptonets::load_model(
      (repository_root() / "data/activation-study/sigmoid-lsq-finetuned-int.txt").string());
  const CompiledModel compiled = compile_model(model);
  CHECK(compiled.steps.size() == 6);  // the second fit's constant: a step of its own
  Prng prng = Prng::insecure_seeded(1220);
  std::optional<encoding::BasicCrtKeys<Scheme>> keys;
  if constexpr (std::is_same_v<Scheme, bfv::Scheme>) {
    const auto choice = cryptonets::inference::select_bfv_parameters(model);
    keys.emplace(
        encoding::BasicCrtKeys<Scheme>::generate(choice.base, choice.plaintext_moduli, prng));
  } else {
    const auto choice = cryptonets::inference::preset("default", model);
    keys.emplace(
        encoding::BasicCrtKeys<Scheme>::generate(choice.base, choice.plaintext_moduli, prng));
  }
  std::mt19937_64 rng(1221);
  const auto images = random_images(rng, model, keys->contexts.front()->parameters().n);
  CHECK(private_scores(*keys, model, images, prng, 2) == plain_scores(compiled, images, 2));
}

TEST_CASE_TEMPLATE("A polynomial network decrypts exactly on a full n = 8192 batch" *
                       doctest::test_suite("slow"),
                   Scheme, BOTH_SCHEMES) {
  std::mt19937_64 rng(8192);
  const Model model = with_polynomial_activations(
      random_small_cryptonets_model(rng, 16, 5, 20, 10, 3, 4), {{7, -3, -2}, {5, 6, 1}});
  const RangeReport ranges = track_ranges(model);
  const int moduli = (ranges.output_bits() + 37) / 38;
  CAPTURE(ranges.output_bits());
  REQUIRE(moduli <= 3);
  Prng prng = Prng::insecure_seeded(8193);
  const auto keys = network_keys<Scheme>(8192, 39, static_cast<size_t>(moduli), prng);
  const auto images = random_images(rng, model, 8192);
  const auto encrypted = private_scores(keys, model, images, prng, 2);
  CHECK(encrypted == plain_scores(compile_model(model), images, 2));
}
