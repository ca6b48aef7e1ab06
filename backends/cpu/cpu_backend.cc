// The CPU device and its stream: argument validation, then one dispatched kernel per operator
// call. The stream runs synchronously on the ThreadPool it was created with.
#include "backends/cpu/cpu_backend.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "backends/cpu/indexer_scores.h"
#include "backends/cpu/kv_memory.h"
#include "backends/cpu/kv_ops.h"
#include "backends/cpu/matmul.h"
#include "backends/cpu/moe_layer.h"
#include "backends/cpu/vision_encoder.h"
#include "core/error.h"
#include "core/thread_pool.h"

namespace deepseek::backend::cpu {
namespace {

constexpr int64_t kFloatBytes = sizeof(float);

[[noreturn]] void InvalidArgument(const std::string& what) {
  Fail(StatusCode::kInvalidArgument, what);
}

// Whether the byte ranges [a, a + a_bytes) and [b, b + b_bytes) share any byte.
bool Overlap(const void* a, int64_t a_bytes, const void* b, int64_t b_bytes) {
  const auto pa = reinterpret_cast<uintptr_t>(a), pb = reinterpret_cast<uintptr_t>(b);
  return pa < pb + static_cast<uintptr_t>(b_bytes) && pb < pa + static_cast<uintptr_t>(a_bytes);
}

class CpuStream final : public Stream {
 public:
  explicit CpuStream(ThreadPool& pool) : pool_(pool) {}

