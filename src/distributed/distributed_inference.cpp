#include "cryptonets/distributed/distributed_inference.hpp"

#include "cryptonets/distributed/partial_sums.hpp"

#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <stdexcept>
#include <utility>

#include "cryptonets/bfv/evaluator.hpp"
#include "cryptonets/yashe/evaluator.hpp"

namespace cryptonets::distributed {

using inference::BasicEncryptedArithmetic;
using model::CompiledModel;
using model::CompiledStep;

namespace {

using Clock = std::chrono::steady_clock;
using Bytes = Communicator::Bytes;

template <class Evaluator>
class UnitRun {
 public:
  UnitRun(Communicator& comm, const Evaluator& evaluator, int threads, SplitChoice choice,
          std::vector<StepRecord>* records)
      : comm_(comm),
        evaluator_(evaluator),
        ops_(evaluator, threads),
        choice_(choice),
        records_(records),
        ranks_(comm.size()),
        rank_(comm.rank()) {}

  std::vector<rlwe::Ciphertext> run(const CompiledModel& model,
                                    std::vector<rlwe::Ciphertext> inputs) {
    std::vector<rlwe::Ciphertext> values = broadcast_inputs(std::move(inputs), model.input_size);
    for (size_t s = 0; s < model.steps.size(); ++s) {
      const CompiledStep& step = model.steps[s];
      label_ = "layer " + std::to_string(step.layer_index + 1) + " (" + step.stage_name() + ")";
      if (step.kind == CompiledStep::Kind::kSquare) {
        square(values);
      } else if (step.kind == CompiledStep::Kind::kPolynomial) {
        throw std::invalid_argument(label_ +
                                    ": a degree-3 polynomial activation cannot be evaluated on "
                                    "ciphertexts (it needs a second multiplication level)");
      } else {
        values = linear(step.map, values);
      }
    }
    return gather(std::move(values));
  }

 private:
  struct Timer {
    Clock::time_point start;
    double cpu = 0;
    uint64_t bytes = 0;
  };
  Timer start() const { return {Clock::now(), process_cpu_seconds(), comm_.bytes_sent()}; }
  void record(const Timer& timer, std::string what) {
    if (records_ == nullptr) return;
    records_->push_back({std::move(what),
                         std::chrono::duration<double>(Clock::now() - timer.start).count(),
                         process_cpu_seconds() - timer.cpu, comm_.bytes_sent() - timer.bytes});
  }
  Block block(size_t count) const { return block_of(count, ranks_, rank_); }
  const std::shared_ptr<const RingContext>& ring() const { return evaluator_.context().ring(); }

  std::vector<rlwe::Ciphertext> broadcast_inputs(std::vector<rlwe::Ciphertext> inputs,
                                                 size_t count) {
    const Timer timer = start();
    Bytes bytes;
    if (rank_ == 0) {
      if (inputs.size() != count) {
        throw std::invalid_argument("evaluate_distributed: the model takes " +
                                    std::to_string(count) + " inputs, rank 0 holds " +
                                    std::to_string(inputs.size()));
      }
      if (ranks_ > 1) append_ciphertexts(bytes, inputs);
    }
    // Rank 0 of the world reads and checks each batch of --in before it sends it (a trial: a
    // large batch tripped the watchdog, which blamed a rank that had died or stalled).
    if (ranks_ > 1) {
      comm_.broadcast(bytes, 0, "the inputs from rank 0",
                      "rank 0 died or stalled, or is still reading and checking the batch from "
                      "--in (a large batch can take longer than --watchdog: raise it)");
    }
    if (rank_ != 0) {
      inputs = read_ciphertexts(bytes, ring());
      if (inputs.size() != count) {
        throw std::runtime_error("distributed inference: rank 0 sent " +
                                 std::to_string(inputs.size()) + " inputs, the model takes " +
                                 std::to_string(count));
      }
    }
    replicated_ = true;
    record(timer, "broadcast inputs");
    return inputs;
  }

  void square(std::vector<rlwe::Ciphertext>& values) {
    const Timer timer = start();
    const Block mine = block(values.size());
    std::vector<rlwe::Ciphertext> own;
    for (size_t j = 0; j < values.size(); ++j) {
      if (mine.contains(j)) {
        own.push_back(std::move(values[j]));
      } else {
        values[j] = {};  // replicated values outside the block are another rank's work
      }
    }
    ops_.square_all(own);  // relinearise if of degree 2, then square without relinearising
    for (size_t j = 0; j < own.size(); ++j)
      values[mine.begin + j] = std::move(own[j]);
    replicated_ = false;
    record(timer, label_ + ": square");
  }

