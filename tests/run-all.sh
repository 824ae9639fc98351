#!/bin/bash
# run-all.sh - every vmfabric test: installs what it needs, builds, runs unit,
# integration, gateway and QEMU end-to-end tests through ctest. Root, Debian 12.
# Then (unless ctest arguments were given, or VMF_NO_ASAN=1) the sanitizer pass:
# build-asan (clang, ASan + UBSan, libFuzzer) runs the unit and integration tests
# and the fuzz harnesses (corpus replay + a few seconds each); any sanitizer report
# from any process fails the run.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export VMF_BUILD=${VMF_BUILD:-$ROOT/build}
# clang + compiler-rt for the sanitizer pass, valgrind for tests/faults/valgrind.sh
export EXTRA_PKGS="${EXTRA_PKGS:-} clang libclang-rt-14-dev valgrind"
"$ROOT/deploy/build.sh"
cd "$VMF_BUILD"
ctest --output-on-failure --timeout 600 "$@"
[ $# -eq 0 ] && [ "${VMF_NO_ASAN:-0}" != 1 ] || exit 0

ASAN_BUILD=${VMF_ASAN_BUILD:-$ROOT/build-asan}
echo "run-all: sanitizer pass in $ASAN_BUILD (ASan + UBSan: unit, integration, fuzz)"
CC=clang cmake -S "$ROOT" -B "$ASAN_BUILD" -DCMAKE_BUILD_TYPE=Asan -DVMF_LIBFUZZER=ON \
	-DVMF_FUZZ_SECONDS=4 >/dev/null
make -C "$ASAN_BUILD" -j"$(nproc)" --no-print-directory >/dev/null
LOGS=$(mktemp -d /tmp/vmf-asan.XXXXXX)
cd "$ASAN_BUILD"
ASAN_OPTIONS=log_path=$LOGS/asan:detect_leaks=1 \
UBSAN_OPTIONS=log_path=$LOGS/ubsan:print_stacktrace=1:halt_on_error=1 \
	ctest --output-on-failure --timeout 600 -R '^(unit_|integration_|fuzz_)'
if [ -n "$(ls -A "$LOGS")" ]; then
	for f in "$LOGS"/*; do echo "--- $f"; head -n 60 "$f"; done
	echo "run-all: sanitizer reports above (kept in $LOGS)"
	exit 1
fi
rm -rf "$LOGS"
echo "run-all: sanitizer pass clean"
