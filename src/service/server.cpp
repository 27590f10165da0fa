// The private-inference service: HTTP routes over a durable job store (protocol in server.hpp).
#include "cryptonets/service/server.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <malloc.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <httplib.h>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <list>
#include <map>
#include <mutex>
#include <new>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "cryptonets/inference/parameter_selection.hpp"
#include "cryptonets/inference/private_inference.hpp"
#include "cryptonets/io/model_file.hpp"
#include "cryptonets/io/protocol_files.hpp"
#include "cryptonets/io/serialize.hpp"
#include "cryptonets/io/sha256.hpp"
#include "cryptonets/model/range.hpp"
#include "cryptonets/random/chacha20.hpp"
#include "cryptonets/service/durable.hpp"
#include "cryptonets/service/stream_verifier.hpp"
#include "scores_check.hpp"

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

namespace {

constexpr size_t kBodyChunkBytes = size_t{1} << 20;
constexpr uint64_t kWritebackBytes = uint64_t{64} << 20;

constexpr const char* kNoSecretKeys =
    "the server never holds the secret key: register only params, evaluation.key and public.key";

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string utc_timestamp() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[96];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return text;
}

bool is_hex_name(const std::string& name, size_t length) {
  return name.size() == length && std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

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

HttpError with_detail(HttpError error, const std::string& detail) {
  error.detail = detail;
  return error;
}

// The answer to a failure of the server itself (a directory it cannot create, a file it cannot
// write): what failed in general terms and the cause ("Permission denied"); `detail`, which
// names its paths, goes to its log only.
HttpError internal_error(const std::string& what, const std::string& cause,
                         const std::string& detail) {
  return with_detail(HttpError(500, what + " (" + cause +
                                        "): a failure of the server, not of the request; the "
                                        "server's log has the details"),
                     detail);
}

// A failure to store what a job produced (its scores) or the start of a run (its record): the
// server's disk (ENOSPC, EIO, EDQUOT, ...), not the job's input, so the job is run again like a
// passing failure (kJobAttempts runs) and its input stays until the scores are durable.
struct StoreFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Whether a failed write says that the disk is full (or the server's quota used up): errno
// ENOSPC or EDQUOT.
bool disk_full(const std::error_code& code) {
  return code == std::errc::no_space_on_device ||
         code == std::error_condition(EDQUOT, std::generic_category());
}

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

ReadFailure classify_failure(const std::exception& e) {
  if (dynamic_cast<const std::bad_alloc*>(&e) != nullptr) return ReadFailure::kPassing;
  if (dynamic_cast<const StoreFailure*>(&e) != nullptr) return ReadFailure::kPassing;
  if (const auto* failure = dynamic_cast<const std::system_error*>(&e)) {
    if (failure->code() == std::errc::no_such_file_or_directory ||
        failure->code() == std::errc::not_a_directory) {
      return ReadFailure::kFiles;
    }
    if (failure->code() == std::errc::permission_denied ||
        failure->code() == std::errc::operation_not_permitted) {
      return ReadFailure::kConfiguration;
    }
    return ReadFailure::kPassing;
  }
  return ReadFailure::kFiles;
}

bool transient_failure(const std::exception& e) {
  return classify_failure(e) == ReadFailure::kPassing;
}

// The cause of a failure in general terms: the errno's text of a std::system_error ("Permission
// denied"), without the loader's message, which names the server's path (and under keysets/ the
// hash of the token).
std::string failure_cause(const std::exception& e) {
  if (const auto* failure = dynamic_cast<const std::system_error*>(&e)) {
    return failure->code().message();
  }
  return "see the server's log";
}

// The answer (500) and job error for a kConfiguration failure (`cause` from failure_cause): in
// general terms; the loader's message, naming the path, goes to the server's log for the operator
// who has to fix the permissions.
std::string configuration_answer(const std::string& cause) {
  return "the server cannot read its own files (" + cause +
         "): a configuration error of the server (the permissions of its --state-dir), not of the "
         "request; retrying does not help until the server's operator fixes it (its log names the "
         "file)";
}

// Loader messages name the server's temporary path; the client knows its file as "the body".
std::string client_message(std::string message, const std::string& path, const std::string& name) {
  const std::string quoted = "file '" + path + "'";
  for (size_t at = message.find(quoted); at != std::string::npos; at = message.find(quoted, at))
    message.replace(at, quoted.size(), name);
  for (size_t at = message.find(path); at != std::string::npos; at = message.find(path, at))
    message.replace(at, path.size(), name);
  return message;
}

// The methods a path of the protocol (server.hpp) takes, for the Allow header of a 405: HEAD
// wherever GET is (httplib answers it from the GET route); "" for a path the service does not have.
std::string allowed_methods(const std::string& path) {
  if (path == "/v1/keysets" || path == "/v1/jobs") return "POST";
  if (path == "/v1/queue") return "GET, HEAD";
  const std::string prefix = "/v1/jobs/";
  if (path.rfind(prefix, 0) != 0) return "";
  std::string id = path.substr(prefix.size());
  const std::string result = "/result";
  const bool is_result = id.size() > result.size() &&
                         id.compare(id.size() - result.size(), result.size(), result) == 0;
  if (is_result) id.resize(id.size() - result.size());
  // The routes' pattern [0-9a-z]+.
  if (id.empty() || !std::all_of(id.begin(), id.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z');
      })) {
    return "";
  }
  return is_result ? "GET, HEAD" : "GET, HEAD, DELETE";
}

bool method_allowed(const std::string& allow, const std::string& method) {
  for (size_t at = 0; at < allow.size();) {
    const size_t end = std::min(allow.find(", ", at), allow.size());
    if (allow.compare(at, end - at, method) == 0) return true;
    at = end + 2;
  }
  return false;
}

// A host as a URL writes it: an IPv6 address in brackets.
std::string url_host(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

// An exclusive flock(2) on the state directory itself, held while the object lives: one server
// per state directory (the lock goes with the process, even after SIGKILL). The directory, not a
// file in it, so that no file written, renamed or removed inside can drop the lock. Throws
// std::runtime_error, naming the directory, if another process holds it or it cannot be opened.
class StateLock {
 public:
  StateLock() = default;
  explicit StateLock(const std::string& dir) {
    fd_ = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd_ < 0) {
      throw std::runtime_error("cannot open the state directory '" + dir +
                               "' to lock it: " + std::strerror(errno));
    }
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const int error = errno;
      ::close(fd_);
      fd_ = -1;
      if (error == EWOULDBLOCK) {
        throw std::runtime_error("the state directory '" + dir +
                                 "' is in use by another cryptonets serve (which holds its "
                                 "lock); give each server its own --state-dir");
      }
      throw std::runtime_error("cannot lock the state directory '" + dir +
                               "': " + std::strerror(error));
    }
  }
  StateLock(const StateLock&) = delete;
  StateLock& operator=(StateLock&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  ~StateLock() {
    if (fd_ >= 0) ::close(fd_);
  }

 private:
  int fd_ = -1;
};

// The marker of a state directory (server.hpp): written on first use, so that a server never
// takes over (empties tmp/, chmods) a directory that is not one.
constexpr const char* kStateMarkerName = "cryptonets-state";
constexpr const char* kStateMarkerText = "cryptonets service state directory, format 1\n";
// The directories the server keeps in a state directory.
constexpr const char* kStateSubdirectories[] = {"keysets", "jobs", "tmp", "expired"};

// Throws std::runtime_error, before anything in `dir` is touched, unless it is missing, empty, a
// state directory (its marker), or one written before the marker was (keysets/, jobs/, tmp/ and
// perhaps expired/, all directories, and nothing else). Returns whether the marker is missing.
bool check_state_directory(const std::string& dir) {
  std::error_code error;
  const fs::file_status status = fs::status(dir, error);
  if (!fs::exists(status)) return true;
  const std::string refused = "--state-dir '" + dir + "' ";
  const std::string what =
      "; give a new or empty directory (the server creates it) or one a cryptonets serve wrote";
  if (!fs::is_directory(status)) throw std::runtime_error(refused + "is not a directory" + what);
  const std::string marker = dir + "/" + kStateMarkerName;
  if (fs::symlink_status(marker, error).type() != fs::file_type::not_found) {
    require_regular_file(marker, "the state directory's marker");
    std::ifstream in(marker);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text != kStateMarkerText) {
      throw std::runtime_error(refused + "has a marker '" + kStateMarkerName +
                               "' this build does not read (expected \"" +
                               std::string(kStateMarkerText, std::strlen(kStateMarkerText) - 1) +
                               "\")");
    }
    // What the server creates in it must be directories where they exist (a link to one
    // passes): refused here, before the directory is changed (created into, chmod'ed).
    for (const char* name : kStateSubdirectories) {
      const std::string path = dir + "/" + name;
      if (fs::symlink_status(path, error).type() == fs::file_type::not_found) continue;
      if (!fs::is_directory(fs::status(path, error))) {
        throw std::runtime_error(refused + "holds '" + name +
                                 "', which is not a directory; the server keeps its " + name +
                                 "/ there (move it away, or give another --state-dir)");
      }
    }
    return false;
  }
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir, error)) {
    const std::string name = entry.path().filename().string();
    const bool ours = name == "keysets" || name == "jobs" || name == "tmp" || name == "expired";
    if (!ours || entry.symlink_status().type() != fs::file_type::directory) {
      throw std::runtime_error(refused + "is not a cryptonets state directory (it holds '" + name +
                               "' and no marker '" + kStateMarkerName + "')" + what);
    }
    names.insert(name);
  }
  if (error) throw std::runtime_error("cannot read " + refused + ": " + error.message());
  // keysets/, jobs/ and tmp/ together: what a server before the marker wrote at its first start.
  if (!names.empty() &&
      (names.count("keysets") == 0 || names.count("jobs") == 0 || names.count("tmp") == 0)) {
    throw std::runtime_error(refused + "is not a cryptonets state directory (no marker '" +
                             kStateMarkerName + "', and not keysets/, jobs/ and tmp/)" + what);
  }
  return true;
}

// Per-request facts for the one log line (the logger runs on the handler's thread).
struct RequestFacts {
  Clock::time_point start = Clock::now();
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  std::string job;
  std::string error;
  std::string detail;  // logged, never answered (HttpError::detail)
};
thread_local RequestFacts request_facts;

void answer_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump() + "\n", "application/json");
  request_facts.bytes_out = res.body.size();
}

void answer_error(httplib::Response& res, int status, const std::string& message,
                  const std::string& detail = "", const std::string& code = "") {
  request_facts.error = message;
  request_facts.detail = detail;
  json body{{"error", message}};
  if (!code.empty()) body["code"] = code;
  answer_json(res, status, body);
}

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
  // `batch_done(b)` after each batch b. Throws std::runtime_error naming what failed.
  virtual void infer_file(const std::string& input, const std::string& output,
                          const CompiledModel& compiled, int threads,
                          std::optional<EncryptedBatch> ready,
                          const std::function<void(uint64_t)>& batch_done) const = 0;

 protected:
  std::vector<uint64_t> key_ids_;
  uint64_t fingerprint_ = 0;
  uint64_t key_set_id_ = 0;
};

