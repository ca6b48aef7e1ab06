#include "model/compressor.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "ops/ops.h"

namespace deepseek::model {
namespace {

// Pools the open block into entry e [w]: for each channel, a softmax over the block's rows
// of the gate scores weights the rows' values. With overlap, rows [0, ratio) (previous block)
// contribute their first w channels and rows [ratio, 2·ratio) their last w channels.
void PoolBlock(const CompressorWeights& w, const CompressorState& st, float* e) {
  const int rows = w.coff() * w.ratio, width = w.width, stride = w.coff() * width;
  for (int c = 0; c < width; ++c) {
    float mx = -INFINITY;
    for (int r = 0; r < rows; ++r) {
      const int col = (w.overlap && r >= w.ratio) ? width + c : c;
      mx = std::fmax(mx, st.score[static_cast<size_t>(r * stride + col)]);
    }
    float sum = 0, acc = 0;
    for (int r = 0; r < rows; ++r) {
      const int col = (w.overlap && r >= w.ratio) ? width + c : c;
      const float p = std::exp(st.score[static_cast<size_t>(r * stride + col)] - mx);
      sum += p;
      acc += p * st.kv[static_cast<size_t>(r * stride + col)];
    }
    e[c] = acc / sum;
  }
}

}  // namespace

CompressorInputs ProjectCompressor(const ChunkContext& ctx, const CompressorWeights& w, const float* x) {
  const int64_t S = ctx.size();
  CompressorInputs in;
  in.stride = w.coff() * w.width;
  in.kv.resize(static_cast<size_t>(S * in.stride));
  if (!w.gated()) {  // V4.1's ratio 1: a bf16 projection, as the reference keeps it
    ops::Linear(ctx.stream, w.wkv, x, S, in.kv.data());
    return in;
  }
  in.score.resize(in.kv.size());
  // In fp32, as the reference holds these two weights in fp32.
  ops::MatMulF32(ctx.stream, w.wkv, x, S, in.kv.data());
  ops::MatMulF32(ctx.stream, w.wgate, x, S, in.score.data());
  return in;
}

PooledEntries Pool(const ChunkContext& ctx, const CompressorWeights& w, const CompressorInputs& in, int64_t first,
                   CompressorState& st) {
  const ModelConfig& c = ctx.config;
  const int ratio = w.ratio, width = w.width, stride = w.coff() * width;
  const std::vector<float> norm = w.norm.ToFloat();
  std::vector<float> e(static_cast<size_t>(width));
  PooledEntries out;
  for (int64_t t = 0; t < ctx.size(); ++t) {
    const int64_t pos = ctx.positions[static_cast<size_t>(t)];
    const float* kv = in.kv_row(first + t);
    if (!w.gated()) {
      std::copy_n(kv, width, e.begin());
    } else {
      const int slot = static_cast<int>(pos % ratio);
      const int row = (w.overlap ? ratio : 0) + slot;
      const float* score = in.score_row(first + t);
      for (int i = 0; i < stride; ++i) {
        st.kv[static_cast<size_t>(row * stride + i)] = kv[i];
        st.score[static_cast<size_t>(row * stride + i)] = score[i] + (w.ape.size ? w.ape[slot * stride + i] : 0.0f);
      }
      if ((pos + 1) % ratio != 0) continue;
      PoolBlock(w, st, e.data());
      if (w.overlap) {  // the block just closed becomes the previous block of the next one
        std::copy(st.kv.begin() + ratio * stride, st.kv.end(), st.kv.begin());
        std::copy(st.score.begin() + ratio * stride, st.score.end(), st.score.begin());
      }
      ops::RoundToBf16(e.data(), width);
    }
    out.values.resize(out.values.size() + static_cast<size_t>(width));
    ops::RmsNorm(e.data(), 1, width, norm.data(), static_cast<float>(c.norm_eps), out.values.data() + out.size() * width);
    out.positions.push_back(pos + 1 - ratio);
  }
  return out;
}

void Compress(const ChunkContext& ctx, int layer, const CompressorWeights& w, std::span<const float> freqs, EntryQuant quant,
              const CompressorInputs& in, int64_t first, CompressorState& st, KvTable& out) {
  const ModelConfig& c = ctx.config;
  const int width = w.width;
  PooledEntries pooled = Pool(ctx, w, in, first, st);
  for (int64_t i = 0; i < pooled.size(); ++i) {
    const std::span<float> entry(pooled.values.data() + i * width, static_cast<size_t>(width));
    const int64_t entry_pos = pooled.positions[static_cast<size_t>(i)];
    ops::Rope(entry.data(), 1, width, width - c.rope_dim, c.rope_dim, freqs, {&entry_pos, 1}, 1, false);
    if (quant == EntryQuant::kFp8NonRope) {
      ops::FakeQuantFp8(entry.data(), 1, width, width - c.rope_dim, 64);
    } else {
      ops::Hadamard(entry.data(), 1, width);
      ops::FakeQuantFp4(entry.data(), 1, width, 32);
    }
    if (ctx.observer) {
      ctx.observer->ImposeCompressedEntry(layer, quant == EntryQuant::kFp8NonRope ? "comp_kv" : "index_comp_kv",
                                          entry_pos + w.ratio - 1, out.rows(), entry);
    }
    // The entry is on its format's grid, so the packed row holds it exactly.
    out.Append(ctx.stream, entry.data());
  }
}

}  // namespace deepseek::model
