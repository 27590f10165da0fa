// Small helpers shared by the measurement tools (cryptonets-thread-ceiling,
// cryptonets-layer-scaling) and the micro-benchmarks (benchmark_context.hpp): strict argument
// parsing, the machine (CPU model and the flags the kernels choose their path by), the host's
// load, a checked stdout.
#pragma once

#include <sched.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

namespace cryptonets::bench {

// The first value of `field` ("model name", "flags") in /proc/cpuinfo, or "".
inline std::string cpuinfo_field(const std::string& field) {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(field, 0) != 0) continue;
    const size_t colon = line.find(':');
    if (colon == std::string::npos || line.find_first_not_of(" \t", field.size()) != colon)
      continue;
    const size_t start = line.find_first_not_of(' ', colon + 1);
    return start == std::string::npos ? "" : line.substr(start);
  }
  return "";
}

// The flags among avx2, avx512f, avx512ifma, bmi2 and adx that /proc/cpuinfo lists, in that order.
inline std::string kernel_cpu_flags() {
  const std::string line = cpuinfo_field("flags");
  std::string found;
  for (const char* flag : {"avx2", "avx512f", "avx512ifma", "bmi2", "adx"}) {
    std::istringstream words(line);
    for (std::string word; words >> word;) {
      if (word == flag) found += (found.empty() ? "" : " ") + word;
    }
  }
  return found.empty() ? "none of avx2 avx512f avx512ifma bmi2 adx" : found;
}

// "Machine: MODEL; N CPUs allowed; CPU flags: FLAGS", flushed at once: a run of minutes says
// where it runs before it measures (a review: the tools run directly named neither the CPU nor
// its flags, which the micro-benchmarks and the scripts' reports give).
inline void print_machine() {
  const std::string model = cpuinfo_field("model name");
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  const int cpus = sched_getaffinity(0, sizeof allowed, &allowed) == 0 ? CPU_COUNT(&allowed) : 0;
  std::printf("Machine: %s; %d CPUs allowed; CPU flags: %s\n",
              model.empty() ? "unknown CPU model" : model.c_str(), cpus,
              kernel_cpu_flags().c_str());
  std::fflush(stdout);
}

// The whole of `text` as an integer in [low, high], or nothing ("3junk", "", "1e3", out of range).
inline std::optional<int> parse_count(const char* text, int low, int high) {
  int value = 0;
  const char* end = text + std::strlen(text);
  const auto [stop, error] = std::from_chars(text, end, value);
  if (error != std::errc() || stop != end || value < low || value > high) return std::nullopt;
  return value;
}

// The 1-minute load average, or a negative number where it cannot be read. Other processes take
// CPU time from a measurement, which no probe of ours tells from the host's own noise.
inline double load_average() {
  double load[1];
  return getloadavg(load, 1) == 1 ? load[0] : -1;
}

// Prints the load line; warns when something else was running (a load above 1.0 before the
// tool started, or above 2.5 while it ran its two threads).
inline void print_load(const char* when, double load, double limit) {
  if (load < 0) return;
  std::printf(
      "Load average (1 minute) %s: %.2f%s\n", when, load,
      load > limit ? " -- other processes were running: these numbers are not quiet ones" : "");
}

// Flushes stdout; a tool whose report could not be written exits 1 (a full disk, /dev/full).
inline int finish_stdout(int status) {
  if (std::fflush(stdout) != 0 || std::ferror(stdout) != 0) {
    std::fprintf(stderr, "could not write the report to standard output\n");
    return 1;
  }
  return status;
}

}  // namespace cryptonets::bench
