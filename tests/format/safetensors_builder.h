// Hand-made safetensors images for the format tests: the tests control every header byte, so
// they can produce each kind of malformed file the parser must reject.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "format/safetensors.h"

namespace deepseek::testing {

// 8-byte little-endian length + header text + `data_size` bytes of data. Data byte i is (i * 7 + 1)
// mod 256, so a test can tell which part of the data section a tensor points at.
inline std::string SafetensorsImage(const std::string& header, size_t data_size) {
  std::string image(8, '\0');
  for (int i = 0; i < 8; ++i) image[i] = static_cast<char>(uint64_t{header.size()} >> (8 * i));
  image += header;
  for (size_t i = 0; i < data_size; ++i) image += static_cast<char>(i * 7 + 1);
  return image;
}

inline uint8_t DataByte(size_t offset) { return static_cast<uint8_t>(offset * 7 + 1); }

// Builds a header entry by entry; Add() packs each tensor right after the previous one.
class SafetensorsBuilder {
 public:
  SafetensorsBuilder& Add(const std::string& name, format::DType dtype,
                          const std::vector<int64_t>& shape) {
    size_t bytes = format::DTypeSize(dtype);
    for (int64_t d : shape) bytes *= static_cast<size_t>(d);
    const size_t begin = data_size_;
    data_size_ += bytes;
    return AddAt(name, format::DTypeName(dtype), ShapeJson(shape), begin, data_size_);
  }

  // An entry with any dtype spelling, shape JSON and offsets, for malformed headers. The data
  // section does not grow: Pad() sizes it.
  SafetensorsBuilder& AddAt(const std::string& name, const std::string& dtype,
                            const std::string& shape_json, size_t begin, size_t end) {
    return AddRaw(name, "{\"dtype\":\"" + dtype + "\",\"shape\":" + shape_json +
                            ",\"data_offsets\":[" + std::to_string(begin) + "," +
                            std::to_string(end) + "]}");
  }

  // An entry whose JSON value is given verbatim.
  SafetensorsBuilder& AddRaw(const std::string& name, const std::string& entry_json) {
    entries_.emplace_back(name, entry_json);
    return *this;
  }

  SafetensorsBuilder& Metadata(const std::string& key, const std::string& value) {
    return AddRaw("__metadata__", "{\"" + key + "\":\"" + value + "\"}");
  }

  // Grows the data section, e.g. to leave a gap after the last tensor added.
  SafetensorsBuilder& Pad(size_t bytes) {
    data_size_ += bytes;
    return *this;
  }

  std::string Header() const {
    std::string text = "{";
    for (const auto& [name, json] : entries_) {
      if (text.size() > 1) text += ",";
      text += "\"" + name + "\":" + json;
    }
    return text + "}";
  }

  size_t data_size() const { return data_size_; }
  std::string Image() const { return SafetensorsImage(Header(), data_size_); }

 private:
  static std::string ShapeJson(const std::vector<int64_t>& shape) {
    std::string text = "[";
    for (size_t i = 0; i < shape.size(); ++i) {
      if (i > 0) text += ",";
      text += std::to_string(shape[i]);
    }
    return text + "]";
  }

  std::vector<std::pair<std::string, std::string>> entries_;
  size_t data_size_ = 0;
};

// Runs fn(), which must throw deepseek::Error with `code` and a message containing every one of
// `needles` (file names, tensor names, the offending value).
template <typename Fn>
void ExpectError(Fn&& fn, StatusCode code, const std::vector<std::string>& needles) {
  try {
    fn();
  } catch (const Error& e) {
    const std::string message = e.what();
    INFO("message: " << message);
    CHECK(e.code() == code);
    for (const std::string& needle : needles) {
      CHECK_MESSAGE(message.find(needle) != std::string::npos, "missing '" << needle << "'");
    }
    return;
  }
  FAIL_CHECK("expected deepseek::Error(" << StatusCodeName(code) << "), nothing was thrown");
}

}  // namespace deepseek::testing
