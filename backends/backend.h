// The backend object model (after ggml's): a Registry lists Devices; a Device reports what it
// supports and creates Streams and KV memories; a Stream executes operators. Model code reaches
// compute only through a Stream (via lib/ops), so an NPU backend is an addition behind this
// interface. Activations and weights are host memory in this version of the interface (the CPU
// backend's view; device buffers for them arrive with the first accelerator backend); the KV
// caches already live in the device's own memory and are addressed by pool, page and row.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace deepseek {
class ThreadPool;
}

namespace deepseek::backend {

inline constexpr int kBackendApiVersion = 3;

// How a weight matrix is stored; the stored bytes are used as they are (no fp32 copy).
enum class WeightFormat : uint8_t {
  kF32,          // float32 [rows, cols]
  kBF16,         // bfloat16 [rows, cols]
  kFp8Block128,  // e4m3fn [rows, cols] + e8m0 scales [ceil(rows/128), ceil(cols/128)]
  kMxfp4,        // e2m1 pairs [rows, cols/2] (low nibble = even column) + e8m0 scales [rows, cols/32]
  kFp8Block32,   // e4m3fn [rows, cols] + e8m0 scales [ceil(rows/32), ceil(cols/32)] (V4.1's dense tensors)
};
inline constexpr size_t kWeightFormatCount = 5;

const char* WeightFormatName(WeightFormat format);

// A read-only weight matrix W [rows, cols] in its stored format (row-major, [out, in]).
struct WeightMatrix {
  WeightFormat format = WeightFormat::kF32;
  int64_t rows = 0;
  int64_t cols = 0;
  const void* data = nullptr;
  const uint8_t* scales = nullptr;  // e8m0 codes; nullptr for kF32 / kBF16
};

// Rows [first, first + count) of w. For block-scaled FP8, first and count must be multiples of
// the block (else Error(kInvalidArgument)).
WeightMatrix RowSlice(const WeightMatrix& w, int64_t first, int64_t count);

// ---- MoE layer ----------------------------------------------------------------------------

// A SwiGLU expert's matrices, named as in the checkpoint: w1 (gate) and w3 (up) [inter, D],
// w2 (down) [D, inter].
struct ExpertMatrices {
  WeightMatrix w1;
  WeightMatrix w3;
  WeightMatrix w2;
};

// One MoE layer (spec §4.5) as the MoeLayer operator takes it: the router, the experts and the
// settings of the config.
struct MoeLayerDesc {
  WeightMatrix router;                       // [E, D]: scores s = sqrt(softplus(x · routerᵀ))
  std::span<const float> bias;               // [E]: steers the choice (score-routed layers), or empty
  const void* hash_routes = nullptr;         // int64 [vocab, k], unaligned: each token id's experts
  int64_t vocab = 0;                         //   (hash-routed layers: no bias)
  std::span<const ExpertMatrices> experts;   // [E]
  ExpertMatrices shared;                     // runs on every token, unweighted
  int k = 0;                                 // experts per token
  bool normalize = true;                     // weights divided by their sum (norm_topk_prob)
  float route_scale = 1;                     // routed_scaling_factor
  float swiglu_limit = 0;                    // 0: no clamp
  // V4.1 (spec §8.5): router logits divided by gate_temp before the score function; the
  // weights' sum gets normalize_epsilon (1e-20); tokens of an image span choose with bias_vl.
  float gate_temp = 1;
  float normalize_epsilon = 0;
  std::span<const float> bias_vl = {};       // [E], or empty
  std::span<const uint8_t> image_tokens = {};  // per call: [S], nonzero inside an image span; or empty
};

// The operators a device may implement; SupportsOp answers per operator (and weight format).
enum class Op : uint8_t {
  kMatMul,           // y = x · Wᵀ
  kSparseAttention,  // softmax attention over indexed cache rows with a per-head sink
  kKvWrite,          // pack rows into a KV pool
  kKvGather,         // unpack rows of a KV pool
  kIndexerScores,    // the CSA indexer's scores of queries against MXFP4 keys
  kMoeLayer,         // a whole MoE layer: routing, the selected experts, the shared expert
};

// ---- KV memory ----------------------------------------------------------------------------
//
// A sequence's caches (the sliding-window ring, the compressed latents, the indexer keys) live
// in a KvMemory: pools of fixed-size pages, one pool per kind of row, with rows packed in the
// pool's row format. The model holds, per sequence and cache, a block table (page ids, in row
// order: logical row r is row r % rows_per_page of page pages[r / rows_per_page]) and reaches
// the rows only through stream operators that take those tables (KvWrite, KvGather,
// SparseAttention), never through addresses — the paged-attention model of vLLM and FlashMLA,
// so an accelerator keeps the pages in its own memory.

// How one cache row is stored. Each format stores values already on its grid exactly (the
// reference rounds its caches to these grids before it stores them), so a KvWrite followed by
// a KvGather returns the written floats bit for bit; other values are rounded to the grid.
enum class KvRowFormat : uint8_t {
  kF32,        // dim fp32 values: 4·dim bytes
  // The V4 latent (vLLM's fp8_ds_mla, FlashMLA's MODEL1 FP8 row): dims [0, dim − rope_dim) as
  // FP8 e4m3 codes, then dims [dim − rope_dim, dim) as bf16, then one ue8m0 scale per 64 e4m3
  // dims, zero-padded to a multiple of 8 bytes: 448 + 128 + 7 + 1 = 584 bytes for dim 512.
  kLatentFp8,
  // MXFP4 (the V4 indexer keys): dim e2m1 codes two per byte (low nibble = even dim), then one
  // ue8m0 scale per 32 dims: 64 + 4 = 68 bytes for dim 128.
  kMxfp4,
  // FP8 per 32 (the V4.1 window rows, spec §8.9): all dims as e4m3 codes, RoPE dims included,
  // then one ue8m0 scale per 32 dims: 512 + 16 = 528 bytes for dim 512.
  kFp8Per32,
  // NVFP4 (the V4.1 compressed latents, spec §8.9): dim e2m1 codes two per byte (low nibble =
  // even dim, as MXFP4 and NVIDIA's packing), then one e4m3 scale per 16 dims, no global
  // scale: 256 + 32 = 288 bytes for dim 512.
  kNvfp4,
};

struct KvRowLayout {
  KvRowFormat format = KvRowFormat::kF32;
  int dim = 0;       // values per row
  int rope_dim = 0;  // kLatentFp8: the trailing dims kept in bf16
  int64_t bytes() const;
  // Throws Error(kInvalidConfig) when dim or rope_dim do not fit the format's blocks.
  void Validate() const;
};

const char* KvRowFormatName(KvRowFormat format);

using KvPoolId = int32_t;
using KvPageId = int32_t;  // a page of its pool; pages of different pools are unrelated

// How a pool's rows are read, which decides where its pages go when a memory has a fast tier
// of limited size and a slow one (see KvMemoryOptions).
enum class KvPlacement : uint8_t {
  kHot,       // every row is read at every step (the window ring, indexer keys, HCA latents)
  kSelected,  // rows are read by index, a few per step (CSA latents the indexer picks)
};

struct KvPoolDesc {
  std::string name;       // names the pool in errors and statistics ("window", "index_keys", ...)
  KvRowLayout row;
  int rows_per_page = 0;
  KvPlacement placement = KvPlacement::kHot;
  int64_t page_bytes() const { return row.bytes() * rows_per_page; }
};

// What a KV memory is made with.
struct KvMemoryOptions {
  uint64_t budget_bytes = 0;  // pages in use over all pools and tiers; 0 = no limit
  // The slow tier: with a folder, pages may live in files there (the CPU maps them; the kernel
  // keeps the recently read ones in RAM and writes the others back). Pages of kSelected pools
  // always go there; kHot pools take fast memory until their storage reaches fast_bytes, then
  // go there too. Without a folder every page is in fast memory and fast_bytes must be 0.
  std::string tier_dir;
  uint64_t fast_bytes = 0;
};

struct KvMemoryStats {
  struct Pool {
    std::string name;
    int64_t row_bytes = 0;
    int rows_per_page = 0;
    int64_t pages_in_use = 0;   // pages with a reference
    int64_t pages_shared = 0;   // of those, pages referenced more than once
    int64_t pages_storage = 0;  // pages the device has set aside (in use or free)
    int64_t pages_tiered = 0;   // of those, pages in the slow tier
  };
  uint64_t budget_bytes = 0;    // 0: no limit
  uint64_t bytes_in_use = 0;    // Σ pages_in_use · page bytes, what the budget bounds
  uint64_t bytes_storage = 0;   // Σ pages_storage · page bytes
  uint64_t bytes_tiered = 0;    // Σ pages_tiered · page bytes (on disk, for the CPU)
  std::vector<Pool> pools;
};

// The contract of a KV memory (every backend's implementation keeps it):
// - Made by Device::CreateKvMemory with a budget and tiers; outlives every table that refers to it (the
//   model holds it by shared_ptr).
// - AddPool adds a pool of one row format and page size; pools are never removed.
// - Pages are reference counted. Allocate and Duplicate return a page with one reference
//   (Duplicate copies the rows of a page: copy-on-write); Retain adds one; Release drops one and
//   frees the page at zero. A page referenced more than once is shared: its rows must not change,
//   so a writer first replaces its reference with a Duplicate. Freshly allocated rows hold
//   unspecified values until written.
// - The budget bounds the bytes of pages in use over all pools; Allocate and Duplicate throw
//   Error(kResourceExhausted), naming the pool and the figures, when the next page would pass it.
//   Storage the device could not get is Error(kOutOfMemory). Either way nothing changes.
// - A page stays in the tier it was first placed in; which tier holds a page changes nothing
//   for the operators (the slow tier is slower to read, never different).
// - Thread safety: every member function may be called from any thread at any time. Rows of a
//   page are written only by the page's sole owner, and read by anyone holding a reference.
class KvMemory {
 public:
  virtual ~KvMemory() = default;
  virtual KvPoolId AddPool(const KvPoolDesc& desc) = 0;
  virtual const KvPoolDesc& pool(KvPoolId id) const = 0;
  virtual KvPageId Allocate(KvPoolId pool) = 0;
  virtual KvPageId Duplicate(KvPoolId pool, KvPageId page) = 0;
  virtual void Retain(KvPoolId pool, KvPageId page) = 0;
  virtual void Release(KvPoolId pool, KvPageId page) noexcept = 0;
  virtual bool Shared(KvPoolId pool, KvPageId page) const = 0;
  virtual uint64_t budget_bytes() const = 0;
  virtual uint64_t bytes_in_use() const = 0;
  virtual KvMemoryStats stats() const = 0;
};

// A view of one sequence's rows in one pool (the block table and how many rows are valid), as
// the stream operators take it. It borrows the table: valid while the table is unchanged.
struct KvRows {
  KvMemory* memory = nullptr;
  KvPoolId pool = -1;
  std::span<const KvPageId> pages;
  int64_t rows = 0;
};

// The rows SparseAttention may read, addressed by one index space: [0, fresh_rows) are the
// chunk's own latents `fresh` [fresh_rows, dim] (fp32, not yet in any cache), the next
// window.rows indices are the window ring's slots, then the compressed entries follow.
struct AttentionKv {
  const float* fresh = nullptr;
  int64_t fresh_rows = 0;
  KvRows window;
  KvRows compressed;
};

// What a stream's operators have done since it was created: the benchmark's bytes-per-token
// and GEMM-rate figures come from here, counted from the tensors each call actually touched.
// Counted per stored weight format; Total() is their sum.
struct StreamStats {
  struct Counts {
    uint64_t weight_bytes = 0;  // weight and scale bytes read by weight operators
    uint64_t flops = 0;         // 2 · n · rows · cols summed over weight operators
    double seconds = 0;         // wall time inside weight operators
    int64_t calls = 0;
  };
  Counts by_format[kWeightFormatCount];  // indexed by WeightFormat
  // Counts one weight operator over n inputs that read all of w once in `seconds` of wall time.
  void Add(const WeightMatrix& w, int64_t n, double seconds);
  // The indexer's scoring (IndexerScores): multiply-adds of queries with keys, and wall time.
  struct Indexer {
    uint64_t macs = 0;  // Σ visible keys · heads · dim over queries
    double seconds = 0;
    int64_t calls = 0;
  } indexer;

