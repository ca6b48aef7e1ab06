#include "format/section_file.h"

#include <fcntl.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/error.h"

namespace deepseek::format {
namespace {

constexpr size_t kHeaderBytes = 64;
constexpr size_t kSectionHeaderBytes = 24;

template <typename T>
T Load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

template <typename T>
void Store(uint8_t* p, T v) {
  std::memcpy(p, &v, sizeof(T));
}

std::string TagName(uint32_t tag) {
  std::string name(4, ' ');
  for (int i = 0; i < 4; ++i) {
    const char c = static_cast<char>((tag >> (8 * i)) & 0xff);
    name[static_cast<size_t>(i)] = c >= 32 && c < 127 ? c : '?';
  }
  return name;
}

[[noreturn]] void Corrupt(const std::string& what, const std::string& fault) {
  Fail(StatusCode::kCorruptFile, what + ": " + fault);
}

[[noreturn]] void IoFail(const std::string& path, const std::string& action) {
  Fail(StatusCode::kIoError, path + ": " + action + " failed: " + std::strerror(errno));
}

}  // namespace

Fingerprint FingerprintOf(std::span<const uint8_t> bytes) {
  const XXH128_hash_t h = XXH3_128bits(bytes.data(), bytes.size());
  Fingerprint f;
  Store(f.data(), h.low64);
  Store(f.data() + 8, h.high64);
  return f;
}

std::string Hex(const Fingerprint& f) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  for (uint8_t b : f) s += {kDigits[b >> 4], kDigits[b & 15]};
  return s;
}

void SectionWriter::Add(uint32_t tag, std::vector<uint8_t> payload) { sections_.emplace_back(tag, std::move(payload)); }

std::vector<uint8_t> SectionWriter::Finish(const SectionFileId& id) const {
  size_t total = kHeaderBytes;
  for (const auto& [tag, payload] : sections_) total += kSectionHeaderBytes + payload.size();
  std::vector<uint8_t> out(total, 0);
  uint8_t* h = out.data();
  std::memcpy(h, id.magic.data(), std::min<size_t>(id.magic.size(), 8));
  Store<uint32_t>(h + 8, id.version);
  Store<uint32_t>(h + 12, kHeaderBytes);
  std::memcpy(h + 16, id.fingerprint.data(), 16);
  std::memcpy(h + 32, id.library_version.data(), std::min<size_t>(id.library_version.size(), 15));
  Store<uint64_t>(h + 48, sections_.size());
  Store<uint64_t>(h + 56, XXH3_64bits(h, 56));
  uint8_t* p = h + kHeaderBytes;
  for (const auto& [tag, payload] : sections_) {
    Store<uint32_t>(p, tag);
    Store<uint64_t>(p + 8, payload.size());
    Store<uint64_t>(p + 16, XXH3_64bits(payload.data(), payload.size()));
    if (!payload.empty()) std::memcpy(p + kSectionHeaderBytes, payload.data(), payload.size());
    p += kSectionHeaderBytes + payload.size();
  }
  return out;
}

std::vector<Section> ParseSectionFile(std::span<const uint8_t> bytes, const SectionFileId& id, const std::string& what) {
  if (bytes.size() < kHeaderBytes) Corrupt(what, "truncated: " + std::to_string(bytes.size()) + " bytes, the header alone has 64");
  const uint8_t* h = bytes.data();
  if (std::memcmp(h, id.magic.data(), 8) != 0) Corrupt(what, "not a " + std::string(id.magic) + " file (wrong magic)");
  if (Load<uint64_t>(h + 56) != XXH3_64bits(h, 56)) Corrupt(what, "header checksum mismatch");
  const uint32_t version = Load<uint32_t>(h + 8);
  if (version != id.version) {
    Fail(StatusCode::kUnsupported, what + ": format version " + std::to_string(version) + ", this library reads " +
                                       std::to_string(id.version));
  }
  if (Load<uint32_t>(h + 12) != kHeaderBytes) Corrupt(what, "header size is not 64");
  Fingerprint found;
  std::memcpy(found.data(), h + 16, 16);
  if (found != id.fingerprint) {
    Fail(StatusCode::kInvalidArgument, what + ": saved for another model (fingerprint " + Hex(found) + ", this model's is " +
                                           Hex(id.fingerprint) + ")");
  }
  const uint64_t count = Load<uint64_t>(h + 48);
  std::vector<Section> sections;
  size_t at = kHeaderBytes;
  for (uint64_t i = 0; i < count; ++i) {
    const std::string where = "section " + std::to_string(i);
    if (bytes.size() - at < kSectionHeaderBytes) Corrupt(what, "truncated in the header of " + where);
    const uint8_t* s = bytes.data() + at;
    const uint32_t tag = Load<uint32_t>(s);
    const uint64_t size = Load<uint64_t>(s + 8);
    if (Load<uint32_t>(s + 4) != 0) Corrupt(what, "the reserved field of " + where + " is not zero");
    at += kSectionHeaderBytes;
    if (size > bytes.size() - at) {
      Corrupt(what, "truncated: " + where + " ('" + TagName(tag) + "') claims " + std::to_string(size) + " bytes, " +
                        std::to_string(bytes.size() - at) + " remain");
    }
    const std::span<const uint8_t> payload = bytes.subspan(at, static_cast<size_t>(size));
    if (Load<uint64_t>(s + 16) != XXH3_64bits(payload.data(), payload.size())) {
      Corrupt(what, "checksum mismatch in " + where + " ('" + TagName(tag) + "')");
    }
    sections.push_back({tag, payload});
    at += static_cast<size_t>(size);
  }
  if (at != bytes.size()) Corrupt(what, std::to_string(bytes.size() - at) + " bytes after the last section");
  return sections;
}

void WriteFileAtomically(const std::string& path, std::span<const uint8_t> bytes) {
  const std::string temp = path + ".tmp." + std::to_string(getpid());
  const int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) IoFail(temp, "open");
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int saved = errno;
      close(fd);
      unlink(temp.c_str());
      errno = saved;
      IoFail(temp, "write");
    }
    done += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) {
    const int saved = errno;
    close(fd);
    unlink(temp.c_str());
    errno = saved;
    IoFail(temp, "fsync");
  }
  close(fd);
  if (rename(temp.c_str(), path.c_str()) != 0) {
    const int saved = errno;
    unlink(temp.c_str());
    errno = saved;
    IoFail(path, "rename");
  }
  // The rename itself becomes durable with the folder's entry.
  const std::string dir = std::filesystem::path(path).parent_path().string();
  const int dfd = open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
}

void ByteWriter::Raw(const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  bytes_.insert(bytes_.end(), p, p + n);
}

std::span<const uint8_t> ByteReader::Raw(uint64_t n) {
  if (n > bytes_.size()) Past(n);
  const std::span<const uint8_t> out = bytes_.first(static_cast<size_t>(n));
  bytes_ = bytes_.subspan(static_cast<size_t>(n));
  return out;
}

void ByteReader::ExpectEnd() const {
  if (!bytes_.empty()) Corrupt(what_, std::to_string(bytes_.size()) + " unexpected bytes at the end");
}

void ByteReader::Past(uint64_t n) const {
  Corrupt(what_, "needs " + std::to_string(n) + " more bytes, " + std::to_string(bytes_.size()) + " remain");
}

void ByteReader::Mismatch(uint64_t count, int64_t expected) const {
  Corrupt(what_, "holds " + std::to_string(count) + " values where " + std::to_string(expected) + " are expected");
}

}  // namespace deepseek::format