  // Every rank's block of `values` to every rank.
  void all_gather(std::vector<rlwe::Ciphertext>& values) {
    const Block mine = block(values.size());
    Bytes bytes;
    append_ciphertexts(bytes,
                       std::span<const rlwe::Ciphertext>(values).subspan(mine.begin, mine.size()));
    const std::vector<Bytes> all = comm_.all_gather(bytes, label_ + " inputs of every rank");
    for (int s = 0; s < ranks_; ++s) {
      if (s == rank_) continue;
      const Block theirs = block_of(values.size(), ranks_, s);
      std::vector<rlwe::Ciphertext> received =
          read_ciphertexts(all[static_cast<size_t>(s)], ring());
      if (received.size() != theirs.size()) {
        throw std::runtime_error("distributed inference: rank " + std::to_string(s) + " sent " +
                                 std::to_string(received.size()) + " values, expected " +
                                 std::to_string(theirs.size()));
      }
      for (size_t j = 0; j < received.size(); ++j)
        values[theirs.begin + j] = std::move(received[j]);
    }
  }

  std::vector<rlwe::Ciphertext> linear(const LinearMap& map,
                                       std::vector<rlwe::Ciphertext>& values) {
    const Timer timer = start();
    const Block out = block(map.outputs);
    const LinearSplit split = choose_split(choice_, replicated_, map.inputs, map.outputs, ranks_);
    std::vector<rlwe::Ciphertext> mine;
    if (split == LinearSplit::outputs) {
      if (!replicated_) all_gather(values);
      // Deferred relinearisation as in one process: Σ w·x, relinearise each output, add the bias.
      mine = ops_.apply_linear(select_rows(map, out), values);
    } else {
      mine = reduce_partial_sums(map, values, out);
      ops_.relinearize_all(mine);  // each output once, on its owner
      for (size_t j = 0; j < mine.size(); ++j) {
        if (map.bias[out.begin + j] != 0) ops_.add_scalar(mine[j], map.bias[out.begin + j]);
      }
    }
    std::vector<rlwe::Ciphertext> result(map.outputs);
    for (size_t j = 0; j < mine.size(); ++j)
      result[out.begin + j] = std::move(mine[j]);
    replicated_ = false;
    record(timer, label_ + ": linear, " + split_name(split));
    return result;
  }

  // This rank's outputs Σ_j w_oj·x_j, o in `out`, summed from every rank's partial sums over its
  // own inputs; noise estimates and flags as the fused kernel gives them for the whole row.
  std::vector<rlwe::Ciphertext> reduce_partial_sums(const LinearMap& map,
                                                    const std::vector<rlwe::Ciphertext>& values,
                                                    Block out) {
    const Block in = block(map.inputs);
    std::vector<rlwe::Ciphertext> partials;
    if (in.size() > 0) {
      partials =
          ops_.linear(restrict_inputs(map, in),
                      std::span<const rlwe::Ciphertext>(values).subspan(in.begin, in.size()));
    }
    const size_t ranks = static_cast<size_t>(ranks_);
    std::vector<Bytes> buffers(ranks);
    std::vector<std::span<const uint8_t>> sends(ranks);
    std::vector<char> others(ranks, 1);
    others[static_cast<size_t>(rank_)] = 0;
    for (int d = 0; d < ranks_; ++d) {
      if (d == rank_ || partials.empty()) continue;
      const Block theirs = block_of(map.outputs, ranks_, d);
      append_ciphertexts(
          buffers[static_cast<size_t>(d)],
          std::span<const rlwe::Ciphertext>(partials).subspan(theirs.begin, theirs.size()));
      sends[static_cast<size_t>(d)] = buffers[static_cast<size_t>(d)];
    }
    const std::vector<Bytes> received =
        comm_.exchange(sends, others, others, label_ + " partial sums of every rank");
    buffers.clear();

    std::vector<rlwe::Ciphertext> mine;
    if (!partials.empty()) {
      for (size_t o = out.begin; o < out.end; ++o)
        mine.push_back(std::move(partials[o]));
    }
    for (int s = 0; s < ranks_; ++s) {
      const Bytes& bytes = received[static_cast<size_t>(s)];
      if (s == rank_ || bytes.empty()) continue;
      std::vector<rlwe::Ciphertext> theirs = read_ciphertexts(bytes, ring());
      if (theirs.size() != out.size()) {
        throw std::runtime_error("distributed inference: rank " + std::to_string(s) + " sent " +
                                 std::to_string(theirs.size()) + " partial sums, expected " +
                                 std::to_string(out.size()));
      }
      if (mine.empty()) {
        mine = std::move(theirs);
      } else {
        for (size_t j = 0; j < mine.size(); ++j)
          add_residues(mine[j], theirs[j], evaluator_.context().q_base());
      }
    }

    // The noise estimate of a whole row needs every input's: an all-gather of 9 bytes per input.
    Bytes bookkeeping;
    for (size_t j = in.begin; j < in.end; ++j) {
      put_value(bookkeeping, values[j].noise_log2);
      put_value(bookkeeping, static_cast<uint8_t>(values[j].transparent));
    }
    const std::vector<Bytes> all = comm_.all_gather(bookkeeping, label_ + " noise estimates");
    std::vector<double> noise(map.inputs);
    std::vector<char> transparent(map.inputs);
    for (int s = 0; s < ranks_; ++s) {
      const Block theirs = block_of(map.inputs, ranks_, s);
      ByteReader reader(all[static_cast<size_t>(s)]);
      for (size_t j = theirs.begin; j < theirs.end; ++j) {
        noise[j] = reader.get<double>();
        transparent[j] = static_cast<char>(reader.get<uint8_t>());
      }
      if (!reader.done()) throw std::runtime_error("distributed inference: bad noise message");
    }
    for (size_t j = 0; j < mine.size(); ++j) {
      mine[j].noise_log2 = inference::linear_output_noise_log2(map, out.begin + j, noise);
      mine[j].transparent = inference::linear_output_transparent(map, out.begin + j, transparent);
    }
    return mine;
  }

