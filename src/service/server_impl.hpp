// The server's implementation (internal to the service): one class, its members defined by
// concern in server.cpp (start-up, run, stop), server_routes.cpp (the HTTP routes), job_store.cpp
// (recovery, the key set cache, retention, deletion) and worker.cpp (running jobs).
#pragma once

#include <httplib.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "cryptonets/random/chacha20.hpp"
#include "cryptonets/service/server.hpp"
#include "http_support.hpp"
#include "job_record.hpp"
#include "key_sets.hpp"
#include "scores_check.hpp"
#include "server_support.hpp"
#include "state_directory.hpp"

namespace cryptonets::service {

class Server::Impl {
 public:
  explicit Impl(ServerOptions options);
  void run();
  void stop();
  int port() const { return port_; }
  // Server::write_port_file.
  void write_port_file();

 private:
  // An open descriptor (-1: none), closed with its owner.
  struct Descriptor {
    explicit Descriptor(int descriptor = -1) : fd(descriptor) {}
    Descriptor(const Descriptor&) = delete;
    Descriptor& operator=(const Descriptor&) = delete;
    ~Descriptor() { reset(-1); }
    int release() { return std::exchange(fd, -1); }
    void reset(int descriptor) {
      if (fd >= 0) ::close(fd);
      fd = descriptor;
    }
    int fd;
  };

  // Space an upload in progress has reserved on the state directory's file system and not yet
  // written: what admission control counts against the free space for the uploads after it.
  // consume() as its bytes are written (statvfs then shows them as used); the rest is released
  // when the reservation is destroyed (the upload accepted, refused or disconnected).
  class SpaceReservation {
   public:
    SpaceReservation() = default;
    SpaceReservation(Impl* owner, uint64_t bytes) : owner_(owner), bytes_(bytes) {}
    SpaceReservation(const SpaceReservation&) = delete;
    SpaceReservation& operator=(const SpaceReservation&) = delete;
    ~SpaceReservation() { consume(bytes_); }
    void consume(uint64_t bytes);

   private:
    Impl* owner_ = nullptr;
    uint64_t bytes_ = 0;
  };

  // Invalid UTF-8 (a request's path or header, "GET /v1/%FF": httplib decodes the escapes) is
  // written as U+FFFD: dump() threw on it, in the logger, out of httplib's thread, and one
  // unauthenticated request ended the server (std::terminate).
  void log(const nlohmann::ordered_json& line) {
    options_.log(line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace));
  }
  void install_routes();
  void recover();
  // Logs, once at start-up and by path ("event": "foreign entry"), every entry of the state
  // directory that the server does not write there: at its top, in keysets/, jobs/ and expired/,
  // and in each key set's and job's directory. They are left as they are (tmp/ is emptied).
  void log_foreign_entries();
  // Resolves ServerOptions::port_file once, before anything is bound or touched: follows its
  // chain of symbolic links through directory descriptors and keeps the last directory (O_PATH)
  // and the final name for write_port_file, so that a link changed later cannot redirect the
  // write. Throws OptionError if the path or the end of its chain is one of the state
  // directory's own entries (its marker, keysets/, ...) or inside one of its subdirectories, is
  // not a regular file, or cannot be followed (its directory missing, a loop). A port file
  // directly in a state directory not made yet only has its name checked (port_file_deferred_).
  void resolve_port_file();
  // Removes from the port file's directory (resolve_port_file's) the regular files named as
  // write_port_file's temporaries of it, "<name>.tmp-<pid>-<n>" (is_writer_temporary), whose
  // process has ended (process_has_ended: a zombie too) or is this one: what a server killed
  // while writing the port file left.
  void remove_stale_port_temporaries();
  // After stop() and kShutdownGrace: shuts down (reads and writes) every client connection still
  // open, so that a stalled client does not hold the shutdown for --read-timeout. Returns how
  // many it found.
  int shutdown_connections();
  // Called by the logger, on the request's thread, after its answer was written and before
  // httplib closes the connection: where the request's body (Content-Length) was left unread
  // and its client did not ask "Expect: 100-continue", shuts the connection down for writing (a
  // FIN after the answer; not over TLS, whose close_notify still follows) and reads and drops
  // what the client still sends, up to kLingerBytes and kLingerTime (at most --read-timeout),
  // until its end or the client's close. Not after a 408 or once stop() was called.
  void linger(const httplib::Request& req, const httplib::Response& res);