  Counts Total() const {
    Counts t;
    for (const Counts& c : by_format) {
      t.weight_bytes += c.weight_bytes;
      t.flops += c.flops;
      t.seconds += c.seconds;
      t.calls += c.calls;
    }
    return t;
  }
};

class Stream {
 public:
  virtual ~Stream() = default;

  const StreamStats& stats() const { return stats_; }

  // y[n, rows] = x[n, cols] · W[rows, cols]ᵀ with W dequantised exactly and fp32 accumulation.
  // x and y are row-major fp32 and must not alias.
  virtual void MatMul(const WeightMatrix& w, const float* x, int64_t n, float* y) = 0;

  // For each query i in [0, n) and head h in [0, heads):
  //   s_j = scale · (q[i,h,:] · kv_j) over the rows j of query i,
  //   out[i,h,:] = Σ_j bf16(e^{s_j − M}) kv_j / (Σ_j e^{s_j − M} + e^{sink[h] − M}), M = max_j s_j,
  // where the probabilities enter P·V rounded to bf16 as in the reference kernel. Query i
  // attends the rows indices[offsets[i], offsets[i+1]) of `kv` (see AttentionKv; an empty list
  // gives 0); offsets has n + 1 entries, starting at 0.
  virtual void SparseAttention(const float* q, int64_t n, int heads, int dim, const AttentionKv& kv,
                               std::span<const int64_t> offsets, std::span<const int32_t> indices,
                               const float* sink, float scale, float* out) = 0;

