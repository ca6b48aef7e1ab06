// An optional window into the forward pass, for golden tests and debugging: it sees named
// intermediates per layer and may impose routing and indexer selections (the "strict" golden
// checks replay the reference's discrete choices so continuous outputs can be compared).
// Layer numbers: main layers 0..n_layers-1, MTP layer i is n_layers + i. Free when unset.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace deepseek::model {

class ForwardObserver {
 public:
  virtual ~ForwardObserver() = default;

  // Rows of a per-position tensor: "attn_in", "attn_out", "ffn_in", "ffn_out" ([n, dim]),
  // "hc_out" and V4.1's "engram_out" ([n, hc·dim]) and "next_pre" ([n, hc]: the pre a V4.1
  // block carries on) for positions first_pos .. first_pos + n − 1.
  virtual void OnRows(int layer, std::string_view name, int64_t first_pos, int64_t n, int64_t width,
                      const float* data) {}
  // mHC mixing of one position at a site ("attn" / "ffn"): pre[n], post[n], comb[n·n].
  virtual void OnMhc(int layer, std::string_view site, int64_t pos, std::span<const float> pre,
                     std::span<const float> post, std::span<const float> comb) {}
  virtual void OnRouting(int layer, int64_t pos, std::span<const int32_t> experts, std::span<const float> weights) {}
  // Indexer scores of the visible compressed entries and the chosen ones.
  virtual void OnIndexer(int layer, int64_t pos, std::span<const float> scores, std::span<const int32_t> chosen) {}

  // Test hooks: return true after writing the experts to use (size = experts per token).
  virtual bool ImposeRouting(int layer, int64_t pos, std::span<int32_t> experts) { return false; }
  // Return true after replacing `chosen` with the compressed entries to attend.
  virtual bool ImposeIndexSelection(int layer, int64_t pos, std::vector<int32_t>& chosen) { return false; }
  // May overwrite a compressed entry just made at position `pos` (cache "comp_kv" or
  // "index_comp_kv", entry `index`) before anything reads it: a strict check's last step then
  // attends over the reference's entry although earlier steps of its block ran on our inputs.
  virtual void ImposeCompressedEntry(int layer, std::string_view cache, int64_t pos, int64_t index, std::span<float> entry) {}
  // May overwrite the input streams [n, hc·dim] of `layer` for positions first_pos.. (for the
  // MTP layer: the main model's final streams it starts from), so each layer can be checked on
  // the reference's own inputs.
  virtual void ImposeLayerInput(int layer, int64_t first_pos, int64_t n, int64_t width, float* streams) {}
  // V4.1: may overwrite the pre [n, hc] carried into `layer`'s attention site (the previous
  // block's FFN-site pre), called right after ImposeLayerInput.
  virtual void ImposeCarriedPre(int layer, int64_t first_pos, int64_t n, int hc, float* pre) {}
};

}  // namespace deepseek::model
