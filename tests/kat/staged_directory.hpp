// The known-answer generators' output directory, written whole or not at all (a review: a
// generator that failed midway left a partial directory). The files are written into a temporary
// sibling, DIR.tmp-PID-XXXXXX, and put in place by commit(): the sibling renamed to DIR where DIR
// did not exist, else, once none of the files would replace a directory, swapped with DIR in one
// step, DIR's other entries carried over (replace_existing()).
// Until then (an exception: the destructor) the sibling is removed again, and so are the parent
// directories made for it; also on SIGINT, SIGTERM, SIGHUP and SIGPIPE (staging_signals below).
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "cryptonets/io/interrupts.hpp"

namespace kat {

// Ctrl-C (SIGINT), SIGTERM, SIGHUP and SIGPIPE while the vectors are staged: a signal left
// DIR.tmp-PID-XXXXXX behind (a review). The state machine is `cryptonets keygen`'s
// (io/interrupts.hpp): the handler unlinks the staged files and removes the staging directory
// and the parents made for it (rmdir: only empty ones), then the process ends by the signal (130,
// 143, ...). It reads only the paths below, written while signals are held. From commit() on, a
// signal is recorded and taken once the vectors are in place, saying so.
//
// Test hook, in test builds only (CRYPTONETS_TEST_HOOKS: generate_bfv_kat-hooks, for tests/kat/
// regenerate_bfv.sh; never the generators themselves, where a variable in the environment must
// not change what they do, as keygen's hook lives only in cryptonets-keygen-hooks):
// CRYPTONETS_TEST_SIGNAL_IN_KAT=SIG:POINT (SIG: INT, TERM, HUP, PIPE or STOP) raises SIG at POINT:
// "written" once the first vector is written to the staging directory, "commit" as the vectors
// are put in place, "absent" once the commit has found DIR absent, just before it moves the
// staging directory there (STOP: the test makes DIR meanwhile).
namespace staging_signals {

constexpr size_t kPathBytes = 4096;
constexpr size_t kMostPaths = 16;
inline const char* program = "";
inline char staging[kPathBytes];
inline char files[kMostPaths][kPathBytes];
inline size_t file_count = 0;
inline char made[kMostPaths][kPathBytes];  // deepest first
inline size_t made_count = 0;

inline const char* signal_name(int signal) {
  return signal == SIGINT    ? "SIGINT"
         : signal == SIGTERM ? "SIGTERM"
         : signal == SIGHUP  ? "SIGHUP"
                             : "SIGPIPE";
}

// Before commit(): nothing was put in place.
inline void remove_staged(int signal) {
  for (size_t i = 0; i < file_count; ++i)
    ::unlink(files[i]);
  if (staging[0] != '\0') ::rmdir(staging);
  for (size_t i = 0; i < made_count; ++i)
    ::rmdir(made[i]);
  cryptonets::interrupts::say(program);
  cryptonets::interrupts::say(": stopped by ");
  cryptonets::interrupts::say(signal_name(signal));
  cryptonets::interrupts::say("; no vector was written (the staging directory was removed)\n");
}

// After commit(): the vectors are in place.
inline void say_committed(int signal) {
  cryptonets::interrupts::say(program);
  cryptonets::interrupts::say(": ");
  cryptonets::interrupts::say(signal_name(signal));
  cryptonets::interrupts::say(" arrived after the vectors were in place; stopping by it\n");
}

// Copies `path` for the handler; false if it does not fit.
inline bool copy(const std::filesystem::path& path, char* destination) {
  if (path.native().size() >= kPathBytes) return false;
  std::memcpy(destination, path.c_str(), path.native().size() + 1);
  return true;
}

#ifdef CRYPTONETS_TEST_HOOKS
inline void raise_for_test(const char* point) {
  const char* value = std::getenv("CRYPTONETS_TEST_SIGNAL_IN_KAT");
  if (value == nullptr) return;
  const std::string text = value;
  if (text.substr(text.find(':') + 1) != point) return;
  const std::string name = text.substr(0, text.find(':'));
  ::raise(name == "TERM"   ? SIGTERM
          : name == "HUP"  ? SIGHUP
          : name == "PIPE" ? SIGPIPE
          : name == "STOP" ? SIGSTOP
                           : SIGINT);
}
#else
inline void raise_for_test(const char*) {}
#endif

}  // namespace staging_signals

class StagedDirectory {
 public:
  // `program` names the generator in what the signal handler says.
  StagedDirectory(std::filesystem::path target, const char* program) : target_(std::move(target)) {
    namespace fs = std::filesystem;
    staging_signals::program = program;
    cryptonets::interrupts::install(staging_signals::remove_staged);
    if (target_.filename().empty()) target_ = target_.parent_path();  // "DIR/"
    // "." and ".." ("DIR/.") are names rename(2) cannot move (EBUSY): the directory's own name,
    // for the swap of replace_existing() (a review: 'generate_bfv_kat .' failed there, "Device or
    // resource busy", after all the work).
    const std::string given = target_.string();
    if (target_.filename() == "." || target_.filename() == "..") {
      target_ = fs::weakly_canonical(fs::absolute(target_));
      if (target_.filename().empty()) target_ = target_.parent_path();  // "/x/new/" (not there)
    }
    std::error_code error;
    const fs::file_status status = fs::status(target_, error);
    if (fs::exists(status) && !fs::is_directory(status)) {
      throw std::runtime_error("'" + target_.string() + "' exists and is not a directory");
    }
    // DIR is replaced whole (swapped with the new one): a shell in it is left in the old one,
    // removed, where the vectors and the other entries are not to be seen.
    if (fs::exists(status) && fs::equivalent(target_, ".", error)) {
      throw std::runtime_error("'" + given +
                               "' is the current directory, which would be replaced whole by the "
                               "new one, leaving a shell here in the old, removed directory; run "
                               "the generator from another directory (cd .. first)");
    }
    // The missing ancestors, deepest first: made here, removed again on failure.
    const fs::path parent = target_.parent_path().empty() ? "." : target_.parent_path();
    for (fs::path p = parent; !p.empty() && !fs::exists(fs::symlink_status(p, error));
         p = p.parent_path()) {
      made_.push_back(p);
      if (p == p.parent_path()) break;
    }
    // Held from before the directory exists until the handler knows it: a signal meanwhile is
    // taken at open(), and removes it.
    cryptonets::interrupts::hold();
    try {
      fs::create_directories(parent);
      std::string pattern = target_.string() + ".tmp-" + std::to_string(::getpid()) + "-XXXXXX";
      if (::mkdtemp(pattern.data()) == nullptr) {
        throw fs::filesystem_error("cannot make a directory beside the output", pattern,
                                   std::error_code(errno, std::generic_category()));
      }
      staging_ = pattern;
      // The mode a directory made by create_directories has (mkdtemp makes it 0700).
      const mode_t mask = ::umask(0);
      ::umask(mask);
      fs::permissions(staging_, static_cast<fs::perms>(0777 & ~mask));
      // Only the limits of the handler's buffers: far beyond what a KAT directory needs.
      bool fits = staging_signals::copy(staging_, staging_signals::staging) &&
                  made_.size() <= staging_signals::kMostPaths;
      for (size_t i = 0; fits && i < made_.size(); ++i)
        fits = staging_signals::copy(made_[i], staging_signals::made[i]);
      if (!fits) {
        throw std::runtime_error("'" + target_.string() +
                                 "': too long, or too many parent directories to make");
      }
      staging_signals::made_count = made_.size();
    } catch (...) {
      remove();
      cryptonets::interrupts::open();  // a signal recorded meanwhile ends the process now
      throw;
    }
    cryptonets::interrupts::open();
  }

