// deepseek-longctx: the million-token KV memory at work. Fills a session to N tokens — by
// running the model (chunked prefill, with progress) or, with --fill synthetic, by writing
// random packed entries straight into the KV cache — then decodes a few tokens and reports the
// cache's bytes per token (measured from the pools, and the spec's figure for the config),
// resident memory, bytes on disk, prefill speed and decode time per token at 4K and at N. With
// --kv-dir and --ram-mib, pages past M MiB (and all ratio-4 latents) go to the disk tier in
// DIR/tier. With --reuse it measures prefix reuse instead: the time to first token of a
// request of N + 64 tokens run cold, against that of a second request sharing its first N
// tokens, resumed from the prefix cache.
//   deepseek-longctx --model DIR --tokens N [--budget-mib M] [--kv-dir DIR [--ram-mib M]] [--reuse]
//                    [--fill prefill|synthetic] [--decode K] [--threads T] [--no-prefill] [--json]
//                    [--sweep [--sweep-out PREFIX]]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "backends/cpu/machine_probe.h"
#include "bench/svg_plot.h"
#include "core/thread_pool.h"
#include "deepseek/deepseek.h"

namespace {

using Clock = std::chrono::steady_clock;
double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

struct Options {
  std::string model;
  int64_t tokens = 0;
  uint64_t budget_mib = 0;
  std::string kv_dir;
  int64_t ram_mib = -1;  // -1: no disk tier
  bool synthetic = false;
  int decode = 4;
  int threads = 0;
  bool json = false;
  bool sweep = false;
  bool reuse = false;            // --reuse: the prefix-reuse measurement alone
  bool prefill_at_depth = true;  // --no-prefill: decode only (a synthetic fill then skips the 512-token chunk)
  std::string sweep_out = "out/longctx-sweep";
};

int Usage() {
  std::fprintf(stderr,
               "usage: deepseek-longctx --model DIR --tokens N [--budget-mib M] [--kv-dir DIR [--ram-mib M]]\n"
               "                        [--fill prefill|synthetic] [--decode K] [--threads T] [--no-prefill] [--json]\n"
               "                        [--sweep [--sweep-out PREFIX]] [--reuse]\n");
  return 2;
}

bool Parse(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--json") { o.json = true; continue; }
    if (flag == "--sweep") { o.sweep = true; continue; }
    if (flag == "--no-prefill") { o.prefill_at_depth = false; continue; }
    if (flag == "--reuse") { o.reuse = true; continue; }
    if (i + 1 >= argc) return false;
    const std::string v = argv[++i];
    try {
      if (flag == "--model") o.model = v;
      else if (flag == "--tokens") o.tokens = std::stoll(v);
      else if (flag == "--budget-mib") o.budget_mib = std::stoull(v);
      else if (flag == "--kv-dir") o.kv_dir = v;
      else if (flag == "--ram-mib") o.ram_mib = std::stoll(v);
      else if (flag == "--decode") o.decode = std::stoi(v);
      else if (flag == "--threads") o.threads = std::stoi(v);
      else if (flag == "--sweep-out") o.sweep_out = v;
      else if (flag == "--fill" && (v == "prefill" || v == "synthetic")) o.synthetic = v == "synthetic";
      else return false;
    } catch (const std::exception&) {
      return false;
    }
  }
  return !o.model.empty() && o.tokens >= 1 && o.decode >= 1 && o.threads >= 0 && (o.ram_mib < 0 || !o.kv_dir.empty());
}

// Progress and tables go to stderr with --json, so that stdout is the JSON object alone.
FILE* g_out = stdout;

[[noreturn]] void Die(const deepseek::Status& s) {
  std::fprintf(stderr, "deepseek-longctx: %s\n", s.ToString().c_str());
  std::exit(1);
}
void Check(const deepseek::Status& s) {
  if (!s.ok()) Die(s);
}

double Mib(uint64_t bytes) { return static_cast<double>(bytes) / (1 << 20); }

// A figure of /proc/self/status in MiB: VmRSS (all resident pages, the mapped weights among
// them) or RssAnon (the process's own memory: activations and KV pages in RAM).
double StatusMib(const char* key = "VmRSS:") {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind(key, 0) == 0) return std::stod(line.substr(std::strlen(key))) / 1024.0;  // kB
  }
  return 0;
}
double ResidentMib() { return StatusMib(); }

