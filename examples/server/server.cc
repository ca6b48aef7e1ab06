// deepseek-server: an OpenAI-compatible HTTP server for a V4 checkpoint.
//   deepseek-server --model DIR [--host 127.0.0.1] [--port 8080] [--parallel N] [--threads T]
//                   [--mode fast|expert|expert-max] [--max-tokens N] [--queue N] [--ctx N]
//                   [--max-body BYTES] [--kv-budget-mib M] [--prefixes N] [--kv-dir DIR]
// POST /v1/chat/completions (JSON or server-sent events), GET /v1/models[/ID], GET /health.
// Requests run on a pool of --parallel generators sharing one Model (see generator_pool.h), whose
// decode steps are batched into one forward pass (DecodeBatcher), and
// one KV cache, whose prefix cache lets any request resume from what an earlier one computed
// (a shared system prompt, an agent's history); with --kv-dir the prefixes survive a restart.
// The protocol conversion lives in openai_api.h; a model with a vision tower (V4.1) also takes
// images, as image_url content parts with data URLs (image_url.h). One log line per request
// goes to stderr.
#include <httplib.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "deepseek/deepseek.h"
#include "generator_pool.h"
#include "openai_api.h"

namespace {

using deepseek::server::ApiError;
using deepseek::server::ChatRequest;
using deepseek::server::GeneratorPool;
using deepseek::server::Json;

struct Options {
  std::string model;
  std::string host = "127.0.0.1";
  int port = 8080;
  int parallel = 2;
  int threads = 0;  // per generator; 0 = all the cores
  int queue = 16;
  int64_t ctx = 0;
  std::size_t max_body = 8 << 20;
  uint64_t kv_budget_mib = 0;
  int prefixes = 16;
  std::string kv_dir;
  deepseek::server::RequestSettings settings;
};

int Usage() {
  std::fprintf(stderr,
               "usage: deepseek-server --model DIR [--host ADDR] [--port N] [--parallel N] [--threads T]\n"
               "                       [--mode fast|expert|expert-max] [--max-tokens N] [--queue N] [--ctx N]\n"
               "                       [--max-body BYTES] [--kv-budget-mib M] [--prefixes N] [--kv-dir DIR]\n"
               "  --port N        0 = any free port (default 8080)\n"
               "  --parallel N    generators, i.e. requests computed at once, their decode steps batched (default 2)\n"
               "  --threads T     worker threads per generator (default: all cores)\n"
               "  --mode M        mode of requests that name none (default expert)\n"
               "  --max-tokens N  reply length of requests that give none (default 1024)\n"
               "  --queue N       requests that may wait for a generator; more get 503 (default 16)\n"
               "  --ctx N         tokens each generator's session may hold (default: the model's maximum)\n"
               "  --max-body B    largest request body; larger gets 413 (default 8 MiB)\n"
               "  --kv-budget-mib M  memory for the KV caches of all requests (default: no limit)\n"
               "  --prefixes N    prompt prefixes kept for reuse by later requests, 0 = none (default 16)\n"
               "  --kv-dir DIR    keep those prefixes as files in DIR too, and start with the ones there\n");
  return 2;
}

bool ParseArgs(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) return false;
    const std::string v = argv[++i];
    try {
      if (flag == "--model") o.model = v;
      else if (flag == "--host") o.host = v;
      else if (flag == "--port") o.port = std::stoi(v);
      else if (flag == "--parallel") o.parallel = std::stoi(v);
      else if (flag == "--threads") o.threads = std::stoi(v);
      else if (flag == "--queue") o.queue = std::stoi(v);
      else if (flag == "--ctx") o.ctx = std::stoll(v);
      else if (flag == "--max-body") o.max_body = std::stoull(v);
      else if (flag == "--kv-budget-mib") o.kv_budget_mib = std::stoull(v);
      else if (flag == "--prefixes") o.prefixes = std::stoi(v);
      else if (flag == "--kv-dir") o.kv_dir = v;
      else if (flag == "--max-tokens") o.settings.max_tokens = std::stoll(v);
      else if (flag == "--mode") {
        deepseek::Result<deepseek::ChatMode> mode = deepseek::ParseChatMode(v);
        if (!mode.ok()) return false;
        o.settings.mode = mode.value();
      } else {
        return false;
      }
    } catch (const std::exception&) {
      std::fprintf(stderr, "deepseek-server: bad value for %s: %s\n", flag.c_str(), v.c_str());
      return false;
    }
  }
  return !o.model.empty() && o.parallel > 0 && o.queue >= 0 && o.threads >= 0 && o.settings.max_tokens > 0 &&
         o.port >= 0 && o.port < 65536 && o.prefixes >= 0 && (o.kv_dir.empty() || o.prefixes > 0);
}

