#!/bin/bash
# restart.sh - a killed switch comes back and the same NIC processes rejoin; a restarted NIC takes its port over
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/topo.sh"
PORT=7715

pair_up $PORT
pings h1 192.168.77.2 5 || fail "ping before the switch restart"
pass "fabric up: NIC pids h1=$H1 h2=$H2"

# 1. SIGKILL the switch (no Bye, no Error to anyone), restart it on the same address
kill -KILL "$SW_PID"; wait "$SW_PID" 2>/dev/null
! ping1 h1 192.168.77.2 || fail "ping works without a switch?"
start_switch switch2 $PORT
T0=$(date +%s%N)
wait_for 10 ping1 h1 192.168.77.2 || fail "ping did not resume within 10 s of the switch restart"
MS=$(( ($(date +%s%N) - T0) / 1000000 ))
pings h2 192.168.77.1 5 || fail "ping h2 -> h1 after the switch restart"
kill -0 "$H1" && kill -0 "$H2" || fail "a NIC process died with the switch"
tr "\0" " " </proc/$H1/cmdline | grep -q "vmfabric-nic .*h1/tap0" || fail "pid $H1 is no longer the h1 NIC process"
[ "$(grep -c "joined network" "$T/nic-h1.log")" = 2 ] || fail "h1 should have joined exactly twice"
[ "$(grep -c "joined network" "$T/nic-h2.log")" = 2 ] || fail "h2 should have joined exactly twice"
sw_stats
[ "$(sj 'd["networks"][0]["ports"]')" = 2 ] || fail "restarted switch: lab should hold 2 ports"
pass "switch SIGKILLed and restarted: ping back after ${MS} ms, same NIC processes ($H1, $H2) rejoined"

# 2. SIGKILL h1's NIC process (no Bye: the switch still holds its port, and the TAP vanishes);
#    a new process with the same name and key, started at once, takes the port over
kill -KILL "$H1"; wait "$H1" 2>/dev/null
mv "$T/nic-h1.log" "$T/nic-h1-first.log"
start_nic h1 1 h1 lab $PORT; H1B=$NIC_PID
tap_setup h1 1 192.168.77.1/24
wait_for 10 joined nic-h1 || fail "restarted h1 did not join"
wait_for 10 ping1 h2 192.168.77.1 || fail "ping did not resume after the NIC restart"
pings h1 192.168.77.2 5 || fail "ping h1 -> h2 after the NIC restart"
sw_stats
[ "$(sj 'd["networks"][0]["ports"]')" = 2 ] || fail "lab should hold 2 ports after the takeover: $(cat "$T/s.json")"
[ "$(sj 'sum(p["name"] == "h1/tap0" for p in d["ports"])')" = 1 ] || fail "h1/tap0 is not exactly one port"
log_has switch2 "port h1/tap0 left network lab: taken over by a new session of the same key" ||
	fail "switch did not log the takeover of h1/tap0"
[ "$(sj 'd["switch"]["takeovers"]')" = 1 ] || fail "takeovers counter is not 1"
pass "NIC SIGKILLed and restarted (pid $H1B): port h1/tap0 taken over, ping resumes"

# 3. another key cannot steal a live port name
start steal ip netns exec vfi-h1 "$NIC" -f --switch "tcp://10.99.1.1:$PORT" --server-key "$T/keys/switch" \
	--key "$T/keys/h2_secret" --network lab --name h1/tap0 --tap tap7
ST=$LAST_PID
wait_for 10 log_has steal "refused this port: port name in use by another key" || fail "name theft not refused"
pings h2 192.168.77.1 3 || fail "the real h1 lost its port to another key"
stop "$ST"
pass "the same port name with another key is refused (duplicate), the owner keeps it"
pass "restart"
