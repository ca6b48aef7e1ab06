// Trains the tiny tokenizer's merges with plain greedy BPE (most frequent adjacent pair first,
// ties broken by token ids) over pre-tokenised words of an embedded English text, and writes
// the result in DeepSeek's tokenizer.json structure.
#include "tinygen/tokenizer_builder.h"

#include <array>
#include <cctype>
#include <map>
#include <nlohmann/json.hpp>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error.h"

namespace deepseek::tinygen {
namespace {

using Json = nlohmann::ordered_json;

// Plain ASCII prose written for this generator: everyday words repeat often enough for a few
// hundred to a few thousand merges, and punctuation, digits and line breaks exercise the
// pre-tokenizer.
constexpr std::string_view kTrainingText = R"(The river runs past the old mill and under the stone bridge before it turns toward the sea.
In the morning the water is cold and clear, and the fishermen walk down to the boats with their nets.
They talk about the weather, the price of bread, and the children who will start school next week.
A small dog follows them to the end of the road and then sits on the grass to watch the boats go out.

When the sun is high, the market opens in the square. There are apples, pears, onions, cheese and
fresh fish on the tables, and the smell of coffee comes from the cafe at the corner. People stop to
talk with their neighbours; nobody is in a hurry. An old man sells honey from his own bees, and he
tells everyone that this year the flowers came early, so the honey is lighter and sweeter than before.

In the afternoon the wind turns. Clouds gather over the hills to the west, and the light changes from
gold to grey. The teacher closes the windows of the school, the baker takes the last loaves out of the
oven, and the fishermen bring their boats back into the harbour. Rain starts to fall, first slowly and
then all at once, and the streets are empty except for a cat running home along the wall.

The library stays open until seven o'clock. Inside it is warm and quiet. A girl reads a book about
the stars; her brother is drawing a map of the town, with the river, the bridge, the mill, the school
and the market. He writes the names of the streets in small careful letters and asks the librarian how
to spell "harbour". She smiles and shows him the word in a dictionary that is older than both of them.

At night the rain stops. The sky clears and the stars come out, one after another, until there are
too many to count. The girl stands at the window and tries to find the ones she read about: the bright
one in the north, the three in a line, the faint cloud that is really a distant galaxy. Her mother
calls her to bed, but she asks for five more minutes, and then five more.

Numbers matter in a town like this. The bridge was built in 1887 and repaired in 1954. The school has
212 pupils and 14 teachers. The market opens at 8:30 and closes at 13:00 on Saturdays. The river is
about 40 kilometres long from the spring in the hills to the mouth at the sea, and in a dry summer it
is so shallow near the mill that children can walk across it without getting their knees wet.

Every autumn there is a festival. People carry lanterns down to the river and let them float toward the
sea. Some write wishes on the paper; others write the names of friends who have moved away. The lights
drift under the bridge, past the mill and out into the dark water, and for a while the whole river
shines. Then the music starts in the square, and everyone dances until the lanterns are too far away to see.

Questions are welcome here: What time does the train leave? Where can I buy a ticket? Is the museum open
on Monday? How far is it to the next village? The answers are simple (the train leaves at ten, tickets
are sold at the station, the museum is closed on Monday, and the next village is an hour away on foot),
but people like to ask, because asking is a way of starting a conversation.

Later, when the town is asleep, the river keeps running. It does not stop for the night or for the rain
or for the festival. It carries leaves, light and small stones from the hills to the sea, the same way
it did long before the bridge was built, and the same way it will long after the last boat is gone.
)";

// The GPT-2 byte-to-character map that byte-level BPE uses: printable Latin-1 bytes stand for
// themselves, the rest are moved to code points 256 and up so every token is visible text.
std::array<uint32_t, 256> ByteCodepoints() {
  std::array<uint32_t, 256> cp{};
  uint32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
    cp[b] = printable ? static_cast<uint32_t>(b) : next++;
  }
  return cp;
}

std::string Utf8(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xc0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    s += static_cast<char>(0xe0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    s += static_cast<char>(0x80 | (cp & 0x3f));
  }
  return s;
}

