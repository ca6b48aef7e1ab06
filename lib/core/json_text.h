// Strict JSON reading for the files the library loads: the safetensors headers, the checkpoint
// index, config.json and tokenizer.json. Internal: nlohmann-json is not part of the public
// interface, so each target that includes this links nlohmann_json itself.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace deepseek {

// Parses `text` as a JSON object. Throws Error(kCorruptFile) naming `file` when the text is not
// JSON, is not an object, or repeats a key within an object: nlohmann would silently keep the
// last value, which would hide a tensor given twice.
nlohmann::json ParseJsonObject(std::string_view text, const std::string& file);

// `value` as JSON text for an error message, shortened: hostile input can hold huge values.
std::string JsonExcerpt(const nlohmann::json& value);

}  // namespace deepseek
