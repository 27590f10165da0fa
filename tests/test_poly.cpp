// RNS polynomials of Z_Q[x]/(x^n + 1) checked coefficient-wise against GMP, and their NTT
// product against NTL's exact integer product (itself checked against the schoolbook rule).
#include <doctest/doctest.h>
#include <gmpxx.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <memory>
#include <random>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#if defined(__GLIBC__)
#include <unistd.h>
#endif

#include "cryptonets/arith/primes.hpp"
#include "cryptonets/ring/memory_policy.hpp"
#include "cryptonets/ring/page_buffer.hpp"
#include "cryptonets/ring/poly.hpp"
#include "cryptonets/ring/reference.hpp"

using namespace cryptonets;

namespace {

using BigPoly = std::vector<mpz_class>;

// Mixed 50-62 bit NTT primes for degree n: 7 primes (~404 bits) or 8 primes (~444 bits).
std::vector<uint64_t> mixed_primes(size_t n, size_t count) {
  const std::pair<int, size_t> parts7[] = {{62, 2}, {60, 2}, {55, 2}, {50, 1}};
  const std::pair<int, size_t> parts8[] = {{62, 2}, {60, 3}, {52, 2}, {50, 1}};
  std::vector<uint64_t> primes;
  for (auto [bits, k] : count == 7 ? std::span(parts7) : std::span(parts8)) {
    for (uint64_t q : generate_ntt_primes(bits, k, 2 * n))
      primes.push_back(q);
  }
  REQUIRE(primes.size() == count);
  return primes;
}

std::shared_ptr<const RingContext> make_ring(size_t n, size_t prime_count) {
  return std::make_shared<const RingContext>(n, mixed_primes(n, prime_count));
}

mpz_class centered_mod(const mpz_class& x, const mpz_class& m) {
  mpz_class r;
  mpz_fdiv_r(r.get_mpz_t(), x.get_mpz_t(), m.get_mpz_t());
  if (2 * r > m) r -= m;
  return r;
}

BigPoly centered_mod(const BigPoly& a, const mpz_class& m) {
  BigPoly r(a.size());
  for (size_t i = 0; i < a.size(); ++i)
    r[i] = centered_mod(a[i], m);
  return r;
}

// Uniform coefficients in (-Q/2, Q/2], the full range of R_Q.
BigPoly random_centered(size_t n, const mpz_class& q, gmp_randclass& rng) {
  BigPoly a(n);
  for (auto& c : a)
    c = centered_mod(rng.get_z_range(q), q);
  return a;
}

// Signed coefficients of `bits` bits, not reduced by anything.
BigPoly random_signed(size_t n, size_t bits, gmp_randclass& rng) {
  BigPoly a(n);
  for (auto& c : a) {
    c = rng.get_z_bits(bits);
    if (rng.get_z_bits(1) == 1) c = -c;
  }
  return a;
}

}  // namespace

TEST_CASE("RingContext rejects a degree that is not a power of two and primes not 1 mod 2n") {
  const auto primes = generate_ntt_primes(60, 2, 2 * 4096);
  CHECK_THROWS_AS(RingContext(3000, primes), std::invalid_argument);
  CHECK_THROWS_AS(RingContext(0, primes), std::invalid_argument);
  // A prime ≡ 1 (mod 2·1024) but not (mod 2·8192) has no primitive 16384-th root of unity.
  uint64_t wrong = 0;
  for (uint64_t p : generate_ntt_primes(60, 40, 2 * 1024)) {
    if (p % (2 * 8192) != 1) wrong = p;
  }
  REQUIRE(wrong != 0);
  CHECK_THROWS_AS(RingContext(8192, {wrong}), std::invalid_argument);
  CHECK_NOTHROW(RingContext(1024, {wrong}));
  CHECK_THROWS_AS(RingContext(8192, {primes[0], primes[0]}), std::invalid_argument);
  CHECK_THROWS_AS(RingContext(8, std::vector<uint64_t>{}), std::invalid_argument);
  RingContext ring(4096, primes);
  CHECK(ring.n() == 4096);
  CHECK(ring.rns_size() == 2);
  CHECK(ring.ntt(1).modulus().value() == primes[1]);
}

