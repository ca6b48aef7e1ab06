// deepseek-chat: interactive multi-turn chat with a V4 checkpoint, streaming the reply as it is
// generated; reasoning is shown dimmed on a terminal and between [reasoning] markers otherwise.
//   deepseek-chat --model DIR [--mode fast|expert|expert-max] [-p PROMPT] [options]
// In the interactive loop, /reset starts a new conversation, /mode NAME switches modes and
// /quit (or end of input) leaves. With a vision model (V4.1), --image FILE and --video DIR
// attach pictures, or a clip's frames, to the first user message of each conversation.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "deepseek/deepseek.h"

namespace {

// An --image FILE or --video DIR, kept in command-line order: that is the order of the pictures.
struct Attachment {
  bool video = false;
  std::string path;
};

struct Options {
  std::string model;
  std::string tokenizer;  // default: MODEL/tokenizer.json
  std::string system;
  std::string prompt;     // one-shot when set
  deepseek::ChatMode mode = deepseek::ChatMode::kExpert;
  deepseek::GenerationParams generation;
  int threads = 0;
  std::vector<Attachment> attachments;
  deepseek::VideoOptions video;  // --frame-stride, --max-visual-tokens (per --video)
};

int Usage() {
  std::fprintf(stderr,
               "usage: deepseek-chat --model DIR [--tokenizer FILE] [--mode fast|expert|expert-max]\n"
               "                     [-p PROMPT] [--system TEXT] [--temp T] [--top-k K] [--top-p P] [--min-p P]\n"
               "                     [--repeat-penalty R] [--seed S] [--max-tokens N] [--stop TEXT]... [--threads N]\n"
               "                     [--image FILE]... [--video DIR [--frame-stride N] [--max-visual-tokens N]]\n"
               "Images (PNG/JPEG) and a clip's frames (a folder's images in name order) go with the first user\n"
               "message, in command-line order: where its text says %s, else before the text (V4.1 only).\n"
               "Interactive commands: /reset, /mode fast|expert|expert-max, /quit\n",
               deepseek::kImagePlaceholder);
  return 2;
}

bool ParseArgs(int argc, char** argv, Options& o) {
  deepseek::SamplingParams& s = o.generation.sampling;
  s.temperature = 0.6f;
  s.top_p = 0.95f;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) return false;
    const std::string v = argv[++i];
    try {
      if (flag == "--model") o.model = v;
      else if (flag == "--tokenizer") o.tokenizer = v;
      else if (flag == "--system") o.system = v;
      else if (flag == "-p" || flag == "--prompt") o.prompt = v;
      else if (flag == "--temp") s.temperature = std::stof(v);
      else if (flag == "--top-k") s.top_k = std::stoi(v);
      else if (flag == "--top-p") s.top_p = std::stof(v);
      else if (flag == "--min-p") s.min_p = std::stof(v);
      else if (flag == "--repeat-penalty") s.repetition_penalty = std::stof(v);
      else if (flag == "--seed") s.seed = std::stoull(v);
      else if (flag == "--max-tokens") o.generation.max_tokens = std::stoll(v);
      else if (flag == "--stop") o.generation.stop_strings.push_back(v);
      else if (flag == "--threads") o.threads = std::stoi(v);
      else if (flag == "--image") o.attachments.push_back({.video = false, .path = v});
      else if (flag == "--video") o.attachments.push_back({.video = true, .path = v});
      else if (flag == "--frame-stride") o.video.frame_stride = std::stoll(v);
      else if (flag == "--max-visual-tokens") o.video.max_visual_tokens = std::stoll(v);
      else if (flag == "--mode") {
        deepseek::Result<deepseek::ChatMode> mode = deepseek::ParseChatMode(v);
        if (!mode.ok()) return false;
        o.mode = mode.value();
      } else {
        return false;
      }
    } catch (const std::exception&) {
      std::fprintf(stderr, "deepseek-chat: bad value for %s: %s\n", flag.c_str(), v.c_str());
      return false;
    }
  }
  if (o.tokenizer.empty()) o.tokenizer = o.model + "/tokenizer.json";
  return !o.model.empty();
}

deepseek::ChatMessage Message(const char* role, const std::string& content) {
  deepseek::ChatMessage m;
  m.role = role;
  m.content = content;
  return m;
}

