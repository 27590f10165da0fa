#include "cryptonets/arith/format.hpp"

#include <algorithm>
#include <cstdarg>
#include <cstdint>
#include <cstdio>

namespace cryptonets {

std::string format(const char* pattern, ...) {
  va_list args;
  va_start(args, pattern);
  va_list copy;
  va_copy(copy, args);
  const int size = std::vsnprintf(nullptr, 0, pattern, copy);
  va_end(copy);
  std::string text(static_cast<size_t>(std::max(size, 0)), '\0');
  std::vsnprintf(text.data(), text.size() + 1, pattern, args);
  va_end(args);
  return text;
}

bool text_format_byte(unsigned char byte) {
  return byte >= 0x20 ? byte != 0x7f : (byte >= '\t' && byte <= '\r');
}

size_t first_binary_byte(std::string_view text) {
  const auto found = std::find_if(text.begin(), text.end(), [](char c) {
    return !text_format_byte(static_cast<unsigned char>(c));
  });
  return found == text.end() ? std::string_view::npos : static_cast<size_t>(found - text.begin());
}

std::string binary_byte_message(size_t offset) {
  return "found binary data (not text): a control byte at column " + std::to_string(offset + 1) +
         ", which no text format holds";
}

std::string binary_comment_message(std::string_view first_word, std::string_view rest) {
  if (first_binary_byte(first_word) == std::string::npos &&
      first_binary_byte(rest) == std::string::npos)
    return "";
  return "found binary data (not text) in a '#' comment: a control byte, which no text format "
         "holds";
}

size_t first_content_line(std::istream& in, bool comments) {
  std::streambuf* buffer = in.rdbuf();
  if (buffer == nullptr) return 0;
  size_t line = 1;
  bool in_comment = false;
  // Any other byte ends the scan, so a '#' outside a comment is its line's first non-blank one.
  for (int c = buffer->sgetc(); c != std::char_traits<char>::eof(); c = buffer->snextc()) {
    if (c == '\n') {
      ++line;
      in_comment = false;
    } else if (!text_format_byte(static_cast<unsigned char>(c))) {
      return line;  // binary data: content even in a comment (inspect stops there too)
    } else if (in_comment || c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f') {
      continue;
    } else if (comments && c == '#') {
      in_comment = true;
    } else {
      return line;  // that byte is left unread
    }
  }
  return 0;
}

std::string counted(size_t count, const std::string& singular, const std::string& plural) {
  return std::to_string(count) + " " + (count == 1 ? singular : plural);
}

namespace {

// Whether `text` is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, at most
// U+10FFFF).
bool is_utf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const auto lead = static_cast<unsigned char>(text[i]);
    size_t length = 1;
    uint32_t code = lead;
    if (lead >= 0xf0 && lead <= 0xf4) {
      length = 4;
      code = lead & 0x07;
    } else if (lead >= 0xe0) {
      length = 3;
      code = lead & 0x0f;
    } else if (lead >= 0xc2 && lead <= 0xdf) {
      length = 2;
      code = lead & 0x1f;
    } else if (lead >= 0x80) {
      return false;  // a continuation byte, 0xc0-0xc1 (overlong) or 0xf5-0xff
    }
    if (lead >= 0xf5 || i + length > text.size()) return false;
    for (size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xc0) != 0x80) return false;
      code = code << 6 | (next & 0x3f);
    }
    const uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < smallest[length] || (code >= 0xd800 && code <= 0xdfff) || code > 0x10ffff)
      return false;
    i += length;
  }
  return true;
}

}  // namespace

std::string quoted_word(std::string_view word) {
  const bool control = std::any_of(word.begin(), word.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return (byte < 0x20 && byte != '\t') || byte == 0x7f;
  });
  // Bytes that are not UTF-8 are binary too: a trial spliced key bytes into a model and saw them
  // quoted, escaped, in the message.
  if (control || !is_utf8(word)) return "binary data (not text)";
  constexpr size_t kShown = 40;
  if (word.size() <= kShown) return "'" + std::string(word) + "'";
  size_t cut = kShown;  // not inside a UTF-8 sequence: back to the byte that starts one
  while (cut > 0 && (static_cast<unsigned char>(word[cut]) & 0xc0) == 0x80)
    --cut;
  return "'" + std::string(word.substr(0, cut)) + "...'";
}

std::string shell_quoted(std::string_view argument) {
  const auto literal = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("%+,-./:=@_").find(c) != std::string_view::npos;
  };
  if (!argument.empty() && std::all_of(argument.begin(), argument.end(), literal))
    return std::string(argument);
  std::string quoted = "'";
  for (const char c : argument)
    quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

}  // namespace cryptonets
