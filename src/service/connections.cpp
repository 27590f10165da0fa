// The server's HTTP connections beneath httplib's request handling (connections.hpp).
#include "connections.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "http_support.hpp"

namespace cryptonets::service {

thread_local ConnectionFacts connection_facts;

namespace {

// When the listener accepted the connection this thread serves (ConnectionQueue::enqueue):
// the first byte and the whole request head are awaited from then, not from when a thread took
// it. Unset (the epoch) outside a ConnectionQueue: from when the thread took it.
thread_local Clock::time_point connection_accepted_at{};

// The connection this thread serves is one beyond ConnectionQueue::kMaxWaiting: answered 503.
thread_local bool connection_overflow = false;

// How long after its acceptance a connection beyond ConnectionQueue::kMaxWaiting may take to
// complete its TLS handshake, to be answered (ConnectionQueue::refuse: one thread for them all).
constexpr std::chrono::milliseconds kOverflowHandshake{1000};

// What a connection beyond ConnectionQueue::kMaxWaiting is told (overflow_answer), and logged.
constexpr const char* kOverflowError = "the server has too many connections waiting; retry later";

std::string overflow_body() {
  return "{\"error\":\"" + std::string(kOverflowError) + "\"}\n";
}

// What a connection beyond ConnectionQueue::kMaxWaiting is answered, whatever it asks.
std::string overflow_answer() {
  const std::string body = overflow_body();
  return "HTTP/1.1 503 Service Unavailable\r\nRetry-After: " +
         std::to_string(kTransientRetrySeconds) +
         "\r\nAccept-Ranges: none\r\nConnection: close\r\nContent-Type: application/json\r\n"
         "Content-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

// Waits until `fd` is ready for `events` or `timeout` passes: 1 ready (or closed, or in error:
// the read or write then says so), 0 timed out, -1 a failure of poll itself.
int wait_for(int fd, short events, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    pollfd ready{fd, events, 0};
    const int polled =
        ::poll(&ready, 1, static_cast<int>(std::clamp<int64_t>(left.count(), 0, INT_MAX)));
    if (polled < 0 && errno == EINTR) continue;
    return polled < 0 ? -1 : (polled > 0 ? 1 : 0);
  }
}

// The numeric address and port of a socket's end (getpeername or getsockname), as httplib has
// them (getnameinfo with NI_NUMERICHOST).
void address_of(int fd, bool peer, std::string& ip, int& port) {
  sockaddr_storage address{};
  socklen_t size = sizeof address;
  auto* raw = reinterpret_cast<sockaddr*>(&address);
  if ((peer ? ::getpeername(fd, raw, &size) : ::getsockname(fd, raw, &size)) != 0) return;
  char host[NI_MAXHOST] = {};
  char service[NI_MAXSERV] = {};
  if (::getnameinfo(raw, size, host, sizeof host, service, sizeof service,
                    NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
    ip = host;
    port = std::atoi(service);
  }
}

// What both streams share: the socket, its timeouts, the addresses.
class ConnectionStream : public httplib::Stream {
 public:
  ConnectionStream(int fd, const ConnectionSettings& settings, Clock::time_point accepted)
      : fd_(fd),
        settings_(settings),
        head_deadline_(accepted +
                       std::chrono::duration_cast<Clock::duration>(settings.read_timeout)) {}
  bool is_writable() const override { return wait_for(fd_, POLLOUT, settings_.write_timeout) == 1; }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = connection_facts.remote_addr;
    port = connection_facts.remote_port;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    address_of(fd_, false, ip, port);
  }
  socket_t socket() const override { return fd_; }

 protected:
  // Whether data (or the peer's close) arrives within the read timeout, and, while the request's
  // head is read, before the head's deadline (its connection's acceptance and the read timeout):
  // the timeout bounded each read only, so a client that sent a byte of its headers every few
  // seconds held an HTTP thread for as long as it went on (eight such held every thread, for a
  // few bytes a second). Records a timeout.
  bool wait_readable() const {
    auto timeout = settings_.read_timeout;
    if (!head_ended_) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(head_deadline_ - Clock::now());
      timeout = std::clamp(left, std::chrono::milliseconds(0), timeout);
    }
    const int ready = wait_for(fd_, POLLIN, timeout);
    if (ready == 0) connection_facts.timed_out = true;
    return ready == 1;
  }

