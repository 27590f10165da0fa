// Shared pieces of the command-line tools: option parsing with generated --help, exit codes,
// progress bars, and locating the shipped data.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <istream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cryptonets/arith/format.hpp"
#include "cryptonets/bfv/parameters.hpp"
#include "cryptonets/io/idx.hpp"
// printable_text: every message prints the file names the user gave through it (one printable
// line each: a name with a newline could forge a line of output, one with ESC drive the terminal).
#include "cryptonets/io/inspect.hpp"
#include "cryptonets/io/protocol_files.hpp"
#include "cryptonets/io/sha256.hpp"
#include "cryptonets/yashe/parameters.hpp"

namespace cryptonets {
class ReplacementFile;  // io/serialize.hpp: ToolOutput's new file
}

namespace cryptonets::cli {

// Exit codes of every subcommand.
inline constexpr int kExitSuccess = 0;
inline constexpr int kExitFailure = 1;  // bad input file, refused operation, failed check
inline constexpr int kExitUsage = 2;    // unknown option, missing or malformed value

// Wrong use of the command line (reported with a pointer to --help, exit code 2). The pointer
// names help_command ("client infer": "see cryptonets client infer --help") when it is set, else
// the command itself.
class UsageError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
  UsageError(const std::string& message, std::string help_command)
      : std::invalid_argument(message), help_command_(std::move(help_command)) {}
  const std::string& help_command() const { return help_command_; }

 private:
  std::string help_command_;
};

// Options of one subcommand: "--name VALUE" (or "--name=VALUE") and boolean "--name". Every
// subcommand gets --help (also spelt -h). Positional arguments are refused.
class OptionParser {
 public:
  // For a subcommand: "usage: cryptonets <command> [options]".
  OptionParser(std::string command, std::string summary);
  // For a standalone executable such as cryptonets-train: "usage: <program> [options]".
  static OptionParser for_program(std::string program, std::string summary);

  // A value option; without a default it is optional (has() tells) unless `required`.
  void add_value(const std::string& name, const std::string& metavar, const std::string& help,
                 std::optional<std::string> default_value = std::nullopt, bool required = false);
  void add_flag(const std::string& name, const std::string& help);
  // An option that another form of the command takes and this one does not (infer's --groups
  // outside mpirun): parse() throws UsageError("--NAME " + reason) for it, where it would say
  // only "unknown option". Not listed in the usage.
  void add_refused(const std::string& name, const std::string& reason);

  // Throws UsageError for unknown options, missing values or missing required options. Returns
  // false when --help was given (the usage has been printed to stdout).
  bool parse(std::span<char* const> arguments);
  std::string usage() const;

  bool has(const std::string& name) const;    // given, or has a default
  bool given(const std::string& name) const;  // given on the command line (not a default)
  bool declared(const std::string& name) const;
  bool flag(const std::string& name) const;
  std::string text(const std::string& name) const;
  // Integers and reals with range checks ("--threads expects an integer in [1, 256], got 'x'").
  int64_t integer(const std::string& name, int64_t low, int64_t high) const;
  double real(const std::string& name, double low, double high) const;

 private:
  struct Spec {
    std::string metavar;  // empty for flags
    std::string help;
    std::optional<std::string> default_value;
    bool required = false;
  };
  const Spec& spec(const std::string& name) const;

  std::string invocation_;  // what the usage line shows before [options]
  std::string summary_;
  std::vector<std::string> order_;
  std::map<std::string, Spec> specs_;
  std::map<std::string, std::string> refused_;  // add_refused: name -> reason
  std::map<std::string, std::string> values_;
};

// A closed standard stream's descriptor would be reused by the next file opened: a key file would
// then receive the report printed to stdout (a trial ran keygen with stdout closed: exit 0, no
// error). Gives a closed stdin or stderr /dev/null; a closed stdout, where the programs print
// their results, is refused with a message prefixed by `program`: returns false (the caller
// exits kExitUsage before any work).
bool standard_streams_open(const std::string& program);

