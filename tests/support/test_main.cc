// The test programs' main: doctest's, plus one guard. ctest runs each test case by name
// (doctest_discover_tests), and doctest passes when a name filter matches nothing — so a test
// whose name CMake mangles (a ';' splits it in two) would silently not run. Here a run with a
// test-case filter that starts no test case fails.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <string_view>

namespace {

int g_started = 0;

struct StartCounter : doctest::IReporter {
  explicit StartCounter(const doctest::ContextOptions&) {}
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats&) override {}
  void test_case_start(const doctest::TestCaseData&) override { ++g_started; }
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};

REGISTER_LISTENER("start_counter", 1, StartCounter);

bool HasTestCaseFilter(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg.starts_with("-tc=") || arg.starts_with("--test-case=")) return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  const int result = context.run();
  if (context.shouldExit()) return result;
  if (result == 0 && g_started == 0 && HasTestCaseFilter(argc, argv)) {
    std::fprintf(stderr, "error: the test-case filter matched no test case (a name mangled by CMake?)\n");
    return 1;
  }
  return result;
}
