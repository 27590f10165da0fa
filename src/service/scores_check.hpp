// The check of a finished job's scores file before the server answers it (GET and HEAD
// /v1/jobs/ID/result), remembered per job by what identifies the file's content on disk, so that
// the file is read in full once, not at every request. Internal to the service.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace cryptonets::service {

// What identifies a file's content on disk: a write changes the size or the mtime and always the
// ctime; setting the mtime back (utimensat) changes the ctime; a replacement changes the inode.
struct FileIdentity {
  uint64_t device = 0;
  uint64_t inode = 0;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  bool operator==(const FileIdentity&) const = default;
};

FileIdentity file_identity(const struct stat& info);

class ScoresCheck {
 public:
  // Throws std::runtime_error naming the first fault (verify_ciphertext_file, durable.hpp; its
  // messages name the file as `path`) unless `fd`, an open regular file (the scores of job
  // `job`), is an intact ciphertext file. Reads it in full only if its identity is not the one
  // verified last for `job`; the open file itself is read, not what `path` names by then.
  // Returns its size in bytes. Thread-safe.
  uint64_t require_intact(const std::string& job, int fd, const std::string& path);
  // Drops what is remembered of `job` (deleted).
  void forget(const std::string& job);

 private:
  std::mutex mutex_;
  std::map<std::string, FileIdentity> verified_;
};

}  // namespace cryptonets::service
