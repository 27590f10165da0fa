#include "cryptonets/yashe/reference.hpp"

#include "cryptonets/ring/reference.hpp"
#include "cryptonets/rlwe/reference.hpp"

namespace cryptonets::yashe::reference {

using rlwe::reference::centred_mod;
using rlwe::reference::coefficients;

RnsPoly multiply_without_relinearization(const Context& context, const RnsPoly& c1,
                                         const RnsPoly& c2) {
  const std::vector<mpz_class> product =
      cryptonets::reference::negacyclic_multiply_ntl(coefficients(c1), coefficients(c2));
  return rlwe::reference::scale_and_round(context.rns(), product);
}

Plaintext decrypt(const Context& context, const SecretKey& secret_key, const Ciphertext& ct) {
  const mpz_class& q = context.q();
  std::vector<mpz_class> f = coefficients(secret_key.f);
  std::vector<mpz_class> key = f;
  if (ct.degree == 2) {
    key = cryptonets::reference::negacyclic_multiply_ntl(f, f);
    for (mpz_class& x : key)
      x = centred_mod(x, q);
  }
  const std::vector<mpz_class> product =
      cryptonets::reference::negacyclic_multiply_ntl(key, coefficients(ct.parts[0]));
  return rlwe::reference::round_to_plaintext(context.rns(), product);
}

}  // namespace cryptonets::yashe::reference
