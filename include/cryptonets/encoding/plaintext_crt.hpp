// Plaintexts wider than one modulus (CryptoNets, Gilad-Bachrach et al., ICML 2016, §3: several
// plaintext moduli t_1, ..., t_k, the results recombined by the Chinese Remainder Theorem).
//
// The network is a polynomial with integer coefficients, and Z → Z_T (T = Π t_i) is a ring
// homomorphism, so running the same computation once per t_i and recombining the k residues of a
// result yields it modulo T; if its absolute value is at most B with 2B + 1 <= T, the centred
// representative in (-T/2, T/2] is the exact integer. YASHE' builds t into its keys (f = t·f' + 1),
// and BFV's scale Δ depends on t, so each t_i has its own context and keys.
#pragma once

#include <gmpxx.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "cryptonets/arith/modulus.hpp"
#include "cryptonets/arith/uint128.hpp"
#include "cryptonets/bfv/scheme.hpp"
#include "cryptonets/encoding/batch_encoder.hpp"
#include "cryptonets/random/chacha20.hpp"
#include "cryptonets/yashe/scheme.hpp"

namespace cryptonets::encoding {

// What recombine_batch throws for a value outside [-bound, bound]: the slot (an index from 0; the
// message numbers it from 1) and the value, for callers that know what the slot holds and what
// the bound stood for.
class OutOfBoundError : public std::runtime_error {
 public:
  OutOfBoundError(const std::string& what, size_t slot, mpz_class value)
      : std::runtime_error(what), slot_(slot), value_(std::move(value)) {}
  size_t slot() const { return slot_; }
  const mpz_class& value() const { return value_; }

 private:
  size_t slot_;
  mpz_class value_;
};

// `count` distinct primes t ≡ 1 (mod 2n) of exactly `bits` bits (the largest such), none of them in
// `avoid` (pass the q primes so that every t is coprime to q). Throws std::invalid_argument if n
// or count is 0, bits is outside [2, 62], or too few exist.
std::vector<uint64_t> select_plaintext_moduli(size_t n, int bits, size_t count,
                                              std::span<const uint64_t> avoid = {});

// Recombination of residues modulo pairwise coprime t_1..t_k into the centred integer.
class PlaintextCrt {
 public:
  // Throws std::invalid_argument unless there is at least one modulus, each in [2, 2^62), and they
  // are pairwise coprime.
  explicit PlaintextCrt(std::vector<uint64_t> moduli);

  size_t size() const { return moduli_.size(); }
  const std::vector<uint64_t>& moduli() const { return moduli_; }
  const mpz_class& product() const { return product_; }  // T
  size_t product_bits() const;
  // Whether T < 2^126, where recombine_word (and the batch) run in 128-bit words instead of GMP.
  bool has_word_path() const { return has_word_path_; }

  // Bits the plaintext modulus lacks to represent [-bound, bound] centred: the least N >= 0 with
  // 2^N·T >= 2·bound + 1. bound >= 0 (std::invalid_argument otherwise).
  size_t missing_bits(const mpz_class& bound) const;
  // Throws std::invalid_argument ("values may wrap modulo T: need N more bits of plaintext
  // modulus") unless 2·bound + 1 <= T.
  void require_capacity(const mpz_class& bound) const;

  // The residues x mod t_i, in [0, t_i).
  std::vector<uint64_t> residues(const mpz_class& x) const;
  std::vector<uint64_t> residues(int64_t x) const;

  // The x in (-T/2, T/2] with x ≡ residues[i] (mod t_i). Throws std::invalid_argument unless
  // there is one residue per modulus, each in [0, t_i) (as recombine_word and recombine_batch).
  // GMP, by the classical formula x = Σ r_i·(T/t_i)·[(T/t_i)^-1]_{t_i} mod T.
  mpz_class recombine(std::span<const uint64_t> residues) const;
  // The same in 128-bit words by Garner's mixed-radix algorithm; throws std::invalid_argument
  // unless has_word_path().
  // Reference twin: recombine.
  i128 recombine_word(std::span<const uint64_t> residues) const;

  // A batch: residues_per_modulus[i][s] is slot s modulo t_i (all rows of one length). Checks
  // require_capacity(bound) first; a recombined value outside [-bound, bound] can only come from a
  // wrap modulo T, corruption or a bound that is not the computation's, and throws
  // OutOfBoundError (a std::runtime_error) naming the slot, from 1. Uses the word path
  // when available. Reference twin: recombine, slot by slot.
  std::vector<mpz_class> recombine_batch(
      const std::vector<std::vector<uint64_t>>& residues_per_modulus, const mpz_class& bound) const;

 private:
  void check_residues(std::span<const uint64_t> residues) const;
  // recombine_word without the checks (the batch checks once per slot).
  i128 garner(std::span<const uint64_t> residues) const;
  void check_batch_shape(const std::vector<std::vector<uint64_t>>& residues_per_modulus) const;

