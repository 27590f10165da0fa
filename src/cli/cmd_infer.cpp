// cryptonets infer (server): the model on an encrypted batch file, with the parameter set and the
// evaluation keys only. It never opens a secret key, and refuses to run where one is offered.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cli_support.hpp"
#include "commands.hpp"
#include "cryptonets/inference/parameter_selection.hpp"
#include "cryptonets/inference/private_inference.hpp"
#include "cryptonets/io/free_space.hpp"
#include "cryptonets/io/model_file.hpp"
#include "cryptonets/io/model_profile.hpp"
#include "cryptonets/io/protocol_files.hpp"
#include "cryptonets/model/range.hpp"
#include "infer_setup.hpp"

#ifdef CRYPTONETS_WITH_MPI
#include "cryptonets/distributed/communicator.hpp"
#endif

using cryptonets::inference::BasicInferenceOptions;
using cryptonets::inference::EncryptedBatch;
using cryptonets::inference::infer;
using cryptonets::inference::require_noise_budget;
using cryptonets::model::compile_model;
using cryptonets::model::CompiledModel;
using cryptonets::model::Model;
using cryptonets::model::RangeReport;
using cryptonets::model::require_plaintext_moduli;
using cryptonets::model::track_ranges;

namespace cryptonets::cli {

namespace {

constexpr const char* kNoSecretKeys =
    "the server never holds the secret key: give infer only params, evaluation.key and "
    "public.key";

struct ServerFiles {
  std::string parameters;
  std::string evaluation_keys;
  std::string public_keys;
};

// The first (by name) regular file at the top level of `directory` that cannot be opened for
// reading, with why: the search for secret keys cannot look into it (starts_as_secret_keys says
// false for it). Opened as the search opens files, and only regular ones. The files `given` are
// passed over: their loader says why it cannot read them.
std::optional<std::pair<std::string, std::string>> unreadable_file_in(const std::string& directory,
                                                                      const ServerFiles& given) {
  std::error_code error;
  std::vector<std::string> names;
  for (std::filesystem::directory_iterator it(directory, error), end; !error && it != end;
       it.increment(error))
    names.push_back(it->path().filename().string());
  std::sort(names.begin(), names.end());
  std::string prefix = directory == "." ? "" : directory;
  if (!prefix.empty() && !prefix.ends_with('/')) prefix += '/';
  for (const std::string& name : names) {
    const std::string path = prefix + name;
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) continue;
    const auto is_given = [&](const std::string& file) {
      return std::filesystem::equivalent(path, file, error);
    };
    if (is_given(given.parameters) || is_given(given.evaluation_keys) ||
        is_given(given.public_keys))
      continue;
    const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd >= 0) {
      ::close(fd);
      continue;
    }
    return std::pair{path, std::string(std::strerror(errno))};
  }
  return std::nullopt;
}

// The one rule for what the server is given: never the secret key, under any name, nor a
// directory that holds it. Refuses a key file that starts as secret keys (starts_as_secret_keys:
// by its header, whatever its name), then a directory a key file lies in (--keys DIR, or the
// directory of --params, --evaluation-key or --public-key) that holds secret.key or another file
// of secret keys at its top level (a copy under another name, secret.key.bak, was accepted: only
// the name secret.key was looked for, and the separate files' directories not at all), or a
// regular file there that it cannot read, which may be one. Only the first bytes of each file
// are read. `where` names each directory for the message: "the key
// directory 'DIR'", or "the directory 'DIR' of --params 'DIR/params'".
void refuse_secret_keys_offered(const ServerFiles& files,
                                const std::vector<std::pair<std::string, std::string>>& where) {
  for (const std::string& path : {files.parameters, files.evaluation_keys, files.public_keys})
    refuse_secret_key_file(path);
  namespace fs = std::filesystem;
  std::vector<std::string> searched;
  for (const auto& [directory, name] : where) {
    std::error_code error;
    if (std::any_of(searched.begin(), searched.end(), [&](const std::string& other) {
          return fs::equivalent(directory, other, error);
        }))
      continue;  // one directory, named once
    searched.push_back(directory);
    std::optional<std::string> found = secret_keys_in_directory(directory);
    std::string what = ", a file of secret keys (by its header)";
    const std::string by_name = KeyDirectory(directory).secret_keys;
    if (!found && fs::exists(fs::symlink_status(by_name, error))) {
      found = directory == "." ? std::string("secret.key") : by_name;
      what = " (the secret key's file name, whatever it holds)";
    }
    if (found) {
      throw std::runtime_error("refused: " + name + " holds '" + *found + "'" + what + "; " +
                               kNoSecretKeys +
                               " (copy those three files to a directory of their own)");
    }
    // A file the search cannot read may be a secret key (a trial: an unreadable copy of it was
    // passed over, and infer ran).
    if (const auto unreadable = unreadable_file_in(directory, files)) {
      throw std::runtime_error(
          "refused: " + name + " holds '" + unreadable->first + "', which infer cannot read (" +
          unreadable->second + "), so it cannot check that it is not a secret key; " +
          kNoSecretKeys + " (copy those three files to a directory of their own)");
    }
  }
}

