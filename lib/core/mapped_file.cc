#include "core/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <utility>

#include "core/error.h"

namespace deepseek {

namespace {

// Weights are streamed front to back, so with small pages the TLB misses and the hardware
// prefetchers (which stop at every 4 KiB page) cost read bandwidth. The kernel maps a file
// with 2 MiB entries where the page cache holds 2 MiB folios, which readahead allocates for a
// MADV_HUGEPAGE mapping, provided the mapping's address is 2 MiB aligned like the file offsets.
// mmap gives no such alignment, so reserve a larger range, map the file at its aligned start
// and return the rest. Everything here is a hint except the map itself.
constexpr size_t kHugePage = size_t{2} << 20;

void* MapAligned(int fd, size_t size) {
  if (size < kHugePage) return ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  void* reserved = ::mmap(nullptr, size + kHugePage, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (reserved == MAP_FAILED) return MAP_FAILED;
  const uintptr_t begin = reinterpret_cast<uintptr_t>(reserved);
  const uintptr_t aligned = (begin + kHugePage - 1) & ~(kHugePage - 1);
  void* p = ::mmap(reinterpret_cast<void*>(aligned), size, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0);
  if (p == MAP_FAILED) {
    const int err = errno;
    ::munmap(reserved, size + kHugePage);
    errno = err;
    return MAP_FAILED;
  }
  if (aligned > begin) ::munmap(reserved, aligned - begin);
  const uintptr_t end = aligned + size, reserved_end = begin + size + kHugePage;
  ::munmap(reinterpret_cast<void*>(end), reserved_end - end);  // never empty: aligned - begin < kHugePage
  ::madvise(p, size, MADV_HUGEPAGE);
  return p;
}

}  // namespace

MappedFile MappedFile::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    Fail(err == ENOENT ? StatusCode::kNotFound : StatusCode::kIoError,
         "cannot open '" + path + "': " + std::strerror(err));
  }
  struct stat st{};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    Fail(StatusCode::kIoError, "'" + path + "' is not a readable regular file");
  }
  MappedFile file;
  file.path_ = path;
  file.size_ = static_cast<size_t>(st.st_size);
  if (file.size_ > 0) {
    void* p = MapAligned(fd, file.size_);
    if (p == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      Fail(err == ENOMEM ? StatusCode::kOutOfMemory : StatusCode::kIoError,
           "cannot map '" + path + "': " + std::strerror(err));
    }
    file.data_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);  // the mapping keeps the file alive
  return file;
}

MappedFile::MappedFile(MappedFile&& other) noexcept { *this = std::move(other); }

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
    path_ = std::move(other.path_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

void AdviseMapped(const void* p, size_t n, MappedAccess access) noexcept {
  if (n == 0) return;
  static const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto first = reinterpret_cast<uintptr_t>(p) & ~(page - 1);
  const uintptr_t end = reinterpret_cast<uintptr_t>(p) + n;
  (void)madvise(reinterpret_cast<void*>(first), end - first, access == MappedAccess::kRandom ? MADV_RANDOM : MADV_WILLNEED);
}

}  // namespace deepseek
