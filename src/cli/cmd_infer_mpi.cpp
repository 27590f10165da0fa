// cryptonets infer under mpirun (issue 20): every rank runs this; rank 0 parses the options, runs
// every check of the single-process command (prepare_infer) before anything is sent, reads the
// images file and writes the scores; the ranks evaluate each unit (batch × plaintext modulus)
// together (distributed/distributed_inference.hpp), or, with --groups G, G units at a time, each
// on one group of ranks (Schedule below). The other ranks get the model, parameter set
// and evaluation keys as bytes from rank 0 (no shared file system needed), load them with the
// same checked loaders, and never see the public key, the files or the options.
// Scheme: the key set's (YASHE' or BFV, from rank 0's files); the start message names it and every
// rank runs the same code under it (compute_root / compute_worker are templates over the scheme).
//
// Failure: a bad option or input stops rank 0 before any work, and the others with it, quietly.
// Any error after that ends the whole job at once (MPI_Abort) with the message of the rank that
// failed; a stalled rank trips the watchdog (communicator.hpp). The scores file appears only when
// rank 0 commits it, after every batch.

#include <omp.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <stdlib.h>
#include <unistd.h>

#include "cli_support.hpp"
#include "commands.hpp"
#include "cryptonets/bfv/evaluator.hpp"
#include "cryptonets/distributed/communicator.hpp"
#include "cryptonets/distributed/distributed_inference.hpp"
#include "cryptonets/distributed/partial_sums.hpp"
#include "cryptonets/distributed/step_table.hpp"
#include "cryptonets/inference/private_inference.hpp"
#include "cryptonets/io/anonymous_file.hpp"
#include "cryptonets/io/model_file.hpp"
#include "cryptonets/io/protocol_files.hpp"
#include "cryptonets/yashe/evaluator.hpp"
#include "infer_setup.hpp"

namespace cryptonets::cli {

namespace {

using distributed::ByteReader;
using distributed::Communicator;
using distributed::put_value;
using Bytes = Communicator::Bytes;
using inference::EncryptedBatch;
using model::CompiledModel;

enum class Start : uint8_t { work = 0, help = 1, refused = 2 };

Bytes file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  Bytes bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) throw std::runtime_error("cannot read '" + path + "'");
  return bytes;
}

void put_blob(Bytes& bytes, const Bytes& blob) {
  put_value(bytes, static_cast<uint64_t>(blob.size()));
  bytes.insert(bytes.end(), blob.begin(), blob.end());
}

Bytes get_blob(ByteReader& reader) {
  Bytes blob(reader.get<uint64_t>());
  reader.read(blob.data(), blob.size());
  return blob;
}

// What every rank needs to compute: sent by rank 0 once its checks have passed.
struct Work {
  int threads = 1;
  distributed::SplitChoice split = distributed::SplitChoice::automatic;
  double watchdog_seconds = kDefaultWatchdogSeconds;
  uint64_t batches = 0;
  uint64_t moduli = 0;
  int groups = 1;                      // units run G at a time, one per group of ranks
  SchemeId scheme = SchemeId::kYashe;  // of the key set (rank 0's files)
};

Bytes encode_work(const Work& work, const InferOptions& setup) {
  Bytes bytes;
  put_value(bytes, Start::work);
  put_value(bytes, work.scheme);
  put_value(bytes, work.threads);
  put_value(bytes, work.split);
  put_value(bytes, work.watchdog_seconds);
  put_value(bytes, work.batches);
  put_value(bytes, work.moduli);
  put_value(bytes, work.groups);
  put_blob(bytes, file_bytes(setup.model_path));
  put_blob(bytes, file_bytes(setup.parameters_path));
  put_blob(bytes, file_bytes(setup.evaluation_keys_path));
  return bytes;
}

