#include "cli_support.hpp"

#include <omp.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <new>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>
#include <system_error>

#include "cryptonets/inference/parameter_selection.hpp"
#include "cryptonets/io/input_file.hpp"
#include "cryptonets/io/model_profile.hpp"
#include "cryptonets/io/protocol_files.hpp"
#include "cryptonets/io/serialize.hpp"

#ifndef CRYPTONETS_SOURCE_DATA_DIR
#define CRYPTONETS_SOURCE_DATA_DIR "data"
#endif

namespace cryptonets::cli {

OptionParser::OptionParser(std::string command, std::string summary)
    : invocation_("cryptonets " + command), summary_(std::move(summary)) {
  add_flag("help", "show this help and exit");
}

OptionParser OptionParser::for_program(std::string program, std::string summary) {
  OptionParser parser("", std::move(summary));
  parser.invocation_ = std::move(program);
  return parser;
}

void OptionParser::add_value(const std::string& name, const std::string& metavar,
                             const std::string& help, std::optional<std::string> default_value,
                             bool required) {
  order_.push_back(name);
  specs_[name] = Spec{metavar, help, std::move(default_value), required};
}

void OptionParser::add_flag(const std::string& name, const std::string& help) {
  order_.push_back(name);
  specs_[name] = Spec{"", help, std::nullopt, false};
}

void OptionParser::add_refused(const std::string& name, const std::string& reason) {
  refused_[name] = reason;
}

bool OptionParser::parse(std::span<char* const> arguments) {
  for (size_t i = 0; i < arguments.size(); ++i) {
    std::string argument = arguments[i];
    if (argument == "-h") argument = "--help";
    if (argument.rfind("--", 0) != 0 || argument.size() == 2) {
      throw UsageError("unexpected argument '" + argument + "' (options start with --)");
    }
    std::string name = argument.substr(2);
    std::optional<std::string> inline_value;
    if (const size_t equals = name.find('='); equals != std::string::npos) {
      inline_value = name.substr(equals + 1);
      name.resize(equals);
    }
    if (const auto refused = refused_.find(name); refused != refused_.end())
      throw UsageError("--" + name + " " + refused->second);
    const auto found = specs_.find(name);
    if (found == specs_.end()) throw UsageError("unknown option --" + name);
    if (found->second.metavar.empty()) {
      if (inline_value) throw UsageError("--" + name + " takes no value");
      if (name == "help") {
        std::cout << usage();
        return false;
      }
      values_[name] = "1";
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= arguments.size()) {
        throw UsageError("--" + name + " needs a value (" + found->second.metavar + ")");
      }
      // An option in the value's place: the value was left out (`--threads --out X` took
      // '--out' as the thread count, and `--count --out x.ct` called 'x.ct' unexpected).
      const std::string next = arguments[i + 1];
      const std::string next_name =
          next.rfind("--", 0) == 0 ? next.substr(2, next.find('=') - 2) : std::string();
      if (next == "-h" ||
          (!next_name.empty() && (specs_.count(next_name) || refused_.count(next_name)))) {
        throw UsageError(
            "--" + name + " needs a value (" + found->second.metavar + "); the next argument, " +
            next + ", is an option (a value that starts with -- goes as --" + name + "=VALUE)");
      }
      inline_value = arguments[++i];
    }
    if (values_.count(name)) throw UsageError("--" + name + " given twice");
    // An empty path named no file: `--keys ''` read '/params', `profile --model ''` failed with
    // "filesystem error: cannot make absolute path", `mnist --data ''` exited 1 (a trial).
    const std::string& metavar = found->second.metavar;
    if (inline_value->empty() && (metavar == "FILE" || metavar == "DIR")) {
      throw UsageError("--" + name + " needs a " + (metavar == "FILE" ? "file" : "directory") +
                       " name, not an empty one");
    }
    values_[name] = *inline_value;
  }
  for (const auto& [name, spec] : specs_) {
    if (spec.required && !values_.count(name)) {
      throw UsageError("missing required option --" + name + " " + spec.metavar);
    }
  }
  return true;
}

