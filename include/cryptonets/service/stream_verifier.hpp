// A ciphertext file checked while it arrives: the bytes fed in go through a pipe to a
// BasicCiphertextFileReader (io/protocol_files.hpp: header against the key set and its scheme,
// every record's checksum and binding, no trailing bytes) on a thread of its own, so that an
// upload is verified in the same pass that stores it, without a second read of the file. The
// reader is the only scheme-dependent part: the verifier takes it as a FileCheck.
#pragma once

#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cryptonets/io/protocol_files.hpp"

namespace cryptonets::service {

// Reads the ciphertext file at `path` to its end, handing every verified batch to `batch` in
// order; throws std::runtime_error (naming `path`) at the first fault.
using FileCheck = std::function<void(const std::string& path,
                                     const std::function<void(inference::EncryptedBatch)>& batch)>;

// The FileCheck of a ciphertext file under `contexts` and `key_ids` (one per modulus): a
// BasicCiphertextFileReader<Scheme> read to the end, then finish() (no trailing bytes).
template <class Scheme>
FileCheck ciphertext_file_check(BasicContextSet<Scheme> contexts, std::vector<uint64_t> key_ids) {
  return [contexts = std::move(contexts), key_ids = std::move(key_ids)](
             const std::string& path, const std::function<void(inference::EncryptedBatch)>& batch) {
    BasicCiphertextFileReader<Scheme> reader(path, contexts, key_ids);
    while (reader.batches_left() > 0) {
      inference::EncryptedBatch next = reader.next();
      if (batch) batch(std::move(next));
    }
    reader.finish();
  };
}

class StreamVerifier {
 public:
  // keep_first_batch: keep the first batch once verified (take_first_batch), for a worker that
  // would otherwise read it again. Throws std::runtime_error if no pipe or thread can be made.
  StreamVerifier(FileCheck check, bool keep_first_batch);
  ~StreamVerifier();
  StreamVerifier(const StreamVerifier&) = delete;
  StreamVerifier& operator=(const StreamVerifier&) = delete;

  // The next bytes of the file; false once the verifier has stopped reading (it failed).
  bool feed(const char* data, size_t length);
  // Ends the input and waits for the verdict: "" if the file is intact, else the reason (which
  // names path() as the file).
  std::string finish();
  // The exception behind finish()'s reason (null if none): a std::system_error for a failure of
  // the system (the open or a read: EMFILE, EIO, ...) rather than of the bytes.
  std::exception_ptr failure() const { return failure_; }
  const std::string& path() const { return path_; }
  std::optional<inference::EncryptedBatch> take_first_batch() { return std::move(first_batch_); }

 private:
  void verify();

  FileCheck check_;
  bool keep_first_batch_;
  int read_fd_ = -1;
  int write_fd_ = -1;
  std::string path_;  // /proc/self/fd/<read end>
  std::thread thread_;
  std::string error_;
  std::exception_ptr failure_;
  std::optional<inference::EncryptedBatch> first_batch_;
};

}  // namespace cryptonets::service
