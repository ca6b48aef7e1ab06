// deepseek-bench: decode and prefill speed of the CPU backend on a checkpoint with V4-Flash's
// real layer dimensions, set against the machine's own ceilings measured in the same run (read
// bandwidth for decode, peak FMA rate for prefill).
//   deepseek-bench [--layers N] [--experts E] [--threads T] [--model DIR] [--cache DIR]
//                  [--prompt N] [--decode N] [--no-prefill] [--json]
//                  [--sweep [--sweep-max N] [--sweep-out PREFIX]]
//   deepseek-bench --op mxfp4|fp8|fp8_block32|bf16 [--rows R] [--cols C] [--n N] [--cached] [--seconds S] [--threads T] [--json]
#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "backends/cpu/machine_probe.h"
#include "op_bench.h"
#include "vision_bench.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "deepseek/deepseek.h"
#include "svg_plot.h"
#include "tinygen/tiny_checkpoint.h"

namespace {

using Clock = std::chrono::steady_clock;
double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

struct Options {
  int layers = 4;
  int experts = 64;
  int threads = 0;
  std::string model;             // an existing checkpoint instead of the generated one
  std::string cache = "out/bench";
  int prompt = 32;               // the short prompt before decode
  int decode = 32;
  bool json = false;
  bool sweep = false;
  bool prefill = true;           // --no-prefill: decode only (quicker, for kernel work)
  int64_t sweep_max = 65536;
  std::string sweep_out = "out/bench-sweep";
  std::vector<int> batch;        // --batch 1,2,4,8: batched decode at these batch sizes
  std::string batch_out = "out/bench-batch";  // with --batch: PREFIX.csv and PREFIX.svg
  deepseek::bench::OpBenchOptions op;  // with --op: the operator benchmark alone
  deepseek::bench::VisionBenchOptions vision;  // with --op vision
};

int Usage() {
  std::fprintf(stderr,
               "usage: deepseek-bench [--layers N] [--experts E] [--threads T] [--model DIR] [--cache DIR]\n"
               "                      [--prompt N] [--decode N] [--no-prefill] [--batch B1,B2,... [--batch-out PREFIX]] [--json]\n"
               "                      [--sweep [--sweep-max N] [--sweep-out PREFIX]]\n"
               "       deepseek-bench --op mxfp4|fp8|fp8_block32|bf16 [--rows R] [--cols C] [--n N] [--cached] [--seconds S] [--threads T] [--json]\n"
               "       deepseek-bench --op vision [--patches N] [--vision-layers L] [--threads T] [--json]\n");
  return 2;
}

bool Parse(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--json") { o.json = true; continue; }
    if (flag == "--sweep") { o.sweep = true; continue; }
    if (flag == "--no-prefill") { o.prefill = false; continue; }
    if (flag == "--cached") { o.op.cached = true; continue; }
    if (i + 1 >= argc) return false;
    const std::string v = argv[++i];
    try {
      if (flag == "--layers") o.layers = std::stoi(v);
      else if (flag == "--experts") o.experts = std::stoi(v);
      else if (flag == "--threads") o.threads = std::stoi(v);
      else if (flag == "--model") o.model = v;
      else if (flag == "--cache") o.cache = v;
      else if (flag == "--prompt") o.prompt = std::stoi(v);
      else if (flag == "--decode") o.decode = std::stoi(v);
      else if (flag == "--sweep-max") o.sweep_max = std::stoll(v);
      else if (flag == "--sweep-out") o.sweep_out = v;
      else if (flag == "--batch-out") o.batch_out = v;
      else if (flag == "--batch") {
        for (size_t at = 0; at <= v.size();) {
          const size_t comma = std::min(v.find(',', at), v.size());
          const int b = std::stoi(v.substr(at, comma - at));
          if (b < 1 || b > 64) return false;
          o.batch.push_back(b);
          at = comma + 1;
        }
      }
      else if (flag == "--op") o.op.format = v;
      else if (flag == "--rows") o.op.rows = std::stoll(v);
      else if (flag == "--cols") o.op.cols = std::stoll(v);
      else if (flag == "--n") o.op.n = std::stoll(v);
      else if (flag == "--seconds") o.op.seconds = std::stod(v);
      else if (flag == "--patches") o.vision.patches = std::stoll(v);
      else if (flag == "--vision-layers") o.vision.layers = std::stoi(v);
      else return false;
    } catch (const std::exception&) {
      return false;
    }
  }
  return o.layers >= 1 && o.experts >= 6 && o.threads >= 0 && o.prompt >= 1 && o.decode >= 1 && o.sweep_max >= 1024;
}

