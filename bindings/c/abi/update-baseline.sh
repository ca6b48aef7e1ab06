#!/usr/bin/env bash
# Regenerates bindings/c/abi/deepseek_c.abi, the ABI baseline that the c_api_abi_baseline test
# compares every build with (abidiff). Run it deliberately, and commit the result with the
# change that needs it:
#   - after additions (new functions, enum values, trailing struct fields), with
#     DS_ABI_VERSION_MINOR raised in bindings/c/include/deepseek.h;
#   - after an incompatible change, only together with a DS_ABI_VERSION_MAJOR bump (which
#     renames the library to the next SOVERSION).
# usage: bindings/c/abi/update-baseline.sh [BUILD_DIR]   (default: build)
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
build=${1:-$root/build}
cmake --build "$build" --target deepseek_c
# The link the build just updated, not any libdeepseek_c.so.*.* (an older minor version's
# file stays in the build folder after a bump).
library=$(readlink -e "$build/bindings/c/libdeepseek_c.so" || true)
[ -n "$library" ] || { echo "no libdeepseek_c.so in $build/bindings/c" >&2; exit 1; }
# --headers-dir keeps only the types the public header declares; the path is not recorded,
# so the baseline does not depend on where the build ran.
abidw --headers-dir "$root/bindings/c/include" --drop-private-types --exported-interfaces-only --no-show-locs \
      --no-corpus-path --no-comp-dir-path \
      --out-file "$root/bindings/c/abi/deepseek_c.abi" "$library"
echo "wrote bindings/c/abi/deepseek_c.abi from $library"
