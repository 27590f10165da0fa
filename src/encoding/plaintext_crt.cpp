#include "cryptonets/encoding/plaintext_crt.hpp"

#include <algorithm>
#include <cassert>
#include <numeric>
#include <stdexcept>
#include <string>

#include "cryptonets/arith/primes.hpp"
#include "cryptonets/yashe/key_generator.hpp"

namespace cryptonets::encoding {

namespace {

constexpr size_t kWordPathBits = 126;  // T < 2^126: 2·x never overflows a signed 128-bit word

// One GMP call: the limbs of |x| imported directly.
void assign_i128(mpz_class& out, i128 x) {
  const u128 magnitude = x < 0 ? -static_cast<u128>(x) : static_cast<u128>(x);
  const uint64_t words[2] = {static_cast<uint64_t>(magnitude),
                             static_cast<uint64_t>(magnitude >> 64)};
  mpz_import(out.get_mpz_t(), words[1] == 0 ? 1 : 2, -1, sizeof(uint64_t), 0, 0, words);
  if (x < 0) mpz_neg(out.get_mpz_t(), out.get_mpz_t());
}

// x >= 0, x < 2^128.
u128 u128_from_mpz(const mpz_class& x) {
  assert(x >= 0 && mpz_sizeinbase(x.get_mpz_t(), 2) <= 128);
  uint64_t words[2] = {0, 0};
  mpz_export(words, nullptr, -1, sizeof(uint64_t), 0, 0, x.get_mpz_t());
  return (static_cast<u128>(words[1]) << 64) | words[0];
}

std::string mpz_string(const mpz_class& x) {
  return x.get_str();
}

}  // namespace

std::vector<uint64_t> select_plaintext_moduli(size_t n, int bits, size_t count,
                                              std::span<const uint64_t> avoid) {
  if (n == 0 || count == 0) {
    throw std::invalid_argument("select_plaintext_moduli: n and count must be positive");
  }
  // The largest candidates, enough of them to replace every avoided prime.
  const std::vector<uint64_t> candidates = generate_ntt_primes(bits, count + avoid.size(), 2 * n);
  std::vector<uint64_t> chosen;
  for (uint64_t t : candidates) {
    if (chosen.size() == count) break;
    if (std::find(avoid.begin(), avoid.end(), t) == avoid.end()) chosen.push_back(t);
  }
  return chosen;
}

// ---------------------------------------------------------------------------------------------
// PlaintextCrt

PlaintextCrt::PlaintextCrt(std::vector<uint64_t> moduli) : moduli_(std::move(moduli)) {
  if (moduli_.empty()) throw std::invalid_argument("PlaintextCrt: at least one modulus is needed");
  for (size_t i = 0; i < moduli_.size(); ++i) {
    reducers_.emplace_back(moduli_[i]);  // checks 2 <= t_i < 2^62
    for (size_t j = 0; j < i; ++j) {
      if (std::gcd(moduli_[i], moduli_[j]) != 1) {
        throw std::invalid_argument("PlaintextCrt: moduli " + std::to_string(moduli_[j]) + " and " +
                                    std::to_string(moduli_[i]) + " are not coprime");
      }
    }
  }
  product_ = 1;
  for (uint64_t t : moduli_)
    product_ *= t;
  for (uint64_t t : moduli_) {
    const mpz_class cofactor = product_ / t;  // T/t_i
    const uint64_t inverse = inv_mod(mpz_fdiv_ui(cofactor.get_mpz_t(), t), Modulus(t));
    crt_coefficients_.push_back(cofactor * inverse);
  }

  // Garner's tables (Knuth, TAOCP vol. 2, §4.3.2): x = Σ v_i·(t_0···t_{i-1}) with v_i in [0, t_i).
  has_word_path_ = product_bits() <= kWordPathBits;
  radix_mod_.resize(moduli_.size());
  for (size_t i = 0; i < moduli_.size(); ++i) {
    uint64_t prefix_mod = 1;
    for (size_t j = 0; j < i; ++j) {
      const uint64_t radix = reducers_[i].reduce(moduli_[j]);
      radix_mod_[i].emplace_back(radix, reducers_[i]);
      prefix_mod = mul_mod(prefix_mod, radix, reducers_[i]);
    }
    inverse_prefix_.emplace_back(inv_mod(prefix_mod, reducers_[i]), reducers_[i]);
  }
  if (has_word_path_) {
    u128 prefix = 1;
    for (uint64_t t : moduli_) {
      prefix_.push_back(prefix);
      prefix *= t;
    }
    product_word_ = prefix;
  }
}

size_t PlaintextCrt::product_bits() const {
  return mpz_sizeinbase(product_.get_mpz_t(), 2);
}

size_t PlaintextCrt::missing_bits(const mpz_class& bound) const {
  if (bound < 0) throw std::invalid_argument("PlaintextCrt: the bound must be non-negative");
  const mpz_class needed = 2 * bound + 1;
  size_t bits = 0;
  mpz_class capacity = product_;
  while (capacity < needed) {
    capacity <<= 1;
    ++bits;
  }
  return bits;
}

void PlaintextCrt::require_capacity(const mpz_class& bound) const {
  const size_t missing = missing_bits(bound);
  if (missing > 0) {
    throw std::invalid_argument(
        "PlaintextCrt: values may wrap modulo T: need " + std::to_string(missing) +
        " more bits of plaintext modulus (|values| <= " + mpz_string(bound) +
        " needs 2·bound + 1 <= T; T = Π t_i has " + std::to_string(product_bits()) + " bits)");
  }
}

std::vector<uint64_t> PlaintextCrt::residues(const mpz_class& x) const {
  std::vector<uint64_t> r;
  r.reserve(moduli_.size());
  for (uint64_t t : moduli_)
    r.push_back(mpz_fdiv_ui(x.get_mpz_t(), t));  // in [0, t) also for x < 0
  return r;
}

std::vector<uint64_t> PlaintextCrt::residues(int64_t x) const {
  std::vector<uint64_t> r;
  r.reserve(moduli_.size());
  for (const Modulus& t : reducers_)
    r.push_back(from_signed(x, t));
  return r;
}

void PlaintextCrt::check_residues(std::span<const uint64_t> residues) const {
  if (residues.size() != moduli_.size()) {
    throw std::invalid_argument("PlaintextCrt: " + std::to_string(residues.size()) +
                                " residues given for " + std::to_string(moduli_.size()) +
                                " moduli");
  }
  for (size_t i = 0; i < residues.size(); ++i) {
    if (residues[i] >= moduli_[i]) {
      throw std::invalid_argument("PlaintextCrt: residue " + std::to_string(residues[i]) +
                                  " is not reduced modulo t_" + std::to_string(i + 1) + " = " +
                                  std::to_string(moduli_[i]));
    }
  }
}

mpz_class PlaintextCrt::recombine(std::span<const uint64_t> residues) const {
  check_residues(residues);
  mpz_class x = 0;
  for (size_t i = 0; i < residues.size(); ++i) {
    mpz_addmul_ui(x.get_mpz_t(), crt_coefficients_[i].get_mpz_t(), residues[i]);
  }
  mpz_fdiv_r(x.get_mpz_t(), x.get_mpz_t(), product_.get_mpz_t());
  if (2 * x > product_) x -= product_;  // centre into (-T/2, T/2]
  return x;
}

i128 PlaintextCrt::recombine_word(std::span<const uint64_t> residues) const {
  if (!has_word_path_) {
    throw std::invalid_argument("PlaintextCrt: T has " + std::to_string(product_bits()) +
                                " bits, the word path needs at most " +
                                std::to_string(kWordPathBits));
  }
  check_residues(residues);
  return garner(residues);
}

i128 PlaintextCrt::garner(std::span<const uint64_t> residues) const {
  assert(has_word_path_ && residues.size() == moduli_.size());
  // Garner: v_i = (r_i - [v_0 + v_1·t_0 + ... + v_{i-1}·t_0···t_{i-2}]_{t_i})·(t_0···t_{i-1})^-1.
  uint64_t digits[64];
  assert(moduli_.size() <= 64);  // 64 moduli of >= 2 bits exceed 126 bits
  assert(residues[0] < moduli_[0]);
  digits[0] = residues[0];
  u128 x = digits[0];
  for (size_t i = 1; i < residues.size(); ++i) {
    const Modulus& t = reducers_[i];
    assert(residues[i] < t.value());
    // The partial sum modulo t_i, by Horner from the top digit v_{i-1}.
    uint64_t known = t.reduce(digits[i - 1]);
    for (size_t j = i - 1; j-- > 0;) {
      known = add_mod(mul_shoup(known, radix_mod_[i][j], t.value()), t.reduce(digits[j]), t);
    }
    digits[i] = mul_shoup(sub_mod(residues[i], known, t), inverse_prefix_[i], t.value());
    x += static_cast<u128>(digits[i]) * prefix_[i];
  }
  // x in [0, T); centre into (-T/2, T/2].
  return 2 * x > product_word_ ? static_cast<i128>(x) - static_cast<i128>(product_word_)
                               : static_cast<i128>(x);
}

void PlaintextCrt::check_batch_shape(
    const std::vector<std::vector<uint64_t>>& residues_per_modulus) const {
  if (residues_per_modulus.size() != moduli_.size()) {
    throw std::invalid_argument("PlaintextCrt: " + std::to_string(residues_per_modulus.size()) +
                                " rows of residues given for " + std::to_string(moduli_.size()) +
                                " moduli");
  }
  for (const auto& row : residues_per_modulus) {
    if (row.size() != residues_per_modulus.front().size()) {
      throw std::invalid_argument("PlaintextCrt: rows of residues differ in length");
    }
  }
}

std::vector<mpz_class> PlaintextCrt::recombine_batch(
    const std::vector<std::vector<uint64_t>>& residues_per_modulus, const mpz_class& bound) const {
  check_batch_shape(residues_per_modulus);
  require_capacity(bound);
  const size_t k = moduli_.size();
  const size_t slots = residues_per_modulus.front().size();
  auto out_of_bound = [&bound](size_t slot, const mpz_class& value) {
    return OutOfBoundError("PlaintextCrt: slot " + std::to_string(slot + 1) + " recombines to " +
                               mpz_string(value) + ", outside [-" + mpz_string(bound) + ", " +
                               mpz_string(bound) +
                               "]: the computation wrapped modulo T, exceeded the bound given, "
                               "or the data is corrupted",
                           slot, value);
  };

  std::vector<mpz_class> values(slots);
  std::vector<uint64_t> slot_residues(k);
  const u128 word_bound = has_word_path_ ? u128_from_mpz(bound) : 0;
  for (size_t s = 0; s < slots; ++s) {
    for (size_t i = 0; i < k; ++i)
      slot_residues[i] = residues_per_modulus[i][s];
    check_residues(slot_residues);
    if (has_word_path_) {
      const i128 x = garner(slot_residues);
      assign_i128(values[s], x);
      const u128 magnitude = x < 0 ? -static_cast<u128>(x) : static_cast<u128>(x);
      if (magnitude > word_bound) throw out_of_bound(s, values[s]);
    } else {
      values[s] = recombine(slot_residues);
      if (abs(values[s]) > bound) throw out_of_bound(s, values[s]);
    }
  }
  return values;
}

// ---------------------------------------------------------------------------------------------
// Key generation and the public / secret sides

namespace {

// t_1..t_k of the contexts, which must agree on n.
template <class Context>
std::vector<uint64_t> plaintext_moduli_of(
    const std::vector<std::shared_ptr<const Context>>& contexts, size_t key_count) {
  if (contexts.empty()) throw std::invalid_argument("CRT sets: at least one context is needed");
  if (key_count != contexts.size()) {
    throw std::invalid_argument("CRT sets: " + std::to_string(contexts.size()) + " contexts but " +
                                std::to_string(key_count) + " keys");
  }
  std::vector<uint64_t> moduli;
  for (const auto& context : contexts) {
    if (!context) throw std::invalid_argument("CRT sets: a context is null");
    if (context->n() != contexts.front()->n()) {
      throw std::invalid_argument("CRT sets: contexts differ in n (" +
                                  std::to_string(contexts.front()->n()) + " and " +
                                  std::to_string(context->n()) + "), so their slots do not match");
    }
    moduli.push_back(context->parameters().t);
  }
  return moduli;
}

}  // namespace

template <class S>
BasicCrtKeys<S> BasicCrtKeys<S>::generate(const typename S::Parameters& base,
                                          std::span<const uint64_t> plaintext_moduli, Prng& prng) {
  const PlaintextCrt crt(std::vector<uint64_t>(plaintext_moduli.begin(), plaintext_moduli.end()));
  BasicCrtKeys result;
  for (uint64_t t : crt.moduli()) {
    typename S::Parameters params = base;
    params.t = t;
    result.contexts.push_back(S::Context::create(params));
    result.keys.push_back(S::generate_keys(result.contexts.back(), prng));
  }
  return result;
}

template <class S>
BasicEncryptionKeys<S> BasicCrtKeys<S>::encryption_keys() const {
  BasicEncryptionKeys<S> result;
  result.contexts = contexts;
  for (const typename S::KeySet& key_set : keys)
    result.public_keys.push_back(key_set.public_key);
  return result;
}

template <class S>
BasicServerKeys<S> BasicCrtKeys<S>::server_keys() const {
  BasicServerKeys<S> result;
  result.contexts = contexts;
  for (const typename S::KeySet& key_set : keys) {
    result.evaluation_keys.push_back(S::evaluation_key(key_set));
    result.public_keys.push_back(key_set.public_key);
  }
  return result;
}

template <class S>
BasicDecryptionKeys<S> BasicCrtKeys<S>::decryption_keys() const {
  BasicDecryptionKeys<S> result;
  result.contexts = contexts;
  for (const typename S::KeySet& key_set : keys)
    result.secret_keys.push_back(key_set.secret_key);
  return result;
}

template <class S>
std::vector<uint64_t> BasicCrtKeys<S>::key_ids() const {
  std::vector<uint64_t> result;
  for (const typename S::KeySet& key_set : keys)
    result.push_back(key_set.public_key.key_id);
  return result;
}

template <class S>
BasicCrtEncryptionSet<S>::Channel::Channel(std::shared_ptr<const Context> context,
                                           typename S::PublicKey public_key,
                                           typename S::EvaluationKey evaluation_key)
    : encryptor(context, std::move(public_key)),
      evaluator(context, std::move(evaluation_key)),
      encoder(context->n(), context->parameters().t) {}

template <class S>
BasicCrtEncryptionSet<S>::BasicCrtEncryptionSet(
    std::vector<std::shared_ptr<const Context>> contexts,
    std::vector<typename S::PublicKey> public_keys,
    std::vector<typename S::EvaluationKey> evaluation_keys)
    : crt_(plaintext_moduli_of(contexts, public_keys.size())) {
  if (evaluation_keys.size() != contexts.size()) {
    throw std::invalid_argument("CrtEncryptionSet: " + std::to_string(contexts.size()) +
                                " contexts but " + std::to_string(evaluation_keys.size()) +
                                " evaluation keys");
  }
  channels_.reserve(contexts.size());
  for (size_t i = 0; i < contexts.size(); ++i) {
    channels_.emplace_back(contexts[i], std::move(public_keys[i]), std::move(evaluation_keys[i]));
  }
}

template <class S>
BasicCrtEncryptionSet<S>::BasicCrtEncryptionSet(const BasicCrtKeys<S>& keys)
    : crt_(plaintext_moduli_of(keys.contexts, keys.keys.size())) {
  channels_.reserve(keys.contexts.size());
  for (size_t i = 0; i < keys.contexts.size(); ++i) {
    channels_.emplace_back(keys.contexts[i], keys.keys[i].public_key,
                           S::evaluation_key(keys.keys[i]));
  }
}

template <class S>
BasicCrtEncryptionSet<S>::BasicCrtEncryptionSet(BasicServerKeys<S> keys)
    : BasicCrtEncryptionSet(std::move(keys.contexts), std::move(keys.public_keys),
                            std::move(keys.evaluation_keys)) {}

namespace {

// Evaluation keys that are only the key ids: what an encrypting party's evaluator carries.
template <class S>
std::vector<typename S::EvaluationKey> no_evaluation_keys(
    const std::vector<typename S::PublicKey>& public_keys) {
  std::vector<typename S::EvaluationKey> keys(public_keys.size());
  for (size_t i = 0; i < keys.size(); ++i)
    keys[i].key_id = public_keys[i].key_id;
  return keys;
}

}  // namespace

template <class S>
BasicCrtEncryptionSet<S>::BasicCrtEncryptionSet(BasicEncryptionKeys<S> keys)
    : BasicCrtEncryptionSet(std::move(keys.contexts), keys.public_keys,
                            no_evaluation_keys<S>(keys.public_keys)) {
  has_evaluation_keys_ = false;
}

template <class S>
void BasicCrtEncryptionSet<S>::check_size(const CrtCiphertext& a) const {
  if (a.size() != channels_.size()) {
    throw std::invalid_argument("CrtEncryptionSet: a CRT ciphertext has " +
                                std::to_string(a.size()) + " parts, expected one per modulus (" +
                                std::to_string(channels_.size()) + ")");
  }
}

template <class S>
std::vector<rlwe::Plaintext> BasicCrtEncryptionSet<S>::encode(
    std::span<const int64_t> values) const {
  std::vector<rlwe::Plaintext> plains;
  std::vector<uint64_t> residues(values.size());
  for (const Channel& channel : channels_) {
    const Modulus t(channel.encoder.plain_modulus());
    for (size_t s = 0; s < values.size(); ++s)
      residues[s] = from_signed(values[s], t);
    plains.push_back(channel.encoder.encode_unsigned(residues));
  }
  return plains;
}

template <class S>
CrtCiphertext BasicCrtEncryptionSet<S>::encrypt(std::span<const int64_t> values, Prng& prng) const {
  const std::vector<rlwe::Plaintext> plains = encode(values);
  CrtCiphertext ct;
  for (size_t i = 0; i < channels_.size(); ++i) {
    ct.push_back(channels_[i].encryptor.encrypt(plains[i], prng));
  }
  return ct;
}

template <class S>
void BasicCrtEncryptionSet<S>::add_inplace(CrtCiphertext& a, const CrtCiphertext& b) const {
  check_size(a);
  check_size(b);
  for (size_t i = 0; i < channels_.size(); ++i)
    channels_[i].evaluator.add_inplace(a[i], b[i]);
}

template <class S>
void BasicCrtEncryptionSet<S>::multiply_scalar_inplace(CrtCiphertext& a, int64_t w) const {
  check_size(a);
  for (size_t i = 0; i < channels_.size(); ++i) {
    channels_[i].evaluator.multiply_scalar_inplace(a[i], w);
  }
}

template <class S>
void BasicCrtEncryptionSet<S>::multiply_plain_inplace(
    CrtCiphertext& a, const std::vector<rlwe::Plaintext>& plain) const {
  check_size(a);
  if (plain.size() != channels_.size()) {
    throw std::invalid_argument("CrtEncryptionSet: " + std::to_string(plain.size()) +
                                " plaintexts given, expected one per modulus");
  }
  for (size_t i = 0; i < channels_.size(); ++i) {
    channels_[i].evaluator.multiply_plain_inplace(a[i], plain[i]);
  }
}

template <class S>
CrtCiphertext BasicCrtEncryptionSet<S>::multiply(const CrtCiphertext& a,
                                                 const CrtCiphertext& b) const {
  if (!has_evaluation_keys_) {
    throw std::logic_error(
        "CrtEncryptionSet::multiply: this set encrypts only (no evaluation keys)");
  }
  check_size(a);
  check_size(b);
  CrtCiphertext product;
  for (size_t i = 0; i < channels_.size(); ++i) {
    product.push_back(channels_[i].evaluator.multiply(a[i], b[i]));
  }
  return product;
}

template <class S>
BasicCrtDecryptionSet<S>::Channel::Channel(std::shared_ptr<const Context> context,
                                           typename S::SecretKey secret_key)
    : decryptor(context, std::move(secret_key)), encoder(context->n(), context->parameters().t) {}

template <class S>
BasicCrtDecryptionSet<S>::BasicCrtDecryptionSet(
    std::vector<std::shared_ptr<const Context>> contexts,
    std::vector<typename S::SecretKey> secret_keys)
    : crt_(plaintext_moduli_of(contexts, secret_keys.size())) {
  channels_.reserve(contexts.size());
  for (size_t i = 0; i < contexts.size(); ++i) {
    channels_.emplace_back(contexts[i], std::move(secret_keys[i]));
  }
}

template <class S>
BasicCrtDecryptionSet<S>::BasicCrtDecryptionSet(BasicDecryptionKeys<S> keys)
    : BasicCrtDecryptionSet(std::move(keys.contexts), std::move(keys.secret_keys)) {}

template <class S>
BasicCrtDecryptionSet<S>::BasicCrtDecryptionSet(const BasicCrtKeys<S>& keys)
    : crt_(plaintext_moduli_of(keys.contexts, keys.keys.size())) {
  channels_.reserve(keys.contexts.size());
  for (size_t i = 0; i < keys.contexts.size(); ++i) {
    channels_.emplace_back(keys.contexts[i], keys.keys[i].secret_key);
  }
}

template <class S>
void BasicCrtDecryptionSet<S>::check_size(const CrtCiphertext& ct) const {
  if (ct.size() != channels_.size()) {
    throw std::invalid_argument("CrtDecryptionSet: a CRT ciphertext has " +
                                std::to_string(ct.size()) + " parts, expected one per modulus (" +
                                std::to_string(channels_.size()) + ")");
  }
}

template <class S>
std::vector<mpz_class> BasicCrtDecryptionSet<S>::decrypt(const CrtCiphertext& ct,
                                                         const mpz_class& bound) const {
  check_size(ct);
  crt_.require_capacity(bound);  // before any decryption work
  std::vector<std::vector<uint64_t>> residues;
  for (size_t i = 0; i < channels_.size(); ++i) {
    residues.push_back(channels_[i].encoder.decode_unsigned(channels_[i].decryptor.decrypt(ct[i])));
  }
  return crt_.recombine_batch(residues, bound);
}

template <class S>
double BasicCrtDecryptionSet<S>::noise_budget(const CrtCiphertext& ct) const {
  check_size(ct);
  double budget = channels_.front().decryptor.invariant_noise_budget(ct.front());
  for (size_t i = 1; i < channels_.size(); ++i) {
    budget = std::min(budget, channels_[i].decryptor.invariant_noise_budget(ct[i]));
  }
  return budget;
}

template struct BasicCrtKeys<yashe::Scheme>;
template struct BasicCrtKeys<bfv::Scheme>;
template class BasicCrtEncryptionSet<yashe::Scheme>;
template class BasicCrtEncryptionSet<bfv::Scheme>;
template class BasicCrtDecryptionSet<yashe::Scheme>;
template class BasicCrtDecryptionSet<bfv::Scheme>;

}  // namespace cryptonets::encoding