ServerFiles server_files(const OptionParser& options) {
  if (options.has("secret-key")) {
    throw std::runtime_error("refused --secret-key: " + std::string(kNoSecretKeys));
  }
  const bool separate =
      options.has("params") || options.has("evaluation-key") || options.has("public-key");
  if (options.has("keys") == separate) {
    throw UsageError(
        "give either --keys DIR or --params FILE, --evaluation-key FILE and --public-key FILE");
  }
  if (separate) {
    if (!options.has("params") || !options.has("evaluation-key") || !options.has("public-key")) {
      throw UsageError("--params, --evaluation-key and --public-key go together");
    }
    const ServerFiles files{options.text("params"), options.text("evaluation-key"),
                            options.text("public-key")};
    std::vector<std::pair<std::string, std::string>> where;
    for (const char* option : {"params", "evaluation-key", "public-key"}) {
      const std::string path = options.text(option);
      std::string directory = std::filesystem::path(path).parent_path().string();
      if (directory.empty()) directory = ".";
      where.emplace_back(directory,
                         "the directory '" + directory + "' of --" + option + " '" + path + "'");
    }
    refuse_secret_keys_offered(files, where);
    return files;
  }
  require_key_directory_option(options, {&KeyDirectory::parameters, &KeyDirectory::evaluation_keys,
                                         &KeyDirectory::public_keys});
  const std::string directory_name = options.text("keys");
  const KeyDirectory directory(directory_name);
  const ServerFiles files{directory.parameters, directory.evaluation_keys, directory.public_keys};
  refuse_secret_keys_offered(files,
                             {{directory_name, "the key directory '" + directory_name + "'"}});
  return files;
}

// Throws std::runtime_error unless --out names a file other than every input (the images, the
// model, the key files) and no existing key file: writing it would destroy that input; UsageError
// if it names an existing non-empty file other than encrypted scores (an archive of keys, say, or
// encrypted images).
// Both forms of infer call it before any work.
void refuse_output_over_infer_inputs(const OptionParser& options) {
  refuse_output_over_inputs(
      options, {"out"}, {"in", "model", "params", "evaluation-key", "public-key", "secret-key"});
  refuse_to_replace_other_than_scores(options, "out");
}

