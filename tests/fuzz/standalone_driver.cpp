// A small deterministic mutation fuzzer that drives a libFuzzer-style target
// (LLVMFuzzerTestOneInput) where libFuzzer is not available (g++ builds).
//
//   fuzz_<target> [--iterations N] [--seconds S] [--seed X] [--max-len BYTES]
//                 [--malloc-limit-mb MB] [--artifact-prefix PREFIX] [--write-seeds DIR]
//                 [FILE_OR_DIR...]
//
// With files (or directories of files): runs each once (replay of a saved finding) and exits.
// Otherwise: runs the target's seed inputs (fuzz_seed_inputs(), each must be accepted), then
// mutated copies of them until N iterations or S seconds have passed (default 10000 iterations).
// There is no coverage feedback: mutations are stacked on a seed or on the previous mutant.
// A finding (crash, sanitizer report, failed assertion, an exception the target lets through)
// saves the input as PREFIX + "crash-<hash>" and ends the run with a non-zero status.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <new>
#include <string>
#include <vector>

#include "fuzz_support.hpp"

// Provided by the sanitizer runtimes; null when the build has no sanitizer.
extern "C" void __sanitizer_set_death_callback(void (*callback)()) __attribute__((weak));

namespace {

using fuzz::Bytes;

// splitmix64 (Steele, Lea, Flood 2014). NOT a secure generator: a fast deterministic stream so
// that a run is reproduced exactly by its --seed.
class InsecureRng {
 public:
  explicit InsecureRng(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  size_t below(size_t bound) { return bound == 0 ? 0 : static_cast<size_t>(next() % bound); }
  bool one_in(size_t n) { return below(n) == 0; }

 private:
  uint64_t state_;
};

// ---- The input being run, saved by the crash handlers (async-signal-safe: open/write only).

const Bytes* g_current_input = nullptr;
char g_artifact_path[4096] = "";

uint64_t fnv1a(const Bytes& bytes) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (uint8_t b : bytes)
    h = (h ^ b) * 0x100000001b3ull;
  return h;
}

void prepare_artifact_path(const std::string& prefix, const Bytes& input) {
  std::snprintf(g_artifact_path, sizeof g_artifact_path, "%scrash-%016llx", prefix.c_str(),
                static_cast<unsigned long long>(fnv1a(input)));
}

void write_current_input() {
  if (g_current_input == nullptr || g_artifact_path[0] == '\0') return;
  const int fd = ::open(g_artifact_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  const uint8_t* data = g_current_input->data();
  size_t left = g_current_input->size();
  while (left > 0) {
    const ssize_t written = ::write(fd, data, left);
    if (written <= 0) break;
    data += written;
    left -= static_cast<size_t>(written);
  }
  ::close(fd);
  const char before[] = "fuzz driver: the input that failed is saved in ";
  [[maybe_unused]] ssize_t ignored = ::write(2, before, sizeof before - 1);
  ignored = ::write(2, g_artifact_path, std::strlen(g_artifact_path));
  ignored = ::write(2, "\n", 1);
  g_current_input = nullptr;  // once
}

void on_fatal_signal(int signal_number) {
  write_current_input();
  std::signal(signal_number, SIG_DFL);
  std::raise(signal_number);
}

void install_crash_handlers() {
  if (__sanitizer_set_death_callback != nullptr)
    __sanitizer_set_death_callback(write_current_input);
  for (int signal_number : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL}) {
    std::signal(signal_number, on_fatal_signal);
  }
}

// ---- Allocation limit. A single allocation of hundreds of MiB while reading an input of at most
// --max-len bytes means that a size field was trusted before it was checked. ASan reports it
// itself (max_allocation_size_mb, set by tests/fuzz/meson.build); other builds check it here.

#if defined(__SANITIZE_ADDRESS__)
#define CRYPTONETS_FUZZ_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CRYPTONETS_FUZZ_ASAN 1
#endif
#endif

size_t g_allocation_limit = size_t{512} << 20;

}  // namespace

