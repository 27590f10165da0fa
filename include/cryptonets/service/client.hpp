// The client of the private-inference service (`cryptonets client ...`; protocol in server.hpp).
// Bodies are streamed from and to files: a batch (~590 MiB at the default parameters) is never
// held in memory.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "cryptonets/io/model_profile.hpp"
#include "cryptonets/io/protocol_files.hpp"

namespace cryptonets::service {

// The server refused a request: its HTTP status and its message.
class ServiceError : public std::runtime_error {
 public:
  ServiceError(int status, const std::string& message, int retry_after_s = 0, std::string code = "")
      : std::runtime_error(message),
        status_(status),
        retry_after_s_(retry_after_s),
        code_(std::move(code)) {}
  int status() const { return status_; }
  // From Retry-After (503; retry_after_seconds), else 0.
  int retry_after_s() const { return retry_after_s_; }
  // The answer's machine-readable "code" (server.hpp: "other_key_set", "other_profile"), else "".
  const std::string& code() const { return code_; }

 private:
  int status_;
  int retry_after_s_;
  std::string code_;
};

// An IMF-fixdate (RFC 9110 §5.6.7: "Sun, 06 Nov 1994 08:49:37 GMT") as the time it names;
// nullopt unless `text` is exactly one: names as the RFC spells them (case-sensitive), a two-digit
// day and four-digit year that exist together, hour 00-23, minute 00-59, second 00-60 (a leap
// second), and the weekday of that date. Never throws.
std::optional<std::chrono::sys_seconds> parse_imf_fixdate(std::string_view text);

// A Retry-After value (RFC 9110 §10.2.3) as whole seconds to wait from `now`: delay-seconds as
// given (digits only, at most INT_MAX); an HTTP-date in IMF-fixdate form as the seconds until
// that time, rounded up, 0 once it has passed. Anything else (no header, a malformed value, the
// obsolete rfc850 and asctime date forms) is 0: callers clamp the result to their own bounds.
// Spaces and tabs around the value are ignored. Never throws.
int retry_after_seconds(std::string_view value, std::chrono::system_clock::time_point now);

// Throws std::invalid_argument, saying what is wrong ("invalid port '99999' ...", "user
// information ... is not supported", "an IPv6 address needs brackets"), unless `url` is
// http://HOST[:PORT] or https://HOST[:PORT] (HOST an IPv6 address in brackets; PORT 1 to 65535,
// digits only) with no path, query or fragment.
void check_server_url(const std::string& url);

// What a job id looks like: 32 lowercase hex digits (the server makes them from 16 random bytes;
// client submit prints them), kJobIdForm in words for messages. Client::status, fetch and remove
// throw std::invalid_argument for any other id, before anything is sent.
bool is_job_id(const std::string& job);
inline constexpr const char* kJobIdForm = "32 lowercase hex digits, as client submit prints it";

// What a token looks like: 64 lowercase hex digits (32 random bytes from the server). A token of
// another form is never sent (it could be a secret given by mistake) nor taken from an answer.
bool is_token(const std::string& token);

// Throws std::runtime_error naming `path`, saying that nothing was sent, unless it is a regular
// file whose protocol header (io/protocol_files.hpp) is of `kind` (`role` says what is expected
// in messages: "the public keys of a key directory from cryptonets keygen"); for ciphertexts,
// encrypted images, not scores. A file of secret keys (its header, or any record's kind) is refused
// as such. Reads the header and the record headers only.
void require_upload_role(const std::string& path, ProtocolFileKind kind, const std::string& role);

// A file checked by require_upload_role, each check made once, and held open for its upload
// (Client::submit): the body is read through this descriptor, so it is the file the checks read
// even if its path is replaced meanwhile, and an upload of a file changed since the checks (its
// size or modification time) is stopped before its end and refused. One read before the upload,
// not two (a 590 MiB batch took 3.2 s to check). Throws what require_upload_role throws, and
// std::runtime_error naming the file when it cannot be opened or changes while it is checked.
class CheckedUpload {
 public:
  CheckedUpload(const std::string& path, ProtocolFileKind kind, const std::string& role);
  ~CheckedUpload();
  CheckedUpload(const CheckedUpload&) = delete;
  CheckedUpload& operator=(const CheckedUpload&) = delete;

