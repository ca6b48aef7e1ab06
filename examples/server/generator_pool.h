// A fixed set of Generators (one Session each, all on one Model) lent to one request at a time.
// A Generator is not thread-safe, so a lease is exclusive; requests beyond the pool wait in a
// bounded queue, and one that finds the queue full is turned away at once (HTTP 503) rather
// than piling up behind a long generation.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "deepseek/generation.h"

namespace deepseek::server {

class GeneratorPool {
 public:
  // `max_waiting`: requests that may wait for a generator at the same time.
  GeneratorPool(std::vector<std::unique_ptr<Generator>> generators, std::size_t max_waiting);

  // Exclusive use of one generator until destroyed.
  class Lease {
   public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    ~Lease();
    Generator& operator*() const { return *generator_; }
    Generator* operator->() const { return generator_; }

   private:
    friend class GeneratorPool;
    Lease(GeneratorPool* pool, Generator* generator) : pool_(pool), generator_(generator) {}
    GeneratorPool* pool_;
    Generator* generator_;
  };

  // A free generator, waiting for one if needed; nullopt when max_waiting requests already wait.
  std::optional<Lease> Acquire();

  std::size_t size() const { return generators_.size(); }

 private:
  void Release(Generator* generator);

  std::vector<std::unique_ptr<Generator>> generators_;
  std::size_t max_waiting_;
  std::mutex mutex_;
  std::condition_variable freed_;
  std::vector<Generator*> free_;  // the most recently returned last, so it is lent first
  std::size_t waiting_ = 0;
};

}  // namespace deepseek::server
