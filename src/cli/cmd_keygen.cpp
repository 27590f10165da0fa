// cryptonets keygen (client): the parameter set and the three key files of the protocol, one key
// set per plaintext modulus (CRT, CryptoNets §3), in a key directory (io/protocol_files.hpp).
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cli_support.hpp"
#include "commands.hpp"
#include "cryptonets/arith/format.hpp"
#include "cryptonets/bfv/security.hpp"
#include "cryptonets/encoding/plaintext_crt.hpp"
#include "cryptonets/inference/parameter_selection.hpp"
#include "cryptonets/io/inspect.hpp"
#include "cryptonets/io/interrupts.hpp"
#include "cryptonets/io/model_profile.hpp"
#include "cryptonets/io/protocol_files.hpp"
#include "cryptonets/model/range.hpp"
#include "cryptonets/rlwe/lattice_estimate.hpp"
#include "cryptonets/yashe/security.hpp"

using cryptonets::inference::BfvParameterChoice;
using cryptonets::inference::ParameterChoice;
using cryptonets::inference::preset_names;
using cryptonets::model::require_plaintext_moduli;

namespace cryptonets::cli {

namespace {

namespace fs = std::filesystem;

constexpr const char* kKeyFileNames[] = {"params", "public.key", "evaluation.key", "secret.key",
                                         kKeySetProfileName};

// `path` without trailing separators ("keys/" -> "keys").
fs::path without_trailing_separators(fs::path path) {
  while (path.has_relative_path() && path.filename().empty())
    path = path.parent_path();
  return path;
}

// The key directory --out-dir names, normalised ("k4/" and "./k4" -> "k4", for the paths it
// prints), after checking that its parent exists as given: lexically "np/.." is ".", but the file
// system resolves "np" first, so with np missing it names nothing (found by a trial: keygen then
// wrote into "."). Only the last component is created: a mistyped path should not grow a chain of
// directories (found by a tester: --out-dir /nonexistent/a/b made /nonexistent at the root).
fs::path key_directory_path(const std::string& directory) {
  const fs::path given = without_trailing_separators(directory);
  const fs::path given_parent = given.parent_path().empty() ? fs::path(".") : given.parent_path();
  std::error_code error;
  if (!fs::is_directory(given_parent, error)) {
    // The first component that is missing or no directory is named ("np/.." with np missing:
    // 'np', not 'np/..').
    fs::path prefix;
    std::string problem;
    for (const fs::path& component : given_parent) {
      prefix /= component;
      const fs::file_status status = fs::status(prefix, error);
      if (!fs::exists(status)) {
        problem = prefix == given_parent
                      ? "its parent directory '" + prefix.string() + "' does not exist"
                      : "its parent directory '" + given_parent.string() + "' does not exist ('" +
                            prefix.string() + "' is missing)";
        break;
      }
      if (!fs::is_directory(status)) {
        problem = "'" + prefix.string() + "' is not a directory";
        break;
      }
    }
    if (problem.empty()) problem = "'" + given_parent.string() + "' is not a directory";
    // A bad output path, as the others (exit 2; it was 1, found by a trial).
    throw UsageError("--out-dir: cannot create the key directory '" + directory + "': " + problem +
                     " (keygen creates only the last component; create the parent first)");
  }
  // keygen replaces the key directory as a whole: through a symbolic link it would replace the
  // link and leave the old key set, secret key included, at its target (found by a trial).
  if (fs::is_symlink(fs::symlink_status(given, error))) {
    throw UsageError("--out-dir '" + directory + "' is a symbolic link (to '" +
                     fs::read_symlink(given, error).string() +
                     "'): keygen replaces the key directory as a whole, so name the directory "
                     "itself");
  }
  if (given.filename() == "." || given.filename() == "..") {
    throw UsageError("--out-dir '" + directory + "' ends in '" + given.filename().string() +
                     "': name the key directory itself (keygen replaces it as a whole)");
  }
  // The set is written into a sibling NAME.tmp-PID-XXXXXX first: a name with no room for that
  // suffix failed with "filesystem error: status: File name too long" (exit 1, a trial).
  const long name_max = ::pathconf(given_parent.c_str(), _PC_NAME_MAX);
  const size_t most_per_name = name_max > 0 ? static_cast<size_t>(name_max) : 255;
  const size_t suffix = (".tmp-" + std::to_string(::getpid()) + "-XXXXXX").size();
  const size_t name = given.filename().string().size();
  if (name + suffix > most_per_name) {
    throw UsageError("--out-dir: the key directory's name is " + std::to_string(name) +
                     " bytes; keygen writes the set into a sibling 'NAME.tmp-PID-XXXXXX' first, "
                     "which would pass the " +
                     std::to_string(most_per_name) +
                     " bytes this file system allows per name: choose a name of at most " +
                     std::to_string(most_per_name - suffix) + " bytes");
  }
  fs::path path = without_trailing_separators(given.lexically_normal());
  // ".." after a symbolic link is the link target's parent, not the lexical one: then the path
  // is kept as given.
  const fs::path parent = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  if (!fs::equivalent(parent, given_parent, error) || error) path = given;
  return path;
}

// An existing key directory is replaced as a whole: it may hold only a key set.
void check_replaceable(const fs::path& directory) {
  std::error_code error;
  if (!fs::exists(directory, error)) return;
  if (!fs::is_directory(directory, error)) {
    throw UsageError("--out-dir '" + directory.string() + "' exists and is not a directory");
  }
  for (const fs::directory_entry& entry : fs::directory_iterator(directory)) {
    const std::string name = entry.path().filename().string();
    bool key_file = false;
    for (const char* known : kKeyFileNames)
      key_file = key_file || name == known;
    if (!key_file) {
      // Not "besides a key set": the directory may hold none (a trial's project directory).
      throw std::runtime_error("--out-dir '" + directory.string() + "' already exists and holds '" +
                               name +
                               "', which is not a key file: keygen replaces the whole directory "
                               "at once, so give a new directory, or move '" +
                               name + "' elsewhere first");
    }
  }
}

// Whether `path` (named "<name>.tmp-" + suffix) can only be a staging directory of keygen's:
// the suffix is "<pid>-XXXXXX" (mkdtemp) or "<pid>-old", it is a real directory (no symbolic
// link), and it holds nothing but key-set files. Anything else, however named, is the user's.
bool is_own_staging(const fs::path& path, const std::string& suffix) {
  const size_t dash = suffix.find('-');
  if (dash == 0 || dash == std::string::npos || dash > 19 ||
      suffix.substr(0, dash).find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  const std::string tail = suffix.substr(dash + 1);
  if (tail != "old" && tail.size() != 6) return false;
  std::error_code error;
  if (!fs::is_directory(fs::symlink_status(path, error))) return false;
  for (const fs::directory_entry& entry : fs::directory_iterator(path, error)) {
    const std::string name = entry.path().filename().string();
    bool key_file = false;
    for (const char* known : kKeyFileNames)
      key_file = key_file || name == known;
    if (!key_file || !fs::is_regular_file(entry.symlink_status(error))) return false;
  }
  return !error;
}

// Whether the staging directory `path` holds a whole key set as keygen writes it (params and the
// three keys): another keygen's set that could not be swapped back, the previous set moved aside
// ("<pid>-old"), or a new set that was killed before its commit. Never removed automatically.
bool holds_key_set(const fs::path& path) {
  std::error_code error;
  for (const char* name : {"params", "public.key", "evaluation.key", "secret.key"})
    if (!fs::is_regular_file(fs::symlink_status(path / name, error))) return false;
  return true;
}

// Why the key set in `path` does not verify (inspect_key_set: every file read by its loader,
// every checksum and identity checked): its first problem, or what could not be checked; "" when
// it is intact.
std::string key_set_fault(const fs::path& path) {
  try {
    const KeySetInspection inspection = inspect_key_set(path.string(), kKeySetProfileName);
    if (!inspection.problems.empty()) {
      return printable_text(inspection.problems.front()) +
             (inspection.problems.size() > 1 ? " and " + counted(inspection.problems.size() - 1,
                                                                 "other problem", "other problems")
                                             : "");
    }
    if (!inspection.unchecked.empty()) return printable_text(inspection.unchecked.front());
    return "";
  } catch (const std::exception& error) {
    return printable_text(error.what());
  }
}

// The modification time of the newest file of the key set in `path`: when it was written.
fs::file_time_type newest_file_time(const fs::path& path) {
  fs::file_time_type newest = fs::file_time_type::min();
  std::error_code error;
  for (const char* name : kKeyFileNames) {
    const fs::file_time_type time = fs::last_write_time(path / name, error);
    if (!error) newest = std::max(newest, time);
  }
  return newest;
}

// Temporary directories "<name>.tmp-<pid>-XXXXXX" and "<name>.tmp-<pid>-old" beside the key
// directory, left by a keygen that was killed (SIGKILL, power loss) or whose commit failed part
// way, once their process has ended (process_has_ended: gone, or a zombie its parent has not
// reaped). An unfinished staging directory is removed. One that holds a whole key set is kept
// (removing it lost a key set: the other keygen's set after a failed swap back, or the previous
// set left aside by the two renames): "<pid>-old" is moved back to the key directory when that is
// missing (the state before the interrupted commit, the newest such set when there are several;
// keygen then stops, so that nothing replaces it unasked), and any other is said on stderr, left
// where it is. A "<pid>-old" without a whole key set is never removed either, only said.
void tidy_leftovers(const fs::path& directory) {
  const fs::path parent = directory.parent_path().empty() ? fs::path(".") : directory.parent_path();
  const std::string prefix = directory.filename().string() + ".tmp-";
  std::error_code error;
  std::vector<fs::path> kept, partial;
  std::vector<std::pair<fs::file_time_type, fs::path>> aside_sets;  // newest file's time, path
  for (const fs::directory_entry& entry : fs::directory_iterator(parent, error)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    if (!is_own_staging(entry.path(), name.substr(prefix.size()))) continue;
    const long pid = std::strtol(name.c_str() + prefix.size(), nullptr, 10);
    if (pid <= 0 || pid == static_cast<long>(::getpid())) continue;
    if (!process_has_ended(pid)) continue;                 // still running (a zombie has ended)
    const fs::path path = directory.parent_path() / name;  // as named: "keys.tmp-1-old", no "./"
    const bool aside = name.size() > 4 && name.compare(name.size() - 4, 4, "-old") == 0;
    if (!holds_key_set(entry.path())) {
      // "<pid>-old" is what the key directory held, whatever that was (a set without its secret
      // key, say): never removed (it was, silently; a trial), only named. An unfinished new set
      // is removed.
      if (aside) {
        partial.push_back(path);
        continue;
      }
      std::error_code removal;
      fs::remove_all(entry.path(), removal);
      continue;
    }
    if (aside)
      aside_sets.emplace_back(newest_file_time(path), path);
    else
      kept.push_back(path);
  }
  // Of several sets moved aside, the newest was in place last: it is the one moved back (the
  // first one the directory listing gave was, whichever it was; a review). The others stay. It is
  // verified first (a trial: one whose evaluation.key was truncated was moved back, and the next
  // infer failed on it): one that does not verify stays where it is, and so do the older ones
  // (moving one of those back would put an older key set in place of the last one).
  std::sort(aside_sets.begin(), aside_sets.end(), std::greater<>());
  std::optional<fs::path> restored;
  std::optional<std::pair<fs::path, std::string>> unverified;  // the newest set, and why
  std::vector<fs::path> older;
  for (const auto& [time, path] : aside_sets) {
    if (!restored && !unverified) {
      const std::string fault = key_set_fault(path);
      if (!fault.empty()) {
        unverified.emplace(path, fault);
        continue;
      }
      if (::renameat2(AT_FDCWD, path.c_str(), AT_FDCWD, directory.c_str(), RENAME_NOREPLACE) == 0) {
        restored = path;
        continue;
      }
    }
    kept.push_back(path);
    if (restored || unverified) older.push_back(path);
  }
  for (const fs::path& path : kept) {
    std::fprintf(stderr,
                 "cryptonets keygen: note: '%s' holds a whole key set that an earlier keygen "
                 "(process %ld, ended) left beside '%s'; it is kept: move it elsewhere or remove "
                 "it once it is not needed\n",
                 printable_text(path.string()).c_str(),
                 std::strtol(path.filename().c_str() + prefix.size(), nullptr, 10),
                 printable_text(directory.string()).c_str());
  }
  for (const fs::path& path : partial) {
    std::fprintf(stderr,
                 "cryptonets keygen: note: '%s' holds what '%s' held before an earlier keygen "
                 "(process %ld, ended) began to replace it, but not a whole key set (params, "
                 "public.key, evaluation.key, secret.key); it is kept: move it elsewhere or "
                 "remove it once it is not needed\n",
                 printable_text(path.string()).c_str(), printable_text(directory.string()).c_str(),
                 std::strtol(path.filename().c_str() + prefix.size(), nullptr, 10));
  }
  std::string older_sets;
  for (const fs::path& path : older)
    older_sets += (older_sets.empty() ? "" : ", ") + ("'" + path.string() + "'");
  if (!older.empty()) {
    older_sets = "; " +
                 counted(older.size(), "older key set moved aside is kept where it is",
                         "older key sets moved aside are kept where they are") +
                 ": " + older_sets;
  }
  if (unverified) {
    throw std::runtime_error(
        "'" + directory.string() + "' is missing and '" + unverified->first.string() +
        "' holds the key set an earlier keygen had moved aside while replacing it (it ended "
        "before the new set was in place), but that key set does not verify (" +
        unverified->second + "): it was not moved back and is kept where it is, as it is" +
        older_sets +
        "; nothing was written (cryptonets inspect says more; move it elsewhere or remove it, "
        "then run keygen again)");
  }
  if (restored) {
    throw std::runtime_error(
        "'" + directory.string() + "' was missing and '" + restored->string() +
        "' held the key set an earlier keygen had moved aside while replacing it (it ended "
        "before the new set was in place): that key set is back in '" +
        directory.string() + "'" + older_sets +
        "; nothing else was written (run keygen again to replace it, with --force)");
  }
}

// Ctrl-C (SIGINT), SIGTERM, SIGHUP and SIGPIPE (`keygen | head`) during keygen (found by a trial: a
// SIGTERM just after the commit ended keygen silently with the old key set already replaced, so the
// user believed it intact). From its very start to the end of the process (found by a trial: a
// signal before the handlers were installed, or about 27 ms in, after they were restored and before
// the process had exited, ended keygen with no word; the handlers are now installed by
// keygen_preinit, the first code the process runs), keygen handles them itself, so that the outcome
// is always one of two, each said on stderr:
// - before the commit (reading the options, generating the keys, writing the staging directory):
//   the staging directory, if any, is removed and keygen ends at once by the signal, as the
//   default action would (a shell reports 128 + the signal: 130, 143); the old key set, if any,
//   is unchanged;
// - from just before the commit (rename) to the exit: the signal is only recorded while keygen
//   finishes (the old set removed, the "wrote" lines printed); then, or at once when it comes
//   later, keygen says the signal came after the new key set was complete and ends by it.
// The state machine is io/interrupts.hpp's; what the handler does (its cleanup) changes with the
// stage: say the key set was not written, remove the staging directory, or say what became of
// the key sets after keygen finished. Only async-signal-safe calls in the cleanups: unlink and
// rmdir on paths prepared beforehand, write (lines prepared in static buffers, which outlive the
// static destructors of exit).
namespace keygen_signals {

constexpr size_t kPathBytes = 4096;
// AtomicFileWriter's temporaries, "<file>.tmp-<pid>-<counter>" (named only in commit, briefly):
// the first counters of this process are tried too.
constexpr int kTemporaryCounters = 64;

std::atomic<bool> committed{false};     // the new key set is in place
std::atomic<bool> staged{false};        // the staging directory was made (and is removed again)
std::atomic<bool> target_known{false};  // set_target() has run: keygen is past its options
char directory[kPathBytes];
char files[std::size(kKeyFileNames)][kPathBytes];             // DIR.tmp-PID-XXXXXX/name
char temporaries[std::size(kKeyFileNames)][kPathBytes + 32];  // .../name.tmp-PID- + counter
size_t temporary_lengths[std::size(kKeyFileNames)];
// What became of the key directory, the end of the lines said on stderr when keygen stops before
// the commit. Until set_target() names the key directory, no key directory was changed (keygen
// has not yet looked at one).
constexpr size_t kMessageBytes = 2 * kPathBytes;
char outcome[kMessageBytes] = "no key directory was changed";
// The key directory had no secret key when set_target() ran: a secret key there now was written
// by another keygen meanwhile (refused without --force, see KeySetStaging::commit; or it came
// just before the signal), and the directory is said to hold that key set instead of `outcome`
// ("'DIR' was not created", or "is unchanged", was said of a directory that held the other
// keygen's key set). Off once set_outcome() has said exactly what is where.
std::atomic<bool> check_other_set{false};
char target_secret_key[kPathBytes];
char other_set_outcome[kMessageBytes];
// set_outcome() said where each key set is after a commit that failed part way, and whether the
// staging directory still held this keygen's key set then (removed, as it is on any failure) or
// not (the set was in place, or elsewhere: "the unfinished key set was removed" is then not said).
std::atomic<bool> exact_outcome{false};
std::atomic<bool> staging_removed{true};

void remove_staging() {
  for (size_t i = 0; i < std::size(kKeyFileNames); ++i) {
    ::unlink(files[i]);
    char* end = temporaries[i] + temporary_lengths[i];
    for (int counter = 0; counter < kTemporaryCounters; ++counter) {
      char digits[4];
      int count = 0;
      for (int value = counter; count == 0 || value > 0; value /= 10)
        digits[count++] = static_cast<char>('0' + value % 10);
      for (int k = 0; k < count; ++k)
        end[k] = digits[count - 1 - k];
      end[count] = '\0';
      ::unlink(temporaries[i]);
    }
  }
  ::rmdir(directory);
}

const char* signal_name(int signal) {
  return signal == SIGINT    ? "SIGINT (Ctrl-C)"
         : signal == SIGTERM ? "SIGTERM"
         : signal == SIGPIPE ? "SIGPIPE (a pipe it wrote to was closed)"
                             : "SIGHUP";
}

// What stopped keygen before the commit: a closed pipe is no interruption by the user (a review:
// "interrupted" for SIGPIPE too).
const char* cause(int signal) {
  return signal == SIGPIPE ? "stopped by SIGPIPE (a pipe it wrote to was closed)" : "interrupted";
}

// The lines said on stderr when keygen stops before the commit: "cryptonets keygen: CAUSE" +
// `step` + the outcome, `step` saying whether a file was written (the staging directory, then
// removed).
constexpr const char* kBeforeWriting = " before the new key set was written; ";
constexpr const char* kAfterRemoving = "; the unfinished key set was removed; ";
void say_stopped(int signal, const char* step) {
  interrupts::say("cryptonets keygen: ");
  interrupts::say(cause(signal));
  interrupts::say(step);
  // access(2) is async-signal-safe.
  const bool other_set = check_other_set.load() && ::access(target_secret_key, F_OK) == 0;
  interrupts::say(other_set ? other_set_outcome : outcome);
  interrupts::say("\n");
}

// The cleanups, one a stage. Generating: nothing written yet. A closed pipe before keygen knows
// its key directory can only have met --help or a usage message (keygen --help | true, a review):
// nothing was under way, so it ends by the signal without a word, as any program would.
void say_unwritten(int signal) {
  if (signal == SIGPIPE && !target_known.load()) return;
  say_stopped(signal, kBeforeWriting);
}
// Armed: the staging directory exists.
void remove_and_say(int signal) {
  remove_staging();
  say_stopped(signal, kAfterRemoving);
}
// Done: keygen has finished (or failed); what became of the key sets.
void say_after_finish(int signal) {
  if (committed.load()) {
    interrupts::say("cryptonets keygen: ");
    interrupts::say(signal_name(signal));
    // SIGPIPE: the "wrote" lines met a closed pipe, so nothing is written above.
    interrupts::say(" arrived after the new key set was complete: it is in place");
    interrupts::say(signal == SIGPIPE ? "" : " (as written above)");
    interrupts::say(" and the previous one, if any, is gone; stopping by the signal\n");
  } else if (exact_outcome.load() && !staging_removed.load()) {
    say_stopped(signal, "; ");
  } else {
    say_stopped(signal, staged.load() ? kAfterRemoving : kBeforeWriting);
  }
}

bool copy(const std::string& text, char* destination, size_t capacity) {
  if (text.size() + 1 > capacity) return false;
  std::memcpy(destination, text.c_str(), text.size() + 1);
  return true;
}

// Handles the signals from here to the exit (except those ignored, as under nohup: they stay
// ignored; the actions are never restored: that opened a window in which the process ended
// without a word). The first thing keygen does: a signal before it would end keygen without a
// word.
void install() {
  committed.store(false);
  staged.store(false);
  target_known.store(false);
  exact_outcome.store(false);
  staging_removed.store(true);
  interrupts::install(say_unwritten);
}

// The key directory is known (before any key is generated): the messages say what became of
// `target`: unchanged, with its key set if it had one. Written while signals are held (a handler
// must not read a half-written line); one too long for its buffer keeps the general outcome.
void set_target(const fs::path& target) {
  std::error_code error;
  const KeyDirectory key_files(target.string());
  const std::string shown = printable_text(target.string());
  const std::string target_outcome =
      fs::exists(key_files.secret_keys, error) || fs::exists(key_files.parameters, error)
          ? "the previous key set in '" + shown + "' is unchanged"
      : fs::exists(target, error) ? "'" + shown + "' is unchanged"
                                  : "'" + shown + "' was not created";
  const std::string other_outcome =
      "'" + shown + "' now holds the key set another keygen wrote there while this one ran";
  const bool secret_key_at_start = fs::exists(key_files.secret_keys, error);
  interrupts::hold();
  copy(target_outcome, outcome, sizeof outcome);
  check_other_set.store(!secret_key_at_start &&
                        copy(key_files.secret_keys, target_secret_key, sizeof target_secret_key) &&
                        copy(other_outcome, other_set_outcome, sizeof other_set_outcome));
  target_known.store(true);
  // A signal taken while the lines were written ends keygen now, as it would have then.
  interrupts::open();
}

// What became of the key directory after a commit that failed part way, said exactly (the other
// key set's whereabouts are not looked up by the handler then); `staging_was_removed`: whether
// this keygen's unfinished key set is removed (else it is in place of the key directory, say).
// Called held.
void set_outcome(const std::string& text, bool staging_was_removed) {
  check_other_set.store(false);
  exact_outcome.store(true);
  staging_removed.store(staging_was_removed);
  copy(text, outcome, sizeof outcome);
}

// The main thread takes the staging directory over (to commit or remove it): from here to
// finish() signals are only recorded.
void hold() {
  interrupts::hold();
}

// The staging directory exists: prepares its paths for the handler. Called held (hold(), before
// the directory was made: a signal between mkdtemp and here ended keygen with the handler not
// knowing the directory, which stayed behind); a signal recorded meanwhile is taken now, the
// directory removed. A path too long to prepare holds the signals until the end instead (the
// staging directory is then removed by its owner).
void arm(const fs::path& staging) {
  staged.store(true);
  bool fits = copy(staging.string(), directory, sizeof directory);
  for (size_t i = 0; i < std::size(kKeyFileNames); ++i) {
    const std::string file = (staging / kKeyFileNames[i]).string();
    const std::string temporary = file + ".tmp-" + std::to_string(::getpid()) + "-";
    fits = fits && copy(file, files[i], sizeof files[i]) &&
           copy(temporary, temporaries[i], sizeof temporaries[i] - 8);
    temporary_lengths[i] = temporary.size();
  }
  if (!fits) return;
  interrupts::set_cleanup(remove_and_say);
  interrupts::open();
}

// The new key set is in place: a signal from now on is said to have come after it.
void mark_committed() {
  committed.store(true);
}

// At the end of keygen (or of its failure): a signal taken while held is said and raised again
// (stdout flushed first: the process ends by it); one that comes later, up to the exit, is said
// and raised by the handler itself.
void finish() {
  interrupts::hold();
  // While still held: the "wrote" lines are out before a later signal could end the process
  // with them in the buffer.
  std::fflush(stdout);
  interrupts::set_cleanup(say_after_finish);
  interrupts::open();
}

// From the key directory's naming to the end of keygen: finish() at its end.
class Guard {
 public:
  explicit Guard(const fs::path& target) { set_target(target); }
  ~Guard() { finish(); }
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;
};

}  // namespace keygen_signals

// The first code of the process (.preinit_array: before any library's constructor and any
// static initialiser; executables only): `cryptonets keygen` handles its signals from here
// (keygen_signals). A trial found keygen killed without a word in its first 17-25 ms, the
// process start up to run_keygen; what remains before this is the dynamic loader's own work.
void keygen_preinit(int argc, char** argv, char**) {
  if (argc >= 2 && argv != nullptr && argv[1] != nullptr && std::strcmp(argv[1], "keygen") == 0)
    keygen_signals::install();
}
using PreinitFunction = void (*)(int, char**, char**);
[[gnu::section(".preinit_array"), gnu::used]] PreinitFunction keygen_preinit_entry = keygen_preinit;

#ifdef CRYPTONETS_TEST_HOOKS
// Test builds only (tests/cli/cryptonets-keygen-hooks, for tests/cli/bad_input.sh; never the
// cryptonets command, where a variable in the environment must not change what keygen does):
// CRYPTONETS_TEST_SIGNAL_IN_KEYGEN=SIG[:POINT] raises SIG (TERM, PIPE, INT, or STOP: the test
// resumes keygen with SIGCONT once it has done something meanwhile) at POINT: "init" during the
// process's static initialisation, before main; "start" as keygen starts, before it reads its
// options; "generate" as key generation starts; "staging" just after the staging directory is
// made, before the handler knows it; "commit" (the default) as the commit starts, with every file
// written and none in place; "committed" just after the rename, with the old key set not yet
// removed; "finished" after keygen has finished, its lines printed, as it returns to exit;
// "swap-back" and "restore" just before those renames of a commit (below; held there: the signal
// is taken once keygen has failed). Several, comma-separated, each at its point
// (STOP:commit,TERM:swap-back).
// CRYPTONETS_TEST_RENAME_FAILS=STEP[,STEP...]: those renames of the commit fail as a file system
// would make them: "exchange" (RENAME_EXCHANGE, with EINVAL: no atomic exchange, so the two
// renames), "swap-back" (the exchange that puts another keygen's key set back, EIO),
// "new-in-place" (the two renames' second, EIO), "restore" (the old set moved back after that,
// EIO).
struct TestSignal {
  std::vector<std::pair<int, std::string>> signals;  // (signal, point)
  std::string failing_renames;                       // ",STEP,STEP,"
  static TestSignal from_environment() {
    TestSignal test;
    if (const char* failing = std::getenv("CRYPTONETS_TEST_RENAME_FAILS"))
      test.failing_renames = "," + std::string(failing) + ",";
    const char* value = std::getenv("CRYPTONETS_TEST_SIGNAL_IN_KEYGEN");
    if (value == nullptr || *value == '\0') return test;
    const std::string all = value;
    for (size_t start = 0; start <= all.size();) {
      const size_t end = std::min(all.find(',', start), all.size());
      const std::string text = all.substr(start, end - start);
      const size_t colon = text.find(':');
      const std::string name = text.substr(0, colon);
      const int signal = name == "TERM"   ? SIGTERM
                         : name == "PIPE" ? SIGPIPE
                         : name == "STOP" ? SIGSTOP
                                          : SIGINT;
      test.signals.emplace_back(signal,
                                colon == std::string::npos ? "commit" : text.substr(colon + 1));
      start = end + 1;
    }
    return test;
  }
  void raise_at(const std::string& at) const {
    for (const auto& [signal, point] : signals)
      if (point == at) ::raise(signal);
  }
  // Whether the rename `step` is to fail (errno set as the file system would).
  bool fails(const std::string& step) const {
    if (failing_renames.find("," + step + ",") == std::string::npos) return false;
    errno = step == "exchange" ? EINVAL : EIO;
    return true;
  }
};
// "init": a static initialiser, after the handlers of keygen_preinit.
[[maybe_unused]] const bool test_signal_at_init =
    (TestSignal::from_environment().raise_at("init"), true);
#else
struct TestSignal {
  static TestSignal from_environment() { return {}; }
  void raise_at(const std::string&) const {}
  bool fails(const std::string&) const { return false; }
};
#endif

// A fresh directory (mode 0700: the secret key lives there) beside the key directory, removed
// again unless committed, also on SIGINT, SIGTERM, SIGHUP and SIGPIPE (keygen_signals): the whole
// key set is written there and swapped in at once. Without `replace_secret_key` (--force), a key
// set whose secret key appeared in the directory while this one was generated (another keygen
// run at the same time) is never replaced: a trial's three concurrent keygens into one new
// directory each said "wrote ... secret.key" and exited 0, and only the last set was left.
class KeySetStaging {
 public:
  KeySetStaging(const fs::path& directory, bool replace_secret_key, const TestSignal& test)
      : directory_(directory), replace_secret_key_(replace_secret_key), test_(test) {
    std::string pattern = directory.string() + ".tmp-" + std::to_string(::getpid()) + "-XXXXXX";
    // Signals only recorded from before the directory exists until the handler knows it (arm);
    // after a failure, said at the end (finish).
    keygen_signals::hold();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("cannot create a temporary directory beside '" + directory.string() +
                               "': " + std::strerror(errno));
    }
    // mkdtemp's 0700 is less the umask: under umask 0777 (or any that takes the owner's bits)
    // the directory was d--------- (a trial): keygen could not write into it as a user, and the
    // failed run left it behind, as remove_all cannot list it; as root the key set got mode 000.
    if (::chmod(pattern.c_str(), 0700) != 0) {
      const int error = errno;
      ::rmdir(pattern.c_str());
      throw std::runtime_error("cannot set mode 0700 on the temporary directory beside '" +
                               directory.string() + "': " + std::strerror(error));
    }
    path_ = pattern;
    test_.raise_at("staging");
    keygen_signals::arm(path_);
  }
  ~KeySetStaging() {
    if (path_.empty()) return;
    keygen_signals::hold();
    std::error_code error;
    fs::remove_all(path_, error);
  }
  KeySetStaging(const KeySetStaging&) = delete;
  KeySetStaging& operator=(const KeySetStaging&) = delete;

  const fs::path& path() const { return path_; }

  // Every file is fsynced by AtomicFileWriter; the directory itself here, then the swap: either
  // the old key set or the new one, never a mixture. Signals are held from here to the end of
  // keygen (keygen_signals).
  void commit() {
    test_.raise_at("commit");
    keygen_signals::hold();
    sync_directory(path_);
    std::error_code error;
    // Absent: put in place only if it still is (RENAME_NOREPLACE; a plain rename would also
    // replace an empty directory made meanwhile); else, as for one that exists, swapped.
    bool placed = false;
    if (!fs::exists(directory_, error)) {
      if (::renameat2(AT_FDCWD, path_.c_str(), AT_FDCWD, directory_.c_str(), RENAME_NOREPLACE) ==
          0) {
        placed = true;
      } else if (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) {
        if (!replace_secret_key_) refuse_if_secret_key_appeared(directory_);
        if (::rename(path_.c_str(), directory_.c_str()) != 0) fail("rename");
        placed = true;
      } else if (errno != EEXIST && errno != ENOTEMPTY) {
        fail("renameat2(RENAME_NOREPLACE)");
      }
    }
    if (placed) {
      committed();
    } else if (!test_.fails("exchange") && ::renameat2(AT_FDCWD, path_.c_str(), AT_FDCWD,
                                                       directory_.c_str(), RENAME_EXCHANGE) == 0) {
      // path_ now holds what was in place: a secret key there that this keygen did not see at
      // its start (another keygen's, finished meanwhile) is swapped back, untouched.
      if (!replace_secret_key_ && fs::exists(path_ / "secret.key", error)) {
        test_.raise_at("swap-back");
        if (test_.fails("swap-back") || ::renameat2(AT_FDCWD, path_.c_str(), AT_FDCWD,
                                                    directory_.c_str(), RENAME_EXCHANGE) != 0) {
          // Not removed as this keygen's staging directory: it holds the other key set now. The
          // signal line says where each set is, not that this keygen's was removed (the last
          // session's list: it said both). A later keygen keeps it (tidy_leftovers: a whole key
          // set is never removed) and says where it is.
          const std::string error_text = std::strerror(errno);
          const fs::path kept = path_;
          path_.clear();
          keygen_signals::set_outcome(
              "'" + printable_text(directory_.string()) +
                  "' holds this keygen's key set, and the one another keygen wrote there "
                  "meanwhile is in '" +
                  printable_text(kept.string()) + "'",
              false);
          throw std::runtime_error(
              "another keygen wrote a key set to '" + directory_.string() +
              "' while this one ran, and it could not be put back in place (renameat2: " +
              error_text + "): that key set is in '" + kept.string() + "', and '" +
              directory_.string() + "' holds this keygen's");
        }
        refuse_secret_key_appeared(directory_);  // this keygen's set is removed, as staged
      }
      const fs::path old = path_;
      committed();
      fs::remove_all(old, error);  // now the old key set
    } else if (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) {
      // No atomic exchange on this file system: two renames (the old set is kept aside until
      // the new one is in place).
      if (!replace_secret_key_) refuse_if_secret_key_appeared(directory_);
      const fs::path old = directory_.string() + ".tmp-" + std::to_string(::getpid()) + "-old";
      if (::rename(directory_.c_str(), old.c_str()) != 0) fail("rename");
      if (test_.fails("new-in-place") || ::rename(path_.c_str(), directory_.c_str()) != 0) {
        const int saved = errno;
        test_.raise_at("restore");
        if (test_.fails("restore") || ::rename(old.c_str(), directory_.c_str()) != 0) {
          // The previous set is aside, not "unchanged" in place: said where it is (this
          // keygen's staging directory is removed as on any failure). A later keygen into the
          // directory moves it back (tidy_leftovers).
          const std::string restore_error = std::strerror(errno);
          const std::string where = "the previous key set is in '" + old.string() + "' and '" +
                                    directory_.string() +
                                    "' is missing: move it back by hand (a later keygen into '" +
                                    directory_.string() + "' moves it back first)";
          keygen_signals::set_outcome(printable_text(where), true);
          throw std::runtime_error("cannot put the new key set in place of '" +
                                   directory_.string() + "' (rename): " + std::strerror(saved) +
                                   "; the previous key set could not be put back either "
                                   "(rename: " +
                                   restore_error + "): " + where);
        }
        errno = saved;
        fail("rename");
      }
      committed();
      fs::remove_all(old, error);
    } else {
      fail("renameat2(RENAME_EXCHANGE)");
    }
    const fs::path parent =
        directory_.parent_path().empty() ? fs::path(".") : directory_.parent_path();
    sync_directory(parent);
  }

 private:
  void committed() {
    path_.clear();
    keygen_signals::mark_committed();
    test_.raise_at("committed");
  }
  // Without --force keygen refused at its start a directory holding a secret key: one there now
  // was written while this keygen ran.
  static void refuse_if_secret_key_appeared(const fs::path& directory) {
    std::error_code error;
    if (fs::exists(directory / "secret.key", error)) refuse_secret_key_appeared(directory);
  }
  [[noreturn]] static void refuse_secret_key_appeared(const fs::path& directory) {
    throw std::runtime_error(
        "refusing to overwrite the secret key " + (directory / "secret.key").string() +
        ", which another keygen wrote while this one ran: ciphertexts made for it could no "
        "longer be decrypted; that key set is kept and this one discarded (use --force to "
        "replace it)");
  }
  [[noreturn]] void fail(const std::string& call) const {
    throw std::runtime_error("cannot put the new key set in place of '" + directory_.string() +
                             "' (" + call + "): " + std::strerror(errno) +
                             "; the previous key set, if any, is unchanged");
  }
  static void sync_directory(const fs::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
      (void)::fsync(fd);
      ::close(fd);
    }
  }

