// The generator: one table (BlockTensors) describes a transformer block's tensors; the same
// descriptions drive the shard layout, the headers, the index and the value streams.
#include "tinygen/tiny_checkpoint.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <utility>

#include "core/error.h"
#include "core/numerics.h"
#include "core/thread_pool.h"
#include "tinygen/quantize.h"
#include "tinygen/random.h"
#include "tinygen/safetensors_writer.h"
#include "tinygen/tokenizer_builder.h"

namespace deepseek::tinygen {

static_assert(std::endian::native == std::endian::little, "safetensors data are little-endian");

TinySpec TinySpec::FlashTiny() { return TinySpec{}; }

TinySpec TinySpec::ProTiny() {
  TinySpec s;
  s.hidden_size = 128;
  s.num_hidden_layers = 4;
  s.num_hash_layers = 3;
  s.compress_ratios = {16, 16, 4, 16, 0};
  s.routed_scaling_factor = 2.5;
  return s;
}

TinySpec TinySpec::FlashBench(int layers, int experts) {
  TinySpec s;
  s.vocab_size = 129280;
  s.hidden_size = 4096;
  s.num_hidden_layers = layers;
  s.num_hash_layers = layers > 1 ? 1 : 0;  // one hash-routed layer when there are score layers too
  s.num_attention_heads = 64;
  s.q_lora_rank = 1024;
  s.o_groups = 8;
  s.o_lora_rank = 1024;
  s.sliding_window = 128;
  s.compress_ratios.clear();
  for (int i = 0; i < layers; ++i) s.compress_ratios.push_back(i % 2 == 0 ? 4 : 128);
  s.compress_ratios.push_back(0);
  s.n_routed_experts = experts;
  s.num_experts_per_tok = 6;
  s.moe_intermediate_size = 2048;
  s.index_n_heads = 64;
  s.index_topk = 512;
  s.routed_scaling_factor = 1.5;
  return s;
}

namespace {

using Json = nlohmann::ordered_json;

// ---- Tensor descriptions ----------------------------------------------------------------

enum class Storage {
  kBf16,
  kF32,
  kFp8,        // F8_E4M3 weight + F8_E8M0 scale per 128x128 block
  kMxfp4,      // I8 (two e2m1 per byte) + F8_E8M0 scale per 32 along K
  kExpertIds,  // I64 hash-routing table: distinct expert ids per token
};

enum class Dist {
  kNormal,         // mean a, std b
  kUniform,        // [a, b)
  kOutlierBlocks,  // normal(0, b), with one in 16 blocks of 32 scaled up 8x (ExpertInput)
};

struct Values {
  Dist dist = Dist::kNormal;
  float a = 0.0f;
  float b = 0.0f;
};

// Magnitudes follow the statistics of the golden tiny checkpoints: unit-variance inputs give
// unit-variance outputs, norms near one, mixing logits of order one.
Values Normal(float mean, float std) { return {Dist::kNormal, mean, std}; }
Values Uniform(float lo, float hi) { return {Dist::kUniform, lo, hi}; }
Values Linear(int64_t fan_in, float gain = 1.0f) {
  return Normal(0.0f, gain / std::sqrt(static_cast<float>(fan_in)));
}
Values NormWeight() { return Normal(1.0f, 0.1f); }
// Expert gate/up projections: occasional large blocks push some pre-activations past the
// SwiGLU clamp (10), as the golden checkpoints' do, so the clamp path is exercised.
Values ExpertInput(int64_t fan_in) {
  return {Dist::kOutlierBlocks, 0.0f, 1.0f / std::sqrt(static_cast<float>(fan_in))};
}

struct TensorDesc {
  std::string name;             // stored name of the weight
  Storage storage;
  std::vector<int64_t> shape;   // logical shape: [rows, cols] or [n]
  Values values;
  std::string stream;           // names the random stream; copies of a tensor share it
  int shard = 0;

