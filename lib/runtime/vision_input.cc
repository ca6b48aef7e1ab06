#include "runtime/vision_input.h"

#include <algorithm>

#include "core/error.h"
#include "image/image_grid.h"
#include "image/prepare.h"

namespace deepseek::runtime {
namespace {

image::RgbImage AsRgb(const Image& in) {
  if (in.width <= 0 || in.height <= 0 || static_cast<int64_t>(in.rgb.size()) != in.width * in.height * 3) {
    Fail(StatusCode::kInvalidArgument, "image of " + std::to_string(in.width) + " x " + std::to_string(in.height) + " pixels with " +
                                           std::to_string(in.rgb.size()) + " bytes of RGB (3 per pixel expected, and at least one pixel)");
  }
  return {in.width, in.height, in.rgb};
}

}  // namespace

VisionInput::VisionInput(const ModelConfig& config, const format::Checkpoint& ckpt)
    : config_(config),
      desc_(model::BindVision(config, ckpt)),
      encoder_(backend::Registry::Get().Cpu().CreateVisionEncoder(desc_)),
      delimiters_(model::BindImageDelimiters(config, ckpt)) {}

int64_t VisionInput::SpanLength(const Image& in) const {
  if (in.width <= 0 || in.height <= 0) Fail(StatusCode::kInvalidArgument, "an image needs at least one pixel");
  return image::PlanImageGrid(in.width, in.height, config_.vision).span_tokens();
}

ImageSpan VisionInput::Encode(backend::Stream& stream, const Image& in) const {
  const image::PreparedImage prepared = image::PrepareImage(AsRgb(in), config_.vision);
  const image::ImageGrid& grid = prepared.grid;
  const int64_t D = config_.dim;
  std::vector<float> rows(static_cast<size_t>(encoder_->OutputRows({grid.vit_h, grid.vit_w}) * D));
  encoder_->Encode(stream, prepared.patches.data(), {grid.vit_h, grid.vit_w}, rows.data());
  ImageSpan span;
  const std::vector<image::SpanToken> kinds = image::ImageSpanTokens(grid);
  span.tokens.assign(kinds.size(), config_.image_token_id);
  span.embeddings.reserve(kinds.size() * static_cast<size_t>(D));
  auto next_row = rows.begin();
  for (image::SpanToken kind : kinds) {
    switch (kind) {
      case image::SpanToken::kStart:
        span.embeddings.insert(span.embeddings.end(), delimiters_.start.begin(), delimiters_.start.end());
        break;
      case image::SpanToken::kImage:
        span.embeddings.insert(span.embeddings.end(), next_row, next_row + D);
        next_row += D;
        break;
      case image::SpanToken::kNewline:
        span.embeddings.insert(span.embeddings.end(), delimiters_.newline.begin(), delimiters_.newline.end());
        break;
      case image::SpanToken::kEnd:
        span.embeddings.insert(span.embeddings.end(), delimiters_.end.begin(), delimiters_.end.end());
        break;
    }
  }
  return span;
}

}  // namespace deepseek::runtime
