// The Python-compatible JSON reader and writer: json.loads semantics for what the encoder keeps,
// json.dumps(ensure_ascii=False) for what it writes.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>

#include "chat/python_json.h"
#include "core/error.h"

namespace deepseek::chat {
namespace {

// json.dumps(json.loads(text)).
std::string RoundTrip(const std::string& text) {
  std::string error;
  std::optional<PyJson> value = ParseJson(text, &error);
  REQUIRE_MESSAGE(value.has_value(), error);
  return DumpJson(*value);
}

TEST_CASE("chat python json: floats are written like Python's repr") {
  CHECK(PythonFloatRepr(0.5) == "0.5");
  CHECK(PythonFloatRepr(1e-05) == "1e-05");
  CHECK(PythonFloatRepr(3.0) == "3.0");
  CHECK(PythonFloatRepr(0.0001) == "0.0001");
  CHECK(PythonFloatRepr(0.00015) == "0.00015");
  CHECK(PythonFloatRepr(1.5e-7) == "1.5e-07");
  CHECK(PythonFloatRepr(1e15) == "1000000000000000.0");
  CHECK(PythonFloatRepr(1e16) == "1e+16");
  CHECK(PythonFloatRepr(1.2345678901234567e16) == "1.2345678901234568e+16");
  CHECK(PythonFloatRepr(123456789.125) == "123456789.125");
  CHECK(PythonFloatRepr(0.1 + 0.2) == "0.30000000000000004");
  CHECK(PythonFloatRepr(100.0) == "100.0");
  CHECK(PythonFloatRepr(-2.5) == "-2.5");
  CHECK(PythonFloatRepr(1e22) == "1e+22");
  CHECK(PythonFloatRepr(1e100) == "1e+100");
  CHECK(PythonFloatRepr(std::numeric_limits<double>::max()) == "1.7976931348623157e+308");
  CHECK(PythonFloatRepr(5e-324) == "5e-324");
  CHECK(PythonFloatRepr(0.0) == "0.0");
  CHECK(PythonFloatRepr(-0.0) == "-0.0");
  CHECK(PythonFloatRepr(std::numeric_limits<double>::infinity()) == "Infinity");
  CHECK(PythonFloatRepr(-std::numeric_limits<double>::infinity()) == "-Infinity");
  CHECK(PythonFloatRepr(std::nan("")) == "NaN");
}

TEST_CASE("chat python json: numbers keep Python's types") {
  CHECK(RoundTrip("[1E5, 2.50, -0.0, 1e-7, 0.1]") == "[100000.0, 2.5, -0.0, 1e-07, 0.1]");
  CHECK(RoundTrip("[0, -0, 7, -9223372036854775808, 18446744073709551615]") ==
        "[0, 0, 7, -9223372036854775808, 18446744073709551615]");
  // Integers beyond 64 bits stay exact, as Python's int does.
  CHECK(RoundTrip("[12345678901234567890123, -98765432109876543210]") ==
        "[12345678901234567890123, -98765432109876543210]");
}

TEST_CASE("chat python json: strings are escaped exactly as json.dumps(ensure_ascii=False)") {
  std::string out;
  AppendJsonString(std::string("q\" b\\ n\n r\r t\t b\b f\f nul") + std::string(1, '\0') + "\x01\x1f\x7f/", out);
  CHECK(out == R"("q\" b\\ n\n r\r t\t b\b f\f nul\u0000\u0001\u001f)" "\x7f" R"(/")");
  out.clear();
  AppendJsonString("é中😀 \u2028", out);
  CHECK(out == "\"é中😀 \u2028\"");
  // Escapes in the input come out in Python's form.
  CHECK(RoundTrip(R"(["\u00e9\u4e2d\ud83d\ude00", "\/", "\u001F\u007f"])") == "[\"é中😀\", \"/\", \"\\u001f\x7f\"]");
  // Invalid UTF-8 (only a caller's ChatMessage can carry it) becomes U+FFFD, never a crash.
  out.clear();
  AppendJsonString("a\xC3(b\xE4\xB8", out);
  CHECK(out == "\"a\xEF\xBF\xBD(b\xEF\xBF\xBD\xEF\xBF\xBD\"");
}

TEST_CASE("chat python json: objects keep key order, repeated keys behave like a dict") {
  CHECK(RoundTrip(R"({"z": 1, "a": {"y": [], "b": {}}, "m": [true, false, null]})") ==
        R"({"z": 1, "a": {"y": [], "b": {}}, "m": [true, false, null]})");
  CHECK(RoundTrip(R"({"a": 1, "b": 2, "a": 3})") == R"({"a": 3, "b": 2})");
  CHECK(RoundTrip(" \n[ 1 ,2 ]\t") == "[1, 2]");
}

TEST_CASE("chat python json: what json.loads rejects is rejected") {
  for (const char* text : {"", "{", "[1,]", "{'a': 1}", "NaN", "[Infinity]", "1e400", "\xEF\xBB\xBF{}", "\"\\ud800\"",
                           "\"\xC3(\"", "\"a\nb\"", "[1] x", "// c\n1"}) {
    CAPTURE(text);
    std::string error;
    CHECK_FALSE(ParseJson(text, &error).has_value());
    CHECK_FALSE(error.empty());
  }
}

TEST_CASE("chat python json: nesting is limited") {
  std::string error;
  const std::string ok = std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']');
  CHECK(ParseJson(ok, &error).has_value());
  const std::string deep = std::string(kMaxJsonDepth + 1, '[') + std::string(kMaxJsonDepth + 1, ']');
  CHECK_THROWS_AS(ParseJson(deep, &error), Error);
  CHECK_THROWS_WITH_AS(ParseJsonOrFail(std::string(1 << 20, '['), "schema"),
                       doctest::Contains("schema: JSON nested deeper"), Error);
  CHECK_THROWS_WITH_AS(ParseJsonOrFail("[1,", "schema"), doctest::Contains("schema: invalid JSON at byte"), Error);
}

TEST_CASE("chat python json: truthiness follows Python's bool()") {
  std::string error;
  for (const char* falsy : {"null", "false", "0", "0.0", "-0.0", "\"\"", "[]", "{}"}) {
    CAPTURE(falsy);
    CHECK_FALSE(ParseJson(falsy, &error)->Truthy());
  }
  for (const char* truthy : {"true", "1", "-1", "0.5", "\"0\"", "[0]", "{\"a\": null}"}) {
    CAPTURE(truthy);
    CHECK(ParseJson(truthy, &error)->Truthy());
  }
}

}  // namespace
}  // namespace deepseek::chat
