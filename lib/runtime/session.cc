// deepseek::Session: drives the model over one sequence; validates every request before any
// state changes so a rejected call leaves the session as it was.
#include "deepseek/session.h"

#include <algorithm>
#include <string>

#include "backends/backend.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "runtime/kv_cache_impl.h"
#include "runtime/refusal.h"
#include "runtime/sequence_file.h"
#include "runtime/snapshot_data.h"
#include "runtime/vision_input.h"
#include "model/state.h"
#include "model/transformer.h"

namespace deepseek {

struct Session::Impl {
  Impl(std::shared_ptr<const Model> m, const SessionOptions& o, std::shared_ptr<KvCache> cache)
      : model(std::move(m)),
        options(o),
        kv_cache(std::move(cache)),
        pool(o.num_threads),
        stream(backend::Registry::Get().Cpu().CreateStream(pool)),
        state(model->config(), kv_cache->impl_->pools) {}

  const model::Transformer& net() const { return model->transformer(); }
  int64_t capacity() const {
    const int64_t max = model->config().max_positions;
    return options.max_context > 0 ? std::min(options.max_context, max) : max;
  }

  void ValidateIds(std::span<const int32_t> tokens) const {
    const int64_t vocab = model->config().vocab_size;
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (tokens[i] < 0 || tokens[i] >= vocab) {
        Fail(StatusCode::kInvalidArgument, "token id " + std::to_string(tokens[i]) + " at index " + std::to_string(i) +
                                               " is outside the vocabulary [0, " + std::to_string(vocab) + ")");
      }
    }
  }

  void CheckCapacity(int64_t more) const {
    if (state.position() + more > capacity()) {
      Fail(StatusCode::kOutOfRange, "sequence would hold " + std::to_string(state.position() + more) +
                                        " tokens; the session allows " + std::to_string(capacity()));
    }
  }

  void Validate(std::span<const int32_t> tokens) const {
    ValidateIds(tokens);
    CheckCapacity(static_cast<int64_t>(tokens.size()));
    const ModelConfig& c = model->config();
    if (c.family != ModelFamily::kV41) return;
    const auto image = std::find(tokens.begin(), tokens.end(), c.image_token_id);
    if (image != tokens.end()) {
      Fail(StatusCode::kInvalidArgument, "token id " + std::to_string(c.image_token_id) + " at index " +
                                             std::to_string(image - tokens.begin()) +
                                             " is the image token, which marks image spans: images enter through PrefillImage");
    }
  }

  // Takes every cache page the request will write before anything changes, so a budget that
  // cannot hold it fails here and leaves the session as it was. Cached prefixes give way
  // first, least recently used first.
  void ReserveKv(int64_t tokens, bool mtp) {
    for (;;) {
      try {
        state.Reserve(tokens, mtp);
        return;
      } catch (const Error& e) {
        if (e.code() != StatusCode::kResourceExhausted) throw;
        if (kv_cache->EvictPrefix()) continue;
        Fail(e.code(), std::string(e.what()) + "; the session (" + std::to_string(state.position()) +
                           " tokens) is unchanged and the budget has room for about " +
                           std::to_string(kv_cache->tokens_available()) + " more tokens of a new sequence");
      }
    }
  }

  // The sequence as a record (its caches' pages shared), and the session put back to one.
  SequenceRecord Record() const { return {state, logits, mtp_expected, mtp_diverged}; }
  void Adopt(SequenceRecord record) noexcept {
    state = std::move(record.state);
    logits = std::move(record.logits);
    previous_logits.clear();
    mtp_expected = record.mtp_expected;
    mtp_diverged = record.mtp_diverged;
  }

  void PrefillImage(const Image& image) {
    if (!model->vision()) Fail(StatusCode::kUnsupported, "the model has no vision tower: it takes no images");
    CheckCapacity(model->vision()->SpanLength(image));
    runtime::ImageSpan span;
    {
      const ThreadPool::Busy busy(pool);
      span = model->vision()->Encode(*stream, image);
    }
    Feed(span.tokens, nullptr, span.embeddings.data());
  }

