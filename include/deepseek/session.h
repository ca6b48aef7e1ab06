// deepseek::Session: one sequence being processed by a Model — its KV caches, compressor
// state and position. Use a session from one thread at a time; make one per sequence.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "deepseek/image.h"
#include "deepseek/kv_cache.h"
#include "deepseek/model.h"
#include "deepseek/status.h"

namespace deepseek {

struct SessionOptions {
  int num_threads = 0;            // worker threads; 0 = one per hardware core
  int64_t max_context = 0;        // tokens the session may hold; 0 = the model's maximum
  int64_t prefill_chunk = 512;    // long prompts are processed in chunks of this many tokens
  // Keep what the MTP head needs (see MtpLogits): the final streams of every position not yet
  // given to MtpLogits (hc_mult · hidden_size floats each), so call it after each step.
  bool enable_mtp = false;
  // Called after each prefill chunk with (tokens done, tokens total); return false to cancel.
  std::function<bool(int64_t done, int64_t total)> progress;
  // Where the KV caches live (a cache of the same model): sessions sharing one share its budget
  // and pages, so snapshots restore across them in O(pages). Null: a cache of the session's
  // own, without a budget.
  std::shared_ptr<KvCache> kv_cache;
};

class Session;

// What a session's computation has cost since it was created (Reset keeps counting). The
// weight figures count every weight matrix an operator read, once per read, with its scales.
struct SessionStats {
  int64_t tokens_processed = 0;   // tokens fed to the main model (prefill and decode)
  uint64_t weight_bytes_read = 0; // stored weight bytes streamed by the matrix operators
  uint64_t matmul_flops = 0;      // 2 · inputs · rows · cols over the matrix operators
  double matmul_seconds = 0;      // wall time spent inside the matrix operators
  struct Format {                 // the same, per stored weight format
    std::string name;             // "f32", "bf16", "fp8_block128", "mxfp4"
    uint64_t weight_bytes_read = 0;
    double seconds = 0;
    int64_t calls = 0;
  };
  std::vector<Format> by_format;  // formats the session has read, in enum order
  uint64_t kv_bytes = 0;          // KV cache pages the sequence holds now (shared ones included)
  uint64_t indexer_macs = 0;      // the CSA indexer's query·key multiply-adds
  double indexer_seconds = 0;     // wall time spent scoring them
};

// A saved copy of one session's sequence — caches, compressor state, consumed tokens and the
// last logits — taken by Session::Snapshot and put back by Session::Restore. A chat uses it to
// return to the end of an earlier prompt instead of recomputing the conversation. The caches'
// pages are shared with the session, not copied (a page is copied only when one side writes
// it); the fixed-size compressor state is copied. Immutable and cheap to copy itself.
class SessionSnapshot {
 public:
  int64_t position() const;             // tokens the sequence held
  std::span<const int32_t> tokens() const;
  // Memory the snapshot keeps alive: its own copies plus the cache pages it references.
  uint64_t bytes() const;

 private:
  friend class Session;
  friend struct SnapshotAccess;
  struct Data;
  std::shared_ptr<const Data> data_;
};

class Session {
 public:
  static Result<std::unique_ptr<Session>> Create(std::shared_ptr<const Model> model,
                                                 const SessionOptions& options = {});
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Appends tokens to the sequence and computes the logits after the last one. Any split of
  // a prompt into Prefill calls gives the same results. Token ids must be < vocab_size: an
  // invalid request, or one the KV cache's budget cannot hold (kResourceExhausted), leaves the
  // session unchanged; a cancelled one keeps the finished chunks (see position()) with their
  // logits; any other failure resets the session.
  Status Prefill(std::span<const int32_t> tokens);
  Status Decode(int32_t token) { return Prefill({&token, 1}); }

  // V4.1 with a vision tower: appends `image` as an image span (Model::ImagePositions(image)
  // positions, each holding the image token, whose embeddings come from the vision encoder and
  // the learned delimiters) and computes the logits after it. A model without vision is
  // kUnsupported; otherwise as Prefill. (Prefill refuses the image token itself in a V4.1
  // model: it marks image spans, which only PrefillImage makes.)
  Status PrefillImage(const Image& image);

