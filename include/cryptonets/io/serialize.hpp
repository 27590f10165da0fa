// Binary files for the objects of both schemes (YASHE', BFV): parameters, keys and ciphertext
// batches.
//
// Every object is one record (all integers little-endian; FORMATS.md §4 is the specification):
//
//   header   32 bytes  "CNET" | kind (1 byte: 'P' parameters, 'K' public key, 'E' evaluation key,
//                      'S' secret key, 'C' ciphertext batch) | scheme (1 byte: 'Y' YASHE',
//                      'B' BFV; scheme_id.hpp) | format version (uint16) | parameter fingerprint
//                      (uint64, Parameters::fingerprint()) | key id (uint64, 0 for parameters) |
//                      payload length in bytes (uint64)
//   payload  64-bit words, layout per kind below
//   checksum 32 bytes  SHA-256 (FIPS 180-4) of header and payload
//
// Payloads (version 3):
//   P  n, k, q_1..q_k, t, sigma (IEEE-754 bits), decomposition_bits
//   K  form, the key's polynomials: YASHE' h; BFV p_0, p_1
//   E  form, digit count D, then per digit: YASHE' γ_d; BFV b_d, a_d
//   S  the ternary secret (YASHE' f', BFV s) packed 2 bits per coefficient (0 → 0, 1 → 1,
//      2 → -1), 32 per word; YASHE's f = t·f' + 1 and BFV's NTT form of s are rebuilt on load
//   C  count, parts per ciphertext m, then per ciphertext: degree, form, c_0..c_{m-1}
//      (YASHE': m = 1, degree 1 or 2; BFV: m = degree + 1, degree 1 or 2)
// Version history: version 1 also stored each ciphertext's noise estimate (IEEE-754 bits), which
// is a function of the computation that made it, so a server's outputs revealed the model in
// clear (issue 14); version 2 had no scheme byte (byte 5 reserved, 0: YASHE' only) and no parts
// word. Older versions are refused by name ("record format version 2 is no longer supported; this
// build reads 3"; record_version_refusal).
// The noise estimate lives in memory only: a loaded ciphertext carries that of a fresh encryption
// (NoiseModel::fresh()), the right one for the client's inputs; decrypt measures the noise of the
// scores with the secret key.
// form is 0 for coefficient form (ciphertexts), 1 for evaluation (NTT) form (keys). A polynomial
// is k residue rows; row i is bit-packed at the width of q_i (55 bits for a 55-bit prime instead
// of 64), least significant bit first, padded with zero bits to a whole word.
//
// Loading checks, in this order, and throws std::runtime_error naming the source, the field and
// what was expected: magic and kind, version, scheme (a record of the other scheme is refused
// naming both), the declared length against the bytes present ("truncated", and for whole files
// "trailing bytes"), the checksum ("corrupted: checksum mismatch"), the fingerprint against the
// Context given ("made for other parameters"), then the content (sizes match n and k, every
// residue below its prime, degree 1 or 2, the secret ternary, ...).
// When a later check fails before the checksum has been read, the rest of the record is read and
// hashed first, so that a damaged file is always reported as damaged. Sizes are never trusted
// before they are checked: memory grows only with bytes actually read.
//
// Key ids are kept: a loaded ciphertext still refuses to decrypt under another key pair.
//
// Every function exists for both schemes: the YASHE' overloads take yashe:: types, the BFV ones
// bfv:: types; read_parameters and load_parameters take the scheme as a template argument
// (YASHE' by default), and the streaming classes are templates with the aliases CiphertextWriter
// (YASHE') and BfvCiphertextWriter, and so on.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "cryptonets/bfv/context.hpp"
#include "cryptonets/bfv/types.hpp"
#include "cryptonets/io/scheme_id.hpp"
#include "cryptonets/io/sha256.hpp"
#include "cryptonets/yashe/context.hpp"
#include "cryptonets/yashe/types.hpp"

