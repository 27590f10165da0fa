// The model text format, version 1: human-readable, line-oriented, whitespace-separated.
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

namespace cryptonets {

inline constexpr int kModelFileVersion = 1;

// Parses and fully validates a model (counts, integer ranges, shapes consistent from layer to
// layer, keywords, the closing "end", nothing after it). Throws std::runtime_error
// "model file '<source_name>' line <N>: <what is wrong>" on the first error.
model::Model read_model(std::istream& in, const std::string& source_name);
model::Model load_model(const std::string& path);  // also throws std::runtime_error if unreadable

// Throws std::invalid_argument if the model is invalid (validate_model); save_model throws
// std::runtime_error if the file cannot be written.
void write_model(const model::Model& model, std::ostream& out);
void save_model(const model::Model& model, const std::string& path);

}  // namespace cryptonets
