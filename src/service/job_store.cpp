// The server's job store on disk: recovery at start-up, the key set cache, job records,
// deletion, and the retention of key sets and results (server.hpp, "State directory").
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <future>

#include "cryptonets/io/serialize.hpp"
#include "cryptonets/service/durable.hpp"
#include "server_impl.hpp"

namespace cryptonets::service {

// ---- Recovery: what the state directory holds after any stop, SIGKILL included.

void Server::Impl::recover() {
  // Uploads never answered "accepted": their files go.
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(tmp_dir_))
    fs::remove_all(entry.path(), error);
  sync_directory(tmp_dir_);
  // Key sets deleted by the retention: their tokens are told so. One whose deletion a crash
  // interrupted (the tombstone is written first) is finished here, its jobs below.
  for (const auto& entry : fs::directory_iterator(expired_dir_)) {
    const std::string name = entry.path().filename().string();
    struct stat info {};
    if (is_hex_name(name, 64) && ::stat(entry.path().c_str(), &info) == 0) {
      expired_key_sets_[name] = info.st_mtime;
      if (!S_ISREG(info.st_mode)) continue;  // a FIFO would block the open: no id, then
      std::ifstream in(entry.path());  // its key set id; empty if written before it was recorded
      std::string text;
      if (in && std::getline(in, text)) {
        if (const auto id = parse_key_set_id(text)) key_set_ids_[name] = *id;
      }
    }
  }
  std::map<std::string, std::string> unusable;  // key set -> what is wrong with it
  for (const auto& entry : fs::directory_iterator(keysets_dir_)) {
    const std::string name = entry.path().filename().string();
    if (!is_hex_name(name, 64) || !entry.is_directory()) continue;
    if (expired_key_sets_.count(name) != 0) {
      discard(entry.path().string(), keysets_dir_, "expired-" + name);
      continue;
    }
    try {
      key_set_ids_[name] = check_stored_key_set(KeyDirectory(entry.path().string()));
    } catch (const std::exception& e) {
      if (classify_failure(e) != ReadFailure::kFiles) {
        // Not read, not judged: loaded when a job needs it.
        log({{"time", utc_timestamp()},
             {"event", "key set not checked"},
             {"key_set", name},
             {"error", key_set_problem(entry.path().string(), e.what())}});
      } else {
        // Left on disk for the build that wrote it, like a job record of another format.
        unusable[name] = key_set_problem(entry.path().string(), e.what());
        continue;
      }
    }
    key_sets_.insert(name);
    struct stat info {};
    last_use_[name] = ::stat(entry.path().c_str(), &info) == 0 ? info.st_mtime : unix_now();
  }
  std::vector<Job> queued;
  size_t done = 0;
  size_t interrupted = 0;  // failed here: kJobAttempts runs, the last one never ended
  for (const auto& entry : fs::directory_iterator(jobs_dir_)) {
    const std::string id = entry.path().filename().string();
    if (!is_hex_name(id, 32) || !entry.is_directory()) continue;
    // Only the temporaries of the files the server writes there (AtomicFileWriter): any other
    // name is left, and logged as foreign below.
    remove_stale_temporaries(entry.path().string(), {"job.json", "scores.ct"});
    Job job;
    try {
      require_regular_file((entry.path() / "job.json").string(), "the job's record");
      std::ifstream in(entry.path() / "job.json");
      const json j = json::parse(in);
      const int format = j.value("format", 1);
      if (format < 1 || format > kJobRecordFormat) {
        throw std::runtime_error("job record format " + std::to_string(format) +
                                 " is not one this build reads (1 to " +
                                 std::to_string(kJobRecordFormat) +
                                 "); the job is left on disk for the build that wrote it");
      }
      job.id = id;
      job.key_set = j.at("key_set").get<std::string>();
      // Format 1 (no "scheme"): the service ran YASHE' key sets only.
      job.scheme = format == 1 ? SchemeId::kYashe : parse_scheme(j.at("scheme").get<std::string>());
      job.state = j.at("state").get<std::string>();
      job.images = j.at("images").get<uint64_t>();
      job.batches = j.at("batches").get<uint64_t>();
      job.created = j.at("created").get<int64_t>();
      job.finished = j.value("finished", int64_t{0});
      job.error = j.value("error", std::string());
      job.attempts = j.value("attempts", 0);
      if (const auto recorded = parse_key_set_id(j.value("key_set_id", std::string()))) {
        job.key_set_id = *recorded;
      }
    } catch (const std::exception& e) {
      log({{"time", utc_timestamp()},
           {"event", "unreadable job record"},
           {"job", id},
           {"error", e.what()}});
      continue;
    }
    if (job.key_set_id != 0) key_set_ids_.emplace(job.key_set, job.key_set_id);
    if (expired_key_sets_.count(job.key_set) != 0) {
      remove_job_directory(id);
      continue;
    }
    if (auto it = last_use_.find(job.key_set); it != last_use_.end()) {
      it->second = std::max({it->second, job.created, job.finished});
    }
    // Failed now, not run (again): recorded, with its input removed (store_outcome), and logged.
    const auto fail_unrun = [&](std::string reason) {
      job.state = "failed";
      job.error = std::move(reason);
      job.finished = unix_now();
      store_outcome(job);
      log({{"time", utc_timestamp()},
           {"event", "job failed"},
           {"job", id},
           {"images", job.images},
           {"attempts", job.attempts},
           {"error", job.error}});
      ++interrupted;
    };
    if ((job.state == "queued" || job.state == "running") && job.attempts >= kJobAttempts) {
      // Its last run started (and was recorded, run_job) but never ended: the server stopped
      // under it (SIGKILL, a crash, perhaps by this job) at each of its last runs, or after
      // runs that failed. Not run again: a job that crashes the server would do so forever.
      fail_unrun("failed " + std::to_string(job.attempts) +
                 " attempts; the last: the server stopped while it ran (killed or crashed); not "
                 "run again");
    } else if ((job.state == "queued" || job.state == "running") &&
               !fs::exists(entry.path() / "input.ct")) {
      // Its input is removed only when it has ended (store_outcome): it failed, and its record
      // could not say so then (no space left).
      fail_unrun(job.error.empty() ? "the job failed and its batch was removed; not run again"
                                   : job.error);
    } else if (job.state == "queued" || job.state == "running") {
      job.state = "queued";
      queued.push_back(job);
    } else {
      if (job.state == "done") job.batches_done = job.batches;
      ++done;
    }
    jobs_[id] = job;
  }
  std::sort(queued.begin(), queued.end(),
            [](const Job& a, const Job& b) { return a.created < b.created; });
  for (const Job& job : queued)
    queue_.push_back(job.id);
  pending_ = queue_.size();
  // Every key set a job names must still be stored; the key sets of queued jobs are loaded in
  // full (checksums and all, as the job will) so that a damaged one fails its jobs now, with the
  // reason, instead of running them.
  for (const auto& [id, job] : jobs_) {
    const std::string directory = keysets_dir_ + "/" + job.key_set;
    if (key_sets_.count(job.key_set) == 0 && unusable.count(job.key_set) == 0) {
      unusable[job.key_set] = key_set_problem(directory, "not found");
    }
  }
  for (const Job& job : queued) {
    if (key_sets_.count(job.key_set) == 0 || unusable.count(job.key_set) != 0) continue;
    try {
      key_set(job.key_set);  // cached for the job
    } catch (const std::exception& e) {
      const std::string problem = key_set_problem(keysets_dir_ + "/" + job.key_set, e.what());
      // The job stays queued: the worker tries again (kPassing) or fails it (kConfiguration).
      if (classify_failure(e) != ReadFailure::kFiles) {
        log({{"time", utc_timestamp()},
             {"event", "key set not loaded"},
             {"key_set", job.key_set},
             {"error", problem}});
      } else {
        unusable[job.key_set] = problem;
      }
    }
  }
  for (const auto& [hash, problem] : unusable)
    retire_key_set(hash, problem);
  log_foreign_entries();  // after the job directories' stale temporaries went
  log({{"time", utc_timestamp()},
       {"event", "recovered"},
       {"key_sets", key_sets_.size()},
       {"key_sets_unusable", unusable_key_sets_.size()},
       {"key_sets_expired", expired_key_sets_.size()},
       {"jobs_requeued", queue_.size()},
       {"jobs_failed_unusable_key_set", queued.size() - queue_.size()},
       {"jobs_failed_interrupted", interrupted},
       {"jobs_finished", done}});
  expire_key_sets();
}

