#include "cryptonets/inference/work_splitting.hpp"

#include <algorithm>
#include <stdexcept>

namespace cryptonets::inference {

namespace {

constexpr uint64_t pack(uint64_t front, uint64_t back) {
  return front << 32 | back;
}
constexpr uint64_t front_of(uint64_t bounds) {
  return bounds >> 32;
}
constexpr uint64_t back_of(uint64_t bounds) {
  return bounds & 0xffffffffu;
}

}  // namespace

WorkSplitter::WorkSplitter(size_t count, int threads) {
  if (threads < 1 || threads > 1024)
    throw std::invalid_argument("WorkSplitter: threads must be 1 to 1024");
  if (count >= (size_t{1} << 32))
    throw std::invalid_argument("WorkSplitter: at most 2^32 - 1 tasks");
  ranges_ = std::vector<Range>(static_cast<size_t>(threads));
  const size_t t = ranges_.size();
  for (size_t i = 0; i < t; ++i)
    ranges_[i].bounds.store(pack(i * count / t, (i + 1) * count / t), std::memory_order_relaxed);
}

std::optional<WorkSplitter::Claim> WorkSplitter::next(int thread) {
  std::atomic<uint64_t>& own = ranges_.at(static_cast<size_t>(thread)).bounds;
  // Both ends of a range change by compare-and-swap on the one word: the owner advances the front,
  // a thief lowers the back, and neither can take a task the other took.
  for (uint64_t bounds = own.load(std::memory_order_acquire); front_of(bounds) < back_of(bounds);) {
    const uint64_t front = front_of(bounds), back = back_of(bounds);
    if (own.compare_exchange_weak(bounds, pack(front + 1, back), std::memory_order_acq_rel)) {
      return Claim{front, front + 1 < back ? std::optional<size_t>(front + 1) : std::nullopt};
    }
  }
  // Own range empty: split the largest other range, and keep its upper half as this thread's.
  for (;;) {
    size_t victim = ranges_.size();
    uint64_t victim_bounds = 0, largest = 0;
    for (size_t i = 0; i < ranges_.size(); ++i) {
      const uint64_t bounds = ranges_[i].bounds.load(std::memory_order_acquire);
      const uint64_t left = back_of(bounds) - std::min(back_of(bounds), front_of(bounds));
      if (left > largest) {
        largest = left;
        victim = i;
        victim_bounds = bounds;
      }
    }
    if (victim == ranges_.size()) return std::nullopt;
    const uint64_t front = front_of(victim_bounds), back = back_of(victim_bounds);
    const uint64_t split = back - (back - front + 1) / 2;  // the thief takes [split, back)
    if (!ranges_[victim].bounds.compare_exchange_strong(victim_bounds, pack(front, split),
                                                        std::memory_order_acq_rel)) {
      continue;  // the range moved meanwhile: look again
    }
    // Only this thread makes its own empty range non-empty, and thieves skip empty ranges.
    own.store(pack(split + 1, back), std::memory_order_release);
    return Claim{split, split + 1 < back ? std::optional<size_t>(split + 1) : std::nullopt};
  }
}

}  // namespace cryptonets::inference
