#!/bin/bash
# unadmitted.sh - 10 000 CURVE connection attempts with keys the switch never admitted, during
# traffic: every one is refused by ZAP, and no admitted port notices (no rejoin, no lost ping,
# throughput kept)
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/ftopo.sh"
PORT=7783
IPORT=7788
COUNT=${COUNT:-10000}
KNOCK=$VMF_BUILD/tests/faults/vmf-knock
[ -x "$KNOCK" ] || fail "build first: $KNOCK missing"

pair_up $PORT
guest_host x 3
pings h1 192.168.78.2 2 || fail "ping before the test"
iperf_server h2 $IPORT
BASE=$(iperf_mbps h1 192.168.78.2 $IPORT 3 -b 500M)
pass "baseline h1 -> h2 (paced at 500 Mbit/s): $BASE Mbit/s"

start pinger ip netns exec vfh-h1 ping -n -i 0.1 -W 1 192.168.78.2
PINGER=$LAST_PID
start knock ip netns exec vfh-x "$KNOCK" --switch "tcp://10.98.3.1:$PORT" --server-key "$T/keys/switch" \
	--count "$COUNT" --parallel 64
KN=$LAST_PID
sleep 1
DURING=$(iperf_mbps h1 192.168.78.2 $IPORT 3 -b 500M)
wait "$KN"; KRC=$?
stop "$PINGER"
log "$(cat "$T/knock.log")"
[ $KRC = 0 ] || fail "not every unadmitted attempt was refused: $(cat "$T/knock.log")"
sw_stats
DENIED=$(sj 'd["switch"]["zap_denied"]')
[ "$DENIED" -ge "$COUNT" ] || fail "switch counted $DENIED ZAP denials, expected $COUNT"
[ "$(sj 'd["networks"][0]["ports"]')" = 2 ] || fail "lab does not hold exactly its 2 ports"
for h in h1 h2; do
	[ "$(grep -c "joined network" "$T/nic-$h.log")" = 1 ] || fail "$h had to rejoin"
	log_has "nic-$h" "switch lost|expired|reconnect" && fail "$h noticed: $(grep -E "switch lost|expired|reconnect" "$T/nic-$h.log" | head -n 2)"
done
kill -0 "$H1" && kill -0 "$H2" || fail "a NIC process died"
ANS=$(grep -c "icmp_seq=" "$T/pinger.log")
LOST=$(awk -F'icmp_seq=' '/icmp_seq=/ { split($2, a, " "); s[a[1]] = 1; if (a[1] > m) m = a[1] } END { n = 0; for (i = 1; i <= m; i++) if (!(i in s)) n++; print n }' "$T/pinger.log")
[ "$LOST" = 0 ] || fail "$LOST pings lost during the attempts"
[ $((DURING * 100)) -ge $((BASE * 80)) ] || fail "h1 -> h2 fell to $DURING of $BASE Mbit/s during the attempts"
pass "unadmitted: $COUNT attempts with unknown keys, all refused (switch zap_denied $DENIED); admitted ports: no rejoin, $ANS pings 0 lost, h1 -> h2 $DURING of $BASE Mbit/s"
