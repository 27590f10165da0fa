// A ciphertext file checked while it arrives (stream_verifier.hpp).
#include "cryptonets/service/stream_verifier.hpp"

#include <fcntl.h>
#include <omp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace cryptonets::service {

StreamVerifier::StreamVerifier(FileCheck check, bool keep_first_batch)
    : check_(std::move(check)), keep_first_batch_(keep_first_batch) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    throw std::runtime_error(std::string("cannot create a pipe: ") + std::strerror(errno));
  }
  read_fd_ = fds[0];
  write_fd_ = fds[1];
  (void)::fcntl(write_fd_, F_SETPIPE_SZ, 1 << 20);  // fewer wake-ups; the default works too
  // The reader opens files by name: the pipe's read end has one under /proc.
  path_ = "/proc/self/fd/" + std::to_string(read_fd_);
  thread_ = std::thread([this] { verify(); });
}

StreamVerifier::~StreamVerifier() {
  if (thread_.joinable()) finish();
  if (read_fd_ >= 0) ::close(read_fd_);
}

void StreamVerifier::verify() {
  omp_set_num_threads(1);  // one thread per upload, beside the worker's
  try {
    bool first = true;
    check_(path_, [&](inference::EncryptedBatch batch) {
      if (first && keep_first_batch_) first_batch_.emplace(std::move(batch));
      first = false;
    });
  } catch (const std::exception& e) {
    error_ = e.what();
    failure_ = std::current_exception();
    first_batch_.reset();
  }
  // Whatever is still sent is read and dropped, so that feed() never blocks on a full pipe.
  char sink[1 << 16];
  while (true) {
    const ssize_t got = ::read(read_fd_, sink, sizeof sink);
    if (got > 0 || (got < 0 && errno == EINTR)) continue;
    break;
  }
}

bool StreamVerifier::feed(const char* data, size_t length) {
  if (write_fd_ < 0) return false;
  while (length > 0) {
    const ssize_t written = ::write(write_fd_, data, length);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return false;
    data += written;
    length -= static_cast<size_t>(written);
  }
  return true;
}

std::string StreamVerifier::finish() {
  if (write_fd_ >= 0) {
    ::close(write_fd_);  // end of input: the reader sees the end of the file
    write_fd_ = -1;
  }
  if (thread_.joinable()) thread_.join();
  return error_;
}

}  // namespace cryptonets::service
