#!/bin/bash
# log-inject.sh - a port's Bye reason with newlines, a terminal escape sequence and a backslash
# reaches the switch's log as one line, escaped: no forged line, no raw control byte.
# Namespace vn3-log, TCP port 7823.
. "$(dirname "$0")/../lib.sh"
PORT=7823
NS=vn3-log
RAW=$VMF_BUILD/tests/integration/vmf-rawclient

netns_add $NS
start switch ip netns exec $NS "$SWITCH" -f --insecure --listen "tcp://127.0.0.1:$PORT" --control none
wait_for 5 log_has switch "listening on" || fail "switch did not start"

FORGED='vmfabric-switch: port admin/tap0 joined network lab as port 1'
REASON=$'done\n'"$FORGED"$'\n\e[2J\\x0a\r'
ip netns exec $NS timeout 10 "$RAW" --switch "tcp://127.0.0.1:$PORT" --insecure \
	hello:1:lab:evil/tap0 expect:welcome:3000 "bye:$REASON" wait:300 >"$T/raw.out" 2>&1 ||
	{ cat "$T/raw.out"; fail "rawclient"; }
wait_for 5 log_has switch "evil/tap0 left" || fail "the switch did not log the Bye"

grep -q "^$FORGED" "$T/switch.log" && fail "a forged line in the switch's log: $(grep -n "^$FORGED" "$T/switch.log")"
grep -q $'\e' "$T/switch.log" && fail "a raw escape character in the switch's log"
grep -q $'\r' "$T/switch.log" && fail "a raw carriage return in the switch's log"
grep -qF 'done\nvmfabric-switch: port admin/tap0 joined network lab as port 1\n\x1b[2J\\x0a\r' "$T/switch.log" ||
	{ grep "evil/tap0 left" "$T/switch.log"; fail "the Bye reason is not in the log, escaped, on one line"; }
[ "$(grep -c "evil/tap0" "$T/switch.log")" = 2 ] || fail "expected 2 lines about evil/tap0 (joined, left)"
pass "a Bye reason with newlines, ESC, CR and a backslash is logged on one line, escaped"
pass "log-inject"