// The options of infer, one list for its two forms: one process (run_infer) and under mpirun
// (prepare_infer, which adds the distribution options), so that they cannot drift apart.
// `more_summary` ends the help's summary.
OptionParser make_infer_options(const std::string& more_summary) {
  OptionParser options(
      "infer",
      "Server: evaluates the model on an encrypted batch file from cryptonets encrypt and writes\n"
      "the encrypted scores (the same file format and scheme, one ciphertext per output and\n"
      "modulus, same batches and first image index, and the images file's id; the scheme,\n"
      "YASHE' or BFV, is that of the keys). Every score is re-randomised\n"
      "with the public key (a fresh encryption of zero added) and the file carries no noise\n"
      "estimate. Needs the parameter set, the evaluation keys and the public keys, never the\n"
      "secret key: it refuses a --secret-key, a secret key file in place of another, and a key\n"
      "directory (or the directory of --params, --evaluation-key or --public-key) that holds\n"
      "secret.key or any other file of secret keys (found by its header, whatever its name).\n"
      "The model's output range and its predicted noise budget are checked against the keys\n"
      "before any work, and the images must have been encrypted with the model's profile (the\n"
      "file records its fingerprint; cryptonets inspect shows both)." +
          more_summary);
  options.add_value("keys", "DIR",
                    "server key directory: params, evaluation.key and public.key (no secret key)");
  options.add_value("params", "FILE", "parameter set (instead of --keys)");
  options.add_value("evaluation-key", "FILE", "evaluation keys (instead of --keys)");
  options.add_value("public-key", "FILE",
                    "public keys, to re-randomise the scores (instead of --keys)");
  options.add_value("secret-key", "FILE", "refused: the server never takes a secret key");
  options.add_value("model", "FILE", "integer model", default_data_directory() + "/model.txt");
  options.add_value("in", "FILE", "encrypted images from cryptonets encrypt", std::nullopt, true);
  options.add_value("out", "FILE",
                    "encrypted scores to write (replaces only encrypted scores or an empty file)",
                    std::nullopt, true);
  options.add_value("circuit-privacy", "BITS",
                    "hide the computation from the client: noise flooding to statistical distance "
                    "2^-BITS (keys from keygen --circuit-privacy BITS; 0: re-randomise only)",
                    "0");
  options.add_value("seed", "S",
                    "INSECURE: derive the scores' re-randomisation noise from S (tests and "
                    "reproduction only: identical runs then give identical ciphertexts)");
  add_threads_option(options);
  return options;
}

// Refuses an --in that is no batch of encrypted images for the model: a scores file (the same
// format and keys: its header names the images it answers), images encrypted with another model
// profile than the model's (another input scale, shape or model: they would be evaluated and
// decrypt to wrong labels with every other check passing; a new-user trial saw 40 % accuracy,
// exit 0), or images of another size. Before any evaluation.
void require_encrypted_images(const ProtocolHeader& header, const std::string& in_path,
                              size_t input_size, uint64_t model_profile) {
  if (header.answers_file_id != 0) {
    throw std::runtime_error("file '" + in_path +
                             "' is a scores file (encrypted scores from cryptonets infer or "
                             "client fetch): infer expects encrypted images from cryptonets "
                             "encrypt");
  }
  if (header.profile_fingerprint != model_profile) {
    throw std::runtime_error(
        other_profile_refusal("file '" + in_path + "'", header.profile_fingerprint, model_profile));
  }
  if (header.values != input_size) {
    throw std::runtime_error("file '" + in_path + "' holds " + std::to_string(header.values) +
                             " ciphertexts per image, the model takes " +
                             std::to_string(input_size) +
                             " inputs (is it not encrypted images from cryptonets encrypt?)");
  }
}

// Refuses, before the model runs, scores that do not fit on --out's file system (a full disk
// failed the job only once it had run: 18 s for a trial's batch). Their size as the writer writes
// them: the header, then for each batch and modulus a record of `values` fresh ciphertexts and
// its binding (FORMATS.md). Throws std::runtime_error naming the file, the bytes needed and free.
template <class Scheme>
void require_room_for_scores(const std::string& out_path, const BasicContextSet<Scheme>& contexts,
                             const ProtocolHeader& images, uint64_t values) {
  uint64_t bytes = kProtocolHeaderBytes;
  for (const auto& context : contexts) {
    bytes +=
        images.batch_count() * (ciphertext_batch_bytes(*context, values) + kProtocolBindingBytes);
  }
  const std::filesystem::path parent = std::filesystem::path(out_path).parent_path();
  const std::optional<uint64_t> free = free_bytes(parent.empty() ? "." : parent.string());
  if (free && *free < bytes) {
    throw std::runtime_error("cannot write the scores to '" + printable_text(out_path) +
                             "': they take " + std::to_string(bytes) + " bytes (" +
                             format_bytes(bytes) + ") and its file system has " +
                             std::to_string(*free) + " bytes free; nothing was run");
  }
}