#ifndef CRYPTONETS_FUZZ_ASAN
// noinline: GCC's -Wmismatched-new-delete misfires when free() is inlined where operator new is.
[[gnu::noinline]] void* operator new(size_t size) {
  if (size > g_allocation_limit) {
    char message[160];
    std::snprintf(message, sizeof message,
                  "FUZZ FINDING: a single allocation of %zu bytes (limit --malloc-limit-mb)\n",
                  size);
    [[maybe_unused]] ssize_t ignored = ::write(2, message, std::strlen(message));
    std::abort();
  }
  if (void* memory = std::malloc(size == 0 ? 1 : size)) return memory;
  throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* memory) noexcept {
  std::free(memory);
}
[[gnu::noinline]] void operator delete(void* memory, size_t) noexcept {
  std::free(memory);
}
#endif

namespace {

// ---- Mutations.

// Values that sit on boundaries of length, count and size checks.
uint64_t interesting_integer(InsecureRng& rng, uint64_t current, int width_bytes) {
  const int bits = 8 * width_bytes;
  const uint64_t top = bits == 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1;
  switch (rng.below(8)) {
    case 0:
      return current + 1 + rng.below(16);
    case 1:
      return current - 1 - rng.below(16);
    case 2:
      return current * 2;
    case 3:
      return current / 2;
    case 4:
      return uint64_t{1} << rng.below(static_cast<size_t>(bits));
    case 5:
      return (uint64_t{1} << rng.below(static_cast<size_t>(bits))) - 1;
    case 6: {
      constexpr std::array<uint64_t, 6> fixed = {0, 1, 0x7f, 0x80, 0x7fffffff, 0x80000000};
      return fixed[rng.below(fixed.size())];
    }
    default:
      return top - rng.below(4);
  }
}

// Overwrites an integer field (1, 2, 4 or 8 bytes, little- or big-endian, usually aligned).
void tweak_integer_field(Bytes& data, InsecureRng& rng) {
  const int width = 1 << rng.below(4);
  if (data.size() < static_cast<size_t>(width)) return;
  size_t offset = rng.below(data.size() - static_cast<size_t>(width) + 1);
  if (!rng.one_in(4)) offset -= offset % static_cast<size_t>(width);
  if (rng.one_in(4)) offset = 1 + (offset / 8) * 8;  // aligned after a control byte
  if (offset + static_cast<size_t>(width) > data.size()) return;
  const bool big_endian = rng.one_in(4);
  uint64_t value = 0;
  for (int i = 0; i < width; ++i) {
    const int shift = 8 * (big_endian ? width - 1 - i : i);
    value |= uint64_t{data[offset + static_cast<size_t>(i)]} << shift;
  }
  value = interesting_integer(rng, value, width);
  for (int i = 0; i < width; ++i) {
    const int shift = 8 * (big_endian ? width - 1 - i : i);
    data[offset + static_cast<size_t>(i)] = static_cast<uint8_t>(value >> shift);
  }
}

// Boundary values for the numbers of text formats: dimension and parameter limits (2^20, 2^28,
// 2^60), integer overflow, double range, and forms that are not plain decimals.
// clang-format off
constexpr std::array<const char*, 28> kDecimalReplacements = {
    "0", "1", "-1", "2", "255", "256", "16384", "65536", "1048576", "1048577", "268435456",
    "2147483648", "4294967297", "1152921504606846975", "1152921504606846976",
    "-1152921504606846975", "9223372036854775807", "-9223372036854775808",
    "99999999999999999999", "1e308", "1.7976931348623157e308", "1e309", "4.9e-324", "1e-400",
    "inf", "nan", "-0", "0x10"};
// clang-format on

bool is_digit(uint8_t byte) {
  return byte >= '0' && byte <= '9';
}

// In text input, replaces one number by a boundary value. The number is picked by line first, so
// that the few header lines weigh as much as the many lines of weights.
void tweak_decimal(Bytes& data, InsecureRng& rng) {
  std::vector<size_t> line_starts{0};
  for (size_t i = 0; i + 1 < data.size(); ++i)
    if (data[i] == '\n') line_starts.push_back(i + 1);
  const size_t line = rng.below(line_starts.size());
  const size_t line_begin = line_starts[line];
  const size_t line_end = line + 1 < line_starts.size() ? line_starts[line + 1] : data.size();
  std::vector<size_t> number_starts;
  for (size_t i = line_begin; i < line_end; ++i) {
    if (is_digit(data[i]) && (i == line_begin || !is_digit(data[i - 1])))
      number_starts.push_back(i);
  }
  if (number_starts.empty()) return;
  size_t start = number_starts[rng.below(number_starts.size())];
  if (start > 0 && data[start - 1] == '-') --start;
  size_t end = start + 1;
  while (end < data.size() && std::strchr("0123456789.eE+-", data[end]) != nullptr)
    ++end;
  const char* text = kDecimalReplacements[rng.below(kDecimalReplacements.size())];
  const auto at = [&](size_t i) { return data.begin() + static_cast<ptrdiff_t>(i); };
  data.erase(at(start), at(end));
  data.insert(at(start), text, text + std::strlen(text));
}

void mutate_once(Bytes& data, const std::vector<Bytes>& pool, InsecureRng& rng) {
  const size_t size = data.size();
  auto at = [&](size_t i) { return data.begin() + static_cast<ptrdiff_t>(i); };
  switch (rng.below(12)) {
    case 0:  // bit flip
      if (size > 0) data[rng.below(size)] ^= static_cast<uint8_t>(1u << rng.below(8));
      break;
    case 1:  // random byte
      if (size > 0) data[rng.below(size)] = static_cast<uint8_t>(rng.next());
      break;
    case 2: {  // boundary bytes: one overwritten or inserted, or a new line made of them
      // Integer edges, and the characters that delimit tokens, lines and comments in text.
      static constexpr std::array<uint8_t, 17> bytes = {
          0, 1, 0x7f, 0x80, 0xff, '0', '9', '-', '.', '#', ' ', '\t', '\n', '\v', '\f', '\r', 'e'};
      auto boundary_byte = [&] { return bytes[rng.below(bytes.size())]; };
      const size_t position = rng.below(size + 1);
      switch (rng.below(3)) {
        case 0:
          if (position < size) data[position] = boundary_byte();
          break;
        case 1:
          data.insert(at(position), boundary_byte());
          break;
        default: {
          const size_t line_start = position == 0 ? 0 : position - 1;
          const auto newline = std::find(at(line_start), data.end(), uint8_t{'\n'});
          Bytes line(1 + rng.below(3));
          for (uint8_t& b : line)
            b = boundary_byte();
          line.push_back('\n');
          const auto after = newline == data.end() ? data.end() : newline + 1;
          data.insert(after, line.begin(), line.end());
          break;
        }
      }
      break;
    }
    case 3:  // truncation (often near the end, where checksums and trailers are)
      if (size > 0)
        data.resize(rng.one_in(2) ? rng.below(size)
                                  : size - 1 - rng.below(std::min<size_t>(size, 40)));
      break;
    case 4: {  // insertion of random or repeated bytes
      const size_t position = rng.below(size + 1);
      const size_t count = 1 + rng.below(rng.one_in(8) ? 256 : 8);
      const bool repeated = rng.one_in(2);
      const auto fill = static_cast<uint8_t>(rng.next());
      Bytes inserted(count);
      for (uint8_t& b : inserted)
        b = repeated ? fill : static_cast<uint8_t>(rng.next());
      data.insert(at(position), inserted.begin(), inserted.end());
      break;
    }
    case 5: {  // erase a range
      if (size == 0) break;
      const size_t position = rng.below(size);
      const size_t count = 1 + rng.below(std::min<size_t>(size - position, 64));
      data.erase(at(position), at(position + count));
      break;
    }
    case 6: {  // duplicate a range elsewhere (repeated records, lines, rows)
      if (size == 0) break;
      const size_t from = rng.below(size);
      const size_t count = 1 + rng.below(std::min<size_t>(size - from, 128));
      const Bytes chunk(at(from), at(from + count));
      data.insert(at(rng.below(size + 1)), chunk.begin(), chunk.end());
      break;
    }
    case 7: {  // copy a range over another one (same length)
      if (size < 2) break;
      const size_t count = 1 + rng.below(std::min<size_t>(size / 2, 64));
      const size_t from = rng.below(size - count + 1);
      const size_t to = rng.below(size - count + 1);
      std::copy_n(Bytes(at(from), at(from + count)).begin(), count, at(to));
      break;
    }
    case 8: {  // splice: a prefix of this input, a suffix of another
      const Bytes& other = pool[rng.below(pool.size())];
      const size_t cut = rng.below(size + 1);
      const size_t other_cut = rng.below(other.size() + 1);
      data.resize(cut);
      data.insert(data.end(), other.begin() + static_cast<ptrdiff_t>(other_cut), other.end());
      break;
    }
    case 9:
    case 10:
      tweak_integer_field(data, rng);
      break;
    default:
      tweak_decimal(data, rng);
      break;
  }
}

Bytes mutant(const Bytes& base, const std::vector<Bytes>& pool, InsecureRng& rng, size_t max_len) {
  Bytes data = base;
  const size_t mutations = 1 + (rng.one_in(2) ? 0 : rng.below(rng.one_in(4) ? 16 : 4));
  for (size_t i = 0; i < mutations; ++i)
    mutate_once(data, pool, rng);
  if (data.size() > max_len) data.resize(max_len);
  return data;
}

// ---- Running.

struct Options {
  uint64_t iterations = 0;
  double seconds = 0;
  uint64_t seed = 1;
  size_t max_len = 1 << 16;
  size_t malloc_limit_mb = 512;
  std::string artifact_prefix;
  std::string write_seeds;
  std::vector<std::string> inputs;
};

[[noreturn]] void usage(const char* program) {
  std::fprintf(stderr,
               "usage: %s [--iterations N] [--seconds S] [--seed X] [--max-len BYTES]\n"
               "       [--malloc-limit-mb MB] [--artifact-prefix PREFIX] [--write-seeds DIR]\n"
               "       [FILE_OR_DIR...]\n",
               program);
  std::exit(2);
}

Options parse_options(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(argv[0]);
      return argv[++i];
    };
    try {
      if (arg == "--iterations") {
        options.iterations = std::stoull(value());
      } else if (arg == "--seconds") {
        options.seconds = std::stod(value());
      } else if (arg == "--seed") {
        options.seed = std::stoull(value());
      } else if (arg == "--max-len") {
        options.max_len = std::stoull(value());
      } else if (arg == "--malloc-limit-mb") {
        options.malloc_limit_mb = std::stoull(value());
      } else if (arg == "--artifact-prefix") {
        options.artifact_prefix = value();
      } else if (arg == "--write-seeds") {
        options.write_seeds = value();
      } else if (arg.starts_with("-")) {
        usage(argv[0]);
      } else {
        options.inputs.push_back(arg);
      }
    } catch (const std::logic_error&) {  // stoull/stod: not a number
      usage(argv[0]);
    }
  }
  if (options.iterations == 0 && options.seconds == 0) options.iterations = 10000;
  return options;
}