  std::vector<uint64_t> moduli_;
  std::vector<Modulus> reducers_;
  mpz_class product_;
  std::vector<mpz_class> crt_coefficients_;  // (T/t_i)·[(T/t_i)^-1]_{t_i}
  // Garner: inverse_prefix_[i] = (t_0···t_{i-1})^-1 mod t_i; prefix_[i] = t_0···t_{i-1} as a word.
  // radix_mod_[i][j] = t_j mod t_i for j < i. product_word_ = T when the word path is available.
  std::vector<ShoupMultiplier> inverse_prefix_;
  std::vector<std::vector<ShoupMultiplier>> radix_mod_;
  std::vector<u128> prefix_;
  u128 product_word_ = 0;
  bool has_word_path_ = false;
};

// The sets below are written once for any scheme on the ring (yashe::Scheme, bfv::Scheme in
// <scheme>/scheme.hpp give the types) and instantiated for both; CrtKeys, CrtEncryptionSet and
// CrtDecryptionSet are the YASHE' ones, BfvCrtKeys, BfvCrtEncryptionSet and BfvCrtDecryptionSet
// the BFV ones.

// ---- Key sets by role (CryptoNets §3: the client owns the keys, the server evaluates), for
// either scheme. Each holds exactly what its role needs, so that a party cannot be handed more:
//
//   role                 type                    holds
//   client (key owner)   BasicCrtKeys            every key, per plaintext modulus
//   encrypts             BasicEncryptionKeys     parameters and public keys
//   server               BasicServerKeys         parameters, evaluation keys, and the public keys
//                                                (to re-randomise the outputs); no secret key
//   decrypts             BasicDecryptionKeys     parameters and secret keys (BasicCrtDecryptionSet
//                                                does the decrypting)
//
// Aliases: CrtKeys, EncryptionKeys, ServerKeys, DecryptionKeys (YASHE'), BfvCrtKeys,
// BfvEncryptionKeys, BfvServerKeys, BfvDecryptionKeys (BFV). io/protocol_files.hpp reads and writes
// them as key-directory files.

template <class Scheme>
struct BasicEncryptionKeys {
  std::vector<std::shared_ptr<const typename Scheme::Context>> contexts;
  std::vector<typename Scheme::PublicKey> public_keys;  // one per context
};

template <class Scheme>
struct BasicServerKeys {
  std::vector<std::shared_ptr<const typename Scheme::Context>> contexts;
  std::vector<typename Scheme::EvaluationKey> evaluation_keys;  // one per context
  // Re-randomising the outputs adds a fresh encryption of zero under the public key
  // (private_inference.hpp): the only reason the server holds it.
  std::vector<typename Scheme::PublicKey> public_keys;
};

template <class Scheme>
struct BasicDecryptionKeys {
  std::vector<std::shared_ptr<const typename Scheme::Context>> contexts;
  std::vector<typename Scheme::SecretKey> secret_keys;  // one per context
};

// The k instances of a multi-modulus computation: one context (same n and q, plaintext modulus
// t_i) and one key set per t_i. Produced by the key owner (the client).
template <class Scheme>
struct BasicCrtKeys {
  std::vector<std::shared_ptr<const typename Scheme::Context>> contexts;
  std::vector<typename Scheme::KeySet> keys;

  // `base` with t replaced by each of `plaintext_moduli` in turn; fresh keys for each.
  static BasicCrtKeys generate(const typename Scheme::Parameters& base,
                               std::span<const uint64_t> plaintext_moduli, Prng& prng);

  // What each role gets (copies of the keys concerned, nothing else).
  BasicEncryptionKeys<Scheme> encryption_keys() const;
  BasicServerKeys<Scheme> server_keys() const;
  BasicDecryptionKeys<Scheme> decryption_keys() const;
  std::vector<uint64_t> key_ids() const;
};

// A value per slot under every t_i: element i is the ciphertext for modulus t_i.
using CrtCiphertext = std::vector<rlwe::Ciphertext>;

// The public side of a multi-modulus computation: everything the server needs (public and
// evaluation keys, encoders), no secret key. Each operation applies to every modulus. The
// constructors (and BasicCrtDecryptionSet's) throw std::invalid_argument for no context, a null
// one, contexts of different n, a key count other than the context count, plaintext moduli that
// are not pairwise coprime (PlaintextCrt) or do not batch at n (BatchEncoder).
template <class Scheme>
class BasicCrtEncryptionSet {
 public:
  using Context = typename Scheme::Context;
  BasicCrtEncryptionSet(std::vector<std::shared_ptr<const Context>> contexts,
                        std::vector<typename Scheme::PublicKey> public_keys,
                        std::vector<typename Scheme::EvaluationKey> evaluation_keys);
  // Copies only the public and evaluation keys.
  explicit BasicCrtEncryptionSet(const BasicCrtKeys<Scheme>& keys);
  // The server's set.
  explicit BasicCrtEncryptionSet(BasicServerKeys<Scheme> keys);
  // An encrypting party's set: without evaluation keys, so that multiply (which relinearises)
  // throws std::logic_error; encoding, encryption and the linear operations work.
  explicit BasicCrtEncryptionSet(BasicEncryptionKeys<Scheme> keys);

