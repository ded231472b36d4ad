#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gatehouse::ui {

// A bar chart as inline SVG (no script, no style attribute: the page's stylesheet colours it),
// one bar per (label, value), labelled for screen readers by `title`; the first and last labels
// and the largest value are written on it.
std::string barChart(std::string_view title,
                     const std::vector<std::pair<std::string, std::int64_t>>& bars);

}  // namespace gatehouse::ui
