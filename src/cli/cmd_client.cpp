// cryptonets client (client): the private-inference service's client (service/client.hpp).
//   profile   download the server's model profile (what keygen --profile takes)
//   register  send params, evaluation.key and public.key; get a token
//   submit    upload an encrypted batch; get a job id
//   status    a job's state
//   fetch     download a job's encrypted scores (then delete the job unless --keep)
//   delete    delete a job and its scores on the server
//   infer     all of it: register (or reuse --token-file), submit, wait, fetch, delete

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "cli_support.hpp"
#include "commands.hpp"
#include "cryptonets/io/protocol_files.hpp"
#include "cryptonets/io/serialize.hpp"
#include "cryptonets/service/client.hpp"
#include "cryptonets/service/durable.hpp"

namespace cryptonets::cli {

namespace {

void add_server_options(OptionParser& options) {
  options.add_value("server", "URL", "the service: http://HOST:PORT or https://HOST:PORT",
                    std::nullopt, true);
  options.add_value("ca-cert", "FILE", "https: the certificate (or CA) to trust");
  options.add_value(
      "timeout", "SECONDS",
      "limit on connecting, on each read and write, on each whole JSON answer (the scores of "
      "fetch, a long download, only per read; status --wait adds its wait), and on the wait for "
      "--token-file while another client holds its lock",
      "120");
}

void add_token_options(OptionParser& options) {
  options.add_value("token-file", "FILE", "the token from client register");
  options.add_value("token", "TOKEN", "the token itself (visible to other users: prefer a file)");
}

// An upload or download bar on a terminal only (cli_support's Progress).
struct TransferBar {
  std::unique_ptr<Progress> bar;
  uint64_t shown = 0;
  std::string label;
  explicit TransferBar(std::string label_) : label(std::move(label_)) {}
  void update(uint64_t done, uint64_t total) {
    if (!Progress::enabled() || total == 0) return;
    const uint64_t kib_total = (total + 1023) / 1024;
    if (!bar) bar = std::make_unique<Progress>(label + " (" + format_bytes(total) + ")", kib_total);
    const uint64_t kib = std::min(kib_total, done / 1024);
    if (kib > shown) {
      bar->advance(kib - shown);
      shown = kib;
    }
  }
  void finish() { bar.reset(); }
};

// --server checked as soon as the options are parsed: a malformed URL (a port beyond 65535) is a
// usage error before anything is read or sent, not a failure to connect.
void check_server_option(const OptionParser& options) {
  try {
    service::check_server_url(options.text("server"));
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  // A certificate for a plain-HTTP server would be ignored: the user meant https://, or no
  // certificate (a trial: it was ignored without a word).
  if (options.has("ca-cert") && options.text("server").rfind("https://", 0) != 0) {
    throw UsageError("--ca-cert is for an https:// server; --server '" + options.text("server") +
                     "' is plain HTTP (use https://, or leave --ca-cert out)");
  }
}

int timeout_option(const OptionParser& options) {
  return static_cast<int>(options.integer("timeout", 1, 86400));
}

service::ClientOptions client_options(const OptionParser& options, TransferBar* bar) {
  service::ClientOptions result;
  result.server = options.text("server");
  if (options.has("ca-cert")) result.ca_cert = options.text("ca-cert");
  result.timeout_s = timeout_option(options);
  if (bar != nullptr) {
    result.progress = [bar](uint64_t done, uint64_t total) { bar->update(done, total); };
  }
  return result;
}

// --job, checked as soon as the options are parsed: a malformed id is a usage error, never sent
// (the server would answer 404, as for a job it does not have).
std::string job_option(const OptionParser& options) {
  const std::string job = options.text("job");
  if (!service::is_job_id(job)) {
    throw UsageError("--job '" + job + "' is not a job id: expected " + service::kJobIdForm);
  }
  return job;
}

// The server's tokens are 32 random bytes in lowercase hex (service::is_token). Anything else (a
// key file given by mistake, a truncated copy) is refused here and never sent: it could be a
// secret.
using service::is_token;

// A descriptor closed when it goes out of scope.
struct OpenFile {
  int fd = -1;
  ~OpenFile() {
    if (fd >= 0) ::close(fd);
  }
};

// flock(2) `operation` (LOCK_SH to read a token, LOCK_EX to register one) on `fd`, the --token-file
// `path` open, waiting until `deadline` (--timeout, `timeout_s`) while another client holds a lock
// in the way: the wait had no end (a client killed while registering releases its lock, but one
// stopped with SIGSTOP, or stuck, holds it). Throws std::runtime_error naming the file when the
// wait ends so, or when flock fails.
void lock_token_file(int fd, int operation, const std::string& path,
                     std::chrono::steady_clock::time_point deadline, int timeout_s) {
  bool said = false;
  // Polled: flock has no timeout of its own, and an alarm to end it would reach the whole process.
  while (::flock(fd, operation | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) {
      throw std::runtime_error("cannot lock --token-file '" + printable_text(path) +
                               "': " + std::strerror(errno));
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      throw std::runtime_error(
          "cannot lock --token-file '" + printable_text(path) +
          "': another cryptonets client holds its lock (while it registers keys for the file) and "
          "did not release it within --timeout " +
          std::to_string(timeout_s) + " s; run again once that client has finished");
    }
    if (!said) {
      std::fprintf(stderr,
                   "waiting for another cryptonets client registering for --token-file '%s'\n",
                   printable_text(path).c_str());
      said = true;
    }
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        std::chrono::milliseconds(20), deadline - now));
  }
}

// The token in `fd`, the --token-file `path` open: a first line that is a token, and after it
// nothing but one more line end. Throws std::runtime_error naming the file otherwise.
std::string token_in_file(int fd, const std::string& path) {
  // A token and its line ends take at most 66 bytes: a file longer than kRead holds something
  // else, and is not read whole.
  constexpr size_t kRead = 4096;
  std::string text(kRead + 1, '\0');
  size_t got = 0;
  while (got < text.size()) {
    const ssize_t count =
        ::pread(fd, text.data() + got, text.size() - got, static_cast<off_t>(got));
    if (count < 0 && errno == EINTR) continue;
    if (count < 0) {
      throw std::runtime_error("cannot read a token from '" + path + "': " + std::strerror(errno));
    }
    if (count == 0) break;
    got += static_cast<size_t>(count);
  }
  text.resize(got);
  const size_t end = text.find('\n');
  const std::string token = text.substr(0, end);
  if (token.empty()) {
    throw std::runtime_error("cannot read a token from '" + path + "': its first line is empty");
  }
  const std::string rest = end == std::string::npos ? "" : text.substr(end + 1);
  const bool one_line = rest.empty() || rest == "\n";
  if (!is_token(token) || !one_line) {
    throw std::runtime_error("'" + path +
                             "' does not hold a token from cryptonets client register (one line "
                             "of 64 lowercase hex digits, no spaces or carriage return); it was "
                             "not sent");
  }
  return token;
}

// The token in the --token-file `path`, read under a shared lock (flock LOCK_SH) taken within
// --timeout (`timeout_s`): a client registering for the file holds its lock until the token is
// saved, and its file stays empty until then. Throws UsageError for a directory,
// std::runtime_error naming the file for anything else that is not a token file, and
// lock_token_file's error when the lock stays taken.
std::string read_token_file(const std::string& path, int timeout_s) {
  // A directory is a wrong path, as for every other option naming a file (--out DIR: exit 2).
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    throw UsageError("--token-file '" + printable_text(path) +
                     "' is a directory: give the file that client register wrote the token to");
  }
  service::require_regular_file(path, "--token-file");  // a FIFO would block the open
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  for (;;) {
    OpenFile file{service::open_regular_file(path)};
    if (file.fd < 0) {
      throw std::runtime_error("cannot open --token-file '" + path + "' for reading: " +
                               (errno == EINVAL ? "not a regular file" : std::strerror(errno)));
    }
    lock_token_file(file.fd, LOCK_SH, path, deadline, timeout_s);
    // The client waited for saves its token by a rename (another file at `path` now) or removes
    // the empty file when its registration fails: the file `path` names now is the one to read.
    struct stat opened {};
    struct stat now {};
    if (::fstat(file.fd, &opened) != 0 || (::stat(path.c_str(), &now) != 0 && errno != ENOENT)) {
      throw std::runtime_error("cannot read --token-file '" + path + "': " + std::strerror(errno));
    }
    if (now.st_dev == opened.st_dev && now.st_ino == opened.st_ino) {
      return token_in_file(file.fd, path);
    }
  }
}

