// The KV cache through the public API: pages in the packed formats, shared between sessions and
// snapshots (copy-on-write), a budget that refuses a request without harming its session, and
// the same logits whatever the paging, sharing or chunking.
#include <doctest/doctest.h>

#include <filesystem>
#include <memory>
#include <thread>
#include <vector>

#include "deepseek/deepseek.h"
#include "session_helpers.h"
#include "support/shared_data.h"
#include "tiny_fixture.h"

namespace deepseek::testing {
namespace {

std::shared_ptr<KvCache> NewCache(uint64_t budget_bytes = 0) {
  KvCacheOptions options;
  options.budget_bytes = budget_bytes;
  auto cache = KvCache::Create(TinyModel(), options);
  REQUIRE_MESSAGE(cache.ok(), cache.status().ToString());
  return cache.value();
}

const KvCacheStats::Pool& PoolOf(const KvCacheStats& s, const std::string& name) {
  for (const KvCacheStats::Pool& p : s.pools) {
    if (p.name == name) return p;
  }
  FAIL("no pool " << name);
  return s.pools.front();
}

// The tiny Flash model: window 16, CSA (ratio 4) and HCA (ratio 8) layers, 64 rows per
// compressed page. 300 tokens fill 75 ratio-4 entries (two pages) and 37 ratio-8 ones, and
// wrap every window ring many times.
TEST_CASE("kv cache: pools use the packed row formats and the sizes the model predicts") {
  auto cache = NewCache();
  const KvCacheStats empty = cache->stats();
  CHECK(PoolOf(empty, "window").row_bytes == 584);  // 448 e4m3 + 64 bf16 + 7 scales + pad
  CHECK(PoolOf(empty, "compressed_r4").row_bytes == 584);
  CHECK(PoolOf(empty, "compressed_r8").row_bytes == 584);
  CHECK(PoolOf(empty, "index_keys").row_bytes == 68);  // 64 bytes of e2m1 + 4 scales
  CHECK(empty.bytes_in_use == 0);

  auto session = NewSession(Options(2).Cache(cache));
  const std::vector<int32_t> tokens = Tokens(300, 3);
  for (size_t n : {1, 15, 16, 17, 64, 257, 300}) {
    session->Reset();
    Step(*session, std::span(tokens).first(n));
    CAPTURE(n);
    CHECK(session->stats().kv_bytes == TinyModel()->KvBytesForTokens(static_cast<int64_t>(n)));
    CHECK(cache->stats().bytes_in_use == TinyModel()->KvBytesForTokens(static_cast<int64_t>(n)));
  }
  // CSA layers hold (584 + 68) / 4 bytes per token, HCA layers 584 / 8 (layers 1-5: 4, 8, 4, 8, 4).
  CHECK(TinyModel()->KvBytesPerToken() == doctest::Approx(3 * 652.0 / 4 + 2 * 584.0 / 8));
  const uint64_t bytes_300 = TinyModel()->KvBytesForTokens(300);
  CHECK(TinyModel()->KvTokensForBytes(bytes_300) >= 300);
  CHECK(TinyModel()->KvBytesForTokens(TinyModel()->KvTokensForBytes(bytes_300) + 1) > bytes_300);
  session->Reset();
  CHECK(cache->stats().bytes_in_use == 0);  // every page went back
}

TEST_CASE("kv cache: chunked prefill across page boundaries equals one-shot prefill and decoding") {
  const std::vector<int32_t> tokens = Tokens(300, 5);
  auto one_shot = NewSession(Options(2).Chunk(512));
  const std::vector<Logits> want = Feed(*one_shot, tokens, Steps({290}, 10));
  for (const std::vector<size_t>& sizes : {Steps({100, 150, 40}, 10), Steps({63, 1, 64, 65, 97}, 10)}) {
    auto s = NewSession(Options(2));
    CheckSameTraces(Last(Feed(*s, tokens, sizes), 11), want);
  }
  auto small_chunks = NewSession(Options(1).Chunk(37));
  CheckSameTraces(Feed(*small_chunks, tokens, Steps({290}, 10)), want);
}

TEST_CASE("kv cache: snapshots and sessions of one cache share pages, and continuing matches a cold run") {
  auto cache = NewCache();
  const std::vector<int32_t> tokens = Tokens(300, 7);
  auto first = NewSession(Options(2).Cache(cache));
  Step(*first, std::span(tokens).first(280));
  const uint64_t held = cache->stats().bytes_in_use;
  auto snapshot = first->Snapshot();
  REQUIRE(snapshot.ok());
  // Taking the snapshot copied no page: every page is now referenced twice.
  CHECK(cache->stats().bytes_in_use == held);
  int64_t pages = 0, shared = 0;
  for (const KvCacheStats::Pool& p : cache->stats().pools) pages += p.pages_in_use, shared += p.pages_shared;
  CHECK(shared == pages);

  // A second session forks from the snapshot: O(pages), and only the pages it writes are copied.
  auto fork = NewSession(Options(2).Cache(cache));
  REQUIRE(fork->Restore(snapshot.value()).ok());
  CHECK(cache->stats().bytes_in_use == held);
  const std::vector<Logits> forked = Feed(*fork, std::span(tokens).subspan(280), Steps({}, 20));
  const uint64_t grown = cache->stats().bytes_in_use - held;
  // Tokens 280-299 write into the last page of every table (window rings, ratio-4 entries
  // 70-74 on their second page, ratio-8 entries 35-36 on their first), so exactly one page of
  // each is copied: as many bytes as a sequence of 255 tokens holds, one page per table.
  CHECK(grown == TinyModel()->KvBytesForTokens(255));

  auto cold = NewSession(Options(1));
  CheckSameTraces(forked, Last(Feed(*cold, tokens, Steps({280}, 20)), 20));
  // The first session, continuing the same way, still computes on its own unchanged pages.
  CheckSameTraces(Feed(*first, std::span(tokens).subspan(280), Steps({}, 20)), forked);

  // A snapshot restored into a session of another cache is copied row by row, exactly.
  auto elsewhere = NewSession(Options(1));
  REQUIRE(elsewhere->Restore(snapshot.value()).ok());
  CHECK(elsewhere->kv_cache() != cache);
  CheckSameTraces(Feed(*elsewhere, std::span(tokens).subspan(280), Steps({}, 20)), forked);
}

// A budget of 256 tokens' pages: 64 ratio-4 entries fill exactly one page of each of their
// pools, so a sequence of 200 tokens fits and one of 300 needs pages the budget does not have.
TEST_CASE("kv cache: a request past the budget is refused and leaves the session usable") {
  const std::vector<int32_t> tokens = Tokens(300, 11);
  auto cache = NewCache(TinyModel()->KvBytesForTokens(256));
  CHECK(cache->tokens_available() >= 256);
  auto s = NewSession(Options(2).Cache(cache));
  Step(*s, std::span(tokens).first(200));
  const Logits before = LogitsOf(*s);
  const uint64_t held = cache->stats().bytes_in_use;

  CheckStatus(s->Prefill(std::span(tokens).subspan(200, 100)), StatusCode::kResourceExhausted,
              {"KV memory budget", "compressed_r4", "unchanged"});
  CHECK(s->position() == 200);
  CHECK(BitDiff(LogitsOf(*s), before).empty());
  CHECK(cache->stats().bytes_in_use == held);  // pages taken for the refused request went back

  // The session goes on as if the refused request had never come.
  const std::vector<Logits> resumed = Feed(*s, std::span(tokens).subspan(200), Steps({}, 20));
  auto cold = NewSession(Options(2));
  CheckSameTraces(resumed, Last(Feed(*cold, std::span(tokens).first(220), Steps({200}, 20)), 20));
  // Another session of the same cache finds the budget used up too.
  auto other = NewSession(Options(1).Cache(cache));
  CheckStatus(other->Prefill(std::span(tokens).first(10)), StatusCode::kResourceExhausted, {"KV memory budget"});
  CHECK(other->position() == 0);
}

TEST_CASE("kv cache: sessions on many threads continue one shared prefix independently") {
  auto cache = NewCache();
  const std::vector<int32_t> prefix = Tokens(150, 13);
  auto base = NewSession(Options(1).Cache(cache));
  Step(*base, prefix);
  auto snapshot = base->Snapshot();
  REQUIRE(snapshot.ok());

  constexpr int kThreads = 4;
  std::vector<std::vector<Logits>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto s = Session::Create(TinyModel(), Options(1).Cache(cache));
      if (!s.ok() || !s.value()->Restore(snapshot.value()).ok()) return;
      for (int32_t token : Tokens(12, 20 + t)) {
        if (!s.value()->Decode(token).ok()) return;
        got[static_cast<size_t>(t)].emplace_back(s.value()->logits().begin(), s.value()->logits().end());
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    CAPTURE(t);
    std::vector<int32_t> all = prefix;
    const std::vector<int32_t> tail = Tokens(12, 20 + t);
    all.insert(all.end(), tail.begin(), tail.end());
    auto alone = NewSession(Options(1));
    CheckSameTraces(got[static_cast<size_t>(t)], Last(Feed(*alone, all, Steps({150}, 12)), 12));
  }
}

std::shared_ptr<KvCache> PrefixCacheOf(size_t max_prefixes, const std::string& dir = "", uint64_t budget = 0) {
  KvCacheOptions options;
  options.max_prefixes = max_prefixes;
  options.prefix_dir = dir;
  options.budget_bytes = budget;
  auto cache = KvCache::Create(TinyModel(), options);
  REQUIRE_MESSAGE(cache.ok(), cache.status().ToString());
  return cache.value();
}

SessionSnapshot SnapshotAfter(const std::shared_ptr<KvCache>& cache, std::span<const int32_t> tokens) {
  auto s = NewSession(Options(1).Cache(cache));
  Step(*s, tokens);
  auto snapshot = s->Snapshot();
  REQUIRE(snapshot.ok());
  return snapshot.value();
}

TEST_CASE("prefix cache: the longest cached start of a prompt is found, and continuing from it is exact") {
  auto cache = PrefixCacheOf(4);
  const std::vector<int32_t> prompt = Tokens(560, 23);
  // Lengths on and off the 256-token hash blocks.
  for (size_t n : {100, 256, 513}) REQUIRE(cache->AddPrefix(SnapshotAfter(cache, std::span(prompt).first(n))).ok());
  CHECK(cache->stats().prefixes == 3);
  CHECK(cache->FindPrefix(prompt, 560)->position() == 513);
  CHECK(cache->FindPrefix(prompt, 512)->position() == 256);
  CHECK(cache->FindPrefix(std::span(prompt).first(255), 255)->position() == 100);
  std::vector<int32_t> other = prompt;
  other[200] = (other[200] + 1) % Vocab();  // differs inside the second block
  CHECK(cache->FindPrefix(other, 560)->position() == 100);
  other[5] = (other[5] + 1) % Vocab();
  CHECK_FALSE(cache->FindPrefix(other, 560).has_value());

  auto s = NewSession(Options(2).Cache(cache));
  REQUIRE(s->Restore(*cache->FindPrefix(prompt, 560)).ok());
  const std::vector<Logits> resumed = Feed(*s, std::span(prompt).subspan(513), Steps({42}, 5));
  auto cold = NewSession(Options(2));
  CheckSameTraces(resumed, Last(Feed(*cold, prompt, Steps({555}, 5)), 6));
}

TEST_CASE("prefix cache: least recently used prefixes go first, beyond the limit and for the budget") {
  const std::vector<int32_t> prompt = Tokens(300, 29);
  auto cache = PrefixCacheOf(2);
  REQUIRE(cache->AddPrefix(SnapshotAfter(cache, std::span(prompt).first(50))).ok());
  REQUIRE(cache->AddPrefix(SnapshotAfter(cache, std::span(prompt).first(60))).ok());
  CHECK(cache->FindPrefix(prompt, 55)->position() == 50);  // 50 is now the most recently used
  REQUIRE(cache->AddPrefix(SnapshotAfter(cache, std::span(prompt).first(70))).ok());
  CHECK(cache->stats().prefixes == 2);
  CHECK(cache->FindPrefix(prompt, 65)->position() == 50);  // 60 went
  CHECK(cache->EvictPrefix());
  CHECK(cache->EvictPrefix());
  CHECK_FALSE(cache->EvictPrefix());
  CHECK(cache->stats().bytes_in_use == 0);  // nothing else held their pages

  // A budget that holds one sequence of 300 tokens: cached prefixes give their pages up to a
  // session that needs them.
  auto tight = PrefixCacheOf(8, "", TinyModel()->KvBytesForTokens(300));
  const std::vector<int32_t> other = Tokens(300, 31);
  for (size_t n : {200, 250}) REQUIRE(tight->AddPrefix(SnapshotAfter(tight, std::span(other).first(n))).ok());
  auto s = NewSession(Options(1).Cache(tight));
  Step(*s, prompt);
  CHECK(tight->stats().prefixes < 2);
}

TEST_CASE("prefix cache: prefixes kept in a folder come back in a new cache, damaged files are skipped") {
  const std::string dir = TempDir("prefix-cache-dir");
  const std::vector<int32_t> prompt = Tokens(400, 37);
  {
    auto cache = PrefixCacheOf(4, dir);
    REQUIRE(cache->AddPrefix(SnapshotAfter(cache, std::span(prompt).first(300))).ok());
    REQUIRE(cache->AddPrefix(SnapshotAfter(cache, std::span(prompt).first(120))).ok());
  }
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) files += e.path().extension() == ".dskv";
  CHECK(files == 2);
  WriteFile(dir + "/0000000000000bad.dskv", "not a saved sequence");
  auto cache = PrefixCacheOf(4, dir);  // as a restarted process would
  CHECK(cache->stats().prefixes == 2);
  REQUIRE(cache->warnings().size() == 1);
  CHECK(cache->warnings()[0].find("0000000000000bad.dskv") != std::string::npos);
  auto found = cache->FindPrefix(prompt, 400);
  REQUIRE(found.has_value());
  CHECK(found->position() == 300);
  auto s = NewSession(Options(2).Cache(cache));
  REQUIRE(s->Restore(*found).ok());
  const std::vector<Logits> resumed = Feed(*s, std::span(prompt).subspan(300), Steps({95}, 5));
  auto cold = NewSession(Options(2));
  CheckSameTraces(resumed, Last(Feed(*cold, prompt, Steps({395}, 5)), 6));
  // Evicting a prefix removes its file.
  while (cache->EvictPrefix()) {
  }
  files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) files += e.path().extension() == ".dskv";
  CHECK(files == 1);  // the damaged file, which was never a prefix, stays
  CHECK(KvCache::Create(TinyModel(), [] {
          KvCacheOptions o;
          o.prefix_dir = "/tmp/x";
          return o;
        }()).status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("kv cache: Create refuses a null model, and sessions refuse another model's cache") {
  CHECK(KvCache::Create(nullptr).status().code() == StatusCode::kInvalidArgument);
  auto other_model = Model::Load(TinyCheckpointDir());
  REQUIRE(other_model.ok());
  CheckStatus(Session::Create(other_model.value(), Options(1).Cache(NewCache())).status(),
              StatusCode::kInvalidArgument, {"another model"});
}

}  // namespace
}  // namespace deepseek::testing
