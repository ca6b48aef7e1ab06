// V4.1's single-pass mHC (spec §8.3) on the V4.1 goldens: every block from the reference's
// block input and carried pre, with the reference's sublayer outputs fed in, gives its attention
// and FFN inputs, its block output and the pre it carries on.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "core/thread_pool.h"
#include "format/checkpoint.h"
#include "format/safetensors.h"
#include "model/config_parser.h"
#include "model/mhc.h"
#include "model/rope.h"
#include "model/weights.h"
#include "ops/ops.h"
#include "support/golden_arrays.h"
#include "support/shared_data.h"
#include "v41_case.h"

namespace deepseek::model {
namespace {

TEST_CASE("V4.1 mHC: each site collapses with the carried pre and mixes as the reference does") {
  ThreadPool pool(2);
  const auto stream = backend::Registry::Get().Cpu().CreateStream(pool);
  testing::ForEachV41Case([&](const testing::V41Case& golden) {
    const ModelConfig& c = golden.config;
    const format::Checkpoint* ckpt = golden.ckpt.get();
    const format::SafetensorsFile& run = golden.run;
    const std::vector<float> attn_in0 = testing::GoldenArray<float>(run, "L0.attn_in");  // its size gives the positions
    const int64_t D = c.dim, n = c.hc_mult, S = static_cast<int64_t>(attn_in0.size()) / D;
    const std::vector<int32_t> tokens(static_cast<size_t>(S));
    std::vector<int64_t> positions(static_cast<size_t>(S));
    for (int64_t t = 0; t < S; ++t) positions[static_cast<size_t>(t)] = t;
    const RopeTables rope = MakeRopeTables(c);
    ScratchStack scratch;
    const ChunkContext ctx{c, *stream, pool, scratch, nullptr, rope, tokens, positions, {}};
    const float eps = static_cast<float>(c.norm_eps);
    double worst_in = 0, worst_out = 0, worst_pre = 0;
    for (int layer = 1; layer < c.n_layers; ++layer) {
      CAPTURE(layer);
      const BlockMixing w = BindBlockMixing(c, *ckpt, layer);
      const bool engram = std::find(c.engram.layer_ids.begin(), c.engram.layer_ids.end(), layer) != c.engram.layer_ids.end();
      const std::string l = "L" + std::to_string(layer) + ".";
      std::vector<float> streams = testing::GoldenArray<float>(run, engram ? l + "engram_out" : "L" + std::to_string(layer - 1) + ".block_out");
      const std::vector<float> carried = testing::GoldenArray<float>(run, "L" + std::to_string(layer - 1) + ".next_pre_mix");
      std::vector<float> u(static_cast<size_t>(S * D)), x(u.size());

      const MhcMix attn = MhcMixes(ctx, w.hc_attn, streams.data());
      MhcCollapse(ctx, carried, streams.data(), u.data());
      ops::RmsNorm(u.data(), S, D, w.attn_norm.ToFloat().data(), eps, x.data());
      worst_in = std::max(worst_in, testing::WorstRowRelative(x, testing::GoldenArray<float>(run, l + "attn_in"), D));
      MhcPost(ctx, attn, testing::GoldenArray<float>(run, l + "attn_out").data(), streams.data());

      const MhcMix ffn = MhcMixes(ctx, w.hc_ffn, streams.data());
      MhcCollapse(ctx, attn.pre, streams.data(), u.data());
      ops::RmsNorm(u.data(), S, D, w.ffn_norm.ToFloat().data(), eps, x.data());
      worst_in = std::max(worst_in, testing::WorstRowRelative(x, testing::GoldenArray<float>(run, l + "ffn_in"), D));
      MhcPost(ctx, ffn, testing::GoldenArray<float>(run, l + "ffn_out").data(), streams.data());
      worst_out = std::max(worst_out, testing::WorstRowRelative(streams, testing::GoldenArray<float>(run, l + "block_out"), n * D));
      worst_pre = std::max(worst_pre, testing::WorstRowRelative(ffn.pre, testing::GoldenArray<float>(run, l + "next_pre_mix"), n));
    }
    MESSAGE(golden.dir << ": worst of the row max: sublayer inputs " << worst_in << ", block outputs " << worst_out
                 << ", carried pre " << worst_pre);
    // bf16 level, as the golden's own numpy check (block_out <= 6e-4, next_pre_mix <= 3e-5).
    CHECK(worst_in <= 1e-2);
    CHECK(worst_out <= 1e-2);
    CHECK(worst_pre <= 1e-4);
  });
}

}  // namespace
}  // namespace deepseek::model