template <class Scheme>
class TypedKeySet final : public KeySet {
 public:
  // The key-set directory's params, evaluation.key and public.key (load_server_keys: a secret
  // key is refused, the files must be of one key set and of this scheme).
  explicit TypedKeySet(const KeyDirectory& dir) {
    encoding::BasicServerKeys<Scheme> keys =
        load_server_keys<Scheme>(dir.parameters, dir.evaluation_keys, dir.public_keys);
    contexts_ = keys.contexts;
    key_ids_ = key_ids_of(keys.evaluation_keys);
    fingerprint_ = parameter_set_fingerprint(contexts_);
    key_set_id_ = cryptonets::key_set_id(key_ids_);
    server_ = std::make_unique<encoding::BasicCrtEncryptionSet<Scheme>>(std::move(keys));
  }
  SchemeId scheme() const override { return scheme_id<Scheme>(); }

  void require_model(const RangeReport& ranges, const CompiledModel& compiled) const override {
    require_plaintext_moduli(ranges, plaintext_moduli_of(contexts_));
    require_noise_budget(*server_, compiled, 0);
  }

  std::unique_ptr<StreamVerifier> verifier(bool keep_first_batch) const override {
    return std::make_unique<StreamVerifier>(ciphertext_file_check<Scheme>(contexts_, key_ids_),
                                            keep_first_batch);
  }

  void infer_file(const std::string& input, const std::string& output,
                  const CompiledModel& compiled, int threads, std::optional<EncryptedBatch> ready,
                  const std::function<void(uint64_t)>& batch_done) const override {
    inference::BasicInferenceOptions<Scheme> options;
    options.threads = threads;
    require_regular_file(input, "the job's batch");  // a FIFO would block the worker
    // Every step of the scores' writer throws a StoreFailure (storing): the server's disk, not
    // the job's input, so the job is run again (run_job).
    std::optional<BasicCiphertextFileWriter<Scheme>> writer;
    const auto open_writer = [&](const ProtocolHeader& header) {
      storing([&] {
        writer.emplace(output, contexts_, key_ids_, header.first_image, header.images,
                       header.batch_size, compiled.output_size, header.file_id);
      });
    };
    const auto write = [&](EncryptedBatch scores) {
      storing([&] { writer->write(std::move(scores)); });
    };
    if (ready) {  // verified at upload; the file on disk is the same bytes
      open_writer(read_protocol_header(input));
      write(infer(*server_, compiled, std::move(*ready), options));
      ready.reset();
      storing([&] { writer->commit(); });
      batch_done(0);
      return;
    }
    BasicCiphertextFileReader<Scheme> reader(input, contexts_, key_ids_);
    const ProtocolHeader& header = reader.header();
    open_writer(header);
    for (uint64_t b = 0; b < header.batch_count(); ++b) {
      write(infer(*server_, compiled, reader.next(), options));
      batch_done(b);
    }
    reader.finish();
    storing([&] { writer->commit(); });
  }

 private:
  BasicContextSet<Scheme> contexts_;
  std::unique_ptr<encoding::BasicCrtEncryptionSet<Scheme>> server_;
};

// Throws std::runtime_error naming the file if one of the three files of a stored key set is no
// regular file (a FIFO, a symbolic link to one: its open would block start-up forever).
void require_regular_key_set(const KeyDirectory& dir) {
  require_regular_file(dir.parameters, "the key set's params");
  require_regular_file(dir.evaluation_keys, "the key set's evaluation keys");
  require_regular_file(dir.public_keys, "the key set's public keys");
}

// Throws std::runtime_error naming the file unless the three files of a stored key set have
// headers this build reads. Only the headers: cheap at start-up for any number of key sets, and
// enough to find the sets written by an older cryptonets, whose format version the header reader
// refuses by name (io/protocol_files.hpp). Returns the key set id the parameter set records.
uint64_t check_stored_key_set(const KeyDirectory& dir) {
  require_regular_key_set(dir);
  const uint64_t id = read_protocol_header(dir.parameters).key_set_id;
  for (const std::string& path : {dir.evaluation_keys, dir.public_keys})
    read_protocol_header(path);
  return id;
}

// The key set in `dir`, under the scheme its parameter set records.
std::shared_ptr<const KeySet> load_key_set(const KeyDirectory& dir) {
  require_regular_key_set(dir);
  if (protocol_file_scheme(dir.parameters) == SchemeId::kBfv) {
    return std::make_shared<TypedKeySet<bfv::Scheme>>(dir);
  }
  return std::make_shared<TypedKeySet<yashe::Scheme>>(dir);
}

// The "code" of a 422 for a body under other keys, parameters or scheme than the token's key set.
constexpr const char* kOtherKeySet = "other_key_set";

// What a client whose token is answered 410 does about it.
constexpr const char* kRegisterAgain =
    "register the keys again (cryptonets client register; client infer does it by itself) and "
    "use the new token";

// A key set id as the registration answer and `cryptonets inspect` show it: "0x" and 16 hex digits.
std::string key_set_id_text(uint64_t id) {
  char text[24];
  std::snprintf(text, sizeof text, "0x%016llx", static_cast<unsigned long long>(id));
  return text;
}

// The answer (410) to a token whose key set this server cannot use; `description` from
// Impl::retire_key_set ("key set 0x... (what is wrong)").
std::string unusable_answer(const std::string& description) {
  return "this server cannot use the token's " + description + ": " + kRegisterAgain;
}

// The answer (503) to a request that needed a key set the server could not load for a passing
// reason (transient_failure); `problem` from key_set_problem.
std::string transient_answer(const std::string& problem) {
  return "the server cannot load the token's key set right now (" + problem + "); retry later";
}

// The answer (410) to the token of a key set deleted by --key-set-retention-days; `name` from
// Impl::key_set_name ("key set 0x...", or "key set" when its id is not known).
std::string expired_answer(const std::string& name, int64_t retention_s) {
  std::string unused = "the server's retention period";
  if (retention_s > 0 && retention_s % 86400 == 0) {
    const int64_t days = retention_s / 86400;
    unused = std::to_string(days) + (days == 1 ? " day" : " days");
  } else if (retention_s > 0) {
    unused = std::to_string(retention_s) + " s";
  }
  return "the token's " + name + " expired: it was not used for " + unused +
         " (--key-set-retention-days), so the server deleted it with its jobs; " + kRegisterAgain;
}

// The recorded failure of a job not run because its key set is unusable.
std::string unrun_job_error(const std::string& description) {
  return "not run: this server cannot use the job's " + description +
         "; register the keys again and submit the batch again with the new token";
}

// The key set id its headers record, from the first of the three files of `directory` whose
// header reads; nullopt if none does.
std::optional<uint64_t> stored_key_set_id(const std::string& directory) {
  const KeyDirectory dir(directory);
  for (const std::string& path : {dir.parameters, dir.evaluation_keys, dir.public_keys}) {
    try {
      return read_protocol_header(path).key_set_id;
    } catch (const std::runtime_error&) {
      // unreadable header: try the next part
    }
  }
  return std::nullopt;
}

// A key set id from a job record or a tombstone ("0x" and 16 hex digits); nullopt otherwise.
std::optional<uint64_t> parse_key_set_id(const std::string& text) {
  if (text.size() != 18 || text.rfind("0x", 0) != 0 || !is_hex_name(text.substr(2), 16)) {
    return std::nullopt;
  }
  return std::stoull(text.substr(2), nullptr, 16);
}

// What is wrong with a stored key set, from the loader's message, for the client: the server's
// paths become the part names of the registration ("part 'evaluation'").
std::string key_set_problem(const std::string& directory, std::string message) {
  std::error_code error;
  if (!fs::is_directory(directory, error)) return "it is no longer stored on this server";
  const KeyDirectory dir(directory);
  for (const auto& [path, part] : {std::pair{dir.parameters, "part 'params'"},
                                   {dir.evaluation_keys, "part 'evaluation'"},
                                   {dir.public_keys, "part 'public'"}})
    message = client_message(message, path, part);
  return message;
}

// The job store's record format (job.json "format"; server.hpp). A record without it is of
// format 1, written before the service ran BFV: its jobs are YASHE'.
constexpr int kJobRecordFormat = 2;

struct Job {
  std::string id;
  std::string key_set;                 // SHA-256 of the token, hex
  SchemeId scheme = SchemeId::kYashe;  // the key set's, recorded at upload
  std::string state;                   // queued | running | done | failed
  uint64_t images = 0;
  uint64_t batches = 0;
  uint64_t batches_done = 0;
  int64_t created = 0;
  int64_t finished = 0;
  std::string error;
  // The key set's id (key_set_id_text), recorded at upload so that the job's failures can name
  // the key set as its client knows it even once the key set's files are gone; 0: not recorded
  // (a record written before it was).
  uint64_t key_set_id = 0;
  // Runs of the inference started (at most kJobAttempts); the failure of the last one while the
  // job waits to be tried again.
  int attempts = 0;
  std::string last_error;
  // In memory only: a job whose key set could not be loaded for a passing reason, or whose run
  // failed for one, waits until not_before; `retries` sets the next wait of the former.
  int retries = 0;
  Clock::time_point not_before{};

  json to_json() const {
    json j{{"job", id},          {"scheme", scheme_option(scheme)},
           {"state", state},     {"images", images},
           {"batches", batches}, {"batches_done", batches_done},
           {"created", created}};
    if (finished != 0) j["finished"] = finished;
    if (!error.empty()) j["error"] = error;
    if (attempts != 0) j["attempts"] = attempts;
    if (!last_error.empty() && state == "queued") j["last_error"] = last_error;
    return j;
  }
};

}  // namespace

class Server::Impl {
 public:
  explicit Impl(ServerOptions options);
  void run();
  void stop();
  int port() const { return port_; }

 private:
  void log(const nlohmann::ordered_json& line) { options_.log(line.dump()); }
  void install_routes();
  void recover();

  // Requests.
  void register_keys(const httplib::Request& req, httplib::Response& res,
                     const httplib::ContentReader& reader);
  void submit_job(const httplib::Request& req, httplib::Response& res,
                  const httplib::ContentReader& reader);
  void job_status(const httplib::Request& req, httplib::Response& res);
  void job_result(const httplib::Request& req, httplib::Response& res);
  void delete_job(const httplib::Request& req, httplib::Response& res);
  void queue_status(const httplib::Request& req, httplib::Response& res);

