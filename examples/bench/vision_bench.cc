#include "vision_bench.h"

#include <chrono>
#include <cmath>
#include <random>
#include <vector>

#include "backends/backend.h"
#include "backends/cpu/machine_probe.h"
#include "core/error.h"
#include "core/numerics.h"
#include "core/thread_pool.h"

namespace deepseek::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Random BF16 matrices [rows, cols], kept alive for the encoder's description.
struct Store {
  std::vector<std::vector<uint16_t>> matrices;
  std::mt19937 rng{5};
  backend::WeightMatrix Bf16(int64_t rows, int64_t cols) {
    std::normal_distribution<float> normal(0.0f, 1.0f / std::sqrt(static_cast<float>(cols)));
    std::vector<uint16_t>& m = matrices.emplace_back(static_cast<size_t>(rows * cols));
    for (uint16_t& v : m) v = num::FloatToBf16(normal(rng));
    return {backend::WeightFormat::kBF16, rows, cols, m.data(), nullptr};
  }
};

}  // namespace

void RunVisionBench(const VisionBenchOptions& o, std::FILE* out) {
  if (o.patches < 1 || o.layers < 1) Fail(StatusCode::kInvalidArgument, "--patches and --vision-layers must be positive");
  // V4.1-Flash's tower (spec §8.10): dim 1024, 16 heads, MLP 2816, patches of 14, 3 x 3 aligner
  // into 5120.
  backend::VisionEncoderDesc d;
  d.dim = 1024;
  d.heads = 16;
  d.inter = 2816;
  d.patch = 14;
  d.merge = 3;
  d.out_dim = 5120;
  Store store;
  d.patch_embed = store.Bf16(d.dim, 3 * d.patch * d.patch);
  d.patch_bias.assign(static_cast<size_t>(d.dim), 0.0f);
  for (int l = 0; l < o.layers; ++l) {
    backend::VisionEncoderDesc::Block b;
    b.norm1.assign(static_cast<size_t>(d.dim), 1.0f);
    b.norm2 = b.norm1;
    b.wqkv = store.Bf16(3 * d.dim, d.dim);
    b.wqkv_bias.assign(static_cast<size_t>(3 * d.dim), 0.0f);
    b.wo = store.Bf16(d.dim, d.dim);
    b.wo_bias.assign(static_cast<size_t>(d.dim), 0.0f);
    b.w1 = store.Bf16(2 * d.inter, d.dim);
    b.w2 = store.Bf16(d.dim, d.inter);
    d.blocks.push_back(std::move(b));
  }
  d.norm.assign(static_cast<size_t>(d.dim), 1.0f);
  d.align1 = store.Bf16(d.out_dim, d.dim * d.merge * d.merge);
  d.align1_bias.assign(static_cast<size_t>(d.out_dim), 0.0f);
  d.align2 = store.Bf16(d.out_dim, d.out_dim);
  d.align2_bias.assign(static_cast<size_t>(d.out_dim), 0.0f);

  ThreadPool pool(o.threads);
  backend::Device& cpu = backend::Registry::Get().Cpu();
  const auto stream = cpu.CreateStream(pool);
  const auto encoder = cpu.CreateVisionEncoder(d);
  const int64_t side = static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(o.patches))));
  const backend::EncoderGrid grid{(o.patches + side - 1) / side, side};
  const int64_t n = grid.h * grid.w;
  std::vector<float> input(static_cast<size_t>(n * encoder->input_width()));
  std::mt19937 rng(9);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& v : input) v = num::RoundBf16(normal(rng));
  std::vector<float> rows(static_cast<size_t>(encoder->OutputRows(grid) * encoder->output_width()));

  const backend::StreamStats::Counts before = stream->stats().Total();
  const Clock::time_point start = Clock::now();
  encoder->Encode(*stream, input.data(), grid, rows.data());
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const backend::StreamStats::Counts after = stream->stats().Total();
  const double matmul_seconds = after.seconds - before.seconds;
  const double gflops = static_cast<double>(after.flops - before.flops) / seconds / 1e9;
  const double peak = backend::cpu::MeasurePeakFma(pool);
  std::fprintf(out,
               "vision encoder (V4.1-Flash tower: %d blocks, dim 1024; aligner to 5120), %lld patches (%lld x %lld), %d threads\n"
               "  %.2f s per image, %.0f patches/s; matrix products %.2f s (%.0f %% of the time), %.1f GFLOP/s overall "
               "(%.2f of the fp32 FMA peak %.0f GFLOP/s)\n",
               o.layers, static_cast<long long>(n), static_cast<long long>(grid.h), static_cast<long long>(grid.w), pool.num_threads(),
               seconds, static_cast<double>(n) / seconds, matmul_seconds, 100 * matmul_seconds / seconds, gflops, gflops / peak, peak);
  if (o.json) {
    std::printf("{\"op\": \"vision\", \"patches\": %lld, \"layers\": %d, \"threads\": %d, \"seconds\": %.6g, \"patches_per_s\": %.6g, "
                "\"matmul_fraction\": %.6g, \"gflops\": %.6g, \"peak_gflops\": %.6g}\n",
                static_cast<long long>(n), o.layers, pool.num_threads(), seconds, static_cast<double>(n) / seconds,
                matmul_seconds / seconds, gflops, peak);
  }
}

}  // namespace deepseek::bench
