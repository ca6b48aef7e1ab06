#include "model/kv_pools.h"

#include <set>
#include <string>

namespace deepseek::model {
namespace {

backend::KvRowLayout Latent(const ModelConfig& c) { return {backend::KvRowFormat::kLatentFp8, c.head_dim, c.rope_dim}; }
backend::KvRowLayout IndexKey(const ModelConfig& c) { return {backend::KvRowFormat::kMxfp4, c.index_head_dim, 0}; }

std::set<int> Ratios(const ModelConfig& c) {
  std::set<int> ratios;
  for (int layer = 0; layer < c.n_layers + c.n_mtp_layers; ++layer) {
    if (c.ratio(layer) > 0) ratios.insert(c.ratio(layer));
  }
  return ratios;
}

bool HasIndexer(const ModelConfig& c) { return Ratios(c).count(4) != 0; }

int64_t Pages(int64_t rows, int64_t rows_per_page) { return (rows + rows_per_page - 1) / rows_per_page; }

}  // namespace

std::shared_ptr<const KvPools> CreateKvPools(const ModelConfig& c, std::shared_ptr<backend::KvMemory> memory) {
  auto pools = std::make_shared<KvPools>();
  pools->window = memory->AddPool({"window", Latent(c), c.window});
  for (int ratio : Ratios(c)) {
    // The indexer reads a few of the ratio-4 latents per query: they may wait in the slow tier.
    const auto placement = ratio == 4 ? backend::KvPlacement::kSelected : backend::KvPlacement::kHot;
    pools->compressed[ratio] = memory->AddPool({"compressed_r" + std::to_string(ratio), Latent(c), kCompressedRowsPerPage, placement});
  }
  if (HasIndexer(c)) pools->index_keys = memory->AddPool({"index_keys", IndexKey(c), kCompressedRowsPerPage});
  pools->memory = std::move(memory);
  return pools;
}

uint64_t KvSequenceBytes(const ModelConfig& c, int64_t tokens, bool mtp) {
  if (tokens <= 0) return 0;
  const int64_t latent = Latent(c).bytes(), key = IndexKey(c).bytes(), rpp = kCompressedRowsPerPage;
  int64_t bytes = 0;
  for (int layer = 0; layer < c.n_layers + (mtp ? c.n_mtp_layers : 0); ++layer) {
    bytes += int64_t{c.window} * latent;
    const int ratio = c.ratio(layer);
    if (ratio == 0) continue;
    const int64_t entries = tokens / ratio;
    bytes += Pages(entries, rpp) * rpp * latent;
    if (ratio == 4) bytes += Pages(entries, rpp) * rpp * key;
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
  const double latent = static_cast<double>(Latent(c).bytes()), key = static_cast<double>(IndexKey(c).bytes());
  double bytes = 0;
  for (int layer = 0; layer < c.n_layers; ++layer) {
    const int ratio = c.ratio(layer);
    if (ratio > 0) bytes += (latent + (ratio == 4 ? key : 0)) / ratio;
  }
  return bytes;
}

}  // namespace deepseek::model
