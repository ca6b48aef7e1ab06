// Checkpoint folders: reads the shard index, maps every shard once and builds one name table.
#include "format/checkpoint.h"

#include <algorithm>
#include <filesystem>
#include <set>
#include <string_view>

#include "core/error.h"
#include "core/mapped_file.h"
#include "core/json_text.h"

namespace deepseek::format {
namespace {

namespace fs = std::filesystem;

constexpr const char* kIndexName = "model.safetensors.index.json";
constexpr const char* kSingleFileName = "model.safetensors";

bool IsRegularFile(const fs::path& path) {
  std::error_code ec;  // a permission problem surfaces when the file is opened
  return fs::is_regular_file(path, ec);
}

// The index's weight_map (tensor name -> shard file name). Shard names must be plain file names:
// a hostile index must not make us map files outside the checkpoint folder.
std::map<std::string, std::string> ReadWeightMap(const std::string& index_path) {
  const MappedFile file = MappedFile::Open(index_path);
  const nlohmann::json index = ParseJsonObject(
      std::string_view(reinterpret_cast<const char*>(file.data()), file.size()), index_path);
  const auto in_index = [&](const std::string& what) { return index_path + ": " + what; };
  const auto it = index.find("weight_map");
  if (it == index.end() || !it->is_object()) {
    Fail(StatusCode::kCorruptFile, in_index("\"weight_map\" is missing or not a JSON object"));
  }
  if (it->empty()) Fail(StatusCode::kCorruptFile, in_index("\"weight_map\" names no tensor"));
  std::map<std::string, std::string> weight_map;
  for (const auto& [tensor, shard] : it->items()) {
    if (!shard.is_string()) {
      Fail(StatusCode::kCorruptFile,
           in_index("tensor '" + tensor + "': shard " + JsonExcerpt(shard) + " is not a string"));
    }
    const auto& name = shard.get_ref<const std::string&>();
    if (name.empty() || name.find('/') != std::string::npos ||
        name.find("..") != std::string::npos) {
      Fail(StatusCode::kCorruptFile,
           in_index("tensor '" + tensor + "': shard '" + name + "' is not a plain file name"));
    }
    weight_map.emplace(tensor, name);
  }
  return weight_map;
}

}  // namespace

std::unique_ptr<Checkpoint> Checkpoint::Open(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    Fail(StatusCode::kNotFound, "checkpoint folder '" + dir + "' does not exist");
  }
  auto ckpt = std::make_unique<Checkpoint>();
  ckpt->dir_ = dir;
  const fs::path index_path = fs::path(dir) / kIndexName;
  std::map<std::string, std::string> weight_map;
  if (IsRegularFile(index_path)) {
    weight_map = ReadWeightMap(index_path.string());
    std::set<std::string> shard_names;
    for (const auto& [tensor, shard] : weight_map) shard_names.insert(shard);
    ckpt->shards_.reserve(shard_names.size());
    for (const std::string& shard : shard_names) {
      ckpt->shards_.push_back(SafetensorsFile::Open((fs::path(dir) / shard).string()));
    }
  } else {
    const fs::path single = fs::path(dir) / kSingleFileName;
    if (!IsRegularFile(single)) {
      Fail(StatusCode::kNotFound,
           "checkpoint " + dir + ": found neither " + kIndexName + " nor " + kSingleFileName);
    }
    ckpt->shards_.push_back(SafetensorsFile::Open(single.string()));
  }

  // shards_ is complete, so pointers into its tensor tables stay valid from here on.
  for (const SafetensorsFile& shard : ckpt->shards_) {
    for (const TensorInfo& t : shard.tensors()) {
      const auto [it, inserted] = ckpt->by_name_.emplace(t.name, &t);
      if (!inserted) {
        Fail(StatusCode::kCorruptFile, "checkpoint " + dir + ": tensor '" + t.name +
                                           "' appears in both " + *it->second->file + " and " +
                                           shard.path());
      }
    }
  }
  for (const auto& [tensor, shard] : weight_map) {
    const TensorInfo* found = ckpt->Find(tensor);
    const std::string shard_path = (fs::path(dir) / shard).string();
    if (!found || *found->file != shard_path) {
      Fail(StatusCode::kCorruptFile,
           index_path.string() + ": tensor '" + tensor + "' is mapped to " + shard + ", but " +
               (found ? "it is in " + *found->file : "that shard does not contain it"));
    }
  }
  ckpt->fingerprint_ = ckpt->ComputeFingerprint();
  return ckpt;
}

Fingerprint Checkpoint::ComputeFingerprint() const {
  std::vector<uint8_t> identity;
  const auto add = [&](const void* data, size_t n) {
    identity.insert(identity.end(), static_cast<const uint8_t*>(data), static_cast<const uint8_t*>(data) + n);
  };
  const fs::path config = fs::path(dir_) / "config.json";
  if (IsRegularFile(config)) {
    const MappedFile file = MappedFile::Open(config.string());
    add(file.data(), file.size());
  }
  int sampled = 0;
  for (const auto& [name, t] : by_name_) {
    add(name.data(), name.size() + 1);  // with its terminator, so names cannot run together
    add(&t->dtype, sizeof t->dtype);
    add(t->shape.data(), t->shape.size() * sizeof(int64_t));
    if (sampled++ < 8) add(t->data, std::min<size_t>(t->nbytes, 4096));
  }
  return FingerprintOf(identity);
}

const TensorInfo* Checkpoint::Find(const std::string& name) const {
  const auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

const TensorInfo& Checkpoint::Require(const std::string& name, DType dtype,
                                      const std::vector<int64_t>& shape) const {
  const TensorInfo* t = Find(name);
  if (!t) Fail(StatusCode::kNotFound, "checkpoint " + dir_ + ": missing tensor '" + name + "'");
  if (t->dtype != dtype || t->shape != shape) {
    Fail(StatusCode::kCorruptFile, "tensor '" + name + "' in " + *t->file + ": expected " +
                                       DescribeType(dtype, shape) + ", found " +
                                       DescribeType(t->dtype, t->shape));
  }
  return *t;
}

std::vector<std::string> Checkpoint::TensorNames() const {
  std::vector<std::string> names;
  names.reserve(by_name_.size());
  for (const auto& [name, info] : by_name_) names.push_back(name);
  return names;
}

size_t Checkpoint::total_bytes() const {
  size_t total = 0;
  for (const auto& [name, info] : by_name_) total += info->nbytes;
  return total;
}

}  // namespace deepseek::format
