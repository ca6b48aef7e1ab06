// ScratchStack: frames give back what they took, nested frames never share floats, memory is
// reused from one pass to the next and merged into one block after a pass outgrew it.
#include <doctest/doctest.h>

#include <cstdint>
#include <numeric>
#include <vector>

#include "core/scratch_stack.h"

namespace deepseek {
namespace {

bool Aligned(const float* p) { return reinterpret_cast<uintptr_t>(p) % 64 == 0; }

bool Disjoint(std::span<float> a, std::span<float> b) {
  return a.data() + a.size() <= b.data() || b.data() + b.size() <= a.data();
}

TEST_CASE("ScratchStack: nested frames take disjoint, aligned floats that keep their values") {
  ScratchStack stack;
  ScratchStack::Frame outer(stack);
  const std::span<float> a = outer.Floats(1000), b = outer.Floats(3);
  std::iota(a.begin(), a.end(), 0.0f);
  std::iota(b.begin(), b.end(), 5000.0f);
  {
    ScratchStack::Frame inner(stack);
    const std::span<float> c = inner.Floats(1 << 20);  // more than the first block holds: a new one
    std::fill(c.begin(), c.end(), -1.0f);
    CHECK(Disjoint(a, c));
    CHECK(Disjoint(b, c));
    CHECK(Aligned(c.data()));
  }
  CHECK(a.size() == 1000);
  CHECK(Aligned(a.data()));
  CHECK(Aligned(b.data()));
  CHECK(Disjoint(a, b));
  for (size_t i = 0; i < a.size(); ++i) REQUIRE(a[i] == static_cast<float>(i));
  CHECK(b[2] == 5002.0f);
  CHECK(outer.Floats(0).empty());
}

TEST_CASE("ScratchStack: a pass of the same shape reuses the memory of the last") {
  ScratchStack stack;
  const auto pass = [&] {
    ScratchStack::Frame frame(stack);
    std::vector<float*> got;
    got.push_back(frame.Floats(100).data());
    {
      ScratchStack::Frame inner(stack);
      got.push_back(inner.Floats(5000).data());
    }
    got.push_back(frame.Floats(7000).data());
    return got;
  };
  pass();  // grows: several blocks, merged into one before the next pass
  const int64_t capacity = stack.capacity();
  CHECK(capacity >= 100 + 7000);
  const std::vector<float*> second = pass(), third = pass();
  CHECK(second == third);
  CHECK(stack.capacity() == capacity);
  // The frame that ended gave its floats back: the next take starts where it began.
  CHECK(second[2] == second[1]);
}

}  // namespace
}  // namespace deepseek
