// Facts about stored weight matrices that every backend shares: format names and sizes.
#include "backends/backend.h"

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

void StreamStats::Add(const WeightMatrix& w, int64_t n, double seconds) {
  Counts& f = by_format[static_cast<size_t>(w.format)];
  f.seconds += seconds;
  f.weight_bytes += WeightBytes(w);
  f.flops += 2 * static_cast<uint64_t>(n) * static_cast<uint64_t>(w.rows) * static_cast<uint64_t>(w.cols);
  f.calls += 1;
}

}  // namespace deepseek::backend
