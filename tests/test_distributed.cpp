// The MPI-free arithmetic of distributed inference (issue 20): how a unit's values are split over
// ranks, which split a linear layer takes, and that partial sums over blocks of inputs, reduced
// mod q, give word for word the fused kernel's outputs (with its noise estimates and flags),
// under YASHE' and BFV. The
// runs under mpirun are tests/mpi/mpi_infer.sh.
#include <doctest/doctest.h>

#include "cryptonets/bfv/scheme.hpp"
#include "cryptonets/distributed/partial_sums.hpp"
#include "cryptonets/distributed/partition.hpp"
#include "cryptonets/distributed/step_table.hpp"
#include "cryptonets/inference/encrypted_arithmetic.hpp"
#include "cryptonets/yashe/scheme.hpp"
#include "yashe_test_support.hpp"

using namespace test_support;
using namespace cryptonets::distributed;
using namespace cryptonets::inference;
using cryptonets::model::LinearMap;

namespace {

LinearMap random_dense_map(Prng& prng, size_t inputs, size_t outputs) {
  LinearMap map;
  map.inputs = inputs;
  map.outputs = outputs;
  map.row_begin.push_back(0);
  for (size_t o = 0; o < outputs; ++o) {
    for (size_t j = 0; j < inputs; ++j) {
      // Some zero weights (dropped, as compile_model drops them), a few wide ones.
      const int64_t w = static_cast<int64_t>(sample_uniform_below(prng, 41)) - 20;
      if (w != 0) map.terms.push_back({static_cast<uint32_t>(j), j % 7 == 3 ? w << 40 : w});
    }
    map.row_begin.push_back(map.terms.size());
    map.bias.push_back(static_cast<int64_t>(o) - 3);
  }
  return map;
}

void check_same(const Ciphertext& a, const Ciphertext& b) {
  REQUIRE(a.parts.size() == b.parts.size());
  for (size_t p = 0; p < a.parts.size(); ++p)
    CHECK(a.parts[p] == b.parts[p]);
  CHECK(a.degree == b.degree);
  CHECK(a.key_id == b.key_id);
  CHECK(a.noise_log2 == b.noise_log2);  // bit for bit: the flooding width depends on it
  CHECK(a.transparent == b.transparent);
}

// Partial sums of every block of K ranks, reduced, against the fused kernel on the whole map,
// under either scheme (YASHE' or BFV: the reduction only adds residues mod q, but a degree-2 BFV
// value has three parts, a YASHE' one a single element).
template <class Scheme>
void check_partial_sums_reduce_exactly(const typename Scheme::Parameters& params, size_t inputs,
                                       size_t outputs) {
  using Evaluator = typename Scheme::Evaluator;
  const auto context = Scheme::Context::create(params);
  Prng prng = Prng::insecure_seeded(2020);
  const typename Scheme::KeySet keys = Scheme::generate_keys(context, prng);
  const typename Scheme::Encryptor encryptor(context, keys.public_key);
  const Evaluator evaluator(context, Scheme::evaluation_key(keys));
  BasicEncryptedArithmetic<Evaluator> ops(evaluator, 1);
  std::vector<Ciphertext> values;
  for (size_t j = 0; j < inputs; ++j)
    values.push_back(encryptor.encrypt(random_plaintext(prng, params.n, params.t), prng));
  const LinearMap map = random_dense_map(prng, inputs, outputs);
  for (int degree : {1, 2}) {
    if (degree == 2) {
      for (Ciphertext& c : values)
        ops.square_unrelinearized(c);  // a dense layer after a square sums degree-2 values
    }
    // Bookkeeping that differs between inputs: noise estimates, two transparent inputs.
    for (size_t j = 0; j < inputs; ++j)
      values[j].noise_log2 += static_cast<double>(j % 5) * 0.37;
    values[1].transparent = values[inputs - 1].transparent = true;
    std::vector<double> noise;
    std::vector<char> transparent;
    for (const Ciphertext& c : values) {
      noise.push_back(c.noise_log2);
      transparent.push_back(c.transparent);
    }
    const std::vector<Ciphertext> whole = fused_linear_combinations(evaluator, map, values, 1);
    for (int ranks : {1, 2, 3, 4, 7}) {
      CAPTURE(degree);
      CAPTURE(ranks);
      std::vector<std::vector<Ciphertext>> partials;
      for (int r = 0; r < ranks; ++r) {
        const Block block = block_of(inputs, ranks, r);
        partials.push_back(fused_linear_combinations(
            evaluator, restrict_inputs(map, block),
            std::span<const Ciphertext>(values).subspan(block.begin, block.size()), 1));
      }
      for (size_t o = 0; o < outputs; ++o) {
        Ciphertext sum = partials[0][o];
        for (int r = 1; r < ranks; ++r)
          add_residues(sum, partials[static_cast<size_t>(r)][o], evaluator.context().q_base());
        sum.noise_log2 = linear_output_noise_log2(map, o, noise);
        sum.transparent = linear_output_transparent(map, o, transparent);
        check_same(sum, whole[o]);
      }
      // The outputs split: each rank's rows alone.
      for (int r = 0; r < ranks; ++r) {
        const Block block = block_of(outputs, ranks, r);
        const std::vector<Ciphertext> rows =
            fused_linear_combinations(evaluator, select_rows(map, block), values, 1);
        REQUIRE(rows.size() == block.size());
        for (size_t o = block.begin; o < block.end; ++o)
          check_same(rows[o - block.begin], whole[o]);
      }
    }
    // The bytes of a message give back the same ciphertexts; a short message is refused.
    std::vector<uint8_t> bytes;
    append_ciphertexts(bytes, whole);
    const std::vector<Ciphertext> back = read_ciphertexts(bytes, evaluator.context().ring());
    REQUIRE(back.size() == whole.size());
    for (size_t o = 0; o < outputs; ++o)
      check_same(back[o], whole[o]);
    bytes.pop_back();
    CHECK_THROWS_AS(read_ciphertexts(bytes, evaluator.context().ring()), std::runtime_error);
  }
}

}  // namespace

