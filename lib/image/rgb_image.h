// An 8-bit RGB image in memory: rows top to bottom, pixels left to right, 3 bytes each.
#pragma once

#include <cstdint>
#include <vector>

namespace deepseek::image {

struct RgbImage {
  int64_t width = 0, height = 0;
  std::vector<uint8_t> rgb;  // [height, width, 3]
};

}  // namespace deepseek::image
