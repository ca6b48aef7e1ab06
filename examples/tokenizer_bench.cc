// deepseek-bench-tokenizer: single-thread encode and decode throughput on a few MB of mixed text
// (English prose, C++ and Python, Chinese, Japanese, numbers, emoji), or on a given file.
//   deepseek-bench-tokenizer --tokenizer FILE [--mb N] [--text FILE]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "deepseek/tokenizer.h"

namespace {

// Samples of the kinds of text a chat model sees; repeated to the requested size.
constexpr std::string_view kSamples[] = {
    "The quick brown fox jumps over the lazy dog. In 2024, the committee approved 1,250 new "
    "proposals; most of them (about 73%) concerned infrastructure, schools and hospitals.\n\n",
    "#include <vector>\nint Sum(const std::vector<int>& v) {\n    int total = 0;\n    for (int x : v) "
    "total += x;  // accumulate\n    return total;\n}\n",
    "def parse(path: str) -> dict[str, int]:\n    with open(path) as f:\n        return {k: int(v) for k, v "
    "in (line.split('=') for line in f)}\n\n",
    "深度求索发布了新的大语言模型，它在数学、代码和推理任务上表现出色。我们在北京时间上午十点进行了测试。\n",
    "東京の天気は晴れです。明日は雨が降るかもしれません。カタカナとひらがなを混ぜた文章。\n",
    "Emoji and symbols: 🚀🔥 👍🏽 ❤️ 👨‍👩‍👧 — “quoted” text, naïve café, Ελληνικά, русский текст.\n",
    "{\"id\": 42, \"values\": [3.14159, 2.71828, 1.41421], \"name\": \"example\", \"ok\": true}\n",
};

std::string MixedText(size_t bytes) {
  std::string text;
  text.reserve(bytes + 1024);
  while (text.size() < bytes) {
    for (const std::string_view s : kSamples) text += s;
  }
  return text;
}

[[noreturn]] void Usage(const std::string& why) {
  std::cerr << "deepseek-bench-tokenizer: " << why << "\n"
            << "usage: deepseek-bench-tokenizer --tokenizer FILE [--mb N] [--text FILE]\n"
            << "  Encodes N MB (default 8) of built-in mixed text, or the bytes of --text FILE, on one\n"
            << "  thread, then decodes the ids, and prints bytes, tokens, times and MB/s.\n";
  std::exit(2);
}

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::string tokenizer_path, text_path;
  double mb = 8;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") Usage("help");
    if (i + 1 >= argc) Usage("missing value for " + flag);
    const std::string v = argv[++i];
    if (flag == "--tokenizer") tokenizer_path = v;
    else if (flag == "--text") text_path = v;
    else if (flag == "--mb") mb = std::atof(v.c_str());
    else Usage("unknown flag " + flag);
  }
  if (tokenizer_path.empty() || mb <= 0) Usage("--tokenizer is required and --mb must be positive");

  auto tok = deepseek::Tokenizer::Load(tokenizer_path);
  if (!tok.ok()) {
    std::cerr << tok.status().ToString() << "\n";
    return 1;
  }
  std::string text;
  if (text_path.empty()) {
    text = MixedText(static_cast<size_t>(mb * 1024 * 1024));
  } else {
    std::ifstream in(text_path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    if (!in) Usage("cannot read " + text_path);
    text = s.str();
  }

  const auto t0 = std::chrono::steady_clock::now();
  auto ids = tok.value()->Encode(text);
  const double encode_s = Seconds(t0);
  if (!ids.ok()) {
    std::cerr << ids.status().ToString() << "\n";
    return 1;
  }
  const auto t1 = std::chrono::steady_clock::now();
  auto decoded = tok.value()->Decode(ids.value());
  const double decode_s = Seconds(t1);
  if (!decoded.ok() || decoded.value() != text) {
    std::cerr << "decode(encode(text)) differs from the text\n";
    return 1;
  }
  const double mib = static_cast<double>(text.size()) / (1024.0 * 1024.0);
  std::printf("text: %zu bytes, %zu tokens (%.2f bytes/token)\n", text.size(), ids.value().size(),
              static_cast<double>(text.size()) / static_cast<double>(ids.value().size()));
  std::printf("encode: %.3f s, %.1f MB/s (1 thread)\n", encode_s, mib / encode_s);
  std::printf("decode: %.3f s, %.1f MB/s (1 thread)\n", decode_s, mib / decode_s);
  return 0;
}
