// The checkpoints and pictures the tools' image tests run on: deepseek-make-tiny's v41-tiny (a
// vision tower) and flash-tiny (none), each written once per test binary, and image files.
#pragma once

#include <string>

#include "support/tiny_checkpoints.h"  // V41TinyDir, FlashTinyDir

namespace deepseek::testing {

// The golden v41_image picture (PNG, 90 x 70) and a small JPEG of the image tests (23 x 17).
std::string GoldenImagePng();
std::string SmallJpeg();

// `path` in single quotes for a shell command line.
std::string Quoted(const std::string& path);

}  // namespace deepseek::testing
