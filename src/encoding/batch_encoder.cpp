#include "cryptonets/encoding/batch_encoder.hpp"

#include <stdexcept>
#include <string>

#include "cryptonets/arith/primes.hpp"

namespace cryptonets::encoding {

namespace {

// t as a modulus if it supports batching at ring degree n; throws otherwise.
Modulus batching_modulus(size_t n, uint64_t t) {
  const uint64_t two_n = 2 * n;
  if (!is_prime(t) || t % two_n != 1) {
    throw std::invalid_argument("BatchEncoder: plaintext modulus t = " + std::to_string(t) +
                                " must be a prime ≡ 1 (mod 2n = " + std::to_string(two_n) +
                                ") for x^n + 1 to split into n slots");
  }
  return Modulus(t);
}

const yashe::Context& non_null(const std::shared_ptr<const yashe::Context>& context) {
  if (!context) throw std::invalid_argument("BatchEncoder: the context is null");
  return *context;
}

void check_slot_count(size_t given, size_t slots) {
  if (given > slots) {
    throw std::invalid_argument("BatchEncoder: " + std::to_string(given) +
                                " values given, there are only n = " + std::to_string(slots) +
                                " slots");
  }
}

}  // namespace

BatchEncoder::BatchEncoder(size_t n, uint64_t t) : t_(batching_modulus(n, t)), ntt_(n, t_) {}

BatchEncoder::BatchEncoder(std::shared_ptr<const yashe::Context> context)
    : BatchEncoder(non_null(context).n(), non_null(context).parameters().t) {
  context_ = std::move(context);
}

void BatchEncoder::throw_slot_out_of_range(size_t slot, int64_t value) const {
  throw std::invalid_argument("BatchEncoder: slot " + std::to_string(slot + 1) + " holds " +
                              std::to_string(value) +
                              ", outside (-t/2, t/2) for t = " + std::to_string(t_.value()));
}

yashe::Plaintext BatchEncoder::encode(std::span<const int64_t> values) const {
  check_slot_count(values.size(), slot_count());
  yashe::Plaintext plain{std::vector<uint64_t>(slot_count(), 0)};
  for (size_t i = 0; i < values.size(); ++i)
    plain.coeffs[i] = checked_residue(values[i], i);
  ntt_.inverse(plain.coeffs.data());
  return plain;
}

yashe::Plaintext BatchEncoder::encode_unsigned(std::span<const uint64_t> values) const {
  check_slot_count(values.size(), slot_count());
  yashe::Plaintext plain{std::vector<uint64_t>(slot_count(), 0)};
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i] >= t_.value()) {
      throw std::invalid_argument("BatchEncoder: slot " + std::to_string(i + 1) + " holds " +
                                  std::to_string(values[i]) +
                                  ", not below t = " + std::to_string(t_.value()));
    }
    plain.coeffs[i] = values[i];
  }
  ntt_.inverse(plain.coeffs.data());
  return plain;
}

yashe::Plaintext BatchEncoder::encode_scalar(int64_t value) const {
  // A constant c evaluates to c at every root of x^n + 1.
  yashe::Plaintext plain{std::vector<uint64_t>(slot_count(), 0)};
  plain.coeffs[0] = checked_residue(value, 0);
  return plain;
}

std::vector<uint64_t> BatchEncoder::decode_unsigned(const yashe::Plaintext& plain) const {
  if (plain.coeffs.size() != slot_count()) {
    throw std::invalid_argument("BatchEncoder: plaintext has " +
                                std::to_string(plain.coeffs.size()) +
                                " coefficients, expected n = " + std::to_string(slot_count()));
  }
  for (size_t j = 0; j < plain.coeffs.size(); ++j) {
    if (plain.coeffs[j] >= t_.value()) {
      throw std::invalid_argument("BatchEncoder: plaintext coefficient of x^" + std::to_string(j) +
                                  " is not reduced modulo t = " + std::to_string(t_.value()));
    }
  }
  std::vector<uint64_t> slots = plain.coeffs;
  ntt_.forward(slots.data());
  return slots;
}

std::vector<int64_t> BatchEncoder::decode(const yashe::Plaintext& plain) const {
  const std::vector<uint64_t> slots = decode_unsigned(plain);
  std::vector<int64_t> centred(slots.size());
  for (size_t i = 0; i < slots.size(); ++i)
    centred[i] = to_centered(slots[i], t_);
  return centred;
}

}  // namespace cryptonets::encoding
