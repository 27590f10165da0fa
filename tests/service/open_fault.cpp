// Test-only fault injection for service_test.py: a library loaded into `cryptonets serve` with
// LD_PRELOAD, linked into nothing else. While the file named by $CRYPTONETS_TEST_OPEN_FAULT
// exists, fopen(3) of a path that contains the text of one of its lines fails, by default with
// EMFILE, as it does when the process is out of file handles (the server must then answer 503
// and keep the key set). A line may name the errno first: "EACCES /keysets/" (permission denied:
// a configuration error, 500), "EIO /input.ct"; EMFILE, EACCES, EIO, ENOSPC and EDQUOT are known.
// A line whose text (after the errno) starts with "rename " applies to rename(2) instead, of a
// file to a path that contains the rest: "ENOSPC rename /scores.ct" fails the last step of
// writing a job's scores (AtomicFileWriter's rename into place), as a full disk can. The file
// holds at most 1023 bytes. (The loaders open files with std::ifstream, which libstdc++ opens
// with fopen64.) A line "SLOW sigaction" makes each installation of a SIGINT handler 300 ms late,
// as if the process were descheduled just before it (client fetch, which armed the removal of its
// part file only after creating it). A line "FREE <bytes>" makes statvfs(3) report that many bytes
// free and available (a disk about to fill up: the server refuses an upload that cannot fit
// before reading it). A line "RELINK <link> <target>" (no spaces in either) makes each bind(2)
// first replace the symbolic link <link> by one to <target>: a link changed while the server
// starts, between its check of --port-file and the write of the port. A line
// "RELINK-EARLY <link> <target>" does the same at each pthread_sigmask(3), which serve calls
// between the CLI's checks of its options and the server's start (where it resolves --port-file).
// A line "NO-TMPFILE" makes each openat(2) with O_TMPFILE fail with EOPNOTSUPP, as on a file
// system without it (the server's port file then goes through a named temporary).
// A line "HOLD-LISTING <text>" holds the process's first listing of a directory whose path holds
// <text> (the openat(2) with O_DIRECTORY that std::filesystem's directory_iterator makes) until a
// file named as the control file with ".go" appended exists (30 s at most), having made one with
// ".held" appended: the test runs another server at that point (two started at the same moment).
// A line "COUNT-READS <text>" adds up the bytes read (read, pread) from files whose path holds
// <text>, and writes the total, in decimal, to a file named as the control file with ".reads"
// appended when the process exits: how many times a client reads a batch before and while it
// uploads it (client infer read it whole three times: two checks, then the upload).
// Both statvfs and statvfs64 are defined below, as the C library has them: under the build's
// _FILE_OFFSET_BITS=64 the header would rename the first to the second (one symbol twice). On
// 64-bit Linux the two take the same structure.
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdlib>
#include <cstring>

