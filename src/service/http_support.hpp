// The HTTP side's helpers (internal to the service): the methods each path of the protocol takes,
// the facts of the one log line per request, and JSON answers.
#pragma once

#include <httplib.h>

#include <cstdint>
#include <string>

#include "server_support.hpp"

namespace cryptonets::service {

// The methods a path of the protocol (server.hpp) takes, for the Allow header of a 405: HEAD
// wherever GET is (httplib answers it from the GET route); "" for a path the service does not have.
std::string allowed_methods(const std::string& path);

bool method_allowed(const std::string& allow, const std::string& method);

// A host as a URL writes it: an IPv6 address in brackets.
std::string url_host(const std::string& host);

// Per-request facts for the one log line (the logger runs on the handler's thread).
struct RequestFacts {
  Clock::time_point start = Clock::now();
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  std::string job;
  std::string error;
  std::string detail;  // logged, never answered (HttpError::detail)
};
extern thread_local RequestFacts request_facts;

void answer_json(httplib::Response& res, int status, const json& body);

void answer_error(httplib::Response& res, int status, const std::string& message,
                  const std::string& detail = "", const std::string& code = "");

// A byte count as decimal digits only: std::stoull would also take "-1" (as 2^64 - 1), "+5" and
// leading spaces. Throws std::invalid_argument.
uint64_t parse_byte_count(const std::string& text);

}  // namespace cryptonets::service
