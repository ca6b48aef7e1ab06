// Video as a sequence of images — our construction, not the model's: V4.1 has no video-specific
// input that we know of, so a clip is its frames in order, each spliced as an image span (image
// placeholders one after the other). Options choose every stride-th frame and stop before the
// spans would exceed a budget of visual tokens.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "deepseek/config.h"

namespace deepseek::image {

struct VideoOptions {
  int64_t frame_stride = 1;           // every stride-th frame, from the first
  int64_t max_visual_tokens = 8192;   // the frames' spans together stay within this
};

// Indices of the frames to use among `frames` frames of width × height pixels: 0, stride,
// 2·stride, … while the spans' tokens (each frame planned as an image) fit the budget. Throws
// Error(kInvalidArgument) for a stride below 1 or a budget too small for one frame.
std::vector<int64_t> SelectFrames(int64_t frames, int64_t width, int64_t height, const VisionConfig& vision,
                                  const VideoOptions& options);

// The image files of a directory (.png, .jpg, .jpeg, any case), sorted by name: the frames of a
// clip. Throws Error(kNotFound) when the directory cannot be read or holds no image.
std::vector<std::string> FrameFiles(const std::string& dir);

}  // namespace deepseek::image
