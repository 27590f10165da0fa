// Durability steps of the service's state directory.
#include "cryptonets/service/durable.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "cryptonets/io/serialize.hpp"

namespace cryptonets::service {

void sync_directory(const std::string& directory) {
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) {
    const int error = errno;
    if (fd >= 0) ::close(fd);
    throw std::runtime_error("cannot sync directory '" + directory + "': " + std::strerror(error));
  }
  ::close(fd);
}

void write_file_durably(const std::string& path, const std::string& text) {
  AtomicFileWriter file(path, /*owner_only=*/true);
  file.stream().write(text.data(), static_cast<std::streamsize>(text.size()));
  file.commit();  // flush, fsync, rename, fsync of the directory
}

void remove_stale_temporaries(const std::string& directory) {
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(directory, error)) {
    if (entry.path().filename().string().find(".tmp-") != std::string::npos) {
      std::filesystem::remove(entry.path(), error);
    }
  }
}

}  // namespace cryptonets::service
