// YASHE' as a scheme of the network runtime: the types and key generation that the scheme-generic
// code (encoding/plaintext_crt.hpp, inference/private_inference.hpp) is instantiated with.
#pragma once

#include <memory>

#include "cryptonets/yashe/encryptor.hpp"
#include "cryptonets/yashe/evaluator.hpp"
#include "cryptonets/yashe/key_generator.hpp"

namespace cryptonets::yashe {

struct Scheme {
  static constexpr const char* kName = "YASHE'";
  using Parameters = yashe::Parameters;
  using Context = yashe::Context;
  using KeySet = yashe::KeySet;
  using PublicKey = yashe::PublicKey;
  using SecretKey = yashe::SecretKey;
  using EvaluationKey = yashe::EvaluationKey;
  using Encryptor = yashe::Encryptor;
  using Decryptor = yashe::Decryptor;
  using Evaluator = yashe::Evaluator;
  using NoiseModel = yashe::NoiseModel;

  static KeySet generate_keys(const std::shared_ptr<const Context>& context, Prng& prng) {
    return yashe::generate_keys(context, prng);
  }
  static const EvaluationKey& evaluation_key(const KeySet& keys) { return keys.evaluation_key; }
};

}  // namespace cryptonets::yashe