// Progress and tables go to stderr with --json, so that stdout is the JSON object alone.
FILE* g_out = stdout;

// The generated checkpoint for --layers/--experts, written once and reused from the cache.
std::string BenchCheckpoint(const Options& o) {
  if (!o.model.empty()) return o.model;
  const std::string dir = o.cache + "/flash-bench-L" + std::to_string(o.layers) + "-E" + std::to_string(o.experts);
  if (std::filesystem::exists(dir + "/model.safetensors.index.json")) return dir;
  std::fprintf(g_out, "generating %s (V4-Flash layer dimensions, %d layers, %d experts) ...\n", dir.c_str(), o.layers,
               o.experts);
  const std::string partial = dir + ".partial";
  std::filesystem::remove_all(partial);
  int reported = -1;
  const auto start = Clock::now();
  deepseek::tinygen::WriteTinyCheckpoint(deepseek::tinygen::TinySpec::FlashBench(o.layers, o.experts), partial,
                                         [&](const deepseek::tinygen::Progress& p) {
                                           const int tenth = static_cast<int>(10 * p.bytes_done / std::max<uint64_t>(1, p.bytes_total));
                                           if (tenth == reported) return;
                                           reported = tenth;
                                           std::fprintf(g_out, "  %3d%%  %.1f / %.1f GB  %.0f s\n", 10 * tenth,
                                                        static_cast<double>(p.bytes_done) / 1e9,
                                                        static_cast<double>(p.bytes_total) / 1e9, Since(start));
                                         });
  std::filesystem::rename(partial, dir);  // complete checkpoints only, so an interrupted run regenerates
  return dir;
}

// A deterministic prompt: BOS, then ids spread over the vocabulary.
std::vector<int32_t> Prompt(const deepseek::ModelConfig& c, int64_t n, int64_t salt = 0) {
  std::vector<int32_t> tokens{c.bos_token_id};
  for (int64_t i = 1; i < n; ++i) tokens.push_back(static_cast<int32_t>(((i + salt) * 7919) % (c.vocab_size - 3) + 3));
  return tokens;
}

std::unique_ptr<deepseek::Session> NewSession(const std::shared_ptr<const deepseek::Model>& model, int threads) {
  deepseek::SessionOptions options;
  options.num_threads = threads;
  auto session = deepseek::Session::Create(model, options);
  if (!session.ok()) deepseek::Fail(session.status().code(), session.status().message());
  return std::move(session.value());
}

void Check(const deepseek::Status& st) {
  if (!st.ok()) deepseek::Fail(st.code(), st.message());
}

