// Placeholder: being written.
#include <stdexcept>

#include "commands.hpp"

namespace cryptonets::cli {

int run_infer(std::span<char* const>) {
  throw std::runtime_error("infer: not implemented yet");
}

}  // namespace cryptonets::cli