// The server's work, under the scheme the parameter set records.
template <class Scheme>
void infer_file(const ServerFiles& files, const CompiledModel& compiled, const RangeReport& ranges,
                uint64_t model_profile, const std::string& in_path, const std::string& out_path,
                int threads, int circuit_privacy, std::optional<uint64_t> seed) {
  // Refuses a secret key file given in place of any of the three (io/protocol_files.hpp).
  encoding::BasicServerKeys<Scheme> keys =
      load_server_keys<Scheme>(files.parameters, files.evaluation_keys, files.public_keys);
  const BasicContextSet<Scheme> contexts = keys.contexts;
  require_plaintext_moduli(ranges, plaintext_moduli_of(contexts));
  const std::vector<uint64_t> key_ids = key_ids_of(keys.evaluation_keys);
  BasicCiphertextFileReader<Scheme> reader(in_path, contexts, key_ids);
  const ProtocolHeader& header = reader.header();
  require_encrypted_images(header, in_path, compiled.input_size, model_profile);
  const encoding::BasicCrtEncryptionSet<Scheme> server(std::move(keys));
  require_noise_budget(server, compiled, circuit_privacy);  // before any work
  require_room_for_scores<Scheme>(out_path, contexts, header, compiled.output_size);

  // The scores are of the same images: decrypt matches them to labels by this first index.
  BasicCiphertextFileWriter<Scheme> writer(out_path, contexts, key_ids, header.profile_fingerprint,
                                           header.source, header.first_image, header.images,
                                           header.batch_size, compiled.output_size, header.file_id);
  StageProgressBars bars;
  BasicInferenceOptions<Scheme> inference;
  inference.threads = threads;
  inference.circuit_privacy_bits = circuit_privacy;
  Prng prng = seed ? Prng::insecure_seeded(*seed) : Prng::from_os_entropy();
  inference.prng = &prng;  // one generator for every batch, in file order
  inference.progress = [&](const std::string& stage, size_t modulus, size_t done, size_t total) {
    bars.update(stage, modulus, done, total);
  };
  const auto start = std::chrono::steady_clock::now();
  for (uint64_t b = 0; b < header.batch_count(); ++b) {
    EncryptedBatch batch;
    {
      Progress reading("reading batch " + std::to_string(b + 1),
                       contexts.size() * compiled.input_size);
      batch = reader.next([&] { reading.advance(); });
    }
    EncryptedBatch scores = infer(server, compiled, std::move(batch), inference);
    bars.finish();
    writer.write(std::move(scores));
  }
  reader.finish();
  writer.commit();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("inferred %s under %s in %s, %s, %.2f s: %s (%s)\n",
              counted(header.images, "image", "images").c_str(), Scheme::kName,
              counted(header.batch_count(), "batch", "batches").c_str(),
              counted(contexts.size(), "modulus", "moduli").c_str(), seconds,
              printable_text(out_path).c_str(),
              format_bytes(std::filesystem::file_size(out_path)).c_str());
}

