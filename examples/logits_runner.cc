// deepseek-logits: the conformance runner. Prefills the first N tokens of a file (optionally
// in chunks), feeds the rest one at a time, and writes the logits after each step as .npy.
// --save-kv writes the session to a file after the prefill; --load-kv starts from such a file
// (its tokens must begin the token file) and prefills only the rest of the first N.
// --image FILE --image-at POS (V4.1 with a vision tower; repeatable) puts the image's span
// before token POS of the file (0 <= POS <= N, so within the prefill; POS = N: after the
// last prefilled token), as the reference's prompts hold an image among their text tokens.
//   deepseek-logits --model DIR --tokens FILE --prefill N [--chunks A,B,...] --out OUT.npy
//                   [--mtp OUT2.npy] [--threads T] [--save-kv FILE] [--load-kv FILE]
//                   [--image FILE --image-at POS]...
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "deepseek/deepseek.h"

namespace {

// An image and the index of the token it comes before.
struct PlacedImage {
  std::string path;
  long long at = -1;
};

struct Args {
  std::string model, tokens, out, mtp, save_kv, load_kv;
  long long prefill = -1;
  std::vector<long long> chunks;
  int threads = 0;
  std::vector<PlacedImage> images;  // in the order given
};

[[noreturn]] void Usage(const std::string& why) {
  std::cerr << "deepseek-logits: " << why << "\n"
            << "usage: deepseek-logits --model DIR --tokens FILE --prefill N [--chunks A,B,...] --out OUT.npy "
               "[--mtp OUT2.npy] [--threads T] [--save-kv FILE] [--load-kv FILE] [--image FILE --image-at POS]...\n";
  std::exit(2);
}

long long ParseInt(const std::string& s, const char* what) {
  try {
    size_t used = 0;
    const long long v = std::stoll(s, &used);
    if (used != s.size()) throw std::invalid_argument(s);
    return v;
  } catch (const std::exception&) {
    Usage(std::string("invalid ") + what + ": '" + s + "'");
  }
}

Args ParseArgs(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) Usage("missing value for " + flag);
    const std::string v = argv[++i];
    if (flag == "--model") a.model = v;
    else if (flag == "--tokens") a.tokens = v;
    else if (flag == "--out") a.out = v;
    else if (flag == "--mtp") a.mtp = v;
    else if (flag == "--save-kv") a.save_kv = v;
    else if (flag == "--load-kv") a.load_kv = v;
    else if (flag == "--prefill") a.prefill = ParseInt(v, "--prefill");
    else if (flag == "--threads") a.threads = static_cast<int>(ParseInt(v, "--threads"));
    else if (flag == "--image") a.images.push_back({.path = v});
    else if (flag == "--image-at") {
      if (a.images.empty() || a.images.back().at >= 0) Usage("--image-at must follow its --image FILE");
      a.images.back().at = ParseInt(v, "--image-at");
      if (a.images.back().at < 0) Usage("--image-at must not be negative");
    } else if (flag == "--chunks") {
      std::stringstream ss(v);
      for (std::string part; std::getline(ss, part, ',');) a.chunks.push_back(ParseInt(part, "--chunks entry"));
    } else Usage("unknown flag " + flag);
  }
  if (a.model.empty() || a.tokens.empty() || a.out.empty() || a.prefill < 0) Usage("--model, --tokens, --prefill and --out are required");
  if (!a.load_kv.empty() && !a.chunks.empty()) Usage("--chunks and --load-kv exclude each other");
  for (const PlacedImage& image : a.images) {
    if (image.at < 0) Usage("--image " + image.path + " needs its --image-at POS");
    if (image.at > a.prefill) Usage("--image-at " + std::to_string(image.at) + " is past --prefill: images go in the prefill");
  }
  // A saved session's image spans hold the image token, which does not say which image made them.
  if (!a.load_kv.empty() && !a.images.empty()) Usage("--image and --load-kv exclude each other");
  // Stable: images at one position keep the order given.
  std::stable_sort(a.images.begin(), a.images.end(), [](const PlacedImage& x, const PlacedImage& y) { return x.at < y.at; });
  return a;
}

std::vector<int32_t> ReadTokens(const std::string& path) {
  std::ifstream in(path);
  if (!in) Usage("cannot open token file '" + path + "'");
  std::vector<int32_t> tokens;
  for (std::string word; in >> word;) {
    const long long v = ParseInt(word, "token id");
    if (v < INT32_MIN || v > INT32_MAX) Usage("token id out of range: " + word);
    tokens.push_back(static_cast<int32_t>(v));
  }
  return tokens;
}

// NumPy .npy, version 1.0, little-endian float32, C order.
bool WriteNpy(const std::string& path, const std::vector<float>& data, size_t rows, size_t cols) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(rows) + ", " +
                       std::to_string(cols) + "), }";
  const size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  std::ofstream out(path, std::ios::binary);
  const unsigned char magic[8] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  out.write(reinterpret_cast<const char*>(magic), 8);
  const uint16_t len = static_cast<uint16_t>(header.size());
  const unsigned char len_le[2] = {static_cast<unsigned char>(len & 0xff), static_cast<unsigned char>(len >> 8)};
  out.write(reinterpret_cast<const char*>(len_le), 2);
  out << header;
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size() * sizeof(float)));
  return static_cast<bool>(out);
}

