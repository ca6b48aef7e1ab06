// Stream::MoeLayer on every compiled Highway target against its contract in backends/backend.h
// composed from the stream's MatMul one token and one expert at a time, bit for bit: a
// score-routed layer (bias-steered top-k), a hash-routed one, imposed routes, a chunk against
// its tokens alone, and argument checks.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <set>
#include <vector>

#include "backends/backend.h"
#include "core/error.h"
#include "core/numerics.h"
#include "core/thread_pool.h"
#include "test_weights.h"

namespace deepseek::backend {
namespace {

using testing::MakeWeights;
using testing::TestWeights;

// kInter is one and a half tiles of the tiled matmul, so that a chunk whose experts get more
// tokens than the fused kernel takes runs partial tiles too.
constexpr int64_t kD = 64, kInter = 96, kExperts = 6, kVocab = 50;
constexpr int kK = 2;
constexpr float kLimit = 1.5f;

// A small layer: bf16 router, MXFP4 routed experts, FP8 shared expert, as in the checkpoints.
struct TestLayer {
  std::vector<TestWeights> storage;
  std::vector<ExpertMatrices> experts;
  std::vector<float> bias;
  std::vector<int64_t> hash;  // [vocab, k]
  MoeLayerDesc desc;

  explicit TestLayer(std::mt19937& rng) {
    storage.push_back(MakeWeights(WeightFormat::kBF16, kExperts, kD, rng));
    const auto expert = [&](WeightFormat format) {
      storage.push_back(MakeWeights(format, kInter, kD, rng));
      storage.push_back(MakeWeights(format, kInter, kD, rng));
      storage.push_back(MakeWeights(format, kD, kInter, rng));
    };
    for (int e = 0; e < kExperts; ++e) expert(WeightFormat::kMxfp4);
    expert(WeightFormat::kFp8Block128);
    for (int e = 0; e <= kExperts; ++e) {
      experts.push_back({storage[static_cast<size_t>(1 + 3 * e)].matrix, storage[static_cast<size_t>(2 + 3 * e)].matrix,
                         storage[static_cast<size_t>(3 + 3 * e)].matrix});
    }
    std::uniform_real_distribution<float> uniform(-0.5f, 0.5f);
    for (int e = 0; e < kExperts; ++e) bias.push_back(uniform(rng));
    for (int64_t t = 0; t < kVocab; ++t) {
      hash.push_back(t % kExperts);
      hash.push_back((t * 5 + 1) % kExperts == t % kExperts ? (t + 1) % kExperts : (t * 5 + 1) % kExperts);
    }
    desc = {storage[0].matrix, bias, nullptr, 0, std::span(experts).first(kExperts), experts.back(), kK, true, 2.5f, kLimit};
  }
  MoeLayerDesc Hashed() const {
    MoeLayerDesc d = desc;
    d.bias = {};
    d.hash_routes = hash.data();
    d.vocab = kVocab;
    return d;
  }
};

// The contract, one token and one expert at a time through the stream's MatMul.
std::vector<float> Composed(Stream& s, const MoeLayerDesc& layer, const std::vector<float>& x, const std::vector<int32_t>& tokens,
                            const std::vector<int32_t>& imposed, std::vector<int32_t>& experts, std::vector<float>& weights) {
  const auto S = static_cast<int64_t>(tokens.size());
  std::vector<float> out(static_cast<size_t>(S * kD));
  experts.assign(static_cast<size_t>(S * kK), -1);
  weights.assign(experts.size(), 0);
  const auto expert = [&](const ExpertMatrices& m, const float* xt, float w, float* acc) {
    std::vector<float> g(kInter), u(kInter), h(kInter), y(kD);
    s.MatMul(m.w1, xt, 1, g.data());
    s.MatMul(m.w3, xt, 1, u.data());
    for (int64_t j = 0; j < kInter; ++j) {
      float gj = num::RoundBf16(g[static_cast<size_t>(j)]), uj = num::RoundBf16(u[static_cast<size_t>(j)]);
      gj = std::fmin(gj, kLimit);
      uj = std::fmin(std::fmax(uj, -kLimit), kLimit);
      h[static_cast<size_t>(j)] = num::RoundBf16(gj / (1.0f + std::exp(-gj)) * uj * w);
    }
    s.MatMul(m.w2, h.data(), 1, y.data());
    for (int64_t d = 0; d < kD; ++d) acc[d] += num::RoundBf16(y[static_cast<size_t>(d)]);
  };
  for (int64_t t = 0; t < S; ++t) {
    const float* xt = x.data() + t * kD;
    std::vector<float> scores(kExperts);
    s.MatMul(layer.router, xt, 1, scores.data());
    for (float& v : scores) v = std::sqrt(v > 20.0f ? v : std::log1p(std::exp(v)));
    std::vector<int32_t> ids(kK);
    if (!imposed.empty()) {
      std::copy_n(imposed.begin() + t * kK, kK, ids.begin());
    } else if (layer.hash_routes) {
      for (int i = 0; i < kK; ++i) ids[static_cast<size_t>(i)] = static_cast<int32_t>(static_cast<const int64_t*>(layer.hash_routes)[tokens[static_cast<size_t>(t)] * kK + i]);
    } else {
      std::vector<int32_t> order(kExperts);
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
        return scores[static_cast<size_t>(a)] + layer.bias[static_cast<size_t>(a)] > scores[static_cast<size_t>(b)] + layer.bias[static_cast<size_t>(b)];
      });
      std::copy_n(order.begin(), kK, ids.begin());
    }
    float sum = 0;
    for (int32_t e : ids) sum += scores[static_cast<size_t>(e)];
    std::vector<float> acc(kD, 0.0f);
    std::vector<std::pair<int32_t, float>> routed;
    for (int i = 0; i < kK; ++i) {
      const float w = scores[static_cast<size_t>(ids[static_cast<size_t>(i)])] / sum * layer.route_scale;
      experts[static_cast<size_t>(t * kK + i)] = ids[static_cast<size_t>(i)];
      weights[static_cast<size_t>(t * kK + i)] = w;
      routed.emplace_back(ids[static_cast<size_t>(i)], w);
    }
    std::sort(routed.begin(), routed.end());  // ascending expert id
    for (const auto& [e, w] : routed) expert(layer.experts[static_cast<size_t>(e)], xt, w, acc.data());
    std::vector<float> shared(kD, 0.0f);
    expert(layer.shared, xt, 1.0f, shared.data());
    for (int64_t d = 0; d < kD; ++d) out[static_cast<size_t>(t * kD + d)] = num::RoundBf16(acc[static_cast<size_t>(d)] + shared[static_cast<size_t>(d)]);
  }
  return out;
}

