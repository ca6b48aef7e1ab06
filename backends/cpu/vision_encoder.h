// The V4.1 vision tower and aligner on the CPU (Encoder, see backends/backend.h): every matrix
// product, attention's included, goes through the stream's MatMul; the rest (norms, RoPE,
// softmax, activations) is per-row host arithmetic in fp32 with the reference's bf16 roundings,
// rows split over the stream's threads.
#pragma once

#include <cstdint>
#include <vector>

#include "backends/backend.h"

namespace deepseek::backend::cpu {

class CpuVisionEncoder final : public Encoder {
 public:
  // Checks desc's shapes (Error kInvalidArgument naming the field).
  explicit CpuVisionEncoder(const VisionEncoderDesc& desc);
  int64_t input_width() const override { return 3 * d_.patch * d_.patch; }
  int64_t output_width() const override { return d_.out_dim; }
  int64_t OutputRows(const EncoderGrid& grid) const override;
  void Encode(Stream& stream, const float* input, const EncoderGrid& grid, float* out) override;

  // Encode's two stages, for tests against the reference's intermediates: the tower (patch
  // embedding, blocks, final norm) gives vit [h · w, dim]; the aligner turns those into out.
  std::vector<float> Tower(Stream& stream, const float* input, const EncoderGrid& grid) const;
  void Align(Stream& stream, const std::vector<float>& vit, const EncoderGrid& grid, float* out) const;

 private:
  const VisionEncoderDesc& d_;
};

}  // namespace deepseek::backend::cpu
