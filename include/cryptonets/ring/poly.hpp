// Polynomials of R_Q = Z_Q[x]/(x^n + 1) in RNS form: k rows of n words, row i holding the
// coefficients (or NTT values) modulo q_i. The form is part of the value and checked by assertions.
#pragma once

#include <gmpxx.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <span>
#include <utility>
#include <vector>

#include "cryptonets/ring/memory_policy.hpp"
#include "cryptonets/ring/ntt.hpp"
#include "cryptonets/ring/rns_base.hpp"

namespace cryptonets {

// Immutable: the degree, the RNS base and one NTT table per prime. Shared by every polynomial.
class RingContext {
 public:
  // n a power of two in [2, 2^17]; primes distinct, each a prime ≡ 1 (mod 2n) below 2^62.
  // Throws std::invalid_argument otherwise (RnsBase, NttTables).
  RingContext(size_t n, const std::vector<uint64_t>& primes);

  size_t n() const { return n_; }
  size_t rns_size() const { return base_.size(); }
  const RnsBase& base() const { return base_; }
  const NttTables& ntt(size_t i) const { return ntt_[i]; }

 private:
  size_t n_;
  RnsBase base_;
  std::vector<NttTables> ntt_;
};

// Storage of a polynomial's words: aligned to a 64-byte cache line, so that a row's vector
// loads and non-temporal stores never split lines, and left uninitialised by resize() (value
// initialisation would write every word of a fresh allocation once more before its first use).
template <class T>
struct CacheLineAllocator {
  using value_type = T;
  static constexpr std::align_val_t kAlignment = kPolynomialBlockAlignment;

  CacheLineAllocator() = default;
  template <class U>
  explicit CacheLineAllocator(const CacheLineAllocator<U>&) noexcept {}

  T* allocate(size_t count) {
    if (void* pooled = take_pooled_block(count * sizeof(T))) return static_cast<T*>(pooled);
    T* block = static_cast<T*>(::operator new(count * sizeof(T), kAlignment));
    // A polynomial's block, not yet touched: huge pages for any new part of the heap.
    if (count * sizeof(T) >= kHugePageAdviceMinimumBytes) advise_huge_pages_after_heap_growth();
    return block;
  }
  void deallocate(T* pointer, size_t count) noexcept {
    if (!return_pooled_block(pointer, count * sizeof(T))) ::operator delete(pointer, kAlignment);
  }
  // Default initialisation (no write) for resize(); explicit values are copied as usual.
  // AddressSanitizer builds (the test suite's second run) write a pattern instead, so that code
  // reading a word before writing it fails the tests' exact comparisons rather than reading the
  // zero of a fresh page.
  template <class U>
  void construct(U* pointer) noexcept {
#if defined(__SANITIZE_ADDRESS__)
    ::new (static_cast<void*>(pointer)) U(static_cast<U>(0xA5A5A5A5A5A5A5A5u));
#else
    ::new (static_cast<void*>(pointer)) U;
#endif
  }
  template <class U, class... Args>
  void construct(U* pointer, Args&&... args) {
    ::new (static_cast<void*>(pointer)) U(std::forward<Args>(args)...);
  }
  friend bool operator==(const CacheLineAllocator&, const CacheLineAllocator&) {
    return true;
  }
};

enum class PolyForm {
  coefficient,  // row i holds the coefficients a_0..a_{n-1} mod q_i
  evaluation,   // row i holds NTT(a mod q_i), bit-reversed order
};

class RnsPoly {
 public:
  RnsPoly() = default;
  // The zero polynomial in the given form.
  RnsPoly(std::shared_ptr<const RingContext> ring, PolyForm form);

  // Makes this a polynomial of `ring` in `form` whose words are unspecified (whatever the memory
  // held), reusing its memory: no allocation when it already has ring's size. For scratch
  // polynomials that are about to be overwritten in full (a fresh allocation of a large
  // polynomial per call costs page faults every time).
  void reset_uninitialized(std::shared_ptr<const RingContext> ring, PolyForm form);

  // From signed integer coefficients (coefficient form). Throws std::invalid_argument unless
  // coeffs.size() is n (as does from_bigint).
  static RnsPoly from_signed(std::shared_ptr<const RingContext> ring,
                             std::span<const int64_t> coeffs);
  // From big integer coefficients of any sign, reduced mod Q (coefficient form).
  static RnsPoly from_bigint(std::shared_ptr<const RingContext> ring,
                             std::span<const mpz_class> coeffs);
  // Centred coefficients in (-Q/2, Q/2]; requires coefficient form.
  std::vector<mpz_class> to_bigint_centered() const;

  const RingContext& ring() const { return *ring_; }
  const std::shared_ptr<const RingContext>& ring_ptr() const { return ring_; }
  PolyForm form() const { return form_; }
  size_t n() const { return ring_->n(); }
  size_t rns_size() const { return ring_->rns_size(); }
  bool empty() const { return ring_ == nullptr; }

  uint64_t* residues(size_t i) { return data_.data() + i * ring_->n(); }
  const uint64_t* residues(size_t i) const { return data_.data() + i * ring_->n(); }
  std::span<uint64_t> data() { return data_; }
  std::span<const uint64_t> data() const { return data_; }

  void to_evaluation();   // no-op if already in evaluation form
  void to_coefficient();  // no-op if already in coefficient form

  // Reference twin of the coefficient-wise operations: none in the library; GMP in
  // tests/test_poly.cpp.
  RnsPoly& operator+=(const RnsPoly& other);  // same ring and form
  RnsPoly& operator-=(const RnsPoly& other);
  RnsPoly& operator*=(const RnsPoly& other);  // both in evaluation form
  void negate();
  void multiply_scalar(int64_t w);           // any form
  void multiply_bigint(const mpz_class& w);  // any form, w of any sign

  bool operator==(const RnsPoly& other) const;

 private:
  std::shared_ptr<const RingContext> ring_;
  PolyForm form_ = PolyForm::coefficient;
  std::vector<uint64_t, CacheLineAllocator<uint64_t>> data_;
};

RnsPoly operator+(RnsPoly a, const RnsPoly& b);
RnsPoly operator-(RnsPoly a, const RnsPoly& b);
RnsPoly operator-(RnsPoly a);
// The product in R_Q of polynomials in any form; the result is in evaluation form.
// Reference twin: reference::negacyclic_multiply_ntl (ring/reference.hpp), reduced mod Q.
RnsPoly multiply(RnsPoly a, RnsPoly b);

}  // namespace cryptonets
