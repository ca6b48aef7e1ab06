#include "model/weights.h"

#include <algorithm>
#include <cstring>
#include <tuple>
#include <utility>
#include <string>

#include "core/error.h"
#include "core/mapped_file.h"
#include "core/numerics.h"
#include "core/unaligned.h"
#include "model/layer_kv.h"

namespace deepseek::model {
namespace {

using format::DType;
using backend::WeightFormat;

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }


// Looks tensors up by name with their expected dtype and shape; the one place where the
// checkpoint's encodings are mapped onto WeightMatrix / WeightVector.
class Binder {
 public:
  // fp8_block: the square block of the dense FP8 tensors' scales (128 in V4, 32 in V4.1).
  Binder(const format::Checkpoint& ckpt, std::string prefix, int fp8_block)
      : ckpt_(ckpt), prefix_(std::move(prefix)), fp8_block_(fp8_block) {}

  Binder Sub(const std::string& part) const { return Binder(ckpt_, prefix_ + part + ".", fp8_block_); }

  // FP8 e4m3 [rows, cols] with e8m0 scales per fp8_block × fp8_block block.
  WeightMatrix Fp8(const std::string& name, int64_t rows, int64_t cols) const {
    const auto& w = ckpt_.Require(prefix_ + name + ".weight", DType::kF8E4M3, {rows, cols});
    const auto& s = ckpt_.Require(prefix_ + name + ".scale", DType::kF8E8M0, {CeilDiv(rows, fp8_block_), CeilDiv(cols, fp8_block_)});
    CheckScales(s);
    return {fp8_block_ == 32 ? WeightFormat::kFp8Block32 : WeightFormat::kFp8Block128, rows, cols, w.data, s.data};
  }

  // FP8 rows [rows, cols] with an e8m0 scale per 32 values of a row (the Engram table). Its
  // scales are checked per row when a row is read: scanning them here would read the whole
  // table's scales (a GiB in V4.1-Flash) into memory.
  std::pair<const uint8_t*, const uint8_t*> Fp8Rows(const std::string& name, int64_t rows, int64_t cols) const {
    const auto& w = ckpt_.Require(prefix_ + name + ".weight", DType::kF8E4M3, {rows, cols});
    const auto& s = ckpt_.Require(prefix_ + name + ".scale", DType::kF8E8M0, {rows, cols / 32});
    return {w.data, s.data};
  }

  // A routed expert's matrix: MXFP4 (I8 pairs + per-32 scales) or, in FP8 checkpoints, FP8.
  WeightMatrix Expert(const std::string& name, int64_t rows, int64_t cols) const {
    const format::TensorInfo* w = ckpt_.Find(prefix_ + name + ".weight");
    if (w && w->dtype == DType::kF8E4M3) return Fp8(name, rows, cols);
    const auto& packed = ckpt_.Require(prefix_ + name + ".weight", DType::kI8, {rows, cols / 2});
    const auto& s = ckpt_.Require(prefix_ + name + ".scale", DType::kF8E8M0, {rows, cols / 32});
    CheckScales(s);
    return {WeightFormat::kMxfp4, rows, cols, packed.data, s.data};
  }

  // FP8 as Fp8 binds it, or BF16 where a converter stored it dequantised (name + ".weight").
  WeightMatrix Fp8OrBf16(const std::string& name, int64_t rows, int64_t cols) const {
    const format::TensorInfo* w = ckpt_.Find(prefix_ + name + ".weight");
    if (w && w->dtype == DType::kBF16) return Bf16Matrix(name + ".weight", rows, cols);
    return Fp8(name, rows, cols);
  }

  WeightMatrix Bf16Matrix(const std::string& name, int64_t rows, int64_t cols) const {
    const auto& w = ckpt_.Require(prefix_ + name, DType::kBF16, {rows, cols});
    return {WeightFormat::kBF16, rows, cols, w.data, nullptr};
  }

  WeightMatrix F32Matrix(const std::string& name, int64_t rows, int64_t cols) const {
    const auto& w = ckpt_.Require(prefix_ + name, DType::kF32, {rows, cols});
    return {WeightFormat::kF32, rows, cols, w.data, nullptr};
  }

