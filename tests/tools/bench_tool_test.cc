// deepseek-bench end to end on the tiny checkpoint: the JSON object has every figure the
// benchmark promises, the figures agree with each other, and the sweep writes its CSV and SVG;
// the operator benchmark's figures likewise.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "support/run_tool.h"
#include "support/shared_data.h"
#include "tinygen/tiny_checkpoint.h"

namespace deepseek::testing {
namespace {

TEST_CASE("deepseek-bench: JSON figures and the depth sweep") {
  const std::string dir = TempDir("bench_tool");
  const std::string model = dir + "/tiny";
  tinygen::WriteTinyCheckpoint(tinygen::TinySpec::FlashTiny(), model);
  const ToolRun run = RunTool(DS_BENCH_BIN, "--model " + model + " --threads 2 --decode 4 --batch 1,3 --batch-out " + dir + "/batch --json --sweep --sweep-max 2048 --sweep-out " + dir + "/sweep");
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  const nlohmann::json j = nlohmann::json::parse(run.out);  // stdout is the JSON object alone
  for (const char* key : {"decode_tok_s", "bytes_per_token", "bandwidth_gbs", "bandwidth_fraction", "prefill_tok_s_512",
                          "prefill_tok_s_2048", "prefill_gflops", "peak_gflops", "peak_fraction", "peak_bf16_gflops",
                          "bf16_peak_fraction", "peak_rss_mb"}) {
    CAPTURE(key);
    REQUIRE(j.contains(key));
    CHECK(j[key].get<double>() > 0);
  }
  CHECK(j["threads"] == 2);
  CHECK_FALSE(j["target"].get<std::string>().empty());
  // The denominator is the largest of the two probes and the fastest format's operators (the
  // tiny model reads too few bytes per format for the last to count: 0).
  REQUIRE(j.contains("bandwidth_gbs_operators"));
  CHECK(j["bandwidth_gbs_operators"].get<double>() >= 0);
  CHECK(j["bandwidth_gbs"].get<double>() == std::max({j["bandwidth_gbs_before"].get<double>(), j["bandwidth_gbs_after"].get<double>(),
                                                      j["bandwidth_gbs_operators"].get<double>()}));
  // Per-format tables for the decode steps and the largest batch's steps.
  CHECK(run.err.find("decode, per weight format") != std::string::npos);
  CHECK(run.err.find("batched decode, batch 3, per weight format") != std::string::npos);
  const double fraction = j["bytes_per_token"].get<double>() * j["decode_tok_s"].get<double>() / 1e9 / j["bandwidth_gbs"].get<double>();
  CHECK(std::fabs(fraction / j["bandwidth_fraction"].get<double>() - 1) < 0.01);
  CHECK(std::fabs(j["prefill_gflops"].get<double>() / j["peak_gflops"].get<double>() / j["peak_fraction"].get<double>() - 1) < 0.01);
  CHECK(std::fabs(j["prefill_gflops"].get<double>() / j["peak_bf16_gflops"].get<double>() / j["bf16_peak_fraction"].get<double>() - 1) < 0.01);

  // Speculative decoding's figures (the tiny model has the MTP layer).
  const double draft = j["mtp_draft_ms"].get<double>(), verify = j["mtp_verify_ms"].get<double>();
  const double f = j["spec_no_draft_fraction"].get<double>();
  CHECK(draft > 0);
  CHECK(verify > 0);
  CHECK(f > 0);  // the tiny model's ratio-4 compressors close a block every 4 positions
  CHECK(f < 1);
  // The ratio is against decode steps of a second session timed between the verify steps;
  // every decode step of the tiny model reads the same bytes (top-2 of equal experts).
  const double decode_ms = verify / j["mtp_verify_step_ratio"].get<double>();
  CHECK(decode_ms == doctest::Approx(j["mtp_decode_ms"].get<double>()).epsilon(1e-3));
  CHECK(j["mtp_decode_bandwidth_fraction"].get<double>() ==
        doctest::Approx(j["bytes_per_token"].get<double>() / (decode_ms / 1000) / 1e9 / j["bandwidth_gbs"].get<double>()).epsilon(1e-3));
  CHECK(j["mtp_verify_bandwidth_fraction"].get<double>() ==
        doctest::Approx(j["mtp_verify_bytes"].get<double>() / (verify / 1000) / 1e9 / j["bandwidth_gbs"].get<double>()).epsilon(1e-3));
  CHECK(run.err.find("decode steps between the verify steps, per weight format") != std::string::npos);
  CHECK(run.err.find("verify steps (2 tokens), per weight format") != std::string::npos);
  for (const auto& [key, p] : {std::pair{"spec_speedup_060", 0.6}, {"spec_speedup_080", 0.8}, {"spec_speedup_090", 0.9}}) {
    CAPTURE(key);
    CHECK(j[key].get<double>() == doctest::Approx(decode_ms / (f * decode_ms + (1 - f) * (draft + verify) / (1 + p))).epsilon(1e-3));
  }
  CHECK(j["spec_speedup_090"].get<double>() > j["spec_speedup_060"].get<double>());

  // Batched decode: aggregate tokens/s and the bandwidth fraction per batch size asked for.
  for (const char* key : {"batch_tok_s", "batch_bandwidth_fraction", "batch_gflop_per_step", "batch_roofline_fraction"}) {
    CAPTURE(key);
    REQUIRE(j[key].is_object());
    CHECK(j[key].size() == 2);
    CHECK(j[key]["1"].get<double>() > 0);
    CHECK(j[key]["3"].get<double>() > 0);
  }
  // The roofline fraction is the larger of the bandwidth fraction and the step's flops at the
  // bf16 peak over its time (batch / tokens per second).
  for (const char* batch : {"1", "3"}) {
    CAPTURE(batch);
    const double step_s = std::stod(batch) / j["batch_tok_s"][batch].get<double>();
    const double compute = j["batch_gflop_per_step"][batch].get<double>() / j["peak_bf16_gflops"].get<double>() / step_s;
    CHECK(j["batch_roofline_fraction"][batch].get<double>() ==
          doctest::Approx(std::max(j["batch_bandwidth_fraction"][batch].get<double>(), compute)).epsilon(1e-3));
  }
  // Three inputs per matrix do three times a step's flops of one (the experts of the union of
  // routes take only their tokens; the tiny model's shared and dense matrices dominate).
  CHECK(j["batch_gflop_per_step"]["3"].get<double>() > 2 * j["batch_gflop_per_step"]["1"].get<double>());
  CHECK(RunTool(DS_BENCH_BIN, "--model " + model + " --batch 0").exit_code == 2);
  const std::string batch_csv = ReadFile(dir + "/batch.csv");
  CHECK(batch_csv.rfind("batch,tok_s,step_ms,bytes_per_step,bandwidth_fraction,flops_per_step,roofline_fraction\n1,", 0) == 0);
  CHECK(batch_csv.find("\n3,") != std::string::npos);
  CHECK(ReadFile(dir + "/batch.svg").find("<polyline") != std::string::npos);

  const std::string csv = ReadFile(dir + "/sweep.csv");
  CHECK(csv.rfind("depth,prefill_tok_s,decode_tok_s\n1024,", 0) == 0);
  CHECK(csv.find("\n2048,") != std::string::npos);
  const std::string svg = ReadFile(dir + "/sweep.svg");
  CHECK(svg.rfind("<svg ", 0) == 0);
  CHECK(svg.find("<polyline") != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("deepseek-bench --op: one operator's rates against the machine's, per format") {
  for (const char* format : {"mxfp4", "fp8", "bf16"}) {
    CAPTURE(format);
    const ToolRun run = RunTool(DS_BENCH_BIN, std::string("--op ") + format + " --rows 256 --cols 512 --n 3 --seconds 0.2 --threads 2 --json");
    INFO(run.err);
    REQUIRE(run.exit_code == 0);
    const nlohmann::json j = nlohmann::json::parse(run.out);
    CHECK(j["op"] == format);
    CHECK(j["rows"] == 256);
    CHECK(j["n"] == 3);
    for (const char* key : {"ms_per_call", "weight_gbs", "bandwidth_gbs", "gflops", "peak_gflops"}) {
      CAPTURE(key);
      CHECK(j[key].get<double>() > 0);
    }
    CHECK(j["bandwidth_fraction"].get<double>() == doctest::Approx(j["weight_gbs"].get<double>() / j["bandwidth_gbs"].get<double>()).epsilon(1e-4));
    CHECK(j["peak_fraction"].get<double>() == doctest::Approx(j["gflops"].get<double>() / j["peak_gflops"].get<double>()).epsilon(1e-4));
    // 2 · n · rows · cols flops per call.
    CHECK(j["gflops"].get<double>() == doctest::Approx(2.0 * 3 * 256 * 512 / j["ms_per_call"].get<double>() / 1e6).epsilon(1e-3));
  }
  CHECK(RunTool(DS_BENCH_BIN, "--op int3").exit_code == 1);                    // a format it does not know
  CHECK(RunTool(DS_BENCH_BIN, "--op mxfp4 --rows 8 --cols 33").exit_code == 1);  // a shape the operator refuses
}

TEST_CASE("deepseek-bench: bad flags print the usage") {
  const ToolRun run = RunTool(DS_BENCH_BIN, "--layers zero");
  CHECK(run.exit_code == 2);
  CHECK(run.err.find("usage: deepseek-bench") != std::string::npos);
}

}  // namespace
}  // namespace deepseek::testing
