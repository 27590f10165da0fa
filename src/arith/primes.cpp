#include "cryptonets/arith/primes.hpp"

#include <bit>
#include <stdexcept>
#include <string>

namespace cryptonets {

namespace {

// One Miller-Rabin round: is x a strong probable prime to base a? (x odd, x - 1 = d·2^s)
bool strong_probable_prime(uint64_t x, uint64_t a, uint64_t d, int s) {
  auto mulmod = [x](uint64_t u, uint64_t v) {
    return static_cast<uint64_t>(static_cast<u128>(u) * v % x);
  };
  uint64_t y = 1, base = a % x, e = d;
  while (e != 0) {
    if (e & 1) y = mulmod(y, base);
    base = mulmod(base, base);
    e >>= 1;
  }
  if (y == 1 || y == x - 1) return true;
  for (int i = 1; i < s; ++i) {
    y = mulmod(y, y);
    if (y == x - 1) return true;
  }
  return false;
}

}  // namespace

bool is_prime(uint64_t x) {
  static constexpr uint64_t kBases[] = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37};
  if (x < 2) return false;
  for (uint64_t p : kBases) {
    if (x % p == 0) return x == p;
  }
  uint64_t d = x - 1;
  int s = std::countr_zero(d);
  d >>= s;
  for (uint64_t a : kBases) {
    if (!strong_probable_prime(x, a, d, s)) return false;
  }
  return true;
}

std::vector<uint64_t> generate_ntt_primes(int bits, size_t count, uint64_t congruence) {
  if (bits < 2 || bits > Modulus::kMaxBits) {
    throw std::invalid_argument("generate_ntt_primes: bit size " + std::to_string(bits) +
                                " is outside [2, 62]");
  }
  if (congruence == 0) throw std::invalid_argument("generate_ntt_primes: congruence must be > 0");
  std::vector<uint64_t> primes;
  const uint64_t limit = uint64_t{1} << bits;
  // Largest candidate below 2^bits that is ≡ 1 (mod congruence); step down by congruence.
  uint64_t candidate = (limit - 1) / congruence * congruence + 1;
  if (candidate >= limit) candidate -= congruence;
  const uint64_t floor_value = uint64_t{1} << (bits - 1);  // stay at exactly `bits` bits
  while (primes.size() < count && candidate > floor_value && candidate > congruence) {
    if (is_prime(candidate)) primes.push_back(candidate);
    candidate -= congruence;
  }
  if (primes.size() < count) {
    throw std::invalid_argument("generate_ntt_primes: only " + std::to_string(primes.size()) +
                                " primes of " + std::to_string(bits) + " bits are ≡ 1 mod " +
                                std::to_string(congruence) + ", " + std::to_string(count) +
                                " requested");
  }
  return primes;
}

uint64_t minimal_primitive_root(uint64_t order, const Modulus& q) {
  const uint64_t p = q.value();
  if (order < 2 || !std::has_single_bit(order) || (p - 1) % order != 0) {
    throw std::invalid_argument("minimal_primitive_root: order " + std::to_string(order) +
                                " is not a power of two dividing q - 1 = " + std::to_string(p - 1));
  }
  // x^((p-1)/order) has order dividing `order`; it is primitive iff its (order/2)-th power is -1.
  // Among the primitive roots (the odd powers of one of them) keep the smallest, so that tables
  // are reproducible across implementations.
  uint64_t root = 0;
  for (uint64_t x = 2; x < p; ++x) {
    uint64_t candidate = pow_mod(x, (p - 1) / order, q);
    if (pow_mod(candidate, order / 2, q) == p - 1) {
      root = candidate;
      break;
    }
  }
  if (root == 0) throw std::invalid_argument("minimal_primitive_root: q is not prime");
  const uint64_t root_squared = mul_mod(root, root, q);
  uint64_t smallest = root, power = root;
  for (uint64_t i = 1; i < order / 2; ++i) {
    power = mul_mod(power, root_squared, q);
    if (power < smallest) smallest = power;
  }
  return smallest;
}

}  // namespace cryptonets
