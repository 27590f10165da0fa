// cryptonets profile (server): the weight-free model profile the client needs
// (io/model_profile.hpp).
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>

#include "cli_support.hpp"
#include "commands.hpp"
#include "cryptonets/io/model_file.hpp"
#include "cryptonets/io/model_profile.hpp"

using cryptonets::model::centred_bits;

namespace cryptonets::cli {

int run_profile(std::span<char* const> arguments) {
  OptionParser options(
      "profile",
      "Server: writes what a client needs of the model, without its weights: the input shape\n"
      "and scale, the number of outputs, the worst-case output bound (plaintext bits), and the\n"
      "parameters each preset chooses for the model (the noise prediction needs the weights, so\n"
      "it runs here). The client's keygen, encrypt and decrypt take it with --profile.");
  options.add_value("model", "FILE", "integer model", default_data_directory() + "/model.txt");
  options.add_value("out", "FILE", "profile to write", std::nullopt, true);
  options.add_value("circuit-privacy", "BITS",
                    "choose the parameters with room for infer --circuit-privacy BITS", "0");
  if (!options.parse(arguments)) return kExitSuccess;
  refuse_output_over_inputs(options, {"out"}, {"model"});
  const int circuit_privacy = static_cast<int>(options.integer("circuit-privacy", 0, 128));
  const ModelProfile profile = make_profile(load_model(options.text("model")), circuit_privacy);
  const std::string out = options.text("out");
  save_profile(profile, out);
  std::printf(
      "wrote %s: input %lldx%lldx%lld (scale %g), %zu outputs of up to %d bits, %zu presets\n",
      out.c_str(), static_cast<long long>(profile.input_shape.channels),
      static_cast<long long>(profile.input_shape.height),
      static_cast<long long>(profile.input_shape.width), profile.input_scale, profile.outputs,
      centred_bits(profile.output_bound), profile.presets.size() + profile.bfv_presets.size());
  return kExitSuccess;
}

namespace fs = std::filesystem;

namespace {

// DIR/model.profile when the command has --keys DIR, no --profile or --model was given, and the
// file exists (see add_profile_options); nullopt otherwise.
std::optional<std::string> key_set_profile(const OptionParser& options) {
  if (options.has("model") || options.given("profile") || !options.declared("keys") ||
      !options.has("keys")) {
    return std::nullopt;
  }
  const std::string path = (fs::path(options.text("keys")) / kKeySetProfileName).string();
  std::error_code error;
  if (!fs::exists(path, error)) return std::nullopt;
  return path;
}

}  // namespace

// The client's view of the model: --model FILE for one party playing both roles (the profile is
// then derived in memory), --profile FILE, the key directory's own profile, or the default.
ModelProfile client_profile(const OptionParser& options, int circuit_privacy_bits) {
  if (options.has("model"))
    return make_profile(load_model(options.text("model")), circuit_privacy_bits);
  if (options.given("profile")) return load_profile(options.text("profile"));
  const std::string path = key_set_profile(options).value_or(options.text("profile"));
  ModelProfile profile;
  check_against_profile(options, [&] { profile = load_profile(path); });
  return profile;
}

std::runtime_error profile_error(const OptionParser& options, const std::string& what) {
  if (options.has("model"))
    return std::runtime_error("the model '" + options.text("model") + "': " + what);
  if (options.given("profile")) {
    return std::runtime_error("the profile '" + options.text("profile") + "': " + what);
  }
  if (const auto own = key_set_profile(options)) {
    return std::runtime_error("the key set's profile '" + *own + "' (written by keygen): " + what);
  }
  // The user named no profile: say which one was used, and how to give the right one.
  return std::runtime_error("the default profile '" + options.text("profile") +
                            "' (no --profile given): " + what +
                            ". Keys made for another model need its profile: --profile FILE");
}

void add_profile_options(OptionParser& options) {
  options.add_value("profile", "FILE",
                    "the server's model profile (cryptonets profile): no weights",
                    default_data_directory() + "/model.profile");
  options.add_value("model", "FILE",
                    "the model itself instead of --profile (one party playing both roles)");
}

}  // namespace cryptonets::cli
