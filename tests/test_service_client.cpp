// service/client: what the client reads from the server's answers without a server (Retry-After).
#include <doctest/doctest.h>

#include <chrono>
#include <climits>
#include <optional>
#include <string>

#include "cryptonets/service/client.hpp"

using cryptonets::service::parse_imf_fixdate;
using cryptonets::service::retry_after_seconds;
using std::chrono::seconds;
using std::chrono::sys_seconds;

namespace {

// Seconds since the epoch of an IMF-fixdate, or -1 when it is refused.
long long epoch_of(const std::string& text) {
  const std::optional<sys_seconds> time = parse_imf_fixdate(text);
  return time ? time->time_since_epoch().count() : -1;
}

}  // namespace

TEST_CASE("IMF-fixdate gives the time it names (RFC 9110's example, leap day, leap second)") {
  CHECK(epoch_of("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777);  // RFC 9110 §5.6.7
  CHECK(epoch_of("Thu, 01 Jan 1970 00:00:00 GMT") == 0);
  CHECK(epoch_of("Thu, 29 Feb 2024 12:00:00 GMT") == 1709208000);
  CHECK(epoch_of("Tue, 29 Feb 2000 00:00:00 GMT") == 951782400);   // 2000: a leap year
  CHECK(epoch_of("Sat, 31 Dec 2016 23:59:60 GMT") == 1483228800);  // the leap second
}

TEST_CASE("a malformed IMF-fixdate is refused") {
  for (const char* text : {"",
                           "Sun, 06 Nov 1994 08:49:37",      // no zone
                           "Sun, 06 Nov 1994 08:49:37 UTC",  // another zone
                           "Sun, 06 Nov 1994 08:49:37 gmt",  // names are case-sensitive
                           "sun, 06 Nov 1994 08:49:37 GMT",
                           "Sun, 06 nov 1994 08:49:37 GMT",
                           "Sun 06 Nov 1994 08:49:37 GMT",   // no comma
                           "Sun,  6 Nov 1994 08:49:37 GMT",  // the day takes two digits
                           "Sun, 6 Nov 1994 08:49:37 GMT",
                           "Sun, 06 Nov 94 08:49:37 GMT",     // the year takes four
                           "Sunday, 06-Nov-94 08:49:37 GMT",  // rfc850-date: obsolete, not parsed
                           "Sun Nov  6 08:49:37 1994",        // asctime-date: obsolete, not parsed
                           "Sun, 06 Nov 1994 08:49:37 GMT ",  // trailing space
                           "Sun, 06 Nov 1994 8:49:37 GMT",
                           "Sun, 06 Nov 1994 24:00:00 GMT",  // hour 00-23
                           "Sun, 06 Nov 1994 08:60:00 GMT",  // minute 00-59
                           "Sun, 06 Nov 1994 08:49:61 GMT",  // second 00-60
                           "Sun, 06 Nov 1994 08:4a:37 GMT",
                           "Sun, 06 Foo 1994 08:49:37 GMT",  // no such month
                           "Sun, 00 Nov 1994 08:49:37 GMT",  // no day 0
                           "Sun, 31 Nov 1994 08:49:37 GMT",  // November has 30
                           "Wed, 29 Feb 2023 00:00:00 GMT",  // 2023: a common year
                           "Thu, 29 Feb 1900 00:00:00 GMT",  // 1900: not a leap year
                           "Mon, 06 Nov 1994 08:49:37 GMT",  // 6 Nov 1994 was a Sunday
                           "Xyz, 06 Nov 1994 08:49:37 GMT",
                           "Sun, 06 Nov -994 08:49:37 GMT",
                           "Sun, 06 Nov 1994 08:49:37 GMTX"})  // 30 characters
  {
    CAPTURE(text);
    CHECK(epoch_of(text) == -1);
  }
}

TEST_CASE("Retry-After as an HTTP date is the whole seconds until then, 0 once past") {
  const std::string date = "Sun, 06 Nov 1994 08:49:37 GMT";
  const sys_seconds at(seconds(784111777));
  CHECK(retry_after_seconds(date, at - seconds(30)) == 30);
  CHECK(retry_after_seconds(" " + date + "\t", at - seconds(30)) == 30);  // OWS around it
  // Rounded up: a retry a fraction of a second early would come before the date.
  CHECK(retry_after_seconds(date, at - std::chrono::milliseconds(29500)) == 30);
  CHECK(retry_after_seconds(date, at - std::chrono::milliseconds(1)) == 1);
  CHECK(retry_after_seconds(date, at) == 0);  // past dates: retry now (callers' minimum applies)
  CHECK(retry_after_seconds(date, at + seconds(1)) == 0);
  CHECK(retry_after_seconds(date, at + std::chrono::hours(24 * 365 * 30)) == 0);
  // A date decades ahead is capped, not wrapped negative.
  CHECK(retry_after_seconds("Fri, 01 Jan 9999 00:00:00 GMT", sys_seconds(seconds(0))) == INT_MAX);
}

TEST_CASE("Retry-After as delay-seconds is those seconds; anything else is 0") {
  const sys_seconds now(seconds(784111777));
  CHECK(retry_after_seconds("5", now) == 5);
  CHECK(retry_after_seconds("0", now) == 0);
  CHECK(retry_after_seconds(" 120 ", now) == 120);
  CHECK(retry_after_seconds("99999999999999999999", now) == INT_MAX);
  for (const char* text : {"", "   ", "-5", "+5", "5s", "1.5", "soon",
                           "Sun, 06 Nov 1994 08:49:37 UTC", "Sunday, 06-Nov-94 08:49:37 GMT"}) {
    CAPTURE(text);
    CHECK(retry_after_seconds(text, now - seconds(60)) == 0);
  }
}
