// Test-only fault injection for service_test.py: a library loaded into `cryptonets serve` with
// LD_PRELOAD, linked into nothing else. While the file named by $CRYPTONETS_TEST_OPEN_FAULT
// exists, fopen(3) of a path that contains the text the file holds (up to 255 bytes, without a
// trailing newline) fails with EMFILE, as it does when the process is out of file handles: the
// server must then answer 503 and keep the key set. (The loaders open files with std::ifstream,
// which libstdc++ opens with fopen64.)
#include <dlfcn.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace {

bool fault(const char* path) {
  const char* control = std::getenv("CRYPTONETS_TEST_OPEN_FAULT");
  if (control == nullptr || path == nullptr) return false;
  const int fd = ::open(control, O_RDONLY | O_CLOEXEC);  // open(2): not the fopen below
  if (fd < 0) return false;
  char text[256] = {};
  const ssize_t got = ::read(fd, text, sizeof text - 1);
  ::close(fd);
  size_t length = got > 0 ? static_cast<size_t>(got) : 0;
  while (length > 0 && text[length - 1] == '\n')
    text[--length] = '\0';
  return length > 0 && std::strstr(path, text) != nullptr;
}

// No <cstdio>: its declarations of fopen would have to be matched exactly; C linkage needs only
// the name.
using Open = void* (*)(const char*, const char*);

void* open_or_fail(const char* name, const char* path, const char* mode) {
  if (fault(path)) {
    errno = EMFILE;
    return nullptr;
  }
  const auto real = reinterpret_cast<Open>(::dlsym(RTLD_NEXT, name));
  if (real == nullptr) {
    errno = ENOSYS;
    return nullptr;
  }
  return real(path, mode);
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) void* fopen(const char* path, const char* mode) {
  return open_or_fail("fopen", path, mode);
}

__attribute__((visibility("default"))) void* fopen64(const char* path, const char* mode) {
  return open_or_fail("fopen64", path, mode);
}

}  // extern "C"
