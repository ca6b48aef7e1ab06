// The MoE operator with V4.1's routing (spec §8.5: gate_temp, the 1e-20 in the renormalisation,
// the image-span bias) on the V4.1 goldens: from each layer's reference input, the reference's
// experts, weights and output.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "core/thread_pool.h"
#include "format/checkpoint.h"
#include "format/safetensors.h"
#include "model/config_parser.h"
#include "model/weights.h"
#include "support/golden_arrays.h"
#include "support/shared_data.h"
#include "v41_case.h"

namespace deepseek::model {
namespace {

TEST_CASE("V4.1 MoE: every layer's experts, weights and output from the reference's input") {
  ThreadPool pool(2);
  const auto stream = backend::Registry::Get().Cpu().CreateStream(pool);
  testing::ForEachV41Case([&](const testing::V41Case& golden) {
    const ModelConfig& c = golden.config;
    const format::Checkpoint* ckpt = golden.ckpt.get();
    const format::SafetensorsFile& run = golden.run;
    const std::vector<int32_t> tokens = testing::GoldenArray<int32_t>(run, "tokens");
    const auto n = static_cast<int64_t>(tokens.size());
    std::vector<uint8_t> image(tokens.size());
    for (size_t t = 0; t < tokens.size(); ++t) image[t] = tokens[t] == c.image_token_id;
    const int k = c.n_active_experts;
    int64_t routes = 0, same_routes = 0;
    double worst = 0;
    for (int layer = 0; layer < c.n_layers; ++layer) {
      CAPTURE(layer);
      const MoeWeights w = BindMoeLayer(c, *ckpt, layer);
      CHECK(w.bias_vl.size() == (c.vision.n_layers > 0 ? static_cast<size_t>(c.n_experts) : 0));
      backend::MoeLayerDesc desc{w.gate, w.bias, nullptr, 0, w.experts, w.shared, k, c.norm_topk_prob && k > 1,
                                 static_cast<float>(c.route_scale), static_cast<float>(c.swiglu_limit)};
      desc.gate_temp = static_cast<float>(c.gate_temp);
      desc.normalize_epsilon = 1e-20f;
      desc.bias_vl = w.bias_vl;
      desc.image_tokens = image;
      const std::string l = "L" + std::to_string(layer) + ".";
      const std::vector<float> x = testing::GoldenArray<float>(run, l + "ffn_in"), want = testing::GoldenArray<float>(run, l + "ffn_out");
      const std::vector<int32_t> want_ids = testing::GoldenArray<int32_t>(run, l + "router_ids");
      const std::vector<float> want_w = testing::GoldenArray<float>(run, l + "router_w");
      std::vector<int32_t> ids(static_cast<size_t>(n * k));
      std::vector<float> weights(ids.size()), out(x.size());
      stream->MoeLayer(desc, x.data(), n, c.dim, tokens, {}, ids, weights, out.data());
      for (int64_t t = 0; t < n; ++t) {
        for (int i = 0; i < k; ++i) {  // the same experts (in any order) with the same weights
          const auto r = static_cast<size_t>(t * k + i);
          const auto at = std::find(want_ids.begin() + t * k, want_ids.begin() + (t + 1) * k, ids[r]);
          ++routes;
          if (at == want_ids.begin() + (t + 1) * k) continue;
          ++same_routes;
          CHECK(std::fabs(weights[r] - want_w[static_cast<size_t>(at - want_ids.begin())]) <= 1e-5f * std::fabs(want_w[static_cast<size_t>(at - want_ids.begin())]) + 1e-7f);
        }
        float row_max = 0, diff = 0;
        for (int64_t d = 0; d < c.dim; ++d) {
          const auto i = static_cast<size_t>(t * c.dim + d);
          row_max = std::max(row_max, std::fabs(want[i]));
          diff = std::max(diff, std::fabs(out[i] - want[i]));
        }
        worst = std::max(worst, static_cast<double>(diff / row_max));
      }
    }
    MESSAGE(golden.dir << ": " << same_routes << " of " << routes << " routes the reference's; output worst " << worst << " of the row max");
    CHECK(same_routes == routes);  // the golden's numpy check: router ids identical
    CHECK(worst <= 1e-2);          // the README's strict rule (its numpy check: 0.2 %)
  });
}

}  // namespace
}  // namespace deepseek::model