template <class Setup>
void check_batch(const EncryptedBatch& batch, const Setup& setup) {
  if (batch.values.size() != setup.contexts.size()) {
    throw std::runtime_error("a batch with the wrong number of plaintext moduli");
  }
  for (size_t i = 0; i < batch.values.size(); ++i) {
    if (batch.values[i].size() != setup.compiled.input_size) {
      throw std::runtime_error("a batch with the wrong number of inputs");
    }
    for (const rlwe::Ciphertext& c : batch.values[i]) {
      if (c.key_id != setup.key_ids[i] || c.degree != 1) {
        throw std::runtime_error(
            "an input ciphertext of other keys, or not fresh (plaintext modulus " +
            std::to_string(i + 1) + ")");
      }
    }
  }
}

// The per-step records of every unit on this rank, summed by step in first-seen order.
struct StepTotals {
  std::vector<std::string> names;
  std::vector<double> seconds;
  std::vector<double> cpu_seconds;
  std::vector<uint64_t> bytes;

  void add(const std::vector<distributed::StepRecord>& records) {
    for (const auto& r : records) {
      size_t at = 0;
      while (at < names.size() && names[at] != r.what)
        ++at;
      if (at == names.size()) {
        names.push_back(r.what);
        seconds.push_back(0);
        cpu_seconds.push_back(0);
        bytes.push_back(0);
      }
      seconds[at] += r.seconds;
      cpu_seconds[at] += r.cpu_seconds;
      bytes[at] += r.bytes_sent;
    }
  }
};

// Times the world part of one round as one more step, when there are several groups: on rank 0
// reading the batches the round needs (checksums included) and sending the units to the group
// leaders, then their outputs back; on the others, waiting for and receiving them.
class WorldStep {
 public:
  WorldStep(const Communicator& comm, StepTotals& totals, bool enabled)
      : comm_(comm),
        totals_(totals),
        enabled_(enabled),
        start_(std::chrono::steady_clock::now()),
        cpu_(distributed::process_cpu_seconds()),
        bytes_(comm.bytes_sent()) {}
  void pause() { add(); }
  void resume() {
    start_ = std::chrono::steady_clock::now();
    cpu_ = distributed::process_cpu_seconds();
    bytes_ = comm_.bytes_sent();
  }
  void add() {
    if (!enabled_) return;
    totals_.add({{"rank 0 reads; units to and from group leaders",
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(),
                  distributed::process_cpu_seconds() - cpu_, comm_.bytes_sent() - bytes_}});
  }

 private:
  const Communicator& comm_;
  StepTotals& totals_;
  bool enabled_;
  std::chrono::steady_clock::time_point start_;
  double cpu_;
  uint64_t bytes_;
};

// Rank 0 prints, per unit and step: its wall-clock time, the CPU time of the busiest rank and of
// all ranks, and the bytes all ranks sent; `units`: the units this rank took part in.
void report(Communicator& comm, const StepTotals& totals, uint64_t units, uint64_t all_units) {
  Bytes mine;
  put_value(mine, units);
  put_value(mine, static_cast<uint64_t>(totals.names.size()));
  for (size_t s = 0; s < totals.names.size(); ++s) {
    put_blob(mine, Bytes(totals.names[s].begin(), totals.names[s].end()));
    put_value(mine, totals.bytes[s]);
    put_value(mine, totals.cpu_seconds[s]);
  }
  const size_t ranks = static_cast<size_t>(comm.size());
  std::vector<std::span<const uint8_t>> sends(ranks);
  std::vector<char> send_to(ranks, 0), receive_from(ranks, 0);
  if (comm.rank() == 0) {
    std::fill(receive_from.begin() + 1, receive_from.end(), 1);
  } else {
    send_to[0] = 1;
    sends[0] = mine;
  }
  std::vector<Bytes> all = comm.exchange(sends, send_to, receive_from, "the step report");
  if (comm.rank() != 0) return;
  all[0] = mine;
  // Steps by name, in rank 0's order (ranks of idle groups have only some of them).
  std::vector<std::string> names = totals.names;
  std::vector<double> bytes, cpu_max, cpu_all;
  auto at = [&](const std::string& name) {
    const size_t k =
        static_cast<size_t>(std::find(names.begin(), names.end(), name) - names.begin());
    if (k == names.size()) names.push_back(name);
    bytes.resize(names.size());
    cpu_max.resize(names.size());
    cpu_all.resize(names.size());
    return k;
  };
  for (size_t r = 0; r < ranks; ++r) {
    ByteReader reader(all[r]);
    const double rank_units = static_cast<double>(std::max<uint64_t>(reader.get<uint64_t>(), 1));
    const uint64_t steps = reader.get<uint64_t>();
    for (uint64_t s = 0; s < steps; ++s) {
      const Bytes name = get_blob(reader);
      const size_t k = at(std::string(name.begin(), name.end()));
      bytes[k] += static_cast<double>(reader.get<uint64_t>());
      const double cpu = reader.get<double>();
      cpu_max[k] = std::max(cpu_max[k], cpu / rank_units);
      cpu_all[k] += cpu;
    }
  }
  const double per = 1.0 / static_cast<double>(all_units);
  std::vector<distributed::StepRow> rows;
  for (size_t s = 0; s < names.size(); ++s) {
    const double wall = s < totals.seconds.size()
                            ? totals.seconds[s] / static_cast<double>(std::max<uint64_t>(units, 1))
                            : 0;
    rows.push_back({names[s], wall, cpu_max[s], cpu_all[s] * per, bytes[s] * per});
  }
  const std::string table = distributed::format_step_table(
      "per unit (batch x modulus; mean of " + std::to_string(all_units) + ")", rows);
  std::fputs(table.c_str(), stdout);
}

