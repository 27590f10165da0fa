// libFuzzer builds (-Dfuzzing=libfuzzer): seeds the corpus from the target's fuzz_seed_inputs().
// Every corpus directory named on the command line that does not exist yet, or is empty, is
// created and filled with the seed inputs before libFuzzer reads it, so that
//   fuzz_<target> CORPUS_DIR -max_total_time=60
// starts from valid records (random bytes almost never get past the checksums).
#include <filesystem>
#include <fstream>
#include <string>

#include "fuzz_support.hpp"

namespace {

void write_seeds(const std::filesystem::path& directory) {
  std::filesystem::create_directories(directory);
  const auto seeds = fuzz_seed_inputs();
  for (size_t i = 0; i < seeds.size(); ++i) {
    std::ofstream out(directory / ("seed-" + std::to_string(i)), std::ios::binary);
    out.write(reinterpret_cast<const char*>(seeds[i].data()),
              static_cast<std::streamsize>(seeds[i].size()));
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  for (int i = 1; i < *argc; ++i) {
    const std::string arg = (*argv)[i];
    if (arg.empty() || arg[0] == '-') continue;  // a libFuzzer flag
    std::error_code error;
    const bool missing = !std::filesystem::exists(arg, error);
    if (missing ||
        (std::filesystem::is_directory(arg, error) && std::filesystem::is_empty(arg, error))) {
      write_seeds(arg);
    }
  }
  return 0;
}
