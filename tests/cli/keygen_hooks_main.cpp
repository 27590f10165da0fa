// cryptonets-keygen-hooks: `cryptonets keygen` with its test hooks compiled in
// (CRYPTONETS_TEST_HOOKS: CRYPTONETS_TEST_SIGNAL_IN_KEYGEN raises a signal at a chosen point,
// CRYPTONETS_TEST_RENAME_FAILS makes renames of its commit fail), for
// tests/cli/bad_input.sh. The cryptonets command has no hooks: a variable in a user's
// environment must not change what keygen does.
//
//   cryptonets-keygen-hooks keygen [keygen's options]
#include <cstdio>
#include <cstring>
#include <span>

#include "cli_support.hpp"
#include "commands.hpp"

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "keygen") != 0) {
    std::fprintf(stderr, "usage: cryptonets-keygen-hooks keygen [options]\n");
    return cryptonets::cli::kExitUsage;
  }
  // As cryptonets: argv[1] is "keygen" (keygen_preinit looks for it), its options follow.
  return cryptonets::cli::run_standalone("cryptonets keygen", cryptonets::cli::run_keygen, argc - 1,
                                         argv + 1);
}
