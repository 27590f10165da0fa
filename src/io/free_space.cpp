// Room left on a file system (io/free_space.hpp).

#include "cryptonets/io/free_space.hpp"

#include <sys/statvfs.h>
#include <unistd.h>

namespace cryptonets {

std::optional<uint64_t> free_bytes(const std::string& path) {
  struct statvfs disk {};
  if (::statvfs(path.c_str(), &disk) != 0) return std::nullopt;
  // root may write into the blocks reserved for it; anyone else only into the available ones.
  const uint64_t blocks = ::geteuid() == 0 ? disk.f_bfree : disk.f_bavail;
  return blocks * static_cast<uint64_t>(disk.f_frsize);
}

}  // namespace cryptonets
