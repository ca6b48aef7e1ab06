#include "image_url.h"

#include <cctype>
#include <cstdint>
#include <span>
#include <vector>

#include "base64.h"

namespace deepseek::server {
namespace {

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// URL schemes and media types are case-insensitive (RFC 3986 §3.1, RFC 2045 §5.1).
bool StartsWithNoCase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && Lower(text.substr(0, prefix.size())) == prefix;
}

// Client text echoed in a message, cut short: a header may be as long as the body.
std::string Quoted(std::string_view text) {
  constexpr std::size_t kShown = 40;
  return "'" + std::string(text.substr(0, kShown)) + (text.size() > kShown ? "...'" : "'");
}

Status Refused(const std::string& name, const std::string& what) {
  return Status(StatusCode::kInvalidArgument, name + ": " + what);
}

}  // namespace

Result<Image> ImageFromUrl(std::string_view url, const std::string& name, std::size_t max_bytes) {
  constexpr std::string_view kExample = "data:image/png;base64,...";
  if (StartsWithNoCase(url, "http://") || StartsWithNoCase(url, "https://")) {
    return Refused(name, "only data URLs (" + std::string(kExample) +
                             ") are supported; the server does not fetch images from http(s) URLs");
  }
  if (!StartsWithNoCase(url, "data:")) return Refused(name, "must be a data URL (" + std::string(kExample) + ")");
  // data:[<media type>][;<parameter>]*[;base64],<data> (RFC 2397).
  const std::size_t comma = url.find(',');
  if (comma == std::string_view::npos) return Refused(name, "malformed data URL: no ',' before the data");
  const std::string_view header = url.substr(5, comma - 5);
  const std::string_view payload = url.substr(comma + 1);
  const std::size_t first_semicolon = header.find(';');
  const std::string media_type = Lower(header.substr(0, first_semicolon));
  if (media_type.empty()) return Refused(name, "the data URL names no media type (image/png or image/jpeg)");
  if (!media_type.starts_with("image/")) {
    return Refused(name,
                   "the data URL's media type " + Quoted(media_type) + " is not an image (image/png or image/jpeg)");
  }
  if (first_semicolon == std::string_view::npos || Lower(header.substr(header.rfind(';') + 1)) != "base64") {
    return Refused(name, "the data URL must be base64-encoded (" + std::string(kExample) + ")");
  }
  if (const std::size_t size = Base64DecodedSize(payload); size > max_bytes) {
    return Refused(name, "the image has " + std::to_string(size) + " bytes; the limit is " + std::to_string(max_bytes));
  }
  Result<std::vector<uint8_t>> bytes = DecodeBase64(payload);
  if (!bytes.ok()) return Refused(name, "the data URL's data: " + bytes.status().message());
  return Image::Decode(std::span<const uint8_t>(bytes.value()), name);
}

}  // namespace deepseek::server
