// Files of the client/server protocol (`cryptonets keygen / encrypt / infer / decrypt`).
//
// With several plaintext moduli t_1..t_k (CRT, encoding/plaintext_crt.hpp) every parameter set,
// key and ciphertext exists once per t_i, so a protocol file is a small header followed by the
// CNET records of serialize.hpp (each with its own fingerprint, key id and SHA-256), all integers
// little-endian:
//
//   header  160 bytes "CNPF" | kind (1 byte: 'P' parameter set, 'K' public keys, 'E' evaluation
//                     keys, 'S' secret keys, 'C' ciphertexts) | scheme (1 byte: 'Y' YASHE',
//                     'B' BFV; scheme_id.hpp) | format version (uint16) | parameter set fingerprint
//                     (uint64) | key set id (uint64) | moduli k (uint64) | images (uint64) | batch
//                     size (uint64) | values (uint64) | first image (uint64) | file id (uint64) |
//                     answers file id (uint64) | source images (uint64) | source SHA-256 (32
//                     bytes) | profile fingerprint (uint64) | SHA-256 of the 128 bytes before it
//   body    P, K, E, S: k records of that kind ('P', 'K', 'E', 'S'), modulus t_1 first.
//           C: for each batch b = 0 .. B-1, B = ceil(images / batch size), for each modulus i: one
//           'C' record of `values` ciphertexts (one per model input, or per score), followed by
//           its binding (64 bytes): "CNRB" | reserved (4 bytes, 0) | file id | record index
//           b·k + i | record count B·k | SHA-256 of those 32 bytes and of the record's own
//           SHA-256 checksum. Batch b holds images first + b·batch_size ... in its first slots
//           (the last batch may hold fewer).
//   Key set id: in every file of a key directory, the parameter set included (keygen writes the
//   whole directory at once), so that files of different key generations are refused together
//   (require_one_key_set); in a ciphertext file, the keys it is encrypted under.
//   File id (ciphertext files only): random, non-zero, drawn when the file is written. Each
//   record's binding names the file and the record's position, so that a record moved to another
//   position (reordered, duplicated, omitted) or spliced in from another file is refused by name.
//   Answers file id: in a scores file from infer, the file id of the encrypted images it answers;
//   0 in a file from encrypt.
//   First image: the index, in the client's image file, of the file's first image (encrypt
//   --first). infer copies it to its scores, so that decrypt matches labels and plain images
//   without being told again; first + images must not exceed 2^64 - 1.
//   Source images and source SHA-256: the images file that encrypt read, its image count (at
//   least first + images) and the SHA-256 of its IDX content (gunzipped). infer copies both to its
//   scores, so that decrypt can refuse a labels file of another data set (--first: the labels of
//   the whole images file, exactly source-images many).
//   Profile fingerprint: ModelProfile::fingerprint() (model_profile.hpp) of the profile encrypt
//   quantised the images with; infer refuses images of another profile than its model's before
//   any evaluation (other_profile_refusal) and copies it to its scores, so that decrypt refuses
//   scores of another profile than its own.
//   The file ends after the last record. images, batch size, values, first image, the source
//   fields and the profile fingerprint are 0 except for kind C.
//
// Scheme: every file of a key directory and every ciphertext file records the scheme of its
// records (which carry it too); a file of one scheme given with keys of the other is refused from
// its header, naming both schemes.
//
// Version history: 1 had no first image (an 88-byte header); 2 (96-byte header) had no file ids,
// no record bindings, key set id 0 in the parameter set, and its ciphertext records (CNET
// version 1) carried noise estimates in clear (issue 14); 3 had no scheme (byte 5 reserved, 0:
// YASHE' only) and CNET version 2 records; 4 (112-byte header) had no source images and source
// SHA-256; 5 (152-byte header) had no profile fingerprint, so that infer evaluated images
// encrypted for another model (another input scale) and the client decrypted wrong labels. Older
// files are refused by name ("format version 5 is no longer supported; this build reads 6").
//
// Parameter set fingerprint: the first 8 bytes (little-endian) of SHA-256 over a domain tag, k and
// the k Parameters::fingerprint() values; key set id: the same over the k key ids (random, from key
// generation). They tie the four key-directory files and every ciphertext file together: a
// ciphertext file made for other parameters or under other keys is refused from its header,
// before any ciphertext is read, and every record is checked again against its own context.
//
// Loading throws std::runtime_error naming the file and what was expected, in this order: missing
// or unreadable, magic ("not a cryptonets protocol file"), kind, version ("no longer supported"
// for older ones), truncated header, header checksum ("corrupted"), the scheme (a file of the
// other scheme, naming both), header fields
// (including first image + images wrapping past 2^64 - 1), fingerprint ("made for other
// parameters"), key set id ("under other keys"), the order of the ciphertext records ("spliced in
// from another file", "a duplicated record", "an omitted record", "reordered"), then each record
// as serialize.hpp checks it and its binding, then trailing bytes. A failure of the operating
// system rather than of the file (open(2) or read(2): ENOENT for a missing file, EMFILE, ENOMEM,
// EIO, ...) is a std::system_error (a std::runtime_error) carrying errno: a read error is never
// reported as a truncated or damaged file.
#pragma once