int64_t UnixNow() { return static_cast<int64_t>(std::time(nullptr)); }

void SendJson(httplib::Response& res, int status, const Json& body) {
  res.status = status;
  res.set_content(deepseek::server::JsonText(body), "application/json");
}

void SendError(httplib::Response& res, const ApiError& error) {
  SendJson(res, error.http_status, deepseek::server::ErrorBody(error));
}

// A reply that ended but does not parse; one cut short (length, cancel) never parses, so that
// is not worth a mention.
bool Malformed(const deepseek::ChatReply& reply) {
  const deepseek::FinishReason f = reply.generation.finish;
  return !reply.parse_status.ok() && (f == deepseek::FinishReason::kEos || f == deepseek::FinishReason::kStopString);
}

// The per-request log line: what the request asked and what the generation cost.
void LogCompletion(const std::string& id, const ChatRequest& request, const deepseek::Result<deepseek::ChatReply>& reply,
                   bool disconnected) {
  if (!reply.ok()) {
    std::fprintf(stderr, "%s mode=%s stream=%d error: %s\n", id.c_str(), deepseek::ChatModeName(request.format.mode),
                 request.stream, reply.status().ToString().c_str());
    return;
  }
  const deepseek::GenerationStats& s = reply.value().generation.stats;
  std::fprintf(stderr,
               "%s mode=%s stream=%d prompt=%lld reused=%lld generated=%lld prefill=%.1f tok/s decode=%.1f tok/s "
               "finish=%s%s\n",
               id.c_str(), deepseek::ChatModeName(request.format.mode), request.stream,
               static_cast<long long>(s.prompt_tokens), static_cast<long long>(s.reused_tokens),
               static_cast<long long>(s.generated_tokens), s.prefill_tokens_per_second(), s.decode_tokens_per_second(),
               disconnected ? "cancelled (client gone)" : deepseek::server::FinishReasonText(reply.value()),
               Malformed(reply.value()) ? " (malformed reply)" : "");
}

class ChatHandler {
 public:
  ChatHandler(GeneratorPool& pool, std::shared_ptr<const deepseek::Model> model, std::string model_id,
              deepseek::server::RequestSettings settings, int queue)
      : pool_(pool), model_(std::move(model)), model_id_(std::move(model_id)), settings_(settings), queue_(queue) {}

