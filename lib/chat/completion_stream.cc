// CompletionStream: splits streamed completion text into channels at the markers of FORMAT.md §8,
// holding back only the bytes that could still turn out to be a marker (or a cut character).
#include <algorithm>
#include <span>

#include "chat/tokens.h"
#include "core/utf8.h"
#include "deepseek/chat.h"

namespace deepseek {
namespace {

using chat::kEos;
using chat::kThinkEnd;
using chat::kToolCallsStart;

// The markers that end each channel. Reasoning ends only at </think> (or EOS): tool calls
// before </think> are malformed, and their text is left in the reasoning.
std::span<const std::string_view> Markers(ChatChannel channel) {
  static constexpr std::string_view kReasoning[] = {kThinkEnd, kEos};
  static constexpr std::string_view kContent[] = {kEos, kToolCallsStart};
  static constexpr std::string_view kToolCall[] = {kEos};
  switch (channel) {
    case ChatChannel::kReasoning: return kReasoning;
    case ChatChannel::kContent: return kContent;
    case ChatChannel::kToolCall: return kToolCall;
  }
  return {};
}

// Where the text from `from` on stops being certain: the first byte that starts a proper prefix
// of a marker running to the end, or of a character cut off at the end.
std::size_t CertainEnd(std::string_view text, std::size_t from, std::span<const std::string_view> markers) {
  const std::size_t end = text.size() - IncompleteUtf8Tail(text.substr(from));
  std::size_t longest = 0;
  for (std::string_view m : markers) longest = std::max(longest, m.size());
  for (std::size_t at = std::max(from, text.size() - std::min(text.size(), longest - 1)); at < end; ++at) {
    const std::string_view tail = text.substr(at);
    if (std::any_of(markers.begin(), markers.end(),
                    [&](std::string_view m) { return tail.size() < m.size() && m.starts_with(tail); })) {
      return at;
    }
  }
  return end;
}

}  // namespace

CompletionStream::CompletionStream(bool thinking)
    : thinking_(thinking), channel_(thinking ? ChatChannel::kReasoning : ChatChannel::kContent) {}

std::vector<CompletionStream::Piece> CompletionStream::Push(std::string_view text) {
  std::vector<Piece> pieces;
  if (ended_) return pieces;
  text_.append(text);
  const auto emit = [&](std::size_t end) {
    if (end > decided_) pieces.push_back({channel_, text_.substr(decided_, end - decided_)});
    decided_ = end;
  };
  for (;;) {
    const std::span<const std::string_view> markers = Markers(channel_);
    std::size_t at = std::string::npos;
    std::string_view marker;
    for (std::string_view m : markers) {
      const std::size_t found = text_.find(m, decided_);
      if (found < at) at = found, marker = m;
    }
    if (at == std::string::npos) {
      emit(CertainEnd(text_, decided_, markers));
      return pieces;
    }
    emit(at);
    if (marker == kEos) {
      decided_ += kEos.size();
      text_.resize(decided_);  // the turn is over: later text belongs to no reply
      ended_ = true;
      return pieces;
    }
    if (marker == kThinkEnd) {
      decided_ += kThinkEnd.size();
      channel_ = ChatChannel::kContent;
    } else {
      // The blank line separates; the block from <｜DSML｜tool_calls on is the tool-call text.
      decided_ += chat::kToolCallsSeparatorSize;
      channel_ = ChatChannel::kToolCall;
    }
  }
}

bool CompletionStream::ended() const { return ended_; }

std::vector<CompletionStream::Piece> CompletionStream::Flush() {
  std::vector<Piece> pieces;
  if (!ended_ && decided_ < text_.size()) pieces.push_back({channel_, text_.substr(decided_)});
  decided_ = text_.size();
  return pieces;
}

Result<ChatMessage> CompletionStream::Finish() const { return ParseCompletion(text_, thinking_); }

const std::string& CompletionStream::text() const { return text_; }

}  // namespace deepseek
