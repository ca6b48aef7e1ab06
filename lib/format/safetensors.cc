// Safetensors parsing: the whole header is validated before any tensor byte is exposed.
#include "format/safetensors.h"

#include <algorithm>
#include <array>
#include <limits>
#include <string_view>

#include "core/error.h"
#include "core/json_text.h"

namespace deepseek::format {
namespace {

using Json = nlohmann::json;

struct DTypeEntry {
  DType dtype;
  const char* name;
  size_t size;
};

// Indexed by the enum value.
constexpr std::array<DTypeEntry, 13> kDTypes = {{
    {DType::kBool, "BOOL", 1},
    {DType::kU8, "U8", 1},
    {DType::kI8, "I8", 1},
    {DType::kI16, "I16", 2},
    {DType::kI32, "I32", 4},
    {DType::kI64, "I64", 8},
    {DType::kF16, "F16", 2},
    {DType::kBF16, "BF16", 2},
    {DType::kF32, "F32", 4},
    {DType::kF64, "F64", 8},
    {DType::kF8E4M3, "F8_E4M3", 1},
    {DType::kF8E5M2, "F8_E5M2", 1},
    {DType::kF8E8M0, "F8_E8M0", 1},
}};

static_assert(
    [] {
      for (size_t i = 0; i < kDTypes.size(); ++i) {
        if (static_cast<size_t>(kDTypes[i].dtype) != i) return false;
      }
      return true;
    }(),
    "kDTypes must list the dtypes in enum order");

const DTypeEntry& Entry(DType dtype) { return kDTypes[static_cast<size_t>(dtype)]; }

// The safetensors reference implementation refuses headers above 100 MB; so do we, before
// handing the text to a JSON parser whose memory use is several times the text size.
constexpr uint64_t kMaxHeaderBytes = 100u << 20;

// Error reporting for one file; every message starts with the file and, if given, the tensor.
class Reporter {
 public:
  explicit Reporter(const std::string& file) : file_(file) {}

  [[noreturn]] void Corrupt(const std::string& what) const {
    Fail(StatusCode::kCorruptFile, file_ + ": " + what);
  }
  [[noreturn]] void Corrupt(const std::string& tensor, const std::string& what) const {
    Corrupt("tensor '" + tensor + "': " + what);
  }