  void operator()(const httplib::Request& req, httplib::Response& res) const {
    auto parsed = deepseek::server::ParseChatRequest(req.body, settings_);
    if (const ApiError* error = std::get_if<ApiError>(&parsed)) return SendError(res, *error);
    auto request = std::make_shared<ChatRequest>(std::move(std::get<ChatRequest>(parsed)));

    std::optional<GeneratorPool::Lease> lease = pool_.Acquire();
    if (!lease) {
      res.set_header("Retry-After", "1");
      return SendError(res, {.http_status = 503,
                             .message = "the server is busy: all " + std::to_string(pool_.size()) + " generators run and " +
                                        std::to_string(queue_) + " requests wait; retry later",
                             .type = "server_error",
                             .code = "server_busy"});
    }
    const deepseek::server::CompletionIds ids{deepseek::server::NewCompletionId(), UnixNow(), model_id_};
    if (!request->stream) return Complete(*request, std::move(*lease), ids, res);
    if (std::optional<ApiError> error = CheckPrompt(*request, **lease, *model_)) return SendError(res, *error);

    // The lease goes with the stream: it is returned when httplib drops the provider, after
    // the last chunk or when the client went away before the stream started.
    auto generator = std::make_shared<GeneratorPool::Lease>(std::move(*lease));
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream", [request, generator, ids](std::size_t, httplib::DataSink& sink) {
          return Stream(*request, **generator, ids, sink);
        });
  }

 private:
  static void Complete(const ChatRequest& request, GeneratorPool::Lease lease, const deepseek::server::CompletionIds& ids,
                       httplib::Response& res) {
    deepseek::Result<deepseek::ChatReply> reply = lease->Chat(request.messages, request.format, request.params);
    LogCompletion(ids.id, request, reply, false);
    if (!reply.ok()) return SendError(res, deepseek::server::ErrorFromStatus(reply.status()));
    deepseek::server::AssignToolCallIds(reply.value().message, ids.id);
    SendJson(res, 200, deepseek::server::CompletionJson(ids, reply.value()));
  }

  // A stream's status line goes out before the generation starts, so what Chat would refuse
  // about the prompt (a conversation the chat format does not allow, a prompt longer than the
  // context) is checked first, to answer 400 rather than an error event after a 200.
  static std::optional<ApiError> CheckPrompt(const ChatRequest& request, const deepseek::Generator& generator,
                                             const deepseek::Model& model) {
    deepseek::Result<std::string> text = deepseek::EncodeChat(request.messages, request.format);
    if (!text.ok()) return deepseek::server::ErrorFromStatus(text.status());
    deepseek::Result<std::vector<int32_t>> ids = generator.tokenizer().Encode(text.value());
    if (!ids.ok()) return deepseek::server::ErrorFromStatus(ids.status());
    auto tokens = static_cast<int64_t>(ids.value().size());
    // Each image's token in the text becomes its span, which takes positions of its own.
    for (const deepseek::ChatMessage& message : request.messages) {
      for (const deepseek::Image& image : message.images) {
        deepseek::Result<int64_t> positions = model.ImagePositions(image);
        if (!positions.ok()) return deepseek::server::ErrorFromStatus(positions.status());
        tokens += positions.value() - 1;
      }
    }
    if (tokens > generator.session().capacity()) {
      return ApiError{.message = "the prompt has " + std::to_string(tokens) + " tokens; the context holds " +
                                 std::to_string(generator.session().capacity()),
                      .param = "messages",
                      .code = "context_length_exceeded"};
    }
    return std::nullopt;
  }

  // Runs the whole generation inside the provider; a failed write means the client is gone,
  // and the callback's false then cancels the generation at the next token.
  static bool Stream(const ChatRequest& request, deepseek::Generator& generator,
                     const deepseek::server::CompletionIds& ids, httplib::DataSink& sink) {
    const deepseek::server::ChunkStream chunks(ids, request.include_usage);
    bool open = true;
    const auto send = [&](const std::string& text) {
      if (open && !text.empty()) open = sink.write(text.data(), text.size());
      return open;
    };
    send(chunks.Start());
    deepseek::Result<deepseek::ChatReply> reply =
        generator.Chat(request.messages, request.format, request.params,
                       [&](const deepseek::StreamEvent& e) { return send(chunks.Piece(e.channel, e.text)); });
    LogCompletion(ids.id, request, reply, !open);
    if (!open) return false;
    if (!reply.ok()) {
      // The status line is long gone; OpenAI clients raise on an error event.
      send(deepseek::server::SseEvent(deepseek::server::ErrorBody(deepseek::server::ErrorFromStatus(reply.status()))) +
           std::string(deepseek::server::kSseDone));
    } else {
      deepseek::server::AssignToolCallIds(reply.value().message, ids.id);
      send(chunks.Finish(reply.value()));
    }
    sink.done();
    return open;
  }

  GeneratorPool& pool_;
  std::shared_ptr<const deepseek::Model> model_;
  std::string model_id_;
  deepseek::server::RequestSettings settings_;
  int queue_;
};

