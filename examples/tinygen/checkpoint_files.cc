#include "tinygen/checkpoint_files.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <utility>

#include "core/error.h"
#include "core/numerics.h"
#include "core/thread_pool.h"
#include "tinygen/quantize.h"
#include "tinygen/random.h"
#include "tinygen/safetensors_writer.h"

namespace deepseek::tinygen {

static_assert(std::endian::native == std::endian::little, "safetensors data are little-endian");

namespace {

// One 128-row block of V4's FP8 tensors: the unit of random streams and of work. Every block
// format divides it, so a chunk always holds whole blocks.
constexpr int64_t kChunkRows = 128;

// Draws n values of `v` from the stream. Outlier blocks are 32 consecutive values, which stay
// within one row because callers pass whole rows of a multiple of 32.
void Draw(const Values& v, Rng& rng, float* x, int64_t n) {
  switch (v.dist) {
    case Dist::kNormal:
      for (int64_t i = 0; i < n; ++i) x[i] = v.a + v.b * rng.Normal();
      break;
    case Dist::kUniform:
      for (int64_t i = 0; i < n; ++i) x[i] = v.a + (v.b - v.a) * rng.Uniform();
      break;
    case Dist::kOutlierBlocks:
      for (int64_t i = 0; i < n; i += 32) {
        const float sigma = rng.Below(16) == 0 ? 8.0f * v.b : v.b;
        for (int64_t k = i; k < std::min(i + 32, n); ++k) x[k] = sigma * rng.Normal();
      }
      break;
  }
}

// Generates one chunk (`rows` rows from row chunk * kChunkRows) of `t` into its stored
// encodings. Values are drawn row-major from the chunk's stream; all formats but the FP8
// blocks, which span several rows, are encoded row by row so the scratch stays in cache.
void FillChunk(const TensorDesc& t, uint64_t stream_key, int64_t chunk, int64_t rows, std::vector<float>& scratch,
               uint8_t* weight, uint8_t* scale, int64_t n_experts) {
  Rng rng(Combine(stream_key, static_cast<uint64_t>(chunk)));
  const int64_t cols = t.cols();
  switch (t.storage) {
    case Storage::kExpertIds: {
      // A partial Fisher-Yates shuffle per token: `cols` distinct experts.
      std::vector<int64_t> perm(static_cast<size_t>(n_experts));
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t e = 0; e < n_experts; ++e) perm[static_cast<size_t>(e)] = e;
        for (int64_t k = 0; k < cols; ++k) {
          const int64_t pick = k + rng.Below(static_cast<uint32_t>(n_experts - k));
          std::swap(perm[static_cast<size_t>(k)], perm[static_cast<size_t>(pick)]);
        }
        std::memcpy(weight + r * cols * 8, perm.data(), static_cast<size_t>(cols) * 8);
      }
      break;
    }
    case Storage::kFp8Block128:
    case Storage::kFp8Block32: {
      scratch.resize(static_cast<size_t>(rows * cols));
      Draw(t.values, rng, scratch.data(), rows * cols);
      const int64_t b = t.fp8_block(), col_blocks = (cols + b - 1) / b;
      for (int64_t r0 = 0; r0 < rows; r0 += b) {
        for (int64_t c0 = 0; c0 < cols; c0 += b) {
          scale[r0 / b * col_blocks + c0 / b] =
              QuantizeFp8Block(scratch.data() + r0 * cols + c0, cols, static_cast<int>(std::min(b, rows - r0)),
                               static_cast<int>(std::min(b, cols - c0)), weight + r0 * cols + c0, cols);
        }
      }
      break;
    }
    case Storage::kBf16:
    case Storage::kF32:
    case Storage::kFp8Rows:
    case Storage::kMxfp4:
      scratch.resize(static_cast<size_t>(cols));
      for (int64_t r = 0; r < rows; ++r) {
        float* x = scratch.data();
        Draw(t.values, rng, x, cols);
        uint8_t* out = weight + t.WeightBytesBefore(r);
        if (t.storage == Storage::kMxfp4) {
          QuantizeMxfp4Row(x, cols, out, scale + r * (cols / 32));
        } else if (t.storage == Storage::kFp8Rows) {
          for (int64_t c0 = 0; c0 < cols; c0 += 32) scale[r * (cols / 32) + c0 / 32] = QuantizeFp8Block(x + c0, cols, 1, 32, out + c0, cols);
        } else if (t.storage == Storage::kF32) {
          std::memcpy(out, x, static_cast<size_t>(cols) * 4);
        } else {
          for (int64_t c = 0; c < cols; ++c) {
            const uint16_t bits = num::FloatToBf16(x[c]);
            std::memcpy(out + 2 * c, &bits, 2);
          }
        }
      }
      break;
  }
}

