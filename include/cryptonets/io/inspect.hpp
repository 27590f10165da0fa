// What a file is, without any key: `cryptonets inspect FILE`.
//
// Reads any file of this project (a protocol file "CNPF" of parameters, keys or ciphertexts; a
// single "CNET" record; the integer model's text file, with its encrypted stages; a float model of
// cryptonets-train, with how to quantise it; a model profile; the CSV of decrypt --scores) and
// reports its kind, scheme, format version, parameters, fingerprints, key ids, counts and sizes,
// and whether every checksum and every derived identity verifies. It is an independent reader
// written from the format specification (io/FORMATS.md): it recomputes the SHA-256 checksums, the
// parameter fingerprints (Parameters::fingerprint()), the parameter-set fingerprint and the key-set
// id from the bytes, and never decodes key material or coefficients (nothing of them is reported).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace cryptonets {

struct FileInspection {
  std::string kind;  // "public keys", "a ciphertext file", "an integer model", ...
  // What the file says, in order: (name, value) pairs such as ("format version", "2").
  std::vector<std::pair<std::string, std::string>> fields;
  // Per record (CNET records of protocol files): one line each.
  std::vector<std::string> records;
  // Every checksum or identity that failed, naming where (empty: everything verifies).
  std::vector<std::string> problems;
  // How many checksums were verified (0 for text files, which have none).
  size_t checksums_verified = 0;

  bool intact() const { return problems.empty(); }
};

// Throws std::runtime_error naming the file when it cannot be read or is not a file of this
// project ("not a cryptonets file: it starts with bytes ..."), or is of a format version this
// build does not read. Damage inside a recognised file is reported in `problems`, not thrown.
// Key and ciphertext files hold no parameters, only their fingerprint: their ring degree n and
// security line come from the parameter set `params_path`, or, when it is empty, from DIR/params
// beside the file, and are shown only when its parameter-set fingerprint is the file's. A key file
// and that parameter set (and DIR/params and the key files beside it) must carry one key set id,
// as the commands that use them require (require_one_key_set): a problem otherwise.
FileInspection inspect_file(const std::string& path, const std::string& params_path = "");

// The report as printed by `cryptonets inspect`.
std::string format_inspection(const std::string& path, const FileInspection& inspection);

}  // namespace cryptonets
