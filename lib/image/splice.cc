#include "image/splice.h"

#include <algorithm>
#include <string>

#include "core/error.h"

namespace deepseek::image {

SplicedPrompt SpliceImages(std::span<const int32_t> ids, int32_t image_token_id, std::span<const ImageGrid> grids) {
  const auto placeholders = static_cast<size_t>(std::count(ids.begin(), ids.end(), image_token_id));
  if (placeholders != grids.size()) {
    Fail(StatusCode::kInvalidArgument, "the prompt has " + std::to_string(placeholders) + " image placeholders for " +
                                           std::to_string(grids.size()) + " images");
  }
  SplicedPrompt out;
  size_t next = 0;
  for (int32_t id : ids) {
    if (id != image_token_id) {
      out.tokens.push_back(id);
      out.types.push_back(kTextToken);
      continue;
    }
    out.starts.push_back(static_cast<int64_t>(out.tokens.size()));
    for (SpanToken t : ImageSpanTokens(grids[next++])) {
      out.tokens.push_back(image_token_id);
      out.types.push_back(static_cast<int8_t>(t));
    }
  }
  return out;
}

}  // namespace deepseek::image
