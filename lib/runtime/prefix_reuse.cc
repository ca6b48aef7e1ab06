#include "runtime/prefix_reuse.h"

#include <algorithm>
#include <optional>

namespace deepseek {
namespace {

bool StartsWith(std::span<const int32_t> prompt, std::span<const int32_t> prefix) {
  return prefix.size() <= prompt.size() && std::equal(prefix.begin(), prefix.end(), prompt.begin());
}

}  // namespace

Result<int64_t> PrefixReuse::Resume(Session& session, std::span<const int32_t> prompt) {
  int64_t best = StartsWith(prompt, session.tokens()) ? session.position() : -1;
  const SessionSnapshot* from = nullptr;
  for (const SessionSnapshot& s : snapshots_) {
    if (s.position() > best && StartsWith(prompt, s.tokens())) {
      best = s.position();
      from = &s;
    }
  }
  // A prefix that another session of the same KV cache computed (a server's other requests).
  std::optional<SessionSnapshot> shared;
  if (session.kv_cache()) shared = session.kv_cache()->FindPrefix(prompt, static_cast<int64_t>(prompt.size()));
  if (shared && shared->position() > best) {
    best = shared->position();
    from = &*shared;
  }
  if (best < 0) {
    session.Reset();
    return int64_t{0};
  }
  if (from) {
    if (Status st = session.Restore(*from); !st.ok()) return st;
  }
  return best;
}

Status PrefixReuse::Advance(Session& session, std::span<const int32_t> prompt, std::span<const int64_t> marks) {
  std::erase_if(snapshots_, [&](const SessionSnapshot& s) { return !StartsWith(prompt, s.tokens()); });
  const auto size = static_cast<int64_t>(prompt.size());
  for (int64_t mark : marks) {
    if (mark <= session.position() || mark > size) continue;
    const auto from = static_cast<size_t>(session.position());
    if (Status st = session.Prefill(prompt.subspan(from, static_cast<size_t>(mark) - from)); !st.ok()) return st;
    Result<SessionSnapshot> snapshot = session.Snapshot();
    if (!snapshot.ok()) return snapshot.status();
    std::erase_if(snapshots_, [&](const SessionSnapshot& s) { return s.position() == mark; });
    if (session.kv_cache()) {
      if (Status st = session.kv_cache()->AddPrefix(snapshot.value()); !st.ok()) return st;
    }
    snapshots_.push_back(std::move(snapshot).value());
  }
  // A snapshot holds its own copy of the compressor state, so only the latest few are kept:
  // those nearest the end of the prompt serve the next turn.
  std::sort(snapshots_.begin(), snapshots_.end(),
            [](const SessionSnapshot& a, const SessionSnapshot& b) { return a.position() > b.position(); });
  if (snapshots_.size() > kKeep) snapshots_.resize(kKeep);
  const auto from = static_cast<size_t>(session.position());
  if (from < prompt.size()) return session.Prefill(prompt.subspan(from));
  return Status::Ok();
}

}  // namespace deepseek
