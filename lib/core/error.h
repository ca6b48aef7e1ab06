// Internal error transport: code inside lib/ throws deepseek::Error; the public API boundary
// (lib/runtime) catches it and returns a Status. Nothing here ever aborts the process.
#pragma once

#include <stdexcept>
#include <string>

#include "deepseek/status.h"

namespace deepseek {

class Error : public std::runtime_error {
 public:
  Error(StatusCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  StatusCode code() const { return code_; }

 private:
  StatusCode code_;
};

[[noreturn]] inline void Fail(StatusCode code, const std::string& message) { throw Error(code, message); }

// The reverse of CatchAll, for code that calls the public API from inside the library (the
// generator, the C ABI): a failed Status continues as an Error with the same code and message.
inline void ThrowIfError(const Status& status) {
  if (!status.ok()) Fail(status.code(), status.message());
}

// Runs fn() and converts any exception into a Status; used at every public entry point.
template <typename Fn>
Status CatchAll(Fn&& fn) noexcept {
  try {
    fn();
    return Status::Ok();
  } catch (const Error& e) {
    return Status(e.code(), e.what());
  } catch (const std::bad_alloc&) {
    return Status(StatusCode::kOutOfMemory, "out of memory");
  } catch (const std::exception& e) {
    return Status(StatusCode::kInternal, e.what());
  } catch (...) {
    return Status(StatusCode::kInternal, "unknown internal error");
  }
}

}  // namespace deepseek
