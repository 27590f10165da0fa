// The client of the private-inference service.
#include "cryptonets/service/client.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <httplib.h>
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
#include <openssl/err.h>
#include <openssl/ssl.h>
#endif

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <limits>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include "cryptonets/io/inspect.hpp"
#include "cryptonets/io/serialize.hpp"
#include "cryptonets/service/durable.hpp"
#include "http_support.hpp"
#include "socket_bytes.hpp"

namespace cryptonets::service {

using json = nlohmann::json;

namespace {

constexpr size_t kChunkBytes = size_t{1} << 20;

int64_t mtime_ns(const struct stat& info) {
  return static_cast<int64_t>(info.st_mtim.tv_sec) * 1000000000 + info.st_mtim.tv_nsec;
}

// Files read one after the other as one body, through pread (no whole file in memory).
class FileSequence {
 public:
  explicit FileSequence(const std::vector<std::string>& paths) {
    for (const std::string& path : paths) {
      // Never a blocking open: a FIFO given as a key file or batch is refused, not waited on.
      const int fd = open_regular_file(path);
      struct stat info {};
      if (fd < 0 || ::fstat(fd, &info) != 0) {
        const int error = errno;
        if (fd >= 0) ::close(fd);
        throw std::runtime_error("cannot read '" + path + "': " +
                                 (error == EINVAL ? "not a regular file" : std::strerror(error)));
      }
      files_.push_back({fd, static_cast<uint64_t>(info.st_size), mtime_ns(info), path});
    }
  }
  // The file as it was checked: its descriptor (a duplicate), size and modification time.
  explicit FileSequence(const CheckedUpload& file) {
    const int fd = ::fcntl(file.fd(), F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
      throw std::runtime_error("cannot read '" + file.path() + "': " + std::strerror(errno));
    }
    files_.push_back({fd, file.size(), file.modified_ns(), file.path()});
  }
  ~FileSequence() {
    for (const File& f : files_)
      ::close(f.fd);
  }
  FileSequence(const FileSequence&) = delete;
  FileSequence& operator=(const FileSequence&) = delete;

  uint64_t size() const {
    uint64_t total = 0;
    for (const File& f : files_)
      total += f.size;
    return total;
  }
  uint64_t size(size_t i) const { return files_[i].size; }

  // "" while every file has the size and modification time it had when opened (or checked); else
  // which changed, and how, for messages.
  std::string changed() const {
    for (const File& f : files_) {
      struct stat info {};
      if (::fstat(f.fd, &info) != 0) return "'" + f.path + "': " + std::strerror(errno);
      if (static_cast<uint64_t>(info.st_size) != f.size) {
        return "'" + f.path + "' is " + std::to_string(info.st_size) + " bytes now, " +
               std::to_string(f.size) + " when it was checked";
      }
      if (mtime_ns(info) != f.modified_ns) {
        return "'" + f.path + "' was modified after it was checked";
      }
    }
    return {};
  }

  // Up to `length` bytes at `offset` of the whole sequence into `out`; the count read.
  size_t read(uint64_t offset, size_t length, char* out) const {
    for (const File& f : files_) {
      if (offset >= f.size) {
        offset -= f.size;
        continue;
      }
      const size_t want = static_cast<size_t>(std::min<uint64_t>(length, f.size - offset));
      const ssize_t got = ::pread(f.fd, out, want, static_cast<off_t>(offset));
      return got > 0 ? static_cast<size_t>(got) : 0;
    }
    return 0;
  }

 private:
  struct File {
    int fd;
    uint64_t size;
    int64_t modified_ns;
    std::string path;
  };
  std::vector<File> files_;
};

// Why OpenSSL could not load the --ca-cert file `path`: what its open says ("no such file",
// "Permission denied", "Too many levels of symbolic links"), else that it holds no PEM
// certificate. std::filesystem::exists called a file that cannot be read one without a
// certificate, and threw its own bare "filesystem error: status: ..." for a link loop, past the
// request's message.
std::string ca_cert_problem(const std::string& path) {
  const int fd = open_regular_file(path);
  if (fd < 0) {
    if (errno == ENOENT) return "no such file";
    if (errno == EINVAL) return "not a regular file";
    return std::strerror(errno);
  }
  ::close(fd);
  return "it holds no PEM certificate";
}

std::unique_ptr<httplib::Client> connect(const ClientOptions& options) {
  const std::string& url = options.server;
  check_server_url(url);
  auto client = std::make_unique<httplib::Client>(url);
  if (!client->is_valid()) throw std::invalid_argument("cannot use the server URL '" + url + "'");
  client->set_connection_timeout(options.timeout_s, 0);
  client->set_read_timeout(options.timeout_s, 0);
  client->set_write_timeout(options.timeout_s, 0);
  if (url.rfind("https://", 0) == 0) {
    if (!options.ca_cert.empty()) {
      // OpenSSL opens it with a blocking open: a FIFO would hang the client.
      require_regular_file(options.ca_cert, "--ca-cert");
      // OpenSSL reads it only as the connection starts: a missing or unreadable file was not
      // reported when the server could not be reached (a trial), only the connection's error.
      const int fd = open_regular_file(options.ca_cert);
      if (fd < 0) {
        throw std::runtime_error("cannot load the certificates to trust from --ca-cert '" +
                                 options.ca_cert + "': " + ca_cert_problem(options.ca_cert));
      }
      ::close(fd);
      client->set_ca_cert_path(options.ca_cert);
    }
    client->enable_server_certificate_verification(true);
  }
  return client;
}

httplib::Headers bearer(const std::string& token) {
  return {{"Authorization", "Bearer " + token}};
}

// "HOST:PORT" of the server URL (checked by connect), with the scheme's default port.
std::string host_port(const std::string& url) {
  const bool tls = url.rfind("https://", 0) == 0;
  const std::string rest = url.substr(url.find("://") + 3);
  const bool has_port = rest.rfind(':') != std::string::npos && rest.back() != ']';
  return has_port ? rest : rest + (tls ? ":443" : ":80");
}

// Why a connection to `address` (HOST:PORT) fails, found by one blocking connect of our own:
// httplib says only "Connection". "" if this one succeeds.
std::string connect_failure(const std::string& address, int timeout_s) {
  const size_t colon = address.rfind(':');
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int error =
          ::getaddrinfo(host.c_str(), address.substr(colon + 1).c_str(), &hints, &found);
      error != 0) {
    return std::string("cannot resolve '") + host + "': " + ::gai_strerror(error);
  }
  int failure = 0;
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      failure = errno;
      continue;
    }
    const timeval limit{timeout_s, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
    const bool connected = ::connect(fd, a->ai_addr, a->ai_addrlen) == 0;
    failure = connected ? 0 : errno;
    ::close(fd);
    if (connected) break;
  }
  ::freeaddrinfo(found);
  if (failure == 0) return "";
  std::string reason = std::strerror(failure);
  if (!reason.empty()) reason[0] = static_cast<char>(std::tolower(reason[0]));
  return reason;
}

using Clock = std::chrono::steady_clock;

