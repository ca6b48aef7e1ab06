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
#include "support/shared_data.h"

namespace deepseek::model {
namespace {

std::vector<float> Array(const format::SafetensorsFile& file, const std::string& name) {
  const format::TensorInfo* t = file.Find(name);
  REQUIRE_MESSAGE(t != nullptr, "golden array missing: " << name);
  std::vector<float> out(static_cast<size_t>(t->numel()));
  std::memcpy(out.data(), t->data, t->nbytes);
  return out;
}

// max |a − b| over rows of `width`, relative to each row's max |b|.
double Worst(const std::vector<float>& a, const std::vector<float>& b, int64_t width) {
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (size_t r = 0; r < b.size() / static_cast<size_t>(width); ++r) {
    const auto row = b.begin() + static_cast<std::ptrdiff_t>(r * static_cast<size_t>(width));
    float m = 0;
    for (auto it = row; it != row + width; ++it) m = std::max(m, std::fabs(*it));
    for (int64_t i = 0; i < width; ++i) {
      const size_t k = r * static_cast<size_t>(width) + static_cast<size_t>(i);
      worst = std::max(worst, static_cast<double>(std::fabs(a[k] - b[k]) / std::max(m, 1e-30f)));
    }
  }
  return worst;
}

TEST_CASE("V4.1 mHC: each site collapses with the carried pre and mixes as the reference does") {
  ThreadPool pool(2);
  const auto stream = backend::Registry::Get().Cpu().CreateStream(pool);
  for (const std::string name : {"v41_text", "v41_image"}) {
    CAPTURE(name);
    const std::string dir = testing::SharedDir() + "/golden/v41/" + name;
    const ModelConfig c = LoadConfig(dir + "/ckpt");
    const auto ckpt = format::Checkpoint::Open(dir + "/ckpt");
    const auto run = format::SafetensorsFile::Open(dir + "/main_fixed.safetensors");
    const std::vector<float> attn_in0 = Array(run, "L0.attn_in");  // its size gives the positions
    const int64_t D = c.dim, n = c.hc_mult, S = static_cast<int64_t>(attn_in0.size()) / D;
    const std::vector<int32_t> tokens(static_cast<size_t>(S));
    std::vector<int64_t> positions(static_cast<size_t>(S));
    for (int64_t t = 0; t < S; ++t) positions[static_cast<size_t>(t)] = t;
    const RopeTables rope = MakeRopeTables(c);
    const ChunkContext ctx{c, *stream, nullptr, rope, tokens, positions, {}};
    const float eps = static_cast<float>(c.norm_eps);
    double worst_in = 0, worst_out = 0, worst_pre = 0;
    for (int layer = 1; layer < c.n_layers; ++layer) {
      CAPTURE(layer);
      const BlockMixing w = BindBlockMixing(c, *ckpt, layer);
      const bool engram = std::find(c.engram.layer_ids.begin(), c.engram.layer_ids.end(), layer) != c.engram.layer_ids.end();
      const std::string l = "L" + std::to_string(layer) + ".";
      std::vector<float> streams = Array(run, engram ? l + "engram_out" : "L" + std::to_string(layer - 1) + ".block_out");
      const std::vector<float> carried = Array(run, "L" + std::to_string(layer - 1) + ".next_pre_mix");
      std::vector<float> u(static_cast<size_t>(S * D)), x(u.size());

      const MhcMix attn = MhcMixes(ctx, w.hc_attn, streams.data());
      MhcCollapse(ctx, carried, streams.data(), u.data());
      ops::RmsNorm(u.data(), S, D, w.attn_norm.ToFloat().data(), eps, x.data());
      worst_in = std::max(worst_in, Worst(x, Array(run, l + "attn_in"), D));
      MhcPost(ctx, attn, Array(run, l + "attn_out").data(), streams.data());

      const MhcMix ffn = MhcMixes(ctx, w.hc_ffn, streams.data());
      MhcCollapse(ctx, attn.pre, streams.data(), u.data());
      ops::RmsNorm(u.data(), S, D, w.ffn_norm.ToFloat().data(), eps, x.data());
      worst_in = std::max(worst_in, Worst(x, Array(run, l + "ffn_in"), D));
      MhcPost(ctx, ffn, Array(run, l + "ffn_out").data(), streams.data());
      worst_out = std::max(worst_out, Worst(streams, Array(run, l + "block_out"), n * D));
      worst_pre = std::max(worst_pre, Worst(ffn.pre, Array(run, l + "next_pre_mix"), n));
    }
    MESSAGE(name << ": worst of the row max: sublayer inputs " << worst_in << ", block outputs " << worst_out
                 << ", carried pre " << worst_pre);
    // bf16 level, as the golden's own numpy check (block_out <= 6e-4, next_pre_mix <= 3e-5).
    CHECK(worst_in <= 1e-2);
    CHECK(worst_out <= 1e-2);
    CHECK(worst_pre <= 1e-4);
  }
}

}  // namespace
}  // namespace deepseek::model
