// deepseek::Image: a picture for a model with a vision tower (V4.1), as 8-bit RGB. Sessions take
// images with Session::PrefillImage; chat messages carry them in ChatMessage::images.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "deepseek/status.h"

namespace deepseek {

struct Image {
  int64_t width = 0, height = 0;
  std::vector<uint8_t> rgb;  // [height, width, 3]: rows top to bottom, pixels left to right

  // A PNG or JPEG file, decoded as the reference reads images (Pillow's convert("RGB"): alpha
  // dropped, grey replicated, palettes expanded, EXIF orientation ignored). Another format, a
  // truncated or corrupt file, or more than Pillow's 178,956,970 pixels is kInvalidArgument
  // naming the file; a file that cannot be read is kNotFound.
  static Result<Image> Load(const std::string& path);
  // The same from a file's bytes (the format sniffed from its signature); `name` labels errors.
  static Result<Image> Decode(std::span<const uint8_t> bytes, const std::string& name = "image");
};

// Video as images — our construction: V4.1 has no video-specific input that we know of, so a
// clip is its frames in order, each an image span. Every frame_stride-th frame is taken, from
// the first, while the frames' spans stay within max_visual_tokens positions.
struct VideoOptions {
  int64_t frame_stride = 1;
  int64_t max_visual_tokens = 8192;
};

class Model;

// The frames of a clip: the images of directory `dir` (.png, .jpg, .jpeg, any case) in name
// order, the ones `options` selects for `model` (its vision tower plans each frame's span; the
// frames are taken to share the first one's size). kNotFound for a directory without images,
// kUnsupported for a model without vision, kInvalidArgument for a bad option or frame.
Result<std::vector<Image>> LoadVideoFrames(const std::string& dir, const Model& model, const VideoOptions& options = {});

}  // namespace deepseek