// A random text token id of the model's vocabulary (not V4.1's image token, which only image
// spans hold).
int32_t RandomTextToken(const deepseek::ModelConfig& c, std::mt19937_64& rng) {
  int32_t t;
  do t = static_cast<int32_t>(3 + rng() % static_cast<uint64_t>(c.vocab_size - 3));
  while (t == c.image_token_id);
  return t;
}

// Random token ids of the model's vocabulary (BOS first).
std::vector<int32_t> RandomTokens(const deepseek::ModelConfig& c, int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int32_t> t{c.bos_token_id};
  while (static_cast<int64_t>(t.size()) < n) t.push_back(RandomTextToken(c, rng));
  return t;
}

// Prefills `tokens` in chunks of 512 with a progress line per tenth.
void PrefillChunked(deepseek::Session& s, std::span<const int32_t> tokens) {
  const int64_t need = static_cast<int64_t>(tokens.size());
  const auto start = Clock::now();
  constexpr int64_t kChunk = 512;
  int reported = -1;
  for (int64_t done = 0; done < need; done += kChunk) {
    const int64_t n = std::min(kChunk, need - done);
    Check(s.Prefill(std::span(tokens).subspan(static_cast<size_t>(done), static_cast<size_t>(n))));
    const int tenth = static_cast<int>(10 * (done + n) / need);
    if (tenth != reported) {
      reported = tenth;
      std::fprintf(g_out, "  prefill %3d%%  %lld tokens  %.0f s  %.1f tok/s\n", 10 * tenth,
                   static_cast<long long>(s.position()), Since(start), static_cast<double>(done + n) / Since(start));
    }
  }
}

// Brings `s` to `depth` tokens: synthetic entries, or the model over random tokens.
void FillTo(deepseek::Session& s, int64_t depth, const Options& o, const deepseek::ModelConfig& c) {
  const int64_t need = depth - s.position();
  if (need <= 0) return;
  if (o.synthetic) {
    Check(s.AppendSynthetic(need, static_cast<uint64_t>(depth)));
    return;
  }
  PrefillChunked(s, RandomTokens(c, need, static_cast<uint64_t>(s.position()) + 7));
}

// Prefix reuse as a server meets it. Request A (a shared prefix of `prefix` tokens, then 64 of
// its own) runs cold and leaves its prefix in the cache, as a Generator does at the end of a
// system prompt; request B (the same prefix, 64 others) starts in a new session from the
// longest cached prefix. Time to first token: until the logits of the prompt's last token are
// ready (creating B's session and finding the prefix included).
struct ReuseResult {
  double cold_ms = 0, reused_ms = 0;
};

ReuseResult MeasurePrefixReuse(const std::shared_ptr<const deepseek::Model>& model, const deepseek::SessionOptions& options,
                               deepseek::KvCache& cache, int64_t prefix) {
  const deepseek::ModelConfig& c = model->config();
  std::vector<int32_t> prompt_a = RandomTokens(c, prefix, 7), prompt_b = prompt_a;
  for (uint64_t seed : {1u, 2u}) {
    std::mt19937_64 rng(seed);
    std::vector<int32_t>& prompt = seed == 1 ? prompt_a : prompt_b;
    for (int i = 0; i < 64; ++i) prompt.push_back(RandomTextToken(c, rng));
  }
  ReuseResult r;
  {
    const auto start = Clock::now();
    auto a = deepseek::Session::Create(model, options);
    if (!a.ok()) Die(a.status());
    PrefillChunked(*a.value(), std::span(prompt_a).first(static_cast<size_t>(prefix)));
    auto snapshot = a.value()->Snapshot();
    if (!snapshot.ok()) Die(snapshot.status());
    Check(cache.AddPrefix(snapshot.value()));
    Check(a.value()->Prefill(std::span(prompt_a).subspan(static_cast<size_t>(prefix))));
    r.cold_ms = 1000 * Since(start);
  }
  const auto start = Clock::now();
  auto b = deepseek::Session::Create(model, options);
  if (!b.ok()) Die(b.status());
  const std::optional<deepseek::SessionSnapshot> found = cache.FindPrefix(prompt_b, static_cast<int64_t>(prompt_b.size()) - 1);
  if (!found || found->position() != prefix) Die(deepseek::Status(deepseek::StatusCode::kInternal, "the shared prefix was not found in the cache"));
  Check(b.value()->Restore(*found));
  Check(b.value()->Prefill(std::span(prompt_b).subspan(static_cast<size_t>(prefix))));
  r.reused_ms = 1000 * Since(start);
  return r;
}

