// The CPU device and its stream: argument validation, then one dispatched kernel per operator
// call. The stream runs synchronously on the ThreadPool it was created with.
#include "backends/cpu/cpu_backend.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "backends/cpu/matmul.h"
#include "backends/cpu/sparse_attention.h"
#include "core/error.h"
#include "core/thread_pool.h"

namespace deepseek::backend::cpu {
namespace {

constexpr int64_t kFloatBytes = sizeof(float);

[[noreturn]] void InvalidArgument(const std::string& what) {
  Fail(StatusCode::kInvalidArgument, what);
}

// Whether the byte ranges [a, a + a_bytes) and [b, b + b_bytes) share any byte.
bool Overlap(const void* a, int64_t a_bytes, const void* b, int64_t b_bytes) {
  const auto pa = reinterpret_cast<uintptr_t>(a), pb = reinterpret_cast<uintptr_t>(b);
  return pa < pb + static_cast<uintptr_t>(b_bytes) && pb < pa + static_cast<uintptr_t>(a_bytes);
}

class CpuStream final : public Stream {
 public:
  explicit CpuStream(ThreadPool& pool) : pool_(pool) {}

  void MatMul(const WeightMatrix& w, const float* x, int64_t n, float* y) override {
    if (n < 0 || w.rows < 0 || w.cols < 0) {
      InvalidArgument("MatMul: negative size: n " + std::to_string(n) + ", W [" +
                      std::to_string(w.rows) + ", " + std::to_string(w.cols) + "]");
    }
    if (n == 0 || w.rows == 0) return;
    if (x == nullptr || y == nullptr) InvalidArgument("MatMul: null input or output");
    if (Overlap(x, n * w.cols * kFloatBytes, y, n * w.rows * kFloatBytes))
      InvalidArgument("MatMul: input and output overlap");
    if (w.cols == 0) {
      std::fill(y, y + n * w.rows, 0.0f);
      return;
    }
    if (w.data == nullptr) InvalidArgument("MatMul: null weight data");
    const auto kernel = MatMulKernel(w);
    const auto start = std::chrono::steady_clock::now();
    kernel(w, x, n, y, pool_);
    Account(w, n, start);
  }

  void SparseAttention(const float* q, int64_t n, int heads, int dim,
                       std::span<const std::vector<const float*>> rows, const float* sink,
                       float scale, float* out) override {
    if (n < 0 || heads <= 0 || dim <= 0) {
      InvalidArgument("SparseAttention: bad shape: n " + std::to_string(n) + ", heads " +
                      std::to_string(heads) + ", dim " + std::to_string(dim));
    }
    if (rows.size() != static_cast<size_t>(n)) {
      InvalidArgument("SparseAttention: " + std::to_string(rows.size()) + " row lists for " +
                      std::to_string(n) + " queries");
    }
    if (n == 0) return;
    if (q == nullptr || sink == nullptr || out == nullptr) {
      InvalidArgument("SparseAttention: null query, sink or output");
    }
    for (const auto& list : rows) {
      if (std::find(list.begin(), list.end(), nullptr) != list.end()) {
        InvalidArgument("SparseAttention: null row pointer");
      }
    }
    SparseAttentionF32(q, n, heads, dim, rows, sink, scale, out, pool_);
  }

 private:
  using Kernel = void (*)(const WeightMatrix&, const float*, int64_t, float*, ThreadPool&);

  // The kernel for w's format, after the format's own checks.
  static Kernel MatMulKernel(const WeightMatrix& w) {
    switch (w.format) {
      case WeightFormat::kF32:
        return MatMulF32;
      case WeightFormat::kBF16:
        return MatMulBf16;
      case WeightFormat::kFp8Block128:
        if (w.scales == nullptr) InvalidArgument("MatMul: FP8 weights without scales");
        return MatMulFp8;
      case WeightFormat::kMxfp4:
        if (w.scales == nullptr) InvalidArgument("MatMul: MXFP4 weights without scales");
        if (w.cols % kMxfp4BlockSize != 0) {
          InvalidArgument("MatMul: MXFP4 cols " + std::to_string(w.cols) + " is not a multiple of 32");
        }
        return MatMulMxfp4;
    }
    Fail(StatusCode::kUnsupported, "MatMul: unknown weight format " + std::to_string(static_cast<int>(w.format)));
  }

  // One weight operator over n inputs that read all of w once, started at `start`.
  void Account(const WeightMatrix& w, int64_t n, std::chrono::steady_clock::time_point start) {
    StreamStats::Counts& f = stats_.by_format[static_cast<size_t>(w.format)];
    f.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    f.weight_bytes += WeightBytes(w);
    f.flops += 2 * static_cast<uint64_t>(n) * static_cast<uint64_t>(w.rows) * static_cast<uint64_t>(w.cols);
    f.calls += 1;
  }

  ThreadPool& pool_;
};

}  // namespace

bool CpuDevice::SupportsOp(Op op, WeightFormat format) const {
  switch (op) {
    case Op::kMatMul:
      switch (format) {
        case WeightFormat::kF32:
        case WeightFormat::kBF16:
        case WeightFormat::kFp8Block128:
        case WeightFormat::kMxfp4:
          return true;
      }
      return false;
    case Op::kSparseAttention:
      return true;
  }
  return false;
}

std::unique_ptr<Stream> CpuDevice::CreateStream(ThreadPool& pool) {
  return std::make_unique<CpuStream>(pool);
}

}  // namespace deepseek::backend::cpu
