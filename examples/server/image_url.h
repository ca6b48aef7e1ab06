// The picture of an OpenAI "image_url" content part. Only data URLs are taken
// ("data:image/png;base64,..."): the server fetches nothing, so a request cannot make it reach
// into the network (or wait on it) on the client's behalf.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "deepseek/image.h"
#include "deepseek/status.h"

namespace deepseek::server {

// The default limit on an image's decoded bytes: a large photo as PNG fits, and decoding a
// request's images in the handler stays bounded. A request's body limit (--max-body) also
// bounds its images: base64 takes 4 bytes of text for every 3 of image.
inline constexpr std::size_t kMaxImageBytes = 20u << 20;

// Decodes a base64 data URL of an image/* media type (PNG or JPEG, sniffed from the bytes, so
// the declared subtype may be wrong or another image/* name). Every refusal is
// kInvalidArgument with a message that begins with `name` and says what is wrong: an http(s)
// or other non-data URL, a media type that is not an image, a payload that is not base64,
// more than `max_bytes` decoded bytes, or bytes that are not a PNG or JPEG picture.
Result<Image> ImageFromUrl(std::string_view url, const std::string& name, std::size_t max_bytes);

}  // namespace deepseek::server
