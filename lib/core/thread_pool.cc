// Fork-join thread pool: workers spin briefly (or for as long as the pool is Busy), then park on
// a condition variable between jobs.
// One job runs at a time; the calling thread takes range 0 so a one-thread pool has no threads.
#include "core/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "core/error.h"

namespace deepseek {
namespace {
// The pool whose job the current thread is running: a nested ParallelFor on the same pool
// would wait for itself, so it is rejected.
thread_local const void* tls_running_pool = nullptr;
}  // namespace

// Memory ordering. A job is published by writing job_fn_/job_n_ and then bumping generation_
// with a release store while holding mu_. A worker observes the new generation either through
// an acquire load while spinning or under mu_ after parking; both make the job fields (written
// before the bump) visible to it. The mutex is also what prevents a lost wake-up: a worker
// re-checks generation_ under mu_ before sleeping, and the caller bumps it under mu_.
// Completion runs the other way: each worker finishes its range (its writes to the caller's
// data, and any captured exception) before a release decrement of pending_; the caller's
// acquire load that sees pending_ == 0 therefore sees all of those writes. The worker that
// takes pending_ to zero notifies done_cv_ under mu_, which the caller re-checks under mu_.
struct ThreadPool::Impl {
  using Fn = std::function<void(int64_t, int64_t, int)>;

  // Spin iterations before parking: long enough to bridge the gap between the back-to-back
  // ParallelFor calls of one decode step, short enough not to burn a core while idle.
  static constexpr int kSpinIterations = 4000;
  static constexpr int kYieldEvery = 1024;

  explicit Impl(int threads) : num_threads_(threads) {
    workers_.reserve(static_cast<size_t>(threads - 1));
    try {
      for (int t = 1; t < threads; ++t) workers_.emplace_back([this, t] { WorkerLoop(t); });
    } catch (...) {
      StopWorkers();  // joinable threads must not be destroyed
      throw;
    }
  }

  ~Impl() { StopWorkers(); }

  void StopWorkers() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_cv_.notify_all();
    for (auto& w : workers_) w.join();
  }

  // Range t of a static split of [0, n) into num_threads nearly equal contiguous pieces.
  void RunRange(int t) {
    const int64_t q = job_n_ / num_threads_, rem = job_n_ % num_threads_;
    const int64_t begin = q * t + std::min<int64_t>(t, rem);
    const int64_t end = begin + q + (t < rem ? 1 : 0);
    const void* outer = tls_running_pool;
    tls_running_pool = this;
    try {
      (*job_fn_)(begin, end, t);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!error_) error_ = std::current_exception();
    }
    tls_running_pool = outer;
  }

  // Whether a waiter that has spun `i` times should keep spinning: always while the pool is
  // busy (yielding now and then, so that a descheduled thread of ours can run on a loaded
  // machine), otherwise only for the short spin.
  bool KeepSpinning(int i) const {
    if (i < kSpinIterations) return true;
    if (busy_.load(std::memory_order_relaxed) == 0) return false;
    if (i % kYieldEvery == 0) std::this_thread::yield();
    return true;
  }

  void WorkerLoop(int t) {
    uint64_t seen = 0;
    for (;;) {
      uint64_t g = generation_.load(std::memory_order_acquire);
      for (int i = 0; g == seen && KeepSpinning(i); ++i) {
        Pause();
        g = generation_.load(std::memory_order_acquire);
      }
      if (g == seen) {
        std::unique_lock<std::mutex> lock(mu_);
        wake_cv_.wait(lock, [&] { return generation_.load(std::memory_order_relaxed) != seen; });
        g = generation_.load(std::memory_order_relaxed);
      }
      seen = g;
      if (stop_) return;
      RunRange(t);
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lock(mu_);
        done_cv_.notify_one();
      }
    }
  }

  void Run(int64_t n, const Fn& fn) {
    std::lock_guard<std::mutex> call_lock(call_mu_);  // concurrent callers take turns
    job_fn_ = &fn;
    job_n_ = n;
    error_ = nullptr;
    pending_.store(num_threads_ - 1, std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lock(mu_);
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_cv_.notify_all();

    RunRange(0);

    for (int i = 0; pending_.load(std::memory_order_acquire) != 0 && KeepSpinning(i); ++i) {
      Pause();
    }
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [&] { return pending_.load(std::memory_order_acquire) == 0; });
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  }

  static void Pause() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }

  const int num_threads_;
  std::vector<std::thread> workers_;

  std::mutex call_mu_;
  std::mutex mu_;
  std::condition_variable wake_cv_;
  std::condition_variable done_cv_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<int> busy_{0};  // live Busy objects
  bool stop_ = false;
  const Fn* job_fn_ = nullptr;
  int64_t job_n_ = 0;
  std::exception_ptr error_;  // first exception of the current job; guarded by mu_
};

ThreadPool::ThreadPool(int num_threads) {
  if (num_threads <= 0)
    num_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  impl_ = new Impl(num_threads);
}

ThreadPool::~ThreadPool() { delete impl_; }

int ThreadPool::num_threads() const { return impl_->num_threads_; }

ThreadPool::Busy::Busy(ThreadPool& pool) : pool_(pool) { pool_.impl_->busy_.fetch_add(1, std::memory_order_relaxed); }

ThreadPool::Busy::~Busy() { pool_.impl_->busy_.fetch_sub(1, std::memory_order_relaxed); }

void ThreadPool::ParallelFor(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn) {
  if (n < 0) Fail(StatusCode::kInvalidArgument, "ThreadPool::ParallelFor: negative range size");
  if (n == 0) return;
  if (tls_running_pool == impl_) {
    Fail(StatusCode::kFailedPrecondition,
         "ThreadPool::ParallelFor called from inside one of its own tasks");
  }
  impl_->Run(n, fn);
}

}  // namespace deepseek
