// config.json of both families (model/config_parser.h): the V4.1 goldens' composite configs
// against the flat ModelArgs the reference ran (inference_config.json), the family refused by
// name when unknown, and V4.1 fields that contradict each other named with their path.
#include <doctest/doctest.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"
#include "model/config_parser.h"
#include "support/shared_data.h"

namespace deepseek::model {
namespace {

std::string GoldenDir(const std::string& name) { return testing::SharedDir() + "/golden/v41/" + name + "/ckpt"; }

TEST_CASE("config: the V4.1 goldens' composite configs read as the reference's ModelArgs") {
  for (const std::string name : {"v41_text", "v41_image"}) {
    CAPTURE(name);
    const ModelConfig c = LoadConfig(GoldenDir(name));
    const nlohmann::json a = nlohmann::json::parse(testing::ReadFile(GoldenDir(name) + "/inference_config.json"));
    CHECK(c.family == ModelFamily::kV41);
    CHECK(c.model_type == "deepseek_v41");
    CHECK(c.vocab_size == a["vocab_size"].get<int64_t>());
    CHECK(c.dim == a["dim"].get<int64_t>());
    CHECK(c.n_layers == a["n_layers"].get<int>());
    CHECK(c.n_mtp_layers == a["n_mtp_layers"].get<int>());
    CHECK(c.n_heads == a["n_heads"].get<int>());
    CHECK(c.head_dim == a["head_dim"].get<int>());
    CHECK(c.rope_dim == a["rope_head_dim"].get<int>());
    CHECK(c.window == a["window_size"].get<int>());
    CHECK(c.compress_ratios == a["compress_ratios"].get<std::vector<int>>());
    CHECK(c.kv_source_layers == a["kv_source_layers"].get<std::vector<int>>());
    CHECK(c.index_source_layers == a["index_source_layers"].get<std::vector<int>>());
    CHECK(c.candidate_source_layer == a["candidate_source_layer"].get<int>());
    CHECK(c.candidate_topk_blocks == a["candidate_topk_blocks"].get<int>());
    CHECK(c.candidate_block_size == a["candidate_block_size"].get<int>());
    CHECK(c.gate_temp == a["gate_temp"].get<double>());
    CHECK(c.norm_eps == a["norm_eps"].get<double>());
    CHECK(c.n_hash_layers == 0);
    CHECK(c.fp8_block == 32);
    CHECK(c.expert_dtype == a["expert_dtype"].get<std::string>());
    CHECK(c.pad_token_id == 2);
    CHECK(c.image_token_id == a["image_token_id"].get<int>());
    CHECK(c.engram.layer_ids == a["engram_layer_ids"].get<std::vector<int>>());
    CHECK(c.engram.num_embeddings == a["engram_num_embeddings"].get<std::vector<int64_t>>());
    CHECK(c.engram.max_ngram == a["engram_max_ngram_size"].get<int>());
    CHECK(c.engram.heads == a["engram_n_heads"].get<int>());
    CHECK(c.engram.head_dim == a["engram_head_dim"].get<int>());
    CHECK(c.engram.vocab_size == a["engram_vocab_size"].get<int64_t>());
    CHECK(c.engram.compressed_vocab == a["engram_compressed_vocab_size"].get<int64_t>());
    CHECK(c.vision.n_layers == a["vision_n_layers"].get<int>());
    if (c.vision.n_layers > 0) {
      CHECK(c.vision.dim == a["vision_dim"].get<int64_t>());
      CHECK(c.vision.n_heads == a["vision_n_heads"].get<int>());
      CHECK(c.vision.inter_dim == a["vision_inter_dim"].get<int64_t>());
      CHECK(c.vision.patch_size == a["vision_patch_size"].get<int>());
      CHECK(c.vision.downsample_ratio == a["vision_downsample_ratio"].get<int>());
      CHECK(c.vision.max_image_tokens == a["vision_max_n_token"].get<int64_t>());
      CHECK(c.vision.min_pixels == a["vision_min_pixels"].get<int64_t>());
      CHECK(c.vision.rope_theta == a["vision_rope_theta"].get<double>());
      CHECK(c.vision.max_wh_ratio == 0);  // null
    }
  }
}

// The error of parsing the v41_text config after `edit`.
std::string ErrorAfter(const std::function<void(nlohmann::ordered_json&)>& edit) {
  nlohmann::ordered_json config = nlohmann::ordered_json::parse(testing::ReadFile(GoldenDir("v41_text") + "/config.json"));
  edit(config);
  try {
    ParseConfig(config.dump(), "config.json");
  } catch (const Error& e) {
    CHECK(e.code() == StatusCode::kInvalidConfig);
    return e.what();
  }
  return "no error";
}

TEST_CASE("config: an unknown family and contradictory V4.1 fields are refused, naming the field") {
  {
    const auto expect = [](const std::function<void(nlohmann::ordered_json&)>& edit, const std::vector<std::string>& needles) {
      const std::string error = ErrorAfter(edit);
      for (const std::string& n : needles) CHECK_MESSAGE(error.find(n) != std::string::npos, error << " lacks " << n);
    };
    expect([](auto& c) { c["model_type"] = "deepseek_v5"; }, {"model_type", "deepseek_v5", "deepseek_v41"});
    expect([](auto& c) { c["text_config"].erase("hidden_size"); }, {"text_config.hidden_size", "missing"});
    expect([](auto& c) { c["text_config"]["rope_scaling"].erase("factor"); }, {"text_config.rope_scaling.factor", "missing"});
    expect([](auto& c) { c.erase("text_config"); }, {"text_config", "missing"});
    expect([](auto& c) { c["text_config"]["kv_source_layer_ids"] = {1, 2, 5}; }, {"kv_source_layer_ids", "window-only layer 1"});
    expect([](auto& c) { c["text_config"]["kv_source_layer_ids"] = {2, 4}; }, {"kv_source_layer_ids", "layer 5"});
    expect([](auto& c) { c["text_config"]["kv_source_layer_ids"] = {4, 2, 5}; }, {"kv_source_layer_ids", "ascending"});
    expect([](auto& c) { c["text_config"]["candidate_source_layer_id"] = 6; }, {"candidate_source_layer_id", "not an index source"});
    expect([](auto& c) { c["text_config"]["engram_num_embeddings"] = {434}; }, {"engram_num_embeddings", "one entry per Engram layer"});
    expect([](auto& c) { c["text_config"]["engram_layer_ids"] = {1, 9}; }, {"engram_layer_ids", "below num_hidden_layers"});
    expect([](auto& c) { c["quantization_config"]["weight_block_size"] = {32, 64}; }, {"quantization_config.weight_block_size", "square"});
    expect([](auto& c) { c["text_config"]["num_hash_layers"] = 2; }, {"text_config.num_hash_layers"});
    expect([](auto& c) { c["vision_config"] = {{"num_hidden_layers", 2}}; }, {"vision_config.hidden_size", "missing"});
  }
}

}  // namespace
}  // namespace deepseek::model
