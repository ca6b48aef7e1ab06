#include "image/resample.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/error.h"

namespace deepseek::image {
namespace {

// Fixed-point bits of the coefficients: 32 bits less 8 for the pixel and 2 of headroom.
constexpr int kPrecisionBits = 32 - 8 - 2;

// Pillow's bicubic kernel (a = −0.5), support 2.
double Bicubic(double x) {
  constexpr double a = -0.5;
  x = std::fabs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

// Per output pixel: the first input pixel its kernel covers, how many, and their fixed-point
// weights (ksize per pixel).
struct Coefficients {
  int ksize = 0;
  std::vector<int> first, count;
  std::vector<int32_t> weights;
};

Coefficients Precompute(int64_t in_size, int64_t out_size) {
  const double scale = static_cast<double>(in_size) / static_cast<double>(out_size);
  const double filter_scale = std::max(scale, 1.0);
  const double support = 2.0 * filter_scale;
  Coefficients c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  std::vector<double> k(static_cast<size_t>(c.ksize));
  for (int64_t xx = 0; xx < out_size; ++xx) {
    const double center = (static_cast<double>(xx) + 0.5) * scale;
    const double ss = 1.0 / filter_scale;
    // C casts truncate toward zero, as Pillow's (int) does.
    int xmin = static_cast<int>(center - support + 0.5);
    xmin = std::max(xmin, 0);
    int xmax = static_cast<int>(center + support + 0.5);
    xmax = static_cast<int>(std::min<int64_t>(xmax, in_size));
    xmax -= xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      k[static_cast<size_t>(x)] = Bicubic((x + xmin - center + 0.5) * ss);
      ww += k[static_cast<size_t>(x)];
    }
    for (int x = 0; x < c.ksize; ++x) {
      double w = x < xmax ? k[static_cast<size_t>(x)] : 0.0;
      if (x < xmax && ww != 0.0) w /= ww;
      c.weights.push_back(static_cast<int32_t>(w < 0 ? -0.5 + w * (1 << kPrecisionBits) : 0.5 + w * (1 << kPrecisionBits)));
    }
    c.first.push_back(xmin);
    c.count.push_back(xmax);
  }
  return c;
}

uint8_t Clip8(int32_t v) {
  if (v >= (1 << kPrecisionBits << 8)) return 255;
  if (v <= 0) return 0;
  return static_cast<uint8_t>(v >> kPrecisionBits);
}

// One pass along x (stride 3 within a row) or along y (stride 3·width); `rows` output lines.
void Pass(const uint8_t* in, int64_t in_line, int64_t in_step, uint8_t* out, int64_t out_line, int64_t out_step,
          int64_t lines, int64_t out_size, const Coefficients& c, int64_t first_offset) {
  for (int64_t line = 0; line < lines; ++line) {
    for (int64_t xx = 0; xx < out_size; ++xx) {
      const int32_t* k = c.weights.data() + xx * c.ksize;
      const int64_t xmin = c.first[static_cast<size_t>(xx)] - first_offset;
      for (int ch = 0; ch < 3; ++ch) {
        int32_t ss = 1 << (kPrecisionBits - 1);
        for (int x = 0; x < c.count[static_cast<size_t>(xx)]; ++x) {
          ss += static_cast<int32_t>(in[line * in_line + (xmin + x) * in_step + ch]) * k[x];
        }
        out[line * out_line + xx * out_step + ch] = Clip8(ss);
      }
    }
  }
}

}  // namespace

RgbImage ResizeBicubic(const RgbImage& in, int64_t width, int64_t height) {
  if (width < 1 || height < 1 || in.width < 1 || in.height < 1 ||
      static_cast<int64_t>(in.rgb.size()) != in.width * in.height * 3) {
    Fail(StatusCode::kInvalidArgument, "ResizeBicubic: " + std::to_string(in.width) + " x " + std::to_string(in.height) +
                                           " image to " + std::to_string(width) + " x " + std::to_string(height));
  }
  if (width == in.width && height == in.height) return in;
  const Coefficients horizontal = Precompute(in.width, width);
  const Coefficients vertical = Precompute(in.height, height);
  // The horizontal pass covers only the input rows the vertical pass reads.
  const int64_t first_row = vertical.first.front();
  const int64_t last_row = vertical.first.back() + vertical.count.back();
  RgbImage wide{width, last_row - first_row, {}};
  if (width != in.width) {
    wide.rgb.resize(static_cast<size_t>(wide.width * wide.height * 3));
    Pass(in.rgb.data() + first_row * in.width * 3, in.width * 3, 3, wide.rgb.data(), width * 3, 3, wide.height, width,
         horizontal, 0);
  } else {
    wide.rgb.assign(in.rgb.begin() + first_row * in.width * 3, in.rgb.begin() + last_row * in.width * 3);
  }
  if (height == in.height && first_row == 0) return wide;
  RgbImage out{width, height, std::vector<uint8_t>(static_cast<size_t>(width * height * 3))};
  // Columns are the lines of the vertical pass; rows are its steps.
  Pass(wide.rgb.data(), 3, width * 3, out.rgb.data(), 3, width * 3, width, height, vertical, first_row);
  return out;
}

}  // namespace deepseek::image
