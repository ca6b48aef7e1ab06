// A V4.1 checkpoint (deepseek-make-tiny's v41-tiny: CSA2, Engram, a vision tower) through the
// public API: Model::Load with Engram's token map cached beside the model, sessions whose calls
// may split a sequence anywhere, images as spans (Session::PrefillImage), chats carrying images,
// and the refusals (the image token in text, images for a model without vision, bad images).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "deepseek/chat.h"
#include "deepseek/generation.h"
#include "deepseek/image.h"
#include "deepseek/model.h"
#include "deepseek/session.h"
#include "deepseek/tokenizer.h"
#include "core/error.h"
#include "runtime/engram_token_map_file.h"
#include "support/shared_data.h"
#include "support/tiny_checkpoints.h"

namespace deepseek::testing {
namespace {

std::shared_ptr<const Model> LoadV41() {
  Result<std::shared_ptr<const Model>> m = Model::Load(V41TinyDir());
  REQUIRE_MESSAGE(m.ok(), m.status().message());
  return m.value();
}

std::unique_ptr<Session> NewV41Session(std::shared_ptr<const Model> model, int64_t chunk = 512) {
  SessionOptions options;
  options.num_threads = 2;
  options.prefill_chunk = chunk;
  Result<std::unique_ptr<Session>> s = Session::Create(std::move(model), options);
  REQUIRE(s.ok());
  return std::move(s).value();
}

// A 60 x 45 test picture: a colour ramp with a bright square, whatever its exact content.
Image TestImage(int64_t width = 60, int64_t height = 45) {
  Image image{width, height, std::vector<uint8_t>(static_cast<size_t>(width * height * 3))};
  for (int64_t y = 0; y < height; ++y) {
    for (int64_t x = 0; x < width; ++x) {
      uint8_t* p = image.rgb.data() + (y * width + x) * 3;
      const bool square = x > width / 3 && x < width / 2 && y > height / 4 && y < height / 2;
      p[0] = static_cast<uint8_t>(square ? 250 : 4 * x);
      p[1] = static_cast<uint8_t>(square ? 240 : 5 * y);
      p[2] = static_cast<uint8_t>((x * y) % 256);
    }
  }
  return image;
}

std::vector<int32_t> Text(size_t n, int32_t seed) {
  std::vector<int32_t> ids(n);
  for (size_t i = 0; i < n; ++i) ids[i] = static_cast<int32_t>(3 + (seed * 131 + static_cast<int32_t>(i) * 37) % 400);
  return ids;
}

TEST_CASE("V4.1 runtime: the model loads and caches Engram's token map beside itself, rebuilt when damaged") {
  const std::string cache = V41TinyDir() + "/" + runtime::kEngramTokenMapFile;
  std::filesystem::remove(cache);
  const std::shared_ptr<const Model> model = LoadV41();
  CHECK(model->config().family == ModelFamily::kV41);
  CHECK(model->has_vision());
  CHECK_FALSE(model->has_mtp());
  REQUIRE(std::filesystem::exists(cache));
  const runtime::EngramTokenMapLoad again = runtime::LoadEngramTokenMap(V41TinyDir(), model->config());
  CHECK(again.from_cache);
  // The cached map is the one the tokenizer gives.
  std::filesystem::remove(cache);
  const runtime::EngramTokenMapLoad built = runtime::LoadEngramTokenMap(V41TinyDir(), model->config());
  CHECK_FALSE(built.from_cache);
  CHECK(built.ids == again.ids);
  CHECK(static_cast<int64_t>(built.ids.size()) == model->config().vocab_size);
  // A damaged cache is rebuilt (and rewritten), not trusted.
  {
    std::fstream f(cache, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('\x7f');
  }
  const runtime::EngramTokenMapLoad repaired = runtime::LoadEngramTokenMap(V41TinyDir(), model->config());
  CHECK_FALSE(repaired.from_cache);
  CHECK(repaired.cache_note.empty());
  CHECK(repaired.ids == again.ids);
  CHECK(runtime::LoadEngramTokenMap(V41TinyDir(), model->config()).from_cache);

  // A folder without tokenizer.json may ship the map; without either, the error names both.
  const std::string shipped = TempDir("runtime-v41-shipped");
  for (const auto& entry : std::filesystem::directory_iterator(V41TinyDir())) {
    const std::string name = entry.path().filename().string();
    if (name != "tokenizer.json" && name != runtime::kEngramTokenMapFile) std::filesystem::copy_file(entry.path(), shipped + "/" + name);
  }
  const Result<std::shared_ptr<const Model>> bare = Model::Load(shipped);
  CHECK(bare.status().code() == StatusCode::kNotFound);
  CHECK(bare.status().message().find("tokenizer.json") != std::string::npos);
  CHECK(bare.status().message().find(runtime::kEngramTokenMapFile) != std::string::npos);
  std::vector<int32_t> wrong = again.ids;
  wrong[5] = static_cast<int32_t>(model->config().engram.compressed_vocab);
  CHECK_THROWS_AS(runtime::WriteShippedEngramTokenMap(shipped, wrong, model->config()), Error);
  runtime::WriteShippedEngramTokenMap(shipped, again.ids, model->config());
  const runtime::EngramTokenMapLoad read = runtime::LoadEngramTokenMap(shipped, model->config());
  CHECK(read.from_cache);
  CHECK(read.ids == again.ids);
  CHECK(Model::Load(shipped).ok());
}

TEST_CASE("V4.1 runtime: text, an image span and more text give the same logits however the calls split them") {
  const std::shared_ptr<const Model> model = LoadV41();
  const Image image = TestImage();
  const Result<int64_t> span = model->ImagePositions(image);
  REQUIRE(span.ok());
  CHECK(span.value() > 2);
  const std::vector<int32_t> before = Text(7, 1), after = Text(23, 2);

  // One prefill chunk per call, against chunks of 5 (the image span cut into pieces too).
  std::vector<std::vector<float>> traces;
  for (int64_t chunk : {512, 5}) {
    auto s = NewV41Session(model, chunk);
    REQUIRE(s->Prefill(before).ok());
    REQUIRE(s->PrefillImage(image).ok());
    CHECK(s->position() == 7 + span.value());
    REQUIRE(s->Prefill(std::span(after).first(11)).ok());
    REQUIRE(s->Prefill(std::span(after).subspan(11)).ok());
    for (int32_t t : {5, 77, 300}) REQUIRE(s->Decode(t).ok());
    traces.emplace_back(s->logits().begin(), s->logits().end());
  }
  CHECK(traces[0] == traces[1]);
  CHECK(model->engram_bytes_read() > 0);

  // Another image changes what follows it.
  auto other = NewV41Session(model);
  REQUIRE(other->Prefill(before).ok());
  REQUIRE(other->PrefillImage(TestImage(61, 45)).ok());
  REQUIRE(other->Prefill(after).ok());
  for (int32_t t : {5, 77, 300}) REQUIRE(other->Decode(t).ok());
  CHECK(std::vector<float>(other->logits().begin(), other->logits().end()) != traces[0]);
}

TEST_CASE("V4.1 runtime: the image token in text, images without a vision tower and bad images are refused") {
  const std::shared_ptr<const Model> model = LoadV41();
  auto s = NewV41Session(model);
  REQUIRE(s->Prefill(Text(4, 3)).ok());
  const int32_t image_token = model->config().image_token_id;
  const std::vector<int32_t> with_image = {5, image_token, 6};
  const Status refused = s->Prefill(with_image);
  CHECK(refused.code() == StatusCode::kInvalidArgument);
  CHECK(refused.message().find("image token") != std::string::npos);
  CHECK(s->position() == 4);
  const Status empty = s->PrefillImage(Image{});
  CHECK(empty.code() == StatusCode::kInvalidArgument);
  CHECK(s->position() == 4);
  const Image torn{10, 10, std::vector<uint8_t>(7)};
  CHECK(s->PrefillImage(torn).code() == StatusCode::kInvalidArgument);
  CHECK(s->position() == 4);
  const std::vector<uint8_t> not_an_image = {'G', 'I', 'F', '8', '9', 'a', 0, 0};
  const Result<Image> decoded = Image::Decode(not_an_image, "upload.gif");
  CHECK(decoded.status().code() == StatusCode::kInvalidArgument);
  CHECK(decoded.status().message().find("upload.gif") != std::string::npos);

  // A V4 model takes no images.
  Result<std::shared_ptr<const Model>> text_only = Model::Load(FlashTinyDir());
  REQUIRE(text_only.ok());
  CHECK_FALSE(text_only.value()->has_vision());
  CHECK(text_only.value()->ImagePositions(TestImage()).status().code() == StatusCode::kUnsupported);
  auto t = NewV41Session(text_only.value());
  REQUIRE(t->Prefill(Text(3, 5)).ok());
  CHECK(t->PrefillImage(TestImage()).code() == StatusCode::kUnsupported);
  CHECK(t->position() == 3);  // refused, not reset
}

TEST_CASE("V4.1 runtime: a chat message carries images where its content places them") {
  const std::shared_ptr<const Model> model = LoadV41();
  Result<std::shared_ptr<const Tokenizer>> tokenizer = Tokenizer::Load(V41TinyDir());
  REQUIRE(tokenizer.ok());
  Result<std::unique_ptr<Generator>> made = Generator::Create(model, tokenizer.value());
  REQUIRE(made.ok());
  Generator& generator = *made.value();
  GenerationParams params;
  params.max_tokens = 4;
  params.ignore_eos = true;
  ChatFormatOptions format;
  format.mode = ChatMode::kFast;

  ChatMessage user{.role = "user", .content = "What is in this picture?"};
  user.images.push_back(TestImage());
  const std::vector<ChatMessage> before_text = {user};
  Result<ChatReply> reply = generator.Chat(before_text, format, params);
  REQUIRE_MESSAGE(reply.ok(), reply.status().message());
  CHECK(reply.value().generation.tokens.size() == 4);
  // The prompt's positions include the image's span.
  const int64_t span = model->ImagePositions(TestImage()).value();
  CHECK(reply.value().generation.stats.prompt_tokens > span);

  // The same image named where it stands, in the middle of the text.
  ChatMessage placed{.role = "user", .content = std::string("Look: ") + kImagePlaceholder + " What is it?"};
  placed.images.push_back(TestImage());
  REQUIRE(generator.Chat(std::vector<ChatMessage>{placed}, format, params).ok());

  // Placeholders and images must agree; only user messages carry images.
  ChatMessage twice{.role = "user", .content = std::string(kImagePlaceholder) + kImagePlaceholder};
  twice.images.push_back(TestImage());
  const Result<ChatReply> mismatch = generator.Chat(std::vector<ChatMessage>{twice}, format, params);
  CHECK(mismatch.status().code() == StatusCode::kInvalidArgument);
  CHECK(mismatch.status().message().find("2 image placeholders") != std::string::npos);
  ChatMessage system{.role = "system", .content = "Be brief."};
  system.images.push_back(TestImage());
  CHECK(generator.Chat(std::vector<ChatMessage>{system, user}, format, params).status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("V4.1 runtime: a clip's frames are every stride-th image of a folder, within the visual-token budget") {
  const std::shared_ptr<const Model> model = LoadV41();
  const std::string dir = TempDir("runtime-v41-video");
  const std::string png = SharedDir() + "/golden/v41/v41_image/image.png";  // 90 x 70
  for (const char* name : {"f3.png", "f1.png", "f5.PNG", "f2.png", "f4.png"}) std::filesystem::copy_file(png, dir + "/" + name);
  std::ofstream(dir + "/notes.txt") << "not a frame";
  const Result<int64_t> span = model->ImagePositions(Image::Load(png).value());
  REQUIRE(span.ok());
  VideoOptions options;
  options.frame_stride = 2;
  Result<std::vector<Image>> frames = LoadVideoFrames(dir, *model, options);
  REQUIRE_MESSAGE(frames.ok(), frames.status().message());
  CHECK(frames.value().size() == 3);  // f1, f3, f5
  options.frame_stride = 1;
  options.max_visual_tokens = 2 * span.value() + 1;
  frames = LoadVideoFrames(dir, *model, options);
  REQUIRE(frames.ok());
  CHECK(frames.value().size() == 2);
  auto s = NewV41Session(model);
  for (const Image& frame : frames.value()) REQUIRE(s->PrefillImage(frame).ok());
  CHECK(s->position() == 2 * span.value());
  options.frame_stride = 0;
  CHECK(LoadVideoFrames(dir, *model, options).status().code() == StatusCode::kInvalidArgument);
  CHECK(LoadVideoFrames(TempDir("runtime-v41-empty"), *model).status().code() == StatusCode::kNotFound);
}

}  // namespace
}  // namespace deepseek::testing
