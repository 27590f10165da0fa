// Shared by the fuzz targets in tests/fuzz. Each target defines the libFuzzer entry point
// LLVMFuzzerTestOneInput and fuzz_seed_inputs(); it is linked either with libFuzzer (clang,
// -Dfuzzing=libfuzzer) or with standalone_driver.cpp, a small mutation fuzzer for g++ builds.
//
// The oracle: a loader may refuse its input only with the exception its header documents
// (std::runtime_error for every loader here); a crash, a failed assertion, a sanitizer report or
// any other exception is a finding. Targets also check what an accepted input must satisfy
// (typically: writing the loaded object back reproduces the bytes that were read).
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <istream>
#include <stdexcept>
#include <streambuf>
#include <string>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

// Valid inputs that exercise every path of the target's loader; every one must be accepted.
std::vector<std::vector<uint8_t>> fuzz_seed_inputs();

namespace fuzz {

using Bytes = std::vector<uint8_t>;

// Inputs the loader accepted; the standalone driver reports the share and checks the seeds.
inline std::atomic<uint64_t> accepted_inputs{0};

// A broken promise of an accepted input: reported like a crash so that every driver keeps it.
[[noreturn]] inline void finding(const std::string& what) {
  std::fprintf(stderr, "FUZZ FINDING: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

// Runs `load`. Returns true if it accepted the input, false if it refused it with the documented
// std::runtime_error; any other exception propagates (in libFuzzer: an uncaught-exception crash).
template <class Load>
bool accepted(Load&& load) {
  try {
    load();
  } catch (const std::runtime_error&) {
    return false;
  }
  accepted_inputs.fetch_add(1, std::memory_order_relaxed);
  return true;
}

// A read-only stream buffer over the fuzz input. Seekable like a file or std::istringstream, or
// not seekable like a pipe (the loaders take a different path when they cannot learn the size).
class SpanBuffer : public std::streambuf {
 public:
  SpanBuffer(const uint8_t* data, size_t size, bool seekable) : seekable_(seekable) {
    // streambuf's get area is non-const char*; nothing here ever writes through it.
    char* begin = const_cast<char*>(reinterpret_cast<const char*>(data));
    setg(begin, begin, begin + size);
  }

 protected:
  pos_type seekoff(off_type offset, std::ios_base::seekdir direction,
                   std::ios_base::openmode mode) override {
    if (!seekable_ || !(mode & std::ios_base::in)) return pos_type(off_type(-1));
    off_type base = 0;
    if (direction == std::ios_base::cur) base = gptr() - eback();
    if (direction == std::ios_base::end) base = egptr() - eback();
    const off_type target = base + offset;
    if (target < 0 || target > egptr() - eback()) return pos_type(off_type(-1));
    setg(eback(), eback() + target, egptr());
    return pos_type(target);
  }

  pos_type seekpos(pos_type position, std::ios_base::openmode mode) override {
    return seekoff(off_type(position), std::ios_base::beg, mode);
  }

 private:
  bool seekable_;
};

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

inline Bytes to_bytes(const std::string& text) {
  return Bytes(text.begin(), text.end());
}

// A control byte (the target's choice of loader and mode) followed by the content.
inline Bytes with_control(uint8_t control, const Bytes& content) {
  Bytes input(1 + content.size());
  input[0] = control;
  std::copy(content.begin(), content.end(), input.begin() + 1);
  return input;
}

// An in-memory file with a path (/proc/self/fd/N), for loaders that only take paths.
class ScratchFile {
 public:
  ScratchFile() {
    fd_ = ::memfd_create("cryptonets-fuzz", MFD_CLOEXEC);
    if (fd_ < 0) fuzz::finding("harness: memfd_create failed");
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~ScratchFile() { ::close(fd_); }
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;

  const std::string& path() const { return path_; }

  void assign(const uint8_t* data, size_t size) {
    if (::ftruncate(fd_, 0) != 0) fuzz::finding("harness: ftruncate failed");
    size_t done = 0;
    while (done < size) {
      const ssize_t written = ::pwrite(fd_, data + done, size - done, static_cast<off_t>(done));
      if (written <= 0) fuzz::finding("harness: pwrite failed");
      done += static_cast<size_t>(written);
    }
  }

 private:
  int fd_ = -1;
  std::string path_;
};

inline ScratchFile& scratch_file() {
  static ScratchFile file;
  return file;
}

}  // namespace fuzz
