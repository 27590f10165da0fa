// What a file is, without any key: `cryptonets inspect FILE`, or a key directory as a whole:
// `cryptonets inspect DIR`.
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

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cryptonets {

struct FileInspection {
  std::string kind;  // "public keys", "a ciphertext file", "an integer model", ...
  // What the file says, in order: (name, value) pairs such as ("format version", "2").
  std::vector<std::pair<std::string, std::string>> fields;
  // Per record (CNET records of protocol files): one line each, some with indented continuation
  // lines after a '\n' (the parameters of a parameter set). Numbers and fixed words only: the
  // formatter escapes each line but keeps these newlines.
  std::vector<std::string> records;
  // Every checksum or identity that failed, naming where (empty: everything verifies). Past the
  // first ones named, problems of a kind may be summed up in one line ("N more problems in
  // the rows ..."): add_summed_up.
  std::vector<std::string> problems;
  // How many problems the summing-up lines of `problems` stand for beyond one each.
  uint64_t problems_summed_up = 0;
  // What could not be checked, and why ("key material: no parameter set to read it with ...").
  // A file with such a gap is not called intact: the tool cannot vouch for it.
  std::vector<std::string> unchecked;
  // How many checksums were verified (0 for text files, which have none).
  size_t checksums_verified = 0;

  bool intact() const { return problems.empty() && unchecked.empty(); }
  // How many problems there are, each named or summed up (the verdict's count).
  uint64_t problem_count() const { return problems.size() + problems_summed_up; }
  // Adds the line `summary`, which stands for `count` (>= 1) problems not named one by one.
  void add_summed_up(uint64_t count, std::string summary) {
    problems.push_back(std::move(summary));
    problems_summed_up += count - 1;
  }
};

// Throws std::runtime_error naming the file when it cannot be read or is not a file of this
// project ("not a cryptonets file: it starts with bytes ..."), or is of a format version this
// build does not read. Damage inside a recognised file is reported in `problems`, not thrown.
// Key and ciphertext files hold no parameters, only their fingerprint: their ring degree n and
// security line come from the parameter set `params_path`, or, when it is empty, from DIR/params
// beside the file, and are shown only when its parameter-set fingerprint is the file's. A key file
// and that parameter set (and DIR/params and the key files beside it) must carry one key set id,
// as the commands that use them require (require_one_key_set): a problem otherwise; so must a
// ciphertext file and the parameter set `params_path` given for it (decrypt refuses a ciphertext
// file of another key set; one beside DIR/params is not held to it). A file named
// as a key directory names its files (params, public.key, evaluation.key, secret.key) must hold
// that kind, and a key file so named or given `params_path` must have the scheme and the
// parameter-set fingerprint of that parameter set: a problem otherwise ("role: ...", "scheme:
// ...", "parameter set: ..."). Each such mismatch in a key directory is the problem of one file:
// of the key file (a params file notes it in a "beside it" field, as it notes a key file under
// another role's name, or one whose header does not read), unless the params is the odd one out:
// two key files or more beside it, of one scheme, parameter set and key set, and it not of them
// ("key set: ... this parameter set is the odd one"; the key files note it). A file named
// model.profile must be a model profile ("role: ..."), and one with a params file beside it (or
// any profile given `params_path`) must fit that parameter set: made from one of its presets (n,
// q, sigma, decomposition bits, plaintext moduli; n smaller under --insecure-ring-degree), with
// room for the model's outputs ("does not fit the parameter set ..."). A file of secret keys whose
// mode lets anyone but its owner at it is a problem ("mode ..."); so are bytes after the end of a
// file ("trailing bytes: ..."), and, in a file that is not itself secret keys, a second one when
// they hold secret keys (a secret key file or record appended: "secret keys appended: EXPOSED:
// ...", the key set report marks the file EXPOSED); a secret key anywhere else in such a file
// (its "CNPF" or "CNET" magic and kind 'S', inside a truncated or spliced file) is one too
// ("secret keys inside: EXPOSED: ..."), and a file that would be refused as unreadable but holds
// one is reported instead, not thrown ("not readable: ..." and that problem). A scores CSV row
// whose predicted label is not the first largest of its scores is a problem too, and so is a CSV
// without rows or whose image indices are not consecutive ("image N is missing", N the first
// missing; decrypt writes images first, first + 1, ... in order) or out of range ("image X is out
// of range": above 2^64 - 2, as no ciphertext file holds), and one without score columns or whose
// predicted label is not a class. Checksums carry no secret, so a protocol file whose checksums
// and identities verify is also read by the loader the commands use (a parameter set; a key or
// ciphertext file with its parameter set, when one is known): what it refuses is a problem
// ("refused by the loader ..."); a key or ciphertext file without its parameter set is not
// intact either: `unchecked` says what was not checked ("key material: no parameter set ...").
// A file of secret keys named params, public.key, evaluation.key (the files given to the server)
// or model.profile (the published profile) is a problem ("secret keys under a shared name:
// EXPOSED: ..."). A secret key is recognised by its record signature (magic, kind 'S', scheme
// byte; or the older layouts' zero byte and version), not by raw key bytes. The text formats
// are told apart by their first 8 KiB, and read up to their first byte that no text format holds
// (a NUL or another control byte but white space): the bytes from there on are a problem
// ("trailing bytes: ..."), searched for secret keys, and not read as the format; at most 1 MiB of
// a profile is read (what follows its line 'end' is trailing bytes; a profile without 'end' in
// its first MiB is refused) and 64 MiB of a model (a longer one is refused: std::runtime_error,
// or reported as above when it holds a secret key). A path (or `params_path`) that is not a
// regular file (a FIFO, a socket, a device) is refused before it is opened (std::runtime_error).
// The search for secret keys reads every byte of a file's data, but not its holes (a sparse file's
// unwritten regions read as zeros, and hold no key): a 1 TiB sparse file costs what its data does.
// A record's payload holding a hole longer than any record's run of zeros (30 MiB), or holes of
// more than that and more than half the payload in all, is a problem, and not hashed. A scores CSV
// is read a row at a time: memory does not grow with its rows; a cell a problem quotes is cut
// after 60 characters ("…").
FileInspection inspect_file(const std::string& path, const std::string& params_path = "");

// A key directory as keygen writes it: params, public.key, evaluation.key, secret.key (mode
// 0600) and the model profile. Every file present is inspected (inspect_file, with the params
// beside it); the set is intact when each of them is, params is present, and the secret key, if
// present, is readable by its owner only (and nothing of them is unchecked). A missing key file
// is not a problem (a server's directory has no secret key); the report says what the files
// present can be used for. A file of secret keys under the profile's name is EXPOSED. Every other
// regular file under the directory, in its subdirectories too (8 levels, 4096 files; links to
// directories are not followed), is searched for a secret key (a problem "PATH: secret keys
// inside: EXPOSED: ...", PATH below DIR), and not otherwise inspected; what lies beyond those
// bounds, or cannot be listed, is a problem ("not searched for secret keys: PATH: ...").
struct KeySetInspection {
  struct Member {
    std::string name;  // "params", "public.key", ...
    std::string path;  // DIR/name
    bool present = false;
    std::optional<FileInspection> inspection;  // present and read
    std::string error;                         // present but not readable as a cryptonets file
  };
  std::vector<Member> members;  // in the order above
  // The set's summary, in order: ("present", "params, ..."), ("missing", ...), ("secret key",
  // ...), ("profile", which preset of it the keys were made from; absent when it does not fit),
  // ("usable for", ...), ("other files", ...), ("links to directories", ...).
  std::vector<std::pair<std::string, std::string>> fields;
  // Every problem of every member (each naming its file, each text once), and the set's own.
  std::vector<std::string> problems;
  // What of every member could not be checked (each naming its file): the set is not intact.
  std::vector<std::string> unchecked;
  size_t checksums_verified = 0;

  bool intact() const { return problems.empty() && unchecked.empty(); }
};

// Throws std::runtime_error when `directory` is not a directory or holds none of the key set's
// files. `profile_name`: the profile's file name in the directory (keygen's model.profile).
KeySetInspection inspect_key_set(const std::string& directory,
                                 const std::string& profile_name = "model.profile");

// The first secret key in the file `path` from byte `start` on, as inspect finds one (a protocol
// file of secret keys or a secret-key record, by its signature: magic, kind 'S', scheme, version;
// holes of a sparse file skipped): its offset and what it is ("a secret key record (\"CNET\",
// kind 'S') of BFV"); nullopt when there is none or the file cannot be opened.
struct SecretKeyLocation {
  uint64_t offset = 0;
  std::string what;
};
std::optional<SecretKeyLocation> locate_secret_key(const std::string& path, uint64_t start = 0);

// `text` on one printable line, as inspect prints every name and message: a newline, carriage
// return, tab and backslash as \n, \r, \t and \\, any other control byte (ESC, DEL, a C1
// control U+0080 to U+009F) and every byte of invalid UTF-8 as \xNN; well-formed UTF-8 kept.
std::string printable_text(std::string_view text);

// The report as printed by `cryptonets inspect`: each line printable (printable_text).
std::string format_inspection(const std::string& path, const FileInspection& inspection);

// The reports of the set's files, then the set's summary and its verdict ("key set verdict: ...").
std::string format_key_set_inspection(const std::string& directory,
                                      const KeySetInspection& inspection);

}  // namespace cryptonets