namespace {

// --help lines stay within this many columns (a trial found lines of up to 308), and an option's
// help starts at this column.
constexpr size_t kHelpWidth = 100;
constexpr size_t kHelpColumn = 26;

// Columns of UTF-8 text: one per character (the help texts hold ×, ±, ≤ and the like).
size_t columns(std::string_view text) {
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

// `text` broken at spaces into lines of at most kHelpWidth columns, the first starting at
// column `column`, the others after `indent` spaces; its own line breaks are kept. A word longer
// than a whole line (a long default path) stands alone on its line.
std::string wrap(const std::string& text, size_t column, size_t indent) {
  std::string out;
  std::istringstream lines(text);
  std::string line;
  for (bool first_line = true; std::getline(lines, line); first_line = false) {
    if (!first_line) {
      out += '\n';
      column = 0;
    }
    std::istringstream words(line);
    std::string word;
    for (bool first_word = true; words >> word; first_word = false) {
      const size_t width = columns(word);
      if (column == 0 || (!first_word && column + 1 + width > kHelpWidth)) {
        if (column != 0) out += '\n';
        out += std::string(indent, ' ');
        column = indent;
      } else if (!first_word) {
        out += ' ';
        ++column;
      }
      out += word;
      column += width;
    }
  }
  return out;
}

}  // namespace

std::string OptionParser::usage() const {
  std::ostringstream out;
  out << "usage: " << invocation_ << " [options]\n\n" << wrap(summary_, 0, 0) << "\n\noptions:\n";
  for (const std::string& name : order_) {
    const Spec& spec = specs_.at(name);
    // An option declared without a help text is a test hook: parsed, not offered (serve listed
    // --key-set-load-hold, "for tests only", among its options for operators).
    if (spec.help.empty()) continue;
    std::string left = "  --" + name + (spec.metavar.empty() ? "" : " " + spec.metavar);
    if (left.size() < kHelpColumn)
      left.resize(kHelpColumn, ' ');
    else
      left += "\n" + std::string(kHelpColumn, ' ');
    // A help text of several lines goes on under its first line (found by a trial: the lines of
    // cryptonets-quantise --sequential started at column 1). An empty default is not shown (a
    // trial: cryptonets-train --merged showed "[]").
    std::string help = spec.help;
    if (spec.required) help += " (required)";
    if (spec.default_value && !spec.default_value->empty())
      help += " [" + *spec.default_value + "]";
    out << left << wrap(help, kHelpColumn, kHelpColumn) << "\n";
  }
  out << "\nexit status: 0 success, 1 failure (bad input, refused operation), 2 usage error\n";
  return out.str();
}

const OptionParser::Spec& OptionParser::spec(const std::string& name) const {
  const auto found = specs_.find(name);
  if (found == specs_.end()) throw std::logic_error("option --" + name + " was not declared");
  return found->second;
}

bool OptionParser::has(const std::string& name) const {
  return values_.count(name) || spec(name).default_value.has_value();
}

bool OptionParser::declared(const std::string& name) const {
  return specs_.count(name) != 0;
}

bool OptionParser::given(const std::string& name) const {
  spec(name);  // a known option
  return values_.count(name) != 0;
}

bool OptionParser::flag(const std::string& name) const {
  spec(name);
  return values_.count(name) != 0;
}

std::string OptionParser::text(const std::string& name) const {
  if (const auto found = values_.find(name); found != values_.end()) return found->second;
  const Spec& s = spec(name);
  if (!s.default_value) throw UsageError("missing option --" + name + " " + s.metavar);
  return *s.default_value;
}

int64_t OptionParser::integer(const std::string& name, int64_t low, int64_t high) const {
  const std::string value = text(name);
  // from_chars, not strtoll: strtoll also took " 5" and "+5", which cryptonets-reproduce's own
  // --seed refused (a trial compared them).
  int64_t parsed = 0;
  const char* const last = value.data() + value.size();
  const auto [end, error] = std::from_chars(value.data(), last, parsed);
  // "-0" parsed as 0: no sign where no negative value is allowed (--first=-0 was taken as 0).
  const bool sign_on_unsigned = low >= 0 && !value.empty() && value.front() == '-';
  if (value.empty() || error != std::errc() || end != last || parsed < low || parsed > high ||
      sign_on_unsigned) {
    throw UsageError("--" + name + " expects an integer in [" + std::to_string(low) + ", " +
                     std::to_string(high) + "], got '" + value + "'");
  }
  return parsed;
}

double OptionParser::real(const std::string& name, double low, double high) const {
  const std::string value = text(name);
  char* end = nullptr;
  const double parsed = std::strtod(value.c_str(), &end);
  if (value.empty() || *end != '\0' || !std::isfinite(parsed) || parsed < low || parsed > high) {
    std::ostringstream range;
    range << "[" << low << ", " << high << "]";
    throw UsageError("--" + name + " expects a number in " + range.str() + ", got '" + value + "'");
  }
  return parsed;
}

bool standard_streams_open(const std::string& program) {
  bool stdout_open = true;
  for (int fd = 0; fd <= 2; ++fd) {
    if (fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
    if (fd == STDOUT_FILENO) stdout_open = false;
    const int null = open("/dev/null", O_RDWR);
    if (null >= 0 && null != fd) {
      dup2(null, fd);
      close(null);
    }
  }
  if (!stdout_open) {
    std::fprintf(stderr,
                 "%s: standard output is closed; redirect it instead (for example >/dev/null)\n",
                 program.c_str());
  }
  return stdout_open;
}

int checked_stdout(int status, const std::string& program) {
  errno = 0;
  std::cout.flush();
  const bool written = std::cout.good() && std::fflush(stdout) == 0 && !std::ferror(stdout);
  if (written) return status;
  const int error = errno;
  // Not "its report ... the command itself completed" (a trial): decrypt without --out prints
  // its labels there, the result itself, and they are what was lost.
  std::fprintf(stderr,
               "%s: error: standard output could not be written (%s): what the command printed "
               "there is incomplete (the files it wrote are not affected)\n",
               program.c_str(), error != 0 ? std::strerror(error) : "write failed");
  return status == kExitSuccess ? kExitFailure : status;
}

int run_standalone(const std::string& program, int (*run)(std::span<char* const>), int argc,
                   char** argv) {
  if (!standard_streams_open(program)) return kExitUsage;
  // Past a file-size limit (ulimit -f) a write would end the process by SIGXFSZ, without a word
  // (a shell's 153); ignored, it fails with EFBIG, which the writers report with the file's name
  // ("File too large"), their outputs discarded.
  ::signal(SIGXFSZ, SIG_IGN);
  try {
    return checked_stdout(
        run(std::span<char* const>(argv + 1, argc > 1 ? static_cast<size_t>(argc - 1) : 0)),
        program);
  } catch (const UsageError& e) {
    std::cerr << program << ": " << printable_text(e.what()) << " (see " << program << " --help)\n";
    return kExitUsage;
  } catch (const std::bad_alloc&) {
    std::cerr << program << ": out of memory\n";
    return kExitFailure;
  } catch (const std::exception& e) {
    std::cerr << program << ": " << printable_text(e.what()) << '\n';
    return kExitFailure;
  }
}

Progress::Progress(std::string label, size_t total, double log_every_seconds)
    : label_(std::move(label)),
      total_(total),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_),
      active_(enabled() && total > 0),
      log_every_seconds_(active_ ? 0 : log_every_seconds) {}

Progress::~Progress() {
  if (active_) std::fprintf(stderr, "\r\033[K");
}

bool Progress::enabled() {
  return isatty(STDERR_FILENO) && std::getenv("CI") == nullptr;
}

void Progress::advance(size_t steps) {
  const size_t done = done_ += steps;
  if (!active_ && log_every_seconds_ > 0) {
    std::lock_guard lock(mutex_);  // every line counts: wait for another thread's
    const auto now = std::chrono::steady_clock::now();
    if (done < total_ &&
        std::chrono::duration<double>(now - last_draw_).count() < log_every_seconds_) {
      return;
    }
    last_draw_ = now;
    std::fprintf(stderr, "%s: %zu / %zu (%.1f%%), %.0f s\n", label_.c_str(), done, total_,
                 total_ ? 100.0 * static_cast<double>(done) / static_cast<double>(total_) : 100.0,
                 std::chrono::duration<double>(now - start_).count());
    std::fflush(stderr);
    return;
  }
  if (!active_) return;
  std::unique_lock lock(mutex_, std::try_to_lock);
  if (!lock.owns_lock()) return;  // another thread is drawing
  const auto now = std::chrono::steady_clock::now();
  if (done < total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  draw(done);
}

void Progress::draw(size_t done) {
  constexpr int kWidth = 30;
  const double fraction = std::min(1.0, static_cast<double>(done) / static_cast<double>(total_));
  const int filled = static_cast<int>(fraction * kWidth);
  const double elapsed = std::chrono::duration<double>(last_draw_ - start_).count();
  std::fprintf(stderr, "\r\033[K%-28s [%s%s] %5.1f%% %6.1f s", label_.c_str(),
               std::string(filled, '#').c_str(), std::string(kWidth - filled, '.').c_str(),
               100 * fraction, elapsed);
  std::fflush(stderr);
}

void StageProgressBars::update(const std::string& stage, size_t modulus, size_t done,
                               size_t total) {
  if (!Progress::enabled()) return;
  std::lock_guard lock(mutex_);
  const std::string key = stage + " (t" + std::to_string(modulus + 1) + ")";
  if (key != key_) {
    bar_.reset();
    bar_ = std::make_unique<Progress>(key, total);
    key_ = key;
  }
  (void)done;
  bar_->advance();
}

void StageProgressBars::finish() {
  std::lock_guard lock(mutex_);
  bar_.reset();
  key_.clear();
}

void add_threads_option(OptionParser& options, const std::string& help) {
  options.add_value("threads", "T", help, std::to_string(std::max(1, omp_get_num_procs())));
}

int threads_option(const OptionParser& options) {
  const int count = static_cast<int>(options.integer("threads", 1, 1024));
  omp_set_num_threads(count);
  return count;
}

void add_insecure_ring_degree_option(OptionParser& options, const std::string& more_help) {
  options.add_value("insecure-ring-degree", "N",
                    "TESTING ONLY, INSECURE: the preset's primes with ring degree N (a power of "
                    "two from 4 up to the preset's n): N slots, fast tests" +
                        more_help);
}

template <class Parameters>
Parameters insecure_ring_degree_option(const OptionParser& options, Parameters params) {
  if (!options.has("insecure-ring-degree")) return params;
  // At n = 2 every run ended in "noise budget exhausted"; 4 is the smallest ring that works.
  constexpr int64_t kMinimum = 4;
  int64_t n = 0;
  try {
    n = options.integer("insecure-ring-degree", kMinimum, static_cast<int64_t>(params.n));
  } catch (const UsageError&) {
    n = 0;  // not a number, or out of range: the message below says what is accepted
  }
  if (n < kMinimum || !std::has_single_bit(static_cast<uint64_t>(n)) ||
      static_cast<size_t>(n) > params.n) {
    throw UsageError("--insecure-ring-degree must be a power of two from " +
                     std::to_string(kMinimum) + " to the preset's n = " + std::to_string(params.n));
  }
  params.n = static_cast<size_t>(n);
  params.validate();
  return params;
}

void warn_insecure_ring_degree(const OptionParser& options, size_t n) {
  if (!options.has("insecure-ring-degree")) return;
  std::printf("WARNING: --insecure-ring-degree %zu: a test-only parameter set with NO security\n",
              n);
}

template yashe::Parameters insecure_ring_degree_option(const OptionParser&, yashe::Parameters);
template bfv::Parameters insecure_ring_degree_option(const OptionParser&, bfv::Parameters);

void add_no_verify_option(OptionParser& options) {
  options.add_flag("no-verify",
                   "read the IDX data without checking them against the SHA256SUMS beside them");
}

bool verify_option(const OptionParser& options) {
  return !options.flag("no-verify");
}

namespace {

// The one line for a directory without a checksum file, once per directory and process.
void note_unverified(const std::filesystem::path& any_file,
                     NoVerifyOption no_verify = NoVerifyOption::kOffered) {
  static std::set<std::string> noted;
  std::string directory = any_file.parent_path().string();
  if (directory.empty()) directory = ".";
  // Known by where it is, not by how it was spelt: "labels" and "./images" are both in '.'.
  std::error_code error;
  const std::filesystem::path where =
      std::filesystem::weakly_canonical(std::filesystem::absolute(directory, error), error);
  if (!noted.insert(error ? directory : where.string()).second) return;
  directory = printable_text(directory);
  // The command as one pastes it: the directory one sh word ('my data' was 'cd my data', which
  // cd refuses; a trial), and no option to cd ('-data' was 'cd -data', an invalid option, and
  // '-' is the previous directory even after '--'; a review): './-data'.
  const std::string cd_word =
      shell_quoted(directory.starts_with('-') ? "./" + directory : directory);
  std::fprintf(
      stderr,
      "note: no %s in '%s': its data are unverified (make one with: cd %s && "
      "sha256sum *-ubyte* > %s%s)\n",
      kChecksumFileName, directory.c_str(), cd_word.c_str(), kChecksumFileName,
      no_verify == NoVerifyOption::kOffered ? "; --no-verify skips the check and this note" : "");
}

// A checksum error with what the user may do about it.
template <typename Step>
auto with_checksum_hint(Step step, NoVerifyOption no_verify = NoVerifyOption::kOffered) {
  try {
    return step();
  } catch (const ChecksumError& e) {
    throw ChecksumError(std::string(e.what()) +
                        "; if the data changed on purpose, update the checksum file" +
                        (no_verify == NoVerifyOption::kOffered ? " (or pass --no-verify)" : ""));
  }
}

}  // namespace

MnistSet load_data_split(const std::string& directory, MnistSplit split, bool verify,
                         NoVerifyOption no_verify) {
  MnistSet set;
  try {
    set = with_checksum_hint([&] { return load_mnist(directory, split, verify); }, no_verify);
  } catch (const ChecksumError&) {
    throw;
  } catch (const std::exception&) {
    // Data that fail to read were unverified too: the note comes before the error (a trial's
    // corrupted labels .gz, without SHA256SUMS beside it, was reported without it).
    // Not for missing files: nothing was read.
    const std::filesystem::path images = split_images_file(directory, split);
    try {
      std::error_code error;
      if (std::filesystem::exists(images, error) &&
          std::filesystem::exists(split_labels_file(directory, split), error) &&
          check_data_file(images, verify) == ChecksumCheck::kNoChecksumFile)
        note_unverified(images, no_verify);
    } catch (const std::exception&) {
      // The error being thrown says more than this one would.
    }
    throw;
  }
  if (set.checksums == ChecksumCheck::kNoChecksumFile) {
    note_unverified(split_images_file(directory, split), no_verify);
  }
  // An empty split is no data set: an empty test split gave 'test 0.00%' in cryptonets-train, 'none
  // of the grid points could be measured' in cryptonets-quantise and an accuracy and throughput of
  // -nan, exit 0, in cryptonets mnist (a trial).
  if (set.images.count == 0) {
    throw std::runtime_error("IDX file '" + split_images_file(directory, split).string() +
                             "' holds no images (and its labels file no labels): the " +
                             (split == MnistSplit::kTrain ? "training" : "test") +
                             " set needs at least one image");
  }
  return set;
}

namespace {

// The content of the IDX file `path` after gunzip, from one read of it (a file replaced between a
// check and a second read was used unchecked): its bytes as stored are checked against the
// checksum files first.
std::vector<uint8_t> checked_data_file(const std::string& path, bool verify) {
  std::vector<uint8_t> stored = read_stored_file(path);
  const ChecksumCheck check =
      with_checksum_hint([&] { return check_data_file(path, verify, stored); });
  // Before the content is read: a file that then fails to decompress or parse was unverified too.
  if (check == ChecksumCheck::kNoChecksumFile) note_unverified(path);
  return gunzip_if_gzipped(std::move(stored), path);
}

}  // namespace

MnistImages read_images_file(const std::string& path, bool verify, Sha256::Digest* content_sha256) {
  const std::vector<uint8_t> content = checked_data_file(path, verify);
  if (content_sha256 != nullptr) *content_sha256 = sha256(content);
  return parse_mnist_images(content, path);
}

MnistLabels read_labels_file(const std::string& path, bool verify) {
  return parse_mnist_labels(checked_data_file(path, verify), path);
}

std::string default_data_directory() {
  const char* from_environment = std::getenv("CRYPTONETS_DATA");
  if (from_environment != nullptr && *from_environment != '\0') return from_environment;
  if (std::filesystem::exists("data/model.txt")) return "data";
  return CRYPTONETS_SOURCE_DATA_DIR;
}

std::string default_data_source() {
  const char* from_environment = std::getenv("CRYPTONETS_DATA");
  if (from_environment == nullptr || *from_environment == '\0') return "";
  return " (under CRYPTONETS_DATA='" + std::string(from_environment) + "')";
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) != 0) continue;
    const size_t colon = line.find(':');
    const size_t first =
        colon == std::string::npos ? colon : line.find_first_not_of(' ', colon + 1);
    if (first != std::string::npos) return line.substr(first);
  }
  return "unknown";
}

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  return text;
}

