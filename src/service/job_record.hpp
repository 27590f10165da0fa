// A job as the server keeps it in memory and records it in job.json (internal to the service;
// the format is in server.hpp).
#pragma once

#include <cstdint>
#include <string>

#include "cryptonets/io/protocol_files.hpp"
#include "server_support.hpp"

namespace cryptonets::service {

// The job store's record format (job.json "format"; server.hpp). A record without it is of
// format 1, written before the service ran BFV: its jobs are YASHE'.
constexpr int kJobRecordFormat = 2;

struct Job {
  std::string id;
  std::string key_set;                 // SHA-256 of the token, hex
  SchemeId scheme = SchemeId::kYashe;  // the key set's, recorded at upload
  std::string state;                   // queued | running | done | failed
  uint64_t images = 0;
  uint64_t batches = 0;
  uint64_t batches_done = 0;
  int64_t created = 0;
  int64_t finished = 0;
  std::string error;
  // The key set's id (key_set_id_text), recorded at upload so that the job's failures can name
  // the key set as its client knows it even once the key set's files are gone; 0: not recorded
  // (a record written before it was).
  uint64_t key_set_id = 0;
  // Runs of the inference started (at most kJobAttempts); the failure of the last one while the
  // job waits to be tried again.
  int attempts = 0;
  std::string last_error;
  // In memory only: a job whose key set could not be loaded for a passing reason, or whose run
  // failed for one, waits until not_before; `retries` sets the next wait of the former.
  int retries = 0;
  Clock::time_point not_before{};

  json to_json() const {
    json j{{"job", id},          {"scheme", scheme_option(scheme)},
           {"state", state},     {"images", images},
           {"batches", batches}, {"batches_done", batches_done},
           {"created", created}};
    if (finished != 0) j["finished"] = finished;
    if (!error.empty()) j["error"] = error;
    if (attempts != 0) j["attempts"] = attempts;
    if (!last_error.empty() && state == "queued") j["last_error"] = last_error;
    return j;
  }
};

}  // namespace cryptonets::service
