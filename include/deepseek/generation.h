// deepseek::Generator: text generation over one Session — the prompt (chat messages or raw
// tokens), sampling, stop conditions, a streaming callback, cancellation and timings. Calls
// that share a start with what the session already holds reuse it: a multi-turn chat only
// computes the new turn.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "deepseek/chat.h"
#include "deepseek/model.h"
#include "deepseek/sampler.h"
#include "deepseek/session.h"
#include "deepseek/status.h"
#include "deepseek/tokenizer.h"

namespace deepseek {

enum class FinishReason {
  kEos,         // the model ended its turn (EOS or one of the stop tokens)
  kStopString,  // a stop string appeared; it and anything after it are cut
  kMaxTokens,   // GenerationParams::max_tokens were generated
  kContextFull, // the session holds as many tokens as it may
  kCancelled,   // the callback returned false, or Cancel() was called
};
const char* FinishReasonName(FinishReason reason);

struct GenerationParams {
  SamplingParams sampling;
  int64_t max_tokens = 512;               // tokens generated at most (> 0)
  std::vector<std::string> stop_strings;  // non-empty texts that end the reply when generated
  std::vector<int32_t> stop_tokens;       // ids that end the reply, besides EOS
  bool ignore_eos = false;                // keep going past EOS (benchmarks)
};

// One step of the stream. A token may complete no text (part of a UTF-8 character, or text
// held back because it may start a marker or a stop string) or text of two channels (the
// callback is then called once per piece, with the same token).
struct StreamEvent {
  int32_t token;
  std::string_view text;  // whole UTF-8 characters
  ChatChannel channel;    // always kContent for raw-token generation
};
// Return false to stop (FinishReason::kCancelled).
using StreamCallback = std::function<bool(const StreamEvent& event)>;

struct GenerationStats {
  int64_t prompt_tokens = 0;     // tokens of the request's prompt
  int64_t reused_tokens = 0;     // of those, already in the session and not recomputed
  int64_t generated_tokens = 0;  // tokens sampled, the final stop token included
  int64_t drafted_tokens = 0;    // MTP drafts verified (speculative decoding)
  int64_t accepted_drafts = 0;   // of those, the ones the model confirmed
  double prefill_seconds = 0;    // computing the prompt's new tokens
  double decode_seconds = 0;     // the generation loop after the first token
  double prefill_tokens_per_second() const;
  double decode_tokens_per_second() const;
};

struct Generation {
  std::vector<int32_t> tokens;  // generated ids; a final EOS or stop token is included
  std::string text;             // their text: specials as text, stop token and stop string cut
  FinishReason finish = FinishReason::kEos;
  GenerationStats stats;
};

struct ChatReply {
  // The assistant's reply parsed from the output. When the output is malformed or cut short
  // (max tokens, cancellation), `message` holds what was streamed per channel and
  // `parse_status` says what was wrong.
  ChatMessage message;
  Status parse_status;
  Generation generation;
};

// Joins the decode steps of generators running at the same time, each on its own thread (a
// server's request slots), into Session::DecodeBatch calls, so that N requests read the
// weights once per step instead of N times. No thread of its own: a step that arrives while
// no batch runs starts one with every step waiting then; steps arriving meanwhile wait for the
// next. Share one among generators of one model (GeneratorOptions::batcher).
class DecodeBatcher {
 public:
  DecodeBatcher();
  ~DecodeBatcher();
  DecodeBatcher(const DecodeBatcher&) = delete;
  DecodeBatcher& operator=(const DecodeBatcher&) = delete;

  // session->Decode(token), batched with the steps of other threads; the same logits as alone.
  // A request its session refuses (ids, room, KV budget) fails alone, as Decode would.
  Status Decode(Session& session, int32_t token);

  struct Stats {
    int64_t steps = 0;   // DecodeBatch calls
    int64_t tokens = 0;  // the tokens they decoded (tokens / steps: the mean batch size)
  };
  Stats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct GeneratorOptions {
  SessionOptions session;  // its progress callback is called during prefill, as for a Session
  // Speculative decoding with the model's MTP head (when it has one): a step drafts the token
  // after the one being fed and verifies it in the same forward pass (the weights read once
  // for both), so an accepted draft costs no step of its own. Greedy decoding gives the same
  // tokens as without it; sampling draws drafts from the sampler's distribution over the MTP
  // logits and keeps or replaces them by speculative sampling (Sampler::Verify), so the tokens
  // follow the same distribution (not the same draws for a seed as without drafting). Within
  // a request the generator weighs its drafting and plain steps by the weight bytes they read
  // (DraftPolicy: deterministic, so a seed still reproduces its tokens) and drafts only while
  // drafting reads less per token: with a small model the MTP head's reading of the LM head
  // can cost more than accepted drafts save. Sets the session's enable_mtp.
  bool speculative = true;
  // When set, plain decode steps go through it, batched with other generators' steps; those
  // steps then do not draft (a batch of sequences already shares the weight reads).
  std::shared_ptr<DecodeBatcher> batcher;
};

class Generator {
 public:
  // The tokenizer's ids must fit the model's vocabulary.
  static Result<std::unique_ptr<Generator>> Create(std::shared_ptr<const Model> model,
                                                   std::shared_ptr<const Tokenizer> tokenizer,
                                                   const GeneratorOptions& options = {});
  ~Generator();
  Generator(const Generator&) = delete;
  Generator& operator=(const Generator&) = delete;

  // Generates after `prompt`. The longest start of `prompt` already computed — in the session
  // or in the snapshot taken at the end of the previous prompt — is reused.
  Result<Generation> Generate(std::span<const int32_t> prompt, const GenerationParams& params,
                              const StreamCallback& on_event = {});

  // Encodes `messages` in the V4 chat format and generates the assistant's reply, streamed
  // per channel. EOS and the tokens that open other turns (<｜User｜>, <｜Assistant｜>,
  // <｜latest_reminder｜>) end the reply. Pass the whole conversation each time, including
  // earlier replies; the turns already computed are reused.
  Result<ChatReply> Chat(std::span<const ChatMessage> messages, const ChatFormatOptions& format,
                         const GenerationParams& params, const StreamCallback& on_event = {});

  // From any thread: the call in progress stops at its next token or prefill chunk. Each call
  // clears the request when it starts.
  void Cancel();

  const Session& session() const;
  const Tokenizer& tokenizer() const;

 private:
  struct Impl;
  explicit Generator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace deepseek
