// Model::Load through the public API: the tiny checkpoint loads, and every kind of bad input
// (folder, config.json, shard bytes, tensor dtype/shape/values) fails with a Status naming it.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "deepseek/deepseek.h"
#include "support/shared_data.h"
#include "support/tiny_checkpoints.h"
#include "tiny_fixture.h"
#include "tinygen/tiny_checkpoint.h"

namespace deepseek::testing {

const std::string& TinyCheckpointDir() { return FlashTinyDir(); }

std::shared_ptr<const Model> TinyModel() {
  static const std::shared_ptr<const Model> model = [] {
    auto loaded = Model::Load(TinyCheckpointDir());
    REQUIRE_MESSAGE(loaded.ok(), loaded.status().ToString());
    return loaded.value();
  }();
  return model;
}

void CheckStatus(const Status& status, StatusCode code, const std::vector<std::string>& needles) {
  INFO("status: " << status.ToString());
  CHECK(std::string(StatusCodeName(status.code())) == std::string(StatusCodeName(code)));
  for (const std::string& needle : needles) {
    CHECK_MESSAGE(status.message().find(needle) != std::string::npos, "the message lacks '" << needle << "'");
  }
}

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kShard1 = "model-00001-of-00002.safetensors";
constexpr const char* kShard2 = "model-00002-of-00002.safetensors";

// A private copy of the tiny checkpoint for one test to corrupt.
std::string CopyOfTiny(const std::string& tag) {
  const std::string dir = TempDir(tag);
  fs::copy(TinyCheckpointDir(), dir, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  return dir;
}

// Model::Load(dir) must fail with `code` and a message containing every one of `needles`.
void ExpectLoadFails(const std::string& dir, StatusCode code, const std::vector<std::string>& needles) {
  const auto loaded = Model::Load(dir);
  REQUIRE_FALSE(loaded.ok());
  CheckStatus(loaded.status(), code, needles);
}

void EditConfig(const std::string& dir, const std::function<void(nlohmann::ordered_json&)>& edit) {
  const std::string path = dir + "/config.json";
  auto config = nlohmann::ordered_json::parse(ReadFile(path));
  edit(config);
  WriteFile(path, config.dump(2));
}

// A safetensors file in memory: the 8-byte little-endian header length, the header JSON and
// the data section, so a test can rewrite any part and write the file back.
struct Shard {
  std::string path;
  json header;
  std::string data;

  static Shard Read(const std::string& path) {
    const std::string bytes = ReadFile(path);
    REQUIRE(bytes.size() >= 8);
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = n << 8 | static_cast<uint8_t>(bytes[static_cast<size_t>(i)]);
    REQUIRE(8 + n <= bytes.size());
    return {path, json::parse(bytes.substr(8, n)), bytes.substr(8 + n)};
  }

  static std::string Image(const std::string& header_text, uint64_t declared_length, const std::string& data) {
    std::string image(8, '\0');
    for (size_t i = 0; i < 8; ++i) image[i] = static_cast<char>(declared_length >> (8 * i));
    return image + header_text + data;
  }

  // Pads the header with spaces to a multiple of 8 bytes, as safetensors writers do, so the
  // data stays aligned and only the intended corruption is exercised.
  void Write() const {
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' ');
    WriteFile(path, Image(text, text.size(), data));
  }

  json& entry(const std::string& tensor) {
    REQUIRE_MESSAGE(header.contains(tensor), tensor << " is not in " << path);
    return header[tensor];
  }
  uint64_t begin(const std::string& tensor) { return entry(tensor)["data_offsets"][0].get<uint64_t>(); }
  uint64_t end(const std::string& tensor) { return entry(tensor)["data_offsets"][1].get<uint64_t>(); }
  char* bytes(const std::string& tensor) { return data.data() + begin(tensor); }

  // The tensor whose data starts at the lowest (highest) offset.
  std::string Lowest() const { return Extreme(false); }
  std::string Highest() const { return Extreme(true); }

 private:
  std::string Extreme(bool highest) const {
    std::string best;
    uint64_t best_begin = 0;
    for (const auto& [name, e] : header.items()) {
      if (name == "__metadata__") continue;
      const uint64_t b = e["data_offsets"][0].get<uint64_t>();
      if (best.empty() || (highest ? b > best_begin : b < best_begin)) best = name, best_begin = b;
    }
    return best;
  }
};

// The shard holding `tensor`, according to the checkpoint's index.
Shard ShardOf(const std::string& dir, const std::string& tensor) {
  const json index = json::parse(ReadFile(dir + "/model.safetensors.index.json"));
  return Shard::Read(dir + "/" + index["weight_map"][tensor].get<std::string>());
}

TEST_CASE("runtime: Model::Load loads the tiny checkpoint and reports progress") {
  std::vector<float> fractions;
  LoadOptions options;
  options.progress = [&](float fraction, std::string_view) { fractions.push_back(fraction); };
  const auto model = Model::Load(TinyCheckpointDir(), options);
  REQUIRE_MESSAGE(model.ok(), model.status().ToString());
  const ModelConfig& c = model.value()->config();
  const tinygen::TinySpec spec = tinygen::TinySpec::FlashTiny();
  CHECK(c.vocab_size == spec.vocab_size);
  CHECK(c.dim == spec.hidden_size);
  CHECK(c.n_layers == spec.num_hidden_layers);
  CHECK(c.n_mtp_layers == 1);
  CHECK(c.compress_ratios == spec.compress_ratios);
  CHECK(model.value()->weight_bytes() > 0);
  REQUIRE_FALSE(fractions.empty());
  CHECK(std::is_sorted(fractions.begin(), fractions.end()));
  CHECK(fractions.back() == 1.0f);
}

TEST_CASE("runtime: Model::Load reports a missing folder, config.json or shard") {
  SUBCASE("missing folder") {
    const std::string dir = TempDir("runtime-gone") + "/no-such-checkpoint";
    ExpectLoadFails(dir, StatusCode::kNotFound, {dir});
  }
  SUBCASE("folder without config.json") {
    const std::string dir = CopyOfTiny("runtime-noconfig");
    fs::remove(dir + "/config.json");
    ExpectLoadFails(dir, StatusCode::kNotFound, {dir + "/config.json"});
  }
  SUBCASE("missing shard") {
    const std::string dir = CopyOfTiny("runtime-noshard");
    fs::remove(dir + "/" + kShard2);
    ExpectLoadFails(dir, StatusCode::kNotFound, {kShard2});
  }
}

TEST_CASE("runtime: Model::Load names the config.json field at fault") {
  struct Case {
    std::string what;
    std::function<void(nlohmann::ordered_json&)> edit;
    std::vector<std::string> needles;
  };
  const std::vector<Case> cases = {
      {"missing field", [](auto& c) { c.erase("hidden_size"); }, {"hidden_size", "missing"}},
      {"missing nested field", [](auto& c) { c["rope_scaling"].erase("factor"); }, {"rope_scaling.factor", "missing"}},
      {"wrong type", [](auto& c) { c["num_attention_heads"] = "four"; }, {"num_attention_heads", "integer"}},
      {"out of range", [](auto& c) { c["vocab_size"] = -5; }, {"vocab_size", "-5"}},
      {"compress_ratios too short", [](auto& c) { c["compress_ratios"].erase(c["compress_ratios"].size() - 1); },
       {"compress_ratios", "6 entries", "7"}},
      {"compress_ratios too long", [](auto& c) { c["compress_ratios"].push_back(0); },
       {"compress_ratios", "8 entries", "7"}},
  };
  SUBCASE("edited fields") {
    for (const Case& c : cases) {
      INFO("case: " << c.what);
      const std::string dir = CopyOfTiny("runtime-config");
      EditConfig(dir, c.edit);
      std::vector<std::string> needles = c.needles;
      needles.push_back("config.json");
      ExpectLoadFails(dir, StatusCode::kInvalidConfig, needles);
    }
  }
  SUBCASE("not JSON") {
    const std::string dir = CopyOfTiny("runtime-config-text");
    WriteFile(dir + "/config.json", "{\"model_type\": \"deepseek_v4\", hidden_size = 256}");
    ExpectLoadFails(dir, StatusCode::kInvalidConfig, {"config.json", "not valid JSON"});
  }
}

TEST_CASE("runtime: Model::Load names what a V4.1 checkpoint lacks, and refuses an unknown family") {
  // The V4.1 golden checkpoint ships a stand-in vocabulary, not tokenizer.json, which Engram's
  // token map is built from.
  const std::string v41 = SharedDir() + "/golden/v41/v41_text/ckpt";
  ExpectLoadFails(v41, StatusCode::kNotFound, {v41 + "/tokenizer.json"});
  const std::string dir = CopyOfTiny("runtime-family");
  EditConfig(dir, [](auto& c) { c["model_type"] = "llama"; });
  ExpectLoadFails(dir, StatusCode::kInvalidConfig, {"config.json", "model_type", "'llama'", "deepseek_v4"});
}

TEST_CASE("runtime: Model::Load names the tensor whose shape disagrees with config.json") {
  struct Case {
    std::string field;
    int value;
    std::vector<std::string> needles;  // the tensor, then its expected and found types
  };
  const std::vector<Case> cases = {
      {"hidden_size", 320, {"'embed.weight'", "expected BF16[512, 320]", "found BF16[512, 256]"}},
      {"q_lora_rank", 256, {"'layers.0.attn.wq_a.weight'", "expected F8_E4M3[256, 256]", "found F8_E4M3[128, 256]"}},
      {"n_routed_experts", 16, {"'layers.0.ffn.gate.weight'", "expected BF16[16, 256]", "found BF16[8, 256]"}},
  };
  for (const Case& c : cases) {
    INFO("field: " << c.field);
    const std::string dir = CopyOfTiny("runtime-shape");
    EditConfig(dir, [&](auto& config) { config[c.field] = c.value; });
    ExpectLoadFails(dir, StatusCode::kCorruptFile, c.needles);
  }
}

TEST_CASE("runtime: Model::Load rejects malformed shards, naming the file and the tensor") {
  const std::string dir = CopyOfTiny("runtime-shard");
  const std::string path1 = dir + "/" + kShard1, path2 = dir + "/" + kShard2;
  SUBCASE("truncated in the data section") {
    // Cut in the middle of the last tensor, so that tensor alone runs past the end.
    Shard shard = Shard::Read(path2);
    const std::string last = shard.Highest();
    shard.data.resize((shard.begin(last) + shard.end(last)) / 2);
    shard.Write();
    ExpectLoadFails(dir, StatusCode::kCorruptFile, {kShard2, "'" + last + "'", "exceed the data section"});
  }
  SUBCASE("header length beyond the file") {
    const Shard shard = Shard::Read(path1);
    const std::string text = shard.header.dump();
    WriteFile(path1, Shard::Image(text, 8 + text.size() + shard.data.size(), shard.data));
    ExpectLoadFails(dir, StatusCode::kCorruptFile, {kShard1, "header length"});
  }
  SUBCASE("malformed header JSON") {
    const Shard shard = Shard::Read(path1);
    std::string text = shard.header.dump();
    text.back() = ',';  // the closing brace becomes a dangling comma
    WriteFile(path1, Shard::Image(text, text.size(), shard.data));
    ExpectLoadFails(dir, StatusCode::kCorruptFile, {kShard1, "malformed JSON"});
  }
  SUBCASE("overlapping tensors") {
    // Move a small tensor so it starts on the last byte of the first tensor in the file.
    Shard shard = Shard::Read(path1);
    const std::string moved = "layers.0.attn_norm.weight", first = shard.Lowest();
    REQUIRE(moved != first);
    const uint64_t size = shard.end(moved) - shard.begin(moved), at = shard.end(first) - 1;
    shard.entry(moved)["data_offsets"] = {at, at + size};
    shard.Write();
    ExpectLoadFails(dir, StatusCode::kCorruptFile, {kShard1, "'" + first + "'", "'" + moved + "'", "overlap"});
  }
}

TEST_CASE("runtime: Model::Load rejects a known tensor stored with another dtype") {
  // The shape is adjusted so the byte size still matches: only the dtype is wrong.
  struct Case {
    std::string tensor, dtype;
    std::vector<int64_t> shape;
    std::vector<std::string> needles;
  };
  const std::vector<Case> cases = {
      {"layers.0.attn.wq_a.weight", "BF16", {128, 128}, {"expected F8_E4M3[128, 256]", "found BF16[128, 128]"}},
      {"layers.0.attn_norm.weight", "F32", {128}, {"expected BF16[256]", "found F32[128]"}},
      {"layers.0.ffn.gate.tid2eid", "I32", {512, 4}, {"expected I64[512, 2]", "found I32[512, 4]"}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.tensor);
    const std::string dir = CopyOfTiny("runtime-dtype");
    Shard shard = ShardOf(dir, c.tensor);
    shard.entry(c.tensor)["dtype"] = c.dtype;
    shard.entry(c.tensor)["shape"] = c.shape;
    shard.Write();
    std::vector<std::string> needles = c.needles;
    needles.push_back("'" + c.tensor + "'");
    ExpectLoadFails(dir, StatusCode::kCorruptFile, needles);
  }
}

TEST_CASE("runtime: Model::Load rejects NaN e8m0 scales and out-of-range hash routing") {
  SUBCASE("NaN scale code 0xff") {
    for (const std::string tensor : {"layers.0.attn.wq_a.scale", "layers.3.ffn.experts.5.w2.scale"}) {
      CAPTURE(tensor);
      const std::string dir = CopyOfTiny("runtime-nan");
      Shard shard = ShardOf(dir, tensor);
      shard.bytes(tensor)[1] = static_cast<char>(0xff);
      shard.Write();
      ExpectLoadFails(dir, StatusCode::kCorruptFile, {"'" + tensor + "'", "NaN", "element 1"});
    }
  }
  SUBCASE("tid2eid entry outside [0, n_experts)") {
    for (const int64_t expert : {int64_t{8}, int64_t{-1}}) {
      CAPTURE(expert);
      const std::string dir = CopyOfTiny("runtime-tid2eid");
      const std::string tensor = "layers.1.ffn.gate.tid2eid";
      Shard shard = ShardOf(dir, tensor);
      // Token 7's second expert (rows of num_experts_per_tok = 2 little-endian int64).
      std::memcpy(shard.bytes(tensor) + (7 * 2 + 1) * sizeof(int64_t), &expert, sizeof(expert));
      shard.Write();
      ExpectLoadFails(dir, StatusCode::kCorruptFile,
                      {"'" + tensor + "'", "token 7", "expert " + std::to_string(expert), "[0, 8)"});
    }
  }
}

TEST_CASE("runtime: a failed load leaves loaded models and their sessions intact") {
  const auto good = Model::Load(TinyCheckpointDir());
  REQUIRE_MESSAGE(good.ok(), good.status().ToString());
  SessionOptions options;
  options.num_threads = 2;
  auto session = Session::Create(good.value(), options);
  REQUIRE(session.ok());
  const std::vector<int32_t> prompt = {0, 17, 99, 250, 3, 511, 42, 8};
  REQUIRE(session.value()->Prefill(prompt).ok());
  const std::vector<float> before(session.value()->logits().begin(), session.value()->logits().end());

  // One corruption found while binding tensors (after the shards are mapped), one while parsing.
  const std::string bad = CopyOfTiny("runtime-bad");
  Shard scale = ShardOf(bad, "layers.2.attn.wq_b.scale");
  scale.bytes("layers.2.attn.wq_b.scale")[0] = static_cast<char>(0xff);
  scale.Write();
  CHECK_FALSE(Model::Load(bad).ok());
  Shard shard = Shard::Read(bad + "/" + kShard2);
  shard.data.resize(shard.data.size() / 2);
  shard.Write();
  CHECK_FALSE(Model::Load(bad).ok());

  Session& s = *session.value();
  CHECK(s.position() == static_cast<int64_t>(prompt.size()));
  CHECK(std::vector<float>(s.logits().begin(), s.logits().end()) == before);
  // The session goes on exactly like one that never saw the failed loads.
  auto fresh = Session::Create(good.value(), options);
  REQUIRE(fresh.ok());
  REQUIRE(fresh.value()->Prefill(prompt).ok());
  REQUIRE(s.Decode(7).ok());
  REQUIRE(fresh.value()->Decode(7).ok());
  CHECK(std::vector<float>(s.logits().begin(), s.logits().end()) ==
        std::vector<float>(fresh.value()->logits().begin(), fresh.value()->logits().end()));
}

}  // namespace
}  // namespace deepseek::testing