  // all_logits: when not null, receives the logits after every token ([n, vocab]).
  void Prefill(std::span<const int32_t> tokens, std::vector<float>* all_logits = nullptr) {
    Validate(tokens);
    Feed(tokens, all_logits, nullptr);
  }

  // The forward passes over validated `tokens`, chunk by chunk; `embeddings` [n, D], when not
  // null, replaces the tokens' own (an image span).
  void Feed(std::span<const int32_t> tokens, std::vector<float>* all_logits, const float* embeddings) {
    if (tokens.empty()) return;
    // With MTP, the MTP layers' pages too: skipped positions get zero rows (TrimMtpPending).
    ReserveKv(static_cast<int64_t>(tokens.size()), options.enable_mtp);
    const ThreadPool::Busy busy(pool);  // the forward pass's ParallelFors follow each other closely
    StartFeeding(tokens.front());
    const int64_t total = static_cast<int64_t>(tokens.size());
    const int64_t chunk = std::max<int64_t>(1, options.prefill_chunk);
    const ModelConfig& c = model->config();
    for (int64_t done = 0; done < total;) {
      const int64_t n = std::min(chunk, total - done);
      const auto part = tokens.subspan(static_cast<size_t>(done), static_cast<size_t>(n));
      const model::GivenEmbeddings given[] = {{0, n, embeddings ? embeddings + done * c.dim : nullptr}};
      net().Forward(*stream, pool, scratch, nullptr, state, part, streams,
                    embeddings ? std::span<const model::GivenEmbeddings>(given) : std::span<const model::GivenEmbeddings>());
      Fed(part);
      if (all_logits) {
        all_logits->resize(static_cast<size_t>((done + n) * c.vocab_size));
        net().Logits(*stream, streams.data(), n, all_logits->data() + done * c.vocab_size);
      }
      done += n;
      const bool cancelled = options.progress && !options.progress(done, total) && done < total;
      if (done == total || cancelled) {
        if (all_logits) {  // already computed: the last row, and the one before it for DropLast
          logits.assign(all_logits->end() - c.vocab_size, all_logits->end());
          previous_logits.assign(all_logits->end() - std::min<int64_t>(2, done) * c.vocab_size, all_logits->end() - c.vocab_size);
        } else {
          logits.resize(static_cast<size_t>(c.vocab_size));
          net().Logits(*stream, streams.data() + (n - 1) * net().hidden_width(), 1, logits.data());
          previous_logits.clear();
        }
      }
      if (cancelled) {
        Fail(StatusCode::kCancelled, "prefill cancelled after " + std::to_string(done) + " of " + std::to_string(total) +
                                         " tokens (they stay in the session)");
      }
    }
  }

  // Decode of one token in each session (Session::DecodeBatch), checked in full first.
  static void DecodeBatch(std::span<Session* const> sessions, std::span<const int32_t> tokens) {
    if (sessions.size() != tokens.size()) {
      Fail(StatusCode::kInvalidArgument, "DecodeBatch: " + std::to_string(sessions.size()) + " sessions but " +
                                             std::to_string(tokens.size()) + " tokens");
    }
    if (sessions.empty()) return;
    for (size_t i = 0; i < sessions.size(); ++i) {
      const std::string which = "DecodeBatch: session " + std::to_string(i);
      if (!sessions[i]) Fail(StatusCode::kInvalidArgument, which + " is null");
      if (std::find(sessions.begin(), sessions.begin() + static_cast<std::ptrdiff_t>(i), sessions[i]) != sessions.begin() + static_cast<std::ptrdiff_t>(i)) {
        Fail(StatusCode::kInvalidArgument, which + " appears twice");
      }
      const Impl& s = *sessions[i]->impl_;
      if (s.model != sessions[0]->impl_->model) Fail(StatusCode::kInvalidArgument, which + " runs another model than session 0");
      try {
        s.Validate(tokens.subspan(i, 1));
      } catch (const Error& e) {
        Fail(e.code(), which + ": " + e.what());
      }
    }
    for (Session* session : sessions) session->impl_->ReserveKv(1, session->impl_->options.enable_mtp);

    Impl& lead = *sessions[0]->impl_;
    const ModelConfig& c = lead.model->config();
    std::vector<model::SequenceState*> states;
    for (Session* session : sessions) states.push_back(&session->impl_->state);
    const std::vector<int64_t> counts(sessions.size(), 1);
    std::vector<float> streams, logits(sessions.size() * static_cast<size_t>(c.vocab_size));
    const ThreadPool::Busy busy(lead.pool);
    lead.net().Forward(*lead.stream, lead.pool, lead.scratch, nullptr, states, tokens, counts, streams);
    lead.net().Logits(*lead.stream, streams.data(), static_cast<int64_t>(sessions.size()), logits.data());

    const int64_t row = lead.net().hidden_width();
    for (size_t i = 0; i < sessions.size(); ++i) {
      Impl& s = *sessions[i]->impl_;
      s.StartFeeding(tokens[i]);
      s.streams.assign(streams.begin() + static_cast<std::ptrdiff_t>(i) * row, streams.begin() + static_cast<std::ptrdiff_t>(i + 1) * row);
      s.Fed(tokens.subspan(i, 1));
      s.logits.assign(logits.begin() + static_cast<std::ptrdiff_t>(i) * c.vocab_size,
                      logits.begin() + static_cast<std::ptrdiff_t>(i + 1) * c.vocab_size);
      s.previous_logits.clear();
    }
  }

