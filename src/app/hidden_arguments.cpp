#include "app/hidden_arguments.hpp"

#include <cstring>
#include <string_view>

namespace gatehouse::app {

namespace {

void starOut(char* text) { std::memset(text, '*', std::strlen(text)); }

}  // namespace

int hideOptionValues(int argc, char** argv, std::string_view option) {
  int hidden = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg(argv[i]);
    if (arg == "--") break;  // what follows is not options
    if (arg == option && i + 1 < argc) {
      starOut(argv[++i]);
      ++hidden;
    } else if (arg.size() > option.size() && arg.starts_with(option) && arg[option.size()] == '=') {
      starOut(argv[i] + option.size() + 1);
      ++hidden;
    }
  }
  return hidden;
}

}  // namespace gatehouse::app
