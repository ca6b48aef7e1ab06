// Video: a clip's frames, chosen for a model, as an array of ds_image handles.
#include "internal.h"

using namespace deepseek::capi;

extern "C" {

void ds_video_params_init(ds_video_params* params) DS_NOEXCEPT {
  if (!params) return;
  const deepseek::VideoOptions defaults;
  *params = ds_video_params{};
  params->struct_size = sizeof *params;
  params->frame_stride = defaults.frame_stride;
  params->max_visual_tokens = defaults.max_visual_tokens;
}

ds_status ds_video_load(const char* dir, const ds_model* model, const ds_video_params* params,
                        ds_video** out) DS_NOEXCEPT {
  return Guard([&] {
    Require(out, "out");
    Require(dir, "dir");
    Require(model, "model");
    const ds_video_params p = ReadStruct(params, ds_video_params_init, "ds_video_params");
    const deepseek::VideoOptions options{.frame_stride = p.frame_stride, .max_visual_tokens = p.max_visual_tokens};
    auto video = std::make_unique<ds_video>();
    for (deepseek::Image& frame : Unwrap(deepseek::LoadVideoFrames(dir, *model->model, options))) {
      video->frames.push_back(std::make_unique<ds_image>(ds_image{std::move(frame)}));
      video->list.push_back(video->frames.back().get());
    }
    *out = video.release();
  });
}

void ds_video_destroy(ds_video* video) DS_NOEXCEPT { delete video; }

const ds_image* const* ds_video_frames(const ds_video* video, size_t* n_frames) DS_NOEXCEPT {
  const size_t n = video ? video->list.size() : 0;
  if (n_frames) *n_frames = n;
  return n ? video->list.data() : nullptr;
}

}  // extern "C"
