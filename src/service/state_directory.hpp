// The server's state directory before it is used (internal to the service): its lock, its marker,
// and the check that a --state-dir is one the server may take (server.hpp).
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

namespace cryptonets::service {

// An exclusive flock(2) on the state directory itself, held while the object lives: one server
// per state directory (the lock goes with the process, even after SIGKILL). The directory, not a
// file in it, so that no file written, renamed or removed inside can drop the lock. Throws
// std::runtime_error, naming the directory, if another process holds it or it cannot be opened.
class StateLock {
 public:
  StateLock() = default;
  explicit StateLock(const std::string& dir) {
    fd_ = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd_ < 0) {
      throw std::runtime_error("cannot open the state directory '" + dir +
                               "' to lock it: " + std::strerror(errno));
    }
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const int error = errno;
      ::close(fd_);
      fd_ = -1;
      if (error == EWOULDBLOCK) {
        throw std::runtime_error("the state directory '" + dir +
                                 "' is in use by another cryptonets serve (which holds its "
                                 "lock); give each server its own --state-dir");
      }
      throw std::runtime_error("cannot lock the state directory '" + dir +
                               "': " + std::strerror(error));
    }
  }
  StateLock(const StateLock&) = delete;
  StateLock& operator=(StateLock&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  ~StateLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool held() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// The marker of a state directory (server.hpp): written on first use, so that a server never
// takes over (empties tmp/, chmods) a directory that is not one.
constexpr const char* kStateMarkerName = "cryptonets-state";
constexpr const char* kStateMarkerText = "cryptonets service state directory, format 1\n";
// The directories the server keeps in a state directory.
constexpr const char* kStateSubdirectories[] = {"keysets", "jobs", "tmp", "expired"};

// Throws std::runtime_error, before anything in `dir` is touched, unless it is missing, empty, a
// state directory (its marker), or one written before the marker was (keysets/, jobs/, tmp/ and
// perhaps expired/, all directories, and nothing else). Returns whether the marker is missing.
bool check_state_directory(const std::string& dir);

}  // namespace cryptonets::service
