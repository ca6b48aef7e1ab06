// deepseek-demo on both presets: v41-tiny (generated into an empty folder on first use)
// describes the picture drawn in code, or an --image file, with its span and timings; a V4
// model runs the token demo as before, and refuses --image.
#include <doctest/doctest.h>

#include <string>

#include "support/run_tool.h"
#include "support/shared_data.h"
#include "tool_models.h"

namespace deepseek::testing {
namespace {

bool Has(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

TEST_CASE("deepseek-demo --preset v41-tiny: a chat describing the embedded picture, with timings") {
  const std::string dir = TempDir("demo-v41") + "/tiny-v41";
  const ToolRun run = RunTool(DS_DEMO_BIN, "--preset v41-tiny --model " + Quoted(dir) + " --decode 5 --threads 2");
  INFO(run.out, run.err);
  REQUIRE(run.exit_code == 0);
  CHECK(Has(run.out, "generating the embedded tiny checkpoint in " + dir));
  CHECK(Has(run.out, "image: embedded landscape, 112x84 -> a span of "));
  CHECK(Has(run.out, "user: Describe this image.\nassistant:"));
  CHECK(Has(run.out, "image encode + prefill "));
  CHECK(Has(run.out, "decode 5 tokens in "));

  // The folder is there now: loaded, not generated again; a picture from a file instead.
  const ToolRun file = RunTool(DS_DEMO_BIN, "--preset v41-tiny --model " + Quoted(dir) + " --decode 2 --image " + Quoted(GoldenImagePng()));
  INFO(file.out, file.err);
  REQUIRE(file.exit_code == 0);
  CHECK_FALSE(Has(file.out, "generating"));
  CHECK(Has(file.out, "90x70 -> a span of 10 positions"));
}

TEST_CASE("deepseek-demo on a V4 model: the token demo, and no --image") {
  const std::string model = " --model " + Quoted(FlashTinyDir());
  const ToolRun run = RunTool(DS_DEMO_BIN, model + " --prompt 8 --decode 3 --threads 2");
  INFO(run.out, run.err);
  REQUIRE(run.exit_code == 0);
  CHECK(Has(run.out, "generated: "));
  CHECK(Has(run.out, "| prefill 8 tokens in "));
  const ToolRun refused = RunTool(DS_DEMO_BIN, model + " --image " + Quoted(GoldenImagePng()));
  CHECK(refused.exit_code == 1);
  CHECK(Has(refused.err, "has no vision tower"));
  CHECK(RunTool(DS_DEMO_BIN, "--preset v5").exit_code == 2);
}

}  // namespace
}  // namespace deepseek::testing
