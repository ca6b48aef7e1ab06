// deepseek-server's strict base64 decoder: RFC 4648's vectors, round trips of every byte value
// and length, and a refusal naming the offset for everything a lenient decoder would let by.
#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "base64.h"
#include "base64_encode.h"

namespace deepseek::server {
namespace {

std::string Decoded(std::string_view text) {
  Result<std::vector<uint8_t>> bytes = DecodeBase64(text);
  REQUIRE_MESSAGE(bytes.ok(), bytes.status().message());
  return std::string(bytes.value().begin(), bytes.value().end());
}

TEST_CASE("base64: the RFC 4648 test vectors and their decoded sizes") {
  const std::vector<std::pair<std::string, std::string>> vectors = {
      {"", ""},         {"Zg==", "f"},         {"Zm8=", "fo"},        {"Zm9v", "foo"},
      {"Zm9vYg==", "foob"}, {"Zm9vYmE=", "fooba"}, {"Zm9vYmFy", "foobar"}};
  for (const auto& [text, bytes] : vectors) {
    CAPTURE(text);
    CHECK(Decoded(text) == bytes);
    CHECK(Base64DecodedSize(text) == bytes.size());
  }
}

TEST_CASE("base64: every byte value and every length up to 100 round-trips") {
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  CHECK(Decoded(testing::EncodeBase64(all)) == all);
  CHECK(testing::EncodeBase64("\xfb\xff") == "+/8=");  // both characters past the letters and digits

  std::mt19937 rng(7);
  for (std::size_t length = 0; length <= 100; ++length) {
    std::string bytes(length, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    const std::string text = testing::EncodeBase64(bytes);
    CAPTURE(text);
    CHECK(Decoded(text) == bytes);
    CHECK(Base64DecodedSize(text) == length);
  }
}

TEST_CASE("base64: malformed text is refused, saying what and where") {
  struct Case {
    std::string text;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"Zg", "length 2 is not a multiple of 4"},
      {"Zm9vY", "length 5 is not a multiple of 4"},
      {"Zm9v!A==", "offset 4: '!' is not a base64 character"},
      {"Zm 9v===", "offset 2: byte 0x20 is not a base64 character"},
      {"Zm9v\nYmFy", "length 9"},
      {"Zm9v\nYmF", "offset 4: byte 0x0a is not a base64 character"},
      {"Zm9-Yg==", "offset 3: '-' is not a base64 character"},  // the URL-safe alphabet
      {"Zm9_Yg==", "offset 3: '_' is not a base64 character"},
      {"Zm9v\xc3\xa9Yg", "offset 4: byte 0xc3"},
      {"Zg==Zm9v", "offset 2: '=' before the end"},
      {"Z===", "offset 1: '=' before the end"},
      {"====", "offset 0: '=' before the end"},
      {"Zm=v", "offset 2: '=' before the end"},
      {"Zh==", "offset 1: the bits after the last byte are not zero"},  // 'h' leaves 0001
      {"Zm9=", "offset 2: the bits after the last byte are not zero"},  // '9' leaves 01
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    Result<std::vector<uint8_t>> bytes = DecodeBase64(c.text);
    REQUIRE_FALSE(bytes.ok());
    CHECK(bytes.status().code() == StatusCode::kInvalidArgument);
    CHECK_MESSAGE(bytes.status().message().find(c.says) != std::string::npos, bytes.status().message());
  }
}

}  // namespace
}  // namespace deepseek::server