  int64_t rows() const { return shape.size() == 2 ? shape[0] : 1; }
  int64_t cols() const { return shape.back(); }
  bool has_scale() const { return storage == Storage::kFp8 || storage == Storage::kMxfp4; }
  std::string scale_name() const { return name.substr(0, name.size() - 6) + "scale"; }  // "weight" -> "scale"

  uint64_t WeightBytesBefore(int64_t row) const {
    const int64_t c = cols();
    switch (storage) {
      case Storage::kBf16: return static_cast<uint64_t>(row * c * 2);
      case Storage::kF32: return static_cast<uint64_t>(row * c * 4);
      case Storage::kFp8: return static_cast<uint64_t>(row * c);
      case Storage::kMxfp4: return static_cast<uint64_t>(row * c / 2);
      case Storage::kExpertIds: return static_cast<uint64_t>(row * c * 8);
    }
    return 0;
  }
  // Scale bytes covering rows [0, row); row is a multiple of 128 or the row count.
  uint64_t ScaleBytesBefore(int64_t row) const {
    if (storage == Storage::kFp8) return static_cast<uint64_t>((row + 127) / 128 * ((cols() + 127) / 128));
    if (storage == Storage::kMxfp4) return static_cast<uint64_t>(row * (cols() / 32));
    return 0;
  }

  // The stored tensors: the weight, then its scale if any.
  std::vector<TensorEntry> Entries() const {
    const int64_t r = rows(), c = cols();
    const uint64_t weight_bytes = WeightBytesBefore(r), scale_bytes = ScaleBytesBefore(r);
    switch (storage) {
      case Storage::kBf16: return {{name, "BF16", shape, weight_bytes}};
      case Storage::kF32: return {{name, "F32", shape, weight_bytes}};
      case Storage::kExpertIds: return {{name, "I64", shape, weight_bytes}};
      case Storage::kFp8:
        return {{name, "F8_E4M3", shape, weight_bytes},
                {scale_name(), "F8_E8M0", {(r + 127) / 128, (c + 127) / 128}, scale_bytes}};
      case Storage::kMxfp4:
        return {{name, "I8", {r, c / 2}, weight_bytes}, {scale_name(), "F8_E8M0", {r, c / 32}, scale_bytes}};
    }
    return {};
  }
};

// Appends descriptions whose names share a prefix ("layers.3.", "mtp.0.") and whose data go
// to one shard.
class TensorList {
 public:
  TensorList(std::vector<TensorDesc>& out, std::string prefix, int shard)
      : out_(out), prefix_(std::move(prefix)), shard_(shard) {}
  void Add(const std::string& name, Storage storage, std::vector<int64_t> shape, Values values) {
    out_.push_back({prefix_ + name, storage, std::move(shape), values, prefix_ + name, shard_});
  }

