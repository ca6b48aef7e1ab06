// The failures of a Session request that leave the session as it was: the request was refused
// (bad arguments, no room, a KV budget that cannot hold it) before anything changed. Session
// resets itself after any other failure; DecodeBatcher retries a refused batch step by step.
#pragma once

#include "deepseek/status.h"

namespace deepseek {

inline bool IsRefusal(StatusCode code) {
  return code == StatusCode::kInvalidArgument || code == StatusCode::kOutOfRange || code == StatusCode::kResourceExhausted;
}

}  // namespace deepseek
