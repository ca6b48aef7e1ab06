// deepseek::Image over lib/image's decoders.
#include "deepseek/image.h"

#include "core/error.h"
#include "image/decode.h"

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

}  // namespace deepseek
