#include "chat/completion_parser.h"

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "chat/python_json.h"
#include "chat/tokens.h"
#include "chat/text_checks.h"
#include "core/error.h"
#include "core/utf8.h"

namespace deepseek::chat {
namespace {

[[noreturn]] void Malformed(std::size_t at, const std::string& what) {
  Fail(StatusCode::kInvalidArgument, "completion byte " + std::to_string(at) + ": " + what);
}

std::string Quote(std::string_view text) {
  std::string out;
  AppendJsonString(text.substr(0, 80), out);
  return text.size() > 80 ? out + "..." : out;
}

// Walks the completion the way the reference does: each step reads up to the earliest of a few
// stop strings and consumes it.
class Reader {
 public:
  struct Read {
    std::string_view text;  // what came before the stop (or the rest, when none was found)
    int stop;               // index of the stop found in the list, or -1
    std::size_t at;         // where `text` starts
  };

  explicit Reader(std::string_view text) : text_(text) {}

  Read ReadUntil(std::initializer_list<std::string_view> stops) {
    std::size_t best = std::string_view::npos;
    int which = -1;
    int i = 0;
    for (std::string_view stop : stops) {
      const std::size_t at = text_.find(stop, pos_);
      if (at < best) best = at, which = i;
      ++i;
    }
    const std::size_t start = pos_;
    if (which < 0) {
      pos_ = text_.size();
      return {text_.substr(start), -1, start};
    }
    pos_ = best + std::data(stops)[which].size();
    return {text_.substr(start, best - start), which, start};
  }