std::string token_option(const OptionParser& options) {
  if (options.has("token") == options.has("token-file")) {
    throw UsageError("give either --token-file FILE or --token TOKEN");
  }
  if (options.has("token")) {
    if (!is_token(options.text("token"))) {
      throw UsageError(
          "--token expects a token from cryptonets client register (64 lowercase hex "
          "digits)");
    }
    return options.text("token");
  }
  return read_token_file(options.text("token-file"), timeout_option(options));
}

// A key set id (or a file id) as the server's answers show it: "0x" and 16 hex digits.
std::string key_set_id_hex(uint64_t id) {
  char text[24];
  std::snprintf(text, sizeof text, "0x%016llx", static_cast<unsigned long long>(id));
  return text;
}

// Refuses an output whose directory is missing or not writable, before anything is uploaded: the
// job would otherwise run and then fail at the download.
// A symbolic link is written through (the writers replace its target): the target's directory is
// the one checked (a trial: a link into a read-only directory passed, and the keys were sent).
void require_output_directory(const std::string& path) {
  std::error_code error;
  std::filesystem::path target = path;
  if (std::filesystem::is_symlink(path, error)) {
    const std::filesystem::path resolved = std::filesystem::weakly_canonical(path, error);
    if (!error) target = resolved;
  }
  const std::filesystem::path parent = target.parent_path();
  const std::string dir = parent.empty() ? "." : parent.string();
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    throw std::runtime_error("cannot write '" + path + "': directory '" + dir +
                             "': " + std::strerror(errno));
  }
}

// client register --token-file writes only an absent or empty file: a trial's run wrote the token
// over an encrypted batch, and another's over a valid token, whose queued and finished jobs then
// answered 404 for ever (the token is the only way to them). A usage error (exit 2), before the
// keys are sent; the file is left as it is.
void refuse_to_replace_token_file(const std::string& path) {
  std::error_code error;
  if (std::filesystem::exists(path, error) && !std::filesystem::is_regular_file(path, error)) {
    throw UsageError("--token-file '" + printable_text(path) +
                     "' exists and is not a regular file; choose another path");
  }
  bool token = false;
  const std::optional<uintmax_t> size = file_not_to_replace(path, [&token](std::istream& existing) {
    // At most a token and its newline: a batch is not read whole.
    std::string text(66, '\0');
    existing.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<size_t>(existing.gcount()));
    if (!text.empty() && text.back() == '\n') text.pop_back();
    token = is_token(text);
    return false;  // nothing but an empty file is replaced
  });
  if (size && token) {
    throw UsageError("--token-file '" + printable_text(path) +
                     "' already holds a token: registering again would replace it, and the jobs "
                     "of its key set could no longer be reached (the token is the only way to "
                     "them); nothing was sent. Give another path, or remove '" +
                     printable_text(path) + "' first if its token is no longer needed");
  }
  if (size) {
    throw UsageError("--token-file '" + printable_text(path) +
                     "' exists and is not a token file (it holds " + format_bytes(*size) +
                     "); client register writes only an absent or empty file: choose another "
                     "path");
  }
}

