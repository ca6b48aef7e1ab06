#include "model/kv_pools.h"

#include <set>
#include <string>

#include "model/layer_kv.h"

namespace deepseek::model {
namespace {

// The row formats of each family (spec §6.2, §8.9): V4 keeps latents as FP8 per 64 with bf16
// RoPE dims; V4.1 keeps its window rows FP8 per 32 over all dims and its compressed rows NVFP4.
backend::KvRowLayout WindowRow(const ModelConfig& c) {
  if (c.family == ModelFamily::kV41) return {backend::KvRowFormat::kFp8Per32, c.head_dim, 0};
  return {backend::KvRowFormat::kLatentFp8, c.head_dim, c.rope_dim};
}
backend::KvRowLayout CompressedRow(const ModelConfig& c) {
  if (c.family == ModelFamily::kV41) return {backend::KvRowFormat::kNvfp4, c.head_dim, 0};
  return WindowRow(c);
}
backend::KvRowLayout IndexKey(const ModelConfig& c) { return {backend::KvRowFormat::kMxfp4, c.index_head_dim, 0}; }

// The ratios of the layers that own a compressed cache.
std::set<int> OwnedRatios(const ModelConfig& c, const std::vector<LayerKv>& plan) {
  std::set<int> ratios;
  for (int layer = 0; layer < static_cast<int>(plan.size()); ++layer) {
    if (OwnsCache(plan, layer)) ratios.insert(plan[static_cast<size_t>(layer)].ratio);
  }
  return ratios;
}

bool HasIndexKeys(const std::vector<LayerKv>& plan) {
  for (const LayerKv& k : plan) {
    if (k.owns_index_keys) return true;
  }
  return false;
}

int64_t Pages(int64_t rows, int64_t rows_per_page) { return (rows + rows_per_page - 1) / rows_per_page; }

}  // namespace

std::shared_ptr<const KvPools> CreateKvPools(const ModelConfig& c, std::shared_ptr<backend::KvMemory> memory) {
  const std::vector<LayerKv> plan = PlanLayerKv(c);
  auto pools = std::make_shared<KvPools>();
  pools->layers = plan;
  pools->window = memory->AddPool({"window", WindowRow(c), c.window});
  for (int ratio : OwnedRatios(c, plan)) {
    // Indexed layers read a few of their latents per query: they may wait in the slow tier.
    // HCA layers (ratio 128, no indexer) read all of theirs.
    const auto placement = ratio == 128 ? backend::KvPlacement::kHot : backend::KvPlacement::kSelected;
    pools->compressed[ratio] = memory->AddPool({"compressed_r" + std::to_string(ratio), CompressedRow(c), kCompressedRowsPerPage, placement});
  }
  if (HasIndexKeys(plan)) pools->index_keys = memory->AddPool({"index_keys", IndexKey(c), kCompressedRowsPerPage});
  pools->memory = std::move(memory);
  return pools;
}

uint64_t KvSequenceBytes(const ModelConfig& c, int64_t tokens, bool mtp) {
  if (tokens <= 0) return 0;
  const std::vector<LayerKv> plan = PlanLayerKv(c);
  const int64_t window = WindowRow(c).bytes(), latent = CompressedRow(c).bytes(), key = IndexKey(c).bytes();
  const int64_t rpp = kCompressedRowsPerPage;
  int64_t bytes = 0;
  for (int layer = 0; layer < c.n_layers + (mtp ? c.n_mtp_layers : 0); ++layer) {
    bytes += int64_t{c.window} * window;
    if (!OwnsCache(plan, layer)) continue;
    const int64_t entries = tokens / plan[static_cast<size_t>(layer)].ratio;
    bytes += Pages(entries, rpp) * rpp * latent;
    if (plan[static_cast<size_t>(layer)].owns_index_keys) bytes += Pages(entries, rpp) * rpp * key;
  }
  return static_cast<uint64_t>(bytes);
}

int64_t KvTokensForBytes(const ModelConfig& c, uint64_t bytes, bool mtp) {
  if (KvSequenceBytes(c, 1, mtp) > bytes) return 0;
  int64_t lo = 1, hi = 1;  // KvSequenceBytes grows with tokens: double, then bisect
  while (KvSequenceBytes(c, hi, mtp) <= bytes && hi < (int64_t{1} << 40)) lo = hi, hi *= 2;
  while (hi - lo > 1) {
    const int64_t mid = lo + (hi - lo) / 2;
    (KvSequenceBytes(c, mid, mtp) <= bytes ? lo : hi) = mid;
  }
  return lo;
}

double KvBytesPerToken(const ModelConfig& c) {
  const std::vector<LayerKv> plan = PlanLayerKv(c);
  const double latent = static_cast<double>(CompressedRow(c).bytes()), key = static_cast<double>(IndexKey(c).bytes());
  double bytes = 0;
  for (int layer = 0; layer < c.n_layers; ++layer) {
    if (!OwnsCache(plan, layer)) continue;
    const LayerKv& k = plan[static_cast<size_t>(layer)];
    bytes += (latent + (k.owns_index_keys ? key : 0)) / k.ratio;
  }
  return bytes;
}

}  // namespace deepseek::model