  // The key set of the request's bearer token (its hash), or HttpError 401 (none, unknown) or 410
  // (a key set this server cannot use: unusable_key_sets_). `own_jobs`: the request only reads
  // or deletes the token's jobs, which a token of an unusable key set still may (to learn why
  // they failed, and to remove them).
  std::string authenticate(const httplib::Request& req, bool own_jobs = false);
  // authenticate's checks of the token's key set `hash`; mutex_ held.
  void require_key_set(const std::string& hash, bool own_jobs) const;
  // The job `id` of key set `key_set`; HttpError 404 for unknown and foreign jobs alike.
  Job& owned_job(const std::string& id, const std::string& key_set);
  // Receives the body into `paths` (split at `sizes`), fsyncs each file. HttpError on failure.
  // `observe` sees each chunk after it is written; once it returns false the rest of the body
  // is read and dropped (a refusal found midway: the client still gets the answer).
  using Observer = std::function<bool(const char* data, size_t length)>;
  void receive_body(const httplib::Request& req, const httplib::ContentReader& reader,
                    const std::vector<std::string>& paths, const std::vector<uint64_t>& sizes,
                    const Observer& observe = {});
  void drain(const httplib::ContentReader& reader);
  uint64_t content_length(const httplib::Request& req);
  std::shared_ptr<const KeySet> key_set(const std::string& hash);
  std::string random_hex(size_t bytes);
  void write_job(const Job& job, const std::string& directory);
  int retry_after_seconds() const;

  // Jobs.
  void worker();
  void run_job(const std::string& id);
  void janitor();
  void remove_job_directory(const std::string& id);
  // `path` (a file or directory in `parent`) out of `parent` in one rename into tmp/ (a crash
  // leaves it there, and tmp/ is emptied at start), then removed.
  void discard(const std::string& path, const std::string& parent, const std::string& trash_name);
  // Puts job `id`, whose key set could not be loaded for a passing reason (`problem`), back at the
  // head of the queue, to be tried again after a wait that doubles each time (1 s to 60 s).
  void defer_job(const std::string& id, std::optional<EncryptedBatch> ready,
                 const std::string& problem);
  // The key set `hash` was used now (an accepted upload, a job that ended): its last use, in
  // memory and as the mtime of its directory (what a restart reads). Never throws.
  void note_use(const std::string& hash);
  // Deletes the key sets not used for --key-set-retention-days, with their finished jobs (none
  // queued, running or being uploaded), leaving a tombstone in expired/ so that their tokens are
  // answered 410 "expired" (for a year, then 401 as unknown). At start-up and by the janitor.
  void expire_key_sets();
  // Records the stored key set `hash` as one this server cannot use (`problem`: what is wrong,
  // with the client's part names) and fails its queued jobs without running them, recording that
  // reason in each. Returns the description its token's answers give: "key set 0x... (problem)".
  std::string retire_key_set(const std::string& hash, const std::string& problem);
  // A finished job's record on disk (job.json replaced; input.ct removed); logged if it fails.
  void store_outcome(const Job& job);
  // Puts job `id` back at the head of the queue (state queued), to run after `wait`, with the
  // batch kept from its upload if any. Only the worker calls it, for the job it is running: a job
  // is in the queue at most once and never runs twice at the same time.
  void requeue_job(const std::string& id, std::optional<EncryptedBatch> ready,
                   Clock::duration wait);
  // The stored key set `hash` as its client knows it: "key set 0x..." (the id the registration
  // answered), from memory, else from its files' headers; "key set" if neither knows it.
  std::string key_set_name(const std::string& hash);

  ServerOptions options_;
  Model model_;
  CompiledModel compiled_;
  RangeReport ranges_;
  std::string keysets_dir_, jobs_dir_, tmp_dir_, expired_dir_;
  StateLock state_lock_;
  std::unique_ptr<httplib::Server> http_;
  int port_ = 0;

  std::mutex prng_mutex_;
  Prng prng_;

  std::mutex mutex_;  // guards everything below
  std::condition_variable wake_;
  std::set<std::string> key_sets_;
  // Key sets this server cannot use (an older format version, damaged or removed on disk), found
  // at start-up or when a job needed them, with their description (retire_key_set): their tokens
  // are answered 410 with it rather than 500, and their jobs fail with it instead of running.
  std::map<std::string, std::string> unusable_key_sets_;
  // Last use of each usable key set (Unix seconds: its registration, the latest accepted upload or
  // job end), for --key-set-retention-days; uploads in progress per key set (never expired).
  std::map<std::string, int64_t> last_use_;
  std::map<std::string, int> uploads_;
  // Key sets deleted by the retention, with when (their tombstones in expired/).
  std::map<std::string, int64_t> expired_key_sets_;
  // The key set id of each key set known (usable, unusable or expired), for the messages that name
  // a key set: from the registration, the headers, the job records and the tombstones.
  std::map<std::string, uint64_t> key_set_ids_;
  std::map<std::string, Job> jobs_;
  std::deque<std::string> queue_;
  size_t pending_ = 0;  // queued + running jobs + uploads in progress
  bool stopping_ = false;
  double last_job_seconds_ = 5;

  std::mutex cache_mutex_;
  std::list<std::pair<std::string, std::shared_ptr<const KeySet>>> cache_;  // most recent first

  // Verified batches of queued one-batch jobs, kept from the upload (at most one).
  std::map<std::string, EncryptedBatch> ready_;

  // The scores files verified, by job (job_result).
  ScoresCheck scores_check_;
};

