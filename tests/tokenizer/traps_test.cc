// The traps listed in ../shared/tokenizer/golden/README.md, one small case each: the Unicode 16
// classes, the pre-tokenizer's splits, added-token matching and byte-level BPE.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/shared_tokenizers.h"
#include "tokenizer/unicode/char_class.h"

namespace deepseek {
namespace {

using tokenizer::CharClass;
using tokenizer::ClassOf;

std::vector<std::string> Pieces(std::string_view text) {
  std::vector<std::string> out;
  tokenizer::PreTokenize(text, [&](std::string_view piece) { out.emplace_back(piece); });
  return out;
}

using P = std::vector<std::string>;

std::vector<int32_t> EncodeV3(std::string_view text) {
  auto ids = testing::SharedTokenizer("deepseek-v3")->Encode(text);
  REQUIRE_MESSAGE(ids.ok(), ids.status().ToString());
  return ids.value();
}

int32_t IdV3(std::string_view token) {
  const auto id = testing::SharedTokenizer("deepseek-v3")->TokenId(token);
  REQUIRE(id.has_value());
  return *id;
}

TEST_CASE("unicode: Unicode 16 classes, not the system's Unicode 15") {
  CHECK(ClassOf(0x11F04) == CharClass::kLetter);  // Kawi
  CHECK(ClassOf(0x10D4A) == CharClass::kLetter);  // Garay (16.0)
  CHECK(ClassOf(0x1E5D0) == CharClass::kLetter);  // Ol Onal (16.0)
  CHECK(ClassOf(0x2EBF0) == CharClass::kLetter);  // CJK Ext-I (15.1)
  CHECK(ClassOf(0x0CF3) == CharClass::kMark);
  CHECK(ClassOf(0x1FAE9) == CharClass::kSymbol);  // 🫩 (16.0)
  CHECK(ClassOf(0x0378) == CharClass::kOther);    // unassigned
  CHECK(ClassOf(0xE000) == CharClass::kOther);    // private use
  CHECK(ClassOf(0x10FFFF) == CharClass::kOther);
  CHECK(ClassOf(0x110000) == CharClass::kOther);
  CHECK(ClassOf(0xB2) == CharClass::kNumber);   // ²
  CHECK(ClassOf(0x216B) == CharClass::kNumber);  // Ⅻ
  CHECK(ClassOf(0x0301) == CharClass::kMark);
}

TEST_CASE("unicode: \\s is the White_Space property") {
  for (uint32_t cp : {0x09u, 0x0Bu, 0x0Cu, 0x0Du, 0x20u, 0x85u, 0xA0u, 0x1680u, 0x2000u, 0x2028u, 0x2029u, 0x202Fu, 0x3000u}) {
    CAPTURE(cp);
    CHECK(ClassOf(cp) == CharClass::kSpace);
  }
  for (uint32_t cp : {0x1Cu, 0x1Du, 0x1Eu, 0x1Fu, 0x200Bu, 0xFEFFu, 0x180Eu}) {
    CAPTURE(cp);
    CHECK(ClassOf(cp) == CharClass::kOther);
  }
}

TEST_CASE("pre-tokenizer: split 1 is \\p{N}{1,3}, chunked from the left, any Unicode number") {
  CHECK(Pieces("12345") == P{"123", "45"});
  CHECK(Pieces("²½①Ⅻ") == P{"²½①", "Ⅻ"});
  CHECK(Pieces("x١٢٣٤y") == P{"x", "١٢٣", "٤", "y"});
  CHECK(Pieces("a 1") == P{"a", " ", "1"});  // the space is stranded before the number
}

TEST_CASE("pre-tokenizer: split 2 is the literal CJK/kana ranges, not \\p{Han}") {
  CHECK(Pieces("Hello! 毕老师") == P{"Hello", "!", " ", "毕老师"});
  CHECK(Pieces("中 文") == P{"中", " ", "文"});
  CHECK(Pieces("x一y") == P{"x", "一", "y"});
  CHECK(Pieces("x\u9FA6y") == P{"x\u9FA6y"});        // U+9FA6 is past the range: just a letter
  CHECK(Pieces("x\u3400y") == P{"x\u3400y"});        // Ext-A
  CHECK(Pieces("x\U00020000y") == P{"x\U00020000y"});  // Ext-B
  CHECK(Pieces("a\u3000b") == P{"a", "\u3000b"});    // ideographic space: \s, not CJK
  CHECK(Pieces("aｶb") == P{"aｶb"});                  // half-width katakana
  CHECK(Pieces("aー") == P{"a", "ー"});               // U+30FC is inside
}

TEST_CASE("pre-tokenizer: split 3 alternatives are ordered, not longest") {
  CHECK(Pieces("x.y.z") == P{"x", ".y", ".z"});
  CHECK(Pieces(".hidden") == P{".hidden"});
  CHECK(Pieces(".élan") == P{".", "élan"});  // the first alternative takes ASCII letters only
  CHECK(Pieces("'s") == P{"'s"});
  CHECK(Pieces("((abc") == P{"((", "abc"});
  CHECK(Pieces(";\n\n") == P{";\n\n"});       // punctuation absorbs the newlines after it
  CHECK(Pieces(" ;;\nx") == P{" ;;\n", "x"});
}

TEST_CASE("pre-tokenizer: whitespace runs leave their last space to the next word") {
  CHECK(Pieces("a   b") == P{"a", "  ", " b"});
  CHECK(Pieces("    int") == P{"   ", " int"});
  CHECK(Pieces("a  ") == P{"a", "  "});  // at the end of the piece the whole run matches
  CHECK(Pieces("a \n  b") == P{"a", " \n", " ", " b"});
  CHECK(Pieces("\r\n") == P{"\r\n"});
  CHECK(Pieces("a \t") == P{"a", " \t"});
}

TEST_CASE("pre-tokenizer: optional lead character and gap pieces") {
  CHECK(Pieces("a\uFEFF\uFEFF b") == P{"a", "\uFEFF\uFEFF", " b"});
  CHECK(Pieces("\x1Cy") == P{"\x1Cy"});
  CHECK(Pieces("\u0085x") == P{"\u0085x"});
  CHECK(Pieces("\tx") == P{"\tx"});
  CHECK(Pieces("\nx") == P{"\n", "x"});  // CR and LF never lead
  CHECK(Pieces("\u0378x") == P{"\u0378x"});  // unassigned: "other"
  CHECK(Pieces("\uE000") == P{"\uE000"});
  CHECK(Pieces("e\u0301") == P{"e\u0301"});
  CHECK(Pieces(std::string_view("\0a", 2)) == P{std::string("\0a", 2)});
  CHECK(Pieces("a\U0001FAE9") == P{"a", "\U0001FAE9"});
}

TEST_CASE("encode: byte-level alphabet ids") {
  CHECK(EncodeV3("!") == std::vector<int32_t>{3});
  CHECK(EncodeV3(" ") == std::vector<int32_t>{223});
  CHECK(EncodeV3("a") == std::vector<int32_t>{67});
  CHECK(EncodeV3("") == std::vector<int32_t>{});
  CHECK(EncodeV3("\r\n") == std::vector<int32_t>{IdV3("č"), IdV3("Ċ")});
  CHECK(EncodeV3(std::string_view("\0", 1)) == std::vector<int32_t>{IdV3("Ā")});
}

TEST_CASE("encode: added tokens are matched first, leftmost-longest, never merged across") {
  const int32_t user = IdV3("<｜User｜>");
  CHECK(user == 128803);
  CHECK(EncodeV3("<｜User｜><｜User｜>") == std::vector<int32_t>{user, user});
  CHECK(EncodeV3("<<｜User｜>>") == std::vector<int32_t>{IdV3("<"), user, IdV3(">")});
  CHECK(EncodeV3(" <｜User｜> ") == std::vector<int32_t>{223, user, 223});
  // Look-alikes stay text: ASCII '|', missing '▁', other case, truncated.
  for (const char* text : {"<|User|>", "<｜begin of sentence｜>", "<｜user｜>", "<｜User｜", "<｜ User｜>"}) {
    CAPTURE(text);
    for (const int32_t id : EncodeV3(text)) CHECK_FALSE(testing::SharedTokenizer("deepseek-v3")->IsAdded(id));
  }
}

TEST_CASE("encode: no normalization") {
  CHECK(EncodeV3("é") != EncodeV3("e\u0301"));
  CHECK(EncodeV3("Ａ") != EncodeV3("A"));
  CHECK(EncodeV3("Hello")[0] != EncodeV3(" Hello")[0]);  // no prefix space
}

TEST_CASE("encode: V4 added tokens") {
  const auto v4 = testing::SharedTokenizer("deepseek-v4");
  auto ids = v4->Encode("<｜User｜>你好<｜Assistant｜><think>推理</think>答案<｜end▁of▁sentence｜>");
  REQUIRE(ids.ok());
  CHECK(ids.value() == std::vector<int32_t>{128803, 30594, 128804, 128821, 36101, 128822, 7624, 1});
  CHECK(v4->vocab_size() == 129280);
  CHECK(testing::SharedTokenizer("deepseek-v3")->vocab_size() == 128815);
}

}  // namespace
}  // namespace deepseek
