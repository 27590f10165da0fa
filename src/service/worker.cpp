// The server's worker: runs the queued jobs one at a time, retries those that fail for a passing
// reason, and records their outcome.
#include <malloc.h>
#include <omp.h>

#include <algorithm>
#include <cmath>

#include "cryptonets/service/durable.hpp"
#include "server_impl.hpp"

namespace cryptonets::service {

// ---- The worker: one job at a time, all inference threads on it. There is one worker, and a job
// is back in the queue (requeue_job) only once its run has ended: no job ever runs twice at once.

void Server::Impl::worker() {
  // OpenMP's thread count is per thread: the library's inner loops on this one use --threads.
  omp_set_num_threads(std::max(1, options_.threads));
  for (;;) {
    std::string id;
    {
      std::unique_lock lock(mutex_);
      for (;;) {
        if (stopping_) return;  // queued jobs stay on disk for the next start
        // The first queued job not waiting to be tried again (defer_job), else wait for it.
        const auto now = Clock::now();
        auto next = Clock::time_point::max();
        auto ready = std::find_if(queue_.begin(), queue_.end(), [&](const std::string& queued) {
          const Clock::time_point at = jobs_[queued].not_before;
          next = std::min(next, at);
          return at <= now;
        });
        if (ready != queue_.end()) {
          id = *ready;
          queue_.erase(ready);
          break;
        }
        if (queue_.empty()) {
          wake_.wait(lock);
        } else {
          wake_.wait_until(lock, next);
        }
      }
      jobs_[id].state = "running";
    }
    run_job(id);
  }
}

void Server::Impl::run_job(const std::string& id) {
  const auto start = Clock::now();
  Job job;
  {
    std::lock_guard lock(mutex_);
    job = jobs_[id];
  }
  const std::string directory = jobs_dir_ + "/" + id;
  const std::string input = directory + "/input.ct";
  const std::string scores = directory + "/scores.ct";
  std::string error;
  std::string detail;  // for the log only: the failure with the server's paths
  std::optional<EncryptedBatch> ready;
  {
    std::lock_guard lock(mutex_);
    if (auto it = ready_.find(id); it != ready_.end()) {
      ready.emplace(std::move(it->second));
      ready_.erase(it);
    }
  }
  std::shared_ptr<const KeySet> keys;
  try {
    keys = key_set(job.key_set);
  } catch (const std::exception& e) {
    const ReadFailure failure = classify_failure(e);
    const std::string problem = key_set_problem(keysets_dir_ + "/" + job.key_set, e.what());
    if (failure == ReadFailure::kPassing) {  // out of file handles or memory: tried again
      defer_job(id, std::move(ready), problem);
      return;
    }
    if (failure == ReadFailure::kConfiguration) {  // this job fails; the key set stays
      error = "not run: " + configuration_answer(failure_cause(e));
      detail = e.what();
    } else {
      // Damaged or removed since the job was accepted: this job and the key set's queued ones
      // fail with the reason.
      error = unrun_job_error(retire_key_set(job.key_set, problem));
    }
  }
  ReadFailure failure = ReadFailure::kFiles;
  if (keys) {
    {
      std::lock_guard lock(mutex_);
      job.attempts = ++jobs_[id].attempts;
    }
    try {
      // The run counted on disk before it starts: a job that kills the server (or is running
      // at each SIGKILL) is not run forever; recover() fails it after kJobAttempts runs.
      storing([&] {
        Job record = job;
        record.state = "running";
        write_job(record, directory);
      });
      if (keys->scheme() != job.scheme) {  // a hand-edited or foreign record: refused, not guessed
        throw std::runtime_error("the job record says " + scheme_name(job.scheme) +
                                 ", but its key set is " + scheme_name(keys->scheme()));
      }
      keys->infer_file(input, scores, compiled_, profile_fingerprint_, options_.threads,
                       std::move(ready), [&](uint64_t b) {
                         std::lock_guard lock(mutex_);
                         jobs_[id].batches_done = b + 1;
                       });
    } catch (const std::exception& e) {
      failure = classify_failure(e);
      detail = e.what();
      // The client knows its upload as the job's batch and the output as its scores; no path of
      // the server's is answered (a configuration error's path is in the log, for the operator).
      error = failure == ReadFailure::kConfiguration
                  ? configuration_answer(failure_cause(e))
                  : client_message(client_message(batch_message(e.what(), input, "the job's batch",
                                                                "the job's batch"),
                                                  scores, "the job's scores"),
                                   directory + "/job.json", "the job's record");
      if (error.find(options_.state_dir) != std::string::npos) {
        error = "the run failed (" + failure_cause(e) + ")";  // a path not known above
      }
    }
  }
  if (!error.empty()) {
    // The scores file is written atomically (AtomicFileWriter), so none should be there; removed
    // all the same: a failed or retried job has no scores.
    std::error_code ignored;
    fs::remove(scores, ignored);
  }
  if (!error.empty() && keys && failure == ReadFailure::kPassing && job.attempts < kJobAttempts) {
    // Out of file handles or memory, a failed read while it ran, the scores not stored (no space
    // left): tried again from its input on disk, which stays until scores are durable, after a
    // short wait, kJobAttempts runs in all.
    const auto wait = kJobRetryWait * (1 << (job.attempts - 1));
    {
      std::lock_guard lock(mutex_);
      Job& queued = jobs_[id];  // still there: a running job is not deleted
      queued.batches_done = 0;
      queued.last_error = error;
    }
    requeue_job(id, std::nullopt, wait);
    nlohmann::ordered_json line{
        {"time", utc_timestamp()}, {"event", "job retried"}, {"job", id},
        {"attempt", job.attempts}, {"of", kJobAttempts},     {"error", error}};
    if (!detail.empty() && detail != error) line["detail"] = detail;
    line["retry_in_s"] = std::chrono::duration<double>(wait).count();
    log(line);
    return;
  }
  if (!error.empty() && failure == ReadFailure::kPassing && keys) {
    error = "failed " + std::to_string(job.attempts) + " attempts; the last: " + error;
  }
  job.state = error.empty() ? "done" : "failed";
  job.error = error;
  job.last_error.clear();
  job.finished = unix_now();
  job.batches_done = error.empty() ? job.batches : 0;
  store_outcome(job);
  if (keys) note_use(job.key_set);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  {
    std::lock_guard lock(mutex_);
    auto it = jobs_.find(id);
    if (it != jobs_.end()) it->second = job;
    --pending_;
    last_job_seconds_ = seconds;
  }
  nlohmann::ordered_json line{{"time", utc_timestamp()},
                              {"event", "job " + job.state},
                              {"job", id},
                              {"images", job.images},
                              {"seconds", std::round(seconds * 100) / 100}};
  if (job.attempts > 1) line["attempts"] = job.attempts;
  if (!error.empty()) line["error"] = error;
  if (!detail.empty() && detail != error) line["detail"] = detail;
  log(line);
  wake_.notify_all();  // long polls of this job
  ::malloc_trim(0);    // the batch's memory back to the system while the server waits
}

void Server::Impl::store_outcome(const Job& job) {
  const std::string directory = jobs_dir_ + "/" + job.id;
  try {
    std::error_code ignored;
    // A failed job's input goes first: it frees the space its record needs (a full disk is a
    // reason jobs fail), and a job without input is never run again, even if its record cannot
    // be written (recover() fails it): failed in memory is then failed on disk too.
    if (job.state == "failed") {
      fs::remove(directory + "/input.ct", ignored);
      sync_directory(directory);
    }
    write_job(job, directory);
    fs::remove(directory + "/input.ct", ignored);
    sync_directory(directory);
  } catch (const std::exception& e) {
    log({{"time", utc_timestamp()},
         {"event", "cannot record job"},
         {"job", job.id},
         {"error", e.what()}});
  }
}

void Server::Impl::requeue_job(const std::string& id, std::optional<EncryptedBatch> ready,
                               Clock::duration wait) {
  {
    std::lock_guard lock(mutex_);
    Job& job = jobs_[id];  // still there: a running job is not deleted
    job.state = "queued";
    job.not_before = Clock::now() + wait;
    if (std::find(queue_.begin(), queue_.end(), id) == queue_.end()) queue_.push_front(id);
    if (ready) ready_.emplace(id, std::move(*ready));
  }
  wake_.notify_all();
}

void Server::Impl::defer_job(const std::string& id, std::optional<EncryptedBatch> ready,
                             const std::string& problem) {
  int64_t wait_s = 0;
  {
    std::lock_guard lock(mutex_);
    Job& job = jobs_[id];
    wait_s = std::min<int64_t>(kMaxJobRetrySeconds, int64_t{1} << std::min(job.retries, 6));
    ++job.retries;
  }
  requeue_job(id, std::move(ready), std::chrono::seconds(wait_s));
  log({{"time", utc_timestamp()},
       {"event", "job deferred"},
       {"job", id},
       {"error", problem},
       {"retry_in_s", wait_s}});
}

}  // namespace cryptonets::service
