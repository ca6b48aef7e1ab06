// deepseek-demo: the main job on an embedded default. Generates a tiny seeded checkpoint if
// absent (--preset flash-tiny: V4-Flash architecture, FP8 + MXFP4 weights; v41-tiny: V4.1 with
// Engram and a vision tower) and loads it. A V4 model prefills a prompt, decodes greedily and
// prints the tokens with timings; a model with vision describes a picture (drawn in code, or
// --image FILE) in a chat and prints the words with the image's span and timings. No download.
//   deepseek-demo [--preset flash-tiny|v41-tiny] [--model DIR] [--image FILE] [--prompt N] [--decode N] [--threads T]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "deepseek/deepseek.h"
#include "demo_image.h"
#include "tinygen/tiny_checkpoint.h"
#include "tinygen/v41_checkpoint.h"

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

int Usage() {
  std::fprintf(stderr,
               "usage: deepseek-demo [--preset flash-tiny|v41-tiny] [--model DIR] [--image FILE] [--prompt N] [--decode N]\n"
               "                     [--threads T]\n"
               "A model with vision (v41-tiny) describes a picture (--image FILE, else one drawn in code); --prompt is\n"
               "the prompt length of a V4 model's token demo.\n");
  return 2;
}

int Fail(const deepseek::Status& st) {
  std::fprintf(stderr, "deepseek-demo: %s\n", st.ToString().c_str());
  return 1;
}

// V4: a deterministic prompt of token ids, prefilled, then greedy decoding token by token.
int RunTokens(const std::shared_ptr<const deepseek::Model>& model, int prompt, int decode, int threads, Clock::time_point t0) {
  const deepseek::ModelConfig& c = model->config();
  deepseek::SessionOptions options;
  options.num_threads = threads;
  options.prefill_chunk = 32;
  options.progress = [](int64_t done, int64_t total) {
    if (total > 1) std::printf("  prefill: %lld/%lld tokens\n", static_cast<long long>(done), static_cast<long long>(total));
    return true;
  };
  auto session = deepseek::Session::Create(model, options);
  if (!session.ok()) return Fail(session.status());
  // A deterministic prompt: BOS, then ids spread over the vocabulary.
  std::vector<int32_t> tokens{c.bos_token_id};
  for (int i = 1; i < prompt; ++i) tokens.push_back(static_cast<int32_t>((i * 7919) % (c.vocab_size - 3) + 3));
  const auto t1 = Clock::now();
  if (auto st = session.value()->Prefill(tokens); !st.ok()) return Fail(st);
  const auto t2 = Clock::now();
  std::printf("generated:");
  for (int i = 0; i < decode; ++i) {
    const auto logits = session.value()->logits();
    const int32_t next = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    std::printf(" %d", next);
    std::fflush(stdout);
    if (auto st = session.value()->Decode(next); !st.ok()) {
      std::printf("\n");
      return Fail(st);
    }
  }
  const auto t3 = Clock::now();
  std::printf("\nload %.3f s | prefill %d tokens in %.3f s (%.1f tok/s) | decode %d tokens in %.3f s (%.1f tok/s)\n",
              Seconds(t0, t1), prompt, Seconds(t1, t2), prompt / Seconds(t1, t2), decode, Seconds(t2, t3),
              decode / std::max(1e-9, Seconds(t2, t3)));
  return 0;
}