  // Packs values [n, dim] (fp32) into rows [first, first + n) of `dst`, whose pages must be
  // allocated and not shared (first + n ≤ pages · rows_per_page; dst.rows is not used).
  virtual void KvWrite(const KvRows& dst, int64_t first, int64_t n, const float* values) = 0;
  // out[i, :] = row rows[i] of `src` unpacked to fp32 (each index < src.rows).
  virtual void KvGather(const KvRows& src, std::span<const int64_t> rows, float* out) = 0;

  // The CSA indexer's scores (spec §4.4f) of n queries against the keys of `keys` (an MXFP4
  // pool of dim-wide rows), with the reference's bf16 roundings: for b < visible[i],
  //   scores[i·stride + b] = bf16(Σ_h bf16(max(bf16(dot(i,h,b)), 0) · w[i·heads + h])),
  // heads summed in ascending order in fp32, where dot(i,h,b) = Σ_blk Σ_{d∈blk} q[i,h,d]·k_b[d]
  // over blocks of 32 dims, each block's sum exact and the blocks added in ascending order in
  // fp32 (q [n, heads, dim] must hold values on the FP4 grid per block of 32, as the indexer's
  // queries do, so that every block sum is an exact multiple of its two scales). Entries at
  // b >= visible[i] are left as they are.
  virtual void IndexerScores(const float* q, const float* w, int64_t n, int heads, const KvRows& keys,
                             std::span<const int64_t> visible, float* scores, int64_t stride) = 0;

