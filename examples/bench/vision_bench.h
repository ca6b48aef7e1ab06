// deepseek-bench --op vision: the CPU vision encoder (V4.1's tower and aligner, backend Encoder)
// at V4.1-Flash's dimensions with random BF16 weights, on an image of a given number of patches:
// seconds per image, patches per second, and how much of the time the matrix products take
// (the rest is the encoder's host arithmetic: norms, RoPE, softmax, activations).
#pragma once

#include <cstdint>
#include <cstdio>

namespace deepseek::bench {

struct VisionBenchOptions {
  int64_t patches = 1521;  // 39 x 39: a 544 x 544 image, the tower's minimum pixel count
  int layers = 32;         // ViT blocks (V4.1-Flash: 32)
  int threads = 0;
  bool json = false;
};

void RunVisionBench(const VisionBenchOptions& o, std::FILE* out);

}  // namespace deepseek::bench
