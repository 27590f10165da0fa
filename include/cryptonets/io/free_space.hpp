// Room left on a file system, for the checks made before a large write (serve's uploads, infer's
// scores): a job that cannot be stored is refused before it runs, not after.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace cryptonets {

// The bytes this process may still write on the file system that holds `path` (a directory or
// a file): statvfs's free blocks for root, which may use the blocks reserved for it, else its
// available ones. nullopt where statvfs fails: not known, the writes will tell. Quotas and
// RLIMIT_FSIZE are not counted. Throws nothing.
std::optional<uint64_t> free_bytes(const std::string& path);

}  // namespace cryptonets
