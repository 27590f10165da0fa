// The model profile: what a client needs to know about the server's model, without its weights
// (issue 14): the input shape and scale, the number of outputs, the worst-case output bound (the
// plaintext bits), and, for each parameter preset, the parameters chosen for the model (the
// noise prediction needs the weights, so the server runs it). `cryptonets profile` writes it;
// keygen, encrypt and decrypt read it instead of the model.
// Trust: the client usually gets it from the server (client profile), so its presets are the
// server's choice of the client's key parameters; reading a profile checks its form, not their
// strength. keygen refuses presets weaker than the shipped ones (cmd_keygen.cpp) unless
// --insecure-ring-degree accepts them.
//
// Text format, one item per line ('#' starts a comment line):
//   cryptonets-profile 2
//   input channels C height H width W scale S      (S: shortest round-trip decimal)
//   outputs K
//   output-bound B                                  (decimal integer: |output| <= B)
//   circuit-privacy L                               (0, or λ of keygen --circuit-privacy)
//   preset NAME scheme S n N sigma S decomposition D q Q1 .. Qk t T1 .. Tm
//                                                   (one line per preset; S: yashe or bfv)
//   end                                             (only white space may follow: anything
//                                                   else is refused, "unexpected content after
//                                                   'end'"; inspect names secret keys there)
// Version history: version 1 had no scheme on its preset lines (YASHE' only) and no BFV preset;
// it is refused by name ("profile format version 1 is no longer supported; this build reads 2").
// Everything in it is also visible to anyone who sees the keys or the ciphertexts (shapes,
// counts, q and t), except the output bound, a single number.
//
// Fingerprint (FORMATS.md §3.5): the first 8 bytes, little-endian, of SHA-256 over the tag
// "cryptonets model profile 1" and its 0 byte, then as u64 (little-endian) channels, height,
// width, the bits of the input scale (IEEE-754 binary64), outputs, the length L of the output
// bound's decimal digits, then those L ASCII digits. It covers what the model decides and the
// ciphertexts' meaning depends on (how inputs are quantised and laid out, how many scores and
// their bound), not the presets (the parameter-set fingerprint of the keys binds those) nor the
// circuit privacy (the server's choice, checked against the keys' noise budget). Every encrypted
// file records the fingerprint of the profile it was encrypted with, and infer refuses a file of
// another profile than its model's: encrypted at another input scale, the scores decrypt to
// wrong labels without any other check failing.
#pragma once

#include <gmpxx.h>

#include <iosfwd>
#include <string>
#include <vector>

#include "cryptonets/inference/parameter_selection.hpp"
#include "cryptonets/model/model.hpp"
#include "cryptonets/model/range.hpp"

namespace cryptonets {

inline constexpr int kModelProfileVersion = 2;

struct ModelProfile {
  model::Shape input_shape;
  double input_scale = 0;
  size_t outputs = 0;
  mpz_class output_bound;
  int circuit_privacy_bits = 0;
  // name, base parameters and plaintext moduli per preset (no reasoning, no predicted budget):
  // the YASHE' presets, and BFV's ("bfv"; none in a profile made for circuit privacy).
  std::vector<inference::ParameterChoice> presets;
  std::vector<inference::BfvParameterChoice> bfv_presets;

  // A model with the input shape and scale and no layers: what quantising and encrypting inputs
  // need (quantise_pixels, encrypt_batch).
  model::Model input_model() const;
  // The output bound as a range report (for require_plaintext_moduli).
  model::RangeReport output_range() const;
  // std::invalid_argument naming the presets the profile holds (and the scheme of a preset of the
  // other scheme).
  const inference::ParameterChoice& preset(const std::string& name) const;
  const inference::BfvParameterChoice& bfv_preset(const std::string& name) const;

  // The profile fingerprint (above): equal for profiles that differ only in presets or circuit
  // privacy.
  uint64_t fingerprint() const;

  bool operator==(const ModelProfile&) const = default;
};

// The fingerprint of the profile of `model` (make_profile(model).fingerprint(), without choosing
// any parameters). Throws as track_ranges and compile_model do.
uint64_t profile_fingerprint(const model::Model& model);

// The profile of `model`, with every preset of preset_names() chosen for circuit_privacy_bits,
// except "paper" when its fixed parameters cannot carry the model (preset throws
// std::runtime_error). Throws as track_ranges and the other presets do.
ModelProfile make_profile(const model::Model& model, int circuit_privacy_bits = 0);

void write_profile(const ModelProfile& profile, std::ostream& out);
// Writes atomically (serialize.hpp's AtomicFileWriter).
void save_profile(const ModelProfile& profile, const std::string& path);
// Throws std::runtime_error naming the source, the line and what was expected; a line with a NUL
// byte, by its column (the message shows the line's text around it, the NUL as 0x00).
ModelProfile read_profile(std::istream& in, const std::string& source_name);
ModelProfile load_profile(const std::string& path);

}  // namespace cryptonets
