// deepseek-server's image_url data URLs: PNG and JPEG decoded as Image::Decode decodes the
// file, the format sniffed whatever image/* type is declared, and every refusal (a network URL,
// no data URL, no image type, not base64, bad base64, too large, not a picture) names the field.
#include <doctest/doctest.h>

#include <span>
#include <string>
#include <vector>

#include "base64_encode.h"
#include "image_test_files.h"
#include "image_url.h"

namespace deepseek::server {
namespace {

const std::string kName = "'messages[0].content[1].image_url.url'";

Image Accepted(const std::string& url, std::size_t max_bytes = kMaxImageBytes) {
  Result<Image> image = ImageFromUrl(url, kName, max_bytes);
  REQUIRE_MESSAGE(image.ok(), image.status().message());
  return std::move(image).value();
}

TEST_CASE("image_url: a PNG or JPEG data URL gives the picture of its bytes") {
  const std::string png = testing::GoldenPng();
  const Result<Image> expected = Image::Decode(std::span(reinterpret_cast<const uint8_t*>(png.data()), png.size()));
  REQUIRE(expected.ok());
  const Image image = Accepted("data:image/png;base64," + testing::EncodeBase64(png));
  CHECK(image.width == expected.value().width);
  CHECK(image.height == expected.value().height);
  CHECK(image.rgb == expected.value().rgb);

  const Image jpeg = Accepted(testing::kJpegDataUrl);
  CHECK(jpeg.width == 4);
  CHECK(jpeg.height == 3);
  CHECK(jpeg.rgb.size() == 4 * 3 * 3);

  // The scheme, the type and "base64" in any case; parameters before ";base64"; the format is
  // sniffed, so a wrong or other image/* type still decodes.
  for (const std::string header : {"DATA:IMAGE/PNG;BASE64,", "data:image/png;name=cat.png;base64,",
                                   "data:image/jpeg;base64,", "data:image/webp;base64,"}) {
    CAPTURE(header);
    CHECK(Accepted(header + testing::EncodeBase64(png)).rgb == expected.value().rgb);
  }
  // The limit is on the decoded bytes: exactly the limit passes.
  CHECK(Accepted("data:image/png;base64," + testing::EncodeBase64(png), png.size()).width == expected.value().width);
}

TEST_CASE("image_url: refusals say what is wrong and name the field") {
  const std::string png = testing::GoldenPng();
  const std::string png64 = testing::EncodeBase64(png);
  struct Case {
    std::string url;
    std::string says;
    std::size_t max_bytes = kMaxImageBytes;
  };
  const std::vector<Case> cases = {
      {"https://example.com/cat.png", "only data URLs"},
      {"http://127.0.0.1/cat.png", "does not fetch images from http(s) URLs"},
      {"HTTPS://example.com/cat.png", "only data URLs"},
      {"ftp://example.com/cat.png", "must be a data URL"},
      {"file:///tmp/cat.png", "must be a data URL"},
      {"", "must be a data URL"},
      {"data:image/png;base64" + png64, "no ','"},
      {"data:;base64," + png64, "names no media type"},
      {"data:," + png64, "names no media type"},
      {"data:text/plain;base64,aGVsbG8=", "media type 'text/plain' is not an image"},
      {"data:application/octet-stream;base64," + png64, "is not an image"},
      {"data:image/png," + png64, "must be base64-encoded"},
      {"data:image/png;charset=utf-8," + png64, "must be base64-encoded"},
      {"data:image/png;base64,iVBORw0KGgo", "length 11 is not a multiple of 4"},
      {"data:image/png;base64,iVBO Rw0", "offset 4: byte 0x20"},
      {"data:image/png;base64,iVBO-w0K", "'-' is not a base64 character"},
      {"data:image/png;base64,aGVsbG8gd29ybGQh", "not a PNG or JPEG image"},  // "hello world!"
      {"data:image/png;base64,", "not a PNG or JPEG image"},
      {"data:image/png;base64," + testing::EncodeBase64(png.substr(0, png.size() / 2)), "the file ends early"},
      {"data:image/png;base64," + png64, "the image has " + std::to_string(png.size()) + " bytes; the limit is 1000",
       1000},
  };
  for (const Case& c : cases) {
    CAPTURE(c.url.substr(0, 60));
    const Result<Image> image = ImageFromUrl(c.url, kName, c.max_bytes);
    REQUIRE_FALSE(image.ok());
    CHECK(image.status().code() == StatusCode::kInvalidArgument);
    const std::string& message = image.status().message();
    CHECK_MESSAGE(message.rfind(kName, 0) == 0, message);
    CHECK_MESSAGE(message.find(c.says) != std::string::npos, message);
  }
  // A long media type is cut short in the message.
  const Result<Image> long_type =
      ImageFromUrl("data:text/" + std::string(5000, 'x') + ";base64,AAAA", kName, kMaxImageBytes);
  REQUIRE_FALSE(long_type.ok());
  CHECK(long_type.status().message().size() < 200);
}

}  // namespace
}  // namespace deepseek::server
