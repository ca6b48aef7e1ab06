#include "demo_image.h"

#include <cmath>
#include <cstdint>

namespace deepseek::demo {

Image LandscapeImage() {
  constexpr int64_t kWidth = 112, kHeight = 84;
  Image image{kWidth, kHeight, std::vector<uint8_t>(static_cast<size_t>(kWidth * kHeight * 3))};
  for (int64_t y = 0; y < kHeight; ++y) {
    for (int64_t x = 0; x < kWidth; ++x) {
      const double fx = static_cast<double>(x), fy = static_cast<double>(y);
      const double horizon = 52 + 6 * std::sin(fx / 14);  // the hills' outline
      const bool sun = std::hypot(fx - 84, fy - 18) < 9;
      const bool house = x >= 22 && x < 42 && y >= 44 && y < 62;
      const bool roof = y >= 32 && y < 44 && std::abs(fx - 32) < (fy - 31) * 0.9;
      int r, g, b;
      if (house || roof) {
        r = roof ? 120 : 190, g = 30, b = 30;
      } else if (sun) {
        r = 255, g = 220, b = 60;
      } else if (fy >= horizon) {
        r = 40, g = static_cast<int>(150 - (fy - horizon)), b = 50;
      } else {
        r = static_cast<int>(90 + fy * 2), g = static_cast<int>(150 + fy), b = 235;
      }
      uint8_t* p = image.rgb.data() + (y * kWidth + x) * 3;
      p[0] = static_cast<uint8_t>(r), p[1] = static_cast<uint8_t>(g), p[2] = static_cast<uint8_t>(b);
    }
  }
  return image;
}

}  // namespace deepseek::demo
