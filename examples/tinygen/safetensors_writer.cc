// Header layout follows the files torch's safetensors writer produces (and the golden
// checkpoints have): compact JSON, tensors in the given order, "__metadata__" last, padded with
// spaces to a multiple of 8 bytes.
#include "tinygen/safetensors_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <utility>

#include "core/error.h"

namespace deepseek::tinygen {
namespace {

[[noreturn]] void FailIo(const std::string& what, const std::string& path) {
  Fail(StatusCode::kIoError, "cannot " + what + " '" + path + "': " + std::strerror(errno));
}

}  // namespace

SafetensorsWriter::SafetensorsWriter(std::string path, const std::vector<TensorEntry>& tensors)
    : path_(std::move(path)) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  uint64_t offset = 0;
  for (const TensorEntry& t : tensors) {
    header[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.nbytes}}};
    offset += t.nbytes;
  }
  header["__metadata__"] = {{"format", "pt"}};
  std::string text = header.dump();
  text.resize((text.size() + 7) / 8 * 8, ' ');

  uint64_t data_start = 8 + text.size();
  for (const TensorEntry& t : tensors) {
    begin_.push_back(data_start);
    size_.push_back(t.nbytes);
    data_start += t.nbytes;
  }

  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) FailIo("create", path_);
  // Sizing the file first means it has its final length even before every byte is placed.
  if (::ftruncate(fd_, static_cast<off_t>(data_start)) != 0) FailIo("resize", path_);
  uint8_t length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * i));
  std::string prefix(reinterpret_cast<const char*>(length), 8);
  prefix += text;
  size_t done = 0;
  while (done < prefix.size()) {
    const ssize_t n = ::pwrite(fd_, prefix.data() + done, prefix.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) FailIo("write the header of", path_);
    done += static_cast<size_t>(n);
  }
}

SafetensorsWriter::~SafetensorsWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void SafetensorsWriter::Write(size_t index, uint64_t offset, const void* data, size_t size) {
  if (index >= begin_.size() || offset > size_[index] || size > size_[index] - offset) {
    Fail(StatusCode::kInternal, "tinygen: write outside tensor " + std::to_string(index) + " of '" + path_ + "'");
  }
  const char* bytes = static_cast<const char*>(data);
  uint64_t pos = begin_[index] + offset;
  while (size > 0) {
    const ssize_t n = ::pwrite(fd_, bytes, size, static_cast<off_t>(pos));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) FailIo("write to", path_);
    bytes += n;
    pos += static_cast<uint64_t>(n);
    size -= static_cast<size_t>(n);
  }
}

void SafetensorsWriter::Close() {
  const int fd = std::exchange(fd_, -1);
  if (fd >= 0 && ::close(fd) != 0) FailIo("close", path_);
}

}  // namespace deepseek::tinygen
