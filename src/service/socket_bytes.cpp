// How much of a TCP connection's stream the process has read (socket_bytes.hpp). A translation
// unit of its own: <linux/tcp.h>, whose tcp_info has tcpi_bytes_received, and glibc's
// <netinet/tcp.h> (httplib's), whose tcp_info lacks it, define the same names.
#include "socket_bytes.hpp"

#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstddef>

namespace cryptonets::service {

namespace {

std::optional<uint64_t> bytes_received(int fd) {
  tcp_info info{};
  socklen_t size = sizeof info;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &size) != 0 ||
      size < offsetof(tcp_info, tcpi_bytes_received) + sizeof info.tcpi_bytes_received) {
    return std::nullopt;
  }
  return info.tcpi_bytes_received;
}

}  // namespace

std::optional<uint64_t> tcp_bytes_read(int fd) {
  // The two counts are read one after the other: bytes that arrived between them made the queue
  // larger than what was received, and the difference wrapped around. Taken where the bytes
  // received did not change across the queue's read (its bytes then all counted in both).
  for (int attempt = 0; attempt < 8; ++attempt) {
    const std::optional<uint64_t> before = bytes_received(fd);
    int queued = 0;
    if (!before || ::ioctl(fd, SIOCINQ, &queued) != 0 || queued < 0) return std::nullopt;
    const std::optional<uint64_t> after = bytes_received(fd);
    if (after && *after == *before && *before >= static_cast<uint64_t>(queued)) {
      return *before - static_cast<uint64_t>(queued);
    }
  }
  return std::nullopt;
}

}  // namespace cryptonets::service
