// One case of ../shared/golden/v41 as the V4.1 tests read it: the config, the checkpoint and the
// main_fixed run (the golden README's truth: the official code with the index-key slot fixed).
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "deepseek/config.h"
#include "format/checkpoint.h"
#include "format/safetensors.h"
#include "model/config_parser.h"
#include "support/shared_data.h"

namespace deepseek::testing {

inline constexpr const char* kV41Cases[] = {"v41_text", "v41_image"};

struct V41Case {
  std::string dir;
  ModelConfig config;
  std::unique_ptr<format::Checkpoint> ckpt;
  format::SafetensorsFile run;
};

inline V41Case LoadV41Case(const std::string& name) {
  const std::string dir = SharedDir() + "/golden/v41/" + name;
  return {dir, model::LoadConfig(dir + "/ckpt"), format::Checkpoint::Open(dir + "/ckpt"),
          format::SafetensorsFile::Open(dir + "/main_fixed.safetensors")};
}

// Runs fn on each case, naming it in failures.
template <typename Fn>
void ForEachV41Case(Fn&& fn) {
  for (const std::string name : kV41Cases) {
    CAPTURE(name);
    fn(LoadV41Case(name));
  }
}

}  // namespace deepseek::testing
