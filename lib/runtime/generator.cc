// deepseek::Generator: prompt → resume the longest computed start → prefill the rest → sample,
// decode and stream until a stop condition. Text flows token → whole UTF-8 characters →
// stop-string hold-back → (chat) channel splitting → the caller's callback.
#include "deepseek/generation.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <optional>
#include <string>

#include "core/error.h"
#include "runtime/draft_policy.h"
#include "runtime/prefix_reuse.h"
#include "runtime/stop_strings.h"

namespace deepseek {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Where the text of one generation goes: a raw stream is all content; a chat stream is split
// into reasoning, content and tool calls, and parsed at the end.
class ReplySink {
 public:
  // `first` is the channel the reply starts in (reasoning in the thinking modes).
  ReplySink(const StreamCallback& callback, CompletionStream* chat, ChatChannel first)
      : callback_(callback), chat_(chat), channel_(first) {}

  // Passes the text completed by `token` on; false when the callback asks to stop.
  bool Emit(int32_t token, std::string_view text) {
    text_.append(text);
    if (!chat_) return Deliver(token, text, ChatChannel::kContent);
    return Split(token, text);
  }

  // The turn ended as the model meant it to (`token` is its EOS or stop token): the chat
  // parser sees the EOS text, which releases any text it held back.
  void EndTurn(int32_t token, std::string_view eos_text) {
    if (chat_) Deliver(token, chat_->Push(eos_text));
  }

  // The reply was cut short: the chat splitter releases what it held back as a marker start.
  void CutShort(int32_t token) {
    if (chat_) Deliver(token, chat_->Flush());
  }

  const std::string& text() const { return text_; }
  const std::string& channel_text(ChatChannel c) const { return channel_text_[static_cast<int>(c)]; }

 private:
  bool Split(int32_t token, std::string_view text) {
    std::vector<CompletionStream::Piece> pieces = chat_->Push(text);
    if (pieces.empty()) return Deliver(token, {}, channel_);
    return Deliver(token, pieces);
  }

  bool Deliver(int32_t token, const std::vector<CompletionStream::Piece>& pieces) {
    bool go_on = true;
    for (const CompletionStream::Piece& p : pieces) {
      channel_ = p.channel;
      channel_text_[static_cast<int>(p.channel)].append(p.text);
      go_on = Deliver(token, p.text, p.channel) && go_on;
    }
    return go_on;
  }

  bool Deliver(int32_t token, std::string_view text, ChatChannel channel) {
    return !callback_ || callback_(StreamEvent{token, text, channel});
  }

  const StreamCallback& callback_;
  CompletionStream* chat_;
  ChatChannel channel_;
  std::string text_;
  std::string channel_text_[3];
};

}  // namespace

const char* FinishReasonName(FinishReason reason) {
  switch (reason) {
    case FinishReason::kEos: return "eos";
    case FinishReason::kStopString: return "stop_string";
    case FinishReason::kMaxTokens: return "max_tokens";
    case FinishReason::kContextFull: return "context_full";
    case FinishReason::kCancelled: return "cancelled";
  }
  return "unknown";
}

double GenerationStats::prefill_tokens_per_second() const {
  const auto computed = static_cast<double>(prompt_tokens - reused_tokens);
  return prefill_seconds > 0 ? computed / prefill_seconds : 0.0;
}

double GenerationStats::decode_tokens_per_second() const {
  // The first token comes from the prefill's logits; each later one costs one decode step.
  const auto steps = static_cast<double>(std::max<int64_t>(0, generated_tokens - 1));
  return decode_seconds > 0 ? steps / decode_seconds : 0.0;
}

struct Generator::Impl {
  std::shared_ptr<const Model> model;
  std::shared_ptr<const Tokenizer> tokenizer;
  std::function<bool(int64_t, int64_t)> user_progress;
  std::unique_ptr<Session> session;
  PrefixReuse reuse;
  bool speculative = false;  // the MTP head drafts (GeneratorOptions::speculative, and the model has one)
  std::shared_ptr<DecodeBatcher> batcher;  // GeneratorOptions::batcher
  std::atomic<bool> cancel{false};

  void Validate(const GenerationParams& params) const {
    if (params.max_tokens <= 0) Fail(StatusCode::kInvalidArgument, "max_tokens must be > 0");
    for (size_t i = 0; i < params.stop_strings.size(); ++i) {
      if (params.stop_strings[i].empty()) Fail(StatusCode::kInvalidArgument, "stop_strings[" + std::to_string(i) + "] is empty");
    }
    const int64_t vocab = model->config().vocab_size;
    for (int32_t id : params.stop_tokens) {
      if (id < 0 || id >= vocab) Fail(StatusCode::kInvalidArgument, "stop token " + std::to_string(id) + " is outside the vocabulary");
    }
  }

