// deepseek-bench --op: one weight operator (MatMul) on one format and shape, with the weights
// streamed from DRAM (or, --cached, held in the caches), against the machine's read bandwidth and FMA peak measured in the same
// run — kernel work measured in seconds rather than with the whole model.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace deepseek::bench {

struct OpBenchOptions {
  std::string format;  // "mxfp4", "fp8" or "bf16"
  int64_t rows = 4096;
  int64_t cols = 4096;
  int64_t n = 1;        // rows of the input (1: decode's GEMV)
  int threads = 0;
  double seconds = 3;   // timed work, at least
  bool cached = false;  // one copy of the matrix, read from the caches when it fits: the
                        // kernel's compute rate apart from memory
  bool json = false;
};

// Runs the benchmark, printing the table to `out` and, with json, one JSON object to stdout.
// Throws deepseek::Error for a shape or format the operator refuses.
void RunOpBench(const OpBenchOptions& o, std::FILE* out);

}  // namespace deepseek::bench