  // The `got` bytes just read into `data`, counted while they are the request's head: returns
  // how many of them httplib is given, -1 once the head has more than kMaxHeaderFields header
  // lines or a header line longer than kMaxHeadLineBytes (httplib, which reads the head a byte at
  // a time, then answers 400: the server makes it 431). A line is counted at its LF, as httplib's
  // line reader ends it; the blank line ends the head. httplib checks a line's length only once
  // it has the whole line in memory (a 300 MB one took 670 MB of the server's memory): a request
  // line that grows past kMaxHeadLineBytes is ended there with an LF of the stream's own, so that
  // httplib answers it 414 at once (its own check), and reads no further (too_long_line).
  // A read that ends (0) or fails (a reset) inside the head, other than by a timeout, is the
  // client's close (closed_in_head).
  ssize_t through_head(char* data, ssize_t got) {
    if (head_refused()) return -1;
    if (got <= 0 && !head_ended_ && !connection_facts.timed_out) {
      connection_facts.closed_in_head = true;
    }
    if (got <= 0 || head_ended_) return got;
    for (ssize_t i = 0; i < got; ++i) {
      if (data[i] != '\n') {
        previous_ = data[i];
        // With its LF still to come, the line is longer than httplib takes. The request line is
        // ended one byte later, at a length that httplib answers 414.
        if (++line_bytes_ >= kMaxHeadLineBytes &&
            (head_lines_ > 0 || line_bytes_ > kMaxHeadLineBytes)) {
          connection_facts.too_long_line = true;
          if (head_lines_ > 0) return i > 0 ? i : -1;
          data[i] = '\n';
          return i + 1;
        }
        continue;
      }
      const bool blank = line_bytes_ == 1 && previous_ == '\r';
      line_bytes_ = 0;
      if (blank) {
        head_ended_ = true;
        return got;
      }
      if (++head_lines_ > 1 + kMaxHeaderFields) {  // the request line, then the header lines
        connection_facts.too_many_headers = true;
        return i > 0 ? i : -1;
      }
    }
    return got;
  }

  // The head was cut short (too many lines, or one too long): nothing more is read.
  static bool head_refused() {
    return connection_facts.too_many_headers || connection_facts.too_long_line;
  }

  int fd_;
  const ConnectionSettings& settings_;
  Clock::time_point head_deadline_;  // the request line and headers all in by then
  bool head_ended_ = false;
  int head_lines_ = 0;
  size_t line_bytes_ = 0;
  char previous_ = 0;
};

// Plain HTTP. httplib reads the request line and headers a byte at a time: small reads are served
// from a buffer (as its own stream does).
class SocketStream final : public ConnectionStream {
 public:
  using ConnectionStream::ConnectionStream;
  bool is_readable() const override { return begin_ < end_ || wait_readable(); }
  ssize_t read(char* ptr, size_t size) override {
    if (head_refused()) return -1;
    if (begin_ == end_) {
      if (!wait_readable()) return -1;
      if (size >= buffer_.size()) return through_head(ptr, receive(ptr, size));
      const ssize_t got = receive(buffer_.data(), buffer_.size());
      if (got <= 0) return through_head(ptr, got);
      begin_ = 0;
      end_ = static_cast<size_t>(got);
    }
    const size_t copied = std::min(size, end_ - begin_);
    std::memcpy(ptr, buffer_.data() + begin_, copied);
    begin_ += copied;
    return through_head(ptr, static_cast<ssize_t>(copied));
  }
  ssize_t write(const char* ptr, size_t size) override {
    // Its client has gone: httplib's 400 is not sent (nor would it be read).
    if (connection_facts.closed_in_head || !is_writable()) return -1;
    for (;;) {
      const ssize_t sent = ::send(fd_, ptr, size, MSG_NOSIGNAL);
      if (sent < 0 && errno == EINTR) continue;
      return sent;
    }
  }