  // Brings the session to the end of `prompt`, reusing what it can; false when cancelled.
  // With `images` (one per image token of the prompt, in order), the session starts afresh:
  // the tokens of an image span do not identify its image, so no prefix is reused or kept.
  bool Prepare(std::span<const int32_t> prompt, std::span<const int64_t> marks, std::span<const Image* const> images,
               GenerationStats& stats) {
    if (prompt.empty()) Fail(StatusCode::kInvalidArgument, "the prompt is empty");
    if (!images.empty()) return PrepareWithImages(prompt, images, stats);
    const Clock::time_point start = Clock::now();
    Result<int64_t> reused = reuse.Resume(*session, prompt);
    ThrowIfError(reused.status());
    stats.prompt_tokens = static_cast<int64_t>(prompt.size());
    stats.reused_tokens = reused.value();
    const Status advanced = reuse.Advance(*session, prompt, marks);
    stats.prefill_seconds = SecondsSince(start);
    if (advanced.code() == StatusCode::kCancelled) return false;
    ThrowIfError(advanced);
    return true;
  }

  bool PrepareWithImages(std::span<const int32_t> prompt, std::span<const Image* const> images, GenerationStats& stats) {
    if (!model->has_vision()) Fail(StatusCode::kUnsupported, "the model has no vision tower: it takes no images");
    const int32_t image_token = model->config().image_token_id;
    const auto placeholders = std::count(prompt.begin(), prompt.end(), image_token);
    if (image_token < 0 || placeholders != static_cast<std::ptrdiff_t>(images.size())) {
      Fail(StatusCode::kInvalidArgument, "the prompt holds " + std::to_string(image_token < 0 ? 0 : placeholders) +
                                             " image tokens for " + std::to_string(images.size()) +
                                             " images (does the tokenizer know " + kImagePlaceholder + "?)");
    }
    const Clock::time_point start = Clock::now();
    session->Reset();
    size_t next_image = 0;
    for (size_t i = 0; i < prompt.size();) {
      Status st;
      if (prompt[i] == image_token) {
        st = session->PrefillImage(*images[next_image++]);
        ++i;
      } else {
        const size_t end = static_cast<size_t>(std::find(prompt.begin() + static_cast<std::ptrdiff_t>(i), prompt.end(), image_token) - prompt.begin());
        st = session->Prefill(prompt.subspan(i, end - i));
        i = end;
      }
      if (st.code() == StatusCode::kCancelled) return false;
      ThrowIfError(st);
    }
    stats.prompt_tokens = session->position();
    stats.reused_tokens = 0;
    stats.prefill_seconds = SecondsSince(start);
    return true;
  }

  Generation Run(std::span<const int32_t> prompt, std::span<const int64_t> marks, std::span<const Image* const> images,
                 const GenerationParams& params, std::span<const int32_t> stop_tokens, ReplySink& sink) {
    Validate(params);
    Result<Sampler> sampler = Sampler::Create(params.sampling, model->config().vocab_size);
    ThrowIfError(sampler.status());
    cancel = false;
    Generation out;
    if (!Prepare(prompt, marks, images, out.stats)) {
      out.finish = FinishReason::kCancelled;
      return out;
    }
    const int32_t eos = model->config().eos_token_id;
    auto is_stop = [&](int32_t t) {
      return (t == eos && !params.ignore_eos) ||
             std::find(stop_tokens.begin(), stop_tokens.end(), t) != stop_tokens.end() ||
             std::find(params.stop_tokens.begin(), params.stop_tokens.end(), t) != params.stop_tokens.end();
    };
    TokenStreamDecoder decoder(tokenizer);
    StopStringMatcher stops(params.stop_strings);
    DraftPolicy drafting;  // per request, so that a request's tokens never depend on earlier ones
    int32_t verified = -1;  // a draft the session consumed and the model confirmed, or -1
    int32_t decided = -1;   // the next token, drawn already (a rejected draft's replacement), or -1
    const Clock::time_point start = Clock::now();
    for (;;) {
      if (cancel) {
        out.finish = FinishReason::kCancelled;
        break;
      }
      const bool consumed = verified >= 0;
      int32_t token = consumed ? verified : decided;
      verified = decided = -1;
      if (token < 0) {
        Result<int32_t> next = sampler.value().Sample(session->logits(), out.tokens);
        ThrowIfError(next.status());
        token = next.value();
      }
      out.tokens.push_back(token);
      if (is_stop(token)) {
        out.finish = FinishReason::kEos;
        break;
      }
      Result<std::string> piece = decoder.Push(token);
      ThrowIfError(piece.status());
      if (!sink.Emit(token, stops.Push(piece.value()))) {
        out.finish = FinishReason::kCancelled;
        break;
      }
      if (stops.stopped()) {
        out.finish = FinishReason::kStopString;
        break;
      }
      if (static_cast<int64_t>(out.tokens.size()) >= params.max_tokens) {
        out.finish = FinishReason::kMaxTokens;
        break;
      }
      if (consumed) continue;  // the session holds it already, and its logits are the next ones
      if (session->position() >= session->capacity()) {
        out.finish = FinishReason::kContextFull;
        break;
      }
      const bool room = static_cast<int64_t>(out.tokens.size()) < params.max_tokens && session->position() + 2 <= session->capacity();
      const uint64_t bytes_before = speculative ? session->stats().weight_bytes_read : 0;
      const auto cost = [&] { return static_cast<double>(session->stats().weight_bytes_read - bytes_before); };
      if (speculative && room && session->CanDrop(session->position() + 1) && drafting.ShouldDraft() &&
          Speculate(token, sampler.value(), out, verified, decided)) {
        drafting.RecordDraft(cost(), verified >= 0);
      } else {
        ThrowIfError(batcher ? batcher->Decode(*session, token) : session->Decode(token));
        if (speculative) drafting.RecordPlain(cost());
      }
    }
    if (!stops.stopped() && out.finish != FinishReason::kCancelled) {
      const std::string tail = stops.Push(decoder.Finish()) + stops.Flush();
      if (!tail.empty()) sink.Emit(out.tokens.back(), tail);
    }
    if (out.finish == FinishReason::kEos || out.finish == FinishReason::kStopString) {
      sink.EndTurn(out.tokens.back(), tokenizer->TokenBytes(eos));
    } else if (!out.tokens.empty() && out.finish != FinishReason::kCancelled) {
      sink.CutShort(out.tokens.back());
    }
    out.stats.generated_tokens = static_cast<int64_t>(out.tokens.size());
    out.stats.decode_seconds = SecondsSince(start);
    out.text = sink.text();
    return out;
  }