TEST_CASE("from_bigint and to_bigint_centered round trip coefficients of any sign and size") {
  gmp_randclass rng(gmp_randinit_default);
  rng.seed(21);
  auto ring = make_ring(8192, 7);
  const mpz_class& q = ring->base().product();
  BigPoly a = random_signed(ring->n(), mpz_sizeinbase(q.get_mpz_t(), 2) + 40, rng);
  const mpz_class half = q / 2;
  const mpz_class edges[] = {0, 1, -1, half, -half, half + 1, q - 1, q, -q, q * q + 3};
  for (size_t k = 0; k < std::size(edges); ++k)
    a[k] = edges[k];
  RnsPoly p = RnsPoly::from_bigint(ring, a);
  CHECK(p.form() == PolyForm::coefficient);
  CHECK(p.to_bigint_centered() == centered_mod(a, q));
  CHECK_THROWS_AS(RnsPoly::from_bigint(ring, BigPoly(ring->n() - 1)), std::invalid_argument);
}

TEST_CASE("from_signed equals from_bigint for 64-bit coefficients including the extremes") {
  std::mt19937_64 rng(22);
  auto ring = make_ring(8192, 8);
  std::vector<int64_t> coeffs(ring->n());
  for (auto& c : coeffs)
    c = static_cast<int64_t>(rng());
  const int64_t extremes[] = {0,
                              1,
                              -1,
                              std::numeric_limits<int64_t>::min(),
                              std::numeric_limits<int64_t>::min() + 1,
                              std::numeric_limits<int64_t>::max(),
                              -3,
                              3};
  for (size_t k = 0; k < std::size(extremes); ++k)
    coeffs[k] = extremes[k];
  BigPoly big(coeffs.size());
  for (size_t j = 0; j < coeffs.size(); ++j)
    big[j] = mpz_class(static_cast<long>(coeffs[j]));
  RnsPoly p = RnsPoly::from_signed(ring, coeffs);
  CHECK(p == RnsPoly::from_bigint(ring, big));
  CHECK(p.to_bigint_centered() == big);  // |c| < 2^63 << Q/2: no wrap-around

  // Coefficients below every prime take the branch-free lift: the same residues.
  uint64_t smallest_prime = ~uint64_t{0};
  for (const Modulus& q : ring->base().moduli())
    smallest_prime = std::min(smallest_prime, q.value());
  const int64_t largest_small = static_cast<int64_t>(smallest_prime - 1);
  for (size_t j = 0; j < coeffs.size(); ++j) {
    coeffs[j] =
        j < 2 ? (j == 0 ? largest_small : -largest_small) : static_cast<int64_t>(rng() % 41) - 20;
    big[j] = mpz_class(static_cast<long>(coeffs[j]));
  }
  CHECK(RnsPoly::from_signed(ring, coeffs) == RnsPoly::from_bigint(ring, big));
  CHECK_THROWS_AS(RnsPoly::from_signed(ring, std::vector<int64_t>(5)), std::invalid_argument);
}

TEST_CASE("to_coefficient undoes to_evaluation and forms are tracked") {
  gmp_randclass rng(gmp_randinit_default);
  rng.seed(23);
  for (size_t n : {size_t{8192}, size_t{16384}}) {
    CAPTURE(n);
    auto ring = make_ring(n, n == 8192 ? 7 : 8);
    RnsPoly a = RnsPoly::from_bigint(ring, random_centered(n, ring->base().product(), rng));
    RnsPoly original = a;
    a.to_evaluation();
    CHECK(a.form() == PolyForm::evaluation);
    CHECK_FALSE(a == original);  // a different form is a different representation
    RnsPoly evaluated = a;
    a.to_evaluation();  // no-op
    CHECK(a == evaluated);
    a.to_coefficient();
    CHECK(a.form() == PolyForm::coefficient);
    CHECK(a == original);
    a.to_coefficient();  // no-op
    CHECK(a == original);
    // A separately built context with the same degree and primes is the same ring.
    auto twin = std::make_shared<const RingContext>(n, mixed_primes(n, n == 8192 ? 7 : 8));
    CHECK(RnsPoly::from_bigint(twin, original.to_bigint_centered()) == original);
    RnsPoly zero(ring, PolyForm::evaluation);
    zero.to_coefficient();
    CHECK(zero == RnsPoly(ring, PolyForm::coefficient));
    // Equal words in different forms are different polynomials (zero is the only such case).
    CHECK_FALSE(RnsPoly(ring, PolyForm::evaluation) == RnsPoly(ring, PolyForm::coefficient));
  }
}

