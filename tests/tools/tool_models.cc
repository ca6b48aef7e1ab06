#include "tool_models.h"

#include "support/shared_data.h"
#include "tinygen/tiny_checkpoint.h"
#include "tinygen/v41_checkpoint.h"

namespace deepseek::testing {

const std::string& V41TinyDir() {
  static const std::string dir = [] {
    const std::string d = TempDir("tools-v41-tiny");
    tinygen::WriteTinyV41Checkpoint(tinygen::TinyV41Spec::Tiny(), d);
    return d;
  }();
  return dir;
}

const std::string& FlashTinyDir() {
  static const std::string dir = [] {
    const std::string d = TempDir("tools-flash-tiny");
    tinygen::WriteTinyCheckpoint(tinygen::TinySpec::FlashTiny(), d);
    return d;
  }();
  return dir;
}

std::string GoldenImagePng() { return SharedDir() + "/golden/v41/v41_image/image.png"; }
std::string SmallJpeg() { return std::string(DS_TEST_IMAGE_DIR) + "/rgb.jpg"; }

std::string Quoted(const std::string& path) { return "'" + path + "'"; }

}  // namespace deepseek::testing
