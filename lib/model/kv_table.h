// One sequence's rows in one KV pool: an owned block table (a reference to each page, in row
// order) and the number of rows written. Copying a table shares its pages (O(pages), no row
// is copied); the first write to a shared page replaces it by a private copy.
#pragma once

#include <cstdint>
#include <vector>

#include "backends/backend.h"

namespace deepseek::model {

class KvTable {
 public:
  KvTable() = default;
  // `memory` must outlive the table.
  KvTable(backend::KvMemory* memory, backend::KvPoolId pool);
  KvTable(const KvTable& other);
  KvTable& operator=(const KvTable& other);
  KvTable(KvTable&& other) noexcept;
  KvTable& operator=(KvTable&& other) noexcept;
  ~KvTable();

  int64_t rows() const { return rows_; }
  int64_t pages() const { return static_cast<int64_t>(pages_.size()); }
  int rows_per_page() const;
  int dim() const;
  uint64_t bytes() const;  // of the pages held
  backend::KvRows view() const { return {memory_, pool_, pages_, rows_}; }
  backend::KvMemory* memory() const { return memory_; }
  backend::KvPoolId pool() const { return pool_; }

  // Makes rows [first, end) writable: adds pages up to `end` rows and replaces shared pages
  // among them by private copies. Throws Error(kResourceExhausted) when the memory's budget is
  // used up; the table then holds whatever pages it got and stays valid (see Trim).
  void Reserve(int64_t first, int64_t end);
  // Packs values [n, dim] into rows [first, first + n) (reserving them first); rows() becomes
  // at least first + n.
  void Write(backend::Stream& stream, int64_t first, int64_t n, const float* values);
  void Append(backend::Stream& stream, const float* row) { Write(stream, rows_, 1, row); }
  // out [n, dim] = rows [first, first + n), unpacked.
  void Read(backend::Stream& stream, int64_t first, int64_t n, float* out) const;
  // Keeps the first `rows` rows (≤ rows()) and drops the pages beyond the last one needed.
  void Truncate(int64_t rows);
  // Drops pages beyond those holding rows() rows (left by a failed Reserve).
  void Trim() { Truncate(rows_); }

 private:
  void ReleaseAll() noexcept;

  backend::KvMemory* memory_ = nullptr;
  backend::KvPoolId pool_ = -1;
  std::vector<backend::KvPageId> pages_;
  int64_t rows_ = 0;
};

}  // namespace deepseek::model
