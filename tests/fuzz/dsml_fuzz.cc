// libFuzzer target for the chat format. The first input byte picks the mode and where the text
// is cut into two pushes; the rest is a completion for ParseCompletion and CompletionStream, and
// also a request for EncodeChatRequestJson. Nothing may crash or trip a sanitizer, and whenever
// the strict parse accepts the completion the streamed channels must agree with it.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "deepseek/chat.h"

namespace {

constexpr std::string_view kEos = "<｜end▁of▁sentence｜>";

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

void FuzzCompletion(std::string_view text, bool thinking, std::size_t cut) {
  const deepseek::Result<deepseek::ChatMessage> parsed = deepseek::ParseCompletion(text, thinking);
  deepseek::CompletionStream stream(thinking);
  std::string channel[3];
  for (std::string_view part : {text.substr(0, cut), text.substr(cut)}) {
    for (const deepseek::CompletionStream::Piece& p : stream.Push(part)) {
      Check(!p.text.empty() && p.text.find(kEos) == std::string::npos);
      channel[static_cast<int>(p.channel)] += p.text;
    }
  }
  Check(stream.text() == text.substr(0, stream.text().size()));
  if (!parsed.ok()) return;
  Check(channel[static_cast<int>(deepseek::ChatChannel::kReasoning)] == parsed.value().reasoning_content);
  Check(channel[static_cast<int>(deepseek::ChatChannel::kContent)] == parsed.value().content);
  // The stream stops at the first EOS; only when that is the end does it hold the whole text.
  if (stream.text().size() == text.size()) {
    const deepseek::Result<deepseek::ChatMessage> finished = stream.Finish();
    Check(finished.ok() &&
          deepseek::ChatMessageToJson(finished.value()) == deepseek::ChatMessageToJson(parsed.value()));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::size_t cut = text.empty() ? 0 : (data[0] >> 1) * text.size() / 127;
  FuzzCompletion(text, (data[0] & 1) != 0, cut);
  FuzzCompletion(text, (data[0] & 1) == 0, text.size() - cut);
  (void)deepseek::EncodeChatRequestJson(text);
  return 0;
}
