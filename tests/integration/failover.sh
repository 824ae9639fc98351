#!/bin/bash
# failover.sh - ports with two switches: kill -9 and SIGSTOP of the active one under ping and
# iperf3 move them to the other with no process restarted; failback after the hold-down; a switch
# that refuses the key is skipped; after a move the new switch knows the ports' MACs at once.
#
# Namespaces vfo-sw (switches A on 7900 and B on 7901: two independent processes, no trunk),
# vfo-h1, vfo-h2, vfo-h3 (guest hosts with a TAP each, over veth 10.91.N.0/24). Every NIC process
# gets --switch A,B --failback 3. A admits h1 and h2; B admits h1, h2 and h3.
TOPO_NS=vfo
TOPO_NET=91
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/topo.sh"
CTL=$VMF_BUILD/switch/vmfabric-ctl
PA=7900 PB=7901 PI=7902
H1IP=192.168.91.1 H2IP=192.168.91.2
M1=02:91:00:00:00:01 M2=02:91:00:00:00:02

command -v iperf3 >/dev/null || fail "iperf3 missing"

# sw NAME PORT AUTHDIR: a switch in vfo-sw with its own control endpoint ipc://$T/NAME.ctl
sw() {
	start "$1" ip netns exec "$SW_NS" "$SWITCH" -f --listen "tcp://0.0.0.0:$2" --key "$T/keys/switch_secret" \
		--authorized "$3" --control "ipc://$T/$1.ctl"
	wait_for 5 log_has "$1" "listening on" || fail "switch $1 did not start"
}
# nic HOST N KEY: NIC process in vfo-HOST with switches A then B
nic() { start_nic "$1" "$2" "$3" lab "$PA,tcp://10.$TOPO_NET.$2.1:$PB" --failback 3; }
# on NAME HOST...: switch NAME holds the ports HOST/tap0...
on() {
	local sw=$1 h; shift
	"$CTL" --control "ipc://$T/$sw.ctl" --json ports >"$T/ports.json" 2>/dev/null || return 1
	for h in "$@"; do
		json "'$h/tap0' in [p['name'] for p in d['ports']]" <"$T/ports.json" | grep -q True || return 1
	done
}
# at PORT HOST...: the last Welcome of each HOST's NIC process came from the switch on PORT (after a
# SIGCONT the switch still lists the ports it held before: its port list alone does not tell)
at() {
	local port=$1 h; shift
	for h in "$@"; do
		[ "$(grep -o 'joined network lab on tcp://[^ ]*' "$T/nic-$h.log" | tail -1 | sed 's/.*://')" = "$port" ] || return 1
	done
}
# macs NAME: the MACs of h1 and h2 in switch NAME's table, sorted, space-separated
macs() {
	"$CTL" --control "ipc://$T/$1.ctl" --json macs |
		json "' '.join(sorted(m['mac'] for m in d['macs'] if m['port'] != 'h3/tap0'))"
}
b_empty() { [ -z "$(macs B)" ]; }
b_both() { [ "$(macs B)" = "$M1 $M2" ]; }
srv_up() { ip netns exec vfo-h2 ss -Hltn "sport = :$PI" | grep -q .; }
counted() { grep -q 'counters:' "$T/nic-h1.log"; }
# moves HOST: how many times the NIC process of HOST logged a move
moves() { grep -c "moving" "$T/nic-$1.log"; }
# pinger: h1 pings h2 every 50 ms with timestamps into $T/ping.log; pinger_stop: SIGINT flushes its output
pinger() { start ping ip netns exec vfo-h1 ping -D -n -i 0.05 -W 1 "$H2IP"; PING=$LAST_PID; }
pinger_stop() { kill -INT $PING; wait $PING 2>/dev/null; }
# gap: the longest time (ms) between two consecutive replies in $T/ping.log
gap() { awk -F'[][]' '/bytes from/ { t = $2 * 1000; if (p && t - p > g) g = t - p; p = t } END { printf "%d", g }' "$T/ping.log"; }

keys h1 h2 h3
mkdir -p "$T/authA" && cp "$T/auth/h1" "$T/auth/h2" "$T/authA/"
sw_host
guest_host h1 1
guest_host h2 2
guest_host h3 3
sw A $PA "$T/authA"; A=$LAST_PID
sw B $PB "$T/auth"
nic h1 1 h1; N1=$NIC_PID
nic h2 2 h2; N2=$NIC_PID
tap_setup h1 1 $H1IP/24
tap_setup h2 2 $H2IP/24
# no ARP: a host that is not pinging sends nothing at all
ip -n vfo-h1 neigh replace $H2IP lladdr $M2 dev tap0 nud permanent
ip -n vfo-h2 neigh replace $H1IP lladdr $M1 dev tap0 nud permanent
wait_for 10 on A h1 h2 || fail "h1 and h2 did not join switch A (priority 1)"
pings h1 $H2IP 3 || fail "no ping over switch A"
pass "h1 and h2 on switch A, B idle"