// Whether the server at `address` (HOST:PORT) answers HTTPS: one request without certificate
// checks (nothing of ours is sent), to explain an http:// URL whose connection the server closed.
// Within `limit` in all (connection and answer).
bool speaks_https(const std::string& address, Clock::duration limit) {
  httplib::Client probe("https://" + address);
  if (!probe.is_valid()) return false;
  probe.enable_server_certificate_verification(false);
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(limit).count();
  probe.set_connection_timeout(static_cast<time_t>(us / 1000000),
                               static_cast<time_t>(us % 1000000));
  probe.set_read_timeout(static_cast<time_t>(us / 1000000), static_cast<time_t>(us % 1000000));
  return static_cast<bool>(probe.Get("/v1/queue"));
}

// What went wrong on the way to or from the server (no answer came), as a sentence: httplib's
// error names ("Connection", "Read", ...) mean nothing to a user. `uploading`: the request had a
// body of ours, and the server closed the connection while it was sent. `active`: when the
// connection last made progress (its start, or the last body bytes sent or received): the HTTPS
// probe gets what is left of --timeout since then, so that a silent server costs --timeout, not
// twice it (a server that timed out is silent, not an HTTPS server that closed the connection).
// The connection's OpenSSL certificate verification result, -1 if unknown (http://).
long verify_result(httplib::Client& client) {
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
  return client.get_openssl_verify_result();
#else
  (void)client;
  return -1;
#endif
}

// `verify_result`: the connection's OpenSSL certificate verification result (https only; -1
// unknown): X509_V_OK with a failed verification means a trusted certificate issued for another
// name than --server's host.
[[noreturn]] void unreachable(const ClientOptions& options, const httplib::Result& result,
                              const std::string& what, bool uploading = false,
                              std::optional<Clock::time_point> active = std::nullopt,
                              long verify_result = -1) {
  const std::string address = host_port(options.server);
  const std::string timeout = " (--timeout " + std::to_string(options.timeout_s) + " s)";
  std::string reason;
  const httplib::Error error = result.error();
  const Clock::duration probe_limit = std::min<Clock::duration>(
      std::chrono::seconds(std::min(options.timeout_s, 5)),
      (active ? *active : Clock::now()) + std::chrono::seconds(options.timeout_s) - Clock::now());
  if ((error == httplib::Error::Write || error == httplib::Error::Canceled ||
       error == httplib::Error::Read) &&
      options.server.rfind("http://", 0) == 0 && probe_limit > std::chrono::milliseconds(100) &&
      speaks_https(address, probe_limit)) {
    throw std::runtime_error("cannot " + what + " at " + options.server + ": the server closed " +
                             "the connection; it speaks HTTPS: use https://" + address +
                             " (with --ca-cert for its certificate)");
  }
  switch (error) {
    case httplib::Error::Connection: {
      const std::string why = connect_failure(address, options.timeout_s);
      reason = "cannot connect to " + address + (why.empty() ? "" : ": " + why);
      break;
    }
    case httplib::Error::ConnectionTimeout:
      reason = "cannot connect to " + address + ": no answer" + timeout;
      break;
    case httplib::Error::Write:
    case httplib::Error::Canceled:
      reason = uploading ? "the server closed the connection during the upload (it may have "
                           "stopped, or refused the body early: larger than its --max-body, or "
                           "no space left; its answer was lost)"
                         : "the connection to " + address + " broke while the request was sent";
      break;
    case httplib::Error::Read:
      reason =
          "the server at " + address + " closed the connection or did not answer in time" + timeout;
      break;
    case httplib::Error::SSLConnection:
      reason = "the TLS handshake with " + address + " failed (is it an https server?)";
      break;
    case httplib::Error::SSLServerVerification:
      // A certificate that --ca-cert makes trusted but that names another host (a trial's
      // https://localhost against a certificate for 127.0.0.1 was told to give --ca-cert, which
      // it had given).
      reason = verify_result == 0
                   ? "the server's certificate is trusted but is not issued for '" +
                         address.substr(0, address.rfind(':')) +
                         "' (its subject alternative names or common name give another host): "
                         "use the host name or address the certificate names in --server"
                   : "the server's certificate is not trusted (give its certificate or CA with "
                     "--ca-cert)";
      break;
    case httplib::Error::SSLLoadingCerts:
      // Named, with what to check (it named neither the file nor the cause).
      reason = "cannot load the certificates to trust from --ca-cert '" + options.ca_cert +
               "': " + ca_cert_problem(options.ca_cert);
      break;
    default:
      reason = "the request failed (" + httplib::to_string(result.error()) + ")";
  }
  throw std::runtime_error("cannot " + what + " at " + options.server + ": " + reason);
}

// An answer the server sent before the whole body was: a refusal that came early (413 for a
// body over --max-body, 507 for one its disk has no room for, both answered from the headers
// alone), read from the connection by the body's provider, since httplib stops at the first write
// that fails (the server closed the connection after its answer) and never reads the answer.
// Over http:// the socket is read directly; over https:// through the connection's TLS session
// (its SSL object, caught when its handshake ends), never blocking: the bytes there may be a
// session ticket rather than an answer. Reads that the connection's failed write left possible
// (the kernel keeps what arrived before the server's reset).
class EarlyAnswer {
 public:
  int status() const { return status_; }
  const std::string& body() const { return body_; }
  int retry_after_s() const { return retry_after_s_; }

  // Watches the connection `client` opens next: over http://, the socket given to watch().
  EarlyAnswer(httplib::Client& client, const std::string& url) {
    if (url.rfind("http://", 0) == 0) {
      plain_ = true;
      return;
    }
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
    context_ = client.ssl_context();
    if (context_ != nullptr) {
      SSL_CTX_set_ex_data(context_, ex_index(), this);
      SSL_CTX_set_info_callback(context_, &EarlyAnswer::on_tls_event);
    }
#endif
  }
  ~EarlyAnswer() {
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
    // The client (and its connection's shutdown, which calls the callback) outlives this object.
    if (context_ != nullptr) {
      SSL_CTX_set_info_callback(context_, nullptr);
      SSL_CTX_set_ex_data(context_, ex_index(), nullptr);
    }
#endif
  }
  EarlyAnswer(const EarlyAnswer&) = delete;
  EarlyAnswer& operator=(const EarlyAnswer&) = delete;
  // The socket of the connection, as httplib opens it (Watchdog's on_socket).
  void watch(int fd) {
    if (plain_) socket_ = fd;
  }

