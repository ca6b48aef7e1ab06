# Every DS_* build option, in one place.
option(DS_BUILD_TESTS "Build the test suite" ${PROJECT_IS_TOP_LEVEL})
option(DS_BUILD_EXAMPLES "Build the example programs and tools" ${PROJECT_IS_TOP_LEVEL})
option(DS_BUILD_FUZZERS "Build libFuzzer targets (requires clang)" OFF)
option(DS_WARNINGS_AS_ERRORS "Treat compiler warnings as errors" OFF)
set(DS_SANITIZE "" CACHE STRING "Sanitizers to build with, e.g. address;undefined")