namespace {

// The errno an open (or, `renaming`, a rename to) `path` fails with, or 0 if it is not to fail.
int fault(const char* path, bool renaming) {
  const char* control = std::getenv("CRYPTONETS_TEST_OPEN_FAULT");
  if (control == nullptr || path == nullptr) return 0;
  const int fd = ::open(control, O_RDONLY | O_CLOEXEC);  // open(2): not the fopen below
  if (fd < 0) return 0;
  char text[1024] = {};
  const ssize_t got = ::read(fd, text, sizeof text - 1);
  ::close(fd);
  text[got > 0 ? got : 0] = '\0';
  static const struct {
    const char* name;
    int error;
  } kErrors[] = {{"EMFILE ", EMFILE},
                 {"EACCES ", EACCES},
                 {"EIO ", EIO},
                 {"ENOSPC ", ENOSPC},
                 {"EDQUOT ", EDQUOT}};
  for (char* line = text; *line != '\0';) {
    char* end = std::strchr(line, '\n');
    char* next = end != nullptr ? end + 1 : line + std::strlen(line);
    if (end != nullptr) *end = '\0';
    int error = EMFILE;
    for (const auto& known : kErrors) {
      if (std::strncmp(line, known.name, std::strlen(known.name)) == 0) {
        error = known.error;
        line += std::strlen(known.name);
        break;
      }
    }
    constexpr const char kRename[] = "rename ";
    const bool rename_line = std::strncmp(line, kRename, sizeof kRename - 1) == 0;
    if (rename_line) line += sizeof kRename - 1;
    if (rename_line == renaming && *line != '\0' && std::strstr(path, line) != nullptr) {
      return error;
    }
    line = next;
  }
  return 0;
}

// Whether the control file holds the line `directive`.
bool directed(const char* directive) {
  const char* control = std::getenv("CRYPTONETS_TEST_OPEN_FAULT");
  if (control == nullptr) return false;
  const int fd = ::open(control, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char text[1024] = {};
  const ssize_t got = ::read(fd, text, sizeof text - 1);
  ::close(fd);
  text[got > 0 ? got : 0] = '\0';
  const size_t length = std::strlen(directive);
  for (const char* line = text; *line != '\0';) {
    if (std::strncmp(line, directive, length) == 0 &&
        (line[length] == '\n' || line[length] == '\0')) {
      return true;
    }
    const char* end = std::strchr(line, '\n');
    line = end != nullptr ? end + 1 : line + std::strlen(line);
  }
  return false;
}

// The bytes of a line "FREE <bytes>" of the control file, or -1 if none.
long long free_bytes() {
  const char* control = std::getenv("CRYPTONETS_TEST_OPEN_FAULT");
  if (control == nullptr) return -1;
  const int fd = ::open(control, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char text[1024] = {};
  const ssize_t got = ::read(fd, text, sizeof text - 1);
  ::close(fd);
  text[got > 0 ? got : 0] = '\0';
  for (const char* line = text; *line != '\0';) {
    if (std::strncmp(line, "FREE ", 5) == 0) return std::strtoll(line + 5, nullptr, 10);
    const char* end = std::strchr(line, '\n');
    line = end != nullptr ? end + 1 : line + std::strlen(line);
  }
  return -1;
}

// Each line "`directive` <link> <target>" of the control file ("RELINK ", "RELINK-EARLY "):
// <link> made a symbolic link to <target>.
void relink(const char* directive) {
  const char* control = std::getenv("CRYPTONETS_TEST_OPEN_FAULT");
  if (control == nullptr) return;
  const int fd = ::open(control, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  char text[1024] = {};
  const ssize_t got = ::read(fd, text, sizeof text - 1);
  ::close(fd);
  text[got > 0 ? got : 0] = '\0';
  for (char* line = text; *line != '\0';) {
    char* end = std::strchr(line, '\n');
    char* next = end != nullptr ? end + 1 : line + std::strlen(line);
    if (end != nullptr) *end = '\0';
    const size_t length = std::strlen(directive);
    if (std::strncmp(line, directive, length) == 0) {
      char* link = line + length;
      char* space = std::strchr(link, ' ');
      if (space != nullptr) {
        *space = '\0';
        ::unlink(link);
        (void)::symlink(space + 1, link);
      }
    }
    line = next;
  }
}

// statvfs and statvfs64 (one function on 64-bit glibc, two names): the real answer, its free and
// available blocks replaced under "FREE <bytes>".
template <class Info>
int statvfs_or_fake(const char* name, const char* path, Info* out) {
  using StatVfs = int (*)(const char*, Info*);
  const auto real = reinterpret_cast<StatVfs>(::dlsym(RTLD_NEXT, name));
  if (real == nullptr) {
    errno = ENOSYS;
    return -1;
  }
  const int result = real(path, out);
  const long long bytes = free_bytes();
  if (result == 0 && bytes >= 0 && out->f_frsize > 0) {
    out->f_bfree = out->f_bavail = static_cast<unsigned long long>(bytes) / out->f_frsize;
  }
  return result;
}

// No <cstdio>: its declarations of fopen would have to be matched exactly; C linkage needs only
// the name.
using Open = void* (*)(const char*, const char*);
using Rename = int (*)(const char*, const char*);

void* open_or_fail(const char* name, const char* path, const char* mode) {
  if (const int error = fault(path, false); error != 0) {
    errno = error;
    return nullptr;
  }
  const auto real = reinterpret_cast<Open>(::dlsym(RTLD_NEXT, name));
  if (real == nullptr) {
    errno = ENOSYS;
    return nullptr;
  }
  return real(path, mode);
}

// The mode an open call's variadic argument holds where `flags` say there is one, else 0.
mode_t mode_argument(int flags, va_list arguments) {
  const bool has_mode = (flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE;
  return has_mode ? static_cast<mode_t>(va_arg(arguments, int)) : 0;
}

// Copies into `out` (of `size` bytes) the text of the line "`directive`<text>" of the control
// file; false if there is none. (No std::string: <string> declares fopen, defined below.)
bool directive_text(const char* directive, char* out, size_t size) {
  const char* control = std::getenv("CRYPTONETS_TEST_OPEN_FAULT");
  if (control == nullptr) return false;
  const int fd = ::open(control, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char text[1024] = {};
  const ssize_t got = ::read(fd, text, sizeof text - 1);
  ::close(fd);
  text[got > 0 ? got : 0] = '\0';
  const size_t length = std::strlen(directive);
  for (char* line = text; *line != '\0';) {
    char* end = std::strchr(line, '\n');
    char* next = end != nullptr ? end + 1 : line + std::strlen(line);
    if (end != nullptr) *end = '\0';
    if (std::strncmp(line, directive, length) == 0 && std::strlen(line + length) < size) {
      std::strcpy(out, line + length);
      return *out != '\0';
    }
    line = next;
  }
  return false;
}

// "HOLD-LISTING <text>": the first listing of a directory whose path holds <text> waits for the
// control file's ".go" (having made its ".held").
void hold_listing(const char* path, int flags) {
  static bool held = false;
  // O_TMPFILE holds O_DIRECTORY's bit: a file made there, not a listing.
  if (held || (flags & O_DIRECTORY) == 0 || (flags & O_PATH) != 0 ||
      (flags & O_TMPFILE) == O_TMPFILE || path == nullptr) {
    return;
  }
  char text[1024];
  if (!directive_text("HOLD-LISTING ", text, sizeof text) || std::strstr(path, text) == nullptr) {
    return;
  }
  held = true;
  const char* control = std::getenv("CRYPTONETS_TEST_OPEN_FAULT");
  char held_path[4096];
  char go_path[4096];
  if (std::strlen(control) + 6 > sizeof held_path) return;
  std::strcat(std::strcpy(held_path, control), ".held");
  std::strcat(std::strcpy(go_path, control), ".go");
  const int marker = ::open(held_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (marker >= 0) ::close(marker);
  for (int i = 0; i < 3000 && ::access(go_path, F_OK) != 0; ++i)
    ::usleep(10000);
}

// The real openat or openat64 (`name`), or EOPNOTSUPP for O_TMPFILE under "NO-TMPFILE".
int openat_or_fail(const char* name, int directory, const char* path, int flags, mode_t mode) {
  if ((flags & O_TMPFILE) == O_TMPFILE && directed("NO-TMPFILE")) {
    errno = EOPNOTSUPP;
    return -1;
  }
  hold_listing(path, flags);
  using OpenAt = int (*)(int, const char*, int, ...);
  const auto real = reinterpret_cast<OpenAt>(::dlsym(RTLD_NEXT, name));
  if (real == nullptr) {
    errno = ENOSYS;
    return -1;
  }
  return real(directory, path, flags, mode);
}

// Set while a read of this library's own (the control file's) is under way: not counted, and no
// directive looked up again from within one.
thread_local bool reading_control = false;

// The text of "COUNT-READS <text>", looked up once; nullptr if there is none.
const char* counted_text() {
  static char text[1024];
  static const bool counting = [] {
    reading_control = true;
    const bool found = directive_text("COUNT-READS ", text, sizeof text);
    reading_control = false;
    return found;
  }();
  return counting ? text : nullptr;
}

// (No <atomic> nor <cstdio>: they declare fopen, defined below.)
unsigned long long bytes_counted = 0;

// `value` in decimal at `out` (room for 21 characters), then a NUL; returns the digits' count.
size_t decimal(unsigned long long value, char* out) {
  char digits[21];
  size_t count = 0;
  do {
    digits[count++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0);
  for (size_t i = 0; i < count; ++i)
    out[i] = digits[count - 1 - i];
  out[count] = '\0';
  return count;
}

// Counts `got` bytes read from `fd` if its file's path holds the text of "COUNT-READS".
void count_read(int fd, ssize_t got) {
  if (got <= 0 || reading_control) return;
  const char* text = counted_text();
  if (text == nullptr) return;
  char link[64] = "/proc/self/fd/";
  char target[4096];
  decimal(static_cast<unsigned long long>(fd), link + std::strlen(link));
  const ssize_t length = ::readlink(link, target, sizeof target - 1);
  if (length <= 0) return;
  target[length] = '\0';
  if (std::strstr(target, text) != nullptr) {
    __atomic_fetch_add(&bytes_counted, static_cast<unsigned long long>(got), __ATOMIC_RELAXED);
  }
}

// At exit: the total, to CONTROL.reads.
__attribute__((destructor)) void write_count() {
  if (reading_control || counted_text() == nullptr) return;
  char path[4096];
  const char* control = std::getenv("CRYPTONETS_TEST_OPEN_FAULT");
  if (std::strlen(control) + 7 > sizeof path) return;
  std::strcat(std::strcpy(path, control), ".reads");
  char text[32];
  size_t length = decimal(__atomic_load_n(&bytes_counted, __ATOMIC_RELAXED), text);
  text[length++] = '\n';
  const int fd = ::open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return;
  if (::write(fd, text, length) != static_cast<ssize_t>(length)) ::unlink(path);
  ::close(fd);
}

template <class Function>
Function real_function(const char* name) {
  return reinterpret_cast<Function>(::dlsym(RTLD_NEXT, name));
}

}  // namespace

extern "C" {

// read, pread and pread64 (one function on 64-bit glibc, two names): the real ones, counted.
__attribute__((visibility("default"))) ssize_t read(int fd, void* out, size_t length) {
  using Read = ssize_t (*)(int, void*, size_t);
  static const Read real = real_function<Read>("read");
  const ssize_t got = real(fd, out, length);
  const int error = errno;
  count_read(fd, got);
  errno = error;
  return got;
}

__attribute__((visibility("default"))) ssize_t pread(int fd, void* out, size_t length,
                                                     off_t offset) {
  using PRead = ssize_t (*)(int, void*, size_t, off_t);
  static const PRead real = real_function<PRead>("pread");
  const ssize_t got = real(fd, out, length, offset);
  const int error = errno;
  count_read(fd, got);
  errno = error;
  return got;
}

__attribute__((visibility("default"))) ssize_t pread64(int fd, void* out, size_t length,
                                                       off64_t offset) {
  using PRead = ssize_t (*)(int, void*, size_t, off64_t);
  static const PRead real = real_function<PRead>("pread64");
  const ssize_t got = real(fd, out, length, offset);
  const int error = errno;
  count_read(fd, got);
  errno = error;
  return got;
}

__attribute__((visibility("default"))) void* fopen(const char* path, const char* mode) {
  return open_or_fail("fopen", path, mode);
}

__attribute__((visibility("default"))) void* fopen64(const char* path, const char* mode) {
  return open_or_fail("fopen64", path, mode);
}

__attribute__((visibility("default"))) int rename(const char* from, const char* to) {
  if (const int error = fault(to, true); error != 0) {
    errno = error;
    return -1;
  }
  const auto real = reinterpret_cast<Rename>(::dlsym(RTLD_NEXT, "rename"));
  if (real == nullptr) {
    errno = ENOSYS;
    return -1;
  }
  return real(from, to);
}

__attribute__((visibility("default"))) int sigaction(int signal_number,
                                                     const struct sigaction* action,
                                                     struct sigaction* previous) {
  if (signal_number == SIGINT && action != nullptr && directed("SLOW sigaction")) {
    ::usleep(300000);
  }
  using SigAction = int (*)(int, const struct sigaction*, struct sigaction*);
  const auto real = reinterpret_cast<SigAction>(::dlsym(RTLD_NEXT, "sigaction"));
  if (real == nullptr) {
    errno = ENOSYS;
    return -1;
  }
  return real(signal_number, action, previous);
}

// openat and openat64 (one function on 64-bit glibc, two names).
__attribute__((visibility("default"))) int openat(int directory, const char* path, int flags, ...) {
  va_list arguments;
  va_start(arguments, flags);
  const mode_t mode = mode_argument(flags, arguments);
  va_end(arguments);
  return openat_or_fail("openat", directory, path, flags, mode);
}

__attribute__((visibility("default"))) int openat64(int directory, const char* path, int flags,
                                                    ...) {
  va_list arguments;
  va_start(arguments, flags);
  const mode_t mode = mode_argument(flags, arguments);
  va_end(arguments);
  return openat_or_fail("openat64", directory, path, flags, mode);
}

// bind(2), after the links "RELINK" names are changed.
__attribute__((visibility("default"))) int bind(int socket, const struct sockaddr* address,
                                                socklen_t length) {
  relink("RELINK ");
  using Bind = int (*)(int, const struct sockaddr*, socklen_t);
  const auto real = reinterpret_cast<Bind>(::dlsym(RTLD_NEXT, "bind"));
  if (real == nullptr) {
    errno = ENOSYS;
    return -1;
  }
  return real(socket, address, length);
}

// pthread_sigmask(3), after the links "RELINK-EARLY" names are changed.
__attribute__((visibility("default"))) int pthread_sigmask(int how, const sigset_t* set,
                                                           sigset_t* previous) {
  relink("RELINK-EARLY ");
  using SigMask = int (*)(int, const sigset_t*, sigset_t*);
  const auto real = reinterpret_cast<SigMask>(::dlsym(RTLD_NEXT, "pthread_sigmask"));
  if (real == nullptr) return ENOSYS;
  return real(how, set, previous);
}

// statvfs and statvfs64: the real ones, or the free space "FREE <bytes>" says.
__attribute__((visibility("default"))) int statvfs(const char* path, struct statvfs* out) {
  return statvfs_or_fake("statvfs", path, out);
}

__attribute__((visibility("default"))) int statvfs64(const char* path, struct statvfs64* out) {
  return statvfs_or_fake("statvfs64", path, out);
}

}  // extern "C"