  // Whether the server has answered: reads its answer, waiting up to `wait_ms` for the first
  // byte and up to 2 s for the rest of it (a status line, headers and Content-Length bytes).
  bool arrived(int wait_ms) {
    if (status_ != 0) return true;
    if (socket_ < 0) return false;
    std::string data;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
    for (;;) {
      const int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            deadline - std::chrono::steady_clock::now())
                                            .count());
      if (!buffered()) {
        pollfd watch{socket_, POLLIN, 0};
        if (::poll(&watch, 1, std::max(left, 0)) <= 0) break;
      }
      char buffer[4096];
      const ssize_t got = receive(buffer, sizeof buffer);
      if (got == kNothingYet) {  // TLS: a record of its own (a ticket), or part of one
        if (std::chrono::steady_clock::now() >= deadline) break;
        continue;
      }
      if (got <= 0) break;  // closed (or reset) without an answer
      if (data.empty()) {   // an answer has begun: the rest of it gets time to arrive
        deadline = std::max(deadline, std::chrono::steady_clock::now() + std::chrono::seconds(2));
      }
      data.append(buffer, static_cast<size_t>(got));
      if (complete(data) || data.size() > 65536) break;  // an error answer is short
    }
    return parse(data);
  }

 private:
  static std::string header(const std::string& head, const std::string& name) {
    std::string lower = head;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    const size_t at = lower.find("\r\n" + name + ":");
    if (at == std::string::npos) return "";
    const size_t start = head.find_first_not_of(' ', at + name.size() + 3);
    const size_t end = head.find("\r\n", at + 2);
    return start == std::string::npos || start >= end ? "" : head.substr(start, end - start);
  }
  static bool complete(const std::string& data) {
    const size_t end = data.find("\r\n\r\n");
    if (end == std::string::npos) return false;
    try {
      return data.size() - end - 4 >= std::stoull(header(data.substr(0, end), "content-length"));
    } catch (const std::exception&) {
      return false;  // no length: read until the server closes
    }
  }
  bool parse(const std::string& data) {
    const size_t end = data.find("\r\n\r\n");
    if (data.rfind("HTTP/1.", 0) != 0 || end == std::string::npos || data.size() < 12) return false;
    int status = 0;
    for (size_t i = 9; i < 12; ++i) {
      if (!std::isdigit(static_cast<unsigned char>(data[i]))) return false;
      status = status * 10 + (data[i] - '0');
    }
    const std::string head = data.substr(0, end);
    body_ = data.substr(end + 4);
    retry_after_s_ =
        retry_after_seconds(header(head, "retry-after"), std::chrono::system_clock::now());
    status_ = status;
    return true;
  }

  static constexpr ssize_t kNothingYet = -2;

  // Whether the TLS session holds decrypted bytes not read yet (poll cannot see them).
  bool buffered() const {
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
    return ssl_ != nullptr && SSL_pending(ssl_) > 0;
#else
    return false;
#endif
  }

  // Up to `size` bytes of the answer without blocking: their count, 0 or -1 once the connection
  // ended, kNothingYet if none are there yet.
  ssize_t receive(char* out, size_t size) {
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
    if (ssl_ != nullptr) {
      const int flags = ::fcntl(socket_, F_GETFL);
      if (flags >= 0) (void)::fcntl(socket_, F_SETFL, flags | O_NONBLOCK);
      ERR_clear_error();
      const int got = SSL_read(ssl_, out, static_cast<int>(std::min<size_t>(size, 1 << 20)));
      const int error = got > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl_, got);
      ERR_clear_error();  // nothing of this read may reach httplib's own error checks
      if (flags >= 0) (void)::fcntl(socket_, F_SETFL, flags);
      if (got > 0) return got;
      return error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE ? kNothingYet : -1;
    }
#endif
    return ::recv(socket_, out, size, MSG_DONTWAIT);
  }

#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
  static int ex_index() {
    static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
  }
  // The session of the connection, once its handshake is done (the only one this client opens).
  static void on_tls_event(const SSL* ssl, int where, int) {
    if ((where & SSL_CB_HANDSHAKE_DONE) == 0) return;
    auto* self = static_cast<EarlyAnswer*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ex_index()));
    if (self == nullptr) return;
    self->ssl_ = const_cast<SSL*>(ssl);  // OpenSSL hands callbacks a const pointer only
    self->socket_ = SSL_get_fd(ssl);
  }
  SSL_CTX* context_ = nullptr;
  SSL* ssl_ = nullptr;
#endif
  bool plain_ = false;
  int socket_ = -1;
  int status_ = 0;
  std::string body_;
  int retry_after_s_ = 0;
};

// The "code" of a JSON error body (server.hpp), or "".
std::string error_code(const std::string& body) {
  try {
    const json j = json::parse(body);
    if (j.contains("code") && j["code"].is_string()) return j["code"].get<std::string>();
  } catch (const std::exception&) {
  }
  return "";
}

// The server's message from a JSON error body, or, where the answer has none (every answer of the
// service but the expected one has: a proxy's HTML page, another server), the status and a
// question about `server` (it was a bare "server answered 200" for a DELETE answered 200 by
// another server, "server answered 302" for a redirect).
std::string server_message(int status, const std::string& body, const std::string& server) {
  try {
    const json j = json::parse(body);
    if (j.is_object() && j.contains("error") && j["error"].is_string()) {
      return "server answered " + std::to_string(status) + ": " + j["error"].get<std::string>();
    }
  } catch (const std::exception&) {
  }
  return "server answered " + std::to_string(status) + " without the service's error message (is " +
         server + " a cryptonets server?)";
}

int retry_after(const httplib::Response& res) {
  return retry_after_seconds(res.get_header_value("Retry-After"), std::chrono::system_clock::now());
}

// The most a JSON answer of the server may hold: its answers are a few hundred bytes; a larger
// one (a server that never ends its body) would grow the client without bound.
constexpr size_t kJsonAnswerBytes = size_t{1} << 20;

// The most an answer's status line and headers may take of the connection's stream (with what
// TLS and httplib's read buffer add; a cryptonets server's take under 1 kB). httplib reads them
// with no bound on their number, and checks a line's length only once it holds the whole line:
// a server sending header lines without end grew client status to 3.3 GB.
constexpr uint64_t kAnswerHeadBytes = uint64_t{256} << 10;
constexpr const char* kAnswerHeadLimit = "256 KiB";

// How often the watchdog looks at the bytes read while the status line and headers come.
constexpr std::chrono::milliseconds kHeadPoll{10};

// Sends `request` (its body, if any, from its content provider) and reads the answer, failing with
// a message naming `what` when no answer came (unreachable), when it holds more than
// kJsonAnswerBytes, or when it has not ended within `limit` of the request's end: --timeout bounds
// each read, and this the whole answer (a server trickling a byte a second never ends otherwise).
// Stops `client`'s request in progress (httplib's stop(), meant for another thread) once its
// deadline passes: the time the content receiver cannot bound, before the first byte of the body
// (a status line and headers trickled a byte at a time, each read within --timeout); and once
// the status line and headers, until head_read(), have taken more than kAnswerHeadBytes of the
// connection (counted on its socket, caught as httplib opens it: `on_socket` gets it too).
class Watchdog {
 public:
  Watchdog(httplib::Client& client, Clock::time_point deadline,
           std::function<void(int)> on_socket = nullptr)
      : client_(client), deadline_(deadline) {
    client_.set_socket_options([this, on_socket = std::move(on_socket)](int fd) {
      socket_ = fd;
      if (on_socket) on_socket(fd);
    });
    thread_ = std::thread([this] { watch(); });
  }
  ~Watchdog() {
    finish();
    client_.set_socket_options(nullptr);  // its callback refers to this object
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  void extend(Clock::time_point deadline) {
    std::lock_guard lock(mutex_);
    deadline_ = deadline;
  }
  // The status line and headers are in (httplib's response handler): no longer counted.
  void head_read() { head_read_ = true; }
  // Ends the watch; whether it stopped the request.
  bool finish() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
    return fired_;
  }
  // Whether it stopped the request for the size of its status line and headers.
  bool head_too_large() const { return head_too_large_; }

 private:
  void watch() {
    std::unique_lock lock(mutex_);
    for (;;) {
      if (done_) return;
      const Clock::time_point now = Clock::now();
      if (now >= deadline_) break;
      if (!head_read_ && socket_ >= 0) {
        // The socket may be closed by now (the request failed): then nothing is counted.
        const std::optional<uint64_t> read = tcp_bytes_read(socket_);
        if (read && *read > kAnswerHeadBytes && !head_read_) {
          head_too_large_ = true;
          break;
        }
      }
      wake_.wait_until(lock, head_read_ ? deadline_ : std::min(deadline_, now + kHeadPoll));
    }
    fired_ = true;
    lock.unlock();  // stop() waits for a connection being opened: extend() must not wait for it
    client_.stop();
  }

