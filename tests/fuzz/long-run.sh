#!/bin/bash
# long-run.sh [MINUTES] [--update-corpus] - fuzz every harness for MINUTES (default 5) each, one after
# the other, in build-fuzz (clang, ASan+UBSan, libFuzzer; built here if missing). Prints one line per
# harness: executions, exec/s, coverage (edges), features, corpus size, crashes. Inputs that find new
# coverage are merged into a work corpus; with --update-corpus, minimised into corpus/NAME in the tree.
# A crash stops that harness and leaves its input in $OUT/NAME/ (the line says so).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MIN=${1:-5}
UPDATE=0
[ "${2:-}" = --update-corpus ] && UPDATE=1
B=${VMF_FUZZ_BUILD:-$ROOT/build-fuzz}
OUT=${OUT:-/tmp/vmf-fuzz-long}
if [ ! -x "$B/tests/fuzz/fuzz_envelope" ]; then
	CC=clang cmake -S "$ROOT" -B "$B" -DCMAKE_BUILD_TYPE=Asan -DVMF_LIBFUZZER=ON >/dev/null || exit 1
fi
make -C "$B" -j"$(nproc)" --no-print-directory >/dev/null || exit 1
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
mkdir -p "$OUT"
printf "%-10s %8s %12s %8s %6s %6s %7s %s\n" harness minutes execs exec/s cov ft corpus crashes
fail=0
for h in envelope stream dgram conf cert capture dhcp; do
	bin=$B/tests/fuzz/fuzz_$h
	[ -x "$bin" ] || continue
	flags=()
	case $h in conf|capture) flags=(-close_fd_mask=2) ;; esac
	w=$OUT/$h
	rm -rf "$w"
	mkdir -p "$w/corpus" "$w/art"
	"$bin" -max_total_time=$((MIN * 60)) -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
		-print_final_stats=1 -artifact_prefix="$w/art/" "${flags[@]}" \
		"$w/corpus" "$ROOT/tests/fuzz/corpus/$h" >"$w/log" 2>&1
	rc=$?
	execs=$(awk '/^stat::number_of_executed_units/ { print $2 }' "$w/log")
	rate=$(awk '/^stat::average_exec_per_sec/ { print $2 }' "$w/log")
	last=$(grep -E "^#[0-9]+" "$w/log" | grep -E " cov: " | tail -n 1)
	cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
	ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
	corp=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<<"$last")
	crashes=$(ls "$w/art" | wc -l)
	[ $rc -ne 0 ] && fail=1
	printf "%-10s %8s %12s %8s %6s %6s %7s %s\n" "$h" "$MIN" "${execs:-?}" "${rate:-?}" "${cov:-?}" \
		"${ft:-?}" "${corp:-?}" "$crashes$([ $rc -ne 0 ] && echo " (exit $rc, see $w/art and $w/log)")"
	if [ $UPDATE = 1 ] && [ $rc = 0 ]; then
		mkdir -p "$w/min"
		"$bin" -merge=1 "${flags[@]}" "$w/min" "$ROOT/tests/fuzz/corpus/$h" "$w/corpus" >/dev/null 2>&1 &&
			cp -n "$w/min"/* "$ROOT/tests/fuzz/corpus/$h/" 2>/dev/null
	fi
done
exit $fail
