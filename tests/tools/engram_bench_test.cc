// deepseek-engram-bench end to end: Engram tables of several GiB (a sparse file) stay on disk —
// the process's resident memory and the shards' resident pages grow only by the touched rows —
// and the bytes read per token are the rows a token looks up.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "support/run_tool.h"

namespace deepseek::testing {
namespace {

TEST_CASE("deepseek-engram-bench: 3 GiB of Engram tables stay on disk, a few rows per token are read") {
  const ToolRun run = RunTool(DS_ENGRAM_BENCH_BIN, "--table-gib 3 --prompt 16 --decode 8 --json");
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  const nlohmann::json j = nlohmann::json::parse(run.out);
  CHECK(j["table_gib"].get<double>() > 2.9);
  CHECK(j["on_disk_mib"].get<double>() < 64);  // holes but the touched rows and the other tensors
  for (const char* run_kind : {"disk", "ram"}) {
    CAPTURE(run_kind);
    const nlohmann::json& r = j[run_kind];
    // v41-tiny: 2 Engram layers × 3 orders × 2 heads rows of 32 FP8 codes and a scale each.
    CHECK(r["engram_bytes_per_token"].get<double>() == doctest::Approx(2 * 3 * 2 * 33));
#ifndef __SANITIZE_ADDRESS__  // AddressSanitizer's quarantine holds freed memory resident
    CHECK(r["rss_growth_mib"].get<double>() < 64);
#endif
    CHECK(r["shards_resident_mib"].get<double>() < 64);
    CHECK(r["decode_ms_per_token"].get<double>() > 0);
  }
}

}  // namespace
}  // namespace deepseek::testing
