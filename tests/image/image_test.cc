// V4.1 image input (lib/image): the golden image's planned grid, its patches bit for bit and
// its span's token types against the reference's; planned sizes of the reference's formulas for
// the real and a capped vision config; Pillow's bicubic resize and letterbox against vectors made
// with Pillow, and on cases whose results follow from their definitions; refusals.
#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "format/safetensors.h"
#include "image/image_grid.h"
#include "image/prepare.h"
#include "image/resample.h"
#include "model/config_parser.h"
#include "support/golden_arrays.h"
#include "support/shared_data.h"
#include "model/v41_case.h"

namespace deepseek::image {
namespace {

TEST_CASE("image: the golden image's grid, patches and span equal the reference's") {
  const testing::V41Case golden = testing::LoadV41Case("v41_image");
  const ModelConfig& config = golden.config;
  const format::SafetensorsFile& run = golden.run;
  const format::TensorInfo* rgb = run.Find("image.rgb8");
  REQUIRE(rgb != nullptr);
  REQUIRE(rgb->shape.size() == 3);
  const RgbImage image{rgb->shape[1], rgb->shape[0], testing::GoldenArray<uint8_t>(run, "image.rgb8")};

  const PreparedImage prepared = PrepareImage(image, config.vision);
  const std::vector<int32_t> grid = testing::GoldenArray<int32_t>(run, "vision.grid");  // vit h, w, llm h, w
  CHECK(prepared.grid.vit_h == grid[0]);
  CHECK(prepared.grid.vit_w == grid[1]);
  CHECK(prepared.grid.llm_h == grid[2]);
  CHECK(prepared.grid.llm_w == grid[3]);
  const std::vector<float> patches = testing::GoldenArray<float>(run, "vision.patches");
  REQUIRE(prepared.patches.size() == patches.size());
  CHECK(std::memcmp(prepared.patches.data(), patches.data(), patches.size() * sizeof(float)) == 0);

  const std::vector<int32_t> types = testing::GoldenArray<int32_t>(run, "token_types");
  const int32_t start = testing::GoldenArray<int32_t>(run, "vision.span_start")[0];
  const std::vector<SpanToken> span = ImageSpanTokens(prepared.grid);
  REQUIRE(static_cast<int64_t>(span.size()) == prepared.grid.span_tokens());
  for (size_t i = 0; i < types.size(); ++i) {
    const bool in_span = static_cast<int64_t>(i) >= start && i < start + span.size();
    CHECK(types[i] == (in_span ? static_cast<int32_t>(span[i - static_cast<size_t>(start)]) : -1));
  }
}

TEST_CASE("image: planned sizes follow the reference's formulas") {
  struct Case {
    int64_t width, height;
    ImageGrid want;  // height, width, vit h, vit w, llm h, llm w
  };
  // Computed with the reference's plan_image_grid (image_processor.py) in Python.
  VisionConfig real;  // V4.1-Flash (spec §2.5)
  real.patch_size = 14, real.downsample_ratio = 3, real.max_image_tokens = 1024, real.min_pixels = 295936;
  for (const Case& c : std::vector<Case>{{90, 70, {490, 616, 35, 44, 12, 15}},
                                         {640, 480, {490, 644, 35, 46, 12, 16}},
                                         {1920, 1080, {966, 1708, 69, 122, 23, 41}},
                                         {4000, 3000, {1134, 1512, 81, 108, 27, 36}},
                                         {30, 2000, {4452, 70, 318, 5, 106, 2}},
                                         {3000, 20, {56, 6664, 4, 476, 2, 159}},
                                         {1, 1, {546, 546, 39, 39, 13, 13}}}) {
    CAPTURE(c.width);
    CAPTURE(c.height);
    const ImageGrid g = PlanImageGrid(c.width, c.height, real);
    CHECK(g.height == c.want.height);
    CHECK(g.width == c.want.width);
    CHECK(g.vit_h == c.want.vit_h);
    CHECK(g.vit_w == c.want.vit_w);
    CHECK(g.llm_h == c.want.llm_h);
    CHECK(g.llm_w == c.want.llm_w);
    CHECK(g.span_tokens() <= real.max_image_tokens);
  }
  VisionConfig capped = real;  // a smaller budget and an aspect cap (reading B's numbers)
  capped.max_image_tokens = 384, capped.min_pixels = 147456, capped.max_wh_ratio = 8;
  for (const Case& c : std::vector<Case>{{90, 70, {350, 448, 25, 32, 9, 11}},
                                         {1920, 1080, {588, 1036, 42, 74, 14, 25}},
                                         {3000, 20, {140, 1092, 10, 78, 4, 26}},
                                         {800, 800, {798, 798, 57, 57, 19, 19}}}) {
    CAPTURE(c.width);
    const ImageGrid g = PlanImageGrid(c.width, c.height, capped);
    CHECK(g.height == c.want.height);
    CHECK(g.width == c.want.width);
    CHECK(g.llm_h == c.want.llm_h);
    CHECK(g.llm_w == c.want.llm_w);
  }
}

RgbImage Filled(int64_t w, int64_t h, uint8_t r, uint8_t g, uint8_t b) {
  RgbImage im{w, h, std::vector<uint8_t>(static_cast<size_t>(w * h * 3))};
  for (size_t i = 0; i < im.rgb.size(); i += 3) {
    im.rgb[i] = r;
    im.rgb[i + 1] = g;
    im.rgb[i + 2] = b;
  }
  return im;
}

TEST_CASE("image: Pillow's bicubic resize keeps flat colours, copies a same-size image, and rounds its sums") {
  const RgbImage flat = Filled(37, 23, 200, 7, 128);
  for (const auto& [w, h] : std::vector<std::pair<int64_t, int64_t>>{{80, 50}, {10, 9}, {37, 60}, {5, 23}, {1, 1}}) {
    CAPTURE(w);
    const RgbImage out = ResizeBicubic(flat, w, h);
    CHECK(out.rgb == Filled(w, h, 200, 7, 128).rgb);
  }
  RgbImage ramp{4, 1, std::vector<uint8_t>(12)};
  for (size_t i = 0; i < 12; ++i) ramp.rgb[i] = static_cast<uint8_t>(85 * (i / 3));
  CHECK(ResizeBicubic(ramp, 4, 1).rgb == ramp.rgb);
  // Halving 4 pixels to 2: each output's kernel is the bicubic scaled by 2 over all 4 inputs,
  // weights (−0.5·1.5³+2.5·1.5²−4·1.5+2 = 0.0703125 at distance 1.5 … ), symmetric: the outputs
  // mirror each other around the middle value, and the ramp stays in order.
  const RgbImage half = ResizeBicubic(ramp, 2, 1);
  CHECK(static_cast<int>(half.rgb[0]) + static_cast<int>(half.rgb[3]) == 255);
  CHECK(half.rgb[0] < half.rgb[3]);
  CHECK_THROWS_AS(ResizeBicubic(ramp, 0, 1), Error);
}

// A deterministic test pattern, the same as the generator of the Pillow vectors below.
RgbImage Pattern(int64_t w, int64_t h) {
  RgbImage im{w, h, {}};
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      for (int64_t c = 0; c < 3; ++c) im.rgb.push_back(static_cast<uint8_t>(((x * 37 + y * 101 + c * 53) ^ (x * y * 7 + c)) & 255));
    }
  }
  return im;
}