namespace cryptonets {

// A secret key's records where another kind was expected (a record read as a ciphertext batch or
// a key, or under a key file's header, or after its records): the same refusal as a secret key
// file's, told apart from damage so that the service answers all alike (422, server.hpp).
class SecretKeyRecordsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline constexpr uint16_t kSerializationVersion = 3;
inline constexpr size_t kSerializationHeaderBytes = 32;
inline constexpr size_t kSerializationChecksumBytes = 32;

// Why a record of format `version` (not kSerializationVersion) is refused, and what to do:
// "record format version 2 is no longer supported; this build reads 3 (written by an older
// cryptonets: make the file again with this version)", "record format version 4, this build
// reads 3 (written by a newer cryptonets)", or, for 0, which no cryptonets wrote, "record format
// version 0 is not a valid version; this build reads 3 (the file is damaged or was not written by
// cryptonets)". The one wording of the loaders (decrypt, infer, ...) and of inspect.
std::string record_version_refusal(uint16_t version);

// ---- Whole objects. `source_name` appears in error messages ("stream" if not given); the file
// variants use the path and also refuse bytes after the checksum. Writers throw
// std::invalid_argument for an object that does not belong to the context (ring, form, sizes) and
// std::runtime_error when the output fails. save_* writes a temporary file in the same directory
// and renames it into place, so a failed save leaves any previous file intact.

void write_parameters(std::ostream& out, const yashe::Parameters& params);
void write_parameters(std::ostream& out, const bfv::Parameters& params);
template <class Scheme = yashe::Scheme>
typename Scheme::Parameters read_parameters(std::istream& in,
                                            const std::string& source_name = "stream");
void save_parameters(const std::string& path, const yashe::Parameters& params);
void save_parameters(const std::string& path, const bfv::Parameters& params);
template <class Scheme = yashe::Scheme>
typename Scheme::Parameters load_parameters(const std::string& path);

void write_public_key(std::ostream& out, const yashe::Context& context,
                      const yashe::PublicKey& key);
void write_public_key(std::ostream& out, const bfv::Context& context, const bfv::PublicKey& key);
yashe::PublicKey read_public_key(std::istream& in,
                                 const std::shared_ptr<const yashe::Context>& context,
                                 const std::string& source_name = "stream");
bfv::PublicKey read_public_key(std::istream& in, const std::shared_ptr<const bfv::Context>& context,
                               const std::string& source_name = "stream");
void save_public_key(const std::string& path, const yashe::Context& context,
                     const yashe::PublicKey& key);
void save_public_key(const std::string& path, const bfv::Context& context,
                     const bfv::PublicKey& key);
yashe::PublicKey load_public_key(const std::string& path,
                                 const std::shared_ptr<const yashe::Context>& context);
bfv::PublicKey load_public_key(const std::string& path,
                               const std::shared_ptr<const bfv::Context>& context);

// The evaluation key: YASHE's key-switching key γ, BFV's relinearisation key.
void write_evaluation_key(std::ostream& out, const yashe::Context& context,
                          const yashe::EvaluationKey& key);
void write_evaluation_key(std::ostream& out, const bfv::Context& context,
                          const bfv::RelinearizationKey& key);
yashe::EvaluationKey read_evaluation_key(std::istream& in,
                                         const std::shared_ptr<const yashe::Context>& context,
                                         const std::string& source_name = "stream");
bfv::RelinearizationKey read_evaluation_key(std::istream& in,
                                            const std::shared_ptr<const bfv::Context>& context,
                                            const std::string& source_name = "stream");
void save_evaluation_key(const std::string& path, const yashe::Context& context,
                         const yashe::EvaluationKey& key);
void save_evaluation_key(const std::string& path, const bfv::Context& context,
                         const bfv::RelinearizationKey& key);
yashe::EvaluationKey load_evaluation_key(const std::string& path,
                                         const std::shared_ptr<const yashe::Context>& context);
bfv::RelinearizationKey load_evaluation_key(const std::string& path,
                                            const std::shared_ptr<const bfv::Context>& context);

// Secret key files are created with mode 0600 (an existing file is replaced by one with 0600).
void write_secret_key(std::ostream& out, const yashe::Context& context,
                      const yashe::SecretKey& key);
void write_secret_key(std::ostream& out, const bfv::Context& context, const bfv::SecretKey& key);
yashe::SecretKey read_secret_key(std::istream& in,
                                 const std::shared_ptr<const yashe::Context>& context,
                                 const std::string& source_name = "stream");
bfv::SecretKey read_secret_key(std::istream& in, const std::shared_ptr<const bfv::Context>& context,
                               const std::string& source_name = "stream");
void save_secret_key(const std::string& path, const yashe::Context& context,
                     const yashe::SecretKey& key);
void save_secret_key(const std::string& path, const bfv::Context& context,
                     const bfv::SecretKey& key);
yashe::SecretKey load_secret_key(const std::string& path,
                                 const std::shared_ptr<const yashe::Context>& context);
bfv::SecretKey load_secret_key(const std::string& path,
                               const std::shared_ptr<const bfv::Context>& context);

// A batch shares one key id and one number of parts; every ciphertext must be in coefficient
// form. An empty batch is written with key id 0. read/load return only after the checksum has
// been verified.
void write_ciphertexts(std::ostream& out, const yashe::Context& context,
                       const std::vector<rlwe::Ciphertext>& batch);
void write_ciphertexts(std::ostream& out, const bfv::Context& context,
                       const std::vector<rlwe::Ciphertext>& batch);
std::vector<rlwe::Ciphertext> read_ciphertexts(std::istream& in,
                                               const std::shared_ptr<const yashe::Context>& context,
                                               const std::string& source_name = "stream");
std::vector<rlwe::Ciphertext> read_ciphertexts(std::istream& in,
                                               const std::shared_ptr<const bfv::Context>& context,
                                               const std::string& source_name = "stream");
void save_ciphertexts(const std::string& path, const yashe::Context& context,
                      const std::vector<rlwe::Ciphertext>& batch);
void save_ciphertexts(const std::string& path, const bfv::Context& context,
                      const std::vector<rlwe::Ciphertext>& batch);
std::vector<rlwe::Ciphertext> load_ciphertexts(
    const std::string& path, const std::shared_ptr<const yashe::Context>& context);
std::vector<rlwe::Ciphertext> load_ciphertexts(const std::string& path,
                                               const std::shared_ptr<const bfv::Context>& context);

// The exact size in bytes of a ciphertext batch record of `count` ciphertexts of `parts`
// polynomials each (header, payload and checksum): what a client sends or receives for that many
// ciphertexts. parts 0: that of a fresh encryption (1 for YASHE', 2 for BFV).
uint64_t ciphertext_batch_bytes(const yashe::Context& context, uint64_t count, size_t parts = 0);
uint64_t ciphertext_batch_bytes(const bfv::Context& context, uint64_t count, size_t parts = 0);

// The exact size in bytes of a public key record and of an evaluation key record (header, payload
// and checksum) under `params`, computed from the parameters alone: what a key file must hold
// before any context is built for it (building one costs far more memory than its parameters
// record takes; protocol_files.hpp, load_server_keys).
uint64_t public_key_record_bytes(const yashe::Parameters& params);
uint64_t public_key_record_bytes(const bfv::Parameters& params);
uint64_t evaluation_key_record_bytes(const yashe::Parameters& params);
uint64_t evaluation_key_record_bytes(const bfv::Parameters& params);

// ---- Streaming, for batches too large to hold twice in memory.

// Writes the header at once (the count and the parts per ciphertext must be known up front: they
// fix the payload length), then one ciphertext per append(); finish() writes the checksum and
// throws std::logic_error unless exactly `count` ciphertexts were appended.
class RecordWriter;  // serialize.cpp
class HashingReader;

template <class Scheme>
class BasicCiphertextWriter {
 public:
  // parts 0: that of a fresh encryption (1 for YASHE', 2 for BFV). std::invalid_argument for a
  // number of parts the scheme does not have.
  BasicCiphertextWriter(std::ostream& out, std::shared_ptr<const typename Scheme::Context> context,
                        uint64_t count, uint64_t key_id, size_t parts = 0);
  ~BasicCiphertextWriter();
  BasicCiphertextWriter(const BasicCiphertextWriter&) = delete;
  BasicCiphertextWriter& operator=(const BasicCiphertextWriter&) = delete;

