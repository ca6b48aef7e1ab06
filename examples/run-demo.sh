#!/usr/bin/env bash
# Quick start, command 1: installs what is needed, builds the demo and runs it on the embedded
# tiny checkpoint (generated on first use; no download), then one chat turn on the same checkpoint,
# then the demo on a tiny V4.1 checkpoint with a vision tower, describing a picture drawn in code.
set -euo pipefail
cd "$(dirname "$0")/.."
bash cmake/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DDS_BUILD_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" --target deepseek-demo deepseek-chat
./build/examples/deepseek-demo "$@"
if [ $# -eq 0 ]; then
  # The same checkpoint through the text pipeline: tokenizer, V4 chat format, sampling and
  # streaming. Its weights are random, so the words are noise; the timings are real.
  echo "== deepseek-chat, one shot, Expert mode"
  ./build/examples/deepseek-chat --model out/tiny-flash --mode expert --seed 1 --max-tokens 40 -p "What is 2 + 2?"
  # V4.1 (Engram, CSA2, a vision tower; out/tiny-v41): an image span in a chat prompt.
  echo "== deepseek-demo --preset v41-tiny: \"Describe this image.\" with an embedded picture"
  ./build/examples/deepseek-demo --preset v41-tiny
fi