#include <array>
#include <cstdint>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "cryptonets/bfv/scheme.hpp"
#include "cryptonets/encoding/plaintext_crt.hpp"
#include "cryptonets/inference/private_inference.hpp"
#include "cryptonets/io/scheme_id.hpp"
#include "cryptonets/io/serialize.hpp"
#include "cryptonets/rlwe/parameters.hpp"
#include "cryptonets/yashe/scheme.hpp"

namespace cryptonets {

inline constexpr uint16_t kProtocolFileVersion = 6;
inline constexpr size_t kProtocolHeaderBytes = 160;
inline constexpr size_t kProtocolBindingBytes = 64;
// Plaintext moduli (contexts) of one parameter set: rlwe/parameters.hpp says why.
inline constexpr uint64_t kMaxProtocolModuli = rlwe::kMaxPlaintextModuli;

enum class ProtocolFileKind : char {
  kParameterSet = 'P',
  kPublicKeys = 'K',
  kEvaluationKeys = 'E',
  kSecretKeys = 'S',
  kCiphertexts = 'C',
};

// The images file a ciphertext file was encrypted from (encrypt's --images): how many images it
// holds and the SHA-256 of its IDX content after gunzip (Sha256::Digest, file order).
struct ImageSource {
  uint64_t images = 0;
  Sha256::Digest sha256{};
};

// "a parameter set", "public keys", ... for messages.
std::string protocol_kind_name(ProtocolFileKind kind);

// Why a protocol file of format `version` (not kProtocolFileVersion) of kind `kind` is refused,
// and what to do: "format version 5 is no longer supported; this build reads 6 (written by an
// older cryptonets; re-run keygen)", or "re-run encrypt (and infer on its output)" for a
// ciphertext file; a later version is "format version 7, this build reads 6 (written by a newer
// cryptonets)"; version 0, which no cryptonets wrote, is "format version 0 is not a valid
// version; this build reads 6 (the file is damaged or was not written by cryptonets)". The one
// wording of the loaders (decrypt, infer, ...) and of inspect.
std::string protocol_version_refusal(uint16_t version, ProtocolFileKind kind);

struct ProtocolHeader {
  ProtocolFileKind kind = ProtocolFileKind::kParameterSet;
  SchemeId scheme = SchemeId::kYashe;
  uint64_t parameter_set_fingerprint = 0;
  uint64_t key_set_id = 0;
  uint64_t moduli = 0;
  uint64_t images = 0;       // ciphertext files only
  uint64_t batch_size = 0;   // ciphertext files only: images per batch, at most n
  uint64_t values = 0;       // ciphertext files only: ciphertexts per modulus and batch
  uint64_t first_image = 0;  // ciphertext files only: index of the first image (encrypt --first)
  uint64_t file_id = 0;      // ciphertext files only: random, non-zero
  uint64_t answers_file_id = 0;      // scores: the file id of the images they answer; else 0
  ImageSource source;                // ciphertext files only: images >= first_image + images
  uint64_t profile_fingerprint = 0;  // ciphertext files only: ModelProfile::fingerprint()

