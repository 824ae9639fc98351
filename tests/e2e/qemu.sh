#!/bin/bash
# qemu.sh - end-to-end test: real QEMU guests (vmlab, TCG) on one CURVE fabric
#
# Topology: the switch in namespace vfe-sw, one namespace per guest (vfe-a,
# vfe-b, vfe-c, vfe-d) joined to it by a veth pair. In each guest namespace
# run that guest's vmfabric-nic and its QEMU; the NIC reaches the switch at
# tcp://10.77.N.1:7730 across the veth.
#
#   guest a  -netdev stream,server=on (unix)   nic --stream unix:PATH     serves HTTP
#   guest b  -netdev dgram (unix paths)        nic --dgram unix:N,unix:Q  ping, HTTP, restart check
#   guest c  -netdev stream,server=off (unix)  nic --stream-listen unix:PATH   pings a
#   guest d  -netdev socket,connect=TCP        nic --stream-listen tcp:127.0.0.1:7731  pings a
#
# Checks, from the guests' own output: b reaches a (ping, 0% loss), fetches
# /vmlab.txt (body VMLAB-HTTP-OK) and 16 MiB over HTTP (size checked); c and d
# ping a and fetch its page. Then a's NIC process is stopped (by PID) and
# started again with the same name and key while a's QEMU keeps running: b
# sees the outage, then a answers again within 15 s. The switch logs
# 'joined network' for every port (a twice). Prints RTTs, throughput and the
# recovery time.

TEST_NAME=e2e_qemu
. "$(dirname "$0")/../lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
VMLAB=$SHARED/vmlab
T_START=$(date +%s%N)
PORT=7730			# switch (namespace vfe-sw)
TCPPORT=7731			# guest d's QEMU -> its NIC (namespace vfe-d, loopback)
NET=e2e

log "build-guest"
"$VMLAB/build-guest" >"$T/build-guest.log" 2>&1 || fail "vmlab/build-guest"
command -v qemu-system-x86_64 >/dev/null || fail "qemu-system-x86_64 missing after build-guest"

# ---- namespaces, keys, switch -----------------------------------------------
netns_add vfe-sw
n=1
for g in a b c d; do
	netns_add "vfe-$g"
	veth_link vfe-sw "vfe-s$g" "10.77.$n.1/24" "vfe-$g" "vfe-${g}0" "10.77.$n.2/24"
	n=$((n + 1))
done
keys a b c d

start switch ip netns exec vfe-sw "$SWITCH" -f --listen "tcp://0.0.0.0:$PORT" \
	--key "$T/keys/switch_secret" --authorized "$T/auth"
SW_PID=$LAST_PID
wait_for 10 log_has switch "listening on" || fail "switch did not start"

# nic_start G LOGNAME BACKEND-ARGS...: G's NIC process in namespace vfe-G
nic_start() {
	local g=$1 name=$2 n
	shift 2
	n=$(( $(printf '%d' "'$g") - 96 ))
	start "$name" ip netns exec "vfe-$g" "$NIC" -f --switch "tcp://10.77.$n.1:$PORT" \
		--server-key "$T/keys/switch" --key "$T/keys/${g}_secret" \
		--network "$NET" --name "vm-$g/eth0" "$@"
}

# guest_bg G ARGS...: start guest G detached in its namespace; prints the QEMU PID
guest_bg() {
	local g=$1
	shift
	ip netns exec "vfe-$g" "$VMLAB/run-guest" --name "vfe-$g" --log "$T/$g-serial.log" \
		--background --timeout 240 "$@" 2>>"$T/run-guest-$g.log"
}

# guest_fg G ARGS...: run guest G in the foreground (as a background job), output in $T/guest-G.log
guest_fg() {
	local g=$1
	shift
	start "guest-$g" ip netns exec "vfe-$g" "$VMLAB/run-guest" --name "vfe-$g" \
		--log "$T/$g-serial.log" --timeout 150 "$@"
}

serial_has() { grep -aq -- "$2" "$T/$1-serial.log" 2>/dev/null; }

