// deepseek-tokenize: token ids for JSON Lines text, with the tokenizer the library uses.
//   deepseek-tokenize --tokenizer FILE < in.jsonl > out.jsonl
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "deepseek/tokenizer.h"

namespace {

[[noreturn]] void Usage(const std::string& why, int code) {
  (code == 0 ? std::cout : std::cerr)
      << (code == 0 ? "" : "deepseek-tokenize: " + why + "\n")
      << "usage: deepseek-tokenize --tokenizer FILE|DIR < input.jsonl > output.jsonl\n"
      << "  Reads one JSON object {\"text\": \"...\"} per line from stdin and writes one line\n"
      << "  {\"ids\": [...]} per input line to stdout: the token ids of the text, without BOS or\n"
      << "  any other added id (added-token text in the input is still matched). A line that is\n"
      << "  not such an object, or whose text is not valid UTF-8, gives {\"error\": \"...\"} on\n"
      << "  stdout (so output lines stay aligned with input lines) and a message on stderr; the\n"
      << "  exit status is then 1. Blank lines are skipped. Exit status 2: bad arguments or an\n"
      << "  unloadable tokenizer.\n";
  std::exit(code);
}

}  // namespace

int main(int argc, char** argv) {
  std::string path;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") Usage("", 0);
    if (flag != "--tokenizer" || i + 1 >= argc) Usage("unknown flag or missing value: " + flag, 2);
    path = argv[++i];
  }
  if (path.empty()) Usage("--tokenizer is required", 2);
  auto tok = deepseek::Tokenizer::Load(path);
  if (!tok.ok()) {
    std::cerr << "deepseek-tokenize: " << tok.status().ToString() << "\n";
    return 2;
  }

  int failures = 0;
  long long line_no = 0;
  for (std::string line; std::getline(std::cin, line);) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::string error;
    nlohmann::json out;
    // nlohmann rejects invalid UTF-8 in JSON strings, so such text fails here, naming the line.
    const auto in = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!in.is_object() || !in.contains("text") || !in["text"].is_string()) {
      error = "expected a JSON object with a string field \"text\"";
    } else {
      auto ids = tok.value()->Encode(in["text"].get_ref<const std::string&>());
      if (ids.ok()) out["ids"] = ids.value();
      else error = ids.status().ToString();
    }
    if (!error.empty()) {
      ++failures;
      std::cerr << "deepseek-tokenize: line " << line_no << ": " << error << "\n";
      out = nlohmann::json{{"error", "line " + std::to_string(line_no) + ": " + error}};
    }
    std::cout << out.dump() << "\n";
  }
  return failures == 0 ? 0 : 1;
}