Server::Impl::Impl(ServerOptions options)
    : options_(std::move(options)), prng_(Prng::from_os_entropy()) {
  if (!options_.log) {
    options_.log = [](const std::string& line) {
      std::fprintf(stderr, "%s\n", line.c_str());
      std::fflush(stderr);
    };
  }
  if (options_.state_dir.empty()) throw std::runtime_error("serve: no state directory");
  // A FIFO would block the load, a directory read as "line 0: read error": refused by name.
  require_regular_file(options_.model_path, "the model, --model");
  model_ = load_model(options_.model_path);
  inference::require_encryptable(model_);  // degree 3: what it would need
  compiled_ = compile_model(model_);
  ranges_ = track_ranges(model_);
  keysets_dir_ = options_.state_dir + "/keysets";
  jobs_dir_ = options_.state_dir + "/jobs";
  tmp_dir_ = options_.state_dir + "/tmp";
  expired_dir_ = options_.state_dir + "/expired";

  if (!options_.tls_cert.empty() || !options_.tls_key.empty()) {
    if (options_.tls_cert.empty() || options_.tls_key.empty()) {
      throw std::runtime_error("TLS needs both a certificate and a key");
    }
    for (const std::string& path : {options_.tls_cert, options_.tls_key}) {
      if (!fs::is_regular_file(path)) throw std::runtime_error("cannot read '" + path + "'");
    }
    auto tls =
        std::make_unique<httplib::SSLServer>(options_.tls_cert.c_str(), options_.tls_key.c_str());
    if (!tls->is_valid()) {
      throw std::runtime_error("cannot load the TLS certificate '" + options_.tls_cert +
                               "' and key '" + options_.tls_key + "'");
    }
    http_ = std::move(tls);
  } else {
    http_ = std::make_unique<httplib::Server>();
  }
  const int http_threads = std::max(1, options_.http_threads);
  http_->new_task_queue = [http_threads] { return new httplib::ThreadPool(http_threads); };
  http_->set_read_timeout(options_.read_timeout_s, 0);
  http_->set_write_timeout(options_.read_timeout_s, 0);
  http_->set_payload_max_length(options_.max_body);
  http_->set_keep_alive_timeout(5);
  install_routes();
  // SO_REUSEADDR (a restart binds while old connections linger) but not httplib's SO_REUSEPORT,
  // which let a second server bind the same port and take half of its requests.
  http_->set_socket_options([](int socket) {
    const int yes = 1;
    ::setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  errno = 0;  // a host that does not resolve fails without setting errno
  if (options_.port == 0) {
    port_ = http_->bind_to_any_port(options_.host);
  } else {
    port_ = http_->bind_to_port(options_.host, options_.port) ? options_.port : -1;
  }
  if (port_ <= 0) {
    const int error = errno;
    throw std::runtime_error(
        "cannot listen on " + url_host(options_.host) + ":" + std::to_string(options_.port) + ": " +
        (error != 0 ? std::strerror(error) : "the host does not resolve to a local address"));
  }
  // The state directory only once the port is bound: a serve that cannot listen (the port taken,
  // a bad TLS file) leaves no new directory behind. Connections wait in the backlog meanwhile.
  // Everything that can be refused is checked before anything is changed.
  const bool needs_marker = check_state_directory(options_.state_dir);
  for (const std::string& dir :
       {options_.state_dir, keysets_dir_, jobs_dir_, tmp_dir_, expired_dir_}) {
    std::error_code error;
    fs::create_directories(dir, error);
    if (error || !fs::is_directory(dir)) {
      throw std::runtime_error("cannot create the state directory '" + dir +
                               "': " + error.message());
    }
    // Before anything in it is touched (its mode included): a second server would wipe this
    // one's uploads.
    if (dir == options_.state_dir) state_lock_ = StateLock(options_.state_dir);
    ::chmod(dir.c_str(), 0700);
    if (dir == options_.state_dir && needs_marker) {
      write_file_durably(dir + "/" + kStateMarkerName, kStateMarkerText);
    }
  }
  recover();
}

// ---- Recovery: what the state directory holds after any stop, SIGKILL included.

void Server::Impl::recover() {
  // Uploads never answered "accepted": their files go.
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(tmp_dir_))
    fs::remove_all(entry.path(), error);
  sync_directory(tmp_dir_);
  // Key sets deleted by the retention: their tokens are told so. One whose deletion a crash
  // interrupted (the tombstone is written first) is finished here, its jobs below.
  for (const auto& entry : fs::directory_iterator(expired_dir_)) {
    const std::string name = entry.path().filename().string();
    struct stat info {};
    if (is_hex_name(name, 64) && ::stat(entry.path().c_str(), &info) == 0) {
      expired_key_sets_[name] = info.st_mtime;
      if (!S_ISREG(info.st_mode)) continue;  // a FIFO would block the open: no id, then
      std::ifstream in(entry.path());  // its key set id; empty if written before it was recorded
      std::string text;
      if (in && std::getline(in, text)) {
        if (const auto id = parse_key_set_id(text)) key_set_ids_[name] = *id;
      }
    }
  }
  std::map<std::string, std::string> unusable;  // key set -> what is wrong with it
  for (const auto& entry : fs::directory_iterator(keysets_dir_)) {
    const std::string name = entry.path().filename().string();
    if (!is_hex_name(name, 64) || !entry.is_directory()) continue;
    if (expired_key_sets_.count(name) != 0) {
      discard(entry.path().string(), keysets_dir_, "expired-" + name);
      continue;
    }
    try {
      key_set_ids_[name] = check_stored_key_set(KeyDirectory(entry.path().string()));
    } catch (const std::exception& e) {
      if (classify_failure(e) != ReadFailure::kFiles) {
        // Not read, not judged: loaded when a job needs it.
        log({{"time", utc_timestamp()},
             {"event", "key set not checked"},
             {"key_set", name},
             {"error", key_set_problem(entry.path().string(), e.what())}});
      } else {
        // Left on disk for the build that wrote it, like a job record of another format.
        unusable[name] = key_set_problem(entry.path().string(), e.what());
        continue;
      }
    }
    key_sets_.insert(name);
    struct stat info {};
    last_use_[name] = ::stat(entry.path().c_str(), &info) == 0 ? info.st_mtime : unix_now();
  }
  std::vector<Job> queued;
  size_t done = 0;
  size_t interrupted = 0;  // failed here: kJobAttempts runs, the last one never ended
  for (const auto& entry : fs::directory_iterator(jobs_dir_)) {
    const std::string id = entry.path().filename().string();
    if (!is_hex_name(id, 32) || !entry.is_directory()) continue;
    remove_stale_temporaries(entry.path().string());
    Job job;
    try {
      require_regular_file((entry.path() / "job.json").string(), "the job's record");
      std::ifstream in(entry.path() / "job.json");
      const json j = json::parse(in);
      const int format = j.value("format", 1);
      if (format < 1 || format > kJobRecordFormat) {
        throw std::runtime_error("job record format " + std::to_string(format) +
                                 " is not one this build reads (1 to " +
                                 std::to_string(kJobRecordFormat) +
                                 "); the job is left on disk for the build that wrote it");
      }
      job.id = id;
      job.key_set = j.at("key_set").get<std::string>();
      // Format 1 (no "scheme"): the service ran YASHE' key sets only.
      job.scheme = format == 1 ? SchemeId::kYashe : parse_scheme(j.at("scheme").get<std::string>());
      job.state = j.at("state").get<std::string>();
      job.images = j.at("images").get<uint64_t>();
      job.batches = j.at("batches").get<uint64_t>();
      job.created = j.at("created").get<int64_t>();
      job.finished = j.value("finished", int64_t{0});
      job.error = j.value("error", std::string());
      job.attempts = j.value("attempts", 0);
      if (const auto recorded = parse_key_set_id(j.value("key_set_id", std::string()))) {
        job.key_set_id = *recorded;
      }
    } catch (const std::exception& e) {
      log({{"time", utc_timestamp()},
           {"event", "unreadable job record"},
           {"job", id},
           {"error", e.what()}});
      continue;
    }
    if (job.key_set_id != 0) key_set_ids_.emplace(job.key_set, job.key_set_id);
    if (expired_key_sets_.count(job.key_set) != 0) {
      remove_job_directory(id);
      continue;
    }
    if (auto it = last_use_.find(job.key_set); it != last_use_.end()) {
      it->second = std::max({it->second, job.created, job.finished});
    }
    // Failed now, not run (again): recorded, with its input removed (store_outcome), and logged.
    const auto fail_unrun = [&](std::string reason) {
      job.state = "failed";
      job.error = std::move(reason);
      job.finished = unix_now();
      store_outcome(job);
      log({{"time", utc_timestamp()},
           {"event", "job failed"},
           {"job", id},
           {"images", job.images},
           {"attempts", job.attempts},
           {"error", job.error}});
      ++interrupted;
    };
    if ((job.state == "queued" || job.state == "running") && job.attempts >= kJobAttempts) {
      // Its last run started (and was recorded, run_job) but never ended: the server stopped
      // under it (SIGKILL, a crash, perhaps by this job) at each of its last runs, or after
      // runs that failed. Not run again: a job that crashes the server would do so forever.
      fail_unrun("failed " + std::to_string(job.attempts) +
                 " attempts; the last: the server stopped while it ran (killed or crashed); not "
                 "run again");
    } else if ((job.state == "queued" || job.state == "running") &&
               !fs::exists(entry.path() / "input.ct")) {
      // Its input is removed only when it has ended (store_outcome): it failed, and its record
      // could not say so then (no space left).
      fail_unrun(job.error.empty() ? "the job failed and its batch was removed; not run again"
                                   : job.error);
    } else if (job.state == "queued" || job.state == "running") {
      job.state = "queued";
      queued.push_back(job);
    } else {
      if (job.state == "done") job.batches_done = job.batches;
      ++done;
    }
    jobs_[id] = job;
  }
  std::sort(queued.begin(), queued.end(),
            [](const Job& a, const Job& b) { return a.created < b.created; });
  for (const Job& job : queued)
    queue_.push_back(job.id);
  pending_ = queue_.size();
  // Every key set a job names must still be stored; the key sets of queued jobs are loaded in
  // full (checksums and all, as the job will) so that a damaged one fails its jobs now, with the
  // reason, instead of running them.
  for (const auto& [id, job] : jobs_) {
    const std::string directory = keysets_dir_ + "/" + job.key_set;
    if (key_sets_.count(job.key_set) == 0 && unusable.count(job.key_set) == 0) {
      unusable[job.key_set] = key_set_problem(directory, "not found");
    }
  }
  for (const Job& job : queued) {
    if (key_sets_.count(job.key_set) == 0 || unusable.count(job.key_set) != 0) continue;
    try {
      key_set(job.key_set);  // cached for the job
    } catch (const std::exception& e) {
      const std::string problem = key_set_problem(keysets_dir_ + "/" + job.key_set, e.what());
      // The job stays queued: the worker tries again (kPassing) or fails it (kConfiguration).
      if (classify_failure(e) != ReadFailure::kFiles) {
        log({{"time", utc_timestamp()},
             {"event", "key set not loaded"},
             {"key_set", job.key_set},
             {"error", problem}});
      } else {
        unusable[job.key_set] = problem;
      }
    }
  }
  for (const auto& [hash, problem] : unusable)
    retire_key_set(hash, problem);
  log({{"time", utc_timestamp()},
       {"event", "recovered"},
       {"key_sets", key_sets_.size()},
       {"key_sets_unusable", unusable_key_sets_.size()},
       {"key_sets_expired", expired_key_sets_.size()},
       {"jobs_requeued", queue_.size()},
       {"jobs_failed_unusable_key_set", queued.size() - queue_.size()},
       {"jobs_failed_interrupted", interrupted},
       {"jobs_finished", done}});
  expire_key_sets();
}

void Server::Impl::run() {
  std::thread work([this] { worker(); });
  std::thread clean([this] { janitor(); });
  log({{"time", utc_timestamp()},
       {"event", "listening"},
       {"url", std::string(options_.tls_cert.empty() ? "http" : "https") + "://" +
                   url_host(options_.host) + ":" + std::to_string(port_)},
       {"model", options_.model_path},
       {"threads", options_.threads}});
  http_->listen_after_bind();
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  work.join();
  clean.join();
  log({{"time", utc_timestamp()}, {"event", "stopped"}, {"jobs_left_queued", queue_.size()}});
}

void Server::Impl::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  http_->stop();
}

// ---- Routes.

void Server::Impl::install_routes() {
  http_->set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    request_facts = RequestFacts{};
    // A method a path of the service does not take: 405 naming those it takes (httplib answered
    // 404, or 400 once it had read a body of no length until the client gave up). Here, before
    // httplib reads any body: it is not read, and the connection is closed.
    if (const std::string allow = allowed_methods(req.path);
        !allow.empty() && !method_allowed(allow, req.method)) {
      res.set_header("Allow", allow);
      res.set_header("Connection", "close");
      answer_error(res, 405, req.method + " is not allowed on " + req.path + "; it takes " + allow);
      return httplib::Server::HandlerResponse::Handled;
    }
    // A path the service does not have: 404 here too (a PUT without Content-Length waited for
    // the read timeout, then was answered 400).
    if (allowed_methods(req.path).empty()) {
      res.set_header("Connection", "close");
      answer_error(res, 404, "no such resource: " + req.method + " " + req.path);
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  http_->set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    const double ms =
        std::chrono::duration<double, std::milli>(Clock::now() - request_facts.start).count();
    nlohmann::ordered_json line{{"time", utc_timestamp()},
                                {"remote", req.remote_addr},
                                {"method", req.method},
                                {"path", req.path},
                                {"status", res.status},
                                {"bytes_in", request_facts.bytes_in},
                                {"bytes_out", request_facts.bytes_out},
                                {"ms", std::round(ms * 10) / 10}};
    if (!request_facts.job.empty()) line["job"] = request_facts.job;
    if (!request_facts.error.empty()) line["error"] = request_facts.error;
    if (!request_facts.detail.empty()) line["detail"] = request_facts.detail;
    log(line);
  });
  http_->set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr error) {
        try {
          std::rethrow_exception(error);
        } catch (const std::exception& e) {
          // Its message may name the server's paths: for the log only.
          answer_error(res, 500,
                       "internal error of the server (not of the request); the server's log has "
                       "the details",
                       e.what());
        } catch (...) {
          answer_error(res, 500, "internal error of the server (not of the request)");
        }
      });
  // Handlers whose HttpError becomes the answer's status and message.
  using Handler = httplib::Server::Handler;
  using ReaderHandler = httplib::Server::HandlerWithContentReader;
  auto guarded = [](std::function<void(const httplib::Request&, httplib::Response&)> body) {
    return Handler([body](const httplib::Request& req, httplib::Response& res) {
      try {
        body(req, res);
      } catch (const HttpError& e) {
        if (e.retry_after_s > 0) res.set_header("Retry-After", std::to_string(e.retry_after_s));
        answer_error(res, e.status, e.what(), e.detail, e.code);
      }
    });
  };
  auto guarded_reader = [](ReaderHandler body) {
    return ReaderHandler([body](const httplib::Request& req, httplib::Response& res,
                                const httplib::ContentReader& reader) {
      try {
        // httplib reads a multipart body only through multipart callbacks, which these handlers
        // do not give: reading it as one body threw std::bad_function_call, a 500.
        if (req.is_multipart_form_data()) {
          res.set_header("Connection", "close");  // the unread body is dropped with the connection
          throw HttpError(415,
                          "multipart/form-data is not accepted: send the files as one "
                          "application/octet-stream body, as cryptonets client does");
        }
        body(req, res, reader);
      } catch (const HttpError& e) {
        if (e.retry_after_s > 0) res.set_header("Retry-After", std::to_string(e.retry_after_s));
        answer_error(res, e.status, e.what(), e.detail, e.code);
      }
    });
  };
  http_->Post("/v1/keysets",
              guarded_reader([this](const httplib::Request& req, httplib::Response& res,
                                    const httplib::ContentReader& reader) {
                register_keys(req, res, reader);
              }));
  http_->Post("/v1/jobs", guarded_reader([this](const httplib::Request& req, httplib::Response& res,
                                                const httplib::ContentReader& reader) {
                submit_job(req, res, reader);
              }));
  http_->Get("/v1/queue", guarded([this](const httplib::Request& req, httplib::Response& res) {
               queue_status(req, res);
             }));
  http_->Get(R"(/v1/jobs/([0-9a-z]+))",
             guarded([this](const httplib::Request& req, httplib::Response& res) {
               job_status(req, res);
             }));
  http_->Get(R"(/v1/jobs/([0-9a-z]+)/result)",
             guarded([this](const httplib::Request& req, httplib::Response& res) {
               job_result(req, res);
             }));
  http_->Delete(R"(/v1/jobs/([0-9a-z]+))",
                guarded([this](const httplib::Request& req, httplib::Response& res) {
                  delete_job(req, res);
                }));
  http_->set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 404) {
      answer_error(res, 404, "no such resource: " + req.method + " " + req.path);
    } else if (res.status == 413) {
      answer_error(res, 413, "the body is larger than the server's limit (--max-body)");
    } else {
      answer_error(res, res.status, "HTTP " + std::to_string(res.status));
    }
  });
}

