// What every block function receives about the chunk being processed.
#pragma once

#include <cstdint>
#include <span>

#include "backends/backend.h"
#include "core/scratch_stack.h"
#include "core/thread_pool.h"
#include "deepseek/config.h"
#include "model/observer.h"

namespace deepseek::model {

struct RopeTables;
struct Csa2Handoff;

// One sequence's rows of a chunk: [first, first + count), at consecutive positions.
struct SequenceRows {
  int64_t first = 0;
  int64_t count = 0;
};

// A chunk is the rows of one or more sequences (several in a batched decode step). Row-wise
// work (projections, norms, mHC, MoE) runs over all rows at once, so each weight is read once
// for the batch; attention and the compressors run per sequence, on a context of its rows.
struct ChunkContext {
  const ModelConfig& config;
  backend::Stream& stream;
  ThreadPool& pool;                   // host threads for row-wise work (ForRows)
  ScratchStack& scratch;              // the activations' memory (frames of the calling thread)
  ForwardObserver* observer;          // may be null
  const RopeTables& rope;
  std::span<const int32_t> tokens;    // the chunk's token ids
  std::span<const int64_t> positions; // their absolute positions (consecutive within a sequence)
  std::span<const SequenceRows> sequences;  // empty in the context of one sequence's rows
  std::span<const uint8_t> in_image = {};   // [S] nonzero inside an image span (V4.1), or empty
  std::span<Csa2Handoff> csa2 = {};         // V4.1: per sequence, what index sources hand on
  int64_t size() const { return static_cast<int64_t>(tokens.size()); }
  // The context of one sequence's rows.
  ChunkContext Rows(const SequenceRows& rows) const {
    const auto first = static_cast<size_t>(rows.first), count = static_cast<size_t>(rows.count);
    return {config, stream, pool, scratch, observer, rope, tokens.subspan(first, count), positions.subspan(first, count), {},
            in_image.empty() ? in_image : in_image.subspan(first, count)};
  }
};

// fn(r0, r1) over rows [0, rows) of `width` values each: in parts on the host threads when
// they are many (a prefill chunk's), at once on this thread otherwise (a decode step's, where
// a fork-join would cost more than the work). fn's results must not depend on the split.
template <class F>
void ForRows(const ChunkContext& ctx, int64_t rows, int64_t width, F&& fn) {
  constexpr int64_t kParallelValues = int64_t{1} << 16;
  if (rows < 2 || rows * width < kParallelValues) {
    fn(int64_t{0}, rows);
    return;
  }
  ctx.pool.ParallelFor(rows, [&](int64_t begin, int64_t end, int) { fn(begin, end); });
}

}  // namespace deepseek::model
