// Status codes, the per-thread last-error message and the caller-buffer convention.
#include <cstring>

#include "internal.h"

namespace {

// The C enum mirrors StatusCode value for value; a renumbering on either side fails here.
using deepseek::StatusCode;
static_assert(DS_OK == static_cast<int>(StatusCode::kOk));
static_assert(DS_INVALID_ARGUMENT == static_cast<int>(StatusCode::kInvalidArgument));
static_assert(DS_NOT_FOUND == static_cast<int>(StatusCode::kNotFound));
static_assert(DS_IO_ERROR == static_cast<int>(StatusCode::kIoError));
static_assert(DS_CORRUPT_FILE == static_cast<int>(StatusCode::kCorruptFile));
static_assert(DS_INVALID_CONFIG == static_cast<int>(StatusCode::kInvalidConfig));
static_assert(DS_UNSUPPORTED == static_cast<int>(StatusCode::kUnsupported));
static_assert(DS_OUT_OF_MEMORY == static_cast<int>(StatusCode::kOutOfMemory));
static_assert(DS_OUT_OF_RANGE == static_cast<int>(StatusCode::kOutOfRange));
static_assert(DS_FAILED_PRECONDITION == static_cast<int>(StatusCode::kFailedPrecondition));
static_assert(DS_CANCELLED == static_cast<int>(StatusCode::kCancelled));
static_assert(DS_INTERNAL == static_cast<int>(StatusCode::kInternal));
static_assert(DS_RESOURCE_EXHAUSTED == static_cast<int>(StatusCode::kResourceExhausted));

// Each thread sees the message of its own last call, as errno does.
thread_local std::string last_error;

}  // namespace

namespace deepseek::capi {

ds_status Report(const Status& status) noexcept {
  try {
    last_error = status.message();
  } catch (...) {
    // Copying the message needs memory; when there is none, an empty message is still true.
    last_error.clear();
  }
  return static_cast<ds_status>(status.code());
}

void CopyOut(const void* data, size_t count, size_t element_size, void* buffer, size_t capacity,
             size_t* out_size, bool terminate) {
  Require(out_size, "out_size");
  *out_size = count;
  if (buffer == nullptr && capacity == 0) return;  // a size query
  Require(buffer, "buffer");
  const size_t needed = count + (terminate ? 1 : 0);
  if (capacity < needed)
    Fail(StatusCode::kOutOfRange, "buffer holds " + std::to_string(capacity) + " elements, " +
                                      std::to_string(needed) + " are needed");
  if (count) std::memcpy(buffer, data, count * element_size);
  if (terminate) static_cast<char*>(buffer)[count] = '\0';
}

}  // namespace deepseek::capi

extern "C" {

const char* ds_status_string(ds_status status) DS_NOEXCEPT {
  const int32_t code = deepseek::capi::EnumValue(status);
  if (code < DS_OK || code > DS_RESOURCE_EXHAUSTED) return "UNKNOWN";
  return deepseek::StatusCodeName(static_cast<StatusCode>(code));
}

const char* ds_last_error(void) DS_NOEXCEPT { return last_error.c_str(); }

}  // extern "C"