// Runs one input; an exception that the target let through is a finding.
void run_one(const Bytes& input, const std::string& artifact_prefix) {
  prepare_artifact_path(artifact_prefix, input);
  g_current_input = &input;
  try {
    LLVMFuzzerTestOneInput(input.data(), input.size());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "FUZZ FINDING: undocumented exception from the loader: %s\n", e.what());
    write_current_input();
    std::exit(1);
  } catch (...) {
    std::fprintf(stderr, "FUZZ FINDING: a non-std exception from the loader\n");
    write_current_input();
    std::exit(1);
  }
  g_current_input = nullptr;
}

Bytes read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    std::exit(2);
  }
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

int replay(const Options& options) {
  std::vector<std::filesystem::path> files;
  for (const std::string& input : options.inputs) {
    if (std::filesystem::is_directory(input)) {
      for (const auto& entry : std::filesystem::directory_iterator(input))
        if (entry.is_regular_file()) files.push_back(entry.path());
    } else {
      files.push_back(input);
    }
  }
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    run_one(read_file(file), options.artifact_prefix);
  }
  std::printf("replayed %zu inputs, %llu accepted, no finding\n", files.size(),
              static_cast<unsigned long long>(fuzz::accepted_inputs.load()));
  return 0;
}

int write_seeds(const std::vector<Bytes>& seeds, const std::string& directory) {
  std::filesystem::create_directories(directory);
  for (size_t i = 0; i < seeds.size(); ++i) {
    std::ofstream out(std::filesystem::path(directory) / ("seed-" + std::to_string(i)),
                      std::ios::binary);
    out.write(reinterpret_cast<const char*>(seeds[i].data()),
              static_cast<std::streamsize>(seeds[i].size()));
    if (!out) {
      std::fprintf(stderr, "cannot write seeds to %s\n", directory.c_str());
      return 2;
    }
  }
  std::printf("wrote %zu seeds to %s\n", seeds.size(), directory.c_str());
  return 0;
}

