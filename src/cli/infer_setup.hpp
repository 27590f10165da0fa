// What `cryptonets infer` does before any work, shared by the single-process command
// (cmd_infer.cpp) and the distributed one under mpirun (cmd_infer_mpi.cpp): the options, every
// check of the inputs (keys, model, noise budget, the images file's header), the output writer.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "cryptonets/distributed/partition.hpp"
#include "cryptonets/encoding/plaintext_crt.hpp"
#include "cryptonets/io/protocol_files.hpp"
#include "cryptonets/model/layers.hpp"
#include "cryptonets/model/model.hpp"
#include "cryptonets/random/chacha20.hpp"

namespace cryptonets::cli {

// The options and the model: what does not depend on the scheme.
struct InferOptions {
  int threads = 1;
  int circuit_privacy = 0;
  std::optional<uint64_t> seed;  // INSECURE --seed: the re-randomisation noise from a seed
  distributed::SplitChoice split = distributed::SplitChoice::automatic;  // under mpirun only
  double watchdog_seconds = 0;                                           // under mpirun only
  int groups = 1;                                                        // under mpirun only
  std::string model_path, parameters_path, evaluation_keys_path, out_path;
  model::Model model;
  model::CompiledModel compiled;

  // The generator of the outputs' re-randomisation: seeded (INSECURE) or from the OS.
  Prng make_prng() const;
};

// Everything checked and opened, under the scheme the key files record.
template <class Scheme>
struct BasicInferSetup : InferOptions {
  BasicContextSet<Scheme> contexts;
  std::vector<uint64_t> key_ids;
  std::unique_ptr<encoding::BasicCrtEncryptionSet<Scheme>> server;
  std::unique_ptr<BasicCiphertextFileReader<Scheme>> reader;
  std::unique_ptr<BasicCiphertextFileWriter<Scheme>> writer;  // nothing at out_path before commit()
};
using InferSetup = BasicInferSetup<yashe::Scheme>;
using BfvInferSetup = BasicInferSetup<bfv::Scheme>;
using AnyInferSetup = std::variant<InferSetup, BfvInferSetup>;

inline constexpr double kDefaultWatchdogSeconds = 600;

// Parses the options and runs every check before any work, under the scheme of the key files;
// std::nullopt when --help was printed.
// Throws UsageError and std::runtime_error (printed by main()).
std::optional<AnyInferSetup> prepare_infer(std::span<char* const> arguments);

// The --watchdog value if the arguments give a valid one, else the default: read before MPI is
// initialised (the full parse runs on rank 0 only).
double watchdog_seconds_in(std::span<char* const> arguments);

// Under mpirun: rank 0 runs prepare_infer, reads and writes the files; every rank computes
// (cmd_infer_mpi.cpp, built with the meson feature mpi).
int run_infer_distributed(std::span<char* const> arguments);

}  // namespace cryptonets::cli