  httplib::Client& client_;
  std::mutex mutex_;
  std::condition_variable wake_;
  Clock::time_point deadline_;
  std::atomic<int> socket_{-1};
  std::atomic<bool> head_read_{false};
  bool done_ = false;
  std::atomic<bool> fired_{false};
  std::atomic<bool> head_too_large_{false};
  std::thread thread_;
};

// The refusal of an answer whose status line and headers passed kAnswerHeadBytes.
std::string head_too_large_message(const std::string& server) {
  return std::string("the server's answer's status line and headers exceed ") + kAnswerHeadLimit +
         " (a cryptonets server's take under 1 kB: is " + server + " a cryptonets server?)";
}

httplib::Result exchange(httplib::Client& client, httplib::Request request,
                         const ClientOptions& options, const std::string& what,
                         Clock::duration limit, bool uploading = false,
                         const std::function<bool()>& answered_early = nullptr,
                         std::function<void(int)> on_socket = nullptr) {
  Clock::time_point active = Clock::now();
  Clock::time_point deadline = active + limit;
  // Declared before the receivers that use it: the thread ends before they are gone.
  Watchdog watchdog(client, deadline, std::move(on_socket));
  if (request.content_provider_) {
    // The answer's time counts from the end of the upload (a large batch takes long to send).
    request.content_provider_ = [provide = std::move(request.content_provider_), &active, &deadline,
                                 &watchdog,
                                 limit](size_t offset, size_t length, httplib::DataSink& sink) {
      const bool more = provide(offset, length, sink);
      if (more) {  // progress (a write that failed, perhaps after --timeout, is none)
        active = Clock::now();
        deadline = active + limit;
        watchdog.extend(deadline);
      }
      return more;
    };
  }
  std::string body;
  bool too_large = false;
  bool too_slow = false;
  bool answered = false;
  request.response_handler = [&](const httplib::Response& res) {
    watchdog.head_read();
    answered = true;
    try {
      if (std::stoull(res.get_header_value("Content-Length")) > kJsonAnswerBytes) {
        too_large = true;
        return false;
      }
    } catch (const std::exception&) {
      // no length (chunked) or a malformed one: the receiver counts the bytes
    }
    return true;
  };
  request.content_receiver = [&](const char* data, size_t length, uint64_t, uint64_t) {
    active = Clock::now();
    if (body.size() + length > kJsonAnswerBytes) {
      too_large = true;
      return false;
    }
    if (active > deadline) {
      too_slow = true;
      return false;
    }
    body.append(data, length);
    return true;
  };
  httplib::Result result = client.send(request);
  if (watchdog.finish() && !result && !too_large && !watchdog.head_too_large()) too_slow = true;
  const std::string cannot = "cannot " + what + " at " + options.server + ": ";
  if (watchdog.head_too_large()) {
    throw std::runtime_error(cannot + head_too_large_message(options.server));
  }
  if (too_large) {
    throw std::runtime_error(cannot + "the server's answer to " + request.method + " " +
                             request.path.substr(0, request.path.find('?')) +
                             " exceeds 1 MiB (a cryptonets server's answer to it is a few kB: is " +
                             options.server + " a cryptonets server?)");
  }
  if (too_slow) {
    const std::string within =
        " within " +
        std::to_string(std::chrono::duration_cast<std::chrono::seconds>(limit).count()) +
        " s (--timeout " + std::to_string(options.timeout_s) + " s bounds each whole answer)";
    throw std::runtime_error(
        cannot +
        (answered ? "the server's answer did not end"
                  : "the server at " + host_port(options.server) + " did not answer") +
        within);
  }
  if (!result && answered_early && answered_early()) return result;  // the caller reports it
  if (!result) unreachable(options, result, what, uploading, active, verify_result(client));
  result->body = std::move(body);
  return result;
}

// A request without a body to `path`, answered through exchange within --timeout (plus
// `extra_s`, the time the server may wait before it answers).
httplib::Result request_json(const ClientOptions& options, httplib::Client& client,
                             const std::string& method, const std::string& path,
                             const httplib::Headers& headers, const std::string& what,
                             int extra_s = 0) {
  httplib::Request request;
  request.method = method;
  request.path = path;
  request.headers = headers;
  return exchange(client, std::move(request), options, what,
                  std::chrono::seconds(options.timeout_s + extra_s));
}

// The answer's JSON, if it has the service's `status` (else its ServiceError). An answer that is
// not JSON is refused asking about `server` (it gave nlohmann's bare "[json.exception.parse_error
// .101] parse error at line 1, column 1: ...").
json expect_json(const httplib::Response& res, int status, const std::string& server) {
  if (res.status != status) {
    throw ServiceError(res.status, server_message(res.status, res.body, server), retry_after(res),
                       error_code(res.body));
  }
  try {
    return json::parse(res.body);
  } catch (const std::exception&) {
    throw std::runtime_error("the server's answer (" + std::to_string(res.status) +
                             ") is not JSON, as the service's answers are: is " + server +
                             " a cryptonets server?");
  }
}

// POSTs `body` to `path` (the upload of a key set or a batch) and returns the answer. An answer
// the server gave before the body's end (EarlyAnswer) is thrown as its ServiceError, as the
// answer of a refusal is; a failure on the way is thrown by unreachable, naming `what`.
httplib::Result upload(const ClientOptions& options, const std::string& path,
                       const httplib::Headers& headers, const FileSequence& body,
                       const std::string& what) {
  auto client = connect(options);
  EarlyAnswer early(*client, options.server);
  const uint64_t total = body.size();
  httplib::Request request;
  request.method = "POST";
  request.path = path;
  request.headers = headers;
  request.headers.emplace("Content-Type", "application/octet-stream");
  request.content_length_ = static_cast<size_t>(total);
  std::string changed;  // a file changed since it was checked: the body is not sent whole
  request.content_provider_ = [&](size_t offset, size_t length, httplib::DataSink& sink) {
    if (early.arrived(0)) return false;  // refused before the end: stop sending
    std::vector<char> buffer(std::min(length, kChunkBytes));
    const size_t got = body.read(offset, buffer.size(), buffer.data());
    if (got == 0) return false;
    // Before the last bytes go: a body cut short is dropped by the server, a whole one is kept.
    if (offset + got == total) {
      changed = body.changed();
      if (!changed.empty()) return false;
    }
    if (options.progress) options.progress(offset + got, total);
    if (sink.write(buffer.data(), got)) return true;
    early.arrived(1000);  // the server closed the connection: did it answer first?
    return false;
  };
  const auto refuse_changed = [&] {
    throw std::runtime_error("cannot " + what + ": " + changed +
                             "; the upload was stopped before its end, and the server keeps "
                             "nothing of it");
  };
  auto result = [&] {
    try {
      return exchange(
          *client, std::move(request), options, what, std::chrono::seconds(options.timeout_s), true,
          [&] { return early.status() != 0; }, [&early](int fd) { early.watch(fd); });
    } catch (const std::runtime_error&) {
      if (!changed.empty()) refuse_changed();
      throw;
    }
  }();
  if (!changed.empty()) refuse_changed();
  if (early.status() != 0) {
    throw ServiceError(early.status(), server_message(early.status(), early.body(), options.server),
                       early.retry_after_s(), error_code(early.body()));
  }
  return result;
}

