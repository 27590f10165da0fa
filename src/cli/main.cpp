// Interim main job (until encrypted MNIST lands): a timed NTT round trip at n = 8192 and a YASHE'
// square at the paper's scale, with the honest security summary first.
#include <chrono>
#include <cstdio>
#include <exception>

#include "cryptonets/arith/primes.hpp"
#include "cryptonets/random/samplers.hpp"
#include "cryptonets/ring/ntt.hpp"
#include "cryptonets/yashe/encryptor.hpp"
#include "cryptonets/yashe/evaluator.hpp"
#include "cryptonets/yashe/key_generator.hpp"
#include "cryptonets/yashe/security.hpp"

using namespace cryptonets;
using Clock = std::chrono::steady_clock;

static double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

int main() try {
  const size_t n = 8192;
  const auto params = yashe::Parameters::create(n, 7, 55, generate_ntt_primes(40, 1, 2 * n)[0]);
  std::printf("%s\n", yashe::assess_security(params).one_line().c_str());
  std::printf("parameters: %s\n", params.describe().c_str());

  Prng prng = Prng::from_os_entropy();
  const Modulus q(generate_ntt_primes(60, 1, 2 * n)[0]);
  NttTables ntt(n, q);
  std::vector<uint64_t> a(n), original;
  for (auto& x : a)
    x = sample_uniform_below(prng, q.value());
  original = a;
  const int rounds = 1000;
  auto start = Clock::now();
  for (int r = 0; r < rounds; ++r) {
    ntt.forward(a.data());
    ntt.inverse(a.data());
  }
  std::printf("NTT round trip, n = %zu, 60-bit prime: %.1f us (identity: %s)\n", n,
              1000 * ms_since(start) / rounds, a == original ? "yes" : "NO");

  auto context = yashe::Context::create(params);
  start = Clock::now();
  const yashe::KeySet keys = yashe::generate_keys(context, prng);
  std::printf("keygen: %.1f ms\n", ms_since(start));
  yashe::Encryptor encryptor(context, keys.public_key);
  yashe::Decryptor decryptor(context, keys.secret_key);
  yashe::Evaluator evaluator(context, keys.evaluation_key);
  yashe::Plaintext m;
  m.coeffs.assign(n, 0);
  m.coeffs[0] = 12345;  // the constant 12345: its square is 152399025
  start = Clock::now();
  const yashe::Ciphertext c = encryptor.encrypt(m, prng);
  std::printf("encrypt: %.1f ms, noise budget %.1f bits\n", ms_since(start),
              decryptor.invariant_noise_budget(c));
  start = Clock::now();
  const yashe::Ciphertext squared = evaluator.square(c);
  std::printf("square + relinearise: %.1f ms, noise budget %.1f bits\n", ms_since(start),
              decryptor.invariant_noise_budget(squared));
  const uint64_t result = decryptor.decrypt(squared).coeffs[0];
  std::printf("decrypted 12345^2 = %llu (%s)\n", static_cast<unsigned long long>(result),
              result == 152399025ull ? "correct" : "WRONG");
  return result == 152399025ull && a == original ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "cryptonets: %s\n", e.what());
  return 1;
}
