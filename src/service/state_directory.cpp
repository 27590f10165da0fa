// The server's state directory before it is used (state_directory.hpp).
#include "state_directory.hpp"

#include <fstream>
#include <iterator>
#include <set>

#include "cryptonets/service/durable.hpp"
#include "cryptonets/service/server.hpp"
#include "server_support.hpp"

namespace cryptonets::service {

bool check_state_directory(const std::string& dir) {
  std::error_code error;
  const fs::file_status status = fs::status(dir, error);
  if (!fs::exists(status)) return true;
  const std::string refused = "--state-dir '" + dir + "' ";
  const std::string what =
      "; give a new or empty directory (the server creates it) or one a cryptonets serve wrote";
  if (!fs::is_directory(status)) throw std::runtime_error(refused + "is not a directory" + what);
  const std::string marker = dir + "/" + kStateMarkerName;
  if (fs::symlink_status(marker, error).type() != fs::file_type::not_found) {
    require_regular_file(marker, "the state directory's marker");
    std::ifstream in(marker);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text != kStateMarkerText) {
      throw std::runtime_error(refused + "has a marker '" + kStateMarkerName +
                               "' this build does not read (expected \"" +
                               std::string(kStateMarkerText, std::strlen(kStateMarkerText) - 1) +
                               "\")");
    }
    // What the server creates in it must be directories of its own where they exist, not
    // links: the server empties tmp/ at start and sets the mode of each to 0700, which through
    // a link would reach a directory outside the state directory (a new-user trial's tmp ->
    // ../victim lost every file of victim/). Refused here, before anything is changed.
    for (const char* name : kStateSubdirectories) {
      const std::string path = dir + "/" + name;
      const fs::file_type type = fs::symlink_status(path, error).type();
      if (type == fs::file_type::not_found) continue;
      if (type == fs::file_type::symlink) {
        throw std::runtime_error(refused + "holds '" + name +
                                 "' as a symbolic link; the server empties and restricts its " +
                                 name +
                                 "/, so it must be a directory of its own (give the whole "
                                 "--state-dir on the other disk instead)");
      }
      if (type != fs::file_type::directory) {
        throw std::runtime_error(refused + "holds '" + name +
                                 "', which is not a directory; the server keeps its " + name +
                                 "/ there (move it away, or give another --state-dir)");
      }
    }
    return false;
  }
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir, error)) {
    const std::string name = entry.path().filename().string();
    const bool ours = name == "keysets" || name == "jobs" || name == "tmp" || name == "expired";
    if (!ours || entry.symlink_status().type() != fs::file_type::directory) {
      throw std::runtime_error(refused + "is not a cryptonets state directory (it holds '" + name +
                               "' and no marker '" + kStateMarkerName + "')" + what);
    }
    names.insert(name);
  }
  if (error) throw std::runtime_error("cannot read " + refused + ": " + error.message());
  // keysets/, jobs/ and tmp/ together: what a server before the marker wrote at its first start.
  if (!names.empty() &&
      (names.count("keysets") == 0 || names.count("jobs") == 0 || names.count("tmp") == 0)) {
    throw std::runtime_error(refused + "is not a cryptonets state directory (no marker '" +
                             kStateMarkerName + "', and not keysets/, jobs/ and tmp/)" + what);
  }
  return true;
}

bool port_file_in_new_state_directory(const std::string& port_file, const std::string& state_dir) {
  if (port_file.empty() || state_dir.empty()) return false;
  std::error_code error;
  if (fs::symlink_status(state_dir, error).type() != fs::file_type::not_found) return false;
  const fs::path file(port_file);
  if (!file.has_filename() || file.filename() == "." || file.filename() == "..") return false;
  // Both the same way: the part that exists with its links followed, the rest lexically.
  const auto resolved = [](const fs::path& path) {
    std::error_code failure;
    fs::path real = fs::weakly_canonical(fs::absolute(path, failure), failure);
    if (failure) return fs::path();
    real = real.lexically_normal();
    return real.has_filename() ? real : real.parent_path();  // "DIR/" as "DIR"
  };
  const fs::path state = resolved(state_dir);
  return !state.empty() &&
         resolved(file.parent_path().empty() ? fs::path(".") : file.parent_path()) == state;
}

}  // namespace cryptonets::service
