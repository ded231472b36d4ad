#include "ui/chart.hpp"

#include <algorithm>

#include <boost/json/array.hpp>

#include "ui/views.hpp"

namespace gatehouse::ui {

std::string barChart(std::string_view title,
                     const std::vector<std::pair<std::string, std::int64_t>>& bars) {
  // The geometry of views.cpp's "chart": a 600 × 160 box, the plot from x 30 to 596, y 14 to 140.
  constexpr int kTop = 14;
  constexpr int kPlotHeight = 126;
  constexpr int kLeft = 30;
  constexpr int kPlotWidth = 566;
  std::int64_t peak = 1;
  for (const auto& [label, value] : bars) peak = std::max(peak, value);
  boost::json::array rects;
  if (!bars.empty()) {
    const double slot = static_cast<double>(kPlotWidth) / static_cast<double>(bars.size());
    const double bar_w = std::clamp(slot * 0.8, 1.0, 40.0);
    for (std::size_t i = 0; i < bars.size(); ++i) {
      const auto& [label, value] = bars[i];
      const int h =
          static_cast<int>(static_cast<double>(value) * kPlotHeight / static_cast<double>(peak));
      const double x = kLeft + slot * static_cast<double>(i) + (slot - bar_w) / 2;
      rects.push_back(boost::json::object{{"x", static_cast<int>(x)},
                                          {"y", kTop + kPlotHeight - h},
                                          {"width", static_cast<int>(bar_w)},
                                          {"height", h},
                                          {"label", label},
                                          {"value", value}});
    }
  }
  return fragment("chart", {{"title", title},
                            {"axis_y", kTop + kPlotHeight},
                            {"peak", peak},
                            {"bars", std::move(rects)},
                            {"first", bars.empty() ? "" : bars.front().first},
                            {"last", bars.empty() ? "" : bars.back().first}});
}

}  // namespace gatehouse::ui