TEST_CASE("Blocks of items over ranks are contiguous, cover every item once, differ by at most 1") {
  for (size_t count = 0; count <= 40; ++count) {
    for (int ranks = 1; ranks <= 17; ++ranks) {
      size_t next = 0, smallest = count, largest = 0;
      for (int r = 0; r < ranks; ++r) {
        const Block block = block_of(count, ranks, r);
        CHECK(block.begin == next);
        next = block.end;
        smallest = std::min(smallest, block.size());
        largest = std::max(largest, block.size());
        for (size_t item = block.begin; item < block.end; ++item)
          CHECK(owner_of(count, ranks, item) == r);
      }
      CHECK(next == count);
      CHECK(largest - smallest <= 1);
    }
  }
  CHECK(block_of(845, 4, 0).size() == 212);
  CHECK(block_of(845, 4, 3).size() == 211);
  CHECK_THROWS_AS(block_of(10, 2, 2), std::invalid_argument);
  CHECK_THROWS_AS(block_of(10, 0, 0), std::invalid_argument);
}

TEST_CASE("A linear layer takes the split that sends fewer ciphertexts") {
  // Replicated inputs (the first layer, after the broadcast): the outputs split sends nothing.
  CHECK(choose_split(SplitChoice::automatic, true, 784, 845, 4) == LinearSplit::outputs);
  CHECK(choose_split(SplitChoice::partial_sums, true, 784, 845, 4) == LinearSplit::outputs);
  CHECK(ciphertexts_sent_per_rank(LinearSplit::outputs, true, 784, 845, 4) == 0);
  // CryptoNets' 845 → 100 layer on 4 ranks: gathering the inputs sends 212 · 3 ciphertexts per
  // rank, the partial sums 100 − 25 = 75.
  CHECK(ciphertexts_sent_per_rank(LinearSplit::outputs, false, 845, 100, 4) == 636);
  CHECK(ciphertexts_sent_per_rank(LinearSplit::partial_sums, false, 845, 100, 4) == 75);
  CHECK(choose_split(SplitChoice::automatic, false, 845, 100, 4) == LinearSplit::partial_sums);
  CHECK(choose_split(SplitChoice::automatic, false, 100, 10, 16) == LinearSplit::partial_sums);
  // A layer that widens (10 → 100) gathers its inputs instead.
  CHECK(choose_split(SplitChoice::automatic, false, 10, 100, 4) == LinearSplit::outputs);
  CHECK(choose_split(SplitChoice::outputs, false, 845, 100, 4) == LinearSplit::outputs);
  CHECK(ciphertexts_sent_per_rank(LinearSplit::partial_sums, false, 845, 100, 1) == 0);
  CHECK(parse_split_choice("partial-sums") == SplitChoice::partial_sums);
  CHECK_THROWS_AS(parse_split_choice("rows"), std::invalid_argument);
}

