#!/usr/bin/env bash
# Quick start, command 1: installs what is needed, builds the demo and runs it on the embedded
# tiny checkpoint (generated on first use; no download).
set -euo pipefail
cd "$(dirname "$0")/.."
bash cmake/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DDS_BUILD_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" --target deepseek-demo
./build/examples/deepseek-demo "$@"