std::string Server::Impl::authenticate(const httplib::Request& req, bool own_jobs) {
  const std::string header = req.get_header_value("Authorization");
  const std::string prefix = "Bearer ";
  if (header.rfind(prefix, 0) != 0) {
    throw HttpError(401,
                    "missing token: send 'Authorization: Bearer TOKEN' from "
                    "cryptonets client register");
  }
  const std::string token = header.substr(prefix.size());
  const std::string hash =
      to_hex(sha256({reinterpret_cast<const uint8_t*>(token.data()), token.size()}));
  std::lock_guard lock(mutex_);
  require_key_set(hash, own_jobs);
  return hash;
}

void Server::Impl::require_key_set(const std::string& hash, bool own_jobs) const {
  if (key_sets_.count(hash) != 0) return;
  if (auto it = unusable_key_sets_.find(hash); it != unusable_key_sets_.end()) {
    if (own_jobs) return;
    throw HttpError(410, unusable_answer(it->second));
  }
  if (expired_key_sets_.count(hash) != 0) {
    const auto id = key_set_ids_.find(hash);
    throw HttpError(
        410, expired_answer(id == key_set_ids_.end() ? std::string("key set")
                                                     : "key set " + key_set_id_text(id->second),
                            options_.key_set_retention_s));
  }
  throw HttpError(401,
                  "unknown token: no key set is registered under it on this server (registered "
                  "with another server, or deleted); register the keys (cryptonets client "
                  "register) and use the token it writes");
}

Job& Server::Impl::owned_job(const std::string& id, const std::string& key_set) {
  auto it = jobs_.find(id);
  // Another token's job answers exactly as a job that does not exist.
  if (it == jobs_.end() || it->second.key_set != key_set) {
    throw HttpError(404, "no job '" + id + "' for this token");
  }
  return it->second;
}

namespace {

// A byte count as decimal digits only: std::stoull would also take "-1" (as 2^64 - 1), "+5" and
// leading spaces. Throws std::invalid_argument.
uint64_t parse_byte_count(const std::string& text) {
  if (text.empty() || text.size() > 19 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    throw std::invalid_argument(text);
  }
  return std::stoull(text);  // at most 19 digits: below 2^64
}

}  // namespace

uint64_t Server::Impl::content_length(const httplib::Request& req) {
  if (!req.has_header("Content-Length")) {
    throw HttpError(411, "a Content-Length is required (no chunked uploads)");
  }
  const std::string text = req.get_header_value("Content-Length");
  uint64_t length = 0;
  try {
    length = parse_byte_count(text);
  } catch (const std::exception&) {
    throw HttpError(400, "malformed Content-Length '" + text + "'");
  }
  if (length > options_.max_body) {
    throw HttpError(413, "the body (" + std::to_string(length) +
                             " bytes) is larger than the server's limit of " +
                             std::to_string(options_.max_body) + " bytes (--max-body)");
  }
  return length;
}

void Server::Impl::drain(const httplib::ContentReader& reader) {
  // A refused body is read and dropped so that the client, still sending, receives the answer.
  reader([](const char*, size_t length) {
    request_facts.bytes_in += length;
    return true;
  });
}

void Server::Impl::receive_body(const httplib::Request& req, const httplib::ContentReader& reader,
                                const std::vector<std::string>& paths,
                                const std::vector<uint64_t>& sizes, const Observer& observe) {
  (void)req;
  uint64_t total = 0;
  for (uint64_t size : sizes)
    total += size;
  const auto deadline = Clock::now() + std::chrono::seconds(options_.upload_timeout_s);
  std::vector<int> fds;
  auto close_all = [&] {
    for (int fd : fds)
      if (fd >= 0) ::close(fd);
    fds.clear();
  };
  for (const std::string& path : paths) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
      const int error = errno;
      close_all();
      throw internal_error("the server cannot store the upload", std::strerror(error),
                           "cannot create '" + path + "': " + std::strerror(error));
    }
    fds.push_back(fd);
  }
  size_t part = 0;
  uint64_t part_done = 0;
  uint64_t received = 0;
  uint64_t unsynced = 0;  // bytes written since the last writeback was started
  int write_error = 0;
  bool too_slow = false;
  bool dropping = false;
  // The library hands the body over in small pieces: gathered into 1 MiB writes.
  std::vector<char> buffer;
  buffer.reserve(kBodyChunkBytes);
  const auto flush = [&]() -> bool {
    const char* data = buffer.data();
    size_t length = buffer.size();
    while (length > 0) {
      while (part < sizes.size() && part_done == sizes[part]) {
        ++part;
        part_done = 0;
      }
      const size_t chunk = static_cast<size_t>(std::min<uint64_t>(length, sizes[part] - part_done));
      const ssize_t written = ::write(fds[part], data, chunk);
      if (written <= 0) {
        if (written < 0 && errno == EINTR) continue;
        write_error = written < 0 ? errno : EIO;
        return false;
      }
      data += written;
      length -= static_cast<size_t>(written);
      part_done += static_cast<uint64_t>(written);
      unsynced += static_cast<uint64_t>(written);
      // Start the writeback of what is written (without waiting), so that the fsync before
      // the answer finds little left to write.
      if (unsynced >= kWritebackBytes) {
        (void)::sync_file_range(fds[part], 0, 0, SYNC_FILE_RANGE_WRITE);
        unsynced = 0;
      }
    }
    if (observe && !observe(buffer.data(), buffer.size())) dropping = true;
    buffer.clear();
    return true;
  };
  bool ok = reader([&](const char* data, size_t length) {
    request_facts.bytes_in += length;
    if (Clock::now() > deadline) {
      too_slow = true;
      return false;
    }
    if (received + length > total) return false;  // more than Content-Length: cannot happen
    received += length;
    if (dropping) return true;
    while (length > 0) {
      const size_t take = std::min(length, kBodyChunkBytes - buffer.size());
      buffer.insert(buffer.end(), data, data + take);
      data += take;
      length -= take;
      if (buffer.size() == kBodyChunkBytes && !flush()) return false;
      if (dropping) return true;
    }
    return true;
  });
  if (ok && !dropping && !buffer.empty()) ok = flush();
  if (ok && received == total && !dropping) {
    for (int fd : fds) {
      if (::fsync(fd) != 0 && write_error == 0) write_error = errno;
    }
  }
  close_all();
  if (write_error != 0) {
    throw HttpError(507, "cannot store the upload: " + std::string(std::strerror(write_error)));
  }
  if (too_slow) {
    throw HttpError(408, "the upload took longer than the server allows (" +
                             std::to_string(options_.upload_timeout_s) + " s, --upload-timeout)");
  }
  if (!ok || received != total) {
    throw HttpError(408, "the upload stopped after " + std::to_string(received) + " of " +
                             std::to_string(total) + " bytes (stalled or disconnected)");
  }
}

std::string Server::Impl::random_hex(size_t bytes) {
  std::vector<uint8_t> buffer(bytes);
  {
    std::lock_guard lock(prng_mutex_);
    prng_.fill(buffer);
  }
  static const char* digits = "0123456789abcdef";
  std::string text;
  for (uint8_t b : buffer) {
    text += digits[b >> 4];
    text += digits[b & 15];
  }
  return text;
}

std::shared_ptr<const KeySet> Server::Impl::key_set(const std::string& hash) {
  std::lock_guard lock(cache_mutex_);
  for (auto it = cache_.begin(); it != cache_.end(); ++it) {
    if (it->first == hash) {
      cache_.splice(cache_.begin(), cache_, it);
      return cache_.front().second;
    }
  }
  std::shared_ptr<const KeySet> keys = load_key_set(KeyDirectory(keysets_dir_ + "/" + hash));
  cache_.emplace_front(hash, keys);
  while (cache_.size() > 4)
    cache_.pop_back();
  return keys;
}

void Server::Impl::write_job(const Job& job, const std::string& directory) {
  json record = job.to_json();
  record["format"] = kJobRecordFormat;
  record["key_set"] = job.key_set;
  if (job.key_set_id != 0) record["key_set_id"] = key_set_id_text(job.key_set_id);
  record.erase("batches_done");
  record.erase("last_error");
  write_file_durably(directory + "/job.json", record.dump(2) + "\n");
}

int Server::Impl::retry_after_seconds() const {
  return std::clamp(static_cast<int>(std::ceil(last_job_seconds_)), 1, 3600);
}

