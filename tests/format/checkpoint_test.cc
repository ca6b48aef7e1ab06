// Checkpoint folders: the three golden checkpoints, hand-built single-file and sharded folders,
// and the index and shard inconsistencies Open() and Require() must report.
#include "format/checkpoint.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>

#include "format/safetensors_builder.h"
#include "support/shared_data.h"

namespace deepseek::format {
namespace {

using testing::ExpectError;
using testing::SafetensorsBuilder;
using testing::WriteFile;

// model.safetensors.index.json with the given weight_map entries (tensor, shard), in order.
void WriteIndex(const std::string& dir,
                const std::vector<std::pair<std::string, std::string>>& map) {
  std::string text = R"({"metadata": {"total_size": 0}, "weight_map": {)";
  for (size_t i = 0; i < map.size(); ++i) {
    if (i > 0) text += ", ";
    text += "\"" + map[i].first + "\": \"" + map[i].second + "\"";
  }
  WriteFile(dir + "/model.safetensors.index.json", text + "}}");
}

// A two-shard folder: s1 holds "a" (F32[2]) and "b" (BF16[4]), s2 holds "c" (F8_E4M3[4, 2]).
std::string TwoShardDir(const std::string& tag) {
  const std::string dir = testing::TempDir(tag);
  WriteFile(dir + "/s1.safetensors",
            SafetensorsBuilder().Add("a", DType::kF32, {2}).Add("b", DType::kBF16, {4}).Image());
  WriteFile(dir + "/s2.safetensors", SafetensorsBuilder().Add("c", DType::kF8E4M3, {4, 2}).Image());
  return dir;
}

struct GoldenCase {
  const char* name;
  size_t tensors;
  size_t total_bytes;  // the index's metadata.total_size
  int64_t dim;
  std::vector<int64_t> ratio_layer2_ape;
};

TEST_CASE("golden checkpoints open with the documented tensor layout") {
  const GoldenCase cases[] = {
      {"flash_tiny", 598, 17028780, 256, {8, 512}},
      {"pro_tiny", 426, 7294412, 128, {4, 1024}},
      {"flash_r128", 598, 17520300, 256, {128, 512}},
  };
  for (const GoldenCase& c : cases) {
    CAPTURE(c.name);
    const std::string dir = testing::SharedDir() + "/golden/v4/" + c.name + "/ckpt";
    const auto ckpt = Checkpoint::Open(dir);
    CHECK(ckpt->dir() == dir);
    const std::vector<std::string> names = ckpt->TensorNames();
    CHECK(names.size() == c.tensors);
    CHECK(std::is_sorted(names.begin(), names.end()));
    CHECK(ckpt->total_bytes() == c.total_bytes);

    const int64_t d = c.dim;
    CHECK(ckpt->Require("embed.weight", DType::kBF16, {512, d})
              .file->ends_with("model-00001-of-00002.safetensors"));
    CHECK(ckpt->Require("head.weight", DType::kBF16, {512, d})
              .file->ends_with("model-00002-of-00002.safetensors"));
    ckpt->Require("norm.weight", DType::kBF16, {d});
    ckpt->Require("hc_head_fn", DType::kF32, {4, 4 * d});
    ckpt->Require("hc_head_scale", DType::kF32, {1});
    // MXFP4 routed experts: I8 holding two values per byte, one E8M0 scale per 32 values.
    ckpt->Require("layers.1.ffn.experts.0.w1.weight", DType::kI8, {128, d / 2});
    ckpt->Require("layers.1.ffn.experts.0.w1.scale", DType::kF8E8M0, {128, d / 32});
    // FP8 dense weights with one E8M0 scale per 128x128 block.
    ckpt->Require("layers.0.attn.wkv.weight", DType::kF8E4M3, {512, d});
    ckpt->Require("layers.0.attn.wkv.scale", DType::kF8E8M0, {4, d / 128});
    ckpt->Require("mtp.0.e_proj.weight", DType::kF8E4M3, {d, d});
    ckpt->Require("layers.0.ffn.gate.tid2eid", DType::kI64, {512, 2});
    ckpt->Require("layers.3.ffn.gate.bias", DType::kF32, {8});
    ckpt->Require("layers.2.attn.compressor.ape", DType::kF32, c.ratio_layer2_ape);
    CHECK(ckpt->Find("layers.99.attn.wkv.weight") == nullptr);
  }
}

TEST_CASE("a folder with a single model.safetensors needs no index") {
  const std::string dir = testing::TempDir("ckpt-single");
  WriteFile(dir + "/model.safetensors",
            SafetensorsBuilder().Add("w", DType::kF16, {3, 2}).Add("v", DType::kU8, {5}).Image());
  const auto ckpt = Checkpoint::Open(dir);
  CHECK(ckpt->TensorNames() == std::vector<std::string>{"v", "w"});
  CHECK(ckpt->total_bytes() == 12 + 5);
  const TensorInfo& w = ckpt->Require("w", DType::kF16, {3, 2});
  CHECK(*w.file == dir + "/model.safetensors");
  CHECK(w.data[0] == testing::DataByte(0));
  CHECK(ckpt->Require("v", DType::kU8, {5}).data == w.data + 12);
}

TEST_CASE("tensors a shard holds beyond the index are still found") {
  const std::string dir = TwoShardDir("ckpt-extra");
  WriteIndex(dir, {{"a", "s1.safetensors"}, {"c", "s2.safetensors"}});
  const auto ckpt = Checkpoint::Open(dir);
  CHECK(ckpt->TensorNames() == std::vector<std::string>{"a", "b", "c"});
  const TensorInfo* b = ckpt->Find("b");
  REQUIRE(b);
  CHECK(*b->file == dir + "/s1.safetensors");
  CHECK(ckpt->total_bytes() == 8 + 8 + 8);
}

TEST_CASE("Require reports missing tensors and type mismatches") {
  const std::string dir = TwoShardDir("ckpt-require");
  WriteIndex(dir, {{"a", "s1.safetensors"}, {"b", "s1.safetensors"}, {"c", "s2.safetensors"}});
  const auto ckpt = Checkpoint::Open(dir);
  ExpectError(
      [&] {
        ckpt->Require("layers.0.attn.wkv.weight", DType::kF8E4M3, {512, 256});
      },
      StatusCode::kNotFound, {"checkpoint " + dir + ": missing tensor 'layers.0.attn.wkv.weight'"});
  ExpectError(
      [&] {
        ckpt->Require("c", DType::kBF16, {4, 2});
      },
      StatusCode::kCorruptFile,
      {"tensor 'c' in " + dir + "/s2.safetensors: expected BF16[4, 2], found F8_E4M3[4, 2]"});
  ExpectError(
      [&] {
        ckpt->Require("c", DType::kF8E4M3, {2, 4});
      },
      StatusCode::kCorruptFile, {"expected F8_E4M3[2, 4], found F8_E4M3[4, 2]"});
  ExpectError(
      [&] {
        ckpt->Require("a", DType::kF32, {2, 1});
      },
      StatusCode::kCorruptFile, {"expected F32[2, 1], found F32[2]"});
}

TEST_CASE("missing folders, indexes and shards are kNotFound naming the path") {
  const std::string root = testing::TempDir("ckpt-missing");
  ExpectError([&] { Checkpoint::Open(root + "/absent"); }, StatusCode::kNotFound,
              {root + "/absent"});
  ExpectError([&] { Checkpoint::Open(root); }, StatusCode::kNotFound,
              {root, "model.safetensors.index.json", "model.safetensors"});

  const std::string dir = TwoShardDir("ckpt-noshard");
  WriteIndex(dir, {{"a", "s1.safetensors"}, {"z", "s3.safetensors"}});
  ExpectError([&] { Checkpoint::Open(dir); }, StatusCode::kNotFound, {dir + "/s3.safetensors"});
}

TEST_CASE("inconsistent indexes and shards are kCorruptFile") {
  SUBCASE("index names a tensor its shard lacks") {
    const std::string dir = TwoShardDir("ckpt-lacks");
    WriteIndex(dir, {{"a", "s1.safetensors"}, {"ghost", "s2.safetensors"}});
    ExpectError([&] { Checkpoint::Open(dir); }, StatusCode::kCorruptFile,
                {dir + "/model.safetensors.index.json",
                 "tensor 'ghost' is mapped to s2.safetensors", "does not contain it"});
  }
  SUBCASE("index maps a tensor to the wrong shard") {
    const std::string dir = TwoShardDir("ckpt-wrong");
    WriteIndex(dir, {{"a", "s2.safetensors"}, {"b", "s1.safetensors"}});
    ExpectError([&] { Checkpoint::Open(dir); }, StatusCode::kCorruptFile,
                {"tensor 'a' is mapped to s2.safetensors", "it is in " + dir + "/s1.safetensors"});
  }
  SUBCASE("a tensor held by two shards") {
    const std::string dir = TwoShardDir("ckpt-dup");
    WriteFile(dir + "/s2.safetensors", SafetensorsBuilder().Add("b", DType::kBF16, {4}).Image());
    WriteIndex(dir, {{"a", "s1.safetensors"}, {"b", "s2.safetensors"}});
    ExpectError([&] { Checkpoint::Open(dir); }, StatusCode::kCorruptFile,
                {"checkpoint " + dir, "tensor 'b' appears in both", dir + "/s1.safetensors",
                 dir + "/s2.safetensors"});
  }
  SUBCASE("a truncated shard") {
    const std::string dir = TwoShardDir("ckpt-cut");
    const std::string image = SafetensorsBuilder().Add("c", DType::kF8E4M3, {4, 2}).Image();
    WriteFile(dir + "/s2.safetensors", image.substr(0, image.size() - 1));
    WriteIndex(dir, {{"a", "s1.safetensors"}, {"c", "s2.safetensors"}});
    ExpectError([&] { Checkpoint::Open(dir); }, StatusCode::kCorruptFile,
                {dir + "/s2.safetensors", "tensor 'c'", "exceed the data section (7 bytes)"});
  }
  SUBCASE("malformed index JSON") {
    const std::string dir = TwoShardDir("ckpt-json");
    WriteFile(dir + "/model.safetensors.index.json", R"({"weight_map": {"a": "s1.safetensors",)");
    ExpectError([&] { Checkpoint::Open(dir); }, StatusCode::kCorruptFile,
                {dir + "/model.safetensors.index.json", "malformed JSON"});
  }
  SUBCASE("index without a usable weight_map") {
    const std::string dir = TwoShardDir("ckpt-nomap");
    for (const char* text :
         {R"({"metadata": {}})", R"({"weight_map": ["a"]})", R"({"weight_map": {}})"}) {
      CAPTURE(text);
      WriteFile(dir + "/model.safetensors.index.json", text);
      ExpectError([&] { Checkpoint::Open(dir); }, StatusCode::kCorruptFile,
                  {dir + "/model.safetensors.index.json", "weight_map"});
    }
    WriteFile(dir + "/model.safetensors.index.json", R"({"weight_map": {"a": 1}})");
    ExpectError([&] { Checkpoint::Open(dir); }, StatusCode::kCorruptFile,
                {"tensor 'a'", "not a string"});
  }
  SUBCASE("shard names that leave the folder") {
    const std::string dir = TwoShardDir("ckpt-escape");
    for (const char* shard : {"../s1.safetensors", "sub/s1.safetensors", "/etc/passwd", "..", ""}) {
      CAPTURE(shard);
      WriteIndex(dir, {{"a", shard}});
      ExpectError([&] { Checkpoint::Open(dir); }, StatusCode::kCorruptFile,
                  {"tensor 'a'", "not a plain file name"});
    }
  }
}

}  // namespace
}  // namespace deepseek::format
