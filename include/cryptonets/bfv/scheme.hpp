// BFV as a scheme of the network runtime: the types and key generation that the scheme-generic
// code (encoding/plaintext_crt.hpp, inference/private_inference.hpp) is instantiated with.
#pragma once

#include <memory>

#include "cryptonets/bfv/encryptor.hpp"
#include "cryptonets/bfv/evaluator.hpp"
#include "cryptonets/bfv/key_generator.hpp"

namespace cryptonets::bfv {

struct Scheme {
  static constexpr const char* kName = "BFV";
  using Parameters = bfv::Parameters;
  using Context = bfv::Context;
  using KeySet = bfv::KeySet;
  using PublicKey = bfv::PublicKey;
  using SecretKey = bfv::SecretKey;
  using EvaluationKey = bfv::RelinearizationKey;
  using Encryptor = bfv::Encryptor;
  using Decryptor = bfv::Decryptor;
  using Evaluator = bfv::Evaluator;
  using NoiseModel = bfv::NoiseModel;

  static KeySet generate_keys(const std::shared_ptr<const Context>& context, Prng& prng) {
    return bfv::generate_keys(context, prng);
  }
  static const EvaluationKey& evaluation_key(const KeySet& keys) {
    return keys.relinearization_key;
  }
};

}  // namespace cryptonets::bfv
