// Fork-join thread pool with static partitioning (Highway 1.0.3 ships none).
// Owned by whoever runs work (a session or a benchmark), never a hidden global.
#pragma once

#include <cstdint>
#include <functional>

namespace deepseek {

class ThreadPool {
 public:
  // num_threads <= 0 means one thread per hardware core. The calling thread is worker 0.
  explicit ThreadPool(int num_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const;

  // While a Busy object lives, idle workers keep spinning instead of parking after a short
  // spin, so the back-to-back ParallelFor calls of a forward pass pay no wake-up each. Hold one
  // only while work is running (a session holds one during each Prefill/Decode call); outside
  // it the workers park and use no CPU. Busy objects may nest and come from any thread.
  class Busy {
   public:
    explicit Busy(ThreadPool& pool);
    ~Busy();
    Busy(const Busy&) = delete;
    Busy& operator=(const Busy&) = delete;

   private:
    ThreadPool& pool_;
  };

  // Splits [0, n) into num_threads() contiguous ranges of (nearly) equal size and runs
  // fn(begin, end, thread_index) on each, returning when all are done. Ranges may be empty.
  // Exceptions thrown by fn are rethrown on the calling thread (the first one wins).
  void ParallelFor(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn);

 private:
  struct Impl;
  Impl* impl_;
};

}  // namespace deepseek