int32_t Argmax(std::span<const float> logits) {
  return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

struct PrefillResult {
  double tok_s = 0;
  double gemm_gflops = 0;  // matrix-operator flops over the time spent in them
};

PrefillResult MeasurePrefill(const std::shared_ptr<const deepseek::Model>& model, int threads, int64_t n) {
  auto session = NewSession(model, threads);
  const std::vector<int32_t> tokens = Prompt(model->config(), n);
  const auto start = Clock::now();
  Check(session->Prefill(tokens));
  const double seconds = Since(start);
  const deepseek::SessionStats s = session->stats();
  return {static_cast<double>(n) / seconds, static_cast<double>(s.matmul_flops) / s.matmul_seconds / 1e9};
}

struct DecodeResult {
  double tok_s = 0;
  double bytes_per_token = 0;
  std::vector<deepseek::SessionStats::Format> by_format;  // what the decode steps read
};

// What the matrix operators of each weight format did between two snapshots of a session's stats.
std::vector<deepseek::SessionStats::Format> FormatsBetween(const deepseek::SessionStats& before, const deepseek::SessionStats& after) {
  std::vector<deepseek::SessionStats::Format> formats = after.by_format;
  for (auto& f : formats) {
    for (const auto& b : before.by_format) {
      if (b.name != f.name) continue;
      f.weight_bytes_read -= b.weight_bytes_read;
      f.seconds -= b.seconds;
      f.calls -= b.calls;
    }
  }
  return formats;
}

// Adds what the operators of each format in `more` did to `sum`.
void AddFormats(std::vector<deepseek::SessionStats::Format>& sum, const std::vector<deepseek::SessionStats::Format>& more) {
  for (const auto& f : more) {
    auto same = std::find_if(sum.begin(), sum.end(), [&](const auto& s) { return s.name == f.name; });
    if (same == sum.end()) {
      sum.push_back(f);
      continue;
    }
    same->weight_bytes_read += f.weight_bytes_read;
    same->seconds += f.seconds;
    same->calls += f.calls;
  }
}

// Decodes `steps` greedy tokens from where `session` is; the bytes are those its operators read.
DecodeResult MeasureDecode(deepseek::Session& session, int steps) {
  const deepseek::SessionStats before = session.stats();
  const auto start = Clock::now();
  for (int i = 0; i < steps; ++i) Check(session.Decode(Argmax(session.logits())));
  const double seconds = Since(start);
  const deepseek::SessionStats after = session.stats();
  return {steps / seconds, static_cast<double>(after.weight_bytes_read - before.weight_bytes_read) / steps,
          FormatsBetween(before, after)};
}

// The per-format table of `formats`, read over `steps` steps lasting `seconds` in all.
void PrintFormats(const char* what, const std::vector<deepseek::SessionStats::Format>& formats, int steps, double seconds) {
  double matmul_seconds = 0;
  for (const auto& f : formats) matmul_seconds += f.seconds;
  std::fprintf(g_out, "\n%s, per weight format (%.0f%% of the time in matrix operators):\n"
                      "| format | MB per step | calls per step | ms per step | GB/s |\n|---|---|---|---|---|\n", what,
               100 * matmul_seconds / seconds);
  for (const auto& f : formats) {
    std::fprintf(g_out, "| %s | %.1f | %.1f | %.1f | %.1f |\n", f.name.c_str(), static_cast<double>(f.weight_bytes_read) / steps / 1e6,
                 static_cast<double>(f.calls) / steps, 1000 * f.seconds / steps, static_cast<double>(f.weight_bytes_read) / f.seconds / 1e9);
  }
}

double PeakRssMb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

// The fastest rate at which the operators of one weight format read in `formats`, over at least
// 256 MB (so that a few small calls cannot decide it): a rate the machine demonstrably delivers.
double FastestFormatRate(const std::vector<deepseek::SessionStats::Format>& formats) {
  double fastest = 0;
  for (const auto& f : formats) {
    if (f.weight_bytes_read >= (uint64_t{256} << 20) && f.seconds > 0) {
      fastest = std::max(fastest, static_cast<double>(f.weight_bytes_read) / f.seconds / 1e9);
    }
  }
  return fastest;
}

// The fraction of the measured read bandwidth that a step reading `bytes` of weights in `ms` achieves.
double BandwidthFraction(double bytes, double ms, double bandwidth_gbs) {
  return ms > 0 ? bytes / (ms / 1000) / 1e9 / bandwidth_gbs : 0.0;
}

// Batched decoding: `batch` sessions, each after its own prompt, decode greedy tokens together
// (Session::DecodeBatch). tok_s counts every sequence's tokens; the bytes are those the batched
// steps read (each matrix once per step, the experts of the union of the routes), the flops
// those their matrix operators did (2 per weight and input).
struct BatchResult {
  int batch = 0;
  double tok_s = 0;
  double bytes_per_step = 0;
  double flops_per_step = 0;
  double step_ms = 0;
  std::vector<deepseek::SessionStats::Format> by_format;  // what the batched steps read
  double BandwidthFraction(double bandwidth_gbs) const { return ::BandwidthFraction(bytes_per_step, step_ms, bandwidth_gbs); }
  // The step's time were it bound only by the slower of reading its bytes at the measured
  // bandwidth and doing its flops at the measured compute peak (the roofline), as a fraction of
  // the time it took. The bytes bound a step of a few inputs; with more, the flops come close:
  // at batch 8 a step of the 4-layer benchmark model does 27.4 GFLOP, 61 ms at the 451 GFLOP/s
  // bf16 peak of a 2-core Zen 4, against 71 ms to read its 3.45 GB at 48.7 GB/s, so reaching
  // the roof there takes compute and reads overlapped almost perfectly.
  double RooflineFraction(double bandwidth_gbs, double peak_gflops) const {
    const double compute = step_ms > 0 ? flops_per_step / 1e9 / peak_gflops / (step_ms / 1000) : 0.0;
    return std::max(BandwidthFraction(bandwidth_gbs), compute);
  }
};

BatchResult MeasureBatch(const std::shared_ptr<const deepseek::Model>& model, int threads, const Options& o, int batch) {
  std::vector<std::unique_ptr<deepseek::Session>> sessions;
  std::vector<deepseek::Session*> handles;
  for (int i = 0; i < batch; ++i) {
    sessions.push_back(NewSession(model, i == 0 ? threads : 1));
    Check(sessions.back()->Prefill(Prompt(model->config(), o.prompt, 100 + i)));
    handles.push_back(sessions.back().get());
  }
  std::vector<int32_t> tokens(static_cast<size_t>(batch));
  const auto step = [&] {
    for (int i = 0; i < batch; ++i) tokens[static_cast<size_t>(i)] = Argmax(handles[static_cast<size_t>(i)]->logits());
    Check(deepseek::Session::DecodeBatch(handles, tokens));
  };
  step();  // warm-up
  const deepseek::SessionStats before = handles[0]->stats();  // the batch's operators count in its first session
  const auto start = Clock::now();
  for (int i = 0; i < o.decode; ++i) step();
  const double seconds = Since(start);
  const deepseek::SessionStats after = handles[0]->stats();
  BatchResult r;
  r.batch = batch;
  r.tok_s = static_cast<double>(batch) * o.decode / seconds;
  r.bytes_per_step = static_cast<double>(after.weight_bytes_read - before.weight_bytes_read) / o.decode;
  r.flops_per_step = static_cast<double>(after.matmul_flops - before.matmul_flops) / o.decode;
  r.step_ms = 1000 * seconds / o.decode;
  r.by_format = FormatsBetween(before, after);
  return r;
}

// The batch figures as PREFIX.csv and a chart of aggregate tokens/s against the batch size.
void WriteBatchPlot(const std::vector<BatchResult>& batches, double bandwidth, double peak_compute, const std::string& prefix,
                    int layers, int threads) {
  std::filesystem::path out(prefix);
  if (out.has_parent_path()) std::filesystem::create_directories(out.parent_path());
  std::ofstream csv(prefix + ".csv");
  csv << "batch,tok_s,step_ms,bytes_per_step,bandwidth_fraction,flops_per_step,roofline_fraction\n";
  std::vector<double> sizes, tok_s;
  for (const BatchResult& b : batches) {
    csv << b.batch << "," << b.tok_s << "," << b.step_ms << "," << b.bytes_per_step << ","
        << b.BandwidthFraction(bandwidth) << "," << b.flops_per_step << "," << b.RooflineFraction(bandwidth, peak_compute) << "\n";
    sizes.push_back(b.batch);
    tok_s.push_back(b.tok_s);
  }
  const std::string title = "deepseek-bench: batched decode, " + std::to_string(layers) + " V4-Flash layers, " +
                            std::to_string(threads) + " threads";
  std::ofstream(prefix + ".svg") << deepseek::bench::LineChartSvg(title, "sequences per step", "tokens / s (all sequences)",
                                                                  sizes, {{"aggregate decode", "#2ca02c", tok_s}});
  std::fprintf(g_out, "wrote %s.csv and %s.svg\n", prefix.c_str(), prefix.c_str());
}

// Speculative decoding with the MTP head, timed: one draft (MtpLogits) and one verify step
// (PrefillAll of the fed token and its draft, the weights read once for both) against one
// decode step, and the speed-up they give at acceptance rates p: a step that drafts yields
// 1 + p tokens for Td + Tv; positions whose token closes a compressor block (a fraction f) are
// never drafted, so per token the cost is f·T1 + (1 − f)·(Td + Tv) / (1 + p) against T1.
// T1 is timed here too, a plain decode step of a second session before every speculative
// step: this machine's memory system moves by 10-20 % between one minute and the next (other
// tenants), so a verify step is only compared with decode steps of the same minute.
struct SpeculationResult {
  double draft_ms = 0;   // Td
  double verify_ms = 0;  // Tv
  double decode_ms = 0;  // T1
  double no_draft = 0;   // f
  double verify_bytes = 0;  // weight bytes one verify step reads (each matrix once, the union of both tokens' experts)
  double decode_bytes = 0;  // and one of the interleaved decode steps
  std::vector<deepseek::SessionStats::Format> verify_by_format, decode_by_format;
  double VerifyBandwidthFraction(double bandwidth_gbs) const { return BandwidthFraction(verify_bytes, verify_ms, bandwidth_gbs); }
  double DecodeBandwidthFraction(double bandwidth_gbs) const { return BandwidthFraction(decode_bytes, decode_ms, bandwidth_gbs); }
  double Speedup(double p) const {
    return decode_ms / (no_draft * decode_ms + (1 - no_draft) * (draft_ms + verify_ms) / (1 + p));
  }
};

SpeculationResult MeasureSpeculation(const std::shared_ptr<const deepseek::Model>& model, int threads, const Options& o) {
  deepseek::SessionOptions options;
  options.num_threads = threads;
  options.enable_mtp = true;
  auto created = deepseek::Session::Create(model, options);
  if (!created.ok()) deepseek::Fail(created.status().code(), created.status().message());
  deepseek::Session& s = *created.value();
  Check(s.Prefill(Prompt(model->config(), o.prompt, 2)));
  auto plain = NewSession(model, threads);
  Check(plain->Prefill(Prompt(model->config(), o.prompt, 1)));
  std::vector<float> rows;
  double draft_s = 0, verify_s = 0, decode_s = 0;
  std::vector<deepseek::SessionStats::Format> verify;  // the verify steps' operators (the drafts' count in the same stats)
  const auto step = [&] {
    auto start = Clock::now();
    Check(plain->Decode(Argmax(plain->logits())));
    decode_s += Since(start);
    const int32_t token = Argmax(s.logits());
    start = Clock::now();
    auto draft = s.MtpLogits(token);
    if (!draft.ok()) deepseek::Fail(draft.status().code(), draft.status().message());
    draft_s += Since(start);
    const std::array<int32_t, 2> fed{token, Argmax(draft.value())};
    const deepseek::SessionStats before = s.stats();
    start = Clock::now();
    Check(s.PrefillAll(fed, rows));
    verify_s += Since(start);
    AddFormats(verify, FormatsBetween(before, s.stats()));
  };
  step();  // warm-up
  draft_s = verify_s = decode_s = 0;
  verify.clear();
  const deepseek::SessionStats plain_before = plain->stats();
  for (int i = 0; i < o.decode; ++i) step();
  const deepseek::SessionStats plain_after = plain->stats();
  SpeculationResult r;
  r.draft_ms = 1000 * draft_s / o.decode;
  r.verify_ms = 1000 * verify_s / o.decode;
  r.decode_ms = 1000 * decode_s / o.decode;
  for (const auto& f : verify) r.verify_bytes += static_cast<double>(f.weight_bytes_read) / o.decode;
  r.decode_bytes = static_cast<double>(plain_after.weight_bytes_read - plain_before.weight_bytes_read) / o.decode;
  r.verify_by_format = std::move(verify);
  r.decode_by_format = FormatsBetween(plain_before, plain_after);
  int blocked = 0;
  for (int64_t q = 0; q < 1024; ++q) blocked += !s.CanDrop(q);
  r.no_draft = blocked / 1024.0;
  return r;
}

// Decode and prefill speed at growing context depths: one session is prefilled up to each
// depth; the prefill figure is the speed of the last 512 tokens before it, the decode figure
// that of 8 tokens decoded from a snapshot taken there (restored afterwards).
void Sweep(const std::shared_ptr<const deepseek::Model>& model, const Options& o, int threads) {
  constexpr int64_t kChunk = 512;
  constexpr int kDecodeSteps = 8;
  auto session = NewSession(model, threads);
  std::vector<double> depths, prefill, decode;
  const std::vector<int32_t> all = Prompt(model->config(), o.sweep_max);
  std::fprintf(g_out, "\nsweep: depth  prefill tok/s  decode tok/s\n");
  for (int64_t depth = 1024; depth <= o.sweep_max; depth *= 2) {
    while (session->position() < depth - kChunk) {
      const int64_t n = std::min<int64_t>(kChunk, depth - kChunk - session->position());
      Check(session->Prefill(std::span(all).subspan(static_cast<size_t>(session->position()), static_cast<size_t>(n))));
    }
    const auto start = Clock::now();
    Check(session->Prefill(std::span(all).subspan(static_cast<size_t>(session->position()), kChunk)));
    const double prefill_tok_s = kChunk / Since(start);
    auto snapshot = session->Snapshot();
    if (!snapshot.ok()) deepseek::Fail(snapshot.status().code(), snapshot.status().message());
    const DecodeResult d = MeasureDecode(*session, kDecodeSteps);
    Check(session->Restore(snapshot.value()));
    depths.push_back(static_cast<double>(depth));
    prefill.push_back(prefill_tok_s);
    decode.push_back(d.tok_s);
    std::fprintf(g_out, "       %6lld  %13.1f  %12.2f\n", static_cast<long long>(depth), prefill_tok_s, d.tok_s);
  }
  std::filesystem::path out(o.sweep_out);
  if (out.has_parent_path()) std::filesystem::create_directories(out.parent_path());
  std::ofstream csv(o.sweep_out + ".csv");
  csv << "depth,prefill_tok_s,decode_tok_s\n";
  for (size_t i = 0; i < depths.size(); ++i) csv << depths[i] << "," << prefill[i] << "," << decode[i] << "\n";
  const std::string title = "deepseek-bench: " + std::to_string(model->config().n_layers) + " V4-Flash layers, " +
                            std::to_string(threads) + " threads";
  std::ofstream(o.sweep_out + ".svg") << deepseek::bench::LineChartSvg(
      title, "context depth (tokens)", "tokens / s",
      depths, {{"prefill (512-token chunk)", "#1f77b4", prefill}, {"decode (batch 1)", "#d62728", decode}});
  std::fprintf(g_out, "wrote %s.csv and %s.svg\n", o.sweep_out.c_str(), o.sweep_out.c_str());
}

int Run(const Options& o) {
  const std::string dir = BenchCheckpoint(o);
  deepseek::LoadOptions load;
  auto loaded = deepseek::Model::Load(dir, load);
  if (!loaded.ok()) deepseek::Fail(loaded.status().code(), loaded.status().message());
  const std::shared_ptr<const deepseek::Model> model = loaded.value();
  const deepseek::ModelConfig& c = model->config();
  deepseek::ThreadPool pool(o.threads);
  const int threads = pool.num_threads();
  std::fprintf(g_out, "model %s: %d layers, hidden %lld, %d experts (top-%d), vocab %lld, %.1f GB mapped; %d threads, %s\n",
               dir.c_str(), c.n_layers, static_cast<long long>(c.dim), c.n_experts, c.n_active_experts,
               static_cast<long long>(c.vocab_size), static_cast<double>(model->weight_bytes()) / 1e9, threads,
               deepseek::backend::cpu::KernelTarget().c_str());

  std::fprintf(g_out, "measuring the machine: read bandwidth over 1 GiB, peak FMA and bf16 dot-product rates ...\n");
  const double bandwidth_before = deepseek::backend::cpu::MeasureReadBandwidth(pool, uint64_t{1} << 30);
  const double peak = deepseek::backend::cpu::MeasurePeakFma(pool);
  // The prefill GEMMs' inputs are bf16: their ceiling is the bf16 dot-product rate (the fp32
  // FMA rate on CPUs without bf16 dot products, where the inputs are widened).
  const double peak_bf16 = deepseek::backend::cpu::MeasurePeakBf16(pool);

  // The first prefill faults the mapped weights in (most experts get some tokens); untimed.
  const int64_t warm_up = o.prefill ? 512 : 128;
  std::fprintf(g_out, "warming up (prefill %lld, untimed) ...\n", static_cast<long long>(warm_up));
  MeasurePrefill(model, threads, warm_up);
  PrefillResult p512, p2048;
  if (o.prefill) {
    std::fprintf(g_out, "prefill 512 and 2048 tokens ...\n");
    p512 = MeasurePrefill(model, threads, 512);
    p2048 = MeasurePrefill(model, threads, 2048);
  }

  std::fprintf(g_out, "decode %d tokens after a %d-token prompt ...\n", o.decode, o.prompt);
  auto session = NewSession(model, threads);
  Check(session->Prefill(Prompt(c, o.prompt, 1)));
  MeasureDecode(*session, 2);  // warm-up steps
  const DecodeResult d = MeasureDecode(*session, o.decode);
  SpeculationResult spec;
  if (c.n_mtp_layers > 0) {
    std::fprintf(g_out, "draft and verify with the MTP head, %d steps ...\n", o.decode);
    spec = MeasureSpeculation(model, threads, o);
  }
  std::vector<BatchResult> batches;
  for (int b : o.batch) {
    std::fprintf(g_out, "batched decode, %d sequences, %d steps ...\n", b, o.decode);
    batches.push_back(MeasureBatch(model, threads, o, b));
  }
  // Other tenants of the memory system come and go (this machine's probe reads ~33 or ~55 GB/s
  // from one second to the next): measured again right after the decode, the largest of the two
  // figures and of the rates the operators of one format were seen reading is the denominator,
  // so the fraction errs low, never high (the probe alone read 31-34 GB/s in a run whose BF16
  // matrices streamed at 51).
  const double bandwidth_after = deepseek::backend::cpu::MeasureReadBandwidth(pool, uint64_t{1} << 30);
  double bandwidth_operators = FastestFormatRate(d.by_format);
  for (const BatchResult& b : batches) bandwidth_operators = std::max(bandwidth_operators, FastestFormatRate(b.by_format));
  for (const auto* formats : {&spec.decode_by_format, &spec.verify_by_format}) {
    bandwidth_operators = std::max(bandwidth_operators, FastestFormatRate(*formats));
  }
  const double bandwidth = std::max({bandwidth_before, bandwidth_after, bandwidth_operators});
  const double achieved = d.bytes_per_token * d.tok_s / 1e9;
  const double gemm_gflops = std::max(p512.gemm_gflops, p2048.gemm_gflops);

  std::fprintf(g_out,
               "\n| measure | value |\n|---|---|\n"
               "| decode (batch 1) | %.2f tok/s |\n| weight bytes per token | %.1f MB |\n"
               "| achieved weight read rate | %.1f GB/s |\n"
               "| read bandwidth (probe before / after decode, fastest format's operators) | %.1f GB/s (%.1f / %.1f, %.1f) |\n"
               "| bandwidth fraction | %.3f |\n| prefill 512 | %.1f tok/s |\n| prefill 2048 | %.1f tok/s |\n"
               "| prefill GEMM rate | %.1f GFLOP/s |\n| measured peak FMA | %.1f GFLOP/s |\n| peak fraction | %.3f |\n"
               "| measured peak bf16 dot products | %.1f GFLOP/s |\n| bf16 peak fraction | %.3f |\n"
               "| peak RSS | %.0f MB |\n",
               d.tok_s, d.bytes_per_token / 1e6, achieved, bandwidth, bandwidth_before, bandwidth_after, bandwidth_operators,
               achieved / bandwidth, p512.tok_s, p2048.tok_s, gemm_gflops, peak, gemm_gflops / peak, peak_bf16, gemm_gflops / peak_bf16, PeakRssMb());
  if (spec.verify_ms > 0) {
    std::fprintf(g_out,
                 "\nspeculative decoding (greedy): MTP draft %.2f ms + 2-token verify %.2f ms against %.2f ms per decode step "
                 "timed between them (verify / decode %.2fx); the verify step reads %.1f MB against %.1f MB per decode step, at "
                 "%.3f of the bandwidth (those decode steps %.3f); %.0f%% of positions close a compressor block and decode "
                 "plainly; speed-up at acceptance 0.6 / 0.8 / 0.9: %.2fx / %.2fx / %.2fx\n",
                 spec.draft_ms, spec.verify_ms, spec.decode_ms, spec.verify_ms / spec.decode_ms, spec.verify_bytes / 1e6,
                 spec.decode_bytes / 1e6, spec.VerifyBandwidthFraction(bandwidth), spec.DecodeBandwidthFraction(bandwidth),
                 100 * spec.no_draft, spec.Speedup(0.6), spec.Speedup(0.8), spec.Speedup(0.9));
  }
  // The compute ceiling of the matrix operators: the bf16 dot-product peak where the kernels
  // use it (MeasurePeakBf16 is the FMA peak elsewhere).
  const double peak_compute = peak_bf16;
  if (!batches.empty()) WriteBatchPlot(batches, bandwidth, peak_compute, o.batch_out, c.n_layers, threads);
  if (!batches.empty()) {
    std::fprintf(g_out,
                 "\nbatched decode (Session::DecodeBatch, greedy; the roofline: the slower of the bytes at %.1f GB/s and the "
                 "flops at %.0f GFLOP/s):\n| batch | step | tokens/s (all sequences) | weight bytes per step | bandwidth fraction | "
                 "GFLOP per step | roofline fraction |\n|---|---|---|---|---|---|---|\n",
                 bandwidth, peak_compute);
    for (const BatchResult& b : batches) {
      std::fprintf(g_out, "| %d | %.1f ms | %.2f | %.1f MB | %.3f | %.1f | %.3f |\n", b.batch, b.step_ms, b.tok_s, b.bytes_per_step / 1e6,
                   b.BandwidthFraction(bandwidth), b.flops_per_step / 1e9, b.RooflineFraction(bandwidth, peak_compute));
    }
  }
  PrintFormats("decode", d.by_format, o.decode, o.decode / d.tok_s);
  if (spec.verify_ms > 0) {
    PrintFormats("decode steps between the verify steps", spec.decode_by_format, o.decode, o.decode * spec.decode_ms / 1000);
    PrintFormats("verify steps (2 tokens)", spec.verify_by_format, o.decode, o.decode * spec.verify_ms / 1000);
  }
  if (!batches.empty()) {
    const BatchResult& largest = batches.back();
    const std::string what = "batched decode, batch " + std::to_string(largest.batch);
    PrintFormats(what.c_str(), largest.by_format, o.decode, o.decode * largest.step_ms / 1000);
  }
  // JSON object members, "batch size": figure.
  std::string batch_tok_s, batch_fraction, batch_gflop, batch_roofline;
  const auto add_member = [](std::string& object, int batch, double figure) {
    char item[96];
    std::snprintf(item, sizeof item, "%s\"%d\": %.6g", object.empty() ? "" : ", ", batch, figure);
    object += item;
  };
  for (const BatchResult& b : batches) {
    add_member(batch_tok_s, b.batch, b.tok_s);
    add_member(batch_fraction, b.batch, b.BandwidthFraction(bandwidth));
    add_member(batch_gflop, b.batch, b.flops_per_step / 1e9);
    add_member(batch_roofline, b.batch, b.RooflineFraction(bandwidth, peak_compute));
  }
  if (o.json) {  // six significant digits, so that the ratios can be recomputed from the figures
    std::printf(
        "{\"decode_tok_s\": %.6g, \"bytes_per_token\": %.0f, \"bandwidth_gbs\": %.6g, \"bandwidth_gbs_before\": %.6g, "
        "\"bandwidth_gbs_after\": %.6g, \"bandwidth_gbs_operators\": %.6g, \"bandwidth_fraction\": %.6g, "
        "\"prefill_tok_s_512\": %.6g, \"prefill_tok_s_2048\": %.6g, \"prefill_gflops\": %.6g, \"peak_gflops\": %.6g, "
        "\"peak_fraction\": %.6g, \"peak_bf16_gflops\": %.6g, \"bf16_peak_fraction\": %.6g, "
        "\"mtp_draft_ms\": %.6g, \"mtp_verify_ms\": %.6g, \"mtp_verify_step_ratio\": %.6g, \"mtp_verify_bytes\": %.0f, \"mtp_verify_bandwidth_fraction\": %.6g, \"mtp_decode_ms\": %.6g, \"mtp_decode_bandwidth_fraction\": %.6g, "
        "\"spec_no_draft_fraction\": %.6g, "
        "\"spec_speedup_060\": %.6g, \"spec_speedup_080\": %.6g, \"spec_speedup_090\": %.6g, \"threads\": %d, \"target\": \"%s\", \"layers\": %d, \"experts\": %d, "
        "\"batch_tok_s\": {%s}, \"batch_bandwidth_fraction\": {%s}, \"batch_gflop_per_step\": {%s}, \"batch_roofline_fraction\": {%s}, "
        "\"peak_rss_mb\": %.0f}\n",
        d.tok_s, d.bytes_per_token, bandwidth, bandwidth_before, bandwidth_after, bandwidth_operators, achieved / bandwidth, p512.tok_s, p2048.tok_s, gemm_gflops, peak,
        gemm_gflops / peak, peak_bf16, gemm_gflops / peak_bf16, spec.draft_ms, spec.verify_ms,
        spec.decode_ms > 0 ? spec.verify_ms / spec.decode_ms : 0.0, spec.verify_bytes, spec.VerifyBandwidthFraction(bandwidth), spec.decode_ms,
        spec.DecodeBandwidthFraction(bandwidth),
        spec.no_draft, spec.verify_ms > 0 ? spec.Speedup(0.6) : 0.0,
        spec.verify_ms > 0 ? spec.Speedup(0.8) : 0.0, spec.verify_ms > 0 ? spec.Speedup(0.9) : 0.0, threads, deepseek::backend::cpu::KernelTarget().c_str(), c.n_layers, c.n_experts,
        batch_tok_s.c_str(), batch_fraction.c_str(), batch_gflop.c_str(), batch_roofline.c_str(), PeakRssMb());
  }
  if (o.sweep) Sweep(model, o, threads);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!Parse(argc, argv, o)) return Usage();
  if (o.json) g_out = stderr;
  const deepseek::Status st = deepseek::CatchAll([&] {
    if (o.op.format.empty()) {
      Run(o);
      return;
    }
    if (o.op.format == "vision") {
      o.vision.threads = o.threads;
      o.vision.json = o.json;
      deepseek::bench::RunVisionBench(o.vision, g_out);
      return;
    }
    o.op.threads = o.threads;
    o.op.json = o.json;
    deepseek::bench::RunOpBench(o.op, g_out);
  });
  if (!st.ok()) {
    std::fprintf(stderr, "deepseek-bench: %s\n", st.ToString().c_str());
    return 1;
  }
  return 0;
}
