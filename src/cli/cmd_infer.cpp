// cryptonets infer (server): the model on an encrypted batch file, with the parameter set and the
// evaluation keys only. It never opens a secret key, and refuses to run where one is offered.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "cli_support.hpp"
#include "commands.hpp"
#include "cryptonets/inference/private_inference.hpp"
#include "cryptonets/io/model_file.hpp"
#include "cryptonets/io/protocol_files.hpp"
#include "cryptonets/model/range.hpp"

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
    return {options.text("params"), options.text("evaluation-key"), options.text("public-key")};
  }
  const KeyDirectory directory(options.text("keys"));
  if (std::filesystem::exists(directory.secret_keys)) {
    throw std::runtime_error("refused: the key directory holds " + directory.secret_keys + "; " +
                             kNoSecretKeys +
                             " (copy those three files to a directory of their own)");
  }
  return {directory.parameters, directory.evaluation_keys, directory.public_keys};
}

// The server's work, under the scheme the parameter set records.
template <class Scheme>
void infer_file(const ServerFiles& files, const CompiledModel& compiled, const RangeReport& ranges,
                const std::string& in_path, const std::string& out_path, int threads,
                int circuit_privacy) {
  // Refuses a secret key file given in place of any of the three (io/protocol_files.hpp).
  encoding::BasicServerKeys<Scheme> keys =
      load_server_keys<Scheme>(files.parameters, files.evaluation_keys, files.public_keys);
  const BasicContextSet<Scheme> contexts = keys.contexts;
  require_plaintext_moduli(ranges, plaintext_moduli_of(contexts));
  const std::vector<uint64_t> key_ids = key_ids_of(keys.evaluation_keys);
  BasicCiphertextFileReader<Scheme> reader(in_path, contexts, key_ids);
  const ProtocolHeader& header = reader.header();
  if (header.values != compiled.input_size) {
    throw std::runtime_error("file '" + in_path + "' holds " + std::to_string(header.values) +
                             " ciphertexts per image, the model takes " +
                             std::to_string(compiled.input_size) +
                             " inputs (is it not encrypted images from cryptonets encrypt?)");
  }
  const encoding::BasicCrtEncryptionSet<Scheme> server(std::move(keys));
  require_noise_budget(server, compiled, circuit_privacy);  // before any work

  // The scores are of the same images: decrypt matches them to labels by this first index.
  BasicCiphertextFileWriter<Scheme> writer(out_path, contexts, key_ids, header.first_image,
                                           header.images, header.batch_size, compiled.output_size,
                                           header.file_id);
  StageProgressBars bars;
  BasicInferenceOptions<Scheme> inference;
  inference.threads = threads;
  inference.circuit_privacy_bits = circuit_privacy;
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
  std::printf("inferred %llu images under %s in %llu batch(es), %zu moduli, %.2f s: %s (%s)\n",
              static_cast<unsigned long long>(header.images), Scheme::kName,
              static_cast<unsigned long long>(header.batch_count()), contexts.size(), seconds,
              out_path.c_str(), format_bytes(std::filesystem::file_size(out_path)).c_str());
}

}  // namespace

int run_infer(std::span<char* const> arguments) {
  OptionParser options(
      "infer",
      "Server: evaluates the model on an encrypted batch file from cryptonets encrypt and writes\n"
      "the encrypted scores (the same file format and scheme, one ciphertext per output and\n"
      "modulus, same batches and first image index, and the images file's id; the scheme,\n"
      "YASHE' or BFV, is that of the keys). Every score is re-randomised\n"
      "with the public key (a fresh encryption of zero added) and the file carries no noise\n"
      "estimate. Needs the parameter set, the evaluation keys and the public keys, never the\n"
      "secret key: it refuses a --secret-key, a secret key file in place of another, and a key\n"
      "directory that holds secret.key. The model's output range and its predicted noise\n"
      "budget are checked against the keys before any work.");
  options.add_value("keys", "DIR", "server key directory: params and evaluation.key only");
  options.add_value("params", "FILE", "parameter set (instead of --keys)");
  options.add_value("evaluation-key", "FILE", "evaluation keys (instead of --keys)");
  options.add_value("public-key", "FILE",
                    "public keys, to re-randomise the scores (instead of --keys)");
  options.add_value("secret-key", "FILE", "refused: the server never takes a secret key");
  options.add_value("model", "FILE", "integer model", default_data_directory() + "/model.txt");
  options.add_value("in", "FILE", "encrypted images from cryptonets encrypt", std::nullopt, true);
  options.add_value("out", "FILE", "encrypted scores to write", std::nullopt, true);
  options.add_value("circuit-privacy", "BITS",
                    "hide the computation from the client: noise flooding to statistical distance "
                    "2^-BITS (keys from keygen --circuit-privacy BITS; 0: re-randomise only)",
                    "0");
  add_threads_option(options);
  if (!options.parse(arguments)) return kExitSuccess;

  const ServerFiles files = server_files(options);
  const std::string in_path = options.text("in");
  const std::string out_path = options.text("out");
  refuse_secret_key_file(in_path);  // the key files: load_server_keys
  const int threads = cli::threads_option(options);
  const int circuit_privacy = static_cast<int>(options.integer("circuit-privacy", 0, 128));

  const Model model = load_model(options.text("model"));
  const CompiledModel compiled = compile_model(model);
  const RangeReport ranges = track_ranges(model);
  // The scheme is the parameter set's (every file records it; the others must agree).
  if (protocol_file_scheme(files.parameters) == SchemeId::kBfv) {
    infer_file<bfv::Scheme>(files, compiled, ranges, in_path, out_path, threads, circuit_privacy);
  } else {
    infer_file<yashe::Scheme>(files, compiled, ranges, in_path, out_path, threads, circuit_privacy);
  }
  return kExitSuccess;
}

}  // namespace cryptonets::cli
