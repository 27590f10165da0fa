// The private-inference service: HTTP routes over a durable job store (protocol in server.hpp).
// Start-up (the model, the port, the state directory), run and stop; the rest of Server::Impl is
// in server_routes.cpp, job_store.cpp and worker.cpp (server_impl.hpp).
#include "cryptonets/service/server.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <system_error>
#include <thread>
#include <utility>

#include "connections.hpp"
#include "cryptonets/inference/parameter_selection.hpp"
#include "cryptonets/io/model_file.hpp"
#include "cryptonets/io/model_profile.hpp"
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
  resolve_port_file();
  // A FIFO would block the load, a directory read as "line 0: read error": refused by name.
  require_regular_file(options_.model_path, "the model, --model");
  model_ = load_model(options_.model_path);
  inference::require_encryptable(model_);  // degree 3: what it would need
  compiled_ = compile_model(model_);
  ranges_ = track_ranges(model_);
  profile_fingerprint_ = profile_fingerprint(model_);
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
  }
  // Each connection read through the service's own stream and task queue (connections.hpp): a
  // stall inside the request headers is a 408 logged with its client's address, and the
  // connections still waiting for a thread at SIGTERM are answered 503.
  ConnectionSettings connection_settings;
  connection_settings.read_timeout = std::chrono::seconds(options_.read_timeout_s);
  connection_settings.write_timeout = std::chrono::seconds(options_.read_timeout_s);
  connection_settings.first_byte_wait = std::chrono::seconds(kFirstByteWaitSeconds);
  connection_settings.stop_requested = &stop_requested_;
  connection_settings.request_line_timeout = [this] { return answer_request_line_timeout(); };
  connection_settings.overflow_answered = [this](const std::string& error, size_t bytes_out,
                                                 Clock::time_point accepted) {
    log_overflow_answer(error, bytes_out, accepted);
  };
  // Checked before the TLS server loads them: OpenSSL's default passphrase callback would prompt
  // on the terminal for an encrypted key (a trial: serve waited there until killed).
  if (!options_.tls_cert.empty()) {
    const std::string problem = tls_files_problem(options_.tls_cert, options_.tls_key);
    if (!problem.empty()) {
      throw std::runtime_error("cannot load the TLS certificate '" + options_.tls_cert +
                               "' and key '" + options_.tls_key + "': " + problem);
    }
  }
  http_ = make_http_server(connection_settings, options_.tls_cert, options_.tls_key);
  if (!http_) {  // files tls_files_problem found usable, which the TLS server still refused
    throw std::runtime_error("cannot load the TLS certificate '" + options_.tls_cert +
                             "' and key '" + options_.tls_key + "': OpenSSL refuses them");
  }
  const int http_threads = std::max(1, options_.http_threads);
  http_->new_task_queue = [http_threads] {
    return new ConnectionQueue(static_cast<size_t>(http_threads));
  };
  // No set_read_timeout, set_write_timeout or set_keep_alive_max_count: httplib reads them only
  // in its own process_and_close_socket, which the connection layer replaces (it serves one
  // request per connection, with connection_settings' timeouts), and in the listener, whose
  // socket timeouts serve_connection sets again before the first read.
  http_->set_payload_max_length(options_.max_body);
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
  // Made where it is missing, then locked, then checked: everything that can be refused is
  // refused before anything in it is changed (its mode included), and by one server at a time: a
  // second server would wipe this one's uploads, and one started at the same moment on the same
  // --state-dir read what the other's start-up had half written (its marker in the listing, not
  // yet by name: "it holds 'cryptonets-state' and no marker 'cryptonets-state'"); it is refused
  // as in use instead. A path that is there and is no directory is left to the check to refuse.
  std::error_code state_error;
  if (!fs::exists(fs::symlink_status(options_.state_dir, state_error))) {
    // Mode 0700 whatever the umask: made less an umask that takes the owner's bits (0777, a
    // trial), the directory could not even be opened to lock it, and was left behind, d---------.
    if (fs::create_directories(options_.state_dir, state_error))
      ::chmod(options_.state_dir.c_str(), 0700);
  }
  if (fs::is_directory(options_.state_dir, state_error)) {
    state_lock_ = StateLock(options_.state_dir);
  }
  const bool needs_marker = check_state_directory(options_.state_dir);
  for (const std::string& dir :
       {options_.state_dir, keysets_dir_, jobs_dir_, tmp_dir_, expired_dir_}) {
    std::error_code error;
    fs::create_directories(dir, error);
    if (error || !fs::is_directory(dir)) {
      throw std::runtime_error("cannot create the state directory '" + dir +
                               "': " + error.message());
    }
    if (dir == options_.state_dir && !state_lock_.held()) {
      state_lock_ = StateLock(options_.state_dir);  // not made above: made now
    }
    ::chmod(dir.c_str(), 0700);
    if (dir == options_.state_dir && needs_marker) {
      write_file_durably(dir + "/" + kStateMarkerName, kStateMarkerText);
    }
  }
  // A port file in the state directory just created: resolved now that its directory exists
  // (its name was checked before anything was bound).
  if (port_file_deferred_) {
    port_file_deferred_ = false;
    resolve_port_file();
  }
  remove_stale_port_temporaries();  // before recover() logs the foreign entries
  recover();
}

