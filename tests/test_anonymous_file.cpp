// io/anonymous_file.hpp: each way of making a file with no name gives the bytes back through its
// path and leaves nothing in the directory; when none works, the error names each one's failure.
#include "cryptonets/io/anonymous_file.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "file_test_support.hpp"

namespace fs = std::filesystem;
using cryptonets::AnonymousFile;

namespace {

std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

}  // namespace

TEST_CASE("Each way of making a file with no name reads back its bytes and leaves nothing behind") {
  // memfd_create is refused under some seccomp filters (ENOSYS, EPERM): an MPI worker then had
  // nowhere to put the evaluation key rank 0 sent. Each fallback is tried alone here.
  const test_support::TempDir scratch("cryptonets-anonymous-file");
  std::vector<uint8_t> bytes(3 << 20);  // more than one write may take
  for (size_t i = 0; i < bytes.size(); ++i)
    bytes[i] = static_cast<uint8_t>(i * 131 + 7);
  for (const AnonymousFile::Method method :
       {AnonymousFile::Method::kMemfd, AnonymousFile::Method::kTmpfile,
        AnonymousFile::Method::kUnlinked}) {
    CAPTURE(static_cast<int>(method));
    const AnonymousFile::Method only[] = {method};
    std::string path;
    {
      const AnonymousFile file("evaluation.key", bytes, only, scratch.path.string());
      CHECK(file.method() == method);
      path = file.path();
      CHECK(read_all(path) == bytes);
      struct stat status {};
      REQUIRE(::stat(path.c_str(), &status) == 0);
      CHECK((status.st_mode & 0777) == 0600);
      CHECK(fs::is_empty(scratch.path));  // no name in the directory, even while open
    }
    CHECK(!fs::exists(path));  // closed with the object
    CHECK(fs::is_empty(scratch.path));
  }
}

namespace {

// Runs `body` in a child process whose memfd_create fails with `memfd_error` (a seccomp filter,
// as some containers install) and, with `refuse_tmpfile`, whose open with O_TMPFILE fails with
// EOPNOTSUPP (a file system without it); the child's exit status (0: body returned true).
template <class Body>
int in_filtered_child(int memfd_error, bool refuse_tmpfile, Body body) {
  const pid_t child = ::fork();
  if (child == 0) {
    constexpr uint32_t kFlagsLow = offsetof(seccomp_data, args) + 2 * sizeof(uint64_t);
    std::vector<sock_filter> program = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_memfd_create, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | static_cast<uint32_t>(memfd_error))};
    if (refuse_tmpfile) {
      program.insert(program.end(), {BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_openat, 0, 3),
                                     BPF_STMT(BPF_LD | BPF_W | BPF_ABS, kFlagsLow),
                                     BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, __O_TMPFILE, 0, 1),
                                     BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EOPNOTSUPP)});
    }
    program.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
    const sock_fprog fprog{static_cast<unsigned short>(program.size()), program.data()};
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog) != 0) {
      ::_exit(2);
    }
    ::_exit(body() ? 0 : 1);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

TEST_CASE("Where memfd_create is refused, the file is made with O_TMPFILE, else unlinked") {
  const test_support::TempDir scratch("cryptonets-anonymous-file-seccomp");
  const std::vector<uint8_t> bytes{'k', 'e', 'y', 0, 1, 2};
  const auto made_by = [&](AnonymousFile::Method expected) {
    return [&, expected] {
      try {
        const AnonymousFile file("evaluation.key", bytes, AnonymousFile::kEveryMethod,
                                 scratch.path.string());
        return file.method() == expected && read_all(file.path()) == bytes;
      } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return false;
      }
    };
  };
  // memfd_create alone, as an MPI worker had it, fails there, naming why.
  const AnonymousFile::Method memfd_only[] = {AnonymousFile::Method::kMemfd};
  CHECK(in_filtered_child(EPERM, false, [&] {
          try {
            const AnonymousFile file("evaluation.key", bytes, memfd_only);
          } catch (const std::exception& e) {
            return std::string(e.what()) ==
                   "cannot make a file with no name for the evaluation.key (memfd_create: "
                   "Operation not permitted)";
          }
          return false;
        }) == 0);
  CHECK(in_filtered_child(EPERM, false, made_by(AnonymousFile::Method::kTmpfile)) == 0);
  CHECK(in_filtered_child(ENOSYS, true, made_by(AnonymousFile::Method::kUnlinked)) == 0);
  CHECK(fs::is_empty(scratch.path));
  // The filter is what refuses: without it, memfd_create.
  CHECK(made_by(AnonymousFile::Method::kMemfd)());
}

TEST_CASE("A file with no name that no method can make is refused naming each method's error") {
  const test_support::TempDir scratch("cryptonets-anonymous-file-none");
  const std::string missing = (scratch.path / "none").string();
  const AnonymousFile::Method fallbacks[] = {AnonymousFile::Method::kTmpfile,
                                             AnonymousFile::Method::kUnlinked};
  const std::vector<uint8_t> bytes{1, 2, 3};
  CHECK_THROWS_WITH_AS(
      AnonymousFile("evaluation.key sent by rank 0", bytes, fallbacks, missing),
      ("cannot make a file with no name for the evaluation.key sent by rank 0 (O_TMPFILE in '" +
       missing + "': No such file or directory; mkdtemp in '" + missing +
       "': No such file or directory)")
          .c_str(),
      std::runtime_error);
  CHECK(fs::is_empty(scratch.path));
}
