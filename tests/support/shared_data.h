// Locates the shared/ reference data (goldens, tokenizer files, chat vectors) beside the repo,
// and the file helpers tests share.
#pragma once

#include <string>

namespace deepseek::testing {

// Absolute path of shared/ (env DS_SHARED_DIR overrides the configured default).
// Fails the current test with a clear message when the folder is missing.
std::string SharedDir();

// A fresh empty temporary directory, removed at process exit.
std::string TempDir(const std::string& tag);

// A whole file's bytes; fails the current test when it cannot be read.
std::string ReadFile(const std::string& path);
// Replaces the file with `bytes` and returns its path; fails the current test on error.
std::string WriteFile(const std::string& path, const std::string& bytes);

}  // namespace deepseek::testing