// `status`, or kExitFailure if what the program printed could not be written to standard output
// (a full disk, /dev/full), said on stderr with `program` first.
int checked_stdout(int status, const std::string& program);

// The main() of a standalone executable: runs `run` on the arguments after the program name and
// maps its exceptions to the exit codes above, with messages prefixed by `program` and made
// printable (printable_text: the messages name files as given); refuses a closed stdout and
// reports one that could not be written (the two functions above). SIGXFSZ is ignored, so that a
// write past a file-size limit fails with EFBIG and is reported (exit 1) instead of ending the
// process without a word.
int run_standalone(const std::string& program, int (*run)(std::span<char* const>), int argc,
                   char** argv);

// A progress bar on stderr, drawn only when stderr is a terminal and CI is not set (quiet in
// pipes, logs and CI). advance() may be called from any thread; redraws at most 10 times a second.
// With log_every_seconds > 0, where no bar is drawn it writes instead one whole line
// ("label: done / total (p%), s") every log_every_seconds and one when done, for long steps whose
// progress belongs in a log.
class Progress {
 public:
  Progress(std::string label, size_t total, double log_every_seconds = 0);
  ~Progress();  // clears the bar
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void advance(size_t steps = 1);
  static bool enabled();

 private:
  void draw(size_t done);

  std::string label_;
  size_t total_;
  std::atomic<size_t> done_{0};
  std::mutex mutex_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
  bool active_;
  double log_every_seconds_;  // 0: no lines
};

// One progress bar at a time for a pipeline's stages (the StageProgress callback of
// inference/private_inference.hpp): a new bar whenever the (stage, modulus) pair changes.
// Thread-safe.
class StageProgressBars {
 public:
  void update(const std::string& stage, size_t modulus, size_t done, size_t total);
  void finish();  // clears the current bar (call before printing anything)

 private:
  std::mutex mutex_;
  std::string key_;
  std::unique_ptr<Progress> bar_;
};

// An output path that cannot be written as a file is a UsageError naming --`option` (exit 2, as
// every bad output path): empty; not a regular file path (a device, a FIFO, a directory,
// /dev/stdout or anything under /proc: outputs are written atomically, through a temporary file
// renamed into place); in a directory that does not exist, or under a parent that is no
// directory; or a link that cannot be followed (file_replaced_by_write). Checked before any work.
void require_output_path(const std::string& option, const std::string& path);
// require_output_path for an output that may be left at its default (`named` false): its
// UsageError then ends with missing_default_hint's reason when the default's directory is not
// there. A bare cryptonets-train outside the repository said only "--out: cannot write file
// 'data/model-float.txt': its directory 'data' does not exist", as if --out had been given.
void require_output_path(const std::string& option, const std::string& path, bool named);

// One output left at its default: the option's name with its dashes ("--out") and the path.
struct DefaultOutput {
  std::string option;
  std::string path;
};

// The default outputs are relative to the current directory, so a bare run of a tool from the
// repository would replace shipped data (data/model.txt, bench/results/...). Returns
// "'PATH' (the default of OPTION, not given)" for each of `defaults` (outputs the user did not
// name) that already exists, even as a dangling link, joined with " and "; empty if none. The
// callers refuse with it before any work; an output named on the command line is replaced.
std::string existing_default_outputs(const std::vector<DefaultOutput>& defaults);

