// The network of one unit (one batch under one plaintext modulus) evaluated by all ranks of
// MPI_COMM_WORLD together (issue 20). Rank 0 holds the input ciphertexts and receives the outputs;
// the split of each layer is described in partition.hpp. The outputs equal, word for word and with
// the same noise estimates and flags, those of the single-process runtime
// (encrypted_arithmetic.hpp: the deferred-relinearisation schedule, the fused kernel), before
// re-randomisation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "cryptonets/distributed/communicator.hpp"
#include "cryptonets/distributed/partition.hpp"
#include "cryptonets/nn/encrypted_arithmetic.hpp"
#include "cryptonets/nn/layers.hpp"
#include "cryptonets/rlwe/types.hpp"

namespace cryptonets::distributed {

// What one step cost this rank: wall-clock seconds (waits included) and payload bytes it sent.
struct StepRecord {
  std::string what;  // "broadcast inputs", "linear (outputs)", "linear (partial sums)", "square",
                     // "gather outputs"
  double seconds = 0;
  uint64_t bytes_sent = 0;
};

// The unit on every rank together. On rank 0 `inputs` are the unit's model.input_size
// ciphertexts (degree 1) and the result is the model's outputs, relinearised, not yet
// re-randomised; on the other ranks `inputs` is ignored and the result is empty. Every rank must
// call it with the same model and split choice, units in the same order. `threads`: OpenMP
// threads of this rank's kernels. `records`: appended with this rank's steps.
template <class Evaluator>
std::vector<rlwe::Ciphertext> evaluate_distributed(Communicator& comm, const Evaluator& evaluator,
                                                   const CompiledModel& model,
                                                   std::vector<rlwe::Ciphertext> inputs,
                                                   int threads, SplitChoice choice,
                                                   std::vector<StepRecord>* records = nullptr);

}  // namespace cryptonets::distributed
