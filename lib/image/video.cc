#include "image/video.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <system_error>

#include "core/error.h"
#include "image/image_grid.h"

namespace deepseek::image {

std::vector<int64_t> SelectFrames(int64_t frames, int64_t width, int64_t height, const VisionConfig& vision,
                                  const VideoOptions& options) {
  if (options.frame_stride < 1) Fail(StatusCode::kInvalidArgument, "video: frame stride " + std::to_string(options.frame_stride) + " is below 1");
  // Frames of one clip share a size, so they share a plan.
  const int64_t per_frame = frames > 0 ? PlanImageGrid(width, height, vision).span_tokens() : 0;
  if (frames > 0 && per_frame > options.max_visual_tokens) {
    Fail(StatusCode::kInvalidArgument, "video: one frame takes " + std::to_string(per_frame) + " visual tokens, above the budget of " +
                                           std::to_string(options.max_visual_tokens));
  }
  std::vector<int64_t> chosen;
  for (int64_t f = 0; f < frames && static_cast<int64_t>(chosen.size() + 1) * per_frame <= options.max_visual_tokens;
       f += options.frame_stride) {
    chosen.push_back(f);
  }
  return chosen;
}

std::vector<std::string> FrameFiles(const std::string& dir) {
  std::error_code ec;
  std::vector<std::string> files;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code entry_ec;  // an entry that cannot be examined is skipped, not fatal
    if (!it->is_regular_file(entry_ec)) continue;
    std::string ext = it->path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (ext == ".png" || ext == ".jpg" || ext == ".jpeg") files.push_back(it->path().string());
  }
  if (ec) Fail(StatusCode::kNotFound, "video: cannot read the directory '" + dir + "': " + ec.message());
  if (files.empty()) Fail(StatusCode::kNotFound, "video: no .png or .jpg frames in '" + dir + "'");
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace deepseek::image
