#include "cryptonets/io/scheme_id.hpp"

#include <cstdio>
#include <stdexcept>

namespace cryptonets {

bool known_scheme(uint8_t byte) {
  return byte == static_cast<uint8_t>(SchemeId::kYashe) ||
         byte == static_cast<uint8_t>(SchemeId::kBfv);
}

std::string scheme_name(SchemeId scheme) {
  switch (scheme) {
    case SchemeId::kYashe:
      return "YASHE'";
    case SchemeId::kBfv:
      return "BFV";
  }
  char text[48];
  std::snprintf(text, sizeof text, "an unknown scheme (tag 0x%02x)",
                static_cast<unsigned>(static_cast<uint8_t>(scheme)));
  return text;
}

std::string scheme_option(SchemeId scheme) {
  return scheme == SchemeId::kBfv ? "bfv" : "yashe";
}

SchemeId parse_scheme(const std::string& option) {
  if (option == "yashe") return SchemeId::kYashe;
  if (option == "bfv") return SchemeId::kBfv;
  throw std::invalid_argument("--scheme must be yashe or bfv, not '" + option + "'");
}

std::string scheme_mismatch(const std::string& what, SchemeId found, SchemeId expected,
                            const std::string& expected_what) {
  return what + " is a " + scheme_name(found) + " file, but " + expected_what + " " +
         scheme_name(expected) + ": a file of one scheme cannot be used with the other";
}

}  // namespace cryptonets