  // Before feeding tokens: whether the sequence leaves the path MtpLogits was told of.
  void StartFeeding(int32_t first) {
    if (mtp_expected >= 0 && first != mtp_expected) mtp_diverged = true;
    mtp_expected = -1;
  }

  // After the forward pass over `part`, whose final streams are in `streams`.
  void Fed(std::span<const int32_t> part) {
    tokens_processed += static_cast<int64_t>(part.size());
    if (options.enable_mtp) KeepMtpStreams();
  }

  // The chunk's final streams wait for the MTP head, those of the last `window` positions.
  void KeepMtpStreams() {
    state.mtp_pending_streams.insert(state.mtp_pending_streams.end(), streams.begin(), streams.end());
    state.TrimMtpPending(model->config().window, *stream);
  }

  void DropLast() {
    if (previous_logits.empty()) {
      Fail(StatusCode::kFailedPrecondition, "DropLast: the last call was not a PrefillAll of two or more tokens");
    }
    state.DropLast();
    logits = std::move(previous_logits);
    previous_logits.clear();
    mtp_expected = -1;
  }

  std::vector<float> Mtp(int32_t next_token) {
    const ModelConfig& c = model->config();
    if (!options.enable_mtp || !model->has_mtp()) Fail(StatusCode::kFailedPrecondition, "MTP is not enabled for this session or model");
    if (mtp_diverged) Fail(StatusCode::kFailedPrecondition, "the sequence continued with a token other than the one given to MtpLogits");
    if (state.position() == 0) Fail(StatusCode::kFailedPrecondition, "MtpLogits needs at least one consumed token");
    if (state.mtp_position == state.position()) {
      Fail(StatusCode::kFailedPrecondition, "MtpLogits was already called at position " + std::to_string(state.position()) +
                                                "; feed the token given to it first");
    }
    // Only the id is checked: the MTP head reads positions already in the session, and
    // `next_token` takes a slot only when it is fed, where Prefill checks the capacity.
    ValidateIds({&next_token, 1});
    // Next tokens of the pending positions: the consumed history, then `next_token`.
    const int64_t first = state.mtp_position, n = state.position() - first;
    if (state.mtp_pending_streams.size() != static_cast<size_t>(n * c.hc_mult * c.dim)) {
      Fail(StatusCode::kFailedPrecondition, "the MTP head has no streams for positions " + std::to_string(first) + ".." +
                                                std::to_string(state.position() - 1) +
                                                ": they were computed, restored or loaded without enable_mtp");
    }
    std::vector<int32_t> next(state.tokens.begin() + first + 1, state.tokens.end());
    next.push_back(next_token);
    std::vector<float> out(static_cast<size_t>(c.vocab_size));
    ReserveKv(n, true);
    const ThreadPool::Busy busy(pool);
    net().Mtp(*stream, pool, scratch, nullptr, state, state.mtp_pending_streams, first, next, out.data());
    state.mtp_position = first + n;
    state.mtp_pending_streams.clear();
    mtp_expected = next_token;
    return out;
  }

