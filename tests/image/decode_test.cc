// PNG and JPEG decoding (image/decode.h): the golden image.png to the reference's pixels, and
// files of every colour type (made with Pillow 9.4) to what Pillow's convert("RGB") gives, byte
// for byte; truncated, corrupt, oversized and foreign files refused with the file's name.
#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "format/safetensors.h"
#include "image/decode.h"
#include "support/shared_data.h"

namespace deepseek::image {
namespace {

std::string DataDir() { return std::string(DS_TEST_SOURCE_DIR) + "/image/data/"; }

std::vector<uint8_t> Bytes(const std::string& path) {
  const std::string s = testing::ReadFile(path);
  return {s.begin(), s.end()};
}

uint64_t Fnv1a(const std::vector<uint8_t>& bytes) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (uint8_t b : bytes) h = (h ^ b) * 0x100000001b3ULL;
  return h;
}

TEST_CASE("image decode: the golden PNG gives the reference's pixels") {
  const std::string dir = testing::SharedDir() + "/golden/v41/v41_image";  // image.png lies beside the runs
  const RgbImage image = LoadImageFile(dir + "/image.png");
  const auto run = format::SafetensorsFile::Open(dir + "/main_fixed.safetensors");
  const format::TensorInfo* want = run.Find("image.rgb8");
  REQUIRE(want != nullptr);
  CHECK(image.height == want->shape[0]);
  CHECK(image.width == want->shape[1]);
  REQUIRE(image.rgb.size() == want->nbytes);
  CHECK(std::memcmp(image.rgb.data(), want->data, want->nbytes) == 0);
}

TEST_CASE("image decode: every colour type as Pillow converts it to RGB") {
  struct Case {
    const char* file;
    uint64_t fnv;  // of Pillow's Image.open(file).convert("RGB").tobytes()
  };
  for (const Case& c : std::vector<Case>{{"rgba.png", 0xb92912504dbe3650ULL},        // alpha dropped
                                         {"alpha.png", 0xb92912504dbe3650ULL},       // not composited
                                         {"gray_alpha.png", 0x50ecc152abefb87eULL},  // grey replicated
                                         {"palette.png", 0xd59dc06094daaeaeULL},     // transparency ignored
                                         {"bilevel.png", 0x91e26f35c4effe37ULL},     // 1 bit to 0 / 255
                                         {"rgb16.png", 0x751b47e4a7f39c59ULL},       // high bytes
                                         {"rgb.jpg", 0x05a242fede79447eULL},
                                         {"gray.jpg", 0x3597f8271de49b58ULL},
                                         {"progressive.jpg", 0xc4dee4f38aaa6fc1ULL}}) {
    CAPTURE(c.file);
    const RgbImage image = LoadImageFile(DataDir() + c.file);
    CHECK(image.width == 23);
    CHECK(image.height == 17);
    CHECK(Fnv1a(image.rgb) == c.fnv);
  }
}

void ExpectRefused(const std::vector<uint8_t>& bytes, const std::string& needle) {
  try {
    DecodeImage(bytes, "upload.bin");
    FAIL("decoded: " << needle);
  } catch (const Error& e) {
    CHECK(e.code() == StatusCode::kInvalidArgument);
    const std::string what = e.what();
    CHECK_MESSAGE(what.find("upload.bin") != std::string::npos, what);
    CHECK_MESSAGE(what.find(needle) != std::string::npos, what << " lacks " << needle);
  }
}

TEST_CASE("image decode: foreign, truncated, corrupt and oversized files are refused by name") {
  ExpectRefused({'G', 'I', 'F', '8', '9', 'a', 0, 0}, "not a PNG or JPEG");
  ExpectRefused({}, "not a PNG or JPEG");
  for (const char* file : {"rgb.jpg", "rgba.png", "progressive.jpg"}) {
    CAPTURE(file);
    const std::vector<uint8_t> whole = Bytes(DataDir() + file);
    for (size_t keep : {size_t{4}, size_t{12}, size_t{30}, whole.size() / 2, whole.size() - 20}) {
      CAPTURE(keep);
      ExpectRefused(std::vector<uint8_t>(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(keep)), "");
    }
  }
  std::vector<uint8_t> png = Bytes(DataDir() + "rgba.png");
  png[png.size() / 2] ^= 0x55;  // inside the compressed data: a CRC or zlib error
  ExpectRefused(png, "");
  // A header claiming 100000 x 100000 pixels: refused before anything is allocated for them.
  std::vector<uint8_t> bomb = Bytes(DataDir() + "rgba.png");
  for (size_t at : {size_t{16}, size_t{20}}) {
    bomb[at] = 0, bomb[at + 1] = 0x01, bomb[at + 2] = 0x86, bomb[at + 3] = 0xa0;
  }
  ExpectRefused(bomb, "decompression-bomb limit");
  CHECK_THROWS_AS(LoadImageFile(DataDir() + "no-such-file.png"), Error);
}

}  // namespace
}  // namespace deepseek::image
