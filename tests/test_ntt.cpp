// Negacyclic NTT checked against direct evaluation, the schoolbook negacyclic product, its own
// inverse, and across the scalar, AVX2, AVX-512 and AVX-512 IFMA paths.
#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <stdexcept>
#include <vector>

#include "cryptonets/arith/modulus.hpp"
#include "cryptonets/arith/primes.hpp"
#include "cryptonets/ring/ntt.hpp"
#include "cryptonets/ring/reference.hpp"
#include "simd_test_support.hpp"

using namespace cryptonets;

namespace {

std::vector<uint64_t> random_residues(size_t n, uint64_t q, std::mt19937_64& rng) {
  std::uniform_int_distribution<uint64_t> residue(0, q - 1);
  std::vector<uint64_t> a(n);
  for (auto& x : a)
    x = residue(rng);
  return a;
}

size_t bit_reverse(size_t i, int bits) {
  size_t r = 0;
  for (int b = 0; b < bits; ++b)
    r |= ((i >> b) & 1) << (bits - 1 - b);
  return r;
}

// mul_mod written independently of the library: the 128-bit product reduced by the compiler's %.
uint64_t mul_mod_u128(uint64_t a, uint64_t b, uint64_t q) {
  return static_cast<uint64_t>(static_cast<unsigned __int128>(a) * b % q);
}

uint64_t pow_mod_u128(uint64_t base, uint64_t exponent, uint64_t q) {
  uint64_t result = 1 % q;
  for (; exponent != 0; exponent >>= 1, base = mul_mod_u128(base, base, q)) {
    if (exponent & 1) result = mul_mod_u128(result, base, q);
  }
  return result;
}

// Definition of the transform: value i is a(ψ^(2·brv(i)+1)), by Horner's rule. O(n^2).
std::vector<uint64_t> evaluate_at_odd_psi_powers(const std::vector<uint64_t>& a, uint64_t psi,
                                                 uint64_t q) {
  const size_t n = a.size();
  int log_n = 0;
  while ((size_t{1} << log_n) < n)
    ++log_n;
  std::vector<uint64_t> values(n);
  for (size_t i = 0; i < n; ++i) {
    const uint64_t point = pow_mod_u128(psi, 2 * bit_reverse(i, log_n) + 1, q);
    uint64_t value = 0;
    for (size_t k = n; k-- > 0;)
      value = (mul_mod_u128(value, point, q) + a[k]) % q;
    values[i] = value;
  }
  return values;
}

// Schoolbook product in Z_q[x]/(x^n + 1): x^i · x^j = −x^(i+j−n) when i + j ≥ n. Products are
// summed in 128 bits (each < 2^124, so eight of them and a residue fit) and reduced by %.
std::vector<uint64_t> negacyclic_schoolbook(const std::vector<uint64_t>& a,
                                            const std::vector<uint64_t>& b, uint64_t q) {
  using u128 = unsigned __int128;
  const size_t n = a.size();
  std::vector<uint64_t> c(n);
  for (size_t k = 0; k < n; ++k) {
    u128 positive = 0, negative = 0;  // Σ a_i b_(k−i) and Σ a_i b_(n+k−i)
    for (size_t i = 0; i <= k; ++i) {
      positive += static_cast<u128>(a[i]) * b[k - i];
      if ((i & 7) == 7) positive %= q;
    }
    for (size_t i = k + 1; i < n; ++i) {
      negative += static_cast<u128>(a[i]) * b[n + k - i];
      if ((i & 7) == 7) negative %= q;
    }
    const uint64_t p = static_cast<uint64_t>(positive % q);
    const uint64_t m = static_cast<uint64_t>(negative % q);
    c[k] = p >= m ? p - m : p + q - m;
  }
  return c;
}

std::vector<uint64_t> ntt_product(const NttTables& tables, std::vector<uint64_t> a,
                                  std::vector<uint64_t> b, SimdPath path) {
  tables.forward(a.data(), path);
  tables.forward(b.data(), path);
  for (size_t i = 0; i < a.size(); ++i)
    a[i] = mul_mod(a[i], b[i], tables.modulus());
  tables.inverse(a.data(), path);
  return a;
}

std::vector<SimdPath> available_paths() {
  return test::supported_simd_paths();
}

bool all_below(const std::vector<uint64_t>& a, uint64_t q) {
  for (uint64_t x : a) {
    if (x >= q) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("NTT tables use the minimal primitive 2n-th root of unity") {
  for (size_t n : {2, 16, 8192}) {
    const Modulus q(generate_ntt_primes(60, 1, 2 * n)[0]);
    const NttTables tables(n, q);
    CHECK(tables.n() == n);
    CHECK(tables.modulus() == q);
    CHECK(tables.psi() == minimal_primitive_root(2 * n, q));
    CHECK(pow_mod_u128(tables.psi(), n, q.value()) == q.value() - 1);  // ψ^n = −1
  }
}

TEST_CASE("forward NTT equals direct evaluation at ψ^(2·brv(i)+1) for small n") {
  std::mt19937_64 rng(1);
  for (size_t n : {2, 4, 8, 16, 64, 1024}) {
    for (int bits : {30, 50, 62}) {
      const Modulus q(generate_ntt_primes(bits, 1, 2 * n)[0]);
      const NttTables tables(n, q);
      const auto a = random_residues(n, q.value(), rng);
      const auto expected = evaluate_at_odd_psi_powers(a, tables.psi(), q.value());
      // The library's reference twin is the same definition.
      CHECK(reference::negacyclic_evaluations(a, tables.psi(), q.value()) == expected);
      for (SimdPath path : available_paths()) {
        CAPTURE(n);
        CAPTURE(bits);
        CAPTURE(to_string(path));
        auto values = a;
        tables.forward(values.data(), path);
        CHECK(values == expected);
      }
    }
  }
}

TEST_CASE("NTT product equals schoolbook negacyclic product at n = 8192") {
  const size_t n = 8192;
  std::mt19937_64 rng(2);
  for (int bits : {50, 55, 60, 62}) {
    const Modulus q(generate_ntt_primes(bits, 1, 2 * n)[0]);
    const NttTables tables(n, q);
    const auto a = random_residues(n, q.value(), rng);
    const auto b = random_residues(n, q.value(), rng);
    const auto expected = negacyclic_schoolbook(a, b, q.value());
    for (SimdPath path : available_paths()) {
      CAPTURE(bits);
      CAPTURE(to_string(path));
      CHECK(ntt_product(tables, a, b, path) == expected);
    }
  }
}

TEST_CASE("NTT product equals schoolbook negacyclic product at n = 16384") {
  const size_t n = 16384;
  std::mt19937_64 rng(3);
  for (int bits : {50, 58, 62}) {
    const Modulus q(generate_ntt_primes(bits, 1, 2 * n)[0]);
    const NttTables tables(n, q);
    const auto a = random_residues(n, q.value(), rng);
    const auto b = random_residues(n, q.value(), rng);
    const auto expected = negacyclic_schoolbook(a, b, q.value());
    for (SimdPath path : available_paths()) {
      CAPTURE(bits);
      CAPTURE(to_string(path));
      CHECK(ntt_product(tables, a, b, path) == expected);
    }
  }
}

TEST_CASE("NTT product of x^(n-1) and x is -1, the negacyclic wrap") {
  const size_t n = 4096;
  const Modulus q(generate_ntt_primes(62, 1, 2 * n)[0]);
  const NttTables tables(n, q);
  std::vector<uint64_t> a(n, 0), b(n, 0), expected(n, 0);
  a[n - 1] = 1;
  b[1] = 1;
  expected[0] = q.value() - 1;
  for (SimdPath path : available_paths())
    CHECK(ntt_product(tables, a, b, path) == expected);
}

TEST_CASE("inverse NTT undoes forward NTT for n = 2^10 … 2^15 with the largest 62-bit primes") {
  std::mt19937_64 rng(4);
  for (size_t n = 1024; n <= 32768; n *= 2) {
    for (uint64_t prime : generate_ntt_primes(62, 2, 2 * n)) {
      const Modulus q(prime);
      const NttTables tables(n, q);
      const std::vector<std::vector<uint64_t>> inputs = {random_residues(n, prime, rng),
                                                         std::vector<uint64_t>(n, 0),
                                                         std::vector<uint64_t>(n, prime - 1)};
      for (const auto& a : inputs) {
        for (SimdPath path : available_paths()) {
          CAPTURE(n);
          CAPTURE(prime);
          CAPTURE(to_string(path));
          auto values = a;
          tables.forward(values.data(), path);
          CHECK(all_below(values, prime));
          tables.inverse(values.data(), path);
          CHECK(values == a);
        }
      }
    }
  }
}

namespace {

// Every vector path against the scalar path, forward and inverse, for n = first … last.
void check_vector_paths_equal_scalar(size_t first, size_t last) {
  std::mt19937_64 rng(5);
  const std::vector<SimdPath> paths = test::supported_vector_paths();
  for (size_t n = first; n <= last; n *= 2) {
    // 49 and 50 bits: the IFMA kernels' range, up to the largest prime below 2^50.
    for (int bits : {20, 40, 49, 50, 59, 62}) {
      const Modulus q(generate_ntt_primes(bits, 1, 2 * n)[0]);
      const NttTables tables(n, q);
      const std::vector<std::vector<uint64_t>> inputs = {random_residues(n, q.value(), rng),
                                                         std::vector<uint64_t>(n, q.value() - 1)};
      for (const auto& a : inputs) {
        auto scalar_forward = a, scalar_inverse = a;
        tables.forward(scalar_forward.data(), SimdPath::scalar);
        tables.inverse(scalar_inverse.data(), SimdPath::scalar);
        for (SimdPath path : paths) {
          CAPTURE(n);
          CAPTURE(bits);
          CAPTURE(to_string(tables.kernel(path)));
          auto values = a;
          tables.forward(values.data(), path);
          CHECK(values == scalar_forward);
          // Inverse on arbitrary residues (not only on forward outputs).
          values = a;
          tables.inverse(values.data(), path);
          CHECK(values == scalar_inverse);
        }
      }
    }
  }
}

}  // namespace

TEST_CASE("vector NTT outputs equal scalar NTT outputs bit for bit for n = 2 … 2^14") {
  check_vector_paths_equal_scalar(2, size_t{1} << 14);
}

TEST_CASE("vector NTT outputs equal scalar NTT outputs bit for bit for n = 2^15 … 2^17" *
          doctest::test_suite("slow")) {
  check_vector_paths_equal_scalar(size_t{1} << 15, size_t{1} << 17);
}

TEST_CASE("NTT kernel choice: IFMA only below 2^50, vector kernels only from n = 8 or 16") {
  const Modulus small_q(generate_ntt_primes(50, 1, 2 * 8192)[0]);
  const Modulus large_q(generate_ntt_primes(51, 1, 2 * 8192)[0]);
  REQUIRE(small_q.value() < (uint64_t{1} << 50));
  REQUIRE(large_q.value() > (uint64_t{1} << 50));
  const NttTables small(8192, small_q), large(8192, large_q), tiny(8, small_q);
  for (SimdPath path : test::supported_simd_paths()) {
    CAPTURE(to_string(path));
    CHECK(small.kernel(path) == path);
    CHECK(large.kernel(path) == (path == SimdPath::avx512ifma ? SimdPath::avx512 : path));
    CHECK(tiny.kernel(path) == (path == SimdPath::scalar ? SimdPath::scalar : SimdPath::avx2));
  }
  // The no-argument transforms follow simd_path().
  for (SimdPath path : test::supported_simd_paths()) {
    const ScopedSimdPath forced(path);
    CHECK(simd_path() == path);
  }
}

TEST_CASE("NTT tables accept n = 2^17 and round-trip at that size") {
  const size_t n = size_t{1} << 17;
  const Modulus q(generate_ntt_primes(61, 1, 2 * n)[0]);
  const NttTables tables(n, q);
  std::mt19937_64 rng(6);
  const auto a = random_residues(n, q.value(), rng);
  auto values = a;
  tables.forward(values.data());
  tables.inverse(values.data());
  CHECK(values == a);
}

TEST_CASE("NTT tables reject a degree that is not a power of two in [2, 2^17]") {
  const Modulus q(generate_ntt_primes(60, 1, size_t{1} << 19)[0]);  // ≡ 1 mod 2^19
  for (size_t n : {size_t{0}, size_t{1}, size_t{3}, size_t{12}, size_t{1000}, size_t{1} << 18}) {
    CAPTURE(n);
    CHECK_THROWS_AS(NttTables(n, q), std::invalid_argument);
  }
}

TEST_CASE("NTT tables reject a modulus that is not a prime ≡ 1 (mod 2n)") {
  const size_t n = 1024;
  // A prime q = k·n + 1 with k odd: q ≡ n + 1 (mod 2n), so Z_q has no primitive 2n-th root.
  uint64_t k = (uint64_t{1} << 30) + 1;
  while (!is_prime(k * n + 1))
    k += 2;
  CHECK_THROWS_AS(NttTables(n, Modulus(k * n + 1)), std::invalid_argument);
  // ≡ 1 (mod 2n) but composite.
  const uint64_t composite = (2 * n + 1) * (16 * n + 1);
  REQUIRE(composite % (2 * n) == 1);
  CHECK_THROWS_AS(NttTables(n, Modulus(composite)), std::invalid_argument);
  CHECK_NOTHROW(NttTables(n, Modulus(generate_ntt_primes(40, 1, 2 * n)[0])));
}
