// A checkpoint folder as DeepSeek publishes it: config.json, model.safetensors.index.json
// (weight_map: tensor name -> shard file) and the shards; or a single model.safetensors.
// All shards are memory-mapped; tensors are looked up by name across shards.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "format/safetensors.h"
#include "format/section_file.h"

namespace deepseek::format {

class Checkpoint {
 public:
  // Opens `dir`. Throws Error naming the file: kNotFound for a missing folder, index or shard,
  // kCorruptFile for a malformed index or shard, or when the index names a tensor that its shard
  // lacks, or two shards hold the same tensor.
  static std::unique_ptr<Checkpoint> Open(const std::string& dir);

  const std::string& dir() const { return dir_; }
  const TensorInfo* Find(const std::string& name) const;  // nullptr when absent

  // The tensor `name`, required to have this dtype and shape. Throws Error(kNotFound) when it
  // is absent and Error(kCorruptFile) describing expected versus found otherwise.
  const TensorInfo& Require(const std::string& name, DType dtype,
                            const std::vector<int64_t>& shape) const;

  std::vector<std::string> TensorNames() const;  // sorted
  size_t total_bytes() const;                     // sum of all tensors' bytes

  // Identifies this checkpoint for state saved with it (KV snapshots): an xxh3-128 over
  // config.json, every tensor's name, dtype and shape, and the first 4 KiB of the first eight
  // tensors' data (so a checkpoint of the same shapes with other weights differs). Cheap: it
  // reads no more than that. Computed by Open.
  const Fingerprint& fingerprint() const { return fingerprint_; }

 private:
  std::string dir_;
  std::vector<SafetensorsFile> shards_;
  Fingerprint ComputeFingerprint() const;

  std::map<std::string, const TensorInfo*> by_name_;
  Fingerprint fingerprint_{};
};

}  // namespace deepseek::format
