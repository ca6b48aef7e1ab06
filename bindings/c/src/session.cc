// Raw sessions (prefill, decode, logits, snapshots) and the token sampler for hand-written
// decode loops.
#include "internal.h"

namespace deepseek::capi {

SessionOptions ToSessionOptions(const ds_session_params* params) {
  const ds_session_params p = ReadStruct(params, ds_session_params_init, "ds_session_params");
  SessionOptions options;
  options.num_threads = p.num_threads;
  options.max_context = p.max_context;
  options.prefill_chunk = p.prefill_chunk;
  options.enable_mtp = p.enable_mtp != 0;
  if (p.kv_cache) options.kv_cache = p.kv_cache->cache;
  if (p.progress) {
    options.progress = [p](int64_t done, int64_t total) { return p.progress(done, total, p.progress_user_data) == 0; };
  }
  return options;
}

SamplingParams ToSampling(const ds_sampling_params* params) {
  const ds_sampling_params p = ReadStruct(params, ds_sampling_params_init, "ds_sampling_params");
  SamplingParams out;
  out.temperature = p.temperature;
  out.top_k = p.top_k;
  out.top_p = p.top_p;
  out.min_p = p.min_p;
  out.repetition_penalty = p.repetition_penalty;
  out.presence_penalty = p.presence_penalty;
  out.frequency_penalty = p.frequency_penalty;
  if (p.n_logit_bias) Require(p.logit_bias, "ds_sampling_params.logit_bias");
  for (size_t i = 0; i < p.n_logit_bias; ++i) out.logit_bias.emplace_back(p.logit_bias[i].token, p.logit_bias[i].bias);
  out.seed = p.seed;
  return out;
}

}  // namespace deepseek::capi

using namespace deepseek::capi;

