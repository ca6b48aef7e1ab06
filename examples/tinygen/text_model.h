// The parts of the text model that V4 and V4.1 checkpoints share: the checks of the spec's text
// fields and a block's norms, hyper-connection sites, attention core and MoE. The families differ
// in the dense FP8 block (128 in V4, 32 in V4.1), passed as `fp8`, and in what they add around.
#pragma once

#include "tinygen/tensor_plan.h"
#include "tinygen/tiny_checkpoint.h"

namespace deepseek::tinygen {

// Checks the text fields both families use (not compress_ratios' length, the hash layers or the
// vocabulary's minimum, which differ); throws Error(kInvalidArgument) naming the field, or
// kUnsupported for an expert format other than "fp4".
void ValidateText(const TinySpec& s);

// attn_norm, ffn_norm and the hc_attn / hc_ffn sites.
void MixingTensors(const TinySpec& s, TensorList& t);

// attn.*: the sink, the low-rank queries, the shared K=V latent and the grouped output
// projection; no compressor or indexer.
void AttentionCoreTensors(const TinySpec& s, TensorList& t, Storage fp8);

// ffn.*: the router (tid2eid when hash_routed, else a bias; bias_vl too with a vision tower),
// the MXFP4 routed experts and the shared expert.
void MoeTensors(const TinySpec& s, TensorList& t, Storage fp8, bool hash_routed, bool vision_bias);

}  // namespace deepseek::tinygen
