#!/bin/bash
# backends.sh - the QEMU-facing backends (stream both ways, dgram, fd) exchange frames through the switch
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/topo.sh"
PORT=7721
HERE=$(cd "$(dirname "$0")" && pwd)

keys client server dgram fd
netns_add vfi-be
SW_NS=vfi-be
start_switch switch $PORT
EP=tcp://127.0.0.1:$PORT
# qnic NAME BACKEND-ARGS...: NIC process in vfi-be with key NAME, network be
qnic() {
	local name=$1; shift
	start "nic-$name" ip netns exec vfi-be "$NIC" -f --switch "$EP" --server-key "$T/keys/switch" \
		--key "$T/keys/${name}_secret" --network be --name "q/$name" "$@"
}
start peer ip netns exec vfi-be python3 "$HERE/backends.py" "$T" "$NIC" -f -s "$EP" \
	--server-key "$T/keys/switch" -k "$T/keys/fd_secret" -N be --name q/fd
PEER=$LAST_PID
wait_for 5 test -e "$T/client.ready" || fail "peer did not start"
qnic client --stream "unix:$T/client.sock"
qnic server --stream-listen tcp:127.0.0.1:7722
qnic dgram --dgram "unix:$T/dgram.nic,unix:$T/dgram.qemu"
wait_for 5 test -s "$T/nic-fd.pid" || fail "peer did not start the --fd NIC"
PIDS+=("$(cat "$T/nic-fd.pid")")
for n in client server dgram fd; do wait_for 10 joined nic-$n || fail "$n did not join"; done
touch "$T/all-joined"
wait "$PEER" || fail "frame exchange failed: $(grep FAIL "$T/peer.log")"
sed 's/^ok: /  /' "$T/peer.log"
log_has nic-client "stream unix:$T/client.sock" || log_has nic-client "unix:$T/client.sock" || fail "client NIC does not name its socket"
log_has nic-fd "guest side closed its socket: exiting" || fail "--fd NIC did not say why it exited"
sw_stats
for n in client server dgram; do
	[ "$(port_field q/$n rx_frames)" -ge 2 ] || fail "q/$n rx_frames $(port_field q/$n rx_frames)"
	[ "$(port_field q/$n drops.runt)" = 0 ] || fail "q/$n runts"
done
[ "$(port_field q/server rx_frames)" -ge 300 ] || fail "q/server rx_frames $(port_field q/server rx_frames): the 300-frame burst did not all reach the switch"
pass "stream (client and server), dgram and fd backends carry frames whole, both ways"

# a stream peer that goes away and comes back: the --stream-listen NIC accepts the new connection
RX0=$(port_field q/server rx_frames)
ip netns exec vfi-be python3 - <<'PY' || fail "reconnect to --stream-listen failed"
import socket, struct, sys, time
s = socket.create_connection(("127.0.0.1", 7722), timeout=5)
f = b"\xff" * 6 + bytes([2, 0x99, 0, 0, 2, 2]) + b"\x88\xb5" + b"again".ljust(46, b"\0")
s.sendall(struct.pack(">I", len(f)) + f)
time.sleep(0.5)
PY
[ "$(grep -c "peer connected" "$T/nic-server.log")" = 2 ] || fail "no reconnect logged"
sw_stats
[ "$(port_field q/server rx_frames)" = $((RX0 + 1)) ] || fail "frame after the reconnect did not reach the switch"
pass "a QEMU that reconnects to --stream-listen is accepted and its frames flow"
pass "backends"