  // Feeds `token` with the MTP head's draft of the token after it, in one forward pass. The
  // draft is drawn from the sampler's distribution over the MTP logits (q) and checked against
  // its distribution over the model's logits after `token` (p) by speculative sampling, so the
  // next token is distributed exactly as without drafting (greedy: the draft is kept when it
  // is the argmax). A kept draft stays in the session (`verified`); a rejected one is dropped
  // again and its replacement, drawn from max(0, p − q), is `decided`. False, with nothing fed,
  // when no draft can be made: the head has no streams for some position (a prefix restored
  // from a session without MTP). The caller checks that the draft's position does not close a
  // compressor block (dropping it could not be undone exactly).
  bool Speculate(int32_t token, Sampler& sampler, Generation& out, int32_t& verified, int32_t& decided) {
    Result<std::vector<float>> mtp = session->MtpLogits(token);
    if (!mtp.ok()) {
      if (mtp.status().code() == StatusCode::kFailedPrecondition) return false;
      ThrowIfError(mtp.status());
    }
    Result<Sampler::Distribution> q = sampler.MakeDistribution(mtp.value(), out.tokens);
    ThrowIfError(q.status());
    const int32_t draft = sampler.Draw(q.value());
    const std::array<int32_t, 2> fed{token, draft};
    ThrowIfError(session->PrefillAll(fed, all_logits));
    ++out.stats.drafted_tokens;
    const int64_t vocab = model->config().vocab_size;
    Result<Sampler::Distribution> p =
        sampler.MakeDistribution(std::span<const float>(all_logits).first(static_cast<size_t>(vocab)), out.tokens);
    ThrowIfError(p.status());
    bool accepted = false;
    const int32_t next = sampler.Verify(draft, q.value(), p.value(), accepted);
    if (accepted) {
      ++out.stats.accepted_drafts;
      verified = draft;
    } else {
      ThrowIfError(session->DropLast());
      decided = next;
    }
    return true;
  }
  std::vector<float> all_logits;  // scratch of Speculate

