// cryptonets profile (server): the weight-free model profile the client needs
// (io/model_profile.hpp).
#include <cstdio>
#include <filesystem>
#include <istream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

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
  // A profile may replace a profile (the server's, remade); never a key file.
  refuse_output_over_inputs(options, {"out"}, {"model"}, /*may_replace_profile=*/true);
  // Nor a key set's model.profile, nor any other file (cli_support.hpp).
  refuse_to_replace_other_than_profile(options, "out");
  const int circuit_privacy = static_cast<int>(options.integer("circuit-privacy", 0, 128));
  const ModelProfile profile = make_profile(load_model(options.text("model")), circuit_privacy);
  const std::string out = options.text("out");
  save_profile(profile, out);
  std::printf("wrote %s: %s\n", printable_text(out).c_str(), profile_summary(profile).c_str());
  return kExitSuccess;
}

namespace fs = std::filesystem;

namespace {

std::string shape_text(const model::Shape& shape) {
  return std::to_string(shape.channels) + "x" + std::to_string(shape.height) + "x" +
         std::to_string(shape.width);
}

// What differs between `given` and the key set's profile `own`, as "FIELD X (the key set's: Y)"
// items joined by "; " (empty when equal; `owner` names whose `own` is). With `model_only` only
// what the model decides is compared: a profile derived from --model in memory has no circuit
// privacy of its own.
std::string profile_differences(const ModelProfile& given, const ModelProfile& own, bool model_only,
                                const std::string& owner = "the key set's") {
  std::vector<std::string> items;
  const auto differ = [&](const std::string& field, const std::string& mine,
                          const std::string& theirs) {
    if (mine != theirs) items.push_back(field + " " + mine + " (" + owner + ": " + theirs + ")");
  };
  differ("input", shape_text(given.input_shape), shape_text(own.input_shape));
  if (given.input_scale != own.input_scale) {
    char mine[32], theirs[32];
    std::snprintf(mine, sizeof mine, "%g", given.input_scale);
    std::snprintf(theirs, sizeof theirs, "%g", own.input_scale);
    items.push_back(std::string("input scale ") + mine + " (" + owner + ": " + theirs + ")");
  }
  differ("outputs", std::to_string(given.outputs), std::to_string(own.outputs));
  // In bits where they differ in bits (the numbers reach ~80 bits), else exactly.
  if (centred_bits(given.output_bound) != centred_bits(own.output_bound)) {
    differ("output bound", std::to_string(centred_bits(given.output_bound)) + " bits",
           std::to_string(centred_bits(own.output_bound)) + " bits");
  } else {
    differ("output bound", given.output_bound.get_str(), own.output_bound.get_str());
  }
  if (!model_only) {
    differ("circuit privacy", std::to_string(given.circuit_privacy_bits),
           std::to_string(own.circuit_privacy_bits));
    if (items.empty() && (given.presets != own.presets || given.bfv_presets != own.bfv_presets)) {
      items.push_back("the parameters of its presets");
    }
  }
  std::string text;
  for (const std::string& item : items)
    text += (text.empty() ? "" : "; ") + item;
  return text;
}

// An explicit --profile or --model must be the key set's own model: keys for one model used with
// another's profile quantise at the wrong scale or decode against the wrong bound, and may still
// give an answer, a wrong one.
void require_key_set_profile(const OptionParser& options, const ModelProfile& profile,
                             bool from_model) {
  const auto own_path = key_set_profile_file(options);
  if (!own_path) return;
  ModelProfile own;
  try {
    own = load_profile(*own_path);
  } catch (const std::runtime_error& error) {
    throw std::runtime_error("the key set's profile '" + *own_path +
                             "' (written by keygen): " + error.what());
  }
  const std::string differences = profile_differences(profile, own, from_model);
  if (differences.empty()) return;
  const std::string given = from_model ? "--model '" + options.text("model") + "'"
                                       : "--profile '" + options.text("profile") + "'";
  throw std::runtime_error(
      given + " does not match the key set's profile '" + *own_path +
      "' (written by keygen for the model the keys were made for): " + differences +
      ". The keys belong to another model: leave out " + (from_model ? "--model" : "--profile") +
      " to use the key set's profile, or use keys made for this one");
}

}  // namespace

// The client's view of the model: --model FILE for one party playing both roles (the profile is
// then derived in memory), --profile FILE, the key directory's own profile, or the default. An
// explicit --model or --profile must match the key directory's own profile where there is one.
ModelProfile client_profile(const OptionParser& options, int circuit_privacy_bits) {
  // Both given: one would go unread (found by a tester: --profile was ignored, exit 0). Only
  // decrypt --plain-images gives --model a role of its own, the plain model to compare with;
  // the profile is then --profile's, and --model must be its model.
  const bool comparison = options.declared("plain-images") && options.has("plain-images");
  if (options.has("model") && options.given("profile")) {
    if (!comparison) {
      throw UsageError(
          "--profile and --model exclude each other: --model stands for the profile (one party "
          "playing both roles)" +
          std::string(options.declared("plain-images")
                          ? "; both go together only with --plain-images, which compares with "
                            "the model"
                          : ""));
    }
    const ModelProfile profile = load_profile(options.text("profile"));
    require_key_set_profile(options, profile, /*from_model=*/false);
    const std::string differences = profile_differences(
        make_profile(load_model(options.text("model")), profile.circuit_privacy_bits), profile,
        /*model_only=*/true, "the profile's");
    if (!differences.empty()) {
      throw std::runtime_error("--model '" + options.text("model") +
                               "' is not the model of --profile '" + options.text("profile") +
                               "': " + differences);
    }
    return profile;
  }
  if (options.has("model") || options.given("profile")) {
    const bool from_model = options.has("model");
    const ModelProfile profile =
        from_model ? make_profile(load_model(options.text("model")), circuit_privacy_bits)
                   : load_profile(options.text("profile"));
    require_key_set_profile(options, profile, from_model);
    return profile;
  }
  const std::string path = key_set_profile(options).value_or(options.text("profile"));
  ModelProfile profile;
  check_against_profile(options, [&] { profile = load_profile(path); });
  return profile;
}

std::runtime_error profile_error(const OptionParser& options, const std::string& what) {
  // --profile first: with decrypt --plain-images both may be given, and the profile is used.
  if (options.given("profile")) {
    return std::runtime_error("the profile '" + options.text("profile") + "': " + what);
  }
  if (options.has("model"))
    return std::runtime_error("the model '" + options.text("model") + "': " + what);
  if (const auto own = key_set_profile(options)) {
    return std::runtime_error("the key set's profile '" + *own + "' (written by keygen): " + what);
  }
  // The user named no profile: say which one was used, and how to give the right one.
  return std::runtime_error("the default profile '" + options.text("profile") + "'" +
                            default_data_source() + " (no --profile given): " + what +
                            ". Keys made for another model need its profile: --profile FILE");
}

void add_profile_options(OptionParser& options) {
  const bool keys = options.declared("keys");
  options.add_value("profile", "FILE",
                    keys ? "the server's model profile (cryptonets profile): no weights; default "
                           "the key directory's DIR/model.profile, which it must equal"
                         : "the server's model profile (cryptonets profile): no weights",
                    default_data_directory() + "/model.profile");
  options.add_value("model", "FILE",
                    keys ? "the model itself instead of --profile (one party playing both roles); "
                           "it must be the model of DIR/model.profile"
                         : "the model itself instead of --profile (one party playing both roles)");
}

}  // namespace cryptonets::cli
