// The private-inference service (issue 19): `cryptonets serve`, an HTTP/1.1 server (cpp-httplib)
// in front of a durable job store.
//
// Protocol (bodies are the binary files of io/protocol_files.hpp, streamed; JSON only for small
// control messages; every error is a JSON object {"error": "..."}, with "code" where a client acts
// on it: "other_key_set" and "other_profile", see 422 below):
//
//   POST   /v1/keysets?params=N1&evaluation=N2&public=N3   body: params ‖ evaluation.key ‖
//          public.key (N1 + N2 + N3 bytes) -> 201 {"token": T, "key_set_id": "0x...",
//          "scheme": "yashe"|"bfv"}. The key set is of the scheme its files record (YASHE' or
//          BFV; the three parts must agree, 400 naming both otherwise). A secret key is refused
//          (422), as `infer` refuses it: a secret key file as a part, secret key records under
//          the header of a key part, or a secret key appended after a key part's records, alike.
//          The keys' tables are built once the body is in (up to about 1.5 GB for a parameter set
//          at the limits of rlwe/parameters.hpp): at most ServerOptions::max_key_set_loads
//          registrations do so at once (--max-key-set-loads, default 2); one more is answered
//          503 + Retry-After: 5, from its headers (its body unread) when that many load already,
//          else once its body is in. The token is 32 bytes from the ChaCha20 CSPRNG keyed by
//          getrandom(2), hex; the server stores only its SHA-256.
//   GET    /v1/profile                     -> 200 the model profile of the server's model
//          (text/plain): byte for byte the file `cryptonets profile --model MODEL --out FILE`
//          writes (circuit privacy 0; io/model_profile.hpp), made at the first request. No token:
//          it holds no weights, only what a client needs to make keys and encrypt for the model
//          (`cryptonets client profile` fetches it for keygen --profile).
//   GET    /v1/queue                       (Authorization: Bearer T) -> 200 {"queued", "max"},
//          or 503 + Retry-After if full; 401 without a token or with an unknown one
//   POST   /v1/jobs                        (Authorization: Bearer T) body: a ciphertext file from
//          `cryptonets encrypt` under T's keys -> 202 {"job": ID, "state": "queued", ...} once the
//          upload is verified (header, scheme, fingerprint, key set id, every record's checksum
//          and binding) and durable (fsync of the file, the job record and both directories).
//          A batch of the other scheme than T's key set is refused (422, naming both schemes); so
//          is one of other parameters or keys: each says that T belongs to another key set than
//          the body's, naming both key set ids, and what to do (code "other_key_set"). A batch
//          encrypted with another model profile than the server's model's (its header's profile
//          fingerprint, protocol_files.hpp) is refused (422, naming both fingerprints and how to
//          fetch the server's profile, cryptonets client profile; code "other_profile"); a stored
//          job of another profile (the server restarted with another model) fails unrun.
//          Each job runs under its key set's scheme. A batch with a secret key appended is
//          refused (422), as a secret key sent as the batch is.
//   GET    /v1/jobs/ID                     -> 200 {"job", "scheme", "state": queued|running|
//          done|failed, ...}
//   GET    /v1/jobs/ID/result              -> 200 the scores file (as `cryptonets infer` writes
//          it; its checksums, bindings and length verified first, without any key, and again
//          only once the file changes on disk: device, inode, size, mtime or ctime), 409 while
//          not done, 500 naming the job if its scores are missing or damaged on the server's disk
//          (or not a regular file)
//   DELETE /v1/jobs/ID                     -> 204 (409 while it runs)
//   Any other method on these paths        -> 405 with an Allow header naming the methods the path
//          takes (HEAD wherever GET is); a path not listed here is 404.
//   Every answer is whole: a Range header is ignored (one that does not parse is 416), and every
//   answer, to HEAD as to GET, says "Accept-Ranges: none".
//
// Status codes: 400 malformed request line or headers, malformed or damaged body (or a scores
// file), or a request framed two ways
// (two Content-Length headers, or one with Transfer-Encoding; two Host or Authorization headers
// too: refused before the body is read), 401 missing or unknown token (the
// answer says to register the keys), 404 unknown job and
// any job of another token (indistinguishable), 405 a method the path does not take, 408 stalled
// upload, request line or headers (--read-timeout; logged with the client's address; the request
// line and headers must all be in within --read-timeout of the connection's acceptance (over
// HTTPS, the TLS handshake and then they, of when an HTTP thread took it: the handshake cannot
// begin before), however fast their bytes come, and a connection that sends nothing is
// closed unanswered 5 s after it,
// its wait for an HTTP thread counted; at most 64 connections wait for a thread, and one accepted
// beyond them is answered 503 + Retry-After at once (over HTTPS after its TLS handshake, if done
// within 1 s), whatever it asks, unlogged), 410 the
// token's key set is one this server cannot use or has expired (see below; a bad
// key file on disk is never a 500; the answer names the key set by the id its registration
// answered, "key set 0x...", never by the server's directory, and says to register again), 411
// no Content-Length, 413 body over --max-body (or any body on a DELETE: refused unread), 415 a
// multipart/form-data upload (bodies are the files themselves, application/octet-stream), or one
// with a Content-Encoding other than identity (gzip too: refused before its body, which httplib
// decompressed and the server took for a stalled upload, 408), 422
// well-formed but not acceptable (secret key, other parameters or keys, a model the keys cannot
// carry, the other scheme, another model profile), 414 a request line over 8192 bytes and 431
// more than 100 header lines or one over 8192 bytes (their CRLF included; the request is read no
// further), 500 the server may not read its own files
// (EACCES, EPERM: its configuration) or another failure of its own; the answer says what failed in
// general terms and the cause ("Permission denied"), never a path of the server's (nor, under
// keysets/, the hash of a token): those are in the request's log line
// ("detail"), as they are in a job's ("job failed", "job retried"), 503 +
// Retry-After queue full, shutting down (an upload in progress at SIGTERM is dropped at its next
// piece and answered so), the token's key set cannot be loaded right now (see below; so too a
// key set being registered, which is not kept), or --max-key-set-loads registrations are loading
// their keys already, 507 an
// upload the server cannot store: its Content-Length with 1 MiB for its record beyond the space
// free on the state directory's file system (statvfs: for root the free blocks, else the
// available ones) less what the uploads in progress have reserved and not yet written (each
// reserves its Content-Length and 1 MiB when admitted, until it ends: accepted, refused or
// disconnected), answered before any of the body is read; or, the disk filling midway all the
// same (other writers, quotas and RLIMIT_FSIZE, which statvfs does not show),
// a failed write of its bytes, or its job record refused by a full disk (told by the errno, ENOSPC
// or EDQUOT; any other failure there is a 500). A refusal found midway through a body (507
// included) is answered once the rest has been read and dropped; one found before it is read (411,
// 413, 415, 405, 404, 507 for no room, a registration's 507 of --max-key-sets and 503 of
// --max-key-set-loads, the 400s of a /v1/keysets query) leaves it unread; an upload sent with
// "Expect: 100-continue" (curl's, over 1 MiB) that is refused from its headers (411, 413, 415, 401
// or 410 for a job's token, 507 for no room, a registration's 507 of --max-key-sets and 503 of
// --max-key-set-loads) is answered instead of the 100, so its client never sends the body. A client
// that sends its whole body before reading any answer, without that header (Python's http.client,
// curl -H 'Expect:'), gets such an early refusal too: after answering, the server reads and drops
// what is left of a body of up to 64 MiB (for 10 s at most, and at most --read-timeout) before it
// closes the connection, which closing with the body unread reset, the answer lost; a larger body
// may still lose it so. Each connection carries one request and closes after the answer
// (Connection: close): one log line per request.
//
// State directory: cryptonets-state (a marker: "cryptonets service state directory, format 1",
// written at first use; a --state-dir that exists and is neither empty, nor marked, nor holding
// only the keysets/, jobs/, tmp/ (and expired/) directories a server wrote before the marker, or
// a marked one where one of those is not a directory, is refused before anything in it is
// touched, its mode included),
// keysets/<sha256(token)>/{params,evaluation.key,public.key},
// jobs/<ID>/{job.json,input.ct,scores.ct}, expired/<sha256(token)> (a key set deleted by the
// retention; it holds the key set's id "0x...", or nothing if written before it did), tmp/ (uploads
// in progress, deletions under way; emptied at start). Any other entry (at the top, in keysets/,
// jobs/, expired/, or in a key set's or job's directory) is logged once at start-up (event
// "foreign entry", its path) and left as it is; the --port-file (ServerOptions::port_file), where
// it is in the state directory, is not foreign. In a job's directory, the named temporaries of its
// job.json and scores.ct that a crash can leave (exactly "job.json.tmp-<pid>-<n>", as
// AtomicFileWriter names them where O_TMPFILE is missing) are removed at start-up; any other name,
// one merely containing ".tmp-" included, is foreign. The directory itself is flock'd for the
// server's life: one server per state directory. A job directory appears by rename only once
// complete; job.json is replaced atomically. After a SIGKILL, every job whose job.json says
// "queued" (or "running") runs again; SIGTERM or SIGINT (stop(), which logs event "stopping" at
// once: finishing_job, the job left to finish, and jobs_kept_queued) refuses new work, drops the
// uploads in progress (503 at their next piece), lets the running job finish and leaves the
// queued ones on disk for the next start. A connection accepted and still waiting for an HTTP
// thread at stop() (all --http-threads busy) is answered 503 + Retry-After "the server is shutting
// down" at once, whatever it asks, and logged. A connection still open 2 s after stop() (a client
// stalled mid-headers or mid-body, or one that reads nothing of its answer, which held the
// shutdown for --read-timeout, 30 s) is shut down, unanswered (event "stalled connections closed"):
// a stalled upload is then dropped, its partial files removed (its log line says 503). A connection
// not yet accepted when the listener closes (in the kernel's backlog that instant) is reset by the
// kernel, unanswered and unlogged.
//   A key set's scheme is the one its three files record in their headers (io/protocol_files.hpp):
// it needs no record of its own, and key sets stored before the service ran BFV read unchanged. At
// start-up each stored key set's headers are read: one whose files are of an older format version
// (or damaged or missing) is logged ("unusable key set", naming the version) and left on disk, and
// its token is answered 410 with that reason; registration refuses such files (400) by the same
// reader. A file of a key set, a job record or a job's batch that is not a regular file (a FIFO,
// a link to one) is such a damaged file: refused by stat before any open, never waited on. A key
// set damaged or removed on disk since its registration is unusable too, found when a
// job needs it (the upload is then answered 410) or at start-up, where the key sets of queued jobs
// are loaded in full. An unusable key set is named by its key set id ("key set 0x...", else its
// directory) and what is wrong ("part 'evaluation': ... checksum mismatch"); its queued jobs fail
// without running, their "error" saying so; its token is answered 410 except for reading and
// deleting its own jobs (GET /v1/jobs/ID, .../result, DELETE), which it still may.
//   Only what the files hold (magic, version, checksum, fingerprint, a truncated file) or a file
// missing (ENOENT) makes a key set unusable. A load that fails because the server may not read its
// own files (std::system_error EACCES or EPERM) is a configuration error: the request is answered
// 500 (the path in the log), a job that needed it fails at once saying so, nothing is retried, and
// the key set stays. A load that fails for a passing reason of the server (std::system_error of any
// other errno, e.g. out of file handles EMFILE/ENFILE, EIO; or out of memory) leaves the key set as
// it is: the request that needed it is answered 503 +
// Retry-After: 5 ("cannot load the token's key set right now"; an upload whose header the server
// cannot read back for such a reason likewise, not 400), a queued job stays queued and is
// tried again after 1 s, 2 s, 4 s ... (at most 60 s; event "job deferred"), and at start-up the
// key set is kept unchecked (event "key set not checked" / "key set not loaded").
//   A job whose run fails for such a passing reason (its input cannot be read right now, memory),
// or whose scores cannot be stored (any failure to write scores.ct: no space left, EIO), is run
// again from its input on disk after 1 s, then 2 s: 3 runs in all (event "job retried"). Its
// input.ct is removed only once scores.ct is durable and job.json says "done". Its status gives
// "attempts" (runs started) and, while it waits, "last_error"; after the third failure it fails,
// its error saying "failed 3 attempts; the last: ...". A failed job's input.ct is removed before
// its record is written (freeing space on a full disk); a job found at start-up queued or running
// without input.ct failed before and could not record it: it fails then, not run again. Each run is
// counted in job.json (state "running", "attempts") before it starts: a job found at start-up with
// 3 runs started and none ended (the server killed or crashed under it) fails then ("the server
// stopped while it ran"), instead of running at every restart. A failed or waiting job has no
// scores.ct (it is written atomically, and removed after a failed run). One worker runs the jobs,
// and a job goes back into the queue only once its run has ended: no job runs twice at once.
//   Retention (ServerOptions::key_set_retention_s, --key-set-retention-days, default 90 days, 0:
// forever; --key-set-retention-seconds, for tests only, gives it in seconds): a key set whose last
// use (registration, accepted upload, end of a job) is older is deleted with its finished jobs, at
// start-up and by the janitor (every min(retention, result TTL) / 2, 1 s to 60 s); one with a job
// queued or running, or an upload in progress, is not. The last use is the mtime of keysets/<hash>/
// (set and fsync'd at each use), or the newest "created" or "finished" of its job records if later.
// Deletion writes expired/<hash> (fsync'd) first, then moves the key set and each job into tmp/ by
// one rename each and removes them; a restart that finds expired/<hash> beside what is left
// finishes the deletion, so a crash never leaves a key set half deleted and still in use. Its token
// is answered 410 ("the token's key set expired ... register the keys again") for a year (the
// tombstone's mtime), then 401 as unknown.
//   job.json (format 2): {"format": 2, "job": ID, "scheme": "yashe"|"bfv", "state": ...,
// "images", "batches", "created" (Unix seconds), "finished" (when ended), "error" (when failed),
// "attempts" (runs started: written before each run and at the end), "key_set": sha256(token)
// hex, "key_set_id": "0x..." (its id, so that a key set removed from disk is still named as its
// client knows it; absent in records written before it was, which read unchanged)}. A record
// without "format" is of format 1 (no "scheme"), written when the service ran YASHE' only: it
// loads as a YASHE' job. A record of a later format, or one that does not parse, is logged
// ("unreadable job record") and left on disk untouched, not run and not deleted. A job whose
// record names another scheme than its key set's fails with a message naming both; nothing is
// guessed.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