# ---- guest a: -netdev stream,server=on; its NIC connects ------------------------
NETDEV_A="stream,id=n0,server=on,addr.type=unix,addr.path=$T/a.sock"
DEVICE_A="virtio-net-pci,netdev=n0,mac=52:54:00:77:00:0a"
A_QEMU=$(guest_bg a --serve --ip 192.168.77.10/24 --netdev "$NETDEV_A" --device "$DEVICE_A")
[[ "$A_QEMU" =~ ^[0-9]+$ ]] || fail "guest a did not start: $A_QEMU"
PIDS+=("$A_QEMU")
nic_start a nic-a --stream "unix:$T/a.sock"
NIC_A=$LAST_PID

# ---- guest c: -netdev stream,server=off; its NIC listens --------------------------
NETDEV_C="stream,id=n0,server=off,addr.type=unix,addr.path=$T/c.sock"
DEVICE_C="virtio-net-pci,netdev=n0,mac=52:54:00:77:00:0c"
nic_start c nic-c --stream-listen "unix:$T/c.sock"
wait_for 10 test -S "$T/c.sock" || fail "nic c is not listening on $T/c.sock"

# ---- guest d: -netdev socket,connect= (TCP); its NIC listens ---------------------
NETDEV_D="socket,id=n0,connect=127.0.0.1:$TCPPORT"
DEVICE_D="virtio-net-pci,netdev=n0,mac=52:54:00:77:00:0d"
nic_start d nic-d --stream-listen "tcp:127.0.0.1:$TCPPORT"
wait_for 10 sh -c "ip netns exec vfe-d ss -Hltn 'sport = :$TCPPORT' | grep -q LISTEN" ||
	fail "nic d is not listening on 127.0.0.1:$TCPPORT"

# ---- guest b: -netdev dgram; its NIC binds QEMU's remote, sends to QEMU's local ----
NETDEV_B="dgram,id=n0,local.type=unix,local.path=$T/b-qemu.sock,remote.type=unix,remote.path=$T/b-nic.sock"
DEVICE_B="virtio-net-pci,netdev=n0,mac=52:54:00:77:00:0b"
nic_start b nic-b --dgram "unix:$T/b-nic.sock,unix:$T/b-qemu.sock"
NIC_B=$LAST_PID
wait_for 10 test -S "$T/b-nic.sock" || fail "nic b did not bind $T/b-nic.sock"

for g in a b c d; do
	wait_for 15 log_has "nic-$g" "joined network $NET" || fail "nic $g did not join the switch"
done
for g in a b c d; do
	log_has switch "port vm-$g/eth0 joined network $NET" || fail "switch did not log port vm-$g/eth0 joining"
done
pass "switch sees 4 ports joined network $NET (CURVE)"

# ---- phase 1: c and d ping a (a is still booting; they wait for it) -------------
guest_fg c --ip 192.168.77.12/24 --env PEER=192.168.77.10 --netdev "$NETDEV_C" \
	--device "$DEVICE_C" --env THROUGHPUT=0 --env RESTART=0 --script "$HERE/guest-client.sh"
C_RUN=$LAST_PID
guest_fg d --ip 192.168.77.13/24 --env PEER=192.168.77.10 --netdev "$NETDEV_D" \
	--device "$DEVICE_D" --env THROUGHPUT=0 --env RESTART=0 --script "$HERE/guest-client.sh"
D_RUN=$LAST_PID
wait "$C_RUN"; C_RC=$?
wait "$D_RUN"; D_RC=$?
for g in c d; do
	rc=C_RC; [ $g = d ] && rc=D_RC
	[ "${!rc}" = 0 ] || fail "guest $g: run-guest rc=${!rc}"
	guest_client_ok "guest-$g" 192.168.77.10
done
serial_has a 'VMLAB: serve ' || fail "guest a never reported serving"
log_has nic-c 'peer connected' || fail "nic c: QEMU (stream,server=off) never connected"
log_has nic-d 'peer connected' || fail "nic d: QEMU (socket,connect=) never connected"
RTT_C=$(grep -o 'min/avg/max = [0-9./]* ms' "$T/guest-c.log")
RTT_D=$(grep -o 'min/avg/max = [0-9./]* ms' "$T/guest-d.log")
pass "guest c (stream,server=off -> nic --stream-listen unix) pings a, http ok; rtt $RTT_C"
pass "guest d (socket,connect=tcp -> nic --stream-listen tcp) pings a, http ok; rtt $RTT_D"

