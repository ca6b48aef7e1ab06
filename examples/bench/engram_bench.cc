// deepseek-engram-bench: V4.1's Engram tables served from disk. Writes a v41-tiny checkpoint
// whose two Engram tables are several GiB (holes of sparse shard files, but for the rows this
// benchmark's tokens touch, which get data), then runs the same prompt and decode twice, each
// with a freshly loaded model: first with the shards dropped from the page cache (the touched
// rows come from disk as they are looked up), then with them still cached from the first run
// (in RAM). Prints, per run, decode time per token, Engram bytes read per token, how much the
// process's resident memory grew and how much of the shards is resident.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/mapped_file.h"
#include "deepseek/deepseek.h"
#include "format/safetensors.h"
#include "model/engram_hash.h"
#include "runtime/engram_token_map_file.h"
#include "tinygen/v41_checkpoint.h"

namespace {

using namespace deepseek;
using Clock = std::chrono::steady_clock;

constexpr const char* kUsage =
    "usage: deepseek-engram-bench [--dir DIR] [--table-gib G] [--prompt N] [--decode N] [--threads T] [--keep] [--json]\n"
    "  --dir        where the checkpoint is written (default: a new folder in the temp dir, removed after)\n"
    "  --table-gib  the two Engram tables' size together (default 4; sparse: no disk space but the touched rows)\n"
    "  --prompt     prompt tokens (default 64); --decode: decode steps (default 64); --threads (default 2)\n"
    "  --json       the figures as one JSON object on stdout\n";

struct Options {
  std::string dir;
  double table_gib = 4;
  int64_t prompt = 64, decode = 64;
  int threads = 2;
  bool keep = false;
  bool json = false;
};

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--keep" || flag == "--json") {
      (flag == "--keep" ? o.keep : o.json) = true;
      continue;
    }
    if (i + 1 >= argc) Fail(StatusCode::kInvalidArgument, flag + " needs a value");
    const std::string value = argv[++i];
    if (flag == "--dir") o.dir = value;
    else if (flag == "--table-gib") o.table_gib = std::stod(value);
    else if (flag == "--prompt") o.prompt = std::stoll(value);
    else if (flag == "--decode") o.decode = std::stoll(value);
    else if (flag == "--threads") o.threads = std::stoi(value);
    else Fail(StatusCode::kInvalidArgument, "unknown flag " + flag);
  }
  if (o.table_gib <= 0 || o.prompt < 1 || o.decode < 1 || o.threads < 1) Fail(StatusCode::kInvalidArgument, "sizes must be positive");
  return o;
}

// Kilobytes of a "Key:   N kB" line of a /proc file, summed over the lines that follow a header
// line accepted by `section` (all lines when section is empty).
uint64_t ProcKb(const std::string& path, const std::string& key, const std::string& section_path_part = "") {
  std::ifstream in(path);
  std::string line;
  uint64_t kb = 0;
  bool inside = section_path_part.empty();
  while (std::getline(in, line)) {
    const bool header = !line.empty() && std::isxdigit(static_cast<unsigned char>(line[0])) && line.find('-') < 20;
    if (header && !section_path_part.empty()) inside = line.find(section_path_part) != std::string::npos;
    if (inside && line.rfind(key + ":", 0) == 0) kb += std::stoull(line.substr(key.size() + 1));
  }
  return kb;
}
double RssMiB() { return static_cast<double>(ProcKb("/proc/self/status", "VmRSS")) / 1024.0; }
double ShardsResidentMiB(const std::string& dir) {
  return static_cast<double>(ProcKb("/proc/self/smaps", "Rss", std::filesystem::path(dir).filename().string() + "/model-")) / 1024.0;
}