  WeightVector Bf16(const std::string& name, int64_t n) const {
    return {ckpt_.Require(prefix_ + name, DType::kBF16, {n}).data, n, true};
  }

  // A BF16 [rows, cols] tensor read as one vector of rows · cols values.
  WeightVector Bf16Array(const std::string& name, int64_t rows, int64_t cols) const {
    return {ckpt_.Require(prefix_ + name, DType::kBF16, {rows, cols}).data, rows * cols, true};
  }

  WeightVector F32(const std::string& name, std::vector<int64_t> shape) const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return {ckpt_.Require(prefix_ + name, DType::kF32, shape).data, n, false};
  }

  const void* I64(const std::string& name, int64_t rows, int64_t cols) const {
    return ckpt_.Require(prefix_ + name, DType::kI64, {rows, cols}).data;
  }

  bool Has(const std::string& name) const { return ckpt_.Find(prefix_ + name) != nullptr; }

 private:
  // e8m0 code 0xff is NaN: a checkpoint holding one is malformed (spec §5.3).
  static void CheckScales(const format::TensorInfo& s) {
    for (size_t i = 0; i < s.nbytes; ++i) {
      if (num::E8m0IsNan(s.data[i])) {
        Fail(StatusCode::kCorruptFile, "tensor '" + s.name + "' in " + *s.file + ": NaN scale code 0xff at element " + std::to_string(i));
      }
    }
  }

  const format::Checkpoint& ckpt_;
  std::string prefix_;
  int fp8_block_;
};

MhcWeights BindMhc(const Binder& b, const std::string& site, const ModelConfig& c) {
  const int64_t n = c.hc_mult, mix = (2 + n) * n;
  return {b.F32Matrix("hc_" + site + "_fn", mix, n * c.dim), b.F32("hc_" + site + "_base", {mix}),
          b.F32("hc_" + site + "_scale", {3})};
}

MhcHeadWeights BindMhcHead(const Binder& b, const ModelConfig& c) {
  const int64_t n = c.hc_mult;
  return {b.F32Matrix("hc_head_fn", n, n * c.dim), b.F32("hc_head_base", {n}), b.F32("hc_head_scale", {1})};
}

CompressorWeights BindCompressor(const Binder& b, int ratio, int width, const ModelConfig& c) {
  CompressorWeights w;
  w.ratio = ratio;
  w.width = width;
  w.overlap = ratio == 4;  // the reference overlaps windows exactly when the ratio is 4
  const int64_t out = static_cast<int64_t>(w.coff()) * width;
  w.wkv = b.Bf16Matrix("wkv.weight", out, c.dim);
  w.wgate = b.Bf16Matrix("wgate.weight", out, c.dim);
  w.ape = b.F32("ape", {ratio, out});
  w.norm = b.Bf16("norm.weight", width);
  return w;
}

// V4.1's compressor (spec §8.2): no APE and no overlap; ratio 1 has no gate either.
CompressorWeights BindCompressorV41(const Binder& b, int ratio, const ModelConfig& c) {
  CompressorWeights w;
  w.ratio = ratio;
  w.width = c.head_dim;
  w.wkv = b.Bf16Matrix("wkv.weight", c.head_dim, c.dim);
  if (ratio > 1) w.wgate = b.Bf16Matrix("wgate.weight", c.head_dim, c.dim);
  w.norm = b.Bf16("norm.weight", c.head_dim);
  return w;
}

