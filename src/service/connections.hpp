// The server's HTTP connections beneath httplib's request handling (internal to the service).
// httplib 0.11 read each accepted socket through a stream of its own: a client stalled inside its
// request headers was answered 400 (its read timeout looked like a malformed request) and logged
// without its address (httplib sets Request::remote_addr only once the headers are read); and a
// connection still waiting for an HTTP thread when the server stopped was closed unread. Here the
// server reads each connection through its own stream, which records the connection's facts
// (peer, start, a timed-out read) for the handlers and the logger, and its own task queue answers
// the connections still waiting at shutdown.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "server_support.hpp"

namespace cryptonets::service {

// The connection whose request this thread is serving (one request per connection).
struct ConnectionFacts {
  int fd = -1;
  Clock::time_point start = Clock::now();  // when the server began to read it
  std::string remote_addr;                 // numeric, as httplib writes Request::remote_addr
  int remote_port = -1;
  bool timed_out = false;         // a read of it waited the read timeout for nothing
  bool routed = false;            // the request reached the server's own handlers
  bool answered = false;          // its answer was written (or tried) and logged
  bool after_stop = false;        // it waited for a thread until after stop(): answered 503
  bool too_many_headers = false;  // its head went past kMaxHeaderFields lines: answered 431
  // A line of its head went past kMaxHeadLineBytes: answered 414 (the request line) or 431.
  bool too_long_line = false;
  // Its client closed (or reset) it inside its request line or headers: nothing is answered,
  // and it is logged as such (httplib's 400 logged it as a malformed request).
  bool closed_in_head = false;
};
extern thread_local ConnectionFacts connection_facts;

// How many header lines a request may have. httplib bounds the length of each line
// (CPPHTTPLIB_HEADER_MAX_LENGTH), not their number: a million short ones held 100 MB of the
// server's memory. The stream ends the request's read at the line past them (connections.cpp),
// and the server answers 431.
constexpr int kMaxHeaderFields = 100;

// How long a line of a request's head may be, its CRLF included: httplib's own limits on the
// request line and on a header line (CPPHTTPLIB_REQUEST_URI_MAX_LENGTH, ..._HEADER_MAX_LENGTH),
// which it checks only once it holds the whole line. The stream ends the request's read at the
// byte past them (connections.cpp): the server answers 414 or 431.
constexpr size_t kMaxHeadLineBytes = CPPHTTPLIB_HEADER_MAX_LENGTH;
static_assert(CPPHTTPLIB_REQUEST_URI_MAX_LENGTH == CPPHTTPLIB_HEADER_MAX_LENGTH);

// How long a new connection may stay silent (httplib's keep-alive wait for its first request).
constexpr int kFirstByteWaitSeconds = 5;

struct ConnectionSettings {
  std::chrono::milliseconds read_timeout{30000};
  std::chrono::milliseconds write_timeout{30000};
  // How long a new connection may stay silent before it is closed unanswered (httplib's
  // keep-alive wait for a first request: nothing was asked, so nothing is logged).
  std::chrono::milliseconds first_byte_wait{kFirstByteWaitSeconds * 1000};
  // The server's stop() was called (Server::Impl::stop_requested_).
  const std::atomic<bool>* stop_requested = nullptr;
  // A read of the request line itself timed out, where httplib gives up without an answer or a
  // log line: returns the whole answer to write (a 408), which it logs.
  std::function<std::string()> request_line_timeout;
  // A connection beyond ConnectionQueue::kMaxWaiting was answered 503 (`error`: the answer's
  // message, `bytes_out`: its body's size; `accepted`: when the listener took it): logs it, as
  // the other answers are.
  std::function<void(const std::string& error, size_t bytes_out, Clock::time_point accepted)>
      overflow_answered;
};

// An httplib::Server (plain HTTP, or HTTPS with `tls_cert` and `tls_key`) whose connections are
// read as above. nullptr where the certificate or key cannot be loaded (as SSLServer::is_valid):
// tls_files_problem says why.
std::unique_ptr<httplib::Server> make_http_server(const ConnectionSettings& settings,
                                                  const std::string& tls_cert,
                                                  const std::string& tls_key);

// Why OpenSSL does not take `tls_cert` (PEM certificate chain) with `tls_key` (PEM private key),
// from its own checks: a file that holds no certificate, or no key (one that holds the other:
// the two swapped), or a key that is not the certificate's (X509_check_private_key); empty if
// both load and match.
std::string tls_files_problem(const std::string& tls_cert, const std::string& tls_key);

// httplib's task queue for the accepted connections: `threads` threads serve them. At shutdown
// (httplib calls it once the listener is closed), the connections still waiting for a thread are
// served at once by up to kShutdownAnswerers more threads, rather than after the busy ones end
// (after kShutdownGrace, when Server::Impl::shutdown_connections had closed them unanswered):
// each began after stop(), so the server answers it 503 (ConnectionFacts::after_stop).
//   At most kMaxWaiting connections wait for a thread: one accepted beyond them is answered 503
// with Retry-After at once (by a thread of its own, without waiting for its request; over HTTPS
// once its TLS handshake is done, if within 1 s of its acceptance), and closed.
// httplib accepts every connection it can and queues it: the queue held any number, each with its
// descriptor, so that a flood of connections took the descriptors the server's own files need
// (its jobs then failed for lack of them) and made every client wait behind it.
class ConnectionQueue : public httplib::TaskQueue {
 public:
  static constexpr size_t kShutdownAnswerers = 16;
  static constexpr size_t kMaxWaiting = 64;
  explicit ConnectionQueue(size_t threads);
  ~ConnectionQueue() override;
  ConnectionQueue(const ConnectionQueue&) = delete;
  ConnectionQueue& operator=(const ConnectionQueue&) = delete;
  void enqueue(std::function<void()> task) override;
  void shutdown() override;

 private:
  void work();
  void refuse();
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> tasks_;
  std::condition_variable overflowing_;
  std::deque<std::function<void()>> overflow_;  // beyond kMaxWaiting: answered 503 (refuse)
  bool shutting_down_ = false;
  std::vector<std::thread> threads_;
  std::thread refuser_;
};

}  // namespace cryptonets::service