// Streams one tensor (and its scale) into its shard, a slab of chunks at a time.
void WriteTensor(const TensorDesc& t, uint64_t seed, int64_t n_experts, SafetensorsWriter& out, size_t weight_index,
                 size_t scale_index, ThreadPool& pool, std::vector<std::vector<float>>& scratch) {
  if (t.hole) return;  // the shard was sized up front: unwritten bytes read as zeros
  constexpr uint64_t kSlabBytes = 16u << 20;  // bounds memory whatever the tensor size
  const uint64_t stream_key = Combine(seed, HashName(t.stream));
  const int64_t rows = t.rows(), chunks = (rows + kChunkRows - 1) / kChunkRows;
  const int64_t chunks_per_slab =
      std::max<int64_t>(1, static_cast<int64_t>(kSlabBytes / std::max<uint64_t>(1, t.WeightBytesBefore(kChunkRows))));
  std::vector<uint8_t> weight, scale;
  for (int64_t first = 0; first < chunks; first += chunks_per_slab) {
    const int64_t end = std::min(chunks, first + chunks_per_slab);
    const int64_t row0 = first * kChunkRows, row1 = std::min(rows, end * kChunkRows);
    weight.resize(t.WeightBytesBefore(row1) - t.WeightBytesBefore(row0));
    scale.resize(t.ScaleBytesBefore(row1) - t.ScaleBytesBefore(row0));
    pool.ParallelFor(end - first, [&](int64_t begin, int64_t stop, int thread) {
      for (int64_t c = first + begin; c < first + stop; ++c) {
        const int64_t r0 = c * kChunkRows, r1 = std::min(rows, r0 + kChunkRows);
        FillChunk(t, stream_key, c, r1 - r0, scratch[static_cast<size_t>(thread)],
                  weight.data() + (t.WeightBytesBefore(r0) - t.WeightBytesBefore(row0)),
                  scale.data() + (t.ScaleBytesBefore(r0) - t.ScaleBytesBefore(row0)), n_experts);
      }
    });
    out.Write(weight_index, t.WeightBytesBefore(row0), weight.data(), weight.size());
    if (t.has_scale()) out.Write(scale_index, t.ScaleBytesBefore(row0), scale.data(), scale.size());
  }
}

std::string ShardName(int index, int count) {
  char name[64];
  std::snprintf(name, sizeof(name), "model-%05d-of-%05d.safetensors", index + 1, count);
  return name;
}

}  // namespace

void WriteShards(const std::vector<TensorDesc>& tensors, int num_shards, uint64_t seed, int64_t n_experts,
                 const std::filesystem::path& root, const ProgressFn& progress) {
  // Lay out every shard: its stored tensors sorted by name, as the official shards are.
  struct Slot {
    size_t tensor;
    size_t part;  // 0 = weight, 1 = scale
    TensorEntry entry;
  };
  std::vector<std::vector<Slot>> shards(static_cast<size_t>(num_shards));
  Progress done;
  for (size_t i = 0; i < tensors.size(); ++i) {
    std::vector<TensorEntry> entries = tensors[i].Entries();
    for (size_t part = 0; part < entries.size(); ++part) {
      done.bytes_total += entries[part].nbytes;
      shards[static_cast<size_t>(tensors[i].shard)].push_back({i, part, std::move(entries[part])});
    }
  }
  done.tensors_total = static_cast<int64_t>(tensors.size());

  nlohmann::json weight_map = nlohmann::json::object();
  ThreadPool pool(0);
  std::vector<std::vector<float>> scratch(static_cast<size_t>(pool.num_threads()));
  for (size_t k = 0; k < shards.size(); ++k) {
    std::vector<Slot>& slots = shards[k];
    std::sort(slots.begin(), slots.end(), [](const Slot& a, const Slot& b) { return a.entry.name < b.entry.name; });
    std::vector<TensorEntry> entries;
    // Writer index of each tensor's weight and scale, in the order the weights appear.
    std::vector<std::array<size_t, 2>> index(tensors.size());
    std::vector<size_t> order;
    for (size_t j = 0; j < slots.size(); ++j) {
      entries.push_back(slots[j].entry);
      index[slots[j].tensor][slots[j].part] = j;
      if (slots[j].part == 0) order.push_back(slots[j].tensor);
    }
    const std::string file = ShardName(static_cast<int>(k), num_shards);
    for (const TensorEntry& e : entries) weight_map[e.name] = file;

    SafetensorsWriter out((root / file).string(), entries);
    for (const size_t i : order) {
      const TensorDesc& t = tensors[i];
      WriteTensor(t, seed, n_experts, out, index[i][0], index[i][1], pool, scratch);
      done.tensors_done += 1;
      done.bytes_done += t.WeightBytesBefore(t.rows()) + t.ScaleBytesBefore(t.rows());
      done.current = t.name;
      if (progress) progress(done);
    }
    out.Close();
  }

  const nlohmann::json index_json = {{"metadata", {{"total_size", done.bytes_total}}}, {"weight_map", weight_map}};
  WriteTextFile(root / "model.safetensors.index.json", index_json.dump(2) + "\n");
}

std::filesystem::path CreateFolder(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) Fail(StatusCode::kIoError, "cannot create directory '" + dir + "': " + ec.message());
  return dir;
}

void WriteTextFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(text.data(), static_cast<std::streamsize>(text.size()));
  f.close();
  if (!f) Fail(StatusCode::kIoError, "cannot write '" + path.string() + "'");
}

nlohmann::ordered_json JsonNumber(double v) {
  if (v == std::floor(v) && std::fabs(v) < 1e15) return nlohmann::ordered_json(static_cast<int64_t>(v));
  return nlohmann::ordered_json(v);
}

}  // namespace deepseek::tinygen
