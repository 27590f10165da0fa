#include "cryptonets/ring/reference.hpp"

#include <NTL/ZZX.h>

#include <stdexcept>
#include <string>

namespace cryptonets::reference {

namespace {

void require_same_nonzero_size(const std::vector<mpz_class>& a, const std::vector<mpz_class>& b,
                               const char* caller) {
  if (a.size() != b.size() || a.empty()) {
    throw std::invalid_argument(std::string(caller) + ": operands have " +
                                std::to_string(a.size()) + " and " + std::to_string(b.size()) +
                                " coefficients; expected the same non-zero degree n");
  }
}

// mpz ↔ NTL::ZZ through the little-endian magnitude bytes plus the sign: both libraries import
// and export bytes directly, which is much faster than going through decimal strings.
NTL::ZZ to_ntl(const mpz_class& x, std::vector<unsigned char>& buffer) {
  size_t bytes = (mpz_sizeinbase(x.get_mpz_t(), 2) + 7) / 8;
  buffer.resize(bytes);
  size_t written = 0;
  mpz_export(buffer.data(), &written, -1, 1, 0, 0, x.get_mpz_t());
  NTL::ZZ result = NTL::ZZFromBytes(buffer.data(), static_cast<long>(written));
  if (sgn(x) < 0) NTL::negate(result, result);
  return result;
}

mpz_class from_ntl(const NTL::ZZ& x, std::vector<unsigned char>& buffer) {
  long bytes = NTL::NumBytes(x);
  buffer.resize(static_cast<size_t>(bytes));
  NTL::BytesFromZZ(buffer.data(), x, bytes);  // |x|
  mpz_class result;
  mpz_import(result.get_mpz_t(), static_cast<size_t>(bytes), -1, 1, 0, 0, buffer.data());
  if (NTL::sign(x) < 0) result = -result;
  return result;
}

}  // namespace

std::vector<mpz_class> negacyclic_multiply_schoolbook(const std::vector<mpz_class>& a,
                                                      const std::vector<mpz_class>& b) {
  require_same_nonzero_size(a, b, "negacyclic_multiply_schoolbook");
  const size_t n = a.size();
  std::vector<mpz_class> c(n);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < n; ++j) {
      // x^i · x^j = x^(i+j), and x^n = -1 in Z[x]/(x^n + 1).
      if (i + j < n) {
        mpz_addmul(c[i + j].get_mpz_t(), a[i].get_mpz_t(), b[j].get_mpz_t());
      } else {
        mpz_submul(c[i + j - n].get_mpz_t(), a[i].get_mpz_t(), b[j].get_mpz_t());
      }
    }
  }
  return c;
}

std::vector<mpz_class> negacyclic_multiply_ntl(const std::vector<mpz_class>& a,
                                               const std::vector<mpz_class>& b) {
  require_same_nonzero_size(a, b, "negacyclic_multiply_ntl");
  const long n = static_cast<long>(a.size());
  std::vector<unsigned char> buffer;
  NTL::ZZX fa, fb;
  fa.SetLength(n);
  fb.SetLength(n);
  for (long i = 0; i < n; ++i) {
    fa[i] = to_ntl(a[static_cast<size_t>(i)], buffer);
    fb[i] = to_ntl(b[static_cast<size_t>(i)], buffer);
  }
  fa.normalize();
  fb.normalize();
  NTL::ZZX product;
  NTL::mul(product, fa, fb);  // exact product in Z[x], degree < 2n - 1
  // Fold x^(n+i) = -x^i.
  NTL::ZZX folded;
  folded.SetLength(n);
  for (long k = 0; k <= NTL::deg(product); ++k) {
    if (k < n) {
      folded[k] += product[k];
    } else {
      folded[k - n] -= product[k];
    }
  }
  std::vector<mpz_class> c(static_cast<size_t>(n));
  for (long i = 0; i < n; ++i)
    c[static_cast<size_t>(i)] = from_ntl(folded[i], buffer);
  return c;
}

std::vector<uint64_t> negacyclic_evaluations(const std::vector<uint64_t>& a, uint64_t psi,
                                             uint64_t q) {
  using u128 = unsigned __int128;
  const size_t n = a.size();
  int log_n = 0;
  while ((size_t{1} << log_n) < n)
    ++log_n;
  if (n == 0 || (size_t{1} << log_n) != n) {
    throw std::invalid_argument("negacyclic_evaluations: n = " + std::to_string(n) +
                                " is not a power of two");
  }
  auto multiply = [q](uint64_t x, uint64_t y) { return static_cast<uint64_t>(u128{x} * y % q); };
  std::vector<uint64_t> values(n);
  for (size_t i = 0; i < n; ++i) {
    size_t reversed = 0;
    for (int b = 0; b < log_n; ++b)
      reversed |= ((i >> b) & 1) << (log_n - 1 - b);
    uint64_t point = 1;  // ψ^(2·brv(i)+1) by repeated multiplication
    for (size_t e = 0; e < 2 * reversed + 1; ++e)
      point = multiply(point, psi);
    uint64_t value = 0;
    for (size_t k = n; k-- > 0;)
      value = static_cast<uint64_t>((u128{multiply(value, point)} + a[k]) % q);
    values[i] = value;
  }
  return values;
}

std::vector<uint64_t> base_convert_centered(const RnsBase& from, const std::vector<Modulus>& to,
                                            const uint64_t* in, size_t n) {
  std::vector<uint64_t> out(to.size() * n);
  for (size_t column = 0; column < n; ++column) {
    const mpz_class x = from.compose_centered(in + column, n);
    for (size_t j = 0; j < to.size(); ++j) {
      mpz_class r;
      mpz_fdiv_r_ui(r.get_mpz_t(), x.get_mpz_t(), to[j].value());
      out[j * n + column] = r.get_ui();
    }
  }
  return out;
}

}  // namespace cryptonets::reference