// One output of a tool that writes through a plain stream (cryptonets-train, -quantise,
// -reproduce), from the first write to the name it ends up under. Either way it is written to a
// new file (io ReplacementFile), made by the constructor (so a tool constructs its outputs at
// start-up) in the directory of the file it is to become: unnamed where the file system allows
// (Linux O_TMPFILE: whatever ends the process, SIGKILL included, nothing is left behind), else a
// named temporary "FILE.tmp-PID-N" (removed by the destructor when not published; one a SIGKILL
// left is removed by the next run writing FILE). Mode 0666 less the umask, for a replaced file
// too (its old mode is not kept). A path named on the command line (`named`) is replaced, as
// each tool's --help says, atomically by publish(): the file replaced is the one a write would
// replace (file_replaced_by_write: a symbolic link is followed, and stays); until then, and if
// the run fails or is killed (a full disk, a file-size limit, SIGKILL), the old file is
// untouched. A default takes the default name only if that name is still free:
// existing_default_outputs checks at start-up, but a file that appeared during the run (hours of
// training) was replaced at the end.
class ToolOutput {
 public:
  // `option`: "--out", as DefaultOutput's. Throws std::runtime_error for a named path that
  // file_replaced_by_write refuses (the tools refuse those with require_output_path first), and
  // std::system_error if the directory cannot hold a new file (EACCES, EROFS, ENOSPC, ...):
  // found before the work.
  ToolOutput(std::string option, std::string path, bool named);
  ~ToolOutput();  // discards the new file unless published
  ToolOutput(const ToolOutput&) = delete;
  ToolOutput& operator=(const ToolOutput&) = delete;

  // Where to write: "/proc/self/fd/N" for the unnamed file (open it for writing, and for reading
  // back, as a file of that name), or the named temporary. Messages should name path(), not
  // this.
  const std::string& write_path();
  // What the user knows the output as.
  const std::string& path() const { return path_; }
  // Named on the command line (replaces its file), or a default (takes a free name only).
  bool named() const { return named_; }
  // Writes `bytes` to the new file (after what an earlier call wrote). Throws std::system_error
  // "cannot write 'PATH': REASON" (strerror: "File too large" under a file-size limit, "No space
  // left on device") and discards the file: nothing partial is published. A tool that renders
  // its output into a string and writes it here says why a write failed (its std::ofstream did
  // not). Counts as write_path() for publish().
  void write(std::string_view bytes);
  // Gives the file written its name; write_path() must have been called (std::logic_error). A
  // named path is replaced atomically (ReplacementFile::replace: fsync, rename over it); on
  // failure std::system_error, the old file untouched. A default takes its name without
  // replacing anything (ReplacementFile::link_as_new); throws std::runtime_error "refusing to
  // replace 'PATH' (the default of OPTION, not given), which appeared while PROGRAM ran ..." if a
  // file, directory or link (dangling too) of that name exists, std::system_error for any other
  // failure. Either way no temporary is left.
  void publish(const std::string& program);

 private:
  std::string option_;
  std::string path_;
  bool named_;
  bool written_ = false;  // write_path() called
  std::unique_ptr<ReplacementFile> file_;
};

// Publishes `outputs` together (ToolOutput::publish, each written), so that a tool that fails
// leaves none of them: the defaults first (the only ones refused at the end: a name taken during
// the run), then the named ones (a rename, which fails only with the file system). On failure
// the defaults already published are removed again and the error rethrown; a named file already
// replaced stays replaced.
void publish_together(const std::string& program, std::span<ToolOutput* const> outputs);

// Whether writing one path could write the file the other names: the same inode when both
// exist; otherwise the absolute paths with every symbolic link followed, a dangling one too (the
// writers write through it: io file_replaced_by_write), then weakly canonical, compared.
bool names_same_file(const std::string& a, const std::string& b);

// A model file given with --`option` (its name without "--", e.g. "fine-tune") that exists and
// is not a regular file (a FIFO, a directory, /dev/zero) is a UsageError naming the option, the
// path and what it is, found by stat before any open (opening a FIFO waits for a writer: a
// trial's --fine-tune FIFO hung; a directory and /dev/zero said "unexpected end of file"). A path
// that does not exist is left to the loader.
void require_regular_input_option(const std::string& option, const std::string& path);

// shell_quoted (arith/format.hpp): one word of a POSIX sh command line.
using cryptonets::shell_quoted;

