// Session through the public API: rejected requests leave it unchanged; any split of the same
// tokens (chunks, decode steps, threads, interleaved sessions) gives bit-identical logits; MTP,
// cancellation, and the deepseek-logits runner checked against the same API.
#include <doctest/doctest.h>


#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "deepseek/deepseek.h"
#include "support/run_tool.h"
#include "support/shared_data.h"
#include "session_helpers.h"
#include "tiny_fixture.h"

namespace deepseek::testing {
namespace {


TEST_CASE("runtime: Session::Create rejects a null model and negative threads") {
  CheckStatus(Session::Create(nullptr).status(), StatusCode::kInvalidArgument, {"model is null"});
  CheckStatus(Session::Create(TinyModel(), Options(-1)).status(), StatusCode::kInvalidArgument,
              {"num_threads"});
}

TEST_CASE("runtime: a rejected or empty Prefill leaves the session unchanged") {
  const std::vector<int32_t> tokens = Tokens(9, 1);
  auto session = NewSession(Options(2).MaxContext(8));
  Session& s = *session;
  const Logits before = Step(s, std::span(tokens).first(5));

  SUBCASE("negative token id") {
    const std::vector<int32_t> bad = {tokens[5], tokens[6], -1};
    CheckStatus(s.Prefill(bad), StatusCode::kInvalidArgument, {"token id -1", "index 2"});
  }
  SUBCASE("token id == vocab_size") {
    CheckStatus(s.Prefill(std::vector<int32_t>{Vocab()}), StatusCode::kInvalidArgument, {"token id 512", "index 0", "[0, 512)"});
    CheckStatus(s.Decode(Vocab()), StatusCode::kInvalidArgument, {"token id 512"});
  }
  SUBCASE("beyond max_context") {
    CheckStatus(s.Prefill(std::span(tokens).subspan(5, 4)), StatusCode::kOutOfRange, {"9 tokens", "allows 8"});
  }
  SUBCASE("empty") {
    CHECK(s.Prefill({}).ok());
  }
  CHECK(s.position() == 5);
  CHECK(BitDiff(LogitsOf(s), before) == "");
  // It goes on exactly like a session that never saw the request, up to max_context.
  auto fresh = NewSession(Options(1));
  CHECK(BitDiff(Step(s, std::span(tokens).subspan(5, 3)), Feed(*fresh, tokens, {5, 3}).back()) == "");
  CheckStatus(s.Decode(tokens[8]), StatusCode::kOutOfRange, {"9 tokens", "allows 8"});
  CHECK(s.position() == 8);
}

TEST_CASE("runtime: rejected requests on an empty session change nothing") {
  auto session = NewSession(Options(2).MaxContext(8));
  Session& s = *session;
  CheckStatus(s.Prefill(Tokens(9, 2)), StatusCode::kOutOfRange, {"9 tokens", "allows 8"});
  CheckStatus(s.Decode(-1), StatusCode::kInvalidArgument, {"token id -1", "index 0"});
  CHECK(s.Prefill({}).ok());
  CHECK(s.position() == 0);
  CHECK(s.logits().empty());
}

struct Variant {
  std::string what;
  SessionOptions options;
  std::vector<size_t> steps;  // sizes of the calls feeding 45 tokens
};

// Feeds 45 tokens through each variant and checks that the logits after the 40th and each
// later token are bit-identical to a one-shot prefill of 40 then 5 decode steps on one thread.
void CheckVariantsAgree(const std::vector<Variant>& variants) {
  const std::vector<int32_t> tokens = Tokens(45, 3);
  const std::vector<Logits> want = Feed(*NewSession(Options(1)), tokens, Steps({40}, 5));
  REQUIRE(want.size() == 6);
  for (const Logits& l : want) {
    REQUIRE(l.size() == static_cast<size_t>(Vocab()));
    CHECK(std::all_of(l.begin(), l.end(), [](float x) { return std::isfinite(x); }));
  }
  CHECK(BitDiff(want[0], want[1]) != "");  // the steps really differ, so agreement means something
  for (const Variant& v : variants) {
    INFO("variant: " << v.what);
    CheckSameTraces(Last(Feed(*NewSession(v.options), tokens, v.steps), want.size()), want);
  }
}

TEST_CASE("runtime: any split of a prefill and any thread count give bit-identical logits") {
  CheckVariantsAgree({
      {"one shot, 2 threads", Options(2), Steps({40}, 5)},
      {"chunks 7, 13, 20, 1 thread", Options(1), Steps({7, 13, 20}, 5)},
      {"chunks 7, 13, 20, 2 threads", Options(2), Steps({7, 13, 20}, 5)},
      {"prefill_chunk 5, 1 thread", Options(1).Chunk(5), Steps({40}, 5)},
      {"prefill_chunk 5, 2 threads", Options(2).Chunk(5), Steps({40}, 5)},
  });
}

// Single-token steps take the backend's one-row MatMul path, which must sum in the same order
// as the batched path; a split such as 5 + 1 + 34 exposes any difference within a few tokens.
TEST_CASE("runtime: single-token steps give the same logits as a prefill") {
  CheckVariantsAgree({
      {"chunks 5, 1, 34", Options(2), Steps({5, 1, 34}, 5)},
      {"45 decode steps, 1 thread", Options(1), Steps({}, 45)},
      {"45 decode steps, 2 threads", Options(2), Steps({}, 45)},
  });
}

// Every decode step reads the same matrices (all experts have one size, so the routing does not
// change the count): the embedding-free weight bytes of the layers touched plus the LM head.
// A prefill chunk reads each matrix once for all its tokens, so it reads no more than steps do.
TEST_CASE("runtime: Session::stats counts tokens, weight bytes and flops") {
  const ModelConfig& c = TinyModel()->config();
  const std::vector<int32_t> tokens = Tokens(24, 6);
  const auto session = NewSession(Options(2));
  CHECK(session->stats().tokens_processed == 0);
  CHECK(session->stats().weight_bytes_read == 0);
  REQUIRE(session->Prefill(std::span(tokens).first(16)).ok());
  const SessionStats after_prefill = session->stats();
  CHECK(after_prefill.tokens_processed == 16);
  CHECK(after_prefill.matmul_flops > 0);
  CHECK(after_prefill.matmul_seconds > 0);
  std::vector<uint64_t> step_bytes;
  for (size_t i = 16; i < 24; ++i) {
    const uint64_t before = session->stats().weight_bytes_read;
    REQUIRE(session->Decode(tokens[i]).ok());
    step_bytes.push_back(session->stats().weight_bytes_read - before);
  }
  CHECK(session->stats().tokens_processed == 24);
  for (uint64_t b : step_bytes) CHECK(b == step_bytes.front());
  const uint64_t head_bytes = static_cast<uint64_t>(c.vocab_size * c.dim * 2);
  CHECK(step_bytes.front() > head_bytes);
  CHECK(step_bytes.front() < TinyModel()->weight_bytes());
  CHECK(after_prefill.weight_bytes_read <= 16 * step_bytes.front());
  // The per-format split adds up to the totals, and the tiny model's head (bf16) is among them.
  const SessionStats total = session->stats();
  uint64_t bytes = 0;
  int64_t calls = 0;
  bool has_bf16 = false;
  for (const SessionStats::Format& f : total.by_format) {
    bytes += f.weight_bytes_read;
    calls += f.calls;
    has_bf16 |= f.name == "bf16";
    CHECK(f.calls > 0);
  }
  CHECK(bytes == total.weight_bytes_read);
  CHECK(calls > 0);
  CHECK(has_bf16);
  session->Reset();  // counts what was computed, not what the sequence holds
  CHECK(session->stats().tokens_processed == 24);
}

TEST_CASE("runtime: sessions sharing a model keep their own state") {
  const std::vector<int32_t> a = Tokens(30, 4), b = Tokens(30, 5);
  const std::vector<size_t> steps = Steps({10, 10}, 10);
  const std::vector<Logits> alone_a = Feed(*NewSession(Options(2)), a, steps);
  const std::vector<Logits> alone_b = Feed(*NewSession(Options(1)), b, steps);

  SUBCASE("interleaved on one thread") {
    auto sa = NewSession(Options(2)), sb = NewSession(Options(1));
    std::vector<Logits> got_a, got_b;
    size_t at = 0;
    for (size_t n : steps) {
      got_a.push_back(Step(*sa, std::span(a).subspan(at, n)));
      got_b.push_back(Step(*sb, std::span(b).subspan(at, n)));
      at += n;
    }
    CheckSameTraces(got_a, alone_a);
    CheckSameTraces(got_b, alone_b);
  }
  SUBCASE("concurrently from two threads") {
    // doctest assertions are not thread-safe: the worker only records, the checks run here.
    std::vector<Logits> got_b;
    Status worker_status;
    std::thread worker([&] {
      auto sb = Session::Create(TinyModel(), Options(1));
      worker_status = sb.status();
      for (size_t i = 0, at = 0; worker_status.ok() && i < steps.size(); at += steps[i++]) {
        worker_status = sb.value()->Prefill(std::span(b).subspan(at, steps[i]));
        got_b.push_back(LogitsOf(*sb.value()));
      }
    });
    const std::vector<Logits> got_a = Feed(*NewSession(Options(2)), a, steps);
    worker.join();
    REQUIRE_MESSAGE(worker_status.ok(), worker_status.ToString());
    CheckSameTraces(got_a, alone_a);
    CheckSameTraces(got_b, alone_b);
  }
}

TEST_CASE("runtime: Reset then the same prefill gives the same logits") {
  const std::vector<int32_t> tokens = Tokens(40, 6);
  auto session = NewSession(Options(2).Mtp());
  Session& s = *session;
  const auto run = [&] {
    std::vector<Logits> trace = Feed(s, tokens, Steps({35}, 5));
    auto m = s.MtpLogits(tokens[0]);
    REQUIRE_MESSAGE(m.ok(), m.status().ToString());
    trace.push_back(std::move(m).value());
    return trace;
  };
  const std::vector<Logits> first = run();
  s.Reset();
  CHECK(s.position() == 0);
  CHECK(s.logits().empty());
  CheckSameTraces(run(), first);  // the MTP head restarts with the sequence too
}


TEST_CASE("runtime: Restore returns to a snapshot and continuing matches a session that never left") {
  const std::vector<int32_t> tokens = Tokens(60, 8);
  const std::vector<int32_t> other = Tokens(30, 9);
  // 37 tokens: past the window's first wrap-around in no layer, but inside open compressor
  // blocks of every ratio, so the snapshot must carry them.
  auto session = NewSession(Options(2).Chunk(16));
  Session& s = *session;
  Step(s, std::span(tokens).first(37));
  auto snapshot = s.Snapshot();
  REQUIRE_MESSAGE(snapshot.ok(), snapshot.status().ToString());
  CHECK(snapshot.value().position() == 37);
  CHECK(std::equal(snapshot.value().tokens().begin(), snapshot.value().tokens().end(), tokens.begin()));
  CHECK(snapshot.value().bytes() > 0);
  const Logits at_snapshot = LogitsOf(s);

  Step(s, other);  // wander off
  REQUIRE(s.Restore(snapshot.value()).ok());
  CHECK(s.position() == 37);
  CHECK(LogitsOf(s) == at_snapshot);
  const std::vector<Logits> resumed = Feed(s, std::span(tokens).subspan(37), Steps({10}, 13));

  auto straight = NewSession(Options(2).Chunk(16));
  CheckSameTraces(resumed, Last(Feed(*straight, tokens, Steps({37, 10}, 13)), 14));

  // A snapshot outlives its session and restores into another session of the same model.
  session.reset();
  auto second = NewSession(Options(1));
  REQUIRE(second->Restore(snapshot.value()).ok());
  CHECK(LogitsOf(*second) == at_snapshot);

  // An empty snapshot, or one of another model, is refused and changes nothing.
  CheckStatus(second->Restore(SessionSnapshot{}), StatusCode::kInvalidArgument, {"empty"});
  auto other_model = Model::Load(TinyCheckpointDir());
  REQUIRE(other_model.ok());
  auto foreign = Session::Create(other_model.value(), Options(1));
  REQUIRE(foreign.ok());
  CheckStatus(foreign.value()->Restore(snapshot.value()), StatusCode::kInvalidArgument, {"another model"});
  CHECK(foreign.value()->position() == 0);
}
TEST_CASE("runtime: PrefillAll gives every position's logits, and DropLast rolls back a rejected draft exactly") {
  const std::vector<int32_t> tokens = Tokens(32, 11);
  const std::span<const int32_t> all(tokens);
  const SessionOptions mtp = Options(2).Mtp();
  // The tiny model's compressors close blocks where (position + 1) is a multiple of 4 or 8.
  auto s = NewSession(mtp), reference = NewSession(mtp);
  Step(*s, all.first(20));
  Step(*reference, all.first(20));
  std::vector<float> rows;
  REQUIRE(s->PrefillAll(all.subspan(20, 3), rows).ok());
  REQUIRE(rows.size() == static_cast<size_t>(3 * Vocab()));
  for (int i = 0; i < 3; ++i) {
    Step(*reference, all.subspan(static_cast<size_t>(20 + i), 1));
    CHECK(BitDiff(std::vector<float>(rows.begin() + i * Vocab(), rows.begin() + (i + 1) * Vocab()), LogitsOf(*reference)) == "");
  }
  CHECK(BitDiff(LogitsOf(*s), LogitsOf(*reference)) == "");

  // Position 22 closes no block: dropping it leaves the session as if it had stopped at 22.
  REQUIRE(s->CanDrop(22));
  REQUIRE(s->DropLast().ok());
  CHECK(s->position() == 22);
  CHECK(BitDiff(LogitsOf(*s), std::vector<float>(rows.begin() + Vocab(), rows.begin() + 2 * Vocab())) == "");
  auto fresh = NewSession(mtp);
  Step(*fresh, all.first(22));
  const int32_t other = (tokens[22] + 5) % Vocab();
  REQUIRE(s->Decode(other).ok());
  REQUIRE(fresh->Decode(other).ok());
  CHECK(BitDiff(LogitsOf(*s), LogitsOf(*fresh)) == "");
  const auto mtp_s = s->MtpLogits(tokens[24]), mtp_fresh = fresh->MtpLogits(tokens[24]);
  REQUIRE(mtp_s.ok());
  REQUIRE(mtp_fresh.ok());
  CHECK(BitDiff(mtp_s.value(), mtp_fresh.value()) == "");

  // Refused, changing nothing: after a plain step, and for a token that closed a block (23).
  CheckStatus(s->DropLast(), StatusCode::kFailedPrecondition, {"PrefillAll"});
  CHECK_FALSE(s->CanDrop(23));
  auto closing = NewSession(mtp);
  Step(*closing, all.first(22));
  REQUIRE(closing->PrefillAll(all.subspan(22, 2), rows).ok());
  const std::vector<float> before = LogitsOf(*closing);
  CheckStatus(closing->DropLast(), StatusCode::kFailedPrecondition, {"closed a compressor block"});
  CHECK(closing->position() == 24);
  CHECK(BitDiff(LogitsOf(*closing), before) == "");
}

TEST_CASE("runtime: DecodeBatch gives each session the logits of its own decode steps") {
  // Three sequences at different depths (so their compressors close blocks at different
  // steps), decoded together for 9 steps against the same sequences decoded alone.
  const std::vector<int32_t> prompts[] = {Tokens(13, 1), Tokens(6, 2), Tokens(21, 3)};
  const std::vector<int32_t> next[] = {Tokens(9, 4), Tokens(9, 5), Tokens(9, 6)};
  std::vector<std::unique_ptr<Session>> alone, batch;
  for (const auto& prompt : prompts) {
    alone.push_back(NewSession(Options(2).Mtp()));
    batch.push_back(NewSession(Options(1 + static_cast<int>(batch.size() % 2)).Mtp()));
    Step(*alone.back(), prompt);
    Step(*batch.back(), prompt);
  }
  std::vector<Session*> sessions;
  for (auto& s : batch) sessions.push_back(s.get());
  for (size_t step = 0; step < 9; ++step) {
    CAPTURE(step);
    std::vector<int32_t> tokens;
    for (size_t i = 0; i < 3; ++i) tokens.push_back(next[i][step]);
    // Sizes 3, 2 (the first two) and 1 (the last) in turn.
    const size_t n = 3 - step % 3;
    const size_t first = n == 1 ? 2 : 0;
    REQUIRE(Session::DecodeBatch(std::span(sessions).subspan(first, n), std::span(tokens).subspan(first, n)).ok());
    for (size_t i = first; i < first + n; ++i) {
      CAPTURE(i);
      REQUIRE(alone[i]->Decode(tokens[i]).ok());
      CHECK(batch[i]->position() == alone[i]->position());
      CHECK(BitDiff(LogitsOf(*batch[i]), LogitsOf(*alone[i])) == "");
    }
    // The other sessions catch up alone, so that all stay in step.
    for (size_t i = 0; i < 3; ++i) {
      if (i >= first && i < first + n) continue;
      REQUIRE(alone[i]->Decode(tokens[i]).ok());
      REQUIRE(batch[i]->Decode(tokens[i]).ok());
    }
  }
  // The MTP head reads the streams the batch kept.
  for (size_t i = 0; i < 3; ++i) {
    const auto want = alone[i]->MtpLogits(7), got = batch[i]->MtpLogits(7);
    REQUIRE(want.ok());
    REQUIRE(got.ok());
    CHECK(BitDiff(got.value(), want.value()) == "");
  }
}

TEST_CASE("runtime: a rejected DecodeBatch changes no session") {
  auto a = NewSession(Options(2).MaxContext(8)), b = NewSession(Options(2));
  Step(*a, Tokens(8, 1));
  Step(*b, Tokens(5, 2));
  const Logits a_before = LogitsOf(*a), b_before = LogitsOf(*b);
  Session* both[] = {b.get(), a.get()};
  Session* twice[] = {b.get(), b.get()};
  Session* with_null[] = {b.get(), nullptr};
  const int32_t two[] = {3, 4};
  const int32_t bad[] = {3, Vocab()};
  CheckStatus(Session::DecodeBatch(both, std::span(two).first(1)), StatusCode::kInvalidArgument, {"2 sessions but 1 tokens"});
  CheckStatus(Session::DecodeBatch(both, two), StatusCode::kOutOfRange, {"session 1", "allows 8"});
  CheckStatus(Session::DecodeBatch(twice, two), StatusCode::kInvalidArgument, {"session 1 appears twice"});
  CheckStatus(Session::DecodeBatch(with_null, two), StatusCode::kInvalidArgument, {"session 1 is null"});
  Session* bs[] = {b.get()};
  CheckStatus(Session::DecodeBatch(bs, std::span(bad).subspan(1)), StatusCode::kInvalidArgument, {"session 0", "token id 512"});
  CHECK(Session::DecodeBatch({}, {}).ok());
  CHECK(a->position() == 8);
  CHECK(b->position() == 5);
  CHECK(BitDiff(LogitsOf(*a), a_before) == "");
  CHECK(BitDiff(LogitsOf(*b), b_before) == "");
}

TEST_CASE("runtime: MtpLogits") {
  const std::vector<int32_t> tokens = Tokens(41, 7);
  const std::span<const int32_t> all(tokens);
  const int32_t next = tokens[40];
  const SessionOptions mtp = Options(2).Mtp();

  SUBCASE("gives finite vocab-size logits, the same for any split of the prefill") {
    auto one_shot = NewSession(mtp);
    Step(*one_shot, all.first(40));
    const auto want = one_shot->MtpLogits(next);
    REQUIRE_MESSAGE(want.ok(), want.status().ToString());
    REQUIRE(want.value().size() == static_cast<size_t>(Vocab()));
    CHECK(std::all_of(want.value().begin(), want.value().end(), [](float x) { return std::isfinite(x); }));
    CHECK(BitDiff(want.value(), LogitsOf(*one_shot)) != "");  // not the main head's logits

    // 20 + 20; the same with an MTP call in between; internal chunks of 5 on one thread.
    auto halves = NewSession(mtp), halves_mtp = NewSession(mtp);
    auto chunked = NewSession(Options(1).Chunk(5).Mtp());
    Feed(*halves, all, {20, 20});
    Step(*halves_mtp, all.first(20));
    REQUIRE(halves_mtp->MtpLogits(tokens[20]).ok());
    Step(*halves_mtp, all.subspan(20, 20));
    Step(*chunked, all.first(40));
    for (Session* s : {halves.get(), halves_mtp.get(), chunked.get()}) {
      const auto got = s->MtpLogits(next);
      REQUIRE_MESSAGE(got.ok(), got.status().ToString());
      CHECK(BitDiff(got.value(), want.value()) == "");
    }
  }
  SUBCASE("needs enable_mtp") {
    auto s = NewSession(Options(2));
    Step(*s, all.first(10));
    CheckStatus(s->MtpLogits(tokens[10]).status(), StatusCode::kFailedPrecondition, {"MTP is not enabled"});
  }
  SUBCASE("needs a consumed token and a valid next token") {
    auto s = NewSession(mtp);
    CheckStatus(s->MtpLogits(tokens[0]).status(), StatusCode::kFailedPrecondition, {"at least one"});
    Step(*s, all.first(10));
    CheckStatus(s->MtpLogits(Vocab()).status(), StatusCode::kInvalidArgument, {"token id 512"});
    CHECK(s->MtpLogits(tokens[10]).ok());
  }
  SUBCASE("fails once the sequence continued with another token") {
    auto s = NewSession(mtp);
    Step(*s, all.first(10));
    REQUIRE(s->MtpLogits(tokens[10]).ok());
    Step(*s, all.subspan(10, 1));  // the announced token: fine
    REQUIRE(s->MtpLogits(tokens[11]).ok());
    REQUIRE(s->Decode((tokens[11] + 1) % Vocab()).ok());  // another one
    CheckStatus(s->MtpLogits(tokens[12]).status(), StatusCode::kFailedPrecondition, {"other than"});
    s->Reset();  // a new sequence may use MTP again
    Step(*s, all.first(10));
    CHECK(s->MtpLogits(tokens[10]).ok());
  }
  SUBCASE("fails when called twice at one position") {
    auto s = NewSession(mtp);
    Step(*s, all.first(10));
    REQUIRE(s->MtpLogits(tokens[10]).ok());
    CheckStatus(s->MtpLogits(tokens[10]).status(), StatusCode::kFailedPrecondition, {"already"});
    // The session is still usable: the announced token continues the sequence.
    Step(*s, all.subspan(10, 1));
    CHECK(s->MtpLogits(tokens[11]).ok());
  }
  SUBCASE("works with the context full") {
    // The MTP head reads positions already in the session; its next token takes no slot.
    auto s = NewSession(Options(2).Mtp().MaxContext(20));
    Step(*s, all.first(20));
    const auto got = s->MtpLogits(tokens[20]);
    CHECK_MESSAGE(got.ok(), got.status().ToString());
  }
}

TEST_CASE("runtime: a cancelled prefill keeps its finished chunks and can be continued") {
  const std::vector<int32_t> tokens = Tokens(30, 8);
  const std::span<const int32_t> all(tokens);
  const Logits want = Feed(*NewSession(Options(2)), tokens, {30}).back();
  const Logits after8 = Feed(*NewSession(Options(1)), tokens, {8}).back();

  bool cancel = true;
  std::vector<std::pair<int64_t, int64_t>> reports;
  auto session = NewSession(Options(2).Chunk(8).Progress([&](int64_t done, int64_t total) {
    reports.emplace_back(done, total);
    return !cancel;
  }));
  Session& s = *session;
  CheckStatus(s.Prefill(all), StatusCode::kCancelled, {"8 of 30"});
  CHECK(s.position() == 8);
  CHECK(BitDiff(LogitsOf(s), after8) == "");

  cancel = false;
  REQUIRE(s.Prefill(all.subspan(8)).ok());
  CHECK(s.position() == 30);
  CHECK(BitDiff(LogitsOf(s), want) == "");
  const std::vector<std::pair<int64_t, int64_t>> expected = {{8, 30}, {8, 22}, {16, 22}, {22, 22}};
  CHECK(reports == expected);
}

#ifdef DS_LOGITS_BIN
constexpr std::string_view kLogitsBin = DS_LOGITS_BIN;
#else
constexpr std::string_view kLogitsBin;  // examples not built
#endif

// Runs deepseek-logits with `args` (already shell-quoted where needed).
ToolRun RunLogits(const std::string& args) { return RunTool(std::string(kLogitsBin), args); }

// A float32 C-order .npy file as the runner writes it (format version 1.0).
struct Npy {
  std::vector<size_t> shape;
  std::vector<float> data;

