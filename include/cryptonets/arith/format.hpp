// printf-style formatting into a std::string, for reports and messages.
#pragma once

#include <cstddef>
#include <istream>
#include <string>
#include <string_view>

namespace cryptonets {

// The text printf would print for `pattern` and its arguments. The attribute lets the compiler
// check every pattern against its arguments (a variadic template checks nothing: one hid an int
// printed with %.0f).
__attribute__((format(printf, 1, 2))) std::string format(const char* pattern, ...);

// The one classification of bytes for the text formats (model, float model, profile, scores
// CSV), shared by their readers and by inspect so that both refuse the same files: printable
// ASCII, white space (tab to carriage return) and the bytes of UTF-8 sequences (>= 0x80; a word of
// invalid UTF-8 is refused as a word, quoted_word) are text; a NUL, another control byte and DEL
// are binary data, wherever they stand (a '#' comment too: the readers skipped comment lines
// unread, and inspect, which stops at such a byte, refused files they took).
bool text_format_byte(unsigned char byte);
// The offset of the first byte of `text` that is not text_format_byte; npos when there is none.
size_t first_binary_byte(std::string_view text);
// "found binary data (not text): a control byte at column C, which no text format holds", C the
// 1-based column of `offset` in its line: where the byte is and what kind, never its value (a
// model is the server's secret; a trial's key file given as a profile printed its bytes).
std::string binary_byte_message(size_t offset);
// For the readers that take a file word by word (float and sequential models): a '#' comment,
// its first word and the rest of its line, holds text only, as a comment line does for the line
// readers. "found binary data (not text) in a '#' comment: ..." naming no byte, or "" for text.
std::string binary_comment_message(std::string_view first_word, std::string_view rest);

// For the text formats' closing 'end' (model, float model, profile): reads what is left of `in`
// in constant memory and returns the 1-based line, counted from the current position, of the
// first byte that is neither white space nor (with `comments`) inside a line whose first
// non-blank character is '#', leaving that byte unread; 0 when nothing else follows. A byte that
// is not text_format_byte is content, in a comment too. Reading line
// by line, a file padded with 512 MiB of zero bytes after 'end' was held whole in memory before
// being refused.
size_t first_content_line(std::istream& in, bool comments);

// "1 point is", "3 points are": the count, then the words after it in the singular (count 1) or
// the plural, for messages ("2 plaintext moduli").
std::string counted(size_t count, const std::string& singular, const std::string& plural);

// A word read from a text format (model, float model, sequential model), for the message that
// refuses it: in single quotes, cut to its first 40 bytes and "..." when longer; a word holding a
// NUL or another control byte but tab, or bytes that are not UTF-8, is binary and named so, with
// no bytes of it. Quoted whole, a
// NUL ended the message where it stood: an IDX file given as a model was "found '" and nothing
// more, a key file "found 'CNPFKY" (a trial).
std::string quoted_word(std::string_view word);

// `argument` as one word of a POSIX sh command line: as it is when it holds only characters that
// sh takes literally (letters, digits, and %+,-./:=@_), else in single quotes, each ' written
// '\''. For the command lines the tools record to regenerate a file, and the commands a message
// suggests: a name with a space, `...` or $(...) must paste into a shell as one word, not run.
std::string shell_quoted(std::string_view argument);

}  // namespace cryptonets