# 1. a switch that refuses the key is skipped at once
nic h3 3 h3; N3=$NIC_PID
wait_for 10 on B h3 || fail "h3 (key not admitted by A) did not join B"
log_has nic-h3 "refused our key" || fail "h3 did not log A's refusal"
on A h3 && fail "A holds h3"
pass "h3, refused by A, joined B"

# 2. kill -9 A under ping and iperf3: both move to B, TCP survives, then fail back after 3 s
start iperf-s ip netns exec vfo-h2 iperf3 -s -1 -p $PI
wait_for 5 srv_up || fail "iperf3 server did not start"
ip netns exec vfo-h1 iperf3 -c $H2IP -p $PI -t 9 -b 20M >"$T/iperf.log" 2>&1 &
IPERF=$!
pinger
sleep 2
kill -KILL $A; wait $A 2>/dev/null
wait_for 5 on B h1 h2 || fail "h1 and h2 did not move to B after kill -9 of A"
log_has nic-h1 "switch tcp://10.$TOPO_NET.1.1:$PA .*moving to tcp://10.$TOPO_NET.1.1:$PB \(priority 2\)" ||
	fail "h1 did not log its move to B"
sleep 1
pinger_stop
KILLGAP=$(gap)
pinger
pass "kill -9 of A: h1 and h2 moved to B; ping gap ${KILLGAP} ms"
mv "$T/A.log" "$T/A-1.log"
sw A $PA "$T/authA"; A=$LAST_PID
wait_for 10 at $PA h1 h2 || fail "h1 and h2 did not move back to A after the hold-down"
on A h1 h2 || fail "A does not hold h1 and h2 after the failback"
log_has nic-h1 "up for [0-9]+ s: moving back to it" || fail "h1 did not log its failback"
on B h1 || on B h2 && fail "B still holds h1 or h2 after the failback (no Bye?)"
on B h3 || fail "h3 left B (A refuses its key)"
wait $IPERF || { cat "$T/iperf.log"; fail "iperf3 did not survive the failover and failback"; }
grep -q "receiver" "$T/iperf.log" || fail "iperf3 printed no summary"
kill -0 $N1 && kill -0 $N2 && kill -0 $N3 || fail "a NIC process died"
pass "A restarted: h1 and h2 back on A after the hold-down, iperf3 TCP connection survived ($(awk '/receiver/ {print $7, $8}' "$T/iperf.log"))"

# 3. SIGSTOP of A: moved within the liveness timeout, back after SIGCONT + hold-down
pinger_stop; pinger
sleep 1
kill -STOP $A
wait_for 5 at $PB h1 h2 || { kill -CONT $A; fail "h1 and h2 did not move to B after SIGSTOP of A"; }
on B h1 h2 || { kill -CONT $A; fail "B does not hold h1 and h2"; }
sleep 1
pinger_stop
STOPGAP=$(gap)
kill -CONT $A
log_has nic-h2 "switch tcp://10.$TOPO_NET.2.1:$PA stopped answering: moving to" || fail "h2 did not log A's silence"
wait_for 10 at $PA h1 h2 || fail "h1 and h2 did not move back to A after SIGCONT"
wait_for 5 on A h1 h2 || fail "A does not hold h1 and h2 after the failback"
pass "SIGSTOP of A: h1 and h2 moved to B (ping gap ${STOPGAP} ms), back on A after SIGCONT"

# 4. re-announce: the hosts are silent now; after a move B learns their MACs from the NICs alone
wait_for 5 b_empty || fail "B still has MACs of ports that left: $(macs B)"
kill -KILL $A; wait $A 2>/dev/null
wait_for 5 on B h1 h2 || fail "h1 and h2 did not move to B"
wait_for 2 b_both || fail "B's MAC table after the move: '$(macs B)', want $M1 $M2"
kill -USR1 $N1
wait_for 5 counted || fail "no counters from h1"
grep 'counters:' "$T/nic-h1.log" | tail -1 | grep -Eq "MACs announced [1-9]" || fail "h1 counted no announces"
pings h1 $H2IP 3 || fail "no ping over B"
kill -0 $N1 && kill -0 $N2 && kill -0 $N3 || fail "a NIC process died"
[ "$(moves h1)" -ge 5 ] || fail "h1 logged $(moves h1) moves, want at least 5"
pass "re-announce: B knew $M1 and $M2 right after the move, before the silent hosts sent anything"
log "measured: ping gap kill -9 ${KILLGAP} ms, SIGSTOP ${STOPGAP} ms (not asserted; see tests/bench/failover.sh)"
