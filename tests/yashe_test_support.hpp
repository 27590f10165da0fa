// Shared helpers for the YASHE' tests: parameter sets at the paper's sizes and plaintext
// arithmetic in R_t computed independently of the scheme.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <utility>
#include <vector>

#include "cryptonets/arith/primes.hpp"
#include "cryptonets/random/chacha20.hpp"
#include "cryptonets/random/samplers.hpp"
#include "cryptonets/ring/ntt.hpp"
#include "cryptonets/yashe/context.hpp"
#include "cryptonets/yashe/encryptor.hpp"
#include "cryptonets/yashe/evaluator.hpp"
#include "cryptonets/yashe/key_generator.hpp"
#include "cryptonets/yashe/types.hpp"

namespace test_support {

using namespace cryptonets;
using namespace cryptonets::yashe;

// n = 8192, q = 7 primes of 55 bits (≈ 385 bits, the paper's 383-bit scale), t a 40-bit prime
// ≡ 1 mod 2n (the paper's t ≈ 2^40, batching-capable).
inline Parameters paper_scale_parameters() {
  const size_t n = 8192;
  return Parameters::create(n, 7, 55, generate_ntt_primes(40, 1, 2 * n)[0]);
}

// n = 16384, q = 8 primes of 55 bits (≈ 440 bits).
inline Parameters large_parameters() {
  const size_t n = 16384;
  return Parameters::create(n, 8, 55, generate_ntt_primes(40, 1, 2 * n)[0]);
}

inline Plaintext random_plaintext(Prng& prng, size_t n, uint64_t t) {
  Plaintext p;
  for (size_t j = 0; j < n; ++j)
    p.coeffs.push_back(sample_uniform_below(prng, t));
  return p;
}

// Arithmetic in R_t for t prime ≡ 1 (mod 2n), the expected side of every homomorphic identity.
class PlainRing {
 public:
  PlainRing(size_t n, uint64_t t) : t_(t), ntt_(n, t_) {}

  Plaintext add(const Plaintext& a, const Plaintext& b) const {
    Plaintext r = a;
    for (size_t j = 0; j < r.coeffs.size(); ++j)
      r.coeffs[j] = add_mod(a.coeffs[j], b.coeffs[j], t_);
    return r;
  }
  Plaintext scale(const Plaintext& a, int64_t w) const {
    Plaintext r = a;
    const uint64_t wt = from_signed(w, t_);
    for (uint64_t& x : r.coeffs)
      x = mul_mod(x, wt, t_);
    return r;
  }
  Plaintext multiply(Plaintext a, Plaintext b) const {
    ntt_.forward(a.coeffs.data());
    ntt_.forward(b.coeffs.data());
    for (size_t j = 0; j < a.coeffs.size(); ++j)
      a.coeffs[j] = mul_mod(a.coeffs[j], b.coeffs[j], t_);
    ntt_.inverse(a.coeffs.data());
    return a;
  }
  Plaintext zero() const { return Plaintext{std::vector<uint64_t>(ntt_.n(), 0)}; }

 private:
  Modulus t_;
  NttTables ntt_;
};

// One key set under a context, drawn from a seeded PRNG, and the objects that use it.
struct KeyedScheme {
  std::shared_ptr<const Context> context;
  Prng prng;
  KeySet keys;
  Encryptor encryptor;
  Decryptor decryptor;
  Evaluator evaluator;

  KeyedScheme(std::shared_ptr<const Context> scheme_context, uint64_t seed)
      : context(std::move(scheme_context)),
        prng(Prng::insecure_seeded(seed)),
        keys(generate_keys(context, prng)),
        encryptor(context, keys.public_key),
        decryptor(context, keys.secret_key),
        evaluator(context, keys.evaluation_key) {}
};

// A keyed scheme with R_t arithmetic for the expected side, encrypting random plaintexts.
struct SchemeFixture : KeyedScheme {
  PlainRing plain;

  SchemeFixture(const Parameters& params, uint64_t seed)
      : KeyedScheme(Context::create(params), seed), plain(params.n, params.t) {}

  Plaintext random() { return random_plaintext(prng, context->n(), context->parameters().t); }
  Ciphertext encrypt(const Plaintext& m) { return encryptor.encrypt(m, prng); }
};

// For yashe::Scheme or bfv::Scheme: an encryptor made with an empty public key (an evaluate-only
// set) refuses encrypt and encrypt_zero with std::invalid_argument ("no public key").
template <class Scheme>
void check_encryptor_without_public_key_refuses() {
  const auto context = Scheme::Context::create(
      Scheme::Parameters::create(1024, 3, 50, generate_ntt_primes(30, 1, 2048)[0]));
  const typename Scheme::Encryptor evaluate_only(context, typename Scheme::PublicKey{});
  CHECK_FALSE(evaluate_only.has_public_key());
  Prng prng = Prng::insecure_seeded(4);  // INSECURE: test only
  const rlwe::Plaintext zero{std::vector<uint64_t>(context->n(), 0)};
  CHECK_THROWS_WITH_AS(evaluate_only.encrypt(zero, prng), doctest::Contains("no public key"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(evaluate_only.encrypt_zero(prng), doctest::Contains("no public key"),
                       std::invalid_argument);
}

}  // namespace test_support