 private:
  std::vector<TensorDesc>& out_;
  std::string prefix_;
  int shard_;
};

// A compressor (main or indexer) of width `width`: ratio 4 pools overlapping windows, so its
// projections and position embedding are twice as wide.
void CompressorTensors(const TinySpec& s, TensorList& t, const std::string& prefix, int ratio, int64_t width) {
  const int64_t wide = (ratio == 4 ? 2 : 1) * width;
  t.Add(prefix + "ape", Storage::kF32, {ratio, wide}, Normal(0.0f, 0.5f));
  t.Add(prefix + "wkv.weight", Storage::kBf16, {wide, s.hidden_size}, Linear(s.hidden_size));
  t.Add(prefix + "wgate.weight", Storage::kBf16, {wide, s.hidden_size}, Linear(s.hidden_size));
  t.Add(prefix + "norm.weight", Storage::kBf16, {width}, NormWeight());
}

// Every tensor of one transformer block (main layer or MTP block).
void BlockTensors(const TinySpec& s, TensorList& t, int ratio, bool hash_routed) {
  const int64_t d = s.hidden_size, heads = s.num_attention_heads, hd = s.head_dim;
  const int64_t group_in = heads * hd / s.o_groups, group_out = int64_t{s.o_groups} * s.o_lora_rank;
  const int64_t hc = s.hc_mult, mix = (2 + hc) * hc;
  const int64_t inter = s.moe_intermediate_size, shared = inter * s.n_shared_experts;

  t.Add("attn_norm.weight", Storage::kBf16, {d}, NormWeight());
  t.Add("ffn_norm.weight", Storage::kBf16, {d}, NormWeight());
  for (const std::string site : {"attn", "ffn"}) {
    t.Add("hc_" + site + "_fn", Storage::kF32, {mix, hc * d}, Linear(hc * d));
    t.Add("hc_" + site + "_base", Storage::kF32, {mix}, Normal(0.3f, 0.9f));
    t.Add("hc_" + site + "_scale", Storage::kF32, {3}, Uniform(0.2f, 0.7f));
  }
  t.Add("attn.attn_sink", Storage::kF32, {heads}, Normal(0.0f, 0.5f));
  t.Add("attn.wq_a.weight", Storage::kFp8, {s.q_lora_rank, d}, Linear(d));
  t.Add("attn.q_norm.weight", Storage::kBf16, {s.q_lora_rank}, NormWeight());
  t.Add("attn.wq_b.weight", Storage::kFp8, {heads * hd, s.q_lora_rank}, Linear(s.q_lora_rank));
  t.Add("attn.wkv.weight", Storage::kFp8, {hd, d}, Linear(d));
  t.Add("attn.kv_norm.weight", Storage::kBf16, {hd}, NormWeight());
  t.Add("attn.wo_a.weight", Storage::kFp8, {group_out, group_in}, Linear(group_in));
  t.Add("attn.wo_b.weight", Storage::kFp8, {d, group_out}, Linear(group_out));
  if (ratio > 0) CompressorTensors(s, t, "attn.compressor.", ratio, hd);
  if (ratio == 4) {  // CSA: the lightning indexer picks the compressed entries
    t.Add("attn.indexer.wq_b.weight", Storage::kFp8, {int64_t{s.index_n_heads} * s.index_head_dim, s.q_lora_rank},
          Linear(s.q_lora_rank));
    t.Add("attn.indexer.weights_proj.weight", Storage::kBf16, {s.index_n_heads, d}, Linear(d));
    CompressorTensors(s, t, "attn.indexer.compressor.", ratio, s.index_head_dim);
  }
  t.Add("ffn.gate.weight", Storage::kBf16, {s.n_routed_experts, d}, Linear(d, 1.5f));
  if (hash_routed) t.Add("ffn.gate.tid2eid", Storage::kExpertIds, {s.vocab_size, s.num_experts_per_tok}, {});
  else t.Add("ffn.gate.bias", Storage::kF32, {s.n_routed_experts}, Normal(0.0f, 0.15f));
  for (int e = 0; e < s.n_routed_experts; ++e) {
    const std::string p = "ffn.experts." + std::to_string(e) + ".";
    t.Add(p + "w1.weight", Storage::kMxfp4, {inter, d}, ExpertInput(d));
    t.Add(p + "w2.weight", Storage::kMxfp4, {d, inter}, Linear(inter));
    t.Add(p + "w3.weight", Storage::kMxfp4, {inter, d}, ExpertInput(d));
  }
  if (shared > 0) {
    t.Add("ffn.shared_experts.w1.weight", Storage::kFp8, {shared, d}, Linear(d));
    t.Add("ffn.shared_experts.w2.weight", Storage::kFp8, {d, shared}, Linear(shared));
    t.Add("ffn.shared_experts.w3.weight", Storage::kFp8, {shared, d}, Linear(d));
  }
}

// The mHC head that collapses the four streams before the final norm.
void HeadTensors(const TinySpec& s, TensorList& t) {
  const int64_t hc = s.hc_mult;
  t.Add("hc_head_fn", Storage::kF32, {hc, hc * s.hidden_size}, Linear(hc * s.hidden_size));
  t.Add("hc_head_base", Storage::kF32, {hc}, Normal(0.1f, 0.15f));
  t.Add("hc_head_scale", Storage::kF32, {1}, Uniform(0.2f, 0.7f));
  t.Add("norm.weight", Storage::kBf16, {s.hidden_size}, NormWeight());
}

// All tensors with their shards. Shards take contiguous runs of [embed, layer 0..L-1, tail]:
// with two shards this is the official split (embed and the first half of the layers, then
// the rest with the head and the MTP block).
std::vector<TensorDesc> DescribeCheckpoint(const TinySpec& s) {
  std::vector<TensorDesc> all;
  const int units = s.num_hidden_layers + 2, last = s.num_shards - 1;
  const auto shard_of = [&](int unit) { return unit * s.num_shards / units; };

  TensorList top(all, "", 0);
  top.Add("embed.weight", Storage::kBf16, {s.vocab_size, s.hidden_size}, Normal(0.0f, 1.0f));
  for (int i = 0; i < s.num_hidden_layers; ++i) {
    TensorList layer(all, "layers." + std::to_string(i) + ".", shard_of(i + 1));
    BlockTensors(s, layer, s.compress_ratios[static_cast<size_t>(i)], i < s.num_hash_layers);
  }
  TensorList tail(all, "", last);
  // The head's logits get a std of about 2.5 from unit-RMS normed inputs.
  tail.Add("head.weight", Storage::kBf16, {s.vocab_size, s.hidden_size}, Linear(s.hidden_size, 2.5f));
  HeadTensors(s, tail);

  TensorList mtp(all, "mtp.0.", last);
  BlockTensors(s, mtp, s.compress_ratios.back(), /*hash_routed=*/false);
  HeadTensors(s, mtp);
  mtp.Add("e_proj.weight", Storage::kFp8, {s.hidden_size, s.hidden_size}, Linear(s.hidden_size));
  mtp.Add("h_proj.weight", Storage::kFp8, {s.hidden_size, s.hidden_size}, Linear(s.hidden_size));
  mtp.Add("enorm.weight", Storage::kBf16, {s.hidden_size}, NormWeight());
  mtp.Add("hnorm.weight", Storage::kBf16, {s.hidden_size}, NormWeight());
  // The official files repeat the shared embedding and head inside the MTP block, byte for byte.
  for (const auto& names : {std::pair{"mtp.0.emb.tok_emb.weight", "embed.weight"},
                            std::pair{"mtp.0.head.weight", "head.weight"}}) {
    const auto it = std::find_if(all.begin(), all.end(), [&](const TensorDesc& t) { return t.name == names.second; });
    TensorDesc dup = *it;
    dup.name = names.first;
    dup.shard = last;
    all.push_back(std::move(dup));
  }
  return all;
}

// ---- Values ----------------------------------------------------------------------------

constexpr int64_t kChunkRows = 128;  // one FP8 block row; the unit of random streams and of work

// Draws n values of `v` from the stream. Outlier blocks are 32 consecutive values, which stay
// within one row because callers pass whole rows of a multiple of 32.
void Draw(const Values& v, Rng& rng, float* x, int64_t n) {
  switch (v.dist) {
    case Dist::kNormal:
      for (int64_t i = 0; i < n; ++i) x[i] = v.a + v.b * rng.Normal();
      break;
    case Dist::kUniform:
      for (int64_t i = 0; i < n; ++i) x[i] = v.a + (v.b - v.a) * rng.Uniform();
      break;
    case Dist::kOutlierBlocks:
      for (int64_t i = 0; i < n; i += 32) {
        const float sigma = rng.Below(16) == 0 ? 8.0f * v.b : v.b;
        for (int64_t k = i; k < std::min(i + 32, n); ++k) x[k] = sigma * rng.Normal();
      }
      break;
  }
}

// Generates one chunk (`rows` rows from row chunk * kChunkRows) of `t` into its stored
// encodings. Values are drawn row-major from the chunk's stream; all formats but FP8, whose
// blocks span 128 rows, are encoded row by row so the scratch stays in cache.
void FillChunk(const TensorDesc& t, uint64_t stream_key, int64_t chunk, int64_t rows, std::vector<float>& scratch,
               uint8_t* weight, uint8_t* scale, int64_t n_experts) {
  Rng rng(Combine(stream_key, static_cast<uint64_t>(chunk)));
  const int64_t cols = t.cols();
  switch (t.storage) {
    case Storage::kExpertIds: {
      // A partial Fisher-Yates shuffle per token: `cols` distinct experts.
      std::vector<int64_t> perm(static_cast<size_t>(n_experts));
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t e = 0; e < n_experts; ++e) perm[static_cast<size_t>(e)] = e;
        for (int64_t k = 0; k < cols; ++k) {
          const int64_t pick = k + rng.Below(static_cast<uint32_t>(n_experts - k));
          std::swap(perm[static_cast<size_t>(k)], perm[static_cast<size_t>(pick)]);
        }
        std::memcpy(weight + r * cols * 8, perm.data(), static_cast<size_t>(cols) * 8);
      }
      break;
    }
    case Storage::kFp8:
      scratch.resize(static_cast<size_t>(rows * cols));
      Draw(t.values, rng, scratch.data(), rows * cols);
      for (int64_t c0 = 0, block = 0; c0 < cols; c0 += 128, ++block) {
        scale[block] = QuantizeFp8Block(scratch.data() + c0, cols, static_cast<int>(rows),
                                        static_cast<int>(std::min<int64_t>(128, cols - c0)), weight + c0, cols);
      }
      break;
    case Storage::kBf16:
    case Storage::kF32:
    case Storage::kMxfp4:
      scratch.resize(static_cast<size_t>(cols));
      for (int64_t r = 0; r < rows; ++r) {
        float* x = scratch.data();
        Draw(t.values, rng, x, cols);
        uint8_t* out = weight + t.WeightBytesBefore(r);
        if (t.storage == Storage::kMxfp4) {
          QuantizeMxfp4Row(x, cols, out, scale + r * (cols / 32));
        } else if (t.storage == Storage::kF32) {
          std::memcpy(out, x, static_cast<size_t>(cols) * 4);
        } else {
          for (int64_t c = 0; c < cols; ++c) {
            const uint16_t b = num::FloatToBf16(x[c]);
            std::memcpy(out + 2 * c, &b, 2);
          }
        }
      }
      break;
  }
}

