// cryptonets: private inference on encrypted MNIST images (CryptoNets, ICML 2016) with YASHE'.
//
//   client  cryptonets keygen / encrypt / decrypt     (holds the secret key)
//   server  cryptonets infer                          (public and evaluation keys only)
//   both    cryptonets mnist                          (the whole protocol in one process)
//   anyone  cryptonets inspect FILE|DIR               (what a file is; no key needed)
//   service cryptonets serve / client ...            (the same protocol over HTTP)
#include <csignal>
#include <cstdio>
#include <exception>
#include <new>
#include <span>
#include <string>
#include <string_view>

#include "cli_support.hpp"
#include "commands.hpp"
#include "cryptonets/ring/memory_policy.hpp"

namespace {

using namespace cryptonets::cli;
using cryptonets::printable_text;

struct Subcommand {
  std::string_view name;
  int (*run)(std::span<char* const>);
  std::string_view summary;
};

constexpr Subcommand kSubcommands[] = {
    {"params", run_params, "show a parameter set and its security report"},
    {"profile", run_profile, "server: write the model's weight-free profile for the client"},
    {"keygen", run_keygen, "client: write the secret, public and evaluation keys"},
    {"encrypt", run_encrypt, "client: encrypt MNIST images into a ciphertext batch"},
    {"infer", run_infer, "server: evaluate the model on an encrypted batch (no secret key)"},
    {"decrypt", run_decrypt, "client: decrypt the scores into labels (and accuracy)"},
    {"inspect", run_inspect, "what a file is and whether it is intact (no key needed)"},
    {"mnist", run_mnist, "the main job: the whole protocol on the MNIST test images"},
#if CRYPTONETS_HAVE_SERVICE
    {"serve", run_serve, "server: the private-inference service over HTTP(S)"},
    {"client", run_client, "client: register keys, submit, status, fetch, infer via a server"},
#endif
};

void print_usage(std::FILE* out) {
  std::fprintf(out,
               "usage: cryptonets <command> [options]   (cryptonets <command> --help for "
               "details)\n\ncommands:\n");
  for (const Subcommand& s : kSubcommands) {
    std::fprintf(out, "  %-9.*s %.*s\n", static_cast<int>(s.name.size()), s.name.data(),
                 static_cast<int>(s.summary.size()), s.summary.data());
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (!standard_streams_open("cryptonets")) return kExitUsage;
  // Past a file-size limit (ulimit -f) a write would end the process by SIGXFSZ without a word
  // (a shell's 153): keygen left its DIR.tmp-PID-X directory behind, encrypt and infer no error,
  // and serve died in an upload instead of answering 507. Ignored, the write fails with EFBIG,
  // which the writers report with the file's name ("File too large"), as run_standalone does
  // for the other programs.
  ::signal(SIGXFSZ, SIG_IGN);
  // Batches of ciphertexts reuse the memory of the previous layer and batch (memory_policy.hpp).
  cryptonets::keep_freed_memory_for_reuse();
  if (argc < 2) {
    print_usage(stderr);
    return kExitUsage;
  }
  const std::string_view name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    print_usage(stdout);
    // A usage that could not be written (>/dev/full) is an error, as for every subcommand.
    return checked_stdout(kExitSuccess, "cryptonets");
  }
  for (const Subcommand& s : kSubcommands) {
    if (s.name != name) continue;
    try {
      return checked_stdout(s.run(std::span<char* const>(argv + 2, static_cast<size_t>(argc - 2))),
                            std::string("cryptonets ") + argv[1]);
    } catch (const UsageError& e) {
      // Every message made printable: most name the files given, and a name with a newline
      // could forge a line of output, one with ESC drive the terminal.
      const std::string help = e.help_command().empty() ? argv[1] : e.help_command();
      std::fprintf(stderr, "cryptonets %s: %s (see cryptonets %s --help)\n", argv[1],
                   printable_text(e.what()).c_str(), printable_text(help).c_str());
      return kExitUsage;
    } catch (const std::bad_alloc&) {
      std::fprintf(stderr, "cryptonets %s: out of memory\n", argv[1]);
      return kExitFailure;
    } catch (const std::exception& e) {
      // A library message that names the command already ("infer: the keyless noise model
      // ...") would read "cryptonets infer: error: infer: ...".
      std::string_view message = e.what();
      const std::string prefix = std::string(name) + ": ";
      if (message.starts_with(prefix)) message.remove_prefix(prefix.size());
      std::fprintf(stderr, "cryptonets %s: error: %s\n", argv[1], printable_text(message).c_str());
      return kExitFailure;
    }
  }
  std::fprintf(stderr, "cryptonets: unknown command '%s'\n", printable_text(argv[1]).c_str());
  print_usage(stderr);
  return kExitUsage;
}
