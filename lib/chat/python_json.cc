#include "chat/python_json.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/utf8.h"

namespace deepseek::chat {
namespace {

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

// Builds a PyJson from nlohmann's SAX events. nlohmann parses iteratively (no recursion) and
// checks UTF-8 inside strings; this handler adds the depth limit and Python's number and
// duplicate-key behaviour.
class Builder {
 public:
  using Json = nlohmann::json;

  bool null() { return Add(PyJson{}); }
  bool boolean(bool v) {
    PyJson j;
    j.kind = PyJson::Kind::kBool;
    j.boolean = v;
    return Add(std::move(j));
  }
  bool number_integer(Json::number_integer_t v) { return Add(Int(std::to_string(v))); }
  bool number_unsigned(Json::number_unsigned_t v) { return Add(Int(std::to_string(v))); }
  bool number_float(Json::number_float_t v, const Json::string_t& token) {
    // nlohmann hands integers beyond 64 bits over as floats; Python keeps them exact.
    if (token.find_first_of(".eE") == std::string::npos) return Add(Int(token));
    return Add(PyJson::Float(v));
  }
  bool string(Json::string_t& v) { return Add(PyJson::String(std::move(v))); }
  bool binary(Json::binary_t&) { return false; }  // JSON text has no binary values
  bool start_object(std::size_t) { return Open(PyJson::Kind::kObject); }
  bool key(Json::string_t& k) {
    stack_.back().key = std::move(k);
    return true;
  }
  bool end_object() { return Close(); }
  bool start_array(std::size_t) { return Open(PyJson::Kind::kArray); }
  bool end_array() { return Close(); }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& e) {
    std::string what = e.what();
    // "[json.exception.parse_error.101] parse error at line 1, column 2: ..." → the reason.
    const std::size_t colon = what.find(": ");
    error_ = "byte " + std::to_string(position > 0 ? position - 1 : 0) + ": " +
             (colon == std::string::npos ? what : what.substr(colon + 2));
    return false;
  }

  PyJson& root() { return root_; }
  const std::string& error() const { return error_; }

 private:
  struct Frame {
    PyJson value;
    std::string key;                                  // objects: the key of the next value
    std::unordered_map<std::string, std::size_t> at;  // objects: member index by key
  };

  static PyJson Int(std::string digits) {
    PyJson j;
    j.kind = PyJson::Kind::kInt;
    j.text = std::move(digits);
    return j;
  }

  bool Open(PyJson::Kind kind) {
    if (static_cast<int>(stack_.size()) >= kMaxJsonDepth) {
      Fail(StatusCode::kInvalidArgument, "JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    }
    stack_.emplace_back();
    stack_.back().value.kind = kind;
    return true;
  }

  bool Close() {
    Frame done = std::move(stack_.back());
    stack_.pop_back();
    return Add(std::move(done.value));
  }

  bool Add(PyJson value) {
    if (stack_.empty()) {
      root_ = std::move(value);
      return true;
    }
    Frame& top = stack_.back();
    if (top.value.kind == PyJson::Kind::kArray) {
      top.value.items.push_back(std::move(value));
      return true;
    }
    auto [it, fresh] = top.at.try_emplace(top.key, top.value.members.size());
    if (fresh) {
      top.value.members.push_back({std::move(top.key), std::move(value)});
    } else {
      top.value.members[it->second].value = std::move(value);  // as a Python dict does
    }
    return true;
  }

  std::vector<Frame> stack_;
  PyJson root_;
  std::string error_;
};

void AppendHex4(unsigned value, std::string& out) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "\\u%04x", value);
  out += buf;
}

}  // namespace

const PyJson* PyJson::Find(std::string_view key) const {
  for (const auto& [k, v] : members) {
    if (k == key) return &v;
  }
  return nullptr;
}

bool PyJson::Truthy() const {
  switch (kind) {
    case Kind::kNull: return false;
    case Kind::kBool: return boolean;
    case Kind::kInt: return text != "0";
    case Kind::kFloat: return number != 0;
    case Kind::kString: return !text.empty();
    case Kind::kArray: return !items.empty();
    case Kind::kObject: return !members.empty();
  }
  return false;
}

PyJson PyJson::String(std::string value) {
  PyJson j;
  j.kind = Kind::kString;
  j.text = std::move(value);
  return j;
}

PyJson PyJson::Float(double value) {
  PyJson j;
  j.kind = Kind::kFloat;
  j.number = value;
  return j;
}

