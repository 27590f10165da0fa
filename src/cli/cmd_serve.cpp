// cryptonets serve (server): the private-inference service over HTTP (service/server.hpp).
// SIGTERM or SIGINT: stop taking requests, drop the uploads in progress, let the running job
// finish, leave the queued ones on disk for the next start. After SIGKILL, the next start resumes
// every accepted job.

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cli_support.hpp"
#include "commands.hpp"
#include "cryptonets/service/server.hpp"

namespace cryptonets::cli {

namespace {

// "HOST:PORT", or "[v6]:PORT" for an IPv6 address.
void parse_listen(const std::string& text, service::ServerOptions& options) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    throw UsageError("--listen expects HOST:PORT, got '" + text + "'");
  }
  options.host = text.substr(0, colon);
  // An IPv6 address in brackets, as in URLs: [::1]:8080 (the resolver takes it without them).
  if (options.host.size() >= 2 && options.host.front() == '[' && options.host.back() == ']') {
    options.host = options.host.substr(1, options.host.size() - 2);
  }
  if (options.host.empty() || options.host.find_first_of("[]") != std::string::npos) {
    throw UsageError("--listen expects HOST:PORT (an IPv6 address in brackets: [::1]:8080), got '" +
                     text + "'");
  }
  // No host name or address holds white space (a trial's " 127.0.0.1: 80" failed only later, at
  // the resolver, with exit 1).
  if (options.host.find_first_of(" \t\r\n\v\f") != std::string::npos) {
    throw UsageError("--listen: the host must not contain white space, got '" + options.host + "'");
  }
  // Digits only: std::stoi took " 80" and "+80".
  const std::string port = text.substr(colon + 1);
  int value = -1;
  if (port.size() <= 5 && port.find_first_not_of("0123456789") == std::string::npos) {
    std::from_chars(port.data(), port.data() + port.size(), value);
  }
  if (value < 0 || value > 65535) {
    throw UsageError("--listen: the port must be digits, 0 to 65535 (0: any free port), got '" +
                     port + "'");
  }
  options.port = value;
}

// What the port file holds once written: the port in decimal and a newline.
bool is_port_text(std::string_view text) {
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  return !text.empty() && text.size() <= 5 &&
         text.find_first_not_of("0123456789") == std::string_view::npos;
}

// --port-file replaces only a port file (one a serve wrote before) or an empty file: any other
// file there (a ciphertext batch, a document) was replaced by the port, unasked. Made on the
// entry the server resolved (target): what the write replaces.
void refuse_to_replace_other_than_port_file(const service::PortFileTarget& target,
                                            const std::string& given) {
  struct stat entry {};
  if (::fstatat(target.directory, target.name.c_str(), &entry, AT_SYMLINK_NOFOLLOW) != 0 ||
      !S_ISREG(entry.st_mode) || entry.st_size == 0) {
    return;  // new, empty, or not a regular file (the server refuses that itself)
  }
  std::string holds = format_bytes(static_cast<uint64_t>(entry.st_size));
  const int fd = ::openat(target.directory, target.name.c_str(),
                          O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    holds += ", which cannot be read: " + std::string(std::strerror(errno));
  } else {
    char text[7] = {};
    const ssize_t got = ::pread(fd, text, sizeof text, 0);
    if (got == entry.st_size && is_port_text(std::string_view(text, static_cast<size_t>(got)))) {
      ::close(fd);
      return;
    }
    const std::string kind = cryptonets_file_kind("/proc/self/fd/" + std::to_string(fd));
    ::close(fd);
    if (!kind.empty()) holds += ": " + kind;
  }
  throw UsageError("--port-file '" + printable_text(given) +
                   "' exists and is not a port file (it holds " + holds +
                   "); serve replaces only a port file or an empty file: remove it first or "
                   "choose another path");
}

}  // namespace