void Server::Impl::register_keys(const httplib::Request& req, httplib::Response& res,
                                 const httplib::ContentReader& reader) {
  const uint64_t length = content_length(req);
  std::vector<uint64_t> sizes;
  for (const char* name : {"params", "evaluation", "public"}) {
    const std::string text = req.get_param_value(name);
    try {
      sizes.push_back(parse_byte_count(text));
      if (sizes.back() > length) throw std::invalid_argument(text);  // and no sum wraps
    } catch (const std::exception&) {
      drain(reader);
      throw HttpError(400, std::string("query parameter '") + name +
                               "' must give the part's size in bytes, at most the body's "
                               "(params, evaluation, public)");
    }
  }
  if (sizes[0] + sizes[1] + sizes[2] != length) {
    drain(reader);
    throw HttpError(400, "the part sizes (params + evaluation + public) add up to " +
                             std::to_string(sizes[0] + sizes[1] + sizes[2]) +
                             " bytes, the body has " + std::to_string(length));
  }
  const std::string staging = tmp_dir_ + "/keys-" + random_hex(16);
  if (::mkdir(staging.c_str(), 0700) != 0) {
    const int error = errno;
    drain(reader);
    throw internal_error("the server cannot store the keys", std::strerror(error),
                         "cannot create '" + staging + "': " + std::strerror(error));
  }
  struct Cleanup {
    std::string path;
    ~Cleanup() {
      std::error_code error;
      if (!path.empty()) fs::remove_all(path, error);
    }
  } cleanup{staging};
  const KeyDirectory dir(staging);
  const std::vector<std::string> paths = {dir.parameters, dir.evaluation_keys, dir.public_keys};
  receive_body(req, reader, paths, sizes);

  const char* part_names[] = {"params", "evaluation", "public"};
  const ProtocolFileKind expected[] = {ProtocolFileKind::kParameterSet,
                                       ProtocolFileKind::kEvaluationKeys,
                                       ProtocolFileKind::kPublicKeys};
  // Headers first (kind, secret keys, one scheme for the three parts), then the keys under the
  // scheme the parameter set records.
  SchemeId scheme = SchemeId::kYashe;
  for (size_t i = 0; i < 3; ++i) {
    const std::string name = std::string("part '") + part_names[i] + "'";
    ProtocolHeader header;
    try {
      header = read_protocol_header(paths[i]);
    } catch (const std::runtime_error& e) {
      throw HttpError(400, client_message(e.what(), paths[i], name));
    }
    if (header.kind == ProtocolFileKind::kSecretKeys) {
      throw HttpError(422, "refused: " + name + " holds secret keys; " + kNoSecretKeys);
    }
    if (header.kind != expected[i]) {
      throw HttpError(400, name + " holds " + protocol_kind_name(header.kind) + ", expected " +
                               protocol_kind_name(expected[i]));
    }
    if (i == 0) {
      scheme = header.scheme;
    } else if (header.scheme != scheme) {
      throw HttpError(400, scheme_mismatch(name, header.scheme, scheme, "part 'params' is"));
    }
  }
  std::shared_ptr<const KeySet> keys;
  try {
    keys = load_key_set(dir);
  } catch (const std::exception& e) {
    std::string message = e.what();
    for (size_t p = 0; p < 3; ++p)
      message = client_message(message, paths[p], std::string("part '") + part_names[p] + "'");
    throw HttpError(400, message);
  }
  try {
    omp_set_num_threads(1);
    keys->require_model(ranges_, compiled_);
  } catch (const std::exception& e) {
    throw HttpError(422, std::string("the keys cannot carry this server's model: ") + e.what());
  }

  const uint64_t key_set_id = keys->key_set_id();
  const std::string token = random_hex(32);
  const std::string hash =
      to_hex(sha256({reinterpret_cast<const uint8_t*>(token.data()), token.size()}));
  sync_directory(staging);
  const std::string target = keysets_dir_ + "/" + hash;
  if (::rename(staging.c_str(), target.c_str()) != 0) {
    const int error = errno;
    throw internal_error(
        "the server cannot store the keys", std::strerror(error),
        "cannot rename '" + staging + "' to '" + target + "': " + std::strerror(error));
  }
  cleanup.path.clear();
  sync_directory(keysets_dir_);
  sync_directory(tmp_dir_);
  {
    std::lock_guard lock(mutex_);
    key_sets_.insert(hash);
    last_use_[hash] = unix_now();
    key_set_ids_[hash] = key_set_id;
  }
  {
    std::lock_guard lock(cache_mutex_);  // loaded already: the first job need not load it again
    cache_.emplace_front(hash, std::move(keys));
    while (cache_.size() > 4)
      cache_.pop_back();
  }
  answer_json(res, 201,
              json{{"token", token},
                   {"key_set_id", key_set_id_text(key_set_id)},
                   {"scheme", scheme_option(scheme)}});
}

void Server::Impl::queue_status(const httplib::Request& req, httplib::Response& res) {
  authenticate(req);
  std::lock_guard lock(mutex_);
  const json body{{"queued", pending_}, {"max", options_.max_queue}};
  if (stopping_ || pending_ >= options_.max_queue) {
    res.set_header("Retry-After", std::to_string(retry_after_seconds()));
    answer_json(res, 503,
                json{{"error", stopping_ ? "the server is shutting down"
                                         : "the job queue is full; retry later"},
                     {"queued", pending_},
                     {"max", options_.max_queue}});
    return;
  }
  answer_json(res, 200, body);
}

void Server::Impl::submit_job(const httplib::Request& req, httplib::Response& res,
                              const httplib::ContentReader& reader) {
  std::string key_set_hash;
  uint64_t length = 0;
  try {
    key_set_hash = authenticate(req);
    length = content_length(req);
  } catch (const HttpError& e) {
    if (e.status != 413 && e.status != 411) drain(reader);
    if (e.status == 413) res.set_header("Connection", "close");
    throw;
  }
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || pending_ >= options_.max_queue) {
      res.set_header("Retry-After", std::to_string(retry_after_seconds()));
      const std::string message = stopping_ ? "the server is shutting down"
                                            : "the job queue is full (" +
                                                  std::to_string(options_.max_queue) +
                                                  " jobs); retry later";
      drain(reader);
      throw HttpError(503, message);
    }
    try {
      require_key_set(key_set_hash, false);  // not expired since authenticate
    } catch (const HttpError&) {
      drain(reader);
      throw;
    }
    ++pending_;                // this upload's place in the queue
    ++uploads_[key_set_hash];  // the key set is in use: the retention leaves it
  }
  bool accepted = false;
  struct Release {
    Impl* self;
    bool& accepted;
    const std::string& key_set;
    ~Release() {
      std::lock_guard lock(self->mutex_);
      if (--self->uploads_[key_set] == 0) self->uploads_.erase(key_set);
      if (!accepted) --self->pending_;
    }
  } release{this, accepted, key_set_hash};

  Job job;
  job.id = random_hex(16);
  job.key_set = key_set_hash;
  job.state = "queued";
  job.created = unix_now();
  request_facts.job = job.id;
  const std::string staging = tmp_dir_ + "/job-" + job.id;
  if (::mkdir(staging.c_str(), 0700) != 0) {
    const int error = errno;
    drain(reader);
    throw internal_error("the server cannot store the upload", std::strerror(error),
                         "cannot create '" + staging + "': " + std::strerror(error));
  }
  struct Cleanup {
    std::string path;
    ~Cleanup() {
      std::error_code error;
      if (!path.empty()) fs::remove_all(path, error);
    }
  } cleanup{staging};
  const std::string input = staging + "/input.ct";

  // Verified while it arrives: the header (kind, the token's parameters and keys, the model's
  // input size) as soon as its 112 bytes are in, then every record by a CiphertextFileReader on a
  // pipe fed with the body (service/stream_verifier.hpp), beside the writes to disk.
  std::optional<HttpError> refusal;
  ProtocolHeader header;
  std::shared_ptr<const KeySet> keys;
  std::unique_ptr<StreamVerifier> verifier;
  std::string early;  // the bytes before the header could be checked
  const auto check_header = [&]() -> std::optional<HttpError> {
    try {
      header = read_protocol_header(input);
    } catch (const std::runtime_error& e) {
      if (classify_failure(e) == ReadFailure::kConfiguration) {
        return with_detail(HttpError(500, configuration_answer(failure_cause(e))), e.what());
      }
      const std::string problem = client_message(e.what(), input, "the body");
      if (transient_failure(e)) {  // the server's failure, not the body's
        return HttpError(
            503, "the server cannot read the upload right now (" + problem + "); retry later",
            kTransientRetrySeconds);
      }
      return HttpError(400, problem);
    }
    if (header.kind == ProtocolFileKind::kSecretKeys) {
      return HttpError(422, std::string("refused: the body holds secret keys; ") + kNoSecretKeys);
    }
    if (header.kind != ProtocolFileKind::kCiphertexts) {
      return HttpError(400, "the body holds " + protocol_kind_name(header.kind) +
                                ", expected encrypted images from cryptonets encrypt");
    }
    if (header.answers_file_id != 0) {
      return HttpError(400,
                       "the body is a scores file (it answers another file), expected "
                       "encrypted images from cryptonets encrypt");
    }
    try {
      keys = key_set(key_set_hash);
    } catch (const std::exception& e) {
      const ReadFailure failure = classify_failure(e);
      // Not allowed to read its own files: the operator's to fix; the key set stays.
      if (failure == ReadFailure::kConfiguration)
        return with_detail(HttpError(500, configuration_answer(failure_cause(e))), e.what());
      const std::string problem = key_set_problem(keysets_dir_ + "/" + key_set_hash, e.what());
      // Out of file handles or memory, a failed read: this request only, the key set stays.
      if (failure == ReadFailure::kPassing) {
        return HttpError(503, transient_answer(problem), kTransientRetrySeconds);
      }
      // Damaged or removed on disk since it was registered: the client's to fix, not a 500.
      return HttpError(410, unusable_answer(retire_key_set(key_set_hash, problem)));
    }
    // A batch of other keys than the token's: most often a token kept from an earlier
    // registration used after keygen made new keys. Said so, with what to do, and coded for
    // client infer (kOtherKeySet).
    const auto other_key_set = [&](const std::string& what) {
      HttpError error(422, what + ": the token belongs to another key set (" +
                               key_set_id_text(keys->key_set_id()) + ") than the body's (" +
                               key_set_id_text(header.key_set_id) +
                               "); use the token written when the body's keys were registered, "
                               "or register them (cryptonets client register) and use the new "
                               "token");
      error.code = kOtherKeySet;
      return error;
    };
    if (header.scheme != keys->scheme()) {
      return other_key_set("the body holds " + scheme_name(header.scheme) +
                           " ciphertexts, but the token's key set is " +
                           scheme_name(keys->scheme()) +
                           ": a batch of one scheme cannot be used with the other");
    }
    if (header.parameter_set_fingerprint != keys->fingerprint()) {
      return other_key_set(
          "the body was made for other parameters than the token's key set (parameter set "
          "fingerprint differs)");
    }
    if (header.key_set_id != keys->key_set_id()) {
      return other_key_set("the body is encrypted under other keys than the token's key set");
    }
    if (header.values != compiled_.input_size) {
      return HttpError(422, "the body holds " + std::to_string(header.values) +
                                " ciphertexts per image, the model takes " +
                                std::to_string(compiled_.input_size) + " inputs");
    }
    return std::nullopt;
  };
  receive_body(req, reader, {input}, {length}, [&](const char* data, size_t size) {
    if (!verifier) {
      early.append(data, size);
      if (early.size() < kProtocolHeaderBytes) return true;
      refusal = check_header();
      if (refusal) return false;
      // A one-batch job keeps its verified batch for the worker (no second read from disk).
      verifier = keys->verifier(header.batch_count() == 1);
      const bool fed = verifier->feed(early.data(), early.size());
      early.clear();
      early.shrink_to_fit();
      return fed;
    }
    return verifier->feed(data, size);
  });
  if (refusal) throw *refusal;
  if (!verifier) {  // a body shorter than a header
    refusal = check_header();
    throw refusal ? *refusal : HttpError(400, "the body is shorter than a protocol header");
  }
  if (const std::string error = verifier->finish(); !error.empty()) {
    const std::string problem = client_message(error, verifier->path(), "the body");
    // The server's own failure to read the pipe (out of file handles, ...) is not the body's.
    try {
      if (verifier->failure()) std::rethrow_exception(verifier->failure());
    } catch (const std::exception& e) {
      if (classify_failure(e) == ReadFailure::kConfiguration) {
        throw with_detail(HttpError(500, configuration_answer(failure_cause(e))), error);
      }
      if (transient_failure(e)) {
        throw HttpError(
            503, "the server cannot read the upload right now (" + problem + "); retry later",
            kTransientRetrySeconds);
      }
    }
    throw HttpError(400, problem);
  }
  std::optional<EncryptedBatch> first_batch = verifier->take_first_batch();
  verifier.reset();
  job.images = header.images;
  job.batches = header.batch_count();
  job.scheme = keys->scheme();
  job.key_set_id = keys->key_set_id();

  // Durable before the answer: input.ct was fsync'd; job.json is; the directory entry of both,
  // the rename into jobs/ and the removal from tmp/.
  try {
    write_job(job, staging);
  } catch (const std::system_error& e) {
    // A full disk at the record is the upload's 507, as at its bytes (receive_body): told by
    // the errno the writer carries, never by its message (which names the server's paths).
    if (disk_full(e.code())) {
      throw with_detail(HttpError(507, "cannot store the upload: " + e.code().message()), e.what());
    }
    throw;
  }
  sync_directory(staging);
  const std::string target = jobs_dir_ + "/" + job.id;
  if (::rename(staging.c_str(), target.c_str()) != 0) {
    const int error = errno;
    throw internal_error(
        "the server cannot store the job", std::strerror(error),
        "cannot rename '" + staging + "' to '" + target + "': " + std::strerror(error));
  }
  cleanup.path.clear();
  sync_directory(jobs_dir_);
  sync_directory(tmp_dir_);
  {
    std::lock_guard lock(mutex_);
    jobs_[job.id] = job;
    queue_.push_back(job.id);
    accepted = true;
    // At most one batch waits in memory (the disk copy is what survives a crash).
    if (first_batch && ready_.empty()) ready_.emplace(job.id, std::move(*first_batch));
  }
  wake_.notify_all();
  note_use(key_set_hash);
  json body = job.to_json();
  answer_json(res, 202, body);
}

