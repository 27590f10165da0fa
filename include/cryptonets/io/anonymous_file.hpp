// A file with no name in any directory, holding given bytes, for loaders that take a path: read
// through /proc/self/fd/N, gone when closed or when the process is killed.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace cryptonets {

class AnonymousFile {
 public:
  // How the file is made, tried in this order: memfd_create (in memory); O_TMPFILE in the
  // temporary directory (memfd_create refused, ENOSYS or EPERM, under some seccomp filters); a
  // file made in a private 0700 directory there, both removed at once (no O_TMPFILE on that file
  // system). Each file is 0600.
  enum class Method { kMemfd, kTmpfile, kUnlinked };
  static constexpr Method kEveryMethod[] = {Method::kMemfd, Method::kTmpfile, Method::kUnlinked};

  // `name` says what the file holds, in messages ("evaluation.key"). `methods`: those to try, in
  // order (tests try one alone); `directory`: where the last two make their file (empty: $TMPDIR
  // when it is a directory, else /tmp). Throws, naming each method's error, when none works.
  AnonymousFile(const std::string& name, std::span<const uint8_t> bytes,
                std::span<const Method> methods = kEveryMethod, const std::string& directory = "");
  ~AnonymousFile();
  AnonymousFile(const AnonymousFile&) = delete;
  AnonymousFile& operator=(const AnonymousFile&) = delete;

  std::string path() const { return "/proc/self/fd/" + std::to_string(fd_); }
  Method method() const { return method_; }

 private:
  int fd_ = -1;
  Method method_ = Method::kMemfd;
};

}  // namespace cryptonets
