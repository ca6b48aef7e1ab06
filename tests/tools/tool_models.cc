#include "tool_models.h"

#include "support/shared_data.h"

namespace deepseek::testing {

std::string GoldenImagePng() { return SharedDir() + "/golden/v41/v41_image/image.png"; }
std::string SmallJpeg() { return std::string(DS_TEST_IMAGE_DIR) + "/rgb.jpg"; }

std::string Quoted(const std::string& path) { return "'" + path + "'"; }

}  // namespace deepseek::testing