// Refuses (UsageError) the output option `option` (its name without "--") when `output` is the
// same file (names_same_file) as a file of the data directory `data_directory`: an IDX file (a
// name with "-ubyte"), a SHA256SUMS file, or a link to one; other files there may be replaced.
// Found by a new user's trial: `cryptonets-train --out DATA/train-images-idx3-ubyte.gz` replaced
// the training images (exit 0). A directory that cannot be listed is left to the loaders.
void refuse_output_over_data(const std::string& option, const std::string& output,
                             const std::string& data_directory);

// Refuses (UsageError) each given output option of `outputs` that is the same file
// (names_same_file) as a checksum file that the IDX reader reads beside a given input option of
// `inputs` (io/idx.hpp checksum_file_for, uncompressed_checksum_file_for): the data set's
// SHA256SUMS or SHA256SUMS.uncompressed, before any work. Found by a new user's trial: `decrypt
// --labels D/t10k-labels-idx1-ubyte --out D/SHA256SUMS` replaced the checksums (exit 0). The
// input files themselves are refuse_output_over_inputs's.
void refuse_output_over_checksum_files(const OptionParser& options,
                                       const std::vector<std::string>& outputs,
                                       const std::vector<std::string>& inputs);

// Refuses (UsageError, naming both options) an output option that names the same file
// as one of the given input options (or another output), which replacing would destroy: e.g.
// `infer --in x.ct --out x.ct`, or that names an existing key file or, unless
// may_replace_profile (the profile command), model profile (refuse_to_replace_key_file): all
// before any work. Each output is first held to require_output_path (a UsageError). The
// input "profile" of a command with --keys stands for the profile it uses (profile_file_used:
// DIR/model.profile when no --profile is given). Options not given are skipped. An input (of
// `inputs`, given or defaulted) that exists and is not a regular file is refused first
// (io/input_file.hpp's require_regular_input), before any is opened.
void refuse_output_over_inputs(const OptionParser& options, const std::vector<std::string>& outputs,
                               const std::vector<std::string>& inputs,
                               bool may_replace_profile = false);

// Refuses (UsageError naming `option`) an output option whose path names an existing regular
// file (links followed) that is neither empty nor a ciphertext file ("CNPF", kind 'C', any
// version): encrypt, infer, client infer and client fetch --out replace only those.
// refuse_output_over_inputs knows a key file by its first bytes only, and a tar archive of a key
// directory, which holds the secret key, was replaced (found by a trial); whatever else a
// non-empty file is, it is not this command's to destroy. Call after refuse_output_over_inputs,
// before any work; a path that does not exist, or that cannot be read, passes (the writer reports
// it).
// The shared step of the refusals below: the size of `path` if it is a non-empty regular file
// (links followed) that can be opened and that `replaceable` (given the open stream) does not
// accept; nullopt for a path that does not exist, is empty, cannot be read (the writer reports
// it), or is accepted.
std::optional<uintmax_t> file_not_to_replace(const std::string& path,
                                             const std::function<bool(std::istream&)>& replaceable);

// `replaces`: what the command replaces, for the message (refuse_to_replace_other_than).
void refuse_to_replace_other_than_ciphertexts(const OptionParser& options,
                                              const std::string& option,
                                              const std::string& replaces = "");

// The rule of the outputs that are encrypted scores (infer --out, client infer --out, client
// fetch --out): refuse_to_replace_other_than_ciphertexts, and not encrypted images either (a
// ciphertext file of encrypt, whose header answers no file): the batch a job answers, which
// `decrypt --request` checks the scores against and which cannot be made again bit for bit (a
// trial: client fetch --out batch.ct replaced the batch it had submitted). A UsageError naming
// `option`, before any work. A ciphertext file whose header cannot be read passes (damaged).
void refuse_to_replace_other_than_scores(const OptionParser& options, const std::string& option);
// The rule of encrypt --out, the reverse: refuse_to_replace_other_than_ciphertexts, and not
// encrypted scores either (a ciphertext file whose header answers another file): the server's
// answer, which only decrypt can read and which costs a whole inference to make again.
void refuse_to_replace_other_than_batches(const OptionParser& options, const std::string& option);

