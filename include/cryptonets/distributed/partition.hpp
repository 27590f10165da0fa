// How the work of one unit (one batch under one plaintext modulus) is split over K MPI ranks, and
// what each split sends. Pure arithmetic, no MPI: the plan is tested without a launcher.
//
// Every layer's values are split into K contiguous blocks (rank r owns block r). A linear layer
// y = W·x + b is split in one of two ways:
//   outputs       rank r forms the outputs of its block from ALL inputs. Needs every input on every
//                 rank: free when the inputs are replicated (the broadcast input layer), otherwise
//                 an all-gather of the inputs: each rank sends its block to the K − 1 others.
//   partial_sums  rank r forms, for EVERY output o, the partial sum Σ_{j in block r} W_oj·x_j of
//                 its own inputs (mod q, residue by residue); a reduce-scatter by output then adds
//                 the K partial sums of output o on its owner (addition mod q_i per RNS residue is
//                 exact, so the sum equals the single-process output word for word). Each rank
//                 sends the partial sums of the outputs it does not own.
// Either way the outputs of a block end on their owner, which relinearises them (key switching
// runs once per output, on one rank) and adds the bias. A square works on the owner's block only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace cryptonets::distributed {

// Items [begin, end) of a block.
struct Block {
  size_t begin = 0;
  size_t end = 0;
  size_t size() const { return end - begin; }
  bool contains(size_t item) const { return item >= begin && item < end; }
};

// Block `rank` of `count` items split over `ranks` contiguous blocks whose sizes differ by at most
// one (the first count mod ranks blocks are one larger). Throws std::invalid_argument unless
// ranks >= 1 and 0 <= rank < ranks.
Block block_of(size_t count, int ranks, int rank);

// The rank whose block holds `item` (< count).
int owner_of(size_t count, int ranks, size_t item);

enum class LinearSplit { outputs, partial_sums };
// The command line's choice: automatic (choose_split), or one split for every linear layer whose
// inputs are not already replicated.
enum class SplitChoice { automatic, outputs, partial_sums };

std::string split_name(LinearSplit split);
// "auto", "outputs", "partial-sums"; throws std::invalid_argument naming the accepted values.
SplitChoice parse_split_choice(const std::string& text);

// Ciphertexts one rank sends for a linear layer of `inputs` → `outputs` split over `ranks`
// (the largest over ranks, blocks as block_of): 0 for outputs with replicated inputs; outputs
// with distributed inputs: its input block to each of the K − 1 others; partial_sums: the
// outputs it does not own, once each.
size_t ciphertexts_sent_per_rank(LinearSplit split, bool inputs_replicated, size_t inputs,
                                 size_t outputs, int ranks);

// The split of a linear layer. Replicated inputs: outputs (nothing to send). Distributed inputs:
// the split that sends fewer ciphertexts (ciphertexts_sent_per_rank; outputs on a tie); the work
// is the same either way (every term once, every output relinearised once), so the bytes decide.
// bench/results/distributed.md has the measurements behind this rule. A forced choice is
// returned as is, except that replicated inputs always use outputs.
LinearSplit choose_split(SplitChoice choice, bool inputs_replicated, size_t inputs, size_t outputs,
                         int ranks);

}  // namespace cryptonets::distributed