  // std::invalid_argument if the ciphertext has another key id, ring, form, degree or number of
  // parts, or if `count` ciphertexts were already appended.
  void append(const rlwe::Ciphertext& ct);
  // Returns the record's SHA-256 checksum (what protocol files bind to a position).
  Sha256::Digest finish();

 private:
  std::unique_ptr<RecordWriter> writer_;
  std::shared_ptr<const typename Scheme::Context> context_;
  uint64_t count_;
  uint64_t key_id_;
  size_t parts_;
  uint64_t written_ = 0;
};

// Reads a batch one ciphertext at a time. The checksum covers the whole batch and can only be
// checked at the end: a ciphertext returned by next() is NOT yet authenticated against accidental
// damage, and the caller must not act on any result (decrypt, evaluate, write out) before
// finish() has returned. finish() throws std::logic_error if ciphertexts are left unread.
// `whole_input`: the batch must end the stream (file variants), trailing bytes are an error.
template <class Scheme>
class BasicCiphertextReader {
 public:
  BasicCiphertextReader(std::istream& in, std::shared_ptr<const typename Scheme::Context> context,
                        std::string source_name = "stream", bool whole_input = false);
  ~BasicCiphertextReader();
  BasicCiphertextReader(const BasicCiphertextReader&) = delete;
  BasicCiphertextReader& operator=(const BasicCiphertextReader&) = delete;