// The rule above for another command's outputs: refuses (UsageError naming `option`) an output
// whose path names an existing non-empty regular file that `replaceable` (given the open file)
// does not accept, saying that it is not `kind` ("a ciphertext file") and that the command
// replaces only `replaces` (`kind` when empty: "encrypted scores", a narrower rule checked after)
// or an empty file, `why` (", so that ..." or ""). Before any work.
void refuse_to_replace_other_than(const OptionParser& options, const std::string& option,
                                  const std::function<bool(std::istream&)>& replaceable,
                                  const std::string& kind, const std::string& why,
                                  const std::string& replaces = "");

// The rule of the outputs that are model profiles (profile --out, client profile --out): the output
// option `option` replaces only an earlier model profile (its first line "cryptonets-profile ",
// any version) or an empty file: any other existing file is a UsageError, as
// refuse_to_replace_other_than's (a trial: profile --out replaced an encrypted batch, exit 0).
// Nor a key set's DIR/model.profile (a DIR holding params or a key file), by the path as given
// and through its symbolic links: keygen's record of the model the keys were made for, which
// encrypt and decrypt trust as such (a trial: profile --out KEYDIR/model.profile gave the keys
// another model's profile); std::runtime_error saying to write the profile elsewhere. Call after
// refuse_output_over_inputs(..., may_replace_profile = true), before any work.
void refuse_to_replace_other_than_profile(const OptionParser& options, const std::string& option);

// The tools' rule (cryptonets-train, -quantise, -reproduce), whose named outputs replace the
// user's files: not a file of this project's own (cryptonets_file_kind: parameters, keys,
// ciphertexts, a profile, a model, decrypt's scores) other than `own_kind` (the kind the output
// is, e.g. "an integer model"; "" for none): a UsageError naming `shown` ("--out 'm.txt'"), what
// the file holds and what to do, before any work. A trial: cryptonets-reproduce --report
// keys/secret.key and cryptonets-quantise --results keys/secret.key replaced the secret key
// (exit 0; exit 1 after the table was written). An empty file, or one that does not exist or
// cannot be read (the writer reports it), passes.
void refuse_to_replace_project_file(const std::string& shown, const std::string& path,
                                    const std::string& own_kind = "");

// An output as its writer resolved it (serve --port-file: the server follows the path's links
// once and writes there): the entry `name` of the directory open as `directory` (any descriptor
// the *at calls take, O_PATH included), not a symbolic link, perhaps not there yet; `path`, that
// entry by real path.
struct ResolvedOutput {
  int directory = -1;
  std::string name;
  std::string path;
};

// refuse_output_over_inputs's refusals of the output option `output` (a key file or model
// profile there; the same file as one of `inputs`, given or defaulted), made on the entry
// `target` itself rather than on the path, which a link changed since the resolution could send
// elsewhere: an existing entry is read through a descriptor opened in target.directory and
// compared with the inputs by device and inode; a new one by target.path with the inputs' paths
// (names_same_file's rule). Throws what refuse_output_over_inputs throws (std::runtime_error
// naming the path given for a key file, UsageError naming both options for the same file).
void refuse_resolved_output_over_inputs(const OptionParser& options, const std::string& output,
                                        const ResolvedOutput& target,
                                        const std::vector<std::string>& inputs);

// What a file of this project is, for messages about a file given in the wrong place: "public
// keys", "encrypted images (a ciphertext file of encrypt)", "a model profile", "a FIFO (named
// pipe)", ...; "" when it is none of them. Reads the header or the first line only (its first
// non-comment line within the first 64 KiB).
std::string cryptonets_file_kind(const std::string& path);
// The first word of the text file `path` that is not in a '#' comment line, from its first
// 64 KiB ("" when there is none or the file cannot be read): a model file's format word,
// "cryptonets-float-model" or "cryptonets-sequential-model" for cryptonets-train's two kinds
// (which cryptonets_file_kind both calls "a float model").
std::string text_file_format(const std::string& path);
// --keys DIR, where the command has it and it was given, that names an existing file (not a
// directory): std::runtime_error saying that --keys expects the key directory written by keygen
// and what the file is (a path that does not exist is left to the loaders). A key directory's
// file that the command reads (`read`, and model.profile when it stands for --profile) that
// exists and is not a regular file is refused too; the others are not looked at.
void require_key_directory_option(const OptionParser& options,
                                  std::initializer_list<std::string KeyDirectory::*> read);
