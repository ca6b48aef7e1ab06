#include "core/scratch_stack.h"

#include <algorithm>
#include <new>

namespace deepseek {
namespace {
constexpr std::align_val_t kAlignment{64};
constexpr size_t kAlignFloats = 64 / sizeof(float);
}  // namespace

void ScratchStack::AlignedDelete::operator()(float* p) const { ::operator delete[](p, kAlignment); }

ScratchStack::Frame::Frame(ScratchStack& stack) : stack_(stack) {
  stack.Merge();
  block_ = stack.block_;
  used_ = stack.used_;
  ++stack.depth_;
}

ScratchStack::Frame::~Frame() {
  --stack_.depth_;
  stack_.Release(block_, used_);
}

std::span<float> ScratchStack::Frame::Floats(int64_t n) { return stack_.Take(n); }

int64_t ScratchStack::capacity() const {
  size_t total = 0;
  for (const Block& b : blocks_) total += b.size;
  return static_cast<int64_t>(total);
}

// The top moves on to the first later block with room; past the last, a new block takes at
// least as much as all before it, so that a pass needs few blocks even when it starts small.
std::span<float> ScratchStack::Take(int64_t n) {
  const size_t want = (static_cast<size_t>(std::max<int64_t>(n, 0)) + kAlignFloats - 1) / kAlignFloats * kAlignFloats;
  while (block_ < blocks_.size() && blocks_[block_].size - used_ < want) {
    ++block_;
    used_ = 0;
  }
  if (block_ == blocks_.size()) {
    const size_t size = std::max(want, static_cast<size_t>(capacity()));
    blocks_.push_back({std::unique_ptr<float[], AlignedDelete>(new (kAlignment) float[std::max<size_t>(size, 1)]), size});
    used_ = 0;
  }
  float* p = blocks_[block_].data.get() + used_;
  used_ += want;
  return {p, static_cast<size_t>(std::max<int64_t>(n, 0))};
}

void ScratchStack::Release(size_t block, size_t used) {
  block_ = block;
  used_ = used;
}

// Before the first frame of a pass, a stack of several blocks is merged into one of their total
// size, so that a pass of the same shape as the last takes everything from one block.
void ScratchStack::Merge() {
  if (depth_ > 0 || blocks_.size() <= 1) return;
  const size_t total = static_cast<size_t>(capacity());
  blocks_.clear();
  blocks_.push_back({std::unique_ptr<float[], AlignedDelete>(new (kAlignment) float[total]), total});
  block_ = used_ = 0;
}

}  // namespace deepseek
