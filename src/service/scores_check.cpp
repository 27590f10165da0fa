// The check of a finished job's scores file, remembered by the file's identity (scores_check.hpp).
#include "scores_check.hpp"

#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <system_error>

#include "cryptonets/service/durable.hpp"

namespace cryptonets::service {

namespace {

int64_t nanoseconds(const struct timespec& t) {
  return static_cast<int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec;
}

FileIdentity stat_identity(int fd) {
  struct stat info {};
  if (::fstat(fd, &info) != 0) throw std::system_error(errno, std::generic_category(), "fstat");
  return file_identity(info);
}

}  // namespace

FileIdentity file_identity(const struct stat& info) {
  return FileIdentity{static_cast<uint64_t>(info.st_dev), static_cast<uint64_t>(info.st_ino),
                      static_cast<uint64_t>(info.st_size), nanoseconds(info.st_mtim),
                      nanoseconds(info.st_ctim)};
}

uint64_t ScoresCheck::require_intact(const std::string& job, int fd, const std::string& path) {
  const FileIdentity identity = stat_identity(fd);
  {
    std::lock_guard lock(mutex_);
    if (auto it = verified_.find(job); it != verified_.end() && it->second == identity) {
      return identity.size;
    }
  }
  // The clock file timestamps are taken from, read before the file is.
  struct timespec start {};
  ::clock_gettime(CLOCK_REALTIME_COARSE, &start);
  // The open file itself (its descriptor's path): what is answered is what was verified. Without
  // /proc, the path, and then the file it names must still be the open one (below).
  const bool by_descriptor = ::access("/proc/self/fd", X_OK) == 0;
  const std::string self = by_descriptor ? "/proc/self/fd/" + std::to_string(fd) : path;
  try {
    verify_ciphertext_file(self);
  } catch (const std::exception& e) {
    std::string message = e.what();
    for (size_t at = message.find(self); at != std::string::npos; at = message.find(self, at)) {
      message.replace(at, self.size(), path);
      at += path.size();
    }
    throw std::runtime_error(message);
  }
  struct stat named {};
  if (stat_identity(fd) != identity ||
      (!by_descriptor && (::stat(path.c_str(), &named) != 0 || file_identity(named) != identity))) {
    throw std::runtime_error("'" + path + "' changed while it was verified");
  }
  // Remembered only once its timestamps lie in an earlier second than the check's start: a
  // write within the same clock tick (or the same second, where the file system keeps whole
  // seconds) would leave them as they are, and the change would go unseen.
  const int64_t second = static_cast<int64_t>(start.tv_sec) * 1000000000;
  if (std::max(identity.mtime_ns, identity.ctime_ns) < second) {
    std::lock_guard lock(mutex_);
    verified_[job] = identity;
  }
  return identity.size;
}

void ScoresCheck::forget(const std::string& job) {
  std::lock_guard lock(mutex_);
  verified_.erase(job);
}

}  // namespace cryptonets::service
