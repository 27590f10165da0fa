// The numbered examples' narration: headings, explanations, and claims that are checked. An
// example returns finish()'s value, non-zero when any claim failed, so that a lesson whose
// statements stop being true fails the `examples` test suite.
#pragma once

#include <cstdarg>
#include <cstdio>
#include <string>

namespace lesson {

inline int& failed_claims() {
  static int count = 0;
  return count;
}

inline void title(const std::string& text) {
  std::printf("\n== %s ==\n", text.c_str());
}

// printf-style narration.
[[gnu::format(printf, 1, 2)]] inline void say(const char* format, ...) {
  std::va_list args;
  va_start(args, format);
  std::vprintf(format, args);
  va_end(args);
  std::putchar('\n');
}

// A statement the lesson makes; printed with [ok] or [FAILED].
inline bool claim(bool holds, const std::string& statement) {
  std::printf("  [%s] %s\n", holds ? "ok" : "FAILED", statement.c_str());
  if (!holds) ++failed_claims();
  return holds;
}

inline int finish() {
  if (failed_claims() != 0) {
    std::printf("\n%d claim(s) FAILED\n", failed_claims());
    return 1;
  }
  std::printf("\nevery claim of this lesson holds\n");
  return 0;
}

}  // namespace lesson
