// MappedFile: the bytes of the file, read-only, at a 2 MiB-aligned address for files of at
// least 2 MiB (so that the kernel can map them with huge pages), and errors naming the file.
#include "core/mapped_file.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "support/shared_data.h"

namespace deepseek {
namespace {

std::vector<uint8_t> Pattern(size_t n) {
  std::vector<uint8_t> bytes(n);
  for (size_t i = 0; i < n; ++i) bytes[i] = static_cast<uint8_t>((i * 131 + i / 4096) & 0xff);
  return bytes;
}

void Write(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

TEST_CASE("MappedFile maps the whole file, large files at a 2 MiB boundary") {
  const std::string dir = testing::TempDir("mapped_file");
  for (const size_t size : {size_t{1}, size_t{4095}, size_t{2} << 20, (size_t{5} << 20) + 77}) {
    CAPTURE(size);
    const std::vector<uint8_t> bytes = Pattern(size);
    const std::string path = dir + "/f" + std::to_string(size);
    Write(path, bytes);
    MappedFile file = MappedFile::Open(path);
    REQUIRE(file.size() == size);
    CHECK(file.path() == path);
    CHECK(std::vector<uint8_t>(file.data(), file.data() + size) == bytes);
    if (size >= (size_t{2} << 20)) CHECK(reinterpret_cast<uintptr_t>(file.data()) % (uintptr_t{2} << 20) == 0);
    MappedFile moved = std::move(file);  // the mapping moves with the object
    CHECK(file.data() == nullptr);
    CHECK(moved.data()[size - 1] == bytes[size - 1]);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("MappedFile: an empty file has no bytes, a missing one is kNotFound naming it") {
  const std::string dir = testing::TempDir("mapped_file_errors");
  Write(dir + "/empty", {});
  const MappedFile empty = MappedFile::Open(dir + "/empty");
  CHECK(empty.size() == 0);
  try {
    MappedFile::Open(dir + "/absent");
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.code() == StatusCode::kNotFound);
    CHECK(std::string(e.what()).find(dir + "/absent") != std::string::npos);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace deepseek
