#include "image/prepare.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.h"
#include "core/numerics.h"
#include "image/resample.h"

namespace deepseek::image {
namespace {

constexpr uint8_t kPadGrey = 127;

// Python's round() of a float: halves to even (the default rounding mode's nearbyint).
int64_t RoundHalfEven(double x) { return static_cast<int64_t>(std::nearbyint(x)); }

// Pillow's ImageOps.contain: the largest size with the image's aspect ratio within the target,
// one side equal to the target's, the other rounded (halves to even).
void Contain(int64_t in_w, int64_t in_h, int64_t& w, int64_t& h) {
  const double im_ratio = static_cast<double>(in_w) / static_cast<double>(in_h);
  const double dest_ratio = static_cast<double>(w) / static_cast<double>(h);
  if (im_ratio > dest_ratio) {
    h = RoundHalfEven(static_cast<double>(in_h) / static_cast<double>(in_w) * static_cast<double>(w));
  } else if (im_ratio < dest_ratio) {
    w = RoundHalfEven(static_cast<double>(in_w) / static_cast<double>(in_h) * static_cast<double>(h));
  }
}

}  // namespace

RgbImage FitToGrid(const RgbImage& in, const ImageGrid& grid, const VisionConfig& vision) {
  if (vision.max_wh_ratio > 0 && static_cast<double>(in.width) >= vision.max_wh_ratio * static_cast<double>(in.height)) {
    return ResizeBicubic(in, grid.width, grid.height);
  }
  int64_t w = grid.width, h = grid.height;
  Contain(in.width, in.height, w, h);
  const RgbImage fitted = ResizeBicubic(in, w, h);
  if (w == grid.width && h == grid.height) return fitted;
  RgbImage out{grid.width, grid.height, std::vector<uint8_t>(static_cast<size_t>(grid.width * grid.height * 3), kPadGrey)};
  // Centred along the side that is short, the offset rounded halves to even.
  const int64_t x0 = w != grid.width ? RoundHalfEven(static_cast<double>(grid.width - w) * 0.5) : 0;
  const int64_t y0 = w != grid.width ? 0 : RoundHalfEven(static_cast<double>(grid.height - h) * 0.5);
  for (int64_t y = 0; y < h; ++y) {
    std::copy_n(fitted.rgb.begin() + y * w * 3, w * 3, out.rgb.begin() + ((y0 + y) * grid.width + x0) * 3);
  }
  return out;
}

PreparedImage PrepareImage(const RgbImage& in, const VisionConfig& vision) {
  if (in.width < 1 || in.height < 1 || static_cast<int64_t>(in.rgb.size()) != in.width * in.height * 3) {
    Fail(StatusCode::kInvalidArgument, "image of " + std::to_string(in.width) + " x " + std::to_string(in.height) +
                                           " pixels with " + std::to_string(in.rgb.size()) + " bytes");
  }
  PreparedImage out;
  out.grid = PlanImageGrid(in.width, in.height, vision);
  const ImageGrid& g = out.grid;
  const RgbImage fitted = FitToGrid(in, g, vision);
  const int64_t p = vision.patch_size;
  out.patches.resize(static_cast<size_t>(g.vit_h * g.vit_w * 3 * p * p));
  float* dst = out.patches.data();
  for (int64_t py = 0; py < g.vit_h; ++py) {
    for (int64_t px = 0; px < g.vit_w; ++px) {
      for (int c = 0; c < 3; ++c) {
        for (int64_t ky = 0; ky < p; ++ky) {
          const uint8_t* row = fitted.rgb.data() + ((py * p + ky) * g.width + px * p) * 3 + c;
          for (int64_t kx = 0; kx < p; ++kx) {
            // fp32 as torch computes it, then rounded to bf16.
            const float v = static_cast<float>(row[kx * 3]) / 255.0f;
            *dst++ = num::RoundBf16((v - 0.5f) / 0.5f);
          }
        }
      }
    }
  }
  return out;
}

}  // namespace deepseek::image
