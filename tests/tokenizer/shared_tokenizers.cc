#include "tokenizer/shared_tokenizers.h"

#include <doctest/doctest.h>

#include <map>
#include <mutex>

#include "support/shared_data.h"

namespace deepseek::testing {

std::shared_ptr<const Tokenizer> SharedTokenizer(const std::string& version) {
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<const Tokenizer>> loaded;
  const std::lock_guard<std::mutex> lock(mu);
  auto& slot = loaded[version];
  if (!slot) {
    auto t = Tokenizer::Load(SharedDir() + "/tokenizer/" + version + "/tokenizer.json");
    REQUIRE_MESSAGE(t.ok(), t.status().ToString());
    slot = t.value();
  }
  return slot;
}

}  // namespace deepseek::testing
