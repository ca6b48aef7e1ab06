#include "model/moe.h"

#include <vector>

#include "ops/ops.h"

namespace deepseek::model {

void Moe(const ChunkContext& ctx, int layer, const MoeWeights& w, const float* x, float* out) {
  const ModelConfig& c = ctx.config;
  const int64_t S = ctx.size();
  const int k = c.n_active_experts;
  backend::MoeLayerDesc desc{w.gate,
                                   w.bias,
                                   w.tid2eid,
                                   w.tid2eid ? c.vocab_size : 0,
                                   w.experts,
                                   w.shared,
                                   k,
                                   c.norm_topk_prob,
                                   static_cast<float>(c.route_scale),
                                   static_cast<float>(c.swiglu_limit)};
  if (c.family == ModelFamily::kV41) {  // spec §8.5
    desc.normalize = c.norm_topk_prob && k > 1;
    desc.normalize_epsilon = 1e-20f;
    desc.gate_temp = static_cast<float>(c.gate_temp);
    desc.bias_vl = w.bias_vl;
    desc.image_tokens = ctx.in_image;
  }
  // A strict golden test imposes the reference's experts (all tokens or none).
  std::vector<int32_t> imposed(static_cast<size_t>(S * k));
  bool impose = false;
  for (int64_t t = 0; ctx.observer && t < S; ++t) {
    impose |= ctx.observer->ImposeRouting(layer, ctx.positions[static_cast<size_t>(t)],
                                          std::span(imposed).subspan(static_cast<size_t>(t * k), static_cast<size_t>(k)));
  }
  if (!impose) imposed.clear();
  std::vector<int32_t> experts(static_cast<size_t>(S * k));
  std::vector<float> weights(experts.size());
  ops::MoeLayer(ctx.stream, desc, x, S, c.dim, ctx.tokens, imposed, experts, weights, out);
  for (int64_t t = 0; ctx.observer && t < S; ++t) {
    ctx.observer->OnRouting(layer, ctx.positions[static_cast<size_t>(t)],
                            std::span(experts).subspan(static_cast<size_t>(t * k), static_cast<size_t>(k)),
                            std::span(weights).subspan(static_cast<size_t>(t * k), static_cast<size_t>(k)));
  }
}

}  // namespace deepseek::model