  std::vector<rlwe::Ciphertext> gather(std::vector<rlwe::Ciphertext> values) {
    const Timer timer = start();
    if (replicated_) {
      if (rank_ != 0) values.clear();
      return values;
    }
    const Block mine = block(values.size());
    std::vector<rlwe::Ciphertext> own;
    for (size_t j = mine.begin; j < mine.end; ++j)
      own.push_back(std::move(values[j]));
    ops_.relinearize_all(own);  // a network ending in a square
    const size_t ranks = static_cast<size_t>(ranks_);
    std::vector<char> send_to(ranks, 0), receive_from(ranks, 0);
    Bytes bytes;
    std::vector<std::span<const uint8_t>> sends(ranks);
    if (rank_ == 0) {
      std::fill(receive_from.begin() + 1, receive_from.end(), 1);
    } else {
      append_ciphertexts(bytes, own);
      send_to[0] = 1;
      sends[0] = bytes;
    }
    const std::vector<Bytes> received =
        comm_.exchange(sends, send_to, receive_from, "the outputs of every rank");
    std::vector<rlwe::Ciphertext> result;
    if (rank_ == 0) {
      result.resize(values.size());
      for (size_t j = 0; j < own.size(); ++j)
        result[mine.begin + j] = std::move(own[j]);
      for (int s = 1; s < ranks_; ++s) {
        const Block theirs = block_of(values.size(), ranks_, s);
        std::vector<rlwe::Ciphertext> part =
            read_ciphertexts(received[static_cast<size_t>(s)], ring());
        if (part.size() != theirs.size()) {
          throw std::runtime_error("distributed inference: rank " + std::to_string(s) + " sent " +
                                   std::to_string(part.size()) + " outputs, expected " +
                                   std::to_string(theirs.size()));
        }
        for (size_t j = 0; j < part.size(); ++j)
          result[theirs.begin + j] = std::move(part[j]);
      }
    }
    record(timer, "gather outputs");
    return result;
  }

  Communicator& comm_;
  const Evaluator& evaluator_;
  BasicEncryptedArithmetic<Evaluator> ops_;
  SplitChoice choice_;
  std::vector<StepRecord>* records_;
  int ranks_;
  int rank_;
  bool replicated_ = true;  // every rank holds every value (else: each its block)
  std::string label_;
};

}  // namespace

double process_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}

template <class Evaluator>
std::vector<rlwe::Ciphertext> evaluate_distributed(Communicator& comm, const Evaluator& evaluator,
                                                   const CompiledModel& model,
                                                   std::vector<rlwe::Ciphertext> inputs,
                                                   int threads, SplitChoice choice,
                                                   std::vector<StepRecord>* records) {
  UnitRun<Evaluator> run(comm, evaluator, threads, choice, records);
  return run.run(model, std::move(inputs));
}

template std::vector<rlwe::Ciphertext> evaluate_distributed<yashe::Evaluator>(
    Communicator&, const yashe::Evaluator&, const CompiledModel&, std::vector<rlwe::Ciphertext>,
    int, SplitChoice, std::vector<StepRecord>*);
template std::vector<rlwe::Ciphertext> evaluate_distributed<bfv::Evaluator>(
    Communicator&, const bfv::Evaluator&, const CompiledModel&, std::vector<rlwe::Ciphertext>, int,
    SplitChoice, std::vector<StepRecord>*);

}  // namespace cryptonets::distributed
