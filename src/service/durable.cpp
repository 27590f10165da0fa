// Durability steps of the service's state directory.
#include "cryptonets/service/durable.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <stdexcept>
#include <vector>

#include "cryptonets/io/little_endian.hpp"
#include "cryptonets/io/protocol_files.hpp"
#include "cryptonets/io/serialize.hpp"
#include "cryptonets/io/sha256.hpp"

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

bool is_writer_temporary(const std::string& name, const std::string& base) {
  const std::string prefix = base + ".tmp-";
  if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) return false;
  const std::string rest = name.substr(prefix.size());
  const size_t dash = rest.find('-');
  if (dash == std::string::npos) return false;
  // std::to_string's form of a number in [low, high]: no sign, no leading zero, nothing else.
  // getpid() is never 0; the counter is an unsigned that starts at 0.
  const auto number = [](const std::string& text, uint64_t low, uint64_t high) {
    if (text.empty() || text.size() > 10 || text.find_first_not_of("0123456789") != text.npos ||
        (text.size() > 1 && text[0] == '0')) {
      return false;
    }
    const uint64_t value = std::stoull(text);
    return value >= low && value <= high;
  };
  return number(rest.substr(0, dash), 1,
                static_cast<uint64_t>(std::numeric_limits<pid_t>::max())) &&
         number(rest.substr(dash + 1), 0, std::numeric_limits<unsigned>::max());
}

void remove_stale_temporaries(const std::string& directory,
                              std::initializer_list<const char*> bases) {
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(directory, error)) {
    const std::string name = entry.path().filename().string();
    const bool ours = std::any_of(bases.begin(), bases.end(), [&](const char* base) {
      return is_writer_temporary(name, base);
    });
    std::error_code type_error;
    if (ours && entry.symlink_status(type_error).type() == std::filesystem::file_type::regular) {
      std::filesystem::remove(entry.path(), error);
    }
  }
}

}  // namespace cryptonets::service

namespace cryptonets::service {

namespace {

std::string file_type_name(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  return "a special file";
}

}  // namespace

void require_regular_file(const std::string& path, const std::string& what) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return;  // missing: the caller's open says so
  if (!S_ISREG(info.st_mode)) {
    throw std::runtime_error("file '" + path + "' (" + what + ") is " +
                             file_type_name(info.st_mode) + ", not a regular file; not read");
  }
}

int open_regular_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return -1;
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    const int error = S_ISREG(info.st_mode) ? errno : EINVAL;
    ::close(fd);
    errno = error;
    return -1;
  }
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) (void)::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  return fd;
}

void verify_ciphertext_file(const std::string& path) {
  const auto fail = [&](const std::string& what) {
    throw std::runtime_error("'" + path + "' is not an intact ciphertext file: " + what);
  };
  const int fd = open_regular_file(path);
  if (fd < 0) {
    const int error = errno;
    throw std::runtime_error("cannot read '" + path + "': " +
                             (error == EINVAL ? "not a regular file" : std::strerror(error)));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat info {};
  if (::fstat(fd, &info) != 0) fail(std::strerror(errno));
  const uint64_t size = static_cast<uint64_t>(info.st_size);
  uint64_t offset = 0;
  // Exactly `length` bytes at the current offset, or a named fault.
  const auto read_exactly = [&](uint8_t* out, uint64_t length, const std::string& what) {
    if (size - offset < length) fail("truncated in " + what);
    uint64_t done = 0;
    while (done < length) {
      const ssize_t got = ::pread(fd, out + done, static_cast<size_t>(length - done),
                                  static_cast<off_t>(offset + done));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) fail(std::string("read error: ") + std::strerror(errno));
      if (got == 0) fail("truncated in " + what);
      done += static_cast<uint64_t>(got);
    }
    offset += length;
  };
  // The header: magic, kind, version and checksum by the protocol's own reader.
  const ProtocolHeader header = read_protocol_header(path);
  if (header.kind != ProtocolFileKind::kCiphertexts) {
    fail("it holds " + protocol_kind_name(header.kind));
  }
  offset = kProtocolHeaderBytes;
  const uint64_t count = header.batch_count() * header.moduli;
  std::vector<uint8_t> payload;
  for (uint64_t index = 0; index < count; ++index) {
    const std::string where =
        "record " + std::to_string(index + 1) + " of " + std::to_string(count);
    std::array<uint8_t, kSerializationHeaderBytes> head{};
    read_exactly(head.data(), head.size(), where);
    if (std::memcmp(head.data(), "CNET", 4) != 0 || head[4] != 'C') {
      fail(where + ": not a ciphertext record");
    }
    if (head[5] != static_cast<uint8_t>(header.scheme)) fail(where + ": of another scheme");
    if (load_le(&head[6], 2) != kSerializationVersion) fail(where + ": format version");
    const uint64_t length = load_le(&head[24], 8);
    if (length > size - offset) fail("truncated in " + where);
    Sha256 hash;
    hash.update(head);
    for (uint64_t left = length; left > 0;) {
      payload.resize(static_cast<size_t>(std::min<uint64_t>(left, uint64_t{1} << 20)));
      read_exactly(payload.data(), payload.size(), where);
      hash.update(payload);
      left -= payload.size();
    }
    const Sha256::Digest digest = hash.digest();
    Sha256::Digest stored{};
    read_exactly(stored.data(), stored.size(), where);
    if (stored != digest) fail(where + ": checksum mismatch");
    std::array<uint8_t, kProtocolBindingBytes> binding{};
    read_exactly(binding.data(), binding.size(), "the binding of " + where);
    if (binding != encode_binding(header.file_id, index, count, digest)) {
      fail(where + ": its binding does not match (moved, or from another file)");
    }
  }
  if (offset != size) {
    throw TrailingBytesError("'" + path + "' is not an intact ciphertext file: " +
                                 std::to_string(size - offset) + " trailing bytes",
                             offset);
  }
}

}  // namespace cryptonets::service
