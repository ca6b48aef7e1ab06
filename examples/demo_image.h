// The picture deepseek-demo describes on a V4.1 checkpoint: drawn in code, so the demo needs no
// image file.
#pragma once

#include "deepseek/image.h"

namespace deepseek::demo {

// A 112 x 84 landscape: a sky fading to the horizon, a sun, green hills and a red house. Any
// picture would do (the tiny model's weights are random); this one has shapes and colours the
// vision encoder's patches can tell apart, and is small enough to keep its size in v41-tiny.
Image LandscapeImage();

}  // namespace deepseek::demo
