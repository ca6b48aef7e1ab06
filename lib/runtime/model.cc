// deepseek::Model: loading a checkpoint folder behind the public API's error model.
#include "deepseek/model.h"

#include "core/error.h"
#include "format/checkpoint.h"
#include "model/kv_pools.h"
#include "model/config_parser.h"
#include "model/transformer.h"

namespace deepseek {

Model::Model(std::unique_ptr<model::Transformer> transformer) : transformer_(std::move(transformer)) {}
Model::~Model() = default;

const ModelConfig& Model::config() const { return transformer_->config(); }
uint64_t Model::weight_bytes() const { return transformer_->checkpoint().total_bytes(); }
uint64_t Model::KvBytesForTokens(int64_t tokens, bool mtp) const { return model::KvSequenceBytes(config(), tokens, mtp); }
int64_t Model::KvTokensForBytes(uint64_t bytes, bool mtp) const { return model::KvTokensForBytes(config(), bytes, mtp); }
double Model::KvBytesPerToken() const { return model::KvBytesPerToken(config()); }

Result<std::shared_ptr<const Model>> Model::Load(const std::string& dir, const LoadOptions& options) {
  std::shared_ptr<const Model> loaded;
  const auto report = [&](float fraction, std::string_view stage) {
    if (options.progress) options.progress(fraction, stage);
  };
  Status status = CatchAll([&] {
    report(0.0f, "config");
    ModelConfig config = model::LoadConfig(dir);
    if (config.family == ModelFamily::kV41) {
      Fail(StatusCode::kUnsupported, dir + "/config.json: a DeepSeek V4.1 checkpoint (model_type deepseek_v41): its config "
                                           "is read, but this build does not run V4.1 models yet");
    }
    report(0.1f, "mapping shards");
    auto checkpoint = format::Checkpoint::Open(dir);
    report(0.5f, "binding tensors");
    auto transformer = std::make_unique<model::Transformer>(std::move(config), std::move(checkpoint));
    loaded = std::shared_ptr<const Model>(new Model(std::move(transformer)));
    report(1.0f, "ready");
  });
  if (!status.ok()) return status;
  return loaded;
}

}  // namespace deepseek
