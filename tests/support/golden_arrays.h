// The arrays of golden run files (safetensors written by the reference drivers) as vectors, and
// the row-relative difference the goldens' READMEs state their tolerances in.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "format/safetensors.h"

namespace deepseek::testing {

// The array `name` as stored (T must match its element size); fails the test when it is absent.
template <typename T>
std::vector<T> GoldenArray(const format::SafetensorsFile& file, const std::string& name) {
  const format::TensorInfo* t = file.Find(name);
  REQUIRE_MESSAGE(t != nullptr, "golden array missing: " << name);
  REQUIRE_MESSAGE(t->nbytes == static_cast<size_t>(t->numel()) * sizeof(T), "golden array " << name << " is not of this type");
  std::vector<T> out(static_cast<size_t>(t->numel()));
  if (t->nbytes > 0) std::memcpy(out.data(), t->data, t->nbytes);
  return out;
}

// An I32 or I64 array widened to int64.
inline std::vector<int64_t> GoldenInts(const format::SafetensorsFile& file, const std::string& name) {
  const format::TensorInfo* t = file.Find(name);
  REQUIRE_MESSAGE(t != nullptr, "golden array missing: " << name);
  if (t->dtype == format::DType::kI64) return GoldenArray<int64_t>(file, name);
  REQUIRE(t->dtype == format::DType::kI32);
  const std::vector<int32_t> narrow = GoldenArray<int32_t>(file, name);
  return {narrow.begin(), narrow.end()};
}

// max |got − want| over rows of `width` values, relative to each row's largest |want|.
inline double WorstRowRelative(std::span<const float> got, std::span<const float> want, int64_t width) {
  REQUIRE(got.size() == want.size());
  double worst = 0;
  for (size_t r = 0; r < want.size() / static_cast<size_t>(width); ++r) {
    const std::span<const float> w = want.subspan(r * static_cast<size_t>(width), static_cast<size_t>(width));
    const std::span<const float> g = got.subspan(r * static_cast<size_t>(width), static_cast<size_t>(width));
    float row_max = 0;
    for (float v : w) row_max = std::max(row_max, std::fabs(v));
    for (size_t i = 0; i < w.size(); ++i) worst = std::max(worst, static_cast<double>(std::fabs(g[i] - w[i]) / std::max(row_max, 1e-30f)));
  }
  return worst;
}

}  // namespace deepseek::testing
