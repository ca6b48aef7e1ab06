// Fork-join thread pool: workers spin briefly (or for as long as the pool is Busy), then park on
// a condition variable between jobs. A job's range is cut into a few chunks per thread that the
// threads take in turn from a shared counter, so that a thread slowed down takes fewer of them.
// One job runs at a time; the calling thread takes part, so a one-thread pool has no threads.
//
// On a loaded machine (another process on one of our cores) a worker is sometimes descheduled
// in the middle of a chunk, and the caller then waits for it for a whole time slice, job after
// job: two threads end up slower than one. The caller measures how long it waits for the
// others after its own chunks; when that is a large part of the jobs' time, it runs the jobs
// alone for a while (the workers park, leaving their cores to whoever needs them), then tries
// the threads again.
#include "core/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
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
  // Chunks per thread: enough that a thread running slower leaves little of the job to wait
  // for, few enough that the calls' setup stays small next to their work.
  static constexpr int64_t kChunksPerThread = 4;
  // Solo mode: judged over windows of this much job time; entered when the caller waited for
  // other threads for more than this share of a window; kept for this long.
  static constexpr auto kJudgeWindow = std::chrono::milliseconds(20);
  static constexpr double kMaxWaitShare = 0.3;
  static constexpr auto kSoloTime = std::chrono::milliseconds(500);
  using Clock = std::chrono::steady_clock;

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

  // Takes chunks of the current job (nearly equal contiguous pieces of [0, n)) until none is
  // left, running each as thread t. After an exception the remaining chunks are skipped.
  void RunChunks(int t) {
    const void* outer = tls_running_pool;
    tls_running_pool = this;
    for (int64_t c = next_chunk_.fetch_add(1, std::memory_order_relaxed); c < job_chunks_;
         c = next_chunk_.fetch_add(1, std::memory_order_relaxed)) {
      const int64_t q = job_n_ / job_chunks_, rem = job_n_ % job_chunks_;
      const int64_t begin = q * c + std::min<int64_t>(c, rem);
      const int64_t end = begin + q + (c < rem ? 1 : 0);
      try {
        (*job_fn_)(begin, end, t);
      } catch (...) {
        next_chunk_.store(job_chunks_, std::memory_order_relaxed);
        std::lock_guard<std::mutex> lock(mu_);
        if (!error_) error_ = std::current_exception();
      }
    }
    tls_running_pool = outer;
  }

  // Whether a waiter that has spun `i` times should keep spinning: always while the pool is
  // busy (yielding now and then, so that a descheduled thread of ours can run on a loaded
  // machine), otherwise only for the short spin.
  bool KeepSpinning(int i) const {
    if (i < kSpinIterations) return true;
    if (busy_.load(std::memory_order_relaxed) == 0 || solo_.load(std::memory_order_relaxed)) return false;
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
      RunChunks(t);
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
    if (num_threads_ == 1 || Solo()) {
      job_chunks_ = 1;  // one call over the whole range, as nothing is shared
      next_chunk_.store(0, std::memory_order_relaxed);
      RunChunks(0);
    } else {
      const Clock::time_point start = Clock::now();
      RunTogether(n);
      Judge(start);
    }
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  }

  // Whether the caller runs the jobs alone for now (solo mode, see the top of the file).
  bool Solo() {
    if (!solo_.load(std::memory_order_relaxed)) return false;
    if (Clock::now() < solo_until_) return true;
    solo_.store(false, std::memory_order_relaxed);
    return false;
  }

  // Runs the job on every thread; records how long the caller waited for the others.
  void RunTogether(int64_t n) {
    job_chunks_ = std::min<int64_t>(n, num_threads_ * kChunksPerThread);
    next_chunk_.store(0, std::memory_order_relaxed);  // published by the generation bump below
    pending_.store(num_threads_ - 1, std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lock(mu_);
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_cv_.notify_all();

    RunChunks(0);
    const Clock::time_point own_done = Clock::now();
    for (int i = 0; pending_.load(std::memory_order_acquire) != 0 && KeepSpinning(i); ++i) {
      Pause();
    }
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [&] { return pending_.load(std::memory_order_acquire) == 0; });
    waited_ += Clock::now() - own_done;
  }

  // At the end of each window of job time: solo mode if the caller waited too much of it.
  void Judge(Clock::time_point start) {
    const Clock::time_point now = Clock::now();
    window_ += now - start;
    if (window_ < kJudgeWindow) return;
    if (waited_ > kMaxWaitShare * window_) {
      solo_until_ = now + kSoloTime;
      solo_.store(true, std::memory_order_relaxed);
    }
    window_ = waited_ = Clock::duration::zero();
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
  int64_t job_chunks_ = 0;
  std::atomic<int64_t> next_chunk_{0};
  // Solo mode (see the top of the file); the clocks are the caller's, under call_mu_.
  std::atomic<bool> solo_{false};
  Clock::time_point solo_until_;
  Clock::duration window_{0}, waited_{0};
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
