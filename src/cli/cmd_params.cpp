// cryptonets params: a parameter set (a preset, or one selected for a model) with its reasoning
// and the full security report.
#include <iostream>

#include "cli_support.hpp"
#include "commands.hpp"
#include "cryptonets/inference/parameter_selection.hpp"
#include "cryptonets/io/model_file.hpp"

using cryptonets::inference::describe;
using cryptonets::inference::ParameterChoice;
using cryptonets::inference::preset;
using cryptonets::inference::select_bfv_parameters;
using cryptonets::inference::select_parameters;
using cryptonets::inference::SelectionTarget;
using cryptonets::model::Model;

namespace cryptonets::cli {

int run_params(std::span<char* const> arguments) {
  OptionParser options("params",
                       "Shows the parameters used for a model (YASHE' by default, or BFV), why "
                       "they were chosen, and what is and is not known of their security.");
  options.add_value("scheme", "NAME", "yashe (the paper's scheme) or bfv (secure under RLWE)",
                    "yashe");
  options.add_value("model", "FILE", "integer model whose range and depth the parameters must fit",
                    default_data_directory() + "/model.txt");
  options.add_value("preset", "NAME",
                    "a named parameter set: default, paper or table-bound (default: default)");
  options.add_flag("select",
                   "select parameters for --security instead of a preset (RLWE estimate only)");
  options.add_value("security", "BITS", "with --select: 128, 192 or 256 (default: 128)");
  options.add_value("margin", "BITS",
                    "with --select or --scheme bfv: noise budget to keep after the network "
                    "(default: 10)");
  if (!options.parse(arguments)) return kExitSuccess;

  // Options that would be ignored are refused: a user asking for --security 192 must not get the
  // 128-bit set without a word.
  const std::string scheme = options.text("scheme");
  const double margin = options.has("margin") ? options.real("margin", 0, 1000) : 10.0;
  if (scheme == "yashe" && !options.flag("select")) {
    if (options.has("security")) throw UsageError("--security needs --select");
    if (options.has("margin")) throw UsageError("--margin needs --select (or --scheme bfv)");
  }
  if (options.flag("select") && options.has("preset")) {
    throw UsageError("--preset and --select exclude each other");
  }
  if (scheme != "yashe" && scheme != "bfv") {
    throw UsageError("--scheme must be yashe or bfv, not '" + scheme + "'");
  }
  // An unknown preset is a usage error, as an unknown scheme is (it was exit 1, after the model).
  if (options.has("preset")) require_preset_name(options.text("preset"));
  const Model model = load_model(options.text("model"));
  if (scheme == "bfv") {
    if (options.flag("select") || options.has("preset") || options.has("security")) {
      throw UsageError(
          "--scheme bfv has one parameter set (the HE standard's 128-bit bound); "
          "--preset, --select and --security are for --scheme yashe");
    }
    std::cout << describe(select_bfv_parameters(model, margin));
    return kExitSuccess;
  }
  ParameterChoice choice;
  if (options.flag("select")) {
    SelectionTarget target;
    target.mode = SelectionTarget::Mode::kSecurity;
    target.security_bits =
        options.has("security") ? static_cast<int>(options.integer("security", 128, 256)) : 128;
    if (target.security_bits != 128 && target.security_bits != 192 && target.security_bits != 256) {
      throw UsageError("--security must be 128, 192 or 256");
    }
    target.margin_bits = margin;
    choice = select_parameters(model, target);
  } else {
    choice = preset(options.has("preset") ? options.text("preset") : "default", model);
  }
  std::cout << describe(choice);
  return kExitSuccess;
}

}  // namespace cryptonets::cli