  std::shared_ptr<const Model> model;
  SessionOptions options;
  std::shared_ptr<KvCache> kv_cache;
  ThreadPool pool;
  std::unique_ptr<backend::Stream> stream;
  ScratchStack scratch;  // the forward passes' activations, their memory kept from call to call
  model::SequenceState state;
  std::vector<float> streams;  // scratch: final streams of the last chunk
  std::vector<float> logits;
  std::vector<float> previous_logits;  // after the next-to-last token of the last PrefillAll (DropLast)
  int32_t mtp_expected = -1;
  bool mtp_diverged = false;
  int64_t tokens_processed = 0;
};

int64_t SessionSnapshot::position() const { return data_ ? data_->record.state.position() : 0; }

std::span<const int32_t> SessionSnapshot::tokens() const {
  if (!data_) return {};
  return data_->record.state.tokens;
}

uint64_t SessionSnapshot::bytes() const {
  if (!data_) return 0;
  const model::SequenceState& s = data_->record.state;
  uint64_t floats = s.mtp_pending_streams.size() + data_->record.logits.size();
  for (int i = 0; i < s.config().n_layers + s.config().n_mtp_layers; ++i) {
    const model::LayerState& l = s.layer(i);
    floats += l.compressor.kv.size() + l.compressor.score.size() + l.index_compressor.kv.size() +
              l.index_compressor.score.size();
  }
  return floats * sizeof(float) + s.tokens.size() * sizeof(int32_t) + s.kv_bytes();
}

