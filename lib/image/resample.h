// Pillow's bicubic resize of 8-bit images (Image.resize with Resampling.BICUBIC, the reference's
// resampling), reproduced step for step: separable passes, horizontal first, with Pillow's
// kernel (a = −0.5) widened by the scale when shrinking, its coefficients normalised per output
// pixel and rounded to 22-bit fixed point, and its rounding and clipping of the sums.
#pragma once

#include <cstdint>

#include "image/rgb_image.h"

namespace deepseek::image {

// `in` resized to width × height (both >= 1); the same size returns a copy, as Pillow does.
RgbImage ResizeBicubic(const RgbImage& in, int64_t width, int64_t height);

}  // namespace deepseek::image