// Writes the streamed reply: reasoning dimmed (terminal) or bracketed (pipe), content plain.
class ReplyPrinter {
 public:
  explicit ReplyPrinter(bool tty) : tty_(tty) {}

  void Piece(const deepseek::StreamEvent& e) {
    if (e.text.empty()) return;
    const bool reasoning = e.channel == deepseek::ChatChannel::kReasoning;
    if (reasoning != in_reasoning_) {
      if (reasoning) std::fputs(tty_ ? "\x1b[2m" : "[reasoning]\n", stdout);
      else std::fputs(tty_ ? "\x1b[0m\n" : "\n[/reasoning]\n", stdout);
      in_reasoning_ = reasoning;
    }
    if (e.channel == deepseek::ChatChannel::kToolCall && !in_tool_) {
      std::fputs("\n[tool call]\n", stdout);
      in_tool_ = true;
    }
    if (!e.text.empty()) std::fwrite(e.text.data(), 1, e.text.size(), stdout);  // a token may end mid-character: no text yet
    std::fflush(stdout);
  }

  void End() {
    if (in_reasoning_) std::fputs(tty_ ? "\x1b[0m" : "\n[/reasoning]", stdout);
    std::fputs("\n", stdout);
    std::fflush(stdout);
  }

 private:
  bool tty_;
  bool in_reasoning_ = false;
  bool in_tool_ = false;
};

// The pictures of --image and --video in command-line order, and the positions their spans take.
struct Pictures {
  std::vector<deepseek::Image> images;
  int64_t positions = 0;
};

// Reads the attachments for `model`; false, having said why, when the model takes no images or
// a file or folder is not usable.
bool LoadPictures(const deepseek::Model& model, const Options& o, Pictures& out) {
  if (o.attachments.empty()) return true;
  if (!model.has_vision()) {
    std::fprintf(stderr, "deepseek-chat: %s has no vision tower, so it takes no --image or --video (a V4.1 checkpoint with one does)\n",
                 o.model.c_str());
    return false;
  }
  for (const Attachment& a : o.attachments) {
    std::vector<deepseek::Image> loaded;
    if (a.video) {
      deepseek::Result<std::vector<deepseek::Image>> frames = deepseek::LoadVideoFrames(a.path, model, o.video);
      if (!frames.ok()) {
        std::fprintf(stderr, "deepseek-chat: --video %s: %s\n", a.path.c_str(), frames.status().ToString().c_str());
        return false;
      }
      loaded = std::move(frames).value();
    } else {
      deepseek::Result<deepseek::Image> image = deepseek::Image::Load(a.path);
      if (!image.ok()) {
        std::fprintf(stderr, "deepseek-chat: --image %s: %s\n", a.path.c_str(), image.status().ToString().c_str());
        return false;
      }
      loaded.push_back(std::move(image).value());
    }
    int64_t positions = 0;
    for (const deepseek::Image& image : loaded) {
      deepseek::Result<int64_t> n = model.ImagePositions(image);
      if (!n.ok()) {
        std::fprintf(stderr, "deepseek-chat: %s: %s\n", a.path.c_str(), n.status().ToString().c_str());
        return false;
      }
      positions += n.value();
    }
    std::fprintf(stderr, "[%s %s: %zu %s of %lldx%lld, %lld positions]\n", a.video ? "video" : "image", a.path.c_str(),
                 loaded.size(), a.video ? "frames" : "picture", static_cast<long long>(loaded.front().width),
                 static_cast<long long>(loaded.front().height), static_cast<long long>(positions));
    out.positions += positions;
    for (deepseek::Image& image : loaded) out.images.push_back(std::move(image));
  }
  return true;
}

// `image_positions`: of the prompt's tokens, those in image spans (their encoding is part of
// the prefill time).
void PrintStats(const deepseek::ChatReply& reply, int64_t image_positions) {
  const deepseek::GenerationStats& s = reply.generation.stats;
  const std::string prompt = image_positions > 0 ? "; " + std::to_string(image_positions) + " in image spans, encoded in the prefill"
                                                 : "";
  std::fprintf(stderr,
               "[prompt %lld tokens (%lld reused%s), prefill %.3f s = %.1f tok/s; generated %lld tokens, decode %.3f s = "
               "%.1f tok/s; finish: %s]\n",
               static_cast<long long>(s.prompt_tokens), static_cast<long long>(s.reused_tokens), prompt.c_str(), s.prefill_seconds,
               s.prefill_tokens_per_second(), static_cast<long long>(s.generated_tokens), s.decode_seconds,
               s.decode_tokens_per_second(), deepseek::FinishReasonName(reply.generation.finish));
  if (!reply.parse_status.ok()) std::fprintf(stderr, "[the reply is malformed: %s]\n", reply.parse_status.message().c_str());
  for (const deepseek::ToolCall& call : reply.message.tool_calls) {
    std::fprintf(stderr, "[tool call %s(%s)]\n", call.name.c_str(), call.arguments.c_str());
  }
}

