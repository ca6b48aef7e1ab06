#include "base64.h"

#include <cstdio>
#include <string>

namespace deepseek::server {
namespace {

// The 6-bit value of a character of the standard alphabet, or -1.
int SextetOf(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// A character as an error message shows it: control bytes and non-ASCII as their code.
std::string Shown(char c) {
  const auto byte = static_cast<unsigned char>(c);
  if (byte > 0x20 && byte < 0x7f) return std::string("'") + c + "'";
  char code[16];
  std::snprintf(code, sizeof code, "byte 0x%02x", byte);
  return code;
}

Status Malformed(std::size_t offset, const std::string& what) {
  return Status(StatusCode::kInvalidArgument, "invalid base64 at offset " + std::to_string(offset) + ": " + what);
}

}  // namespace

std::size_t Base64DecodedSize(std::string_view text) {
  std::size_t padding = 0;
  while (padding < 2 && padding < text.size() && text[text.size() - 1 - padding] == '=') ++padding;
  return text.size() / 4 * 3 - (text.size() % 4 == 0 ? padding : 0);
}

Result<std::vector<uint8_t>> DecodeBase64(std::string_view text) {
  if (text.size() % 4 != 0) {
    return Status(StatusCode::kInvalidArgument, "invalid base64: its length " + std::to_string(text.size()) +
                                                    " is not a multiple of 4 (padding missing, or the text cut short)");
  }
  // Padding is one or two '=' closing the last group of four.
  std::size_t padding = 0;
  if (!text.empty() && text.back() == '=') padding = text[text.size() - 2] == '=' ? 2 : 1;
  const std::size_t end = text.size() - padding;
  std::vector<uint8_t> out;
  out.reserve(text.size() / 4 * 3);
  uint32_t bits = 0;  // the bits read and not yet written, `pending` of them
  int pending = 0;
  for (std::size_t i = 0; i < end; ++i) {
    const int sextet = SextetOf(text[i]);
    if (sextet < 0) {
      return Malformed(i, text[i] == '=' ? "'=' before the end" : Shown(text[i]) + " is not a base64 character");
    }
    bits = bits << 6 | static_cast<uint32_t>(sextet);
    pending += 6;
    if (pending >= 8) {
      pending -= 8;
      out.push_back(static_cast<uint8_t>(bits >> pending));
      bits &= (1u << pending) - 1;
    }
  }
  // A padded group leaves 2 or 4 bits over, which an encoder writes as zeros.
  if (bits != 0) return Malformed(end - 1, "the bits after the last byte are not zero");
  return out;
}

}  // namespace deepseek::server
