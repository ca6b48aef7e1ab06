// An RGB image made ready for the V4.1 vision tower as the reference's load_image makes it
// (spec §8.11): planned (image_grid.h), letterboxed in grey onto the planned size after an
// aspect-preserving bicubic fit (Pillow's ImageOps.pad; or stretched to it when the config caps
// the aspect ratio and the image is wider), normalised to (x/255 − 0.5)/0.5 in bf16, and cut
// into patches in reading order.
#pragma once

#include <vector>

#include "deepseek/config.h"
#include "image/image_grid.h"
#include "image/rgb_image.h"

namespace deepseek::image {

struct PreparedImage {
  ImageGrid grid;
  // [vit_h · vit_w, 3, patch, patch]: patch (i, j) at index i · vit_w + j, channel-major, bf16
  // values held in fp32.
  std::vector<float> patches;
};

// The padded or resized image of the planned size (before normalisation).
RgbImage FitToGrid(const RgbImage& in, const ImageGrid& grid, const VisionConfig& vision);

PreparedImage PrepareImage(const RgbImage& in, const VisionConfig& vision);

}  // namespace deepseek::image