// prepare_infer's checks and files under one scheme.
template <class Scheme>
BasicInferSetup<Scheme> open_infer(InferOptions options, const ServerFiles& files,
                                   const std::string& in_path) {
  BasicInferSetup<Scheme> setup;
  static_cast<InferOptions&>(setup) = std::move(options);
  // Refuses a secret key file in place of any of the three, and files of two key sets.
  encoding::BasicServerKeys<Scheme> keys =
      load_server_keys<Scheme>(files.parameters, files.evaluation_keys, files.public_keys);
  setup.contexts = keys.contexts;
  require_plaintext_moduli(track_ranges(setup.model), plaintext_moduli_of(setup.contexts));
  setup.key_ids = key_ids_of(keys.evaluation_keys);
  setup.reader =
      std::make_unique<BasicCiphertextFileReader<Scheme>>(in_path, setup.contexts, setup.key_ids);
  const ProtocolHeader& header = setup.reader->header();
  require_encrypted_images(header, in_path, setup.compiled.input_size,
                           profile_fingerprint(setup.model));
  setup.server = std::make_unique<encoding::BasicCrtEncryptionSet<Scheme>>(std::move(keys));
  require_noise_budget(*setup.server, setup.compiled, setup.circuit_privacy);  // before any work
  require_room_for_scores<Scheme>(setup.out_path, setup.contexts, header,
                                  setup.compiled.output_size);

  // The scores are of the same images: decrypt matches them to labels by this first index.
  setup.writer = std::make_unique<BasicCiphertextFileWriter<Scheme>>(
      setup.out_path, setup.contexts, setup.key_ids, header.profile_fingerprint, header.source,
      header.first_image, header.images, header.batch_size, setup.compiled.output_size,
      header.file_id);
  return setup;
}

}  // namespace

Prng InferOptions::make_prng() const {
  return seed ? Prng::insecure_seeded(*seed) : Prng::from_os_entropy();
}

double watchdog_seconds_in(std::span<char* const> arguments) {
  for (size_t a = 0; a < arguments.size(); ++a) {
    const std::string argument = arguments[a];
    std::string value;
    if (argument == "--watchdog" && a + 1 < arguments.size()) {
      value = arguments[a + 1];
    } else if (argument.starts_with("--watchdog=")) {
      value = argument.substr(11);
    } else {
      continue;
    }
    char* end = nullptr;
    const double seconds = std::strtod(value.c_str(), &end);
    if (end != value.c_str() && *end == '\0' && seconds > 0) return seconds;
  }
  return kDefaultWatchdogSeconds;
}

std::optional<AnyInferSetup> prepare_infer(std::span<char* const> arguments) {
  OptionParser options = make_infer_options(
      "\nUnder mpirun (mpirun -n K cryptonets infer ...) the ranks share the work of every batch\n"
      "and plaintext modulus; rank 0 reads and writes the files and the scores decrypt to\n"
      "exactly those of one process (README: Inference on several machines (MPI)).");
  options.add_value("split", "auto|outputs|partial-sums",
                    "under mpirun: how a linear layer whose inputs are spread over the ranks is "
                    "split (auto: the one that sends fewer ciphertexts)",
                    "auto");
  options.add_value("groups", "G",
                    "under mpirun: split the ranks into G groups that take whole units (batch x "
                    "plaintext modulus) G at a time; each unit is spread over its group's ranks",
                    "1");
  options.add_value("watchdog", "SECONDS",
                    "under mpirun: a rank that waits longer than this for another ends the job "
                    "with an error, exit status 3, and no output",
                    "600");
  if (!options.parse(arguments)) return std::nullopt;

  InferOptions setup;
  const ServerFiles files = server_files(options);
  const std::string in_path = options.text("in");
  setup.out_path = options.text("out");
  for (const std::string& path :
       {files.parameters, files.evaluation_keys, files.public_keys, in_path})
    refuse_secret_key_file(path);
  refuse_output_over_infer_inputs(options);
  setup.threads = cli::threads_option(options);
  setup.circuit_privacy = static_cast<int>(options.integer("circuit-privacy", 0, 128));
  if (options.has("seed"))
    setup.seed = static_cast<uint64_t>(options.integer("seed", 0, INT64_MAX));
  try {
    setup.split = distributed::parse_split_choice(options.text("split"));
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("--") + e.what());
  }
  setup.watchdog_seconds = options.real("watchdog", 1e-3, 1e9);
  setup.groups = static_cast<int>(options.integer("groups", 1, 4096));
  // Printed once every option is read: a usage error comes before anything else.
  if (setup.seed) {
    std::fprintf(stderr,
                 "WARNING: --seed makes the scores' re-randomisation predictable: INSECURE, for "
                 "tests and reproduction only\n");
  }
  setup.model_path = options.text("model");
  setup.parameters_path = files.parameters;
  setup.evaluation_keys_path = files.evaluation_keys;

  setup.model = load_model(setup.model_path);
  cryptonets::inference::require_encryptable(setup.model);  // degree 3: what it would need
  setup.compiled = compile_model(setup.model);
  // The scheme is the parameter set's (every file records it; the others must agree).
  if (protocol_file_scheme(files.parameters) == SchemeId::kBfv) {
    return AnyInferSetup(open_infer<bfv::Scheme>(std::move(setup), files, in_path));
  }
  return AnyInferSetup(open_infer<yashe::Scheme>(std::move(setup), files, in_path));
}