std::vector<std::string> Shards(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".safetensors") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Gives the touched rows of each Engram table (and their scales) random data on disk.
void FillTouchedRows(const std::string& dir, const ModelConfig& c, std::span<const int32_t> tokens) {
  const std::vector<int32_t> map = runtime::LoadEngramTokenMap(dir, c).ids;
  const std::vector<model::EngramLayerHash> hashes = model::DeriveEngramHashes(c.engram);
  const int64_t hd = c.engram.head_dim;
  std::mt19937 rng(7);
  for (const std::string& shard : Shards(dir)) {
    const MappedFile file = MappedFile::Open(shard);
    const std::vector<format::TensorInfo> tensors = format::ParseSafetensors(file.data(), file.size(), &shard);
    const int fd = ::open(shard.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) Fail(StatusCode::kIoError, "cannot open " + shard);
    for (size_t l = 0; l < c.engram.layer_ids.size(); ++l) {
      const std::string prefix = "layers." + std::to_string(c.engram.layer_ids[l]) + ".engram.embed.";
      const auto find = [&](const std::string& name) -> const format::TensorInfo* {
        for (const format::TensorInfo& t : tensors) {
          if (t.name == prefix + name) return &t;
        }
        return nullptr;
      };
      const format::TensorInfo* table = find("weight");
      const format::TensorInfo* scales = find("scale");
      if (!table || !scales) continue;
      const auto table_at = table->data - file.data(), scales_at = scales->data - file.data();
      const std::vector<int64_t> rows =
          model::EngramSequenceRows(hashes[l], map, c.image_token_id, map[static_cast<size_t>(c.pad_token_id)], tokens, 0);
      std::vector<uint8_t> codes(static_cast<size_t>(hd)), scale(static_cast<size_t>(hd / 32), 127 - 3);
      for (int64_t row : rows) {
        for (uint8_t& v : codes) v = static_cast<uint8_t>(rng() % 0x7e) | static_cast<uint8_t>(rng() & 0x80);  // no NaN code
        if (::pwrite(fd, codes.data(), codes.size(), table_at + row * hd) != static_cast<ssize_t>(codes.size()) ||
            ::pwrite(fd, scale.data(), scale.size(), scales_at + row * (hd / 32)) != static_cast<ssize_t>(scale.size())) {
          Fail(StatusCode::kIoError, "cannot write " + shard);
        }
      }
    }
    ::fsync(fd);
    ::close(fd);
  }
}

