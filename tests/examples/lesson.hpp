// The numbered examples' narration: headings, explanations, and claims that are checked. An
// example returns finish()'s value, non-zero when any claim failed, so that a lesson whose
// statements stop being true fails the `examples` test suite.
#pragma once

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
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

// An example's command line (a trial: the examples ran whatever they were given, and example 6
// took --help for its DATA_DIR). --help or -h: the usage on stdout, exit 0. An option, or other
// than one operand where `operand` names one (else none): the usage on stderr, exit 2.
inline void arguments(int argc, char** argv, const char* operand = nullptr) {
  const std::string usage = std::string("usage: ") + argv[0] +
                            (operand != nullptr ? std::string(" ") + operand : "") + "\n";
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--help" || std::string(argv[i]) == "-h") {
      std::printf(
          "%sA numbered example (tests/examples/README.md): prints its lesson and checks "
          "its claims (exit 1 if one fails).\n",
          usage.c_str());
      std::exit(0);
    }
  }
  const int wanted = operand != nullptr ? 1 : 0;
  int given = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string argument = argv[i];
    const bool option = argument.size() > 1 && argument[0] == '-';
    if (option || ++given > wanted) {
      std::fprintf(stderr, "%s: %s '%s'\n%s", argv[0],
                   option ? "unknown option" : "unexpected argument", argument.c_str(),
                   usage.c_str());
      std::exit(2);
    }
  }
  if (given < wanted) {
    std::fputs(usage.c_str(), stderr);
    std::exit(2);
  }
}

}  // namespace lesson