uint64_t Fnv1a(const std::vector<uint8_t>& bytes) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (uint8_t b : bytes) h = (h ^ b) * 0x100000001b3ULL;
  return h;
}

TEST_CASE("image: resize and letterbox equal Pillow's byte for byte") {
  struct Vector {
    int64_t width, height;
    uint64_t fnv;  // FNV-1a of the output bytes
  };
  // From Pillow 9.4 (Debian 12's python3-pil): Image.resize((w, h), Resampling.BICUBIC) of the
  // pattern, and ImageOps.pad(pattern, (w, h), color=(127, 127, 127)).
  const RgbImage small = Pattern(13, 9), big = Pattern(101, 67);
  for (const Vector& v : std::vector<Vector>{{20, 7, 0x92da386d8587e8baULL}, {5, 12, 0x782e00b79a4cb7f1ULL},
                                             {13, 30, 0xdc269c3dccb0f35eULL}, {40, 40, 0x1a3fdf37a52a271aULL},
                                             {3, 3, 0xc2eabd58d0b41461ULL}, {13, 4, 0x8d6c2b232213ab16ULL},
                                             {7, 9, 0xa292ae618420ee10ULL}, {1, 1, 0xb52bab19797161c9ULL}}) {
    CAPTURE(v.width);
    CAPTURE(v.height);
    CHECK(Fnv1a(ResizeBicubic(small, v.width, v.height).rgb) == v.fnv);
  }
  for (const Vector& v : std::vector<Vector>{{30, 20, 0x163a883408470872ULL}, {250, 160, 0x224390904e9b56ebULL},
                                             {101, 200, 0xc9af970e0818d60cULL}}) {
    CAPTURE(v.width);
    CHECK(Fnv1a(ResizeBicubic(big, v.width, v.height).rgb) == v.fnv);
  }
  const VisionConfig no_cap;
  for (const Vector& v : std::vector<Vector>{{28, 28, 0xa67f7f90e5472623ULL}, {42, 14, 0xfed88809c56ea330ULL},
                                             {14, 42, 0x23cd6d98ea596bf0ULL}, {17, 17, 0x5bb5c79a1af7e63dULL}}) {
    CAPTURE(v.width);
    CAPTURE(v.height);
    ImageGrid target;
    target.width = v.width;
    target.height = v.height;
    CHECK(Fnv1a(FitToGrid(small, target, no_cap).rgb) == v.fnv);
  }
}

TEST_CASE("image: the letterbox centres the fitted image, offsets rounded halves to even") {
  VisionConfig v;
  v.patch_size = 14, v.downsample_ratio = 3, v.max_image_tokens = 64, v.min_pixels = 1;
  const RgbImage red = Filled(9, 14, 255, 0, 0);  // fits 14 x 14 at its own size: 5 columns of pad
  const ImageGrid g = PlanImageGrid(9, 14, v);
  REQUIRE(g.width == 14);
  REQUIRE(g.height == 14);
  const RgbImage out = FitToGrid(red, g, v);
  // round(5 · 0.5) = 2: columns 0-1 and 11-13 are grey.
  for (int64_t x = 0; x < 14; ++x) {
    CAPTURE(x);
    const bool image = x >= 2 && x < 11;
    CHECK(out.rgb[static_cast<size_t>(x * 3)] == (image ? 255 : 127));
    CHECK(out.rgb[static_cast<size_t>((13 * 14 + x) * 3 + 1)] == (image ? 0 : 127));
  }
}

TEST_CASE("image: empty images and inconsistent buffers are refused") {
  VisionConfig v;
  v.patch_size = 14, v.downsample_ratio = 3, v.max_image_tokens = 64, v.min_pixels = 1;
  CHECK_THROWS_AS(PlanImageGrid(0, 10, v), Error);
  CHECK_THROWS_AS(PrepareImage(RgbImage{4, 4, std::vector<uint8_t>(10)}, v), Error);
  VisionConfig none;
  CHECK_THROWS_AS(PlanImageGrid(10, 10, none), Error);
}

}  // namespace
}  // namespace deepseek::image
