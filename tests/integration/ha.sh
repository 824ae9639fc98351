#!/bin/bash
# ha.sh - an HA pair without split brain: switch B is a child of A, every port lists A then B.
# While A lives, a port that reaches only B still reaches everyone through B's trunk; when A is
# killed, B becomes the root and the ports move to it (no process restarted, iperf3 survives);
# when A returns, B rejoins it as a child and the ports fail back after the hold-down; a stopped
# (SIGSTOP) A is left within the ports' liveness timeout. Prints the measured ping gaps.
. "$(dirname "$0")/../lib.sh"
TOPO_NS=vha TOPO_NET=94
. "$(dirname "$0")/topo.sh"
PORT=7895
CTL=$VMF_BUILD/switch/vmfabric-ctl

keys h1 h2 h3 b
sed -i 's/^metadata$/metadata\n    trunk = "yes"/' "$T/auth/b"
sw_host
guest_host h1 1
guest_host h2 2
guest_host h3 3

# swA / swB: the pair, in the switch host; B is A's child
swA() {
	start A ip netns exec "$SW_NS" "$SWITCH" -f --listen "tcp://0.0.0.0:$PORT" --switch-id A \
		--key "$T/keys/switch_secret" --authorized "$T/auth" --control "ipc://$T/A.ctl" --keepalive 400
	A=$LAST_PID
}
swA
start B ip netns exec "$SW_NS" "$SWITCH" -f --listen "tcp://0.0.0.0:$((PORT + 1))" --switch-id B \
	--key "$T/keys/switch_secret" --authorized "$T/auth" --control "ipc://$T/B.ctl" --keepalive 400 \
	--uplink "tcp://127.0.0.1:$PORT" --uplink-server-key "$T/keys/switch" --uplink-key "$T/keys/b_secret" \
	--uplink-failback on
B=$LAST_PID
wait_for 10 log_has B "joined parent switch A" || fail "B did not join A"
# h1, h2 list A then B (hold-down 3 s); h3 reaches only B
for i in 1 2; do
	start_nic h$i $i h$i lab "$PORT,tcp://10.94.$i.1:$((PORT + 1))" --failback 3
	eval "N$i=\$NIC_PID"
done
start_nic h3 3 h3 lab $((PORT + 1))
for i in 1 2 3; do tap_setup h$i $i 192.168.75.$i/24; done
for i in 1 2 3; do wait_for 10 joined nic-h$i || fail "h$i did not join"; done
on_switch() { grep -E "joined network lab on" "$T/nic-$1.log" | tail -1 | grep -q ":$2 "; }
on_switch h1 $PORT && on_switch h2 $PORT || fail "h1, h2 are not on A first"
pings h1 192.168.75.2 3 || fail "h1 -> h2 on A"
pings h3 192.168.75.1 3 || fail "h3 (only B) -> h1 (on A) through B's trunk"
pass "A root, B its child; h1, h2 on A; h3 reaches only B and talks to h1 through B's trunk"

# gap LOG: the longest run of lost pings in a ping -i 0.05 log, in ms
gap() {
	awk -F'icmp_seq=' '/icmp_seq=/ { split($2, a, " "); s[a[1]] = 1; if (a[1] > m) m = a[1] }
		END { g = 0; r = 0; for (i = 1; i <= m; i++) { if (i in s) r = 0; else if (++r > g) g = r }; print g * 50 }' "$1"
}

# kill -9 A under iperf3: the ports move to B, B becomes the root
ip netns exec vha-h2 iperf3 -s -1 -B 192.168.75.2 -p 7898 -D
sleep 0.3
start iperf ip netns exec vha-h1 iperf3 -c 192.168.75.2 -p 7898 -t 8 -b 200M
IPERF=$LAST_PID
start pinger ip netns exec vha-h1 ping -n -i 0.05 -W 1 192.168.75.2
PINGER=$LAST_PID
sleep 1.5
kill -9 "$A"; wait "$A" 2>/dev/null
moved() { on_switch h1 $((PORT + 1)) && on_switch h2 $((PORT + 1)); }
wait_for 5 moved || fail "h1, h2 did not move to B"
wait_for 5 log_has B "lost the parent switch" || fail "B did not become a root"
sleep 1
stop "$PINGER"
GAP_KILL=$(gap "$T/pinger.log")
wait "$IPERF" || fail "the iperf3 connection did not survive the move"
[ "$(kill -0 "$N1" && kill -0 "$N2" && echo up)" = up ] || fail "a NIC process died"
pings h3 192.168.75.1 2 || fail "h3 -> h1 on B"
pass "kill -9 A: h1, h2 moved to B (ping gap $GAP_KILL ms), B is the root, iperf3 survived, no process restarted"

# A returns: B rejoins it as a child, the ports fail back after the hold-down
swA
wait_for 10 eval '[ "$(grep -c "joined parent switch A" "$T/B.log")" -ge 2 ]' || fail "B did not rejoin A"
back() { on_switch h1 $PORT && on_switch h2 $PORT; }
wait_for 10 back || fail "h1, h2 did not fail back to A"
pings h1 192.168.75.2 2 || fail "h1 -> h2 after failback"
pings h3 192.168.75.1 2 || fail "h3 -> h1 through B's trunk after failback"
pass "A back: B rejoined A as a child; h1, h2 failed back after the hold-down; h3 reaches h1 through B"

# SIGSTOP A: the ports leave it within their liveness timeout
start pinger2 ip netns exec vha-h1 ping -n -i 0.05 -W 1 192.168.75.2
PINGER=$LAST_PID
sleep 1
kill -STOP "$A"
wait_for 5 moved || { kill -CONT "$A"; fail "h1, h2 did not leave a stopped A"; }
sleep 1
stop "$PINGER"
GAP_STOP=$(gap "$T/pinger2.log")
kill -CONT "$A"
wait_for 15 back || fail "h1, h2 did not fail back to A after SIGCONT"
pass "SIGSTOP A: h1, h2 moved to B (ping gap $GAP_STOP ms) and came back after SIGCONT"
pass "ha: failover gaps kill -9 $GAP_KILL ms, SIGSTOP $GAP_STOP ms (target < 2000)"