  fs::path directory_;
  bool replace_secret_key_;
  fs::path path_;
  const TestSignal& test_;
};

std::string file_size(const std::string& path) {
  return format_bytes(std::filesystem::file_size(path));
}

// "2 x 20 bits: t = 1032193, 1073153" (the bits of each where they differ: "2 of 20 to 21 bits:
// ..."): every modulus, not only the first, so that the key set's t can be read off.
std::string describe_plaintext_moduli(const std::vector<uint64_t>& moduli) {
  int fewest = 64;
  int most = 0;
  std::string values;
  for (const uint64_t t : moduli) {
    fewest = std::min(fewest, static_cast<int>(std::bit_width(t)));
    most = std::max(most, static_cast<int>(std::bit_width(t)));
    values += (values.empty() ? "" : ", ") + std::to_string(t);
  }
  const std::string count = std::to_string(moduli.size());
  return (fewest == most
              ? count + " x " + std::to_string(most)
              : count + " of " + std::to_string(fewest) + " to " + std::to_string(most)) +
         " bits: t = " + values;
}

// Why a parameter set of the model profile is too weak for the client's keys; nullopt when it is
// not. The profile usually comes from the server (client profile), which must not choose how
// strong the client's keys are (a trial: a profile edited to n = 64 gave keys of ~37 bits, exit
// 0). BFV: inside the HE standard's 128-bit classical bound for ternary secrets, by the table and
// the primal-uSVP estimate (bfv::assess_security).
std::optional<std::string> weakness(const bfv::Parameters& params) {
  const bfv::SecurityReport report = bfv::assess_security(params);
  if (report.meets_128_classical) return std::nullopt;
  const std::optional<int> bound = report.table_checks.front().max_log2_q;  // classical, 128
  const double estimate = report.estimate.bkz_classical();
  std::string why;
  if (!bound) {
    why = format("n = %zu is not in the HE standard's table (n = 1024 to 32768)", params.n);
  } else if (!report.table_checks.front().passes) {
    why = format(
        "log2 q = %.1f is outside the HE standard's 128-bit classical bound for ternary "
        "secrets at n = %zu (log2 q <= %d)",
        report.log2_q, params.n, *bound);
  } else {
    why = format("the primal-uSVP estimate for n = %zu, log2 q = %.1f, sigma = %g is below 128",
                 params.n, report.log2_q, params.sigma);
  }
  return why + format("; keys made for them would have about %.0f bits of security", estimate);
}

// YASHE' (no security level is claimed for it, yashe/security.hpp): at least the shipped presets'
// error width, and their ring degree, n = 8192, unless q lies within the HE standard's 128-bit
// classical bound for its n (the stricter of the Gaussian and ternary rows: what the table-bound
// preset chooses, which may be n = 4096 for a small model).
std::optional<std::string> weakness(const yashe::Parameters& params) {
  constexpr size_t kShippedRingDegree = 8192;
  // The smallest error width of the shipped presets (paper: 3.19, SEAL 1.x's; default 3.2): a
  // narrower error is weaker at any n (a trial's profile with sigma 0.6 at n = 8192 passed).
  constexpr double kShippedSigma = 3.19;
  if (params.sigma < kShippedSigma) {
    return format("sigma = %g is below the shipped presets' error width (sigma >= %g)",
                  params.sigma, kShippedSigma);
  }
  if (params.n >= kShippedRingDegree) return std::nullopt;
  std::optional<int> bound;
  for (const auto secret :
       {rlwe::SecretDistribution::kGaussian, rlwe::SecretDistribution::kTernary}) {
    const std::optional<int> row =
        rlwe::he_standard_max_log2_q(secret, rlwe::Adversary::kClassical, 128, params.n);
    if (!row)
      return format("n = %zu is below the shipped presets' n = %zu", params.n, kShippedRingDegree);
    bound = bound ? std::min(*bound, *row) : *row;
  }
  if (params.log2_q() <= *bound) return std::nullopt;
  return format(
      "n = %zu is below the shipped presets' n = %zu, and log2 q = %.1f is outside the HE "
      "standard's 128-bit classical bound for that n (log2 q <= %d)",
      params.n, kShippedRingDegree, params.log2_q(), *bound);
}

// Refuses (std::runtime_error naming the profile) a weak parameter set from the profile unless
// --insecure-ring-degree was given, which accepts a parameter set with no security for tests.
template <class Parameters>
void require_strong_parameters(const OptionParser& options, const std::string& preset_name,
                               const Parameters& params, const char* scheme) {
  if (options.has("insecure-ring-degree")) return;
  const std::optional<std::string> why = weakness(params);
  if (!why) return;
  const std::string source = options.has("model")
                                 ? "the profile of the model '" + options.text("model") + "'"
                                 : "the profile '" + profile_file_used(options) + "'";
  throw std::runtime_error(
      source + " gives preset '" + preset_name + "' (" + scheme +
      ") parameters too weak for the client's keys: " + *why +
      ". Nothing was written: a profile usually comes from the server (client profile), and the "
      "server is not to choose how strong your keys are. Use a profile with the shipped "
      "parameters, or accept these for tests only (INSECURE) with --insecure-ring-degree " +
      std::to_string(params.n));
}

std::string security_line(const yashe::Parameters& params) {
  return yashe::assess_security(params).one_line();
}
std::string security_line(const bfv::Parameters& params) {
  return bfv::assess_security(params).one_line();
}

// Generates the client's keys under `Scheme` and writes the whole key directory at once.
template <class Scheme>
void write_key_directory(const fs::path& target, const std::string& preset_name,
                         const typename Scheme::Parameters& params,
                         const std::vector<uint64_t>& plaintext_moduli, const ModelProfile& profile,
                         Prng& prng, bool replace_secret_key, const TestSignal& test) {
  const KeyDirectory files(target.string());
  const keygen_signals::Guard signals(target);
  test.raise_at("generate");
  const encoding::BasicCrtKeys<Scheme> keys =
      encoding::BasicCrtKeys<Scheme>::generate(params, plaintext_moduli, prng);
  {
    KeySetStaging staging(target, replace_secret_key, test);
    try {
      save_key_directory(KeyDirectory(staging.path().string()), keys);
      // The profile the parameters came from: encrypt and decrypt use it when given no
      // --profile, so keys made for another model never meet the shipped model's profile by
      // default.
      save_profile(profile, (staging.path() / kKeySetProfileName).string());
    } catch (const std::runtime_error& error) {
      // A write that failed (a full disk) named the staging directory, removed as this throws
      // (a trial: "cannot write file 'keys.tmp-9485-Qt58cE/evaluation.key'", a path that no
      // longer exists): the file is named as the key directory's, and what became of it said.
      std::string message = error.what();
      const std::string staged = staging.path().string();
      for (size_t at = message.find(staged); at != std::string::npos;
           at = message.find(staged, at + target.string().size())) {
        message.replace(at, staged.size(), target.string());
      }
      std::error_code exists_error;
      throw std::runtime_error(
          message + "; no key set was written: '" + target.string() +
          (fs::exists(target, exists_error) ? "' is unchanged" : "' was not created"));
    }
    staging.commit();
  }

  std::printf("scheme: %s\n", Scheme::kName);
  std::printf("%s\n", security_line(params).c_str());
  std::printf("parameters (%s): %s\n", preset_name.c_str(), params.describe().c_str());
  std::printf("plaintext moduli: %s; slots per batch: %zu\n",
              describe_plaintext_moduli(plaintext_moduli).c_str(), params.n);
  std::printf("parameter set %016llx, key set %016llx\n",
              static_cast<unsigned long long>(parameter_set_fingerprint(keys.contexts)),
              static_cast<unsigned long long>(key_set_id(keys.key_ids())));
  const auto shown = [](const std::string& path) { return printable_text(path); };
  std::printf(
      "wrote %s (%s), %s (%s), %s (%s), %s (the model's profile) and %s (%s, mode 0600: "
      "keep it secret)\n",
      shown(files.parameters).c_str(), file_size(files.parameters).c_str(),
      shown(files.public_keys).c_str(), file_size(files.public_keys).c_str(),
      shown(files.evaluation_keys).c_str(), file_size(files.evaluation_keys).c_str(),
      shown((target / kKeySetProfileName).string()).c_str(), shown(files.secret_keys).c_str(),
      file_size(files.secret_keys).c_str());
}

}  // namespace

