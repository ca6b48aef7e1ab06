#include "model/rope.h"

#include <algorithm>
#include <cmath>

namespace deepseek::model {
namespace {

// Frequencies in fp32 as the reference forms them; yarn = false gives the plain table.
std::vector<float> Frequencies(const ModelConfig& c, double base, bool yarn) {
  const int dim = c.rope_dim, half = dim / 2;
  std::vector<float> f(static_cast<size_t>(half));
  for (int k = 0; k < half; ++k) {
    f[static_cast<size_t>(k)] = 1.0f / std::pow(static_cast<float>(base), static_cast<float>(2 * k) / static_cast<float>(dim));
  }
  if (!yarn) return f;
  const double pi = 3.14159265358979323846;
  const auto correction = [&](double rotations) {
    return dim * std::log(static_cast<double>(c.rope_original_len) / (rotations * 2 * pi)) / (2 * std::log(base));
  };
  const double low = std::max(std::floor(correction(c.beta_fast)), 0.0);
  double high = std::min(std::ceil(correction(c.beta_slow)), static_cast<double>(dim - 1));
  if (low == high) high += 0.001;
  const float factor = static_cast<float>(c.rope_factor);
  for (int k = 0; k < half; ++k) {
    const float ramp = std::clamp((static_cast<float>(k) - static_cast<float>(low)) / static_cast<float>(high - low), 0.0f, 1.0f);
    const float smooth = 1.0f - ramp;
    const float fk = f[static_cast<size_t>(k)];
    f[static_cast<size_t>(k)] = fk / factor * (1.0f - smooth) + fk * smooth;
  }
  return f;
}

}  // namespace

RopeTables MakeRopeTables(const ModelConfig& c) {
  return {Frequencies(c, c.rope_theta, false), Frequencies(c, c.compress_rope_theta, true)};
}

}  // namespace deepseek::model
