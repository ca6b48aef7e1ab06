// Scratch memory for the activations of a forward pass, taken and given back in stack order
// and kept for the next use. A prefill chunk's activations are tens of MB per matrix (the
// queries of 512 tokens alone are 64 MB at V4-Flash's width); allocated afresh each time they
// come from the kernel as new pages, each faulted in and cleared on first touch (measured: a
// tenth of the prefill time on the benchmark checkpoint). Taken floats are not initialised.
// Not thread-safe: one stack per thread that runs forward passes (a session's stream).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace deepseek {

class ScratchStack {
 public:
  ScratchStack() = default;
  ScratchStack(const ScratchStack&) = delete;
  ScratchStack& operator=(const ScratchStack&) = delete;

  // What a scope takes from the stack, given back when the frame ends (frames end in the
  // reverse order of their creation).
  class Frame {
   public:
    explicit Frame(ScratchStack& stack);
    ~Frame();
    Frame(const Frame&) = delete;
    Frame& operator=(const Frame&) = delete;

    // n floats (n >= 0), 64-byte aligned, their values unspecified, valid until the frame ends.
    // Throws std::bad_alloc when memory runs out (as does the first frame of a pass, which may
    // merge the blocks).
    std::span<float> Floats(int64_t n);

   private:
    ScratchStack& stack_;
    size_t block_, used_;  // the stack's top when the frame began
  };

  // Floats held, whether taken or not (for tests and statistics).
  int64_t capacity() const;

 private:
  struct AlignedDelete {
    void operator()(float* p) const;
  };
  struct Block {
    std::unique_ptr<float[], AlignedDelete> data;
    size_t size;  // floats
  };

  std::span<float> Take(int64_t n);
  void Release(size_t block, size_t used);
  void Merge();

  std::vector<Block> blocks_;
  size_t block_ = 0;  // the block the top is in
  size_t used_ = 0;   // floats taken from it
  int depth_ = 0;     // live frames
};

}  // namespace deepseek