  static Npy Read(const std::string& path) {
    const std::string bytes = ReadFile(path);
    REQUIRE(bytes.size() >= 10);
    REQUIRE(bytes.compare(0, 6, "\x93NUMPY") == 0);
    REQUIRE(bytes[6] == 1);
    const size_t header_len = static_cast<uint8_t>(bytes[8]) | size_t{static_cast<uint8_t>(bytes[9])} << 8;
    const std::string header = bytes.substr(10, header_len);
    CHECK((10 + header_len) % 64 == 0);
    CHECK(header.find("'descr': '<f4'") != std::string::npos);
    CHECK(header.find("'fortran_order': False") != std::string::npos);
    const size_t open = header.find("'shape': ("), close = header.find(')', open);
    REQUIRE(open != std::string::npos);
    REQUIRE(close != std::string::npos);
    Npy npy;
    size_t count = 1;
    for (size_t at = open + 10; at < close;) {
      size_t used = 0;
      npy.shape.push_back(std::stoul(header.substr(at, close - at), &used));
      count *= npy.shape.back();
      at = header.find_first_not_of(", ", at + used);
    }
    REQUIRE(bytes.size() == 10 + header_len + count * sizeof(float));
    npy.data.resize(count);
    std::memcpy(npy.data.data(), bytes.data() + 10 + header_len, count * sizeof(float));
    return npy;
  }

