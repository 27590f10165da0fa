// The arithmetic of the distributed runtime that needs no MPI (issue 20), so that it is tested
// in every build: the messages' byte form of ciphertexts, the row and input restrictions of a
// linear map that the two splits of partition.hpp compute, the exact sum of partial sums mod q,
// and the noise bookkeeping of a reduced output.
//
// Why partial sums reduce exactly: the fused kernel (fused_linear_combinations) returns every
// residue of Σ_j w_oj·x_j in [0, q_i); splitting the terms over blocks of inputs gives partial
// sums P_r with Σ_r P_r ≡ Σ_j w_oj·x_j (mod q_i), and adding canonical residues with one
// conditional subtraction gives the canonical residue again: the same words as one process.
// Reference twin of the whole: fused_linear_combinations on the full map (test_distributed.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <stdexcept>
#include <vector>

#include "cryptonets/distributed/partition.hpp"
#include "cryptonets/inference/encrypted_arithmetic.hpp"
#include "cryptonets/model/layers.hpp"
#include "cryptonets/ring/rns_base.hpp"
#include "cryptonets/rlwe/types.hpp"

namespace cryptonets::distributed {

using model::LinearMap;

// Appends a trivially copyable value in this machine's byte order (the ranks run the same build).
template <class T>
void put_value(std::vector<uint8_t>& bytes, const T& value) {
  const size_t at = bytes.size();
  bytes.resize(at + sizeof(T));
  std::memcpy(bytes.data() + at, &value, sizeof(T));
}

// Reads what put_value wrote; std::runtime_error when the message is short.
class ByteReader {
 public:
  explicit ByteReader(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  template <class T>
  T get() {
    T value;
    read(&value, sizeof(T));
    return value;
  }
  void read(void* out, size_t size) {
    if (size > bytes_.size() - at_) {
      throw std::runtime_error("distributed inference: a message from another rank is short");
    }
    std::memcpy(out, bytes_.data() + at_, size);
    at_ += size;
  }
  bool done() const { return at_ == bytes_.size(); }

 private:
  std::span<const uint8_t> bytes_;
  size_t at_ = 0;
};

// Ciphertexts as the bytes of one message: the count, then per ciphertext its part count,
// degree, transparent flag, key id, noise estimate, then each part's form and its n·k residues.
// read_ciphertexts checks the sizes against `ring` and throws std::runtime_error for a short or
// malformed message.
void append_ciphertexts(std::vector<uint8_t>& bytes, std::span<const rlwe::Ciphertext> values);
std::vector<rlwe::Ciphertext> read_ciphertexts(std::span<const uint8_t> bytes,
                                               const std::shared_ptr<const RingContext>& ring);

// The rows of `block` (all inputs, their biases): the outputs split.
LinearMap select_rows(const LinearMap& map, Block block);
// Every row restricted to the inputs of `block`, renumbered from 0, biases 0 (the owner adds the
// bias once, after the reduction): one rank's partial sums.
LinearMap restrict_inputs(const LinearMap& map, Block block);

// a += b mod q, residue by residue; both canonical (in [0, q_i)), so is the sum. Throws
// std::runtime_error for ciphertexts of different shapes, degrees or keys.
void add_residues(rlwe::Ciphertext& a, const rlwe::Ciphertext& b, const RnsBase& base);

// The noise estimate and flag of a reduced output: inference::linear_output_noise_log2 and
// linear_output_transparent (encrypted_arithmetic.hpp), from every input's, as the fused kernel.

}  // namespace cryptonets::distributed
