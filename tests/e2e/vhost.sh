#!/bin/bash
# vhost.sh - end-to-end: QEMU guests on vmfabric-nic --vhost-user (vmlab, TCG)
#
# Namespace vvh-n holds the switch (tcp://127.0.0.1:7870), every NIC process
# and both QEMUs; namespace vvh-t holds a TAP (offloads off, 192.168.78.1)
# whose NIC runs in vvh-n. Guests get RAM from memory-backend-memfd,share=on
# and -netdev vhost-user on a chardev with reconnect=1. vectors=0: QEMU 7.2
# under TCG crashes in virtio-pci's MSI-X unmask when a vhost-user net device
# starts (msix_set_vector_notifiers); INTx avoids that path.
#
#   guest a  vhost-user, serves HTTP (/www/rand.bin: 4 MiB of random data)
#   guest b  vhost-user, guest-client.sh: ping a, HTTP, 16 MiB, NIC restart
#   host     TAP in vvh-t: pings a, downloads rand.bin (checksum compared)
#   guest c  started by vmfabric-qemu -- run-guest --nic vmfabric,...,vhost=on:
#            pings a, fetches its page; the launcher exits 0 and removes its sockets
#
# Checks: b reaches a (ping 0% loss, HTTP body, 16 MiB, rand.bin md5 equal
# to the file's); a's NIC sent super-frames (guest TSO) and b's NIC handed
# super-frames whole to b (guest TSO), none cut; the TAP host (no offloads)
# gets rand.bin intact (segments made by its NIC); a's NIC killed (SIGKILL)
# and started again under the running QEMU: b sees traffic resume; QEMU b
# a killed: its NIC logs "waiting for QEMU", keeps running and serves a new
# QEMU a; a second connection to a's socket is refused.

TEST_NAME=e2e_vhost
. "$(dirname "$0")/../lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
VMLAB=$SHARED/vmlab
T_START=$(date +%s%N)
PORT=7870
NET=vvh

log "build-guest"
"$VMLAB/build-guest" >"$T/build-guest.log" 2>&1 || fail "vmlab/build-guest"
command -v qemu-system-x86_64 >/dev/null || fail "qemu-system-x86_64 missing after build-guest"

netns_add vvh-n
netns_add vvh-t
keys a b t c
head -c $((4 * 1024 * 1024)) /dev/urandom >"$T/rand.bin"
SUM=$(md5sum <"$T/rand.bin" | cut -d' ' -f1)

start switch ip netns exec vvh-n "$SWITCH" -f --listen "tcp://127.0.0.1:$PORT" \
	--key "$T/keys/switch_secret" --authorized "$T/auth"
wait_for 10 log_has switch "listening on" || fail "switch did not start"

# nic_start G LOGNAME BACKEND-ARGS...: G's NIC process (namespace vvh-n)
nic_start() {
	local g=$1 name=$2
	shift 2
	start "$name" ip netns exec vvh-n "$NIC" -f --switch "tcp://127.0.0.1:$PORT" \
		--server-key "$T/keys/switch" --key "$T/keys/${g}_secret" \
		--network "$NET" --name "vm-$g/eth0" "$@"
}

# vhost_args G: run-guest options for a vhost-user NIC on $T/G.vhost
vhost_args() {
	printf '%s\n' --qemu-arg -object --qemu-arg "memory-backend-memfd,id=mem0,size=128M,share=on" \
		--qemu-arg -numa --qemu-arg "node,memdev=mem0" \
		--qemu-arg -chardev --qemu-arg "socket,id=c0,path=$T/$1.vhost,reconnect=1" \
		--netdev "vhost-user,id=n0,chardev=c0" \
		--device "virtio-net-pci,netdev=n0,mac=52:54:00:78:00:$2,rx_queue_size=1024,tx_queue_size=1024,vectors=0"
}
serial_has() { grep -aq -- "$2" "$T/$1-serial.log" 2>/dev/null; }
counters() {	# counters LOGNAME PID: SIGUSR1, wait for a new vhost-user counter line
	local n
	n=$(grep -c 'vhost-user .*: connects' "$T/$1.log")
	kill -USR1 "$2"
	wait_for 5 sh -c "[ \$(grep -c 'vhost-user .*: connects' '$T/$1.log') -gt $n ]" ||
		fail "$1: no counters"
	grep 'vhost-user .*: connects' "$T/$1.log" | tail -1
}

nic_start a nic-a --vhost-user "$T/a.vhost"
NIC_A=$LAST_PID
nic_start b nic-b --vhost-user "$T/b.vhost"
NIC_B=$LAST_PID
nic_start t nic-t --tap vvh0 --netns vvh-t --offload off
NIC_T=$LAST_PID
wait_for 10 test -S "$T/a.vhost" || fail "nic a is not listening on $T/a.vhost"
wait_for 10 test -S "$T/b.vhost" || fail "nic b is not listening on $T/b.vhost"
[ "$(stat -c %a "$T/a.vhost")" = 600 ] || fail "vhost-user socket is not mode 0600"
wait_for 10 ip -n vvh-t link show vvh0 || fail "no TAP vvh0"
ip -n vvh-t addr add 192.168.78.1/24 dev vvh0