std::string format_bytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, unit == 0 ? "%.0f %s" : "%.2f %s", value, units[unit]);
  return text;
}

std::optional<std::string> key_set_profile_file(const OptionParser& options) {
  if (!options.declared("keys") || !options.has("keys")) return std::nullopt;
  const std::string path =
      (std::filesystem::path(options.text("keys")) / kKeySetProfileName).string();
  std::error_code error;
  if (!std::filesystem::exists(path, error)) return std::nullopt;
  return path;
}

std::optional<std::string> key_set_profile(const OptionParser& options) {
  if (options.has("model") || options.given("profile")) return std::nullopt;
  return key_set_profile_file(options);
}

std::string profile_file_used(const OptionParser& options) {
  return key_set_profile(options).value_or(options.text("profile"));
}

namespace {

bool starts_with_path(const std::filesystem::path& path, const char* directory) {
  return path.string().starts_with(directory);
}

// An output must be a regular file path: each is written atomically, to a temporary file beside
// it renamed into place, which a device, a FIFO, a directory, or /dev/stdout (a link into
// /proc/self/fd) cannot take (found by a trial: --out /dev/stdout failed at the end with "cannot
// create a temporary file next to file '/proc/self/fd/pipe:[...]'").
void require_regular_output(const std::string& option, const std::string& path) {
  namespace fs = std::filesystem;
  std::string why = special_file_kind(path);
  // /dev/stdout and the like are links into /proc/self/fd, and /proc holds no files to write:
  // refused wherever a chain of links passes through them. A regular file under /dev (such as
  // /dev/shm/x) is a file like any other.
  fs::path hop = path;
  for (int depth = 0; depth < 40 && why.empty(); ++depth) {
    std::error_code error;
    const fs::path absolute = fs::absolute(hop, error).lexically_normal();
    const bool link = fs::is_symlink(fs::symlink_status(hop, error));
    if (starts_with_path(absolute, "/proc/") || (starts_with_path(absolute, "/dev/") && link)) {
      why = depth == 0 ? "a special file's path" : "a link to '" + absolute.string() + "'";
    }
    if (!link) break;
    const fs::path next = fs::read_symlink(hop, error);
    if (error) break;  // file_replaced_by_write reports it
    hop = next.is_absolute() ? next : hop.parent_path() / next;
  }
  if (why.empty()) return;
  throw UsageError("--" + option + " '" + path + "' is not a regular file path (it is " + why +
                   "): outputs must be regular file paths, since each is written atomically, to a "
                   "temporary file beside it that is then renamed into place (not a device, FIFO, "
                   "directory or /dev/stdout)");
}

}  // namespace