// A symbolic link to a missing file as --token-file: O_CREAT | O_EXCL does not follow it, and
// open() finds no file (TokenFileLock's loop spun for ever on one, a trial). A UsageError, before
// any request (client infer asked for the server's profile first, a trial).
void refuse_dangling_token_link(const std::string& path) {
  struct stat link {};
  struct stat target {};
  if (::lstat(path.c_str(), &link) == 0 && S_ISLNK(link.st_mode) &&
      ::stat(path.c_str(), &target) != 0 && errno == ENOENT) {
    throw UsageError("--token-file '" + printable_text(path) +
                     "' is a symbolic link to a missing file; give the path of the file "
                     "itself, or remove the link");
  }
}

// A --token-file while a token is registered for it: open (created empty, mode 0600, if absent)
// and locked with flock(2) LOCK_EX, so that one client at a time registers for it. Three
// concurrent client infer --token-file F (F absent) each registered a key set and F kept one
// token: the others' key sets held a --max-key-sets slot each for the retention period. Now the
// first registers and saves its token; the others wait for the lock (saying so) and find the token
// in F. The token is written as before (AtomicFileWriter: a new file renamed over F, mode 0600)
// while the lock on the old file is held; a waiter that then gets that lock sees that F is another
// file now and locks that one. A file this created and left empty (the registration failed) is
// removed before the lock is released; one left by a client killed meanwhile stays empty, which
// every verb takes for an absent file.
class TokenFileLock {
 public:
  // Waits at most `timeout_s` (--timeout) for a lock another client holds (lock_token_file).
  TokenFileLock(std::string path, int timeout_s) : path_(std::move(path)) {
    try {
      lock(timeout_s);
    } catch (...) {
      release();
      throw;
    }
  }
  TokenFileLock(const TokenFileLock&) = delete;
  TokenFileLock& operator=(const TokenFileLock&) = delete;
  ~TokenFileLock() { release(); }

  // The token the file holds now (saved by another client while this one waited), or nullopt
  // for an empty file; a file that holds anything else is refused as read_token_file refuses it.
  // Read through this lock's descriptor: a shared lock of its own would wait for this one.
  std::optional<std::string> token() const {
    struct stat opened {};
    if (::fstat(fd_, &opened) == 0 && opened.st_size == 0) return std::nullopt;
    return token_in_file(fd_, path_);
  }

  // Saves `token` in the file (atomically, mode 0600), the lock still held. If it cannot be
  // saved, the error gives the token: the key set is registered, and the token is the only way
  // to it (the server never shows it again).
  void save(const std::string& token) {
    try {
      AtomicFileWriter file(path_, /*owner_only=*/true);  // mode 0600: the token is a credential
      file.stream() << token << "\n";
      file.commit();
    } catch (const std::exception& e) {
      throw std::runtime_error(
          std::string(e.what()) + "; the keys are registered and their token is " +
          printable_text(token) + " (save it: the server cannot show it again)");
    }
    created_ = false;  // the file at path_ is the token's now, never removed
  }

 private:
  void lock(int timeout_s) {
    // The token is saved by a rename into the file's directory: one where that cannot be done is
    // refused before the keys are sent (a trial's register to a read-only directory holding an
    // empty file registered a key set and then lost its token).
    require_output_directory(path_);
    refuse_dangling_token_link(path_);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    for (;;) {
      fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      created_ = fd_ >= 0;
      // Under umask 0777 the file was mode 0000: the next client could not open it.
      if (created_ && !keep_owner_read_write(fd_, 0600)) {
        const int saved = errno;
        ::unlink(path_.c_str());
        created_ = false;
        throw std::runtime_error("cannot give --token-file '" + printable_text(path_) +
                                 "' its owner's read and write: " + std::strerror(saved));
      }
      if (fd_ < 0 && errno == EEXIST) {
        fd_ = ::open(path_.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);  // a FIFO: no wait
        if (fd_ < 0 && errno == ENOENT) {
          refuse_dangling_token_link(path_);  // made a dangling link meanwhile
          continue;                           // removed meanwhile: try again
        }
      }
      if (fd_ < 0) {
        throw std::runtime_error("cannot open --token-file '" + printable_text(path_) +
                                 "': " + std::strerror(errno));
      }
      struct stat opened {};
      if (::fstat(fd_, &opened) != 0 || !S_ISREG(opened.st_mode)) {
        throw UsageError("--token-file '" + printable_text(path_) +
                         "' exists and is not a regular file; choose another path");
      }
      lock_token_file(fd_, LOCK_EX, path_, deadline, timeout_s);
      // Still the file at path_? The client that held the lock may have saved its token (a new
      // file) or removed the empty file it had created.
      struct stat now {};
      if (::stat(path_.c_str(), &now) == 0 && now.st_dev == opened.st_dev &&
          now.st_ino == opened.st_ino) {
        break;
      }
      close_file();
    }
    if (created_) {
      const std::filesystem::path parent = std::filesystem::path(path_).parent_path();
      service::sync_directory(parent.empty() ? "." : parent.string());
    }
  }

  // The empty file this created, if still at path_, is removed (a failed registration leaves
  // none); then the lock is released.
  void release() {
    if (created_ && fd_ >= 0) {
      struct stat opened {};
      struct stat now {};
      if (::fstat(fd_, &opened) == 0 && opened.st_size == 0 && ::stat(path_.c_str(), &now) == 0 &&
          now.st_dev == opened.st_dev && now.st_ino == opened.st_ino) {
        ::unlink(path_.c_str());
      }
    }
    close_file();
  }

  void close_file() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  std::string path_;
  int fd_ = -1;
  bool created_ = false;
};

// --keys: a directory, said so before its files are looked for ("cannot read 'FILE/params': Not
// a directory" told nothing).
KeyDirectory key_directory_option(const OptionParser& options) {
  const std::string dir = options.text("keys");
  std::error_code error;
  if (std::filesystem::exists(dir, error) && !std::filesystem::is_directory(dir, error)) {
    throw std::runtime_error(
        "--keys expects the key directory written by cryptonets keygen "
        "(params, evaluation.key, public.key, secret.key); '" +
        dir + "' is not a directory");
  }
  return KeyDirectory(dir);
}

