// deepseek-longctx end to end on the tiny checkpoint: both fills, the JSON figures (the measured
// KV bytes per token against the model's packed figure), the saved session on disk, the sweep's
// CSV and SVG, the disk tier, prefix reuse, and a budget too small for the request.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "support/run_tool.h"
#include "support/shared_data.h"
#include "tinygen/tiny_checkpoint.h"

namespace deepseek::testing {
namespace {

const std::string& Model() {
  static const std::string dir = [] {
    const std::string d = TempDir("longctx_tool") + "/tiny";
    tinygen::WriteTinyCheckpoint(tinygen::TinySpec::FlashTiny(), d);
    return d;
  }();
  return dir;
}

nlohmann::json RunJson(const std::string& args) {
  const ToolRun run = RunTool(DS_LONGCTX_BIN, "--model " + Model() + " --threads 2 --decode 2 --json " + args);
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  return nlohmann::json::parse(run.out);  // stdout is the JSON object alone
}

void CheckFigures(const nlohmann::json& j, int64_t tokens) {
  for (const char* key : {"kv_bytes_per_token", "kv_bytes_per_token_spec", "rss_mib", "decode_ms_4k", "decode_ms_last",
                          "prefill_tok_s", "indexer_gmacs", "indexer_peak_fraction", "peak_gflops"}) {
    CAPTURE(key);
    REQUIRE(j.contains(key));
    CHECK(j[key].get<double>() > 0);
  }
  CHECK(j["tokens"] == tokens);
  CHECK(j["indexer_peak_fraction"].get<double>() ==
        doctest::Approx(2 * j["indexer_gmacs"].get<double>() / j["peak_gflops"].get<double>()).epsilon(1e-4));
  // The tiny model: 3 CSA layers (584 + 68) / 4 and 2 ratio-8 layers 584 / 8 bytes per token.
  CHECK(j["kv_bytes_per_token_spec"].get<double>() == doctest::Approx(635.0));
  // Measured from whole pages: above the figure by less than one page per table.
  CHECK(j["kv_bytes_per_token"].get<double>() >= 635.0);
  CHECK(j["kv_bytes_per_token"].get<double>() <= 635.0 * 1.05);
}

TEST_CASE("deepseek-longctx: synthetic fill, saved to disk, with the depth sweep") {
  const std::string dir = TempDir("longctx_tool_run");
  const nlohmann::json j = RunJson("--tokens 40000 --fill synthetic --kv-dir " + dir + "/kv --sweep --sweep-out " + dir + "/sweep");
  CheckFigures(j, 40000);
  CHECK(j["fill"] == "synthetic");
  CHECK(j["disk_mib"].get<double>() > 40000 * 635.0 / (1 << 20));  // the saved session holds every packed row
  const std::string csv = ReadFile(dir + "/sweep.csv");
  CHECK(csv.rfind("depth,decode_ms,rss_mib\n4096,", 0) == 0);
  CHECK(csv.find("\n16384,") != std::string::npos);
  CHECK(csv.find("\n40000,") != std::string::npos);
  CHECK(ReadFile(dir + "/sweep.svg").find("<polyline") != std::string::npos);
}

TEST_CASE("deepseek-longctx: filled by running the model") {
  const nlohmann::json j = RunJson("--tokens 1500 --fill prefill");
  CheckFigures(j, 1500);
  CHECK(j["fill"] == "prefill");
  CHECK(j["disk_mib"].get<double>() == 0);
}

TEST_CASE("deepseek-longctx: with --ram-mib 0 every page is in the disk tier") {
  const std::string dir = TempDir("longctx_tool_tier");
  const nlohmann::json j = RunJson("--tokens 20000 --fill synthetic --kv-dir " + dir + " --ram-mib 0");
  CheckFigures(j, 20000);
  CHECK(j["kv_ram_mib"].get<double>() == 0);
  CHECK(j["kv_tier_mib"].get<double>() > 20000 * 635.0 / (1 << 20));
  CHECK(j["disk_mib"].get<double>() > 2 * 20000 * 635.0 / (1 << 20));  // the tier and the saved session
  CHECK(std::filesystem::is_empty(dir + "/tier"));                     // its files are unlinked
  CHECK(RunTool(DS_LONGCTX_BIN, "--model " + Model() + " --tokens 10 --ram-mib 5").exit_code == 2);  // needs --kv-dir
}

TEST_CASE("deepseek-longctx: --reuse times a request resumed from a cached prefix against one run cold") {
  const nlohmann::json j = RunJson("--tokens 3000 --reuse");
  CHECK(j["prefix_tokens"] == 3000);
  CHECK(j["ttft_cold_ms"].get<double>() > 0);
  CHECK(j["ttft_reused_ms"].get<double>() > 0);
  // 64 new tokens against 3,064: well under the cold time whatever the machine's load.
  CHECK(j["reuse_ratio"].get<double>() < 0.5);
  CHECK(j["reuse_ratio"].get<double>() == doctest::Approx(j["ttft_reused_ms"].get<double>() / j["ttft_cold_ms"].get<double>()).epsilon(1e-4));
}

TEST_CASE("deepseek-longctx: a budget too small for the request is a clear error") {
  const ToolRun run = RunTool(DS_LONGCTX_BIN, "--model " + Model() + " --tokens 100000 --fill synthetic --budget-mib 2");
  CHECK(run.exit_code == 1);
  CHECK(run.err.find("RESOURCE_EXHAUSTED") != std::string::npos);
  CHECK(RunTool(DS_LONGCTX_BIN, "--tokens 10").exit_code == 2);
}

}  // namespace
}  // namespace deepseek::testing