  // A MoE layer over S tokens x [S, D] (fp32 holding bf16 values), in one call so that a
  // device never returns to the host between routing and experts. For each token t:
  //   s = sqrt(softplus(x_t · routerᵀ / gate_temp)) in fp32 (softplus with torch's threshold 20);
  //   its k experts: imposed[t·k ..] when `imposed` is not empty (tests hold the reference's
  //   choices), else hash_routes[tokens[t]] for hash layers, else the k largest s + bias
  //   (descending, ties to the lower id);
  //   (with bias_vl instead of bias for image-span tokens when bias_vl is given);
  //   their weights w_i = s[e_i] (divided by Σ_i s[e_i] + normalize_epsilon when normalize)
  //   · route_scale;
  //   per expert e with input row x_t and weight w (1 for the shared expert), L = swiglu_limit:
  //     g = bf16(x_t · W1ᵀ), u = bf16(x_t · W3ᵀ); if L > 0: g = min(g, L), u = clamp(u, −L, L);
  //     h = bf16(g / (1 + e^−g) · u · w); y_e = bf16(h · W2ᵀ);
  //   out[t] = bf16(Σ y_e over the routed experts in ascending id, then + y_shared), in fp32.
  // The routes are written to experts [S, k] and weights [S, k]. tokens has S ids (read for
  // hash layers). Each expert's matrices are read once per call, for all of its tokens.
  virtual void MoeLayer(const MoeLayerDesc& layer, const float* x, int64_t S, int64_t D, std::span<const int32_t> tokens,
                        std::span<const int32_t> imposed, std::span<int32_t> experts, std::span<float> weights,
                        float* out) = 0;

  // Waits for queued work (the CPU stream runs synchronously).
  virtual void Synchronize() {}

