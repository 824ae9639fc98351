#!/bin/bash
# mac-flood.sh - 100 000 frames with random source MACs from one port: the MAC table stays at its
# bound, known hosts keep working, and learning works again once the flood's entries age out
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/ftopo.sh"
PORT=7782
COUNT=${COUNT:-100000}
MAX=1024
AGE=6

keys h1 h2 h3 h4
sw_host
for i in 1 2 3 4; do guest_host h$i $i; done
# one port floods the whole table: no per-port limit here (tests/integration/policy.sh covers that)
start_switch switch $PORT --max-macs $MAX --mac-age $AGE --port-macs 0
for i in 1 2 3; do start_nic h$i $i h$i lab $PORT; done
for i in 1 2 3; do tap_setup h$i $i 192.168.78.$i/24; done
for i in 1 2 3; do wait_for 10 joined nic-h$i || fail "h$i did not join"; done
pings h1 192.168.78.2 2 || fail "ping h1 -> h2"
pings h3 192.168.78.1 2 || fail "ping h3 -> h1"

macs() { "$CTL" --control "ipc://$T/switch.ctl" --json networks | json 'd["networks"][0]["macs"]'; }
has_mac() { "$CTL" --control "ipc://$T/switch.ctl" --json macs | json "int(any(m['mac'] == '$1' for m in d['macs']))"; }

start pinger ip netns exec vfh-h1 ping -n -i 0.05 -W 1 192.168.78.2
PINGER=$LAST_PID
sw_stats
RX0=$(port_field h3/tap0 rx_frames)
peak=0
C0=$(cpu_ticks "$SW_PID")
T0=$(date +%s%N)
# until the switch has counted COUNT frames from h3 (a busy host drops some on the TAP queue)
RX=0 ROUND=0
while [ "$RX" -lt "$COUNT" ] && [ $ROUND -lt 5 ]; do
	ROUND=$((ROUND + 1))
	start flood ip netns exec vfh-h3 env SEED=$ROUND python3 "$(dirname "$0")/macflood.py" tap0 $((COUNT - RX))
	FLOOD=$LAST_PID
	while kill -0 "$FLOOD" 2>/dev/null; do
		m=$(macs); [ "$m" -gt "$peak" ] && peak=$m
		sleep 0.3
	done
	wait "$FLOOD" || fail "flood sender failed: $(cat "$T/flood.log")"
	log "round $ROUND: $(cat "$T/flood.log")"
	sleep 0.3
	sw_stats
	RX=$(( $(port_field h3/tap0 rx_frames) - RX0 ))
done
SECS=$(( ($(date +%s%N) - T0) / 1000000 ))
sleep 0.5
CPU=$(( $(cpu_ticks "$SW_PID") - C0 ))
m=$(macs); [ "$m" -gt "$peak" ] && peak=$m
sw_stats
FULL=$(port_field h3/tap0 fdb_full)
stop "$PINGER"
[ "$RX" -ge "$COUNT" ] || fail "switch counted only $RX frames from h3"
[ "$peak" -le "$MAX" ] || fail "MAC table above its bound: $peak > $MAX"
[ "$m" = "$MAX" ] || fail "MAC table not at its bound after the flood: $m"
[ "$FULL" -ge $((COUNT - MAX)) ] || fail "fdb_full $FULL, expected >= $((COUNT - MAX))"
[ "$(has_mac 02:98:00:00:00:01)" = 1 ] && [ "$(has_mac 02:98:00:00:00:02)" = 1 ] ||
	fail "h1 or h2 lost its MAC entry during the flood"
TAPDROP=$(ip -n vfh-h3 -s link show tap0 | awk '/TX:/ { getline; print $4 }')
pass "flood: $RX frames with random sources reached the switch in $SECS ms, $ROUND round(s), $TAPDROP dropped on h3's TAP queue (switch CPU $((CPU * 10)) ms); table peaked at $peak = bound $MAX, fdb_full $FULL; h1 and h2 kept their entries"

# the pings that ran through the flood
sleep 0.3
ANS=$(grep -c "icmp_seq=" "$T/pinger.log")
LOST=$(awk -F'icmp_seq=' '/icmp_seq=/ { split($2, a, " "); s[a[1]] = 1; if (a[1] > m) m = a[1] } END { n = 0; for (i = 1; i <= m; i++) if (!(i in s)) n++; print n }' "$T/pinger.log")
[ "$LOST" -le 2 ] || fail "$LOST of $ANS pings h1 -> h2 lost during the flood"
pass "h1 -> h2 pings during the flood: $ANS answered, $LOST lost"

# a host that joins while the table is full still talks (its replies are flooded) ...
start_nic h4 4 h4 lab $PORT
tap_setup h4 4 192.168.78.4/24
wait_for 10 joined nic-h4 || fail "h4 did not join"
pings h4 192.168.78.1 3 || fail "h4 cannot reach h1 while the table is full"
# ... and is learnt once the flood's entries have aged out
aged() { [ "$(macs)" -lt 16 ]; }
wait_for $((AGE + 6)) aged || fail "flood entries did not age out: $(macs) MACs"
pings h4 192.168.78.1 2 || fail "ping h4 -> h1 after aging"
[ "$(has_mac 02:98:00:00:00:04)" = 1 ] || fail "h4's MAC not learnt after the flood aged out"
pass "mac-flood: h4 joined during the full table and talked; after ${AGE} s aging the table holds $(macs) MACs and h4 is learnt"