  uint64_t batch_count() const;
  uint64_t images_in_batch(uint64_t batch) const;
};

// The k contexts of one computation: same n, q, σ and decomposition, plaintext modulus t_i each.
// Every function below exists for both schemes (overloads on the context set, or the scheme as
// a template argument where nothing else tells it, YASHE' by default).
template <class Scheme>
using BasicContextSet = std::vector<std::shared_ptr<const typename Scheme::Context>>;
using ContextSet = BasicContextSet<yashe::Scheme>;
using BfvContextSet = BasicContextSet<bfv::Scheme>;

// `base` with t replaced by each modulus in turn. Throws std::invalid_argument for no modulus, more
// than kMaxProtocolModuli (8), or invalid parameters, before building any context.
ContextSet make_context_set(const yashe::Parameters& base, const std::vector<uint64_t>& moduli);
BfvContextSet make_context_set(const bfv::Parameters& base, const std::vector<uint64_t>& moduli);
std::vector<uint64_t> plaintext_moduli_of(const ContextSet& contexts);
std::vector<uint64_t> plaintext_moduli_of(const BfvContextSet& contexts);
uint64_t parameter_set_fingerprint(const ContextSet& contexts);
uint64_t parameter_set_fingerprint(const BfvContextSet& contexts);
uint64_t key_set_id(const std::vector<uint64_t>& key_ids);

template <class Key>
std::vector<uint64_t> key_ids_of(const std::vector<Key>& keys) {
  std::vector<uint64_t> ids;
  for (const Key& key : keys)
    ids.push_back(key.key_id);
  return ids;
}

// Reads and checks only the header (magic, kind, version, checksum, scheme byte): what a file is,
// for clear refusals before anything else is loaded. Throws std::runtime_error naming the file.
ProtocolHeader read_protocol_header(const std::string& path);
// The scheme of a protocol file (from its header), for commands that read it from the keys.
SchemeId protocol_file_scheme(const std::string& path);

// The files of a key directory (`cryptonets keygen --out-dir DIR`). The client keeps all four;
// encryption needs the parameter set and the public keys, the server the parameter set and the
// evaluation keys only.
struct KeyDirectory {
  explicit KeyDirectory(const std::string& directory);
  std::string parameters;       // DIR/params
  std::string public_keys;      // DIR/public.key
  std::string evaluation_keys;  // DIR/evaluation.key
  std::string secret_keys;      // DIR/secret.key, mode 0600
};

// ---- Parameter set and keys. save_* write atomically (serialize.hpp's AtomicFileWriter); secret
// keys with mode 0600. load_* check every record against `contexts` and the header's key set id
// against the records' key ids.

// key_set: the key set id of the keys made with it (key_set_id(key ids)), 0 for none.
void save_parameter_set(const std::string& path, const ContextSet& contexts, uint64_t key_set = 0);
void save_parameter_set(const std::string& path, const BfvContextSet& contexts,
                        uint64_t key_set = 0);
// Also checks that the k parameter sets differ only in t and that the t_i are distinct. A
// parameter set of the other scheme is refused naming both.
template <class Scheme = yashe::Scheme>
BasicContextSet<Scheme> load_parameter_set(const std::string& path);

// Each loader refuses a file of the other scheme (naming both) before reading any record.
void save_public_keys(const std::string& path, const ContextSet& contexts,
                      const std::vector<yashe::PublicKey>& keys);
void save_public_keys(const std::string& path, const BfvContextSet& contexts,
                      const std::vector<bfv::PublicKey>& keys);
std::vector<yashe::PublicKey> load_public_keys(const std::string& path, const ContextSet& contexts);
std::vector<bfv::PublicKey> load_public_keys(const std::string& path,
                                             const BfvContextSet& contexts);

void save_evaluation_keys(const std::string& path, const ContextSet& contexts,
                          const std::vector<yashe::EvaluationKey>& keys);
void save_evaluation_keys(const std::string& path, const BfvContextSet& contexts,
                          const std::vector<bfv::RelinearizationKey>& keys);
std::vector<yashe::EvaluationKey> load_evaluation_keys(const std::string& path,
                                                       const ContextSet& contexts);
std::vector<bfv::RelinearizationKey> load_evaluation_keys(const std::string& path,
                                                          const BfvContextSet& contexts);

void save_secret_keys(const std::string& path, const ContextSet& contexts,
                      const std::vector<yashe::SecretKey>& keys);
void save_secret_keys(const std::string& path, const BfvContextSet& contexts,
                      const std::vector<bfv::SecretKey>& keys);
std::vector<yashe::SecretKey> load_secret_keys(const std::string& path, const ContextSet& contexts);
std::vector<bfv::SecretKey> load_secret_keys(const std::string& path,
                                             const BfvContextSet& contexts);

// ---- Key sets by role (encoding/plaintext_crt.hpp) as key-directory files, for either scheme.
// Every loader refuses a file of the other scheme naming both, and checks that the files it reads
// carry one key set id (require_one_key_set).

// The client's key directory: all four files (each written atomically; keygen stages the whole
// directory and swaps it in).
template <class Scheme>
void save_key_directory(const KeyDirectory& files, const encoding::BasicCrtKeys<Scheme>& keys);
// What encrypts: the parameter set and the public keys.
template <class Scheme = yashe::Scheme>
encoding::BasicEncryptionKeys<Scheme> load_encryption_keys(const std::string& parameters,
                                                           const std::string& public_keys);
// SecretKeyRecordsError (serialize.hpp): what load_server_keys throws for secret key records
// inside a key file (under its header, or appended after its records).
// What the server holds: the parameter set, the evaluation keys and the public keys. A secret key
// file given for any of them is refused by name ("the server never holds the secret key"),
// before anything is loaded, whatever its scheme; so are secret key records under the header of
// a key file and a secret key appended after a key file's records (SecretKeyRecordsError, above,
// before any context is built). The parameter set's records are read first, and
// key files (of the right kind, scheme and parameter set) whose size is not the one those
// parameters give are refused ("truncated", "trailing bytes") before any context is built: the
// keys come from the service's clients, and a parameter set of a few kilobytes can ask for tens of
// gigabytes of tables.
template <class Scheme = yashe::Scheme>
encoding::BasicServerKeys<Scheme> load_server_keys(const std::string& parameters,
                                                   const std::string& evaluation_keys,
                                                   const std::string& public_keys);
// What decrypts: the parameter set and the secret keys.
template <class Scheme = yashe::Scheme>
encoding::BasicDecryptionKeys<Scheme> load_decryption_keys(const std::string& parameters,
                                                           const std::string& secret_keys);
// Whether `path` is a regular file that starts as a file of secret keys: the protocol file magic
// "CNPF" or a single record's "CNET", then the kind byte 'S', whatever the format version, the
// rest of the header or the file's name. Reads those 5 bytes only; false for anything else, a
// file that cannot be opened (a secret key the caller cannot read is not exposed to it) and
// anything not a regular file (not opened: a device's open can act by itself; one put in place
// after the check is opened without blocking and not read).
bool starts_as_secret_keys(const std::string& path);
// What a file of this project's binary formats is, from its first 6 bytes alone (the magic "CNPF"
// or a single record's "CNET", the kind byte and the scheme byte; any format version, nothing
// else checked, so a damaged file is named too), for a reader of another format to say what it
// was given: "a cryptonets evaluation key file (YASHE')", "a cryptonets ciphertext file (BFV)",
// "a cryptonets parameter set (YASHE')", "a single cryptonets secret key record (BFV)". nullopt
// for anything else (an unknown kind or scheme byte too), a file that cannot be opened, and
// anything not a regular file (not opened, as for starts_as_secret_keys).
std::optional<std::string> cryptonets_binary_kind(const std::string& path);
// The first (by name) entry at the top level of `directory` for which starts_as_secret_keys
// holds, as directory + "/" + name (name alone for "."); nullopt when there is none or the
// directory cannot be read (its files are then refused or read by whoever opens them).
// Subdirectories are not searched.
std::optional<std::string> secret_keys_in_directory(const std::string& directory);
// std::runtime_error naming `path` if it starts as a file of secret keys (starts_as_secret_keys:
// any format version); any other file is left to the loader that reads it.
void refuse_secret_key_file(const std::string& path);

// The files among `paths` that exist (a key directory's, or those given to a command) must carry
// one key set id, and it must not be 0: std::runtime_error naming two files that do not belong
// together otherwise ("do not belong together": e.g. a keygen that failed midway under an older
// version, or files copied from different key sets). Reads headers only. A path that exists and
// is not a regular file (a FIFO, a socket, a device) is refused before it is opened
// (std::runtime_error, "it is a FIFO (named pipe), not a regular file"), since opening a FIFO
// waits for a writer.
void require_one_key_set(const std::vector<std::string>& paths);

// Where a client gets the server's model profile: from the server's operator, who makes it with
// `cryptonets profile --model MODEL --out FILE` (infer), or from the service itself with
// `cryptonets client profile --server URL --out FILE` (GET /v1/profile).
enum class ProfileSource { kOperator, kService };

// Why a ciphertext file (`file`: "file 'x.ct'", "the body") whose header records the model
// profile fingerprint `found` is refused by a server whose model's profile has `expected`
// (profile_fingerprint(model)): names both fingerprints and what the client does about it (fetch
// the server's profile as `source` says, keygen and encrypt with it). The one wording of infer
// and the service.
std::string other_profile_refusal(const std::string& file, uint64_t found, uint64_t expected,
                                  ProfileSource source = ProfileSource::kOperator);

// The binding that follows ciphertext record `index` of `count` in file `file_id` (format above).
std::array<uint8_t, kProtocolBindingBytes> encode_binding(uint64_t file_id, uint64_t index,
                                                          uint64_t count,
                                                          const Sha256::Digest& record_digest);

// Throws std::runtime_error ("<a_what> and <b_what> come from different key generations") unless
// the key ids agree modulus by modulus.
void require_same_keys(const std::vector<uint64_t>& a, const std::string& a_what,
                       const std::vector<uint64_t>& b, const std::string& b_what);

// ---- Ciphertext files, streamed batch by batch so that a batch is never held twice.

template <class Scheme>
class BasicCiphertextFileWriter {
 public:
  // A file of `images` images, those numbered first_image .. first_image + images - 1 in the
  // client's image file `source`, encrypted with the model profile of fingerprint
  // `profile_fingerprint` (ModelProfile::fingerprint(); scores: that of the images), in batches of
  // `batch_size` (1..n), `values` ciphertexts per modulus and batch, under the keys `key_ids` (one
  // per modulus). std::invalid_argument if first_image + images wraps or exceeds source.images.
  // Nothing appears at `path` before commit(); destroying an uncommitted writer leaves no file
  // behind. The file gets a random file id; answers_file_id: for scores, the file id of the images
  // file they answer (0 otherwise). owner_only: the file gets mode 0600 whatever the umask (the
  // service's state directory), else 0644 less the umask.
  BasicCiphertextFileWriter(const std::string& path, BasicContextSet<Scheme> contexts,
                            std::vector<uint64_t> key_ids, uint64_t profile_fingerprint,
                            const ImageSource& source, uint64_t first_image, uint64_t images,
                            uint64_t batch_size, uint64_t values, uint64_t answers_file_id = 0,
                            bool owner_only = false);

