#!/usr/bin/env bash
# Installs the build and test dependencies from Debian 12 packages (run as root; a no-op when
# everything is present). Nothing else is downloaded at install or build time; only the
# server's end-to-end test fetches its pinned npm client (package-lock.json) into the build tree.
set -euo pipefail
packages=(build-essential cmake ninja-build pkg-config libeigen3-dev libhwy-dev libxxhash-dev
          doctest-dev nlohmann-json3-dev libutf8proc-dev libpng-dev libjpeg62-turbo-dev clang libclang-rt-14-dev libcpp-httplib-dev
          abigail-tools python3)
# deepseek-server's end-to-end test runs the npm `openai` client under node. Debian's npm
# conflicts with NodeSource's nodejs (which carries its own npm), so it comes only when missing.
command -v npm >/dev/null || packages+=(nodejs npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends -o Dpkg::Use-Pty=0 "${missing[@]}"
fi
