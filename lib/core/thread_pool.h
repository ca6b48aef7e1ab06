// Fork-join thread pool whose threads take chunks of a job in turn (Highway 1.0.3 ships none).
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

  // Splits [0, n) into contiguous chunks of (nearly) equal size, a few per thread, and runs
  // fn(begin, end, thread_index) on each, returning when all are done: a thread may run several
  // chunks, one after the other, and which thread runs which chunk depends on timing (so fn's
  // results must not depend on the split; thread_index, in [0, num_threads()), is for per-thread
  // scratch). Exceptions thrown by fn are rethrown on the calling thread (the first one wins;
  // chunks not yet started are then skipped).
  void ParallelFor(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn);

 private:
  struct Impl;
  Impl* impl_;
};

}  // namespace deepseek
