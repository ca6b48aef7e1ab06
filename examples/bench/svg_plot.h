// A small SVG line chart writer for the benchmark's depth sweep: no plotting dependency for
// one figure of two series.
#pragma once

#include <string>
#include <vector>

namespace deepseek::bench {

struct Series {
  std::string name;
  std::string color;          // any SVG colour
  std::vector<double> y;      // one value per x; values <= 0 are left out
};

// A chart of `series` against x on a log2 x axis (context depth) and a linear y axis from 0.
std::string LineChartSvg(const std::string& title, const std::string& x_label, const std::string& y_label,
                         const std::vector<double>& x, const std::vector<Series>& series);

}  // namespace deepseek::bench
