// A checksummed file of typed sections, for state saved by one process and loaded by another
// (KV snapshots). Layout, little-endian:
//   header (64 bytes): magic[8], u32 format version, u32 header bytes (64), fingerprint[16] of
//     what the contents belong to (e.g. a model), library version[16] (NUL-padded text),
//     u64 section count, u64 xxh3-64 of the 56 bytes before it;
//   then per section: u32 tag, u32 zero, u64 payload bytes, u64 xxh3-64 of the payload, payload.
// Parsing checks every length, checksum and the fingerprint before anything is used, and
// names what is wrong; writing goes to a temporary file that is synced and then renamed over
// the target, so a crash never leaves a file that parses.
#pragma once

#include <array>
#include <cstring>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace deepseek::format {

using Fingerprint = std::array<uint8_t, 16>;

// xxh3-128 of `bytes`, as the fingerprint of whatever they describe.
Fingerprint FingerprintOf(std::span<const uint8_t> bytes);
// Lower-case hex of a fingerprint (for messages and file names).
std::string Hex(const Fingerprint& f);

struct SectionFileId {
  std::string_view magic;  // exactly 8 characters
  uint32_t version = 0;
  Fingerprint fingerprint{};
  std::string_view library_version;  // at most 15 characters
};

class SectionWriter {
 public:
  void Add(uint32_t tag, std::vector<uint8_t> payload);
  std::vector<uint8_t> Finish(const SectionFileId& id) const;

 private:
  std::vector<std::pair<uint32_t, std::vector<uint8_t>>> sections_;
};

struct Section {
  uint32_t tag = 0;
  std::span<const uint8_t> payload;
};

// The sections of `bytes`, after checking the header against `id` (magic, version,
// fingerprint; the library version is informational) and every checksum. Throws
// Error(kCorruptFile) naming `what` and the fault, or Error(kInvalidArgument) when the file is
// sound but belongs to another fingerprint.
std::vector<Section> ParseSectionFile(std::span<const uint8_t> bytes, const SectionFileId& id, const std::string& what);

// Writes `bytes` to `path` through a synced temporary file renamed over it. Throws
// Error(kIoError) naming the path.
void WriteFileAtomically(const std::string& path, std::span<const uint8_t> bytes);

// Payload building and reading. The reader throws Error(kCorruptFile) naming `what` when a
// read would pass the end.
class ByteWriter {
 public:
  void U8(uint8_t v) { bytes_.push_back(v); }
  void U32(uint32_t v) { Raw(&v, 4); }
  void U64(uint64_t v) { Raw(&v, 8); }
  void I64(int64_t v) { Raw(&v, 8); }
  void Raw(const void* data, size_t n);
  template <typename T>
  void Array(std::span<const T> values) {  // u64 count, then the values
    U64(values.size());
    Raw(values.data(), values.size() * sizeof(T));
  }
  std::vector<uint8_t> Take() { return std::move(bytes_); }

 private:
  std::vector<uint8_t> bytes_;
};

class ByteReader {
 public:
  ByteReader(std::span<const uint8_t> bytes, std::string what) : bytes_(bytes), what_(std::move(what)) {}
  uint8_t U8() { return Scalar<uint8_t>(); }
  uint32_t U32() { return Scalar<uint32_t>(); }
  uint64_t U64() { return Scalar<uint64_t>(); }
  int64_t I64() { return Scalar<int64_t>(); }
  std::span<const uint8_t> Raw(uint64_t n);
  // u64 count (which must equal `expected` when it is not -1), then the values.
  template <typename T>
  std::vector<T> Array(int64_t expected = -1) {
    const uint64_t count = U64();
    if (expected >= 0 && count != static_cast<uint64_t>(expected)) Mismatch(count, expected);
    if (count > bytes_.size() / sizeof(T)) Past(count * sizeof(T));
    std::vector<T> out(static_cast<size_t>(count));
    const std::span<const uint8_t> raw = Raw(count * sizeof(T));
    if (!raw.empty()) std::memcpy(out.data(), raw.data(), raw.size());
    return out;
  }
  void ExpectEnd() const;
  const std::string& what() const { return what_; }

 private:
  template <typename T>
  T Scalar() {
    T v;
    std::memcpy(&v, Raw(sizeof(T)).data(), sizeof(T));
    return v;
  }
  [[noreturn]] void Past(uint64_t n) const;
  [[noreturn]] void Mismatch(uint64_t count, int64_t expected) const;

  std::span<const uint8_t> bytes_;
  std::string what_;
};

}  // namespace deepseek::format
