#include "cryptonets/bfv/reference.hpp"

#include "cryptonets/ring/reference.hpp"
#include "cryptonets/rlwe/reference.hpp"

namespace cryptonets::bfv::reference {

using cryptonets::reference::negacyclic_multiply_ntl;
using rlwe::reference::centred_mod;
using rlwe::reference::coefficients;

namespace {

std::vector<mpz_class> sum(std::vector<mpz_class> a, const std::vector<mpz_class>& b) {
  for (size_t j = 0; j < a.size(); ++j)
    a[j] += b[j];
  return a;
}

}  // namespace

Ciphertext multiply_without_relinearization(const Context& context, const Ciphertext& a,
                                            const Ciphertext& b) {
  const std::vector<mpz_class> a0 = coefficients(a.parts[0]), a1 = coefficients(a.parts[1]);
  const std::vector<mpz_class> b0 = coefficients(b.parts[0]), b1 = coefficients(b.parts[1]);
  Ciphertext result;
  result.parts.push_back(
      rlwe::reference::scale_and_round(context.rns(), negacyclic_multiply_ntl(a0, b0)));
  result.parts.push_back(rlwe::reference::scale_and_round(
      context.rns(), sum(negacyclic_multiply_ntl(a0, b1), negacyclic_multiply_ntl(a1, b0))));
  result.parts.push_back(
      rlwe::reference::scale_and_round(context.rns(), negacyclic_multiply_ntl(a1, b1)));
  result.degree = 2;
  result.key_id = a.key_id;
  return result;
}

Ciphertext relinearize(const Context& context, const RelinearizationKey& key,
                       const Ciphertext& ct) {
  Ciphertext result = ct;
  result.parts.resize(2);
  result.parts[0] += rlwe::reference::gadget_product(context.rns(), ct.parts[2], key.b);
  result.parts[1] += rlwe::reference::gadget_product(context.rns(), ct.parts[2], key.a);
  result.degree = 1;
  return result;
}

Plaintext decrypt(const Context& context, const SecretKey& secret_key, const Ciphertext& ct) {
  std::vector<mpz_class> s(secret_key.coefficients.begin(), secret_key.coefficients.end());
  // x = c_0 + c_1·s + c_2·s² over Z[x]/(x^n + 1), then read modulo q.
  std::vector<mpz_class> x =
      sum(coefficients(ct.parts[0]), negacyclic_multiply_ntl(coefficients(ct.parts[1]), s));
  if (ct.parts.size() == 3) {
    const std::vector<mpz_class> s_squared = negacyclic_multiply_ntl(s, s);
    x = sum(x, negacyclic_multiply_ntl(coefficients(ct.parts[2]), s_squared));
  }
  for (mpz_class& v : x)
    v = centred_mod(v, context.rns().q());
  return rlwe::reference::round_to_plaintext(context.rns(), x);
}

}  // namespace cryptonets::bfv::reference
