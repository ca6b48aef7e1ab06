// deepseek-server's generator pool on the tiny checkpoint: leases are exclusive, a full queue
// refuses at once, a waiter gets the generator that is returned; and converted requests run
// concurrently on pooled generators give exactly what they give one at a time.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "deepseek/deepseek.h"
#include "generator_pool.h"
#include "openai_api.h"
#include "support/shared_data.h"
#include "tinygen/tiny_checkpoint.h"

namespace deepseek::server {
namespace {

const std::string& CheckpointDir() {
  static const std::string dir = [] {
    const std::string d = testing::TempDir("server-tiny");
    tinygen::WriteTinyCheckpoint(tinygen::TinySpec::FlashTiny(), d);
    return d;
  }();
  return dir;
}

std::vector<std::unique_ptr<Generator>> Generators(int count) {
  static const std::shared_ptr<const Model> model = [] {
    auto loaded = Model::Load(CheckpointDir());
    REQUIRE_MESSAGE(loaded.ok(), loaded.status().ToString());
    return loaded.value();
  }();
  static const std::shared_ptr<const Tokenizer> tokenizer = [] {
    auto loaded = Tokenizer::Load(CheckpointDir());
    REQUIRE_MESSAGE(loaded.ok(), loaded.status().ToString());
    return loaded.value();
  }();
  std::vector<std::unique_ptr<Generator>> out;
  GeneratorOptions options;
  options.session.num_threads = 1;
  for (int i = 0; i < count; ++i) {
    auto g = Generator::Create(model, tokenizer, options);
    REQUIRE_MESSAGE(g.ok(), g.status().ToString());
    out.push_back(std::move(g).value());
  }
  return out;
}

TEST_CASE("leases are exclusive under contention") {
  GeneratorPool pool(Generators(2), 16);
  CHECK(pool.size() == 2);
  std::vector<std::atomic<int>> users(2);
  std::vector<Generator*> ids;
  {
    // Learn the generators' addresses by leasing both.
    auto a = pool.Acquire();
    auto b = pool.Acquire();
    REQUIRE(a);
    REQUIRE(b);
    ids = {&**a, &**b};
    CHECK(ids[0] != ids[1]);
  }
  std::atomic<bool> overlap{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        std::optional<GeneratorPool::Lease> lease = pool.Acquire();
        if (!lease) continue;
        std::atomic<int>& u = users[&**lease == ids[0] ? 0 : 1];
        if (u.fetch_add(1) != 0) overlap = true;
        std::this_thread::yield();
        u.fetch_sub(1);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  CHECK_FALSE(overlap.load());
}

TEST_CASE("a full queue refuses at once and a waiter gets the returned generator") {
  GeneratorPool no_queue(Generators(1), 0);
  {
    auto held = no_queue.Acquire();
    REQUIRE(held);
    CHECK_FALSE(no_queue.Acquire());  // nobody may wait: the server answers 503
  }
  CHECK(no_queue.Acquire());  // returned

  GeneratorPool pool(Generators(1), 1);
  auto held = pool.Acquire();
  REQUIRE(held);
  Generator* const g = &**held;
  std::atomic<bool> got{false};
  std::thread waiter([&] {
    auto lease = pool.Acquire();
    got = lease && &**lease == g;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK_FALSE(got.load());
  held.reset();
  waiter.join();
  CHECK(got.load());
}

ChatRequest Request(const std::string& body) {
  auto parsed = ParseChatRequest(body, {});
  REQUIRE(std::holds_alternative<ChatRequest>(parsed));
  return std::get<ChatRequest>(std::move(parsed));
}

// The response body, or the failure's text; no doctest macros, as it runs on other threads.
std::string Reply(Generator& g, const ChatRequest& r) {
  auto reply = g.Chat(r.messages, r.format, r.params);
  if (!reply.ok()) return "failed: " + reply.status().ToString();
  return JsonText(CompletionJson({.id = "chatcmpl-x", .created = 1, .model = "tiny"}, reply.value()));
}

TEST_CASE("concurrent requests on pooled generators equal the same requests run alone") {
  const std::vector<ChatRequest> requests = {
      Request(R"({"messages": [{"role": "user", "content": "Hello there"}], "mode": "expert",
                  "temperature": 0.9, "seed": 11, "max_tokens": 6})"),
      Request(R"({"messages": [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Why?"}],
                  "mode": "fast", "temperature": 0.7, "seed": 12, "max_tokens": 6, "stop": ["zz"]})"),
      Request(R"({"messages": [{"role": "user", "content": "Weather?"},
                  {"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "type": "function",
                   "function": {"name": "weather", "arguments": "{\"city\": \"Oslo\"}"}}]},
                  {"role": "tool", "tool_call_id": "c1", "content": "cold"}],
                  "tools": [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}],
                  "mode": "expert-max", "temperature": 1.0, "seed": 13, "max_tokens": 6})"),
  };
  // Alone, each on a fresh generator.
  std::vector<std::string> alone;
  for (const ChatRequest& r : requests) {
    alone.push_back(Reply(*Generators(1)[0], r));
    const Json j = Json::parse(alone.back(), nullptr, false);
    REQUIRE_MESSAGE(!j.is_discarded(), alone.back());
    CHECK(j["choices"][0]["message"]["role"] == "assistant");
    CHECK(j["usage"]["completion_tokens"].get<int64_t>() >= 1);
    CHECK(j["usage"]["completion_tokens"].get<int64_t>() <= 6);
  }

  // Together: 6 threads (each request twice) on a pool of 2, so generators switch requests.
  GeneratorPool pool(Generators(2), 8);
  std::vector<std::string> together(6);
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      auto lease = pool.Acquire();
      together[t] = lease ? Reply(**lease, requests[t % 3]) : "no generator";
    });
  }
  for (std::thread& t : threads) t.join();
  for (int t = 0; t < 6; ++t) {
    CAPTURE(t);
    // Usage may differ (reused tokens), the reply may not.
    Json a = Json::parse(alone[t % 3]);
    Json b = Json::parse(together[t], nullptr, false);
    REQUIRE_MESSAGE(!b.is_discarded(), together[t]);
    a.erase("usage");
    b.erase("usage");
    CHECK(a == b);
  }
}

}  // namespace
}  // namespace deepseek::server
