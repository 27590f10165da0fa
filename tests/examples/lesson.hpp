// The numbered examples' narration: headings, explanations, and claims that are checked. An
// example returns finish()'s value, non-zero when any claim failed, so that a lesson whose
// statements stop being true fails the `examples` test suite.
#pragma once

#include <sys/stat.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "cryptonets/arith/format.hpp"

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
    std::printf(
        "\n%s FAILED\n",
        cryptonets::counted(static_cast<size_t>(failed_claims()), "claim", "claims").c_str());
    return 1;
  }
  std::printf("\nevery claim of this lesson holds\n");
  return 0;
}

// An example's command line (a trial: the examples ran whatever they were given, and example 6
// took --help for its DATA_DIR). --help or -h: the usage on stdout, exit 0. An option, or other
// than one operand where `operand` names one (else none), or an empty operand: the usage on
// stderr, exit 2. "--" ends the options, as for the cryptonets commands: what follows is an
// operand even if it starts with '-' (it was an unknown option). Returns the operand, if any.
inline std::string arguments(int argc, char** argv, const char* operand = nullptr) {
  const std::string usage = std::string("usage: ") + argv[0] +
                            (operand != nullptr ? std::string(" ") + operand : "") + "\n";
  for (int i = 1; i < argc && std::string(argv[i]) != "--"; ++i) {
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
  bool options_ended = false;
  std::string value;
  for (int i = 1; i < argc; ++i) {
    const std::string argument = argv[i];
    if (argument == "--" && !options_ended) {
      options_ended = true;
      continue;
    }
    const bool option = !options_ended && argument.size() > 1 && argument[0] == '-';
    if (option || ++given > wanted) {
      std::fprintf(stderr, "%s: %s '%s'\n%s", argv[0],
                   option ? "unknown option" : "unexpected argument", argument.c_str(),
                   usage.c_str());
      std::exit(2);
    }
    value = argument;
  }
  if (given < wanted) {
    std::fprintf(stderr, "%s: %s is missing\n%s", argv[0], operand, usage.c_str());
    std::exit(2);
  }
  if (wanted == 1 && value.empty()) {
    std::fprintf(stderr, "%s: %s is empty\n%s", argv[0], operand, usage.c_str());
    std::exit(2);
  }
  return value;
}

// As arguments(), for an example whose one operand names a directory: one that does not exist or
// is no directory is a usage error too, exit 2 (the last session's list: it went on to fail on
// the first file it read, exit 1, as for a directory without the files); returns it.
inline std::string directory_argument(int argc, char** argv, const char* operand) {
  const std::string directory = arguments(argc, argv, operand);
  struct stat info {};
  const bool found = ::stat(directory.c_str(), &info) == 0;
  if (!found || !S_ISDIR(info.st_mode)) {
    const std::string problem = found ? "is not a directory"
                                : errno == ENOENT
                                    ? "does not exist"
                                    : std::string("cannot be reached: ") + std::strerror(errno);
    std::fprintf(stderr, "%s: %s '%s' %s\nusage: %s %s\n", argv[0], operand, directory.c_str(),
                 problem.c_str(), argv[0], operand);
    std::exit(2);
  }
  return directory;
}

}  // namespace lesson