// A job's status from the server's answer to `request` ("POST /v1/jobs"): the JSON object of
// server.hpp, with a job id (`job` when one was asked for) and one of the four states. Anything
// else is refused, naming the request: an answer's job id goes into the next requests' paths, an
// unknown state would be polled for until --wait ends, and a field of another type threw
// nlohmann's bare "[json.exception.type_error.302] type must be string, but is number".
JobStatus job_status_from(const json& j, const ClientOptions& options, const std::string& request,
                          const std::string& job = "") {
  JobStatus status;
  const std::string not_status = "the server's answer to " + request + " is not a job's status";
  const std::string ours = " (is " + options.server + " a cryptonets server?)";
  try {
    status.job = j.value("job", std::string());
    status.state = j.value("state", std::string());
    status.images = j.value("images", uint64_t{0});
    status.batches = j.value("batches", uint64_t{0});
    status.batches_done = j.value("batches_done", uint64_t{0});
    status.error = j.value("error", std::string());
  } catch (const json::exception& e) {
    throw std::runtime_error(not_status + ": " + e.what() + ours);
  }
  if (!is_job_id(status.job)) {
    throw std::runtime_error(not_status + ": its job id '" + status.job + "' is not " + kJobIdForm +
                             ours);
  }
  if (!job.empty() && status.job != job) {
    throw std::runtime_error(not_status + ": it is about job " + status.job + ", not " + job +
                             ours);
  }
  if (status.state != "queued" && status.state != "running" && status.state != "done" &&
      status.state != "failed") {
    throw std::runtime_error(not_status + ": its state '" + status.state +
                             "' is none of queued, running, done, failed" + ours);
  }
  status.json = j.dump();
  return status;
}

void require_job_id(const std::string& job) {
  if (!is_job_id(job)) {
    throw std::invalid_argument("malformed job id '" + job + "' (a job id is " + kJobIdForm + ")");
  }
}

// The kind of record each kind of protocol file holds (io/protocol_files.hpp).
char record_kind(ProtocolFileKind kind) {
  return static_cast<char>(kind);
}

// Refuses a file with a secret key after its last record, which ends at `records_end` (found
// as inspect finds it, io/inspect.hpp): a new-user trial's batch with secret.key appended was
// refused as "320 trailing bytes" only, where inspect called it EXPOSED.
void refuse_appended_secret_key(const std::string& path, uint64_t records_end,
                                const std::string& role) {
  const std::optional<SecretKeyLocation> key = locate_secret_key(path, records_end);
  if (!key) return;
  std::error_code error;
  const uint64_t size = std::filesystem::file_size(path, error);
  throw std::runtime_error(
      "'" + path + "' has a secret key appended: the " +
      (error ? std::string("bytes") : std::to_string(size - records_end) + " bytes") +
      " after its last record hold " + key->what + " from byte " + std::to_string(key->offset) +
      " (cryptonets inspect reports the file EXPOSED). Secret keys never leave this machine: "
      "nothing was sent (expected " +
      role + "; cut the file at byte " + std::to_string(records_end) +
      ", and make new keys if it has left your hands)");
}

// Refuses, naming `path`, a file of secret keys: its header, and the kind of each of its records
// (a file whose header says public keys but which holds a secret key record is refused too), and
// a file whose records do not end exactly at its end (bytes appended after a valid file, such as
// a secret key, would be uploaded with it). Only the 32-byte record headers are read here;
// ciphertext files are verified in full by verify_ciphertext_file (durable.hpp).
void refuse_secret_records(const std::string& path, const ProtocolHeader& header,
                           const std::string& role) {
  const std::string never =
      "' holds secret keys, which never leave this machine; nothing was sent (expected " + role +
      ")";
  if (header.kind == ProtocolFileKind::kSecretKeys) throw std::runtime_error("'" + path + never);
  if (header.kind == ProtocolFileKind::kCiphertexts) {
    try {
      verify_ciphertext_file(path);  // every record a ciphertext, checksums, nothing after them
    } catch (const TrailingBytesError& e) {
      refuse_appended_secret_key(path, e.records_end(), role);
      throw std::runtime_error(std::string(e.what()) + "; nothing was sent");
    } catch (const std::runtime_error& e) {
      throw std::runtime_error(std::string(e.what()) + "; nothing was sent");
    }
    return;
  }
  const int fd = open_regular_file(path);
  if (fd < 0) throw std::runtime_error("cannot read '" + path + "': " + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  uint64_t offset = kProtocolHeaderBytes;
  for (uint64_t i = 0; i < header.moduli; ++i) {
    uint8_t head[kSerializationHeaderBytes];
    if (::pread(fd, head, sizeof head, static_cast<off_t>(offset)) !=
        static_cast<ssize_t>(sizeof head)) {
      throw std::runtime_error("'" + path + "' is truncated (record " + std::to_string(i + 1) +
                               " of " + std::to_string(header.moduli) + "); nothing was sent");
    }
    if (std::memcmp(head, "CNET", 4) == 0 &&
        head[4] == record_kind(ProtocolFileKind::kSecretKeys)) {
      throw std::runtime_error("'" + path + never);
    }
    uint64_t length = 0;
    for (int b = 7; b >= 0; --b)
      length = (length << 8) | head[24 + b];
    if (length > (uint64_t{1} << 40)) {
      throw std::runtime_error("'" + path + "' is damaged (record " + std::to_string(i + 1) +
                               " declares " + std::to_string(length) + " bytes); nothing was sent");
    }
    offset += kSerializationHeaderBytes + length + kSerializationChecksumBytes;
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0 || static_cast<uint64_t>(info.st_size) != offset) {
    if (static_cast<uint64_t>(info.st_size) > offset)
      refuse_appended_secret_key(path, offset, role);
    throw std::runtime_error(
        "'" + path + "' does not end where its last record does (" + std::to_string(info.st_size) +
        " bytes, the records " + std::to_string(offset) +
        "): bytes were appended or cut; nothing was sent (expected " + role + ")");
  }
}

}  // namespace

void require_upload_role(const std::string& path, ProtocolFileKind kind, const std::string& role) {
  require_regular_file(path, role);
  ProtocolHeader header;
  try {
    header = read_protocol_header(path);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(std::string(e.what()) + "; nothing was sent");
  }
  refuse_secret_records(path, header, role);
  if (header.kind != kind) {
    throw std::runtime_error("'" + path + "' holds " + protocol_kind_name(header.kind) +
                             ", expected " + role + "; nothing was sent");
  }
  if (kind == ProtocolFileKind::kCiphertexts && header.answers_file_id != 0) {
    throw std::runtime_error("'" + path +
                             "' is a scores file (encrypted scores from cryptonets infer or "
                             "client fetch), expected encrypted images from cryptonets encrypt; "
                             "nothing was sent");
  }
}

