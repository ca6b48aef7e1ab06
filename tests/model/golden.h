// Reads a golden run of ../shared/golden/v4 and replays it through the model layer, recording
// what the golden files hold (logits, probe activations, router and indexer choices, caches).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "core/thread_pool.h"
#include "format/safetensors.h"
#include "model/observer.h"
#include "model/state.h"
#include "model/transformer.h"

namespace deepseek::testing {

// A float32 or int32 array of a golden run file, as float.
struct Array {
  std::vector<int64_t> shape;
  std::vector<float> v;
  int64_t rows() const { return shape.empty() ? 0 : shape[0]; }
  int64_t row_size() const { return rows() ? static_cast<int64_t>(v.size()) / rows() : 0; }
  const float* row(int64_t r) const { return v.data() + r * row_size(); }
};

class GoldenRun {
 public:
  GoldenRun(const std::string& case_dir, const std::string& run);
  bool Has(const std::string& name) const { return arrays_.count(name) != 0; }
  const Array& Get(const std::string& name) const;

 private:
  std::map<std::string, Array> arrays_;
};

// Records per-position observations; optionally imposes the golden discrete choices.
class Recorder : public model::ForwardObserver {
 public:
  const GoldenRun* impose = nullptr;  // when set, router ids and index selections come from it
  bool impose_inputs = false;         // with `impose`: single-token calls start each layer from its golden input
  int64_t impose_entries_at = -1;     // with `impose`: compressed entries made at this position are the golden ones
  explicit Recorder(int layers) : n_layers(layers) {}
  const int n_layers;  // main layers; layer n_layers is the MTP block

  std::map<std::string, std::map<int64_t, std::vector<float>>> rows;  // "L1.attn_out" -> pos -> row
  std::map<std::string, std::map<int64_t, std::vector<int32_t>>> picks;  // "L1.router_ids", "L1.index_topk"
  std::map<std::string, std::map<int64_t, std::vector<float>>> scores;  // "L1.index_score"

  std::string Prefix(int layer) const;
  void OnRows(int layer, std::string_view name, int64_t first_pos, int64_t n, int64_t width, const float* data) override;
  void OnRouting(int layer, int64_t pos, std::span<const int32_t> experts, std::span<const float> weights) override;
  void OnIndexer(int layer, int64_t pos, std::span<const float> s, std::span<const int32_t> chosen) override;
  bool ImposeRouting(int layer, int64_t pos, std::span<int32_t> experts) override;
  bool ImposeIndexSelection(int layer, int64_t pos, std::vector<int32_t>& chosen) override;
  void ImposeLayerInput(int layer, int64_t first_pos, int64_t n, int64_t width, float* streams) override;
  void ImposeCompressedEntry(int layer, std::string_view cache, int64_t pos, int64_t index, std::span<float> entry) override;
};

// Replays a golden run's calls (call_start / call_len) with our own chunking: `chunks` splits
// the first call (the prompt); later calls are single tokens. Returns per-call logits and MTP
// logits (the MTP head fed like the reference: after every call, with the next tokens).
struct Replay {
  std::vector<std::vector<float>> logits, mtp_logits;
  std::vector<int64_t> last_pos;  // position of each logits row
  std::vector<float> first_call_streams;  // final streams [n, hc, dim] of every position of call 0
  std::unique_ptr<model::SequenceState> state;
};

// `before_call(i, state)`, when set, runs before our call i (e.g. to impose caches).
Replay RunGolden(const model::Transformer& net, backend::Stream& stream, const GoldenRun& run,
                 const std::vector<int64_t>& chunks, Recorder* recorder,
                 const std::function<void(size_t, model::SequenceState&)>& before_call = {});

// Replaces every layer's caches with the run's final golden caches as they stood before the
// position `pos` was processed: window rows of earlier positions, compressed entries and
// indexer keys of blocks completed before `pos`.
void ImposeGoldenCaches(const GoldenRun& run, const ModelConfig& c, int64_t pos, backend::Stream& stream,
                        model::SequenceState& st);

// max|a − b| / max|b|.
double RelErr(const float* a, const float* b, int64_t n);
int ArgMax(const float* v, int64_t n);
double Top12Gap(const float* v, int64_t n);

}  // namespace deepseek::testing
