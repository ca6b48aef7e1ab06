// A V4.1 model's image input (spec §8.10-8.12): the vision encoder (a backend object, made by
// the CPU device from the checkpoint's tower and aligner) and the learned span delimiters. An
// image becomes its span: the image token at every position, and per position the embedding
// the language model takes instead of the token's (start, the aligner's rows in reading order
// with a newline after each row, end).
#pragma once

#include <memory>
#include <vector>

#include "backends/backend.h"
#include "deepseek/config.h"
#include "deepseek/image.h"
#include "format/checkpoint.h"
#include "model/weights.h"

namespace deepseek::runtime {

struct ImageSpan {
  std::vector<int32_t> tokens;   // [n]: the image token
  std::vector<float> embeddings; // [n, D]
};

class VisionInput {
 public:
  // Binds the checkpoint's vision tensors (which must outlive this). Throws Error naming the
  // tensor at fault.
  VisionInput(const ModelConfig& config, const format::Checkpoint& ckpt);

  // Positions `image` takes (its span), without encoding it. Throws Error(kInvalidArgument)
  // for an empty image.
  int64_t SpanLength(const Image& image) const;
  // The span of `image`, encoded on `stream` (of the CPU device).
  ImageSpan Encode(backend::Stream& stream, const Image& image) const;

 private:
  const ModelConfig& config_;
  backend::VisionEncoderDesc desc_;
  std::unique_ptr<backend::Encoder> encoder_;
  model::ImageDelimiters delimiters_;
};

}  // namespace deepseek::runtime
