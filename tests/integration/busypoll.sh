#!/bin/bash
# busypoll.sh - --busy-poll on the switch and a NIC: an idle-priority poller thread that spins while
# frames flow (one poller at a time per machine) and sleeps (no CPU) once they stop; forwarding is
# unchanged; bad values are refused
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/topo.sh"
PORT=7723
WIN=20000	# us

# the pollers' lock file: removed at the end if this test made it (nothing else uses it then)
[ -e /run/vmfabric/busypoll.lock ] || trap 'cleanup; rm -f /run/vmfabric/busypoll.lock' EXIT

keys h1 h2
sw_host
guest_host h1 1
guest_host h2 2
start_switch switch $PORT --busy-poll $WIN
start_nic h1 1 h1 lab $PORT --busy-poll $WIN; H1=$NIC_PID
start_nic h2 2 h2 lab $PORT; H2=$NIC_PID
tap_setup h1 1 192.168.77.1/24
tap_setup h2 2 192.168.77.2/24
wait_for 10 joined nic-h1 || fail "h1 did not join"
wait_for 10 joined nic-h2 || fail "h2 did not join"
log_has switch "busy polling: .* $WIN us after each frame" || fail "switch does not announce --busy-poll"
log_has nic-h1 "busy polling: .* $WIN us after each frame" || fail "nic h1 does not announce --busy-poll"

# poller TID [PID]: the vmf-busypoll thread of PID, or nothing
poller() { grep -lx vmf-busypoll /proc/"$1"/task/*/comm 2>/dev/null | sed -n 's|.*/task/\([0-9]*\)/comm|\1|p'; }
# ticks PID TID: CPU clock ticks (user + system) the thread has used
ticks() { awk '{ print $14 + $15 }' "/proc/$1/task/$2/stat"; }
SWP=$(poller "$SW_PID"); N1P=$(poller "$H1")
[ -n "$SWP" ] || fail "no vmf-busypoll thread in the switch"
[ -n "$N1P" ] || fail "no vmf-busypoll thread in nic h1"
[ -z "$(poller "$H2")" ] || fail "nic h2 runs a poller without --busy-poll"
for t in "$SW_PID:$SWP" "$H1:$N1P"; do
	chrt -p "${t#*:}" | grep -q "SCHED_IDLE" || { chrt -p "${t#*:}"; fail "poller ${t#*:} is not SCHED_IDLE"; }
done
pass "switch and nic h1 run one SCHED_IDLE poller thread each; nic h2 (no option) runs none"

# frames keep a CPU awake: 1000 pings 2 ms apart. Two pollers on one machine take turns (an flock
# on /run/vmfabric/busypoll.lock), so together they keep about one CPU busy, not two.
HZ=$(getconf CLK_TCK)
s0=$(ticks "$SW_PID" "$SWP"); n0=$(ticks "$H1" "$N1P"); t0=$(date +%s%N)
ip netns exec vfi-h1 ping -q -n -c 1000 -i 0.002 -W 1 192.168.77.2 >"$T/ping.out" 2>&1 || { cat "$T/ping.out"; fail "fast pings h1 -> h2"; }
grep -q " 0% packet loss" "$T/ping.out" || { cat "$T/ping.out"; fail "fast pings lost packets with --busy-poll"; }
s1=$(ticks "$SW_PID" "$SWP"); n1=$(ticks "$H1" "$N1P"); t1=$(date +%s%N)
spun=$((s1 - s0 + n1 - n0)) wall=$(( (t1 - t0) * HZ / 1000000000 ))
[ "$spun" -ge $((wall / 2)) ] || fail "the pollers used $spun ticks in $wall ticks of pings (expected a CPU kept awake)"
[ "$spun" -le $((wall * 3 / 2)) ] || fail "the pollers used $spun ticks in $wall ticks of pings: both spun at once"
[ -e /run/vmfabric/busypoll.lock ] || fail "no /run/vmfabric/busypoll.lock"
pass "1000 pings 2 ms apart, 0% loss; the pollers spun $((s1 - s0)) + $((n1 - n0)) ticks in $wall: one CPU, not two"

# no frames, no CPU: keepalives (every second) do not wake the pollers
sleep 0.5
s0=$(ticks "$SW_PID" "$SWP"); n0=$(ticks "$H1" "$N1P")
sleep 3
s1=$(ticks "$SW_PID" "$SWP"); n1=$(ticks "$H1" "$N1P")
# a poller that kept spinning would use 3 * HZ ticks; a stray frame may cost one window (2 ticks)
[ $((s1 - s0)) -le $((3 * HZ / 10)) ] || fail "switch poller used $((s1 - s0)) ticks in 3 idle seconds"
[ $((n1 - n0)) -le $((3 * HZ / 10)) ] || fail "nic h1 poller used $((n1 - n0)) ticks in 3 idle seconds"
pass "idle for 3 s (keepalives only): pollers used $((s1 - s0)) and $((n1 - n0)) of $((3 * HZ)) ticks"

# a lone frame after the idle spell still gets through (the poller wakes, the path does not wait for it)
pings h1 192.168.77.2 3 || fail "ping after idle"
stop "$SW_PID"
wait_for 5 log_has switch "shutting down" || fail "switch did not stop cleanly with a poller running"
pass "switch stops cleanly with its poller"

for bad in -1 1000001 fast; do
	"$SWITCH" -f --listen tcp://127.0.0.1:$PORT --insecure --busy-poll "$bad" >"$T/bad.out" 2>&1
	rc=$?
	[ "$rc" = 64 ] && grep -q -- "--busy-poll" "$T/bad.out" || { cat "$T/bad.out"; fail "switch --busy-poll $bad: rc $rc"; }
	"$NIC" -f --switch tcp://127.0.0.1:$PORT --insecure --tap tap9 --busy-poll "$bad" >"$T/bad.out" 2>&1
	rc=$?
	[ "$rc" = 64 ] && grep -q -- "--busy-poll" "$T/bad.out" || { cat "$T/bad.out"; fail "nic --busy-poll $bad: rc $rc"; }
done
pass "--busy-poll -1, 1000001 and 'fast' are refused with exit 64 by switch and NIC"
