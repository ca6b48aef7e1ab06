// The prefix cache of a KvCache: session snapshots kept by the tokens they hold, so that any
// session of the cache resumes a prompt from the longest cached start of it. Keys are xxh3
// hashes chained over 256-token blocks (block k is hashed with the hash of blocks 0..k-1 as its
// seed, a partial last block likewise), so one key stands for the whole prefix and a lookup
// hashes the prompt once. Entries share pages with the sessions they came from; the least
// recently used go first when there are more than the limit or the budget needs their pages.
// With a folder, entries are also files there (written atomically), loaded again by the next
// KvCache made with that folder: a restarted server keeps its prefixes. Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "deepseek/session.h"

namespace deepseek {

class PrefixCache {
 public:
  static constexpr int64_t kBlockTokens = 256;

  // `save(snapshot, path)` and `remove(path)` persist entries when `dir` is not empty.
  PrefixCache(size_t max_entries, std::string dir, std::function<void(const SessionSnapshot&, const std::string&)> save);

  size_t max_entries() const { return max_entries_; }
  size_t size() const;
  const std::string& dir() const { return dir_; }

  // Keeps `snapshot` (an empty one, or one already kept, changes nothing) and saves its file.
  void Add(const SessionSnapshot& snapshot);
  // Keeps a snapshot loaded from its file in dir(), without writing it again.
  void Adopt(const SessionSnapshot& snapshot);
  // The entry with the most tokens, at most `max_tokens`, that begin `tokens`.
  std::optional<SessionSnapshot> Find(std::span<const int32_t> tokens, int64_t max_tokens);
  // Drops the least recently used entry (and its file); false when there is none.
  bool EvictOne();

  // The key of a token sequence, and the file an entry with that key is kept in.
  static uint64_t Key(std::span<const int32_t> tokens);
  std::string PathOf(uint64_t key) const;

 private:
  struct Entry {
    uint64_t key;
    SessionSnapshot snapshot;
  };
  bool Insert(const SessionSnapshot& snapshot, uint64_t key);  // false when already kept
  uint64_t PopOldest();                // under mutex_: drops the least recently used entry
  void RemoveFile(uint64_t key) const;  // an entry's file, when there is a folder
  void Trim();                         // under mutex_

  const size_t max_entries_;
  const std::string dir_;
  const std::function<void(const SessionSnapshot&, const std::string&)> save_;
  mutable std::mutex mutex_;
  std::list<Entry> lru_;  // most recently used first
  std::unordered_map<uint64_t, std::list<Entry>::iterator> by_key_;
};

}  // namespace deepseek
