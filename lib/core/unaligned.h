// Reads of mapped tensor data: safetensors offsets only guarantee byte alignment, so a tensor's
// elements may sit at any address and are read through memcpy, never a typed pointer.
#pragma once

#include <cstdint>
#include <cstring>

namespace deepseek {

template <typename T>
inline T LoadUnaligned(const void* base, int64_t index) {
  T value;
  std::memcpy(&value, static_cast<const uint8_t*>(base) + index * static_cast<int64_t>(sizeof(T)), sizeof(T));
  return value;
}

}  // namespace deepseek
