// Placeholder: being written.
#include <stdexcept>

#include "commands.hpp"

namespace cryptonets::cli {

int run_keygen(std::span<char* const>) {
  throw std::runtime_error("keygen: not implemented yet");
}

}  // namespace cryptonets::cli
