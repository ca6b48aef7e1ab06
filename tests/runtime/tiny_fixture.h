// What the runtime tests share (defined in model_load_test.cc): the tiny checkpoint, generated
// once per test process, the model loaded from it, and a Status check.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "deepseek/model.h"
#include "deepseek/status.h"

namespace deepseek::testing {

const std::string& TinyCheckpointDir();
std::shared_ptr<const Model> TinyModel();  // loaded once; fails the test when it cannot be

// `status` has `code` and a message containing each of `needles`.
void CheckStatus(const Status& status, StatusCode code, const std::vector<std::string>& needles);

}  // namespace deepseek::testing
