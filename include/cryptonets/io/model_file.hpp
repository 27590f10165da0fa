// The model text format, versions 1 and 2: human-readable, line-oriented, whitespace-separated.
//
//   cryptonets-model 1
//   input channels 1 height 28 width 28 scale 255
//   conv in 1 out 5 kernel 5 5 stride 2 2 pad 0 0 1 1 scale 3187.5
//   <out lines, each in·kh·kw integers: the kernel of one output map, ordered (in map, ky, kx)>
//   bias <out integers>
//   square scale 10160156.25
//   pool window 3 3 stride 1 1 pad 1 1 1 1 scale 10160156.25
//   flatten scale 10160156.25
//   dense in 845 out 100 scale 1.0e9
//   <out lines, each `in` integers: the weights of one output>
//   bias <out integers>
//   end
//
// Version 2 adds one layer kind, the polynomial activation (model.hpp PolynomialLayer):
//
//   poly degree 2 scale 1.5e7
//   coefficients 41 -3 7                  <degree + 1 integers c_0 … c_D: p(x) = Σ c_i·x^i>
//
// with degree 1..3, every |c_i| < 2^60 and c_D != 0; its "scale S" is required. Everything else
// is as in version 1. A writer uses version 1 for a model without a polynomial layer (so such
// files stay byte for byte what they were) and version 2 otherwise, so that a version-1 reader
// refuses a polynomial model by its version line rather than by an unknown keyword; the reader
// accepts both and refuses 'poly' in a file that declares version 1.
//
// pad is top left bottom right. "scale S" is optional when reading (default: the previous layer's
// scale, or its square for `square`) and always written. Blank lines and lines starting with '#'
// are ignored. Nothing but blank lines and comments may follow "end". See model/model.hpp for the
// meaning of every field. Scales are written in the shortest form that reads back to the same
// double, so write_model(read_model(text)) reproduces a canonical file byte for byte and
// read_model(write_model(m)) == m.
#pragma once

#include <istream>
#include <ostream>
#include <string>

#include "cryptonets/model/model.hpp"
#include "cryptonets/training/float_network.hpp"
#include "cryptonets/training/sequential_network.hpp"

namespace cryptonets {

// The newest version this build reads and writes, the oldest it reads, and the first with 'poly'.
inline constexpr int kModelFileVersion = 2;
inline constexpr int kOldestModelFileVersion = 1;
inline constexpr int kPolynomialModelFileVersion = 2;

// The version write_model writes for `model`: 1 without a polynomial layer, else 2.
int model_file_version(const model::Model& model);

// Parses and fully validates a model (counts, integer ranges, shapes consistent from layer to
// layer, keywords, the closing "end", nothing after it). Throws std::runtime_error
// "model file '<source_name>' line <N>: <what is wrong>" on the first error.
model::Model read_model(std::istream& in, const std::string& source_name);
model::Model load_model(const std::string& path);  // also throws std::runtime_error if unreadable

// The trained float networks of cryptonets-train, read as training::load_float_network and
// load_sequential_network read them, for the commands that take them; a binary file of this
// project's given instead (a key, parameter or ciphertext file: cryptonets_binary_kind) is refused
// by its kind, "float model 'F': this is a cryptonets evaluation key file (YASHE'), not a float
// model", where the text reader said only "found binary data". Throws std::runtime_error.
training::FloatNetwork load_float_model(const std::string& path);
training::SequentialNetwork load_sequential_model(const std::string& path);

// Throws std::invalid_argument if the model is invalid (validate_model). save_model replaces
// `path` atomically (serialize.hpp's AtomicFileWriter: a temporary beside it, fsync'd and renamed
// over it; mode 0644 less the umask, the owner's read and write kept): on any failure `path` is
// as it was and no temporary is left. It throws std::runtime_error (std::system_error with errno
// for a failed write, ENOSPC, EFBIG, ...) naming the path, and refuses, before writing, a path
// that is a key file, a parameter set or a model profile, or not a regular file.
void write_model(const model::Model& model, std::ostream& out);
void save_model(const model::Model& model, const std::string& path);

}  // namespace cryptonets