struct DecodeResult {
  double ms = 0;                // per token
  double indexer_gmacs = 0;     // the indexer's multiply-add rate during those steps (0: no indexer work)
};

// Decode speed at the session's depth, the session left where it was.
DecodeResult MeasureDecode(deepseek::Session& s, int steps) {
  auto snapshot = s.Snapshot();
  if (!snapshot.ok()) Die(snapshot.status());
  Check(s.Decode(5));  // the first step computes the logits a synthetic fill leaves empty
  const deepseek::SessionStats before = s.stats();
  const auto start = Clock::now();
  for (int i = 0; i < steps; ++i) Check(s.Decode(static_cast<int32_t>(6 + i)));
  DecodeResult r;
  r.ms = 1000 * Since(start) / steps;
  const deepseek::SessionStats after = s.stats();
  const double seconds = after.indexer_seconds - before.indexer_seconds;
  if (seconds > 0) r.indexer_gmacs = static_cast<double>(after.indexer_macs - before.indexer_macs) / seconds / 1e9;
  Check(s.Restore(snapshot.value()));
  return r;
}

// The cache's pages outside the window rings, per token: what grows with the context.
double MeasuredBytesPerToken(const deepseek::KvCache& cache, int64_t tokens) {
  uint64_t bytes = 0;
  for (const auto& p : cache.stats().pools) {
    if (p.name != "window") bytes += static_cast<uint64_t>(p.pages_in_use * p.rows_per_page * p.row_bytes);
  }
  return static_cast<double>(bytes) / static_cast<double>(tokens);
}