// Streams one tensor (and its scale) into its shard, a slab of chunks at a time.
void WriteTensor(const TinySpec& s, const TensorDesc& t, SafetensorsWriter& out, size_t weight_index,
                 size_t scale_index, ThreadPool& pool, std::vector<std::vector<float>>& scratch) {
  constexpr uint64_t kSlabBytes = 16u << 20;  // bounds memory whatever the tensor size
  const uint64_t stream_key = Combine(s.seed, HashName(t.stream));
  const int64_t rows = t.rows(), chunks = (rows + kChunkRows - 1) / kChunkRows;
  const int64_t chunks_per_slab =
      std::max<int64_t>(1, static_cast<int64_t>(kSlabBytes / std::max<uint64_t>(1, t.WeightBytesBefore(kChunkRows))));
  std::vector<uint8_t> weight, scale;
  for (int64_t first = 0; first < chunks; first += chunks_per_slab) {
    const int64_t end = std::min(chunks, first + chunks_per_slab);
    const int64_t row0 = first * kChunkRows, row1 = std::min(rows, end * kChunkRows);
    weight.resize(t.WeightBytesBefore(row1) - t.WeightBytesBefore(row0));
    scale.resize(t.ScaleBytesBefore(row1) - t.ScaleBytesBefore(row0));
    pool.ParallelFor(end - first, [&](int64_t begin, int64_t stop, int thread) {
      for (int64_t c = first + begin; c < first + stop; ++c) {
        const int64_t r0 = c * kChunkRows, r1 = std::min(rows, r0 + kChunkRows);
        FillChunk(t, stream_key, c, r1 - r0, scratch[static_cast<size_t>(thread)],
                  weight.data() + (t.WeightBytesBefore(r0) - t.WeightBytesBefore(row0)),
                  scale.data() + (t.ScaleBytesBefore(r0) - t.ScaleBytesBefore(row0)), s.n_routed_experts);
      }
    });
    out.Write(weight_index, t.WeightBytesBefore(row0), weight.data(), weight.size());
    if (t.has_scale()) out.Write(scale_index, t.ScaleBytesBefore(row0), scale.data(), scale.size());
  }
}