  ChatReply Chat(std::span<const ChatMessage> messages, const ChatFormatOptions& format, const GenerationParams& params,
                 const StreamCallback& on_event) {
    Result<std::string> prompt_text = EncodeChat(messages, format);
    ThrowIfError(prompt_text.status());
    Result<std::vector<int32_t>> prompt = tokenizer->Encode(prompt_text.value());
    ThrowIfError(prompt.status());
    const std::vector<int32_t>& ids = prompt.value();

    // Tokens that open another turn end this one; the chat format never generates them.
    std::vector<int32_t> stop_tokens;
    for (const char* text : {"<｜User｜>", "<｜Assistant｜>", "<｜latest_reminder｜>"}) {
      if (std::optional<int32_t> id = tokenizer->TokenId(text)) stop_tokens.push_back(*id);
    }
    // Snapshot just before the first <｜User｜>: the system prompt, which other conversations
    // (other requests to a server) share, through a KV cache's prefix cache. Just after the
    // generation prompt's <｜Assistant｜>: the next turn renders this reply from there (in Expert
    // mode as </think> and the answer, without the reasoning), so that is where it resumes.
    // And one at the end of the prompt, for regenerating the turn.
    std::vector<int64_t> marks;
    if (std::optional<int32_t> user = tokenizer->TokenId("<｜User｜>")) {
      const auto it = std::find(ids.begin(), ids.end(), *user);
      if (it != ids.end() && it != ids.begin()) marks.push_back(static_cast<int64_t>(it - ids.begin()));
    }
    if (std::optional<int32_t> assistant = tokenizer->TokenId("<｜Assistant｜>")) {
      const auto it = std::find(ids.rbegin(), ids.rend(), *assistant);
      if (it != ids.rend() && (marks.empty() || ids.rend() - it > marks.back())) {
        marks.push_back(static_cast<int64_t>(ids.rend() - it));
      }
    }
    marks.push_back(static_cast<int64_t>(ids.size()));

    const bool thinking = format.mode != ChatMode::kFast;
    CompletionStream stream(thinking);
    ReplySink sink(on_event, &stream, thinking ? ChatChannel::kReasoning : ChatChannel::kContent);
    ChatReply reply;
    std::vector<const Image*> images;  // the messages' images in order, not copied
    for (const ChatMessage& m : messages) {
      for (const Image& image : m.images) images.push_back(&image);
    }
    reply.generation = Run(ids, marks, images, params, stop_tokens, sink);
    Result<ChatMessage> parsed = stream.Finish();
    if (parsed.ok()) {
      reply.message = std::move(parsed).value();
    } else {
      reply.parse_status = parsed.status();
      reply.message.role = "assistant";
      reply.message.reasoning_content = sink.channel_text(ChatChannel::kReasoning);
      reply.message.content = sink.channel_text(ChatChannel::kContent);
    }
    return reply;
  }
};

Generator::Generator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Generator::~Generator() = default;

Result<std::unique_ptr<Generator>> Generator::Create(std::shared_ptr<const Model> model,
                                                     std::shared_ptr<const Tokenizer> tokenizer,
                                                     const GeneratorOptions& options) {
  std::unique_ptr<Generator> generator;
  Status status = CatchAll([&] {
    if (!model) Fail(StatusCode::kInvalidArgument, "Generator::Create: model is null");
    if (!tokenizer) Fail(StatusCode::kInvalidArgument, "Generator::Create: tokenizer is null");
    if (tokenizer->vocab_size() > model->config().vocab_size) {
      Fail(StatusCode::kInvalidArgument, "the tokenizer has " + std::to_string(tokenizer->vocab_size()) +
                                             " token ids but the model's vocabulary is " +
                                             std::to_string(model->config().vocab_size));
    }
    auto impl = std::make_unique<Impl>();
    impl->model = model;
    impl->tokenizer = std::move(tokenizer);
    impl->user_progress = options.session.progress;
    // Prefill checks for cancellation between chunks through the session's progress hook.
    SessionOptions session_options = options.session;
    impl->speculative = options.speculative && !options.batcher && model->has_mtp();
    impl->batcher = options.batcher;
    if (impl->speculative) session_options.enable_mtp = true;
    session_options.progress = [raw = impl.get()](int64_t done, int64_t total) {
      if (raw->cancel) return false;
      return !raw->user_progress || raw->user_progress(done, total);
    };
    Result<std::unique_ptr<Session>> session = Session::Create(std::move(model), session_options);
    ThrowIfError(session.status());
    impl->session = std::move(session).value();
    generator.reset(new Generator(std::move(impl)));
  });
  if (!status.ok()) return status;
  return generator;
}

Result<Generation> Generator::Generate(std::span<const int32_t> prompt, const GenerationParams& params,
                                       const StreamCallback& on_event) {
  Generation out;
  Status status = CatchAll([&] {
    ReplySink sink(on_event, nullptr, ChatChannel::kContent);
    out = impl_->Run(prompt, std::array<int64_t, 1>{static_cast<int64_t>(prompt.size())}, {}, params, {}, sink);
  });
  if (!status.ok()) return status;
  return out;
}

Result<ChatReply> Generator::Chat(std::span<const ChatMessage> messages, const ChatFormatOptions& format,
                                  const GenerationParams& params, const StreamCallback& on_event) {
  ChatReply reply;
  Status status = CatchAll([&] { reply = impl_->Chat(messages, format, params, on_event); });
  if (!status.ok()) return status;
  return reply;
}

void Generator::Cancel() { impl_->cancel = true; }
const Session& Generator::session() const { return *impl_->session; }
const Tokenizer& Generator::tokenizer() const { return *impl_->tokenizer; }

}  // namespace deepseek
