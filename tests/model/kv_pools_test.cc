// The KV pools' size figures against the spec's packed figures (§6.3, §8.9) for the released
// layer schedules.
#include <doctest/doctest.h>

#include <algorithm>

#include "model/kv_pools.h"

namespace deepseek::model {
namespace {

// The spec's packed figures (§6.3) for the released layer schedules: V4-Flash 21 CSA + 20 HCA
// layers (3,514 bytes per token), V4-Pro 30 + 31 (5,031).
TEST_CASE("kv pools: bytes per token of V4-Flash and V4-Pro are the spec's packed figures") {
  const auto schedule = [](int window_only, int csa, int hca) {
    ModelConfig c;
    c.head_dim = 512;
    c.rope_dim = 64;
    c.index_head_dim = 128;
    c.window = 128;
    c.compress_ratios.assign(static_cast<size_t>(window_only), 0);
    for (int i = 0, left4 = csa, left128 = hca; left4 + left128 > 0; ++i) {  // alternating, CSA first
      const bool four = (i % 2 == 0 && left4 > 0) || left128 == 0;
      c.compress_ratios.push_back(four ? 4 : 128);
      --(four ? left4 : left128);
    }
    c.compress_ratios.push_back(0);  // the MTP layer
    c.n_layers = window_only + csa + hca;
    c.n_mtp_layers = 1;
    return c;
  };
  const ModelConfig flash = schedule(2, 21, 20), pro = schedule(0, 30, 31);
  CHECK(std::count(flash.compress_ratios.begin(), flash.compress_ratios.end(), 4) == 21);
  CHECK(std::count(pro.compress_ratios.begin(), pro.compress_ratios.end(), 128) == 31);
  CHECK(KvBytesPerToken(flash) == doctest::Approx(3514.25));
  CHECK(KvBytesPerToken(pro) == doctest::Approx(5031.4375));
  // A million tokens of V4-Flash: 3.43 GiB of pages, plus the window rings (2 % more).
  const double gib = static_cast<double>(KvSequenceBytes(flash, 1 << 20, false)) / (1 << 30);
  CHECK(gib == doctest::Approx(3.43).epsilon(0.01));
}

// V4.1-Flash (spec §8.7, §8.9): KV sources 2, 8, 14 (ratio 2) and 20 (ratio 1) own NVFP4 latent
// rows (288 bytes) and MXFP4 index keys (68): 890 bytes per token; every layer's window ring
// holds FP8-per-32 rows of 528 bytes. The other compressed layers own nothing.
TEST_CASE("kv pools: V4.1-Flash's caches are the spec's 890 bytes per token") {
  ModelConfig c;
  c.family = ModelFamily::kV41;
  c.head_dim = 512;
  c.rope_dim = 64;
  c.index_head_dim = 128;
  c.window = 128;
  c.n_layers = 40;
  c.compress_ratios = {0, 0};
  c.compress_ratios.insert(c.compress_ratios.end(), 18, 2);
  c.compress_ratios.insert(c.compress_ratios.end(), 20, 1);
  c.kv_source_layers = {2, 8, 14, 20};
  c.index_source_layers = {2, 8, 14, 20, 24, 28, 32, 36};
  CHECK(KvBytesPerToken(c) == doctest::Approx(890));
  // A million tokens: 0.87 GiB of owned pages, plus 40 rings of 128 rows of 528 bytes.
  const uint64_t bytes = KvSequenceBytes(c, 1 << 20, false);
  CHECK(static_cast<double>(bytes - 40 * 128 * 528) / (1 << 30) == doctest::Approx(0.87).epsilon(0.01));
  const std::vector<LayerKv> plan = PlanLayerKv(c);
  CHECK(OwnsCache(plan, 8));
  CHECK_FALSE(OwnsCache(plan, 9));
  CHECK(plan[9].cache_layer == 8);
  CHECK(plan[25].cache_layer == 20);
  CHECK(plan[25].selection_layer == 24);
  CHECK(Selects(plan, 24));
  CHECK_FALSE(plan[24].owns_index_keys);
}

}  // namespace
}  // namespace deepseek::model
