// Read-only memory mapping of a whole file; weights are used in place, never copied.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace deepseek {

class MappedFile {
 public:
  // Maps `path` read-only. Throws Error(kNotFound / kIoError) naming the file on failure.
  static MappedFile Open(const std::string& path);

  MappedFile() = default;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Advice to the kernel about bytes [p, p + n) of a mapping (widened to whole pages), best
// effort: kRandom turns read-ahead off (a lookup table read a few rows at a time, where
// read-ahead would make a multi-GiB table resident), kWillNeed starts reading them in now.
enum class MappedAccess { kRandom, kWillNeed };
void AdviseMapped(const void* p, size_t n, MappedAccess access) noexcept;

}  // namespace deepseek