namespace {

// Where the kernel has the directory open as `fd` now (its real path), or "" without /proc.
fs::path real_directory_of(int fd) {
  std::error_code error;
  const fs::path real = fs::read_symlink("/proc/self/fd/" + std::to_string(fd), error);
  return error || !real.is_absolute() ? fs::path() : real;
}

}  // namespace

void Server::Impl::resolve_port_file() {
  if (options_.port_file.empty()) return;
  const std::string& given = options_.port_file;
  // Every refusal here is decided from the path given (and what it leads to) before anything is
  // served: an OptionError, which serve reports as the usage error its own checks of the path
  // are (they were exit 1 here and 2 there, in two styles).
  const auto failure = [&](const std::string& why) {
    return OptionError("--port-file '" + given + "': " + why);
  };
  // The directory holding `path` (relative to the directory `at`), opened without reading it
  // (O_PATH: search permission is enough), and the final name: what the write goes through.
  Descriptor directory;
  std::string name;
  const auto step = [&](int at, const fs::path& path) {
    const fs::path parent = path.parent_path().empty() ? fs::path(".") : path.parent_path();
    const int fd = ::openat(at, parent.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
      const int error = errno;
      throw failure("cannot open its directory '" + parent.string() + "': " + std::strerror(error));
    }
    directory.reset(fd);
    name = path.filename().string();
    if (name.empty() || name == "." || name == "..") {
      throw failure("it is a directory, not a file name");
    }
  };
  const auto own = [](const std::string& entry) {
    if (entry == kStateMarkerName || entry == "lock") return true;
    for (const char* subdirectory : kStateSubdirectories) {
      if (entry == subdirectory) return true;
    }
    return false;
  };
  const auto refuse_own_name = [&](const std::string& how) {
    if (own(name)) {
      throw failure(how + " the state directory's own '" + name +
                    "'; give a file of another name (in the state directory or elsewhere)");
    }
  };
  // Its directory is the state directory, not made yet: made by the constructor (after the
  // port is bound), then the path is resolved. Only the name can be refused now, and is.
  if (port_file_in_new_state_directory(given, options_.state_dir)) {
    name = fs::path(given).filename().string();
    refuse_own_name("it is");
    port_file_deferred_ = true;
    return;
  }
  std::error_code state_error;
  const fs::path state = fs::weakly_canonical(options_.state_dir, state_error);
  // The entry `name` of the open `directory`, by real path ("" if /proc cannot tell: the path's
  // text then, as weakly_canonical has it).
  const auto entry_of = [&](const fs::path& text) {
    fs::path real = real_directory_of(directory.fd);
    if (real.empty()) {
      std::error_code error;
      const fs::path parent = text.parent_path().empty() ? fs::path(".") : text.parent_path();
      real = fs::weakly_canonical(parent, error);
      if (error) real = parent.lexically_normal();
    }
    return real / name;
  };
  // Written over the marker, the next start refused the state directory as not one of ours; in
  // tmp/ it is removed at start, in keysets/, jobs/ or expired/ it is a foreign entry there.
  // Checked on the directory actually open: what the write goes into.
  const auto refuse_over_state = [&](const fs::path& entry, const std::string& how) {
    if (state_error) return;  // the writes into the state directory say what is wrong
    const fs::path inside = entry.parent_path().lexically_relative(state);
    if (inside == ".") refuse_own_name(how);
    if (!inside.empty() && inside != "." && *inside.begin() != ".." &&
        own(inside.begin()->string())) {
      throw failure(how + " inside the state directory's " + inside.begin()->string() +
                    "/, which the server keeps; give a file at the state directory's top or " +
                    "elsewhere");
    }
  };
  step(AT_FDCWD, given);
  const fs::path own_entry = entry_of(given);
  refuse_over_state(own_entry, "it is");
  port_file_entries_ = {own_entry};
  // The port is written through symbolic links (a dangling last one too): followed here, once,
  // each from the directory the link is in. Where the chain ends is checked as well: a link to
  // the marker had the port written over it.
  fs::path target = given;  // the chain's end as text, for the messages
  for (int depth = 0;; ++depth) {
    std::vector<char> link(PATH_MAX + 1);
    const ssize_t length = ::readlinkat(directory.fd, name.c_str(), link.data(), link.size());
    const int error = length < 0 ? errno : 0;
    if (error == EINVAL || error == ENOENT) break;  // not a link, or a new file
    if (error != 0) throw failure(std::string("cannot follow it: ") + std::strerror(error));
    if (depth == 40) throw failure("cannot follow its symbolic links (a loop?)");
    const fs::path next(std::string(link.data(), static_cast<size_t>(length)));
    target = next.is_absolute() ? next : target.parent_path() / next;
    step(directory.fd, next);  // a relative link from its own directory, as the kernel does
  }
  struct stat status {};
  if (::fstatat(directory.fd, name.c_str(), &status, AT_SYMLINK_NOFOLLOW) == 0 &&
      !S_ISREG(status.st_mode)) {
    throw failure(
        "it is not a regular file (a device, directory, FIFO or socket), which the write would "
        "replace; choose a file path");
  }
  if (target != fs::path(given)) {
    const fs::path end = entry_of(target);
    refuse_over_state(end, "it is a symbolic link to '" + target.string() + "', which is");
    port_file_entries_.push_back(end);
  }
  // The caller's checks (serve's: not a key file, not the model) on this very entry: by path they
  // could see another file than the one written, a link changed in between.
  if (options_.check_port_file) {
    PortFileTarget resolved;
    resolved.directory = directory.fd;
    resolved.name = name;
    resolved.path = entry_of(target).string();
    options_.check_port_file(resolved);
  }
  // Every file in the state directory has mode 0600 (README); a port file elsewhere is for any
  // local reader (a supervisor, a client's script): 0644, as any file a user writes.
  port_file_mode_ = !state_error && entry_of(target).parent_path() == state ? 0600 : 0644;
  port_name_ = name;
  port_directory_.reset(directory.release());
}