// ---- Configuration files ---------------------------------------------------------------

// Integral values print as JSON integers, as in the official config (rope_theta: 10000).
Json Number(double v) {
  if (v == std::floor(v) && std::fabs(v) < 1e15) return Json(static_cast<int64_t>(v));
  return Json(v);
}

Json ConfigJson(const TinySpec& s) {
  Json c = Json::object();
  c["architectures"] = {"DeepseekV4ForCausalLM"};
  c["model_type"] = "deepseek_v4";
  c["attention_bias"] = false;
  c["attention_dropout"] = 0.0;
  c["bos_token_id"] = 0;
  c["eos_token_id"] = 1;
  c["expert_dtype"] = s.expert_dtype;
  c["hc_eps"] = s.hc_eps;
  c["hc_mult"] = s.hc_mult;
  c["hc_sinkhorn_iters"] = s.hc_sinkhorn_iters;
  c["head_dim"] = s.head_dim;
  c["hidden_act"] = "silu";
  c["hidden_size"] = s.hidden_size;
  c["index_head_dim"] = s.index_head_dim;
  c["index_n_heads"] = s.index_n_heads;
  c["index_topk"] = s.index_topk;
  c["initializer_range"] = 0.02;
  c["max_position_embeddings"] = s.max_position_embeddings;
  c["moe_intermediate_size"] = s.moe_intermediate_size;
  c["n_routed_experts"] = s.n_routed_experts;
  c["n_shared_experts"] = s.n_shared_experts;
  c["norm_topk_prob"] = true;
  c["num_attention_heads"] = s.num_attention_heads;
  c["num_experts_per_tok"] = s.num_experts_per_tok;
  c["num_hidden_layers"] = s.num_hidden_layers;
  c["num_hash_layers"] = s.num_hash_layers;
  c["num_key_value_heads"] = 1;
  c["num_nextn_predict_layers"] = 1;
  c["o_groups"] = s.o_groups;
  c["o_lora_rank"] = s.o_lora_rank;
  c["q_lora_rank"] = s.q_lora_rank;
  c["qk_rope_head_dim"] = s.qk_rope_head_dim;
  c["quantization_config"] = {{"activation_scheme", "dynamic"}, {"fmt", "e4m3"},          {"quant_method", "fp8"},
                              {"scale_fmt", "ue8m0"},           {"weight_block_size", {128, 128}}};
  c["rms_norm_eps"] = s.rms_norm_eps;
  c["rope_scaling"] = {{"beta_fast", Number(s.beta_fast)},
                       {"beta_slow", Number(s.beta_slow)},
                       {"factor", Number(s.rope_factor)},
                       {"original_max_position_embeddings", s.original_max_position_embeddings},
                       {"type", "yarn"}};
  c["rope_theta"] = Number(s.rope_theta);
  c["routed_scaling_factor"] = s.routed_scaling_factor;
  c["scoring_func"] = "sqrtsoftplus";
  c["sliding_window"] = s.sliding_window;
  c["swiglu_limit"] = s.swiglu_limit;
  c["tie_word_embeddings"] = false;
  c["topk_method"] = "noaux_tc";
  c["torch_dtype"] = "bfloat16";
  c["transformers_version"] = "4.57.1";
  c["use_cache"] = true;
  c["vocab_size"] = s.vocab_size;
  c["compress_rope_theta"] = Number(s.compress_rope_theta);
  c["compress_ratios"] = s.compress_ratios;
  return c;
}

