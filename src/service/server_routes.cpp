// The server's HTTP routes (server.hpp gives the protocol): authentication, uploads received to
// disk and verified as they arrive, and the answers.
#include <fcntl.h>
#include <omp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <sstream>
#include <thread>

#include "connections.hpp"
#include "cryptonets/io/free_space.hpp"
#include "cryptonets/io/model_profile.hpp"
#include "cryptonets/io/protocol_files.hpp"
#include "cryptonets/io/sha256.hpp"
#include "cryptonets/service/durable.hpp"
#include "server_impl.hpp"

namespace cryptonets::service {

namespace {

constexpr size_t kBodyChunkBytes = size_t{1} << 20;
// What a job upload's refusals call its encrypted batch, from the header to the records (the
// header's refusals said "the body", the records' "the uploaded batch": two names for one file).
constexpr char kUploadedBatch[] = "the uploaded batch";
constexpr uint64_t kWritebackBytes = uint64_t{64} << 20;
// Room an upload needs beyond its body: its job record and the directory entries.
constexpr uint64_t kUploadReserveBytes = uint64_t{1} << 20;

// Why the request's body cannot be framed without doubt, or "" (RFC 9112 §6.3): two
// Content-Length headers (httplib took the first, a proxy before the server may take another),
// or a Content-Length with a Transfer-Encoding (httplib read the body chunked, while the server
// took the Content-Length for its size). Host (RFC 9112 §3.2) and Authorization, not lists
// either, are refused twice as well. No value is quoted: a token would be logged.
std::string framing_problem(const httplib::Request& req) {
  for (const char* name : {"Content-Length", "Host", "Authorization"}) {
    if (const size_t count = req.get_header_value_count(name); count > 1) {
      return "the request has " + std::to_string(count) + " " + name + " headers; send one";
    }
  }
  if (req.has_header("Content-Length") && req.has_header("Transfer-Encoding")) {
    return "the request has both Content-Length and Transfer-Encoding; send the body with a "
           "Content-Length only (no chunked uploads)";
  }
  return "";
}

// Why a POST's body would not reach the handlers as sent, or "": a Content-Encoding other than
// identity. httplib decompresses a gzip or deflate body before the handlers, which counted it
// against its Content-Length decompressed: a compressed upload was answered 408 "the upload
// stopped after N of M bytes (stalled or disconnected)", which it was not, and a body in an
// encoding httplib does not know was taken as it came.
std::string encoding_problem(const httplib::Request& req) {
  if (req.method != "POST") return "";
  for (size_t i = 0; i < req.get_header_value_count("Content-Encoding"); ++i) {
    std::string value = req.get_header_value("Content-Encoding", i);
    std::transform(value.begin(), value.end(), value.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (value != "identity") {
      return "Content-Encoding '" + req.get_header_value("Content-Encoding", i) +
             "' is not accepted: send the files as they are (application/octet-stream, no "
             "Content-Encoding), as cryptonets client does";
    }
  }
  return "";
}

}  // namespace

// ---- Routes.

void Server::Impl::install_routes() {
  http_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    // request_facts and connection_facts were reset when the connection began (connections.cpp).
    connection_facts.routed = true;
    // The service serves whole answers only (RFC 9110 §14.2 lets a server ignore Range): httplib
    // cut every answer to the requested byte ranges and kept status 200, so that a JSON answer
    // came truncated, a range past the end was sent as "Content-Length: 2^64 - ...", and the
    // log counted bytes that were not sent. The request is this connection's own object, which
    // httplib hands over as const.
    const_cast<httplib::Request&>(req).ranges.clear();
    // And says so, to GET and HEAD alike: httplib answered every HEAD "Accept-Ranges: bytes".
    res.set_header("Accept-Ranges", "none");
    if (refuse_after_stop(res)) return httplib::Server::HandlerResponse::Handled;
    if (const std::string problem = framing_problem(req); !problem.empty()) {
      answer_error(res, 400, problem);  // before its body, unread
      return httplib::Server::HandlerResponse::Handled;
    }
    // A method a path of the service does not take: 405 naming those it takes (httplib answered
    // 404, or 400 once it had read a body of no length until the client gave up). Here, before
    // httplib reads any body: it is not read, and the connection is closed.
    if (const std::string allow = allowed_methods(req.path);
        !allow.empty() && !method_allowed(allow, req.method)) {
      res.set_header("Allow", allow);
      answer_error(res, 405, req.method + " is not allowed on " + req.path + "; it takes " + allow);
      return httplib::Server::HandlerResponse::Handled;
    }
    // A path the service does not have: 404 here too (a PUT without Content-Length waited for
    // the read timeout, then was answered 400). Every connection closes after its answer
    // (one request per connection, connections.cpp): an unread body is dropped with it.
    if (allowed_methods(req.path).empty()) {
      answer_error(res, 404, "no such resource: " + req.method + " " + req.path);
      return httplib::Server::HandlerResponse::Handled;
    }
    // Before its body, unread.
    if (const std::string problem = encoding_problem(req); !problem.empty()) {
      answer_error(res, 415, problem);
      return httplib::Server::HandlerResponse::Handled;
    }
    // httplib reads the body of a DELETE into memory (up to --max-body) before its handler, and
    // before any token is checked: a 400 MiB one held 650 MB of the server's memory. It takes
    // none: refused here, unread.
    if (req.method == "DELETE" && req.has_header("Content-Length") &&
        req.get_header_value("Content-Length") != "0") {
      answer_error(
          res, 413,
          "DELETE takes no body (Content-Length " + req.get_header_value("Content-Length") + ")");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // A client that sends "Expect: 100-continue" (curl, for bodies over 1 MiB) waits for the 100
  // before its body: an upload refused from its headers alone (411, 413, a job's missing,
  // unknown or retired token: 401, 410; 507 for no room on disk; a registration's 507 of
  // --max-key-sets and 503 of --max-key-set-loads) is answered instead of the 100, so that
  // the body is never sent (httplib sent the 100 first, and a client that then sends its whole
  // body before reading lost the answer: a broken pipe; a wrong token took a whole upload).
  http_->set_expect_100_continue_handler(
      [this](const httplib::Request& req, httplib::Response& res) {
        connection_facts.routed = true;
        if (refuse_after_stop(res)) return 503;
        if (const std::string problem = framing_problem(req); !problem.empty()) {
          answer_error(res, 400, problem);
          return 400;
        }
        if (req.method != "POST" || (req.path != "/v1/jobs" && req.path != "/v1/keysets")) {
          return 100;
        }
        if (const std::string problem = encoding_problem(req); !problem.empty()) {
          answer_error(res, 415, problem);
          return 415;
        }
        try {
          const uint64_t length = content_length(req);
          if (req.path == "/v1/jobs") authenticate(req);  // as submit_job: length, token, space
          if (req.path == "/v1/keysets") {                // as register_keys: length, room, space
            std::lock_guard lock(mutex_);
            require_key_set_room();
          }
          std::optional<SpaceReservation> probe;  // released at once: the handler reserves
          reserve_space(length, probe);
        } catch (const HttpError& e) {
          answer_error(res, e.status, e.what(), e.detail, e.code);
          return e.status;
        }
        return 100;
      });
  http_->set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    connection_facts.answered = true;
    const double ms =
        std::chrono::duration<double, std::milli>(Clock::now() - request_facts.start).count();
    // Its client closed the connection inside its request line or headers: httplib's 400 was
    // not sent (connections.cpp), and the request was not malformed.
    if (connection_facts.closed_in_head) {
      log({{"time", utc_timestamp()},
           {"event", "connection closed"},
           {"remote", connection_facts.remote_addr},
           {"ms", std::round(ms * 10) / 10},
           {"detail",
            "the client closed the connection inside its request line or headers; nothing was "
            "answered"}});
      return;
    }
    // httplib sets remote_addr only once the headers are read: a request refused before (a
    // stall in them, 408) is logged with its connection's.
    nlohmann::ordered_json line{
        {"time", utc_timestamp()},
        {"remote", req.remote_addr.empty() ? connection_facts.remote_addr : req.remote_addr},
        {"method", req.method},
        {"path", req.path},
        {"status", res.status},
        {"bytes_in", request_facts.bytes_in},
        // The bytes of the body sent: none for HEAD (httplib answers it from the GET route and
        // sends the headers alone), whatever the route set (the scores file's size, the profile's).
        {"bytes_out", req.method == "HEAD" ? 0 : request_facts.bytes_out},
        {"ms", std::round(ms * 10) / 10}};
    if (!request_facts.job.empty()) line["job"] = request_facts.job;
    if (!request_facts.error.empty()) line["error"] = request_facts.error;
    if (!request_facts.detail.empty()) line["detail"] = request_facts.detail;
    log(line);
    // httplib calls the logger once the answer is written, before it closes the connection.
    linger(req, res);
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
        if (req.is_multipart_form_data()) {  // its unread body is dropped with the connection
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
  http_->Get("/v1/profile", guarded([this](const httplib::Request& req, httplib::Response& res) {
               model_profile(req, res);
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
  http_->set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
    // The refusals httplib makes before the pre-routing handler (a request line or header it
    // refuses, 414, 431, a Range it cannot parse, 416) say it too: they lacked it.
    if (!res.has_header("Accept-Ranges")) res.set_header("Accept-Ranges", "none");
    if (!res.body.empty()) return;
    // httplib answers 400 when a read of the request line or headers fails, a timeout too: a
    // client stalled inside its headers is told 408, as a stalled upload is.
    if (res.status == 400 && connection_facts.timed_out && !connection_facts.routed) {
      answer_error(res, 408, request_timeout_message());
    } else if (res.status == 400 && connection_facts.too_many_headers) {
      answer_error(res, 431,
                   "the request has more than " + std::to_string(kMaxHeaderFields) +
                       " header lines, the server's limit");
    } else if (res.status == 400 && connection_facts.too_long_line) {
      answer_error(res, 431,
                   "a header line of the request is longer than " +
                       std::to_string(kMaxHeadLineBytes) + " bytes, the server's limit");
    } else if (res.status == 414) {  // httplib's, for a request line over kMaxHeadLineBytes
      answer_error(res, 414,
                   "the request line is longer than " + std::to_string(kMaxHeadLineBytes) +
                       " bytes, the server's limit");
    } else if (res.status == 400 && !connection_facts.routed) {
      // httplib's, for a request line or header it cannot parse.
      answer_error(res, 400,
                   "malformed request line or headers: the server takes HTTP/1.1 (or 1.0) "
                   "requests whose lines end in CRLF");
    } else if (res.status == 404) {
      answer_error(res, 404, "no such resource: " + req.method + " " + req.path);
    } else if (res.status == 413) {
      answer_error(res, 413, "the body is larger than the server's limit (--max-body)");
    } else if (res.status == 416) {  // httplib's, for a Range header it cannot parse
      answer_error(res, 416,
                   "malformed Range header; the server sends whole answers only: send the "
                   "request without a Range header");
    } else {
      answer_error(res, res.status, "HTTP " + std::to_string(res.status));
    }
  });
}

std::string Server::Impl::answer_request_line_timeout() {
  httplib::Response res;
  answer_error(res, 408, request_timeout_message());
  log_unread_request(408, request_facts.bytes_out, request_facts.start, request_facts.error);
  return "HTTP/1.1 408 Request Timeout\r\nAccept-Ranges: none\r\nConnection: close\r\n"
         "Content-Type: application/json\r\nContent-Length: " +
         std::to_string(res.body.size()) + "\r\n\r\n" + res.body;
}

void Server::Impl::log_unread_request(int status, size_t bytes_out, Clock::time_point start,
                                      const std::string& error) {
  // Answered without reading its request: no method or path.
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  log({{"time", utc_timestamp()},
       {"remote", connection_facts.remote_addr},
       {"method", ""},
       {"path", ""},
       {"status", status},
       {"bytes_in", 0},
       {"bytes_out", bytes_out},
       {"ms", std::round(ms * 10) / 10},
       {"error", error}});
}

void Server::Impl::log_overflow_answer(const std::string& error, size_t bytes_out,
                                       Clock::time_point accepted) {
  log_unread_request(503, bytes_out, accepted, error);
}

std::string Server::Impl::request_timeout_message() const {
  return "the request's headers did not arrive within the server's read timeout (" +
         std::to_string(options_.read_timeout_s) + " s, --read-timeout)";
}

bool Server::Impl::refuse_after_stop(httplib::Response& res) {
  if (!connection_facts.after_stop) return false;
  // Its client is to send the request again once the server is back (as an upload dropped at
  // SIGTERM is); the connection closes after the answer (Connection: close).
  res.set_header("Retry-After", std::to_string(kTransientRetrySeconds));
  answer_error(res, 503,
               "the server is shutting down; the request was not served: send it again once the "
               "server is back");
  return true;
}

std::string Server::Impl::authenticate(const httplib::Request& req, bool own_jobs) {
  const std::string header = req.get_header_value("Authorization");
  // RFC 9110 §11.1: the scheme is case-insensitive ("bearer TOKEN" was refused as no token), and
  // one or more spaces follow it (credentials = auth-scheme [ 1*SP token68 ]).
  const std::string_view scheme = "bearer";
  const size_t token_at = header.find_first_not_of(' ', scheme.size());
  const bool bearer = header.size() > scheme.size() && header[scheme.size()] == ' ' &&
                      token_at != std::string::npos &&
                      std::equal(scheme.begin(), scheme.end(), header.begin(), [](char a, char b) {
                        return a == std::tolower(static_cast<unsigned char>(b));
                      });
  if (!bearer) {
    throw HttpError(401,
                    "missing token: send 'Authorization: Bearer TOKEN' from "
                    "cryptonets client register");
  }
  const std::string token = header.substr(token_at);
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

void Server::Impl::reserve_space(uint64_t length, std::optional<SpaceReservation>& reservation) {
  const uint64_t needed = length + kUploadReserveBytes;
  // One admission at a time: two uploads that each fit, and not both, both passed the check
  // and filled the disk, to be refused only after their bodies.
  std::lock_guard lock(space_mutex_);
  if (const std::optional<uint64_t> free = free_bytes(tmp_dir_)) {  // not known: writes will tell
    // What the uploads in progress will still write is not free for this one.
    const uint64_t room = *free > reserved_bytes_ ? *free - reserved_bytes_ : 0;
    if (length > room || room - length < kUploadReserveBytes) {
      std::string message = "cannot store the upload: the body (" + std::to_string(length) +
                            " bytes, and " + std::to_string(kUploadReserveBytes) +
                            " for its records) does not fit in the " + std::to_string(*free) +
                            " bytes free on the server's disk";
      if (reserved_bytes_ > 0) {
        message += " (" + std::to_string(reserved_bytes_) +
                   " of them reserved by the uploads in progress)";
      }
      throw HttpError(507, message + "; retry later");
    }
  }
  reserved_bytes_ += needed;
  reservation.emplace(this, needed);
}

void Server::Impl::SpaceReservation::consume(uint64_t bytes) {
  if (owner_ == nullptr) return;
  bytes = std::min(bytes, bytes_);
  bytes_ -= bytes;
  std::lock_guard lock(owner_->space_mutex_);
  owner_->reserved_bytes_ -= bytes;
}

void Server::Impl::linger(const httplib::Request& req, const httplib::Response& res) {
  if (res.status == 408 || stop_requested_ || req.has_header("Expect") ||
      !req.has_header("Content-Length")) {
    return;
  }
  uint64_t declared = 0;
  try {
    declared = parse_byte_count(req.get_header_value("Content-Length"));
  } catch (const std::invalid_argument&) {
    return;
  }
  // What the handlers read (receive_body) or httplib did (a body it reads into memory).
  const uint64_t consumed = std::max<uint64_t>(request_facts.bytes_in, req.body.size());
  if (declared <= consumed || declared - consumed > kLingerBytes) return;
  const int fd = connection_facts.fd;  // the request's own connection (connections.cpp)
  if (fd < 0) return;
  const bool tls = !options_.tls_cert.empty();
  if (!tls) ::shutdown(fd, SHUT_WR);
  const auto deadline =
      Clock::now() + std::min<std::chrono::seconds>(
                         kLingerTime, std::chrono::seconds(std::max(1, options_.read_timeout_s)));
  // Over plain HTTP the body's bytes are known: once they are all read nothing is left to reset
  // the connection. (httplib may hold some in its buffer already: then the client's close ends
  // it.) TLS adds its records' overhead: read to the close.
  const uint64_t left = declared - consumed;
  const uint64_t most = left + left / 16 + (uint64_t{64} << 10);  // with TLS records' overhead
  uint64_t dropped = 0;
  std::vector<char> buffer(size_t{64} << 10);
  while (dropped < (tls ? most : left) && !stop_requested_) {
    const auto now = Clock::now();
    if (now >= deadline) break;
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    pollfd ready{fd, POLLIN, 0};
    // In slices: stop() is seen within 100 ms.
    const int polled =
        ::poll(&ready, 1, static_cast<int>(std::clamp<int64_t>(wait.count(), 1, 100)));
    if (polled < 0 && errno != EINTR) break;
    if (polled <= 0) continue;
    const ssize_t got = ::recv(fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
    if (got < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (got <= 0) break;  // the client's close, or a reset
    dropped += static_cast<uint64_t>(got);
  }
}

Server::Impl::StagingDirectory::~StagingDirectory() {
  std::error_code error;
  if (!path.empty()) fs::remove_all(path, error);
}

Server::Impl::StagingDirectory Server::Impl::make_staging(const std::string& name,
                                                          const std::string& what) {
  const std::string staging = tmp_dir_ + "/" + name;
  // 0700 less the umask, then 0700 exactly: as the state directory's other entries.
  const bool made = ::mkdir(staging.c_str(), 0700) == 0;
  if (!made || ::chmod(staging.c_str(), 0700) != 0) {
    const int error = errno;
    if (made) ::rmdir(staging.c_str());
    throw internal_error("the server cannot store " + what, std::strerror(error),
                         "cannot create '" + staging + "': " + std::strerror(error));
  }
  return StagingDirectory(staging);
}

void Server::Impl::receive_body(const httplib::Request& req, const httplib::ContentReader& reader,
                                const std::vector<std::string>& paths,
                                const std::vector<uint64_t>& sizes, SpaceReservation& reservation,
                                const Observer& observe) {
  (void)req;
  uint64_t total = 0;
  for (uint64_t size : sizes)
    total += size;
  const Clock::time_point began = Clock::now();
  const auto deadline = began + std::chrono::seconds(options_.upload_timeout_s);
  const auto grace = std::chrono::seconds(options_.read_timeout_s);  // before the minimum rate
  std::vector<int> fds;
  auto close_all = [&] {
    for (int fd : fds)
      if (fd >= 0) ::close(fd);
    fds.clear();
  };
  for (const std::string& path : paths) {
    // Mode 0600 whatever the umask, as AtomicFileWriter's owner_only files.
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0 && ::fchmod(fd, 0600) != 0) {
      const int error = errno;
      ::close(fd);
      errno = error;
      fd = -1;
    }
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
  bool below_rate = false;  // under --min-upload-rate on average, after the grace
  bool stopped = false;
  bool dropping = false;
  // The library hands the body over in small pieces: gathered into 1 MiB writes.
  std::vector<char> buffer;
  buffer.reserve(kBodyChunkBytes);
  const auto flush = [&] {
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
        // The rest of the body is read and dropped, as after a refusal found midway: the 507 is
        // answered once the client has sent it all (a connection closed under a client still
        // sending lost the answer: "connection closed"). What was written goes now, not at the
        // end of a long upload, so that the disk has its space back meanwhile.
        for (int fd : fds)
          (void)::ftruncate(fd, 0);
        dropping = true;
        buffer.clear();
        return;
      }
      data += written;
      length -= static_cast<size_t>(written);
      part_done += static_cast<uint64_t>(written);
      // On the disk now (statvfs counts it as used): no longer reserved. After the write, so that
      // the two overlap rather than leave a gap another admission could take.
      reservation.consume(static_cast<uint64_t>(written));
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
  };
  bool ok = reader([&](const char* data, size_t length) {
    request_facts.bytes_in += length;
    const Clock::time_point now = Clock::now();
    if (now > deadline) {
      too_slow = true;
      return false;
    }
    // A client dripping its body (a byte within each --read-timeout) held its HTTP thread for
    // --upload-timeout: checked at each piece, so that it is dropped within --read-timeout of
    // falling behind.
    if (options_.min_upload_rate > 0 && now - began > grace &&
        static_cast<double>(received + length) <
            static_cast<double>(options_.min_upload_rate) *
                std::chrono::duration<double>(now - began).count()) {
      below_rate = true;
      return false;
    }
    if (stop_requested_) {  // SIGTERM: the upload is dropped, not awaited
      stopped = true;
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
      if (buffer.size() == kBodyChunkBytes) flush();
      if (dropping) return true;
    }
    return true;
  });
  if (ok && !dropping && !buffer.empty()) flush();
  if (ok && received == total && !dropping) {
    for (int fd : fds) {
      if (::fsync(fd) != 0 && write_error == 0) write_error = errno;
    }
  }
  close_all();
  if (write_error != 0) {
    throw HttpError(507, "cannot store the upload: " + std::string(std::strerror(write_error)));
  }
  // A connection whose reads the shutdown ended (a stalled client: Impl::shutdown_connections)
  // is dropped as one that sent a piece after SIGTERM.
  if (stopped || (!ok && stop_requested_)) {
    throw HttpError(503,
                    "the server is shutting down; the upload was dropped after " +
                        std::to_string(received) + " of " + std::to_string(total) +
                        " bytes: send it again once the server is back",
                    kTransientRetrySeconds);
  }
  if (too_slow) {
    throw HttpError(408, "the upload took longer than the server allows (" +
                             std::to_string(options_.upload_timeout_s) + " s, --upload-timeout)");
  }
  if (below_rate) {
    const double seconds = std::chrono::duration<double>(Clock::now() - began).count();
    throw HttpError(
        408, "the upload is slower than the server allows: " + std::to_string(received) + " of " +
                 std::to_string(total) + " bytes in " +
                 std::to_string(static_cast<int64_t>(seconds)) + " s, under its minimum of " +
                 std::to_string(options_.min_upload_rate) + " bytes/s on average after the first " +
                 std::to_string(options_.read_timeout_s) +
                 " s (--min-upload-rate, --read-timeout)");
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

void Server::Impl::hold_key_set_load() {
  const std::string& hold = options_.key_set_load_hold;
  if (hold.empty()) return;
  bool logged = false;
  const Clock::time_point end = Clock::now() + std::chrono::seconds(60);
  std::error_code error;
  while (fs::exists(hold, error) && !stop_requested_ && Clock::now() < end) {
    if (!logged) log({{"time", utc_timestamp()}, {"event", "key set load held"}});
    logged = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

int Server::Impl::retry_after_seconds() const {
  return std::clamp(static_cast<int>(std::ceil(last_job_seconds_)), 1, 3600);
}

namespace {

// A key set being registered that cannot be read back: the keys' fault (400) unless the server's
// own (classify_failure): out of memory or file handles, a failed read (503: it answered 400
// 'std::bad_alloc', telling a client that its keys were bad), or its permissions (500).
HttpError registration_failure(const std::exception& e, const std::string& message) {
  // Secret key records inside a part (under its header, or after its records): refused as a
  // secret key part is (422), not as damage.
  if (dynamic_cast<const SecretKeyRecordsError*>(&e) != nullptr) {
    return HttpError(
        422, "refused: " + message + "; register only params, evaluation.key and public.key");
  }
  switch (classify_failure(e)) {
    case ReadFailure::kConfiguration:
      return with_detail(HttpError(500, configuration_answer(failure_cause(e))), e.what());
    case ReadFailure::kPassing:
      return HttpError(503,
                       "the server cannot read the keys right now (" + message + "); retry later",
                       kTransientRetrySeconds);
    case ReadFailure::kFiles:
      break;
  }
  return HttpError(400, message);
}

// "1 key set", "2 key sets": the bounds' messages said "its maximum of 1 key sets".
std::string key_sets(size_t count) {
  return std::to_string(count) + (count == 1 ? " key set" : " key sets");
}

// The answer to a registration over --max-key-set-loads.
HttpError too_many_key_set_loads(size_t most) {
  return HttpError(503,
                   "the server is building the tables of its maximum of " + key_sets(most) +
                       " at once (serve --max-key-set-loads; up to about 1.5 GB each); "
                       "retry later",
                   kTransientRetrySeconds);
}

}  // namespace

void Server::Impl::require_key_set_room() const {
  // --max-key-sets, with the registrations in progress, so that concurrent ones cannot pass it.
  if (key_sets_.size() + registering_ >= options_.max_key_sets) {
    const int64_t retention = options_.key_set_retention_s;
    const std::string when = retention % 86400 == 0 ? std::to_string(retention / 86400) + " days"
                                                    : std::to_string(retention) + " s";
    throw HttpError(507,
                    "the server holds its maximum of " + key_sets(options_.max_key_sets) +
                        " (serve --max-key-sets); " +
                        (retention > 0 ? "a key set unused for " + when + " is deleted; retry later"
                                       : "it keeps key sets for ever "
                                         "(--key-set-retention-days 0): ask its operator"));
  }
  // As many registrations building their tables as allowed: refused now, the body unread,
  // rather than once it is in (register_keys checks it again then).
  if (loading_key_sets_ >= options_.max_key_set_loads) {
    throw too_many_key_set_loads(options_.max_key_set_loads);
  }
}

void Server::Impl::register_keys(const httplib::Request& req, httplib::Response& res,
                                 const httplib::ContentReader& reader) {
  // Every refusal before receive_body is answered from the headers and leaves the body unread,
  // as submit_job's do: a bad query read up to --max-body, at the client's pace, before its 400.
  const uint64_t length = content_length(req);
  // Counted among the registrations in progress with the room checked, so that concurrent ones
  // cannot pass --max-key-sets.
  {
    std::lock_guard lock(mutex_);
    require_key_set_room();
    ++registering_;
  }
  struct Registering {
    Impl& impl;
    ~Registering() {
      std::lock_guard lock(impl.mutex_);
      --impl.registering_;
    }
  } registering{*this};
  std::optional<SpaceReservation> reservation;
  reserve_space(length, reservation);  // 507 before the body, left unread as after a 413
  std::vector<uint64_t> sizes;
  for (const char* name : {"params", "evaluation", "public"}) {
    const std::string text = req.get_param_value(name);
    try {
      sizes.push_back(parse_byte_count(text));
      if (sizes.back() > length) throw std::invalid_argument(text);  // and no sum wraps
    } catch (const std::exception&) {
      throw HttpError(400, std::string("query parameter '") + name +
                               "' must give the part's size in bytes, at most the body's "
                               "(params, evaluation, public)");
    }
  }
  if (sizes[0] + sizes[1] + sizes[2] != length) {
    throw HttpError(400, "the part sizes (params + evaluation + public) add up to " +
                             std::to_string(sizes[0] + sizes[1] + sizes[2]) +
                             " bytes, the body has " + std::to_string(length));
  }
  StagingDirectory cleanup = make_staging("keys-" + random_hex(16), "the keys");
  const std::string staging = cleanup.path;
  const KeyDirectory dir(staging);
  const std::vector<std::string> paths = {dir.parameters, dir.evaluation_keys, dir.public_keys};
  receive_body(req, reader, paths, sizes, *reservation);

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
      throw registration_failure(e, client_message(e.what(), paths[i], name));
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
  // At most --max-key-set-loads registrations build their tables at once (each can take about
  // 1.5 GB within the parameter limits), until their check against the model is done.
  {
    std::lock_guard lock(mutex_);
    if (loading_key_sets_ >= options_.max_key_set_loads) {
      throw too_many_key_set_loads(options_.max_key_set_loads);
    }
    ++loading_key_sets_;
  }
  struct Loading {
    Impl& impl;
    ~Loading() {
      std::lock_guard lock(impl.mutex_);
      --impl.loading_key_sets_;
    }
  } loading{*this};
  std::shared_ptr<const KeySet> keys;
  try {
    keys = load_key_set(dir);
  } catch (const std::exception& e) {
    std::string message = e.what();
    for (size_t p = 0; p < 3; ++p)
      message = client_message(message, paths[p], std::string("part '") + part_names[p] + "'");
    throw registration_failure(e, message);
  }
  try {
    omp_set_num_threads(1);
    keys->require_model(ranges_, compiled_);
  } catch (const std::exception& e) {
    throw HttpError(422, std::string("the keys cannot carry this server's model: ") + e.what());
  }
  hold_key_set_load();

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

void Server::Impl::model_profile(const httplib::Request&, httplib::Response& res) {
  // No token: the profile holds no weights, only what a client needs to make keys and encrypt for
  // the model (model_profile.hpp: what the keys and ciphertexts show anyway, and the output
  // bound). A client needs it before it has keys to register.
  std::string text;
  {
    std::lock_guard lock(profile_mutex_);
    if (profile_text_.empty()) {
      std::ostringstream out;
      try {
        write_profile(make_profile(model_), out);  // circuit privacy 0, as serve runs the jobs
      } catch (const std::exception& e) {
        throw with_detail(HttpError(500, "the server cannot make its model's profile"), e.what());
      }
      profile_text_ = out.str();
    }
    text = profile_text_;
  }
  request_facts.bytes_out = text.size();  // HEAD: logged as 0 (the logger), no body is sent
  res.status = 200;
  res.set_content(std::move(text), "text/plain; charset=utf-8");
}

void Server::Impl::submit_job(const httplib::Request& req, httplib::Response& res,
                              const httplib::ContentReader& reader) {
  std::string key_set_hash;
  uint64_t length = 0;
  // Released when the upload ends, whichever way (accepted, refused, disconnected).
  std::optional<SpaceReservation> reservation;
  // Every refusal here is answered from the headers and leaves the body unread: it goes with the
  // connection, which closes after the answer (one request per connection, connections.cpp), after
  // at most a bounded linger for a client still sending (Impl::linger). The size is checked before
  // the token: a client without one read up to any length, at any pace, into a drain before its
  // 401 (found by a new user's trial: 1 GB past --max-body 1 MiB; a 2 MB/s sender held a thread
  // until --upload-timeout).
  length = content_length(req);
  key_set_hash = authenticate(req);
  reserve_space(length, reservation);
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || pending_ >= options_.max_queue) {
      res.set_header("Retry-After", std::to_string(retry_after_seconds()));
      const std::string message = stopping_ ? "the server is shutting down"
                                            : "the job queue is full (" +
                                                  std::to_string(options_.max_queue) +
                                                  " jobs); retry later";
      throw HttpError(503, message);
    }
    require_key_set(key_set_hash, false);  // not expired since authenticate
    ++pending_;                            // this upload's place in the queue
    ++uploads_[key_set_hash];              // the key set is in use: the retention leaves it
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
  StagingDirectory cleanup = make_staging("job-" + job.id, "the upload");
  const std::string staging = cleanup.path;
  const std::string input = staging + "/input.ct";

  // Verified while it arrives: the header (kind, the token's parameters and keys, the model's
  // profile and input size) as soon as its kProtocolHeaderBytes are in, then every record by a
  // CiphertextFileReader on a pipe fed with the body (service/stream_verifier.hpp), beside the
  // writes to disk.
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
      const std::string problem = client_message(e.what(), input, kUploadedBatch);
      if (transient_failure(e)) {  // the server's failure, not the body's
        return HttpError(
            503, "the server cannot read the upload right now (" + problem + "); retry later",
            kTransientRetrySeconds);
      }
      return HttpError(400, problem);
    }
    if (header.kind == ProtocolFileKind::kSecretKeys) {
      return HttpError(
          422, std::string("refused: the uploaded batch holds secret keys; ") + kNoSecretKeys);
    }
    if (header.kind != ProtocolFileKind::kCiphertexts) {
      return HttpError(400, "the uploaded batch holds " + protocol_kind_name(header.kind) +
                                ", expected encrypted images from cryptonets encrypt");
    }
    if (header.answers_file_id != 0) {
      return HttpError(400,
                       "the uploaded batch is a scores file (it answers another file), expected "
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
      HttpError error(
          422, what + ": the token belongs to another key set (" +
                   key_set_id_text(keys->key_set_id()) + ") than the uploaded batch's (" +
                   key_set_id_text(header.key_set_id) +
                   "); use the token written when the uploaded batch's keys were registered, "
                   "or register them (cryptonets client register) and use the new token");
      error.code = kOtherKeySet;
      return error;
    };
    if (header.scheme != keys->scheme()) {
      return other_key_set("the uploaded batch holds " + scheme_name(header.scheme) +
                           " ciphertexts, but the token's key set is " +
                           scheme_name(keys->scheme()) +
                           ": a batch of one scheme cannot be used with the other");
    }
    if (header.parameter_set_fingerprint != keys->fingerprint()) {
      return other_key_set(
          "the uploaded batch was made for other parameters than the token's key set "
          "(parameter set fingerprint differs)");
    }
    if (header.key_set_id != keys->key_set_id()) {
      return other_key_set(
          "the uploaded batch is encrypted under other keys than the token's key set");
    }
    // Encrypted with another model's profile (another input scale): evaluated, its scores
    // would decrypt to wrong labels with every other check passing.
    if (header.profile_fingerprint != profile_fingerprint_) {
      HttpError error(422, other_profile_refusal(kUploadedBatch, header.profile_fingerprint,
                                                 profile_fingerprint_, ProfileSource::kService));
      error.code = kOtherProfile;
      return error;
    }
    if (header.values != compiled_.input_size) {
      return HttpError(422, "the uploaded batch holds " + std::to_string(header.values) +
                                " ciphertexts per image, the model takes " +
                                std::to_string(compiled_.input_size) + " inputs");
    }
    return std::nullopt;
  };
  receive_body(req, reader, {input}, {length}, *reservation, [&](const char* data, size_t size) {
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
    throw refusal ? *refusal
                  : HttpError(400, "the uploaded batch is shorter than a protocol header");
  }
  if (const std::string error = verifier->finish(); !error.empty()) {
    const std::string problem =
        batch_message(error, verifier->path(), kUploadedBatch, kUploadedBatch);
    // The server's own failure to read the pipe (out of file handles, ...) is not the body's.
    try {
      if (verifier->failure()) std::rethrow_exception(verifier->failure());
    } catch (const SecretKeyRecordsError&) {  // a secret key's records, in or after the batch
      throw HttpError(422, "refused: " + problem +
                               (problem.find("never holds the secret key") == std::string::npos
                                    ? std::string("; ") + kNoSecretKeys
                                    : std::string()));
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
  // Beyond half the HTTP threads waiting already, the status as it is now (the client polls
  // again): eight long polls of one client held all eight threads and every other client.
  if (wait_s > 0 && long_polls_ < std::max(1, options_.http_threads) / 2) {
    ++long_polls_;
    wake_.wait_for(lock, std::chrono::seconds(wait_s), [&] {
      auto it = jobs_.find(id);
      return stopping_ || it == jobs_.end() ||
             (it->second.state != "queued" && it->second.state != "running");
    });
    --long_polls_;
  }
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

}  // namespace cryptonets::service
