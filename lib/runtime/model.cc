// deepseek::Model: loading a checkpoint folder behind the public API's error model.
#include "deepseek/model.h"

#include "core/error.h"
#include "format/checkpoint.h"
#include "model/kv_pools.h"
#include "model/config_parser.h"
#include "model/transformer.h"
#include "runtime/engram_token_map_file.h"
#include "runtime/vision_input.h"

namespace deepseek {

Model::Model(std::unique_ptr<model::Transformer> transformer) : transformer_(std::move(transformer)) {}
Model::~Model() = default;

const ModelConfig& Model::config() const { return transformer_->config(); }
uint64_t Model::weight_bytes() const { return transformer_->checkpoint().total_bytes(); }
uint64_t Model::KvBytesForTokens(int64_t tokens, bool mtp) const { return model::KvSequenceBytes(config(), tokens, mtp); }
int64_t Model::KvTokensForBytes(uint64_t bytes, bool mtp) const { return model::KvTokensForBytes(config(), bytes, mtp); }
double Model::KvBytesPerToken() const { return model::KvBytesPerToken(config()); }
bool Model::has_mtp() const { return transformer_->has_mtp(); }
uint64_t Model::engram_bytes_read() const { return transformer_->engram_bytes_read(); }

Result<int64_t> Model::ImagePositions(const Image& image) const {
  int64_t n = 0;
  Status status = CatchAll([&] {
    if (!vision_) Fail(StatusCode::kUnsupported, "the model has no vision tower: it takes no images");
    n = vision_->SpanLength(image);
  });
  if (!status.ok()) return status;
  return n;
}

Result<std::shared_ptr<const Model>> Model::Load(const std::string& dir, const LoadOptions& options) {
  std::shared_ptr<const Model> loaded;
  const auto report = [&](float fraction, std::string_view stage) {
    if (options.progress) options.progress(fraction, stage);
  };
  Status status = CatchAll([&] {
    report(0.0f, "config");
    ModelConfig config = model::LoadConfig(dir);
    std::vector<int32_t> engram_token_map;
    if (!config.engram.layer_ids.empty()) {
      report(0.05f, "engram token map");
      engram_token_map = runtime::LoadEngramTokenMap(dir, config).ids;
    }
    report(0.1f, "mapping shards");
    auto checkpoint = format::Checkpoint::Open(dir);
    report(0.5f, "binding tensors");
    auto transformer = std::make_unique<model::Transformer>(std::move(config), std::move(checkpoint), std::move(engram_token_map));
    auto model = std::unique_ptr<Model>(new Model(std::move(transformer)));
    const model::Transformer& net = *model->transformer_;
    if (net.config().vision.n_layers > 0) {
      report(0.9f, "vision encoder");
      model->vision_ = std::make_unique<runtime::VisionInput>(net.config(), net.checkpoint());
    }
    loaded = std::move(model);
    report(1.0f, "ready");
  });
  if (!status.ok()) return status;
  return loaded;
}

}  // namespace deepseek
