#pragma once

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

namespace gatehouse::bench {

// Prints Google Benchmark's table, then each "Ours/<case>" time as a ratio to "Raw/<case>"
// measured in the same run, so the figures do not depend on how busy the machine is.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const auto& run : runs) {
      if (run.run_type == Run::RT_Iteration)
        times_[run.benchmark_name()] = run.GetAdjustedRealTime();
    }
  }

  void printRatios() const {
    std::printf("\n%-34s %12s %12s %8s\n", "case", "ours (ns)", "raw (ns)", "ratio");
    for (const auto& [name, ours] : times_) {
      if (name.rfind("Ours/", 0) != 0) continue;
      const std::string key = name.substr(5);
      const auto raw = times_.find("Raw/" + key);
      if (raw == times_.end()) continue;
      std::printf("%-34s %12.0f %12.0f %7.2fx\n", key.c_str(), ours, raw->second,
                  ours / raw->second);
    }
  }

 private:
  std::map<std::string, double> times_;
};

}  // namespace gatehouse::bench
