// The C ABI's image calls against the C++ API's (ABI 1.4): the same file gives the same pixels
// and span, the same calls give the same logits, and a greedy chat about the image the same
// tokens, bit for bit. The C side is libdeepseek_c (its own copy of the library, behind the ds_*
// symbols), the C++ side the static library linked here; both load the V4.1 checkpoint argv[1],
// and the image is argv[2].
#include <cstdio>
#include <cstring>
#include <vector>

#include "deepseek.h"
#include "deepseek/deepseek.h"

namespace {

int failures = 0;

void Check(bool ok, const char* what, int line) {
  if (ok) return;
  std::fprintf(stderr, "c_api_vision_parity.cc:%d: CHECK failed: %s (last C error: %s)\n", line, what, ds_last_error());
  ++failures;
}
#define CHECK(cond) Check((cond), #cond, __LINE__)

std::vector<int32_t> Text(size_t n, int32_t seed) {
  std::vector<int32_t> ids(n);
  for (size_t i = 0; i < n; ++i) ids[i] = static_cast<int32_t>(3 + (seed * 131 + static_cast<int32_t>(i) * 37) % 400);
  return ids;
}

constexpr int32_t kSteps[] = {5, 77, 300};

std::vector<float> CLogits(const ds_model* model, const ds_image* image) {
  ds_session_params params;
  ds_session_params_init(&params);
  params.num_threads = 2;
  ds_session* s = nullptr;
  const std::vector<int32_t> before = Text(7, 1), after = Text(23, 2);
  CHECK(ds_session_create(model, &params, &s) == DS_OK);
  CHECK(ds_session_prefill(s, before.data(), before.size()) == DS_OK);
  CHECK(ds_session_prefill_image(s, image) == DS_OK);
  CHECK(ds_session_prefill(s, after.data(), after.size()) == DS_OK);
  for (int32_t t : kSteps) CHECK(ds_session_decode(s, t) == DS_OK);
  size_t n = 0;
  const float* logits = ds_session_logits(s, &n);
  std::vector<float> out(logits, logits + n);
  ds_session_destroy(s);
  return out;
}

std::vector<float> CxxLogits(const std::shared_ptr<const deepseek::Model>& model, const deepseek::Image& image) {
  deepseek::SessionOptions options;
  options.num_threads = 2;
  auto s = deepseek::Session::Create(model, options);
  CHECK(s.ok());
  if (!s.ok()) return {};
  CHECK(s.value()->Prefill(Text(7, 1)).ok());
  CHECK(s.value()->PrefillImage(image).ok());
  CHECK(s.value()->Prefill(Text(23, 2)).ok());
  for (int32_t t : kSteps) CHECK(s.value()->Decode(t).ok());
  return {s.value()->logits().begin(), s.value()->logits().end()};
}

constexpr const char* kQuestion = "What is in " DS_IMAGE_PLACEHOLDER "?";
constexpr int64_t kReplyTokens = 8;

std::vector<int32_t> CChat(const ds_model* model, const ds_tokenizer* tok, const ds_image* image) {
  ds_session_params params;
  ds_session_params_init(&params);
  params.num_threads = 2;
  ds_generator* gen = nullptr;
  CHECK(ds_generator_create(model, tok, &params, &gen) == DS_OK);
  ds_chat_message msg;
  ds_chat_message_init(&msg);
  msg.role = "user";
  msg.content = kQuestion;
  msg.images = &image;
  msg.n_images = 1;
  ds_chat_format_params format;
  ds_chat_format_params_init(&format);
  format.mode = DS_CHAT_MODE_FAST;
  ds_sampling_params greedy;
  ds_sampling_params_init(&greedy);
  greedy.temperature = 0;
  ds_generation_params gp;
  ds_generation_params_init(&gp);
  gp.sampling = &greedy;
  gp.max_tokens = kReplyTokens;
  gp.ignore_eos = 1;
  ds_reply* reply = nullptr;
  CHECK(ds_generator_chat(gen, &msg, 1, &format, &gp, nullptr, nullptr, &reply) == DS_OK);
  size_t n = 0;
  const int32_t* tokens = ds_reply_tokens(reply, &n);
  std::vector<int32_t> out(tokens, tokens + n);
  ds_reply_destroy(reply);
  ds_generator_destroy(gen);
  return out;
}

std::vector<int32_t> CxxChat(const std::shared_ptr<const deepseek::Model>& model,
                             const std::shared_ptr<const deepseek::Tokenizer>& tok, const deepseek::Image& image) {
  deepseek::GeneratorOptions options;
  options.session.num_threads = 2;
  auto gen = deepseek::Generator::Create(model, tok, options);
  CHECK(gen.ok());
  if (!gen.ok()) return {};
  std::vector<deepseek::ChatMessage> chat(1);
  chat[0].role = "user";
  chat[0].content = kQuestion;
  chat[0].images = {image};
  deepseek::GenerationParams params;
  params.sampling.temperature = 0;
  params.max_tokens = kReplyTokens;
  params.ignore_eos = true;
  auto reply = gen.value()->Chat(chat, {.mode = deepseek::ChatMode::kFast}, params, {});
  CHECK(reply.ok());
  return reply.ok() ? reply.value().generation.tokens : std::vector<int32_t>{};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: c_api_vision_parity V41_TINY_DIR IMAGE.png\n");
    return 2;
  }
  ds_model* c_model = nullptr;
  ds_tokenizer* c_tok = nullptr;
  ds_image* c_image = nullptr;
  CHECK(ds_model_load(argv[1], nullptr, &c_model) == DS_OK);
  CHECK(ds_tokenizer_load(argv[1], &c_tok) == DS_OK);
  CHECK(ds_image_load(argv[2], &c_image) == DS_OK);
  auto model = deepseek::Model::Load(argv[1]);
  auto tok = deepseek::Tokenizer::Load(argv[1]);
  auto image = deepseek::Image::Load(argv[2]);
  CHECK(model.ok() && tok.ok() && image.ok());
  if (c_model && c_tok && c_image && model.ok() && tok.ok() && image.ok()) {
    size_t n = 0;
    const uint8_t* rgb = ds_image_rgb(c_image, &n);
    CHECK(n == image.value().rgb.size() && std::memcmp(rgb, image.value().rgb.data(), n) == 0);
    int64_t positions = 0;
    CHECK(ds_model_image_positions(c_model, c_image, &positions) == DS_OK);
    CHECK(positions == model.value()->ImagePositions(image.value()).value());

    const std::vector<float> c_logits = CLogits(c_model, c_image), cxx_logits = CxxLogits(model.value(), image.value());
    CHECK(!c_logits.empty() && c_logits == cxx_logits);
    const std::vector<int32_t> c_tokens = CChat(c_model, c_tok, c_image);
    const std::vector<int32_t> cxx_tokens = CxxChat(model.value(), tok.value(), image.value());
    CHECK(c_tokens.size() == static_cast<size_t>(kReplyTokens) && c_tokens == cxx_tokens);
  }
  ds_image_destroy(c_image);
  ds_tokenizer_destroy(c_tok);
  ds_model_destroy(c_model);
  if (failures) {
    std::fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  std::printf("c_api_vision_parity: the C ABI and the C++ API agree\n");
  return 0;
}
