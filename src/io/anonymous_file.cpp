#include "cryptonets/io/anonymous_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace cryptonets {

namespace {

std::string temporary_directory(const std::string& directory) {
  if (!directory.empty()) return directory;
  const char* tmpdir = std::getenv("TMPDIR");
  struct stat status {};
  // A TMPDIR that does not exist ended an MPI job once (a trial): /tmp then.
  if (tmpdir != nullptr && *tmpdir != '\0' && ::stat(tmpdir, &status) == 0 &&
      S_ISDIR(status.st_mode)) {
    return tmpdir;
  }
  return "/tmp";
}

// A file in a new 0700 directory under `directory`, unlinked and the directory removed before
// returning: named for microseconds, and to its owner only meanwhile.
int unlinked_file(const std::string& directory, std::string& error) {
  std::string pattern = directory + "/cryptonets-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {  // mode 0700
    error = "mkdtemp in '" + directory + "': " + std::strerror(errno);
    return -1;
  }
  const std::string file = pattern + "/file";
  int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    error = "open in '" + pattern + "': " + std::strerror(errno);
  } else if (::unlink(file.c_str()) != 0) {
    error = "unlink '" + file + "': " + std::strerror(errno);
    ::close(fd);
    fd = -1;
  }
  ::rmdir(pattern.c_str());
  return fd;
}

}  // namespace

AnonymousFile::AnonymousFile(const std::string& name, std::span<const uint8_t> bytes,
                             std::span<const Method> methods, const std::string& directory) {
  std::string errors;
  for (const Method method : methods) {
    std::string error;
    if (method == Method::kMemfd) {
      fd_ = ::memfd_create(name.c_str(), MFD_CLOEXEC);
      if (fd_ < 0) error = std::string("memfd_create: ") + std::strerror(errno);
      // memfd_create makes it 0777 (reachable only through this process's fd table, but said
      // 0600 like the others).
      if (fd_ >= 0) ::fchmod(fd_, 0600);
    } else if (method == Method::kTmpfile) {
      const std::string where = temporary_directory(directory);
      // O_EXCL: the file can never be given a name (linkat).
      fd_ = ::open(where.c_str(), O_TMPFILE | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
      if (fd_ < 0) error = "O_TMPFILE in '" + where + "': " + std::strerror(errno);
    } else {
      fd_ = unlinked_file(temporary_directory(directory), error);
    }
    if (fd_ >= 0) {
      method_ = method;
      break;
    }
    errors += (errors.empty() ? "" : "; ") + error;
  }
  if (fd_ < 0) {
    throw std::runtime_error("cannot make a file with no name for the " + name + " (" + errors +
                             ")");
  }
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t written = ::write(fd_, bytes.data() + done, bytes.size() - done);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) {
      const int error = written < 0 ? errno : ENOSPC;
      ::close(fd_);
      throw std::runtime_error("cannot write the " + name +
                               " to a file with no name: " + std::strerror(error));
    }
    done += static_cast<size_t>(written);
  }
}

AnonymousFile::~AnonymousFile() {
  ::close(fd_);
}

}  // namespace cryptonets
