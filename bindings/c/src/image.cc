// Images: decoding and wrapping pixels into ds_image handles, and what a model says about them
// (whether it takes images, how many positions an image's span takes).
#include <limits>

#include "internal.h"

using namespace deepseek::capi;
using deepseek::StatusCode;

namespace {

std::unique_ptr<ds_image> Wrap(deepseek::Image image) {
  auto handle = std::make_unique<ds_image>();
  handle->image = std::move(image);
  return handle;
}

}  // namespace

extern "C" {

ds_status ds_image_load(const char* path, ds_image** out) DS_NOEXCEPT {
  return Guard([&] {
    Require(out, "out");
    *out = Wrap(Unwrap(deepseek::Image::Load(Require(path, "path")))).release();
  });
}

ds_status ds_image_decode(const void* bytes, size_t n_bytes, const char* name, ds_image** out) DS_NOEXCEPT {
  return Guard([&] {
    Require(out, "out");
    if (n_bytes) Require(bytes, "bytes");
    const std::span<const uint8_t> data(static_cast<const uint8_t*>(bytes), n_bytes);
    *out = Wrap(Unwrap(deepseek::Image::Decode(data, name ? name : "image"))).release();
  });
}

ds_status ds_image_from_rgb(int64_t width, int64_t height, const uint8_t* rgb, size_t rgb_size,
                            ds_image** out) DS_NOEXCEPT {
  return Guard([&] {
    Require(out, "out");
    if (width <= 0 || height <= 0)
      Fail(StatusCode::kInvalidArgument, "the image is " + std::to_string(width) + " x " + std::to_string(height) +
                                             " pixels; both must be positive");
    // The bound comes first: a product of a huge width and height could wrap around to
    // rgb_size.
    const auto w = static_cast<uint64_t>(width), h = static_cast<uint64_t>(height);
    if (w > std::numeric_limits<uint64_t>::max() / 3 / h || w * h * 3 != rgb_size)
      Fail(StatusCode::kInvalidArgument, "rgb holds " + std::to_string(rgb_size) + " bytes; a " + std::to_string(width) +
                                             " x " + std::to_string(height) + " image needs width * height * 3");
    Require(rgb, "rgb");
    *out = Wrap(deepseek::Image{width, height, std::vector<uint8_t>(rgb, rgb + rgb_size)}).release();
  });
}

void ds_image_destroy(ds_image* image) DS_NOEXCEPT { delete image; }

ds_status ds_image_size(const ds_image* image, int64_t* width, int64_t* height) DS_NOEXCEPT {
  return Guard([&] {
    Require(image, "image");
    Require(width, "width");
    Require(height, "height");
    *width = image->image.width;
    *height = image->image.height;
  });
}

const uint8_t* ds_image_rgb(const ds_image* image, size_t* n_bytes) DS_NOEXCEPT {
  const size_t n = image ? image->image.rgb.size() : 0;
  if (n_bytes) *n_bytes = n;
  return n ? image->image.rgb.data() : nullptr;
}

int ds_model_has_vision(const ds_model* model) DS_NOEXCEPT { return model && model->model->has_vision() ? 1 : 0; }

ds_status ds_model_image_positions(const ds_model* model, const ds_image* image, int64_t* positions) DS_NOEXCEPT {
  return Guard([&] {
    Require(model, "model");
    Require(image, "image");
    Require(positions, "positions");
    *positions = Unwrap(model->model->ImagePositions(image->image));
  });
}

}  // extern "C"
