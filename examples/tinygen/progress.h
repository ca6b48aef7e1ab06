// What the checkpoint generators report while they stream tensors to disk.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

namespace deepseek::tinygen {

struct Progress {
  int64_t tensors_done = 0;  // logical tensors: a weight and its scale count once
  int64_t tensors_total = 0;
  uint64_t bytes_done = 0;   // tensor data bytes over all shards
  uint64_t bytes_total = 0;
  std::string_view current;  // name of the tensor just written
};
using ProgressFn = std::function<void(const Progress&)>;

}  // namespace deepseek::tinygen