  void MatMul(const WeightMatrix& w, const float* x, int64_t n, float* y) override {
    if (n < 0 || w.rows < 0 || w.cols < 0) {
      InvalidArgument("MatMul: negative size: n " + std::to_string(n) + ", W [" +
                      std::to_string(w.rows) + ", " + std::to_string(w.cols) + "]");
    }
    if (n == 0 || w.rows == 0) return;
    if (x == nullptr || y == nullptr) InvalidArgument("MatMul: null input or output");
    if (Overlap(x, n * w.cols * kFloatBytes, y, n * w.rows * kFloatBytes))
      InvalidArgument("MatMul: input and output overlap");
    if (w.cols == 0) {
      std::fill(y, y + n * w.rows, 0.0f);
      return;
    }
    if (w.data == nullptr) InvalidArgument("MatMul: null weight data");
    const auto start = std::chrono::steady_clock::now();
    cpu::MatMul(w, x, n, y, pool_);
    stats_.Add(w, n, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }

  void SparseAttention(const float* q, int64_t n, int heads, int dim, const AttentionKv& kv,
                       std::span<const int64_t> offsets, std::span<const int32_t> indices, const float* sink,
                       float scale, float* out) override {
    if (n < 0 || heads <= 0 || dim <= 0) {
      InvalidArgument("SparseAttention: bad shape: n " + std::to_string(n) + ", heads " +
                      std::to_string(heads) + ", dim " + std::to_string(dim));
    }
    if (offsets.size() != static_cast<size_t>(n) + 1 || offsets.front() != 0 ||
        offsets.back() != static_cast<int64_t>(indices.size()) || !std::is_sorted(offsets.begin(), offsets.end())) {
      InvalidArgument("SparseAttention: offsets must rise from 0 to the " + std::to_string(indices.size()) +
                      " indices in " + std::to_string(n) + " + 1 entries");
    }
    if (n == 0) return;
    if (q == nullptr || sink == nullptr || out == nullptr) {
      InvalidArgument("SparseAttention: null query, sink or output");
    }
    if (kv.fresh_rows < 0 || (kv.fresh_rows > 0 && kv.fresh == nullptr)) InvalidArgument("SparseAttention: bad fresh rows");
    // The caches' memories, checked once (every page of their tables) for the whole call.
    const auto memory_of = [&](const KvRows& rows) -> const CpuKvMemory* {
      if (rows.rows == 0) return nullptr;
      const CpuKvMemory& memory = CpuMemoryOf(rows, "SparseAttention");
      if (memory.pool(rows.pool).row.dim != dim) InvalidArgument("SparseAttention: cache rows are not " + std::to_string(dim) + " wide");
      return &memory;
    };
    const CpuKvMemory* window = memory_of(kv.window);
    const CpuKvMemory* compressed = memory_of(kv.compressed);
    const int64_t space = kv.fresh_rows + kv.window.rows + kv.compressed.rows;
    for (int32_t idx : indices) {
      if (idx < 0 || idx >= space) {
        InvalidArgument("SparseAttention: row index " + std::to_string(idx) + " outside [0, " + std::to_string(space) + ")");
      }
    }
    AttendIndexed(q, n, heads, dim, kv, window, compressed, offsets, indices, sink, scale, out, attention_scratch_, pool_);
  }

  void KvWrite(const KvRows& dst, int64_t first, int64_t n, const float* values) override {
    CpuKvMemory& memory = CpuMemoryOf(dst, "KvWrite");
    const int64_t rpp = memory.pool(dst.pool).rows_per_page;
    if (first < 0 || n < 0 || first + n > static_cast<int64_t>(dst.pages.size()) * rpp) {
      InvalidArgument("KvWrite: rows [" + std::to_string(first) + ", " + std::to_string(first + n) +
                      ") outside the table's " + std::to_string(dst.pages.size()) + " pages");
    }
    if (n == 0) return;
    if (values == nullptr) InvalidArgument("KvWrite: null values");
    for (int64_t page = first / rpp; page <= (first + n - 1) / rpp; ++page) {
      if (memory.Shared(dst.pool, dst.pages[static_cast<size_t>(page)])) {
        Fail(StatusCode::kFailedPrecondition, "KvWrite: page " + std::to_string(dst.pages[static_cast<size_t>(page)]) +
                                                  " of pool '" + memory.pool(dst.pool).name + "' is shared");
      }
    }
    KvWriteRows(memory, dst, first, n, values, pool_);
  }

  void KvGather(const KvRows& src, std::span<const int64_t> rows, float* out) override {
    CpuKvMemory& memory = CpuMemoryOf(src, "KvGather");
    for (int64_t r : rows) {
      if (r < 0 || r >= src.rows) {
        InvalidArgument("KvGather: row " + std::to_string(r) + " outside [0, " + std::to_string(src.rows) + ")");
      }
    }
    if (rows.empty()) return;
    if (out == nullptr) InvalidArgument("KvGather: null output");
    KvGatherRows(memory, src, rows, out, pool_);
  }

  void IndexerScores(const float* q, const float* w, int64_t n, int heads, const KvRows& keys,
                     std::span<const int64_t> visible, float* scores, int64_t stride) override {
    if (n < 0 || heads <= 0 || visible.size() != static_cast<size_t>(n)) {
      InvalidArgument("IndexerScores: bad shape: n " + std::to_string(n) + ", heads " + std::to_string(heads) + ", " +
                      std::to_string(visible.size()) + " visible counts");
    }
    if (n == 0) return;
    if (q == nullptr || w == nullptr || scores == nullptr) InvalidArgument("IndexerScores: null query, weights or scores");
    const CpuKvMemory& memory = CpuMemoryOf(keys, "IndexerScores");
    if (memory.pool(keys.pool).row.format != KvRowFormat::kMxfp4) InvalidArgument("IndexerScores: the keys are not MXFP4 rows");
    for (int64_t v : visible) {
      if (v < 0 || v > keys.rows || v > stride) {
        InvalidArgument("IndexerScores: " + std::to_string(v) + " visible keys of " + std::to_string(keys.rows) +
                        " (row stride " + std::to_string(stride) + ")");
      }
    }
    const auto start = std::chrono::steady_clock::now();
    IndexerScoresF32(q, w, n, heads, memory, keys, visible, scores, stride, pool_);
    StreamStats::Indexer& s = stats_.indexer;
    s.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const auto per_key = static_cast<uint64_t>(heads) * static_cast<uint64_t>(memory.pool(keys.pool).row.dim);
    for (int64_t v : visible) s.macs += static_cast<uint64_t>(v) * per_key;
    s.calls += 1;
  }

  void MoeLayer(const MoeLayerDesc& layer, const float* x, int64_t S, int64_t D, std::span<const int32_t> tokens,
                std::span<const int32_t> imposed, std::span<int32_t> experts, std::span<float> weights,
                float* out) override {
    const int64_t E = layer.router.rows;
    const auto routes = static_cast<size_t>(std::max<int64_t>(S, 0) * layer.k);
    if (S < 0 || D <= 0 || layer.router.cols != D || layer.k <= 0 || layer.k > E ||
        layer.experts.size() != static_cast<size_t>(E)) {
      InvalidArgument("MoeLayer: bad shape: S " + std::to_string(S) + ", D " + std::to_string(D) + ", router [" +
                      std::to_string(E) + ", " + std::to_string(layer.router.cols) + "], k " + std::to_string(layer.k) +
                      ", " + std::to_string(layer.experts.size()) + " experts");
    }
    if (experts.size() != routes || weights.size() != routes || (!imposed.empty() && imposed.size() != routes)) {
      InvalidArgument("MoeLayer: the routes need " + std::to_string(routes) + " entries");
    }
    if (layer.hash_routes == nullptr && layer.bias.size() != static_cast<size_t>(E) && imposed.empty()) {
      InvalidArgument("MoeLayer: a score-routed layer needs a bias per expert");
    }
    if ((!layer.bias_vl.empty() && layer.bias_vl.size() != static_cast<size_t>(E)) ||
        (!layer.image_tokens.empty() && layer.image_tokens.size() != static_cast<size_t>(S))) {
      InvalidArgument("MoeLayer: bias_vl needs one value per expert and image_tokens one flag per token");
    }
    if (!(layer.gate_temp > 0) || !std::isfinite(layer.gate_temp)) InvalidArgument("MoeLayer: gate_temp must be positive");
    const auto check_expert = [&](const ExpertMatrices& m, const std::string& name) {
      const int64_t inter = m.w1.rows;
      if (m.w1.cols != D || m.w3.rows != inter || m.w3.cols != D || m.w3.format != m.w1.format || m.w2.rows != D ||
          m.w2.cols != inter || inter <= 0) {
        InvalidArgument("MoeLayer: " + name + ": W1 [" + std::to_string(inter) + ", " + std::to_string(m.w1.cols) +
                        "], W3 [" + std::to_string(m.w3.rows) + ", " + std::to_string(m.w3.cols) + "], W2 [" +
                        std::to_string(m.w2.rows) + ", " + std::to_string(m.w2.cols) + "] do not fit D " +
                        std::to_string(D) + " (W1 and W3 of one format)");
      }
      if (m.w1.data == nullptr || m.w2.data == nullptr || m.w3.data == nullptr) InvalidArgument("MoeLayer: " + name + ": null weight data");
    };
    for (size_t e = 0; e < layer.experts.size(); ++e) check_expert(layer.experts[e], "expert " + std::to_string(e));
    check_expert(layer.shared, "the shared expert");
    if (layer.router.data == nullptr) InvalidArgument("MoeLayer: null router weights");
    if (S == 0) return;
    if (x == nullptr || out == nullptr) InvalidArgument("MoeLayer: null input or output");
    if (Overlap(x, S * D * kFloatBytes, out, S * D * kFloatBytes)) InvalidArgument("MoeLayer: input and output overlap");
    for (int32_t e : imposed) {
      if (e < 0 || e >= E) InvalidArgument("MoeLayer: imposed expert " + std::to_string(e) + " outside [0, " + std::to_string(E) + ")");
    }
    if (layer.hash_routes != nullptr && imposed.empty()) {
      if (tokens.size() != static_cast<size_t>(S)) InvalidArgument("MoeLayer: a hash-routed layer needs the token ids");
      for (int32_t t : tokens) {
        if (t < 0 || t >= layer.vocab) InvalidArgument("MoeLayer: token id " + std::to_string(t) + " outside the hash table");
      }
    }
    RunMoeLayer(layer, x, S, D, tokens, imposed, experts, weights, out, pool_, scratch_, stats_);
  }

  ThreadPool& pool() { return pool_; }

 private:
  ThreadPool& pool_;
  ScratchStack scratch_;  // the MoE layer's intermediates
  AttentionScratch attention_scratch_;
};

}  // namespace

bool CpuDevice::SupportsOp(Op op, WeightFormat format) const {
  switch (op) {
    case Op::kMatMul:
      switch (format) {
        case WeightFormat::kF32:
        case WeightFormat::kBF16:
        case WeightFormat::kFp8Block128:
        case WeightFormat::kFp8Block32:
        case WeightFormat::kMxfp4:
          return true;
      }
      return false;
    case Op::kSparseAttention:
    case Op::kKvWrite:
    case Op::kKvGather:
    case Op::kIndexerScores:
    case Op::kMoeLayer:
      return true;
  }
  return false;
}

ThreadPool& StreamPool(Stream& stream) {
  auto* cpu = dynamic_cast<CpuStream*>(&stream);
  if (!cpu) InvalidArgument("a CPU backend object was given another device's stream");
  return cpu->pool();
}

std::unique_ptr<Stream> CpuDevice::CreateStream(ThreadPool& pool) {
  return std::make_unique<CpuStream>(pool);
}

std::shared_ptr<KvMemory> CpuDevice::CreateKvMemory(const KvMemoryOptions& options) {
  return std::make_shared<CpuKvMemory>(options);
}

std::unique_ptr<Encoder> CpuDevice::CreateVisionEncoder(const VisionEncoderDesc& desc) {
  return std::make_unique<CpuVisionEncoder>(desc);
}

}  // namespace deepseek::backend::cpu
