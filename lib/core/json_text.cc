// Strict JSON reading: nlohmann's parser plus duplicate-key detection, errors as deepseek::Error.
#include "core/json_text.h"

#include <set>
#include <vector>

#include "core/error.h"

namespace deepseek {

nlohmann::json ParseJsonObject(std::string_view text, const std::string& file) {
  using Json = nlohmann::json;
  // One set of seen keys per object being parsed, innermost last.
  std::vector<std::set<std::string>> open_objects;
  const Json::parser_callback_t track_keys = [&](int, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
        open_objects.emplace_back();
        break;
      case Json::parse_event_t::object_end:
        open_objects.pop_back();
        break;
      case Json::parse_event_t::key:
        if (!open_objects.back().insert(parsed.get_ref<const std::string&>()).second) {
          Fail(StatusCode::kCorruptFile,
               file + ": key " + JsonExcerpt(parsed) + " appears twice in one JSON object");
        }
        break;
      default:
        break;
    }
    return true;
  };
  Json value;
  try {
    value = Json::parse(text.begin(), text.end(), track_keys);
  } catch (const Json::exception& e) {
    Fail(StatusCode::kCorruptFile, file + ": malformed JSON: " + e.what());
  }
  if (!value.is_object()) {
    Fail(StatusCode::kCorruptFile,
         file + ": expected a JSON object, found " + std::string(value.type_name()));
  }
  return value;
}

std::string JsonExcerpt(const nlohmann::json& value) {
  constexpr size_t kMaxChars = 80;
  std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > kMaxChars) text = text.substr(0, kMaxChars) + "...";
  return text;
}

}  // namespace deepseek