// The step table once printed every name as %-52s under a fixed header: a longer name (a layer
// with a long stage name, under the partial sums split) pushed its numbers to the right of the
// other lines' and of their heads.
TEST_CASE("The step table widens its step column for long names and keeps the columns aligned") {
  const std::string long_name =
      "layer 3 (dense 845 -> 100, rescaled by 2^13, a long stage name): linear, partial sums";
  REQUIRE(long_name.size() > 52);
  const std::vector<StepRow> rows = {{"broadcast inputs", 0.012, 0.01, 0.04, 0},
                                     {long_name, 1.5, 1.25, 4.75, 123456789},
                                     {"gather outputs", 0.002, 0.001, 0.003, 98765}};
  const std::string table = format_step_table("per unit (batch x modulus; mean of 6)", rows);
  std::vector<std::string> lines;
  for (size_t at = 0; at < table.size();) {
    const size_t end = table.find('\n', at);
    REQUIRE(end != std::string::npos);  // every line ends in a newline
    lines.push_back(table.substr(at, end - at));
    at = end + 1;
  }
  REQUIRE(lines.size() == 2 + rows.size());
  CHECK(lines[0] == "per unit (batch x modulus; mean of 6)");
  // The heads and every row are of one width, each name whole and where the step column begins,
  // and each column's right edge (the end of its head) is where each row's number ends.
  for (size_t i = 1; i < lines.size(); ++i)
    CHECK(lines[i].size() == lines[1].size());
  for (size_t r = 0; r < rows.size(); ++r)
    CHECK(lines[2 + r].substr(2, rows[r].name.size()) == rows[r].name);
  const std::pair<std::string, std::string> first_row[] = {
      {"wall s", "0.012"}, {"CPU s, busiest rank", "0.010"}, {"CPU s, all ranks", "0.040"}};
  for (const auto& [head, value] : first_row) {
    REQUIRE(lines[1].find(head) != std::string::npos);
    const size_t end = lines[1].find(head) + head.size();
    CHECK(lines[2].substr(end - value.size(), value.size() + 1) == value + " ");
    CHECK(lines[3][end] == ' ');
    CHECK(lines[3][end - 1] != ' ');
    CHECK(lines[4][end - 1] != ' ');
  }
  CHECK(lines[3].substr(lines[3].size() - 9) == "123456789");
  CHECK(lines[1].substr(lines[1].size() - 10) == "bytes sent");
  // No rows: the heads alone.
  CHECK(format_step_table("t", {}) ==
        "t\n  step  wall s  CPU s, busiest rank  CPU s, all ranks  bytes sent\n");
}

TEST_CASE(
    "Partial sums over blocks of inputs, reduced mod q, equal the fused kernel word for word") {
  const size_t n = 1024;
  const uint64_t t = generate_ntt_primes(40, 1, 2 * n)[0];
  SUBCASE("YASHE'") {
    check_partial_sums_reduce_exactly<yashe::Scheme>(yashe::Parameters::create(n, 7, 55, t), 23, 6);
  }
  SUBCASE("BFV") {
    check_partial_sums_reduce_exactly<bfv::Scheme>(bfv::Parameters::create(n, 7, 55, t), 23, 6);
  }
}

TEST_CASE("Partial sums reduce exactly at n = 8192, 7 primes of 55 bits" *
          doctest::test_suite("slow")) {
  const size_t n = 8192;
  const uint64_t t = generate_ntt_primes(40, 1, 2 * n)[0];
  SUBCASE("YASHE'") {
    check_partial_sums_reduce_exactly<yashe::Scheme>(paper_scale_parameters(), 40, 10);
  }
  SUBCASE("BFV") {
    check_partial_sums_reduce_exactly<bfv::Scheme>(bfv::Parameters::create(n, 7, 55, t), 40, 10);
  }
}