namespace cryptonets::service {

// A refusal of ServerOptions decided from the options alone, before anything is bound or served
// (a --port-file that is one of the state directory's own entries, say): serve reports it as a
// usage error (exit 2), as it does its own checks of the same paths.
class OptionError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// Whether `port_file` names an entry directly in `state_dir` and `state_dir` does not exist yet
// (nothing at that path, not even a dangling link), both taken as absolute, weakly canonical
// paths: the server then creates the state directory first and resolves the port file in it
// afterwards (ServerOptions::port_file), so its directory need not exist at start-up.
bool port_file_in_new_state_directory(const std::string& port_file, const std::string& state_dir);

// ServerOptions::port_file as the server resolved it, and as write_port_file writes it: the
// entry `name` of the directory open as `directory` (O_PATH; valid during the call it is given
// to only), not a symbolic link (the chain was followed), which may not exist yet; `path`, that
// entry by the directory's real path (/proc/self/fd), for messages and comparisons.
struct PortFileTarget {
  int directory = -1;
  std::string name;
  std::string path;
};

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port (see Server::port())
  std::string model_path;
  std::string state_dir;
  int threads = 1;        // inference threads (OpenMP)
  int http_threads = 8;   // connections served at once
  size_t max_queue = 16;  // jobs accepted and not finished (including uploads in progress)
  // Key sets held at once, registrations in progress included; one more is refused with 507
  // until the retention deletes one (registration needs no token: without a bound, anyone who
  // can reach the server could fill its disk with key sets; a trial).
  size_t max_key_sets = 64;
  // Registrations building their keys' tables at once (serve --max-key-set-loads): one parameter
  // set within the limits of rlwe/parameters.hpp can take about 1.5 GB of tables, and each
  // registration builds its own, so concurrent ones add up. One more is refused with 503 +
  // Retry-After (see POST /v1/keysets above). Besides these, the jobs' key sets are loaded one at
  // a time (the uploads and the worker share one loader).
  size_t max_key_set_loads = 2;
  // For tests only (serve --key-set-load-hold FILE): while this file exists, a registration that
  // has loaded its keys waits (at most 60 s, and not past stop()) before it frees its load, logging
  // event "key set load held" once, so that a test can fill --max-key-set-loads at will.
  std::string key_set_load_hold;
  uint64_t max_body = uint64_t{4} << 30;  // bytes, any request
  // A stalled upload (or request) is dropped after this, and a request whose line and headers are
  // not all in this long after its connection was accepted; after stop(), a stalled connection is
  // closed after 2 s at most (the shutdown's grace), whatever this is.
  int read_timeout_s = 30;
  int upload_timeout_s = 3600;       // and any upload that takes longer in all
  int64_t result_ttl_s = 7 * 86400;  // finished jobs are deleted after this
  // The bytes a second an upload must average once read_timeout_s have passed since its body
  // began, else 408 (0: no minimum): each read waits read_timeout_s at most, but a client that
  // sent a byte just within it held an HTTP thread for upload_timeout_s, and a few such clients
  // held them all.
  uint64_t min_upload_rate = 65536;
  // A key set not used (no upload, no job) for this long is deleted with its finished jobs;
  // 0: kept forever (--key-set-retention-days).
  int64_t key_set_retention_s = int64_t{90} * 86400;
  std::string tls_cert;  // both set: HTTPS
  std::string tls_key;
  // The file Server::write_port_file writes the port into (serve --port-file), if any: when it
  // lies in the state directory it is the server's own entry there, never logged as foreign. The
  // constructor follows its chain of symbolic links once (a dangling last one too: the port is
  // written through them) and keeps the directory where it ends open, with the final name: the
  // write goes there, whatever is done to the links meanwhile (it followed them again, and a link
  // changed during the start-up redirected it). It refuses one that is an entry the server keeps
  // there (its marker, keysets/, jobs/, tmp/, expired/) or inside one of those directories, by its
  // own path and by where its chain ends, and one that ends at anything but a regular file or a
  // new name: written over the marker, it made the next start refuse the state directory. Both
  // the link and its file, where they lie in the state directory, are the server's own. One
  // directly in a state directory that does not exist yet (port_file_in_new_state_directory) is
  // resolved once the constructor has created it (its name is checked before). The file has mode
  // 0600 where it ends in the state directory, as every file there, else 0644 (less the umask).
  std::string port_file;
  // The caller's own checks of the port file (serve: not a key file, not its model or TLS files),
  // run by the constructor on the file as it resolved it (PortFileTarget), right after resolving
  // it and before anything is bound or touched: they check the file the port will be written
  // to, not the path once more (a link changed between a check by path and the resolution
  // escaped them). What it throws, the constructor throws. Not called without a port_file.
  std::function<void(const PortFileTarget&)> check_port_file;
  // One line per request (JSON), and service events; default: stderr.
  std::function<void(const std::string&)> log;
};

