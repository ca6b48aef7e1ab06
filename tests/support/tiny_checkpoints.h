// deepseek-make-tiny's checkpoints for the tests that run whole models: each written once per
// test binary, on first use, into a temporary folder removed at exit. Header-only, for the test
// binaries that link the generator (deepseek_tinygen).
#pragma once

#include <string>

#include "support/shared_data.h"
#include "tinygen/tiny_checkpoint.h"
#include "tinygen/v41_checkpoint.h"

namespace deepseek::testing {

// flash-tiny: the golden tiny V4-Flash architecture (no vision tower).
inline const std::string& FlashTinyDir() {
  static const std::string dir = [] {
    const std::string d = TempDir("flash-tiny");
    tinygen::WriteTinyCheckpoint(tinygen::TinySpec::FlashTiny(), d);
    return d;
  }();
  return dir;
}

// v41-tiny: V4.1 with CSA2, Engram and a vision tower, with its tokenizer.
inline const std::string& V41TinyDir() {
  static const std::string dir = [] {
    const std::string d = TempDir("v41-tiny");
    tinygen::WriteTinyV41Checkpoint(tinygen::TinyV41Spec::Tiny(), d);
    return d;
  }();
  return dir;
}

}  // namespace deepseek::testing
