// deepseek-make-tiny: writes a seeded random V4 or V4.1 checkpoint (tiny presets for tests and
// the demo, V4-Flash-sized layers for benchmarks) in the official Hugging Face layout.
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>

#include "core/error.h"
#include "tinygen/tiny_checkpoint.h"
#include "tinygen/v41_checkpoint.h"

namespace {

constexpr const char* kUsage =
    "usage: deepseek-make-tiny --out DIR [--preset flash-tiny|pro-tiny|flash-bench|v41-tiny]\n"
    "                          [--layers N] [--experts E] [--seed S] [--vocab V]\n"
    "  --preset   flash-tiny (default) and pro-tiny have the golden tiny V4 checkpoints' architecture;\n"
    "             flash-bench has V4-Flash's real layer sizes (several GB);\n"
    "             v41-tiny is a V4.1 model with Engram and a vision tower, the architecture of the\n"
    "             golden v41_image checkpoint\n"
    "  --layers   flash-bench only: number of layers (default 4)\n"
    "  --experts  flash-bench only: routed experts per layer (default 64)\n"
    "  --seed     random seed (default 1)\n"
    "  --vocab    vocabulary size override (at least 264; 266 for v41-tiny)\n";

struct Options {
  std::string out;
  std::string preset = "flash-tiny";
  long long layers = -1, experts = -1, vocab = -1;
  unsigned long long seed = 1;
};

template <typename T>
bool ParseNumber(std::string_view text, T& value) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size();
}

// Returns false (after printing why) when the command line is unusable.
bool ParseArgs(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "deepseek-make-tiny: %s needs a value\n%s", argv[i], kUsage);
      return false;
    }
    const std::string_view value = argv[++i];
    bool ok = true;
    if (flag == "--out") o.out = value;
    else if (flag == "--preset") o.preset = value;
    else if (flag == "--layers") ok = ParseNumber(value, o.layers) && o.layers > 0;
    else if (flag == "--experts") ok = ParseNumber(value, o.experts) && o.experts > 0;
    else if (flag == "--seed") ok = ParseNumber(value, o.seed);
    else if (flag == "--vocab") ok = ParseNumber(value, o.vocab) && o.vocab > 0;
    else {
      std::fprintf(stderr, "deepseek-make-tiny: unknown option %s\n%s", argv[i - 1], kUsage);
      return false;
    }
    if (!ok) {
      std::fprintf(stderr, "deepseek-make-tiny: bad value '%s' for %s\n", argv[i], argv[i - 1]);
      return false;
    }
  }
  if (o.out.empty()) {
    std::fprintf(stderr, "deepseek-make-tiny: --out is required\n%s", kUsage);
    return false;
  }
  if (o.preset != "flash-bench" && (o.layers > 0 || o.experts > 0)) {
    std::fprintf(stderr, "deepseek-make-tiny: --layers and --experts apply to --preset flash-bench only\n");
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  using deepseek::tinygen::TinySpec;
  using deepseek::tinygen::TinyV41Spec;
  Options o;
  if (!ParseArgs(argc, argv, o)) return 2;

  TinySpec spec;
  TinyV41Spec v41_spec = TinyV41Spec::Tiny();
  const bool v41 = o.preset == "v41-tiny";
  if (o.preset == "flash-tiny") spec = TinySpec::FlashTiny();
  else if (o.preset == "pro-tiny") spec = TinySpec::ProTiny();
  else if (o.preset == "flash-bench")
    spec = TinySpec::FlashBench(o.layers > 0 ? static_cast<int>(o.layers) : 4,
                                o.experts > 0 ? static_cast<int>(o.experts) : 64);
  else if (!v41) {
    std::fprintf(stderr, "deepseek-make-tiny: unknown preset '%s'\n%s", o.preset.c_str(), kUsage);
    return 2;
  }
  // V4.1's text model is a TinySpec too; the seed and the vocabulary apply to it.
  TinySpec& text = v41 ? v41_spec.text : spec;
  text.seed = o.seed;
  if (o.vocab > 0) text.vocab_size = o.vocab;

  const auto start = std::chrono::steady_clock::now();
  const auto seconds = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  uint64_t total_bytes = 0;
  int reported_tenth = -1;  // progress is printed at every 10% of the bytes
  const auto progress = [&](const deepseek::tinygen::Progress& p) {
    total_bytes = p.bytes_total;
    const int tenth = static_cast<int>(10 * p.bytes_done / (p.bytes_total ? p.bytes_total : 1));
    if (tenth == reported_tenth && p.tensors_done != p.tensors_total) return;
    reported_tenth = tenth;
    std::fprintf(stderr, "  %5lld/%lld tensors  %8.1f / %.1f MB  %6.1f s  %.*s\n",
                 static_cast<long long>(p.tensors_done), static_cast<long long>(p.tensors_total),
                 static_cast<double>(p.bytes_done) / 1e6, static_cast<double>(p.bytes_total) / 1e6, seconds(),
                 static_cast<int>(p.current.size()), p.current.data());
  };

  try {
    if (v41) deepseek::tinygen::WriteTinyV41Checkpoint(v41_spec, o.out, progress);
    else deepseek::tinygen::WriteTinyCheckpoint(spec, o.out, progress);
  } catch (const deepseek::Error& e) {
    std::fprintf(stderr, "deepseek-make-tiny: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "deepseek-make-tiny: internal error: %s\n", e.what());
    return 1;
  }
  const double s = seconds();
  std::printf("wrote %s (%s, seed %llu): %.3f GB of tensors in %.1f s (%.0f MB/s)\n", o.out.c_str(),
              o.preset.c_str(), o.seed, static_cast<double>(total_bytes) / 1e9, s,
              static_cast<double>(total_bytes) / 1e6 / (s > 0 ? s : 1));
  return 0;
}
