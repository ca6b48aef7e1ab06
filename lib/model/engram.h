// V4.1's Engram update of the streams (spec §8.4, steps 5-7; the reference's Engram.forward):
// per token, the rows its n-gram hashes name are read from the table and dequantised to bf16,
// projected by wkv into one key per stream and a shared value, and each stream gets the value
// times a gate: the sigmoid of the signed square root of its normalised dot product with its
// key (weighted by q_weight · k_weight). Dead tokens (image positions) pass through unchanged.
#pragma once

#include <cstdint>
#include <span>

#include "backends/backend.h"
#include "deepseek/config.h"
#include "model/weights.h"

namespace deepseek::model {

// streams [n, hc, D] (bf16 values) updated in place. row_ids [n, (max_ngram − 1)·heads] are
// EngramRowIds' table rows; in_image[t] nonzero (an image-span position) shuts token t's gate. Returns the table bytes read
// (rows and their scales). Throws Error(kInvalidArgument) for a row id outside the table and
// Error(kCorruptFile) naming the tensor and row for a NaN scale.
uint64_t ApplyEngram(backend::Stream& stream, const EngramWeights& w, const ModelConfig& c, std::span<const int64_t> row_ids,
                     std::span<const uint8_t> in_image, int64_t n, float* streams);

// Asks the kernel to start reading the table rows (and scales) `row_ids` name, so that a table
// on disk is read while earlier layers compute: the ids depend only on the tokens.
void PrefetchEngramRows(const EngramWeights& w, std::span<const int64_t> row_ids);

}  // namespace deepseek::model
