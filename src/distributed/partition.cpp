#include "cryptonets/distributed/partition.hpp"

#include <algorithm>
#include <stdexcept>

namespace cryptonets::distributed {

Block block_of(size_t count, int ranks, int rank) {
  if (ranks < 1 || rank < 0 || rank >= ranks) {
    throw std::invalid_argument("block_of: rank " + std::to_string(rank) + " of " +
                                std::to_string(ranks) + " ranks");
  }
  const size_t k = static_cast<size_t>(ranks), r = static_cast<size_t>(rank);
  const size_t base = count / k, extra = count % k;
  const size_t begin = r * base + std::min(r, extra);
  return {begin, begin + base + (r < extra ? 1 : 0)};
}

int owner_of(size_t count, int ranks, size_t item) {
  if (item >= count) throw std::invalid_argument("owner_of: item past the end");
  const size_t k = static_cast<size_t>(ranks);
  const size_t base = count / k, extra = count % k;
  // The first `extra` blocks hold base + 1 items each.
  const size_t large = extra * (base + 1);
  if (item < large) return static_cast<int>(item / (base + 1));
  return static_cast<int>(extra + (item - large) / base);
}

std::string split_name(LinearSplit split) {
  return split == LinearSplit::outputs ? "outputs" : "partial sums";
}

SplitChoice parse_split_choice(const std::string& text) {
  if (text == "auto") return SplitChoice::automatic;
  if (text == "outputs") return SplitChoice::outputs;
  if (text == "partial-sums") return SplitChoice::partial_sums;
  throw std::invalid_argument("split '" + text + "': expected auto, outputs or partial-sums");
}

size_t ciphertexts_sent_per_rank(LinearSplit split, bool inputs_replicated, size_t inputs,
                                 size_t outputs, int ranks) {
  if (ranks <= 1) return 0;
  const size_t others = static_cast<size_t>(ranks - 1);
  if (split == LinearSplit::outputs) {
    return inputs_replicated ? 0 : block_of(inputs, ranks, 0).size() * others;
  }
  // The rank with the smallest block of outputs sends the most partial sums.
  return outputs - block_of(outputs, ranks, ranks - 1).size();
}

LinearSplit choose_split(SplitChoice choice, bool inputs_replicated, size_t inputs, size_t outputs,
                         int ranks) {
  if (inputs_replicated) return LinearSplit::outputs;
  if (choice == SplitChoice::outputs) return LinearSplit::outputs;
  if (choice == SplitChoice::partial_sums) return LinearSplit::partial_sums;
  const size_t gather =
      ciphertexts_sent_per_rank(LinearSplit::outputs, false, inputs, outputs, ranks);
  const size_t reduce =
      ciphertexts_sent_per_rank(LinearSplit::partial_sums, false, inputs, outputs, ranks);
  return reduce < gather ? LinearSplit::partial_sums : LinearSplit::outputs;
}

}  // namespace cryptonets::distributed
