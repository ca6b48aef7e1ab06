#include "svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace deepseek::bench {
namespace {

std::string Fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, v);
  return buf;
}

// A "nice" axis maximum (1, 2 or 5 times a power of ten) at or above v.
double NiceCeiling(double v) {
  if (v <= 0) return 1;
  const double p = std::pow(10.0, std::floor(std::log10(v)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * p >= v) return m * p;
  }
  return 10 * p;
}

}  // namespace

std::string LineChartSvg(const std::string& title, const std::string& x_label, const std::string& y_label,
                         const std::vector<double>& x, const std::vector<Series>& series) {
  constexpr double kW = 720, kH = 420, kLeft = 70, kRight = 20, kTop = 40, kBottom = 60;
  const double pw = kW - kLeft - kRight, ph = kH - kTop - kBottom;
  double y_max = 0;
  for (const Series& s : series) {
    for (double v : s.y) y_max = std::max(y_max, v);
  }
  y_max = NiceCeiling(y_max * 1.05);
  const double lx0 = x.empty() ? 0 : std::log2(x.front()), lx1 = x.empty() ? 1 : std::log2(x.back());
  const auto px = [&](double v) { return kLeft + (lx1 > lx0 ? (std::log2(v) - lx0) / (lx1 - lx0) : 0.5) * pw; };
  const auto py = [&](double v) { return kTop + ph - v / y_max * ph; };

  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + Fmt("%.0f", kW) + "\" height=\"" +
                    Fmt("%.0f", kH) + "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  svg += "<text x=\"" + Fmt("%.0f", kW / 2) + "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">" + title + "</text>\n";
  for (int i = 0; i <= 5; ++i) {  // horizontal grid with y labels
    const double v = y_max * i / 5, yy = py(v);
    svg += "<line x1=\"" + Fmt("%.1f", kLeft) + "\" x2=\"" + Fmt("%.1f", kLeft + pw) + "\" y1=\"" + Fmt("%.1f", yy) +
           "\" y2=\"" + Fmt("%.1f", yy) + "\" stroke=\"#ddd\"/>\n";
    svg += "<text x=\"" + Fmt("%.1f", kLeft - 6) + "\" y=\"" + Fmt("%.1f", yy + 4) + "\" text-anchor=\"end\">" +
           Fmt(y_max >= 10 ? "%.0f" : "%.1f", v) + "</text>\n";
  }
  for (double v : x) {  // one x tick per measured depth
    svg += "<text x=\"" + Fmt("%.1f", px(v)) + "\" y=\"" + Fmt("%.1f", kTop + ph + 18) + "\" text-anchor=\"middle\">" +
           (v >= 1024 ? Fmt("%.0fK", v / 1024) : Fmt("%.0f", v)) + "</text>\n";
  }
  svg += "<text x=\"" + Fmt("%.0f", kLeft + pw / 2) + "\" y=\"" + Fmt("%.0f", kH - 18) + "\" text-anchor=\"middle\">" +
         x_label + "</text>\n";
  svg += "<text transform=\"translate(18 " + Fmt("%.0f", kTop + ph / 2) + ") rotate(-90)\" text-anchor=\"middle\">" +
         y_label + "</text>\n";
  svg += "<rect x=\"" + Fmt("%.1f", kLeft) + "\" y=\"" + Fmt("%.1f", kTop) + "\" width=\"" + Fmt("%.1f", pw) +
         "\" height=\"" + Fmt("%.1f", ph) + "\" fill=\"none\" stroke=\"#444\"/>\n";
  for (size_t k = 0; k < series.size(); ++k) {
    const Series& s = series[k];
    std::string points;
    for (size_t i = 0; i < x.size() && i < s.y.size(); ++i) {
      if (s.y[i] <= 0) continue;
      points += Fmt("%.1f", px(x[i])) + "," + Fmt("%.1f", py(s.y[i])) + " ";
      svg += "<circle cx=\"" + Fmt("%.1f", px(x[i])) + "\" cy=\"" + Fmt("%.1f", py(s.y[i])) + "\" r=\"3\" fill=\"" +
             s.color + "\"/>\n";
    }
    svg += "<polyline fill=\"none\" stroke-width=\"2\" stroke=\"" + s.color + "\" points=\"" + points + "\"/>\n";
    const double ly = kTop + 14 + 16 * static_cast<double>(k);
    svg += "<line x1=\"" + Fmt("%.1f", kLeft + pw - 150) + "\" x2=\"" + Fmt("%.1f", kLeft + pw - 130) + "\" y1=\"" +
           Fmt("%.1f", ly - 4) + "\" y2=\"" + Fmt("%.1f", ly - 4) + "\" stroke-width=\"2\" stroke=\"" + s.color + "\"/>\n";
    svg += "<text x=\"" + Fmt("%.1f", kLeft + pw - 124) + "\" y=\"" + Fmt("%.1f", ly) + "\">" + s.name + "</text>\n";
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace deepseek::bench