  std::span<const float> row(size_t i) const { return std::span(data).subspan(i * shape[1], shape[1]); }
};

TEST_CASE("runtime: deepseek-logits writes the Session API's logits") {
  if (kLogitsBin.empty()) {
    MESSAGE("skipped: built without the examples (DS_BUILD_EXAMPLES=OFF)");
    return;
  }
  constexpr size_t kCount = 26, kPrefill = 20;
  const std::vector<int32_t> tokens = Tokens(kCount, 9);
  const std::string dir = TempDir("runtime-cli");
  std::string text;
  for (int32_t t : tokens) text += std::to_string(t) + "\n";
  WriteFile(dir + "/tokens.txt", text);
  const std::string model = "--model '" + TinyCheckpointDir() + "'", out = " --out '" + dir + "/logits.npy'";
  const std::string token_file = " --tokens '" + dir + "/tokens.txt'";
  const std::string common = model + token_file + " --prefill 20 --chunks 7,13" + out;

  // The runner's feeding through the API: chunks 7 and 13, then one token at a time, with the
  // logits after each call; with --mtp, the MTP logits given the token that follows.
  auto session = NewSession(Options(2).Mtp());
  Feed(*session, tokens, {7, 13});
  std::vector<Logits> want, want_mtp;
  for (size_t at = kPrefill; at <= kCount; ++at) {
    if (at > kPrefill) Step(*session, std::span(tokens).subspan(at - 1, 1));
    want.push_back(LogitsOf(*session));
    if (at == kCount) break;
    auto m = session->MtpLogits(tokens[at]);
    REQUIRE_MESSAGE(m.ok(), m.status().ToString());
    want_mtp.push_back(std::move(m).value());
  }
  const auto check_rows = [](const Npy& npy, const std::vector<Logits>& rows) {
    REQUIRE(npy.shape.size() == 2);
    CHECK(npy.shape[1] == static_cast<size_t>(Vocab()));
    REQUIRE(npy.shape[0] <= rows.size());  // with --mtp, the last row is not written
    for (size_t i = 0; i < npy.shape[0]; ++i) {
      CAPTURE(i);
      CHECK(BitDiff(npy.row(i), rows[i]) == "");
    }
  };

  SUBCASE("without MTP: [1 + count - N, vocab]") {
    const ToolRun run = RunLogits(common);
    REQUIRE_MESSAGE(run.exit_code == 0, run.err);
    const Npy logits = Npy::Read(dir + "/logits.npy");
    CHECK(logits.shape[0] == 1 + kCount - kPrefill);
    check_rows(logits, want);
  }
  SUBCASE("with MTP: the last token only conditions the MTP head, [count - N, vocab] each") {
    const ToolRun run = RunLogits(common + " --threads 1 --mtp '" + dir + "/mtp.npy'");
    REQUIRE_MESSAGE(run.exit_code == 0, run.err);
    const Npy logits = Npy::Read(dir + "/logits.npy"), mtp = Npy::Read(dir + "/mtp.npy");
    CHECK(logits.shape[0] == kCount - kPrefill);
    CHECK(mtp.shape == logits.shape);
    check_rows(logits, want);
    check_rows(mtp, want_mtp);
  }
  SUBCASE("a session saved by one process continues exactly in another (--save-kv, --load-kv)") {
    const std::string kv = dir + "/session.dskv";
    const std::string mtp = " --mtp '" + dir + "/mtp.npy'";
    std::string first_text;  // 12 tokens to prefill, and the 13th that the MTP head is given
    for (size_t i = 0; i < 13; ++i) first_text += std::to_string(tokens[i]) + "\n";
    WriteFile(dir + "/first.txt", first_text);
    // The first process prefills 12 tokens and saves; the second loads them, prefills the other
    // 8 of the 20 and decodes the rest: the same rows as feeding everything in one process.
    const ToolRun first = RunLogits(model + " --tokens '" + dir + "/first.txt' --prefill 12 --out '" + dir +
                                    "/first.npy' --save-kv '" + kv + "'" + mtp);
    REQUIRE_MESSAGE(first.exit_code == 0, first.err);
    const ToolRun second = RunLogits(model + token_file + " --prefill 20" + out + " --load-kv '" + kv + "'" + mtp);
    REQUIRE_MESSAGE(second.exit_code == 0, second.err);
    check_rows(Npy::Read(dir + "/logits.npy"), want);
    check_rows(Npy::Read(dir + "/mtp.npy"), want_mtp);
  }
  SUBCASE("bad arguments exit non-zero with a message") {
    struct Case {
      std::string args, needle;
    };
    WriteFile(dir + "/bad_tokens.txt", "1 2 3 512 4\n");
    const std::vector<Case> cases = {
        {token_file + " --prefill 20" + out, "--model"},
        {model + token_file + " --prefill 20 --chunks 7,12" + out, "sum to --prefill"},
        {model + token_file + " --prefill 27" + out, "--prefill must be"},
        {model + " --tokens '" + dir + "/bad_tokens.txt' --prefill 4" + out, "token id 512"},
        {"--model '" + dir + "/nowhere'" + token_file + " --prefill 20" + out, "NOT_FOUND"},
    };
    for (const Case& c : cases) {
      CAPTURE(c.args);
      const ToolRun run = RunLogits(c.args);
      CHECK(run.exit_code != 0);
      CHECK_MESSAGE(run.err.find(c.needle) != std::string::npos, "stderr: " << run.err);
    }
  }
}

}  // namespace
}  // namespace deepseek::testing