bool Same(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST_CASE("MoeLayer routes and runs the experts as its contract composes them, on every target") {
  ThreadPool pool(2);
  const auto stream = Registry::Get().Cpu().CreateStream(pool);
  CHECK(Registry::Get().Cpu().SupportsOp(Op::kMoeLayer));
  std::mt19937 rng(21);
  const TestLayer layer(rng);
  // 7 tokens: every expert runs the fused kernel; 40: the shared expert and the busier routed
  // ones run decoded tiles.
  for (const int64_t S : {7, 40}) {
    CAPTURE(S);
    std::vector<float> x(static_cast<size_t>(S * kD));
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    for (float& v : x) v = num::RoundBf16(uniform(rng));
    std::vector<int32_t> tokens, imposed;
    for (int64_t t = 0; t < S; ++t) {
      tokens.push_back(static_cast<int32_t>((t * 17 + 3) % kVocab));
      imposed.push_back(static_cast<int32_t>((t * 5 + 1) % kExperts));
      imposed.push_back(static_cast<int32_t>((t * 5 + 3) % kExperts));
    }
    testing::ForEachKernel([&] {
      for (int mode = 0; mode < 3; ++mode) {  // scores and bias, the hash table, imposed routes
        CAPTURE(mode);
        const MoeLayerDesc desc = mode == 1 ? layer.Hashed() : layer.desc;
        const std::vector<int32_t> impose = mode == 2 ? imposed : std::vector<int32_t>{};
        std::vector<int32_t> want_experts, got_experts(static_cast<size_t>(S * kK));
        std::vector<float> want_weights, got_weights(static_cast<size_t>(S * kK)), got(static_cast<size_t>(S * kD));
        const std::vector<float> want = Composed(*stream, desc, x, tokens, impose, want_experts, want_weights);
        stream->MoeLayer(desc, x.data(), S, kD, tokens, impose, got_experts, got_weights, got.data());
        CHECK(got_experts == want_experts);
        CHECK(Same(got_weights, want_weights));
        CHECK(Same(got, want));
        if (mode == 0) CHECK(std::set<int32_t>(got_experts.begin(), got_experts.end()).size() > 2);  // several experts ran
        // A token alone gives its row of the chunk.
        std::vector<int32_t> one_experts(kK);
        std::vector<float> one_weights(kK), one(kD);
        stream->MoeLayer(desc, x.data() + 4 * kD, 1, kD, std::span(tokens).subspan(4, 1),
                         impose.empty() ? std::span<const int32_t>{} : std::span<const int32_t>(impose).subspan(4 * kK, kK),
                         one_experts, one_weights, one.data());
        CHECK(std::memcmp(one.data(), got.data() + 4 * kD, kD * sizeof(float)) == 0);
      }
    });
  }
}

TEST_CASE("MoeLayer refuses arguments outside its contract") {
  ThreadPool pool(1);
  const auto stream = Registry::Get().Cpu().CreateStream(pool);
  std::mt19937 rng(5);
  const TestLayer layer(rng);
  std::vector<float> x(2 * kD, 0.25f), out(2 * kD);
  std::vector<int32_t> experts(2 * kK), short_routes(kK);
  std::vector<float> weights(2 * kK);
  const std::vector<int32_t> tokens = {1, 2}, bad_tokens = {1, kVocab};
  CHECK_THROWS_AS(stream->MoeLayer(layer.desc, x.data(), 2, kD + 1, tokens, {}, experts, weights, out.data()), Error);
  CHECK_THROWS_AS(stream->MoeLayer(layer.desc, x.data(), 2, kD, tokens, {}, short_routes, weights, out.data()), Error);
  CHECK_THROWS_AS(stream->MoeLayer(layer.Hashed(), x.data(), 2, kD, bad_tokens, {}, experts, weights, out.data()), Error);
  const std::vector<int32_t> bad_imposed = {0, 1, 2, kExperts};
  CHECK_THROWS_AS(stream->MoeLayer(layer.desc, x.data(), 2, kD, tokens, bad_imposed, experts, weights, out.data()), Error);
  CHECK_THROWS_AS(stream->MoeLayer(layer.desc, x.data(), 2, kD, tokens, {}, experts, weights, x.data()), Error);  // aliasing
  std::vector<ExpertMatrices> misfit(layer.experts.begin(), layer.experts.end() - 1);
  misfit[3].w3 = misfit[3].w2;  // [D, inter] where [inter, D] belongs
  MoeLayerDesc bad_expert = layer.desc;
  bad_expert.experts = misfit;
  CHECK_THROWS_WITH_AS(stream->MoeLayer(bad_expert, x.data(), 2, kD, tokens, {}, experts, weights, out.data()),
                       doctest::Contains("expert 3"), Error);
  MoeLayerDesc no_bias = layer.desc;
  no_bias.bias = {};
  CHECK_THROWS_AS(stream->MoeLayer(no_bias, x.data(), 2, kD, tokens, {}, experts, weights, out.data()), Error);
}

}  // namespace
}  // namespace deepseek::backend
