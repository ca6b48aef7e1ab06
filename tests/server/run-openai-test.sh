#!/usr/bin/env bash
# End-to-end test of deepseek-server with the official OpenAI client (npm `openai`, driven by
# node): makes a tiny V4 checkpoint, starts the server on a free port, runs
# examples/server/test/openai_test.mjs against it, checks the server log, restarts the server on
# the same --kv-dir for the phase that needs the cached prefixes; then makes a V4.1 checkpoint
# with a vision tower (v41-tiny) and runs the image phase against a server on that.
# The test expects the context of 2048 tokens and the body limit set here.
#   run-openai-test.sh SERVER_BIN MAKE_TINY_BIN NODE_DIR IMAGE_PNG
# NODE_DIR (in the build tree) keeps node_modules; `npm ci` runs again only when the lock file
# changes, so repeated runs download nothing. IMAGE_PNG is the picture the image requests send.
set -euo pipefail
server_bin=$1
make_tiny_bin=$2
node_dir=$3
image_png=$4
here=$(cd "$(dirname "$0")" && pwd)
client_dir="$here/../../examples/server/test"
max_body=65536

mkdir -p "$node_dir"
if ! cmp -s "$client_dir/package-lock.json" "$node_dir/package-lock.json" || [ ! -d "$node_dir/node_modules" ]; then
  cp "$client_dir/package.json" "$client_dir/package-lock.json" "$node_dir/"
  (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error)
fi
# ES modules resolve packages beside the script, so it runs from the install folder.
cp "$client_dir/openai_test.mjs" "$node_dir/"

work=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

stop_server() {
  kill "$server_pid"
  wait "$server_pid" 2>/dev/null || true
  server_pid=
}

url=
# Starts the server on MODEL_DIR with its log in LOG, a file of its own, and waits until it
# answers; sets url and server_pid. The server prints its port once it listens (--port 0 picks
# a free one, so concurrent tests never collide).
start_server() {
  local model_dir=$1 log=$2
  # The log exists before the server starts: the background shell opens it only when it gets to
  # run, and sed on a missing file would end this script (set -e), as it did under load.
  : >"$log"
  "$server_bin" --model "$model_dir" --port 0 --parallel 2 --threads 1 --ctx 2048 \
    --max-body "$max_body" --kv-dir "$work/kv-$(basename "$model_dir")" 2>"$log" &
  server_pid=$!
  local port=
  for _ in $(seq 1 600); do
    port=$(sed -n 's|.*listening on http://[^:]*:\([0-9]*\).*|\1|p' "$log")
    [ -n "$port" ] && break
    kill -0 "$server_pid" 2>/dev/null || { echo "the server exited:"; cat "$log"; exit 1; }
    sleep 0.1
  done
  [ -n "$port" ] || { echo "the server did not start:"; cat "$log"; exit 1; }
  url="http://127.0.0.1:$port"
  for _ in $(seq 1 100); do
    node -e "fetch('$url/health').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))" && return
    sleep 0.1
  done
  echo "the server does not answer /health:"; cat "$log"; exit 1
}

run_client() {  # PHASE MODEL_DIR
  DS_PHASE=$1 DS_SERVER_URL="$url" DS_MODEL_ID=$(basename "$2") DS_MODEL_DIR="$2" DS_MAX_BODY="$max_body" \
    DS_IMAGE_PNG="$image_png" node "$node_dir/openai_test.mjs"
}

"$make_tiny_bin" --out "$work/tiny-flash" >/dev/null
"$make_tiny_bin" --out "$work/v41-tiny" --preset v41-tiny >/dev/null
status=0

log="$work/server.log"
start_server "$work/tiny-flash" "$log"
run_client main "$work/tiny-flash" || status=1

# The hung-up stream's generation must have been cancelled, not run to the end of its context.
cancelled=0
for _ in $(seq 1 50); do
  grep -q 'cancelled (client gone)' "$log" && { cancelled=1; break; }
  sleep 0.1
done
if [ "$cancelled" = 1 ]; then
  echo "ok   the server log shows the hung-up stream cancelled"
else
  echo "FAIL the server log shows no cancelled generation"
  status=1
fi

# Stopped and started again with the same --kv-dir, the server still has the shared prefix.
stop_server
start_server "$work/tiny-flash" "$work/restarted.log"
run_client restarted "$work/tiny-flash" || status=1
stop_server

# Images: chats with image_url parts on a model with a vision tower.
start_server "$work/v41-tiny" "$work/vision.log"
run_client vision "$work/v41-tiny" || status=1
stop_server

for name in server restarted vision; do
  echo "--- $name log"
  cat "$work/$name.log"
done
exit "$status"
