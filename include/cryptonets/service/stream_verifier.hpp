// A ciphertext file checked while it arrives: the bytes fed in go through a pipe to a
// CiphertextFileReader (io/protocol_files.hpp: header against the key set, every record's
// checksum and binding, no trailing bytes) on a thread of its own, so that an upload is verified
// in the same pass that stores it, without a second read of the file.
#pragma once

#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cryptonets/io/protocol_files.hpp"

namespace cryptonets::service {

class StreamVerifier {
 public:
  // keep_first_batch: keep the first batch once verified (take_first_batch), for a worker that
  // would otherwise read it again. Throws std::runtime_error if no pipe or thread can be made.
  StreamVerifier(ContextSet contexts, std::vector<uint64_t> key_ids, bool keep_first_batch);
  ~StreamVerifier();
  StreamVerifier(const StreamVerifier&) = delete;
  StreamVerifier& operator=(const StreamVerifier&) = delete;

  // The next bytes of the file; false once the verifier has stopped reading (it failed).
  bool feed(const char* data, size_t length);
  // Ends the input and waits for the verdict: "" if the file is intact, else the reason (which
  // names path() as the file).
  std::string finish();
  const std::string& path() const { return path_; }
  std::optional<inference::EncryptedBatch> take_first_batch() { return std::move(first_batch_); }

 private:
  void verify();

  ContextSet contexts_;
  std::vector<uint64_t> key_ids_;
  bool keep_first_batch_;
  int read_fd_ = -1;
  int write_fd_ = -1;
  std::string path_;  // /proc/self/fd/<read end>
  std::thread thread_;
  std::string error_;
  std::optional<inference::EncryptedBatch> first_batch_;
};

}  // namespace cryptonets::service
