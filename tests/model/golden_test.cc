// The V4 forward pass against the official reference's goldens (../shared/golden/v4), with the
// agreement rules of its README: strict per-layer checks with the reference's discrete choices
// imposed, free-running checks of logits and selections, caches, and chunked prefill.
#include <doctest/doctest.h>

#include <cmath>
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>

#include "core/numerics.h"
#include "model/config_parser.h"
#include "model/golden.h"
#include "support/shared_data.h"

namespace deepseek::testing {
namespace {

struct Case {
  std::string dir;
  std::unique_ptr<model::Transformer> net;
  ThreadPool pool{2};
  std::unique_ptr<backend::Stream> stream;

  explicit Case(const std::string& name) : dir(SharedDir() + "/golden/v4/" + name) {
    const std::string ckpt = dir + "/ckpt";
    net = std::make_unique<model::Transformer>(model::LoadConfig(ckpt), format::Checkpoint::Open(ckpt));
    stream = backend::Registry::Get().Cpu().CreateStream(pool);
  }
  int64_t vocab() const { return net->config().vocab_size; }
};

// Bf16 tolerance of the strict checks: the reference rounds every activation to bf16 (relative
// step 2^-8) and sums in another order, so continuous outputs agree to about 1e-2.
constexpr double kStrictRel = 1.5e-2;

// Every golden run with per-layer data: (case, run).
constexpr std::pair<const char*, const char*> kRuns[] = {
    {"flash_tiny", "main"}, {"flash_tiny", "short"}, {"pro_tiny", "main"}, {"flash_r128", "main"}, {"flash_r128", "short"}};


// One quantisation step at the magnitude of v in a block whose largest magnitude is amax:
// e4m3 (3 mantissa bits; subnormal step s·2^-9) for the main KV — its bf16 RoPE dims are held
// to the same step — and e2m1 (steps of s/2, s, 2s) for the FP4 indexer keys. Elements far
// below the block maximum are also allowed one bf16 step of that maximum: they come out of a
// norm or a rotation of larger values and inherit those values' absolute rounding.
double QuantStep(double v, double amax, bool fp4) {
  v = std::fabs(v);
  if (fp4) {
    const double s = num::Pow2Ceil(static_cast<float>(std::max(amax, 6 * 0x1p-126) / 6));
    return v < 2 * s ? s / 2 : v < 4 * s ? s : 2 * s;
  }
  const double s = num::Pow2Ceil(static_cast<float>(std::max(amax, 1e-4) / 448));
  const double normal = v > 0 ? std::ldexp(1.0, std::ilogb(v) - 3) : 0;
  return std::max(normal, s * 0x1p-9);
}

// Caches of `layer` against the run's final golden caches: every element within one
// quantisation step, for the rows made from positions >= from_pos (window slots, and
// compressed entries whose pooled positions all lie there; an overlapping entry also pools the
// block before its own).
void CheckCaches(const std::string& name, backend::Stream& stream, const model::SequenceState& st, const GoldenRun& run,
                 const Recorder& rec, int layer, int64_t from_pos) {
  const ModelConfig& c = st.config();
  const auto compare = [&](const std::string& key, const float* mine, int64_t first_row, int64_t rows, int64_t width,
                           int block, bool fp4) {
    const Array& ref = run.Get(key);
    if (first_row >= rows) return;
    REQUIRE(ref.rows() >= rows);
    REQUIRE(ref.row_size() == width);
    int64_t beyond = 0, differ = 0;
    for (int64_t r = first_row; r < rows; ++r) {
      for (int64_t b0 = 0; b0 < width; b0 += block) {
        double amax = 0;
        for (int64_t i = b0; i < b0 + block; ++i) amax = std::max(amax, static_cast<double>(std::fabs(ref.row(r)[i])));
        for (int64_t i = b0; i < b0 + block; ++i) {
          const double a = mine[r * width + i], b = ref.row(r)[i];
          differ += a != b;
          const double step = std::max(QuantStep(std::max(std::fabs(a), std::fabs(b)), amax, fp4), amax * 0x1p-8);
          beyond += std::fabs(a - b) > step * (1 + 1e-6);
        }
      }
    }
    MESSAGE(name << " cache " << key << " rows " << first_row << ".." << rows - 1 << ": " << differ << "/"
                 << (rows - first_row) * width << " elements differ, " << beyond << " by more than one quantisation step");
    CHECK(beyond == 0);
  };
  const std::string p = rec.Prefix(layer);
  const model::LayerState& ls = st.layer(layer);
  const auto unpacked = [&](const model::KvTable& t) {
    std::vector<float> rows(static_cast<size_t>(t.rows() * t.dim()));
    t.Read(stream, 0, t.rows(), rows.data());
    return rows;
  };
  // Slots of positions position()-window+1 .. position()-1, all made from from_pos on; the
  // slot of position() itself is compared only after that position ran (the golden cache is
  // final).
  const int64_t oldest = st.position() - c.window + (st.position() < run.Get("tokens").rows() - 1 ? 1 : 0);
  if (oldest >= from_pos) {
    for (int64_t pos = oldest; pos < st.position(); ++pos) {
      const int64_t slot = pos % c.window;
      compare(p + ".win_kv", unpacked(ls.window).data(), slot, slot + 1, c.head_dim, 64, false);
    }
  }
  const int ratio = c.ratio(layer);
  if (ratio == 0) return;
  const int64_t first_entry = (from_pos + ratio - 1) / ratio + (ratio == 4 ? 1 : 0);
  compare(p + ".comp_kv", unpacked(ls.compressed).data(), first_entry, ls.compressed.rows(), c.head_dim, 64, false);
  if (ratio == 4) {
    compare(p + ".index_comp_kv", unpacked(ls.index_keys).data(), first_entry, ls.index_keys.rows(), c.index_head_dim, 32, true);
  }
}

// Strict check (golden README, rule 3): the reference's discrete choices (router experts,
// indexer picks) are imposed, every single-token step starts each layer from the reference's
// own input streams, before the last step every cache is replaced by the reference's, and the
// compressed entries the last step completes are the reference's too (runs that record only
// every few decode steps made the rest of such a block on our own inputs). The last step then
// sees exactly the reference's inputs, so attention, FFN and stream outputs of every layer,
// and the logits, must agree at bf16 tolerance. Earlier steps attend over
// caches our own prefill built (carrying its rounding flips); they are reported, not held to it.
// The packed cache rows (584-byte latents, 68-byte MXFP4 indexer keys) hold every cache row
// the reference stored, in every golden run and layer, exactly: KvWrite then KvGather gives
// the reference's values back bit for bit.
TEST_CASE("packed KV rows hold the reference's caches bit for bit") {
  for (const auto& [case_name, run_name] : kRuns) {
    const std::string name = std::string(case_name) + "/" + run_name;
    INFO("run " << name);
    Case k(case_name);
    const ModelConfig& c = k.net->config();
    const GoldenRun run(k.dir, run_name);
    auto pools = model::CreateKvPools(c, backend::Registry::Get().Cpu().CreateKvMemory({}));
    int64_t rows = 0, differ = 0;
    const auto round_trip = [&](const Array& ref, backend::KvPoolId pool) {
      if (ref.rows() == 0) return;
      model::KvTable table(pools->memory.get(), pool);
      table.Write(*k.stream, 0, ref.rows(), ref.v.data());
      std::vector<float> back(ref.v.size());
      table.Read(*k.stream, 0, ref.rows(), back.data());
      for (int64_t r = 0; r < ref.rows(); ++r) {
        differ += std::memcmp(back.data() + r * ref.row_size(), ref.row(r), static_cast<size_t>(ref.row_size()) * 4) != 0;
      }
      rows += ref.rows();
    };
    for (int layer = 0; layer <= c.n_layers; ++layer) {
      const std::string prefix = layer < c.n_layers ? "L" + std::to_string(layer) : "mtp";
      round_trip(run.Get(prefix + ".win_kv"), pools->window);
      const int ratio = c.ratio(layer);
      if (ratio > 0) round_trip(run.Get(prefix + ".comp_kv"), pools->compressed.at(ratio));
      if (ratio == 4) round_trip(run.Get(prefix + ".index_comp_kv"), pools->index_keys);
    }
    MESSAGE(name << ": " << rows << " cache rows packed, " << differ << " differ after unpacking");
    CHECK(rows > 0);
    CHECK(differ == 0);
  }
}

TEST_CASE("strict per-layer agreement on the reference's inputs and choices") {
  for (const auto& [case_name, run_name] : kRuns) {
    const std::string name = std::string(case_name) + "/" + run_name;
    INFO("run " << name);
    Case k(case_name);
    const ModelConfig& c = k.net->config();
    const GoldenRun main(k.dir, run_name);
    Recorder rec(c.n_layers);
    rec.impose = &main;
    rec.impose_inputs = true;
    const Array& call_len = main.Get("call_len");
    const int64_t prompt = static_cast<int64_t>(call_len.v[0]);
    const size_t last_call = static_cast<size_t>(call_len.rows() - 1);
    const int64_t last_pos = prompt + call_len.rows() - 2;
    rec.impose_entries_at = last_pos;
    const Array& probes = main.Get("probe_pos");
    const Replay r = RunGolden(*k.net, *k.stream, main, {prompt}, &rec, [&](size_t call, model::SequenceState& st) {
      if (call != last_call) return;
      // Caches made by the decode steps, which ran on the reference's inputs (when every step
      // is a probe), before they are replaced: rows from positions >= prompt agree to one
      // quantisation step.
      int64_t decode_probes = 0;
      for (float v : probes.v) decode_probes += v >= prompt && v < last_pos;
      if (decode_probes == last_pos - prompt) {
        for (int layer = 0; layer <= c.n_layers; ++layer) CheckCaches(name, *k.stream, st, main, rec, layer, prompt);
      }
      ImposeGoldenCaches(main, c, last_pos, *k.stream, st);
    });

    for (int layer = 0; layer <= rec.n_layers; ++layer) {
      for (const char* what : {"attn_out", "ffn_out", "hc_out"}) {
        const std::string key = rec.Prefix(layer) + "." + what;
        const Array& ref = main.Get(key);
        double prefill = 0, decode = 0, last = 1;  // `last` must be seen: the last step is a probe
        for (int64_t i = 0; i < probes.rows(); ++i) {
          const int64_t pos = static_cast<int64_t>(probes.v[static_cast<size_t>(i)]);
          const auto& mine = rec.rows[key][pos];
          REQUIRE(static_cast<int64_t>(mine.size()) == ref.row_size());
          const double rel = RelErr(mine.data(), ref.row(i), ref.row_size());
          if (pos == last_pos) last = rel;
          else if (pos < prompt) prefill = std::max(prefill, rel);
          else decode = std::max(decode, rel);
        }
        MESSAGE(name << " strict " << key << ": last step " << last << ", other decode steps " << decode
                     << ", prefill probes " << prefill);
        CHECK(last < kStrictRel);
      }
    }
    const double logits = RelErr(r.logits.back().data(), main.Get("logits").row(static_cast<int64_t>(last_call)), k.vocab());
    const double mtp = RelErr(r.mtp_logits.back().data(), main.Get("mtp_logits").row(static_cast<int64_t>(last_call)), k.vocab());
    MESSAGE(name << " strict logits at the last step: rel " << logits << ", MTP logits rel " << mtp);
    CHECK(logits < kStrictRel);
    CHECK(mtp < kStrictRel);
  }
}

// Free-running checks (golden README rules 1-4). Away from imposed choices, a rounding
// difference can flip a discrete choice (an expert, an indexer pick) and the flip then spreads
// through the caches; the reference shows the same against itself (verify_report.json: 22/25
// top-1 agreement and up to 0.70 relative logit error between two call patterns, 62-82% of
// indexer rows identical). The README's rules are therefore statistical: prefill logits within
// 0.05 at most positions; at least 80% of steps within 0.1 with the same top-1 token where the
// reference's top-1/top-2 gap exceeds 0.1, a failing step being acceptable when our selections
// differ from the reference's at that position; selections equal where the choice was not a
// near-tie; caches within one quantisation step. The selection and cache rules are held for the
// first attention layers, which see only layer-0 rounding; deeper layers are reported.
struct Selections {
  std::map<int64_t, std::set<std::string>> differ;  // position -> arrays whose row differs
  bool At(int64_t pos) const { return differ.count(pos) != 0; }
};

std::set<int> GoldenRowSet(const Array& ref, int64_t pos) {
  std::set<int> b;
  for (int64_t j = 0; j < ref.row_size(); ++j) {
    if (ref.row(pos)[j] >= 0) b.insert(static_cast<int>(ref.row(pos)[j]));
  }
  return b;
}

Selections CompareSelections(const Recorder& rec, const GoldenRun& run) {
  Selections s;
  for (const auto& [key, rows] : rec.picks) {
    for (const auto& [pos, mine] : rows) {
      if (std::set<int>(mine.begin(), mine.end()) != GoldenRowSet(run.Get(key), pos)) s.differ[pos].insert(key);
    }
  }
  return s;
}

void CheckSteps(const std::string& what, const std::vector<std::vector<float>>& mine, const Array& ref,
                int64_t first_pos, int64_t vocab, const Selections& sel) {
  int good = 0, explained = 0;
  double worst = 0;
  for (int64_t i = 0; i < ref.rows(); ++i) {
    const float* a = mine[static_cast<size_t>(i)].data();
    const double rel = RelErr(a, ref.row(i), vocab);
    worst = std::max(worst, rel);
    const bool top1 = Top12Gap(ref.row(i), vocab) <= 0.1 || ArgMax(a, vocab) == ArgMax(ref.row(i), vocab);
    if (rel < 0.1 && top1) ++good;
    else if (sel.At(first_pos + i)) ++explained;
  }
  const int unexplained = static_cast<int>(ref.rows()) - good - explained;
  MESSAGE(what << ": " << good << "/" << ref.rows() << " steps within 0.1 with the reference's top-1, " << explained
               << " others where a selection differs at that position, " << unexplained << " unexplained (worst rel "
               << worst << ")");
  CHECK(unexplained <= 0.2 * static_cast<double>(ref.rows()));
}

// Prefill logits at the probe positions: rel < 0.05 at most (>= 75%) of them, where — as for
// the decode steps (README rule 2) — a position at which a router or indexer row differs from
// the reference's counts as explained. Such flips are near-ties decided by summation order:
// the AVX2 kernels sum in another order than the AVX-512 BF16 ones, and on flash_r128/main
// they flip choices at 4 of its 10 probe positions (36, 127, 128, 200), each of which then
// misses 0.05 (0.06-0.37).
void CheckPrefill(const std::string& what, const Case& k, const Replay& r, const GoldenRun& run, int64_t prompt,
                  const Selections& sel) {
  const ModelConfig& c = k.net->config();
  const Array& probes = run.Get("probe_pos");
  const Array& ref = run.Get("probe_logits");
  std::vector<float> logits(static_cast<size_t>(k.vocab()));
  int n = 0, within = 0, explained = 0;
  double worst = 0;
  for (int64_t i = 0; i < probes.rows(); ++i) {
    const int64_t pos = static_cast<int64_t>(probes.v[static_cast<size_t>(i)]);
    if (pos >= prompt) continue;
    k.net->Logits(*k.stream, r.first_call_streams.data() + pos * c.hc_mult * c.dim, 1, logits.data());
    const double rel = RelErr(logits.data(), ref.row(i), k.vocab());
    ++n;
    within += rel < 0.05;
    explained += rel >= 0.05 && sel.At(pos);
    worst = std::max(worst, rel);
  }
  MESSAGE(what << ": prefill logits within 0.05 at " << within << "/" << n << " probe positions, " << explained
               << " others where a selection differs at that position (worst " << worst << ")");
  CHECK(n - within - explained <= 0.25 * n);
}

// Selections of `layer` equal to the reference's wherever the choice was decided. An indexer
// row is a near-tie when its recorded margin is below 5% of the typical |score|: the README
// suggests about 2%, but the reference itself, run in two call patterns, flips flash_tiny L1's
// row at position 113 whose margin is 0.0703 at a typical |score| of 1.67, i.e. 4.2%
// (verify_report.json, index_rows_differ_max_margin) — scores are bf16 sums of bf16 products
// of FP4-rounded vectors, so a few bf16 steps decide such rows. The router records no margin.
// Beyond those, at most one row in a hundred (and at least one) may differ.
constexpr double kNearTie = 0.05;
void CheckSelectionsOfLayer(const std::string& name, const Recorder& rec, const GoldenRun& run, int layer) {
  for (const char* kind : {"router_ids", "index_topk"}) {
    const std::string prefix = rec.Prefix(layer), key = prefix + "." + kind;
    if (!run.Has(key)) continue;
    const bool indexer = std::string(kind) == "index_topk";
    int judged = 0, equal = 0;
    for (const auto& [pos, mine] : rec.picks.at(key)) {
      if (indexer) {
        const Array& score = run.Get(prefix + ".index_score");
        double typical = 0;
        int finite = 0;
        for (int64_t j = 0; j < score.row_size(); ++j) {
          if (std::isfinite(score.row(pos)[j])) typical += std::fabs(score.row(pos)[j]), ++finite;
        }
        const float margin = run.Get(prefix + ".index_margin").v[static_cast<size_t>(pos)];
        if (!(margin > kNearTie * typical / std::max(finite, 1))) continue;
      }
      ++judged;
      equal += std::set<int>(mine.begin(), mine.end()) == GoldenRowSet(run.Get(key), pos);
    }
    MESSAGE(name << " " << key << ": rows equal " << equal << "/" << judged << " decided rows");
    CHECK(equal >= judged - std::max(1, judged / 100));
  }
}

void ReportSelections(const std::string& name, const Recorder& rec, const GoldenRun& run) {
  for (const auto& [key, rows] : rec.picks) {
    int equal = 0;
    for (const auto& [pos, mine] : rows) equal += std::set<int>(mine.begin(), mine.end()) == GoldenRowSet(run.Get(key), pos);
    MESSAGE(name << " " << key << ": rows equal " << equal << "/" << rows.size() << " (reported)");
  }
}

TEST_CASE("free-running agreement: logits, MTP, selections, caches") {
  for (const auto& [name, run_name] : kRuns) {
    const std::string label = std::string(name) + "/" + run_name;
    INFO("run " << label);
    Case k(name);
    const ModelConfig& c = k.net->config();
    const GoldenRun run(k.dir, run_name);
    Recorder rec(c.n_layers);
    const int64_t prompt = static_cast<int64_t>(run.Get("call_len").v[0]);
    const Replay r = RunGolden(*k.net, *k.stream, run, {prompt}, &rec);
    const Selections sel = CompareSelections(rec, run);
    CheckPrefill(label, k, r, run, prompt, sel);
    CheckSteps(label + " logits", r.logits, run.Get("logits"), prompt - 1, k.vocab(), sel);
    CheckSteps(label + " MTP logits", r.mtp_logits, run.Get("mtp_logits"), prompt - 1, k.vocab(), sel);
    // Held: selections up to the first layer that attends compressed entries, and the caches
    // of layer 0, whose inputs are the embeddings (deeper caches are checked by the strict
    // test, on the reference's inputs).
    int held = 0;
    while (held < c.n_layers - 1 && c.ratio(held) == 0) ++held;
    for (int layer = 0; layer <= held; ++layer) CheckSelectionsOfLayer(label, rec, run, layer);
    CheckCaches(label, *k.stream, *r.state, run, rec, 0, 0);
    ReportSelections(label, rec, run);
  }
}

// Chunked prefill (37 + 50 + rest) must be the same computation as one-shot prefill: our
// logits agree bit for bit at every step. At each chunk boundary, the logits agree within 0.05
// and on the top-1 token with at least one of the reference's two runs of the same tokens —
// one-shot (probe logits) and chunked (which continued token by token) — or our selections
// differ from the reference's at that position. The two reference runs are equally valid and
// disagree with each other by up to 0.24 (verify_report.json, position 86 of flash_tiny).
TEST_CASE("chunked prefill 37 + 50 + rest matches one-shot and the reference's runs") {
  for (const char* name : {"flash_tiny", "pro_tiny"}) {
    INFO("case " << name);
    Case k(name);
    const GoldenRun main(k.dir, "main"), chunked(k.dir, "chunked");
    const int64_t prompt = static_cast<int64_t>(main.Get("call_len").v[0]);
    const Replay one = RunGolden(*k.net, *k.stream, main, {prompt}, nullptr);
    Recorder rec(k.net->config().n_layers);
    const Replay parts = RunGolden(*k.net, *k.stream, main, {37, 50, prompt - 87}, &rec);
    double worst = 0;
    for (size_t i = 0; i < one.logits.size(); ++i) {
      worst = std::max(worst, RelErr(parts.logits[i + 2].data(), one.logits[i].data(), k.vocab()));
    }
    MESSAGE(std::string(name) << " chunked vs one-shot (ours): worst rel " << worst << " over " << one.logits.size() << " steps");
    CHECK(worst == 0);

    const Selections sel = CompareSelections(rec, main);
    const Array& probes = main.Get("probe_pos");
    const auto rel_top1 = [&](const float* mine, const float* ref) {
      const bool top1 = Top12Gap(ref, k.vocab()) <= 0.1 || ArgMax(mine, k.vocab()) == ArgMax(ref, k.vocab());
      return std::make_pair(RelErr(mine, ref, k.vocab()), top1);
    };
    for (size_t b = 0; b < 3; ++b) {
      const int64_t pos = parts.last_pos[b];
      const float* mine = parts.logits[b].data();
      const Array& cs = chunked.Get("call_start");
      const Array& cl = chunked.Get("call_len");
      std::vector<std::pair<double, bool>> results;
      for (int64_t i = 0; i < cs.rows(); ++i) {
        if (cs.v[static_cast<size_t>(i)] + cl.v[static_cast<size_t>(i)] - 1 == pos) results.push_back(rel_top1(mine, chunked.Get("logits").row(i)));
      }
      for (int64_t i = 0; i < probes.rows(); ++i) {
        if (probes.v[static_cast<size_t>(i)] == pos) results.push_back(rel_top1(mine, main.Get("probe_logits").row(i)));
      }
      REQUIRE(results.size() == 2);
      const bool agrees = std::any_of(results.begin(), results.end(), [](const auto& r) { return r.first < 0.05 && r.second; });
      MESSAGE(std::string(name) << " chunk boundary " << pos << ": rel " << results[0].first << " vs the reference's chunked run, "
                                << results[1].first << " vs its one-shot run" << std::string(sel.At(pos) ? " (our selections differ there)" : ""));
      CHECK((agrees || sel.At(pos)));
    }
  }
}

}  // namespace
}  // namespace deepseek::testing
