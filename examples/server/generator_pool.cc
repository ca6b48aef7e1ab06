#include "generator_pool.h"

#include <utility>

namespace deepseek::server {

GeneratorPool::GeneratorPool(std::vector<std::unique_ptr<Generator>> generators, std::size_t max_waiting)
    : generators_(std::move(generators)), max_waiting_(max_waiting) {
  for (const auto& g : generators_) free_.push_back(g.get());
}

GeneratorPool::Lease::Lease(Lease&& other) noexcept
    : pool_(std::exchange(other.pool_, nullptr)), generator_(std::exchange(other.generator_, nullptr)) {}

GeneratorPool::Lease::~Lease() {
  if (pool_) pool_->Release(generator_);
}

std::optional<GeneratorPool::Lease> GeneratorPool::Acquire() {
  std::unique_lock<std::mutex> lock(mutex_);
  if (free_.empty()) {
    if (waiting_ >= max_waiting_) return std::nullopt;
    ++waiting_;
    freed_.wait(lock, [&] { return !free_.empty(); });
    --waiting_;
  }
  // The most recently used generator first: a client continuing its conversation right away
  // is the likeliest to find its earlier turns still in that session.
  Generator* g = free_.back();
  free_.pop_back();
  return Lease(this, g);
}

void GeneratorPool::Release(Generator* generator) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    free_.push_back(generator);
  }
  freed_.notify_one();
}

}  // namespace deepseek::server
