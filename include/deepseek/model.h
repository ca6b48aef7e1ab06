// deepseek::Model: a loaded DeepSeek V4 or V4.1 checkpoint — immutable, memory-mapped weights and the
// validated config. One Model serves any number of Sessions, from any threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "deepseek/config.h"
#include "deepseek/status.h"

namespace deepseek {

namespace model {
class Transformer;
}
namespace runtime {
class VisionInput;
}
struct Image;

struct LoadOptions {
  // Called as loading proceeds with a fraction in [0, 1] and the current stage's name.
  std::function<void(float fraction, std::string_view stage)> progress;
};

class Model {
 public:
  // Loads a checkpoint folder as DeepSeek publishes it (config.json,
  // model.safetensors.index.json and shards). Every tensor's dtype and shape is checked
  // against the config; errors name the file, tensor or field at fault.
  static Result<std::shared_ptr<const Model>> Load(const std::string& dir, const LoadOptions& options = {});

  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const ModelConfig& config() const;
  // Bytes of tensor data in the checkpoint (mapped, not copied).
  uint64_t weight_bytes() const;

  // KV cache figures (packed formats, spec §6): the bytes one sequence of `tokens` tokens holds
  // in a KvCache (whole pages, the window rings included; with `mtp`, as a session with
  // enable_mtp holds them); the largest sequence that fits in `bytes`; and the packed bytes per
  // token once the window is full (3,514 for V4-Flash, 890 for V4.1-Flash).
  uint64_t KvBytesForTokens(int64_t tokens, bool mtp = false) const;
  int64_t KvTokensForBytes(uint64_t bytes, bool mtp = false) const;
  double KvBytesPerToken() const;

  // Whether the model has an MTP head this library runs (V4's mtp.*; V4.1's DSpark stages are
  // not run), which Session::MtpLogits and speculative decoding need.
  bool has_mtp() const;
  // Whether the model takes images (V4.1 with a vision tower), and the positions an image's span
  // takes in a sequence (kUnsupported without a vision tower; kInvalidArgument for an empty
  // image).
  bool has_vision() const { return vision_ != nullptr; }
  Result<int64_t> ImagePositions(const Image& image) const;
  // Engram table bytes the model has read (rows and their scales, V4.1), over all sessions.
  uint64_t engram_bytes_read() const;


 private:
  friend class Session;  // runs the transformer
  friend class KvCache;  // names the checkpoint in the files of its prefixes
  const model::Transformer& transformer() const { return *transformer_; }
  const runtime::VisionInput* vision() const { return vision_.get(); }

  explicit Model(std::unique_ptr<model::Transformer> transformer);
  std::unique_ptr<model::Transformer> transformer_;
  std::unique_ptr<runtime::VisionInput> vision_;  // with a vision tower
};

}  // namespace deepseek