namespace {

// The first 64 KiB of the file `path` (less when it is shorter; "" when it cannot be read): what
// the guesses at a file's kind read of it.
std::string file_head(const std::string& path) {
  constexpr std::streamsize kScanned = 64 << 10;
  std::ifstream file(path, std::ios::binary);
  std::string head(kScanned, '\0');
  file.read(head.data(), kScanned);
  head.resize(static_cast<size_t>(std::max<std::streamsize>(file.gcount(), 0)));
  return head;
}

}  // namespace

std::string cryptonets_file_kind(const std::string& path) {
  if (const std::string special = special_file_kind(path); !special.empty()) return special;
  try {
    const ProtocolHeader header = read_protocol_header(path);
    if (header.kind != ProtocolFileKind::kCiphertexts) return protocol_kind_name(header.kind);
    return header.answers_file_id != 0 ? "encrypted scores (a ciphertext file of infer)"
                                       : "encrypted images (a ciphertext file of encrypt)";
  } catch (const std::exception&) {
  }
  // The first line neither empty nor a comment, within the file's first 64 KiB: the tools ask
  // this of any file a named output would replace (refuse_to_replace_project_file), and a file
  // without a line end (a 1 GiB file of zero bytes) was read whole, 2 GiB of the tool's memory.
  std::istringstream in(file_head(path));
  std::string line;
  while (std::getline(in, line) && (line.empty() || line.starts_with("#"))) {
  }
  for (const auto& [start, kind] :
       {std::pair{"cryptonets-profile", "a model profile"},
        std::pair{"cryptonets-model", "an integer model"},
        std::pair{"cryptonets-float-model", "a float model"},
        std::pair{"cryptonets-sequential-model", "a float model"},
        std::pair{"image,label,predicted", "decrypted scores (the CSV of decrypt --scores)"}}) {
    if (line.starts_with(start)) return kind;
  }
  return "";
}

