// cryptonets inspect FILE|DIR: what a file (or a key directory's files) is and whether it is
// intact, without any key.

#include <cstdio>
#include <filesystem>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli_support.hpp"
#include "commands.hpp"
#include "cryptonets/io/inspect.hpp"

namespace cryptonets::cli {

namespace {

int inspect(std::span<char* const> arguments) {
  OptionParser options(
      "inspect FILE|DIR",
      "Shows what FILE is (parameters, keys, ciphertexts, an integer or float model, a profile,\n"
      "a scores CSV), its scheme, format version, parameters, fingerprints, key ids, counts and\n"
      "sizes, and whether every checksum and every derived identity (parameter set fingerprint,\n"
      "key set id) verifies. Needs no key; prints no key material and no coefficients. Exit\n"
      "status 0 when the file is intact, 1 when it is damaged, inconsistent or not a cryptonets\n"
      "file, or when a part of it could not be checked (verdict NOT VERIFIED, each part named\n"
      "NOT CHECKED: what a key or ciphertext file holds, read by the commands' loader, needs\n"
      "its parameter set). Key and ciphertext files hold no parameters: their ring degree n\n"
      "and security line come from --params FILE, or from the params file beside them (a key\n"
      "directory); a key file of another key set than that params file is inconsistent (infer\n"
      "refuses the pair), and so is one under a key directory's name (params, public.key,\n"
      "evaluation.key, secret.key) that holds another kind of file, scheme or parameter set\n"
      "than the name says.\n"
      "DIR, a key directory (keygen --out-dir): inspects each of its files (params, the keys,\n"
      "model.profile), then the set as a whole: which files are present, missing or\n"
      "mismatched, whether secret.key has mode 0600, what the set can be used for; exit status\n"
      "0 when the set is intact. A secret key record inside a file of another kind, a secret\n"
      "key file under a shared name (params, public.key, evaluation.key, model.profile) and,\n"
      "for DIR, any other file under DIR holding one (subdirectories are searched, up to 8\n"
      "levels and 4096 files; links to directories are not followed; a part not searched is a\n"
      "problem) are reported EXPOSED, exit status 1: such a file must not leave the client.\n"
      "Text files are read up to their first byte that no text format holds, and at most 1 MiB\n"
      "of a profile, 64 MiB of a model or of a scores CSV: bytes after the text are a problem,\n"
      "a longer text is refused. Use -- before a FILE whose name starts with '-'.\n"
      "The search for secret keys reads every byte of a file's data (a large file takes as\n"
      "long as reading it from disk), but skips the holes of a sparse file; a record holding a\n"
      "hole longer than any record's run of zeros (30 MiB), or holes of more than that and more\n"
      "than half its payload in all, is damaged, not read.\n"
      "A ciphertext file given --params must be of that key set (decrypt refuses it otherwise).\n"
      "File names are printed with control bytes and invalid UTF-8 escaped (\\n, \\x1b).\n"
      "The formats: include/cryptonets/io/FORMATS.md.");
  options.add_value("params", "FILE",
                    "the parameter set of a key or ciphertext file, for its n and security line "
                    "(default: the params file beside FILE)");
  // FILE (or DIR) is the one positional argument; everything else goes through the option parser
  // (--help, --params FILE).
  std::vector<char*> rest;
  std::string path;
  bool options_end = false;  // after "--", every argument is FILE (found by a trial: inspect -- -p)
  for (size_t i = 0; i < arguments.size(); ++i) {
    char* argument = arguments[i];
    const std::string text = argument;
    const bool positional = options_end || !text.starts_with("-");
    if (!options_end && text == "--") {
      options_end = true;
    } else if (!options_end && text == "--params" && i + 1 < arguments.size()) {
      rest.push_back(argument);  // its value is not FILE
      rest.push_back(arguments[++i]);
    } else if (positional && path.empty()) {
      path = text;
    } else if (positional) {
      throw UsageError("one FILE only, got '" + path + "' and '" + text + "'");
    } else {
      rest.push_back(argument);
    }
  }
  if (!options.parse(rest)) return kExitSuccess;
  if (path.empty()) throw UsageError("missing FILE");

  const bool params_given = options.has("params");
  std::error_code error;
  // A --params that names no file is a bad argument, not a damaged FILE (found by a trial: the
  // file inspected was reported "DAMAGED", exit 1).
  if (params_given) {
    const std::string params = options.text("params");
    if (params.empty()) throw UsageError("--params needs a file name, not an empty one");
    if (!std::filesystem::exists(params, error))
      throw UsageError("--params '" + params + "': no such file");
    if (std::filesystem::is_directory(params, error)) {
      throw UsageError("--params '" + params + "' is a directory: give its params file ('" +
                       (std::filesystem::path(params) / "params").string() + "')");
    }
  }
  if (std::filesystem::is_directory(path, error)) {
    // A key directory gives its files their parameter set.
    if (params_given) throw UsageError("--params is for a FILE; DIR is inspected with DIR/params");
    const KeySetInspection set = inspect_key_set(path, kKeySetProfileName);
    std::fputs(format_key_set_inspection(path, set).c_str(), stdout);
    return set.intact() ? kExitSuccess : kExitFailure;
  }
  const FileInspection inspection = inspect_file(path, params_given ? options.text("params") : "");
  std::fputs(format_inspection(path, inspection).c_str(), stdout);
  // A params file the user named that does not give the file's parameter set is an error; one
  // merely looked for beside the file is not.
  bool params_failed = false;
  for (const auto& [name, value] : inspection.fields)
    params_failed = params_failed || (name == "ring degree" && value.starts_with("unknown"));
  if (params_given && params_failed) {
    std::fprintf(stderr, "cryptonets inspect: --params %s does not give the parameter set of %s\n",
                 printable_text(options.text("params")).c_str(), printable_text(path).c_str());
  }
  return inspection.intact() && !(params_given && params_failed) ? kExitSuccess : kExitFailure;
}

}  // namespace

int run_inspect(std::span<char* const> arguments) {
  // The messages name the files given: main() prints them on one printable line each, as the
  // report's lines are (printable_text), so that no file name forges a line or drives the
  // terminal; escaped here as well, they would show each backslash doubled.
  return inspect(arguments);
}

}  // namespace cryptonets::cli
