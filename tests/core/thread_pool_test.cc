// ThreadPool: every index is visited exactly once, in a few balanced contiguous chunks per
// thread, a slowed thread takes fewer chunks, jobs can follow each other indefinitely, and task
// exceptions reach the caller.
#include "core/thread_pool.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <stdexcept>
#include <vector>

#include "core/error.h"

namespace deepseek {
namespace {

// Runs one job over [0, n) and checks coverage and the shape of the partition: min(n, 4 ·
// threads) contiguous chunks of nearly equal size (one, when the pool runs jobs alone).
void CheckCoverage(ThreadPool& pool, int64_t n) {
  CAPTURE(n);
  const int threads = pool.num_threads();
  std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
  std::mutex mu;
  std::vector<std::pair<int64_t, int64_t>> ranges;
  std::atomic<bool> bad_index{false};
  pool.ParallelFor(n, [&](int64_t begin, int64_t end, int t) {
    if (t < 0 || t >= threads) {
      bad_index = true;
      return;
    }
    {
      const std::lock_guard<std::mutex> lock(mu);
      ranges.emplace_back(begin, end);
    }
    for (int64_t i = begin; i < end; ++i) hits[static_cast<size_t>(i)].fetch_add(1);
  });
  REQUIRE_FALSE(bad_index.load());
  for (int64_t i = 0; i < n; ++i) REQUIRE(hits[static_cast<size_t>(i)].load() == 1);
  if (n == 0) return;
  const int64_t chunks = static_cast<int64_t>(ranges.size());
  REQUIRE((chunks == std::min<int64_t>(n, 4 * threads) || chunks == 1));
  std::sort(ranges.begin(), ranges.end());
  int64_t expected_begin = 0;
  for (const auto& [begin, end] : ranges) {
    CHECK(begin == expected_begin);
    CHECK(end - begin >= n / chunks);
    CHECK(end - begin <= n / chunks + 1);
    expected_begin = end;
  }
  CHECK(expected_begin == n);
}

TEST_CASE("ThreadPool covers every index exactly once") {
  for (int threads : {1, 2, 3, 8}) {
    CAPTURE(threads);
    ThreadPool pool(threads);
    CHECK(pool.num_threads() == threads);
    for (int64_t n : {0, 1, 2, 3, 7, 8, 9, 1000, 100003}) CheckCoverage(pool, n);
  }
}

TEST_CASE("ThreadPool defaults to one thread per core") {
  ThreadPool pool;
  CHECK(pool.num_threads() >= 1);
  ThreadPool negative(-3);
  CHECK(negative.num_threads() == pool.num_threads());
  CheckCoverage(negative, 17);
}

TEST_CASE("ThreadPool runs many jobs back to back") {
  ThreadPool pool(4);
  std::atomic<int64_t> total{0};
  int64_t expected = 0;
  for (int job = 0; job < 2000; ++job) {
    const int64_t n = job % 37;
    expected += n * (n - 1) / 2;
    pool.ParallelFor(n, [&](int64_t begin, int64_t end, int) {
      int64_t sum = 0;
      for (int64_t i = begin; i < end; ++i) sum += i;
      total.fetch_add(sum);
    });
  }
  CHECK(total.load() == expected);
}

TEST_CASE("a thread slowed down takes fewer chunks") {
  // The worker sleeps through each chunk it takes; the calling thread, not slowed, takes the
  // rest meanwhile (a static split would leave half of the job to the sleeper).
  ThreadPool pool(2);
  std::atomic<int> by_caller{0}, by_worker{0};
  pool.ParallelFor(8, [&](int64_t, int64_t, int t) {
    if (t == 0) {
      by_caller.fetch_add(1);
    } else {
      by_worker.fetch_add(1);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  CHECK(by_caller.load() + by_worker.load() == 8);
  CHECK(by_worker.load() <= 2);
}

TEST_CASE("a pool whose threads keep the caller waiting runs its jobs alone for a while") {
  // The worker sleeps through each chunk it takes (as if another process held its core): the
  // caller waits for it most of the time, so after a window of such jobs it runs them alone.
  ThreadPool pool(2);
  const ThreadPool::Busy busy(pool);
  std::atomic<int> worker_chunks{0};
  const auto job = [&](int64_t, int64_t, int t) {
    if (t != 0) {
      worker_chunks.fetch_add(1);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  };
  // Within a few windows the worker gets no more chunks (it would take some in nearly every
  // job otherwise: the pool is busy, so it spins for the next job). How many jobs that takes
  // depends on the machine's load, hence the loop.
  int quiet = 0;
  for (int i = 0; i < 400 && quiet < 10; ++i) {
    worker_chunks = 0;
    pool.ParallelFor(8, job);
    quiet = worker_chunks.load() == 0 ? quiet + 1 : 0;
  }
  CHECK(quiet == 10);
  // Later the threads are tried again: a job whose caller is the slow one gets help.
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  pool.ParallelFor(8, [&](int64_t, int64_t, int t) {
    if (t == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    else worker_chunks.fetch_add(1);
  });
  CHECK(worker_chunks.load() > 0);
}

TEST_CASE("ThreadPool rethrows a task's exception on the caller") {
  ThreadPool pool(3);
  for (int64_t thrower : {0, 5, 11}) {  // the first, a middle and the last chunk
    CAPTURE(thrower);
    std::atomic<int> finished{0};
    CHECK_THROWS_WITH_AS(pool.ParallelFor(12,
                                          [&](int64_t begin, int64_t, int) {
                                            if (begin == thrower) throw std::runtime_error("boom");
                                            finished.fetch_add(1);
                                          }),
                         "boom", std::runtime_error);
    CHECK(finished.load() < 12);
  }
  // Every range throwing: one exception arrives, and the pool stays usable.
  CHECK_THROWS_AS(
      pool.ParallelFor(3, [](int64_t, int64_t, int) { throw Error(StatusCode::kInternal, "x"); }),
      Error);
  CheckCoverage(pool, 50);
}

TEST_CASE("ThreadPool rejects invalid use without hanging") {
  ThreadPool pool(2);
  CHECK_THROWS_AS(pool.ParallelFor(-1, [](int64_t, int64_t, int) {}), Error);
  // A nested job on the same pool would wait for itself; it is reported instead.
  CHECK_THROWS_AS(
      pool.ParallelFor(
          4, [&](int64_t, int64_t, int) { pool.ParallelFor(2, [](int64_t, int64_t, int) {}); }),
      Error);
  // A different pool may be used from inside a task.
  ThreadPool inner(2);
  std::atomic<int> count{0};
  pool.ParallelFor(2, [&](int64_t begin, int64_t, int) {
    if (begin == 0)
      inner.ParallelFor(
          10, [&](int64_t b, int64_t e, int) { count.fetch_add(static_cast<int>(e - b)); });
  });
  CHECK(count.load() == 10);
}

TEST_CASE("ThreadPool keeps working while busy, nested, and after it parks again") {
  ThreadPool pool(3);
  {
    const ThreadPool::Busy busy(pool);
    for (int64_t n : {1, 2, 3, 7, 100}) CheckCoverage(pool, n);
    {
      const ThreadPool::Busy nested(pool);
      for (int job = 0; job < 500; ++job) CheckCoverage(pool, 1 + job % 9);
    }
    CheckCoverage(pool, 33);
  }
  // Busy from another thread, while this one submits jobs.
  std::thread other([&] {
    const ThreadPool::Busy busy(pool);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  });
  for (int job = 0; job < 200; ++job) CheckCoverage(pool, 5);
  other.join();
  // No Busy left: the workers park after their short spin, and a later job wakes them.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CheckCoverage(pool, 64);
}

}  // namespace
}  // namespace deepseek
