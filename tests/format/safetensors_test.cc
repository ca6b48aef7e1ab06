// Safetensors parsing: the golden files, hand-built valid files, and every malformed header the
// parser must reject with kCorruptFile and a message naming the file and tensor.
#include "format/safetensors.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "format/safetensors_builder.h"
#include "support/shared_data.h"

namespace deepseek::format {
namespace {

using testing::DataByte;
using testing::ExpectError;
using testing::SafetensorsBuilder;
using testing::SafetensorsImage;

const std::string kLabel = "bad.safetensors";

std::vector<TensorInfo> Parse(const std::string& image) {
  return ParseSafetensors(reinterpret_cast<const uint8_t*>(image.data()), image.size(), &kLabel);
}

// The image must be rejected as corrupt with a message naming the file and every needle.
void ExpectCorrupt(const std::string& image, std::vector<std::string> needles) {
  needles.push_back(kLabel);
  ExpectError([&] { Parse(image); }, StatusCode::kCorruptFile, needles);
}

// Bytes [offset, offset + n) of a file, read without the library.
std::string ReadBytes(const std::string& path, size_t offset, size_t n) {
  std::ifstream in(path, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(offset));
  std::string bytes(n, '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(n));
  REQUIRE(in.good());
  return bytes;
}

TEST_CASE("dtype names and sizes use the safetensors spelling") {
  CHECK(std::string(DTypeName(DType::kF8E4M3)) == "F8_E4M3");
  CHECK(std::string(DTypeName(DType::kF8E8M0)) == "F8_E8M0");
  CHECK(std::string(DTypeName(DType::kBF16)) == "BF16");
  CHECK(std::string(DTypeName(DType::kBool)) == "BOOL");
  CHECK(DTypeSize(DType::kF8E5M2) == 1);
  CHECK(DTypeSize(DType::kI16) == 2);
  CHECK(DTypeSize(DType::kF16) == 2);
  CHECK(DTypeSize(DType::kI32) == 4);
  CHECK(DTypeSize(DType::kF64) == 8);
  CHECK(DTypeSize(DType::kI64) == 8);
  CHECK(DescribeType(DType::kF8E4M3, {512, 256}) == "F8_E4M3[512, 256]");
  CHECK(DescribeType(DType::kF32, {}) == "F32[]");
}

TEST_CASE("a hand-built file maps its tensors in place") {
  const std::string path = testing::TempDir("st") + "/small.safetensors";
  SafetensorsBuilder b;
  b.Metadata("format", "pt")
      .Add("a", DType::kF32, {2, 3})   // bytes [0, 24)
      .Add("b", DType::kBF16, {4})     // bytes [24, 32)
      .Add("scalar", DType::kI64, {})  // bytes [32, 40)
      .Add("empty", DType::kF8E4M3, {0, 5});
  testing::WriteFile(path, b.Image());

  const SafetensorsFile f = SafetensorsFile::Open(path);
  CHECK(f.path() == path);
  CHECK(f.tensors().size() == 4);
  CHECK(f.metadata().at("format") == "pt");
  CHECK(f.Find("missing") == nullptr);

  const TensorInfo* a = f.Find("a");
  const TensorInfo* bt = f.Find("b");
  const TensorInfo* scalar = f.Find("scalar");
  const TensorInfo* empty = f.Find("empty");
  REQUIRE(a);
  REQUIRE(bt);
  REQUIRE(scalar);
  REQUIRE(empty);
  CHECK(a->numel() == 6);
  CHECK(a->nbytes == 24);
  CHECK(bt->dtype == DType::kBF16);
  CHECK(bt->shape == std::vector<int64_t>{4});
  CHECK(bt->Describe() == "b BF16[4] in " + path);
  CHECK(scalar->numel() == 1);
  CHECK(scalar->nbytes == 8);
  CHECK(empty->numel() == 0);
  CHECK(empty->nbytes == 0);
  // Zero copy: consecutive tensors sit back to back in one mapping, holding the written bytes.
  CHECK(bt->data == a->data + 24);
  CHECK(scalar->data == a->data + 32);
  CHECK(a->data[0] == DataByte(0));
  CHECK(bt->data[0] == DataByte(24));
  CHECK(scalar->data[7] == DataByte(39));
  CHECK(a->file == &f.path());
}

TEST_CASE("gaps between tensors and trailing bytes are tolerated") {
  SafetensorsBuilder b;
  b.Add("first", DType::kU8, {3}).Pad(5).Add("second", DType::kI16, {2}).Pad(4);
  const std::string image = b.Image();
  const std::vector<TensorInfo> tensors = Parse(image);
  REQUIRE(tensors.size() == 2);
  const TensorInfo& second = tensors[1];
  CHECK(second.name == "second");
  CHECK(second.data[0] == DataByte(8));
  CHECK(second.file == &kLabel);
}

TEST_CASE("the parser works without a file label and without a metadata sink") {
  const std::string image =
      SafetensorsBuilder().Metadata("k", "v").Add("x", DType::kI8, {2}).Image();
  const auto tensors =
      ParseSafetensors(reinterpret_cast<const uint8_t*>(image.data()), image.size(), nullptr);
  REQUIRE(tensors.size() == 1);
  CHECK(tensors[0].file == nullptr);
  CHECK(tensors[0].Describe() == "x I8[2]");
}

TEST_CASE("golden checkpoint shards expose the documented tensors, zero copy") {
  const std::string path =
      testing::SharedDir() + "/golden/v4/flash_tiny/ckpt/model-00001-of-00002.safetensors";
  const SafetensorsFile f = SafetensorsFile::Open(path);
  CHECK(f.tensors().size() == 247);
  CHECK(f.metadata().at("format") == "pt");

  const TensorInfo* w1 = f.Find("layers.1.ffn.experts.0.w1.weight");
  REQUIRE(w1);
  CHECK(w1->dtype == DType::kI8);  // packed MXFP4: two e2m1 values per byte
  CHECK(w1->shape == std::vector<int64_t>{128, 128});
  CHECK(w1->nbytes == 128 * 128);
  const TensorInfo* scale = f.Find("layers.1.ffn.experts.0.w1.scale");
  REQUIRE(scale);
  CHECK(scale->Describe() == "layers.1.ffn.experts.0.w1.scale F8_E8M0[128, 8] in " + path);
  const TensorInfo* wkv = f.Find("layers.0.attn.wkv.weight");
  REQUIRE(wkv);
  CHECK(DescribeType(wkv->dtype, wkv->shape) == "F8_E4M3[512, 256]");
  const TensorInfo* tid2eid = f.Find("layers.0.ffn.gate.tid2eid");
  REQUIRE(tid2eid);
  CHECK(DescribeType(tid2eid->dtype, tid2eid->shape) == "I64[512, 2]");

  // The header is 24680 bytes and w1 spans data_offsets [3967586, 3983970]: its view must hold
  // exactly those file bytes.
  const std::string on_disk = ReadBytes(path, 8 + 24680 + 3967586, w1->nbytes);
  CHECK(std::memcmp(w1->data, on_disk.data(), w1->nbytes) == 0);
  CHECK(f.Find("embed.weight")->data == w1->data - 3967586);
}

TEST_CASE("golden run files hold finite logits") {
  const std::pair<const char*, int64_t> cases[] = {
      {"flash_tiny", 25}, {"pro_tiny", 25}, {"flash_r128", 13}};
  for (const auto& [name, calls] : cases) {
    CAPTURE(name);
    const SafetensorsFile f =
        SafetensorsFile::Open(testing::SharedDir() + "/golden/v4/" + name + "/main.safetensors");
    const TensorInfo* logits = f.Find("logits");
    REQUIRE(logits);
    CHECK(logits->dtype == DType::kF32);
    CHECK(logits->shape == std::vector<int64_t>{calls, 512});
    std::vector<float> values(static_cast<size_t>(logits->numel()));
    std::memcpy(values.data(), logits->data, logits->nbytes);
    int finite = 0, nonzero = 0;
    for (float v : values) {
      finite += std::isfinite(v);
      nonzero += v != 0.0f;
    }
    CHECK(finite == logits->numel());
    CHECK(nonzero > logits->numel() / 2);
  }
}

TEST_CASE("missing and truncated files are reported with their path") {
  const std::string dir = testing::TempDir("st-bad");
  ExpectError([&] { SafetensorsFile::Open(dir + "/nope.safetensors"); }, StatusCode::kNotFound,
              {dir + "/nope.safetensors"});

  // Cut inside the data section: the last tensor's range now runs past the end.
  SafetensorsBuilder b;
  b.Add("head", DType::kF32, {4}).Add("tail", DType::kF32, {4});
  std::string image = b.Image();
  image.resize(image.size() - 3);
  const std::string path = testing::WriteFile(dir + "/cut.safetensors", image);
  ExpectError([&] { SafetensorsFile::Open(path); }, StatusCode::kCorruptFile,
              {path, "tensor 'tail'", "data_offsets [16, 32] exceed the data section (29 bytes)"});

  // Shorter than the length prefix itself.
  const std::string tiny = testing::WriteFile(dir + "/tiny.safetensors", "abc");
  ExpectError([&] { SafetensorsFile::Open(tiny); }, StatusCode::kCorruptFile, {tiny, "3 bytes"});
}

TEST_CASE("an absurd header length is refused before parsing") {
  // A sparse 200 MB file claiming a 150 MB header: plausible for the file, not for a header.
  const std::string path = testing::TempDir("st-huge") + "/huge.safetensors";
  std::string prefix(8, '\0');
  const uint64_t header = 150u << 20;
  for (int i = 0; i < 8; ++i) prefix[i] = static_cast<char>(header >> (8 * i));
  testing::WriteFile(path, prefix);
  std::filesystem::resize_file(path, 200u << 20);
  ExpectError([&] { SafetensorsFile::Open(path); }, StatusCode::kCorruptFile,
              {path, "header length 157286400 exceeds the limit"});
}

TEST_CASE("malformed headers are rejected as corrupt") {
  SUBCASE("header length beyond the file") {
    std::string image = SafetensorsImage("{}", 0);
    image[0] = 100;
    ExpectCorrupt(image, {"header length 100 does not fit in the file (10 bytes)"});
    image[7] = static_cast<char>(0x80);  // 2^63 + 100: must not wrap any size arithmetic
    ExpectCorrupt(image, {"does not fit in the file"});
  }
  SUBCASE("malformed JSON") {
    ExpectCorrupt(SafetensorsImage("{\"w\": {\"dtype\": \"F32\",", 0), {"malformed JSON"});
    ExpectCorrupt(SafetensorsImage("", 0), {"malformed JSON"});
  }
  SUBCASE("JSON that is not an object") {
    ExpectCorrupt(SafetensorsImage("[1, 2, 3]", 0), {"expected a JSON object, found array"});
  }
  SUBCASE("metadata that is not a string map") {
    ExpectCorrupt(SafetensorsImage("{\"__metadata__\": {\"format\": 1}}", 0),
                  {"__metadata__", "'format'"});
    ExpectCorrupt(SafetensorsImage("{\"__metadata__\": \"pt\"}", 0), {"__metadata__"});
  }
  SUBCASE("an entry that is not an object") {
    ExpectCorrupt(SafetensorsBuilder().AddRaw("w", "5").Image(),
                  {"tensor 'w'", "not a JSON object"});
  }
  SUBCASE("unknown or missing dtype") {
    ExpectCorrupt(SafetensorsBuilder().AddAt("w", "F7", "[2]", 0, 2).Pad(2).Image(),
                  {"tensor 'w'", "unknown dtype \"F7\""});
    ExpectCorrupt(SafetensorsBuilder().AddAt("w", "f32", "[1]", 0, 4).Pad(4).Image(),
                  {"tensor 'w'", "unknown dtype"});
    ExpectCorrupt(SafetensorsBuilder()
                      .AddRaw("w", R"({"shape": [1], "data_offsets": [0, 4]})")
                      .Pad(4)
                      .Image(),
                  {"tensor 'w'", "\"dtype\" is missing"});
  }
  SUBCASE("shapes that are not arrays of non-negative integers") {
    for (const char* shape : {"[-1, 2]", "[2.5]", "3", "[\"2\"]", "[[2]]", "null"}) {
      CAPTURE(shape);
      ExpectCorrupt(SafetensorsBuilder().AddAt("w", "F32", shape, 0, 8).Pad(8).Image(),
                    {"tensor 'w'", "\"shape\" must be an array of non-negative integers"});
    }
    ExpectCorrupt(SafetensorsBuilder()
                      .AddRaw("w", R"({"dtype": "F32", "data_offsets": [0, 4]})")
                      .Pad(4)
                      .Image(),
                  {"tensor 'w'", "\"shape\"", "found nothing"});
  }
  SUBCASE("shapes whose size overflows") {
    ExpectCorrupt(
        SafetensorsBuilder().AddAt("w", "F32", "[4294967296, 4294967296, 4]", 0, 0).Image(),
        {"tensor 'w'", "too large"});
    ExpectCorrupt(SafetensorsBuilder().AddAt("w", "F64", "[4611686018427387904]", 0, 0).Image(),
                  {"tensor 'w'", "too large"});
    ExpectCorrupt(SafetensorsBuilder().AddAt("w", "U8", "[18446744073709551615]", 0, 0).Image(),
                  {"tensor 'w'", "non-negative integers"});
  }
  SUBCASE("shape disagreeing with the byte range") {
    ExpectCorrupt(SafetensorsBuilder().AddAt("w", "F32", "[3]", 0, 8).Pad(8).Image(),
                  {"tensor 'w'", "F32[3] needs 12 bytes but data_offsets [0, 8] hold 8"});
  }
  SUBCASE("offsets out of range or malformed") {
    ExpectCorrupt(SafetensorsBuilder().AddAt("w", "U8", "[10]", 10, 99999).Pad(4096).Image(),
                  {"tensor 'w'", "data_offsets [10, 99999] exceed the data section (4096 bytes)"});
    ExpectCorrupt(SafetensorsBuilder().AddAt("w", "U8", "[4]", 8, 4).Pad(16).Image(),
                  {"tensor 'w'", "data_offsets [8, 4] end before they begin"});
    ExpectCorrupt(SafetensorsBuilder()
                      .AddRaw("w", R"({"dtype": "U8", "shape": [4], "data_offsets": [0]})")
                      .Pad(4)
                      .Image(),
                  {"tensor 'w'", "exactly [begin, end]"});
    ExpectCorrupt(SafetensorsBuilder()
                      .AddRaw("w", R"({"dtype": "U8", "shape": [4], "data_offsets": [0, -4]})")
                      .Pad(4)
                      .Image(),
                  {"tensor 'w'", "\"data_offsets\" must be an array"});
  }
  SUBCASE("overlapping tensors") {
    ExpectCorrupt(SafetensorsBuilder()
                      .AddAt("a", "F32", "[2]", 0, 8)
                      .AddAt("b", "F32", "[2]", 4, 12)
                      .Pad(12)
                      .Image(),
                  {"tensors 'a' and 'b' overlap"});
    // Same range twice, declared in the opposite name order.
    ExpectCorrupt(SafetensorsBuilder()
                      .AddAt("z", "U8", "[4]", 0, 4)
                      .AddAt("y", "I8", "[4]", 0, 4)
                      .Pad(4)
                      .Image(),
                  {"overlap"});
  }
  SUBCASE("a tensor named twice") {
    ExpectCorrupt(SafetensorsBuilder()
                      .AddAt("w", "U8", "[4]", 0, 4)
                      .AddAt("w", "U8", "[4]", 4, 8)
                      .Pad(8)
                      .Image(),
                  {"key \"w\" appears twice"});
  }
}

}  // namespace
}  // namespace deepseek::format
