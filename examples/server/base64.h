// Strict base64 (RFC 4648 §4: the standard alphabet, '=' padding) for the data URLs of image
// parts. Strict because a payload that only a lenient decoder accepts (missing padding, line
// breaks, the URL-safe alphabet, stray bits after the last byte) is more likely a client bug
// than an image, and saying so beats decoding something else than was sent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "deepseek/status.h"

namespace deepseek::server {

// The bytes `text` encodes, or kInvalidArgument saying what is wrong and at which offset.
Result<std::vector<uint8_t>> DecodeBase64(std::string_view text);

// The number of bytes well-formed `text` decodes to, known without decoding, so that a size
// limit is checked before anything is allocated.
std::size_t Base64DecodedSize(std::string_view text);

}  // namespace deepseek::server
