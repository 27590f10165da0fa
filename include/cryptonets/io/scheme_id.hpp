// Which scheme a file belongs to: every binary file records it (CNET record byte 5, CNPF header
// byte 5; FORMATS.md §3.4), and a file of one scheme given to the other is refused naming both.
#pragma once

#include <cstdint>
#include <string>

#include "cryptonets/bfv/scheme.hpp"
#include "cryptonets/yashe/scheme.hpp"

namespace cryptonets {

// The byte stored in the files: ASCII, so that a hex dump shows it.
enum class SchemeId : uint8_t {
  kYashe = 'Y',  // YASHE' (Bos, Lauter, Loftus, Naehrig, IMA CC 2013)
  kBfv = 'B',    // BFV (Fan and Vercauteren, ePrint 2012/144)
};

template <class Scheme>
constexpr SchemeId scheme_id();
template <>
constexpr SchemeId scheme_id<yashe::Scheme>() {
  return SchemeId::kYashe;
}
template <>
constexpr SchemeId scheme_id<bfv::Scheme>() {
  return SchemeId::kBfv;
}

// Whether `byte` is a SchemeId.
bool known_scheme(uint8_t byte);
// "YASHE'", "BFV"; for another byte "an unknown scheme (tag 0x..)".
std::string scheme_name(SchemeId scheme);
// The command-line spelling: "yashe", "bfv".
std::string scheme_option(SchemeId scheme);
// "yashe" or "bfv" -> the id; std::invalid_argument naming both spellings otherwise.
SchemeId parse_scheme(const std::string& option);

// The message of a cross-scheme refusal, naming both schemes: "<what> is a BFV file, but
// <expected_what> YASHE': a file of one scheme cannot be used with the other", expected_what
// ending in its verb ("the keys are").
std::string scheme_mismatch(const std::string& what, SchemeId found, SchemeId expected,
                            const std::string& expected_what);

}  // namespace cryptonets
