// Doctest adapter for Highway kernels: runs a test body once per SIMD target that is compiled
// in and supported by this CPU, with dynamic dispatch forced to that target (Highway 1.0.3's
// own TestWithParamTarget needs gtest).
#pragma once

#include <doctest/doctest.h>
#include <hwy/targets.h>

#include <cstdint>
#include <string>
#include <vector>

namespace deepseek::testing {

// The targets ForEachHwyTarget visits, best first: on x86 AVX3 AVX2 SSE4 SSSE3 and EMU128
// (SCALAR instead with GCC < 12.3, where Highway 1.0.3 considers EMU128 broken).
inline std::vector<int64_t> HwyTargetsToTest() {
  hwy::SetSupportedTargetsForTest(0);
  return hwy::SupportedAndGeneratedTargets();
}

inline std::string HwyTargetNames() {
  std::string names;
  for (int64_t target : HwyTargetsToTest()) {
    names += std::string(names.empty() ? "" : " ") + hwy::TargetName(target);
  }
  return names;
}

// Calls body() once per target; failures inside it are reported with the target's name. The
// body must reach the kernels through HWY_DYNAMIC_DISPATCH, which is checked.
template <typename Body>
void ForEachHwyTarget(Body&& body) {
  struct RestoreTargets {
    ~RestoreTargets() { hwy::SetSupportedTargetsForTest(0); }
  } restore;
  for (int64_t target : HwyTargetsToTest()) {
    const std::string name = hwy::TargetName(target);
    INFO("Highway target " << name);
    hwy::SetSupportedTargetsForTest(target);  // also resets the cached dispatch choice
    REQUIRE_FALSE(hwy::GetChosenTarget().IsInitialized());
    body();
#if (HWY_TARGETS & (HWY_TARGETS - 1)) != 0  // with a single target, dispatch is static
    CHECK_MESSAGE(hwy::GetChosenTarget().IsInitialized(),
                  "the body never reached HWY_DYNAMIC_DISPATCH");
#endif
  }
}

}  // namespace deepseek::testing