extern "C" {

void ds_session_params_init(ds_session_params* params) DS_NOEXCEPT {
  if (!params) return;
  const deepseek::SessionOptions defaults;
  *params = ds_session_params{};
  params->struct_size = sizeof *params;
  params->num_threads = defaults.num_threads;
  params->enable_mtp = defaults.enable_mtp ? 1 : 0;
  params->max_context = defaults.max_context;
  params->prefill_chunk = defaults.prefill_chunk;
  params->speculative = deepseek::GeneratorOptions{}.speculative ? 1 : 0;
}

ds_status ds_session_create(const ds_model* model, const ds_session_params* params, ds_session** out) DS_NOEXCEPT {
  return Guard([&] {
    Require(out, "out");
    Require(model, "model");
    auto handle = std::make_unique<ds_session>();
    handle->session = Unwrap(deepseek::Session::Create(model->model, ToSessionOptions(params)));
    *out = handle.release();
  });
}

void ds_session_destroy(ds_session* session) DS_NOEXCEPT { delete session; }

ds_status ds_session_prefill(ds_session* session, const int32_t* tokens, size_t n_tokens) DS_NOEXCEPT {
  return Guard([&] {
    Require(session, "session");
    if (n_tokens) Require(tokens, "tokens");
    ThrowIfError(session->session->Prefill({tokens, n_tokens}));
  });
}

ds_status ds_session_decode(ds_session* session, int32_t token) DS_NOEXCEPT {
  return Guard([&] { ThrowIfError(Require(session, "session")->session->Decode(token)); });
}

ds_status ds_session_decode_batch(ds_session* const* sessions, const int32_t* tokens, size_t n) DS_NOEXCEPT {
  return Guard([&] {
    if (n == 0) return;
    Require(sessions, "sessions");
    Require(tokens, "tokens");
    std::vector<deepseek::Session*> list;
    for (size_t i = 0; i < n; ++i) {
      Require(sessions[i], ("sessions[" + std::to_string(i) + "]").c_str());
      list.push_back(sessions[i]->session.get());
    }
    ThrowIfError(deepseek::Session::DecodeBatch(list, {tokens, n}));
  });
}

ds_status ds_session_prefill_image(ds_session* session, const ds_image* image) DS_NOEXCEPT {
  return Guard([&] {
    Require(session, "session");
    ThrowIfError(session->session->PrefillImage(Require(image, "image")->image));
  });
}

ds_status ds_decode_batcher_create(ds_decode_batcher** out) DS_NOEXCEPT {
  return Guard([&] {
    Require(out, "out");
    auto handle = std::make_unique<ds_decode_batcher>();
    handle->batcher = std::make_shared<deepseek::DecodeBatcher>();
    *out = handle.release();
  });
}

void ds_decode_batcher_destroy(ds_decode_batcher* batcher) DS_NOEXCEPT { delete batcher; }

const float* ds_session_logits(const ds_session* session, size_t* n_logits) DS_NOEXCEPT {
  const std::span<const float> logits = session ? session->session->logits() : std::span<const float>();
  if (n_logits) *n_logits = logits.size();
  return logits.empty() ? nullptr : logits.data();
}

ds_status ds_session_mtp_logits(ds_session* session, int32_t next_token, float* logits, size_t capacity,
                                size_t* n_logits) DS_NOEXCEPT {
  return Guard([&] {
    Require(session, "session");
    const std::vector<float> mtp = Unwrap(session->session->MtpLogits(next_token));
    CopyOut(mtp.data(), mtp.size(), sizeof(float), logits, capacity, n_logits, false);
  });
}

int64_t ds_session_position(const ds_session* session) DS_NOEXCEPT {
  return session ? session->session->position() : -1;
}

int64_t ds_session_capacity(const ds_session* session) DS_NOEXCEPT {
  return session ? session->session->capacity() : -1;
}

const int32_t* ds_session_tokens(const ds_session* session, size_t* n_tokens) DS_NOEXCEPT {
  const std::span<const int32_t> tokens = session ? session->session->tokens() : std::span<const int32_t>();
  if (n_tokens) *n_tokens = tokens.size();
  return tokens.empty() ? nullptr : tokens.data();
}

void ds_session_reset(ds_session* session) DS_NOEXCEPT {
  if (session) session->session->Reset();
}

ds_status ds_session_snapshot(const ds_session* session, ds_snapshot** out) DS_NOEXCEPT {
  return Guard([&] {
    Require(out, "out");
    auto handle = std::make_unique<ds_snapshot>(ds_snapshot{Unwrap(Require(session, "session")->session->Snapshot())});
    *out = handle.release();
  });
}

ds_status ds_session_restore(ds_session* session, const ds_snapshot* snapshot) DS_NOEXCEPT {
  return Guard([&] {
    Require(session, "session");
    ThrowIfError(session->session->Restore(Require(snapshot, "snapshot")->snapshot));
  });
}

ds_status ds_session_save(const ds_session* session, const char* path) DS_NOEXCEPT {
  return Guard([&] {
    Require(session, "session");
    Require(path, "path");
    ThrowIfError(session->session->Save(path));
  });
}

ds_status ds_session_load(ds_session* session, const char* path) DS_NOEXCEPT {
  return Guard([&] {
    Require(session, "session");
    Require(path, "path");
    ThrowIfError(session->session->Load(path));
  });
}

int64_t ds_snapshot_position(const ds_snapshot* snapshot) DS_NOEXCEPT {
  return snapshot ? snapshot->snapshot.position() : -1;
}

void ds_snapshot_destroy(ds_snapshot* snapshot) DS_NOEXCEPT { delete snapshot; }

void ds_sampling_params_init(ds_sampling_params* params) DS_NOEXCEPT {
  if (!params) return;
  const deepseek::SamplingParams defaults;
  *params = ds_sampling_params{};
  params->struct_size = sizeof *params;
  params->temperature = defaults.temperature;
  params->top_k = defaults.top_k;
  params->top_p = defaults.top_p;
  params->min_p = defaults.min_p;
  params->repetition_penalty = defaults.repetition_penalty;
  params->presence_penalty = defaults.presence_penalty;
  params->frequency_penalty = defaults.frequency_penalty;
  params->seed = defaults.seed;
}

ds_status ds_sampler_create(const ds_sampling_params* params, int64_t vocab_size, ds_sampler** out) DS_NOEXCEPT {
  return Guard([&] {
    Require(out, "out");
    auto handle = std::make_unique<ds_sampler>(ds_sampler{Unwrap(deepseek::Sampler::Create(ToSampling(params), vocab_size))});
    *out = handle.release();
  });
}

void ds_sampler_destroy(ds_sampler* sampler) DS_NOEXCEPT { delete sampler; }

ds_status ds_sampler_sample(ds_sampler* sampler, const float* logits, size_t n_logits, const int32_t* history,
                            size_t n_history, int32_t* token) DS_NOEXCEPT {
  return Guard([&] {
    Require(sampler, "sampler");
    Require(token, "token");
    if (n_logits) Require(logits, "logits");
    if (n_history) Require(history, "history");
    *token = Unwrap(sampler->sampler.Sample({logits, n_logits}, {history, n_history}));
  });
}

}  // extern "C"