// The flat config of the reference inference code (inference/config.json), which renames
// fields; the golden checkpoints ship it beside config.json.
Json InferenceConfigJson(const TinySpec& s) {
  return Json{{"vocab_size", s.vocab_size},
              {"dim", s.hidden_size},
              {"moe_inter_dim", s.moe_intermediate_size},
              {"n_layers", s.num_hidden_layers},
              {"n_hash_layers", s.num_hash_layers},
              {"n_heads", s.num_attention_heads},
              {"n_routed_experts", s.n_routed_experts},
              {"n_shared_experts", s.n_shared_experts},
              {"n_activated_experts", s.num_experts_per_tok},
              {"score_func", "sqrtsoftplus"},
              {"route_scale", s.routed_scaling_factor},
              {"swiglu_limit", s.swiglu_limit},
              {"q_lora_rank", s.q_lora_rank},
              {"head_dim", s.head_dim},
              {"rope_head_dim", s.qk_rope_head_dim},
              {"o_groups", s.o_groups},
              {"o_lora_rank", s.o_lora_rank},
              {"window_size", s.sliding_window},
              {"original_seq_len", s.original_max_position_embeddings},
              {"rope_theta", Number(s.rope_theta)},
              {"rope_factor", Number(s.rope_factor)},
              {"beta_fast", Number(s.beta_fast)},
              {"beta_slow", Number(s.beta_slow)},
              {"index_n_heads", s.index_n_heads},
              {"index_head_dim", s.index_head_dim},
              {"index_topk", s.index_topk},
              {"hc_mult", s.hc_mult},
              {"hc_sinkhorn_iters", s.hc_sinkhorn_iters},
              {"dtype", "fp8"},
              {"scale_fmt", "ue8m0"},
              {"expert_dtype", s.expert_dtype},
              {"compress_rope_theta", Number(s.compress_rope_theta)},
              {"compress_ratios", s.compress_ratios}};
}

