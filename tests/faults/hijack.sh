#!/bin/bash
# hijack.sh - a NIC process's guest side belongs to its QEMU: a second connection to a
# --stream-listen endpoint is refused (or, with --stream-replace, takes over), datagrams to a
# --dgram udp: LOCAL from anyone but REMOTE are dropped; both are counted, and listeners
# beyond loopback are warned about. Namespace vn1-hj, TCP/UDP ports 7800-7807.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/guestside.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

gs_setup hj obs listen replace udp wide
start peer ip netns exec "$SW_NS" python3 "$HERE/hijack.py" "$T" 7801 7802 7803 7804
PEER=$LAST_PID
wait_for 5 test -e "$T/obs.ready" || fail "peer did not start"
qnic obs --stream "unix:$T/obs.sock"
qnic listen --stream-listen tcp:127.0.0.1:7801
qnic replace --stream-listen tcp:127.0.0.1:7802 --stream-replace
qnic udp --dgram udp:127.0.0.1:7803,udp:127.0.0.1:7804
for n in obs listen replace udp; do wait_for 10 joined nic-$n || fail "$n did not join"; done
touch "$T/all-joined"
wait "$PEER" || fail "peer: $(sed -n 's/^FAIL: //p' "$T/peer.log")"
sed 's/^ok: /  /' "$T/peer.log"

log_has nic-listen "second connection refused: the connected peer keeps the port" ||
	fail "the refused connection was not logged"
C=$(counters listen)
log "listen NIC: $(echo "$C" | grep -o "connections refused [0-9]*")"
echo "$C" | grep -q "connections refused 3," || fail "refused connections not counted: $C"
sw_stats
[ "$(port_field q/listen rx_frames)" = 2 ] || fail "q/listen rx_frames $(port_field q/listen rx_frames), want QEMU's 2"
pass "a second connection to --stream-listen is refused, logged and counted; QEMU keeps the port"

log_has nic-replace "new connection replaces the current one" || fail "--stream-replace did not log the takeover"
C=$(counters replace)
echo "$C" | grep -q "connections refused 0," || fail "--stream-replace refused a connection: $C"
pass "with --stream-replace a new connection takes over, as before"

log_has nic-udp "datagram from udp:127.0.0.[12]:[0-9]+ dropped: only REMOTE may send" ||
	fail "the foreign datagram was not logged"
C=$(counters udp)
log "udp NIC: $(echo "$C" | grep -o "foreign datagrams [0-9]*")"
echo "$C" | grep -q "foreign datagrams 2;" || fail "foreign datagrams not counted: $C"
[ "$(port_field q/udp rx_frames)" = 2 ] || fail "q/udp rx_frames $(port_field q/udp rx_frames), want QEMU's 2"
pass "--dgram udp: takes datagrams only from REMOTE; the others are dropped and counted"

# loopback listeners are quiet; one reachable from elsewhere is warned about at start
for n in listen replace udp; do
	log_has nic-$n "reachable beyond this host" && fail "$n warned about a loopback address"
done
qnic wide --stream-listen tcp:0.0.0.0:7805
wait_for 5 log_has nic-wide "--stream-listen tcp:0.0.0.0:7805 is reachable beyond this host" ||
	fail "no warning for a --stream-listen on 0.0.0.0"
stop "$PID_wide"
qnic wide --dgram udp:0.0.0.0:7806,udp:127.0.0.1:7807
wait_for 5 log_has nic-wide "--dgram LOCAL udp:0.0.0.0:7806 is reachable beyond this host" ||
	fail "no warning for a --dgram udp: LOCAL on 0.0.0.0"
pass "a listener or udp: LOCAL beyond loopback is warned about at start"
pass "hijack"