// The client's key directory, checked for what register sends (never the secret key: each file's
// role, header and records), before any request (infer asks for the server's profile first);
// Client::register_keys checks the roles again before it connects.
KeyDirectory client_keys(const OptionParser& options) {
  const KeyDirectory keys = key_directory_option(options);
  for (const std::string& path : {keys.parameters, keys.evaluation_keys, keys.public_keys})
    service::require_regular_file(path, "a file of --keys");
  require_one_key_set({keys.parameters, keys.evaluation_keys, keys.public_keys});
  service::require_key_set_upload(keys);
  return keys;
}

// A registration answered 503 (the server building other key sets' tables, --max-key-set-loads;
// short of file handles; shutting down) is sent again after the server's Retry-After (seconds or
// an HTTP date: service::retry_after_seconds), at most kRegisterWaitSeconds each time (1 s without
// one), kRegisterRetries times: it failed at once, and a client registering while another loaded
// its keys had to run again by hand.
constexpr int kRegisterRetries = 3;
constexpr int kRegisterWaitSeconds = 10;

using Deadline = std::optional<std::chrono::steady_clock::time_point>;

// The wait before a request answered 503 is sent again: the server's Retry-After, at least 1 s
// and at most `most_s`, and never past `deadline` (client infer's --wait); zero once it has passed.
std::chrono::steady_clock::duration retry_wait(const service::ServiceError& e, int most_s,
                                               const Deadline& deadline) {
  const std::chrono::steady_clock::duration wait =
      std::chrono::seconds(std::clamp(e.retry_after_s(), 1, most_s));
  if (!deadline) return wait;
  const auto left = *deadline - std::chrono::steady_clock::now();
  return std::clamp(left, std::chrono::steady_clock::duration::zero(), wait);
}

// A wait as the messages give it, in whole seconds rounded up.
long long wait_seconds(std::chrono::steady_clock::duration wait) {
  return static_cast<long long>(std::chrono::ceil<std::chrono::seconds>(wait).count());
}

// `deadline`: client infer's --wait, which the retries never pass (a Retry-After of 10 s made
// --wait 1 wait 30 s).
std::string do_register(const OptionParser& options, const KeyDirectory& keys,
                        const Deadline& deadline = std::nullopt) {
  for (int attempt = 1;; ++attempt) {
    TransferBar bar("uploading keys");
    service::Client client(client_options(options, &bar));
    try {
      const std::string token = client.register_keys(keys);
      bar.finish();
      return token;
    } catch (const service::ServiceError& e) {
      bar.finish();
      if (e.status() != 503) throw;
      const std::chrono::steady_clock::duration wait =
          retry_wait(e, kRegisterWaitSeconds, deadline);
      if (attempt > kRegisterRetries || wait <= std::chrono::steady_clock::duration::zero()) {
        throw service::ServiceError(e.status(),
                                    std::string(e.what()) + "; gave up after " +
                                        std::to_string(attempt) + " attempts" +
                                        (attempt > kRegisterRetries ? "" : " (--wait has passed)") +
                                        ": register again later",
                                    e.retry_after_s(), e.code());
      }
      std::fprintf(stderr, "%s; registering again in %lld s (retry %d of %d)\n",
                   printable_text(e.what()).c_str(), wait_seconds(wait), attempt, kRegisterRetries);
      std::this_thread::sleep_for(wait);
    }
  }
}

// What to do about a batch of another model profile than the server's (other_profile_refusal says
// it in general), with this server's URL: fetch its profile, make keys for it, encrypt again.
std::string server_profile_steps(const OptionParser& options) {
  return "This server's profile: cryptonets client profile --server " +
         printable_text(options.text("server")) +
         " --out server.profile, then cryptonets keygen --profile server.profile --out-dir "
         "NEWDIR, and encrypt with --keys NEWDIR";
}

// The batch `path` against the server's model profile (GET /v1/profile, a few kB), before anything
// is registered or uploaded: a batch encrypted for another model is refused here (the server's
// 422 came only after the whole upload, ~590 MiB). A server that answers 404 (older than the
// route) is not checked: its 422 still refuses such a batch. Any other failure of the request is
// thrown as the verb's requests' are.
void require_server_profile(const OptionParser& options, const std::string& path) {
  const uint64_t batch = read_protocol_header(path).profile_fingerprint;
  uint64_t served = 0;
  try {
    served = service::Client(client_options(options, nullptr)).profile().profile.fingerprint();
  } catch (const service::ServiceError& e) {
    if (e.status() == 404) return;
    throw;
  }
  if (batch == served) return;
  throw std::runtime_error(other_profile_refusal("'" + printable_text(path) + "'", batch, served,
                                                 ProfileSource::kService) +
                           ". " + server_profile_steps(options) + "; nothing was sent");
}

service::JobStatus do_submit(const OptionParser& options, const std::string& token,
                             const service::CheckedUpload& batch) {
  TransferBar bar("uploading " + batch.path());
  service::Client client(client_options(options, &bar));
  try {
    const service::JobStatus job = client.submit(token, batch);
    bar.finish();
    return job;
  } catch (const service::ServiceError& e) {
    // A batch encrypted with another model's profile, which require_server_profile let through
    // (the server restarted with another model between that check and the upload; a server older
    // than GET /v1/profile sends no such code): the server's answer says how to get its profile in
    // general; here with this server's URL, and the steps after it.
    if (e.code() != "other_profile") throw;
    bar.finish();
    throw service::ServiceError(e.status(),
                                std::string(e.what()) + ". " + server_profile_steps(options),
                                e.retry_after_s(), e.code());
  }
}

// The images file a job was submitted with (client infer): its name, and its file id as read
// before the upload.
struct SubmittedBatch {
  std::string path;
  uint64_t file_id = 0;
};