void Server::Impl::log_foreign_entries() {
  // The entry the port file is (serve --port-file in the state directory), by its directory's
  // real path: "STATE/port" and "./STATE/../STATE/port" are one entry.
  const auto real_directory = [](const std::string& directory) {
    std::error_code error;
    const fs::path real = fs::weakly_canonical(directory, error);
    return error ? fs::path(directory).lexically_normal() : real;
  };
  // Both the path given and, where that is a symbolic link, the file the port is written to, as
  // resolve_port_file found them: "STATE/port" -> "port.txt" makes both the server's own.
  const std::vector<fs::path>& port_files = port_file_entries_;
  // The entries of `directory` (`relative` in the state directory: "" or "keysets/", ...) that
  // `ours` (name, whether a directory) does not know are logged, with `why`; returns the names
  // of the directories among those it knows.
  const auto scan = [&](const std::string& directory, const std::string& relative, const auto& ours,
                        const char* why) {
    std::vector<std::string> known;
    const fs::path real = port_files.empty() ? fs::path() : real_directory(directory);
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(directory, error)) {
      const std::string name = entry.path().filename().string();
      if (std::find(port_files.begin(), port_files.end(), real / name) != port_files.end()) {
        continue;  // the server's own
      }
      std::error_code type_error;
      const bool is_directory = entry.is_directory(type_error);  // as recover() reads them
      if (!ours(name, is_directory)) {
        log({{"time", utc_timestamp()},
             {"event", "foreign entry"},
             {"path", relative + name},
             {"error", std::string(why) + "; left as it is"}});
      } else if (is_directory) {
        known.push_back(name);
      }
    }
    return known;
  };
  const auto one_of = [](const std::string& name, std::initializer_list<const char*> names) {
    return std::any_of(names.begin(), names.end(), [&](const char* n) { return name == n; });
  };
  scan(
      options_.state_dir, "",
      [&](const std::string& name, bool) {
        // "lock": the lock file of servers from before the directory itself was locked.
        return one_of(name, {kStateMarkerName, "lock", "keysets", "jobs", "tmp", "expired"});
      },
      "not a file or directory of a cryptonets state directory");
  const auto key_sets = scan(
      keysets_dir_, "keysets/",
      [](const std::string& name, bool is_directory) {
        return is_directory && is_hex_name(name, 64);
      },
      "not a key set (a directory named by 64 hex digits)");
  for (const std::string& name : key_sets) {
    scan(
        keysets_dir_ + "/" + name, "keysets/" + name + "/",
        [&](const std::string& file, bool is_directory) {
          return !is_directory && one_of(file, {"params", "evaluation.key", "public.key"});
        },
        "not a file of a key set (params, evaluation.key, public.key)");
  }
  const auto jobs = scan(
      jobs_dir_, "jobs/",
      [](const std::string& name, bool is_directory) {
        return is_directory && is_hex_name(name, 32);
      },
      "not a job (a directory named by 32 hex digits)");
  for (const std::string& name : jobs) {
    scan(
        jobs_dir_ + "/" + name, "jobs/" + name + "/",
        [&](const std::string& file, bool is_directory) {
          return !is_directory && one_of(file, {"job.json", "input.ct", "scores.ct"});
        },
        "not a file of a job (job.json, input.ct, scores.ct)");
  }
  scan(
      expired_dir_, "expired/",
      [](const std::string& name, bool) {
        // A tombstone, or the temporary of one that a crash left (AtomicFileWriter's name).
        return is_hex_name(name, 64) || (name.size() > 64 && is_hex_name(name.substr(0, 64), 64) &&
                                         is_writer_temporary(name, name.substr(0, 64)));
      },
      "not a tombstone of an expired key set (a file named by 64 hex digits)");
}

