// libFuzzer target for the saved-sequence loader (Session::Load's parser): any input must
// either decode into a state whose counts agree with the model and whose pages are all given
// back when it goes, or throw deepseek::Error. The model is the seeded tiny V4-Flash checkpoint,
// generated once; the expected fingerprint is taken from the input itself so that mutated
// files still reach the sections (the fingerprint check is tested in runtime_test).
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include "backends/backend.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "model/config_parser.h"
#include "model/kv_pools.h"
#include "runtime/sequence_file.h"
#include "tinygen/tiny_checkpoint.h"

namespace {

struct Fixture {
  deepseek::ModelConfig config;
  deepseek::ThreadPool pool{1};
  std::unique_ptr<deepseek::backend::Stream> stream = deepseek::backend::Registry::Get().Cpu().CreateStream(pool);
  Fixture() {
    const std::string dir = (std::filesystem::temp_directory_path() / "deepseek-sequence-file-fuzz").string();
    if (!std::filesystem::exists(dir + "/config.json")) {
      deepseek::tinygen::WriteTinyCheckpoint(deepseek::tinygen::TinySpec::FlashTiny(), dir);
    }
    config = deepseek::model::LoadConfig(dir);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture f;
  deepseek::format::Fingerprint model{};
  if (size >= 32) std::memcpy(model.data(), data + 16, 16);
  auto memory = deepseek::backend::Registry::Get().Cpu().CreateKvMemory({.budget_bytes = uint64_t{256} << 20, .tier_dir = {}, .fast_bytes = 0});
  {
    auto pools = deepseek::model::CreateKvPools(f.config, memory);
    try {
      const deepseek::SequenceRecord r =
          deepseek::DecodeSequenceFile({data, size}, f.config, model, pools, *f.stream, "fuzz.dskv");
      if (r.state.tokens.size() != static_cast<size_t>(r.state.position()) ||
          memory->bytes_in_use() != r.state.kv_bytes()) {
        __builtin_trap();
      }
    } catch (const deepseek::Error&) {
      // Rejected input: the expected outcome for most of the corpus.
    }
  }
  if (memory->bytes_in_use() != 0) __builtin_trap();  // a page reference leaked
  return 0;
}