  const std::string& path() const { return path_; }
  int fd() const { return fd_; }
  uint64_t size() const { return size_; }
  // The modification time when checked (st_mtim), in nanoseconds since the epoch.
  int64_t modified_ns() const { return modified_ns_; }

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
  int64_t modified_ns_ = 0;
};

// require_upload_role for each file register sends (the key directory's params, evaluation.key and
// public.key): a secret key in their place never crosses the network.
void require_key_set_upload(const KeyDirectory& keys);

struct ClientOptions {
  std::string server;   // "http://HOST:PORT" or "https://HOST:PORT"
  std::string ca_cert;  // https: the CA (or self-signed certificate) to trust; else the system's
  int timeout_s = 60;   // connect, read and write timeouts
  // Bytes sent or received so far of `total` (uploads and downloads), for a progress bar.
  std::function<void(uint64_t done, uint64_t total)> progress;
};

struct JobStatus {
  std::string job;
  std::string state;  // queued | running | done | failed
  uint64_t images = 0;
  uint64_t batches = 0;
  uint64_t batches_done = 0;
  std::string error;
  std::string json;  // the server's answer as it came
};

// A check for Client::fetch: the file is a scores file under the key directory's parameter set
// and public keys, under the scheme the parameter set records (every record's checksum and
// binding, BasicCiphertextFileReader). Loads the keys now; std::runtime_error naming the file.
std::function<void(const std::string& path)> scores_check(const KeyDirectory& keys);

// The server's model profile as GET /v1/profile answers it: the file `cryptonets profile` writes
// for the server's model (`text`, byte for byte), and what it says (`profile`, read_profile's).
struct ServedProfile {
  std::string text;
  ModelProfile profile;
};

// Failures on the way (no answer came) are std::runtime_error with a sentence naming what failed
// ("cannot connect to HOST:PORT: connection refused", "the server closed the connection during
// the upload"). A server that refuses a body early (413, 507 for no room) closes the connection
// under the upload: its answer is read all the same, over http:// and https:// (through the TLS
// session), and thrown as a ServiceError; the calling process must ignore SIGPIPE (cryptonets
// client does), or it dies of it.
// An http:// URL whose server closed the connection is probed once over HTTPS (no certificate
// check, nothing of ours sent): if it answers, the error says that the server speaks HTTPS.
// ca_cert must be a regular file (a FIFO would block OpenSSL's open): std::runtime_error.
class Client {
 public:
  // std::invalid_argument for a URL that is not http:// or https:// HOST:PORT (check_server_url).
  explicit Client(ClientOptions options);

  // Sends the key directory's params, evaluation.key and public.key (never secret.key: each is
  // checked by require_upload_role before any connection); returns the token. Throws ServiceError
  // for a refusal, std::runtime_error if the server is unreachable or its answer holds no token
  // (is_token).
  std::string register_keys(const KeyDirectory& keys);
  // Free places in the server's queue (ServiceError 503 when none).
  void check_queue(const std::string& token);
  // Uploads a ciphertext file from `cryptonets encrypt`, checked (CheckedUpload) and not read
  // again before it is sent; returns the job id once the server has verified it and made it
  // durable. std::runtime_error for an answer that is not a job's status (a job id, one of the
  // four states; status too, for the job asked), and for a batch changed since it was checked
  // (the upload stopped before its end: the server keeps nothing).
  JobStatus submit(const std::string& token, const CheckedUpload& batch);
  // As above, the file checked first (CheckedUpload).
  JobStatus submit(const std::string& token, const std::string& batch_path);
  // wait_s > 0: the server answers once the job has ended, or after wait_s seconds (at most 60).
  JobStatus status(const std::string& token, const std::string& job, int wait_s = 0);
  // Downloads the scores into `out_path` (atomically: nothing at out_path unless complete), after
  // the complete download has been verified without keys (verify_ciphertext_file: header, every
  // record's checksum and binding, length; a scores file, not images) and `check` (when given)
  // has accepted it (scores_check below); what they throw is thrown (std::runtime_error naming
  // out_path), and nothing is left at out_path. SIGINT or SIGTERM during the download removes the
  // partial file (OUT.part-PID) before the process dies; one left by a fetch that died without
  // that (SIGKILL, a crash) is removed by the next fetch to the same out_path, once no live
  // process holds it (each fetch holds an flock on its part file, and PID must be gone).
  void fetch(const std::string& token, const std::string& job, const std::string& out_path,
             const std::function<void(const std::string& path)>& check = {});
  void remove(const std::string& token, const std::string& job);
  // The server's model profile (GET /v1/profile; no token), once its text has been read as a
  // profile (read_profile): std::runtime_error naming the request and what the reader refused
  // otherwise; ServiceError for a refusal (a 404 says that the server has no such route: an older
  // server, whose operator makes the profile with cryptonets profile).
  ServedProfile profile();

 private:
  ClientOptions options_;
};

}  // namespace cryptonets::service