  uint64_t count() const { return count_; }
  uint64_t remaining() const { return count_ - read_; }
  uint64_t key_id() const { return key_id_; }
  size_t parts() const { return parts_; }
  rlwe::Ciphertext next();  // std::logic_error if remaining() == 0
  // Returns the verified SHA-256 checksum of the record.
  Sha256::Digest finish();

 private:
  std::unique_ptr<HashingReader> reader_;
  std::shared_ptr<const typename Scheme::Context> context_;
  uint64_t count_ = 0;
  uint64_t read_ = 0;
  uint64_t key_id_ = 0;
  size_t parts_ = 0;
  double fresh_noise_log2_ = 0;
};

using CiphertextWriter = BasicCiphertextWriter<yashe::Scheme>;
using CiphertextReader = BasicCiphertextReader<yashe::Scheme>;
using BfvCiphertextWriter = BasicCiphertextWriter<bfv::Scheme>;
using BfvCiphertextReader = BasicCiphertextReader<bfv::Scheme>;

// ---- Files written atomically.

// Gives the open file `fd` back the owner's read and write bits of `mode` that the umask took
// (umask 0777 made keygen's public files and a fetch's scores mode 0000, which the same user's
// next command could not read); group and other bits stay as the umask left them. Returns false,
// errno set, if fstat or fchmod fails.
bool keep_owner_read_write(int fd, unsigned mode);

// The new file of an atomic replacement of `target` (a path with its links already followed:
// file_replaced_by_write), for AtomicFileWriter and for writers that reopen it by name (the
// tools' named outputs, cli ToolOutput). The constructor makes it in the directory of `target`
// with `mode` less the umask: an unnamed file (Linux O_TMPFILE) where the file system and /proc
// allow, which whatever ends the process (SIGKILL included) leaves nothing of; else a named
// temporary "<target>.tmp-<pid>-<n>", removed by discard() or the destructor, and by the next
// ReplacementFile of the same target if the process was killed (stale ones are removed first).
// Throws std::system_error (errno: EACCES, EROFS, ENOSPC, ...) naming `target` if no file can
// be made there.
class ReplacementFile {
 public:
  ReplacementFile(std::string target, unsigned mode);
  ~ReplacementFile();  // discard()
  ReplacementFile(const ReplacementFile&) = delete;
  ReplacementFile& operator=(const ReplacementFile&) = delete;