// `request`: the batch the job was submitted with (client infer), whose file id the scores must
// answer: a server that sent the scores of other images (another job's, of the same key set) had
// them decrypted into another batch's labels without a word (decrypt --request would have refused
// them, but client infer is the whole round trip). Checked before the scores are written or the
// job deleted. The id is the one read before the upload, not the file's now: --in replaced while
// the job ran (encrypt --out of the next batch to the same path) had the job's own scores refused
// as another batch's.
void do_fetch(const OptionParser& options, const std::string& token, const std::string& job,
              const std::string& out, const std::optional<KeyDirectory>& keys,
              const std::optional<SubmittedBatch>& request = std::nullopt) {
  TransferBar bar("downloading scores");
  service::Client client(client_options(options, &bar));
  std::function<void(const std::string&)> check;
  if (keys) check = service::scores_check(*keys);
  if (request) {
    const uint64_t sent = request->file_id;
    check = [keys_check = std::move(check), sent, request = request->path,
             job](const std::string& part) {
      if (keys_check) keys_check(part);
      const uint64_t answered = read_protocol_header(part).answers_file_id;
      if (answered != sent) {
        throw std::runtime_error("'" + part + "' answers the images file with id " +
                                 key_set_id_hex(answered) + ", not '" + request + "' (id " +
                                 key_set_id_hex(sent) +
                                 "): the server sent the scores of other "
                                 "images for job " +
                                 job + "; it stays on the server");
      }
    };
  }
  client.fetch(token, job, out, check);
  bar.finish();
}

int client_register(std::span<char* const> arguments) {
  OptionParser options(
      "client register",
      "Sends the key directory's params, evaluation.key and public.key (never\n"
      "secret.key) to the service and prints the token that submits jobs against\n"
      "them (or writes it, mode 0600, to --token-file). A server busy loading\n"
      "other key sets answers 503: the keys are sent again after its Retry-After\n"
      "(at most 10 s each time, 3 times; then exit 1), as client infer does.\n"
      "--token-file must be absent or empty: a file that holds a token is never\n"
      "replaced (exit 2, nothing sent; the token is the only way to its key set's\n"
      "jobs). The file is locked while the keys are sent: a token another client\n"
      "saved there meanwhile is kept, and this one sends nothing (exit 1).");
  add_server_options(options);
  options.add_value("keys", "DIR", "client key directory from cryptonets keygen", std::nullopt,
                    true);
  options.add_value("token-file", "FILE",
                    "write the token here (mode 0600) instead of stdout; absent or empty, never "
                    "an earlier token");
  if (!options.parse(arguments)) return kExitSuccess;
  check_server_option(options);
  refuse_output_over_inputs(options, {"token-file"}, {});  // before the keys are sent
  if (options.has("token-file")) refuse_to_replace_token_file(options.text("token-file"));
  const KeyDirectory keys = client_keys(options);
  if (options.has("token-file")) {
    // Locked while the keys are sent: a token saved by another client meanwhile (client infer,
    // client register) is never replaced, and this one registers nothing then.
    const std::string path = options.text("token-file");
    TokenFileLock file(path, timeout_option(options));
    if (file.token()) {
      throw std::runtime_error("--token-file '" + printable_text(path) +
                               "' now holds a token, saved by another cryptonets client while "
                               "this one waited; it was kept and nothing was sent. Give another "
                               "path to register again");
    }
    file.save(do_register(options, keys));
    std::printf("registered; token in %s\n", printable_text(path).c_str());
  } else {
    const std::string token = do_register(options, keys);
    std::printf("%s\n", printable_text(token).c_str());  // the server's: one line, whatever it sent
  }
  return kExitSuccess;
}

int client_submit(std::span<char* const> arguments) {
  OptionParser options("client submit",
                       "Uploads an encrypted batch from cryptonets encrypt and prints the job id\n"
                       "once the server has verified it and stored it durably. A full queue\n"
                       "answers 503 (exit 1, with the Retry-After the server gave). First the\n"
                       "batch's model profile is checked against the server's (GET /v1/profile):\n"
                       "a batch encrypted for another model is refused before it is sent.");
  add_server_options(options);
  add_token_options(options);
  options.add_value("in", "FILE", "encrypted images from cryptonets encrypt", std::nullopt, true);
  if (!options.parse(arguments)) return kExitSuccess;
  check_server_option(options);
  const std::string token = token_option(options);
  const std::string in = options.text("in");
  // The file's role first (a key file is named as such), then its model profile against the
  // server's: both before the upload, which sends the file so checked, not read again.
  const service::CheckedUpload batch(in, ProtocolFileKind::kCiphertexts,
                                     "encrypted images from cryptonets encrypt");
  require_server_profile(options, in);
  const service::JobStatus job = do_submit(options, token, batch);
  std::printf("%s\n", printable_text(job.job).c_str());
  return kExitSuccess;
}

int client_status(std::span<char* const> arguments) {
  OptionParser options("client status",
                       "Prints a job's state as JSON (queued, running, done,\n"
                       "failed; batches done).");
  add_server_options(options);
  add_token_options(options);
  options.add_value("job", "ID", "the job id from client submit", std::nullopt, true);
  // --timeout's help promised it, and the verb had none ("unknown option --wait").
  options.add_value("wait", "SECONDS",
                    "long poll: the server answers once the job has ended, or after SECONDS (at "
                    "most 60; it may answer at once when many clients wait)",
                    "0");
  if (!options.parse(arguments)) return kExitSuccess;
  check_server_option(options);
  const std::string job = job_option(options);
  const int wait_s = static_cast<int>(options.integer("wait", 0, 60));
  service::Client client(client_options(options, nullptr));
  std::printf("%s\n", client.status(token_option(options), job, wait_s).json.c_str());
  return kExitSuccess;
}