CheckedUpload::CheckedUpload(const std::string& path, ProtocolFileKind kind,
                             const std::string& role)
    : path_(path) {
  require_regular_file(path, role);
  // Open first: the checks below read the file this descriptor holds, or the path was replaced
  // (another inode) or the file written meanwhile, which the stat after them tells.
  fd_ = open_regular_file(path);
  struct stat before {};
  if (fd_ < 0 || ::fstat(fd_, &before) != 0) {
    const int error = errno;
    if (fd_ >= 0) ::close(fd_);
    throw std::runtime_error("cannot read '" + path + "': " +
                             (error == EINVAL ? "not a regular file" : std::strerror(error)) +
                             "; nothing was sent");
  }
  try {
    require_upload_role(path, kind, role);
    struct stat after {};
    struct stat named {};
    if (::fstat(fd_, &after) != 0 || ::stat(path.c_str(), &named) != 0 ||
        named.st_dev != before.st_dev || named.st_ino != before.st_ino ||
        after.st_size != before.st_size || mtime_ns(after) != mtime_ns(before)) {
      throw std::runtime_error("'" + path +
                               "' changed while it was being checked; nothing was sent");
    }
  } catch (...) {
    ::close(fd_);
    throw;
  }
  size_ = static_cast<uint64_t>(before.st_size);
  modified_ns_ = mtime_ns(before);
}

CheckedUpload::~CheckedUpload() {
  ::close(fd_);
}