class Server {
 public:
  // Checks ServerOptions::port_file (above), loads the model, binds the port (never one another
  // server holds: no SO_REUSEPORT), then creates or recovers the state directory (requeues every
  // accepted job, removes uploads that were never accepted): a port that cannot be bound leaves
  // no state directory behind. Before the state directory's foreign entries are logged, it
  // removes from the port file's directory the temporaries of write_port_file
  // ("<name>.tmp-<pid>-<n>", regular files) whose process is gone (or is this one). Throws
  // OptionError for a port_file refused (above) or one that cannot be resolved, before anything is
  // bound or created; std::runtime_error naming what failed otherwise, and before anything in the
  // state directory is touched if another server holds its lock.
  explicit Server(ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int port() const;
  // Writes port() and a newline into ServerOptions::port_file (nothing if none), once, in the
  // directory the constructor resolved: an unnamed file (O_TMPFILE), fsync'd, then linked in
  // under the final name (linkat) where that name is free, else linked as "<name>.tmp-<pid>-<n>"
  // and renamed over it (renameat); where O_TMPFILE is unavailable, that temporary is created by
  // name (O_EXCL, O_NOFOLLOW) and written. The directory is fsync'd. A crash can leave only such
  // a temporary, which the next start-up removes. Throws std::system_error (errno) naming the
  // file and the step that failed; the temporary is removed then.
  void write_port_file();
  // Serves until stop(); then waits for the running job to finish (uploads in progress are
  // dropped, answered 503, as their next piece arrives). Returns when all is stopped.
  void run();
  // Thread-safe and async-signal-unsafe: call from a signal-waiting thread. Takes effect even
  // when called before run() has begun to listen (run() then returns as soon as it does).
  void stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cryptonets::service
