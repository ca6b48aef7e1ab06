// deepseek::Image over lib/image's decoders.
#include "deepseek/image.h"

#include "core/error.h"
#include "deepseek/model.h"
#include "image/decode.h"
#include "image/video.h"

namespace deepseek {
namespace {

Image FromRgb(image::RgbImage in) { return Image{in.width, in.height, std::move(in.rgb)}; }

}  // namespace

Result<Image> Image::Load(const std::string& path) {
  Image out;
  Status status = CatchAll([&] { out = FromRgb(image::LoadImageFile(path)); });
  if (!status.ok()) return status;
  return out;
}

Result<Image> Image::Decode(std::span<const uint8_t> bytes, const std::string& name) {
  Image out;
  Status status = CatchAll([&] { out = FromRgb(image::DecodeImage(bytes, name)); });
  if (!status.ok()) return status;
  return out;
}

Result<std::vector<Image>> LoadVideoFrames(const std::string& dir, const Model& model, const VideoOptions& options) {
  std::vector<Image> frames;
  Status status = CatchAll([&] {
    if (!model.has_vision()) Fail(StatusCode::kUnsupported, "the model has no vision tower: it takes no video");
    const std::vector<std::string> files = image::FrameFiles(dir);
    const image::RgbImage first = image::LoadImageFile(files.front());
    const image::VideoOptions chosen{options.frame_stride, options.max_visual_tokens};
    for (int64_t i : image::SelectFrames(static_cast<int64_t>(files.size()), first.width, first.height, model.config().vision, chosen)) {
      frames.push_back(FromRgb(i == 0 ? first : image::LoadImageFile(files[static_cast<size_t>(i)])));
    }
  });
  if (!status.ok()) return status;
  return frames;
}

}  // namespace deepseek
