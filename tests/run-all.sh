#!/bin/bash
# run-all.sh - every vmfabric test: installs what it needs, builds, runs unit,
# integration, gateway and QEMU end-to-end tests through ctest. Root, Debian 12.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export VMF_BUILD=${VMF_BUILD:-$ROOT/build}
"$ROOT/deploy/build.sh"
cd "$VMF_BUILD"
ctest --output-on-failure --timeout 600 "$@"
