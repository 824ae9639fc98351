#!/bin/bash
# run.sh BIN CORPUS SECONDS [libFuzzer flags] - replay a harness's corpus, then fuzz it for SECONDS.
# New inputs go to a temporary directory (the corpus in the tree is not modified); a crash
# leaves its input in $FUZZ_ARTIFACTS (default: a temporary directory, printed) and fails.
set -u
BIN=$1 CORPUS=$2 SECS=$3
shift 3
WORK=$(mktemp -d /tmp/vmf-fuzz.XXXXXX)
ART=${FUZZ_ARTIFACTS:-$WORK/artifacts}
mkdir -p "$ART" "$WORK/new"
trap 'rm -rf "$WORK/new"' EXIT
name=$(basename "$BIN")
# sanitizer reports abort; leaks are errors
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

"$BIN" -runs=0 -artifact_prefix="$ART/" "$@" "$CORPUS" >"$WORK/replay.log" 2>&1 ||
	{ tail -n 40 "$WORK/replay.log"; echo "$name: corpus replay FAILED"; exit 1; }
echo "$name: corpus replayed ($(ls "$CORPUS" | wc -l) inputs)"
if [ "$SECS" -gt 0 ]; then
	"$BIN" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$ART/" "$@" "$WORK/new" "$CORPUS" >"$WORK/fuzz.log" 2>&1
	rc=$?
	grep -E "^stat::(number_of_executed_units|new_units_added|peak_rss_mb)|cov: " "$WORK/fuzz.log" | tail -n 4
	if [ $rc -ne 0 ]; then
		tail -n 60 "$WORK/fuzz.log"
		echo "$name: FAILED after fuzzing; input(s) in $ART"
		exit 1
	fi
fi
rm -rf "$WORK"
echo "$name: ok"