 private:
  ssize_t receive(char* ptr, size_t size) {
    for (;;) {
      const ssize_t got = ::recv(fd_, ptr, size, 0);
      if (got < 0 && errno == EINTR) continue;
      return got;
    }
  }
  std::array<char, 4096> buffer_{};
  size_t begin_ = 0, end_ = 0;
};

// HTTPS: OpenSSL over the blocking socket, whose SO_RCVTIMEO and SO_SNDTIMEO bound each of its
// reads and writes (set by serve_connection).
class TlsStream final : public ConnectionStream {
 public:
  TlsStream(int fd, const ConnectionSettings& settings, Clock::time_point accepted, SSL* ssl)
      : ConnectionStream(fd, settings, accepted), ssl_(ssl) {}
  bool is_readable() const override { return ::SSL_pending(ssl_) > 0 || wait_readable(); }
  ssize_t read(char* ptr, size_t size) override {
    if (head_refused()) return -1;
    if (::SSL_pending(ssl_) <= 0 && !wait_readable()) return -1;
    const int got = ::SSL_read(ssl_, ptr, static_cast<int>(std::min<size_t>(size, INT_MAX)));
    if (got > 0) return through_head(ptr, got);
    const int error = ::SSL_get_error(ssl_, got);
    if (error == SSL_ERROR_ZERO_RETURN) return through_head(ptr, 0);
    // SO_RCVTIMEO ran out inside a record.
    if (error == SSL_ERROR_WANT_READ ||
        (error == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK))) {
      connection_facts.timed_out = true;
    }
    ::ERR_clear_error();
    return through_head(ptr, -1);
  }
  ssize_t write(const char* ptr, size_t size) override {
    if (connection_facts.closed_in_head || !is_writable()) return -1;
    const int sent = ::SSL_write(ssl_, ptr, static_cast<int>(std::min<size_t>(size, INT_MAX)));
    if (sent > 0) return sent;
    ::ERR_clear_error();
    return -1;
  }

 private:
  SSL* ssl_;
};

// The TLS handshake of `ssl` on `fd`, done by `deadline` (the request head's: its connection's
// acceptance and the read timeout). SSL_accept on the blocking socket waited the read timeout
// for each of its reads: a client that sent its ClientHello a byte every few seconds held an
// HTTP thread for as long as it went on. Driven here on the socket made non-blocking, each wait
// bounded by the deadline; the socket is blocking again after.
bool tls_handshake(SSL* ssl, int fd, Clock::time_point deadline) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) return false;
  bool done = false;
  for (;;) {
    const int result = ::SSL_accept(ssl);
    if (result == 1) {
      done = true;
      break;
    }
    const int error = ::SSL_get_error(ssl, result);
    if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) break;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0 ||
        wait_for(fd, error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, left) != 1) {
      connection_facts.timed_out = true;
      break;
    }
  }
  if (::fcntl(fd, F_SETFL, flags) != 0) return false;
  return done;
}

// After httplib's process_request: where it gave up on a request line that did not arrive in time
// (it answers and logs nothing then), the server's 408.
void answer_request_line_timeout(httplib::Stream& stream, const ConnectionSettings& settings) {
  if (connection_facts.answered || !connection_facts.timed_out || !settings.request_line_timeout) {
    return;
  }
  const std::string answer = settings.request_line_timeout();
  stream.write(answer.data(), answer.size());
}

