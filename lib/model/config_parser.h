// Reads and validates the Hugging Face config.json of a V4-family checkpoint: deepseek_v4 (flat)
// or deepseek_v41 (composite: text_config, vision_config, quantization_config).
#pragma once

#include <string>

#include "deepseek/config.h"

namespace deepseek::model {

// Parses config.json text. Throws Error(kInvalidConfig) naming the file and the field (with its
// path, e.g. text_config.hidden_size) that is missing, of the wrong type, or inconsistent with
// the others; an unknown model_type is refused by name.
ModelConfig ParseConfig(const std::string& json_text, const std::string& file_label);

// Reads <dir>/config.json and parses it.
ModelConfig LoadConfig(const std::string& dir);

}  // namespace deepseek::model