// Units u = b·M + i (batch b, plaintext modulus i) run in rounds of G, unit first + g on group g:
// the groups are blocks of ranks (partition.hpp), each led by its first rank; world rank 0 leads
// group 0. In every round world rank 0 sends each other leader its unit's inputs and gets its
// outputs back (two exchanges on the world that every rank joins, to keep message tags in step).
struct Schedule {
  uint64_t units = 0;
  uint64_t moduli = 0;
  int groups = 1;
  int ranks = 1;
  int leader(int group) const {
    return static_cast<int>(distributed::block_of(static_cast<size_t>(ranks), groups, group).begin);
  }
  int group_of(int rank) const {
    return distributed::owner_of(static_cast<size_t>(ranks), groups, static_cast<size_t>(rank));
  }
};

// What rank 0 tells the others about the work of `setup`.
template <class Scheme>
Work work_of(const BasicInferSetup<Scheme>& setup, const Communicator& comm) {
  Work work;
  work.threads = setup.threads;
  work.split = setup.split;
  work.watchdog_seconds = setup.watchdog_seconds;
  work.batches = setup.reader->header().batch_count();
  work.moduli = setup.contexts.size();
  work.groups = setup.groups;
  work.scheme = scheme_id<Scheme>();
  if (work.groups > comm.size()) {
    throw UsageError("--groups " + std::to_string(work.groups) +
                     " needs at least as many ranks; mpirun gave " + std::to_string(comm.size()));
  }
  return work;
}

template <class Scheme>
void compute_root(Communicator& comm, BasicInferSetup<Scheme>& setup_ref);

int run_root(Communicator& comm, std::span<char* const> arguments) {
  std::optional<AnyInferSetup> setup;
  Bytes start;
  try {
    setup = prepare_infer(arguments);
    if (setup) {
      std::visit([&](const auto& typed) { start = encode_work(work_of(typed, comm), typed); },
                 *setup);
    } else {
      put_value(start, Start::help);
    }
  } catch (...) {
    // Refused before any work: the other ranks stop quietly, main() prints the reason.
    Bytes refused;
    put_value(refused, Start::refused);
    comm.broadcast(refused, 0, "the start message");
    throw;
  }
  comm.broadcast(start, 0, "the start message");
  if (!setup) return kExitSuccess;
  std::visit([&](auto& typed) { compute_root(comm, typed); }, *setup);
  return kExitSuccess;
}

