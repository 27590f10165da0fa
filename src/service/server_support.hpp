// What the server's modules share (internal to the service, not installed): the failures of a
// request or a job, how they are classified and answered, the waits between retries, and small
// helpers. The layers above: state_directory, http_support, key_sets, job_record, scores_check,
// then server_impl.hpp and the Impl's parts (server.cpp, server_routes.cpp, job_store.cpp,
// worker.cpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>

#include "cryptonets/inference/private_inference.hpp"
#include "cryptonets/model/range.hpp"

namespace cryptonets::service {

using inference::EncryptedBatch;
using inference::infer;
using inference::require_noise_budget;
using model::compile_model;
using model::CompiledModel;
using model::Model;
using model::RangeReport;
using model::require_plaintext_moduli;
using model::track_ranges;

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kNoSecretKeys =
    "the server never holds the secret key: register only params, evaluation.key and public.key";

int64_t unix_now();

std::string utc_timestamp();

bool is_hex_name(const std::string& name, size_t length);

// An error answered to the client: status and message (and Retry-After, for a 503).
struct HttpError : std::runtime_error {
  HttpError(int status_, const std::string& message, int retry_after_s_ = 0)
      : std::runtime_error(message), status(status_), retry_after_s(retry_after_s_) {}
  int status;
  int retry_after_s;
  // What the server's log gets besides the message (its paths, the loader's own words): never
  // answered, since paths under keysets/ name the hash of the token.
  std::string detail;
  // A machine-readable reason, answered as "code" beside "error" (server.hpp), where a client
  // acts on it.
  std::string code;
};

HttpError with_detail(HttpError error, const std::string& detail);

// The answer to a failure of the server itself (a directory it cannot create, a file it cannot
// write): what failed in general terms and the cause ("Permission denied"); `detail`, which
// names its paths, goes to its log only.
HttpError internal_error(const std::string& what, const std::string& cause,
                         const std::string& detail);

// A failure to store what a job produced (its scores) or the start of a run (its record): the
// server's disk (ENOSPC, EIO, EDQUOT, ...), not the job's input, so the job is run again like a
// passing failure (kJobAttempts runs) and its input stays until the scores are durable.
struct StoreFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Whether a failed write says that the disk is full (or the server's quota used up): errno
// ENOSPC or EDQUOT.
bool disk_full(const std::error_code& code);

// Runs `write`, a write of the job's output; its std::runtime_error becomes a StoreFailure.
template <class Write>
void storing(Write&& write) {
  try {
    write();
  } catch (const std::runtime_error& e) {
    throw StoreFailure(e.what());
  }
}

// Retry-After of a request refused for a passing failure of the server (transient_failure).
constexpr int kTransientRetrySeconds = 5;
// A queued job whose key set could not be loaded for such a reason is tried again after 1 s, then
// after twice as long each time, at most this long.
constexpr int64_t kMaxJobRetrySeconds = 60;
// A job whose run fails for a passing reason (transient_failure: out of file handles or memory,
// a failed read) is run again after kJobRetryWait, then twice as long each time, kJobAttempts
// runs in all; then it fails, its error saying how many runs failed.
constexpr int kJobAttempts = 3;
constexpr std::chrono::milliseconds kJobRetryWait{1000};
// After SIGTERM (stop()), how long the connections still open have before they are shut down
// (Impl::shutdown_connections): a client stalled mid-request held the shutdown for --read-timeout.
constexpr std::chrono::seconds kShutdownGrace{2};
// A request refused before its body was read (413, 507, 405, ...) from a client that sends the
// whole body before reading (no "Expect: 100-continue"): after the answer, up to this many bytes
// of the body, for up to this long (at most --read-timeout), are read and dropped before the
// connection closes (Impl::linger), so that closing with the body unread does not reset the
// connection under the client, which then lost the answer (a broken pipe while it sent). A body
// with more left unread than that is not waited for: the connection closes at once, as before.
constexpr uint64_t kLingerBytes = uint64_t{64} << 20;
constexpr std::chrono::seconds kLingerTime{10};
// How long the token of an expired key set is still told so (410) before it is just unknown.
constexpr int64_t kExpiredKeySetMemorySeconds = int64_t{366} * 86400;

// What a failure to read a stored file (a key set, an upload, a job's input) says about the server.
//   kFiles: what the files hold (magic, version, checksum, fingerprint, truncation) or their
//     absence (ENOENT, ENOTDIR): a key set is then unusable (410), an upload refused (400).
//   kConfiguration: the server may not read its own state directory (EACCES, EPERM): retrying
//     cannot help and the client can do nothing about it, so the request is answered 500 naming
//     the path, and a job fails at once.
//   kPassing: the process ran out of something (file handles, memory) or the system failed a
//     read (EIO, ...): io/protocol_files.hpp throws these as std::system_error. A key set is not
//     retired: the request is answered 503, and the job is tried again later.
enum class ReadFailure { kFiles, kConfiguration, kPassing };

ReadFailure classify_failure(const std::exception& e);

bool transient_failure(const std::exception& e);

// The cause of a failure in general terms: the errno's text of a std::system_error ("Permission
// denied"), without the loader's message, which names the server's path (and under keysets/ the
// hash of the token).
std::string failure_cause(const std::exception& e);

// The answer (500) and job error for a kConfiguration failure (`cause` from failure_cause): in
// general terms; the loader's message, naming the path, goes to the server's log for the operator
// who has to fix the permissions.
std::string configuration_answer(const std::string& cause);

// Loader messages name the server's temporary path; the client knows its file by `name` ("the
// uploaded batch", "part 'params'").
std::string client_message(std::string message, const std::string& path, const std::string& name);

// A ciphertext reader's message about the file at `path` in the client's words: a record's
// "file 'PATH' batch B of N" as `batch` B of N ("the uploaded batch 2 of 3 (modulus 1 of 2): "),
// `batch` alone in a file of one batch ("the uploaded batch (modulus 1 of 2): "), and any other
// mention of the file as `file` (client_message). client_message alone answered "the body batch
// 1 of 1 (modulus 1 of 2)" and "the job's batch batch 1 of 1 (modulus 1 of 2)".
std::string batch_message(std::string message, const std::string& path, const std::string& batch,
                          const std::string& file);

// The "code" of a 422 for a body under other keys, parameters or scheme than the token's key set.
constexpr const char* kOtherKeySet = "other_key_set";
// The "code" of a 422 for a body encrypted with another model profile than the server's model's:
// its client fetches the server's profile (GET /v1/profile) and makes keys for it.
constexpr const char* kOtherProfile = "other_profile";

// What a client whose token is answered 410 does about it.
constexpr const char* kRegisterAgain =
    "register the keys again (cryptonets client register; client infer does it by itself) and "
    "use the new token";

// A key set id as the registration answer and `cryptonets inspect` show it: "0x" and 16 hex digits.
std::string key_set_id_text(uint64_t id);

// The answer (410) to a token whose key set this server cannot use; `description` from
// Impl::retire_key_set ("key set 0x... (what is wrong)").
std::string unusable_answer(const std::string& description);

// The answer (503) to a request that needed a key set the server could not load for a passing
// reason (transient_failure); `problem` from key_set_problem.
std::string transient_answer(const std::string& problem);

// The answer (410) to the token of a key set deleted by --key-set-retention-days; `name` from
// Impl::key_set_name ("key set 0x...", or "key set" when its id is not known).
std::string expired_answer(const std::string& name, int64_t retention_s);

// The recorded failure of a job not run because its key set is unusable.
std::string unrun_job_error(const std::string& description);

// A key set id from a job record or a tombstone ("0x" and 16 hex digits); nullopt otherwise.
std::optional<uint64_t> parse_key_set_id(const std::string& text);

}  // namespace cryptonets::service