int client_fetch(std::span<char* const> arguments) {
  OptionParser options(
      "client fetch",
      "Downloads a finished job's encrypted scores (the file cryptonets infer\n"
      "writes; decrypt it with cryptonets decrypt), checks them against --keys when\n"
      "given, then deletes the job on the server unless --keep. The download goes to\n"
      "OUT.part-PID first, renamed to OUT once complete and checked, removed on\n"
      "failure or Ctrl-C; one left by a fetch that was killed outright (SIGKILL,\n"
      "a crash) is removed by the next fetch to the same OUT once its process PID\n"
      "has ended (a part file of a fetch still running is never touched).");
  add_server_options(options);
  add_token_options(options);
  options.add_value("job", "ID", "the job id from client submit", std::nullopt, true);
  options.add_value("out", "FILE",
                    "encrypted scores to write (replaces only encrypted scores or an empty file)",
                    std::nullopt, true);
  options.add_value("keys", "DIR", "client key directory: check the scores before writing them");
  options.add_flag("keep",
                   "leave the job and its scores on the server (without it, fetch deletes them "
                   "once the scores are written)");
  if (!options.parse(arguments)) return kExitSuccess;
  check_server_option(options);
  const std::string job = job_option(options);
  refuse_output_over_inputs(options, {"out"}, {"token-file"});
  refuse_to_replace_other_than_scores(options, "out");
  const std::string token = token_option(options);
  std::optional<KeyDirectory> keys;
  if (options.has("keys")) {
    keys.emplace(key_directory_option(options));
    for (const std::string& path : {keys->parameters, keys->public_keys})
      service::require_regular_file(path, "a file of --keys");  // a FIFO would block the load
  }
  do_fetch(options, token, job, options.text("out"), keys);
  std::printf("scores of job %s in %s\n", printable_text(job).c_str(),
              printable_text(options.text("out")).c_str());
  if (!options.flag("keep")) {
    service::Client(client_options(options, nullptr)).remove(token, job);
    // Said, because a second fetch or a delete of this job now answers 404.
    std::printf("job %s deleted on the server (--keep keeps it)\n", job.c_str());
  }
  return kExitSuccess;
}

int client_delete(std::span<char* const> arguments) {
  OptionParser options("client delete", "Deletes a job and its scores on the server.");
  add_server_options(options);
  add_token_options(options);
  options.add_value("job", "ID", "the job id from client submit", std::nullopt, true);
  if (!options.parse(arguments)) return kExitSuccess;
  check_server_option(options);
  const std::string job = job_option(options);
  service::Client(client_options(options, nullptr)).remove(token_option(options), job);
  return kExitSuccess;
}

int client_profile(std::span<char* const> arguments) {
  OptionParser options(
      "client profile",
      "Downloads the server's model profile (GET /v1/profile; no token): the file cryptonets\n"
      "profile writes for the server's model, without its weights. It is checked (read as a\n"
      "profile) before it is written, atomically, to --out. keygen --profile FILE makes keys\n"
      "for the server's model with it (encrypt and decrypt then use the key directory's copy).");
  add_server_options(options);
  options.add_value("out", "FILE",
                    "the profile to write (replaces only a model profile or an empty file; never "
                    "a key directory's model.profile)",
                    std::nullopt, true);
  if (!options.parse(arguments)) return kExitSuccess;
  check_server_option(options);
  // As profile --out: a profile may replace a profile, nothing else (cli_support.hpp).
  refuse_output_over_inputs(options, {"out"}, {}, /*may_replace_profile=*/true);
  refuse_to_replace_other_than_profile(options, "out");
  const std::string out = options.text("out");
  require_output_directory(out);
  const service::ServedProfile served = service::Client(client_options(options, nullptr)).profile();
  // The server's bytes, as cryptonets profile wrote them (read as a profile above).
  AtomicFileWriter file(out, /*owner_only=*/false, /*may_replace_keys=*/false,
                        /*may_replace_profile=*/true);
  file.stream() << served.text;
  if (!file.stream()) {
    throw std::runtime_error("cannot write profile '" + out + "': " + file.failure());
  }
  file.commit();
  std::printf(
      "wrote %s: the profile of the server's model, %s (keys for it: cryptonets keygen "
      "--profile %s --out-dir DIR)\n",
      printable_text(out).c_str(), profile_summary(served.profile).c_str(),
      printable_text(out).c_str());
  return kExitSuccess;
}

