// Reusing computed work across prompts: a new prompt resumes from the longest start of it that
// is already computed — the session itself when the prompt extends what it holds, otherwise a
// snapshot taken on an earlier prompt's way (a chat turn re-renders the previous reply
// differently from how it was generated, e.g. without its reasoning, so the session's own
// tail is often unusable while the point before the reply is not), or a prefix that any
// session of the same KV cache left in its prefix cache (where the marks' snapshots go too).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "deepseek/session.h"
#include "deepseek/status.h"

namespace deepseek {

class PrefixReuse {
 public:
  // Puts `session` at the longest reusable start of `prompt` (restoring a snapshot, or
  // resetting when nothing fits) and returns its length.
  Result<int64_t> Resume(Session& session, std::span<const int32_t> prompt);

  // Prefills the rest of `prompt` (from session.position()), taking a snapshot at each of
  // `marks` (positions, ascending) on the way. Snapshots that `prompt` no longer starts with
  // are dropped. A cancelled prefill keeps its finished chunks and returns kCancelled.
  Status Advance(Session& session, std::span<const int32_t> prompt, std::span<const int64_t> marks);

 private:
  static constexpr size_t kKeep = 2;  // snapshots kept, the latest first
  std::vector<SessionSnapshot> snapshots_;
};

}  // namespace deepseek
