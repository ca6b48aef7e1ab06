// The packed KV row formats of backend.h, defined once in scalar code: every backend's pack and
// unpack must agree with these bit for bit (the CPU backend uses them as they are).
#pragma once

#include <cstdint>

#include "backends/backend.h"

namespace deepseek::backend {

// Packs `layout.dim` floats into layout.bytes() bytes at `row` (rounding to the format's grid).
void PackKvRow(const KvRowLayout& layout, const float* values, uint8_t* row);
// Unpacks a row written by PackKvRow into layout.dim floats.
void UnpackKvRow(const KvRowLayout& layout, const uint8_t* row, float* values);

}  // namespace deepseek::backend
