#include "ui/chart.hpp"

#include <algorithm>

#include "ui/layout.hpp"

namespace gatehouse::ui {

std::string barChart(std::string_view title,
                     const std::vector<std::pair<std::string, std::int64_t>>& bars) {
  constexpr int kWidth = 600;
  constexpr int kHeight = 160;
  constexpr int kTop = 14;
  constexpr int kBottom = 20;
  constexpr int kLeft = 30;
  std::int64_t peak = 1;
  for (const auto& [label, value] : bars) peak = std::max(peak, value);
  std::string out = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " +
                    std::to_string(kWidth) + " " + std::to_string(kHeight) +
                    "\" role=\"img\" aria-labelledby=\"chart-title\"><title id=\"chart-title\">" +
                    esc(title) + "</title>";
  const int plot_w = kWidth - kLeft - 4;
  const int plot_h = kHeight - kTop - kBottom;
  out += "<line class=\"axis\" x1=\"" + std::to_string(kLeft) + "\" y1=\"" +
         std::to_string(kTop + plot_h) + "\" x2=\"" + std::to_string(kWidth - 4) + "\" y2=\"" +
         std::to_string(kTop + plot_h) + "\"/>";
  out += "<text x=\"2\" y=\"" + std::to_string(kTop + 4) + "\">" + std::to_string(peak) + "</text>";
  if (!bars.empty()) {
    const double slot = static_cast<double>(plot_w) / static_cast<double>(bars.size());
    const double bar_w = std::clamp(slot * 0.8, 1.0, 40.0);
    for (std::size_t i = 0; i < bars.size(); ++i) {
      const auto& [label, value] = bars[i];
      const int h =
          static_cast<int>(static_cast<double>(value) * plot_h / static_cast<double>(peak));
      const double x = kLeft + slot * static_cast<double>(i) + (slot - bar_w) / 2;
      out += "<rect class=\"bar\" x=\"" + std::to_string(static_cast<int>(x)) + "\" y=\"" +
             std::to_string(kTop + plot_h - h) + "\" width=\"" +
             std::to_string(static_cast<int>(bar_w)) + "\" height=\"" + std::to_string(h) +
             "\"><title>" + esc(label) + ": " + std::to_string(value) + "</title></rect>";
    }
    out += "<text x=\"" + std::to_string(kLeft) + "\" y=\"" + std::to_string(kHeight - 4) + "\">" +
           esc(bars.front().first) + "</text>";
    out += "<text x=\"" + std::to_string(kWidth - 4) + "\" y=\"" + std::to_string(kHeight - 4) +
           "\" text-anchor=\"end\">" + esc(bars.back().first) + "</text>";
  }
  return out + "</svg>";
}

}  // namespace gatehouse::ui