std::string text_file_format(const std::string& path) {
  std::istringstream in(file_head(path));
  std::string line, word;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    if (words >> word && !word.starts_with("#")) return word;
  }
  return "";
}

std::string missing_default_hint(const std::string& option, const std::string& path, bool named) {
  if (named) return "";
  std::error_code error;  // set for absence too
  const std::filesystem::file_status status = std::filesystem::symlink_status(path, error);
  if (std::filesystem::exists(status) || (error && error != std::errc::no_such_file_or_directory))
    return "";
  const std::filesystem::path here = std::filesystem::current_path(error);
  return " (the default of " + option + ", relative to the current directory" +
         (error ? std::string() : " '" + here.string() + "'") +
         ": run from the repository, or give " + option + ")";
}

void require_preset_name(const std::string& name) {
  const std::vector<std::string> names = inference::preset_names();
  if (std::find(names.begin(), names.end(), name) != names.end()) return;
  std::string known;
  for (const std::string& each : names)
    known += (known.empty() ? "" : ", ") + each;
  throw UsageError("--preset must be one of " + known + ", not '" + name + "'");
}

void warn_if_secret_key_exposed(const std::string& command, const std::string& path) {
  // Found by a trial: decrypt used a secret.key of mode 0644 without a word (keygen writes 0600;
  // a copy or an archive may not keep it).
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  if (error || !std::filesystem::is_regular_file(status)) return;
  const auto mode = static_cast<unsigned>(status.permissions()) & 07777;
  if ((mode & 066) == 0) return;
  const std::string shown = printable_text(path);
  std::fprintf(stderr,
               "cryptonets %s: warning: secret key '%s' has mode %04o: its %s may %s it; keygen "
               "writes it with mode 0600 (chmod 600 '%s', and make new keys if others may have "
               "read it)\n",
               command.c_str(), shown.c_str(), mode,
               (mode & 060) && (mode & 006) ? "group and others"
               : (mode & 060)               ? "group"
                                            : "others",
               (mode & 044) && (mode & 022) ? "read and write"
               : (mode & 044)               ? "read"
                                            : "write",
               shown.c_str());
}

void require_key_directory_option(const OptionParser& options,
                                  std::initializer_list<std::string KeyDirectory::*> read) {
  if (!options.has("keys")) return;
  const std::string path = options.text("keys");
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    // The files the command reads are read by name: one that is a FIFO would block the read for
    // ever. The others may be anything (found by a trial: encrypt refused a FIFO secret.key).
    const KeyDirectory files(path);
    for (std::string KeyDirectory::*file : read)
      require_regular_input(files.*file);
    if (const std::optional<std::string> profile = key_set_profile(options))
      require_regular_input(*profile);
    return;
  }
  if (!std::filesystem::exists(path, error)) return;
  const std::string kind = cryptonets_file_kind(path);
  throw std::runtime_error(
      "--keys expects the key directory written by cryptonets keygen (with "
      "its params and key files), but '" +
      path + "' is " + (kind.empty() ? "a file" : "a file: " + kind));
}

