#!/usr/bin/env bash
# End-to-end test of deepseek-server with the official OpenAI client (npm `openai`, driven by
# node): makes a tiny checkpoint, starts the server on a free port, runs
# examples/server/test/openai_test.mjs against it, checks the server log, stops the server.
# The test expects the context of 2048 tokens and the body limit set here.
#   run-openai-test.sh SERVER_BIN MAKE_TINY_BIN NODE_DIR
# NODE_DIR (in the build tree) keeps node_modules; `npm ci` runs again only when the lock file
# changes, so repeated runs download nothing.
set -euo pipefail
server_bin=$1
make_tiny_bin=$2
node_dir=$3
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

"$make_tiny_bin" --out "$work/tiny-flash" >/dev/null
log="$work/server.log"
url=
# Starts the server (its log appended to $log) and waits until it answers; sets url.
start_server() {
  "$server_bin" --model "$work/tiny-flash" --port 0 --parallel 2 --threads 1 --ctx 2048 \
    --max-body "$max_body" --kv-dir "$work/kv" 2>>"$log" &
  server_pid=$!
  # The server prints its port once it listens (--port 0 picks a free one).
  local port=
  for _ in $(seq 1 600); do
    port=$(sed -n 's|.*listening on http://[^:]*:\([0-9]*\).*|\1|p' "$log" | tail -1)
    [ -n "$port" ] && [ "$port" != "$1" ] && break
    port=
    kill -0 "$server_pid" 2>/dev/null || { echo "the server exited:"; cat "$log"; exit 1; }
    sleep 0.1
  done
  [ -n "$port" ] || { echo "the server did not start:"; cat "$log"; exit 1; }
  url="http://127.0.0.1:$port"
  for _ in $(seq 1 100); do
    node -e "fetch('$url/health').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))" && break
    sleep 0.1
  done
}

start_server ""
status=0
DS_SERVER_URL="$url" DS_MODEL_ID=tiny-flash DS_MAX_BODY="$max_body" node "$node_dir/openai_test.mjs" || status=1

# The hung-up stream's generation must have been cancelled, not run to its 100000 tokens.
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
kill "$server_pid"
wait "$server_pid" 2>/dev/null || true
old_port=${url##*:}
start_server "$old_port"
DS_PHASE=restarted DS_SERVER_URL="$url" DS_MODEL_ID=tiny-flash DS_MAX_BODY="$max_body" \
  node "$node_dir/openai_test.mjs" || status=1
echo "--- server log"
cat "$log"
exit "$status"
