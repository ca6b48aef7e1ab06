// JSON as the reference encoder sees it: parsed like Python's json.loads (object key order kept,
// a repeated key keeps its first place and takes the last value, integers of any size exact) and
// written like json.dumps(value, ensure_ascii=False) with the default separators ", " and ": ".
// The prompt embeds tool schemas and argument values in this form, so it must match byte for byte.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace deepseek::chat {

// Nesting deeper than this is rejected: the writer and the destructor recurse per level.
inline constexpr int kMaxJsonDepth = 128;

struct PyJson {
  enum class Kind { kNull, kBool, kInt, kFloat, kString, kArray, kObject };
  struct Member;

  Kind kind = Kind::kNull;
  bool boolean = false;
  double number = 0;   // kFloat
  std::string text;    // kInt: the decimal digits Python prints; kString: the UTF-8 value
  std::vector<PyJson> items;                            // kArray
  std::vector<Member> members;  // kObject, in insertion order

  bool is_string() const { return kind == Kind::kString; }
  bool is_array() const { return kind == Kind::kArray; }
  bool is_object() const { return kind == Kind::kObject; }
  bool is_null() const { return kind == Kind::kNull; }
  // The member named `key`, or null when there is none (objects only).
  const PyJson* Find(std::string_view key) const;
  // Python's bool(value): false for null, false, 0, 0.0, "", [] and {}.
  bool Truthy() const;

  static PyJson String(std::string value);
  static PyJson Float(double value);
};

struct PyJson::Member {
  std::string key;
  PyJson value;
};

// Parses `text`. Returns nothing and sets `*error` when the text is not JSON (Python would raise
// a JSONDecodeError); throws kInvalidArgument when it nests deeper than kMaxJsonDepth.
std::optional<PyJson> ParseJson(std::string_view text, std::string* error);

// ParseJson that throws kInvalidArgument naming `what` for any failure.
PyJson ParseJsonOrFail(std::string_view text, std::string_view what);

// json.dumps(value, ensure_ascii=False).
std::string DumpJson(const PyJson& value);
void AppendJson(const PyJson& value, std::string& out);

// json.dumps of one string: quotes; \" \\ \n \r \t \b \f short escapes; \u00xx for the other
// control characters; DEL and non-ASCII raw. Invalid UTF-8 (never produced by the parser) is
// written as U+FFFD rather than passed on.
void AppendJsonString(std::string_view value, std::string& out);

// repr(float): the shortest digits that read back to the same double, in positional notation
// for decimal exponents -4..15 (with ".0" when integral), otherwise like 1e-05 or 1.5e+16.
std::string PythonFloatRepr(double value);

}  // namespace deepseek::chat
