// The experts' SwiGLU, compiled once per Highway target: bf16 roundings, the clamps, silu with
// a vectorised exp and the route weight, a vector of elements at a time. (Scalar, with
// std::exp, it took ~3 % of a prefill on the benchmark model.)
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backends/cpu/swiglu.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include <algorithm>
#include <cstdint>

#include "backends/cpu/round_bf16-inl.h"
#include "backends/cpu/swiglu.h"
#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace deepseek::backend::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

namespace {

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;

// x clamped to [lo, hi]; a NaN stays NaN, as torch.clamp leaves it (hn::Min and hn::Max
// alone may return either operand for a NaN, depending on the target).
VF Clamp(VF x, VF lo, VF hi) { return hn::IfThenElse(hn::IsNaN(x), x, hn::Min(hn::Max(x, lo), hi)); }

VF SwiGluVector(DF df, VF gate, VF up, bool clamp, VF limit, VF weight) {
  VF g = RoundBf16(df, gate), u = RoundBf16(df, up);
  if (clamp) {
    u = Clamp(u, hn::Neg(limit), limit);
    g = hn::IfThenElse(hn::IsNaN(g), g, hn::Min(g, limit));
  }
  // Exp is specified up to +104; e^x overflows fp32 above ~88.7 already, so the clamp keeps
  // the overflow (silu(g) = g / inf = −0) and only drops inputs Exp does not take.
  const VF e = hn::Exp(df, hn::Min(hn::Neg(g), hn::Set(df, 104.0f)));
  const VF h = hn::Mul(hn::Mul(hn::Div(g, hn::Add(hn::Set(df, 1.0f), e)), u), weight);
  return RoundBf16(df, h);
}

}  // namespace

void SwiGluBf16Impl(float* HWY_RESTRICT gate, const float* HWY_RESTRICT up, int64_t count, float limit, float weight) {
  const DF df;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(df));
  const bool clamp = limit > 0;
  const VF vlimit = hn::Set(df, limit), vweight = hn::Set(df, weight);
  int64_t j = 0;
  for (; j + lanes <= count; j += lanes) {
    hn::StoreU(SwiGluVector(df, hn::LoadU(df, gate + j), hn::LoadU(df, up + j), clamp, vlimit, vweight), df, gate + j);
  }
  if (j < count) {  // the tail through a full vector, so that every element gets the same arithmetic
    HWY_ALIGN float g[HWY_MAX_BYTES / sizeof(float)] = {}, u[HWY_MAX_BYTES / sizeof(float)] = {};
    std::copy(gate + j, gate + count, g);
    std::copy(up + j, up + count, u);
    hn::Store(SwiGluVector(df, hn::Load(df, g), hn::Load(df, u), clamp, vlimit, vweight), df, g);
    std::copy(g, g + (count - j), gate + j);
  }
}

}  // namespace deepseek::backend::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace deepseek::backend::cpu {
HWY_EXPORT(SwiGluBf16Impl);

void SwiGluBf16(float* gate, const float* up, int64_t count, float limit, float weight) {
  HWY_DYNAMIC_DISPATCH(SwiGluBf16Impl)(gate, up, count, limit, weight);
}
}  // namespace deepseek::backend::cpu
#endif  // HWY_ONCE