// Splits ASCII text the way DeepSeek's pre-tokenizer regexes do on ASCII input: digit runs of up
// to 3, a punctuation mark glued to the letters after it, words with one leading space,
// punctuation runs with an optional leading space and trailing newlines, and whitespace runs
// that leave their last space to the following word. Only merge training uses it.
std::vector<std::string_view> PreTokenize(std::string_view text) {
  const auto letter = [](char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; };
  const auto digit = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; };
  const auto punct = [](char c) { return std::ispunct(static_cast<unsigned char>(c)) != 0; };
  const auto newline = [](char c) { return c == '\n' || c == '\r'; };
  const auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  const size_t n = text.size();
  const auto at = [&](size_t i) { return i < n ? text[i] : '\0'; };

  std::vector<std::string_view> pieces;
  size_t i = 0;
  while (i < n) {
    const char c = text[i];
    size_t j = i + 1;
    if (digit(c)) {
      while (j < n && j < i + 3 && digit(text[j])) ++j;
    } else if (letter(c) || ((punct(c) || (space(c) && !newline(c))) && letter(at(i + 1)))) {
      while (j < n && letter(text[j])) ++j;
    } else if (punct(c) || (c == ' ' && punct(at(i + 1)))) {
      while (j < n && punct(text[j])) ++j;
      while (j < n && newline(text[j])) ++j;
    } else {
      size_t end = i;
      while (end < n && space(text[end])) ++end;
      size_t last_newline = end;
      for (size_t k = i; k < end; ++k)
        if (newline(text[k])) last_newline = k;
      if (last_newline < end) j = last_newline + 1;
      else j = (end < n && end - i >= 2) ? end - 1 : end;
    }
    pieces.push_back(text.substr(i, j - i));
    i = j;
  }
  return pieces;
}

struct Word {
  std::vector<int32_t> symbols;  // token ids
  int64_t count = 0;
};

struct Bpe {
  std::vector<std::string> tokens;  // byte-level text of each id
  std::vector<std::string> merges;  // "left right", in rank order
};

// Learns merges until the vocabulary has `target` entries or no adjacent pairs remain.
void Train(std::string_view text, size_t target, const std::array<int32_t, 256>& byte_token, Bpe& bpe) {
  std::map<std::string_view, int64_t> counts;  // ordered, so the word list is deterministic
  for (const std::string_view piece : PreTokenize(text)) ++counts[piece];
  std::vector<Word> words;
  for (const auto& [piece, count] : counts) {
    Word w;
    w.count = count;
    for (const char c : piece) w.symbols.push_back(byte_token[static_cast<uint8_t>(c)]);
    words.push_back(std::move(w));
  }
  std::unordered_map<std::string, int32_t> id_of;
  for (size_t id = 0; id < bpe.tokens.size(); ++id) id_of[bpe.tokens[id]] = static_cast<int32_t>(id);

  while (bpe.tokens.size() < target) {
    std::unordered_map<uint64_t, int64_t> pair_counts;
    for (const Word& w : words)
      for (size_t k = 0; k + 1 < w.symbols.size(); ++k)
        pair_counts[(static_cast<uint64_t>(w.symbols[k]) << 32) | static_cast<uint32_t>(w.symbols[k + 1])] += w.count;
    uint64_t best = 0;
    int64_t best_count = 0;
    for (const auto& [pair, count] : pair_counts)
      if (count > best_count || (count == best_count && pair < best)) best = pair, best_count = count;
    if (best_count == 0) break;

    const int32_t left = static_cast<int32_t>(best >> 32), right = static_cast<int32_t>(best & 0xffffffffu);
    const std::string merged = bpe.tokens[left] + bpe.tokens[right];
    bpe.merges.push_back(bpe.tokens[left] + " " + bpe.tokens[right]);
    // Two merge paths can spell the same string ("ab"+"c", "a"+"bc"); they share one id.
    auto [it, is_new] = id_of.try_emplace(merged, static_cast<int32_t>(bpe.tokens.size()));
    if (is_new) bpe.tokens.push_back(merged);
    for (Word& w : words) {
      std::vector<int32_t> out;
      out.reserve(w.symbols.size());
      for (size_t k = 0; k < w.symbols.size(); ++k) {
        if (k + 1 < w.symbols.size() && w.symbols[k] == left && w.symbols[k + 1] == right) {
          out.push_back(it->second);
          ++k;
        } else {
          out.push_back(w.symbols[k]);
        }
      }
      w.symbols = std::move(out);
    }
  }
}

Json AddedToken(int64_t id, const std::string& content, bool special) {
  // DeepSeek marks its chat-role tokens special=false, normalized=true; everything else the
  // other way round. Decoding with skip_special_tokens depends on it.
  return Json{{"id", id},           {"content", content}, {"single_word", false}, {"lstrip", false},
              {"rstrip", false},    {"normalized", !special}, {"special", special}};
}