// Answers the methods a route does not take with 405 and the Allow header.
void MethodNotAllowed(httplib::Server& server, const std::string& path, const std::string& allowed) {
  const auto handler = [path, allowed](const httplib::Request& req, httplib::Response& res) {
    res.set_header("Allow", allowed);
    SendError(res, {.http_status = 405,
                    .message = req.method + " is not allowed on " + path + " (use " + allowed + ")",
                    .code = "method_not_allowed"});
  };
  if (allowed != "GET") server.Get(path, handler);
  if (allowed != "POST") server.Post(path, handler);
  server.Put(path, handler);
  server.Delete(path, handler);
  server.Patch(path, handler);
}

std::string ModelId(const std::string& dir) {
  // "models/x", "models/x/" and "." inside models/x all name x.
  std::filesystem::path path = std::filesystem::absolute(dir).lexically_normal();
  if (!path.has_filename()) path = path.parent_path();
  return path.filename().string();
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!ParseArgs(argc, argv, o)) return Usage();

  // SIGINT and SIGTERM are taken by one thread (below) that stops the server cleanly; every
  // other thread, httplib's included, inherits the blocked mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto model = deepseek::Model::Load(o.model);
  if (!model.ok()) {
    std::fprintf(stderr, "deepseek-server: %s\n", model.status().ToString().c_str());
    return 1;
  }
  auto tokenizer = deepseek::Tokenizer::Load(o.model);
  if (!tokenizer.ok()) {
    std::fprintf(stderr, "deepseek-server: %s\n", tokenizer.status().ToString().c_str());
    return 1;
  }
  const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  deepseek::GeneratorOptions generator_options;
  // With several generators, their decode steps run batched (one forward pass reads the weights
  // for all running requests), each batch on one generator's threads: every generator gets all
  // the cores, as only one batch runs at a time (prefills of arriving requests share them).
  generator_options.session.num_threads = o.threads > 0 ? o.threads : cores;
  if (o.parallel > 1) generator_options.batcher = std::make_shared<deepseek::DecodeBatcher>();
  generator_options.session.max_context = o.ctx;
  deepseek::KvCacheOptions cache_options;
  cache_options.budget_bytes = o.kv_budget_mib << 20;
  cache_options.max_prefixes = static_cast<std::size_t>(o.prefixes);
  cache_options.prefix_dir = o.kv_dir;
  auto kv_cache = deepseek::KvCache::Create(model.value(), cache_options);
  if (!kv_cache.ok()) {
    std::fprintf(stderr, "deepseek-server: %s\n", kv_cache.status().ToString().c_str());
    return 1;
  }
  for (const std::string& warning : kv_cache.value()->warnings()) std::fprintf(stderr, "deepseek-server: %s\n", warning.c_str());
  if (!o.kv_dir.empty()) {
    std::fprintf(stderr, "deepseek-server: %lld cached prefixes loaded from %s\n",
                 static_cast<long long>(kv_cache.value()->stats().prefixes), o.kv_dir.c_str());
  }
  generator_options.session.kv_cache = kv_cache.value();
  std::vector<std::unique_ptr<deepseek::Generator>> generators;
  for (int i = 0; i < o.parallel; ++i) {
    auto g = deepseek::Generator::Create(model.value(), tokenizer.value(), generator_options);
    if (!g.ok()) {
      std::fprintf(stderr, "deepseek-server: %s\n", g.status().ToString().c_str());
      return 1;
    }
    generators.push_back(std::move(g).value());
  }
  GeneratorPool pool(std::move(generators), static_cast<std::size_t>(o.queue));
  o.settings.vocab_size = model.value()->config().vocab_size;
  o.settings.vision = model.value()->has_vision();
  const std::string model_id = ModelId(o.model);
  const int64_t started = UnixNow();

  httplib::Server server;
  // Enough HTTP threads for every running and waiting request plus a few for /health and
  // /v1/models, so that the pool (not httplib's unbounded job list) decides who waits.
  const std::size_t http_threads = static_cast<std::size_t>(o.parallel + o.queue + 4);
  server.new_task_queue = [http_threads] { return new httplib::ThreadPool(http_threads); };
  server.set_payload_max_length(o.max_body);

  server.Post("/v1/chat/completions", ChatHandler(pool, model.value(), model_id, o.settings, o.queue));
  server.Get("/v1/models", [&](const httplib::Request&, httplib::Response& res) {
    SendJson(res, 200, deepseek::server::ModelsJson(model_id, started));
  });
  server.Get(R"(/v1/models/([^/]+))", [&](const httplib::Request& req, httplib::Response& res) {
    if (req.matches[1] == model_id) return SendJson(res, 200, deepseek::server::ModelJson(model_id, started));
    SendError(res, {.http_status = 404,
                    .message = "no model '" + req.matches[1].str() + "' here; this server serves '" + model_id + "'",
                    .param = "model",
                    .code = "model_not_found"});
  });
  server.Get("/health", [](const httplib::Request&, httplib::Response& res) { SendJson(res, 200, {{"status", "ok"}}); });
  MethodNotAllowed(server, "/v1/chat/completions", "POST");
  MethodNotAllowed(server, "/v1/models", "GET");
  MethodNotAllowed(server, "/health", "GET");

  // httplib's own refusals (unknown route, body over the limit, unparsable request) get the
  // OpenAI error shape too; responses the handlers filled keep their body.
  server.set_error_handler([&o](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    ApiError error{.http_status = res.status, .message = "bad request"};
    if (res.status == 404) {
      error.message = "unknown route " + req.method + " " + req.path;
      error.code = "not_found";
    } else if (res.status == 413) {
      error.message = "the request body is larger than " + std::to_string(o.max_body) + " bytes";
      // httplib parses form-encoded bodies (curl -d sends that type) and refuses those over its
      // own compiled-in limit (8 KiB), whatever --max-body says; a request with an image is larger.
      if (req.get_header_value("Content-Type").starts_with("application/x-www-form-urlencoded")) {
        error.message = "form-encoded bodies are limited to " +
                        std::to_string(CPPHTTPLIB_FORM_URL_ENCODED_PAYLOAD_MAX_LENGTH) +
                        " bytes; send the request as Content-Type: application/json (curl: -H "
                        "'Content-Type: application/json')";
      }
      error.code = "request_too_large";
    }
    SendError(res, error);
  });
  server.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr e) {
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      what = x.what();
    } catch (...) {
    }
    SendError(res, {.http_status = 500, .message = "internal error: " + what, .type = "server_error"});
  });
  // Chat completions that ran log their own line with the generation's figures.
  server.set_logger([](const httplib::Request& req, const httplib::Response& res) {
    if (req.path == "/v1/chat/completions" && res.status == 200) return;
    std::fprintf(stderr, "%s %s %d\n", req.method.c_str(), req.path.c_str(), res.status);
  });

  // Port 0 takes any free port (tests read it from the "listening on" line).
  const int port = o.port == 0 ? server.bind_to_any_port(o.host) : (server.bind_to_port(o.host, o.port) ? o.port : -1);
  if (port <= 0) {
    std::fprintf(stderr, "deepseek-server: cannot listen on %s:%d\n", o.host.c_str(), o.port);
    return 1;
  }
  std::thread([&server, stop_signals] {
    int signal = 0;
    sigwait(&stop_signals, &signal);
    server.stop();
  }).detach();
  std::fprintf(stderr, "deepseek-server: model %s, %d generators x %d threads, listening on http://%s:%d\n",
               model_id.c_str(), o.parallel, generator_options.session.num_threads, o.host.c_str(), port);
  server.listen_after_bind();
  std::fprintf(stderr, "deepseek-server: stopped\n");
  return 0;
}