int run_keygen(std::span<char* const> arguments) {
  // Installed already by keygen_preinit as the process started; again here for a caller whose
  // first argument was not "keygen".
  keygen_signals::install();
  const TestSignal test = TestSignal::from_environment();
  test.raise_at("start");
  OptionParser options(
      "keygen",
      "Client: generates a parameter set and, for each plaintext modulus, a key set of the\n"
      "chosen scheme (YASHE', the paper's, or BFV, secure under RLWE), into DIR/params,\n"
      "DIR/public.key, DIR/evaluation.key (give these three to the server: inference needs all\n"
      "three, the public key to re-randomise the scores; encryption needs params and\n"
      "public.key), DIR/secret.key (mode 0600; it never leaves the client) and DIR/model.profile\n"
      "(the profile used, which encrypt and decrypt take when given no --profile). Every key file\n"
      "records its scheme: encrypt, infer and decrypt read it from there. The parameters are\n"
      "those the server's model profile (--profile) names for the preset; weaker ones than the\n"
      "shipped presets' (BFV outside the HE standard's 128-bit bound, YASHE' below n = 8192)\n"
      "are refused unless --insecure-ring-degree accepts them. The whole directory\n"
      "is written at once (an existing one is replaced only when the new set is complete); its\n"
      "files share a parameter-set fingerprint and a key-set id, which every ciphertext file\n"
      "carries too.");
  options.add_value("out-dir", "DIR", "key directory (created with mode 0700 if missing)",
                    std::nullopt, true);
  options.add_value("scheme", "NAME", "yashe (the paper's scheme) or bfv (secure under RLWE)",
                    "yashe");
  add_profile_options(options);
  std::string presets;
  for (const std::string& name : preset_names())
    presets += (presets.empty() ? "" : ", ") + name;
  options.add_value("preset", "NAME",
                    "parameter preset: for yashe " + presets +
                        " (default: default); for bfv the profile's bfv (the default)");
  options.add_flag("force",
                   "replace an existing key set (ciphertexts made for it are lost); the old set "
                   "stays whole until the new one is complete");
  options.add_value("circuit-privacy", "BITS",
                    "choose q with room for infer --circuit-privacy BITS (noise flooding to "
                    "statistical distance 2^-BITS; adds primes; YASHE' only). With --profile: the "
                    "profile's own (cryptonets profile --circuit-privacy BITS)");
  options.add_value("seed", "S", "INSECURE: derive the keys from S, for reproduction only");
  add_insecure_ring_degree_option(
      options, "; also the only way to accept a profile's preset weaker than the shipped ones");
  if (!options.parse(arguments)) return kExitSuccess;

  SchemeId scheme;
  try {
    scheme = parse_scheme(options.text("scheme"));
  } catch (const std::invalid_argument& error) {
    throw UsageError(error.what());
  }
  // Read before any output or file: a malformed value is a usage error that comes first.
  std::optional<uint64_t> seed;
  if (options.has("seed")) seed = static_cast<uint64_t>(options.integer("seed", 0, INT64_MAX));
  const int circuit_privacy = options.has("circuit-privacy")
                                  ? static_cast<int>(options.integer("circuit-privacy", 0, 128))
                                  : 0;
  if (scheme == SchemeId::kBfv && circuit_privacy > 0) {
    throw UsageError(
        "--circuit-privacy is for --scheme yashe: noise flooding is implemented for "
        "YASHE' only");
  }
  const ModelProfile profile = client_profile(options, circuit_privacy);
  if (options.has("circuit-privacy") && profile.circuit_privacy_bits != circuit_privacy) {
    throw UsageError("--circuit-privacy " + std::to_string(circuit_privacy) + ": the profile '" +
                     options.text("profile") + "' was made for " +
                     std::to_string(profile.circuit_privacy_bits) +
                     " (the server makes it with cryptonets profile --circuit-privacy BITS)");
  }
  const std::string preset_name = options.has("preset")
                                      ? options.text("preset")
                                      : (scheme == SchemeId::kBfv ? std::string("bfv") : "default");
  // A preset the profile lacks is a usage error, as in mnist and params (a trial: keygen exited 1,
  // they 2); the profile's message names the presets it has.
  try {
    if (scheme == SchemeId::kBfv) {
      (void)profile.bfv_preset(preset_name);
    } else {
      (void)profile.preset(preset_name);
    }
  } catch (const std::invalid_argument& error) {
    throw UsageError(std::string("--preset: ") + error.what());
  }

  const std::string directory = options.text("out-dir");
  if (directory.empty()) throw UsageError("--out-dir needs a directory name, not an empty one");
  const fs::path target = key_directory_path(directory);
  // A bad --out-dir before anything else is printed (the ring degree's warning).
  check_replaceable(target);
  const KeyDirectory files(target.string());
  if (std::filesystem::exists(files.secret_keys) && !options.flag("force")) {
    throw std::runtime_error("refusing to overwrite the secret key " + files.secret_keys +
                             ": ciphertexts made for it could no longer be decrypted (use --force "
                             "to replace it)");
  }

  // Everything the user gave is checked before anything is written.
  std::optional<yashe::Parameters> yashe_params;
  std::optional<bfv::Parameters> bfv_params;
  std::vector<uint64_t> plaintext_moduli;
  if (scheme == SchemeId::kBfv) {
    const BfvParameterChoice& choice = profile.bfv_preset(preset_name);
    bfv_params = insecure_ring_degree_option(options, choice.base);
    plaintext_moduli = choice.plaintext_moduli;
  } else {
    const ParameterChoice& choice = profile.preset(preset_name);
    yashe_params = insecure_ring_degree_option(options, choice.base);
    plaintext_moduli = choice.plaintext_moduli;
  }
  // The profile is the server's: parameters weaker than the shipped ones are refused.
  if (bfv_params) {
    require_strong_parameters(options, preset_name, *bfv_params, "BFV");
  } else {
    require_strong_parameters(options, preset_name, *yashe_params, "YASHE'");
  }
  require_plaintext_moduli(profile.output_range(), plaintext_moduli);
  warn_insecure_ring_degree(options, bfv_params ? bfv_params->n : yashe_params->n);

  // A key set moved back into the missing directory ends keygen here (tidy_leftovers).
  tidy_leftovers(target);

  std::optional<Prng> seeded;
  if (seed) {
    std::printf("WARNING: --seed makes the keys predictable: INSECURE, for reproduction only\n");
    seeded = Prng::insecure_seeded(*seed);
  }
  Prng prng = seeded ? *seeded : Prng::from_os_entropy();
  if (bfv_params) {
    write_key_directory<bfv::Scheme>(target, preset_name, *bfv_params, plaintext_moduli, profile,
                                     prng, options.flag("force"), test);
  } else {
    write_key_directory<yashe::Scheme>(target, preset_name, *yashe_params, plaintext_moduli,
                                       profile, prng, options.flag("force"), test);
  }
  test.raise_at("finished");
  return kExitSuccess;
}

}  // namespace cryptonets::cli