// One accepted connection, from start to close: its facts for this thread, a first byte awaited
// until ConnectionSettings::first_byte_wait after its acceptance (none: closed, nothing asked),
// then `serve` (the handshake and the request, given when it was accepted); the socket is closed
// in the end. Counted from the acceptance, not from when a thread took it: connections that
// sent nothing and waited in the queue held each thread first_byte_wait in turn, so that 40 of
// them delayed the next client 25 s (8 threads), 10000 of them for hours.
//   A connection beyond ConnectionQueue::kMaxWaiting is given to `refuse` (when it was accepted)
// instead, which sends overflow_answer() without waiting for its request.
template <class Serve, class Refuse>
bool serve_connection(int fd, const ConnectionSettings& settings, Serve serve, Refuse refuse) {
  const Clock::time_point accepted =
      connection_accepted_at == Clock::time_point{} ? Clock::now() : connection_accepted_at;
  connection_facts = ConnectionFacts{};
  connection_facts.fd = fd;
  connection_facts.after_stop = settings.stop_requested != nullptr && *settings.stop_requested;
  address_of(fd, true, connection_facts.remote_addr, connection_facts.remote_port);
  request_facts = RequestFacts{};
  const auto as_timeval = [](std::chrono::milliseconds span) {
    timeval value{};
    value.tv_sec = static_cast<time_t>(span.count() / 1000);
    value.tv_usec = static_cast<suseconds_t>(span.count() % 1000 * 1000);
    return value;
  };
  if (connection_overflow) {
    // Without waiting for its request (a blocked write would hold the refusing thread): what the
    // socket takes now, then what it sent so far is dropped, so that the close is not a reset
    // that loses the answer.
    refuse(accepted);
    ::shutdown(fd, SHUT_WR);
    std::array<char, 4096> dropped{};
    while (::recv(fd, dropped.data(), dropped.size(), MSG_DONTWAIT) > 0) {
    }
    ::close(fd);
    connection_facts = ConnectionFacts{};
    return false;
  }
  const timeval receive = as_timeval(settings.read_timeout);
  const timeval send = as_timeval(settings.write_timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &receive, sizeof receive);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send, sizeof send);
  bool served = false;
  const auto first_byte_left = std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(
                                              accepted + settings.first_byte_wait - Clock::now()),
                                          std::chrono::milliseconds(0), settings.first_byte_wait);
  if (wait_for(fd, POLLIN, first_byte_left) == 1) {
    // The time the request took, in its log line, counts from its first byte.
    connection_facts.start = Clock::now();
    request_facts.start = connection_facts.start;
    served = serve(accepted);
  }
  ::shutdown(fd, SHUT_RDWR);
  ::close(fd);
  connection_facts = ConnectionFacts{};
  return served;
}

class PlainServer final : public httplib::Server {
 public:
  explicit PlainServer(const ConnectionSettings& settings) : settings_(settings) {}

 private:
  bool process_and_close_socket(socket_t sock) override {
    const auto serve = [&](Clock::time_point accepted) {
      SocketStream stream(sock, settings_, accepted);
      bool closed = false;  // one request per connection: answered with Connection: close
      const bool served = process_request(stream, true, closed, nullptr);
      answer_request_line_timeout(stream, settings_);
      return served;
    };
    const auto refuse = [this, sock](Clock::time_point accepted) {
      const std::string answer = overflow_answer();
      (void)::send(sock, answer.data(), answer.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      if (settings_.overflow_answered) {
        settings_.overflow_answered(kOverflowError, overflow_body().size(), accepted);
      }
    };
    return serve_connection(sock, settings_, serve, refuse);
  }
  ConnectionSettings settings_;
};

class TlsServer final : public httplib::SSLServer {
 public:
  TlsServer(const ConnectionSettings& settings, const std::string& cert, const std::string& key)
      : httplib::SSLServer(cert.c_str(), key.c_str()), settings_(settings) {}