std::vector<std::string> key_set_files(const KeyDirectory& keys) {
  std::vector<std::string> files;
  for (const std::string& file :
       {keys.parameters, keys.public_keys, keys.evaluation_keys, keys.secret_keys}) {
    std::error_code error;
    if (!std::filesystem::exists(file, error) || std::filesystem::is_regular_file(file, error))
      files.push_back(file);
  }
  return files;
}

void require_output_path(const std::string& option, const std::string& path) {
  // Found by a trial: "" passed every check and failed only at the rename, after the work.
  if (path.empty()) throw UsageError("--" + option + " needs a file name, not an empty one");
  require_regular_output(option, path);
  // The writer refuses these too, but only when it writes, after the work. A missing or
  // non-directory parent is a bad path like the others (exit 2; it was 1, found by a trial).
  try {
    file_replaced_by_write(path);
  } catch (const std::runtime_error& error) {
    throw UsageError("--" + option + ": " + error.what());
  }
}

void require_output_path(const std::string& option, const std::string& path, bool named) {
  try {
    require_output_path(option, path);
  } catch (const UsageError& error) {
    // The default's directory, if it names one, missing: the reason is where one runs from.
    const std::string directory = std::filesystem::path(path).parent_path().string();
    const std::string hint =
        directory.empty() ? "" : missing_default_hint("--" + option, directory, named);
    if (hint.empty()) throw;
    throw UsageError(error.what() + hint);
  }
}

namespace {

// `path` made absolute, with its final symbolic links followed even where they lead nowhere yet.
std::filesystem::path written_path(const std::string& path) {
  namespace fs = std::filesystem;
  fs::path current = fs::absolute(path).lexically_normal();
  for (int hops = 0; hops < 40; ++hops) {  // 40: the kernel's own limit on links followed
    std::error_code error;
    if (!fs::is_symlink(fs::symlink_status(current, error))) break;
    const fs::path target = fs::read_symlink(current, error);
    if (error) break;
    current = (target.is_absolute() ? target : current.parent_path() / target).lexically_normal();
  }
  std::error_code error;
  const fs::path canonical = fs::weakly_canonical(current, error);
  return error ? current : canonical;
}

}  // namespace

std::string existing_default_outputs(const std::vector<DefaultOutput>& defaults) {
  std::string existing;
  for (const DefaultOutput& output : defaults) {
    std::error_code error;
    if (!std::filesystem::exists(std::filesystem::symlink_status(output.path, error))) continue;
    existing += (existing.empty() ? "'" : " and '") + output.path + "' (the default of " +
                output.option + ", not given)";
  }
  return existing;
}

ToolOutput::ToolOutput(std::string option, std::string path, bool named)
    : option_(std::move(option)), path_(std::move(path)), named_(named) {
  // Made now, not at the end, so that a directory that cannot take the file stops the tool
  // before the work; in the directory of the file it will replace (a named output's links
  // followed) or take the name of (a default). Mode 0666 less the umask, as the stream the
  // tool writes through would have made a new file.
  file_ = std::make_unique<ReplacementFile>(named_ ? file_replaced_by_write(path_) : path_, 0666);
}

ToolOutput::~ToolOutput() = default;

const std::string& ToolOutput::write_path() {
  written_ = true;
  return file_->path();
}

void ToolOutput::write(std::string_view bytes) {
  written_ = true;
  while (!bytes.empty()) {
    const ssize_t count = ::write(file_->fd(), bytes.data(), bytes.size());
    if (count < 0 && errno == EINTR) continue;
    if (count < 0) {
      const int error = errno;
      file_->discard();
      throw std::system_error(error, std::generic_category(), "cannot write '" + path_ + "'");
    }
    bytes.remove_prefix(static_cast<size_t>(count));
  }
}

void ToolOutput::publish(const std::string& program) {
  if (!written_) throw std::logic_error("ToolOutput::publish before write_path");
  if (named_) {
    file_->replace();
    return;
  }
  try {
    file_->link_as_new();
  } catch (const std::system_error& error) {
    if (error.code() != std::errc::file_exists) throw;
    throw std::runtime_error(
        "refusing to replace '" + path_ + "' (the default of " + option_ +
        ", not given), which appeared while " + program +
        " ran: a default output never replaces an existing file, and this output was not "
        "written; name it with " +
        option_ + " FILE (a file named there is replaced)");
  }
}

void publish_together(const std::string& program, std::span<ToolOutput* const> outputs) {
  std::vector<ToolOutput*> order;
  for (const bool named : {false, true}) {
    for (ToolOutput* output : outputs)
      if (output->named() == named) order.push_back(output);
  }
  std::vector<std::string> published;  // defaults, new files: removed again on failure
  try {
    for (ToolOutput* output : order) {
      output->publish(program);
      if (!output->named()) published.push_back(output->path());
    }
  } catch (...) {
    for (const std::string& path : published) {
      std::error_code ignored;
      std::filesystem::remove(path, ignored);
    }
    throw;
  }
}

void require_regular_input_option(const std::string& option, const std::string& path) {
  const std::string kind = special_file_kind(path);
  if (kind.empty()) return;
  throw UsageError("--" + option + " '" + path + "' is " + kind +
                   ", not a regular file: give the model file itself");
}

void refuse_output_over_data(const std::string& option, const std::string& output,
                             const std::string& data_directory) {
  std::error_code error;
  for (std::filesystem::directory_iterator it(data_directory, error), end; !error && it != end;
       it.increment(error)) {
    std::error_code kind_error;
    if (!it->is_regular_file(kind_error)) continue;  // links followed
    // Only the data set's own files (IDX files, the SHA256SUMS files): a rerun's --csv D/run.csv
    // of an earlier run there was refused. A link with another name is found through its target.
    const std::string name = it->path().filename().string();
    if (name.find("-ubyte") == std::string::npos && name.rfind("SHA256SUMS", 0) != 0) continue;
    if (!names_same_file(output, it->path().string())) continue;
    throw UsageError("--" + option + " '" + printable_text(output) + "' is the same file as '" +
                     printable_text(it->path().string()) + "' of --data '" +
                     printable_text(data_directory) +
                     "': writing it would destroy the data set; choose another path");
  }
}

