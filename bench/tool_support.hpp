// Small helpers shared by the measurement tools (cryptonets-thread-ceiling,
// cryptonets-layer-scaling): strict argument parsing, the host's load, a checked stdout.
#pragma once

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>

namespace cryptonets::bench {

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