  StagedDirectory(const StagedDirectory&) = delete;
  StagedDirectory& operator=(const StagedDirectory&) = delete;
  // A signal recorded while held is taken here, once the staging directory is gone (or the
  // vectors are in place).
  ~StagedDirectory() {
    cryptonets::interrupts::hold();
    remove();
    std::fflush(stdout);
    std::cerr.flush();
    cryptonets::interrupts::open();
  }

  // Where the file `name` is written before commit().
  std::filesystem::path file(const std::string& name) {
    if (!names_.empty()) staging_signals::raise_for_test("written");
    cryptonets::interrupts::hold();
    if (names_.size() == staging_signals::kMostPaths ||
        !staging_signals::copy(staging_ / name,
                               staging_signals::files[staging_signals::file_count])) {
      cryptonets::interrupts::open();
      throw std::runtime_error("too many vector files, or a path too long: '" +
                               (staging_ / name).string() + "'");
    }
    ++staging_signals::file_count;
    names_.push_back(name);
    cryptonets::interrupts::open();
    return staging_ / name;
  }

  // Puts the files in place; returns their paths there. Signals are held from here on: one that
  // comes is taken by the destructor, after the "wrote" lines.
  std::vector<std::filesystem::path> commit() {
    namespace fs = std::filesystem;
    cryptonets::interrupts::hold();
    staging_signals::raise_for_test("commit");
    std::vector<fs::path> placed;
    for (const std::string& name : names_)
      placed.push_back(target_ / name);
    std::error_code error;
    // Absent: put in place only if it still is (RENAME_NOREPLACE, as keygen does: a plain rename
    // would replace an empty directory made meanwhile, its mode lost); else, or if one appeared
    // meanwhile (EEXIST), swapped as an existing directory.
    bool moved = false;
    if (!fs::exists(fs::symlink_status(target_, error))) {
      staging_signals::raise_for_test("absent");
      if (::renameat2(AT_FDCWD, staging_.c_str(), AT_FDCWD, target_.c_str(), RENAME_NOREPLACE) ==
          0) {
        moved = true;
      } else if (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) {
        fs::rename(staging_, target_);  // no RENAME_NOREPLACE on this file system
        moved = true;
      } else if (errno != EEXIST) {
        throw fs::filesystem_error("cannot put the vectors in place", staging_, target_,
                                   std::error_code(errno, std::generic_category()));
      }
    }
    if (!moved) {
      for (const fs::path& path : placed) {
        if (fs::is_directory(fs::symlink_status(path, error))) {
          throw std::runtime_error("'" + path.string() +
                                   "' is a directory: it cannot be replaced by the vector file");
        }
      }
      replace_existing();
    }
    staging_.clear();
    made_.clear();
    forget();
    cryptonets::interrupts::set_cleanup(staging_signals::say_committed);
    return placed;
  }

