// Example 2: YASHE' key generation, encryption and decryption (Bos, Lauter, Loftus, Naehrig,
// "Improved Security for a Ring-Based Fully Homomorphic Encryption Scheme", IMA CC 2013, §4).
//
//   KeyGen   f', g ← ternary; f = t·f' + 1 (invertible in R_q); h = [t·g·f^-1]_q
//   Encrypt  c = [Δ·[m]_t + e + h·s]_q,  Δ = floor(q/t),  s, e ← χ_err (discrete Gaussian)
//   Decrypt  m = [round(t/q · [f·c]_q)]_t
//
// Why decryption works: f·c = Δ·f·m + f·e + t·g·s (mod q), and f·m = m + t·f'·m, so
// f·c = Δ·m + (small) (mod q) as long as the noise f·e + t·g·s - r_t(q)·f'·m stays below Δ/2.
#include <cstdint>
#include <string>
#include <vector>

#include "cryptonets/arith/primes.hpp"
#include "cryptonets/encoding/plaintext_crt.hpp"
#include "cryptonets/random/chacha20.hpp"
#include "cryptonets/yashe/encryptor.hpp"
#include "cryptonets/yashe/key_generator.hpp"
#include "cryptonets/yashe/reference.hpp"
#include "example_support.hpp"
#include "lesson.hpp"

using namespace cryptonets;
using example::show;
using lesson::claim;
using lesson::say;

int main(int argc, char** argv) {
  lesson::arguments(argc, argv);
  lesson::title("2. YASHE' basics");
  say("All randomness in this lesson comes from Prng::insecure_seeded: INSECURE, reproducible.");

  lesson::title("2.1 INSECURE toy: n = 16, one 30-bit prime q, t = 7");
  yashe::Parameters toy_params;
  toy_params.n = 16;
  toy_params.q_primes = generate_ntt_primes(30, 1, 2 * toy_params.n);
  toy_params.t = 7;
  const auto toy = yashe::Context::create(toy_params);
  const mpz_class& q = toy->q();
  say("q = %s, t = 7, Delta = floor(q/t) = %s", q.get_str().c_str(),
      toy->delta().get_str().c_str());

  Prng prng = Prng::insecure_seeded(2);
  const yashe::KeySet keys = yashe::generate_keys(toy, prng);
  std::vector<int> f_prime(keys.secret_key.f_prime.begin(), keys.secret_key.f_prime.end());
  say("secret f' (ternary)   = %s", show(f_prime, 16).c_str());
  RnsPoly f = keys.secret_key.f;
  f.to_coefficient();
  const std::vector<mpz_class> f_coeffs = f.to_bigint_centered();
  say("secret f = 7*f' + 1   = %s", show(f_coeffs, 16).c_str());
  bool f_shape = f_coeffs[0] == 7 * f_prime[0] + 1;
  for (size_t j = 1; j < 16; ++j)
    f_shape &= f_coeffs[j] == 7 * f_prime[j];
  claim(f_shape, "f = t*f' + 1: every coefficient is a multiple of t, plus 1 in the constant term");
  RnsPoly h = keys.public_key.h;
  h.to_coefficient();
  say("public h = [t*g/f]_q  = %s   (looks uniform: that is the NTRU assumption)",
      show(h.to_bigint_centered(), 4).c_str());

  const std::vector<uint64_t> message = {3, 1, 4, 1, 5, 2, 6, 5, 3, 5, 0, 0, 0, 0, 0, 1};
  const yashe::Encryptor encryptor(toy, keys.public_key);
  const yashe::Decryptor decryptor(toy, keys.secret_key);
  const yashe::Ciphertext ct = encryptor.encrypt(yashe::Plaintext{message}, prng);
  say("message m (coefficients mod 7) = %s", show(message, 16).c_str());
  say("ciphertext c                   = %s", show(ct.parts[0].to_bigint_centered(), 4).c_str());

  RnsPoly fc = multiply(keys.secret_key.f, ct.parts[0]);
  fc.to_coefficient();
  const std::vector<mpz_class> fc_coeffs = fc.to_bigint_centered();
  say("[f*c]_q                        = %s", show(fc_coeffs, 4).c_str());
  mpz_class largest_noise = 0;
  for (size_t j = 0; j < 16; ++j) {
    mpz_class noise = fc_coeffs[j] - toy->delta() * static_cast<unsigned long>(message[j]);
    noise %= q;  // the centred difference, as small as the theory says
    if (2 * noise > q) noise -= q;
    if (2 * noise < -q) noise += q;
    if (abs(noise) > largest_noise) largest_noise = abs(noise);
  }
  say("[f*c]_q - Delta*m has coefficients of at most %s against Delta/2 = %s",
      largest_noise.get_str().c_str(), mpz_class(toy->delta() / 2).get_str().c_str());
  claim(2 * largest_noise < toy->delta(),
        "the noise in [f*c]_q is below Delta/2, so rounding "
        "t/q*[f*c]_q recovers m");
  const yashe::Plaintext decrypted = decryptor.decrypt(ct);
  say("decrypted                      = %s", show(decrypted.coeffs, 16).c_str());
  claim(decrypted.coeffs == message, "Decryptor::decrypt returns the message");
  claim(example::decrypt_by_formula(*toy, keys.secret_key.f, ct.parts[0]) == message,
        "the formula [round(t/q*[f*c]_q)]_t, written out with GMP, gives the same");
  claim(yashe::reference::decrypt(*toy, keys.secret_key, ct).coeffs == message,
        "the library's GMP reference twin (yashe::reference::decrypt) gives the same");
  const yashe::Ciphertext again = encryptor.encrypt(yashe::Plaintext{message}, prng);
  claim(!(again.parts[0] == ct.parts[0]),
        "encryption is randomised: the same message encrypts differently");

  lesson::title(
      "2.2 The real size: n = 8192, q = 7 primes of 55 bits (log2 q ~ 385), t of 39 bits");
  yashe::Parameters params = yashe::Parameters::create(8192, 7, 55, 3);
  params.t = encoding::select_plaintext_moduli(8192, 39, 1, params.q_primes).front();
  say("%s", params.describe().c_str());
  say("No security level is claimed for YASHE' at these sizes (README, Security).");
  const auto context = yashe::Context::create(params);
  const yashe::KeySet real_keys = yashe::generate_keys(context, prng);
  std::vector<uint64_t> big_message(8192);
  for (uint64_t& value : big_message)
    value = prng.next_u64() % params.t;
  const yashe::Encryptor real_encryptor(context, real_keys.public_key);
  const yashe::Decryptor real_decryptor(context, real_keys.secret_key);
  const yashe::Ciphertext real_ct = real_encryptor.encrypt(yashe::Plaintext{big_message}, prng);
  say("a ciphertext is one polynomial: 8192 coefficients x 7 residues x 8 bytes = %zu KiB in "
      "memory",
      real_ct.parts[0].data().size() * 8 / 1024);
  const yashe::Plaintext real_decrypted = real_decryptor.decrypt(real_ct);
  claim(real_decrypted.coeffs == big_message,
        "8192 random coefficients mod t encrypt and decrypt exactly");
  claim(yashe::reference::decrypt(*context, real_keys.secret_key, real_ct).coeffs ==
            real_decrypted.coeffs,
        "the RNS decryption equals the GMP reference decryption bit for bit at n = 8192");
  say("fresh noise budget: %.1f bits (measured with the secret key)",
      real_decryptor.invariant_noise_budget(real_ct));
  return lesson::finish();
}