std::optional<std::chrono::sys_seconds> parse_imf_fixdate(std::string_view text) {
  // RFC 9110 §5.6.7: IMF-fixdate = day-name "," SP date1 SP time-of-day SP GMT, 29 characters
  // at fixed places: "Sun, 06 Nov 1994 08:49:37 GMT".
  if (text.size() != 29 || text.substr(3, 2) != ", " || text[7] != ' ' || text[11] != ' ' ||
      text[16] != ' ' || text[19] != ':' || text[22] != ':' || text.substr(25) != " GMT") {
    return std::nullopt;
  }
  // `digits` decimal digits at `at`, or -1.
  auto number = [text](size_t at, size_t digits) {
    int value = 0;
    for (const char c : text.substr(at, digits)) {
      if (c < '0' || c > '9') return -1;
      value = value * 10 + (c - '0');
    }
    return value;
  };
  // Index of `name` (3 letters at `at`) in `names`, or -1.
  auto index_of = [text](size_t at, std::initializer_list<std::string_view> names) {
    int i = 0;
    for (const std::string_view name : names) {
      if (text.substr(at, 3) == name) return i;
      ++i;
    }
    return -1;
  };
  const int weekday = index_of(0, {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"});
  const int day = number(5, 2);
  const int month = index_of(
      8, {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"});
  const int year = number(12, 4);
  const int hour = number(17, 2);
  const int minute = number(20, 2);
  const int second = number(23, 2);  // 60: a leap second (§5.6.7)
  if (weekday < 0 || day < 0 || month < 0 || year < 0 || hour < 0 || hour > 23 || minute < 0 ||
      minute > 59 || second < 0 || second > 60) {
    return std::nullopt;
  }
  namespace chrono = std::chrono;
  const chrono::year_month_day date{chrono::year(year), chrono::month(month + 1), chrono::day(day)};
  if (!date.ok()) return std::nullopt;  // 30 Feb, 29 Feb of a common year
  const chrono::sys_days midnight(date);
  // A weekday that is not the date's says that the date is not what the sender meant.
  if (chrono::weekday(midnight).c_encoding() != static_cast<unsigned>(weekday)) {
    return std::nullopt;
  }
  return chrono::sys_seconds(midnight) + chrono::hours(hour) + chrono::minutes(minute) +
         chrono::seconds(second);
}

int retry_after_seconds(std::string_view value, std::chrono::system_clock::time_point now) {
  const size_t first = value.find_first_not_of(" \t");
  if (first == std::string_view::npos) return 0;
  value = value.substr(first, value.find_last_not_of(" \t") - first + 1);
  // delay-seconds = 1*DIGIT
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    long long delay = 0;
    for (const char c : value) {
      delay = std::min<long long>(delay * 10 + (c - '0'), std::numeric_limits<int>::max());
    }
    return static_cast<int>(delay);
  }
  const std::optional<std::chrono::sys_seconds> date = parse_imf_fixdate(value);
  if (!date) return 0;
  // In whole seconds: nanoseconds overflow past the year 2262. The date less `now` rounded down is
  // that difference rounded up (a retry before the date would be early).
  const long long left = (*date - std::chrono::floor<std::chrono::seconds>(now)).count();
  return static_cast<int>(std::clamp<long long>(left, 0, std::numeric_limits<int>::max()));
}

bool is_token(const std::string& token) {
  // Server::Impl::random_hex(32) (server_routes.cpp).
  return token.size() == 64 && std::all_of(token.begin(), token.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

bool is_job_id(const std::string& job) {
  // Server::Impl::random_hex(16) (server_routes.cpp); the job store reads no other name.
  return job.size() == 32 && std::all_of(job.begin(), job.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

void check_server_url(const std::string& url) {
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
    throw std::invalid_argument("--server must be http://HOST:PORT or https://HOST:PORT, not '" +
                                url + "'");
  }
  const std::string rest = url.substr(url.find("://") + 3);
  if (rest.find_first_of("/?#") != std::string::npos) {
    throw std::invalid_argument("--server takes no path or query: '" + url + "'");
  }
  if (rest.find('@') != std::string::npos) {
    throw std::invalid_argument(
        "--server: user information (USER:PASSWORD@) is not supported in '" + url +
        "'; give http://HOST:PORT (the token authenticates)");
  }
  if (!rest.empty() && rest.front() != '[' && std::count(rest.begin(), rest.end(), ':') > 1) {
    throw std::invalid_argument("--server: an IPv6 address needs brackets in '" + url +
                                "': http://[::1]:8080");
  }
  std::string host = rest;
  std::optional<std::string> port;
  if (!rest.empty() && rest.front() == '[') {  // an IPv6 address
    const size_t close = rest.find(']');
    if (close == std::string::npos || (close + 1 < rest.size() && rest[close + 1] != ':')) {
      throw std::invalid_argument("--server: malformed host in '" + url +
                                  "' (an IPv6 address in brackets: http://[::1]:8080)");
    }
    host = rest.substr(0, close + 1);
    if (close + 1 < rest.size()) port = rest.substr(close + 2);
  } else if (const size_t colon = rest.find(':'); colon != std::string::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  if (host.empty() || host == "[]") {
    throw std::invalid_argument("--server: no host in '" + url + "'");
  }
  // A port beyond 65535 was passed on and reported as "connection refused".
  if (port && (port->empty() || port->size() > 5 ||
               port->find_first_not_of("0123456789") != std::string::npos ||
               std::stoul(*port) < 1 || std::stoul(*port) > 65535)) {
    throw std::invalid_argument("--server: invalid port '" + *port + "' in '" + url +
                                "' (a port is a number from 1 to 65535)");
  }
}

Client::Client(ClientOptions options) : options_(std::move(options)) {
  connect(options_);  // checks the URL now
}

void require_key_set_upload(const KeyDirectory& keys) {
  require_upload_role(keys.parameters, ProtocolFileKind::kParameterSet,
                      "the parameter set of a key directory from cryptonets keygen");
  require_upload_role(keys.evaluation_keys, ProtocolFileKind::kEvaluationKeys,
                      "the evaluation keys of a key directory from cryptonets keygen");
  require_upload_role(keys.public_keys, ProtocolFileKind::kPublicKeys,
                      "the public keys of a key directory from cryptonets keygen");
}

std::string Client::register_keys(const KeyDirectory& keys) {
  // Each part checked for its role before any connection: a secret key never crosses the network.
  require_key_set_upload(keys);
  const FileSequence body({keys.parameters, keys.evaluation_keys, keys.public_keys});
  const std::string path = "/v1/keysets?params=" + std::to_string(body.size(0)) +
                           "&evaluation=" + std::to_string(body.size(1)) +
                           "&public=" + std::to_string(body.size(2));
  auto result = upload(options_, path, {}, body, "register the keys");
  // The token is saved and sent in every later request's header: only the server's form is
  // taken (a token of another form was saved, exit 0, and then refused by every later command).
  const json answer = expect_json(*result, 201, options_.server);
  const json* token = answer.is_object() && answer.contains("token") ? &answer["token"] : nullptr;
  if (token == nullptr || !token->is_string() || !is_token(token->get<std::string>())) {
    throw std::runtime_error(
        "the server's answer to POST /v1/keysets holds no token (64 "
        "lowercase hex digits): is " +
        options_.server + " a cryptonets server?");
  }
  return token->get<std::string>();
}

void Client::check_queue(const std::string& token) {
  auto client = connect(options_);
  auto result =
      request_json(options_, *client, "GET", "/v1/queue", bearer(token), "reach the server");
  expect_json(*result, 200, options_.server);
}

JobStatus Client::submit(const std::string& token, const CheckedUpload& batch) {
  const FileSequence body(batch);
  check_queue(token);  // a full queue answers before the upload, not after it
  auto result = upload(options_, "/v1/jobs", bearer(token), body, "upload '" + batch.path() + "'");
  return job_status_from(expect_json(*result, 202, options_.server), options_, "POST /v1/jobs");
}

JobStatus Client::submit(const std::string& token, const std::string& batch_path) {
  return submit(token, CheckedUpload(batch_path, ProtocolFileKind::kCiphertexts,
                                     "encrypted images from cryptonets encrypt"));
}

JobStatus Client::status(const std::string& token, const std::string& job, int wait_s) {
  require_job_id(job);
  auto client = connect(options_);
  client->set_read_timeout(options_.timeout_s + wait_s, 0);
  auto result = request_json(
      options_, *client, "GET",
      "/v1/jobs/" + job + (wait_s > 0 ? "?wait=" + std::to_string(wait_s) : std::string()),
      bearer(token), "ask for job " + job, wait_s);
  return job_status_from(expect_json(*result, 200, options_.server), options_,
                         "GET /v1/jobs/" + job, job);
}

namespace {

template <class Scheme>
std::function<void(const std::string&)> typed_scores_check(const KeyDirectory& keys) {
  const encoding::BasicEncryptionKeys<Scheme> loaded =
      load_encryption_keys<Scheme>(keys.parameters, keys.public_keys);
  return [contexts = loaded.contexts,
          key_ids = key_ids_of(loaded.public_keys)](const std::string& path) {
    BasicCiphertextFileReader<Scheme> reader(path, contexts, key_ids);
    while (reader.batches_left() > 0)
      reader.next();
    reader.finish();
  };
}

}  // namespace

std::function<void(const std::string&)> scores_check(const KeyDirectory& keys) {
  if (protocol_file_scheme(keys.parameters) == SchemeId::kBfv) {
    return typed_scores_check<bfv::Scheme>(keys);
  }
  return typed_scores_check<yashe::Scheme>(keys);
}

namespace {

// The download in progress, removed by SIGINT, SIGTERM, SIGHUP (the terminal closed) or SIGQUIT
// while the body arrives, which would otherwise leave OUT.part-PID behind. Only async-signal-safe
// calls in the handler.
constexpr int kPartSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
char g_part_path[4096];
volatile sig_atomic_t g_part_armed = 0;
struct sigaction g_previous[std::size(kPartSignals)]{};

extern "C" void remove_part_and_die(int signal_number) {
  if (g_part_armed != 0) ::unlink(g_part_path);
  ::signal(signal_number, SIG_DFL);
  ::raise(signal_number);
}

void arm_part_removal(const std::string& part) {
  if (part.size() >= sizeof g_part_path) return;  // no room: left as before (a path that long)
  std::memcpy(g_part_path, part.c_str(), part.size() + 1);
  struct sigaction action {};
  action.sa_handler = remove_part_and_die;
  ::sigemptyset(&action.sa_mask);
  for (size_t i = 0; i < std::size(kPartSignals); ++i) {
    ::sigaction(kPartSignals[i], &action, &g_previous[i]);
    // A signal the process ignores (started with nohup, or in the background) stays ignored.
    if (g_previous[i].sa_handler == SIG_IGN) ::sigaction(kPartSignals[i], &g_previous[i], nullptr);
  }
  g_part_armed = 1;
}

void disarm_part_removal() {
  if (g_part_armed == 0) return;
  g_part_armed = 0;
  for (size_t i = 0; i < std::size(kPartSignals); ++i)
    ::sigaction(kPartSignals[i], &g_previous[i], nullptr);
}

// Removes the part files OUT.part-PID left beside `out_path` by fetches that died without their
// handler running (SIGKILL, a crash, power loss). Each fetch holds an flock on its part file until
// the file is renamed into place or removed, and the kernel drops it with the process: a part
// file is stale when no one holds its lock and its process PID has ended. A concurrent fetch to the
// same OUT keeps its file (it holds the lock, or is alive between creating and locking it); a
// file whose PID now belongs to another process is left for a later fetch. Best effort: what
// cannot be read or removed stays, as before.
void remove_stale_parts(const std::string& out_path) {
  const size_t slash = out_path.find_last_of('/');
  const std::string directory =
      slash == std::string::npos ? "." : out_path.substr(0, std::max<size_t>(slash, 1));
  const std::string prefix =
      (slash == std::string::npos ? out_path : out_path.substr(slash + 1)) + ".part-";
  DIR* listing = ::opendir(directory.c_str());
  if (listing == nullptr) return;
  const int directory_fd = ::dirfd(listing);
  while (const dirent* entry = ::readdir(listing)) {
    const std::string name = entry->d_name;
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string digits = name.substr(prefix.size());
    if (digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(digits));
    // Our own id: the file of an earlier process that had it (this one has not created its own).
    // A killed fetch its parent has not reaped (a zombie) has ended, its lock gone with it.
    if (pid != ::getpid() && !process_has_ended(pid)) continue;
    // O_NONBLOCK: a FIFO of that name opens at once (and is then left, not being a file).
    const int fd =
        ::openat(directory_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) continue;
    struct stat held {};
    struct stat named {};
    // Still the file under that name once locked (another fetch may have removed it meanwhile).
    if (::fstat(fd, &held) == 0 && S_ISREG(held.st_mode) && ::flock(fd, LOCK_EX | LOCK_NB) == 0 &&
        ::fstatat(directory_fd, name.c_str(), &named, AT_SYMLINK_NOFOLLOW) == 0 &&
        named.st_dev == held.st_dev && named.st_ino == held.st_ino) {
      ::unlinkat(directory_fd, name.c_str(), 0);
    }
    ::close(fd);
  }
  ::closedir(listing);
}

}  // namespace

void Client::fetch(const std::string& token, const std::string& job, const std::string& out_path,
                   const std::function<void(const std::string&)>& check) {
  require_job_id(job);
  // A temporary beside the target, renamed over it once complete and checked.
  const std::string part = out_path + ".part-" + std::to_string(::getpid());
  if (part.size() >= sizeof g_part_path) {
    throw std::runtime_error("cannot write '" + out_path + "': the path is too long");
  }
  // Armed before the file exists: a signal between its creation and the arming killed the
  // client and left the part file behind (the name holds this process's id, so a signal before
  // the creation removes nothing of anyone else's).
  remove_stale_parts(out_path);
  arm_part_removal(part);
  const int fd = ::open(part.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0 || !keep_owner_read_write(fd, 0644)) {
    const int error = errno;
    if (fd >= 0) {
      ::unlink(part.c_str());
      ::close(fd);
    }
    disarm_part_removal();
    throw std::runtime_error("cannot create '" + part + "': " + std::strerror(error));
  }
  // Held until the file is renamed or removed: the next fetch to the same output tells a part
  // file of a live fetch from one a SIGKILL left (remove_stale_parts).
  (void)::flock(fd, LOCK_EX | LOCK_NB);
  struct Cleanup {
    std::string path;
    int fd;
    ~Cleanup() {
      disarm_part_removal();
      if (!path.empty()) ::unlink(path.c_str());  // before the lock goes with the descriptor
      if (fd >= 0) ::close(fd);
    }
  } cleanup{part, fd};

  auto client = connect(options_);
  // The status line and headers, and an error answer (short JSON), within --timeout in all, as
  // exchange bounds an answer: a server trickling its headers a byte at a time held fetch for
  // ever, and a silent one cost twice --timeout (the HTTPS probe after it). The scores only per
  // read: the watchdog ends when they begin.
  const Clock::time_point start = Clock::now();
  const Clock::time_point deadline = start + std::chrono::seconds(options_.timeout_s);
  Watchdog watchdog(*client, deadline);
  bool too_slow = false;
  int status = 0;
  uint64_t total = 0;
  uint64_t received = 0;
  std::string error_body;
  int write_error = 0;
  bool no_length = false;
  auto result = client->Get(
      "/v1/jobs/" + job + "/result", bearer(token),
      [&](const httplib::Response& res) {
        watchdog.head_read();
        status = res.status;
        if (status != 200) return true;
        // The scores are written as they arrive: an answer of no declared length (chunked, or to
        // the connection's close) was written until the server stopped, however long. The
        // service always declares it: refused before any byte is read.
        if (res.has_header("Transfer-Encoding")) {
          no_length = true;
          return false;
        }
        try {
          total = parse_byte_count(res.get_header_value("Content-Length"));
        } catch (const std::invalid_argument&) {
          no_length = true;
          return false;
        }
        if (status == 200) watchdog.finish();
        return true;
      },
      [&](const char* data, size_t length) {
        if (status != 200) {
          if (error_body.size() < 65536) error_body.append(data, length);
          if (Clock::now() <= deadline) return true;
          too_slow = true;
          return false;
        }
        while (length > 0) {
          const ssize_t written = ::write(fd, data, length);
          if (written < 0 && errno == EINTR) continue;
          if (written <= 0) {
            write_error = written < 0 ? errno : EIO;
            return false;
          }
          data += written;
          length -= static_cast<size_t>(written);
          received += static_cast<uint64_t>(written);
        }
        if (options_.progress) options_.progress(received, total);
        return true;
      });
  if (watchdog.finish() && !result && write_error == 0) {
    if (watchdog.head_too_large()) {
      throw std::runtime_error("cannot fetch job " + job + " at " + options_.server + ": " +
                               head_too_large_message(options_.server));
    }
    if (status == 0) {
      throw std::runtime_error("cannot fetch job " + job + " at " + options_.server +
                               ": the server at " + host_port(options_.server) +
                               " did not answer within --timeout " +
                               std::to_string(options_.timeout_s) + " s");
    }
    too_slow = true;
  }
  if (write_error != 0) {
    throw std::runtime_error("cannot write '" + part + "': " + std::strerror(write_error));
  }
  if (no_length) {
    throw std::runtime_error("cannot fetch job " + job + " at " + options_.server +
                             ": the server's answer declares no Content-Length (chunked, or to "
                             "the connection's close); the scores were not read");
  }
  if (too_slow) {
    throw std::runtime_error("cannot fetch job " + job + " at " + options_.server +
                             ": the server's answer (" + std::to_string(status) +
                             ") did not end within --timeout " +
                             std::to_string(options_.timeout_s) + " s");
  }
  if (!result) {
    unreachable(options_, result, "fetch job " + job, false, start, verify_result(*client));
  }
  if (status != 200)
    throw ServiceError(status, server_message(status, error_body, options_.server));
  if (received != total) {
    throw std::runtime_error("the scores of job " + job + " arrived incomplete (" +
                             std::to_string(received) + " of " + std::to_string(total) + " bytes)");
  }
  if (::fsync(fd) != 0) throw std::runtime_error("cannot write '" + part + "': fsync failed");
  {
    try {
      // Without keys too: the file's structure and checksums (as inspect verifies them), so that a
      // damaged download is never written, nor its job deleted by the caller.
      verify_ciphertext_file(part);
      if (read_protocol_header(part).answers_file_id == 0) {
        throw std::runtime_error("'" + part + "' holds encrypted images, not scores");
      }
      if (check) check(part);
    } catch (const std::runtime_error& error) {
      // The .part file is removed on the way out: name the output the user asked for instead.
      std::string message = error.what();
      const std::string quoted = "'" + part + "'";
      for (size_t at = message.find(quoted); at != std::string::npos;
           at = message.find(quoted, at + 1)) {
        message.replace(at, quoted.size(), "'" + out_path + "' (as downloaded; not written)");
      }
      throw std::runtime_error(message);
    }
  }
  if (::rename(part.c_str(), out_path.c_str()) != 0) {
    throw std::runtime_error("cannot write '" + out_path + "': " + std::strerror(errno));
  }
  cleanup.path.clear();
  const size_t slash = out_path.find_last_of('/');
  try {
    sync_directory(slash == std::string::npos ? "."
                                              : out_path.substr(0, std::max<size_t>(slash, 1)));
  } catch (const std::runtime_error&) {
    // best effort, as AtomicFileWriter
  }
}

void Client::remove(const std::string& token, const std::string& job) {
  require_job_id(job);
  auto client = connect(options_);
  auto result = request_json(options_, *client, "DELETE", "/v1/jobs/" + job, bearer(token),
                             "delete job " + job);
  if (result->status != 204) {
    throw ServiceError(result->status,
                       server_message(result->status, result->body, options_.server));
  }
}

ServedProfile Client::profile() {
  auto client = connect(options_);
  auto result =
      request_json(options_, *client, "GET", "/v1/profile", {}, "fetch the server's model profile");
  if (result->status != 200) {
    std::string message = server_message(result->status, result->body, options_.server);
    if (result->status == 404) {
      message +=
          " (a server older than GET /v1/profile: its operator makes the profile with "
          "cryptonets profile --model MODEL --out FILE)";
    }
    throw ServiceError(result->status, message, retry_after(*result), error_code(result->body));
  }
  ServedProfile served{std::move(result->body), {}};
  std::istringstream in(served.text);
  try {
    served.profile = read_profile(in, options_.server + "/v1/profile");
  } catch (const std::runtime_error& e) {
    throw std::runtime_error("the server's answer to GET /v1/profile is not a model profile (" +
                             std::string(e.what()) + "): is " + options_.server +
                             " a cryptonets server?");
  }
  return served;
}

}  // namespace cryptonets::service