mapfile -t ARGS_A < <(vhost_args a 0a)
A_QEMU=$(ip netns exec vvh-n "$VMLAB/run-guest" --name vvh-a --log "$T/a-serial.log" \
	--background --timeout 200 --serve --ip 192.168.78.10/24 --file "$T/rand.bin:/www/rand.bin" \
	"${ARGS_A[@]}" 2>>"$T/run-guest-a.log")
[[ "$A_QEMU" =~ ^[0-9]+$ ]] || { cat "$T/run-guest-a.log"; fail "guest a did not start: $A_QEMU"; }
PIDS+=("$A_QEMU")
for g in a b t; do
	wait_for 15 log_has "nic-$g" "joined network $NET" || fail "nic $g did not join the switch"
done
log_has nic-a 'vhost-user .*: QEMU connected' || fail "QEMU a did not connect to its NIC"
pass "QEMU a connected to vmfabric-nic --vhost-user; 3 ports joined"

# ---- a second front-end on a's socket is refused ---------------------------------
/usr/bin/python3 - "$T/a.vhost" <<'EOF' || fail "second connection: could not connect"
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.settimeout(5)
sys.exit(0 if s.recv(16) == b"" else 1)
EOF
log_has nic-a 'second connection refused' || fail "nic a did not refuse a second connection"
pass "a second connection to a's socket is refused while QEMU a is connected"

# ---- host (TAP, no offloads) <-> guest a --------------------------------------------
wait_for 60 serial_has a 'VMLAB: serve ' || fail "guest a never served"
ip netns exec vvh-t ping -c 5 -i 0.2 -W 2 192.168.78.10 >"$T/ping-t.log" 2>&1 ||
	fail "TAP host cannot ping guest a"
ip netns exec vvh-t curl -sS --max-time 60 -o "$T/rand-t.bin" http://192.168.78.10/rand.bin ||
	fail "TAP host: download from guest a failed"
[ "$(md5sum <"$T/rand-t.bin" | cut -d' ' -f1)" = "$SUM" ] || fail "TAP host: rand.bin corrupted"
pass "TAP host (no offloads) pings guest a and downloads 4 MiB intact: $(tail -1 "$T/ping-t.log")"

# ---- guest b against guest a, then a's NIC killed and restarted ----------------------
mapfile -t ARGS_B < <(vhost_args b 0b)
cat >"$T/b-script.sh" <<EOF
i=0
until ping -c 1 -W 1 192.168.78.10 >/dev/null 2>&1; do i=\$((i + 1)); [ \$i -ge 60 ] && break; done
wget -q -O /tmp/rand.bin http://192.168.78.10/rand.bin && echo "rand md5 \$(md5sum </tmp/rand.bin | cut -d' ' -f1)"
rm -f /tmp/rand.bin
EOF
cat "$T/b-script.sh" "$HERE/guest-client.sh" >"$T/b-client.sh"
start guest-b ip netns exec vvh-n "$VMLAB/run-guest" --name vvh-b --log "$T/b-serial.log" \
	--timeout 150 --ip 192.168.78.11/24 --env PEER=192.168.78.10 --env OUTAGE_WAIT=60 \
	--script "$T/b-client.sh" "${ARGS_B[@]}"
B_RUN=$LAST_PID
wait_for 120 serial_has b 'VMLAB-OUT: restart: waiting for outage' ||
	{ wait "$B_RUN"; cat "$T/guest-b.log"; fail "guest b did not finish phase 1"; }
CTR_A=$(counters nic-a "$NIC_A")
CTR_B=$(counters nic-b "$NIC_B")
log "killing nic a (pid $NIC_A, SIGKILL); QEMU a (pid $A_QEMU) keeps running"
kill -KILL "$NIC_A"; wait "$NIC_A" 2>/dev/null
wait_for 20 serial_has b 'VMLAB-OUT: restart: outage seen' ||
	{ wait "$B_RUN"; cat "$T/guest-b.log"; fail "guest b did not see the outage"; }
kill -0 "$A_QEMU" 2>/dev/null || fail "QEMU a died with its NIC process"
nic_start a nic-a2 --vhost-user "$T/a.vhost"
NIC_A=$LAST_PID
wait "$B_RUN"; B_RC=$?
cat "$T/guest-b.log"
[ "$B_RC" = 0 ] || fail "guest b: run-guest rc=$B_RC"
log_has guest-b "^rand md5 $SUM\$" || fail "guest b: rand.bin md5 differs from $SUM"
log_has guest-b ' 0% packet loss' || fail "guest b: ping lost packets"
log_has guest-b '^http body: VMLAB-HTTP-OK$' || fail "guest b: wrong HTTP body"
log_has guest-b '^http_tmpfs 16777216 bytes' || fail "guest b: 16 MiB HTTP (size)"
log_has guest-b '^nc_sink 16777216 bytes' || fail "guest b: 16 MiB TCP to the sink"
pass "guest b <-> guest a (both vhost-user): ping, HTTP, 16 MiB, rand.bin md5 $SUM"