TEST_CASE("add, sub and negate equal GMP coefficient-wise in both forms") {
  gmp_randclass rng(gmp_randinit_default);
  rng.seed(24);
  auto ring = make_ring(8192, 7);
  const mpz_class& q = ring->base().product();
  BigPoly a = random_centered(ring->n(), q, rng), b = random_centered(ring->n(), q, rng);
  BigPoly sum(a.size()), difference(a.size()), negation(a.size());
  for (size_t j = 0; j < a.size(); ++j) {
    sum[j] = centered_mod(a[j] + b[j], q);
    difference[j] = centered_mod(a[j] - b[j], q);
    negation[j] = centered_mod(-a[j], q);
  }
  RnsPoly pa = RnsPoly::from_bigint(ring, a), pb = RnsPoly::from_bigint(ring, b);
  CHECK((pa + pb).to_bigint_centered() == sum);
  CHECK((pa - pb).to_bigint_centered() == difference);
  CHECK((-pa).to_bigint_centered() == negation);
  CHECK((pa - pa) == RnsPoly(ring, PolyForm::coefficient));

  // The NTT is linear, so the same operations in evaluation form give the same polynomials.
  RnsPoly ea = pa, eb = pb;
  ea.to_evaluation();
  eb.to_evaluation();
  RnsPoly s = ea + eb, d = ea - eb, ng = -ea;
  CHECK(s.form() == PolyForm::evaluation);
  CHECK(ng.form() == PolyForm::evaluation);
  s.to_coefficient();
  d.to_coefficient();
  ng.to_coefficient();
  CHECK(s.to_bigint_centered() == sum);
  CHECK(d.to_bigint_centered() == difference);
  CHECK(ng.to_bigint_centered() == negation);
}

TEST_CASE("multiply_scalar and multiply_bigint equal GMP for signed, extreme and huge factors") {
  gmp_randclass rng(gmp_randinit_default);
  rng.seed(25);
  auto ring = make_ring(8192, 8);
  const mpz_class& q = ring->base().product();
  BigPoly a = random_centered(ring->n(), q, rng);
  RnsPoly pa = RnsPoly::from_bigint(ring, a);
  RnsPoly ea = pa;
  ea.to_evaluation();

  auto check_factor = [&](const mpz_class& w, auto multiply_by) {
    CAPTURE(w.get_str());
    BigPoly expected(a.size());
    for (size_t j = 0; j < a.size(); ++j)
      expected[j] = centered_mod(a[j] * w, q);
    RnsPoly c = pa;
    multiply_by(c);
    CHECK(c.form() == PolyForm::coefficient);
    CHECK(c.to_bigint_centered() == expected);
    RnsPoly e = ea;
    multiply_by(e);
    CHECK(e.form() == PolyForm::evaluation);
    e.to_coefficient();
    CHECK(e.to_bigint_centered() == expected);
  };

  const int64_t scalars[] = {0,
                             1,
                             -1,
                             2,
                             -7,
                             1234567890123,
                             -987654321987,
                             std::numeric_limits<int64_t>::max(),
                             std::numeric_limits<int64_t>::min(),
                             std::numeric_limits<int64_t>::min() + 1};
  for (int64_t w : scalars) {
    check_factor(mpz_class(static_cast<long>(w)), [w](RnsPoly& p) { p.multiply_scalar(w); });
  }
  const mpz_class half = q / 2;
  const mpz_class bigints[] = {mpz_class(0),
                               mpz_class(-1),
                               q,
                               q - 1,
                               -q,
                               half,
                               -half,
                               q * q + 12345,
                               -(q * 3) + 5,
                               rng.get_z_bits(1000),
                               -mpz_class(rng.get_z_bits(300))};
  for (const mpz_class& w : bigints) {
    check_factor(w, [&w](RnsPoly& p) { p.multiply_bigint(w); });
  }
}

TEST_CASE("NTL negacyclic product equals the schoolbook product at n = 256 with 400-bit inputs") {
  gmp_randclass rng(gmp_randinit_default);
  rng.seed(26);
  for (size_t n : {size_t{1}, size_t{2}, size_t{256}}) {
    CAPTURE(n);
    BigPoly a = random_signed(n, 400, rng), b = random_signed(n, 400, rng);
    BigPoly product = reference::negacyclic_multiply_ntl(a, b);
    CHECK(product == reference::negacyclic_multiply_schoolbook(a, b));
    // Zero operands and zero top coefficients (NTL normalises them away).
    BigPoly zero(n);
    CHECK(reference::negacyclic_multiply_ntl(a, zero) == zero);
    b.back() = 0;
    CHECK(reference::negacyclic_multiply_ntl(a, b) ==
          reference::negacyclic_multiply_schoolbook(a, b));
  }
  // x^(n-1) · x = x^n = -1: the negacyclic wrap itself.
  BigPoly x_top(4), x(4), minus_one(4);
  x_top[3] = 1;
  x[1] = 1;
  minus_one[0] = -1;
  CHECK(reference::negacyclic_multiply_schoolbook(x_top, x) == minus_one);
  CHECK(reference::negacyclic_multiply_ntl(x_top, x) == minus_one);
  CHECK_THROWS_AS(reference::negacyclic_multiply_ntl(x, BigPoly(8)), std::invalid_argument);
}

