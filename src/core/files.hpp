#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace gatehouse::core {

// A regular file's bytes, at most `max_bytes` of them. Errors name the file: NotFound when
// nothing is there (a link to nothing included); InvalidArgument when it is not a regular file
// (a folder, a device such as /dev/zero, a FIFO: never waited on) or is larger; Unavailable when
// it cannot be read. Links to a regular file are followed (mounted secrets are links).
[[nodiscard]] Result<std::string> readSmallFile(const std::filesystem::path& path,
                                                std::size_t max_bytes);

// Writes `contents` to `path`, mode 0600: into a temporary file of a random name in the same
// folder, made exclusively (a link planted there is never followed), synced, then moved to
// `path` and the folder synced, so a crash leaves the old file or the new one. With `replace`
// false nothing at `path` (a link included) is ever replaced: AlreadyExists. Temporary files of
// `path` that earlier writes left behind when their process died (regular, ours, ten minutes
// old) are removed first.
[[nodiscard]] Status writeFileAtomically(const std::filesystem::path& path,
                                         std::string_view contents, bool replace);

}  // namespace gatehouse::core