void refuse_output_over_checksum_files(const OptionParser& options,
                                       const std::vector<std::string>& outputs,
                                       const std::vector<std::string>& inputs) {
  for (const std::string& output : outputs) {
    if (!options.has(output)) continue;
    const std::string out_path = options.text(output);
    for (const std::string& input : inputs) {
      if (!options.has(input)) continue;
      const std::string data_file = options.text(input);
      for (const std::filesystem::path& sums :
           {checksum_file_for(data_file), uncompressed_checksum_file_for(data_file)}) {
        if (!names_same_file(out_path, sums.string())) continue;
        throw UsageError("--" + output + " '" + printable_text(out_path) +
                         "' is the same file as '" + printable_text(sums.string()) +
                         "', the checksum file of the data set of --" + input + " '" +
                         printable_text(data_file) +
                         "': writing it would destroy the data set's checksums; choose another "
                         "path");
      }
    }
  }
}

bool names_same_file(const std::string& a, const std::string& b) {
  std::error_code error;
  const bool same = std::filesystem::equivalent(a, b, error);
  return error ? written_path(a) == written_path(b) : same;
}

namespace {

UsageError same_file_error(const std::string& output, const std::string& out_path,
                           const std::string& other_name, const std::string& other_path) {
  // A usage error, as every other refusal of the paths before any work is (it was exit 1).
  return UsageError("--" + output + " '" + out_path + "' is the same file as " + other_name + " '" +
                    other_path + "': writing it would destroy the other; choose another path");
}

}  // namespace

void refuse_output_over_inputs(const OptionParser& options, const std::vector<std::string>& outputs,
                               const std::vector<std::string>& inputs, bool may_replace_profile) {
  // Inputs first: not one is opened before every one is known to be a regular file (a FIFO
  // blocked decrypt --in for ever). The protocol-file readers do not check it themselves: the
  // service feeds them uploads through a pipe.
  for (const std::string& input : inputs) {
    if (!options.has(input)) continue;
    require_regular_input(input == "profile" && options.declared("keys")
                              ? profile_file_used(options)
                              : options.text(input));
  }
  std::vector<std::string> others = inputs;
  for (const std::string& output : outputs) {
    if (!options.has(output)) continue;
    const std::string out_path = options.text(output);
    require_output_path(output, out_path);
    // A usage error like the refusal of an output over an input below: both name a path the
    // command would destroy, before any work (a trial saw decrypt --scores secret.key exit 1 and
    // --out equal to --in exit 2).
    try {
      refuse_to_replace_key_file(out_path, may_replace_profile);
    } catch (const std::runtime_error& error) {
      throw UsageError("--" + output + ": " + error.what());
    }
    for (const std::string& other : others) {
      if (other == output || !options.has(other)) continue;
      // The profile a client command reads may be the key set's, not the --profile default.
      const bool profile_used =
          other == "profile" && options.declared("keys") && !options.given("profile");
      const std::string other_path =
          profile_used ? profile_file_used(options) : options.text(other);
      const std::string other_name =
          other_path == options.text(other) ? "--" + other : "the profile in use";
      if (names_same_file(out_path, other_path)) {
        throw same_file_error(output, out_path, other_name, other_path);
      }
    }
    others.push_back(output);
  }
}

std::optional<uintmax_t> file_not_to_replace(
    const std::string& path, const std::function<bool(std::istream&)>& replaceable) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) return std::nullopt;
  const uintmax_t size = std::filesystem::file_size(path, error);
  if (error || size == 0) return std::nullopt;  // an empty file (touch, mktemp): nothing to lose
  std::ifstream existing(path, std::ios::binary);
  if (!existing || replaceable(existing)) return std::nullopt;
  return size;
}

void refuse_to_replace_other_than(const OptionParser& options, const std::string& option,
                                  const std::function<bool(std::istream&)>& replaceable,
                                  const std::string& kind, const std::string& why,
                                  const std::string& replaces) {
  if (!options.has(option)) return;
  const std::string path = options.text(option);
  const std::optional<uintmax_t> size = file_not_to_replace(path, replaceable);
  if (!size) return;
  const std::string found = cryptonets_file_kind(path);
  throw UsageError("--" + option + " '" + printable_text(path) + "' exists and is not " + kind +
                   " (it holds " + format_bytes(*size) + (found.empty() ? "" : ": " + found) +
                   "); this command replaces only " + (replaces.empty() ? kind : replaces) +
                   " or an empty file" + why + ": remove it first or choose another path");
}

void refuse_to_replace_other_than_ciphertexts(const OptionParser& options,
                                              const std::string& option,
                                              const std::string& replaces) {
  refuse_to_replace_other_than(
      options, option,
      [](std::istream& existing) {
        std::array<char, 5> head{};
        existing.read(head.data(), head.size());
        return existing.gcount() == 5 && std::string_view(head.data(), 4) == "CNPF" &&
               head[4] == 'C';
      },
      "a ciphertext file", ", so that an archive or copy of keys is never lost", replaces);
}

namespace {

// The protocol header of an existing, non-empty ciphertext file at `path`; nullopt for anything
// else (no file, empty, damaged: nothing a later step could use).
std::optional<ProtocolHeader> existing_ciphertext_header(const std::string& path) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error) ||
      std::filesystem::file_size(path, error) == 0)
    return std::nullopt;
  try {
    ProtocolHeader header = read_protocol_header(path);
    if (header.kind == ProtocolFileKind::kCiphertexts) return header;
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

}  // namespace

