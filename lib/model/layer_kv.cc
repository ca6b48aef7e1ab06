#include "model/layer_kv.h"

#include <algorithm>

namespace deepseek::model {
namespace {

// The last entry of `layers` at or before `layer`, or -1.
int LatestAtOrBefore(const std::vector<int>& layers, int layer) {
  int found = -1;
  for (int l : layers) {
    if (l <= layer) found = std::max(found, l);
  }
  return found;
}

}  // namespace

std::vector<LayerKv> PlanLayerKv(const ModelConfig& c) {
  std::vector<LayerKv> plan(static_cast<size_t>(c.n_layers + c.n_mtp_layers));
  for (int l = 0; l < c.n_layers + c.n_mtp_layers; ++l) {
    LayerKv& k = plan[static_cast<size_t>(l)];
    k.ratio = c.ratio(l);
    if (k.ratio == 0) continue;
    if (c.family == ModelFamily::kV4 || l >= c.n_layers) {
      k.cache_layer = l;
      k.selection_layer = k.ratio == 4 ? l : -1;
      k.owns_index_keys = k.ratio == 4;
      continue;
    }
    k.cache_layer = LatestAtOrBefore(c.kv_source_layers, l);
    k.selection_layer = LatestAtOrBefore(c.index_source_layers, l);
    k.owns_index_keys = k.cache_layer == l;
    k.candidate_source = c.candidate_source_layer == l;
    k.uses_candidates = c.candidate_source_layer >= 0 && c.candidate_source_layer < l && k.selection_layer == l;
  }
  return plan;
}

}  // namespace deepseek::model
