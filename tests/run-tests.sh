#!/usr/bin/env bash
# Quick start, command 2: installs what is needed, then builds and runs every test twice — an
# optimised build, and an AddressSanitizer + UBSan build — runs the concurrent tests under
# ThreadSanitizer, and fuzzes the parsers for a bounded time. Needs ../shared (the reference
# data) beside the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
bash cmake/install-deps.sh
jobs=$(nproc)
if [ ! -d ../shared/golden ]; then
  echo "error: ../shared (golden reference data) not found beside the repository" >&2
  exit 1
fi

echo "== optimised build and tests"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DDS_WARNINGS_AS_ERRORS=ON >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"

echo "== AddressSanitizer + UndefinedBehaviorSanitizer build and tests"
# Examples are on: the C ABI test, the sample apps and the server's end-to-end test run
# sanitized too. The ABI baseline and the packaging test check build outputs, not behaviour, so
# they run in the optimised build only.
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDS_SANITIZE="address;undefined" >/dev/null
cmake --build build-asan -j"$jobs"
ctest --test-dir build-asan --output-on-failure -j"$jobs" -E "c_api_abi_baseline|packaging_consumers"

echo "== ThreadSanitizer: sessions sharing KV pages on many threads, prefix caches, the thread pool, cancellation, the MoE operator's parallel regions"
cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDS_SANITIZE=thread -DDS_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build-tsan -j"$jobs" --target runtime_test backend_cpu_test core_test
export TSAN_OPTIONS=halt_on_error=1
build-tsan/tests/runtime_test -tc="kv cache*,prefix cache*,runtime: sessions sharing*,generation: cancelled*,chat: generators sharing*,generation: generators sharing a DecodeBatcher*"
build-tsan/tests/backend_cpu_test -tc="*many threads*,*reference counted*,SparseAttention matches*,IndexerScores*,MoeLayer routes*"
build-tsan/tests/core_test -tc="ThreadPool*,a thread slowed*,a pool whose threads*"
unset TSAN_OPTIONS

echo "== fuzzing the parsers of untrusted input (bounded): safetensors headers, tokenizer input, model output (DSML), saved sequences, images"
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDS_BUILD_FUZZERS=ON \
      -DDS_BUILD_TESTS=ON -DDS_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build-fuzz -j"$jobs" --target safetensors_fuzz tokenizer_fuzz dsml_fuzz sequence_file_fuzz image_fuzz
for target in safetensors tokenizer dsml sequence_file image; do
  corpus=$(mktemp -d)
  cp tests/fuzz/corpus/"$target"/* "$corpus"/
  echo "-- ${target}_fuzz"
  "$(find build-fuzz/tests -type f -name "${target}_fuzz")" -max_total_time="${DS_FUZZ_SECONDS:-40}" -print_final_stats=1 "$corpus" 2>&1 | tail -3
  rm -rf "$corpus"
done
echo "all tests passed"
