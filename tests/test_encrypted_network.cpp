// The ciphertext policy of the network runtime: the fused linear kernel against its one-term-at-a-
// time reference, and whole networks whose decrypted outputs must equal the plain integer network.
#include <doctest/doctest.h>

#include <cmath>

#include "cryptonets/nn/encrypted_arithmetic.hpp"
#include "cryptonets/yashe/encryptor.hpp"
#include "cryptonets/yashe/key_generator.hpp"
#include "yashe_test_support.hpp"

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

TEST_CASE("the fused linear kernel equals one multiply_scalar and add per term, bit for bit") {
  const Parameters params = paper_scale_parameters();
  auto context = Context::create(params);
  Prng prng = Prng::insecure_seeded(31);
  KeySet keys = generate_keys(context, prng);
  Encryptor encryptor(context, keys.public_key);
  Decryptor decryptor(context, keys.secret_key);
  Evaluator evaluator(context, keys.evaluation_key);
  PlainRing plain(params.n, params.t);

  std::vector<Plaintext> messages;
  std::vector<Ciphertext> inputs;
  for (int j = 0; j < 12; ++j) {
    messages.push_back(random_plaintext(prng, params.n, params.t));
    inputs.push_back(encryptor.encrypt(messages.back(), prng));
  }
  const LinearMap map = random_map(prng, inputs.size(), 5, 40);
  for (int threads : {1, 2}) {
    const std::vector<Ciphertext> fused =
        fused_linear_combinations(evaluator, map, inputs, threads);
    REQUIRE(fused.size() == map.outputs);
    for (size_t o = 0; o < map.outputs; ++o) {
      const Ciphertext expected = weighted_sum_reference(evaluator, inputs, map.terms_of(o));
      CHECK(fused[o].c == expected.c);
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