// One user turn: generates, streams and appends the reply to the conversation. The pictures go
// with the conversation's first user message, and stay in it for the later turns.
bool Turn(deepseek::Generator& generator, const Options& o, const Pictures& pictures,
          std::vector<deepseek::ChatMessage>& conversation, const std::string& text) {
  const bool first = std::none_of(conversation.begin(), conversation.end(),
                                  [](const deepseek::ChatMessage& m) { return m.role == "user"; });
  conversation.push_back(Message("user", text));
  if (first) conversation.back().images = pictures.images;
  ReplyPrinter printer(isatty(STDOUT_FILENO) != 0);
  deepseek::ChatFormatOptions format;
  format.mode = o.mode;
  deepseek::Result<deepseek::ChatReply> reply = generator.Chat(
      conversation, format, o.generation, [&](const deepseek::StreamEvent& e) {
        printer.Piece(e);
        return true;
      });
  printer.End();
  if (!reply.ok()) {
    std::fprintf(stderr, "deepseek-chat: %s\n", reply.status().ToString().c_str());
    conversation.pop_back();
    return false;
  }
  PrintStats(reply.value(), pictures.positions);
  conversation.push_back(reply.value().message);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!ParseArgs(argc, argv, o)) return Usage();

  deepseek::LoadOptions load;
  load.progress = [](float f, std::string_view stage) {
    std::fprintf(stderr, "\rloading %3.0f%% %-40.*s", 100 * f, static_cast<int>(stage.size()), stage.data());
  };
  auto model = deepseek::Model::Load(o.model, load);
  std::fputs("\n", stderr);
  if (!model.ok()) {
    std::fprintf(stderr, "deepseek-chat: %s\n", model.status().ToString().c_str());
    return 1;
  }
  Pictures pictures;
  if (!LoadPictures(*model.value(), o, pictures)) return 1;
  auto tokenizer = deepseek::Tokenizer::Load(o.tokenizer);
  if (!tokenizer.ok()) {
    std::fprintf(stderr, "deepseek-chat: %s\n", tokenizer.status().ToString().c_str());
    return 1;
  }
  deepseek::GeneratorOptions options;
  options.session.num_threads = o.threads;
  options.session.progress = [](int64_t done, int64_t total) {
    if (total >= 256) std::fprintf(stderr, "\rprefill %lld/%lld tokens%s", static_cast<long long>(done),
                                   static_cast<long long>(total), done == total ? "\n" : "");
    return true;
  };
  auto generator = deepseek::Generator::Create(model.value(), tokenizer.value(), options);
  if (!generator.ok()) {
    std::fprintf(stderr, "deepseek-chat: %s\n", generator.status().ToString().c_str());
    return 1;
  }

  std::vector<deepseek::ChatMessage> conversation;
  if (!o.system.empty()) conversation.push_back(Message("system", o.system));
  const std::vector<deepseek::ChatMessage> start = conversation;
  if (!o.prompt.empty()) return Turn(*generator.value(), o, pictures, conversation, o.prompt) ? 0 : 1;

  std::fprintf(stderr, "mode %s; /reset, /mode NAME, /quit\n", deepseek::ChatModeName(o.mode));
  std::string line;
  while (std::fputs("> ", stdout), std::fflush(stdout), std::getline(std::cin, line)) {
    if (line == "/quit") break;
    if (line == "/reset") {
      conversation = start;
      continue;
    }
    if (line.rfind("/mode ", 0) == 0) {
      deepseek::Result<deepseek::ChatMode> mode = deepseek::ParseChatMode(line.substr(6));
      if (mode.ok()) o.mode = mode.value();
      std::fprintf(stderr, "mode %s\n", deepseek::ChatModeName(o.mode));
      continue;
    }
    if (!line.empty()) Turn(*generator.value(), o, pictures, conversation, line);
  }
  return 0;
}