AttentionWeights BindAttention(const Binder& b, int layer, const LayerKv& kv, const ModelConfig& c) {
  AttentionWeights w;
  const int64_t hd = static_cast<int64_t>(c.n_heads) * c.head_dim;
  w.sink = b.F32("attn_sink", {c.n_heads});
  w.wq_a = b.Fp8("wq_a", c.q_lora_rank, c.dim);
  w.q_norm = b.Bf16("q_norm.weight", c.q_lora_rank);
  w.wq_b = b.Fp8("wq_b", hd, c.q_lora_rank);
  w.wkv = b.Fp8("wkv", c.head_dim, c.dim);
  w.kv_norm = b.Bf16("kv_norm.weight", c.head_dim);
  // The reference computes wo_a as a bf16 einsum and notes that convert.py dequantises it;
  // the goldens store it FP8. Either is taken.
  w.wo_a = b.Fp8OrBf16("wo_a", static_cast<int64_t>(c.o_groups) * c.o_lora_rank, hd / c.o_groups);
  if (w.wo_a.format != WeightFormat::kBF16 && c.o_lora_rank % c.fp8_block != 0) {
    Fail(StatusCode::kUnsupported, "o_lora_rank must be a multiple of " + std::to_string(c.fp8_block) +
                                       ": each output group slices FP8 wo_a at its scale blocks");
  }
  w.wo_b = b.Fp8("wo_b", c.dim, static_cast<int64_t>(c.o_groups) * c.o_lora_rank);
  const Binder ib = b.Sub("indexer");
  if (kv.ratio > 0 && kv.cache_layer == layer) {
    w.has_compressor = true;
    if (c.family == ModelFamily::kV41) {
      w.compressor = BindCompressorV41(b.Sub("compressor"), kv.ratio, c);
      w.has_index_keys = true;
      w.index_keys = {ib.Bf16Matrix("wk.weight", c.index_head_dim, c.head_dim), ib.Bf16("k_norm.weight", c.index_head_dim)};
    } else {
      w.compressor = BindCompressor(b.Sub("compressor"), kv.ratio, c.head_dim, c);
    }
  }
  if (kv.selection_layer == layer) {
    w.has_indexer = true;
    w.indexer.wq_b = ib.Fp8("wq_b", static_cast<int64_t>(c.index_heads) * c.index_head_dim, c.q_lora_rank);
    w.indexer.weights_proj = ib.Bf16Matrix("weights_proj.weight", c.index_heads, c.dim);
    if (c.family == ModelFamily::kV4) w.indexer.compressor = BindCompressor(ib.Sub("compressor"), kv.ratio, c.index_head_dim, c);
  }
  return w;
}

ExpertWeights BindExpert(const Binder& b, const ModelConfig& c, bool routed) {
  auto bind = [&](const std::string& name, int64_t rows, int64_t cols) {
    return routed ? b.Expert(name, rows, cols) : b.Fp8(name, rows, cols);
  };
  return {bind("w1", c.moe_inter_dim, c.dim), bind("w3", c.moe_inter_dim, c.dim), bind("w2", c.dim, c.moe_inter_dim)};
}

MoeWeights BindMoe(const Binder& b, int layer, const ModelConfig& c) {
  MoeWeights w;
  w.gate = b.Bf16Matrix("gate.weight", c.n_experts, c.dim);
  if (layer < c.n_hash_layers) {
    w.tid2eid = b.I64("gate.tid2eid", c.vocab_size, c.n_active_experts);
  } else {
    w.bias = b.F32("gate.bias", {c.n_experts}).ToFloat();
  }
  if (c.family == ModelFamily::kV41 && c.vision.n_layers > 0) w.bias_vl = b.F32("gate.bias_vl", {c.n_experts}).ToFloat();
  for (int e = 0; e < c.n_experts; ++e) w.experts.push_back(BindExpert(b.Sub("experts." + std::to_string(e)), c, true));
  w.shared = BindExpert(b.Sub("shared_experts"), c, false);
  return w;
}

BlockWeights BindBlock(const Binder& b, int layer, const LayerKv& kv, const ModelConfig& c) {
  BlockWeights w;
  w.layer = layer;
  w.attn_norm = b.Bf16("attn_norm.weight", c.dim);
  w.ffn_norm = b.Bf16("ffn_norm.weight", c.dim);
  w.hc_attn = BindMhc(b, "attn", c);
  w.hc_ffn = BindMhc(b, "ffn", c);
  w.attn = BindAttention(b.Sub("attn"), layer, kv, c);
  w.ffn = BindMoe(b.Sub("ffn"), layer, c);
  return w;
}

// tid2eid entries must name experts inside [0, E): checked once so routing can trust them.
void CheckHashTable(const void* table, const ModelConfig& c, int layer) {
  const int64_t k = c.n_active_experts;
  for (int64_t t = 0; t < c.vocab_size; ++t) {
    for (int64_t i = 0; i < k; ++i) {
      const int64_t e = LoadUnaligned<int64_t>(table, t * k + i);
      if (e < 0 || e >= c.n_experts) {
        Fail(StatusCode::kCorruptFile, "tensor 'layers." + std::to_string(layer) + ".ffn.gate.tid2eid': token " +
                                           std::to_string(t) + " maps to expert " + std::to_string(e) +
                                           " outside [0, " + std::to_string(c.n_experts) + ")");
      }
    }
  }
}

}  // namespace

