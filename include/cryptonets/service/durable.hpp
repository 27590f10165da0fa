// Durability steps of the service's state directory (POSIX: a rename is atomic, and is durable
// once the directory holding it is fsync'd).
#pragma once

#include <string>

namespace cryptonets::service {

// fsync(2) of a directory, so that the entries created, renamed or removed in it survive a crash.
// Throws std::runtime_error naming the directory.
void sync_directory(const std::string& directory);

// `text` into `path`: temporary file, fsync, rename over `path`, fsync of the directory
// (io/serialize.hpp's AtomicFileWriter). Throws std::runtime_error naming the path.
void write_file_durably(const std::string& path, const std::string& text);

// Removes the named temporaries "*.tmp-*" that an AtomicFileWriter killed midway can leave in
// `directory` where O_TMPFILE is unavailable.
void remove_stale_temporaries(const std::string& directory);

}  // namespace cryptonets::service
