// deepseek-logits --image FILE --image-at POS on v41-tiny: the rows it writes are the library's
// logits for the same sequence fed as Prefill / PrefillImage / Prefill calls, wherever the images
// stand (first, inside a --chunks chunk, two at one position, after the last prefilled token);
// and its refusals: a model without vision, a missing or misplaced --image-at, a bad file.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "deepseek/image.h"
#include "deepseek/model.h"
#include "deepseek/session.h"
#include "format/safetensors.h"
#include "model/config_parser.h"
#include "runtime/engram_token_map_file.h"
#include "support/golden_arrays.h"
#include "support/run_tool.h"
#include "support/shared_data.h"
#include "tool_models.h"

namespace deepseek::testing {
namespace {

using Rows = std::vector<std::vector<float>>;

// The rows of a float32 [rows, cols] .npy file as deepseek-logits writes it (version 1.0).
Rows ReadNpyRows(const std::string& path, size_t cols) {
  const std::string bytes = ReadFile(path);
  REQUIRE(bytes.size() >= 10);
  REQUIRE(bytes.compare(0, 6, "\x93NUMPY") == 0);
  const size_t header = static_cast<uint8_t>(bytes[8]) | size_t{static_cast<uint8_t>(bytes[9])} << 8;
  const std::string shape = "'shape': (";
  const size_t at = bytes.find(shape, 10);
  REQUIRE(at < 10 + header);
  const size_t rows = std::stoul(bytes.substr(at + shape.size()));
  CHECK(bytes.find(", " + std::to_string(cols) + ")", at) < 10 + header);
  REQUIRE(bytes.size() == 10 + header + rows * cols * sizeof(float));
  Rows out(rows, std::vector<float>(cols));
  for (size_t r = 0; r < rows; ++r) std::memcpy(out[r].data(), bytes.data() + 10 + header + r * cols * sizeof(float), cols * sizeof(float));
  return out;
}

// Text ids of the tiny vocabulary, clear of the special and image tokens.
std::vector<int32_t> TextIds(size_t n) {
  std::vector<int32_t> ids(n);
  for (size_t i = 0; i < n; ++i) ids[i] = static_cast<int32_t>(3 + (17 + i * 37) % 400);
  return ids;
}

std::shared_ptr<const Model> LoadModel() {
  Result<std::shared_ptr<const Model>> m = Model::Load(V41TinyDir());
  REQUIRE_MESSAGE(m.ok(), m.status().message());
  return m.value();
}

Image LoadImage(const std::string& path) {
  Result<Image> image = Image::Load(path);
  REQUIRE_MESSAGE(image.ok(), image.status().message());
  return image.value();
}

// One library call: `count` tokens from `from`, or (count < 0) the image.
struct Call {
  size_t from = 0;
  long long count = -1;
  const Image* image = nullptr;
};

// The runner's rows through the API: the prefill calls, then every later token alone.
Rows LibraryRows(const std::vector<int32_t>& tokens, const std::vector<Call>& prefill, size_t prefill_end) {
  SessionOptions options;
  options.num_threads = 2;
  Result<std::unique_ptr<Session>> made = Session::Create(LoadModel(), options);
  REQUIRE(made.ok());
  Session& s = *made.value();
  for (const Call& c : prefill) {
    const Status st = c.image ? s.PrefillImage(*c.image) : s.Prefill(std::span(tokens).subspan(c.from, static_cast<size_t>(c.count)));
    REQUIRE_MESSAGE(st.ok(), st.message());
  }
  Rows rows{{s.logits().begin(), s.logits().end()}};
  for (size_t i = prefill_end; i < tokens.size(); ++i) {
    REQUIRE(s.Decode(tokens[i]).ok());
    rows.emplace_back(s.logits().begin(), s.logits().end());
  }
  return rows;
}

struct Setup {
  std::string dir = TempDir("logits-image");
  std::vector<int32_t> tokens = TextIds(26);
  std::string common;
  Setup() {
    std::string text;
    for (int32_t t : tokens) text += std::to_string(t) + "\n";
    WriteFile(dir + "/tokens.txt", text);
    common = "--model " + Quoted(V41TinyDir()) + " --tokens " + Quoted(dir + "/tokens.txt") + " --out " + Quoted(dir + "/out.npy");
  }
  Rows Run(const std::string& args) const {
    const ToolRun run = RunTool(DS_LOGITS_BIN, common + " " + args);
    INFO(run.err);
    REQUIRE(run.exit_code == 0);
    return ReadNpyRows(dir + "/out.npy", 512);
  }
};

TEST_CASE("deepseek-logits --image-at: the rows of the library's Prefill / PrefillImage / Prefill") {
  const Setup setup;
  const Image png = LoadImage(GoldenImagePng()), jpeg = LoadImage(SmallJpeg());
  const std::string png_arg = " --image " + Quoted(GoldenImagePng()), jpeg_arg = " --image " + Quoted(SmallJpeg());

  SUBCASE("an image among the prompt's tokens, as the golden v41_image prompt holds one after 3") {
    const Rows want = LibraryRows(setup.tokens, {{0, 3}, {.image = &png}, {3, 17}}, 20);
    const Rows got = setup.Run("--prefill 20" + png_arg + " --image-at 3");
    CHECK(got.size() == 1 + 26 - 20);
    CHECK(got == want);
  }
  SUBCASE("images first, two at one position in the order given, and inside a chunk") {
    const Rows want = LibraryRows(setup.tokens, {{.image = &jpeg}, {0, 9}, {.image = &png}, {.image = &jpeg}, {9, 11}}, 20);
    const Rows got = setup.Run("--prefill 20 --chunks 5,10,5" + jpeg_arg + " --image-at 0" + png_arg + " --image-at 9" + jpeg_arg +
                               " --image-at 9");
    CHECK(got == want);
    // The other order at position 9 is another sequence.
    const Rows swapped = setup.Run("--prefill 20" + jpeg_arg + " --image-at 0" + jpeg_arg + " --image-at 9" + png_arg + " --image-at 9");
    CHECK(swapped != want);
  }
  SUBCASE("an image after the last prefilled token: row 0 follows the image") {
    const Rows want = LibraryRows(setup.tokens, {{0, 20}, {.image = &png}}, 20);
    CHECK(setup.Run("--prefill 20" + png_arg + " --image-at 20") == want);
  }
}

TEST_CASE("deepseek-logits runs the golden v41_image case: its prompt with the picture after 3 tokens") {
  // The golden checkpoint ships a stand-in vocabulary, not tokenizer.json: its Engram token map
  // (the run's engram.token_map) goes beside a copy of it as a shipped map.
  const std::string golden = SharedDir() + "/golden/v41/v41_image";
  const std::string dir = TempDir("logits-golden-v41");
  for (const auto& entry : std::filesystem::directory_iterator(golden + "/ckpt")) {
    std::filesystem::copy_file(entry.path(), dir + "/" + entry.path().filename().string(), std::filesystem::copy_options::overwrite_existing);
  }
  const format::SafetensorsFile run = format::SafetensorsFile::Open(golden + "/main_fixed.safetensors");
  const std::vector<int64_t> map = GoldenInts(run, "engram.token_map");
  const ModelConfig config = model::LoadConfig(dir);
  runtime::WriteShippedEngramTokenMap(dir, std::vector<int32_t>(map.begin(), map.end()), config);
  // The run's tokens without its image span (positions 3..12 hold the image token).
  std::vector<int32_t> text;
  for (int64_t t : GoldenInts(run, "tokens")) {
    if (t != config.image_token_id) text.push_back(static_cast<int32_t>(t));
  }
  REQUIRE(text.size() == 59);
  std::string listing;
  for (int32_t t : text) listing += std::to_string(t) + "\n";
  WriteFile(dir + "/tokens.txt", listing);
  const ToolRun tool = RunTool(DS_LOGITS_BIN, "--model " + Quoted(dir) + " --tokens " + Quoted(dir + "/tokens.txt") + " --out " +
                                                  Quoted(dir + "/out.npy") + " --prefill 39 --image " + Quoted(golden + "/image.png") +
                                                  " --image-at 3");
  INFO(tool.err);
  REQUIRE(tool.exit_code == 0);
  const Rows got = ReadNpyRows(dir + "/out.npy", static_cast<size_t>(config.vocab_size));
  REQUIRE(got.size() == 21);  // after the prompt, then after each of the 20 decoded tokens

  // The library's Prefill / PrefillImage / Prefill on the same folder gives the same rows.
  Result<std::shared_ptr<const Model>> model = Model::Load(dir);
  REQUIRE_MESSAGE(model.ok(), model.status().message());
  SessionOptions options;
  options.num_threads = 2;
  auto session = Session::Create(model.value(), options);
  REQUIRE(session.ok());
  Session& s = *session.value();
  REQUIRE(s.Prefill(std::span(text).first(3)).ok());
  REQUIRE(s.PrefillImage(LoadImage(golden + "/image.png")).ok());
  REQUIRE(s.Prefill(std::span(text).subspan(3, 36)).ok());
  CHECK(s.position() == 49);  // the golden prompt's length
  Rows want{{s.logits().begin(), s.logits().end()}};
  for (size_t i = 39; i < text.size(); ++i) {
    REQUIRE(s.Decode(text[i]).ok());
    want.emplace_back(s.logits().begin(), s.logits().end());
  }
  CHECK(got == want);
}

TEST_CASE("deepseek-logits --image: refusals exit non-zero and say why") {
  const Setup setup;
  const std::string png = " --image " + Quoted(GoldenImagePng());
  struct Case {
    std::string args, needle;
    int exit_code;
  };
  const std::vector<Case> cases = {
      {"--prefill 20" + png, "needs its --image-at", 2},
      {"--prefill 20 --image-at 3", "must follow its --image", 2},
      {"--prefill 20" + png + " --image-at 21", "past --prefill", 2},
      {"--prefill 20" + png + " --image-at -1", "must not be negative", 2},
      {"--prefill 20" + png + " --image-at 3 --load-kv " + Quoted(setup.dir + "/x.dskv"), "exclude each other", 2},
      {"--prefill 20 --image " + Quoted(setup.dir + "/missing.png") + " --image-at 3", "NOT_FOUND", 1},
      {"--prefill 20 --image " + Quoted(setup.dir + "/tokens.txt") + " --image-at 3", "not a PNG or JPEG", 1},
  };
  for (const Case& c : cases) {
    CAPTURE(c.args);
    const ToolRun run = RunTool(DS_LOGITS_BIN, setup.common + " " + c.args);
    CHECK(run.exit_code == c.exit_code);
    CHECK_MESSAGE(run.err.find(c.needle) != std::string::npos, "stderr: " << run.err);
  }
  // A V4 model has no vision tower.
  const ToolRun v4 = RunTool(DS_LOGITS_BIN, "--model " + Quoted(FlashTinyDir()) + " --tokens " + Quoted(setup.dir + "/tokens.txt") +
                                                " --out " + Quoted(setup.dir + "/v4.npy") + " --prefill 20" + png + " --image-at 3");
  CHECK(v4.exit_code == 1);
  CHECK_MESSAGE(v4.err.find("no vision tower") != std::string::npos, "stderr: " << v4.err);
}

}  // namespace
}  // namespace deepseek::testing