int fuzz_loop(const Options& options, const std::vector<Bytes>& seeds) {
  // Every seed is a valid input: a refusal means the harness or the loader is broken.
  for (size_t i = 0; i < seeds.size(); ++i) {
    const uint64_t before = fuzz::accepted_inputs.load();
    run_one(seeds[i], options.artifact_prefix);
    if (fuzz::accepted_inputs.load() == before) {
      std::fprintf(stderr, "FUZZ FINDING: seed input %zu (a valid input) was refused\n", i);
      return 1;
    }
  }
  InsecureRng rng(options.seed);
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(options.seconds));
  const uint64_t accepted_before = fuzz::accepted_inputs.load();
  Bytes previous = seeds[0];
  uint64_t iterations = 0;
  double slowest = 0;
  for (;; ++iterations) {
    if (options.iterations != 0 && iterations >= options.iterations) break;
    if (options.seconds > 0 && iterations % 16 == 0 && Clock::now() >= deadline) break;
    const Bytes& base = rng.one_in(3) ? previous : seeds[rng.below(seeds.size())];
    Bytes input = mutant(base, seeds, rng, options.max_len);
    const auto before = Clock::now();
    run_one(input, options.artifact_prefix);
    slowest = std::max(slowest, std::chrono::duration<double>(Clock::now() - before).count());
    previous = std::move(input);
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf(
      "%llu iterations in %.1f s (%.0f/s), %llu accepted, slowest input %.3f s, seed %llu: "
      "no finding\n",
      static_cast<unsigned long long>(iterations), elapsed,
      elapsed > 0 ? static_cast<double>(iterations) / elapsed : 0.0,
      static_cast<unsigned long long>(fuzz::accepted_inputs.load() - accepted_before), slowest,
      static_cast<unsigned long long>(options.seed));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse_options(argc, argv);
  g_allocation_limit = options.malloc_limit_mb << 20;
  install_crash_handlers();
  if (!options.inputs.empty()) return replay(options);
  const std::vector<Bytes> seeds = fuzz_seed_inputs();
  if (!options.write_seeds.empty()) return write_seeds(seeds, options.write_seeds);
  if (seeds.empty()) {
    std::fprintf(stderr, "the target has no seed inputs\n");
    return 2;
  }
  return fuzz_loop(options, seeds);
}
