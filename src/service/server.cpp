// The private-inference service: HTTP routes over a durable job store (protocol in server.hpp).
// Start-up (the model, the port, the state directory), run and stop; the rest of Server::Impl is
// in server_routes.cpp, job_store.cpp and worker.cpp (server_impl.hpp).
#include "cryptonets/service/server.hpp"

#include <sys/socket.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>

#include "cryptonets/inference/parameter_selection.hpp"
#include "cryptonets/io/model_file.hpp"
#include "cryptonets/io/serialize.hpp"
#include "cryptonets/service/durable.hpp"
#include "server_impl.hpp"

namespace cryptonets::service {

Server::Impl::Impl(ServerOptions options)
    : options_(std::move(options)), prng_(Prng::from_os_entropy()) {
  if (!options_.log) {
    options_.log = [](const std::string& line) {
      std::fprintf(stderr, "%s\n", line.c_str());
      std::fflush(stderr);
    };
  }
  if (options_.state_dir.empty()) throw std::runtime_error("serve: no state directory");
  refuse_port_file_over_state();
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
  // One request per connection (answered with Connection: close). httplib 0.11 ignores a
  // handler's Connection: close: after a refusal that leaves the body unread (413, 411, 405, 408)
  // it read the rest of the body as further requests, logged each as an empty 400 and closed
  // after five of them, so the client's upload broke before it read the refusal. Our client opens
  // a connection per request anyway.
  http_->set_keep_alive_max_count(1);
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

void Server::Impl::refuse_port_file_over_state() const {
  if (options_.port_file.empty()) return;
  std::error_code state_error;
  const fs::path state = fs::weakly_canonical(options_.state_dir, state_error);
  if (state_error) return;  // the writes into it say what is wrong
  const auto own = [](const std::string& entry) {
    if (entry == kStateMarkerName || entry == "lock") return true;
    for (const char* subdirectory : kStateSubdirectories) {
      if (entry == subdirectory) return true;
    }
    return false;
  };
  // Written over the marker, the next start refused the state directory as not one of ours; in
  // tmp/ it is removed at start, in keysets/, jobs/ or expired/ it is a foreign entry there.
  const auto refuse_over_state = [&](const fs::path& path, const std::string& how) {
    std::error_code error;
    const fs::path directory = fs::weakly_canonical(
        path.parent_path().empty() ? fs::path(".") : path.parent_path(), error);
    if (error) return;  // the write says what is wrong
    const fs::path inside = directory.lexically_relative(state);
    const std::string name = path.filename().string();
    if (inside == "." && own(name)) {
      throw std::runtime_error("--port-file '" + options_.port_file + "'" + how +
                               " the state directory's own '" + name +
                               "'; give a file of another name (in the state directory or "
                               "elsewhere)");
    }
    if (!inside.empty() && inside != "." && *inside.begin() != ".." &&
        own(inside.begin()->string())) {
      throw std::runtime_error("--port-file '" + options_.port_file + "'" + how +
                               " inside the state directory's " + inside.begin()->string() +
                               "/, which the server keeps; give a file at the state directory's " +
                               "top or elsewhere");
    }
  };
  refuse_over_state(options_.port_file, " is");
  // The port is written through a symbolic link (AtomicFileWriter follows the whole chain, a
  // dangling last link too), so where the chain ends is checked as well: a link to the marker
  // had the port written over it.
  std::string target;
  try {
    target = file_replaced_by_write(options_.port_file);
  } catch (const std::runtime_error&) {
    return;  // the write says what is wrong
  }
  if (target != options_.port_file) {
    refuse_over_state(target, " is a symbolic link to '" + target + "', which is");
  }
}

void Server::Impl::run() {
  std::thread work([this] { worker(); });
  std::thread clean([this] { janitor(); });
  // httplib's stop() does nothing until its listener runs: a stop() before that (a SIGTERM
  // right after start-up) was lost, and the server ran on for good. So stop() only says so, and
  // this thread stops the listener once it runs.
  bool listening = true;  // guarded by mutex_
  std::thread stopper([this, &listening] {
    std::unique_lock lock(mutex_);
    wake_.wait(lock, [&] { return stopping_ || !listening; });
    while (listening && !http_->is_running()) {
      wake_.wait_for(lock, std::chrono::milliseconds(5), [&] { return !listening; });
    }
    if (!listening) return;  // it ended on its own
    lock.unlock();
    http_->stop();
  });
  log({{"time", utc_timestamp()},
       {"event", "listening"},
       {"url", std::string(options_.tls_cert.empty() ? "http" : "https") + "://" +
                   url_host(options_.host) + ":" + std::to_string(port_)},
       {"model", options_.model_path},
       {"threads", options_.threads}});
  http_->listen_after_bind();
  {
    std::lock_guard lock(mutex_);
    listening = false;
    stopping_ = true;
  }
  wake_.notify_all();
  stopper.join();
  work.join();
  clean.join();
  log({{"time", utc_timestamp()}, {"event", "stopped"}, {"jobs_left_queued", queue_.size()}});
}

void Server::Impl::stop() {
  stop_requested_ = true;  // uploads and drains in progress end at their next piece
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();  // the worker, the janitor, long polls, and run()'s stopper
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