 private:
  bool process_and_close_socket(socket_t sock) override {
    // The handshake and the head count from when this thread took the connection, not from its
    // acceptance: the handshake's round trips can only begin now, so a client that waited in the
    // queue longer than the read timeout behind legitimate uploads had its handshake cut at its
    // first wait, unanswered. A thread is still held at most the read timeout by a slow client.
    const auto serve = [&](Clock::time_point /*accepted*/) {
      const Clock::time_point taken = Clock::now();
      SSL* ssl = ::SSL_new(ssl_context());
      if (ssl == nullptr) return false;
      bool served = false;
      if (::SSL_set_fd(ssl, sock) == 1 &&
          tls_handshake(
              ssl, sock,
              taken + std::chrono::duration_cast<Clock::duration>(settings_.read_timeout))) {
        TlsStream stream(sock, settings_, taken, ssl);
        bool closed = false;
        served =
            process_request(stream, true, closed, [ssl](httplib::Request& req) { req.ssl = ssl; });
        answer_request_line_timeout(stream, settings_);
        // close_notify only after a complete exchange (as httplib: not to a client gone).
        if (served) ::SSL_shutdown(ssl);
      }
      ::ERR_clear_error();
      ::SSL_free(ssl);
      return served;
    };
    // Through TLS, as the client expects it (the plain text answer read as a failed handshake,
    // "wrong version number"): the handshake by kOverflowHandshake after its acceptance, so that
    // clients that never complete it cannot hold the one refusing thread, nor the connections
    // behind it; the answer written without waiting, as over http.
    const auto refuse = [&](Clock::time_point accepted) {
      SSL* ssl = ::SSL_new(ssl_context());
      if (ssl == nullptr) return;
      if (::SSL_set_fd(ssl, sock) == 1 && tls_handshake(ssl, sock, accepted + kOverflowHandshake)) {
        const int flags = ::fcntl(sock, F_GETFL);
        if (flags >= 0 && ::fcntl(sock, F_SETFL, flags | O_NONBLOCK) == 0) {
          const std::string answer = overflow_answer();
          if (::SSL_write(ssl, answer.data(), static_cast<int>(answer.size())) > 0)
            ::SSL_shutdown(ssl);
          if (settings_.overflow_answered) {
            settings_.overflow_answered(kOverflowError, overflow_body().size(), accepted);
          }
        }
      }
      ::ERR_clear_error();
      ::SSL_free(ssl);
    };
    return serve_connection(sock, settings_, serve, refuse);
  }
  ConnectionSettings settings_;
};

}  // namespace

namespace {

// OpenSSL's reason for its latest error ("no start line", "key values mismatch"); the queue is
// cleared.
std::string openssl_reason() {
  const unsigned long error = ::ERR_peek_last_error();
  const char* reason = error != 0 ? ::ERR_reason_error_string(error) : nullptr;
  ::ERR_clear_error();
  return reason != nullptr ? reason : "no reason given";
}

// A passphrase callback that gives none: an encrypted key fails instead of prompting.
int no_passphrase(char*, int, int, void*) {
  return 0;
}

struct BioCloser {
  void operator()(BIO* bio) const { ::BIO_free(bio); }
};
struct X509Freer {
  void operator()(X509* x) const { ::X509_free(x); }
};
struct KeyFreer {
  void operator()(EVP_PKEY* key) const { ::EVP_PKEY_free(key); }
};

// The first PEM certificate in `path`, or nullptr (`why`: OpenSSL's reason, or the open's).
std::unique_ptr<X509, X509Freer> read_certificate(const std::string& path, std::string& why) {
  std::unique_ptr<BIO, BioCloser> bio(::BIO_new_file(path.c_str(), "r"));
  if (!bio) {
    why = openssl_reason();
    return nullptr;
  }
  std::unique_ptr<X509, X509Freer> cert(
      ::PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr));
  if (!cert) why = openssl_reason();
  return cert;
}