  const ProtocolHeader& header() const { return header_; }
  uint64_t batches_written() const { return batches_written_; }

  // Writes the next batch (its image count, shape and key ids must be those the header promises:
  // std::invalid_argument before anything is written otherwise, also for a ciphertext that
  // the scheme's readable_without_secret_key finds transparent) and releases each ciphertext once
  // written; `tick` is called after each ciphertext. After a failure midway (std::runtime_error)
  // the writer refuses further writes and commit().
  void write(inference::EncryptedBatch batch, const std::function<void()>& tick = {});
  // std::logic_error unless every batch was written; std::runtime_error if the file system fails.
  void commit();

 private:
  std::string path_;
  BasicContextSet<Scheme> contexts_;
  std::vector<uint64_t> key_ids_;
  ProtocolHeader header_;
  AtomicFileWriter file_;
  uint64_t batches_written_ = 0;
  bool failed_ = false;  // a write threw midway: the file is unusable
};

template <class Scheme>
class BasicCiphertextFileReader {
 public:
  // Opens the file and checks its header against the scheme, the parameter set and the key ids
  // (one per modulus) before any ciphertext is read.
  BasicCiphertextFileReader(const std::string& path, BasicContextSet<Scheme> contexts,
                            const std::vector<uint64_t>& key_ids);