 private:
  const std::string& file_;
};

DType ParseDType(const Json& entry, const std::string& name, const Reporter& report) {
  const auto it = entry.find("dtype");
  if (it == entry.end() || !it->is_string()) {
    report.Corrupt(name, "\"dtype\" is missing or not a string");
  }
  const auto& text = it->get_ref<const std::string&>();
  for (const DTypeEntry& known : kDTypes) {
    if (text == known.name) return known.dtype;
  }
  report.Corrupt(name, "unknown dtype " + JsonExcerpt(*it));
}

// Reads entry[key] as an array of non-negative integers that each fit in int64_t.
std::vector<uint64_t> ParseCounts(const Json& entry, const char* key, const std::string& name,
                                  const Reporter& report) {
  const auto it = entry.find(key);
  const auto complaint = [&] {
    std::string text =
        std::string("\"") + key + "\" must be an array of non-negative integers, found ";
    return text + (it == entry.end() ? std::string("nothing") : JsonExcerpt(*it));
  };
  if (it == entry.end() || !it->is_array()) report.Corrupt(name, complaint());
  std::vector<uint64_t> counts;
  counts.reserve(it->size());
  for (const Json& v : *it) {
    if (!v.is_number_unsigned() ||
        v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      report.Corrupt(name, complaint());
    }
    counts.push_back(v.get<uint64_t>());
  }
  return counts;
}

TensorInfo ParseTensor(const std::string& name, const Json& entry, const uint8_t* data,
                       uint64_t data_size, const Reporter& report) {
  if (!entry.is_object()) report.Corrupt(name, "entry is not a JSON object");
  TensorInfo info;
  info.name = name;
  info.dtype = ParseDType(entry, name, report);

  // Both the element count (TensorInfo::numel) and the byte count must fit in 64 bits.
  uint64_t numel = 1;
  uint64_t expected_bytes = 0;
  bool overflow = false;
  for (uint64_t dim : ParseCounts(entry, "shape", name, report)) {
    info.shape.push_back(static_cast<int64_t>(dim));
    overflow = overflow || __builtin_mul_overflow(numel, dim, &numel);
  }
  overflow = overflow || numel > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
             __builtin_mul_overflow(numel, DTypeSize(info.dtype), &expected_bytes);
  if (overflow) {
    report.Corrupt(name, "shape " + DescribeType(info.dtype, info.shape) + " is too large");
  }

  const std::vector<uint64_t> offsets = ParseCounts(entry, "data_offsets", name, report);
  if (offsets.size() != 2) report.Corrupt(name, "\"data_offsets\" must hold exactly [begin, end]");
  const uint64_t begin = offsets[0], end = offsets[1];
  std::string range = "data_offsets [";
  range += std::to_string(begin) + ", " + std::to_string(end) + "]";
  if (begin > end) report.Corrupt(name, range + " end before they begin");
  if (end > data_size) {
    report.Corrupt(name,
                   range + " exceed the data section (" + std::to_string(data_size) + " bytes)");
  }
  if (end - begin != expected_bytes) {
    report.Corrupt(name, DescribeType(info.dtype, info.shape) + " needs " +
                             std::to_string(expected_bytes) + " bytes but " + range + " hold " +
                             std::to_string(end - begin));
  }
  info.data = data + begin;
  info.nbytes = static_cast<size_t>(end - begin);
  return info;
}

// Two tensors sharing bytes would let a write through one corrupt the other, and is never
// produced by a real writer; gaps are harmless and tolerated.
void CheckNoOverlap(const std::vector<TensorInfo>& tensors, const Reporter& report) {
  std::vector<const TensorInfo*> by_offset;
  for (const TensorInfo& t : tensors) {
    if (t.nbytes > 0) by_offset.push_back(&t);  // an empty range shares no byte
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const TensorInfo* a, const TensorInfo* b) { return a->data < b->data; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const TensorInfo& prev = *by_offset[i - 1];
    const TensorInfo& next = *by_offset[i];
    if (prev.data + prev.nbytes > next.data) {
      report.Corrupt("tensors '" + prev.name + "' and '" + next.name + "' overlap");
    }
  }
}

void ParseMetadata(const Json& value, std::map<std::string, std::string>* metadata,
                   const Reporter& report) {
  if (!value.is_object()) report.Corrupt("\"__metadata__\" is not a JSON object");
  for (const auto& [key, v] : value.items()) {
    if (!v.is_string()) {
      report.Corrupt("\"__metadata__\" value of '" + key + "' is not a string: " + JsonExcerpt(v));
    }
    if (metadata) (*metadata)[key] = v.get<std::string>();
  }
}

}  // namespace

const char* DTypeName(DType dtype) { return Entry(dtype).name; }
size_t DTypeSize(DType dtype) { return Entry(dtype).size; }

std::string DescribeType(DType dtype, const std::vector<int64_t>& shape) {
  std::string text = std::string(DTypeName(dtype)) + "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;  // cannot overflow: ParseSafetensors checked the product
  return n;
}

std::string TensorInfo::Describe() const {
  std::string text = name + " " + DescribeType(dtype, shape);
  if (file) text += " in " + *file;
  return text;
}

std::vector<TensorInfo> ParseSafetensors(const uint8_t* bytes, size_t size,
                                         const std::string* file_label,
                                         std::map<std::string, std::string>* metadata) {
  static const std::string kUnnamed = "<safetensors in memory>";
  const std::string& file = file_label ? *file_label : kUnnamed;
  const Reporter report(file);
  if (size < 8) {
    report.Corrupt("file of " + std::to_string(size) +
                   " bytes is too short for the 8-byte header length");
  }
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = header_size << 8 | bytes[i];  // little-endian
  if (header_size > size - 8) {
    report.Corrupt("header length " + std::to_string(header_size) + " does not fit in the file (" +
                   std::to_string(size) + " bytes)");
  }
  if (header_size > kMaxHeaderBytes) {
    report.Corrupt("header length " + std::to_string(header_size) + " exceeds the limit of " +
                   std::to_string(kMaxHeaderBytes) + " bytes");
  }
  const std::string_view header_text(reinterpret_cast<const char*>(bytes + 8), header_size);
  const Json header = ParseJsonObject(header_text, file);

  const uint8_t* data = bytes + 8 + header_size;
  const uint64_t data_size = size - 8 - header_size;
  std::vector<TensorInfo> tensors;
  tensors.reserve(header.size());
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      ParseMetadata(entry, metadata, report);
    } else {
      tensors.push_back(ParseTensor(name, entry, data, data_size, report));
      tensors.back().file = file_label;
    }
  }
  CheckNoOverlap(tensors, report);
  return tensors;
}

SafetensorsFile SafetensorsFile::Open(const std::string& path) {
  SafetensorsFile f;
  f.path_ = std::make_unique<std::string>(path);
  f.file_ = MappedFile::Open(path);
  f.tensors_ = ParseSafetensors(f.file_.data(), f.file_.size(), f.path_.get(), &f.metadata_);
  for (size_t i = 0; i < f.tensors_.size(); ++i) f.index_.emplace(f.tensors_[i].name, i);
  return f;
}

const TensorInfo* SafetensorsFile::Find(const std::string& name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace deepseek::format