void Server::Impl::write_port_file() {
  if (port_directory_.fd < 0) return;
  Descriptor directory(port_directory_.release());
  const auto failure = [&](const std::string& step, int error) {
    return std::system_error(error, std::generic_category(),
                             "cannot write --port-file '" + options_.port_file + "': " + step);
  };
  // The temporary names, "<name>.tmp-<pid>-<n>": what remove_stale_port_temporaries removes.
  static std::atomic<unsigned> counter{0};
  const auto temporary_name = [&] {
    return port_name_ + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  };
  // Unnamed until it is complete (O_TMPFILE): a crash while it is written leaves nothing in the
  // directory (a named temporary stayed, logged as a foreign entry by each later start where the
  // port file is in the state directory). Linked in through /proc/self/fd (AT_EMPTY_PATH would
  // need CAP_DAC_READ_SEARCH): without /proc, or where the file system has no O_TMPFILE, the
  // named temporary below instead.
  Descriptor file;
  if (::access("/proc/self/fd", X_OK) == 0) {
    file.reset(::openat(directory.fd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, port_file_mode_));
  }
  const bool unnamed = file.fd >= 0;
  std::string temporary;  // the named temporary, once there is one
  // A new name beside the final one (O_EXCL, O_NOFOLLOW: never an existing file or a link planted
  // there), renamed over it: the name is replaced, even by a link put there since.
  for (int attempt = 0; !unnamed && attempt < 100 && file.fd < 0; ++attempt) {
    temporary = temporary_name();
    file.reset(::openat(directory.fd, temporary.c_str(),
                        O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, port_file_mode_));
    if (file.fd < 0 && errno != EEXIST) break;
  }
  if (file.fd < 0) {
    const int error = errno;
    throw failure("cannot create a temporary file in its directory", error);
  }
  if (!keep_owner_read_write(file.fd, port_file_mode_)) {
    const int error = errno;
    if (!temporary.empty()) ::unlinkat(directory.fd, temporary.c_str(), 0);
    throw failure("cannot give its owner read and write", error);
  }
  const std::string text = std::to_string(port_) + "\n";
  const auto fail = [&](const std::string& step) {
    const int error = errno != 0 ? errno : EIO;
    if (!temporary.empty()) ::unlinkat(directory.fd, temporary.c_str(), 0);
    return failure(step, error);
  };
  size_t done = 0;
  errno = 0;
  while (done < text.size()) {
    const ssize_t written = ::write(file.fd, text.data() + done, text.size() - done);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) throw fail("write failed");
    done += static_cast<size_t>(written);
  }
  if (::fsync(file.fd) != 0) throw fail("fsync failed");
  bool in_place = false;
  if (unnamed) {
    const std::string self = "/proc/self/fd/" + std::to_string(file.fd);
    // Under the final name at once where it is free: no name but that one ever exists.
    if (::linkat(AT_FDCWD, self.c_str(), directory.fd, port_name_.c_str(), AT_SYMLINK_FOLLOW) ==
        0) {
      in_place = true;
    } else if (errno != EEXIST) {
      throw fail("link failed");
    }
    // Taken (the port file of an earlier start): linkat cannot replace it, so the complete file
    // gets a temporary name and is renamed over it.
    for (int attempt = 0; !in_place && temporary.empty() && attempt < 100; ++attempt) {
      const std::string candidate = temporary_name();
      if (::linkat(AT_FDCWD, self.c_str(), directory.fd, candidate.c_str(), AT_SYMLINK_FOLLOW) ==
          0) {
        temporary = candidate;
      } else if (errno != EEXIST) {
        break;
      }
    }
    if (!in_place && temporary.empty()) throw fail("link failed");
  }
  if (::close(file.release()) != 0) throw fail("close failed");
  if (!in_place &&
      ::renameat(directory.fd, temporary.c_str(), directory.fd, port_name_.c_str()) != 0) {
    throw fail("rename failed");
  }
  // The new entry durable: fsync of the directory (an O_PATH descriptor cannot be fsync'd).
  const Descriptor sync(::openat(directory.fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (sync.fd >= 0) (void)::fsync(sync.fd);
}

void Server::Impl::remove_stale_port_temporaries() {
  if (port_directory_.fd < 0) return;
  // An O_PATH descriptor cannot be read: the directory opened again through it.
  const int fd = ::openat(port_directory_.fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // not readable: nothing to remove (write_port_file needs no listing)
  DIR* entries = ::fdopendir(fd);
  if (entries == nullptr) {
    ::close(fd);
    return;
  }
  std::vector<std::string> stale;
  while (const dirent* entry = ::readdir(entries)) {
    const std::string name = entry->d_name;
    if (!is_writer_temporary(name, port_name_)) continue;
    const long pid = std::strtol(name.c_str() + port_name_.size() + 5, nullptr, 10);  // ".tmp-"
    // This process has written nothing yet: its own pid names a predecessor's (a container's
    // server is often pid 1 at every start). Another live process may be writing it (a server
    // sharing the port file): left. A killed server its parent has not reaped yet (a zombie) has
    // ended: process_has_ended.
    if (pid != static_cast<long>(::getpid()) && !process_has_ended(pid)) continue;
    struct stat status {};
    if (::fstatat(fd, name.c_str(), &status, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(status.st_mode)) {
      stale.push_back(name);
    }
  }
  for (const std::string& name : stale)
    (void)::unlinkat(fd, name.c_str(), 0);
  ::closedir(entries);  // closes fd
}

namespace {

// The process's open descriptors (from /proc/self/fd; none without /proc).
std::vector<int> open_descriptors() {
  DIR* descriptors = ::opendir("/proc/self/fd");
  if (descriptors == nullptr) return {};
  std::vector<int> fds;
  while (const dirent* entry = ::readdir(descriptors)) {
    char* end = nullptr;
    const long fd = std::strtol(entry->d_name, &end, 10);
    if (end != entry->d_name && *end == '\0' && fd != ::dirfd(descriptors)) {
      fds.push_back(static_cast<int>(fd));
    }
  }
  ::closedir(descriptors);
  return fds;
}

int port_of(const sockaddr_storage& address) {
  if (address.ss_family == AF_INET) {
    return static_cast<int>(ntohs(reinterpret_cast<const sockaddr_in&>(address).sin_port));
  }
  if (address.ss_family == AF_INET6) {
    return static_cast<int>(ntohs(reinterpret_cast<const sockaddr_in6&>(address).sin6_port));
  }
  return -1;
}

// Whether `fd` is a connected socket of the local port `port`; its peer in `peer`.
bool connection_of_port(int fd, int port, sockaddr_storage& peer, socklen_t& peer_size) {
  struct stat status {};
  if (::fstat(fd, &status) != 0 || !S_ISSOCK(status.st_mode)) return false;
  sockaddr_storage local{};
  socklen_t local_size = sizeof local;
  peer_size = sizeof peer;
  return ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_size) == 0 &&
         port_of(local) == port &&
         ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_size) == 0;
}

}  // namespace

int Server::Impl::shutdown_connections() {
  // httplib does not hand out its connections' sockets: they are found among the process's
  // descriptors as the connected sockets of the port served. The listener is closed by now, so
  // no new connection can take the number of one that ends meanwhile (another descriptor that
  // does is not a socket of this port: skipped, or shutdown(2) fails on it harmlessly).
  int found = 0;
  for (int fd : open_descriptors()) {
    sockaddr_storage peer{};
    socklen_t peer_size = 0;
    if (connection_of_port(fd, port_, peer, peer_size) && ::shutdown(fd, SHUT_RDWR) == 0) ++found;
  }
  return found;
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
    // The listener returns once every connection's thread has ended, and a client stalled
    // mid-request (headers or body) held its thread until --read-timeout (30 s): after the
    // grace, the connections still open are shut down (a stalled upload is then dropped and its
    // partial files removed; no answer reaches a connection shut down). Those that were still
    // waiting for a thread were answered 503 meanwhile (ConnectionQueue::shutdown).
    lock.lock();
    if (wake_.wait_for(lock, kShutdownGrace, [&] { return !listening; })) return;
    lock.unlock();
    if (const int closed = shutdown_connections(); closed > 0) {
      log({{"time", utc_timestamp()},
           {"event", "stalled connections closed"},
           {"connections", closed}});
    }
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
  // uploads and drains in progress end at their next piece
  const bool first = !stop_requested_.exchange(true);
  std::string running;
  size_t queued = 0;
  bool stopped_already = false;  // run() has ended on its own (cmd_serve then releases its waiter)
  {
    std::lock_guard lock(mutex_);
    stopped_already = stopping_;
    stopping_ = true;
    queued = queue_.size();
    for (const auto& [id, job] : jobs_) {
      if (job.state == "running") running = id;
    }
  }
  wake_.notify_all();  // the worker, the janitor, long polls, and run()'s stopper
  // Said at once (a trial's Ctrl-C on a server running a job got no word until the job had
  // finished, which made the server look hung): the running job is finished first, the queued
  // ones kept for the next start.
  if (first && !stopped_already) {
    nlohmann::ordered_json line{{"time", utc_timestamp()}, {"event", "stopping"}};
    if (!running.empty()) line["finishing_job"] = running;
    line["jobs_kept_queued"] = queued;
    log(line);
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
void Server::write_port_file() {
  impl_->write_port_file();
}

}  // namespace cryptonets::service
