// The public C++ error model: every fallible API call returns a Status or a Result<T>.
// No exception escapes the public API; the library maps every internal failure to a code here.
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace deepseek {

// Values are stable: they are mirrored by the C ABI and never renumbered.
enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument = 1,   // a caller-supplied value is wrong (token id, option, size)
  kNotFound = 2,          // a file or tensor that must exist does not
  kIoError = 3,           // the operating system refused a read, map or open
  kCorruptFile = 4,       // a file exists but its bytes are malformed
  kInvalidConfig = 5,     // config.json is missing fields or disagrees with the tensors
  kUnsupported = 6,       // valid input that this build cannot handle
  kOutOfMemory = 7,
  kOutOfRange = 8,        // a request exceeds a limit (context length, ...)
  kFailedPrecondition = 9,// call made in the wrong state
  kCancelled = 10,
  kInternal = 11,
  kResourceExhausted = 12,// a memory budget is used up (the KV cache budget)
};

const char* StatusCodeName(StatusCode code);

class Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status Ok() { return {}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "CODE_NAME: message", for logs and command-line tools.
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// A value or the Status explaining why there is none.
template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}  // NOLINT: implicit by design

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace deepseek
