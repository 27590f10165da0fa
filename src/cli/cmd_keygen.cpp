// cryptonets keygen (client): the parameter set and the three key files of the protocol, one key
// set per plaintext modulus (CRT, CryptoNets §3), in a key directory (io/protocol_files.hpp).
#include <bit>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>

#include "cli_support.hpp"
#include "commands.hpp"
#include "cryptonets/encoding/plaintext_crt.hpp"
#include "cryptonets/io/model_file.hpp"
#include "cryptonets/io/protocol_files.hpp"
#include "cryptonets/nn/parameter_selection.hpp"
#include "cryptonets/nn/range.hpp"
#include "cryptonets/yashe/security.hpp"

namespace cryptonets::cli {

namespace {

// The secret key lives here: a new directory is readable by its owner only.
void create_key_directory(const std::string& directory) {
  namespace fs = std::filesystem;
  if (fs::is_directory(directory)) return;
  if (fs::exists(directory)) {
    throw std::runtime_error("--out-dir '" + directory + "' exists and is not a directory");
  }
  fs::create_directories(directory);
  fs::permissions(directory, fs::perms::owner_all, fs::perm_options::replace);
}

std::string file_size(const std::string& path) {
  return format_bytes(std::filesystem::file_size(path));
}

}  // namespace

int run_keygen(std::span<char* const> arguments) {
  OptionParser options(
      "keygen",
      "Client: generates a parameter set and, for each plaintext modulus, a YASHE' key set, into\n"
      "DIR/params, DIR/public.key, DIR/evaluation.key (give these to the server; encryption\n"
      "needs params and public.key, inference params and evaluation.key) and DIR/secret.key\n"
      "(mode 0600; it never leaves the client). The plaintext moduli are chosen for the output\n"
      "range of --model. The files share a parameter-set fingerprint and a key-set id, which\n"
      "every ciphertext file carries too.");
  options.add_value("out-dir", "DIR", "key directory (created with mode 0700 if missing)",
                    std::nullopt, true);
  options.add_value("model", "FILE", "integer model the plaintext moduli must fit",
                    default_data_directory() + "/model.txt");
  std::string presets;
  for (const std::string& name : preset_names())
    presets += (presets.empty() ? "" : ", ") + name;
  options.add_value("preset", "NAME", "parameter preset: " + presets, "default");
  options.add_flag("force", "replace an existing secret key (ciphertexts made for it are lost)");
  options.add_value("seed", "S", "INSECURE: derive the keys from S, for reproduction only");
  add_insecure_ring_degree_option(options);
  if (!options.parse(arguments)) return kExitSuccess;

  const Model model = load_model(options.text("model"));
  const ParameterChoice choice = preset(options.text("preset"), model);
  const yashe::Parameters params = insecure_ring_degree_option(options, choice.base);
  require_plaintext_moduli(track_ranges(model), choice.plaintext_moduli);

  const std::string directory = options.text("out-dir");
  const KeyDirectory files(directory);
  if (std::filesystem::exists(files.secret_keys) && !options.flag("force")) {
    throw std::runtime_error("refusing to overwrite the secret key " + files.secret_keys +
                             ": ciphertexts made for it could no longer be decrypted (use --force "
                             "to replace it)");
  }

  std::optional<Prng> seeded;
  if (options.has("seed")) {
    std::printf("WARNING: --seed makes the keys predictable: INSECURE, for reproduction only\n");
    seeded = Prng::insecure_seeded(static_cast<uint64_t>(options.integer("seed", 0, INT64_MAX)));
  }
  Prng prng = seeded ? *seeded : Prng::from_os_entropy();

  const encoding::CrtKeys keys = encoding::CrtKeys::generate(params, choice.plaintext_moduli, prng);
  const ContextSet& contexts = keys.contexts;
  std::vector<yashe::PublicKey> public_keys;
  std::vector<yashe::EvaluationKey> evaluation_keys;
  std::vector<yashe::SecretKey> secret_keys;
  for (const yashe::KeySet& key_set : keys.keys) {
    public_keys.push_back(key_set.public_key);
    evaluation_keys.push_back(key_set.evaluation_key);
    secret_keys.push_back(key_set.secret_key);
  }

  create_key_directory(directory);
  save_parameter_set(files.parameters, contexts);
  save_public_keys(files.public_keys, contexts, public_keys);
  save_evaluation_keys(files.evaluation_keys, contexts, evaluation_keys);
  save_secret_keys(files.secret_keys, contexts, secret_keys);

  std::printf("%s\n", yashe::assess_security(params).one_line().c_str());
  std::printf("parameters (%s): %s\n", choice.name.c_str(), params.describe().c_str());
  std::printf("plaintext moduli: %zu x %d bits; slots per batch: %zu\n", contexts.size(),
              static_cast<int>(std::bit_width(choice.plaintext_moduli.front())), params.n);
  std::printf("parameter set %016llx, key set %016llx\n",
              static_cast<unsigned long long>(parameter_set_fingerprint(contexts)),
              static_cast<unsigned long long>(key_set_id(key_ids_of(public_keys))));
  std::printf("wrote %s (%s), %s (%s), %s (%s) and %s (%s, mode 0600: keep it secret)\n",
              files.parameters.c_str(), file_size(files.parameters).c_str(),
              files.public_keys.c_str(), file_size(files.public_keys).c_str(),
              files.evaluation_keys.c_str(), file_size(files.evaluation_keys).c_str(),
              files.secret_keys.c_str(), file_size(files.secret_keys).c_str());
  return kExitSuccess;
}

}  // namespace cryptonets::cli
