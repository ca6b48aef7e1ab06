#include "model/golden.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace deepseek::testing {

GoldenRun::GoldenRun(const std::string& case_dir, const std::string& run) {
  const auto file = format::SafetensorsFile::Open(case_dir + "/" + run + ".safetensors");
  for (const format::TensorInfo& t : file.tensors()) {
    Array a;
    a.shape = t.shape;
    a.v.resize(static_cast<size_t>(t.numel()));
    if (t.dtype == format::DType::kF32) {
      if (t.nbytes > 0) std::memcpy(a.v.data(), t.data, t.nbytes);  // empty arrays have no data
    } else if (t.dtype == format::DType::kI32) {
      for (size_t i = 0; i < a.v.size(); ++i) {
        int32_t x;
        std::memcpy(&x, t.data + 4 * i, 4);
        a.v[i] = static_cast<float>(x);
      }
    } else {
      FAIL("unexpected dtype in golden array " << t.name);
    }
    arrays_[t.name] = std::move(a);
  }
}

const Array& GoldenRun::Get(const std::string& name) const {
  auto it = arrays_.find(name);
  if (it == arrays_.end()) FAIL("golden array missing: " << name);
  return it->second;
}

std::string Recorder::Prefix(int layer) const { return layer >= n_layers ? "mtp" : "L" + std::to_string(layer); }

void Recorder::OnRows(int layer, std::string_view name, int64_t first_pos, int64_t n, int64_t width, const float* data) {
  auto& m = rows[Prefix(layer) + "." + std::string(name)];
  for (int64_t i = 0; i < n; ++i) m[first_pos + i].assign(data + i * width, data + (i + 1) * width);
}

void Recorder::OnRouting(int layer, int64_t pos, std::span<const int32_t> experts, std::span<const float>) {
  picks[Prefix(layer) + ".router_ids"][pos].assign(experts.begin(), experts.end());
}

void Recorder::OnIndexer(int layer, int64_t pos, std::span<const float> s, std::span<const int32_t> chosen) {
  picks[Prefix(layer) + ".index_topk"][pos].assign(chosen.begin(), chosen.end());
  scores[Prefix(layer) + ".index_score"][pos].assign(s.begin(), s.end());
}

bool Recorder::ImposeRouting(int layer, int64_t pos, std::span<int32_t> experts) {
  if (!impose) return false;
  const Array& ids = impose->Get(Prefix(layer) + ".router_ids");
  for (size_t i = 0; i < experts.size(); ++i) experts[i] = static_cast<int32_t>(ids.row(pos)[i]);
  return true;
}

bool Recorder::ImposeIndexSelection(int layer, int64_t pos, std::vector<int32_t>& chosen) {
  if (!impose) return false;
  const Array& sel = impose->Get(Prefix(layer) + ".index_topk");
  chosen.clear();
  for (int64_t i = 0; i < sel.row_size(); ++i) {
    if (sel.row(pos)[i] >= 0) chosen.push_back(static_cast<int32_t>(sel.row(pos)[i]));
  }
  return true;
}

// The golden caches are the final ones, so they hold every entry the run made.
void Recorder::ImposeCompressedEntry(int layer, std::string_view cache, int64_t pos, int64_t index, std::span<float> entry) {
  if (!impose || pos != impose_entries_at) return;
  const Array& ref = impose->Get(Prefix(layer) + "." + std::string(cache));
  REQUIRE(index < ref.rows());
  REQUIRE(static_cast<size_t>(ref.row_size()) == entry.size());
  std::copy_n(ref.row(index), entry.size(), entry.begin());
}

// The input of layer L at a position is the golden output of layer L − 1 there (for the MTP
// block, the last main layer's output). Only single-token calls are imposed: the golden
// arrays hold probe positions, not whole prompts.
void Recorder::ImposeLayerInput(int layer, int64_t first_pos, int64_t n, int64_t width, float* streams) {
  if (!impose || !impose_inputs || n != 1 || layer == 0) return;
  const Array& probes = impose->Get("probe_pos");
  const Array& prev = impose->Get(Prefix(std::min(layer, n_layers) - 1) + ".hc_out");
  for (int64_t i = 0; i < probes.rows(); ++i) {
    if (static_cast<int64_t>(probes.v[static_cast<size_t>(i)]) != first_pos) continue;
    REQUIRE(prev.row_size() == width);
    std::copy_n(prev.row(i), width, streams);
  }
}

