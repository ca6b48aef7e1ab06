// The V4.1 tiny-checkpoint generator (--preset v41-tiny) read back by the library: its config
// parses as V4.1 with the values asked for and the same fields as the golden v41_image config;
// it has the golden checkpoint's tensors layer by layer (same architecture, so the same names,
// dtypes and shards; shapes differ only where the vocabulary does); every part the library binds
// today (MoE, mixing, Engram, vision, delimiters) binds; the config's Engram sizes are the ones
// the tokenizer gives; and the vision tower encodes an image of the size the preset is for.
#include "tinygen/v41_checkpoint.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "deepseek/config.h"
#include "deepseek/tokenizer.h"
#include "format/checkpoint.h"
#include "image/prepare.h"
#include "model/config_parser.h"
#include "model/engram_hash.h"
#include "model/weights.h"
#include "support/shared_data.h"
#include "tinygen/tokenizer_builder.h"
#include "tokenizer/engram_token_map.h"

namespace deepseek::tinygen {
namespace {

using Json = nlohmann::ordered_json;  // keeps the files' field order

const std::string& Generated() {
  static const std::string dir = [] {
    const std::string d = testing::TempDir("v41_tiny");
    WriteTinyV41Checkpoint(TinyV41Spec::Tiny(), d);
    return d;
  }();
  return dir;
}

std::string GoldenDir() { return testing::SharedDir() + "/golden/v41/v41_image/ckpt"; }

// "layers.4.attn.wkv.weight" -> "layers.4"; tensors outside the layers group as "top".
std::string Group(const std::string& name) {
  if (name.rfind("layers.", 0) != 0) return "top";
  return name.substr(0, name.find('.', 7));
}

std::map<std::string, std::set<std::string>> NamesByGroup(const format::Checkpoint& ckpt) {
  std::map<std::string, std::set<std::string>> groups;
  for (const std::string& name : ckpt.TensorNames()) groups[Group(name)].insert(name);
  return groups;
}

std::string FileName(const format::TensorInfo& t) { return std::filesystem::path(*t.file).filename().string(); }

TEST_CASE("v41-tiny: the config parses as V4.1 with the preset's values") {
  const TinyV41Spec spec = TinyV41Spec::Tiny();
  const ModelConfig c = model::LoadConfig(Generated());
  CHECK(c.family == ModelFamily::kV41);
  CHECK(c.model_type == "deepseek_v41");
  CHECK(c.vocab_size == spec.text.vocab_size);
  CHECK(c.dim == 128);
  CHECK(c.n_layers == 8);
  CHECK(c.n_mtp_layers == 0);
  CHECK(c.n_hash_layers == 0);
  CHECK(c.n_heads == 4);
  CHECK(c.head_dim == 64);
  CHECK(c.rope_dim == 16);
  CHECK(c.q_lora_rank == 64);
  CHECK(c.o_groups == 2);
  CHECK(c.o_lora_rank == 32);
  CHECK(c.window == 16);
  CHECK(c.compress_ratios == std::vector<int>{0, 0, 2, 2, 2, 1, 1, 1});
  CHECK(c.kv_source_layers == std::vector<int>{2, 4, 5});
  CHECK(c.index_source_layers == std::vector<int>{2, 4, 5, 7});
  CHECK(c.candidate_source_layer == 5);
  CHECK(c.candidate_topk_blocks == 2);
  CHECK(c.candidate_block_size == 4);
  CHECK(c.index_heads == 8);
  CHECK(c.index_head_dim == 64);
  CHECK(c.index_topk == 6);
  CHECK(c.n_experts == 4);
  CHECK(c.n_active_experts == 2);
  CHECK(c.n_shared_experts == 1);
  CHECK(c.moe_inter_dim == 64);
  CHECK(c.norm_eps == 1e-20);
  CHECK(c.gate_temp == 1.0);
  CHECK(c.fp8_block == 32);
  CHECK(c.expert_dtype == "fp4");
  CHECK(c.bos_token_id == 0);
  CHECK(c.eos_token_id == 1);
  CHECK(c.pad_token_id == 2);
  CHECK(c.image_token_id == spec.text.vocab_size - 1);
  CHECK(c.engram.layer_ids == std::vector<int>{1, 4});
  CHECK(c.engram.max_ngram == 4);
  CHECK(c.engram.heads == 2);
  CHECK(c.engram.head_dim == 32);
  CHECK(c.engram.vocab_size == c.engram.compressed_vocab);
  CHECK(c.vision.n_layers == 2);
  CHECK(c.vision.dim == 64);
  CHECK(c.vision.n_heads == 4);
  CHECK(c.vision.inter_dim == 96);
  CHECK(c.vision.patch_size == 14);
  CHECK(c.vision.downsample_ratio == 3);
  CHECK(c.vision.max_image_tokens == 64);
  CHECK(c.vision.min_pixels == 1);
}

TEST_CASE("v41-tiny: config.json and inference_config.json have the golden ones' fields and values") {
  // Only what follows from the tokenizer may differ: the golden checkpoints use a 256-id
  // stand-in vocabulary.
  const std::set<std::string> from_tokenizer = {"vocab_size", "image_token_id", "engram_num_embeddings",
                                                "engram_vocab_size", "engram_compressed_vocab_size"};
  for (const char* file : {"config.json", "inference_config.json"}) {
    CAPTURE(file);
    const Json ours = Json::parse(testing::ReadFile(Generated() + "/" + file));
    const Json golden = Json::parse(testing::ReadFile(GoldenDir() + "/" + file));
    // Same fields in the same order at every level; equal values of the same JSON type.
    const auto compare = [&](const auto& self, const Json& a, const Json& b, const std::string& path) -> void {
      std::vector<std::string> keys_a, keys_b;
      for (const auto& item : a.items()) keys_a.push_back(item.key());
      for (const auto& item : b.items()) keys_b.push_back(item.key());
      CHECK_MESSAGE(keys_a == keys_b, path);
      for (const auto& item : b.items()) {
        const std::string& key = item.key();
        if (!a.contains(key)) continue;
        if (item.value().is_object()) {
          self(self, a[key], item.value(), path + key + ".");
        } else if (from_tokenizer.count(key) == 0) {
          CHECK_MESSAGE(a[key] == item.value(), path << key << " = " << a[key] << " vs " << item.value());
          CHECK_MESSAGE(a[key].type() == item.value().type(), path << key);
        }
      }
    };
    compare(compare, ours, golden, "");
  }
}

TEST_CASE("v41-tiny: layer by layer, the golden v41_image checkpoint's tensors, dtypes and shards") {
  const auto ours = format::Checkpoint::Open(Generated());
  const auto golden = format::Checkpoint::Open(GoldenDir());
  const ModelConfig c = model::LoadConfig(Generated());
  const auto our_groups = NamesByGroup(*ours), golden_groups = NamesByGroup(*golden);
  REQUIRE(golden_groups.size() == 9);  // the 8 layers and the rest
  for (const auto& golden_group : golden_groups) {
    const std::string& group = golden_group.first;  // a named variable: CAPTURE's lambda takes it
    CAPTURE(group);
    REQUIRE(our_groups.count(group) == 1);
    CHECK(our_groups.at(group) == golden_group.second);
  }
  CHECK(our_groups.size() == golden_groups.size());

  // Shapes scale only with the vocabulary: the embedding and head rows, and the Engram tables,
  // whose rows are the primes above the compressed vocabulary's size.
  std::map<std::string, int64_t> rows = {{"embed.weight", c.vocab_size}, {"head.weight", c.vocab_size}};
  for (size_t e = 0; e < c.engram.layer_ids.size(); ++e) {
    const std::string prefix = "layers." + std::to_string(c.engram.layer_ids[e]) + ".engram.embed.";
    rows[prefix + "weight"] = rows[prefix + "scale"] = c.engram.num_embeddings[e];
  }
  for (const std::string& name : golden->TensorNames()) {
    CAPTURE(name);
    const format::TensorInfo* t = ours->Find(name);
    if (t == nullptr) continue;  // reported above
    const format::TensorInfo& g = *golden->Find(name);
    CHECK(t->dtype == g.dtype);
    CHECK(FileName(*t) == FileName(g));
    std::vector<int64_t> want = g.shape;
    if (rows.count(name)) want[0] = rows.at(name);
    CHECK(t->shape == want);
  }
  MESSAGE(ours->TensorNames().size() << " tensors, " << ours->total_bytes() << " bytes");
  CHECK(ours->total_bytes() < 8u << 20);
}

TEST_CASE("v41-tiny: the library binds every layer's MoE, mixing and Engram, the vision tower and the delimiters") {
  const ModelConfig c = model::LoadConfig(Generated());
  const auto ckpt = format::Checkpoint::Open(Generated());
  for (int l = 0; l < c.n_layers; ++l) {
    CAPTURE(l);
    const model::MoeWeights moe = model::BindMoeLayer(c, *ckpt, l);
    CHECK(moe.experts.size() == 4);
    CHECK(moe.bias.size() == 4);
    CHECK(moe.bias_vl.size() == 4);  // image-span tokens route with their own bias
    CHECK(moe.tid2eid == nullptr);
    CHECK_NOTHROW(model::BindBlockMixing(c, *ckpt, l));
  }
  for (size_t e = 0; e < c.engram.layer_ids.size(); ++e) {
    const model::EngramWeights engram = model::BindEngram(c, *ckpt, c.engram.layer_ids[e]);
    CHECK(engram.rows == c.engram.num_embeddings[e]);
    CHECK(engram.head_dim == 32);
  }
  CHECK_THROWS(model::BindEngram(c, *ckpt, 2));  // layer 2 has no Engram
  const backend::VisionEncoderDesc vision = model::BindVision(c, *ckpt);
  CHECK(vision.blocks.size() == 2);
  const model::ImageDelimiters delimiters = model::BindImageDelimiters(c, *ckpt);
  CHECK(delimiters.start.size() == 128);
  CHECK(delimiters.start != delimiters.end);
}

TEST_CASE("v41-tiny: the config's Engram sizes are those of its tokenizer") {
  const ModelConfig c = model::LoadConfig(Generated());
  const auto tok = Tokenizer::Load(Generated());
  REQUIRE(tok.ok());
  const Tokenizer& t = *tok.value();
  CHECK(t.vocab_size() == c.vocab_size);
  CHECK(t.TokenId("<｜deepseek_image｜>") == c.image_token_id);
  CHECK(t.IsSpecial(c.image_token_id));
  CHECK(t.TokenId("<｜begin▁of▁sentence｜>") == c.bos_token_id);
  CHECK(t.TokenId("<｜end▁of▁sentence｜>") == c.eos_token_id);
  CHECK(t.TokenId("<｜▁pad▁｜>") == c.pad_token_id);
  for (const char* token : {"<｜System｜>", "<｜User｜>", "<｜Assistant｜>", "<think>", "</think>", "｜DSML｜"}) {
    CHECK_MESSAGE(t.TokenId(token).has_value(), token);
  }

  const tokenizer::EngramTokenMap map = tokenizer::BuildEngramTokenMap(t);
  CHECK(static_cast<int64_t>(map.ids.size()) == c.vocab_size);
  CHECK(map.size == c.engram.compressed_vocab);
  // The tables hold exactly the sub-tables the hash addresses.
  const std::vector<model::EngramLayerHash> hashes = model::DeriveEngramHashes(c.engram);
  REQUIRE(hashes.size() == c.engram.num_embeddings.size());
  for (size_t e = 0; e < hashes.size(); ++e) CHECK(hashes[e].rows() == c.engram.num_embeddings[e]);
}

TEST_CASE("v41-tiny: the vision tower encodes a 200x150 image to finite rows") {
  const ModelConfig c = model::LoadConfig(Generated());
  const auto ckpt = format::Checkpoint::Open(Generated());
  image::RgbImage rgb;
  rgb.width = 200;
  rgb.height = 150;
  for (int64_t y = 0; y < rgb.height; ++y) {
    for (int64_t x = 0; x < rgb.width; ++x) {
      rgb.rgb.push_back(static_cast<uint8_t>(x));
      rgb.rgb.push_back(static_cast<uint8_t>(y));
      rgb.rgb.push_back(static_cast<uint8_t>((x * y) % 251));
    }
  }
  const image::PreparedImage prepared = image::PrepareImage(rgb, c.vision);
  // Within the token budget without shrinking: padded to 210x154 pixels, 15x11 patches, 5x4 tokens.
  CHECK(prepared.grid.width == 210);
  CHECK(prepared.grid.height == 154);
  CHECK(prepared.grid.llm_w == 5);
  CHECK(prepared.grid.llm_h == 4);
  CHECK(prepared.grid.span_tokens() <= c.vision.max_image_tokens);

  backend::Device& cpu = backend::Registry::Get().Cpu();
  ThreadPool pool(2);
  const auto stream = cpu.CreateStream(pool);
  const backend::VisionEncoderDesc desc = model::BindVision(c, *ckpt);  // outlives the encoder
  const auto encoder = cpu.CreateVisionEncoder(desc);
  const backend::EncoderGrid grid{prepared.grid.vit_h, prepared.grid.vit_w};
  REQUIRE(encoder->input_width() * grid.h * grid.w == static_cast<int64_t>(prepared.patches.size()));
  REQUIRE(encoder->output_width() == c.dim);
  const int64_t n = encoder->OutputRows(grid);
  CHECK(n == prepared.grid.llm_h * prepared.grid.llm_w);
  std::vector<float> rows(static_cast<size_t>(n * c.dim));
  encoder->Encode(*stream, prepared.patches.data(), grid, rows.data());
  double sum_sq = 0;
  for (const float v : rows) {
    REQUIRE(std::isfinite(v));
    sum_sq += double{v} * v;
  }
  const double rms = std::sqrt(sum_sq / static_cast<double>(rows.size()));
  MESSAGE("aligner rows: rms " << rms);
  CHECK(rms > 1e-3);
  CHECK(rms < 1e3);
}

TEST_CASE("v41-tiny: the same seed gives the same bytes, another seed other weights") {
  TinyV41Spec spec = TinyV41Spec::Tiny();
  const std::string again = testing::TempDir("v41_tiny_again");
  WriteTinyV41Checkpoint(spec, again);
  spec.text.seed = 2;
  const std::string other = testing::TempDir("v41_tiny_seed2");
  WriteTinyV41Checkpoint(spec, other);
  for (const char* file : {"config.json", "inference_config.json", "tokenizer.json", "model.safetensors.index.json",
                           "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}) {
    CAPTURE(file);
    const std::string bytes = testing::ReadFile(Generated() + "/" + file);
    CHECK(bytes == testing::ReadFile(again + "/" + file));
    const bool weights = std::string(file).find(".safetensors") != std::string::npos && std::string(file).find("index") == std::string::npos;
    CHECK((bytes != testing::ReadFile(other + "/" + file)) == weights);
  }
}

TEST_CASE("v41-tiny: inconsistent specs are refused before anything is written") {
  const std::string base = testing::TempDir("v41_tiny_errors");
  TinyV41Spec hash = TinyV41Spec::Tiny();
  hash.text.num_hash_layers = 1;
  CHECK_THROWS_AS(WriteTinyV41Checkpoint(hash, base + "/hash"), Error);
  TinyV41Spec ratios = TinyV41Spec::Tiny();
  ratios.text.compress_ratios[2] = 4;  // V4's CSA is no V4.1 ratio
  CHECK_THROWS_AS(WriteTinyV41Checkpoint(ratios, base + "/ratios"), Error);
  // The library's own config checks: a ratio per layer, and no layer without a KV source of its
  // ratio at or before it (layers 2 and 3 here).
  TinyV41Spec layers = TinyV41Spec::Tiny();
  layers.text.compress_ratios.push_back(0);
  CHECK_THROWS_WITH_AS(WriteTinyV41Checkpoint(layers, base + "/layers"), doctest::Contains("compress_ratios"), Error);
  TinyV41Spec sources = TinyV41Spec::Tiny();
  sources.kv_source_layer_ids = {4, 5};
  CHECK_THROWS_WITH_AS(WriteTinyV41Checkpoint(sources, base + "/sources"), doctest::Contains("kv_source_layer_ids"), Error);
  TinyV41Spec vocab = TinyV41Spec::Tiny();
  vocab.text.vocab_size = kMinTokenizerVocab + 1;  // no room for <｜System｜> and the image token
  CHECK_THROWS_AS(WriteTinyV41Checkpoint(vocab, base + "/vocab"), Error);
  for (const char* sub : {"/hash", "/ratios", "/layers", "/sources", "/vocab"}) CHECK_FALSE(std::filesystem::exists(base + sub));
}

}  // namespace
}  // namespace deepseek::tinygen
