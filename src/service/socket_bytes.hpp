// How much of a TCP connection's stream the process has read (internal to the service).
#pragma once

#include <cstdint>
#include <optional>

namespace cryptonets::service {

// The bytes received on the TCP socket `fd` less those still queued unread (TCP_INFO's
// tcpi_bytes_received, SIOCINQ): what the process has read of its stream so far, TLS records
// included. nullopt where `fd` is no TCP socket (closed meanwhile) or the kernel does not say.
std::optional<uint64_t> tcp_bytes_read(int fd);

}  // namespace cryptonets::service
