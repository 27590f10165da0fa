// Placeholder: being written.
#include <stdexcept>

#include "commands.hpp"

namespace cryptonets::cli {

int run_decrypt(std::span<char* const>) {
  throw std::runtime_error("decrypt: not implemented yet");
}

}  // namespace cryptonets::cli