// Drops the shards' clean pages from the page cache: the next reads come from disk.
void DropFromPageCache(const std::string& dir) {
  for (const std::string& shard : Shards(dir)) {
    const int fd = ::open(shard.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ::fdatasync(fd);
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
  }
}

struct RunResult {
  double prefill_ms = 0, decode_ms_per_token = 0, engram_bytes_per_token = 0, rss_growth_mib = 0, shards_resident_mib = 0;
};

RunResult Run(const Options& o, std::span<const int32_t> tokens) {
  Result<std::shared_ptr<const Model>> model = Model::Load(o.dir);
  ThrowIfError(model.status());
  SessionOptions so;
  so.num_threads = o.threads;
  Result<std::unique_ptr<Session>> session = Session::Create(model.value(), so);
  ThrowIfError(session.status());
  Session& s = *session.value();
  const double rss_before = RssMiB();
  RunResult r;
  const Clock::time_point start = Clock::now();
  ThrowIfError(s.Prefill(tokens.first(static_cast<size_t>(o.prompt))));
  const Clock::time_point prefilled = Clock::now();
  const uint64_t bytes_before = model.value()->engram_bytes_read();
  for (int64_t i = o.prompt; i < static_cast<int64_t>(tokens.size()); ++i) ThrowIfError(s.Decode(tokens[static_cast<size_t>(i)]));
  const Clock::time_point decoded = Clock::now();
  r.prefill_ms = std::chrono::duration<double, std::milli>(prefilled - start).count();
  r.decode_ms_per_token = std::chrono::duration<double, std::milli>(decoded - prefilled).count() / static_cast<double>(o.decode);
  r.engram_bytes_per_token = static_cast<double>(model.value()->engram_bytes_read() - bytes_before) / static_cast<double>(o.decode);
  r.rss_growth_mib = RssMiB() - rss_before;
  r.shards_resident_mib = ShardsResidentMiB(o.dir);
  return r;
}

void Print(const char* what, const RunResult& r) {
  std::printf("%-22s prefill %8.1f ms   decode %7.3f ms/token   Engram %6.0f B/token   RSS +%7.1f MiB   shards resident %7.1f MiB\n",
              what, r.prefill_ms, r.decode_ms_per_token, r.engram_bytes_per_token, r.rss_growth_mib, r.shards_resident_mib);
}

std::string Json(const RunResult& r) {
  char buffer[320];
  std::snprintf(buffer, sizeof(buffer),
                "{\"prefill_ms\": %.3f, \"decode_ms_per_token\": %.4f, \"engram_bytes_per_token\": %.1f, "
                "\"rss_growth_mib\": %.2f, \"shards_resident_mib\": %.2f}",
                r.prefill_ms, r.decode_ms_per_token, r.engram_bytes_per_token, r.rss_growth_mib, r.shards_resident_mib);
  return buffer;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    Options o = Parse(argc, argv);
    const bool own_dir = o.dir.empty();
    if (own_dir) {
      std::string tmpl = (std::filesystem::temp_directory_path() / "deepseek-engram-XXXXXX").string();
      if (!::mkdtemp(tmpl.data())) Fail(StatusCode::kIoError, "cannot make a temporary folder");
      o.dir = tmpl;
    }
    tinygen::TinyV41Spec spec = tinygen::TinyV41Spec::Tiny();
    spec.sparse_engram_tables = true;
    // Each table holds (max_ngram − 1) · heads sub-tables of about engram_vocab_size rows of
    // head_dim codes and head_dim / 32 scales.
    const double row_bytes = spec.engram_head_dim + spec.engram_head_dim / 32.0;
    const double sub_tables = static_cast<double>(spec.engram_layer_ids.size()) * (spec.engram_max_ngram_size - 1) * spec.engram_n_heads;
    spec.engram_vocab_size = static_cast<int64_t>(o.table_gib * 1073741824.0 / (row_bytes * sub_tables));
    const Clock::time_point t0 = Clock::now();
    tinygen::WriteTinyV41Checkpoint(spec, o.dir);
    const Result<std::shared_ptr<const Model>> probe = Model::Load(o.dir);
    ThrowIfError(probe.status());
    const ModelConfig& c = probe.value()->config();
    uint64_t table_bytes = 0;
    for (int64_t rows : c.engram.num_embeddings) table_bytes += static_cast<uint64_t>(rows * static_cast<int64_t>(row_bytes));

    std::vector<int32_t> tokens(static_cast<size_t>(o.prompt + o.decode));
    std::mt19937 rng(11);
    for (int32_t& t : tokens) {
      do t = static_cast<int32_t>(3 + rng() % static_cast<uint32_t>(c.vocab_size - 3));
      while (t == c.image_token_id);
    }
    FillTouchedRows(o.dir, c, tokens);
    uint64_t on_disk = 0;  // allocated blocks: the holes take none
    for (const std::string& shard : Shards(o.dir)) {
      struct stat st {};
      if (::stat(shard.c_str(), &st) == 0) on_disk += static_cast<uint64_t>(st.st_blocks) * 512;
    }
    const double table_gib = static_cast<double>(table_bytes) / 1073741824.0, on_disk_mib = static_cast<double>(on_disk) / 1048576.0;
    if (!o.json) {
      std::printf("Engram tables: %.2f GiB in %s (sparse: the shards take %.1f MiB on disk), written in %.1f s; "
                  "%lld prompt + %lld decode tokens, %d threads\n",
                  table_gib, o.dir.c_str(), on_disk_mib, std::chrono::duration<double>(Clock::now() - t0).count(),
                  static_cast<long long>(o.prompt), static_cast<long long>(o.decode), o.threads);
    }
    DropFromPageCache(o.dir);
    const RunResult disk = Run(o, tokens);
    const RunResult ram = Run(o, tokens);
    if (o.json) {
      std::printf("{\"table_gib\": %.3f, \"on_disk_mib\": %.2f, \"disk\": %s, \"ram\": %s}\n", table_gib, on_disk_mib,
                  Json(disk).c_str(), Json(ram).c_str());
    } else {
      Print("tables on disk (cold)", disk);
      Print("tables in RAM (cached)", ram);
      std::printf("decode on disk / in RAM: %.2fx\n", disk.decode_ms_per_token / ram.decode_ms_per_token);
    }
    if (own_dir && !o.keep) std::filesystem::remove_all(o.dir);
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "deepseek-engram-bench: %s\n%s", e.what(), kUsage);
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "deepseek-engram-bench: %s\n%s", e.what(), kUsage);
    return 1;
  }
}
