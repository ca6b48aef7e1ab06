// The tiny-checkpoint generator: layout and config identical to the official-format golden
// checkpoints, determinism, sound FP8/MXFP4 encodings and a consistent tokenizer. Files are
// read with a few lines of JSON parsing here, independent of the library's loader.
#include "tinygen/tiny_checkpoint.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/numerics.h"
#include "support/shared_data.h"
#include "tinygen/quantize.h"
#include "tinygen/random.h"
#include "tinygen/tokenizer_builder.h"

namespace deepseek::tinygen {
namespace {

using nlohmann::json;

using testing::ReadFile;

json ReadJson(const std::string& path) { return json::parse(ReadFile(path)); }

struct Tensor {
  std::string dtype;
  std::vector<int64_t> shape;
  std::string file;
  uint64_t begin = 0, end = 0;  // absolute byte range in the file
};

// Every tensor of a checkpoint folder, found through its index and the shards' headers.
std::map<std::string, Tensor> ReadTensors(const std::string& dir) {
  const json index = ReadJson(dir + "/model.safetensors.index.json");
  std::set<std::string> files;
  for (const auto& [name, file] : index["weight_map"].items()) files.insert(file.get<std::string>());
  std::map<std::string, Tensor> tensors;
  for (const std::string& file : files) {
    const std::string bytes = ReadFile(dir + "/" + file);
    REQUIRE(bytes.size() >= 8);
    uint64_t n = 0;
    for (int i = 0; i < 8; ++i) n |= uint64_t{static_cast<uint8_t>(bytes[i])} << (8 * i);
    REQUIRE(8 + n <= bytes.size());
    const json header = json::parse(bytes.substr(8, n));
    for (const auto& [name, t] : header.items()) {
      if (name == "__metadata__") continue;
      CHECK_MESSAGE(index["weight_map"][name] == file, name);
      const uint64_t begin = t["data_offsets"][0], end = t["data_offsets"][1];
      REQUIRE(8 + n + end <= bytes.size());
      tensors[name] = {t["dtype"], t["shape"].get<std::vector<int64_t>>(), file, 8 + n + begin, 8 + n + end};
    }
  }
  CHECK(tensors.size() == index["weight_map"].size());
  return tensors;
}

std::vector<uint8_t> TensorBytes(const std::string& dir, const Tensor& t) {
  std::ifstream f(dir + "/" + t.file, std::ios::binary);
  std::vector<uint8_t> bytes(t.end - t.begin);
  f.seekg(static_cast<std::streamoff>(t.begin));
  f.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(f.good());
  return bytes;
}

std::string Generate(const TinySpec& spec, const std::string& tag) {
  const std::string dir = testing::TempDir(tag);
  WriteTinyCheckpoint(spec, dir);
  return dir;
}

// Same tensors (name, dtype, shape), same shard of each, same config files as the golden one.
void CheckMatchesGolden(const TinySpec& spec, const std::string& golden_name) {
  const std::string golden = testing::SharedDir() + "/golden/v4/" + golden_name + "/ckpt";
  const std::string dir = Generate(spec, golden_name);

  const std::map<std::string, Tensor> ours = ReadTensors(dir), theirs = ReadTensors(golden);
  for (const auto& [name, t] : theirs) {
    const auto it = ours.find(name);
    if (it == ours.end()) {
      FAIL_CHECK("missing tensor " << name);
      continue;
    }
    CHECK_MESSAGE(it->second.dtype == t.dtype, name);
    CHECK_MESSAGE(it->second.shape == t.shape, name);
    CHECK_MESSAGE(it->second.file == t.file, name);
  }
  for (const auto& [name, t] : ours) CHECK_MESSAGE(theirs.count(name) == 1, "extra tensor " << name);
  CHECK(ReadJson(dir + "/model.safetensors.index.json")["metadata"] ==
        ReadJson(golden + "/model.safetensors.index.json")["metadata"]);

  // No seed is recorded in either config, so every field must agree, value and type class.
  for (const char* file : {"config.json", "inference_config.json"}) {
    const json a = ReadJson(dir + "/" + file), b = ReadJson(golden + "/" + file);
    for (const auto& [key, value] : b.items()) CHECK_MESSAGE(a.contains(key), file << ": missing " << key);
    for (const auto& [key, value] : a.items()) {
      CHECK_MESSAGE(b.contains(key), file << ": extra " << key);
      if (b.contains(key)) {
        CHECK_MESSAGE(value == b[key], file << ": " << key << " = " << value << " vs " << b[key]);
      }
    }
  }
}

TEST_CASE("tinygen: FlashTiny has exactly the tensors, shards and config of the golden flash_tiny") {
  CheckMatchesGolden(TinySpec::FlashTiny(), "flash_tiny");
}

TEST_CASE("tinygen: ProTiny has exactly the tensors, shards and config of the golden pro_tiny") {
  CheckMatchesGolden(TinySpec::ProTiny(), "pro_tiny");
}

TEST_CASE("tinygen: the same seed gives byte-identical shards, another seed different ones") {
  TinySpec spec = TinySpec::ProTiny();
  spec.seed = 7;
  const std::string a = Generate(spec, "seed7a"), b = Generate(spec, "seed7b");
  spec.seed = 8;
  const std::string c = Generate(spec, "seed8");
  for (const char* shard : {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}) {
    const std::string sa = ReadFile(a + "/" + shard);
    CHECK(sa == ReadFile(b + "/" + shard));
    CHECK(sa != ReadFile(c + "/" + shard));
  }
  // The layout does not depend on the seed.
  CHECK(ReadFile(a + "/model.safetensors.index.json") == ReadFile(c + "/model.safetensors.index.json"));
}

TEST_CASE("tinygen: the encoders reproduce core/numerics.h rounding exactly") {
  Rng rng(42);
  for (int i = 0; i < 200000; ++i) {
    // Log-uniform magnitudes over the whole e4m3 range, subnormals included.
    const float x = std::ldexp(1.0f + rng.Uniform(), -12 + static_cast<int>(rng.Below(21))) *
                    (rng.Below(2) ? 1.0f : -1.0f);
    const float clamped = std::fmin(std::fmax(x, -448.0f), 448.0f);
    const uint8_t code = EncodeE4m3(clamped);
    REQUIRE_FALSE(num::E4m3IsNan(code));
    REQUIRE(num::E4m3ToFloat(code) == num::RoundE4m3(clamped));
  }
  for (int c = 0; c < 256; ++c) {
    if (num::E4m3IsNan(static_cast<uint8_t>(c))) continue;
    CHECK(EncodeE4m3(num::E4m3ToFloat(static_cast<uint8_t>(c))) == c);
  }
  // e2m1: a fine grid through every tie, and saturation beyond 6.
  for (int k = -1000; k <= 1000; ++k) {
    const float x = static_cast<float>(k) / 128.0f;
    const float expected = num::RoundE2m1(std::fmin(std::fmax(x, -6.0f), 6.0f));
    REQUIRE_MESSAGE(num::E2m1ToFloat(EncodeE2m1(x)) == expected, x);
  }
  CHECK(EncodeE8m0(1.0f) == 127);
  CHECK(EncodeE8m0(0x1p-10f) == 117);
}

TEST_CASE("tinygen: block quantisers store exactly the reference's fake-quantised values") {
  Rng rng(3);
  std::vector<float> x(128 * 160);
  for (float& v : x) v = 0.05f * rng.Normal() * (rng.Below(50) == 0 ? 20.0f : 1.0f);

  // FP8: a full block and a ragged 32-wide edge block of a 128 x 160 matrix.
  std::vector<uint8_t> codes(x.size());
  for (int c0 = 0; c0 < 160; c0 += 128) {
    const int cols = std::min(128, 160 - c0);
    const uint8_t scale = QuantizeFp8Block(x.data() + c0, 160, 128, cols, codes.data() + c0, 160);
    std::vector<float> block;
    for (int r = 0; r < 128; ++r)
      for (int c = 0; c < cols; ++c) block.push_back(x[r * 160 + c0 + c]);
    num::FakeQuantFp8Block(block.data(), static_cast<int>(block.size()));
    for (int r = 0; r < 128; ++r)
      for (int c = 0; c < cols; ++c)
        REQUIRE(num::E4m3ToFloat(codes[r * 160 + c0 + c]) * num::E8m0ToFloat(scale) == block[r * cols + c]);
  }

  // MXFP4: one 160-wide row, five blocks of 32, low nibble = even element.
  std::vector<uint8_t> packed(80), scales(5);
  QuantizeMxfp4Row(x.data(), 160, packed.data(), scales.data());
  std::vector<float> row(x.begin(), x.begin() + 160);
  for (int b = 0; b < 5; ++b) num::FakeQuantFp4Block(row.data() + 32 * b, 32);
  for (int i = 0; i < 160; ++i) {
    const uint8_t nibble = i % 2 == 0 ? packed[i / 2] & 0xf : packed[i / 2] >> 4;
    REQUIRE(num::E2m1ToFloat(nibble) * num::E8m0ToFloat(scales[i / 32]) == row[i]);
  }
}

TEST_CASE("tinygen: generated FP8 and MXFP4 tensors are valid and have plausible magnitudes") {
  const TinySpec spec = TinySpec::FlashTiny();
  const std::string dir = Generate(spec, "values");
  const std::map<std::string, Tensor> tensors = ReadTensors(dir);
  int fp8 = 0, scales = 0;
  for (const auto& [name, t] : tensors) {
    if (t.dtype == "F8_E4M3") {
      ++fp8;
      for (const uint8_t code : TensorBytes(dir, t)) REQUIRE_MESSAGE(!num::E4m3IsNan(code), name);
    }
    if (t.dtype == "F8_E8M0") {
      ++scales;
      for (const uint8_t code : TensorBytes(dir, t)) {
        const float s = num::E8m0ToFloat(code);
        REQUIRE_MESSAGE(std::isfinite(s), name);
        REQUIRE_MESSAGE((s >= 0x1p-30f && s <= 1.0f), name << " scale " << s);
      }
    }
  }
  CHECK(fp8 > 0);
  CHECK(scales > fp8);  // the experts' MXFP4 scales too

  // Dequantised std of an expert's down projection ~ 1/sqrt(fan_in); the gate projection is
  // wider because of its deliberate outlier blocks.
  const auto dequantised_std = [&](const std::string& prefix) {
    const Tensor& w = tensors.at(prefix + ".weight");
    const Tensor& s = tensors.at(prefix + ".scale");
    REQUIRE(w.dtype == "I8");
    const std::vector<uint8_t> packed = TensorBytes(dir, w), scale = TensorBytes(dir, s);
    const int64_t k = w.shape[1] * 2;
    REQUIRE(s.shape[1] == k / 32);
    double sum = 0, sum2 = 0;
    for (size_t i = 0; i < packed.size() * 2; ++i) {
      const uint8_t nibble = i % 2 == 0 ? packed[i / 2] & 0xf : packed[i / 2] >> 4;
      const size_t row = i / static_cast<size_t>(k), col = i % static_cast<size_t>(k);
      const double v = num::E2m1ToFloat(nibble) * num::E8m0ToFloat(scale[row * static_cast<size_t>(k / 32) + col / 32]);
      sum += v;
      sum2 += v * v;
    }
    const double n = static_cast<double>(packed.size() * 2), mean = sum / n;
    return std::sqrt(sum2 / n - mean * mean);
  };
  const double down = dequantised_std("layers.3.ffn.experts.5.w2");
  const double expected_down = 1.0 / std::sqrt(static_cast<double>(spec.moe_intermediate_size));
  CHECK(down > 0.8 * expected_down);
  CHECK(down < 1.25 * expected_down);
  const double gate = dequantised_std("layers.3.ffn.experts.5.w1");
  const double expected_gate = 1.0 / std::sqrt(static_cast<double>(spec.hidden_size));
  CHECK(gate > 1.2 * expected_gate);
  CHECK(gate < 3.0 * expected_gate);

  // Hash routing rows hold distinct experts in range.
  const Tensor& tid2eid = tensors.at("layers.0.ffn.gate.tid2eid");
  const std::vector<uint8_t> ids = TensorBytes(dir, tid2eid);
  REQUIRE(tid2eid.shape == std::vector<int64_t>{spec.vocab_size, spec.num_experts_per_tok});
  for (int64_t r = 0; r < spec.vocab_size; ++r) {
    std::set<int64_t> row;
    for (int k = 0; k < spec.num_experts_per_tok; ++k) {
      int64_t e;
      std::memcpy(&e, ids.data() + (r * spec.num_experts_per_tok + k) * 8, 8);
      REQUIRE((e >= 0 && e < spec.n_routed_experts));
      row.insert(e);
    }
    REQUIRE(row.size() == static_cast<size_t>(spec.num_experts_per_tok));
  }

  // The MTP block's copies of the embedding and head are the originals, byte for byte.
  CHECK(TensorBytes(dir, tensors.at("mtp.0.emb.tok_emb.weight")) == TensorBytes(dir, tensors.at("embed.weight")));
  CHECK(TensorBytes(dir, tensors.at("mtp.0.head.weight")) == TensorBytes(dir, tensors.at("head.weight")));
}

// Ids 0 .. vocab_size-1 each appear exactly once over vocab and added tokens (ids 0-2, which
// are in both, count once), BOS/EOS are 0/1 and every merge is well-formed.
void CheckTokenizer(const json& t, int64_t vocab_size) {
  CHECK(t["model"]["type"] == "BPE");
  CHECK(t["decoder"]["type"] == "ByteLevel");
  CHECK(t["pre_tokenizer"]["type"] == "Sequence");
  const json& vocab = t["model"]["vocab"];
  std::map<int64_t, std::string> by_id;
  for (const auto& [text, id] : vocab.items()) CHECK(by_id.emplace(id.get<int64_t>(), text).second);
  std::set<std::string> contents;
  for (const json& a : t["added_tokens"]) {
    const int64_t id = a["id"];
    const std::string content = a["content"];
    CHECK(contents.insert(content).second);
    if (id < 3) {
      CHECK(by_id.at(id) == content);
    } else {
      CHECK(by_id.emplace(id, content).second);
    }
  }
  REQUIRE(static_cast<int64_t>(by_id.size()) == vocab_size);
  CHECK(by_id.begin()->first == 0);
  CHECK(by_id.rbegin()->first == vocab_size - 1);
  CHECK(by_id.at(0) == "<｜begin▁of▁sentence｜>");
  CHECK(by_id.at(1) == "<｜end▁of▁sentence｜>");
  CHECK(by_id.at(2) == "<｜▁pad▁｜>");
  CHECK(by_id.at(vocab_size - 5) == "<｜User｜>");
  CHECK(by_id.at(vocab_size - 4) == "<｜Assistant｜>");
  CHECK(by_id.at(vocab_size - 3) == "<think>");
  CHECK(by_id.at(vocab_size - 2) == "</think>");
  CHECK(by_id.at(vocab_size - 1) == "｜DSML｜");
  CHECK(by_id.at(3) == "!");
  CHECK(by_id.at(3 + 255) == "\xc5\x83");  // U+0143, the last byte character
  for (const json& merge : t["model"]["merges"]) {
    const std::string m = merge;
    const size_t space = m.find(' ');
    REQUIRE(space != std::string::npos);
    const std::string left = m.substr(0, space), right = m.substr(space + 1);
    CHECK(vocab.contains(left));
    CHECK(vocab.contains(right));
    CHECK(vocab.contains(left + right));
  }
}

TEST_CASE("tinygen: tokenizer.json is a byte-level BPE with exactly vocab_size ids") {
  const std::string dir = Generate(TinySpec::FlashTiny(), "tokenizer");
  const json t = ReadJson(dir + "/tokenizer.json");
  CheckTokenizer(t, 512);
  CHECK(t["model"]["merges"].size() == 512 - kMinTokenizerVocab);  // the text has more merges than room
  const json config = ReadJson(dir + "/tokenizer_config.json");
  CHECK(config["bos_token"]["content"] == "<｜begin▁of▁sentence｜>");
  CHECK(config["add_bos_token"] == false);

  // The real vocabulary size: the text runs out of merges and placeholders fill the rest.
  const json big = json::parse(BuildTokenizerJson(129280));
  CheckTokenizer(big, 129280);
  CHECK(big["added_tokens"][3]["content"] == "<｜place▁holder▁no▁0｜>");
  // The smallest size that fits: no merges at all.
  CheckTokenizer(json::parse(BuildTokenizerJson(kMinTokenizerVocab)), kMinTokenizerVocab);
}

TEST_CASE("tinygen: bad specs and unwritable folders are reported as errors") {
  const auto expect_code = [](const TinySpec& spec, const std::string& dir, StatusCode code) {
    try {
      WriteTinyCheckpoint(spec, dir);
      FAIL_CHECK("no error");
    } catch (const Error& e) {
      CHECK_MESSAGE(e.code() == code, e.what());
    }
  };
  const std::string dir = testing::TempDir("errors");
  TinySpec small_vocab = TinySpec::FlashTiny();
  small_vocab.vocab_size = 200;
  expect_code(small_vocab, dir + "/a", StatusCode::kInvalidArgument);
  TinySpec ratios = TinySpec::FlashTiny();
  ratios.compress_ratios.pop_back();
  expect_code(ratios, dir + "/b", StatusCode::kInvalidArgument);
  TinySpec fp8_experts = TinySpec::FlashTiny();
  fp8_experts.expert_dtype = "fp8";
  expect_code(fp8_experts, dir + "/c", StatusCode::kUnsupported);

  std::ofstream(dir + "/file") << "not a folder";
  expect_code(TinySpec::FlashTiny(), dir + "/file/sub", StatusCode::kIoError);
}

}  // namespace
}  // namespace deepseek::tinygen