std::shared_ptr<const KeySet> Server::Impl::key_set(const std::string& hash) {
  std::promise<std::shared_ptr<const KeySet>> promise;
  std::shared_future<std::shared_ptr<const KeySet>> pending;
  {
    std::lock_guard lock(cache_mutex_);
    for (auto it = cache_.begin(); it != cache_.end(); ++it) {
      if (it->first == hash) {
        cache_.splice(cache_.begin(), cache_, it);
        return cache_.front().second;
      }
    }
    // Being loaded by another request: its result (or its exception), without a second load.
    if (const auto loading = cache_loading_.find(hash); loading != cache_loading_.end()) {
      pending = loading->second;
    } else {
      cache_loading_.emplace(hash, promise.get_future().share());
    }
  }
  if (pending.valid()) return pending.get();
  std::shared_ptr<const KeySet> keys;
  try {
    keys = load_key_set(KeyDirectory(keysets_dir_ + "/" + hash));
  } catch (...) {
    {
      std::lock_guard lock(cache_mutex_);
      cache_loading_.erase(hash);
    }
    promise.set_exception(std::current_exception());
    throw;
  }
  {
    std::lock_guard lock(cache_mutex_);
    cache_.emplace_front(hash, keys);
    while (cache_.size() > 4)
      cache_.pop_back();
    cache_loading_.erase(hash);
  }
  promise.set_value(keys);
  return keys;
}

