// Writes the files of a generated checkpoint folder: the safetensors shards and their index from
// a tensor plan, with values drawn from seeded streams, and the JSON text files beside them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tinygen/progress.h"
#include "tinygen/tensor_plan.h"

namespace deepseek::tinygen {

// Writes `tensors` into the shards model-0000N-of-0000M.safetensors (M = num_shards) in `root`,
// each shard's stored tensors sorted by name as the official shards are, then
// model.safetensors.index.json. The bytes depend only on the descriptions and `seed`; kExpertIds
// tables draw ids below n_experts. Streams tensor by tensor, so memory stays bounded for any
// size. Throws Error(kIoError) when a file cannot be written.
void WriteShards(const std::vector<TensorDesc>& tensors, int num_shards, uint64_t seed, int64_t n_experts,
                 const std::filesystem::path& root, const ProgressFn& progress);

// Creates the folder `dir` and its parents if needed; throws Error(kIoError) naming it.
std::filesystem::path CreateFolder(const std::string& dir);

// Replaces the file with `text`; throws Error(kIoError) naming it.
void WriteTextFile(const std::filesystem::path& path, const std::string& text);

// Integral values print as JSON integers, as in the official configs (rope_theta: 10000).
nlohmann::ordered_json JsonNumber(double v);

}  // namespace deepseek::tinygen
