// Registered key sets (internal to the service): scheme-erased for the routes and the worker,
// loaded, checked and named from their directory under keysets/.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cryptonets/io/protocol_files.hpp"
#include "cryptonets/service/stream_verifier.hpp"
#include "server_support.hpp"

namespace cryptonets::service {

// A registered key set, scheme-erased: the routes and the worker are written once; what depends
// on the scheme (the readers, writers and the evaluation) is in TypedKeySet<Scheme>.
class KeySet {
 public:
  virtual ~KeySet() = default;
  virtual SchemeId scheme() const = 0;
  const std::vector<uint64_t>& key_ids() const { return key_ids_; }
  uint64_t fingerprint() const { return fingerprint_; }
  uint64_t key_set_id() const { return key_set_id_; }

  // Throws std::runtime_error (the plaintext moduli or the noise budget) unless the keys can
  // carry `compiled`: what registration checks.
  virtual void require_model(const RangeReport& ranges, const CompiledModel& compiled) const = 0;
  // Verifies an upload under these keys while it arrives (stream_verifier.hpp).
  virtual std::unique_ptr<StreamVerifier> verifier(bool keep_first_batch) const = 0;
  // The model on `input` (a ciphertext file under these keys, or `ready`, its one batch as
  // verified at upload) into the scores file `output`, as `cryptonets infer` writes it.
  // `batch_done(b)` after each batch b. Throws std::runtime_error naming what failed, also
  // before any evaluation for a batch whose header records another model profile fingerprint
  // than `model_profile` (a job stored before the server restarted with another model).
  virtual void infer_file(const std::string& input, const std::string& output,
                          const CompiledModel& compiled, uint64_t model_profile, int threads,
                          std::optional<EncryptedBatch> ready,
                          const std::function<void(uint64_t)>& batch_done) const = 0;

 protected:
  std::vector<uint64_t> key_ids_;
  uint64_t fingerprint_ = 0;
  uint64_t key_set_id_ = 0;
};

// Throws std::runtime_error naming the file if one of the three files of a stored key set is no
// regular file (a FIFO, a symbolic link to one: its open would block start-up forever).
void require_regular_key_set(const KeyDirectory& dir);

// Throws std::runtime_error naming the file unless the three files of a stored key set have
// headers this build reads. Only the headers: cheap at start-up for any number of key sets, and
// enough to find the sets written by an older cryptonets, whose format version the header reader
// refuses by name (io/protocol_files.hpp). Returns the key set id the parameter set records.
uint64_t check_stored_key_set(const KeyDirectory& dir);

// The key set in `dir`, under the scheme its parameter set records.
std::shared_ptr<const KeySet> load_key_set(const KeyDirectory& dir);

// The key set id its headers record, from the first of the three files of `directory` whose
// header reads; nullopt if none does.
std::optional<uint64_t> stored_key_set_id(const std::string& directory);

// What is wrong with a stored key set, from the loader's message, for the client: the server's
// paths become the part names of the registration ("part 'evaluation'").
std::string key_set_problem(const std::string& directory, std::string message);

}  // namespace cryptonets::service
