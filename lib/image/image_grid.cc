#include "image/image_grid.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.h"

namespace deepseek::image {
namespace {

int64_t SpanTokens(int64_t llm_h, int64_t llm_w) { return llm_h * (llm_w + 1) + 2; }

// The token grid of a padded pixel size: ViT patches, then the aligner's merge rounded up.
void SetGrids(ImageGrid& g, int64_t patch, int64_t merge) {
  g.vit_h = g.height / patch;
  g.vit_w = g.width / patch;
  g.llm_h = (g.vit_h + merge - 1) / merge;
  g.llm_w = (g.vit_w + merge - 1) / merge;
}

// The largest aspect-preserving pixel size whose token grid fits in max_tokens (the reference's
// solve_resize_ratio; a very tall or very wide image collapses to one column or row of cells).
void Shrink(double height, double width, int64_t patch, int64_t merge, int64_t max_tokens, ImageGrid& g) {
  const double r = height / width;
  const double max_w = std::sqrt(static_cast<double>(max_tokens - 2) / r + 0.25) - 0.5;
  const double max_h = max_w * r;
  const int64_t cell = patch * merge;
  if (max_w < 1.0) {
    g.height = (max_tokens - 2) / 2 * cell;
    g.width = cell;
  } else if (max_h < 1.0) {
    g.height = cell;
    g.width = (max_tokens - 3) * cell;
  } else {
    const double beta = std::min(std::floor(max_w) * static_cast<double>(cell) / width,
                                 std::floor(max_h) * static_cast<double>(cell) / height);
    g.height = static_cast<int64_t>(std::floor(height * beta / static_cast<double>(patch))) * patch;
    g.width = static_cast<int64_t>(std::floor(width * beta / static_cast<double>(patch))) * patch;
  }
}

}  // namespace

ImageGrid PlanImageGrid(int64_t width, int64_t height, const VisionConfig& v) {
  if (width < 1 || height < 1) {
    Fail(StatusCode::kInvalidArgument, "image of " + std::to_string(width) + " x " + std::to_string(height) + " pixels");
  }
  if (v.patch_size < 1 || v.downsample_ratio < 1 || v.max_image_tokens < 5) {
    Fail(StatusCode::kInvalidArgument, "vision config: patch_size, downsample_ratio or max_image_tokens is too small");
  }
  const int64_t p = v.patch_size;
  // Python floats from here, as in the reference: a capped width and the upscale are fractional.
  double w = static_cast<double>(width), h = static_cast<double>(height);
  if (v.max_wh_ratio > 0 && w > h * v.max_wh_ratio) w = h * v.max_wh_ratio;
  if (w * h < static_cast<double>(v.min_pixels)) {
    const double ratio = std::pow(static_cast<double>(v.min_pixels) / (w * h), 0.5);
    w = std::trunc(w * ratio);
    h = std::trunc(h * ratio);
  }
  ImageGrid g;
  g.width = static_cast<int64_t>(std::ceil(w / static_cast<double>(p))) * p;
  g.height = static_cast<int64_t>(std::ceil(h / static_cast<double>(p))) * p;
  SetGrids(g, p, v.downsample_ratio);
  if (SpanTokens(g.llm_h, g.llm_w) > v.max_image_tokens) {
    Shrink(h, w, p, v.downsample_ratio, v.max_image_tokens, g);
    SetGrids(g, p, v.downsample_ratio);
  }
  if (g.vit_h < 1 || g.vit_w < 1 || g.span_tokens() > v.max_image_tokens) {
    Fail(StatusCode::kInvalidArgument, "image of " + std::to_string(width) + " x " + std::to_string(height) +
                                           " pixels does not fit the vision config's " + std::to_string(v.max_image_tokens) +
                                           " image tokens");
  }
  return g;
}

std::vector<SpanToken> ImageSpanTokens(const ImageGrid& grid) {
  std::vector<SpanToken> types{SpanToken::kStart};
  for (int64_t r = 0; r < grid.llm_h; ++r) {
    types.insert(types.end(), static_cast<size_t>(grid.llm_w), SpanToken::kImage);
    types.push_back(SpanToken::kNewline);
  }
  types.push_back(SpanToken::kEnd);
  return types;
}

}  // namespace deepseek::image
