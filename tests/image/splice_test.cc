// Image spans in the prompt (image/splice.h) against the golden image case's expanded tokens and
// types, and video frames as a run of image spans (image/video.h): stride, budget, files.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "format/safetensors.h"
#include "image/splice.h"
#include "image/video.h"
#include "model/config_parser.h"
#include "support/golden_arrays.h"
#include "support/shared_data.h"
#include "model/v41_case.h"

namespace deepseek::image {
namespace {

TEST_CASE("image splice: the golden prompt's placeholder expands to the reference's span") {
  const testing::V41Case golden = testing::LoadV41Case("v41_image");
  const ModelConfig& config = golden.config;
  const format::SafetensorsFile& run = golden.run;
  const std::vector<int32_t> types = testing::GoldenArray<int32_t>(run, "token_types");  // the prompt's
  std::vector<int32_t> tokens = testing::GoldenArray<int32_t>(run, "tokens");
  tokens.resize(types.size());
  const int64_t start = testing::GoldenArray<int32_t>(run, "vision.span_start")[0];
  const std::vector<int32_t> grid = testing::GoldenArray<int32_t>(run, "vision.grid");
  ImageGrid g;
  g.vit_h = grid[0], g.vit_w = grid[1], g.llm_h = grid[2], g.llm_w = grid[3];
  // The prompt as the user gave it: the span is one placeholder.
  std::vector<int32_t> prompt(tokens.begin(), tokens.begin() + start);
  prompt.push_back(config.image_token_id);
  prompt.insert(prompt.end(), tokens.begin() + start + g.span_tokens(), tokens.end());

  const SplicedPrompt spliced = SpliceImages(prompt, config.image_token_id, std::vector<ImageGrid>{g});
  CHECK(spliced.tokens == tokens);
  CHECK(spliced.starts == std::vector<int64_t>{start});
  REQUIRE(spliced.types.size() == types.size());
  for (size_t i = 0; i < types.size(); ++i) CHECK(spliced.types[i] == types[i]);
  CHECK_THROWS_AS(SpliceImages(prompt, config.image_token_id, {}), Error);  // one placeholder, no image
}

TEST_CASE("video: every stride-th frame while the spans fit the visual-token budget") {
  const VisionConfig vision = testing::LoadV41Case("v41_image").config.vision;
  // A 90 x 70 frame is a 2 x 3 token grid: 10 positions with the delimiters.
  CHECK(SelectFrames(10, 90, 70, vision, {2, 35}) == std::vector<int64_t>{0, 2, 4});
  CHECK(SelectFrames(10, 90, 70, vision, {3, 1000}) == std::vector<int64_t>{0, 3, 6, 9});
  CHECK(SelectFrames(0, 90, 70, vision, {1, 5}).empty());
  CHECK_THROWS_AS(SelectFrames(10, 90, 70, vision, {0, 100}), Error);
  CHECK_THROWS_AS(SelectFrames(10, 90, 70, vision, {1, 9}), Error);  // not even one frame fits

  const std::string frames = testing::TempDir("video-frames");
  for (const char* name : {"f002.png", "f001.JPG", "f003.jpeg", "notes.txt"}) std::ofstream(frames + "/" + name) << "x";
  std::filesystem::create_directory(frames + "/sub.png");  // a directory is no frame
  const std::vector<std::string> files = FrameFiles(frames);
  REQUIRE(files.size() == 3);
  CHECK(std::filesystem::path(files[0]).filename() == "f001.JPG");
  CHECK(std::filesystem::path(files[2]).filename() == "f003.jpeg");
  CHECK_THROWS_AS(FrameFiles(frames + "/missing"), Error);
  CHECK_THROWS_AS(FrameFiles(frames + "/sub.png"), Error);  // no frames in it
}

}  // namespace
}  // namespace deepseek::image