std::optional<PyJson> ParseJson(std::string_view text, std::string* error) {
  // nlohmann skips a byte-order mark; Python's json.loads refuses it.
  if (text.substr(0, kUtf8Bom.size()) == kUtf8Bom) {
    *error = "byte 0: unexpected UTF-8 byte-order mark";
    return std::nullopt;
  }
  Builder builder;
  if (!nlohmann::json::sax_parse(text.begin(), text.end(), &builder)) {
    *error = builder.error();
    return std::nullopt;
  }
  return std::move(builder.root());
}

PyJson ParseJsonOrFail(std::string_view text, std::string_view what) {
  std::string error;
  try {
    std::optional<PyJson> value = ParseJson(text, &error);
    if (value) return std::move(*value);
  } catch (const Error& e) {
    Fail(e.code(), std::string(what) + ": " + e.what());
  }
  Fail(StatusCode::kInvalidArgument, std::string(what) + ": invalid JSON at " + error);
}

void AppendJsonString(std::string_view value, std::string& out) {
  out += '"';
  std::size_t i = 0;
  while (i < value.size()) {
    const auto c = static_cast<unsigned char>(value[i]);
    if (c >= 0x80) {
      const Utf8Step step = ReadUtf8(reinterpret_cast<const uint8_t*>(value.data()) + i, value.size() - i);
      if (step.kind != Utf8Step::kValid) {
        out += "\xEF\xBF\xBD";
        ++i;
      } else {
        out.append(value.substr(i, step.length));
        i += step.length;
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          AppendHex4(c, out);
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  out += '"';
}

std::string PythonFloatRepr(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
  if (value == 0) return std::signbit(value) ? "-0.0" : "0.0";
  // to_chars gives the shortest round-trip digits, as Python's repr does; only the layout differs.
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::scientific);
  const std::string_view sci(buf, static_cast<std::size_t>(res.ptr - buf));  // "-d.ddde+XX"
  const std::size_t e = sci.find('e');
  std::string sign, digits;
  for (char c : sci.substr(0, e)) {
    if (c == '-') sign = "-";
    else if (c != '.') digits += c;
  }
  int exponent = 0;
  std::from_chars(sci.data() + e + (sci[e + 1] == '+' ? 2 : 1), sci.data() + sci.size(), exponent);
  const int ndigits = static_cast<int>(digits.size());
  if (exponent < -4 || exponent >= 16) {
    std::string out = sign + digits.substr(0, 1);
    if (ndigits > 1) out += "." + digits.substr(1);
    const std::string magnitude = std::to_string(std::abs(exponent));  // at least two digits
    return out + (exponent < 0 ? "e-" : "e+") + (magnitude.size() < 2 ? "0" : "") + magnitude;
  }
  const int point = exponent + 1;  // digits before the decimal point
  if (point <= 0) return sign + "0." + std::string(static_cast<std::size_t>(-point), '0') + digits;
  if (point >= ndigits) return sign + digits + std::string(static_cast<std::size_t>(point - ndigits), '0') + ".0";
  return sign + digits.substr(0, static_cast<std::size_t>(point)) + "." +
         digits.substr(static_cast<std::size_t>(point));
}

void AppendJson(const PyJson& value, std::string& out) {
  switch (value.kind) {
    case PyJson::Kind::kNull: out += "null"; break;
    case PyJson::Kind::kBool: out += value.boolean ? "true" : "false"; break;
    case PyJson::Kind::kInt: out += value.text; break;
    case PyJson::Kind::kFloat: out += PythonFloatRepr(value.number); break;
    case PyJson::Kind::kString: AppendJsonString(value.text, out); break;
    case PyJson::Kind::kArray:
      out += '[';
      for (std::size_t i = 0; i < value.items.size(); ++i) {
        if (i) out += ", ";
        AppendJson(value.items[i], out);
      }
      out += ']';
      break;
    case PyJson::Kind::kObject:
      out += '{';
      for (std::size_t i = 0; i < value.members.size(); ++i) {
        if (i) out += ", ";
        AppendJsonString(value.members[i].key, out);
        out += ": ";
        AppendJson(value.members[i].value, out);
      }
      out += '}';
      break;
  }
}

std::string DumpJson(const PyJson& value) {
  std::string out;
  AppendJson(value, out);
  return out;
}

}  // namespace deepseek::chat
