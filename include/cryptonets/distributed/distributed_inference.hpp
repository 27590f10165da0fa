// The network of one unit (one batch under one plaintext modulus) evaluated by all ranks of a
// communicator together (issue 20): the world, or one group of --groups. Its rank 0 holds the
// input ciphertexts and receives the outputs;
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
#include "cryptonets/inference/encrypted_arithmetic.hpp"
#include "cryptonets/model/layers.hpp"
#include "cryptonets/rlwe/types.hpp"

namespace cryptonets::distributed {

// What one step cost this rank: wall-clock seconds (waits included), CPU seconds of the process
// (all its threads; waits poll with sleeps, so they cost little), and payload bytes it sent. On a
// shared machine the CPU seconds, not the wall clock, show how the work divides.
struct StepRecord {
  std::string what;  // "broadcast inputs", "layer 3 (dense): linear, partial sums", ...
  double seconds = 0;
  double cpu_seconds = 0;
  uint64_t bytes_sent = 0;
};

// CPU seconds used by this process so far (CLOCK_PROCESS_CPUTIME_ID).
double process_cpu_seconds();

// The unit on every rank together. On rank 0 `inputs` are the unit's model.input_size
// ciphertexts (degree 1) and the result is the model's outputs, relinearised, not yet
// re-randomised; on the other ranks `inputs` is ignored and the result is empty. Every rank must
// call it with the same model and split choice, units in the same order. `threads`: OpenMP
// threads of this rank's kernels. `records`: appended with this rank's steps.
template <class Evaluator>
std::vector<rlwe::Ciphertext> evaluate_distributed(Communicator& comm, const Evaluator& evaluator,
                                                   const model::CompiledModel& model,
                                                   std::vector<rlwe::Ciphertext> inputs,
                                                   int threads, SplitChoice choice,
                                                   std::vector<StepRecord>* records = nullptr);

}  // namespace cryptonets::distributed