void Server::Impl::write_job(const Job& job, const std::string& directory) {
  json record = job.to_json();
  record["format"] = kJobRecordFormat;
  record["key_set"] = job.key_set;
  if (job.key_set_id != 0) record["key_set_id"] = key_set_id_text(job.key_set_id);
  record.erase("batches_done");
  record.erase("last_error");
  // An error may quote a server path that is not UTF-8: replaced, never a throw here.
  write_file_durably(directory + "/job.json",
                     record.dump(2, ' ', false, json::error_handler_t::replace) + "\n");
}

void Server::Impl::remove_job_directory(const std::string& id) {
  scores_check_.forget(id);
  discard(jobs_dir_ + "/" + id, jobs_dir_, "deleted-" + id);
}

void Server::Impl::discard(const std::string& path, const std::string& parent,
                           const std::string& trash_name) {
  const std::string trash = tmp_dir_ + "/" + trash_name;
  if (::rename(path.c_str(), trash.c_str()) == 0) {
    sync_directory(parent);
    std::error_code error;
    fs::remove_all(trash, error);
  }
}

std::string Server::Impl::retire_key_set(const std::string& hash, const std::string& problem) {
  const std::string description = key_set_name(hash) + " (" + problem + ")";
  const std::string error = unrun_job_error(description);
  std::vector<Job> failed;
  {
    std::lock_guard lock(mutex_);
    key_sets_.erase(hash);
    unusable_key_sets_[hash] = description;
    for (auto it = queue_.begin(); it != queue_.end();) {
      Job& job = jobs_[*it];
      if (job.key_set != hash) {
        ++it;
        continue;
      }
      job.state = "failed";
      job.error = error;
      job.finished = unix_now();
      failed.push_back(job);
      ready_.erase(*it);
      --pending_;
      it = queue_.erase(it);
    }
  }
  {
    std::lock_guard lock(cache_mutex_);
    cache_.remove_if([&](const auto& entry) { return entry.first == hash; });
  }
  // The key set's files stay on disk as they are (for the operator, or the build that wrote them).
  log({{"time", utc_timestamp()},
       {"event", "unusable key set"},
       {"key_set", hash},
       {"error", problem},
       {"jobs_failed", failed.size()}});
  for (const Job& job : failed) {
    store_outcome(job);
    log({{"time", utc_timestamp()},
         {"event", "job failed"},
         {"job", job.id},
         {"images", job.images},
         {"error", job.error}});
  }
  wake_.notify_all();  // long polls of the failed jobs
  return description;
}

std::string Server::Impl::key_set_name(const std::string& hash) {
  {
    std::lock_guard lock(mutex_);
    if (auto it = key_set_ids_.find(hash); it != key_set_ids_.end()) {
      return "key set " + key_set_id_text(it->second);
    }
  }
  // Never the directory's name (the hash of the token): the client does not know it.
  if (!is_hex_name(hash, 64)) return "key set";  // a hand-edited job record
  const std::optional<uint64_t> id = stored_key_set_id(keysets_dir_ + "/" + hash);
  if (!id) return "key set";
  std::lock_guard lock(mutex_);
  key_set_ids_[hash] = *id;
  return "key set " + key_set_id_text(*id);
}

void Server::Impl::note_use(const std::string& hash) {
  {
    std::lock_guard lock(mutex_);
    if (key_sets_.count(hash) == 0) return;
    last_use_[hash] = unix_now();
  }
  // The directory's mtime is the last use a restart reads; fsync'd so that a crash cannot make
  // the key set look older than it is (and expire it early).
  const std::string directory = keysets_dir_ + "/" + hash;
  if (::utimensat(AT_FDCWD, directory.c_str(), nullptr, 0) == 0) {
    const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
      (void)::fsync(fd);
      ::close(fd);
    }
  }
}

