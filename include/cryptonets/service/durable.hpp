// Durability steps of the service's state directory (POSIX: a rename is atomic, and is durable
// once the directory holding it is fsync'd).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>

namespace cryptonets::service {

// fsync(2) of a directory, so that the entries created, renamed or removed in it survive a crash.
// Throws std::runtime_error naming the directory.
void sync_directory(const std::string& directory);

// `text` into `path`: temporary file, fsync, rename over `path`, fsync of the directory
// (io/serialize.hpp's AtomicFileWriter). Throws std::runtime_error naming the path.
void write_file_durably(const std::string& path, const std::string& text);

// Whether `name` is a named temporary that an AtomicFileWriter of `base` creates where O_TMPFILE
// is unavailable: exactly "<base>.tmp-<pid>-<n>" as std::to_string writes them (io/serialize.hpp):
// pid in [1, INT_MAX] and n in [0, UINT_MAX], decimal without a sign or a leading zero. Anything
// else ("job.json.tmp-0-0", "scores.ct.tmp-1-02") is not one the writer makes.
bool is_writer_temporary(const std::string& name, const std::string& base);

// Removes from `directory` the regular files named as the temporaries of an AtomicFileWriter of
// one of `bases` (is_writer_temporary) that a writer killed midway can leave where O_TMPFILE is
// unavailable. Nothing else is touched, links and directories of such names included: a file that
// merely contains ".tmp-" is the caller's to report. For a directory no live process writes into
// (the server's, under its lock, at start-up): the pid in the name is not checked.
void remove_stale_temporaries(const std::string& directory,
                              std::initializer_list<const char*> bases);

}  // namespace cryptonets::service

namespace cryptonets::service {

// Throws std::runtime_error naming `path` and `what` it should be ("the key set's params") if
// `path` exists (after symbolic links) and is not a regular file: a FIFO would block the open(2)
// forever, a directory reads as garbage. A missing path is left to the caller's open.
void require_regular_file(const std::string& path, const std::string& what);

// Opens `path` read-only without ever blocking (O_NONBLOCK, then fstat): returns the descriptor
// (blocking again) of a regular file; -1 with errno set if the open fails (ENOENT, ...), and -1
// with errno EINVAL if it is not a regular file (a FIFO, a device, a directory).
int open_regular_file(const std::string& path);

// Checks, without any key, that `path` is a whole ciphertext file of the protocol
// (io/protocol_files.hpp): its header (magic, kind, version, checksum), then every record's
// header (magic "CNET", kind 'C', version, scheme, declared length within the file), SHA-256
// checksum and binding (file id, position, count), and nothing after the last record. Reads the
// file once, a record at a time. Throws std::runtime_error naming `path` and the first fault;
// TrailingBytesError (below) for bytes after the last record.
void verify_ciphertext_file(const std::string& path);

// Bytes after the last record of a ciphertext file that is otherwise whole: where the records
// end, for the caller to say what the bytes hold (a secret key appended: service/client.cpp).
class TrailingBytesError : public std::runtime_error {
 public:
  TrailingBytesError(const std::string& what, uint64_t records_end)
      : std::runtime_error(what), records_end_(records_end) {}
  uint64_t records_end() const { return records_end_; }

 private:
  uint64_t records_end_;
};

}  // namespace cryptonets::service
