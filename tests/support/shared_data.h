// Locates the shared/ reference data (goldens, tokenizer files, chat vectors) beside the repo.
#pragma once

#include <string>

namespace deepseek::testing {

// Absolute path of shared/ (env DS_SHARED_DIR overrides the configured default).
// Fails the current test with a clear message when the folder is missing.
std::string SharedDir();

// A fresh empty temporary directory, removed at process exit.
std::string TempDir(const std::string& tag);

}  // namespace deepseek::testing