Json GenerationConfigJson() {
  return Json{{"bos_token_id", 0}, {"eos_token_id", 1},        {"do_sample", true},
              {"temperature", 1.0}, {"top_p", 1.0},            {"transformers_version", "4.57.1"}};
}

void WriteTextFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(text.data(), static_cast<std::streamsize>(text.size()));
  f.close();
  if (!f) Fail(StatusCode::kIoError, "cannot write '" + path.string() + "'");
}

void Validate(const TinySpec& s) {
  const auto require = [](bool ok, const std::string& what) {
    if (!ok) Fail(StatusCode::kInvalidArgument, "invalid tiny checkpoint spec: " + what);
  };
  if (s.expert_dtype != "fp4") Fail(StatusCode::kUnsupported, "tinygen writes only fp4 experts, not " + s.expert_dtype);
  require(s.vocab_size >= kMinTokenizerVocab, "vocab_size must be at least " + std::to_string(kMinTokenizerVocab));
  require(s.hidden_size > 0 && s.hidden_size % 32 == 0, "hidden_size must be a positive multiple of 32 (MXFP4)");
  require(s.moe_intermediate_size > 0 && s.moe_intermediate_size % 32 == 0,
          "moe_intermediate_size must be a positive multiple of 32 (MXFP4)");
  require(s.num_hidden_layers >= 1, "num_hidden_layers must be at least 1");
  require(s.compress_ratios.size() == static_cast<size_t>(s.num_hidden_layers) + 1,
          "compress_ratios needs one entry per layer plus one for the MTP layer");
  require(std::all_of(s.compress_ratios.begin(), s.compress_ratios.end(), [](int r) { return r >= 0; }),
          "compress ratios must be >= 0");
  require(s.num_hash_layers >= 0 && s.num_hash_layers <= s.num_hidden_layers, "num_hash_layers out of range");
  require(s.num_attention_heads > 0 && s.head_dim > 0 && s.q_lora_rank > 0 && s.o_lora_rank > 0 && s.hc_mult > 0,
          "dimensions must be positive");
  require(s.o_groups > 0 && s.num_attention_heads % s.o_groups == 0, "o_groups must divide num_attention_heads");
  require(s.index_n_heads > 0 && s.index_head_dim > 0, "indexer dimensions must be positive");
  require(s.num_experts_per_tok >= 1 && s.num_experts_per_tok <= s.n_routed_experts,
          "num_experts_per_tok must be in [1, n_routed_experts]");
  require(s.n_shared_experts >= 0, "n_shared_experts must be >= 0");
  require(s.num_shards >= 1 && s.num_shards <= s.num_hidden_layers + 2,
          "num_shards must be in [1, num_hidden_layers + 2]");
}