void refuse_to_replace_other_than_scores(const OptionParser& options, const std::string& option) {
  refuse_to_replace_other_than_ciphertexts(options, option, "encrypted scores");
  if (!options.has(option)) return;
  const std::string path = options.text(option);
  const std::optional<ProtocolHeader> header = existing_ciphertext_header(path);
  if (!header || header->answers_file_id != 0) return;
  throw UsageError("--" + option + " '" + printable_text(path) +
                   "' holds encrypted images (a ciphertext file of encrypt); this command "
                   "writes scores and replaces only encrypted scores or an empty file, so that "
                   "the images a job answers are never lost (decrypt --request checks the scores "
                   "against them): remove it first or choose another path");
}

void refuse_to_replace_other_than_batches(const OptionParser& options, const std::string& option) {
  refuse_to_replace_other_than_ciphertexts(options, option, "encrypted images");
  if (!options.has(option)) return;
  const std::string path = options.text(option);
  const std::optional<ProtocolHeader> header = existing_ciphertext_header(path);
  if (!header || header->answers_file_id == 0) return;
  throw UsageError("--" + option + " '" + printable_text(path) +
                   "' holds encrypted scores (a server's answer, which only decrypt reads); "
                   "encrypt replaces only encrypted images or an empty file, so that scores are "
                   "never lost before decrypt reads them: remove it first or choose another path");
}

namespace {

// A key set's DIR/model.profile is keygen's record of the model its keys were made for: encrypt
// and decrypt trust it as such. Found by a trial: profile --out KEYDIR/model.profile replaced it
// with another model's, which encrypt then refused as "written by keygen".
// The path as given and, through any symbolic link, as written.
void refuse_key_set_profile(const std::string& out) {
  namespace fs = std::filesystem;
  std::error_code error;
  const fs::path resolved = fs::weakly_canonical(out, error);
  for (const fs::path& path : {fs::path(out), error ? fs::path(out) : resolved}) {
    if (path.filename() != kKeySetProfileName) continue;
    const fs::path directory = path.parent_path().empty() ? fs::path(".") : path.parent_path();
    for (const char* key_file : {"params", "public.key", "evaluation.key", "secret.key"}) {
      if (!fs::exists(directory / key_file, error)) continue;
      throw std::runtime_error(
          "refusing to write '" + out + "': '" + directory.string() + "' holds a key set (" +
          key_file + "), whose " + kKeySetProfileName +
          " is keygen's record of the model the keys were made for; write the profile elsewhere "
          "(keys for another model: keygen --profile FILE --out-dir NEWDIR)");
    }
  }
}

}  // namespace

void refuse_to_replace_other_than_profile(const OptionParser& options, const std::string& option) {
  if (!options.has(option)) return;
  refuse_key_set_profile(options.text(option));
  refuse_to_replace_other_than(
      options, option,
      [](std::istream& existing) {
        constexpr std::string_view kMagic = "cryptonets-profile ";  // any version
        std::string head(kMagic.size(), '\0');
        existing.read(head.data(), static_cast<std::streamsize>(head.size()));
        return head == kMagic;
      },
      "a model profile", "");
}

void refuse_to_replace_project_file(const std::string& shown, const std::string& path,
                                    const std::string& own_kind) {
  std::string found;
  const std::optional<uintmax_t> size = file_not_to_replace(path, [&](std::istream&) {
    found = cryptonets_file_kind(path);
    return found.empty() || found == own_kind;
  });
  if (!size) return;
  throw UsageError(shown + " exists and holds " + found + " (" + format_bytes(*size) +
                   "), a file of cryptonets that this tool does not replace" +
                   (own_kind.empty() ? "" : " (it replaces " + own_kind + ")") +
                   ": remove it first or choose another path");
}

std::string profile_summary(const ModelProfile& profile) {
  char text[160];
  std::snprintf(text, sizeof text, "input %lldx%lldx%lld (scale %g), %zu outputs of up to %d bits",
                static_cast<long long>(profile.input_shape.channels),
                static_cast<long long>(profile.input_shape.height),
                static_cast<long long>(profile.input_shape.width), profile.input_scale,
                profile.outputs, model::centred_bits(profile.output_bound));
  return std::string(text) + ", " +
         std::to_string(profile.presets.size() + profile.bfv_presets.size()) + " presets";
}

void refuse_resolved_output_over_inputs(const OptionParser& options, const std::string& output,
                                        const ResolvedOutput& target,
                                        const std::vector<std::string>& inputs) {
  const std::string given = options.text(output);
  struct stat entry {};
  const bool exists =
      ::fstatat(target.directory, target.name.c_str(), &entry, AT_SYMLINK_NOFOLLOW) == 0;
  if (exists && S_ISREG(entry.st_mode)) {
    // The reader takes a path: the entry's own descriptor, as /proc/self/fd/N (the real path
    // without /proc), and its message names the path given instead.
    const int fd = ::openat(target.directory, target.name.c_str(),
                            O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0) {
      const std::string self = ::access("/proc/self/fd", X_OK) == 0
                                   ? "/proc/self/fd/" + std::to_string(fd)
                                   : target.path;
      try {
        refuse_to_replace_key_file(self);
      } catch (const std::runtime_error& error) {
        ::close(fd);
        std::string message = error.what();
        for (size_t at = message.find(self); at != std::string::npos;
             at = message.find(self, at + given.size())) {
          message.replace(at, self.size(), given);
        }
        throw std::runtime_error(message);
      }
      ::close(fd);
    }
  }
  for (const std::string& input : inputs) {
    if (!options.has(input)) continue;
    const std::string other = options.text(input);
    struct stat other_status {};
    const bool other_exists = ::stat(other.c_str(), &other_status) == 0;
    const bool same = exists ? other_exists && other_status.st_dev == entry.st_dev &&
                                   other_status.st_ino == entry.st_ino
                             : !other_exists && written_path(other) == target.path;
    if (same) throw same_file_error(output, given, "--" + input, other);
  }
}

}  // namespace cryptonets::cli