  size_t size() const { return channels_.size(); }
  size_t slot_count() const { return channels_.front().encoder.slot_count(); }
  const PlaintextCrt& crt() const { return crt_; }
  const BatchEncoder& encoder(size_t i) const { return channels_[i].encoder; }
  const typename Scheme::Evaluator& evaluator(size_t i) const { return channels_[i].evaluator; }
  const typename Scheme::Encryptor& encryptor(size_t i) const { return channels_[i].encryptor; }

  // Up to n signed values (any int64; each is reduced modulo every t_i), one plaintext per t_i.
  std::vector<rlwe::Plaintext> encode(std::span<const int64_t> values) const;
  CrtCiphertext encrypt(std::span<const int64_t> values, Prng& prng) const;

  void add_inplace(CrtCiphertext& a, const CrtCiphertext& b) const;
  void multiply_scalar_inplace(CrtCiphertext& a, int64_t w) const;
  // `plain` as returned by encode (one plaintext per modulus).
  void multiply_plain_inplace(CrtCiphertext& a, const std::vector<rlwe::Plaintext>& plain) const;
  // Multiply and relinearise under every modulus. std::logic_error for a set made from
  // BasicEncryptionKeys (no evaluation keys).
  CrtCiphertext multiply(const CrtCiphertext& a, const CrtCiphertext& b) const;
  bool has_evaluation_keys() const { return has_evaluation_keys_; }

 private:
  struct Channel {
    Channel(std::shared_ptr<const Context> context, typename Scheme::PublicKey public_key,
            typename Scheme::EvaluationKey evaluation_key);
    typename Scheme::Encryptor encryptor;
    typename Scheme::Evaluator evaluator;
    BatchEncoder encoder;
  };
  void check_size(const CrtCiphertext& a) const;

  std::vector<Channel> channels_;
  PlaintextCrt crt_;
  bool has_evaluation_keys_ = true;
};

// The secret side: decrypts the k ciphertexts of a result and recombines each slot.
template <class Scheme>
class BasicCrtDecryptionSet {
 public:
  using Context = typename Scheme::Context;
  BasicCrtDecryptionSet(std::vector<std::shared_ptr<const Context>> contexts,
                        std::vector<typename Scheme::SecretKey> secret_keys);
  explicit BasicCrtDecryptionSet(const BasicCrtKeys<Scheme>& keys);
  explicit BasicCrtDecryptionSet(BasicDecryptionKeys<Scheme> keys);

  size_t size() const { return channels_.size(); }
  const PlaintextCrt& crt() const { return crt_; }
  const typename Scheme::Decryptor& decryptor(size_t i) const { return channels_[i].decryptor; }

  // The n slot values, exact integers, given that |value| <= bound for every slot (from range
  // tracking). Throws as PlaintextCrt::recombine_batch does.
  std::vector<mpz_class> decrypt(const CrtCiphertext& ct, const mpz_class& bound) const;
  // The smallest invariant noise budget (bits) over the k ciphertexts.
  double noise_budget(const CrtCiphertext& ct) const;

 private:
  struct Channel {
    Channel(std::shared_ptr<const Context> context, typename Scheme::SecretKey secret_key);
    typename Scheme::Decryptor decryptor;
    BatchEncoder encoder;
  };
  void check_size(const CrtCiphertext& ct) const;

  std::vector<Channel> channels_;
  PlaintextCrt crt_;
};

using EncryptionKeys = BasicEncryptionKeys<yashe::Scheme>;
using ServerKeys = BasicServerKeys<yashe::Scheme>;
using DecryptionKeys = BasicDecryptionKeys<yashe::Scheme>;
using BfvEncryptionKeys = BasicEncryptionKeys<bfv::Scheme>;
using BfvDecryptionKeys = BasicDecryptionKeys<bfv::Scheme>;
using BfvServerKeys = BasicServerKeys<bfv::Scheme>;
using CrtKeys = BasicCrtKeys<yashe::Scheme>;
using CrtEncryptionSet = BasicCrtEncryptionSet<yashe::Scheme>;
using CrtDecryptionSet = BasicCrtDecryptionSet<yashe::Scheme>;
using BfvCrtKeys = BasicCrtKeys<bfv::Scheme>;
using BfvCrtEncryptionSet = BasicCrtEncryptionSet<bfv::Scheme>;
using BfvCrtDecryptionSet = BasicCrtDecryptionSet<bfv::Scheme>;

}  // namespace cryptonets::encoding
