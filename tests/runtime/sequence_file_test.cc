// Session::Save and Session::Load: a saved sequence continues exactly (MTP included) in
// another session; damaged, foreign or missing files are refused with their cause and leave
// the session as it was.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "deepseek/deepseek.h"
#include "format/section_file.h"
#include "session_helpers.h"
#include "support/shared_data.h"
#include "tinygen/tiny_checkpoint.h"
#include "tiny_fixture.h"

namespace deepseek::testing {
namespace {

// 150 tokens: two wraps of every window ring, open compressor blocks at both ratios, two
// pages' worth of nothing in particular; with MTP consumed up to position 149.
struct Saved {
  std::string dir = TempDir("sequence-file");
  std::string path = dir + "/session.dskv";
  std::vector<int32_t> tokens = Tokens(170, 17);
  Logits at_save;
  Saved() {
    auto s = NewSession(Options(2).Mtp().Chunk(64));
    Step(*s, std::span(tokens).first(150));
    REQUIRE(s->MtpLogits(tokens[150]).ok());
    at_save = LogitsOf(*s);
    const Status st = s->Save(path);
    REQUIRE_MESSAGE(st.ok(), st.ToString());
    CHECK_FALSE(std::filesystem::exists(path + ".tmp." + std::to_string(getpid())));
  }
};

// A session holding a few tokens of its own, to show that a refused Load changes nothing.
std::unique_ptr<Session> Busy() {
  auto s = NewSession(Options(1).Mtp());
  Step(*s, Tokens(5, 99));
  return s;
}

void CheckRefused(const std::string& path, StatusCode code, const std::vector<std::string>& needles) {
  auto s = Busy();
  const Logits before = LogitsOf(*s);
  CheckStatus(s->Load(path), code, needles);
  CHECK(s->position() == 5);
  CHECK(BitDiff(LogitsOf(*s), before).empty());
  Step(*s, Tokens(3, 98));  // and it goes on working
}

TEST_CASE("sequence file: a loaded session continues exactly as the saved one would, MTP included") {
  const Saved saved;
  auto loaded = NewSession(Options(1).Mtp());
  REQUIRE(loaded->Load(saved.path).ok());
  CHECK(loaded->position() == 150);
  CHECK(BitDiff(LogitsOf(*loaded), saved.at_save).empty());
  CHECK(std::equal(loaded->tokens().begin(), loaded->tokens().end(), saved.tokens.begin()));
  // The MTP head was given token 150, so the next step must feed exactly that token.
  auto cold = NewSession(Options(2).Mtp());
  Step(*cold, std::span(saved.tokens).first(150));
  REQUIRE(cold->MtpLogits(saved.tokens[150]).ok());
  for (size_t i = 150; i < 170; ++i) {
    CAPTURE(i);
    const Logits a = Step(*loaded, std::span(saved.tokens).subspan(i, 1));
    const Logits b = Step(*cold, std::span(saved.tokens).subspan(i, 1));
    REQUIRE(BitDiff(a, b).empty());
    if (i + 1 < 170) {
      auto ma = loaded->MtpLogits(saved.tokens[i + 1]), mb = cold->MtpLogits(saved.tokens[i + 1]);
      REQUIRE((ma.ok() && mb.ok()));
      REQUIRE(BitDiff(ma.value(), mb.value()).empty());
    }
  }
  // A sequence computed without MTP loads into a session with MTP, whose head then says why it
  // cannot run instead of reading streams that were never kept.
  auto plain = NewSession(Options(1));
  Step(*plain, std::span(saved.tokens).first(20));
  REQUIRE(plain->Save(saved.dir + "/plain.dskv").ok());
  auto with_mtp = NewSession(Options(1).Mtp());
  REQUIRE(with_mtp->Load(saved.dir + "/plain.dskv").ok());
  CheckStatus(with_mtp->MtpLogits(saved.tokens[20]).status(), StatusCode::kFailedPrecondition, {"without enable_mtp"});

  // An empty session saves and loads too.
  auto empty = NewSession(Options(1));
  REQUIRE(empty->Save(saved.dir + "/empty.dskv").ok());
  REQUIRE(loaded->Load(saved.dir + "/empty.dskv").ok());
  CHECK(loaded->position() == 0);
  CHECK(loaded->logits().empty());
}

TEST_CASE("sequence file: truncated, corrupted, foreign and missing files are refused") {
  const Saved saved;
  const std::string bytes = ReadFile(saved.path);
  REQUIRE(bytes.size() > 1000);

  SUBCASE("missing") { CheckRefused(saved.dir + "/none.dskv", StatusCode::kNotFound, {"none.dskv", "does not exist"}); }
  SUBCASE("truncated anywhere") {
    for (size_t cut : {size_t{0}, size_t{10}, size_t{63}, size_t{64}, size_t{80}, bytes.size() / 3, bytes.size() - 1}) {
      CAPTURE(cut);
      const std::string path = WriteFile(saved.dir + "/cut.dskv", bytes.substr(0, cut));
      CheckRefused(path, StatusCode::kCorruptFile, {"cut.dskv"});
    }
  }
  SUBCASE("a flipped bit anywhere") {
    for (size_t at : {size_t{3}, size_t{20}, size_t{40}, size_t{70}, size_t{200}, bytes.size() / 2, bytes.size() - 2}) {
      CAPTURE(at);
      std::string damaged = bytes;
      damaged[at] = static_cast<char>(damaged[at] ^ 0x10);
      const std::string path = WriteFile(saved.dir + "/flip.dskv", damaged);
      auto s = Busy();
      const Status st = s->Load(path);
      CHECK_FALSE(st.ok());
      CHECK(s->position() == 5);
      // Magic, checksums and lengths catch every flip; at 20 the fingerprint changes.
      CHECK((st.code() == StatusCode::kCorruptFile || (at == 20 && st.code() == StatusCode::kInvalidArgument)));
    }
  }
  SUBCASE("another model's file") {
    tinygen::TinySpec spec = tinygen::TinySpec::FlashTiny();
    spec.seed = 2;  // the same shapes, other weights
    const std::string other_dir = TempDir("sequence-file-other-model");
    tinygen::WriteTinyCheckpoint(spec, other_dir);
    auto other = Model::Load(other_dir);
    REQUIRE(other.ok());
    auto s = Session::Create(other.value(), Options(1));
    REQUIRE(s.ok());
    CheckStatus(s.value()->Load(saved.path), StatusCode::kInvalidArgument, {"another model"});
    CHECK(s.value()->position() == 0);
  }
  SUBCASE("another format version") {
    format::Fingerprint model;
    std::memcpy(model.data(), bytes.data() + 16, 16);
    const std::vector<uint8_t> newer = format::SectionWriter().Finish({"DSKVSEQ1", 2, model, "9.9.9"});
    const std::string path = WriteFile(saved.dir + "/newer.dskv", std::string(newer.begin(), newer.end()));
    CheckRefused(path, StatusCode::kUnsupported, {"format version 2"});
  }
}

}  // namespace
}  // namespace deepseek::testing
