// Generator through the public API on the tiny checkpoint: stop conditions, streaming,
// cancellation, prefix reuse (results identical to a fresh generator), chat turns and bad input.
#include <doctest/doctest.h>

#include <atomic>
#include <cmath>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "deepseek/deepseek.h"
#include "runtime/stop_strings.h"
#include "support/shared_data.h"
#include "tiny_fixture.h"

namespace deepseek::testing {
namespace {

std::shared_ptr<const Tokenizer> TinyTokenizer() {
  static const std::shared_ptr<const Tokenizer> tokenizer = [] {
    auto loaded = Tokenizer::Load(TinyCheckpointDir());
    REQUIRE_MESSAGE(loaded.ok(), loaded.status().ToString());
    return loaded.value();
  }();
  return tokenizer;
}

std::unique_ptr<Generator> NewGenerator() {
  GeneratorOptions options;
  options.session.num_threads = 2;
  options.session.prefill_chunk = 16;
  auto g = Generator::Create(TinyModel(), TinyTokenizer(), options);
  REQUIRE_MESSAGE(g.ok(), g.status().ToString());
  return std::move(g).value();
}

std::vector<int32_t> Encode(const std::string& text) {
  auto ids = TinyTokenizer()->Encode(text);
  REQUIRE_MESSAGE(ids.ok(), ids.status().ToString());
  return ids.value();
}

GenerationParams Sampled(int64_t max_tokens, uint64_t seed = 7) {
  GenerationParams p;
  p.sampling.temperature = 0.8f;
  p.sampling.seed = seed;
  p.max_tokens = max_tokens;
  p.ignore_eos = true;  // the tiny model's EOS would end some runs early
  return p;
}

Generation Generate(Generator& g, const std::vector<int32_t>& prompt, const GenerationParams& p,
                    const StreamCallback& cb = {}) {
  auto out = g.Generate(prompt, p, cb);
  REQUIRE_MESSAGE(out.ok(), out.status().ToString());
  return std::move(out).value();
}

ChatMessage Message(const char* role, const std::string& content) {
  ChatMessage m;
  m.role = role;
  m.content = content;
  return m;
}

}  // namespace

TEST_CASE("stop strings: held back while they may still match, cut where they do") {
  StopStringMatcher m({"STOP", "end."});
  CHECK(m.Push("abc S") == "abc ");  // "S" may begin STOP
  CHECK(m.Push("T") == "");
  CHECK(m.Push("x") == "STx");       // it did not
  CHECK(m.Push("ok en") == "ok ");
  CHECK(m.Push("d.tail") == "");
  CHECK(m.stopped());
  CHECK(m.Push("more") == "");
  StopStringMatcher flush({"zz"});
  CHECK(flush.Push("az") == "a");
  CHECK(flush.Flush() == "z");
}

TEST_CASE("generation: the stream, the text and the tokens agree and max_tokens ends it") {
  auto g = NewGenerator();
  std::string streamed;
  std::vector<int32_t> event_tokens;
  const Generation out = Generate(*g, Encode("Once upon a time"), Sampled(24), [&](const StreamEvent& e) {
    streamed.append(e.text);
    CHECK(e.channel == ChatChannel::kContent);
    if (event_tokens.empty() || event_tokens.back() != e.token) event_tokens.push_back(e.token);
    return true;
  });
  CHECK(out.finish == FinishReason::kMaxTokens);
  CHECK(out.tokens.size() == 24);
  CHECK(event_tokens == out.tokens);
  CHECK(streamed == out.text);
  auto decoded = TinyTokenizer()->Decode(out.tokens);
  REQUIRE(decoded.ok());
  CHECK(out.text == decoded.value());
  CHECK(out.stats.generated_tokens == 24);
  CHECK(out.stats.prompt_tokens == static_cast<int64_t>(Encode("Once upon a time").size()));
  CHECK(out.stats.reused_tokens == 0);
  CHECK(out.stats.decode_tokens_per_second() > 0);
}

TEST_CASE("generation: a fixed seed reproduces and greedy equals argmax of the session's logits") {
  auto a = NewGenerator();
  auto b = NewGenerator();
  const auto prompt = Encode("The sea");
  CHECK(Generate(*a, prompt, Sampled(16, 3)).tokens == Generate(*b, prompt, Sampled(16, 3)).tokens);

  GenerationParams greedy = Sampled(8);
  greedy.sampling.temperature = 0;
  const Generation out = Generate(*a, prompt, greedy);
  SessionOptions options;
  options.num_threads = 2;
  auto session = Session::Create(TinyModel(), options);
  REQUIRE(session.ok());
  Session& s = *session.value();
  REQUIRE(s.Prefill(prompt).ok());
  for (int32_t token : out.tokens) {
    const auto logits = s.logits();
    const auto best = std::max_element(logits.begin(), logits.end()) - logits.begin();
    CHECK(token == best);
    REQUIRE(s.Decode(token).ok());
  }
}

TEST_CASE("generation: speculative decoding with the MTP head gives plain decoding's tokens") {
  GeneratorOptions plain_options;
  plain_options.session.num_threads = 2;
  plain_options.speculative = false;
  auto plain = Generator::Create(TinyModel(), TinyTokenizer(), plain_options);
  REQUIRE(plain.ok());
  GeneratorOptions speculative_options = plain_options;
  speculative_options.speculative = true;
  auto created = Generator::Create(TinyModel(), TinyTokenizer(), speculative_options);
  REQUIRE(created.ok());
  auto& speculative = created.value();
  const auto prompt = Encode("The sea and the sky were grey");
  GenerationParams greedy = Sampled(64);
  greedy.sampling.temperature = 0;
  int64_t drafted = 0, accepted = 0;
  for (int64_t max_tokens : {1, 2, 3, 7, 64}) {  // every boundary of a verified pair
    CAPTURE(max_tokens);
    greedy.max_tokens = max_tokens;
    const Generation want = Generate(*plain.value(), prompt, greedy);
    const Generation got = Generate(*speculative, prompt, greedy);
    CHECK(got.tokens == want.tokens);
    CHECK(got.text == want.text);
    CHECK(want.stats.drafted_tokens == 0);
    CHECK(got.stats.accepted_drafts <= got.stats.drafted_tokens);
    drafted += got.stats.drafted_tokens;
    accepted += got.stats.accepted_drafts;
  }
  CHECK(drafted > 0);
  MESSAGE("drafts: " << drafted << ", accepted: " << accepted);
}

// Sampling with drafts: the first decode step of a fresh generator drafts (DraftPolicy measures
// both kinds of step first), so the second token comes from speculative sampling. Its joint
// law with the first token (top-k 3: at most 9 pairs) must be the same as without drafting.
TEST_CASE("generation: sampled speculative decoding keeps the distribution of the tokens") {
  constexpr int kRuns = 400;
  const auto prompt = Encode("The sea and the sky were grey");
  const auto pairs = [&](bool speculative, std::map<std::pair<int32_t, int32_t>, int>& counts) {
    // The generators resume the prompt from a shared prefix cache instead of computing it
    // again (one per mode: the drafting generators' prefixes hold the MTP head's streams).
    KvCacheOptions cache_options;
    cache_options.max_prefixes = 2;
    auto cache = KvCache::Create(TinyModel(), cache_options);
    REQUIRE(cache.ok());
    int64_t drafted = 0;
    for (int run = 0; run < kRuns; ++run) {
      GeneratorOptions options;
      options.session.num_threads = 1;
      options.session.kv_cache = cache.value();
      options.speculative = speculative;
      auto g = Generator::Create(TinyModel(), TinyTokenizer(), options);
      REQUIRE(g.ok());
      GenerationParams p = Sampled(2, 1000 + static_cast<uint64_t>(run));
      p.sampling.top_k = 3;
      p.sampling.temperature = 1.5f;  // flatter, so that drafts are often rejected
      const Generation out = Generate(*g.value(), prompt, p);
      REQUIRE(out.tokens.size() == 2);
      ++counts[{out.tokens[0], out.tokens[1]}];
      drafted += out.stats.drafted_tokens;
    }
    return drafted;
  };
  std::map<std::pair<int32_t, int32_t>, int> plain, drafted;
  CHECK(pairs(false, plain) == 0);
  CHECK(pairs(true, drafted) == kRuns);
  // Two-sample chi-square over the pairs seen: with at most 8 degrees of freedom, 35 is
  // exceeded with probability below 4e-5 when the laws are equal.
  double chi = 0;
  int cells = 0;
  std::set<std::pair<int32_t, int32_t>> seen;
  for (const auto& [k, n] : plain) seen.insert(k);
  for (const auto& [k, n] : drafted) seen.insert(k);
  for (const auto& k : seen) {
    const double a = plain[k], b = drafted[k];
    if (a + b > 0) chi += (a - b) * (a - b) / (a + b), ++cells;
  }
  MESSAGE("pairs: " << cells << ", chi-square " << chi);
  CHECK(cells > 1);
  CHECK(chi < 35);
}

TEST_CASE("generation: generators sharing a DecodeBatcher decode in batches with the tokens they get alone") {
  constexpr int kRequests = 4;
  const std::string texts[kRequests] = {"The sea", "A long time ago in a village", "Numbers: one, two", "Why"};
  std::vector<GenerationParams> params;
  for (int i = 0; i < kRequests; ++i) {
    params.push_back(Sampled(40, 11 + i));
    if (i % 2) params.back().sampling.temperature = 0;  // greedy ones too (no drafting when batched)
  }
  // Alone, without drafting (which would draw other, equally distributed, tokens).
  GeneratorOptions alone;
  alone.session.num_threads = 2;
  alone.speculative = false;
  std::vector<std::vector<int32_t>> want;
  for (int i = 0; i < kRequests; ++i) {
    auto g = Generator::Create(TinyModel(), TinyTokenizer(), alone);
    REQUIRE(g.ok());
    want.push_back(Generate(*g.value(), Encode(texts[i]), params[i]).tokens);
  }

  GeneratorOptions options;
  options.session.num_threads = 1;
  options.session.prefill_chunk = 16;
  options.batcher = std::make_shared<DecodeBatcher>();
  std::vector<std::unique_ptr<Generator>> generators;
  for (int i = 0; i < kRequests; ++i) {
    auto g = Generator::Create(TinyModel(), TinyTokenizer(), options);
    REQUIRE(g.ok());
    generators.push_back(std::move(g).value());
  }
  std::vector<Result<Generation>> got(kRequests, Status(StatusCode::kInternal, "not run"));
  std::vector<std::vector<int32_t>> prompts;
  for (int i = 0; i < kRequests; ++i) prompts.push_back(Encode(texts[i]));
  std::vector<std::thread> threads;
  for (int i = 0; i < kRequests; ++i) {
    threads.emplace_back([&, i] { got[static_cast<size_t>(i)] = generators[static_cast<size_t>(i)]->Generate(prompts[static_cast<size_t>(i)], params[static_cast<size_t>(i)]); });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kRequests; ++i) {
    CAPTURE(i);
    REQUIRE_MESSAGE(got[static_cast<size_t>(i)].ok(), got[static_cast<size_t>(i)].status().ToString());
    CHECK(got[static_cast<size_t>(i)].value().tokens == want[static_cast<size_t>(i)]);
    CHECK(got[static_cast<size_t>(i)].value().stats.drafted_tokens == 0);
  }
  const DecodeBatcher::Stats stats = options.batcher->stats();
  CHECK(stats.tokens == kRequests * 39);  // every decode step went through it (the first token is the prefill's)
  CHECK(stats.steps < stats.tokens);      // and some ran together
  MESSAGE("batched steps: " << stats.steps << " for " << stats.tokens << " tokens");
}

TEST_CASE("generation: a stop string ends the reply and is cut, also from the stream") {
  auto g = NewGenerator();
  const auto prompt = Encode("In the beginning");
  const Generation free_run = Generate(*g, prompt, Sampled(40));
  REQUIRE(free_run.text.size() > 12);
  // A stop string taken from the middle of what the free run generated.
  const std::string stop = free_run.text.substr(8, 3);
  const size_t cut = free_run.text.find(stop);
  GenerationParams p = Sampled(40);
  p.stop_strings = {stop};
  std::string streamed;
  const Generation out = Generate(*g, prompt, p, [&](const StreamEvent& e) { return streamed.append(e.text), true; });
  CHECK(out.finish == FinishReason::kStopString);
  CHECK(out.text == free_run.text.substr(0, cut));
  CHECK(streamed == out.text);
}

TEST_CASE("generation: EOS and stop tokens end the reply") {
  auto g = NewGenerator();
  const int32_t eos = TinyModel()->config().eos_token_id;
  GenerationParams p = Sampled(10);
  p.ignore_eos = false;
  p.sampling.logit_bias = {{eos, 1e4f}};
  const Generation out = Generate(*g, Encode("Hello"), p);
  CHECK(out.finish == FinishReason::kEos);
  CHECK(out.tokens == std::vector<int32_t>{eos});
  CHECK(out.text.empty());

  p.sampling.logit_bias = {{42, 1e4f}};
  p.stop_tokens = {42};
  const Generation stopped = Generate(*g, Encode("Hello"), p);
  CHECK(stopped.finish == FinishReason::kEos);
  CHECK(stopped.tokens == std::vector<int32_t>{42});
}

TEST_CASE("generation: cancelled from the callback and from another thread") {
  auto g = NewGenerator();
  int events = 0;
  const Generation by_callback = Generate(*g, Encode("One two"), Sampled(30), [&](const StreamEvent&) { return ++events < 3; });
  CHECK(by_callback.finish == FinishReason::kCancelled);
  CHECK(by_callback.tokens.size() <= 3);

  // The callback waits, at the first token, until another thread has called Cancel().
  std::atomic<bool> started{false}, cancelled{false};
  std::thread canceller([&] {
    while (!started) std::this_thread::yield();
    g->Cancel();
    cancelled = true;
  });
  const Generation by_thread = Generate(*g, Encode("Three four"), Sampled(30), [&](const StreamEvent&) {
    started = true;
    while (!cancelled) std::this_thread::yield();
    return true;
  });
  canceller.join();
  CHECK(by_thread.finish == FinishReason::kCancelled);
  CHECK(by_thread.tokens.size() == 1);

  // The next call starts afresh.
  CHECK(Generate(*g, Encode("Five"), Sampled(4)).finish == FinishReason::kMaxTokens);
}

TEST_CASE("generation: a prompt extending the session reuses it, with the same result as a fresh run") {
  auto g = NewGenerator();
  const auto first = Encode("The old man and the");
  const Generation a = Generate(*g, first, Sampled(12));
  // The next prompt continues the conversation: first prompt + reply + more text.
  std::vector<int32_t> next = first;
  next.insert(next.end(), a.tokens.begin(), a.tokens.end());
  const auto more = Encode(" sea again");
  next.insert(next.end(), more.begin(), more.end());
  const Generation b = Generate(*g, next, Sampled(12, 9));
  // Every generated token but the last was fed to the session.
  CHECK(b.stats.reused_tokens == static_cast<int64_t>(first.size() + a.tokens.size() - 1));
  auto fresh = NewGenerator();
  const Generation c = Generate(*fresh, next, Sampled(12, 9));
  CHECK(c.stats.reused_tokens == 0);
  CHECK(b.tokens == c.tokens);

  // Regenerating the same prompt resumes from the snapshot at its end.
  const Generation again = Generate(*g, next, Sampled(12, 9));
  CHECK(again.stats.reused_tokens == static_cast<int64_t>(next.size()));
  CHECK(again.tokens == c.tokens);

  // A prompt that shares nothing starts over.
  CHECK(Generate(*g, Encode("Different"), Sampled(2)).stats.reused_tokens == 0);
}

TEST_CASE("chat: a second turn resumes before the first reply and matches a fresh generator") {
  for (ChatMode mode : {ChatMode::kFast, ChatMode::kExpert, ChatMode::kExpertMax}) {
    CAPTURE(ChatModeName(mode));
    auto g = NewGenerator();
    ChatFormatOptions format;
    format.mode = mode;
    std::vector<ChatMessage> conversation = {Message("system", "Be brief."), Message("user", "Hi there")};
    std::string streamed_reasoning, streamed_content;
    // The first seed whose 20 tokens open no other turn (which would end the reply) and, in
    // the thinking modes, do not close the thinking (so the reply is cut short inside it): the
    // tiny model's random weights decide, and they follow the kernels' rounding.
    Result<ChatReply> first = Status(StatusCode::kNotFound, "no seed tried");
    for (uint64_t seed = 9; seed < 59; ++seed) {
      streamed_reasoning.clear();
      streamed_content.clear();
      first = g->Chat(conversation, format, Sampled(20, seed), [&](const StreamEvent& e) {
        (e.channel == ChatChannel::kReasoning ? streamed_reasoning : streamed_content).append(e.text);
        return true;
      });
      REQUIRE_MESSAGE(first.ok(), first.status().ToString());
      if (first.value().generation.finish == FinishReason::kMaxTokens && (mode == ChatMode::kFast || streamed_content.empty())) break;
    }
    const ChatReply& r1 = first.value();
    REQUIRE(r1.generation.finish == FinishReason::kMaxTokens);
    // Cut short, the reply does not parse; what streamed is kept per channel.
    CHECK_FALSE(r1.parse_status.ok());
    CHECK(r1.message.role == "assistant");
    CHECK(r1.message.reasoning_content == streamed_reasoning);
    CHECK(r1.message.content == streamed_content);
    if (mode == ChatMode::kFast) CHECK(streamed_reasoning.empty());
    if (mode != ChatMode::kFast) CHECK(streamed_content.empty());

    conversation.push_back(r1.message);
    conversation.push_back(Message("user", "And again?"));
    auto second = g->Chat(conversation, format, Sampled(10, 11));
    REQUIRE_MESSAGE(second.ok(), second.status().ToString());
    auto prompt1 = EncodeChat(std::span(conversation).first(2), format);
    REQUIRE(prompt1.ok());
    const int64_t first_prompt = static_cast<int64_t>(Encode(prompt1.value()).size());
    // Resumed at least from before the first prompt's think token, which the history renders
    // differently in Expert mode.
    CHECK(second.value().generation.stats.reused_tokens >= first_prompt - 1);
    auto fresh = NewGenerator();
    auto expected = fresh->Chat(conversation, format, Sampled(10, 11));
    REQUIRE(expected.ok());
    CHECK(second.value().generation.tokens == expected.value().generation.tokens);
  }
}

TEST_CASE("chat: generators sharing a KV cache reuse each other's system prompt, with the same replies") {
  KvCacheOptions cache_options;
  cache_options.max_prefixes = 8;
  auto cache = KvCache::Create(TinyModel(), cache_options);
  REQUIRE(cache.ok());
  GeneratorOptions options;
  options.session.num_threads = 1;
  options.session.kv_cache = cache.value();
  std::string long_system = "You are a careful assistant.";
  for (int i = 0; i < 6; ++i) long_system += " Answer in plain words, and check every figure twice.";
  const ChatMessage system = Message("system", long_system);
  auto system_only = Encode(std::string("<｜begin▁of▁sentence｜>") + long_system);
  ChatFormatOptions format;
  for (const char* question : {"What is the weather?", "Name a colour."}) {
    CAPTURE(question);
    auto g = Generator::Create(TinyModel(), TinyTokenizer(), options);  // a new request, a new generator
    REQUIRE(g.ok());
    const std::vector<ChatMessage> chat = {system, Message("user", question)};
    auto reply = g.value()->Chat(chat, format, Sampled(8));
    REQUIRE_MESSAGE(reply.ok(), reply.status().ToString());
    // Every request after the first resumes at least after the shared system prompt.
    if (std::string(question) != "What is the weather?") {
      CHECK(reply.value().generation.stats.reused_tokens >= static_cast<int64_t>(system_only.size()));
    }
    auto alone = NewGenerator();
    auto expected = alone->Chat(chat, format, Sampled(8));
    REQUIRE(expected.ok());
    CHECK(reply.value().generation.tokens == expected.value().generation.tokens);
  }
  CHECK(cache.value()->stats().prefixes >= 2);
}

TEST_CASE("chat: a reply that ends with EOS parses and the EOS text is not in the content") {
  auto g = NewGenerator();
  ChatFormatOptions format;
  format.mode = ChatMode::kFast;
  GenerationParams p = Sampled(10);
  p.ignore_eos = false;
  p.sampling.logit_bias = {{TinyModel()->config().eos_token_id, 1e4f}};
  auto reply = g->Chat(std::vector<ChatMessage>{Message("user", "Hi")}, format, p);
  REQUIRE_MESSAGE(reply.ok(), reply.status().ToString());
  CHECK(reply.value().parse_status.ok());
  CHECK(reply.value().message.content.empty());
  CHECK(reply.value().generation.finish == FinishReason::kEos);
}

TEST_CASE("generation: bad requests are errors naming the field, and the generator stays usable") {
  auto g = NewGenerator();
  const auto prompt = Encode("Hello");
  GenerationParams p = Sampled(4);
  p.max_tokens = 0;
  CheckStatus(g->Generate(prompt, p).status(), StatusCode::kInvalidArgument, {"max_tokens"});
  p = Sampled(4);
  p.stop_strings = {"ok", ""};
  CheckStatus(g->Generate(prompt, p).status(), StatusCode::kInvalidArgument, {"stop_strings[1]"});
  p = Sampled(4);
  p.stop_tokens = {-1};
  CheckStatus(g->Generate(prompt, p).status(), StatusCode::kInvalidArgument, {"stop token"});
  p = Sampled(4);
  p.sampling.top_p = 2;
  CHECK(g->Generate(prompt, p).status().code() == StatusCode::kInvalidArgument);
  CheckStatus(g->Generate({}, Sampled(4)).status(), StatusCode::kInvalidArgument, {"empty"});
  CheckStatus(g->Generate(std::vector<int32_t>{1 << 20}, Sampled(4)).status(), StatusCode::kInvalidArgument, {"vocabulary"});
  CheckStatus(g->Chat(std::vector<ChatMessage>{Message("wizard", "hi")}, {}, Sampled(4)).status(),
              StatusCode::kInvalidArgument, {"wizard"});
  CHECK(Generate(*g, prompt, Sampled(4)).tokens.size() == 4);

  // A tokenizer with more ids than the model's vocabulary is refused.
  auto big = Tokenizer::Load(SharedDir() + "/tokenizer/deepseek-v4/tokenizer.json");
  REQUIRE(big.ok());
  CheckStatus(Generator::Create(TinyModel(), big.value()).status(), StatusCode::kInvalidArgument, {"vocabulary"});
}

TEST_CASE("generation: the session's capacity ends the reply") {
  GeneratorOptions options;
  options.session.max_context = 12;
  auto g = Generator::Create(TinyModel(), TinyTokenizer(), options);
  REQUIRE(g.ok());
  const auto prompt = Encode("Hello world");
  REQUIRE(prompt.size() < 12);
  auto out = g.value()->Generate(prompt, Sampled(50));
  REQUIRE(out.ok());
  CHECK(out.value().finish == FinishReason::kContextFull);
  CHECK(g.value()->session().position() == 12);
}

}  // namespace deepseek::testing
