// libFuzzer target: PNG and JPEG bytes through DecodeImage. Anything may be refused with an
// Error; nothing may crash, leak, read out of bounds or allocate beyond the size limits.
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/error.h"
#include "image/decode.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const deepseek::image::RgbImage image = deepseek::image::DecodeImage(std::span<const uint8_t>(data, size), "fuzz");
    if (image.rgb.size() != static_cast<size_t>(image.width * image.height * 3)) __builtin_trap();
  } catch (const deepseek::Error&) {
  }
  return 0;
}