void Server::Impl::job_status(const httplib::Request& req, httplib::Response& res) {
  const std::string key_set = authenticate(req, true);
  const std::string id = req.matches[1];
  request_facts.job = id;
  // ?wait=S (at most 60): answer when the job is done or failed, or after S seconds (long poll:
  // the client learns of the end at once instead of at its next poll).
  int wait_s = 0;
  if (req.has_param("wait")) {
    try {
      wait_s = std::clamp(std::stoi(req.get_param_value("wait")), 0, 60);
    } catch (const std::exception&) {
      throw HttpError(400, "?wait= takes seconds, 0 to 60");
    }
  }
  std::unique_lock lock(mutex_);
  owned_job(id, key_set);
  wake_.wait_for(lock, std::chrono::seconds(wait_s), [&] {
    auto it = jobs_.find(id);
    return stopping_ || it == jobs_.end() ||
           (it->second.state != "queued" && it->second.state != "running");
  });
  answer_json(res, 200, owned_job(id, key_set).to_json());
}

void Server::Impl::job_result(const httplib::Request& req, httplib::Response& res) {
  const std::string key_set = authenticate(req, true);
  const std::string id = req.matches[1];
  request_facts.job = id;
  {
    std::lock_guard lock(mutex_);
    const Job& job = owned_job(id, key_set);
    if (job.state != "done") {
      json body = job.to_json();
      body["error"] = job.state == "failed" ? "the job failed: " + job.error
                                            : "the job is " + job.state + "; no scores yet";
      request_facts.error = body["error"];
      answer_json(res, 409, body);
      return;
    }
  }
  const std::string path = jobs_dir_ + "/" + id + "/scores.ct";
  // Never a blocking open (a FIFO planted there held an HTTP thread forever), and never a
  // damaged file answered 200: the whole file is checked (checksums, bindings, length) without
  // any key, once for as long as it stays the same file on disk (scores_check.hpp), so that
  // repeated requests (HEAD, a fetch retried) do not read it again.
  const int fd = open_regular_file(path);
  std::string problem;
  uint64_t size = 0;
  if (fd < 0) {
    problem = errno == EINVAL ? "not a regular file" : std::strerror(errno);
  } else {
    try {
      size = scores_check_.require_intact(id, fd, path);
    } catch (const std::exception& e) {
      problem = client_message(e.what(), path, "the scores file");
    }
  }
  if (!problem.empty()) {
    if (fd >= 0) ::close(fd);
    std::lock_guard lock(mutex_);
    if (jobs_.count(id) == 0) throw HttpError(404, "no job '" + id + "' for this token");
    // The job is done but its scores are missing or damaged on the server's disk: the server's
    // failure, said as such (not "no job", which contradicts its status).
    throw with_detail(HttpError(500, "the scores of job " + id +
                                         " are lost on the server (the file is missing or "
                                         "damaged); submit the batch again"),
                      path + ": " + problem);
  }
  request_facts.bytes_out = size;
  auto shared_fd = std::make_shared<int>(fd);
  res.status = 200;
  res.set_content_provider(
      static_cast<size_t>(size), "application/octet-stream",
      [shared_fd](size_t offset, size_t length, httplib::DataSink& sink) {
        std::vector<char> buffer(std::min<size_t>(length, 1 << 20));
        const ssize_t got =
            ::pread(*shared_fd, buffer.data(), buffer.size(), static_cast<off_t>(offset));
        if (got <= 0) return false;
        return sink.write(buffer.data(), static_cast<size_t>(got));
      },
      [shared_fd](bool) { ::close(*shared_fd); });
}

void Server::Impl::delete_job(const httplib::Request& req, httplib::Response& res) {
  const std::string key_set = authenticate(req, true);
  const std::string id = req.matches[1];
  request_facts.job = id;
  {
    std::lock_guard lock(mutex_);
    Job& job = owned_job(id, key_set);
    if (job.state == "running") throw HttpError(409, "the job is running; delete it when done");
    if (job.state == "queued") {
      queue_.erase(std::remove(queue_.begin(), queue_.end(), id), queue_.end());
      ready_.erase(id);
      --pending_;
    }
    jobs_.erase(id);
  }
  remove_job_directory(id);
  res.status = 204;
}

void Server::Impl::remove_job_directory(const std::string& id) {
  scores_check_.forget(id);
  discard(jobs_dir_ + "/" + id, jobs_dir_, "deleted-" + id);
}

void Server::Impl::discard(const std::string& path, const std::string& parent,
                           const std::string& trash_name) {
  const std::string trash = tmp_dir_ + "/" + trash_name;
  if (::rename(path.c_str(), trash.c_str()) == 0) {
    sync_directory(parent);
    std::error_code error;
    fs::remove_all(trash, error);
  }
}

// ---- The worker: one job at a time, all inference threads on it. There is one worker, and a job
// is back in the queue (requeue_job) only once its run has ended: no job ever runs twice at once.

void Server::Impl::worker() {
  // OpenMP's thread count is per thread: the library's inner loops on this one use --threads.
  omp_set_num_threads(std::max(1, options_.threads));
  for (;;) {
    std::string id;
    {
      std::unique_lock lock(mutex_);
      for (;;) {
        if (stopping_) return;  // queued jobs stay on disk for the next start
        // The first queued job not waiting to be tried again (defer_job), else wait for it.
        const auto now = Clock::now();
        auto next = Clock::time_point::max();
        auto ready = std::find_if(queue_.begin(), queue_.end(), [&](const std::string& queued) {
          const Clock::time_point at = jobs_[queued].not_before;
          next = std::min(next, at);
          return at <= now;
        });
        if (ready != queue_.end()) {
          id = *ready;
          queue_.erase(ready);
          break;
        }
        if (queue_.empty()) {
          wake_.wait(lock);
        } else {
          wake_.wait_until(lock, next);
        }
      }
      jobs_[id].state = "running";
    }
    run_job(id);
  }
}

void Server::Impl::run_job(const std::string& id) {
  const auto start = Clock::now();
  Job job;
  {
    std::lock_guard lock(mutex_);
    job = jobs_[id];
  }
  const std::string directory = jobs_dir_ + "/" + id;
  const std::string input = directory + "/input.ct";
  const std::string scores = directory + "/scores.ct";
  std::string error;
  std::string detail;  // for the log only: the failure with the server's paths
  std::optional<EncryptedBatch> ready;
  {
    std::lock_guard lock(mutex_);
    if (auto it = ready_.find(id); it != ready_.end()) {
      ready.emplace(std::move(it->second));
      ready_.erase(it);
    }
  }
  std::shared_ptr<const KeySet> keys;
  try {
    keys = key_set(job.key_set);
  } catch (const std::exception& e) {
    const ReadFailure failure = classify_failure(e);
    const std::string problem = key_set_problem(keysets_dir_ + "/" + job.key_set, e.what());
    if (failure == ReadFailure::kPassing) {  // out of file handles or memory: tried again
      defer_job(id, std::move(ready), problem);
      return;
    }
    if (failure == ReadFailure::kConfiguration) {  // this job fails; the key set stays
      error = "not run: " + configuration_answer(failure_cause(e));
      detail = e.what();
    } else {
      // Damaged or removed since the job was accepted: this job and the key set's queued ones
      // fail with the reason.
      error = unrun_job_error(retire_key_set(job.key_set, problem));
    }
  }
  ReadFailure failure = ReadFailure::kFiles;
  if (keys) {
    {
      std::lock_guard lock(mutex_);
      job.attempts = ++jobs_[id].attempts;
    }
    try {
      // The run counted on disk before it starts: a job that kills the server (or is running
      // at each SIGKILL) is not run forever; recover() fails it after kJobAttempts runs.
      storing([&] {
        Job record = job;
        record.state = "running";
        write_job(record, directory);
      });
      if (keys->scheme() != job.scheme) {  // a hand-edited or foreign record: refused, not guessed
        throw std::runtime_error("the job record says " + scheme_name(job.scheme) +
                                 ", but its key set is " + scheme_name(keys->scheme()));
      }
      keys->infer_file(input, scores, compiled_, options_.threads, std::move(ready),
                       [&](uint64_t b) {
                         std::lock_guard lock(mutex_);
                         jobs_[id].batches_done = b + 1;
                       });
    } catch (const std::exception& e) {
      failure = classify_failure(e);
      detail = e.what();
      // The client knows its upload as the job's batch and the output as its scores; no path of
      // the server's is answered (a configuration error's path is in the log, for the operator).
      error =
          failure == ReadFailure::kConfiguration
              ? configuration_answer(failure_cause(e))
              : client_message(client_message(client_message(e.what(), input, "the job's batch"),
                                              scores, "the job's scores"),
                               directory + "/job.json", "the job's record");
      if (error.find(options_.state_dir) != std::string::npos) {
        error = "the run failed (" + failure_cause(e) + ")";  // a path not known above
      }
    }
  }
  if (!error.empty()) {
    // The scores file is written atomically (AtomicFileWriter), so none should be there; removed
    // all the same: a failed or retried job has no scores.
    std::error_code ignored;
    fs::remove(scores, ignored);
  }
  if (!error.empty() && keys && failure == ReadFailure::kPassing && job.attempts < kJobAttempts) {
    // Out of file handles or memory, a failed read while it ran, the scores not stored (no space
    // left): tried again from its input on disk, which stays until scores are durable, after a
    // short wait, kJobAttempts runs in all.
    const auto wait = kJobRetryWait * (1 << (job.attempts - 1));
    {
      std::lock_guard lock(mutex_);
      Job& queued = jobs_[id];  // still there: a running job is not deleted
      queued.batches_done = 0;
      queued.last_error = error;
    }
    requeue_job(id, std::nullopt, wait);
    nlohmann::ordered_json line{
        {"time", utc_timestamp()}, {"event", "job retried"}, {"job", id},
        {"attempt", job.attempts}, {"of", kJobAttempts},     {"error", error}};
    if (!detail.empty() && detail != error) line["detail"] = detail;
    line["retry_in_s"] = std::chrono::duration<double>(wait).count();
    log(line);
    return;
  }
  if (!error.empty() && failure == ReadFailure::kPassing && keys) {
    error = "failed " + std::to_string(job.attempts) + " attempts; the last: " + error;
  }
  job.state = error.empty() ? "done" : "failed";
  job.error = error;
  job.last_error.clear();
  job.finished = unix_now();
  job.batches_done = error.empty() ? job.batches : 0;
  store_outcome(job);
  if (keys) note_use(job.key_set);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  {
    std::lock_guard lock(mutex_);
    auto it = jobs_.find(id);
    if (it != jobs_.end()) it->second = job;
    --pending_;
    last_job_seconds_ = seconds;
  }
  nlohmann::ordered_json line{{"time", utc_timestamp()},
                              {"event", "job " + job.state},
                              {"job", id},
                              {"images", job.images},
                              {"seconds", std::round(seconds * 100) / 100}};
  if (job.attempts > 1) line["attempts"] = job.attempts;
  if (!error.empty()) line["error"] = error;
  if (!detail.empty() && detail != error) line["detail"] = detail;
  log(line);
  wake_.notify_all();  // long polls of this job
  ::malloc_trim(0);    // the batch's memory back to the system while the server waits
}

