// bf16 rounding of every lane of a float vector, compiled into each Highway target of the
// kernels that include it (after hwy/foreach_target.h): the vector form of num::RoundBf16.
#if defined(DEEPSEEK_BACKENDS_CPU_ROUND_BF16_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef DEEPSEEK_BACKENDS_CPU_ROUND_BF16_INL_H_
#undef DEEPSEEK_BACKENDS_CPU_ROUND_BF16_INL_H_
#else
#define DEEPSEEK_BACKENDS_CPU_ROUND_BF16_INL_H_
#endif

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace deepseek::backend::cpu::HWY_NAMESPACE {

// The value each lane takes when stored as bf16: round to nearest even at bit 16; a NaN stays
// a quiet NaN (num::RoundedBf16Bits, bit for bit).
template <class DF>
HWY_INLINE hwy::HWY_NAMESPACE::Vec<DF> RoundBf16(DF df, hwy::HWY_NAMESPACE::Vec<DF> v) {
  namespace hn = hwy::HWY_NAMESPACE;
  const hn::RebindToUnsigned<DF> du;
  const auto bits = hn::BitCast(du, v);
  const auto lsb = hn::And(hn::ShiftRight<16>(bits), hn::Set(du, 1u));
  const auto rounded = hn::And(hn::Add(bits, hn::Add(hn::Set(du, 0x7fffu), lsb)), hn::Set(du, 0xffff0000u));
  const auto quiet_nan = hn::And(hn::Or(bits, hn::Set(du, 0x00400000u)), hn::Set(du, 0xffff0000u));
  return hn::BitCast(df, hn::IfThenElse(hn::RebindMask(du, hn::IsNaN(v)), quiet_nan, rounded));
}

}  // namespace deepseek::backend::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // DEEPSEEK_BACKENDS_CPU_ROUND_BF16_INL_H_
