// What the server's modules share: failures, answers, helpers (server_support.hpp).
#include "server_support.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <new>

namespace cryptonets::service {

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string utc_timestamp() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[96];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return text;
}

bool is_hex_name(const std::string& name, size_t length) {
  return name.size() == length && std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

HttpError with_detail(HttpError error, const std::string& detail) {
  error.detail = detail;
  return error;
}

HttpError internal_error(const std::string& what, const std::string& cause,
                         const std::string& detail) {
  return with_detail(HttpError(500, what + " (" + cause +
                                        "): a failure of the server, not of the request; the "
                                        "server's log has the details"),
                     detail);
}

bool disk_full(const std::error_code& code) {
  return code == std::errc::no_space_on_device ||
         code == std::error_condition(EDQUOT, std::generic_category());
}

ReadFailure classify_failure(const std::exception& e) {
  if (dynamic_cast<const std::bad_alloc*>(&e) != nullptr) return ReadFailure::kPassing;
  if (dynamic_cast<const StoreFailure*>(&e) != nullptr) return ReadFailure::kPassing;
  if (const auto* failure = dynamic_cast<const std::system_error*>(&e)) {
    if (failure->code() == std::errc::no_such_file_or_directory ||
        failure->code() == std::errc::not_a_directory) {
      return ReadFailure::kFiles;
    }
    if (failure->code() == std::errc::permission_denied ||
        failure->code() == std::errc::operation_not_permitted) {
      return ReadFailure::kConfiguration;
    }
    return ReadFailure::kPassing;
  }
  return ReadFailure::kFiles;
}

bool transient_failure(const std::exception& e) {
  return classify_failure(e) == ReadFailure::kPassing;
}

std::string failure_cause(const std::exception& e) {
  if (const auto* failure = dynamic_cast<const std::system_error*>(&e)) {
    return failure->code().message();
  }
  return "see the server's log";
}

std::string configuration_answer(const std::string& cause) {
  return "the server cannot read its own files (" + cause +
         "): a configuration error of the server (the permissions of its --state-dir), not of the "
         "request; retrying does not help until the server's operator fixes it (its log names the "
         "file)";
}

namespace {

// Every `from` in `message` replaced by `to`, left to right (not again inside what was put in).
void replace_all(std::string& message, const std::string& from, const std::string& to) {
  for (size_t at = message.find(from); at != std::string::npos; at = message.find(from, at)) {
    message.replace(at, from.size(), to);
    at += to.size();
  }
}

}  // namespace

std::string client_message(std::string message, const std::string& path, const std::string& name) {
  // "file 'PATH'" and "'PATH'" first: the name carries its own quotes ("part 'params'" was
  // answered as "''part 'params''").
  for (const std::string& quoted : {"file '" + path + "'", "'" + path + "'"})
    replace_all(message, quoted, name);
  replace_all(message, path, name);
  return message;
}

std::string batch_message(std::string message, const std::string& path, const std::string& batch,
                          const std::string& file) {
  // The reader's records are "file 'PATH' batch B of N (modulus I of M)" (protocol_files.cpp).
  const std::string records = "file '" + path + "' batch ";
  replace_all(message, records + "1 of 1 (", batch + " (");
  replace_all(message, records, batch + " ");
  return client_message(std::move(message), path, file);
}

std::string key_set_id_text(uint64_t id) {
  char text[24];
  std::snprintf(text, sizeof text, "0x%016llx", static_cast<unsigned long long>(id));
  return text;
}

std::string unusable_answer(const std::string& description) {
  return "this server cannot use the token's " + description + ": " + kRegisterAgain;
}

std::string transient_answer(const std::string& problem) {
  return "the server cannot load the token's key set right now (" + problem + "); retry later";
}

std::string expired_answer(const std::string& name, int64_t retention_s) {
  std::string unused = "the server's retention period";
  if (retention_s > 0 && retention_s % 86400 == 0) {
    const int64_t days = retention_s / 86400;
    unused = std::to_string(days) + (days == 1 ? " day" : " days");
  } else if (retention_s > 0) {
    unused = std::to_string(retention_s) + " s";
  }
  return "the token's " + name + " expired: it was not used for " + unused +
         " (--key-set-retention-days), so the server deleted it with its jobs; " + kRegisterAgain;
}

std::string unrun_job_error(const std::string& description) {
  return "not run: this server cannot use the job's " + description +
         "; register the keys again and submit the batch again with the new token";
}

std::optional<uint64_t> parse_key_set_id(const std::string& text) {
  if (text.size() != 18 || text.rfind("0x", 0) != 0 || !is_hex_name(text.substr(2), 16)) {
    return std::nullopt;
  }
  return std::stoull(text.substr(2), nullptr, 16);
}

}  // namespace cryptonets::service