  const ProtocolHeader& header() const { return header_; }
  uint64_t batches_left() const { return header_.batch_count() - batches_read_; }

  // The next batch; returns only after every record's checksum has been verified. `tick` is called
  // after each ciphertext.
  inference::EncryptedBatch next(const std::function<void()>& tick = {});
  // Refuses bytes after the last batch (and batches left unread: std::logic_error).
  void finish();

 private:
  void read_header_and_check();  // the constructor's checks
  inference::EncryptedBatch read_batch(const std::function<void()>& tick);  // next()'s reads
  void diagnose_record_order();
  void check_binding(uint64_t index, const Sha256::Digest& digest, const std::string& source);
  std::string describe_record(uint64_t index) const;

  std::string path_;
  std::string source_;
  BasicContextSet<Scheme> contexts_;
  std::vector<uint64_t> key_ids_;
  std::ifstream in_;
  ProtocolHeader header_;
  uint64_t batches_read_ = 0;
};

using CiphertextFileWriter = BasicCiphertextFileWriter<yashe::Scheme>;
using CiphertextFileReader = BasicCiphertextFileReader<yashe::Scheme>;
using BfvCiphertextFileWriter = BasicCiphertextFileWriter<bfv::Scheme>;
using BfvCiphertextFileReader = BasicCiphertextFileReader<bfv::Scheme>;

}  // namespace cryptonets