// A model with vision: one Fast-mode chat turn, "Describe this image." with the picture before
// the text, decoded greedily through the checkpoint's tokenizer and streamed.
int DescribeImage(const std::shared_ptr<const deepseek::Model>& model, const std::string& dir, const deepseek::Image& image,
                  const std::string& image_name, int decode, int threads, Clock::time_point t0) {
  auto tokenizer = deepseek::Tokenizer::Load(dir);
  if (!tokenizer.ok()) return Fail(tokenizer.status());
  deepseek::GeneratorOptions options;
  options.session.num_threads = threads;
  auto generator = deepseek::Generator::Create(model, tokenizer.value(), options);
  if (!generator.ok()) return Fail(generator.status());
  const deepseek::Result<int64_t> span = model->ImagePositions(image);
  if (!span.ok()) return Fail(span.status());
  std::printf("image: %s, %lldx%lld -> a span of %lld positions\n", image_name.c_str(), static_cast<long long>(image.width),
              static_cast<long long>(image.height), static_cast<long long>(span.value()));

  deepseek::ChatMessage user{.role = "user", .content = "Describe this image."};
  user.images.push_back(image);
  const std::vector<deepseek::ChatMessage> chat = {user};
  deepseek::ChatFormatOptions format{.mode = deepseek::ChatMode::kFast};
  deepseek::GenerationParams params;
  params.sampling.temperature = 0;  // greedy: the same words on every run
  params.max_tokens = std::max(decode, 1);
  const auto t1 = Clock::now();
  std::printf("user: Describe this image.\nassistant:");
  auto reply = generator.value()->Chat(chat, format, params, [](const deepseek::StreamEvent& e) {
    if (!e.text.empty()) std::fwrite(e.text.data(), 1, e.text.size(), stdout);  // a token may end mid-character: no text yet
    std::fflush(stdout);
    return true;
  });
  std::printf("\n");
  if (!reply.ok()) return Fail(reply.status());
  const deepseek::GenerationStats& s = reply.value().generation.stats;
  std::printf("load %.3f s | prompt %lld tokens, %lld of them the image's | image encode + prefill %.3f s (%.1f tok/s) | "
              "decode %lld tokens in %.3f s (%.1f tok/s), %s\n",
              Seconds(t0, t1), static_cast<long long>(s.prompt_tokens), static_cast<long long>(span.value()), s.prefill_seconds,
              s.prefill_tokens_per_second(), static_cast<long long>(s.generated_tokens), s.decode_seconds,
              s.decode_tokens_per_second(), deepseek::FinishReasonName(reply.value().generation.finish));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string preset = "flash-tiny", dir, image_file;
  int prompt = 64, decode = 16, threads = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) return Usage();
    const std::string v = argv[++i];
    if (flag == "--preset") preset = v;
    else if (flag == "--model") dir = v;
    else if (flag == "--image") image_file = v;
    else if (flag == "--prompt") prompt = std::stoi(v);
    else if (flag == "--decode") decode = std::stoi(v);
    else if (flag == "--threads") threads = std::stoi(v);
    else return Usage();
  }
  if (prompt < 1 || decode < 0 || (preset != "flash-tiny" && preset != "v41-tiny")) return Usage();
  const bool v41 = preset == "v41-tiny";
  if (dir.empty()) dir = v41 ? "out/tiny-v41" : "out/tiny-flash";

  // A bad --image fails before any work.
  std::optional<deepseek::Image> given;
  if (!image_file.empty()) {
    deepseek::Result<deepseek::Image> loaded = deepseek::Image::Load(image_file);
    if (!loaded.ok()) return Fail(loaded.status());
    given = std::move(loaded).value();
  }

  if (!std::filesystem::exists(dir + "/config.json")) {
    std::printf("generating the embedded tiny checkpoint in %s ...\n", dir.c_str());
    const auto t = Clock::now();
    const deepseek::Status st = deepseek::CatchAll([&] {
      if (v41) deepseek::tinygen::WriteTinyV41Checkpoint(deepseek::tinygen::TinyV41Spec::Tiny(), dir);
      else deepseek::tinygen::WriteTinyCheckpoint(deepseek::tinygen::TinySpec::FlashTiny(), dir);
    });
    if (!st.ok()) return Fail(st);
    std::printf("  done in %.2f s\n", Seconds(t, Clock::now()));
  }

  const auto t0 = Clock::now();
  deepseek::LoadOptions load;
  load.progress = [](float f, std::string_view stage) { std::printf("  loading: %3.0f%% %.*s\n", 100 * f, static_cast<int>(stage.size()), stage.data()); };
  auto model = deepseek::Model::Load(dir, load);
  if (!model.ok()) return Fail(model.status());
  const deepseek::ModelConfig& c = model.value()->config();
  std::printf("model: %d layers, hidden %lld, %d experts (top-%d), vocab %lld, %.1f MB of weights mapped\n", c.n_layers,
              static_cast<long long>(c.dim), c.n_experts, c.n_active_experts, static_cast<long long>(c.vocab_size),
              static_cast<double>(model.value()->weight_bytes()) / 1e6);
  if (model.value()->has_vision()) {
    return DescribeImage(model.value(), dir, given ? *given : deepseek::demo::LandscapeImage(),
                         given ? image_file : "embedded landscape", decode, threads, t0);
  }
  if (given) {
    return Fail({deepseek::StatusCode::kUnsupported, dir + " has no vision tower, so it takes no --image (--preset v41-tiny has one)"});
  }
  return RunTokens(model.value(), prompt, decode, threads, t0);
}
