// Facts about stored weight matrices that every backend shares: format names and sizes.
#include "backends/backend.h"

#include <string>

#include "core/error.h"

namespace deepseek::backend {

const char* WeightFormatName(WeightFormat format) {
  switch (format) {
    case WeightFormat::kF32:
      return "f32";
    case WeightFormat::kBF16:
      return "bf16";
    case WeightFormat::kFp8Block128:
      return "fp8_block128";
    case WeightFormat::kMxfp4:
      return "mxfp4";
    case WeightFormat::kFp8Block32:
      return "fp8_block32";
  }
  return "unknown";
}

uint64_t WeightBytes(const WeightMatrix& w) {
  const auto rows = static_cast<uint64_t>(w.rows), cols = static_cast<uint64_t>(w.cols);
  switch (w.format) {
    case WeightFormat::kF32:
      return rows * cols * 4;
    case WeightFormat::kBF16:
      return rows * cols * 2;
    case WeightFormat::kFp8Block128:
      return rows * cols + ((rows + 127) / 128) * ((cols + 127) / 128);
    case WeightFormat::kMxfp4:
      return rows * cols / 2 + rows * (cols / 32);
    case WeightFormat::kFp8Block32:
      return rows * cols + ((rows + 31) / 32) * ((cols + 31) / 32);
  }
  return 0;
}

WeightMatrix RowSlice(const WeightMatrix& w, int64_t first, int64_t count) {
  WeightMatrix slice = w;
  slice.rows = count;
  const auto* bytes = static_cast<const uint8_t*>(w.data);
  int64_t block = 0;
  switch (w.format) {
    case WeightFormat::kF32:
      slice.data = bytes + first * w.cols * 4;
      return slice;
    case WeightFormat::kBF16:
      slice.data = bytes + first * w.cols * 2;
      return slice;
    case WeightFormat::kMxfp4:
      slice.data = bytes + first * (w.cols / 2);
      slice.scales = w.scales + first * (w.cols / 32);
      return slice;
    case WeightFormat::kFp8Block128:
      block = 128;
      break;
    case WeightFormat::kFp8Block32:
      block = 32;
      break;
  }
  if (first % block != 0 || (count % block != 0 && first + count != w.rows)) {
    Fail(StatusCode::kInvalidArgument, "RowSlice: rows [" + std::to_string(first) + ", " + std::to_string(first + count) +
                                           ") of an FP8 matrix cut its " + std::to_string(block) + "-row scale blocks");
  }
  slice.data = bytes + first * w.cols;
  slice.scales = w.scales + (first / block) * ((w.cols + block - 1) / block);
  return slice;
}

void StreamStats::Add(const WeightMatrix& w, int64_t n, double seconds) {
  Counts& f = by_format[static_cast<size_t>(w.format)];
  f.seconds += seconds;
  f.weight_bytes += WeightBytes(w);
  f.flops += 2 * static_cast<uint64_t>(n) * static_cast<uint64_t>(w.rows) * static_cast<uint64_t>(w.cols);
  f.calls += 1;
}

}  // namespace deepseek::backend
