// Writes one safetensors file whose layout is fixed up front: the header goes first, then each
// tensor's bytes are placed by positioned writes, in pieces and in any order. This lets the
// generator stream multi-GB shards without holding a tensor, let alone a shard, in memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace deepseek::tinygen {

struct TensorEntry {
  std::string name;
  std::string dtype;  // safetensors spelling: "BF16", "F8_E4M3", ...
  std::vector<int64_t> shape;
  uint64_t nbytes = 0;
};

class SafetensorsWriter {
 public:
  // Creates (or truncates) `path`, sizes it and writes the header for `tensors`, whose data are
  // laid out back to back in the given order. Throws Error(kIoError) naming the file.
  SafetensorsWriter(std::string path, const std::vector<TensorEntry>& tensors);
  ~SafetensorsWriter();
  SafetensorsWriter(const SafetensorsWriter&) = delete;
  SafetensorsWriter& operator=(const SafetensorsWriter&) = delete;

  // Writes `size` bytes at byte `offset` of tensor `index`'s data (index into the constructor's
  // list). Throws Error(kIoError) on failure and Error(kInternal) for an out-of-range write.
  void Write(size_t index, uint64_t offset, const void* data, size_t size);

  // Closes the file, reporting a failed close (e.g. a full disk on a network file system).
  void Close();

 private:
  std::string path_;
  int fd_ = -1;
  std::vector<uint64_t> begin_;  // absolute file offset of each tensor's data
  std::vector<uint64_t> size_;
};

}  // namespace deepseek::tinygen