int Fail(const deepseek::Status& s) {
  std::cerr << "deepseek-logits: " << s.ToString() << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = ParseArgs(argc, argv);
  const std::vector<int32_t> tokens = ReadTokens(args.tokens);
  const size_t extra = args.mtp.empty() ? 0 : 1;  // MTP needs the token after the last one fed
  if (static_cast<size_t>(args.prefill) < 1 || static_cast<size_t>(args.prefill) + extra > tokens.size()) {
    Usage("--prefill must be between 1 and the number of tokens" + std::string(extra ? " minus one (--mtp)" : ""));
  }
  std::vector<long long> chunks = args.chunks.empty() ? std::vector<long long>{args.prefill} : args.chunks;
  long long sum = 0;
  for (long long c : chunks) {
    if (c <= 0) Usage("--chunks entries must be positive");
    sum += c;
  }
  if (sum != args.prefill) Usage("--chunks must sum to --prefill");

  const auto t0 = std::chrono::steady_clock::now();
  auto model = deepseek::Model::Load(args.model);
  if (!model.ok()) return Fail(model.status());
  deepseek::SessionOptions options;
  options.num_threads = args.threads;
  options.enable_mtp = !args.mtp.empty();
  auto session = deepseek::Session::Create(model.value(), options);
  if (!session.ok()) return Fail(session.status());
  deepseek::Session& s = *session.value();
  const size_t vocab = static_cast<size_t>(model.value()->config().vocab_size);
  if (!args.images.empty() && !model.value()->has_vision()) {
    return Fail({deepseek::StatusCode::kUnsupported, args.model + " has no vision tower, so it takes no --image"});
  }
  std::vector<deepseek::Image> images;
  for (const PlacedImage& placed : args.images) {
    deepseek::Result<deepseek::Image> image = deepseek::Image::Load(placed.path);
    if (!image.ok()) return Fail(image.status());
    images.push_back(std::move(image).value());
  }
  const auto t1 = std::chrono::steady_clock::now();

  std::vector<float> logits, mtp_logits;
  const size_t fed_end = tokens.size() - extra;
  const auto record = [&](size_t consumed) -> deepseek::Status {
    logits.insert(logits.end(), s.logits().begin(), s.logits().end());
    if (extra) {
      auto m = s.MtpLogits(tokens[consumed]);
      if (!m.ok()) return m.status();
      mtp_logits.insert(mtp_logits.end(), m.value().begin(), m.value().end());
    }
    return deepseek::Status::Ok();
  };
  size_t pos = 0, next_image = 0;
  // Feeds the tokens up to `end` in one call per stretch between images, each image's span
  // where it stands (one at `end` too: before the token after this call's last).
  const auto prefill_to = [&](size_t end) -> deepseek::Status {
    for (;;) {
      for (; next_image < images.size() && static_cast<size_t>(args.images[next_image].at) == pos; ++next_image) {
        if (auto st = s.PrefillImage(images[next_image]); !st.ok()) return st;
      }
      if (pos == end) return deepseek::Status::Ok();
      const size_t stop = next_image < images.size() ? std::min(end, static_cast<size_t>(args.images[next_image].at)) : end;
      if (auto st = s.Prefill({tokens.data() + pos, stop - pos}); !st.ok()) return st;
      pos = stop;
    }
  };
  if (!args.load_kv.empty()) {
    if (auto st = s.Load(args.load_kv); !st.ok()) return Fail(st);
    const std::span<const int32_t> loaded = s.tokens();
    if (loaded.size() > static_cast<size_t>(args.prefill) || !std::equal(loaded.begin(), loaded.end(), tokens.begin())) {
      return Fail({deepseek::StatusCode::kInvalidArgument,
                   args.load_kv + ": its " + std::to_string(loaded.size()) + " tokens do not begin the first --prefill tokens"});
    }
    pos = loaded.size();
    chunks = {args.prefill - static_cast<long long>(pos)};
  }
  for (long long c : chunks) {
    if (c == 0) continue;
    if (auto st = prefill_to(pos + static_cast<size_t>(c)); !st.ok()) return Fail(st);
  }
  const long long prefilled = s.position();  // the prefill's tokens and image positions
  if (!args.save_kv.empty()) {
    if (auto st = s.Save(args.save_kv); !st.ok()) return Fail(st);
  }
  if (auto st = record(pos); !st.ok()) return Fail(st);
  const auto t2 = std::chrono::steady_clock::now();
  for (; pos < fed_end; ++pos) {
    if (auto st = s.Decode(tokens[pos]); !st.ok()) return Fail(st);
    if (auto st = record(pos + 1); !st.ok()) return Fail(st);
  }
  const auto t3 = std::chrono::steady_clock::now();

  const size_t rows = logits.size() / vocab;
  if (!WriteNpy(args.out, logits, rows, vocab)) return Fail({deepseek::StatusCode::kIoError, "cannot write " + args.out});
  if (extra && !WriteNpy(args.mtp, mtp_logits, rows, vocab)) return Fail({deepseek::StatusCode::kIoError, "cannot write " + args.mtp});
  const auto secs = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };
  const std::string spans = images.empty() ? "" : " (" + std::to_string(images.size()) + " image spans among them)";
  std::fprintf(stderr, "load %.3f s, prefill %lld tokens%s %.3f s (%.1f tok/s), decode %zu tokens %.3f s (%.1f tok/s)\n",
               secs(t0, t1), prefilled, spans.c_str(), secs(t1, t2), static_cast<double>(prefilled) / secs(t1, t2), rows - 1,
               secs(t2, t3), static_cast<double>(rows - 1) / std::max(1e-9, secs(t2, t3)));
  return 0;
}