int client_infer(std::span<char* const> arguments) {
  OptionParser options(
      "client infer",
      "keygen -> encrypt -> client infer -> decrypt: checks the batch's model profile against the\n"
      "server's (GET /v1/profile: a batch encrypted for another model is refused before anything\n"
      "is sent; an older server without it, 404, is not checked), registers the keys (or reuses\n"
      "the token in --token-file, registering and saving one there if the file does not exist or\n"
      "is empty; a server busy loading other key sets, 503, gets the keys again after its\n"
      "Retry-After, at most 10 s each time, 3 times, never past --wait), uploads the batch, waits\n"
      "for the job (retrying a full queue after the server's Retry-After, never past --wait),\n"
      "downloads and checks the scores,\n"
      "and deletes the job on the server. If the server no longer has the token's key set (410:\n"
      "expired or unusable), it registers the keys again once (saving the new token in\n"
      "--token-file) and says so on stderr. A --token-file of another key set than --keys, or one\n"
      "the server does not know (401), is an error that says how to get the right token; the file\n"
      "is left as it is. Clients sharing one --token-file register one at a time (the file is\n"
      "locked meanwhile; the others wait, saying so, at most --timeout, and use the token saved\n"
      "there): concurrent client infer runs register one key set, not one each. The paths and\n"
      "the lock of --token-file are checked before any request.");
  add_server_options(options);
  options.add_value("keys", "DIR", "client key directory from cryptonets keygen", std::nullopt,
                    true);
  options.add_value("token-file", "FILE",
                    "reuse this token (registered and saved if absent or empty)");
  options.add_value("in", "FILE", "encrypted images from cryptonets encrypt", std::nullopt, true);
  options.add_value("out", "FILE",
                    "encrypted scores to write (replaces only encrypted scores or an empty file)",
                    std::nullopt, true);
  options.add_value("wait", "SECONDS",
                    "give up after this long from the start: retries of a busy server and the "
                    "wait for the scores stop then (a transfer under way is not cut off)",
                    "86400");
  if (!options.parse(arguments)) return kExitSuccess;
  check_server_option(options);
  // Every option's value before any request: --wait 0 was a usage error only after GET
  // /v1/profile had been sent (a trial).
  const auto wait_option = std::chrono::seconds(options.integer("wait", 1, 1 << 30));
  timeout_option(options);
  // --out may replace neither the images nor the token file (which infer may also write).
  refuse_output_over_inputs(options, {"out"}, {"in", "token-file"});
  refuse_to_replace_other_than_scores(options, "out");
  require_output_directory(options.text("out"));
  // An empty --token-file (touch, mktemp) holds no token yet: written as an absent one is, as
  // client register fills it (a trial: "cannot read a token ...: its first line is empty").
  bool token_kept = false;
  if (options.has("token-file")) {
    // Absent, it is written (registered and saved): an output, held to the checks every output
    // path gets (exit 2 naming the option, as client register; a trial got exit 1 unnamed).
    const std::string path = options.text("token-file");
    std::error_code error;
    token_kept = std::filesystem::exists(path, error) &&
                 !(std::filesystem::is_regular_file(path, error) &&
                   std::filesystem::file_size(path, error) == 0 && !error);
    // A kept token needs no write unless the server has lost its key set (410): that
    // registration checks the directory again before it sends the keys (TokenFileLock).
    if (!token_kept) {
      refuse_dangling_token_link(path);  // TokenFileLock's refusal, before the checks below
      require_output_path("token-file", path);
      require_output_directory(path);
    }
  }
  const KeyDirectory keys = client_keys(options);
  const std::string in = options.text("in");
  // A batch under other keys is refused here, before the upload.
  service::require_regular_file(in, "--in");
  const ProtocolHeader header = read_protocol_header(in);
  if (header.kind != ProtocolFileKind::kCiphertexts) {
    throw std::runtime_error("'" + in + "' holds " + protocol_kind_name(header.kind) +
                             ", expected encrypted images from cryptonets encrypt");
  }
  // Scores are ciphertexts too, under the same keys: the header says what they answer.
  if (header.answers_file_id != 0) {
    throw std::runtime_error("'" + in +
                             "' is a scores file (encrypted scores from cryptonets infer or "
                             "client fetch), expected encrypted images from cryptonets encrypt; "
                             "nothing was sent");
  }
  const ProtocolHeader key_header = read_protocol_header(keys.parameters);
  // A batch of the other scheme is under other keys too: both schemes named, as infer does.
  if (header.scheme != key_header.scheme) {
    throw std::runtime_error(
        scheme_mismatch("'" + in + "'", header.scheme, key_header.scheme, "the keys are") +
        "; nothing was sent");
  }
  if (header.key_set_id != key_header.key_set_id) {
    throw std::runtime_error("'" + in + "' is encrypted under other keys than " + keys.parameters);
  }
  // The whole file, before the keys are registered: every record, nothing appended after them.
  // Once: each submit below sends the file so checked, not read again.
  const service::CheckedUpload batch(in, ProtocolFileKind::kCiphertexts,
                                     "encrypted images from cryptonets encrypt");
  // A kept token read before any request: a file that holds none is refused, nothing sent.
  // Otherwise the file is locked for the registration before any request too (what TokenFileLock
  // refuses, a dangling link or a file it cannot open, was found only after GET /v1/profile); a
  // token another client saved there while this one waited is used instead.
  std::string token;
  std::optional<TokenFileLock> registering;
  if (token_kept) token = read_token_file(options.text("token-file"), timeout_option(options));
  if (!token_kept && options.has("token-file")) {
    registering.emplace(options.text("token-file"), timeout_option(options));
    if (const std::optional<std::string> saved = registering->token()) {
      registering.reset();
      token = *saved;
      token_kept = true;  // as if read at the start: another key set's is said so below
      std::fprintf(stderr, "using the token another cryptonets client saved in %s meanwhile\n",
                   printable_text(options.text("token-file")).c_str());
    }
  }
  // The batch's model profile against the server's, before the keys are registered too.
  require_server_profile(options, in);
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + wait_option;
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };

  if (!token_kept && !options.has("token-file")) token = do_register(options, keys, deadline);
  if (registering) {
    token = do_register(options, keys, deadline);
    registering->save(token);
    registering.reset();
  }

  service::JobStatus job;
  bool registered_again = false;
  for (;;) {
    try {
      job = do_submit(options, token, batch);
      break;
    } catch (const service::ServiceError& e) {
      // 410: the server no longer has the token's key set (expired, or unusable). This command
      // has what a registration sends, so it registers once more; a second 410 is an error.
      if (e.status() == 410 && !registered_again) {
        registered_again = true;
        if (!options.has("token-file")) {
          token = do_register(options, keys, deadline);
          std::fprintf(stderr, "%s\nregistered the keys again; submitting again\n",
                       printable_text(e.what()).c_str());
          continue;
        }
        // Several clients sharing the file got the 410: the first registers again, the others
        // use the token it saved.
        const std::string path = options.text("token-file");
        TokenFileLock file(path, timeout_option(options));
        const std::optional<std::string> saved = file.token();
        if (saved && *saved != token) {
          token = *saved;
          std::fprintf(stderr,
                       "%s\nusing the new token another cryptonets client saved in %s; "
                       "submitting again\n",
                       printable_text(e.what()).c_str(), printable_text(path).c_str());
          continue;
        }
        token = do_register(options, keys, deadline);
        file.save(token);
        std::fprintf(stderr,
                     "%s\nregistered the keys again; new token saved in %s; submitting again\n",
                     printable_text(e.what()).c_str(), printable_text(path).c_str());
        continue;
      }
      // A token kept in --token-file from an earlier registration, of another key set than
      // --keys (keygen made new keys), or one this server does not know: said so, with what to
      // do. Not registered again by itself: the file's token may still be needed for its own
      // key set's jobs.
      if (token_kept && !registered_again && (e.code() == "other_key_set" || e.status() == 401)) {
        const std::string file = options.text("token-file");
        const std::string what =
            e.status() == 401
                ? "the token in '" + file + "' is unknown to this server"
                : "the token in '" + file + "' belongs to another key set than '" +
                      options.text("keys") + "' (" +
                      key_set_id_hex(read_protocol_header(keys.parameters).key_set_id) + ")";
        throw std::runtime_error(
            what + ": " + e.what() + "; register '" + options.text("keys") +
            "' and use the token written then: remove '" + file +
            "' and run client infer again (it registers and saves a new token), or give the "
            "--token-file written when these keys were registered");
      }
      if (e.status() != 503) throw;
      // Never past --wait: a Retry-After of an hour was waited whatever --wait said.
      const std::chrono::steady_clock::duration wait =
          retry_wait(e, std::numeric_limits<int>::max(), deadline);
      if (wait <= std::chrono::steady_clock::duration::zero()) {
        throw service::ServiceError(e.status(),
                                    std::string(e.what()) + "; gave up: --wait has passed",
                                    e.retry_after_s(), e.code());
      }
      std::fprintf(stderr, "%s; retrying in %lld s\n", printable_text(e.what()).c_str(),
                   wait_seconds(wait));
      std::this_thread::sleep_for(wait);
    }
  }
  const double uploaded = elapsed();
  // Now, not at the end: if this command stops (Ctrl-C, a failed download), the job can be found.
  std::fprintf(stderr, "job %s accepted (cryptonets client fetch --job %s)\n",
               printable_text(job.job).c_str(), printable_text(job.job).c_str());

  service::Client client(client_options(options, nullptr));
  std::unique_ptr<Progress> bar;
  if (Progress::enabled()) bar = std::make_unique<Progress>("server: batches", job.batches);
  uint64_t shown = 0;
  for (;;) {
    // Long polls: the answer comes as soon as the job ends (or every 2 s for the progress bar).
    const auto asked = std::chrono::steady_clock::now();
    // Never past --wait: a 30 s poll made --wait 1 wait 30 s.
    const long long left = std::chrono::ceil<std::chrono::seconds>(deadline - asked).count();
    job = client.status(token, job.job,
                        static_cast<int>(std::clamp<long long>(left, 1, bar ? 2 : 30)));
    // A server with every long poll slot taken answers at once: ask again a second later, not
    // in a tight loop.
    if ((job.state == "queued" || job.state == "running") &&
        std::chrono::steady_clock::now() - asked < std::chrono::seconds(1)) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    if (bar && job.batches_done > shown) {
      bar->advance(job.batches_done - shown);
      shown = job.batches_done;
    }
    if (job.state == "done") break;
    if (job.state == "failed") {
      throw std::runtime_error("the server could not run job " + job.job + ": " + job.error);
    }
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("job " + job.job + " not done after --wait; it stays on the " +
                               "server: cryptonets client fetch --job " + job.job);
    }
  }
  bar.reset();
  const double computed = elapsed();
  try {
    do_fetch(options, token, job.job, options.text("out"), keys,
             SubmittedBatch{in, header.file_id});
  } catch (const service::ServiceError&) {
    throw;  // the server's own answer says what became of the job
  } catch (const std::runtime_error& error) {
    // The scores could not be written (or downloaded): the job is deleted only after a fetch,
    // so it is still there, and the user is told how to get it (a trial: only "cannot write").
    const std::string message = error.what();
    if (message.find("stays on the server") != std::string::npos) throw;
    throw std::runtime_error(
        message + "; job " + job.job + " is kept on the server: cryptonets client fetch --server " +
        options.text("server") + " --token-file FILE --job " + job.job + " --out FILE");
  }
  client.remove(token, job.job);
  std::printf(
      "job %s: %s, uploaded in %.2f s, scores after %.2f s, fetched after %.2f s: "
      "%s\n",
      printable_text(job.job).c_str(), counted(job.images, "image", "images").c_str(), uploaded,
      computed, elapsed(), printable_text(options.text("out")).c_str());
  return kExitSuccess;
}

