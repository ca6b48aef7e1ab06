// deepseek-chat --image / --video: a V4.1 model with a vision tower (v41-tiny) answers with the
// pictures in its prompt and reports their spans; a model without one, a missing file, a file
// that is not an image and a folder without frames are refused with the cause and exit status 1.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "support/run_tool.h"
#include "support/shared_data.h"
#include "tool_models.h"

namespace deepseek::testing {
namespace {

ToolRun Chat(const std::string& model, const std::string& args) {
  return RunTool(DS_CHAT_BIN, "--model " + Quoted(model) + " --mode fast --seed 1 --max-tokens 6 -p 'Describe this image.' " + args);
}

bool Has(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

TEST_CASE("deepseek-chat --image: v41-tiny replies with the images' spans in the prompt") {
  const ToolRun run = Chat(V41TinyDir(), "--image " + Quoted(GoldenImagePng()) + " --image " + Quoted(SmallJpeg()));
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  CHECK_FALSE(run.out.empty());  // the reply's words (noise: the weights are random)
  CHECK(Has(run.err, "90x70, 10 positions]"));
  CHECK(Has(run.err, "generated 6 tokens"));
  // Each picture's span is part of the prompt, whose prefill encodes it.
  CHECK(Has(run.err, " in image spans, encoded in the prefill"));
}

TEST_CASE("deepseek-chat --video: a folder's frames, every stride-th, go into the prompt") {
  const std::string clip = TempDir("chat-video");
  for (const char* name : {"a.png", "b.png", "c.png"}) std::filesystem::copy_file(GoldenImagePng(), clip + "/" + name);
  const ToolRun run = Chat(V41TinyDir(), "--video " + Quoted(clip) + " --frame-stride 2");
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  CHECK(Has(run.err, "2 frames of 90x70, 20 positions]"));
  CHECK(Has(run.err, "20 in image spans"));
  // A budget below one frame's span is refused.
  const ToolRun tight = Chat(V41TinyDir(), "--video " + Quoted(clip) + " --max-visual-tokens 5");
  CHECK(tight.exit_code == 1);
  CHECK(Has(tight.err, "above the budget of 5"));
}

TEST_CASE("deepseek-chat --image/--video: refusals name the cause and exit 1") {
  const std::string dir = TempDir("chat-image-refusals");
  struct Case {
    std::string model, args, needle;
  };
  const Case cases[] = {
      {FlashTinyDir(), "--image " + Quoted(GoldenImagePng()), "has no vision tower"},
      {V41TinyDir(), "--image " + Quoted(dir + "/missing.png"), "NOT_FOUND"},
      {V41TinyDir(), "--image " + Quoted(V41TinyDir() + "/config.json"), "not a PNG or JPEG image"},
      {V41TinyDir(), "--video " + Quoted(dir), "NOT_FOUND"},  // no frames in it
  };
  for (const Case& c : cases) {
    CAPTURE(c.args);
    const ToolRun run = Chat(c.model, c.args);
    CHECK(run.exit_code == 1);
    CHECK_MESSAGE(Has(run.err, c.needle), "stderr: " << run.err);
  }
}

}  // namespace
}  // namespace deepseek::testing