Json PreTokenizerJson() {
  const auto split = [](const char* regex) {
    return Json{{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", "Isolated"}, {"invert", false}};
  };
  return Json{
      {"type", "Sequence"},
      {"pretokenizers",
       {split(R"(\p{N}{1,3})"), split("[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+"),
        split("[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+|"
              " ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"),
        Json{{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}}}}};
}

}  // namespace

std::string BuildTokenizerJson(int64_t vocab_size, std::span<const ExtraToken> extra) {
  const int64_t min_vocab = kMinTokenizerVocab + static_cast<int64_t>(extra.size());
  if (vocab_size < min_vocab) {
    Fail(StatusCode::kInvalidArgument, "vocab_size " + std::to_string(vocab_size) +
                                           " is too small for a byte-level tokenizer (minimum " +
                                           std::to_string(min_vocab) + ")");
  }
  const std::string kSpecials[3] = {"<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜▁pad▁｜>"};
  const std::string kChat[5] = {"<｜User｜>", "<｜Assistant｜>", "<think>", "</think>", "｜DSML｜"};
  const int64_t first_chat = vocab_size - 5 - static_cast<int64_t>(extra.size());

  Bpe bpe;
  for (const std::string& s : kSpecials) bpe.tokens.push_back(s);
  // Byte tokens in code-point order of their characters, as in DeepSeek's vocabulary.
  const std::array<uint32_t, 256> cp = ByteCodepoints();
  std::array<int32_t, 256> byte_token{};
  for (uint32_t c = 0; bpe.tokens.size() < 3 + 256; ++c) {
    for (int b = 0; b < 256; ++b) {
      if (cp[b] != c) continue;
      byte_token[b] = static_cast<int32_t>(bpe.tokens.size());
      bpe.tokens.push_back(Utf8(c));
    }
  }
  Train(kTrainingText, static_cast<size_t>(first_chat), byte_token, bpe);

  Json vocab = Json::object();
  for (size_t id = 0; id < bpe.tokens.size(); ++id) vocab[bpe.tokens[id]] = id;
  Json added = Json::array();
  for (int id = 0; id < 3; ++id) added.push_back(AddedToken(id, kSpecials[id], true));
  for (int64_t id = static_cast<int64_t>(bpe.tokens.size()); id < first_chat; ++id) {
    const int64_t n = id - static_cast<int64_t>(bpe.tokens.size());
    added.push_back(AddedToken(id, "<｜place▁holder▁no▁" + std::to_string(n) + "｜>", true));
  }
  for (int k = 0; k < 5; ++k) added.push_back(AddedToken(first_chat + k, kChat[k], k >= 2));
  for (size_t k = 0; k < extra.size(); ++k) {
    added.push_back(AddedToken(first_chat + 5 + static_cast<int64_t>(k), extra[k].content, extra[k].special));
  }

  Json doc = Json::object();
  doc["version"] = "1.0";
  doc["truncation"] = nullptr;
  doc["padding"] = nullptr;
  doc["added_tokens"] = std::move(added);
  doc["normalizer"] = {{"type", "Sequence"}, {"normalizers", Json::array()}};
  doc["pre_tokenizer"] = PreTokenizerJson();
  doc["post_processor"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false}, {"use_regex", true}};
  doc["decoder"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}};
  doc["model"] = {{"type", "BPE"},
                  {"dropout", nullptr},
                  {"unk_token", nullptr},
                  {"continuing_subword_prefix", nullptr},
                  {"end_of_word_suffix", nullptr},
                  {"fuse_unk", false},
                  {"byte_fallback", false},
                  {"vocab", std::move(vocab)},
                  {"merges", std::move(bpe.merges)}};
  return doc.dump(2) + "\n";
}

std::string BuildTokenizerConfigJson() {
  const auto token = [](const char* content) {
    return Json{{"__type", "AddedToken"}, {"content", content}, {"lstrip", false},
                {"normalized", true},     {"rstrip", false},     {"single_word", false}};
  };
  const Json config = {{"add_bos_token", false},
                       {"add_eos_token", false},
                       {"bos_token", token("<｜begin▁of▁sentence｜>")},
                       {"clean_up_tokenization_spaces", false},
                       {"eos_token", token("<｜end▁of▁sentence｜>")},
                       {"legacy", true},
                       {"model_max_length", 1048576},
                       {"pad_token", token("<｜end▁of▁sentence｜>")},
                       {"sp_model_kwargs", Json::object()},
                       {"unk_token", nullptr},
                       {"tokenizer_class", "PreTrainedTokenizerFast"}};
  return config.dump(2) + "\n";
}

}  // namespace deepseek::tinygen
