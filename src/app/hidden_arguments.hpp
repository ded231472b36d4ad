#pragma once

#include <string_view>

namespace gatehouse::app {

// Overwrites, in place, every value given to `option` on the command line ("--password value" or
// "--password=value") with '*', once the options are parsed: the process's argv is what ps and
// /proc/<pid>/cmdline show every local user for as long as the command runs (a bcrypt import, a
// slow hash; an outside attack read one). The value is still visible before this runs, which is
// why --password-stdin is the advice. The number of values hidden.
int hideOptionValues(int argc, char** argv, std::string_view option);

}  // namespace gatehouse::app