// A YASHE' preset name (inference::preset_names()); UsageError listing them otherwise.
void require_preset_name(const std::string& name);

// Prints a warning to stderr when the secret key file at `path` may be read or written by its
// group or others (mode & 066), as ssh does for a private key: its name, its mode and
// "chmod 600". Refuses nothing; a file that cannot be stat'ed is left to the loader.
void warn_if_secret_key_exposed(const std::string& command, const std::string& path);
// The four files of a key directory for require_one_key_set (which reads each one's header), less
// one that exists and is not a regular file: the command does not read it (those it reads were
// refused by require_key_directory_option), and opening a FIFO would block.
std::vector<std::string> key_set_files(const KeyDirectory& keys);

// --threads T (default: every processor). threads_option() reads it and makes it the OpenMP
// default, so that it also bounds the library's inner parallel loops (NTT rows, base conversion).
void add_threads_option(OptionParser& options, const std::string& help = "worker threads");
int threads_option(const OptionParser& options);

// --insecure-ring-degree N (TESTING ONLY, INSECURE): a preset's primes with the smaller ring
// degree N, for fast tests. Its primes stay valid (q ≡ 1 mod 2·n_preset implies q ≡ 1 mod 2N for
// every smaller power of two N), and so do the plaintext moduli for batching. `more_help` ends
// the option's help.
void add_insecure_ring_degree_option(OptionParser& options, const std::string& more_help = "");
// `params` unchanged without the option; with it, the smaller ring (UsageError unless N is a
// power of two from 4 up to params.n; at N = 2 runs exhausted the noise budget). Prints nothing:
// the caller warns with warn_insecure_ring_degree once every option has been read, so that a
// usage error comes before any output. For yashe:: and bfv:: parameters.
template <class Parameters>
Parameters insecure_ring_degree_option(const OptionParser& options, Parameters params);
// The WARNING line on stdout when --insecure-ring-degree was given (`n`: the ring degree used).
void warn_insecure_ring_degree(const OptionParser& options, size_t n);

// The checksum rule of every command that reads IDX data (io/idx.hpp, check_data_file): the
// SHA256SUMS beside the files (for plain files, or SHA256SUMS.uncompressed) is verified when
// present; a file it does not vouch for is an error
// (exit 1); a directory without one gets one line on stderr, "the data ... are unverified", once
// per directory. --no-verify skips the check (and that line).
void add_no_verify_option(OptionParser& options);
bool verify_option(const OptionParser& options);  // !--no-verify
// Whether the program has --no-verify, which the note and a checksum error then name: the bench
// programs that read the shipped data (cryptonets-layer-scaling, cryptonets-simd-network) have
// not (a review: their note named it).
enum class NoVerifyOption { kOffered, kAbsent };
MnistSet load_data_split(const std::string& directory, MnistSplit split, bool verify,
                         NoVerifyOption no_verify = NoVerifyOption::kOffered);

// The reason an input left at its default is missing: " (the default of OPTION, relative to the
// current directory 'DIR': run from the repository, or give OPTION)" when `named` is false and
// `path` is not there, else "". A bare cryptonets-train outside the repository said only "data
// set 'data/mnist': no such directory", as if the user had named it (a trial).
std::string missing_default_hint(const std::string& option, const std::string& path, bool named);