struct Verb {
  std::string_view name;
  int (*run)(std::span<char* const>);
  std::string_view summary;
};

constexpr Verb kVerbs[] = {
    {"profile", client_profile, "download the server's model profile (for keygen --profile)"},
    {"register", client_register, "send params, evaluation and public keys; get a token"},
    {"submit", client_submit, "upload an encrypted batch; get a job id"},
    {"status", client_status, "a job's state"},
    {"fetch", client_fetch, "download a job's encrypted scores; deletes the job unless --keep"},
    {"delete", client_delete, "delete a job on the server"},
    {"infer", client_infer, "register, submit, wait, fetch and delete in one go"},
};

void print_verbs(std::FILE* out) {
  std::fprintf(out,
               "usage: cryptonets client <verb> [options]   (cryptonets client <verb> --help)\n"
               "\nverbs:\n");
  for (const Verb& v : kVerbs) {
    std::fprintf(out, "  %-9.*s %.*s\n", static_cast<int>(v.name.size()), v.name.data(),
                 static_cast<int>(v.summary.size()), v.summary.data());
  }
}

}  // namespace

int run_client(std::span<char* const> arguments) {
  // A server that refuses a body early (413, 507) closes the connection under the upload: that is
  // a write error to report, not a silent death by SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  if (arguments.empty()) {
    print_verbs(stderr);
    return kExitUsage;
  }
  const std::string_view verb = arguments[0];
  if (verb == "--help" || verb == "-h" || verb == "help") {
    print_verbs(stdout);
    return kExitSuccess;
  }
  for (const Verb& v : kVerbs) {
    if (v.name != verb) continue;
    try {
      return v.run(arguments.subspan(1));
    } catch (const UsageError& e) {
      // Every verb has its own --help: the pointer names it.
      if (!e.help_command().empty()) throw;
      throw UsageError(e.what(), "client " + std::string(verb));
    }
  }
  throw UsageError("unknown verb '" + std::string(verb) +
                   "' (profile, register, submit, status, fetch, delete, infer)");
}

}  // namespace cryptonets::cli