TEST_CASE("NTT product of RNS polynomials equals NTL's product mod Q at n = 8192 and 16384") {
  gmp_randclass rng(gmp_randinit_default);
  rng.seed(27);
  for (size_t n : {size_t{8192}, size_t{16384}}) {
    CAPTURE(n);
    auto ring = make_ring(n, n == 8192 ? 7 : 8);
    const mpz_class& q = ring->base().product();
    BigPoly a = random_centered(n, q, rng), b = random_centered(n, q, rng);
    BigPoly expected = centered_mod(reference::negacyclic_multiply_ntl(a, b), q);

    RnsPoly pa = RnsPoly::from_bigint(ring, a), pb = RnsPoly::from_bigint(ring, b);
    RnsPoly product = multiply(pa, pb);
    CHECK(product.form() == PolyForm::evaluation);
    product.to_coefficient();
    CHECK(product.to_bigint_centered() == expected);

    // Operands already in evaluation form and *= give the same product; the product commutes.
    RnsPoly ea = pa, eb = pb;
    ea.to_evaluation();
    eb.to_evaluation();
    RnsPoly in_place = eb;
    in_place *= ea;
    in_place.to_coefficient();
    CHECK(in_place == product);
    RnsPoly mixed = multiply(ea, pb);
    mixed.to_coefficient();
    CHECK(mixed == product);
  }
}

TEST_CASE("keep_freed_memory_for_reuse sets glibc's allocator policy") {
  // The programs call it first thing (src/cli/main.cpp); false would mean a setting was refused,
  // or that __GLIBC__ was not seen (the policy silently off, as it once was).
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
  CHECK(cryptonets::keep_freed_memory_for_reuse());
#else
  // AddressSanitizer's mallopt accepts no setting, and other C libraries have no such policy:
  // the function must say that the policy is off.
  CHECK_FALSE(cryptonets::keep_freed_memory_for_reuse());
#endif
}

namespace {

// The VmFlags line of the mapping of /proc/self/smaps that holds `address` ("" if none).
[[maybe_unused]] std::string vm_flags_of(const void* address) {
  const auto target = reinterpret_cast<uintptr_t>(address);
  std::ifstream smaps("/proc/self/smaps");
  bool inside = false;
  for (std::string line; std::getline(smaps, line);) {
    unsigned long start = 0, end = 0;
    char dash = 0;
    std::istringstream header(line);
    if (header >> std::hex >> start >> dash >> end && dash == '-' && line.find(':') > 8) {
      inside = start <= target && target < end;
    } else if (inside && line.rfind("VmFlags:", 0) == 0) {
      return line;
    }
  }
  return "";
}

}  // namespace

TEST_CASE(
    "After keep_freed_memory_for_reuse, new heap under polynomial blocks asks for huge pages") {
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
  if (!std::filesystem::exists("/sys/kernel/mm/transparent_hugepage/enabled")) {
    MESSAGE("skipped: this kernel has no transparent huge pages");
    return;
  }
  REQUIRE(cryptonets::keep_freed_memory_for_reuse());
  // 16 MiB blocks (below the 32 MiB mmap threshold: from the heap) until the heap has grown.
  using Block = std::vector<uint64_t, cryptonets::CacheLineAllocator<uint64_t>>;
  std::vector<Block> blocks;
  const void* end_before = sbrk(0);
  while (sbrk(0) == end_before && blocks.size() < 64)
    blocks.emplace_back(size_t{2} << 20);
  REQUIRE(sbrk(0) != end_before);
  const Block& grown = blocks.back();
  const std::string flags = vm_flags_of(grown.data() + grown.size() / 2);
  INFO(flags);
  REQUIRE(!flags.empty());
  // "hg": the mapping carries MADV_HUGEPAGE (Documentation/filesystems/proc.rst).
  CHECK(flags.find(" hg") != std::string::npos);
#else
  MESSAGE("skipped: the huge-page advice is for glibc builds without AddressSanitizer");
#endif
}

