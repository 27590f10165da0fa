// The subcommands of `cryptonets`. Each takes the arguments after its name, returns the exit code
// (cli_support.hpp) and lets exceptions escape to main(), which prints them.
#pragma once

#include <span>

namespace cryptonets::cli {

int run_params(std::span<char* const> arguments);
int run_keygen(std::span<char* const> arguments);
int run_encrypt(std::span<char* const> arguments);
int run_infer(std::span<char* const> arguments);
int run_decrypt(std::span<char* const> arguments);
int run_inspect(std::span<char* const> arguments);
int run_mnist(std::span<char* const> arguments);
int run_profile(std::span<char* const> arguments);
int run_serve(std::span<char* const> arguments);   // with CRYPTONETS_HAVE_SERVICE only
int run_client(std::span<char* const> arguments);  // with CRYPTONETS_HAVE_SERVICE only

}  // namespace cryptonets::cli
