// DecodeBatcher: threads that want a decode step leave it in a queue; whichever finds no batch
// running takes the queue and runs it as one Session::DecodeBatch for everyone (flat combining),
// then wakes the others, whose steps were either in it or start the next batch.
#include <condition_variable>
#include <mutex>
#include <vector>

#include "deepseek/generation.h"
#include "runtime/refusal.h"

namespace deepseek {

struct DecodeBatcher::Impl {
  struct Step {
    Session* session;
    int32_t token;
    Status status;
    bool done = false;
  };

  // Runs `batch` (outside the lock). A batch refused as a whole by one session's request
  // (which leaves every session unchanged) is run step by step instead, so that only that
  // request fails.
  static void Run(const std::vector<Step*>& batch) {
    std::vector<Session*> sessions;
    std::vector<int32_t> tokens;
    for (const Step* step : batch) {
      sessions.push_back(step->session);
      tokens.push_back(step->token);
    }
    const Status status = Session::DecodeBatch(sessions, tokens);
    const bool refused = IsRefusal(status.code());
    for (Step* step : batch) step->status = refused && batch.size() > 1 ? step->session->Decode(step->token) : status;
  }

  mutable std::mutex mutex;
  std::condition_variable finished;
  std::vector<Step*> waiting;
  bool running = false;
  Stats stats;
};

DecodeBatcher::DecodeBatcher() : impl_(std::make_unique<Impl>()) {}
DecodeBatcher::~DecodeBatcher() = default;

Status DecodeBatcher::Decode(Session& session, int32_t token) {
  Impl& b = *impl_;
  Impl::Step step{&session, token, Status(), false};
  std::unique_lock lock(b.mutex);
  b.waiting.push_back(&step);
  while (!step.done) {
    if (b.running) {
      b.finished.wait(lock);
      continue;
    }
    b.running = true;
    std::vector<Impl::Step*> batch;
    batch.swap(b.waiting);
    lock.unlock();
    Impl::Run(batch);
    lock.lock();
    ++b.stats.steps;
    b.stats.tokens += static_cast<int64_t>(batch.size());
    for (Impl::Step* s : batch) s->done = true;
    b.running = false;
    b.finished.notify_all();
  }
  return step.status;
}

DecodeBatcher::Stats DecodeBatcher::stats() const {
  const std::lock_guard lock(impl_->mutex);
  return impl_->stats;
}

}  // namespace deepseek
