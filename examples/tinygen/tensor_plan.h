// The description of a generated checkpoint's tensors: for each one its stored name, encoding,
// logical shape, value distribution, random stream and shard. The same descriptions drive the
// shard layout, the headers, the index and the value streams (checkpoint_files.h).
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "tinygen/safetensors_writer.h"

namespace deepseek::tinygen {

enum class Storage {
  kBf16,
  kF32,
  kFp8Block128,  // F8_E4M3 weight + F8_E8M0 scale per 128x128 block (V4 dense tensors)
  kFp8Block32,   // F8_E4M3 weight + F8_E8M0 scale per 32x32 block (V4.1 dense tensors)
  kFp8Rows,      // F8_E4M3 weight + F8_E8M0 scale per 1x32 (V4.1 Engram tables)
  kMxfp4,        // I8 (two e2m1 per byte, low nibble = even element) + F8_E8M0 scale per 32 along K
  kExpertIds,    // I64 hash-routing table: distinct expert ids per token
};

enum class Dist {
  kNormal,         // mean a, std b
  kUniform,        // [a, b)
  kOutlierBlocks,  // normal(0, b), with one in 16 blocks of 32 scaled up 8x (ExpertInput)
};

struct Values {
  Dist dist = Dist::kNormal;
  float a = 0.0f;
  float b = 0.0f;
};

// Magnitudes follow the statistics of the golden tiny checkpoints: unit-variance inputs give
// unit-variance outputs, norms near one, mixing logits of order one.
inline Values Normal(float mean, float std) { return {Dist::kNormal, mean, std}; }
inline Values Uniform(float lo, float hi) { return {Dist::kUniform, lo, hi}; }
inline Values Linear(int64_t fan_in, float gain = 1.0f) {
  return Normal(0.0f, gain / std::sqrt(static_cast<float>(fan_in)));
}
inline Values NormWeight() { return Normal(1.0f, 0.1f); }
// Expert gate/up projections: occasional large blocks push some pre-activations past the
// SwiGLU clamp (10), as the golden checkpoints' do, so the clamp path is exercised.
inline Values ExpertInput(int64_t fan_in) {
  return {Dist::kOutlierBlocks, 0.0f, 1.0f / std::sqrt(static_cast<float>(fan_in))};
}

struct TensorDesc {
  std::string name;             // stored name of the weight
  Storage storage;
  std::vector<int64_t> shape;   // logical shape: [rows, cols] or [n]
  Values values;
  std::string stream;           // names the random stream; copies of a tensor share it
  int shard = 0;
  bool hole = false;            // not written: a hole of a sparse file, read as zeros

  int64_t rows() const { return shape.size() == 2 ? shape[0] : 1; }
  int64_t cols() const { return shape.back(); }
  bool is_fp8_block() const { return storage == Storage::kFp8Block128 || storage == Storage::kFp8Block32; }
  int64_t fp8_block() const { return storage == Storage::kFp8Block128 ? 128 : 32; }
  bool has_scale() const { return is_fp8_block() || storage == Storage::kFp8Rows || storage == Storage::kMxfp4; }
  std::string scale_name() const { return name.substr(0, name.size() - 6) + "scale"; }  // "weight" -> "scale"

  uint64_t WeightBytesBefore(int64_t row) const {
    const int64_t c = cols();
    switch (storage) {
      case Storage::kBf16: return static_cast<uint64_t>(row * c * 2);
      case Storage::kF32: return static_cast<uint64_t>(row * c * 4);
      case Storage::kFp8Block128:
      case Storage::kFp8Block32:
      case Storage::kFp8Rows: return static_cast<uint64_t>(row * c);
      case Storage::kMxfp4: return static_cast<uint64_t>(row * c / 2);
      case Storage::kExpertIds: return static_cast<uint64_t>(row * c * 8);
    }
    return 0;
  }
  // Scale bytes covering rows [0, row); row is a multiple of the FP8 block or the row count.
  uint64_t ScaleBytesBefore(int64_t row) const {
    if (is_fp8_block()) {
      const int64_t b = fp8_block();
      return static_cast<uint64_t>((row + b - 1) / b * ((cols() + b - 1) / b));
    }
    if (storage == Storage::kFp8Rows || storage == Storage::kMxfp4) return static_cast<uint64_t>(row * (cols() / 32));
    return 0;
  }

  // The stored tensors: the weight, then its scale if any.
  std::vector<TensorEntry> Entries() const {
    const int64_t r = rows(), c = cols();
    const uint64_t weight_bytes = WeightBytesBefore(r), scale_bytes = ScaleBytesBefore(r);
    switch (storage) {
      case Storage::kBf16: return {{name, "BF16", shape, weight_bytes}};
      case Storage::kF32: return {{name, "F32", shape, weight_bytes}};
      case Storage::kExpertIds: return {{name, "I64", shape, weight_bytes}};
      case Storage::kFp8Block128:
      case Storage::kFp8Block32: {
        const int64_t b = fp8_block();
        return {{name, "F8_E4M3", shape, weight_bytes},
                {scale_name(), "F8_E8M0", {(r + b - 1) / b, (c + b - 1) / b}, scale_bytes}};
      }
      case Storage::kFp8Rows:
        return {{name, "F8_E4M3", shape, weight_bytes}, {scale_name(), "F8_E8M0", {r, c / 32}, scale_bytes}};
      case Storage::kMxfp4:
        return {{name, "I8", {r, c / 2}, weight_bytes}, {scale_name(), "F8_E8M0", {r, c / 32}, scale_bytes}};
    }
    return {};
  }
};

// Appends descriptions whose names share a prefix ("layers.3.", "mtp.0.") and whose data go
// to one shard.
class TensorList {
 public:
  TensorList(std::vector<TensorDesc>& out, std::string prefix, int shard)
      : out_(out), prefix_(std::move(prefix)), shard_(shard) {}
  void Add(const std::string& name, Storage storage, std::vector<int64_t> shape, Values values, bool hole = false) {
    out_.push_back({prefix_ + name, storage, std::move(shape), values, prefix_ + name, shard_, hole});
  }

 private:
  std::vector<TensorDesc>& out_;
  std::string prefix_;
  int shard_;
};

// The shard of unit `unit` out of `units` when shards take contiguous runs of
// [embed, layer 0 .. L-1, tail] (units = L + 2): with two shards this is the official split,
// the embedding and the first half of the layers, then the rest with the head.
inline int ShardOfUnit(int unit, int units, int num_shards) { return unit * num_shards / units; }

}  // namespace deepseek::tinygen