int run_serve(std::span<char* const> arguments) {
  OptionParser options(
      "serve",
      "Server: the private-inference service over HTTP/1.1 (HTTPS with --tls-cert and\n"
      "--tls-key). Clients register their parameters, evaluation keys and public key (never the\n"
      "secret key: refused) and get a token; only that token submits encrypted batches against\n"
      "those keys and reads their jobs. Every upload is verified (checksums, parameters, key set)\n"
      "and fsync'd into --state-dir before it is accepted; a restarted server resumes every\n"
      "accepted job. One JSON line per request on stderr. SIGTERM: stop taking work, drop the\n"
      "uploads in progress (503), finish the running job, keep the queued ones for the next\n"
      "start.");
  options.add_value("listen", "HOST:PORT", "address to listen on (port 0: any free port)",
                    "127.0.0.1:8080");
  options.add_value("model", "FILE", "integer model", default_data_directory() + "/model.txt");
  options.add_value("state-dir", "DIR",
                    "key sets, jobs and results: new (in an existing directory), empty or a "
                    "state directory (mode 0700)",
                    std::nullopt, true);
  add_threads_option(options, "inference threads");
  options.add_value("http-threads", "N",
                    "connections served at once (long polls, GET /v1/jobs/ID?wait=S, wait on "
                    "at most half of them; the others are answered at once)",
                    "8");
  options.add_value("max-queue", "N", "jobs accepted and not finished (then 503)", "16");
  options.add_value("max-key-sets", "N",
                    "key sets held at once (then 507 to a registration, until the retention "
                    "deletes one)",
                    "64");
  options.add_value("max-key-set-loads", "N",
                    "registrations building their keys' tables at once (up to about 1.5 GB each "
                    "within the parameter limits; then 503 + Retry-After)",
                    "2");
  options.add_value("max-body", "BYTES", "largest request body (then 413)", "4294967296");
  options.add_value("read-timeout", "SECONDS",
                    "drop an upload stalled this long, and a request whose headers are not all in "
                    "this long after it connected (over HTTPS, with the TLS handshake, after "
                    "an HTTP thread took it; after SIGTERM: 2 s at most)",
                    "30");
  options.add_value("upload-timeout", "SECONDS", "drop an upload that takes longer in all", "3600");
  options.add_value("min-upload-rate", "BYTES",
                    "drop an upload that averages fewer bytes a second once --read-timeout "
                    "seconds have passed since its body began (0: no minimum)",
                    "65536");
  options.add_value("result-ttl", "SECONDS", "delete finished jobs not fetched after this",
                    "604800");
  options.add_value("key-set-retention-days", "N",
                    "delete a key set (with its finished jobs) not used for N days; 0: never",
                    "90");
  // Test hooks, without a help text: not shown by --help. A registration that has built its
  // tables waits while FILE exists (at most 60 s); the retention in seconds (overrides the days).
  options.add_value("key-set-load-hold", "FILE", "");
  options.add_value("key-set-retention-seconds", "S", "");
  options.add_value("tls-cert", "FILE", "PEM certificate (with --tls-key: HTTPS)");
  options.add_value("tls-key", "FILE", "PEM private key of the certificate");
  options.add_value("port-file", "FILE",
                    "write the port listened on here (for --listen HOST:0), through its symbolic "
                    "links as they were at start-up: refused where it, or the end of its links, "
                    "is the state directory's marker or in its subdirectories; its directory may "
                    "be a new --state-dir (mode 0600 in the state directory, else 0644); replaces "
                    "only an earlier port file or an empty file");
  if (!options.parse(arguments)) return kExitSuccess;
  // Before the port is bound. By path, for the usage errors to come first; the refusals are made
  // again on the file the server resolved and writes (check_port_file below). A port file in a
  // state directory not made yet is new there (no input can be it): the server makes the
  // directory, then resolves and checks it (its missing directory was refused here).
  const std::vector<std::string> inputs = {"model", "tls-cert", "tls-key"};
  const bool in_new_state = options.has("port-file") && options.has("state-dir") &&
                            service::port_file_in_new_state_directory(options.text("port-file"),
                                                                      options.text("state-dir"));
  refuse_output_over_inputs(
      options, in_new_state ? std::vector<std::string>{} : std::vector<std::string>{"port-file"},
      inputs);

  // The server makes only the last component of a missing --state-dir, as keygen its --out-dir:
  // a mistyped path grew a chain of directories (a trial's --state-dir nodir/state made nodir,
  // and the server ran there). A usage error, as serve's other refusals of its paths.
  {
    namespace fs = std::filesystem;
    fs::path state = options.text("state-dir");
    while (state.has_relative_path() && state.filename().empty())
      state = state.parent_path();
    std::error_code error;
    if (!state.empty() && !fs::exists(fs::symlink_status(state, error))) {
      const fs::path parent = state.parent_path().empty() ? fs::path(".") : state.parent_path();
      const fs::file_status status = fs::status(parent, error);
      if (!fs::is_directory(status)) {
        throw UsageError("--state-dir: cannot create the state directory '" +
                         options.text("state-dir") + "': its parent directory '" + parent.string() +
                         "' " + (fs::exists(status) ? "is not a directory" : "does not exist") +
                         " (serve creates only the last component; create the parent first)");
      }
    }
  }

  service::ServerOptions server_options;
  parse_listen(options.text("listen"), server_options);
  server_options.model_path = options.text("model");
  server_options.state_dir = options.text("state-dir");
  server_options.threads = threads_option(options);
  server_options.http_threads = static_cast<int>(options.integer("http-threads", 1, 1024));
  server_options.max_queue = static_cast<size_t>(options.integer("max-queue", 1, 1 << 20));
  server_options.max_key_sets = static_cast<size_t>(options.integer("max-key-sets", 1, 1 << 20));
  server_options.max_key_set_loads =
      static_cast<size_t>(options.integer("max-key-set-loads", 1, 1024));
  if (options.has("key-set-load-hold")) {
    server_options.key_set_load_hold = options.text("key-set-load-hold");
  }
  server_options.max_body = static_cast<uint64_t>(options.integer("max-body", 1, int64_t{1} << 50));
  server_options.read_timeout_s = static_cast<int>(options.integer("read-timeout", 1, 86400));
  server_options.upload_timeout_s =
      static_cast<int>(options.integer("upload-timeout", 1, 7 * 86400));
  server_options.min_upload_rate =
      static_cast<uint64_t>(options.integer("min-upload-rate", 0, int64_t{1} << 40));
  server_options.result_ttl_s = options.integer("result-ttl", 1, int64_t{1} << 40);
  server_options.key_set_retention_s =
      options.has("key-set-retention-seconds")
          ? options.integer("key-set-retention-seconds", 1, int64_t{1} << 40)
          : options.integer("key-set-retention-days", 0, 36500) * 86400;
  if (options.has("tls-cert") != options.has("tls-key")) {
    throw UsageError("--tls-cert and --tls-key go together");
  }
  if (options.has("tls-cert")) {
    server_options.tls_cert = options.text("tls-cert");
    server_options.tls_key = options.text("tls-key");
  }
  if (options.has("port-file")) {
    server_options.port_file = options.text("port-file");
    // A link of the path re-pointed between the check above and the server's resolution (at
    // start-up) had the port written over the model or a key file, unchecked.
    server_options.check_port_file = [&options, &inputs](const service::PortFileTarget& target) {
      try {
        refuse_resolved_output_over_inputs(options, "port-file",
                                           {target.directory, target.name, target.path}, inputs);
      } catch (const std::runtime_error& error) {
        // A key file there: the usage error refuse_output_over_inputs makes of it by path.
        throw UsageError(std::string("--port-file: ") + error.what());
      }
      refuse_to_replace_other_than_port_file(target, options.text("port-file"));
    };
  }

  // Signals go to one thread that asks the server to stop (blocked everywhere else; the server's
  // threads inherit the mask).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a client gone mid-answer is an error on that socket, not our end

  // The server's refusals of the options (the port file over the state directory's own entries)
  // are usage errors, as the checks above are.
  std::optional<service::Server> server_holder;
  try {
    server_holder.emplace(server_options);
  } catch (const service::OptionError& error) {
    throw UsageError(error.what());
  }
  service::Server& server = *server_holder;
  // Where the server resolved it at start-up (links changed since cannot redirect it).
  server.write_port_file();
  std::atomic<bool> signalled{false};
  std::thread waiter([&] {
    int signal_number = 0;
    sigwait(&signals, &signal_number);
    signalled = true;
    server.stop();
  });
  server.run();
  if (!signalled) ::kill(::getpid(), SIGTERM);  // run() ended on its own: release the waiter
  waiter.join();
  return kExitSuccess;
}

}  // namespace cryptonets::cli