uint64_t FolderBytes(const std::string& dir) {
  uint64_t bytes = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (e.is_regular_file()) bytes += e.file_size();
  }
  return bytes;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!Parse(argc, argv, o)) return Usage();
  if (o.json) g_out = stderr;
  auto loaded = deepseek::Model::Load(o.model);
  if (!loaded.ok()) Die(loaded.status());
  const std::shared_ptr<const deepseek::Model> model = loaded.value();
  const deepseek::ModelConfig& c = model->config();

  deepseek::KvCacheOptions cache_options;
  cache_options.budget_bytes = o.budget_mib << 20;
  cache_options.max_prefixes = o.reuse ? 1 : 0;
  if (o.ram_mib >= 0) {
    cache_options.tier_dir = o.kv_dir + "/tier";
    cache_options.ram_bytes = static_cast<uint64_t>(o.ram_mib) << 20;
    std::filesystem::create_directories(cache_options.tier_dir);
  }
  auto cache = deepseek::KvCache::Create(model, cache_options);
  if (!cache.ok()) Die(cache.status());
  deepseek::SessionOptions session_options;
  session_options.num_threads = o.threads;
  session_options.kv_cache = cache.value();
  auto created = deepseek::Session::Create(model, session_options);
  if (!created.ok()) Die(created.status());
  deepseek::Session& s = *created.value();
  // The decode steps measured (and, after a synthetic fill, the 512-token prefill chunk) must
  // fit: the last depth leaves room for them.
  o.tokens = std::min<int64_t>(o.tokens, s.capacity() - std::max(o.decode + 1, o.synthetic ? 512 : 0));
  {
    // Warm-up, untimed: a short prompt and a few steps map in the weights (most experts), so
    // that the first measurement is not one of page faults.
    auto warm = deepseek::Session::Create(model, session_options);
    if (!warm.ok()) Die(warm.status());
    std::fprintf(g_out, "warming up (64-token prompt, 8 steps) ...\n");
    Check(warm.value()->Prefill(RandomTokens(c, 64, 3)));
    for (int i = 0; i < 8; ++i) Check(warm.value()->Decode(static_cast<int32_t>(100 + i)));
  }
  std::fprintf(g_out, "%s: %d layers; KV for %lld tokens: %.1f MiB (%.1f bytes/token packed)%s\n", o.model.c_str(),
               c.n_layers, static_cast<long long>(o.tokens), static_cast<double>(model->KvBytesForTokens(o.tokens)) / (1 << 20),
               model->KvBytesPerToken(), o.synthetic ? "; synthetic fill" : "");
  std::string pools;  // the row format of each pool: V4's latents and MXFP4 keys, V4.1's FP8-per-32 and NVFP4 rows
  for (const deepseek::KvCacheStats::Pool& p : cache.value()->stats().pools) {
    pools += (pools.empty() ? "" : ", ") + p.name + " " + p.row_format + " " + std::to_string(p.row_bytes) + " B/row";
  }
  std::fprintf(g_out, "KV pools: %s\n", pools.c_str());
  if (o.reuse) {
    const ReuseResult r = MeasurePrefixReuse(model, session_options, *cache.value(), o.tokens);
    const double ratio = r.reused_ms / r.cold_ms;
    std::fprintf(g_out,
                 "\n| shared prefix | %lld tokens (+ 64 per request) |\n| time to first token, cold | %.1f ms |\n"
                 "| time to first token, prefix reused | %.1f ms |\n| reused / cold | %.4f |\n",
                 static_cast<long long>(o.tokens), r.cold_ms, r.reused_ms, ratio);
    if (o.json) {
      std::printf("{\"prefix_tokens\": %lld, \"ttft_cold_ms\": %.6g, \"ttft_reused_ms\": %.6g, \"reuse_ratio\": %.6g}\n",
                  static_cast<long long>(o.tokens), r.cold_ms, r.reused_ms, ratio);
    }
    return 0;
  }

  // Decode at 4K (or at N when N is smaller), then at N.
  std::vector<double> depths, decode_ms, rss;
  double indexer_gmacs = 0;  // at the last depth
  const auto measure_at = [&](int64_t depth) {
    FillTo(s, depth, o, c);
    depths.push_back(static_cast<double>(depth));
    const DecodeResult d = MeasureDecode(s, o.decode);
    decode_ms.push_back(d.ms);
    indexer_gmacs = d.indexer_gmacs;
    rss.push_back(ResidentMib());
    const deepseek::KvCacheStats kv = cache.value()->stats();
    std::fprintf(g_out, "  depth %8lld: decode %8.2f ms/token (indexer %.1f GMAC/s), resident %.0f MiB, KV in use %.1f MiB"
                 " (%.1f MiB of pages in RAM, %.1f MiB in the disk tier)\n",
                 static_cast<long long>(depth), decode_ms.back(), d.indexer_gmacs, rss.back(), Mib(kv.bytes_in_use),
                 Mib(kv.bytes_storage - kv.bytes_tiered), Mib(kv.bytes_tiered));
  };
  const int64_t first = std::min<int64_t>(4096, o.tokens);
  const auto fill_start = Clock::now();
  measure_at(first);
  if (o.sweep) {
    for (int64_t depth = 4 * first; depth < o.tokens; depth *= 4) measure_at(depth);
  }
  if (o.tokens > first) measure_at(o.tokens);
  // The fill's rate over the whole run (decode measurements are on snapshots, so they add a
  // little time but no tokens).
  // (With a synthetic fill there was none: 0 unless the chunk below measures it.)
  double prefill_tok_s = o.synthetic ? 0 : static_cast<double>(s.position()) / Since(fill_start);
  if (o.synthetic && o.prefill_at_depth) {  // prefill speed at depth: one 512-token chunk on top of the synthetic context
    auto snapshot = s.Snapshot();
    if (!snapshot.ok()) Die(snapshot.status());
    const std::vector<int32_t> chunk = RandomTokens(c, 512, 99);
    const auto start = Clock::now();
    Check(s.Prefill(chunk));
    prefill_tok_s = 512 / Since(start);
    Check(s.Restore(snapshot.value()));
  }
  uint64_t disk = 0;
  if (!o.kv_dir.empty()) {
    std::filesystem::create_directories(o.kv_dir);
    const auto start = Clock::now();
    Check(s.Save(o.kv_dir + "/longctx.dskv"));
    std::fprintf(g_out, "  saved the session to %s/longctx.dskv in %.1f s\n", o.kv_dir.c_str(), Since(start));
    // The tier's files are unlinked as they are made: they take disk but are not listed.
    disk = FolderBytes(o.kv_dir) + cache.value()->stats().bytes_tiered;
  }

  // The machine's fp32 FMA peak in this run, for the indexer's rate (one MAC = 2 flops).
  deepseek::ThreadPool probe_pool(o.threads);
  const double peak_gflops = deepseek::backend::cpu::MeasurePeakFma(probe_pool);
  const double indexer_fraction = 2 * indexer_gmacs / peak_gflops;
  const double measured = MeasuredBytesPerToken(*cache.value(), s.position());
  const double spec = model->KvBytesPerToken();
  const deepseek::KvCacheStats kv = cache.value()->stats();
  const double kv_ram = Mib(kv.bytes_storage - kv.bytes_tiered), kv_tier = Mib(kv.bytes_tiered), anon = StatusMib("RssAnon:");
  std::fprintf(g_out,
               "\n| tokens | %lld |\n| KV bytes/token (pools, beyond the windows) | %.1f |\n| KV bytes/token (spec, packed) | %.1f |\n"
               "| resident memory | %.0f MiB (%.0f MiB the process's own) |\n| KV pages | %.1f MiB in RAM, %.1f MiB in the disk tier |\n"
               "| on disk | %.1f MiB |\n| prefill%s | %.1f tok/s |\n"
               "| decode at %lld | %.2f ms/token |\n| decode at %lld | %.2f ms/token |\n"
               "| indexer at %lld | %.1f GMAC/s, %.3f of the fp32 FMA peak (%.0f GFLOP/s) |\n",
               static_cast<long long>(s.position()), measured, spec, ResidentMib(), anon, kv_ram, kv_tier,
               static_cast<double>(disk) / (1 << 20), o.synthetic ? " (512 tokens at depth)" : "", prefill_tok_s, static_cast<long long>(first), decode_ms.front(),
               static_cast<long long>(s.position()), decode_ms.back(), static_cast<long long>(s.position()), indexer_gmacs,
               indexer_fraction, peak_gflops);
  if (o.json) {
    std::printf("{\"tokens\": %lld, \"kv_bytes_per_token\": %.6g, \"kv_bytes_per_token_spec\": %.6g, \"rss_mib\": %.6g, "
                "\"disk_mib\": %.6g, \"decode_ms_4k\": %.6g, \"decode_ms_last\": %.6g, \"prefill_tok_s\": %.6g, "
                "\"indexer_gmacs\": %.6g, \"indexer_peak_fraction\": %.6g, \"peak_gflops\": %.6g, "
                "\"rss_anon_mib\": %.6g, \"kv_ram_mib\": %.6g, \"kv_tier_mib\": %.6g, \"fill\": \"%s\", \"layers\": %d}\n",
                static_cast<long long>(s.position()), measured, spec, ResidentMib(), static_cast<double>(disk) / (1 << 20),
                decode_ms.front(), decode_ms.back(), prefill_tok_s, indexer_gmacs, indexer_fraction, peak_gflops, anon,
                kv_ram, kv_tier, o.synthetic ? "synthetic" : "prefill", c.n_layers);
  }
  if (o.sweep) {
    std::filesystem::path out(o.sweep_out);
    if (out.has_parent_path()) std::filesystem::create_directories(out.parent_path());
    std::ofstream csv(o.sweep_out + ".csv");
    csv << "depth,decode_ms,rss_mib\n";
    for (size_t i = 0; i < depths.size(); ++i) csv << depths[i] << "," << decode_ms[i] << "," << rss[i] << "\n";
    std::ofstream(o.sweep_out + ".svg") << deepseek::bench::LineChartSvg(
        "deepseek-longctx: " + std::to_string(c.n_layers) + " layers", "context depth (tokens)", "ms / token and MiB / 100",
        depths, {{"decode ms/token", "#d62728", decode_ms}, {"resident MiB / 100", "#1f77b4", [&] {
                   std::vector<double> v;
                   for (double r : rss) v.push_back(r / 100);
                   return v;
                 }()}});
    std::fprintf(g_out, "wrote %s.csv and %s.svg\n", o.sweep_out.c_str(), o.sweep_out.c_str());
  }
  return 0;
}