void Server::Impl::expire_key_sets() {
  const int64_t now = unix_now();
  const int64_t retention = options_.key_set_retention_s;
  std::map<std::string, std::vector<std::string>> expiring;  // key set -> its (finished) jobs
  std::vector<std::string> forgotten;
  {
    std::lock_guard lock(mutex_);
    if (retention > 0) {
      std::set<std::string> busy;  // never expired: an upload or a job not finished
      for (const auto& upload : uploads_)
        busy.insert(upload.first);
      for (const auto& [id, job] : jobs_) {
        if (job.state == "queued" || job.state == "running") busy.insert(job.key_set);
      }
      for (const std::string& hash : key_sets_) {
        const auto used = last_use_.find(hash);
        if (busy.count(hash) == 0 && used != last_use_.end() && used->second + retention <= now) {
          expiring[hash];
        }
      }
      for (auto& [hash, jobs] : expiring) {
        key_sets_.erase(hash);
        last_use_.erase(hash);
        expired_key_sets_[hash] = now;
        for (auto it = jobs_.begin(); it != jobs_.end();) {
          if (it->second.key_set != hash) {
            ++it;
            continue;
          }
          jobs.push_back(it->first);
          it = jobs_.erase(it);
        }
      }
    }
    for (auto it = expired_key_sets_.begin(); it != expired_key_sets_.end();) {
      if (it->second + kExpiredKeySetMemorySeconds > now) {
        ++it;
        continue;
      }
      forgotten.push_back(it->first);
      it = expired_key_sets_.erase(it);
    }
  }
  if (!expiring.empty()) {
    std::lock_guard lock(cache_mutex_);
    cache_.remove_if([&](const auto& entry) { return expiring.count(entry.first) != 0; });
  }
  for (const auto& [hash, jobs] : expiring) {
    try {
      // The tombstone first: from then on a restart answers the token "expired" and finishes the
      // deletion (recover), wherever a crash stopped this one. The key set and each job then go
      // in one rename each: nothing is ever left half there.
      const std::string tombstone = expired_dir_ + "/" + hash;
      // It holds the key set's id, so that the 410 of its token can name it after a restart.
      std::string id_text;
      {
        std::lock_guard lock(mutex_);
        if (auto it = key_set_ids_.find(hash); it != key_set_ids_.end()) {
          id_text = key_set_id_text(it->second) + "\n";
        }
      }
      write_file_durably(tombstone, id_text);
      sync_directory(expired_dir_);
      discard(keysets_dir_ + "/" + hash, keysets_dir_, "expired-" + hash);
      for (const std::string& id : jobs)
        remove_job_directory(id);
      log({{"time", utc_timestamp()},
           {"event", "key set expired"},
           {"key_set", hash},
           {"jobs_deleted", jobs.size()}});
    } catch (const std::exception& e) {
      // On disk as it was: back at the next start, and expired again then.
      log({{"time", utc_timestamp()},
           {"event", "cannot expire key set"},
           {"key_set", hash},
           {"error", e.what()}});
    }
  }
  for (const std::string& hash : forgotten)
    ::unlink((expired_dir_ + "/" + hash).c_str());
  if (!forgotten.empty()) {
    std::lock_guard lock(mutex_);
    for (const std::string& hash : forgotten)
      key_set_ids_.erase(hash);
  }
}

void Server::Impl::janitor() {
  int64_t shortest = options_.result_ttl_s;
  if (options_.key_set_retention_s > 0) shortest = std::min(shortest, options_.key_set_retention_s);
  const auto period = std::chrono::seconds(std::clamp<int64_t>(shortest / 2, 1, 60));
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, period);
    if (stopping_) return;
    const int64_t now = unix_now();
    std::vector<std::string> expired;
    for (const auto& [id, job] : jobs_) {
      if ((job.state == "done" || job.state == "failed") &&
          job.finished + options_.result_ttl_s <= now) {
        expired.push_back(id);
      }
    }
    for (const std::string& id : expired)
      jobs_.erase(id);
    lock.unlock();
    for (const std::string& id : expired) {
      remove_job_directory(id);
      log({{"time", utc_timestamp()}, {"event", "job expired"}, {"job", id}});
    }
    expire_key_sets();
    lock.lock();
  }
}

}  // namespace cryptonets::service