// `load()`, its error (a std::runtime_error) followed by missing_default_hint's reason.
template <class Load>
auto with_default_hint(const std::string& option, const std::string& path, bool named, Load load) {
  try {
    return load();
  } catch (const std::runtime_error& error) {
    const std::string hint = missing_default_hint(option, path, named);
    if (hint.empty()) throw;
    throw std::runtime_error(error.what() + hint);
  }
}
// Each file is read once, checked and parsed from the same bytes; `content_sha256`, when given,
// receives the SHA-256 of the images file's content after gunzip (what a ciphertext file records
// of it, io/protocol_files.hpp ImageSource), of that same read.
MnistImages read_images_file(const std::string& path, bool verify,
                             Sha256::Digest* content_sha256 = nullptr);
MnistLabels read_labels_file(const std::string& path, bool verify);

// The shipped data directory: $CRYPTONETS_DATA if set and not empty (empty, it named "/model.txt"
// at the root), else ./data if it holds model.txt, else the source tree's data/ recorded at build
// time.
std::string default_data_directory();

// " (under CRYPTONETS_DATA='DIR')" when default_data_directory() came from the variable, else "":
// for an error about a default path made from it, so that the variable, not the path, is what
// the user is told to fix (a trial: the model's message named it, the profile's and the data
// set's did not).
std::string default_data_source();

// "1.23 MiB", "845 KiB", "12 B".
std::string format_bytes(uint64_t bytes);

// For the provenance lines of generated reports: the CPU's model name from /proc/cpuinfo
// ("unknown" if absent) and the current time as "YYYY-MM-DD HH:MM UTC".
std::string cpu_model();
std::string utc_now();

}  // namespace cryptonets::cli

namespace cryptonets {
struct ModelProfile;
}

namespace cryptonets::cli {

// --profile FILE and --model FILE (instead of the profile, for one party playing both roles) for
// the client commands; client_profile reads whichever was given (cmd_profile.cpp). Without
// either: the key directory's own copy, DIR/model.profile (keygen writes the profile it chose
// the parameters from), for commands with --keys DIR where it exists; else the shipped
// data/model.profile. Where DIR/model.profile exists, an explicit --profile must equal it and a
// --model must have its shape, scale, outputs and output bound (std::runtime_error naming both
// files otherwise). (Encrypting with another model's profile quantises the images at the wrong
// scale: a tester's keys for a scale-4 model gave 99.4 % instead of 65.2 %, silently.)
// add_profile_options words its help for that when the command has declared --keys.
void add_profile_options(OptionParser& options);
// --profile and --model together are a UsageError (the model stands instead of the profile),
// except with decrypt's --plain-images, where --model is the plain model compared with: the
// profile is then --profile's, and a --model of another model is a std::runtime_error.
ModelProfile client_profile(const OptionParser& options, int circuit_privacy_bits = 0);
// The profile file client_profile reads when no --model is given: --profile if given, else
// DIR/model.profile where it exists, else the default --profile.
std::string profile_file_used(const OptionParser& options);
// DIR/model.profile when the command has --keys DIR and the file exists; nullopt otherwise.
std::optional<std::string> key_set_profile_file(const OptionParser& options);
// The key set's profile when it is the one used: no --profile or --model given (see
// add_profile_options); nullopt otherwise.
std::optional<std::string> key_set_profile(const OptionParser& options);
// The key directory's profile file name.
inline constexpr const char* kKeySetProfileName = "model.profile";

// What a profile describes, for the line its writers print: "input 1x28x28 (scale 16), 10 outputs
// of up to 78 bits, 4 presets".
std::string profile_summary(const ModelProfile& profile);

// A check of the keys or a file against the client's profile that failed: `what` prefixed by the
// profile used ("the profile 'FILE'", "the model 'FILE'", or "the default profile 'PATH' (no
// --profile given)", then also how to give another with --profile).
std::runtime_error profile_error(const OptionParser& options, const std::string& what);
// Runs `check`, rethrowing its std::runtime_error as profile_error.
template <class Check>
void check_against_profile(const OptionParser& options, Check&& check) {
  try {
    check();
  } catch (const std::runtime_error& error) {
    throw profile_error(options, error.what());
  }
}

}  // namespace cryptonets::cli
