#include "backends/cpu/moe_layer.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <functional>
#include <memory>
#include <numeric>
#include <vector>

#include "backends/cpu/matmul.h"
#include "backends/cpu/swiglu.h"
#include "core/numerics.h"
#include "core/thread_pool.h"
#include "core/top_k.h"
#include "core/unaligned.h"

namespace deepseek::backend::cpu {
namespace {

using Clock = std::chrono::steady_clock;
using FormatSeconds = std::array<double, kWeightFormatCount>;

double Seconds(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// torch's softplus (threshold 20), then the square root.
float SqrtSoftplus(float x) { return std::sqrt(x > 20.0f ? x : std::log1p(std::exp(x))); }

// Each token's k experts and their weights (see the contract).
void Route(const MoeLayerDesc& layer, const float* x, int64_t S, std::span<const int32_t> tokens,
           std::span<const int32_t> imposed, std::span<int32_t> experts, std::span<float> weights, ThreadPool& pool,
           StreamStats& stats) {
  const int64_t E = layer.router.rows;
  const int k = layer.k;
  std::vector<float> scores(static_cast<size_t>(S * E)), biased(static_cast<size_t>(E));
  const auto start = Clock::now();
  MatMul(layer.router, x, S, scores.data(), pool);
  stats.Add(layer.router, S, Seconds(start));
  for (float& s : scores) s = SqrtSoftplus(layer.gate_temp == 1.0f ? s : s / layer.gate_temp);
  for (int64_t t = 0; t < S; ++t) {
    const float* s = scores.data() + t * E;
    const std::span<int32_t> ids = experts.subspan(static_cast<size_t>(t * k), static_cast<size_t>(k));
    if (!imposed.empty()) {
      std::copy_n(imposed.begin() + t * k, k, ids.begin());
    } else if (layer.hash_routes) {
      const int64_t row = static_cast<int64_t>(tokens[static_cast<size_t>(t)]) * k;
      for (int i = 0; i < k; ++i) ids[static_cast<size_t>(i)] = static_cast<int32_t>(LoadUnaligned<int64_t>(layer.hash_routes, row + i));
    } else {  // the bias steers the choice only; the weights come from the unbiased scores
      const bool image = !layer.image_tokens.empty() && layer.image_tokens[static_cast<size_t>(t)] != 0 && !layer.bias_vl.empty();
      const std::span<const float> bias = image ? layer.bias_vl : layer.bias;
      for (int64_t e = 0; e < E; ++e) biased[static_cast<size_t>(e)] = s[e] + bias[static_cast<size_t>(e)];
      const std::vector<int32_t> top = TopK(biased, k);
      std::copy(top.begin(), top.end(), ids.begin());
    }
    float sum = 0;
    for (int32_t e : ids) sum += s[e];
    for (int i = 0; i < k; ++i) {
      float& w = weights[static_cast<size_t>(t * k + i)];
      w = s[ids[static_cast<size_t>(i)]];
      if (layer.normalize) w /= sum + layer.normalize_epsilon;
      w *= layer.route_scale;
    }
  }
}

// One expert's share of the call: its input rows (gathered for a routed expert, the whole
// input for the shared one), the route weights, the intermediates and the plans over them.
struct ExpertJob {
  const ExpertMatrices* m = nullptr;
  int64_t n = 0;
  const float* x = nullptr;      // [n, D]: the rows of the layer's input gathered, or (shared) the input
  std::vector<float> weights;    // [n]; empty for the shared expert (weight 1)
  std::span<float> gate, up;     // [n, inter]; gate becomes h
  std::span<float> y;            // [n, D]
  std::unique_ptr<MatMulPlan> gate_plan, up_plan, down_plan;
};

// h = bf16(silu(min(g, L)) · clamp(u, ±L) · w) for the intermediate rows [r0, r1) of every
// token, with g and u rounded to bf16 first, written over the gate.
void SwiGlu(ExpertJob& job, int64_t r0, int64_t r1, float limit) {
  const int64_t inter = job.m->w1.rows;
  for (int64_t i = 0; i < job.n; ++i) {
    const float weight = job.weights.empty() ? 1.0f : job.weights[static_cast<size_t>(i)];
    SwiGluBf16(job.gate.data() + i * inter + r0, job.up.data() + i * inter + r0, r1 - r0, limit, weight);
  }
}

// A share of a parallel region: `units` pieces of work on weights of one format, each costing
// about unit_cost (any unit, relative to the other works' units).
struct RegionWork {
  int64_t units;
  double unit_cost;
  WeightFormat format;
  std::function<void(int64_t, int64_t)> run;  // units [begin, end)
};

// A unit's cost relative to others: its multiply-adds, but at least those of a few inputs, as
// the fused kernel streams and decodes the weights at much the same speed for 1 to 8 inputs.
double UnitCost(const MatMulPlan& plan, const WeightMatrix& w, int64_t n) {
  return static_cast<double>(plan.FirstRow(1)) * static_cast<double>(w.cols) * static_cast<double>(std::max<int64_t>(n, 4));
}

// One parallel region over the units of every work, end to end, so that threads split over
// experts and rows alike and none waits at a join per matrix. The units are cut into pieces of
// about equal cost, many per thread (a prefill's shared expert costs as much per unit as ten
// routed ones), which the threads take one at a time. Returns the region's wall time shared
// among the weight formats in proportion to the thread time spent on each.
FormatSeconds RunRegion(ThreadPool& pool, std::span<const RegionWork> works) {
  struct Piece {
    size_t work;
    int64_t begin, end;
  };
  constexpr int kPiecesPerThread = 16;
  double total = 0;
  for (const RegionWork& w : works) total += static_cast<double>(w.units) * w.unit_cost;
  const double target = total / (kPiecesPerThread * pool.num_threads());
  std::vector<Piece> pieces;
  for (size_t j = 0; j < works.size(); ++j) {
    const auto per_piece = std::max<int64_t>(1, static_cast<int64_t>(target / works[j].unit_cost));
    for (int64_t u = 0; u < works[j].units; u += per_piece) pieces.push_back({j, u, std::min(works[j].units, u + per_piece)});
  }
  // The costliest first (a work's last piece and small works are cheaper), so that the
  // threads finish within a small piece of each other.
  std::stable_sort(pieces.begin(), pieces.end(), [&](const Piece& a, const Piece& b) {
    return static_cast<double>(a.end - a.begin) * works[a.work].unit_cost > static_cast<double>(b.end - b.begin) * works[b.work].unit_cost;
  });
  std::vector<FormatSeconds> busy(static_cast<size_t>(pool.num_threads()), FormatSeconds{});
  const auto start = Clock::now();
  // Each thread takes one piece at a time rather than the pool's chunks (an eighth of the
  // region each on 2 threads: a thread could wait for the other's last one for that long).
  std::atomic<size_t> next{0};
  pool.ParallelFor(pool.num_threads(), [&](int64_t, int64_t, int thread) {
    for (size_t p = next.fetch_add(1, std::memory_order_relaxed); p < pieces.size(); p = next.fetch_add(1, std::memory_order_relaxed)) {
      const Piece& piece = pieces[p];
      const auto piece_start = Clock::now();
      works[piece.work].run(piece.begin, piece.end);
      busy[static_cast<size_t>(thread)][static_cast<size_t>(works[piece.work].format)] += Seconds(piece_start);
    }
  });
  const double wall = Seconds(start);
  FormatSeconds by_format{}, shares{};
  double sum = 0;
  for (const FormatSeconds& t : busy) {
    for (size_t f = 0; f < t.size(); ++f) by_format[f] += t[f];
  }
  for (double t : by_format) sum += t;
  for (size_t f = 0; f < by_format.size(); ++f) shares[f] = sum > 0 ? wall * by_format[f] / sum : 0;
  return shares;
}

void AddSeconds(StreamStats& stats, const FormatSeconds& seconds) {
  for (size_t f = 0; f < seconds.size(); ++f) stats.by_format[f].seconds += seconds[f];
}

// plan(job) for every job: the plans convert their inputs to the kernels' form, on every
// thread when there are many of them (a prefill's), on this one for a few tokens (a decode
// step's, where a fork-join would cost more than the conversion).
void MakePlans(std::vector<ExpertJob>& jobs, ThreadPool& pool, const std::function<void(ExpertJob&)>& plan) {
  int64_t inputs = 0;
  for (const ExpertJob& job : jobs) inputs += job.n;
  if (inputs <= static_cast<int64_t>(jobs.size()) * kFusedInputs) {
    for (ExpertJob& job : jobs) plan(job);
    return;
  }
  pool.ParallelFor(static_cast<int64_t>(jobs.size()), [&](int64_t begin, int64_t end, int) {
    for (int64_t j = begin; j < end; ++j) plan(jobs[static_cast<size_t>(j)]);
  });
}

// Gate and up of every job, unit by unit, each unit's SwiGLU right after its rows.
void GateUp(std::vector<ExpertJob>& jobs, float limit, ThreadPool& pool, StreamStats& stats) {
  MakePlans(jobs, pool, [](ExpertJob& job) {
    job.gate_plan = PlanMatMul(job.m->w1, job.x, job.n, job.gate.data());
    job.up_plan = job.m->w3.format == job.m->w1.format ? job.gate_plan->ForSameInputs(job.m->w3, job.up.data())
                                                       : PlanMatMul(job.m->w3, job.x, job.n, job.up.data());
  });
  std::vector<RegionWork> works;
  for (ExpertJob& job : jobs) {
    works.push_back({job.gate_plan->units(), 2 * UnitCost(*job.gate_plan, job.m->w1, job.n), job.m->w1.format, [&job, limit](int64_t begin, int64_t end) {
                       job.gate_plan->Run(begin, end);
                       job.up_plan->Run(begin, end);
                       SwiGlu(job, job.gate_plan->FirstRow(begin), job.gate_plan->FirstRow(end), limit);
                     }});
  }
  AddSeconds(stats, RunRegion(pool, works));
  for (const ExpertJob& job : jobs) {
    stats.Add(job.m->w1, job.n, 0);
    stats.Add(job.m->w3, job.n, 0);
  }
}

// y = bf16(h · W2ᵀ) of every job.
void Down(std::vector<ExpertJob>& jobs, ThreadPool& pool, StreamStats& stats) {
  MakePlans(jobs, pool, [](ExpertJob& job) { job.down_plan = PlanMatMul(job.m->w2, job.gate.data(), job.n, job.y.data()); });
  std::vector<RegionWork> works;
  for (ExpertJob& job : jobs) {
    const int64_t D = job.m->w2.rows;
    works.push_back({job.down_plan->units(), UnitCost(*job.down_plan, job.m->w2, job.n), job.m->w2.format, [&job, D](int64_t begin, int64_t end) {
                       job.down_plan->Run(begin, end);
                       const int64_t r0 = job.down_plan->FirstRow(begin), r1 = job.down_plan->FirstRow(end);
                       for (int64_t i = 0; i < job.n; ++i) {
                         for (int64_t r = r0; r < r1; ++r) job.y[static_cast<size_t>(i * D + r)] = num::RoundBf16(job.y[static_cast<size_t>(i * D + r)]);
                       }
                     }});
  }
  AddSeconds(stats, RunRegion(pool, works));
  for (const ExpertJob& job : jobs) stats.Add(job.m->w2, job.n, 0);
}

}  // namespace

void RunMoeLayer(const MoeLayerDesc& layer, const float* x, int64_t S, int64_t D, std::span<const int32_t> tokens,
                 std::span<const int32_t> imposed, std::span<int32_t> experts, std::span<float> weights, float* out,
                 ThreadPool& pool, ScratchStack& scratch, StreamStats& stats) {
  Route(layer, x, S, tokens, imposed, experts, weights, pool, stats);
  const int k = layer.k;
  // The routes grouped per expert (tokens ascending, then route order), so that each expert's
  // weights are read once for the call; slot[t·k + i] is route i's row in its expert's job.
  std::vector<std::vector<int64_t>> routes_of(layer.experts.size());
  for (int64_t r = 0; r < S * k; ++r) routes_of[static_cast<size_t>(experts[static_cast<size_t>(r)])].push_back(r);
  std::vector<ExpertJob> jobs;
  std::vector<size_t> job_of(static_cast<size_t>(S * k));
  std::vector<int64_t> slot(static_cast<size_t>(S * k));
  ScratchStack::Frame frame(scratch);
  const auto take_intermediates = [&](ExpertJob& job) {
    job.gate = frame.Floats(job.n * job.m->w1.rows);
    job.up = frame.Floats(job.n * job.m->w1.rows);
    job.y = frame.Floats(job.n * D);
  };
  for (size_t e = 0; e < routes_of.size(); ++e) {
    const std::vector<int64_t>& routes = routes_of[e];
    if (routes.empty()) continue;
    ExpertJob& job = jobs.emplace_back();
    job.m = &layer.experts[e];
    job.n = static_cast<int64_t>(routes.size());
    const std::span<float> gathered = frame.Floats(job.n * D);
    for (int64_t i = 0; i < job.n; ++i) {
      const int64_t r = routes[static_cast<size_t>(i)];
      std::copy_n(x + r / k * D, D, gathered.begin() + i * D);
      job.weights.push_back(weights[static_cast<size_t>(r)]);
      job_of[static_cast<size_t>(r)] = jobs.size() - 1;
      slot[static_cast<size_t>(r)] = i;
    }
    job.x = gathered.data();
    take_intermediates(job);
  }
  ExpertJob& shared = jobs.emplace_back();
  shared.m = &layer.shared;
  shared.n = S;
  shared.x = x;
  take_intermediates(shared);

  GateUp(jobs, layer.swiglu_limit, pool, stats);
  Down(jobs, pool, stats);

  // out[t] = bf16(Σ y_e over its experts in ascending id, then + y_shared), in fp32.
  pool.ParallelFor(S, [&](int64_t begin, int64_t end, int) {
    std::vector<int64_t> order(static_cast<size_t>(k));
    std::vector<float> acc(static_cast<size_t>(D));
    for (int64_t t = begin; t < end; ++t) {
      std::iota(order.begin(), order.end(), t * k);
      std::stable_sort(order.begin(), order.end(),
                       [&](int64_t a, int64_t b) { return experts[static_cast<size_t>(a)] < experts[static_cast<size_t>(b)]; });
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (int64_t r : order) {
        const float* y = jobs[job_of[static_cast<size_t>(r)]].y.data() + slot[static_cast<size_t>(r)] * D;
        for (int64_t d = 0; d < D; ++d) acc[static_cast<size_t>(d)] += y[d];
      }
      const float* ys = shared.y.data() + t * D;
      for (int64_t d = 0; d < D; ++d) out[t * D + d] = num::RoundBf16(acc[static_cast<size_t>(d)] + ys[d]);
    }
  });
}

}  // namespace deepseek::backend::cpu
