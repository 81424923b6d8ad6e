// Replacing a file so that readers see the old or the new content, never a mix, and the new
// content survives a crash once the call returns: temporary file, fsync, rename, fsync of the
// directory.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sg {

struct FileProblem {
    std::string path;     // the file the step failed on (the temporary one, or the directory)
    std::string problem;  // "cannot create: ...", "write failed: ...", ...
};

// nullopt on success.
std::optional<FileProblem> replace_file_atomically(const std::string& path,
                                                   std::string_view content);

}  // namespace sg
