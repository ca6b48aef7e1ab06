// ForRows: a prefill chunk's rows are cut into parts for the host threads, each row in exactly
// one; a decode step's few rows stay on the calling thread in one call.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "backends/backend.h"
#include "core/scratch_stack.h"
#include "core/thread_pool.h"
#include "model/layer_context.h"
#include "model/rope.h"

namespace deepseek::model {
namespace {

struct Calls {
  std::mutex mu;
  std::vector<std::pair<int64_t, int64_t>> ranges;
  std::vector<std::thread::id> threads;
};

void Run(ThreadPool& pool, int64_t rows, int64_t width, Calls& calls) {
  ModelConfig c;
  const auto stream = backend::Registry::Get().Cpu().CreateStream(pool);
  ScratchStack scratch;
  const RopeTables rope;
  const ChunkContext ctx{c, *stream, pool, scratch, nullptr, rope, {}, {}, {}};
  ForRows(ctx, rows, width, [&](int64_t r0, int64_t r1) {
    const std::lock_guard<std::mutex> lock(calls.mu);
    calls.ranges.emplace_back(r0, r1);
    calls.threads.push_back(std::this_thread::get_id());
  });
  std::sort(calls.ranges.begin(), calls.ranges.end());
}

TEST_CASE("ForRows covers every row once, in parts for a prefill's rows") {
  ThreadPool pool(2);
  Calls many, few;
  Run(pool, 512, 4096, many);
  REQUIRE(many.ranges.size() > 1);
  int64_t next = 0;
  for (const auto& [r0, r1] : many.ranges) {
    CHECK(r0 == next);
    CHECK(r1 > r0);
    next = r1;
  }
  CHECK(next == 512);

  Run(pool, 1, 4096, few);  // a decode step: one call, on this thread
  REQUIRE(few.ranges.size() == 1);
  CHECK(few.ranges.front() == std::pair<int64_t, int64_t>{0, 1});
  CHECK(few.threads.front() == std::this_thread::get_id());
}

}  // namespace
}  // namespace deepseek::model