 private:
  bool is_vector(const std::string& name) const {
    return std::find(names_.begin(), names_.end(), name) != names_.end();
  }

  // DIR exists: swapped with the staging directory whole (RENAME_EXCHANGE), so that a failure
  // leaves DIR as it was and a reader sees the old vectors or the new ones, never a mix (a review:
  // the files were renamed in one by one, and a failure part way left both). DIR's other entries
  // are kept: hard-linked into the staging directory before the swap (there throughout); those
  // that cannot be (a directory, a file system without hard links) are moved over after it.
  void replace_existing() {
    namespace fs = std::filesystem;
    std::error_code error;
    // A link to a directory stays a link: the directory it names is swapped.
    const fs::path real =
        fs::is_symlink(fs::symlink_status(target_, error)) ? fs::canonical(target_) : target_;
    fs::permissions(staging_, fs::status(real).permissions());
    for (const fs::directory_entry& entry : fs::directory_iterator(real)) {
      const std::string name = entry.path().filename().string();
      if (is_vector(name) || fs::is_directory(entry.symlink_status(error))) continue;
      // Not followed (flags 0): a symbolic link is linked as itself.
      (void)::linkat(AT_FDCWD, entry.path().c_str(), AT_FDCWD, (staging_ / name).c_str(), 0);
    }
    fs::path old = staging_;
    if (::renameat2(AT_FDCWD, staging_.c_str(), AT_FDCWD, real.c_str(), RENAME_EXCHANGE) != 0) {
      const int cause = errno;
      if (cause != EINVAL && cause != ENOSYS && cause != EOPNOTSUPP) {
        throw fs::filesystem_error("cannot swap the vectors into place", staging_, real,
                                   std::error_code(cause, std::generic_category()));
      }
      // No exchange on this file system: DIR is moved aside, then the staging directory put in
      // its place (DIR is absent in between, but never a mix).
      old = staging_.string() + "-old";
      fs::rename(real, old);
      if (::rename(staging_.c_str(), real.c_str()) != 0) {
        const std::error_code failure(errno, std::generic_category());
        fs::rename(old, real);
        throw fs::filesystem_error("cannot put the vectors in place", staging_, real, failure);
      }
    }
    staging_.clear();  // DIR now; `old` holds what DIR held
    forget();
    cryptonets::interrupts::set_cleanup(staging_signals::say_committed);
    std::vector<fs::path> rest;
    for (const fs::directory_entry& entry : fs::directory_iterator(old, error)) {
      const std::string name = entry.path().filename().string();
      if (!is_vector(name) && !fs::exists(fs::symlink_status(real / name, error)))
        rest.push_back(entry.path());
    }
    std::string left;
    for (const fs::path& path : rest) {
      if (::rename(path.c_str(), (real / path.filename()).c_str()) != 0)
        left += " '" + path.filename().string() + "' (" + std::strerror(errno) + ")";
    }
    if (!left.empty()) {
      made_.clear();
      throw std::runtime_error("the vectors are in '" + target_.string() +
                               "', but some of its other entries could not be moved back from '" +
                               old.string() + "', where they still are:" + left);
    }
    // The vectors are in place whatever happens here: a leftover is said, not an error.
    if (fs::remove_all(old, error) == static_cast<std::uintmax_t>(-1) || error) {
      std::cerr << "note: the vectors are in place, but the previous directory '" << old.string()
                << "' could not be removed (" << error.message() << "): remove it by hand\n";
    }
  }

  // Called held: the handler's paths are cleared with what they name.
  void remove() noexcept {
    forget();
    std::error_code error;
    if (!staging_.empty()) std::filesystem::remove_all(staging_, error);
    for (const std::filesystem::path& directory : made_)
      std::filesystem::remove(directory, error);  // only if empty
    staging_.clear();
    made_.clear();
  }

  static void forget() noexcept {
    staging_signals::staging[0] = '\0';
    staging_signals::file_count = 0;
    staging_signals::made_count = 0;
  }

  std::filesystem::path target_;
  std::filesystem::path staging_;
  std::vector<std::filesystem::path> made_;
  std::vector<std::string> names_;
};

}  // namespace kat
