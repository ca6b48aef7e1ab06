// The safetensors container: an 8-byte little-endian header length, a JSON header naming each
// tensor's dtype, shape and byte range, then the raw bytes. Parsed defensively: every offset,
// size and shape is checked before any tensor byte is touched, since headers may be hostile.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/mapped_file.h"

namespace deepseek::format {

enum class DType : uint8_t { kBool, kU8, kI8, kI16, kI32, kI64, kF16, kBF16, kF32, kF64,
                             kF8E4M3, kF8E5M2, kF8E8M0 };

const char* DTypeName(DType dtype);  // the safetensors spelling, e.g. "F8_E4M3"
size_t DTypeSize(DType dtype);       // bytes per element
// "F8_E4M3[512, 256]": how messages show a tensor's type, found or expected.
std::string DescribeType(DType dtype, const std::vector<int64_t>& shape);

// One tensor of a file. `data` points into the memory-mapped file (zero copy).
struct TensorInfo {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
  const std::string* file = nullptr;  // path of the file holding it, for error messages

  int64_t numel() const;
  std::string Describe() const;  // "name F8_E4M3[512, 256] in <file>"
};

// Parses and validates a complete safetensors image already in memory (pure; used by the
// fuzzer). `file_label` names the file in error messages. Throws Error(kCorruptFile) naming the
// file and, where relevant, the tensor: a header length beyond the file, malformed JSON, an
// unknown dtype, a shape whose element count disagrees with the byte range, offsets out of
// range, overlapping tensors or a name given twice. Gaps between tensors are allowed. The
// `__metadata__` strings go to `metadata` when it is not null.
std::vector<TensorInfo> ParseSafetensors(const uint8_t* bytes, size_t size,
                                         const std::string* file_label,
                                         std::map<std::string, std::string>* metadata = nullptr);

// A memory-mapped safetensors file with its tensor table.
class SafetensorsFile {
 public:
  static SafetensorsFile Open(const std::string& path);  // throws Error

  const std::string& path() const { return *path_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* Find(const std::string& name) const;  // nullptr when absent
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  std::unique_ptr<std::string> path_;  // stable address: TensorInfo::file points to it
  MappedFile file_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace deepseek::format