float WeightVector::operator[](int64_t i) const {
  return bf16 ? num::Bf16ToFloat(LoadUnaligned<uint16_t>(data, i)) : LoadUnaligned<float>(data, i);
}

std::vector<float> WeightVector::ToFloat() const {
  std::vector<float> out(static_cast<size_t>(size));
  for (int64_t i = 0; i < size; ++i) out[static_cast<size_t>(i)] = (*this)[i];
  return out;
}

ModelWeights BindWeights(const ModelConfig& c, const format::Checkpoint& ckpt) {
  const Binder root(ckpt, "", c.fp8_block);
  ModelWeights w;
  w.embed = ckpt.Require("embed.weight", DType::kBF16, {c.vocab_size, c.dim}).data;
  w.head = root.Bf16Matrix("head.weight", c.vocab_size, c.dim);
  w.norm = root.Bf16("norm.weight", c.dim);
  const std::vector<LayerKv> plan = PlanLayerKv(c);
  for (int l = 0; l < c.n_layers; ++l) {
    w.layers.push_back(BindBlock(root.Sub("layers." + std::to_string(l)), l, plan[static_cast<size_t>(l)], c));
    if (w.layers.back().ffn.tid2eid) CheckHashTable(w.layers.back().ffn.tid2eid, c, l);
  }
  if (c.family == ModelFamily::kV41) {
    for (int l : c.engram.layer_ids) w.engram.push_back(BindEngram(c, ckpt, l));
    return w;
  }
  w.hc_head = BindMhcHead(root, c);
  for (int m = 0; m < c.n_mtp_layers; ++m) {
    const Binder b = root.Sub("mtp." + std::to_string(m));
    MtpWeights mtp;
    mtp.e_proj = b.Fp8("e_proj", c.dim, c.dim);
    mtp.h_proj = b.Fp8("h_proj", c.dim, c.dim);
    mtp.enorm = b.Bf16("enorm.weight", c.dim);
    mtp.hnorm = b.Bf16("hnorm.weight", c.dim);
    mtp.norm = b.Bf16("norm.weight", c.dim);
    mtp.hc_head = BindMhcHead(b, c);
    mtp.block = BindBlock(b, c.n_layers + m, plan[static_cast<size_t>(c.n_layers + m)], c);
    w.mtp.push_back(std::move(mtp));
  }
  return w;
}

EngramWeights BindEngram(const ModelConfig& c, const format::Checkpoint& ckpt, int layer) {
  const auto& ids = c.engram.layer_ids;
  const auto at = std::find(ids.begin(), ids.end(), layer);
  if (at == ids.end()) Fail(StatusCode::kInvalidArgument, "BindEngram: layer " + std::to_string(layer) + " has no Engram");
  const EngramConfig& e = c.engram;
  const Binder b = Binder(ckpt, "", c.fp8_block).Sub("layers." + std::to_string(layer)).Sub("engram");
  EngramWeights w;
  w.layer = layer;
  w.rows = e.num_embeddings[static_cast<size_t>(at - ids.begin())];
  w.head_dim = e.head_dim;
  std::tie(w.table, w.table_scales) = b.Fp8Rows("embed", w.rows, e.head_dim);
  // A few rows per token are read, anywhere in the table: no read-ahead around them.
  AdviseMapped(w.table, static_cast<size_t>(w.rows * e.head_dim), MappedAccess::kRandom);
  AdviseMapped(w.table_scales, static_cast<size_t>(w.rows * (e.head_dim / 32)), MappedAccess::kRandom);
  w.wkv = b.Fp8("wkv", (c.hc_mult + 1) * c.dim, int64_t{e.max_ngram - 1} * e.heads * e.head_dim);
  w.q_weight = b.Bf16Array("q_weight", c.hc_mult, c.dim);
  w.k_weight = b.Bf16Array("k_weight", c.hc_mult, c.dim);
  return w;
}