// Rank 0's part of the work, under the scheme of the key set.
template <class Scheme>
void compute_root(Communicator& comm, BasicInferSetup<Scheme>& setup_ref) {
  BasicInferSetup<Scheme>* const setup = &setup_ref;
  comm.set_watchdog(setup->watchdog_seconds);

  try {
    const ProtocolHeader header = setup->reader->header();
    std::printf("infer under %s on %s in %s, %s each: %s x %s\n", Scheme::kName,
                counted(static_cast<size_t>(comm.size()), "MPI rank", "MPI ranks").c_str(),
                counted(static_cast<size_t>(setup->groups), "group", "groups").c_str(),
                counted(static_cast<size_t>(setup->threads), "thread", "threads").c_str(),
                counted(header.batch_count(), "batch", "batches").c_str(),
                counted(setup->contexts.size(), "modulus", "moduli").c_str());
    std::fflush(stdout);
    Prng prng = setup->make_prng();  // one generator for every batch, in file order
    StepTotals totals;
    const auto begin = std::chrono::steady_clock::now();
    const size_t moduli = setup->contexts.size();
    const Schedule schedule{header.batch_count() * moduli, moduli, setup->groups, comm.size()};
    const std::unique_ptr<Communicator> group = comm.split(0, "forming the groups of ranks");
    const size_t ranks = static_cast<size_t>(comm.size());
    std::map<uint64_t, EncryptedBatch> inputs, scores;  // by batch
    uint64_t batches_read = 0, my_units = 0;
    auto unit_inputs = [&](uint64_t u) {
      const uint64_t b = u / moduli;
      while (batches_read <= b) {
        EncryptedBatch batch = setup->reader->next();
        check_batch(batch, *setup);
        inputs[batches_read++] = std::move(batch);
      }
      std::vector<rlwe::Ciphertext> values = std::exchange(inputs[b].values[u % moduli], {});
      scores[b].images = inputs[b].images;
      if (u % moduli == moduli - 1) inputs.erase(b);
      return values;
    };
    for (uint64_t first = 0; first < schedule.units;
         first += static_cast<uint64_t>(schedule.groups)) {
      const uint64_t last =
          std::min(schedule.units, first + static_cast<uint64_t>(schedule.groups));
      std::vector<Bytes> buffers(ranks);
      std::vector<std::span<const uint8_t>> sends(ranks);
      std::vector<char> send_to(ranks, 0), receive_from(ranks, 0);
      WorldStep world(comm, totals, schedule.groups > 1);
      std::vector<rlwe::Ciphertext> own = unit_inputs(first);
      for (uint64_t u = first + 1; u < last; ++u) {
        const size_t leader = static_cast<size_t>(schedule.leader(static_cast<int>(u - first)));
        distributed::append_ciphertexts(buffers[leader], unit_inputs(u));
        sends[leader] = buffers[leader];
        send_to[leader] = 1;
      }
      comm.exchange(sends, send_to, receive_from, "sending units to the group leaders");
      buffers.clear();
      world.pause();
      std::vector<distributed::StepRecord> records;
      std::vector<rlwe::Ciphertext> own_outputs = distributed::evaluate_distributed(
          *group, setup->server->evaluator(first % moduli), setup->compiled, std::move(own),
          setup->threads, setup->split, &records);
      totals.add(records);
      ++my_units;
      std::fill(send_to.begin(), send_to.end(), 0);
      for (uint64_t u = first + 1; u < last; ++u)
        receive_from[static_cast<size_t>(schedule.leader(static_cast<int>(u - first)))] = 1;
      world.resume();
      std::vector<Bytes> received =
          comm.exchange(std::vector<std::span<const uint8_t>>(ranks), send_to, receive_from,
                        "the outputs of the group leaders");
      world.add();
      for (uint64_t u = first; u < last; ++u) {  // in unit order: the re-randomisation's order
        const size_t i = u % moduli, b = u / moduli;
        std::vector<rlwe::Ciphertext> outputs;
        if (u == first) {
          outputs = std::move(own_outputs);
        } else {
          const size_t leader = static_cast<size_t>(schedule.leader(static_cast<int>(u - first)));
          outputs = distributed::read_ciphertexts(received[leader],
                                                  setup->server->evaluator(i).context().ring());
        }
        if (outputs.size() != setup->compiled.output_size) {
          throw std::runtime_error("a group sent " + std::to_string(outputs.size()) +
                                   " outputs, the model has " +
                                   std::to_string(setup->compiled.output_size));
        }
        // As infer() does in one process, in the same order, from the same generator.
        inference::rerandomize_outputs(*setup->server, i, outputs, setup->circuit_privacy, prng);
        scores[b].values.resize(moduli);
        scores[b].values[i] = std::move(outputs);
        if (i == moduli - 1) {
          setup->writer->write(std::move(scores[b]));
          scores.erase(b);
          std::printf("batch %llu of %llu done\n", static_cast<unsigned long long>(b + 1),
                      static_cast<unsigned long long>(header.batch_count()));
          std::fflush(stdout);
        }
      }
    }
    setup->reader->finish();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
    report(comm, totals, my_units, header.batch_count() * setup->contexts.size());
    setup->writer->commit();
    std::printf("inferred %s in %s, %s, %.2f s on %s: %s (%s)\n",
                counted(header.images, "image", "images").c_str(),
                counted(header.batch_count(), "batch", "batches").c_str(),
                counted(setup->contexts.size(), "modulus", "moduli").c_str(), seconds,
                counted(static_cast<size_t>(comm.size()), "rank", "ranks").c_str(),
                printable_text(setup->out_path).c_str(),
                format_bytes(std::filesystem::file_size(setup->out_path)).c_str());
  } catch (const std::exception& e) {
    comm.abort(printable_text(e.what()));
  }
}

