#include "model/kv_table.h"

#include <algorithm>
#include <numeric>
#include <string>

#include "core/error.h"

namespace deepseek::model {

KvTable::KvTable(backend::KvMemory* memory, backend::KvPoolId pool) : memory_(memory), pool_(pool) {}

KvTable::KvTable(const KvTable& other)
    : memory_(other.memory_), pool_(other.pool_), pages_(other.pages_), rows_(other.rows_) {
  for (backend::KvPageId page : pages_) memory_->Retain(pool_, page);
}

KvTable& KvTable::operator=(const KvTable& other) {
  if (this != &other) *this = KvTable(other);
  return *this;
}

KvTable::KvTable(KvTable&& other) noexcept
    : memory_(other.memory_), pool_(other.pool_), pages_(std::move(other.pages_)), rows_(other.rows_) {
  other.pages_.clear();
  other.rows_ = 0;
}

KvTable& KvTable::operator=(KvTable&& other) noexcept {
  if (this != &other) {
    ReleaseAll();
    memory_ = other.memory_;
    pool_ = other.pool_;
    pages_ = std::move(other.pages_);
    rows_ = other.rows_;
    other.pages_.clear();
    other.rows_ = 0;
  }
  return *this;
}

KvTable::~KvTable() { ReleaseAll(); }

void KvTable::ReleaseAll() noexcept {
  for (backend::KvPageId page : pages_) memory_->Release(pool_, page);
  pages_.clear();
}

int KvTable::rows_per_page() const { return memory_->pool(pool_).rows_per_page; }

int KvTable::dim() const { return memory_->pool(pool_).row.dim; }

uint64_t KvTable::bytes() const { return pages_.size() * static_cast<uint64_t>(memory_->pool(pool_).page_bytes()); }

void KvTable::Reserve(int64_t first, int64_t end) {
  if (end <= first) return;
  const int64_t rpp = rows_per_page();
  const int64_t needed = (end + rpp - 1) / rpp;
  pages_.reserve(static_cast<size_t>(needed));
  while (pages() < needed) pages_.push_back(memory_->Allocate(pool_));
  for (int64_t p = first / rpp; p < needed; ++p) {
    backend::KvPageId& page = pages_[static_cast<size_t>(p)];
    if (!memory_->Shared(pool_, page)) continue;
    const backend::KvPageId copy = memory_->Duplicate(pool_, page);
    memory_->Release(pool_, page);
    page = copy;
  }
}

void KvTable::Write(backend::Stream& stream, int64_t first, int64_t n, const float* values) {
  if (n <= 0) return;
  Reserve(first, first + n);
  // The operator sees only the pages written, so its cost does not grow with the table.
  const int64_t rpp = rows_per_page(), p0 = first / rpp, p1 = (first + n - 1) / rpp + 1;
  const backend::KvRows part{memory_, pool_, {pages_.data() + p0, static_cast<size_t>(p1 - p0)}, 0};
  stream.KvWrite(part, first - p0 * rpp, n, values);
  rows_ = std::max(rows_, first + n);
}

void KvTable::Read(backend::Stream& stream, int64_t first, int64_t n, float* out) const {
  if (n <= 0) return;
  if (first < 0 || first + n > rows_) {
    Fail(StatusCode::kInvalidArgument, "KV table: rows [" + std::to_string(first) + ", " + std::to_string(first + n) +
                                           ") outside its " + std::to_string(rows_) + " rows");
  }
  std::vector<int64_t> rows(static_cast<size_t>(n));
  std::iota(rows.begin(), rows.end(), first);
  stream.KvGather(view(), rows, out);
}

void KvTable::Truncate(int64_t rows) {
  rows_ = std::clamp<int64_t>(rows, 0, rows_);
  const int64_t rpp = rows_per_page(), keep = (rows_ + rpp - 1) / rpp;
  while (pages() > keep) {
    memory_->Release(pool_, pages_.back());
    pages_.pop_back();
  }
}

}  // namespace deepseek::model
