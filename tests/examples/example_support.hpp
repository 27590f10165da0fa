// Small helpers shared by the numbered examples (not part of the library).
#pragma once

#include <gmpxx.h>

#include <cstdint>
#include <string>
#include <vector>

#include "cryptonets/ring/poly.hpp"
#include "cryptonets/yashe/context.hpp"

namespace example {

using namespace cryptonets;

// Decryption written out as the formula m = [round(t/q · [key·c]_q)]_t (BLLN13 §4), with key = f
// for degree 1 and f² for degree 2: what Decryptor::decrypt computes in RNS. `key` in any form.
inline std::vector<uint64_t> decrypt_by_formula(const yashe::Context& context, const RnsPoly& key,
                                                const RnsPoly& c) {
  RnsPoly product = multiply(key, c);
  product.to_coefficient();
  const mpz_class& q = context.q();
  const mpz_class t = static_cast<unsigned long>(context.parameters().t);
  std::vector<uint64_t> m;
  for (const mpz_class& x : product.to_bigint_centered()) {  // [key·c]_q, centred
    mpz_class numerator = 2 * t * x + q, rounded, reduced;   // round(t·x/q), q odd: no ties
    mpz_fdiv_q(rounded.get_mpz_t(), numerator.get_mpz_t(), mpz_class(2 * q).get_mpz_t());
    mpz_fdiv_r(reduced.get_mpz_t(), rounded.get_mpz_t(), t.get_mpz_t());
    m.push_back(reduced.get_ui());
  }
  return m;
}

template <class T>
std::string show(const std::vector<T>& values, size_t count) {
  std::string text = "(";
  for (size_t i = 0; i < count && i < values.size(); ++i)
    text += (i ? ", " : "") + std::to_string(values[i]);
  return text + (values.size() > count ? ", ...)" : ")");
}

inline std::string show(const std::vector<mpz_class>& values, size_t count) {
  std::string text = "(";
  for (size_t i = 0; i < count && i < values.size(); ++i)
    text += (i ? ", " : "") + values[i].get_str();
  return text + (values.size() > count ? ", ...)" : ")");
}

}  // namespace example