template <class Scheme>
void compute_worker(Communicator& comm, const Work& work, const CompiledModel& compiled,
                    const Bytes& parameter_bytes, const Bytes& key_bytes);

int run_worker(Communicator& comm) {
  Bytes start;
  // Rank 0 reads and checks the keys, the model and --in's header first: a wait that lasts is
  // not only a rank that died or stalled (the watchdog said only that).
  comm.broadcast(start, 0, "the start message from rank 0",
                 "rank 0 died or stalled, or is still reading and checking the input files (the "
                 "keys, the model and --in; large keys can take longer than --watchdog: raise it)");
  ByteReader reader(start);
  const Start kind = reader.get<Start>();
  // Refused: rank 0 prints why and gives the job its exit status (a worker that exited non-zero
  // first would have mpirun end rank 0 before it could print).
  if (kind != Start::work) return kExitSuccess;
  try {
    Work work;
    work.scheme = reader.get<SchemeId>();
    work.threads = reader.get<int>();
    work.split = reader.get<distributed::SplitChoice>();
    work.watchdog_seconds = reader.get<double>();
    work.batches = reader.get<uint64_t>();
    work.moduli = reader.get<uint64_t>();
    work.groups = reader.get<int>();
    const Bytes model_bytes = get_blob(reader);
    const Bytes parameter_bytes = get_blob(reader);
    const Bytes key_bytes = get_blob(reader);
    comm.set_watchdog(work.watchdog_seconds);
    omp_set_num_threads(work.threads);

    std::istringstream model_text(std::string(model_bytes.begin(), model_bytes.end()));
    const CompiledModel compiled = compile_model(read_model(model_text, "the model from rank 0"));
    if (work.scheme == SchemeId::kBfv) {
      compute_worker<bfv::Scheme>(comm, work, compiled, parameter_bytes, key_bytes);
    } else if (work.scheme == SchemeId::kYashe) {
      compute_worker<yashe::Scheme>(comm, work, compiled, parameter_bytes, key_bytes);
    } else {
      throw std::runtime_error("rank 0 sent an unknown scheme");
    }
  } catch (const std::exception& e) {
    comm.abort(printable_text(e.what()));
  }
  return kExitSuccess;
}

