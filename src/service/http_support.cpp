// The HTTP side's helpers (http_support.hpp).
#include "http_support.hpp"

#include <algorithm>

namespace cryptonets::service {

std::string allowed_methods(const std::string& path) {
  if (path == "/v1/keysets" || path == "/v1/jobs") return "POST";
  if (path == "/v1/queue" || path == "/v1/profile") return "GET, HEAD";
  const std::string prefix = "/v1/jobs/";
  if (path.rfind(prefix, 0) != 0) return "";
  std::string id = path.substr(prefix.size());
  const std::string result = "/result";
  const bool is_result = id.size() > result.size() &&
                         id.compare(id.size() - result.size(), result.size(), result) == 0;
  if (is_result) id.resize(id.size() - result.size());
  // The routes' pattern [0-9a-z]+.
  if (id.empty() || !std::all_of(id.begin(), id.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z');
      })) {
    return "";
  }
  return is_result ? "GET, HEAD" : "GET, HEAD, DELETE";
}

bool method_allowed(const std::string& allow, const std::string& method) {
  for (size_t at = 0; at < allow.size();) {
    const size_t end = std::min(allow.find(", ", at), allow.size());
    if (allow.compare(at, end - at, method) == 0) return true;
    at = end + 2;
  }
  return false;
}

std::string url_host(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

thread_local RequestFacts request_facts;

void answer_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  // An answer may quote the request (its path, a header): invalid UTF-8 there is sent as U+FFFD,
  // not thrown (a 500, or in a refusal before routing a crash of the server).
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n",
                  "application/json");
  request_facts.bytes_out = res.body.size();
}

void answer_error(httplib::Response& res, int status, const std::string& message,
                  const std::string& detail, const std::string& code) {
  request_facts.error = message;
  request_facts.detail = detail;
  json body{{"error", message}};
  if (!code.empty()) body["code"] = code;
  answer_json(res, status, body);
}

uint64_t parse_byte_count(const std::string& text) {
  if (text.empty() || text.size() > 19 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    throw std::invalid_argument(text);
  }
  return std::stoull(text);  // at most 19 digits: below 2^64
}

}  // namespace cryptonets::service