TEST_CASE("The block pool hands a freed polynomial block back for the next one of its size") {
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
  using Block = std::vector<uint64_t, cryptonets::CacheLineAllocator<uint64_t>>;
  REQUIRE(cryptonets::keep_freed_memory_for_reuse());  // turns the pool on
  cryptonets::set_block_pool_enabled(false);           // starts it empty
  cryptonets::set_block_pool_enabled(true);
  constexpr size_t kWords = size_t{7} << 13;  // a 7-prime n = 8192 polynomial: 448 KiB
  const void* first = nullptr;
  {
    Block a(kWords), b(kWords);
    first = a.data();
    CHECK(reinterpret_cast<uintptr_t>(first) % 64 == 0);
  }
  auto held = cryptonets::pooled_block_statistics();
  CHECK(held.sizes == 1);
  CHECK(held.blocks == 2);
  CHECK(held.bytes == 2 * kWords * 8);
  {
    // Last freed, first reused: the second allocation of that size takes a's block.
    Block c(kWords), d(kWords), e(kWords);
    CHECK((c.data() == first || d.data() == first));
    CHECK(cryptonets::pooled_block_statistics().blocks == 0);
    // Blocks outside the pooled range go straight back to malloc.
    Block small(1000), big(cryptonets::kPooledBlockMaximumBytes / 8 + 8);
  }
  held = cryptonets::pooled_block_statistics();
  CHECK(held.sizes == 1);
  CHECK(held.blocks == 3);
  // A ninth size takes the place of the least recently used one, whose blocks go back to malloc.
  for (size_t extra = 1; extra <= 8; ++extra)
    Block other(kWords + 8 * extra);
  held = cryptonets::pooled_block_statistics();
  CHECK(held.sizes == 8);
  CHECK(held.blocks == 8);  // one of each new size; the first size's three were released
  cryptonets::set_block_pool_enabled(false);
  CHECK(cryptonets::pooled_block_statistics().blocks == 0);
  {
    Block f(kWords);  // off: plain malloc, nothing kept
  }
  CHECK(cryptonets::pooled_block_statistics().blocks == 0);
  cryptonets::set_block_pool_enabled(true);  // as the rest of this process had it
#else
  MESSAGE("skipped: the block pool is for glibc builds without AddressSanitizer");
#endif
}

TEST_CASE("PageBuffer: page-aligned storage that shares no page with other allocations") {
  constexpr uintptr_t kPage = PageBuffer<uint64_t>::kPage;
  const auto page_of = [&](const void* p) { return reinterpret_cast<uintptr_t>(p) / kPage; };
  PageBuffer<uint64_t> empty;
  CHECK(empty.data() == nullptr);
  CHECK(empty.capacity() == 0);

  // Two buffers allocated one after the other, and heap objects between and after them: none
  // lies on a page of a buffer's storage.
  PageBuffer<uint64_t> a(1000);  // 8000 bytes: 2 pages
  auto between = std::make_unique<uint64_t[]>(3);
  PageBuffer<const uint64_t*> b(5);
  auto after = std::make_unique<uint64_t[]>(3);
  REQUIRE(a.data() != nullptr);
  REQUIRE(b.data() != nullptr);
  CHECK(reinterpret_cast<uintptr_t>(a.data()) % kPage == 0);
  CHECK(reinterpret_cast<uintptr_t>(b.data()) % kPage == 0);
  CHECK(a.capacity() == 1024);  // whole pages
  CHECK(b.capacity() == kPage / sizeof(const uint64_t*));
  const auto owns_page = [&](const auto& buffer, const void* p) {
    const uintptr_t first = page_of(buffer.data());
    const uintptr_t last = page_of(buffer.data() + buffer.capacity() - 1);
    return page_of(p) >= first && page_of(p) <= last;
  };
  for (const void* other :
       {static_cast<const void*>(between.get()), static_cast<const void*>(after.get()),
        static_cast<const void*>(b.data()),
        static_cast<const void*>(b.data() + b.capacity() - 1)}) {
    CHECK_FALSE(owns_page(a, other));
  }
  for (const void* other :
       {static_cast<const void*>(between.get()), static_cast<const void*>(after.get()),
        static_cast<const void*>(a.data()),
        static_cast<const void*>(a.data() + a.capacity() - 1)}) {
    CHECK_FALSE(owns_page(b, other));
  }

  // Every element is writable; a request within the capacity keeps the storage, a larger one
  // replaces it with a larger page-aligned one.
  for (size_t i = 0; i < a.capacity(); ++i)
    a.data()[i] = i;
  uint64_t* const first_storage = a.data();
  CHECK(a.ensure(1024) == first_storage);
  CHECK(a.data()[1023] == 1023);
  uint64_t* const grown = a.ensure(1025);
  CHECK(a.capacity() == 1536);
  CHECK(reinterpret_cast<uintptr_t>(grown) % kPage == 0);
  grown[1535] = 7;

  PageBuffer<uint64_t> moved(std::move(a));
  CHECK(moved.data() == grown);
  CHECK(a.data() == nullptr);
  CHECK(a.capacity() == 0);
}