  int fd() const { return fd_; }
  // The file by name, to be reopened for writing or reading back: "/proc/self/fd/N" for the
  // unnamed file, else the named temporary.
  const std::string& path() const { return path_; }
  // fsyncs the file, names it (an unnamed one: linked under a temporary name, since linkat
  // cannot replace a file), closes it and renames it over `target` (atomic: a reader sees the
  // old file or the new one, never a part); then fsyncs the directory. On failure the file is
  // discarded and `target` untouched: std::system_error (errno) "cannot write 'TARGET': STEP
  // failed".
  void replace();
  // Names the file `target` only if that name is free, never replacing a file, directory or link
  // (dangling too) there: linkat(2) of the unnamed file; renameat2 with RENAME_NOREPLACE of a
  // named temporary, or link(2) then unlink where the file system has no such rename. No fsync
  // (the tools' default outputs). On failure the file is discarded: std::system_error with errno
  // EEXIST if the name was taken, another errno otherwise.
  void link_as_new();
  // Closes and removes the file (nothing once replace() succeeded); idempotent.
  void discard() noexcept;

 private:
  std::string target_;
  std::string path_;
  std::string temp_path_;  // the named temporary, "" while the file has no name
  int fd_ = -1;
  bool replaced_ = false;
};

// Files written through a stream: a ReplacementFile of `path` (links followed), renamed over
// `path` by commit(); destroying an uncommitted writer discards it. owner_only: mode 0600
// (set with fchmod as well, whatever the umask); otherwise 0644 less the umask.
//
// What is replaced: a symbolic link is followed, so the file it names is replaced and the link
// stays. The constructor throws std::runtime_error, before anything is written, if the path
// (after links) exists and is not a regular file (a device such as /dev/null, a directory, a
// FIFO, a socket: renaming over it would replace the device node itself) or its directory does
// not exist, and, unless may_replace_keys (the key and parameter-set writers only), if it is a key
// file, a parameter set or, unless may_replace_profile (the profile writer), a model profile
// (refuse_to_replace_key_file); and std::system_error (errno) if the temporary file cannot be
// created (ENOSPC, EACCES, ...).
class AtomicFileWriter {
 public:
  AtomicFileWriter(std::string path, bool owner_only, bool may_replace_keys = false,
                   bool may_replace_profile = false);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  std::ostream& stream();
  // Why the stream failed ("File too large", "No space left on device", ...), for messages.
  std::string failure() const;
  // Flushes, fsyncs, closes and renames into place; throws std::system_error (errno: ENOSPC,
  // EDQUOT, EIO, ...) naming the path and the step that failed.
  void commit();

 private:
  class FdBuffer;
  void discard() noexcept;

  std::string path_;
  std::unique_ptr<ReplacementFile> file_;
  std::unique_ptr<FdBuffer> buffer_;
  std::unique_ptr<std::ostream> stream_;
};

// Throws std::runtime_error if `path` exists and is a parameter set or key file (protocol or
// record format, kinds P, K, E, S), or, unless may_replace_profile, a model profile (a text file
// that starts with "cryptonets-profile": a key set's DIR/model.profile, which encrypt and decrypt
// use): the commands call it on their outputs, since writing scores or CSV over secret.key would
// lose the key for good (keygen replaces key sets as whole directories). Anything else, or a path
// that does not exist, passes.
void refuse_to_replace_key_file(const std::string& path, bool may_replace_profile = false);

// Whether the process `pid` has ended, so that what it left half made (a named temporary, a
// keygen's staging directory) can be removed: there is no such process, or it is a zombie (state
// Z or X in /proc/PID/stat: killed, and not yet reaped by a parent that does not wait for it),
// which runs no more code. False for a live process, one of another user (kill says EPERM), and a
// pid that no process can have (above pid_t's range): those are never cleaned after.
bool process_has_ended(long pid);

// The file a write to `path` replaces: `path` itself, or the end of its chain of symbolic links
// (AtomicFileWriter writes there). Throws std::runtime_error if that exists and is not a regular
// file (a device such as /dev/null, a directory, a FIFO, a socket), if its directory does not
// exist (or is not a directory), or if a link cannot be followed. The commands call it on their
// outputs before any work, so that a bad output path fails before the work, not after it.
std::string file_replaced_by_write(const std::string& path);

}  // namespace cryptonets
