// The vision tower's attention kernel (backends/cpu/vision_attention.h) on every compiled
// Highway target against a double-precision softmax(scale · q kᵀ) v; any split of the queries
// gives the same bits.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "backends/cpu/vision_attention.h"
#include "support/hwy_targets.h"

namespace deepseek::backend::cpu {
namespace {

struct Head {
  int64_t n, hd;
  std::vector<float> q, k, v;  // [n, hd] each
  // The kernel's layout of k and v: kᵀ [hd, n_pad] and v [n_pad, hd_pad], zero-padded.
  std::vector<float> kt, v_padded;

  Head(int64_t n_, int64_t hd_, uint32_t seed) : n(n_), hd(hd_) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.5f);
    for (auto* m : {&q, &k, &v}) {
      m->resize(static_cast<size_t>(n * hd));
      for (float& x : *m) x = normal(rng);
    }
    const int64_t n_pad = PadForVisionAttention(n), hd_pad = PadForVisionAttention(hd);
    kt.assign(static_cast<size_t>(hd * n_pad), 0.0f);
    v_padded.assign(static_cast<size_t>(n_pad * hd_pad), 0.0f);
    for (int64_t j = 0; j < n; ++j) {
      for (int64_t d = 0; d < hd; ++d) {
        kt[static_cast<size_t>(d * n_pad + j)] = k[static_cast<size_t>(j * hd + d)];
        v_padded[static_cast<size_t>(j * hd_pad + d)] = v[static_cast<size_t>(j * hd + d)];
      }
    }
  }

  std::vector<double> Reference(float scale) const {
    std::vector<double> out(static_cast<size_t>(n * hd), 0.0);
    for (int64_t i = 0; i < n; ++i) {
      std::vector<double> s(static_cast<size_t>(n));
      for (int64_t j = 0; j < n; ++j) {
        double dot = 0;
        for (int64_t d = 0; d < hd; ++d) dot += double{q[static_cast<size_t>(i * hd + d)]} * k[static_cast<size_t>(j * hd + d)];
        s[static_cast<size_t>(j)] = scale * dot;
      }
      const double max = *std::max_element(s.begin(), s.end());
      double sum = 0;
      for (double& x : s) sum += x = std::exp(x - max);
      for (int64_t j = 0; j < n; ++j) {
        for (int64_t d = 0; d < hd; ++d) out[static_cast<size_t>(i * hd + d)] += s[static_cast<size_t>(j)] / sum * v[static_cast<size_t>(j * hd + d)];
      }
    }
    return out;
  }

  // The kernel's rows for queries [first, end), written at their positions of out [n, hd].
  void Attend(float scale, int64_t first, int64_t end, std::vector<float>& out) const {
    AttendVisionHead(q.data(), hd, kt.data(), v_padded.data(), n, hd, scale, first, end, out.data() + first * hd, hd);
  }
};

TEST_CASE("vision attention: softmax(scale · q kᵀ) v on every target, the same bits for any split of the queries") {
  testing::ForEachHwyTarget([] {
    // Shapes around the padding (32) and the query blocks (4): the golden tower's heads are
    // 16 wide, V4.1-Flash's 64.
    for (const auto& [n, hd] : {std::pair<int64_t, int64_t>{1, 16}, {7, 16}, {37, 24}, {64, 64}, {101, 40}}) {
      CAPTURE(n);
      CAPTURE(hd);
      const Head head(n, hd, static_cast<uint32_t>(n * 131 + hd));
      const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
      std::vector<float> whole(static_cast<size_t>(n * hd), NAN), parts(whole.size(), NAN);
      head.Attend(scale, 0, n, whole);
      const std::vector<double> want = head.Reference(scale);
      for (int64_t i = 0; i < n; ++i) {
        double max = 0, err = 0;
        for (int64_t d = 0; d < hd; ++d) {
          const size_t at = static_cast<size_t>(i * hd + d);
          max = std::max(max, std::fabs(want[at]));
          err = std::max(err, std::fabs(whole[at] - want[at]));
        }
        // The output is rounded to bf16 (half an ulp: 2^-9 of a value), the rest is fp32 noise.
        CHECK(err <= max * 0x1p-8);
      }
      // Queries in uneven pieces, one at a time at the end.
      for (int64_t first = 0, size = 5; first < n; first += size, size = std::max<int64_t>(1, size - 2)) {
        head.Attend(scale, first, std::min(n, first + size), parts);
      }
      CHECK(parts == whole);
    }
  });
}

}  // namespace
}  // namespace deepseek::backend::cpu