gso() { sed -n "s/.*super-frames from guest \([0-9]*\), to guest whole \([0-9]*\), cut for it \([0-9]*\).*/\\$2/p" <<<"$1"; }
[ "$(gso "$CTR_A" 1)" -gt 0 ] || fail "nic a: guest a sent no super-frames ($CTR_A)"
[ "$(gso "$CTR_B" 2)" -gt 0 ] || fail "nic b: no super-frame reached guest b whole ($CTR_B)"
[ "$(gso "$CTR_B" 3)" = 0 ] || fail "nic b: super-frames were cut for guest b ($CTR_B)"
pass "super-frames: a sent $(gso "$CTR_A" 1), b received $(gso "$CTR_B" 2) whole, 0 cut"

log_has guest-b '^restart: peer back after ' || fail "guest b: a did not come back"
log_has guest-b '^restart: http body: VMLAB-HTTP-OK$' || fail "guest b: HTTP after the restart"
log_has nic-a2 'vhost-user .*: QEMU connected' || fail "QEMU a did not reconnect to the new NIC"
[ "$(grep -ac 'VMLAB: boot ' "$T/a-serial.log")" = 1 ] || fail "guest a rebooted"
pass "nic a killed and restarted under running QEMU a: $(grep -o 'peer back after .*' "$T/guest-b.log")"

# ---- guest c through the launcher: -nic vmfabric,vhost=on -------------------------------
start launcher-c ip netns exec vvh-n env TMPDIR="$T" XDG_RUNTIME_DIR="$T" \
	"$VMF_BUILD/nicproc/vmfabric-qemu" --switch "tcp://127.0.0.1:$PORT" \
	--server-key "$T/keys/switch" --key "$T/keys/c_secret" --network "$NET" -- \
	"$VMLAB/run-guest" --name vvh-c --log "$T/c-serial.log" --timeout 100 --ip 192.168.78.12/24 \
	--env PEER=192.168.78.10 --env THROUGHPUT=0 --env RESTART=0 --script "$HERE/guest-client.sh" \
	--nic "vmfabric,mac=52:54:00:78:00:0c,vhost=on"
C_RUN=$LAST_PID
wait "$C_RUN"; C_RC=$?
[ "$C_RC" = 0 ] || fail "launcher c: rc=$C_RC"
log_has launcher-c 'vhost-user .*/nic0.vhost: QEMU connected' || fail "launcher c: QEMU did not connect over vhost-user"
log_has launcher-c '^peer 192\.168\.78\.10 reachable' || fail "guest c: a not reachable"
log_has launcher-c '^http body: VMLAB-HTTP-OK$' || fail "guest c: wrong HTTP body"
serial_has c 'driver=virtio_net' || fail "guest c: no virtio-net NIC"
! ls -d "$T"/vmfabric-qemu.* >/dev/null 2>&1 || fail "launcher c left its socket directory"
pass "vmfabric-qemu -nic vmfabric,vhost=on: guest c pings a and fetches its page; launcher exits 0, sockets removed"

# ---- QEMU killed: the NIC process waits for the next one ---------------------------------
kill -KILL "$A_QEMU"
wait_for 10 log_has nic-a2 'front-end gone .*waiting for QEMU' || fail "nic a: no 'waiting' after QEMU died"
sleep 0.5
kill -0 "$NIC_A" || fail "nic a exited when QEMU died"
test -S "$T/a.vhost" || fail "nic a no longer listens"
A_QEMU=$(ip netns exec vvh-n "$VMLAB/run-guest" --name vvh-a2 --log "$T/a2-serial.log" \
	--background --timeout 100 --serve --ip 192.168.78.10/24 "${ARGS_A[@]}" 2>>"$T/run-guest-a.log")
[[ "$A_QEMU" =~ ^[0-9]+$ ]] || fail "a new QEMU a did not start: $A_QEMU"
PIDS+=("$A_QEMU")
wait_for 30 ip netns exec vvh-t ping -c 1 -W 1 192.168.78.10 || fail "TAP host cannot reach the new guest a"
[ "$(grep -c 'QEMU connected' "$T/nic-a2.log")" = 2 ] || fail "nic a: the new QEMU did not connect"
pass "QEMU a killed: nic a went back to waiting; a new QEMU a connected and answers the TAP host"

log "figures (TCG guests, vhost-user both ends, CURVE fabric):"
guest_figures guest-b
log "  nic a: $CTR_A"
log "  nic b: $CTR_B"
log "  wall time $(( ($(date +%s%N) - T_START) / 1000000 )) ms"
pass "e2e_vhost"
