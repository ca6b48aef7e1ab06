// Packed KV rows. The power-of-two scales are the reference's fake-quantisation scales
// (core/numerics.h), recomputed from the values: for values the reference already rounded,
// that scale is the reference's own or half of it (when rounding lowered the block maximum past
// a power of two), and both represent every such value exactly, so packing them is lossless.
// NVFP4's e4m3 scales are not powers of two: see PackNvfp4.
#include "backends/kv_row_codec.h"

#include <array>
#include <cstring>
#include <string>

#include "core/error.h"
#include "core/numerics.h"

namespace deepseek::backend {
namespace {

constexpr int kFp8Block = 64;    // e4m3 values per ue8m0 scale in a latent row
constexpr int kFp4Block = 32;    // e2m1 values per ue8m0 scale in an MXFP4 row
constexpr int kFp8Block32 = 32;  // e4m3 values per ue8m0 scale in an FP8-per-32 row
constexpr int kNvfp4Block = 16;  // e2m1 values per e4m3 scale in an NVFP4 row

int64_t RoundUp(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

// Every e4m3 code's value: unpacking is a table lookup per value (attention at depth unpacks
// thousands of rows per step; E4m3ToFloat computes each value with ldexp).
const std::array<float, 256>& E4m3Values() {
  static const std::array<float, 256> table = [] {
    std::array<float, 256> t{};
    for (int code = 0; code < 256; ++code) t[static_cast<size_t>(code)] = num::E4m3ToFloat(static_cast<uint8_t>(code));
    return t;
  }();
  return table;
}

// n values (a multiple of `block`) as e4m3 codes with one ue8m0 scale per block.
void PackFp8Blocks(const float* v, int n, int block, uint8_t* codes, uint8_t* scales) {
  for (int b = 0; b < n / block; ++b) {
    const float* values = v + b * block;
    const float s = num::Fp8BlockScale(num::BlockAmax(values, block));
    scales[b] = num::Pow2ToE8m0(s);
    for (int i = 0; i < block; ++i) codes[b * block + i] = num::FloatToE4m3(values[i] / s);
  }
}

void UnpackFp8Blocks(const uint8_t* codes, const uint8_t* scales, int n, int block, float* v) {
  const std::array<float, 256>& values = E4m3Values();
  for (int b = 0; b < n / block; ++b) {
    const float s = num::E8m0ToFloat(scales[b]);
    for (int i = 0; i < block; ++i) v[b * block + i] = values[codes[b * block + i]] * s;
  }
}

void PackLatentFp8(const KvRowLayout& l, const float* v, uint8_t* row) {
  const int nope = l.dim - l.rope_dim;
  uint8_t* rope = row + nope;
  uint8_t* scales = rope + 2 * l.rope_dim;
  PackFp8Blocks(v, nope, kFp8Block, row, scales);
  for (int i = 0; i < l.rope_dim; ++i) {
    const uint16_t h = num::FloatToBf16(v[nope + i]);
    std::memcpy(rope + 2 * i, &h, 2);
  }
  const int64_t used = nope + 2 * l.rope_dim + nope / kFp8Block;
  std::memset(row + used, 0, static_cast<size_t>(l.bytes() - used));
}

void UnpackLatentFp8(const KvRowLayout& l, const uint8_t* row, float* v) {
  const int nope = l.dim - l.rope_dim;
  const uint8_t* rope = row + nope;
  const uint8_t* scales = rope + 2 * l.rope_dim;
  UnpackFp8Blocks(row, scales, nope, kFp8Block, v);
  for (int i = 0; i < l.rope_dim; ++i) {
    uint16_t h;
    std::memcpy(&h, rope + 2 * i, 2);
    v[nope + i] = num::Bf16ToFloat(h);
  }
}

// The e4m3 scale of an NVFP4 block. Values the reference already rounded are e2m1 multiples
// of its scale s, and their maximum is m · s for one of the e2m1 magnitudes m: some amax / m
// is then an e4m3 value that puts every value of the block on the e2m1 grid, and packing with
// it is lossless (the first found, largest m first, which is the reference's s whenever the
// block reaches 6 · s). Other values get NVFP4's usual scale, e4m3(amax / 6), and are rounded.
float Nvfp4Scale(const float* block) {
  const float amax = num::BlockAmax(block, kNvfp4Block);
  if (amax == 0) return 0;
  for (float m : {6.0f, 4.0f, 3.0f, 2.0f, 1.5f, 1.0f, 0.5f}) {
    const float s = amax / m;
    if (num::E4m3ToFloat(num::FloatToE4m3(s)) != s) continue;
    bool exact = true;
    for (int i = 0; i < kNvfp4Block && exact; ++i) {
      exact = num::E2m1ToFloat(num::FloatToE2m1(block[i] / s)) * s == block[i];
    }
    if (exact) return s;
  }
  return num::E4m3ToFloat(num::FloatToE4m3(amax / 6));
}

float MxScale(const float* block) { return num::Fp4BlockScale(num::BlockAmax(block, kFp4Block)); }
float E4m3Value(uint8_t code) { return E4m3Values()[code]; }

// The FP4 formats share one layout: dim e2m1 codes, two per byte (low nibble = even dim), then
// one scale code per block. They differ in the block, and in how a scale is chosen and stored.
struct Fp4Format {
  int block;
  float (*scale)(const float* block);  // 0 when every value of the block is 0
  uint8_t (*encode)(float scale);
  float (*decode)(uint8_t code);
};
constexpr Fp4Format kMx{kFp4Block, MxScale, num::Pow2ToE8m0, num::E8m0ToFloat};
constexpr Fp4Format kNv{kNvfp4Block, Nvfp4Scale, num::FloatToE4m3, E4m3Value};

void PackFp4(const Fp4Format& f, const KvRowLayout& l, const float* v, uint8_t* row) {
  uint8_t* scales = row + l.dim / 2;
  for (int b = 0; b < l.dim / f.block; ++b) {
    const float* block = v + b * f.block;
    const float s = f.scale(block);
    scales[b] = f.encode(s);
    for (int i = 0; i < f.block; i += 2) {
      const uint8_t lo = s == 0 ? 0 : num::FloatToE2m1(block[i] / s), hi = s == 0 ? 0 : num::FloatToE2m1(block[i + 1] / s);
      row[(b * f.block + i) / 2] = static_cast<uint8_t>(lo | (hi << 4));
    }
  }
}

void UnpackFp4(const Fp4Format& f, const KvRowLayout& l, const uint8_t* row, float* v) {
  const uint8_t* scales = row + l.dim / 2;
  for (int i = 0; i < l.dim; ++i) {
    const uint8_t byte = row[i / 2];
    v[i] = num::E2m1ToFloat(i % 2 ? byte >> 4 : byte & 0xf) * f.decode(scales[i / f.block]);
  }
}

}  // namespace

const char* KvRowFormatName(KvRowFormat format) {
  switch (format) {
    case KvRowFormat::kF32:
      return "f32";
    case KvRowFormat::kLatentFp8:
      return "latent_fp8";
    case KvRowFormat::kMxfp4:
      return "mxfp4";
    case KvRowFormat::kFp8Per32:
      return "fp8_per32";
    case KvRowFormat::kNvfp4:
      return "nvfp4";
  }
  return "unknown";
}

int64_t KvRowLayout::bytes() const {
  switch (format) {
    case KvRowFormat::kF32:
      return 4 * int64_t{dim};
    case KvRowFormat::kLatentFp8: {
      const int64_t nope = dim - rope_dim;
      return RoundUp(nope + 2 * int64_t{rope_dim} + nope / kFp8Block, 8);
    }
    case KvRowFormat::kMxfp4:
      return dim / 2 + dim / kFp4Block;
    case KvRowFormat::kFp8Per32:
      return dim + dim / kFp8Block32;
    case KvRowFormat::kNvfp4:
      return dim / 2 + dim / kNvfp4Block;
  }
  return 0;
}

void KvRowLayout::Validate() const {
  const std::string what = std::string("KV row format ") + KvRowFormatName(format) + " with dim " +
                           std::to_string(dim) + " and rope dim " + std::to_string(rope_dim);
  bool ok = dim > 0;
  switch (format) {
    case KvRowFormat::kF32:
      break;
    case KvRowFormat::kLatentFp8:
      ok = ok && rope_dim >= 0 && rope_dim <= dim && (dim - rope_dim) % kFp8Block == 0;
      break;
    case KvRowFormat::kMxfp4:
      ok = ok && dim % kFp4Block == 0;
      break;
    case KvRowFormat::kFp8Per32:
      ok = ok && dim % kFp8Block32 == 0;
      break;
    case KvRowFormat::kNvfp4:
      ok = ok && dim % kNvfp4Block == 0;
      break;
    default:
      ok = false;
  }
  if (!ok) Fail(StatusCode::kInvalidConfig, what + ": the dims do not fit the format's blocks");
}

void PackKvRow(const KvRowLayout& layout, const float* values, uint8_t* row) {
  switch (layout.format) {
    case KvRowFormat::kF32:
      std::memcpy(row, values, static_cast<size_t>(layout.bytes()));
      return;
    case KvRowFormat::kLatentFp8:
      return PackLatentFp8(layout, values, row);
    case KvRowFormat::kMxfp4:
      return PackFp4(kMx, layout, values, row);
    case KvRowFormat::kFp8Per32:
      return PackFp8Blocks(values, layout.dim, kFp8Block32, row, row + layout.dim);
    case KvRowFormat::kNvfp4:
      return PackFp4(kNv, layout, values, row);
  }
}

void UnpackKvRow(const KvRowLayout& layout, const uint8_t* row, float* values) {
  switch (layout.format) {
    case KvRowFormat::kF32:
      std::memcpy(values, row, static_cast<size_t>(layout.bytes()));
      return;
    case KvRowFormat::kLatentFp8:
      return UnpackLatentFp8(layout, row, values);
    case KvRowFormat::kMxfp4:
      return UnpackFp4(kMx, layout, row, values);
    case KvRowFormat::kFp8Per32:
      return UnpackFp8Blocks(row, row + layout.dim, layout.dim, kFp8Block32, values);
    case KvRowFormat::kNvfp4:
      return UnpackFp4(kNv, layout, row, values);
  }
}

}  // namespace deepseek::backend
