#pragma once

#include <string>
#include <string_view>

namespace gatehouse::core {

// `text` safe inside HTML text and quoted attribute values: & < > " ' become entities.
std::string escapeHtml(std::string_view text);

}  // namespace gatehouse::core