void Server::Impl::store_outcome(const Job& job) {
  const std::string directory = jobs_dir_ + "/" + job.id;
  try {
    std::error_code ignored;
    // A failed job's input goes first: it frees the space its record needs (a full disk is a
    // reason jobs fail), and a job without input is never run again, even if its record cannot
    // be written (recover() fails it): failed in memory is then failed on disk too.
    if (job.state == "failed") {
      fs::remove(directory + "/input.ct", ignored);
      sync_directory(directory);
    }
    write_job(job, directory);
    fs::remove(directory + "/input.ct", ignored);
    sync_directory(directory);
  } catch (const std::exception& e) {
    log({{"time", utc_timestamp()},
         {"event", "cannot record job"},
         {"job", job.id},
         {"error", e.what()}});
  }
}

std::string Server::Impl::retire_key_set(const std::string& hash, const std::string& problem) {
  const std::string description = key_set_name(hash) + " (" + problem + ")";
  const std::string error = unrun_job_error(description);
  std::vector<Job> failed;
  {
    std::lock_guard lock(mutex_);
    key_sets_.erase(hash);
    unusable_key_sets_[hash] = description;
    for (auto it = queue_.begin(); it != queue_.end();) {
      Job& job = jobs_[*it];
      if (job.key_set != hash) {
        ++it;
        continue;
      }
      job.state = "failed";
      job.error = error;
      job.finished = unix_now();
      failed.push_back(job);
      ready_.erase(*it);
      --pending_;
      it = queue_.erase(it);
    }
  }
  {
    std::lock_guard lock(cache_mutex_);
    cache_.remove_if([&](const auto& entry) { return entry.first == hash; });
  }
  // The key set's files stay on disk as they are (for the operator, or the build that wrote them).
  log({{"time", utc_timestamp()},
       {"event", "unusable key set"},
       {"key_set", hash},
       {"error", problem},
       {"jobs_failed", failed.size()}});
  for (const Job& job : failed) {
    store_outcome(job);
    log({{"time", utc_timestamp()},
         {"event", "job failed"},
         {"job", job.id},
         {"images", job.images},
         {"error", job.error}});
  }
  wake_.notify_all();  // long polls of the failed jobs
  return description;
}

std::string Server::Impl::key_set_name(const std::string& hash) {
  {
    std::lock_guard lock(mutex_);
    if (auto it = key_set_ids_.find(hash); it != key_set_ids_.end()) {
      return "key set " + key_set_id_text(it->second);
    }
  }
  // Never the directory's name (the hash of the token): the client does not know it.
  if (!is_hex_name(hash, 64)) return "key set";  // a hand-edited job record
  const std::optional<uint64_t> id = stored_key_set_id(keysets_dir_ + "/" + hash);
  if (!id) return "key set";
  std::lock_guard lock(mutex_);
  key_set_ids_[hash] = *id;
  return "key set " + key_set_id_text(*id);
}

void Server::Impl::requeue_job(const std::string& id, std::optional<EncryptedBatch> ready,
                               Clock::duration wait) {
  {
    std::lock_guard lock(mutex_);
    Job& job = jobs_[id];  // still there: a running job is not deleted
    job.state = "queued";
    job.not_before = Clock::now() + wait;
    if (std::find(queue_.begin(), queue_.end(), id) == queue_.end()) queue_.push_front(id);
    if (ready) ready_.emplace(id, std::move(*ready));
  }
  wake_.notify_all();
}

void Server::Impl::defer_job(const std::string& id, std::optional<EncryptedBatch> ready,
                             const std::string& problem) {
  int64_t wait_s = 0;
  {
    std::lock_guard lock(mutex_);
    Job& job = jobs_[id];
    wait_s = std::min<int64_t>(kMaxJobRetrySeconds, int64_t{1} << std::min(job.retries, 6));
    ++job.retries;
  }
  requeue_job(id, std::move(ready), std::chrono::seconds(wait_s));
  log({{"time", utc_timestamp()},
       {"event", "job deferred"},
       {"job", id},
       {"error", problem},
       {"retry_in_s", wait_s}});
}

void Server::Impl::note_use(const std::string& hash) {
  {
    std::lock_guard lock(mutex_);
    if (key_sets_.count(hash) == 0) return;
    last_use_[hash] = unix_now();
  }
  // The directory's mtime is the last use a restart reads; fsync'd so that a crash cannot make
  // the key set look older than it is (and expire it early).
  const std::string directory = keysets_dir_ + "/" + hash;
  if (::utimensat(AT_FDCWD, directory.c_str(), nullptr, 0) == 0) {
    const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
      (void)::fsync(fd);
      ::close(fd);
    }
  }
}

void Server::Impl::expire_key_sets() {
  const int64_t now = unix_now();
  const int64_t retention = options_.key_set_retention_s;
  std::map<std::string, std::vector<std::string>> expiring;  // key set -> its (finished) jobs
  std::vector<std::string> forgotten;
  {
    std::lock_guard lock(mutex_);
    if (retention > 0) {
      std::set<std::string> busy;  // never expired: an upload or a job not finished
      for (const auto& upload : uploads_)
        busy.insert(upload.first);
      for (const auto& [id, job] : jobs_) {
        if (job.state == "queued" || job.state == "running") busy.insert(job.key_set);
      }
      for (const std::string& hash : key_sets_) {
        const auto used = last_use_.find(hash);
        if (busy.count(hash) == 0 && used != last_use_.end() && used->second + retention <= now) {
          expiring[hash];
        }
      }
      for (auto& [hash, jobs] : expiring) {
        key_sets_.erase(hash);
        last_use_.erase(hash);
        expired_key_sets_[hash] = now;
        for (auto it = jobs_.begin(); it != jobs_.end();) {
          if (it->second.key_set != hash) {
            ++it;
            continue;
          }
          jobs.push_back(it->first);
          it = jobs_.erase(it);
        }
      }
    }
    for (auto it = expired_key_sets_.begin(); it != expired_key_sets_.end();) {
      if (it->second + kExpiredKeySetMemorySeconds > now) {
        ++it;
        continue;
      }
      forgotten.push_back(it->first);
      it = expired_key_sets_.erase(it);
    }
  }
  if (!expiring.empty()) {
    std::lock_guard lock(cache_mutex_);
    cache_.remove_if([&](const auto& entry) { return expiring.count(entry.first) != 0; });
  }
  for (const auto& [hash, jobs] : expiring) {
    try {
      // The tombstone first: from then on a restart answers the token "expired" and finishes the
      // deletion (recover), wherever a crash stopped this one. The key set and each job then go
      // in one rename each: nothing is ever left half there.
      const std::string tombstone = expired_dir_ + "/" + hash;
      // It holds the key set's id, so that the 410 of its token can name it after a restart.
      std::string id_text;
      {
        std::lock_guard lock(mutex_);
        if (auto it = key_set_ids_.find(hash); it != key_set_ids_.end()) {
          id_text = key_set_id_text(it->second) + "\n";
        }
      }
      write_file_durably(tombstone, id_text);
      sync_directory(expired_dir_);
      discard(keysets_dir_ + "/" + hash, keysets_dir_, "expired-" + hash);
      for (const std::string& id : jobs)
        remove_job_directory(id);
      log({{"time", utc_timestamp()},
           {"event", "key set expired"},
           {"key_set", hash},
           {"jobs_deleted", jobs.size()}});
    } catch (const std::exception& e) {
      // On disk as it was: back at the next start, and expired again then.
      log({{"time", utc_timestamp()},
           {"event", "cannot expire key set"},
           {"key_set", hash},
           {"error", e.what()}});
    }
  }
  for (const std::string& hash : forgotten)
    ::unlink((expired_dir_ + "/" + hash).c_str());
  if (!forgotten.empty()) {
    std::lock_guard lock(mutex_);
    for (const std::string& hash : forgotten)
      key_set_ids_.erase(hash);
  }
}

void Server::Impl::janitor() {
  int64_t shortest = options_.result_ttl_s;
  if (options_.key_set_retention_s > 0) shortest = std::min(shortest, options_.key_set_retention_s);
  const auto period = std::chrono::seconds(std::clamp<int64_t>(shortest / 2, 1, 60));
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, period);
    if (stopping_) return;
    const int64_t now = unix_now();
    std::vector<std::string> expired;
    for (const auto& [id, job] : jobs_) {
      if ((job.state == "done" || job.state == "failed") &&
          job.finished + options_.result_ttl_s <= now) {
        expired.push_back(id);
      }
    }
    for (const std::string& id : expired)
      jobs_.erase(id);
    lock.unlock();
    for (const std::string& id : expired) {
      remove_job_directory(id);
      log({{"time", utc_timestamp()}, {"event", "job expired"}, {"job", id}});
    }
    expire_key_sets();
    lock.lock();
  }
}

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Server::~Server() = default;
int Server::port() const {
  return impl_->port();
}
void Server::run() {
  impl_->run();
}
void Server::stop() {
  impl_->stop();
}

}  // namespace cryptonets::service