// A worker rank's part of the work, under the scheme rank 0 named; the key files are loaded
// with the same checked loaders as rank 0's (they refuse a file of the other scheme).
template <class Scheme>
void compute_worker(Communicator& comm, const Work& work, const CompiledModel& compiled,
                    const Bytes& parameter_bytes, const Bytes& key_bytes) {
  BasicContextSet<Scheme> contexts;
  std::vector<typename Scheme::Evaluator> evaluators;
  {
    // The parameter and key files this rank got from rank 0, as files with no name, read by the
    // checked loaders through /proc/self/fd/N. They were files in a directory mkdtemp made under
    // TMPDIR, removed with it: a rank killed meanwhile (mpirun ends the others when one fails)
    // left /tmp/cryptonets-rank-XXXXXX with the evaluation key behind. memfd_create first; where
    // a seccomp filter refuses it, O_TMPFILE or an unlinked file (AnonymousFile).
    const AnonymousFile parameters("params sent by rank 0", parameter_bytes);
    const AnonymousFile evaluation_keys("evaluation.key sent by rank 0", key_bytes);
    contexts = load_parameter_set<Scheme>(parameters.path());
    std::vector<typename Scheme::EvaluationKey> keys =
        load_evaluation_keys(evaluation_keys.path(), contexts);
    for (size_t i = 0; i < contexts.size(); ++i)
      evaluators.emplace_back(contexts[i], std::move(keys[i]));
  }
  if (contexts.size() != work.moduli) throw std::runtime_error("rank 0 sent another key set");

  const Schedule schedule{work.batches * work.moduli, work.moduli, work.groups, comm.size()};
  const int my_group = schedule.group_of(comm.rank());
  const bool leader = schedule.leader(my_group) == comm.rank();
  const std::unique_ptr<Communicator> group = comm.split(my_group, "forming the groups of ranks");
  const size_t ranks = static_cast<size_t>(comm.size());
  const std::vector<std::span<const uint8_t>> nothing(ranks);
  StepTotals totals;
  uint64_t my_units = 0;
  for (uint64_t first = 0; first < schedule.units;
       first += static_cast<uint64_t>(schedule.groups)) {
    const uint64_t u = first + static_cast<uint64_t>(my_group);
    const bool busy = u < schedule.units;
    const size_t i = busy ? u % work.moduli : 0;
    std::vector<char> send_to(ranks, 0), receive_from(ranks, 0);
    receive_from[0] = leader && busy && my_group != 0;
    WorldStep world(comm, totals, schedule.groups > 1);
    std::vector<Bytes> received =
        comm.exchange(nothing, send_to, receive_from, "a unit from rank 0",
                      "rank 0 died or stalled, or is still reading and checking the batches from "
                      "--in (a large batch can take longer than --watchdog: raise it)");
    std::vector<rlwe::Ciphertext> outputs;
    std::vector<rlwe::Ciphertext> in;
    if (busy && receive_from[0])
      in = distributed::read_ciphertexts(received[0], contexts[i]->ring());
    world.pause();
    if (busy) {
      std::vector<distributed::StepRecord> records;
      outputs = distributed::evaluate_distributed(*group, evaluators[i], compiled, std::move(in),
                                                  work.threads, work.split, &records);
      totals.add(records);
      ++my_units;
    }
    receive_from[0] = 0;
    Bytes bytes;
    std::vector<std::span<const uint8_t>> sends(ranks);
    if (leader && busy && my_group != 0) {
      distributed::append_ciphertexts(bytes, outputs);
      sends[0] = bytes;
      send_to[0] = 1;
    }
    world.resume();
    comm.exchange(sends, send_to, receive_from, "sending the outputs to rank 0");
    world.add();
  }
  report(comm, totals, my_units, schedule.units);
}

}  // namespace

int run_infer_distributed(std::span<char* const> arguments) {
  Communicator comm(watchdog_seconds_in(arguments));
  return comm.rank() == 0 ? run_root(comm, arguments) : run_worker(comm);
}

}  // namespace cryptonets::cli
