// The backend object model (after ggml's): a Registry lists Devices; a Device reports what it
// supports and creates Streams; a Stream executes operators. Model code reaches compute only
// through a Stream (via lib/ops), so an NPU backend is an addition behind this interface.
// All tensors are host memory in this version of the interface (the CPU backend's view);
// device buffers arrive with the first accelerator backend.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace deepseek {
class ThreadPool;
}

namespace deepseek::backend {

inline constexpr int kBackendApiVersion = 1;

// How a weight matrix is stored; the stored bytes are used as they are (no fp32 copy).
enum class WeightFormat : uint8_t {
  kF32,          // float32 [rows, cols]
  kBF16,         // bfloat16 [rows, cols]
  kFp8Block128,  // e4m3fn [rows, cols] + e8m0 scales [ceil(rows/128), ceil(cols/128)]
  kMxfp4,        // e2m1 pairs [rows, cols/2] (low nibble = even column) + e8m0 scales [rows, cols/32]
};
inline constexpr size_t kWeightFormatCount = 4;

const char* WeightFormatName(WeightFormat format);

// A read-only weight matrix W [rows, cols] in its stored format (row-major, [out, in]).
struct WeightMatrix {
  WeightFormat format = WeightFormat::kF32;
  int64_t rows = 0;
  int64_t cols = 0;
  const void* data = nullptr;
  const uint8_t* scales = nullptr;  // e8m0 codes; nullptr for kF32 / kBF16
};

// The operators a device may implement; SupportsOp answers per operator (and weight format).
enum class Op : uint8_t {
  kMatMul,           // y = x · Wᵀ
  kSparseAttention,  // softmax attention over gathered rows with a per-head sink
};

// What a stream's operators have done since it was created: the benchmark's bytes-per-token
// and GEMM-rate figures come from here, counted from the tensors each call actually touched.
// Counted per stored weight format; Total() is their sum.
struct StreamStats {
  struct Counts {
    uint64_t weight_bytes = 0;  // weight and scale bytes read by weight operators
    uint64_t flops = 0;         // 2 · n · rows · cols summed over weight operators
    double seconds = 0;         // wall time inside weight operators
    int64_t calls = 0;
  };
  Counts by_format[kWeightFormatCount];  // indexed by WeightFormat

  Counts Total() const {
    Counts t;
    for (const Counts& c : by_format) {
      t.weight_bytes += c.weight_bytes;
      t.flops += c.flops;
      t.seconds += c.seconds;
      t.calls += c.calls;
    }
    return t;
  }
};

class Stream {
 public:
  virtual ~Stream() = default;

  const StreamStats& stats() const { return stats_; }

  // y[n, rows] = x[n, cols] · W[rows, cols]ᵀ with W dequantised exactly and fp32 accumulation.
  // x and y are row-major fp32 and must not alias.
  virtual void MatMul(const WeightMatrix& w, const float* x, int64_t n, float* y) = 0;

  // For each query i in [0, n) and head h in [0, heads):
  //   s_j = scale · (q[i,h,:] · kv_rows[i][j,:]) over the rows j of query i,
  //   out[i,h,:] = Σ_j bf16(e^{s_j − M}) kv_j / (Σ_j e^{s_j − M} + e^{sink[h] − M}), M = max_j s_j,
  // where the probabilities enter P·V rounded to bf16 as in the reference kernel.
  // rows[i] lists pointers to the dim-wide fp32 rows query i attends to (empty: output 0).
  virtual void SparseAttention(const float* q, int64_t n, int heads, int dim,
                               std::span<const std::vector<const float*>> rows,
                               const float* sink, float scale, float* out) = 0;

  // Waits for queued work (the CPU stream runs synchronously).
  virtual void Synchronize() {}

 protected:
  StreamStats stats_;
};

// Bytes a weight operator reads from `w`: its stored elements and their scales.
uint64_t WeightBytes(const WeightMatrix& w);

enum class DeviceKind : uint8_t { kCpu, kAccelerator };

class Device {
 public:
  virtual ~Device() = default;
  virtual std::string name() const = 0;
  virtual DeviceKind kind() const = 0;
  virtual bool SupportsOp(Op op, WeightFormat format = WeightFormat::kF32) const = 0;
  // The stream runs its work on `pool` (owned by the caller, outliving the stream).
  virtual std::unique_ptr<Stream> CreateStream(ThreadPool& pool) = 0;
};

// Compiled-in backends, registered once at first use.
class Registry {
 public:
  static Registry& Get();
  const std::vector<Device*>& devices() const { return devices_; }
  Device* Find(const std::string& name) const;  // nullptr when absent
  Device& Cpu() const;                          // always present

 private:
  Registry();
  std::vector<std::unique_ptr<Device>> owned_;
  std::vector<Device*> devices_;
};

}  // namespace deepseek::backend
