// deepseek-demo: the main job on an embedded default. Generates a tiny seeded V4 checkpoint
// (Flash architecture, FP8 + MXFP4 weights) if absent, loads it, prefills a prompt, decodes
// greedily and prints the tokens with timings. No download.
//   deepseek-demo [--model DIR] [--prompt N] [--decode N] [--threads T]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"
#include "deepseek/deepseek.h"
#include "tinygen/tiny_checkpoint.h"

namespace {

double Seconds(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

int Usage() {
  std::fprintf(stderr, "usage: deepseek-demo [--model DIR] [--prompt N] [--decode N] [--threads T]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "out/tiny-flash";
  int prompt = 64, decode = 16, threads = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) return Usage();
    const std::string v = argv[++i];
    if (flag == "--model") dir = v;
    else if (flag == "--prompt") prompt = std::stoi(v);
    else if (flag == "--decode") decode = std::stoi(v);
    else if (flag == "--threads") threads = std::stoi(v);
    else return Usage();
  }
  if (prompt < 1 || decode < 0) return Usage();

  if (!std::filesystem::exists(dir + "/config.json")) {
    std::printf("generating the embedded tiny checkpoint in %s ...\n", dir.c_str());
    const auto t = std::chrono::steady_clock::now();
    const deepseek::Status st = deepseek::CatchAll([&] { deepseek::tinygen::WriteTinyCheckpoint(deepseek::tinygen::TinySpec::FlashTiny(), dir); });
    if (!st.ok()) {
      std::fprintf(stderr, "deepseek-demo: %s\n", st.ToString().c_str());
      return 1;
    }
    std::printf("  done in %.2f s\n", Seconds(t, std::chrono::steady_clock::now()));
  }

  const auto t0 = std::chrono::steady_clock::now();
  deepseek::LoadOptions load;
  load.progress = [](float f, std::string_view stage) { std::printf("  loading: %3.0f%% %.*s\n", 100 * f, static_cast<int>(stage.size()), stage.data()); };
  auto model = deepseek::Model::Load(dir, load);
  if (!model.ok()) {
    std::fprintf(stderr, "deepseek-demo: %s\n", model.status().ToString().c_str());
    return 1;
  }
  const deepseek::ModelConfig& c = model.value()->config();
  std::printf("model: %d layers, hidden %lld, %d experts (top-%d), vocab %lld, %.1f MB of weights mapped\n", c.n_layers,
              static_cast<long long>(c.dim), c.n_experts, c.n_active_experts, static_cast<long long>(c.vocab_size),
              static_cast<double>(model.value()->weight_bytes()) / 1e6);

  deepseek::SessionOptions options;
  options.num_threads = threads;
  options.prefill_chunk = 32;
  options.progress = [](int64_t done, int64_t total) {
    if (total > 1) std::printf("  prefill: %lld/%lld tokens\n", static_cast<long long>(done), static_cast<long long>(total));
    return true;
  };
  auto session = deepseek::Session::Create(model.value(), options);
  if (!session.ok()) {
    std::fprintf(stderr, "deepseek-demo: %s\n", session.status().ToString().c_str());
    return 1;
  }
  // A deterministic prompt: BOS, then ids spread over the vocabulary.
  std::vector<int32_t> tokens{c.bos_token_id};
  for (int i = 1; i < prompt; ++i) tokens.push_back(static_cast<int32_t>((i * 7919) % (c.vocab_size - 3) + 3));
  const auto t1 = std::chrono::steady_clock::now();
  if (auto st = session.value()->Prefill(tokens); !st.ok()) {
    std::fprintf(stderr, "deepseek-demo: %s\n", st.ToString().c_str());
    return 1;
  }
  const auto t2 = std::chrono::steady_clock::now();
  std::printf("generated:");
  for (int i = 0; i < decode; ++i) {
    const auto logits = session.value()->logits();
    const int32_t next = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    std::printf(" %d", next);
    std::fflush(stdout);
    if (auto st = session.value()->Decode(next); !st.ok()) {
      std::fprintf(stderr, "\ndeepseek-demo: %s\n", st.ToString().c_str());
      return 1;
    }
  }
  const auto t3 = std::chrono::steady_clock::now();
  std::printf("\nload %.3f s | prefill %d tokens in %.3f s (%.1f tok/s) | decode %d tokens in %.3f s (%.1f tok/s)\n",
              Seconds(t0, t1), prompt, Seconds(t1, t2), prompt / Seconds(t1, t2), decode, Seconds(t2, t3),
              decode / std::max(1e-9, Seconds(t2, t3)));
  return 0;
}
