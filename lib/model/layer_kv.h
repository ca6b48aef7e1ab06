// Which KV caches and selections each layer's attention owns and reads (spec §4.4, §8.2).
// In V4 every compressed layer owns its cache, and a ratio-4 (CSA) layer its indexer and keys.
// In V4.1 (CSA2) only KV-source layers own a compressed cache and its index keys, which the
// later layers of the same ratio read; only index-source layers select entries, and the layers
// after them attend the latest selection.
#pragma once

#include <vector>

#include "deepseek/config.h"

namespace deepseek::model {

struct LayerKv {
  int ratio = 0;             // 0: window only
  int cache_layer = -1;      // the layer whose compressed cache (and index keys) this one reads
  int selection_layer = -1;  // the layer whose selection this one attends; -1 with ratio > 0: all entries (HCA)
  bool owns_index_keys = false;
  bool candidate_source = false;  // V4.1: publishes the candidate blocks
  bool uses_candidates = false;   // V4.1: selects within the candidate source's blocks
};

// One entry per main layer, then one per MTP layer.
std::vector<LayerKv> PlanLayerKv(const ModelConfig& config);

inline bool OwnsCache(const std::vector<LayerKv>& plan, int layer) {
  return plan[static_cast<size_t>(layer)].ratio > 0 && plan[static_cast<size_t>(layer)].cache_layer == layer;
}
inline bool Selects(const std::vector<LayerKv>& plan, int layer) {
  return plan[static_cast<size_t>(layer)].selection_layer == layer;
}

}  // namespace deepseek::model
