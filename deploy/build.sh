#!/bin/bash
# build.sh - install dependencies and build vmfabric into build/ (or $VMF_BUILD).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${VMF_BUILD:-$ROOT/build}
"$ROOT/deploy/install-deps.sh"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
make -C "$BUILD" -j"$(nproc)" --no-print-directory
