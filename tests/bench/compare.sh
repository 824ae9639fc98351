#!/bin/bash
# compare.sh - kept for its old command line: tests/bench/compare.sh [seconds] [run.sh options]
# runs the full suite, tests/bench/run.sh (see there).
exec bash "$(dirname "$0")/run.sh" --seconds "${1:-5}" "${@:2}"