  // Batched decoding: tokens[i] goes to sessions[i], all in one forward pass, so each weight
  // matrix is read once for the batch (the routed experts: once per expert in the union of
  // the tokens' routes) and a batch of a few sequences costs little more than one while decode
  // is bound by memory. Each session's logits (and MTP streams) are then bit-identical to those
  // of its own Decode. The sessions must be distinct, non-null and of one model; the pass runs
  // on the first session's threads and counts in its stats(). An invalid request (sizes, ids,
  // a session without room, kResourceExhausted) changes no session; any other failure resets
  // them all.
  static Status DecodeBatch(std::span<Session* const> sessions, std::span<const int32_t> tokens);

  // As Prefill, and `all_logits` [n, vocab] receives the logits after each of the tokens (a
  // speculative decoder verifies its drafts with them).
  Status PrefillAll(std::span<const int32_t> tokens, std::vector<float>& all_logits);
  // Speculative decoding's rollback of a rejected draft: forgets the last token of the last
  // call, which must have been a PrefillAll of two or more tokens, and its logits become those
  // after the token before it. Exact, and allowed only for a token that closed no compressor
  // block (CanDrop of its position) and was not read by MtpLogits; otherwise
  // kFailedPrecondition and nothing changes.
  Status DropLast();
  // Whether a token at `position` could be dropped again by DropLast once consumed.
  bool CanDrop(int64_t position) const;

  // Logits [vocab] after the last token consumed (empty before the first call).
  std::span<const float> logits() const;

  // Logits of the MTP head at the last position, given the token that follows it (the MTP
  // block conditions on it and predicts the token after). Requires enable_mtp. The next
  // Prefill must start with `next_token`, or later MTP calls fail with kFailedPrecondition.
  Result<std::vector<float>> MtpLogits(int32_t next_token);

  SessionStats stats() const;
  int64_t position() const;                 // tokens consumed so far
  int64_t capacity() const;                 // tokens the session may hold (max_context)
  std::span<const int32_t> tokens() const;  // the tokens consumed, in order
  const std::shared_ptr<KvCache>& kv_cache() const;  // where its caches live
  void Reset();                             // back to an empty sequence

  // Copies the sequence as it is now; Restore puts this session back to it (any session of
  // the same Model: a snapshot from another model is kInvalidArgument). MTP bookkeeping is
  // part of the copy. Both cost O(pages) within one KvCache; restoring into a session of
  // another KvCache copies the rows.
  Result<SessionSnapshot> Snapshot() const;
  Status Restore(const SessionSnapshot& snapshot);

  // Writes the sequence — caches in their packed formats, compressor state, tokens, logits, MTP
  // bookkeeping — to `path`: a versioned file naming this model (its checkpoint's fingerprint)
  // and the library version, with a checksum per section, written to a temporary file, synced
  // and renamed, so a crash never leaves a file that loads. A session of the same model in
  // another process can Load it and continue exactly as this one would.
  Status Save(const std::string& path) const;

  // For benchmarks of attention at depth: appends `tokens` positions whose caches hold random
  // (valid, packed) entries, written straight into the KV cache without running the model — a
  // real prefill of a million tokens takes hours. The token ids are random too; the logits are
  // cleared, and the next Prefill or Decode computes them. MTP positions are not filled.
  Status AppendSynthetic(int64_t tokens, uint64_t seed = 1);
  // Replaces the sequence with the one saved at `path`. A missing file (kNotFound), a truncated
  // or corrupted one (kCorruptFile), one saved with another model (kInvalidArgument) or by an
  // incompatible library (kUnsupported) is refused with its cause, and the session stays as it was.
  Status Load(const std::string& path);

 private:
  struct Impl;
  explicit Session(std::unique_ptr<Impl> impl);
  Status RunPrefill(std::span<const int32_t> tokens, std::vector<float>* all_logits);
  Status Guarded(const std::function<void()>& prefill);
  std::unique_ptr<Impl> impl_;
};

}  // namespace deepseek