std::string ShardName(int index, int count) {
  char name[64];
  std::snprintf(name, sizeof(name), "model-%05d-of-%05d.safetensors", index + 1, count);
  return name;
}

}  // namespace

void WriteTinyCheckpoint(const TinySpec& spec, const std::string& dir, ProgressFn progress) {
  Validate(spec);
  const std::filesystem::path root(dir);
  std::error_code ec;
  std::filesystem::create_directories(root, ec);
  if (ec) Fail(StatusCode::kIoError, "cannot create directory '" + dir + "': " + ec.message());

  const std::vector<TensorDesc> tensors = DescribeCheckpoint(spec);

  // Lay out every shard: its stored tensors sorted by name, as the official shards are.
  struct Slot {
    size_t tensor;
    size_t part;  // 0 = weight, 1 = scale
    TensorEntry entry;
  };
  std::vector<std::vector<Slot>> shards(static_cast<size_t>(spec.num_shards));
  Progress done;
  for (size_t i = 0; i < tensors.size(); ++i) {
    std::vector<TensorEntry> entries = tensors[i].Entries();
    for (size_t part = 0; part < entries.size(); ++part) {
      done.bytes_total += entries[part].nbytes;
      shards[static_cast<size_t>(tensors[i].shard)].push_back({i, part, std::move(entries[part])});
    }
  }
  done.tensors_total = static_cast<int64_t>(tensors.size());

  nlohmann::json weight_map = nlohmann::json::object();
  ThreadPool pool(0);
  std::vector<std::vector<float>> scratch(static_cast<size_t>(pool.num_threads()));
  for (size_t k = 0; k < shards.size(); ++k) {
    std::vector<Slot>& slots = shards[k];
    std::sort(slots.begin(), slots.end(), [](const Slot& a, const Slot& b) { return a.entry.name < b.entry.name; });
    std::vector<TensorEntry> entries;
    // Writer index of each tensor's weight and scale, in the order the weights appear.
    std::vector<std::array<size_t, 2>> index(tensors.size());
    std::vector<size_t> order;
    for (size_t j = 0; j < slots.size(); ++j) {
      entries.push_back(slots[j].entry);
      index[slots[j].tensor][slots[j].part] = j;
      if (slots[j].part == 0) order.push_back(slots[j].tensor);
    }
    const std::string file = ShardName(static_cast<int>(k), spec.num_shards);
    for (const TensorEntry& e : entries) weight_map[e.name] = file;

    SafetensorsWriter out((root / file).string(), entries);
    for (const size_t i : order) {
      const TensorDesc& t = tensors[i];
      WriteTensor(spec, t, out, index[i][0], index[i][1], pool, scratch);
      done.tensors_done += 1;
      done.bytes_done += t.WeightBytesBefore(t.rows()) + t.ScaleBytesBefore(t.rows());
      done.current = t.name;
      if (progress) progress(done);
    }
    out.Close();
  }

  const nlohmann::json index_json = {{"metadata", {{"total_size", done.bytes_total}}}, {"weight_map", weight_map}};
  WriteTextFile(root / "model.safetensors.index.json", index_json.dump(2) + "\n");
  WriteTextFile(root / "config.json", ConfigJson(spec).dump(2) + "\n");
  WriteTextFile(root / "inference_config.json", InferenceConfigJson(spec).dump(4) + "\n");
  WriteTextFile(root / "generation_config.json", GenerationConfigJson().dump(2) + "\n");
  WriteTextFile(root / "tokenizer.json", BuildTokenizerJson(spec.vocab_size));
  WriteTextFile(root / "tokenizer_config.json", BuildTokenizerConfigJson());
}

}  // namespace deepseek::tinygen