Session::Session(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Session::~Session() = default;

Result<std::unique_ptr<Session>> Session::Create(std::shared_ptr<const Model> model, const SessionOptions& options) {
  std::unique_ptr<Session> session;
  Status status = CatchAll([&] {
    if (!model) Fail(StatusCode::kInvalidArgument, "Session::Create: model is null");
    if (options.num_threads < 0) Fail(StatusCode::kInvalidArgument, "num_threads must be >= 0");
    std::shared_ptr<KvCache> cache = options.kv_cache;
    if (cache && cache->model() != model) {
      Fail(StatusCode::kInvalidArgument, "Session::Create: the KV cache belongs to another model");
    }
    if (!cache) {
      Result<std::shared_ptr<KvCache>> own = KvCache::Create(model);
      ThrowIfError(own.status());
      cache = std::move(own).value();
    }
    session.reset(new Session(std::make_unique<Impl>(std::move(model), options, std::move(cache))));
  });
  if (!status.ok()) return status;
  return session;
}

Status Session::Prefill(std::span<const int32_t> tokens) { return RunPrefill(tokens, nullptr); }

Status Session::PrefillAll(std::span<const int32_t> tokens, std::vector<float>& all_logits) {
  return RunPrefill(tokens, &all_logits);
}

Status Session::PrefillImage(const Image& image) {
  // Refused before anything changes, so the session stays as it is.
  if (!impl_->model->has_vision()) return Status(StatusCode::kUnsupported, "the model has no vision tower: it takes no images");
  return Guarded([&] { impl_->PrefillImage(image); });
}

Status Session::RunPrefill(std::span<const int32_t> tokens, std::vector<float>* all_logits) {
  return Guarded([&] { impl_->Prefill(tokens, all_logits); });
}

Status Session::Guarded(const std::function<void()>& prefill) {
  // Invalid requests are rejected before any state changes, and a cancelled prefill keeps the
  // chunks it finished. Any other failure may leave a layer half-updated, so the session is
  // reset and says so rather than continuing from an inconsistent cache.
  Status status = CatchAll(prefill);
  const StatusCode code = status.code();
  if (!status.ok() && !IsRefusal(code) && code != StatusCode::kCancelled) {
    Reset();
    return Status(status.code(), status.message() + " (the session was reset)");
  }
  return status;
}

Status Session::DecodeBatch(std::span<Session* const> sessions, std::span<const int32_t> tokens) {
  Status status = CatchAll([&] { Impl::DecodeBatch(sessions, tokens); });
  const StatusCode code = status.code();
  if (!status.ok() && !IsRefusal(code)) {
    for (Session* session : sessions) session->Reset();
    return Status(status.code(), status.message() + " (the sessions were reset)");
  }
  return status;
}

bool Session::CanDrop(int64_t position) const { return !impl_->state.ClosesBlock(position); }

Status Session::DropLast() {
  return CatchAll([&] { impl_->DropLast(); });
}

std::span<const float> Session::logits() const { return impl_->logits; }

Result<std::vector<float>> Session::MtpLogits(int32_t next_token) {
  std::vector<float> out;
  Status status = CatchAll([&] { out = impl_->Mtp(next_token); });
  if (!status.ok()) return status;
  return out;
}

SessionStats Session::stats() const {
  const backend::StreamStats& s = impl_->stream->stats();
  const backend::StreamStats::Counts total = s.Total();
  SessionStats out{impl_->tokens_processed, total.weight_bytes, total.flops, total.seconds, {}, impl_->state.kv_bytes(),
                   s.indexer.macs, s.indexer.seconds};
  for (size_t f = 0; f < std::size(s.by_format); ++f) {
    const backend::StreamStats::Counts& p = s.by_format[f];
    if (p.calls == 0) continue;
    out.by_format.push_back({backend::WeightFormatName(static_cast<backend::WeightFormat>(f)), p.weight_bytes, p.seconds, p.calls});
  }
  return out;
}

int64_t Session::position() const { return impl_->state.position(); }

int64_t Session::capacity() const { return impl_->capacity(); }

std::span<const int32_t> Session::tokens() const { return impl_->state.tokens; }

const std::shared_ptr<KvCache>& Session::kv_cache() const { return impl_->kv_cache; }

Result<SessionSnapshot> Session::Snapshot() const {
  SessionSnapshot snapshot;
  Status status = CatchAll([&] {
    snapshot = SnapshotAccess::Make(impl_->model, impl_->Record());
  });
  if (!status.ok()) return status;
  return snapshot;
}

Status Session::Restore(const SessionSnapshot& snapshot) {
  return CatchAll([&] {
    if (!snapshot.data_) Fail(StatusCode::kInvalidArgument, "Restore: the snapshot is empty");
    if (snapshot.data_->model != impl_->model) {
      Fail(StatusCode::kInvalidArgument, "Restore: the snapshot was taken from a session of another model");
    }
    // Copy first, then commit without throwing, so a failed copy leaves the session as it was.
    // Within one KV memory the copy shares the pages; across memories it copies the rows.
    const SequenceRecord& saved = snapshot.data_->record;
    const model::SequenceState& from = saved.state;
    impl_->Adopt({&from.pools() == &impl_->state.pools() ? from : from.CopyTo(impl_->kv_cache->impl_->pools, *impl_->stream),
                  saved.logits, saved.mtp_expected, saved.mtp_diverged});
  });
}

Status Session::AppendSynthetic(int64_t tokens, uint64_t seed) {
  return CatchAll([&] {
    if (tokens < 0) Fail(StatusCode::kInvalidArgument, "AppendSynthetic: tokens must be >= 0");
    impl_->CheckCapacity(tokens);
    impl_->ReserveKv(tokens, false);
    impl_->state.AppendSynthetic(tokens, seed, *impl_->stream);
    impl_->logits.clear();
    impl_->previous_logits.clear();
    impl_->mtp_expected = -1;
  });
}

Status Session::Save(const std::string& path) const {
  return CatchAll([&] {
    SaveSequenceFile(path, impl_->Record(), impl_->net().checkpoint().fingerprint(), *impl_->stream);
  });
}

Status Session::Load(const std::string& path) {
  return CatchAll([&] {
    impl_->Adopt(LoadSequenceFile(path, impl_->model->config(), impl_->net().checkpoint().fingerprint(),
                                  impl_->kv_cache->impl_->pools, *impl_->stream));
  });
}

void Session::Reset() {
  impl_->state.Reset();
  impl_->logits.clear();
  impl_->previous_logits.clear();
  impl_->mtp_expected = -1;
  impl_->mtp_diverged = false;
}

}  // namespace deepseek
