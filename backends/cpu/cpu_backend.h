// The CPU device: Highway kernels dispatched to the best SIMD target of the running CPU,
// multi-threaded on the caller's ThreadPool. Always present in the Registry.
#pragma once

#include <memory>
#include <string>

#include "backends/backend.h"

namespace deepseek::backend::cpu {

class CpuDevice final : public Device {
 public:
  std::string name() const override { return "cpu"; }
  DeviceKind kind() const override { return DeviceKind::kCpu; }
  bool SupportsOp(Op op, WeightFormat format = WeightFormat::kF32) const override;
  std::unique_ptr<Stream> CreateStream(ThreadPool& pool) override;
  std::shared_ptr<KvMemory> CreateKvMemory(const KvMemoryOptions& options) override;
  std::unique_ptr<Encoder> CreateVisionEncoder(const VisionEncoderDesc& desc) override;
};

// The thread pool a CPU stream runs its work on, for the CPU backend's own host loops (the
// encoder's norms, softmax, activations). Throws Error(kInvalidArgument) for another device's
// stream.
ThreadPool& StreamPool(Stream& stream);

}  // namespace deepseek::backend::cpu
