#!/bin/bash
# admission.sh - only keys in the authorized directory join; SIGHUP admits and revokes live
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/topo.sh"
PORT=7713

keys h1 h2
"$KEYTOOL" generate "$T/keys/h3" >/dev/null || fail "keygen h3"
H3KEY=$("$KEYTOOL" public "$T/keys/h3")
sw_host
guest_host h1 1
guest_host h2 2
guest_host h3 3
start_switch switch $PORT
hosts_up $PORT lab h1 h2
pings h1 192.168.77.2 3 || fail "admitted hosts cannot ping"

# 1. h3's key is not admitted: refused, told so, no port, no traffic
start_nic h3 3 h3 lab $PORT; H3=$NIC_PID
tap_setup h3 3 192.168.77.3/24
wait_for 10 log_fixed nic-h3 "refused our key $H3KEY" || fail "h3 does not say its key $H3KEY was refused"
log_fixed switch "refused key $H3KEY" || fail "switch does not log the refused key"
! ping1 h1 192.168.77.3 || fail "traffic reached the unadmitted h3"
! ping1 h3 192.168.77.1 || fail "traffic from the unadmitted h3 got through"
sw_stats
[ "$(port_field h3/tap0 name)" = none ] || fail "refused h3 has a port"
[ "$(sj 'd["networks"][0]["ports"]')" = 2 ] || fail "lab should hold 2 ports"
[ "$(sj 'd["switch"]["zap_denied"]')" -ge 1 ] || fail "zap_denied not counted"
kill -0 "$H3" || fail "refused NIC process exited (it must keep retrying)"
pass "unadmitted key refused: NIC says 'refused our key $H3KEY', switch logs it, no port, no traffic"

# 2. admit it: SIGHUP, and the same process joins without a restart
cp "$T/keys/h3" "$T/auth/h3"
kill -HUP "$SW_PID"
wait_for 5 log_has switch "reloaded .*: 3 admitted keys" || fail "switch did not reload its keys"
wait_for 40 joined nic-h3 || fail "h3 did not join after its key was admitted"
wait_for 5 ping1 h1 192.168.77.3 || fail "no ping to h3 after it joined"
pings h3 192.168.77.2 3 || fail "ping h3 -> h2"
kill -0 "$H3" || fail "h3 NIC process restarted?"
pass "key admitted + SIGHUP: same NIC process (pid $H3) joined, pings work"

# 3. revoke h3: its live port is gone within 2 s, it says why, its traffic stops
REFUSALS=$(grep -Fc "refused our key" "$T/nic-h3.log")
rm "$T/auth/h3"
kill -HUP "$SW_PID"
T0=$(date +%s%N)
gone() { sw_stats; [ "$(port_field h3/tap0 name)" = none ]; }
wait_for 2 gone || fail "revoked port h3/tap0 still in stats after 2 s"
MS=$(( ($(date +%s%N) - T0) / 1000000 ))
wait_for 3 log_has nic-h3 "refused this port: .*revoked" || fail "h3 does not say it was revoked"
log_has switch "port h3/tap0 left network lab: key removed" || fail "switch does not log the revocation"
! ping1 h1 192.168.77.3 || fail "revoked h3 still answers ping"
refused_again() { [ "$(grep -Fc "refused our key $H3KEY" "$T/nic-h3.log")" -gt "$REFUSALS" ]; }
wait_for 10 refused_again || fail "revoked h3 was not refused on reconnect"
pings h1 192.168.77.2 3 || fail "h1 -> h2 broken by the revocation"
pass "key removed + SIGHUP: port gone in ${MS} ms, NIC says revoked, its pings stop, others unaffected"
stop "$H3"

# 4. a NIC with the wrong --server-key never joins and says the handshake failed
"$KEYTOOL" generate "$T/keys/impostor" >/dev/null
cp "$T/keys/h3" "$T/auth/h3"
kill -HUP "$SW_PID"
start wrongsrv ip netns exec vfi-h3 "$NIC" -f --switch "tcp://10.99.3.1:$PORT" \
	--server-key "$T/keys/impostor" --key "$T/keys/h3_secret" --network lab --name h3/wrong --tap tap9
WS=$LAST_PID
wait_for 10 log_has wrongsrv "handshake .*failed" || fail "wrong --server-key: no handshake failure in the log"
log_has wrongsrv "server-key" || fail "wrong --server-key: log does not point at --server-key"
sleep 1
log_has wrongsrv "joined network" && fail "joined with a wrong server key"
sw_stats
[ "$(port_field h3/wrong name)" = none ] || fail "wrong server key got a port"
kill -0 "$WS" || fail "NIC with a wrong server key exited"
stop "$WS"
pass "wrong --server-key: handshake fails, logged, no port"

# 5. a secret file readable by the group is refused at start
cp "$T/keys/h3_secret" "$T/keys/loose_secret"
chmod 640 "$T/keys/loose_secret"
ip netns exec vfi-h3 "$NIC" -f --switch "tcp://10.99.3.1:$PORT" --server-key "$T/keys/switch" \
	--key "$T/keys/loose_secret" --network lab --name h3/loose --tap tap8 >"$T/loose.out" 2>&1
RC=$?
[ "$RC" -ne 0 ] || fail "NIC with a group-readable secret started"
grep -q "$T/keys/loose_secret" "$T/loose.out" || { cat "$T/loose.out"; fail "message does not name the file"; }
grep -q "chmod 600" "$T/loose.out" || { cat "$T/loose.out"; fail "message does not say chmod 600"; }
pass "group-readable secret: exit $RC, '$(head -n1 "$T/loose.out")'"

kill -0 "$SW_PID" || fail "switch died"
pass "admission"