 protected:
  StreamStats stats_;
};

// Bytes a weight operator reads from `w`: its stored elements and their scales.
uint64_t WeightBytes(const WeightMatrix& w);

// ---- Encoders ------------------------------------------------------------------------------
//
// A modality encoder turns one input (an image's patches; an audio clip's frames could follow)
// into rows of the language model's width, which the model splices into the token sequence. It
// is a backend object like the KV memory: made by a device from its weights' description, run on
// that device's streams, so an accelerator keeps the weights and the work; the model sees only
// this interface.

// The 2D layout of an encoder's input rows (vision: the patch grid; a 1D input uses h = 1).
struct EncoderGrid {
  int64_t h = 0, w = 0;
};

class Encoder {
 public:
  virtual ~Encoder() = default;
  virtual int64_t input_width() const = 0;   // values per input row
  virtual int64_t output_width() const = 0;  // values per output row (the model's width)
  virtual int64_t OutputRows(const EncoderGrid& grid) const = 0;
  // out [OutputRows(grid), output_width] from input [grid.h · grid.w, input_width], on `stream`
  // (of the device that made the encoder). Throws Error(kInvalidArgument) for an empty grid.
  virtual void Encode(Stream& stream, const float* input, const EncoderGrid& grid, float* out) = 0;
};

// The V4.1 vision tower and aligner (spec §8.10): patch embedding, pre-norm ViT blocks with 2D
// RoPE (rotate-half) and bidirectional attention, a final RMSNorm, then the aligner's k × k merge
// of the patch grid (zero-padded right and bottom), two linear layers with exact GELU between.
// Matrices are [out, in]; biases and norm weights are fp32 copies.
struct VisionEncoderDesc {
  int64_t dim = 0, heads = 0, inter = 0, patch = 0, merge = 0, out_dim = 0;
  double rope_theta = 10000;
  float norm_eps = 1e-6f;
  WeightMatrix patch_embed;             // [dim, 3·patch²]
  std::vector<float> patch_bias;        // [dim]
  struct Block {
    std::vector<float> norm1, norm2;    // [dim]
    WeightMatrix wqkv;                  // [3·dim, dim]
    std::vector<float> wqkv_bias;       // [3·dim]
    WeightMatrix wo;                    // [dim, dim]
    std::vector<float> wo_bias;         // [dim]
    WeightMatrix w1;                    // [2·inter, dim]: gate, then up
    WeightMatrix w2;                    // [dim, inter]
  };
  std::vector<Block> blocks;
  std::vector<float> norm;              // [dim]
  WeightMatrix align1;                  // [out_dim, dim·merge²]
  std::vector<float> align1_bias;       // [out_dim]
  WeightMatrix align2;                  // [out_dim, out_dim]
  std::vector<float> align2_bias;       // [out_dim]
};

enum class DeviceKind : uint8_t { kCpu, kAccelerator };

class Device {
 public:
  virtual ~Device() = default;
  virtual std::string name() const = 0;
  virtual DeviceKind kind() const = 0;
  virtual bool SupportsOp(Op op, WeightFormat format = WeightFormat::kF32) const = 0;
  // The stream runs its work on `pool` (owned by the caller, outliving the stream).
  virtual std::unique_ptr<Stream> CreateStream(ThreadPool& pool) = 0;
  // An empty KV memory in this device's memory (and its slow tier); its pages are read and
  // written by this device's streams. Throws Error(kInvalidArgument) for options it cannot
  // keep (a tier folder it cannot write to).
  virtual std::shared_ptr<KvMemory> CreateKvMemory(const KvMemoryOptions& options) = 0;
  // The vision encoder over `desc`'s weights (which must outlive it). Throws
  // Error(kInvalidArgument) naming the field when the shapes disagree.
  virtual std::unique_ptr<Encoder> CreateVisionEncoder(const VisionEncoderDesc& desc) = 0;
};

// Compiled-in backends, registered once at first use.
class Registry {
 public:
  static Registry& Get();
  const std::vector<Device*>& devices() const { return devices_; }
  Device* Find(const std::string& name) const;  // nullptr when absent
  Device& Cpu() const;                          // always present

 private:
  Registry();
  std::vector<std::unique_ptr<Device>> owned_;
  std::vector<Device*> devices_;
};

}  // namespace deepseek::backend