backend::VisionEncoderDesc BindVision(const ModelConfig& c, const format::Checkpoint& ckpt) {
  const VisionConfig& v = c.vision;
  if (v.n_layers == 0) Fail(StatusCode::kInvalidConfig, "BindVision: the config has no vision tower (vision_config)");
  const Binder root(ckpt, "", c.fp8_block);
  const Binder vb = root.Sub("vision");
  backend::VisionEncoderDesc d;
  d.dim = v.dim;
  d.heads = v.n_heads;
  d.inter = v.inter_dim;
  d.patch = v.patch_size;
  d.merge = v.downsample_ratio;
  d.out_dim = c.dim;
  d.rope_theta = v.rope_theta;
  d.patch_embed = vb.Bf16Matrix("patch_embed.proj.weight", v.dim, 3 * int64_t{v.patch_size} * v.patch_size);
  d.patch_bias = vb.Bf16("patch_embed.proj.bias", v.dim).ToFloat();
  for (int l = 0; l < v.n_layers; ++l) {
    const Binder b = vb.Sub("blocks." + std::to_string(l));
    backend::VisionEncoderDesc::Block blk;
    blk.norm1 = b.F32("norm1.weight", {v.dim}).ToFloat();
    blk.norm2 = b.F32("norm2.weight", {v.dim}).ToFloat();
    blk.wqkv = b.Bf16Matrix("attn.wqkv.weight", 3 * v.dim, v.dim);
    blk.wqkv_bias = b.Bf16("attn.wqkv.bias", 3 * v.dim).ToFloat();
    blk.wo = b.Bf16Matrix("attn.wo.weight", v.dim, v.dim);
    blk.wo_bias = b.Bf16("attn.wo.bias", v.dim).ToFloat();
    blk.w1 = b.Bf16Matrix("mlp.w1.weight", 2 * v.inter_dim, v.dim);
    blk.w2 = b.Bf16Matrix("mlp.w2.weight", v.dim, v.inter_dim);
    d.blocks.push_back(std::move(blk));
  }
  d.norm = vb.F32("norm.weight", {v.dim}).ToFloat();
  const Binder ab = root.Sub("aligner");
  d.align1 = ab.Bf16Matrix("w1.weight", c.dim, v.dim * v.downsample_ratio * v.downsample_ratio);
  d.align1_bias = ab.Bf16("w1.bias", c.dim).ToFloat();
  d.align2 = ab.Bf16Matrix("w2.weight", c.dim, c.dim);
  d.align2_bias = ab.Bf16("w2.bias", c.dim).ToFloat();
  return d;
}

ImageDelimiters BindImageDelimiters(const ModelConfig& c, const format::Checkpoint& ckpt) {
  const Binder root(ckpt, "", c.fp8_block);
  return {root.Bf16("image_start", c.dim).ToFloat(), root.Bf16("image_newline", c.dim).ToFloat(),
          root.Bf16("image_end", c.dim).ToFloat()};
}

MoeWeights BindMoeLayer(const ModelConfig& c, const format::Checkpoint& ckpt, int layer) {
  if (layer < 0 || layer >= c.n_layers + c.n_mtp_layers) Fail(StatusCode::kInvalidArgument, "BindMoeLayer: no layer " + std::to_string(layer));
  const Binder root(ckpt, "", c.fp8_block);
  const std::string prefix = layer < c.n_layers ? "layers." + std::to_string(layer) : "mtp." + std::to_string(layer - c.n_layers);
  return BindMoe(root.Sub(prefix).Sub("ffn"), layer, c);
}

BlockMixing BindBlockMixing(const ModelConfig& c, const format::Checkpoint& ckpt, int layer) {
  if (layer < 0 || layer >= c.n_layers) Fail(StatusCode::kInvalidArgument, "BindBlockMixing: no layer " + std::to_string(layer));
  const Binder b = Binder(ckpt, "", c.fp8_block).Sub("layers." + std::to_string(layer));
  return {b.Bf16("attn_norm.weight", c.dim), b.Bf16("ffn_norm.weight", c.dim), BindMhc(b, "attn", c), BindMhc(b, "ffn", c)};
}

}  // namespace deepseek::model
