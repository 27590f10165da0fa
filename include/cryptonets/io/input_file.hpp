// Input paths that are not regular files (io/serialize.cpp): refused before they are opened.
#pragma once

#include <string>

namespace cryptonets {

// std::runtime_error ("cannot read file 'P': it is a FIFO (named pipe), not a regular file ...")
// when `path` exists (after symbolic links) and is not a regular file. Opening a FIFO for reading
// waits for a writer, forever when none comes; stat() tells it without opening it. A path that
// does not exist, or a directory, passes: the reader reports those in its own words. Called on
// every input before it is opened by the commands (cli: refuse_output_over_inputs, the key
// directory's files), inspect, load_profile, load_model and the IDX checksum check; not by the
// protocol-file readers themselves, which the service feeds through a pipe (/proc/self/fd/N).
void require_regular_input(const std::string& path);

// What a path that is not a regular file is, for messages: "a FIFO (named pipe)", "a socket", "a
// character device", "a block device", "a directory"; "" for a regular file or a path that does
// not exist (symbolic links are followed).
std::string special_file_kind(const std::string& path);

}  // namespace cryptonets