  // Requests.
  // Answers 503 (Retry-After) and returns true where the request's connection waited for an
  // HTTP thread until after stop() (ConnectionFacts::after_stop): connections.hpp's queue serves
  // those at once at shutdown, each only to be told so.
  bool refuse_after_stop(httplib::Response& res);
  // ConnectionSettings::request_line_timeout: the 408 for a client stalled inside its request
  // line (a whole HTTP answer), logged as the logger logs a request.
  std::string answer_request_line_timeout();
  // ConnectionSettings::overflow_answered: the 503 to a connection beyond the waiting ones,
  // logged as the logger logs a request (it was not logged).
  void log_overflow_answer(const std::string& error, size_t bytes_out, Clock::time_point accepted);
  // The log line of an answer sent before the request was read (its timeout, the overflow 503).
  void log_unread_request(int status, size_t bytes_out, Clock::time_point start,
                          const std::string& error);
  // The 408's message for a request whose line or headers did not arrive in time.
  std::string request_timeout_message() const;
  // HttpError 507 (--max-key-sets, the registrations in progress counted) or 503
  // (--max-key-set-loads) for a new registration; the caller holds mutex_.
  void require_key_set_room() const;
  void register_keys(const httplib::Request& req, httplib::Response& res,
                     const httplib::ContentReader& reader);
  void submit_job(const httplib::Request& req, httplib::Response& res,
                  const httplib::ContentReader& reader);
  void job_status(const httplib::Request& req, httplib::Response& res);
  void job_result(const httplib::Request& req, httplib::Response& res);
  void delete_job(const httplib::Request& req, httplib::Response& res);
  void queue_status(const httplib::Request& req, httplib::Response& res);
  // GET /v1/profile: the model's profile file, made on the first request (profile_text_).
  void model_profile(const httplib::Request& req, httplib::Response& res);

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
  // is read and dropped (a refusal found midway: the client still gets the answer), as it is
  // after a failed write (507: no space left, EFBIG; what was written is truncated at once).
  using Observer = std::function<bool(const char* data, size_t length)>;
  // `reservation` (reserve_space) is consumed by the bytes written.
  void receive_body(const httplib::Request& req, const httplib::ContentReader& reader,
                    const std::vector<std::string>& paths, const std::vector<uint64_t>& sizes,
                    SpaceReservation& reservation, const Observer& observe = {});
  // A request's directory under tmp/ (mode 0700). The guard removes it, with what it holds, when
  // it goes out of scope, unless `path` was cleared (after the rename that keeps it).
  struct StagingDirectory {
    explicit StagingDirectory(std::string directory) : path(std::move(directory)) {}
    StagingDirectory(const StagingDirectory&) = delete;
    StagingDirectory& operator=(const StagingDirectory&) = delete;
    ~StagingDirectory();
    std::string path;
  };
  // Makes tmp/`name`; when it cannot, throws a 500 (the body left unread) saying the server cannot
  // store `what`.
  StagingDirectory make_staging(const std::string& name, const std::string& what);
  uint64_t content_length(const httplib::Request& req);
  // HttpError 507 before any of the body is read when the state directory's file system has not
  // room for `length` bytes and the job's record (statvfs) beside what the other uploads in
  // progress have reserved and not yet written; otherwise reserves that room until `reservation`
  // is destroyed. A body that fits now may still find the disk full midway (other writers,
  // quotas: EDQUOT is not seen here, nor RLIMIT_FSIZE): receive_body's 507 after the body then.
  void reserve_space(uint64_t length, std::optional<SpaceReservation>& reservation);
  std::shared_ptr<const KeySet> key_set(const std::string& hash);
  std::string random_hex(size_t bytes);
  void write_job(const Job& job, const std::string& directory);
  int retry_after_seconds() const;
  // ServerOptions::key_set_load_hold (tests only): waits while that file exists, at most 60 s and
  // not past stop(), logging event "key set load held" once.
  void hold_key_set_load();

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
  uint64_t profile_fingerprint_ = 0;  // of the model's profile: what an upload must record
  // The model's profile file as `cryptonets profile --model M` writes it (GET /v1/profile): made
  // on the first request, not at start-up (choosing every preset's parameters takes a fraction of
  // a second); "" until then.
  std::mutex profile_mutex_;
  std::string profile_text_;
  std::string keysets_dir_, jobs_dir_, tmp_dir_, expired_dir_;
  StateLock state_lock_;
  // The --port-file as resolve_port_file found it: its last directory (O_PATH; -1: none, or
  // written) and final name; and the entries it and the path given are, by real path, for
  // log_foreign_entries.
  Descriptor port_directory_;
  std::string port_name_;
  // Its mode (resolve_port_file), and whether it lies in a state directory not made yet: it is
  // then resolved once the constructor has made it.
  mode_t port_file_mode_ = 0644;
  bool port_file_deferred_ = false;
  std::vector<fs::path> port_file_entries_;
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
  size_t pending_ = 0;           // queued + running jobs + uploads in progress
  size_t registering_ = 0;       // registrations in progress (counted against --max-key-sets)
  size_t loading_key_sets_ = 0;  // registrations building their keys' tables (--max-key-set-loads)
  bool stopping_ = false;
  // Requests waiting in a long poll (GET /v1/jobs/ID?wait=S): at most half the --http-threads,
  // so that long polls never hold every thread and other clients are always served.
  int long_polls_ = 0;
  // stop() was called: read without mutex_ by the body readers, which then stop reading (an
  // upload in progress held the listener's shutdown, and the process, until its client had sent
  // it all: a slow client, for the --upload-timeout).
  std::atomic<bool> stop_requested_{false};
  double last_job_seconds_ = 5;

  // Bytes reserved by the uploads in progress and not yet written (reserve_space).
  std::mutex space_mutex_;
  uint64_t reserved_bytes_ = 0;

  // The key sets loaded for jobs (key_set): loaded outside the lock (one slow load held every
  // other upload's lookup), each once: a second request for a key set being loaded waits for it.
  std::mutex cache_mutex_;
  std::list<std::pair<std::string, std::shared_ptr<const KeySet>>> cache_;  // most recent first
  std::map<std::string, std::shared_future<std::shared_ptr<const KeySet>>> cache_loading_;

  // Verified batches of queued one-batch jobs, kept from the upload (at most one).
  std::map<std::string, EncryptedBatch> ready_;

  // The scores files verified, by job (job_result).
  ScoresCheck scores_check_;
};

}  // namespace cryptonets::service