int run_infer(std::span<char* const> arguments) {
  // infer's options under mpirun, refused by name outside it (they were "unknown option", a
  // trial), and named in the help.
#ifdef CRYPTONETS_WITH_MPI
  if (distributed::launched_by_mpi()) return run_infer_distributed(arguments);
  const std::string mpi_only =
      "applies only when infer runs under mpirun (mpirun -n K cryptonets infer ...; README: "
      "Inference on several machines (MPI)); this infer runs as one process";
  const std::string mpi_support = ".";
#else
  // Without MPI every rank of an mpirun would do the whole job and write the same file.
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"}) {
    const char* ranks = std::getenv(name);
    if (ranks != nullptr && std::string(ranks) != "1") {
      throw std::runtime_error(
          "started by mpirun on " + std::string(ranks) +
          " ranks, but this cryptonets was built without MPI (meson feature mpi: install Open "
          "MPI, tests/install-deps.sh, and rebuild); run one process instead");
    }
  }
  const std::string mpi_only =
      "applies only when infer runs under mpirun, and this cryptonets was built without MPI "
      "support (meson feature mpi: install Open MPI, tests/install-deps.sh, and rebuild)";
  const std::string mpi_support = "; this build has no MPI support.";
#endif
  OptionParser options = make_infer_options(
      "\nUnder mpirun (mpirun -n K cryptonets infer ...) it also takes --split, --groups and\n"
      "--watchdog (README: Inference on several machines (MPI))" +
      mpi_support);
  for (const char* name : {"split", "groups", "watchdog"})
    options.add_refused(name, mpi_only);
  if (!options.parse(arguments)) return kExitSuccess;

  const ServerFiles files = server_files(options);
  const std::string in_path = options.text("in");
  const std::string out_path = options.text("out");
  refuse_secret_key_file(in_path);  // the key files: load_server_keys
  refuse_output_over_infer_inputs(options);
  const int threads = cli::threads_option(options);
  const int circuit_privacy = static_cast<int>(options.integer("circuit-privacy", 0, 128));
  std::optional<uint64_t> seed;
  if (options.has("seed")) {
    // Read before the warning: a malformed value is a usage error before anything is printed.
    seed = static_cast<uint64_t>(options.integer("seed", 0, INT64_MAX));
    std::fprintf(stderr,
                 "WARNING: --seed makes the scores' re-randomisation predictable: INSECURE, for "
                 "tests and reproduction only\n");
  }

  const Model model = load_model(options.text("model"));
  cryptonets::inference::require_encryptable(model);  // degree 3: what it would need
  const CompiledModel compiled = compile_model(model);
  const RangeReport ranges = track_ranges(model);
  const uint64_t model_profile = profile_fingerprint(model);
  // The scheme is the parameter set's (every file records it; the others must agree).
  if (protocol_file_scheme(files.parameters) == SchemeId::kBfv) {
    infer_file<bfv::Scheme>(files, compiled, ranges, model_profile, in_path, out_path, threads,
                            circuit_privacy, seed);
  } else {
    infer_file<yashe::Scheme>(files, compiled, ranges, model_profile, in_path, out_path, threads,
                              circuit_privacy, seed);
  }
  return kExitSuccess;
}

}  // namespace cryptonets::cli
