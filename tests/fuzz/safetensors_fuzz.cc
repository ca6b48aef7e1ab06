// libFuzzer target for the safetensors header parser: any input must either parse into tensors
// that lie inside the input, or throw deepseek::Error. Anything else (a crash, a sanitizer report,
// another exception escaping) is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/error.h"
#include "format/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string kLabel = "fuzz.safetensors";
  using deepseek::format::TensorInfo;
  try {
    for (const TensorInfo& t : deepseek::format::ParseSafetensors(data, size, &kLabel)) {
      if (t.nbytes != static_cast<size_t>(t.numel()) * deepseek::format::DTypeSize(t.dtype) ||
          t.data < data || t.data + t.nbytes > data + size) {
        __builtin_trap();
      }
      if (t.nbytes > 0) {
        // Read both ends so AddressSanitizer checks the view against the input buffer.
        volatile uint8_t sink = t.data[0];
        sink = t.data[t.nbytes - 1];
        (void)sink;
      }
    }
  } catch (const deepseek::Error&) {
    // Rejected input: the expected outcome for most of the corpus.
  }
  return 0;
}
