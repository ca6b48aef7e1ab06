// Reads and validates the Hugging Face config.json of a deepseek_v4 checkpoint.
#pragma once

#include <string>

#include "deepseek/config.h"

namespace deepseek::model {

// Parses config.json text. Throws Error(kInvalidConfig) naming the file and the field that is
// missing, of the wrong type, or inconsistent with the others.
ModelConfig ParseConfig(const std::string& json_text, const std::string& file_label);

// Reads <dir>/config.json and parses it.
ModelConfig LoadConfig(const std::string& dir);

}  // namespace deepseek::model
