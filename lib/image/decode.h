// PNG and JPEG files to 8-bit RGB as the reference reads them (Pillow's Image.open(...).convert(
// "RGB")): libpng and libjpeg-turbo decode; alpha is dropped (not composited), grey is
// replicated, palettes expanded, 16-bit samples keep their high byte, JPEGs use libjpeg's
// default (slow integer) IDCT with fancy upsampling as Pillow does, EXIF orientation is ignored.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "image/rgb_image.h"

namespace deepseek::image {

// Pillow's decompression-bomb limit: larger images are refused.
inline constexpr int64_t kMaxImagePixels = 2 * 89'478'485;

// Decodes a PNG or JPEG file's bytes (the format is sniffed from its signature); `name` labels
// errors. Throws Error(kInvalidArgument) naming `name` and the reason: another format, a
// truncated or corrupt file, more than kMaxImagePixels pixels, a CMYK JPEG.
RgbImage DecodeImage(std::span<const uint8_t> bytes, const std::string& name);

// Reads and decodes a file (Error kNotFound when it cannot be read).
RgbImage LoadImageFile(const std::string& path);

}  // namespace deepseek::image
