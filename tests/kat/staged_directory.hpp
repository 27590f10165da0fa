// The known-answer generators' output directory, written whole or not at all (a review: a
// generator that failed midway left a partial directory). The files are written into a temporary
// sibling, DIR.tmp-PID-XXXXXX, and put in place by commit(): the sibling renamed to DIR where DIR
// did not exist, else each file renamed into DIR, once none of them would replace a directory.
// Until then (an exception: the destructor) the sibling is removed again, and so are the parent
// directories made for it.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace kat {

class StagedDirectory {
 public:
  explicit StagedDirectory(std::filesystem::path target) : target_(std::move(target)) {
    namespace fs = std::filesystem;
    if (target_.filename().empty()) target_ = target_.parent_path();  // "DIR/"
    std::error_code error;
    const fs::file_status status = fs::status(target_, error);
    if (fs::exists(status) && !fs::is_directory(status)) {
      throw std::runtime_error("'" + target_.string() + "' exists and is not a directory");
    }
    // The missing ancestors, deepest first: made here, removed again on failure.
    const fs::path parent = target_.parent_path().empty() ? "." : target_.parent_path();
    for (fs::path p = parent; !p.empty() && !fs::exists(fs::symlink_status(p, error));
         p = p.parent_path()) {
      made_.push_back(p);
      if (p == p.parent_path()) break;
    }
    try {
      fs::create_directories(parent);
      std::string pattern = target_.string() + ".tmp-" + std::to_string(::getpid()) + "-XXXXXX";
      if (::mkdtemp(pattern.data()) == nullptr) {
        throw fs::filesystem_error("cannot make a directory beside the output", pattern,
                                   std::error_code(errno, std::generic_category()));
      }
      staging_ = pattern;
      // The mode a directory made by create_directories has (mkdtemp makes it 0700).
      const mode_t mask = ::umask(0);
      ::umask(mask);
      fs::permissions(staging_, static_cast<fs::perms>(0777 & ~mask));
    } catch (...) {
      remove();
      throw;
    }
  }

  StagedDirectory(const StagedDirectory&) = delete;
  StagedDirectory& operator=(const StagedDirectory&) = delete;
  ~StagedDirectory() { remove(); }

  // Where the file `name` is written before commit().
  std::filesystem::path file(const std::string& name) {
    names_.push_back(name);
    return staging_ / name;
  }

  // Puts the files in place; returns their paths there.
  std::vector<std::filesystem::path> commit() {
    namespace fs = std::filesystem;
    std::vector<fs::path> placed;
    for (const std::string& name : names_)
      placed.push_back(target_ / name);
    std::error_code error;
    if (!fs::exists(fs::symlink_status(target_, error))) {
      fs::rename(staging_, target_);
    } else {
      for (const fs::path& path : placed) {
        if (fs::is_directory(fs::symlink_status(path, error))) {
          throw std::runtime_error("'" + path.string() +
                                   "' is a directory: it cannot be replaced by the vector file");
        }
      }
      for (size_t i = 0; i < names_.size(); ++i)
        fs::rename(staging_ / names_[i], placed[i]);
      fs::remove(staging_);
    }
    staging_.clear();
    made_.clear();
    return placed;
  }

 private:
  void remove() noexcept {
    std::error_code error;
    if (!staging_.empty()) std::filesystem::remove_all(staging_, error);
    for (const std::filesystem::path& directory : made_)
      std::filesystem::remove(directory, error);  // only if empty
    staging_.clear();
    made_.clear();
  }

  std::filesystem::path target_;
  std::filesystem::path staging_;
  std::vector<std::filesystem::path> made_;
  std::vector<std::string> names_;
};

}  // namespace kat