void ImposeGoldenCaches(const GoldenRun& run, const ModelConfig& c, int64_t pos, backend::Stream& stream,
                        model::SequenceState& st) {
  for (int layer = 0; layer < c.n_layers + c.n_mtp_layers; ++layer) {
    const std::string prefix = layer < c.n_layers ? "L" + std::to_string(layer) : "mtp";
    model::LayerState& ls = st.layer(layer);
    const Array& win = run.Get(prefix + ".win_kv");
    for (int64_t p = std::max<int64_t>(0, pos - c.window); p < pos; ++p) {
      ls.window.Write(stream, p % c.window, 1, win.row(p % c.window));
    }
    const int ratio = c.ratio(layer);
    if (ratio == 0) continue;
    // The golden rows are on the packed formats' grids, so the caches hold them exactly.
    const auto replace = [&](const std::string& name, model::KvTable& cache) {
      const Array& ref = run.Get(prefix + "." + name);
      cache.Truncate(0);
      if (pos / ratio == 0) return;
      REQUIRE(ref.row_size() == cache.dim());
      cache.Write(stream, 0, pos / ratio, ref.v.data());
    };
    replace("comp_kv", ls.compressed);
    if (ratio == 4) replace("index_comp_kv", ls.index_keys);
  }
}

Replay RunGolden(const model::Transformer& net, backend::Stream& stream, const GoldenRun& run,
                 const std::vector<int64_t>& chunks, Recorder* recorder,
                 const std::function<void(size_t, model::SequenceState&)>& before_call) {
  const ModelConfig& c = net.config();
  const Array& tokens_f = run.Get("tokens");
  std::vector<int32_t> tokens(tokens_f.v.begin(), tokens_f.v.end());
  const Array& call_len = run.Get("call_len");
  Replay r;
  r.state = std::make_unique<model::SequenceState>(c, model::CreateKvPools(c, backend::Registry::Get().Cpu().CreateKvMemory({})));
  model::SequenceState& st = *r.state;

  std::vector<int64_t> calls = chunks;  // our calls: the prompt chunks, then the decode steps
  for (int64_t i = 1; i < call_len.rows(); ++i) calls.push_back(static_cast<int64_t>(call_len.v[static_cast<size_t>(i)]));
  std::vector<float> streams, logits(static_cast<size_t>(c.vocab_size)), mtp(logits.size());
  ScratchStack scratch;
  ThreadPool host_pool(2);  // the row-wise host work's threads (the stream has its own)
  int64_t pos = 0;
  for (size_t call = 0; call < calls.size(); ++call) {
    const int64_t n = calls[call];
    if (before_call) before_call(call, st);
    const std::span<const int32_t> part(tokens.data() + pos, static_cast<size_t>(n));
    net.Forward(stream, host_pool, scratch, recorder, st, part, streams);
    net.Logits(stream, streams.data() + (n - 1) * c.hc_mult * c.dim, 1, logits.data());
    r.logits.push_back(logits);
    if (call == 0) r.first_call_streams = streams;
    r.last_pos.push_back(pos + n - 1);
    if (c.n_mtp_layers > 0) {
      const std::span<const int32_t> next(tokens.data() + pos + 1, static_cast<size_t>(n));
      net.Mtp(stream, host_pool, scratch, recorder, st, streams, pos, next, mtp.data());
      r.mtp_logits.push_back(mtp);
    }
    pos += n;
  }
  return r;
}

double RelErr(const float* a, const float* b, int64_t n) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < n; ++i) {
    num = std::max(num, static_cast<double>(std::fabs(a[i] - b[i])));
    den = std::max(den, static_cast<double>(std::fabs(b[i])));
  }
  return den > 0 ? num / den : num;
}

int ArgMax(const float* v, int64_t n) { return static_cast<int>(std::max_element(v, v + n) - v); }

double Top12Gap(const float* v, int64_t n) {
  std::vector<float> s(v, v + n);
  std::partial_sort(s.begin(), s.begin() + 2, s.end(), std::greater<float>());
  return s[0] - s[1];
}

}  // namespace deepseek::testing
