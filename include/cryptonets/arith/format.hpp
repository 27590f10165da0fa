// printf-style formatting into a std::string, for reports and messages.
#pragma once

#include <string>

namespace cryptonets {

// The text printf would print for `pattern` and its arguments. The attribute lets the compiler
// check every pattern against its arguments (a variadic template checks nothing: one hid an int
// printed with %.0f).
__attribute__((format(printf, 1, 2))) std::string format(const char* pattern, ...);

}  // namespace cryptonets
