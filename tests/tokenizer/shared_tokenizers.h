// The DeepSeek V3 and V4 tokenizers from ../shared, each loaded once per test process (a load
// parses 8 MB of JSON).
#pragma once

#include <memory>
#include <string>

#include "deepseek/tokenizer.h"

namespace deepseek::testing {

// "deepseek-v3" or "deepseek-v4"; fails the current test when the file cannot be loaded.
std::shared_ptr<const Tokenizer> SharedTokenizer(const std::string& version);

}  // namespace deepseek::testing