# ---- phase 2: b (dgram) against a (stream,server=on), then a's NIC restart ------
guest_fg b --ip 192.168.77.11/24 --env PEER=192.168.77.10 --netdev "$NETDEV_B" \
	--device "$DEVICE_B" --script "$HERE/guest-client.sh"
B_RUN=$LAST_PID

wait_for 120 serial_has b 'VMLAB-OUT: restart: waiting for outage' ||
	{ wait "$B_RUN"; cat "$T/guest-b.log"; fail "guest b did not finish phase 1"; }
log "stopping nic a (pid $NIC_A); guest a's QEMU (pid $A_QEMU) keeps running"
stop "$NIC_A"
wait_for 20 serial_has b 'VMLAB-OUT: restart: outage seen' ||
	{ wait "$B_RUN"; cat "$T/guest-b.log"; fail "guest b did not see the outage"; }
kill -0 "$A_QEMU" 2>/dev/null || fail "guest a's QEMU died with its NIC process"
nic_start a nic-a2 --stream "unix:$T/a.sock"
log "nic a started again (pid $LAST_PID)"
wait "$B_RUN"; B_RC=$?
cat "$T/guest-b.log"
[ "$B_RC" = 0 ] || fail "guest b: run-guest rc=$B_RC"
guest_client_ok guest-b 192.168.77.10 2
log_has guest-b '^http_devnull 16777216 bytes' || fail "guest b: 16 MiB HTTP to /dev/null"
log_has guest-b '^http_tmpfs 16777216 bytes' || fail "guest b: 16 MiB HTTP to tmpfs (size)"
log_has guest-b '^nc_sink 16777216 bytes' || fail "guest b: 16 MiB TCP to the sink"
pass "guest b (dgram) <-> guest a (stream,server=on): ping, HTTP body and 16 MiB size"
log_has guest-b '^restart: peer back after ' || fail "guest b: a did not come back"
log_has guest-b '^restart: http body: VMLAB-HTTP-OK$' || fail "guest b: HTTP after the restart"
log_has nic-a2 'stream unix:.*: connected' || fail "restarted nic a did not reconnect to QEMU"
log_has nic-a2 "joined network $NET" || fail "restarted nic a did not join"
[ "$(grep -c 'port vm-a/eth0 joined network' "$T/switch.log")" = 2 ] || fail "switch: vm-a/eth0 did not join twice"
log_has switch 'port vm-a/eth0 left network' || fail "switch: vm-a/eth0 never left"
kill -0 "$A_QEMU" 2>/dev/null || fail "guest a's QEMU is gone"
[ "$(grep -ac 'VMLAB: boot ' "$T/a-serial.log")" = 1 ] || fail "guest a rebooted"
pass "nic a restarted under a running QEMU (stream,server=on): traffic resumed, $(grep -o 'peer back after .*' "$T/guest-b.log")"

# The dgram NIC's counters: frames it could not hand to QEMU (its unix
# datagram queue, net.unix.max_dgram_qlen, was full) are dropped and counted.
kill -USR1 "$NIC_B"
wait_for 5 log_has nic-b 'counters:' || fail "nic b did not report its counters"
CTR_B=$(grep -o 'guest tx [0-9]* frames (dropped [0-9]*)' "$T/nic-b.log" | tail -1)

# ---- figures ------------------------------------------------------------------
RTT_B=$(grep -o 'min/avg/max = [0-9./]* ms' "$T/guest-b.log" | head -1)
log "figures (TCG guests, CURVE fabric, guest to guest through 2 NIC processes + switch):"
log "  ping rtt b->a $RTT_B; c->a $RTT_C; d->a $RTT_D"
guest_figures guest-b
log "  nic b (dgram) to QEMU: ${CTR_B:-no counters} (net.unix.max_dgram_qlen=$(ip netns exec vfe-b sysctl -n net.unix.max_dgram_qlen))"
log "  nic restart: $(grep -o 'peer back after .*' "$T/guest-b.log")"
log "  wall time $(( ($(date +%s%N) - T_START) / 1000000 )) ms"
pass "e2e_qemu"