// The first PEM private key in `path`, or nullptr (`why`: OpenSSL's reason, or the open's).
std::unique_ptr<EVP_PKEY, KeyFreer> read_private_key(const std::string& path, std::string& why) {
  std::unique_ptr<BIO, BioCloser> bio(::BIO_new_file(path.c_str(), "r"));
  if (!bio) {
    why = openssl_reason();
    return nullptr;
  }
  std::unique_ptr<EVP_PKEY, KeyFreer> key(
      ::PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
  if (!key) why = openssl_reason();
  return key;
}

// Whether `path` begins (within 64 KiB) with a passphrase-protected PEM key: PKCS #8
// "ENCRYPTED PRIVATE KEY", or a traditional key's "Proc-Type: 4,ENCRYPTED" header (RFC 1421).
bool pem_encrypted_key(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string head(64 * 1024, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  return head.find("-----BEGIN ENCRYPTED PRIVATE KEY-----") != std::string::npos ||
         head.find("Proc-Type: 4,ENCRYPTED") != std::string::npos;
}

}  // namespace

std::string tls_files_problem(const std::string& tls_cert, const std::string& tls_key) {
  std::string why;
  std::string unused;
  const auto cert = read_certificate(tls_cert, why);
  if (!cert) {
    if (read_private_key(tls_cert, unused)) {
      return "the certificate file '" + tls_cert +
             "' holds a private key, not a certificate (--tls-cert and --tls-key swapped?)";
    }
    return "the certificate file '" + tls_cert + "' holds no PEM certificate (OpenSSL: " + why +
           ")";
  }
  const auto key = read_private_key(tls_key, why);
  if (!key) {
    if (read_certificate(tls_key, unused)) {
      return "the key file '" + tls_key +
             "' holds a certificate, not a private key (--tls-cert and --tls-key swapped?)";
    }
    if (pem_encrypted_key(tls_key)) {
      return "the key file '" + tls_key +
             "' is encrypted (passphrase-protected): serve takes an unencrypted key (openssl "
             "pkey -in KEY -out PLAIN.pem, mode 0600)";
    }
    return "the key file '" + tls_key + "' holds no PEM private key (OpenSSL: " + why + ")";
  }
  if (::X509_check_private_key(cert.get(), key.get()) != 1) {
    return "the key '" + tls_key + "' does not match the certificate '" + tls_cert +
           "' (OpenSSL: " + openssl_reason() + ")";
  }
  return {};
}

std::unique_ptr<httplib::Server> make_http_server(const ConnectionSettings& settings,
                                                  const std::string& tls_cert,
                                                  const std::string& tls_key) {
  if (tls_cert.empty()) return std::make_unique<PlainServer>(settings);
  auto tls = std::make_unique<TlsServer>(settings, tls_cert, tls_key);
  if (!tls->is_valid()) return nullptr;
  return tls;
}

ConnectionQueue::ConnectionQueue(size_t threads) {
  for (size_t i = 0; i < std::max<size_t>(1, threads); ++i)
    threads_.emplace_back([this] { work(); });
  refuser_ = std::thread([this] { refuse(); });
}

ConnectionQueue::~ConnectionQueue() {
  shutdown();
}

void ConnectionQueue::enqueue(std::function<void()> task) {
  // httplib enqueues each connection as it accepts it: the time is its acceptance.
  const Clock::time_point accepted = Clock::now();
  std::function<void()> stamped = [accepted, task = std::move(task)] {
    connection_accepted_at = accepted;
    task();
    connection_accepted_at = Clock::time_point{};
  };
  {
    std::lock_guard lock(mutex_);
    if (tasks_.size() >= kMaxWaiting && !shutting_down_) {
      overflow_.push_back(std::move(stamped));
      overflowing_.notify_one();
      return;
    }
    tasks_.push_back(std::move(stamped));
  }
  ready_.notify_one();
}

void ConnectionQueue::refuse() {
  connection_overflow = true;
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(mutex_);
      overflowing_.wait(lock, [this] { return shutting_down_ || !overflow_.empty(); });
      if (overflow_.empty()) return;  // shutting down, and nothing left to answer
      task = std::move(overflow_.front());
      overflow_.pop_front();
    }
    task();
  }
}

void ConnectionQueue::shutdown() {
  {
    std::lock_guard lock(mutex_);
    if (shutting_down_) return;
    shutting_down_ = true;
    for (size_t i = 0; i < std::min(tasks_.size(), kShutdownAnswerers); ++i)
      threads_.emplace_back([this] { work(); });
  }
  ready_.notify_all();
  overflowing_.notify_all();
  for (std::thread& thread : threads_)
    thread.join();
  threads_.clear();
  if (refuser_.joinable()) refuser_.join();
}

void ConnectionQueue::work() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(mutex_);
      ready_.wait(lock, [this] { return shutting_down_ || !tasks_.empty(); });
      if (tasks_.empty()) return;  // shutting down, and nothing left waiting
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();
  }
}

}  // namespace cryptonets::service
