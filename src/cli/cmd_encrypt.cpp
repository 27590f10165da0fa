// Placeholder: being written.
#include <stdexcept>

#include "commands.hpp"

namespace cryptonets::cli {

int run_encrypt(std::span<char* const>) {
  throw std::runtime_error("encrypt: not implemented yet");
}

}  // namespace cryptonets::cli
