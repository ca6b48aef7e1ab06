#include "runtime/prefix_cache.h"

#include <xxhash.h>

#include <algorithm>
#include <cstdio>
#include <set>

namespace deepseek {
namespace {

uint64_t Chain(uint64_t seed, std::span<const int32_t> block) {
  return XXH3_64bits_withSeed(block.data(), block.size_bytes(), seed);
}

}  // namespace

PrefixCache::PrefixCache(size_t max_entries, std::string dir,
                         std::function<void(const SessionSnapshot&, const std::string&)> save)
    : max_entries_(max_entries), dir_(std::move(dir)), save_(std::move(save)) {}

size_t PrefixCache::size() const {
  const std::lock_guard<std::mutex> lock(mutex_);
  return lru_.size();
}

uint64_t PrefixCache::Key(std::span<const int32_t> tokens) {
  uint64_t h = 0;
  for (size_t at = 0; at < tokens.size(); at += kBlockTokens) {
    h = Chain(h, tokens.subspan(at, std::min<size_t>(kBlockTokens, tokens.size() - at)));
  }
  return h;
}

std::string PrefixCache::PathOf(uint64_t key) const {
  char name[32];
  std::snprintf(name, sizeof name, "%016llx.dskv", static_cast<unsigned long long>(key));
  return dir_ + "/" + name;
}

bool PrefixCache::Insert(const SessionSnapshot& snapshot, uint64_t key) {
  const std::lock_guard<std::mutex> lock(mutex_);
  if (const auto it = by_key_.find(key); it != by_key_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second);
    return false;
  }
  lru_.push_front({key, snapshot});
  by_key_[key] = lru_.begin();
  Trim();
  return true;
}

void PrefixCache::Add(const SessionSnapshot& snapshot) {
  if (max_entries_ == 0 || snapshot.position() == 0) return;
  const uint64_t key = Key(snapshot.tokens());
  if (Insert(snapshot, key) && !dir_.empty()) save_(snapshot, PathOf(key));  // outside the lock: it writes a file
}

void PrefixCache::Adopt(const SessionSnapshot& snapshot) {
  if (max_entries_ > 0 && snapshot.position() > 0) Insert(snapshot, Key(snapshot.tokens()));
}

std::optional<SessionSnapshot> PrefixCache::Find(std::span<const int32_t> tokens, int64_t max_tokens) {
  const std::lock_guard<std::mutex> lock(mutex_);
  const int64_t limit = std::min<int64_t>(max_tokens, static_cast<int64_t>(tokens.size()));
  std::set<int64_t> lengths;  // the lengths worth hashing the prompt at
  for (const Entry& e : lru_) {
    if (e.snapshot.position() <= limit) lengths.insert(e.snapshot.position());
  }
  // One pass over the prompt: the chain over whole blocks advances once; each length adds its
  // partial last block to it.
  uint64_t whole = 0;
  int64_t hashed = 0;  // tokens of whole blocks in `whole`
  std::optional<std::list<Entry>::iterator> best;
  for (int64_t length : lengths) {
    for (; hashed + kBlockTokens <= length; hashed += kBlockTokens) {
      whole = Chain(whole, tokens.subspan(static_cast<size_t>(hashed), kBlockTokens));
    }
    const uint64_t key = hashed == length ? whole : Chain(whole, tokens.subspan(static_cast<size_t>(hashed), static_cast<size_t>(length - hashed)));
    const auto it = by_key_.find(key);
    if (it == by_key_.end()) continue;
    const std::span<const int32_t> held = it->second->snapshot.tokens();
    if (held.size() == static_cast<size_t>(length) && std::equal(held.begin(), held.end(), tokens.begin())) best = it->second;
  }
  if (!best) return std::nullopt;
  lru_.splice(lru_.begin(), lru_, *best);
  return lru_.front().snapshot;
}

uint64_t PrefixCache::PopOldest() {
  const uint64_t key = lru_.back().key;
  by_key_.erase(key);
  lru_.pop_back();
  return key;
}

void PrefixCache::RemoveFile(uint64_t key) const {
  if (!dir_.empty()) std::remove(PathOf(key).c_str());
}

bool PrefixCache::EvictOne() {
  uint64_t key;
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    if (lru_.empty()) return false;
    key = PopOldest();
  }
  RemoveFile(key);
  return true;
}

void PrefixCache::Trim() {
  while (lru_.size() > max_entries_) RemoveFile(PopOldest());
}

}  // namespace deepseek
