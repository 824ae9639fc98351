#!/bin/bash
# vhost.sh - vmfabric-nic --vhost-user with a stand-in front-end (vhostfe.py plays QEMU and the guest)
#
# Namespaces vvh-sw (switch), vvh-h1 (a TAP host, 192.168.87.1) and vvh-g (the vhost-user NIC
# process and the stand-in "guest" 192.168.87.2 with its rings in a memfd). Checks: the host
# pings the guest and the guest pings the host through the fabric; hostile transmit chains (a
# loop, an address outside guest RAM, a writable buffer) come back used with length 0 and are
# counted; a second connection is refused while the first lasts; a malformed message drops the
# connection (counted) and the NIC process keeps running and serves the next front-end.
TEST_NAME=integration_vhost TOPO_NS=vvh TOPO_NET=87
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/topo.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
PORT=7871
PY=/usr/bin/python3

sw_host; guest_host h1 1; guest_host g 2
keys h1 g
start_switch sw $PORT
start_nic h1 1 h1 lab $PORT
tap_setup h1 1 192.168.87.1/24
start nic-g ip netns exec vvh-g "$NIC" -f --switch "tcp://10.87.2.1:$PORT" --server-key "$T/keys/switch" \
	--key "$T/keys/g_secret" --network lab --name g/vhost --vhost-user "$T/g.vhost"
NIC_G=$LAST_PID
wait_for 5 test -S "$T/g.vhost" || fail "nic g is not listening on $T/g.vhost"
for n in nic-h1 nic-g; do wait_for 10 joined $n || fail "$n did not join"; done

# counters LOGNAME PID: SIGUSR1, then the newest vhost-user counter line
counters() {
	local n
	n=$(grep -c 'vhost-user .*: connects' "$T/$1.log")
	kill -USR1 "$2"
	wait_for 5 sh -c "[ \$(grep -c 'vhost-user .*: connects' '$T/$1.log') -gt $n ]" || fail "$1: no counters"
	grep 'vhost-user .*: connects' "$T/$1.log" | tail -1
}

# ---- first front-end, hostile chains first ------------------------------------------
start fe1 ip netns exec vvh-g "$PY" "$HERE/vhostfe.py" "$T/g.vhost" 02:87:00:00:00:aa 192.168.87.2 \
	192.168.87.1 6 hostile
FE1=$LAST_PID
wait_for 10 log_has nic-g 'QEMU connected' || fail "the front-end did not connect"
wait_for 10 log_has fe1 'hostile chains returned with length 0' || fail "hostile chains not returned"
"$PY" - "$T/g.vhost" <<'PY' || fail "second connection: no EOF"
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.settimeout(5)
sys.exit(0 if s.recv(16) == b"" else 1)
PY
log_has nic-g 'second connection refused' || fail "nic g did not refuse a second connection"
pings h1 192.168.87.2 5 || { cat "$T/ping.out"; fail "the TAP host cannot ping the vhost-user guest"; }
grep -q ' 0% packet loss' "$T/ping.out" || fail "pings lost"
wait "$FE1" || { cat "$T/fe1.log"; fail "front-end 1 failed"; }
log_has fe1 '^ping reply from 192.168.87.1' || fail "the guest got no ping reply from the host"
log_has fe1 'malformed message: connection dropped' || fail "malformed message did not end the connection"
log_has fe1 '^done$' || fail "front-end 1 did not finish"
wait_for 5 log_has nic-g 'front-end gone .*waiting for QEMU' || fail "nic g: not waiting after the drop"
C=$(counters nic-g "$NIC_G")
echo "$C" | grep -q 'bad chains 3,' || fail "bad chains not counted: $C"
echo "$C" | grep -q 'protocol errors 1;' || fail "protocol error not counted: $C"
echo "$C" | grep -q 'refused 1 ' || fail "refused connection not counted: $C"
pass "ping both ways over vhost-user; 3 hostile chains returned empty and counted; second connection refused; malformed message dropped the connection"

# ---- the NIC process serves the next front-end ---------------------------------------
start fe2 ip netns exec vvh-g "$PY" "$HERE/vhostfe.py" "$T/g.vhost" 02:87:00:00:00:aa 192.168.87.2 \
	192.168.87.1 4
FE2=$LAST_PID
wait_for 10 sh -c "[ \$(grep -c 'QEMU connected' '$T/nic-g.log') = 2 ]" || fail "the second front-end did not connect"
pings h1 192.168.87.2 5 || { cat "$T/ping.out"; fail "no ping to the second front-end"; }
wait "$FE2" || { cat "$T/fe2.log"; fail "front-end 2 failed"; }
log_has fe2 '^done$' || fail "front-end 2 did not finish"
kill -0 "$NIC_G" || fail "nic g is gone"
pass "after a dropped connection the NIC process serves a new front-end: ping both ways"
pass "integration_vhost"