  bool at_end() const { return pos_ == text_.size(); }
  std::size_t pos() const { return pos_; }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

// The name in an invoke head, which must match ^\s*name="(.*?)">\n$ (Python, DOTALL). `$` also
// matches before a final newline, so the head may end in ">\n\n" (an invoke with no parameters).
std::string InvokeName(const Reader::Read& head) {
  std::string_view text = head.text;
  while (!text.empty()) {
    const Utf8Step c = ReadUtf8(reinterpret_cast<const uint8_t*>(text.data()), text.size());
    if (c.kind != Utf8Step::kValid || !IsPythonSpace(c.cp)) break;
    text.remove_prefix(c.length);
  }
  constexpr std::string_view kPrefix = "name=\"";
  if (text.starts_with(kPrefix)) {
    const std::string_view rest = text.substr(kPrefix.size());
    if (rest.ends_with("\">\n")) return std::string(rest.substr(0, rest.size() - 3));
    if (rest.ends_with("\">\n\n")) return std::string(rest.substr(0, rest.size() - 4));
  }
  Malformed(head.at, "expected name=\"...\">\\n in a tool invoke, found " + Quote(head.text));
}

struct Parameter {
  std::string name;
  bool is_string;
  std::string value;
};

// A parameter body, which must match ^ name="(.*?)" string="(true|false)">(.*?)<$ (Python,
// DOTALL): the name ends at the first `" string="true|false">` that leaves room for the value,
// and the value runs to the final "<" (or "<\n", as `$` allows a final newline).
Parameter ParseParameter(const Reader::Read& body) {
  const std::string_view text = body.text;
  constexpr std::string_view kPrefix = " name=\"";
  std::size_t value_end = std::string_view::npos;
  if (text.ends_with("<")) value_end = text.size() - 1;
  else if (text.ends_with("<\n")) value_end = text.size() - 2;
  if (text.starts_with(kPrefix) && value_end != std::string_view::npos) {
    constexpr std::string_view kMiddle = "\" string=\"";
    for (std::size_t at = text.find(kMiddle, kPrefix.size()); at != std::string_view::npos;
         at = text.find(kMiddle, at + 1)) {
      const std::string_view flag = text.substr(at + kMiddle.size());
      const bool is_true = flag.starts_with("true\">");
      if (!is_true && !flag.starts_with("false\">")) continue;
      const std::size_t value_start = at + kMiddle.size() + (is_true ? 6 : 7);
      if (value_start > value_end) break;  // later candidates start later still
      return {std::string(text.substr(kPrefix.size(), at - kPrefix.size())), is_true,
              std::string(text.substr(value_start, value_end - value_start))};
    }
  }
  Malformed(body.at, "expected name=\"...\" string=\"true|false\">...< in a tool parameter, found " + Quote(text));
}

// §8.4: {"key": value, ...}, string values JSON-encoded, the others as written.
std::string ArgumentsJson(const std::vector<Parameter>& parameters) {
  std::string out = "{";
  for (std::size_t i = 0; i < parameters.size(); ++i) {
    if (i) out += ", ";
    AppendJsonString(parameters[i].name, out);
    out += ": ";
    if (parameters[i].is_string) AppendJsonString(parameters[i].value, out);
    else out += parameters[i].value;
  }
  return out + "}";
}

void ExpectTagBreak(const Reader::Read& between, const char* before) {
  if (between.text != ">\n") {
    Malformed(between.at, std::string("expected \">\\n\" before ") + before + ", found " + Quote(between.text));
  }
}

// §8.3. Like the reference, the loop also ends when the text runs out after a whole invoke.
std::vector<ToolCall> ParseToolCalls(Reader& reader) {
  std::vector<ToolCall> calls;
  while (!reader.at_end()) {
    const Reader::Read lead = reader.ReadUntil({kInvokeOpen, kToolCallsClose});
    ExpectTagBreak(lead, "<｜DSML｜invoke or </｜DSML｜tool_calls>");
    if (lead.stop == 1) break;
    if (lead.stop < 0) Malformed(reader.pos(), "the tool calls end without </｜DSML｜tool_calls>");

    Reader::Read head = reader.ReadUntil({kParameterOpen, kInvokeClose});
    ToolCall call;
    call.name = InvokeName(head);
    std::vector<Parameter> parameters;
    for (int stop = head.stop; stop == 0;) {
      Parameter p = ParseParameter(reader.ReadUntil({kParameterClose}));
      // The reference copies a string="false" value into the arguments unchecked, so broken
      // JSON there would surface later in whoever reads the arguments; it is reported here.
      std::string json_error;
      if (!p.is_string && !ParseJson(p.value, &json_error)) {
        Malformed(reader.pos(), "parameter " + Quote(p.name) + " of " + Quote(call.name) +
                                    " is marked string=\"false\" but its value is not JSON (" + json_error +
                                    "): " + Quote(p.value));
      }
      for (const Parameter& q : parameters) {
        if (q.name == p.name)
          Malformed(reader.pos(), "duplicate parameter " + Quote(p.name) + " in " + Quote(call.name));
      }
      parameters.push_back(std::move(p));
      const Reader::Read next = reader.ReadUntil({kParameterOpen, kInvokeClose});
      ExpectTagBreak(next, "<｜DSML｜parameter or </｜DSML｜invoke");
      stop = next.stop;
    }
    call.arguments = ArgumentsJson(parameters);
    calls.push_back(std::move(call));
  }
  return calls;
}

// §8.5: special tokens never belong in the text parts.
void CheckNoSpecialTokens(std::string_view text, const char* part) {
  for (std::string_view token : {kBos, kEos, kThinkStart, kThinkEnd, kDsml}) {
    if (text.find(token) != std::string_view::npos) {
      Fail(StatusCode::kInvalidArgument,
           std::string("completion: the ") + part + " contains the special token " + std::string(token));
    }
  }
}

}  // namespace

ChatMessage ParseCompletionText(std::string_view completion, bool thinking) {
  CheckUtf8(completion, "completion");
  ChatMessage message;
  message.role = "assistant";
  Reader reader(completion);
  if (thinking) {
    const Reader::Read reasoning = reader.ReadUntil({kThinkEnd, kToolCallsStart});
    if (reasoning.stop != 0) {
      Malformed(reader.pos(), reasoning.stop < 0 ? "no </think> after the reasoning (thinking mode)"
                                                 : "tool calls before </think> (thinking mode)");
    }
    message.reasoning_content = reasoning.text;
  }
  const Reader::Read content = reader.ReadUntil({kEos, kToolCallsStart});
  message.content = content.text;
  if (content.stop == 1) {
    message.tool_calls = ParseToolCalls(reader);
    const Reader::Read tail = reader.ReadUntil({kEos});
    if (!tail.text.empty()) Malformed(tail.at, "text after the tool calls: " + Quote(tail.text));
  } else if (content.stop < 0) {
    Malformed(completion.size(), "no <｜end▁of▁sentence｜>: the completion is truncated");
  }
  if (!reader.at_end()) Malformed(reader.pos(), "text after <｜end▁of▁sentence｜>");
  CheckNoSpecialTokens(message.content, "content");
  CheckNoSpecialTokens(message.reasoning_content, "reasoning");
  return message;
}

}  // namespace deepseek::chat
