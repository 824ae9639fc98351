#!/bin/bash
# tree.sh - two QEMU guests (vmlab, TCG) on two sites of a switch tree whose root is an HA pair:
# root A, and B a child of A; site switches S1 and S2 list A then B as their uplinks; guest a is
# on S1, guest b on S2, each through vmfabric-qemu. While b downloads a's big.bin (64 MiB), A is
# killed with SIGKILL: both sites move their trunks to B (which becomes the root), and the
# download completes with every byte; no QEMU, NIC process or site switch restarts.
TEST_NAME=e2e_tree
. "$(dirname "$0")/../lib.sh"
VMLAB=$SHARED/vmlab
QL=$VMF_BUILD/nicproc/vmfabric-qemu
PORT=7920
MAC_A=52:54:00:78:00:0a
MAC_B=52:54:00:78:00:0b
BIG=$((64 * 1024 * 1024))

[ -x "$QL" ] || fail "build first: $QL missing"
"$VMLAB/build-guest" >"$T/build-guest.log" 2>&1 || fail "vmlab/build-guest"
keys a b rootb s1 s2
for k in rootb s1 s2; do sed -i 's/^metadata$/metadata\n    trunk = "yes"/' "$T/auth/$k"; done
netns_add vfx-sw
netns_add vfx-a
netns_add vfx-b
veth_link vfx-sw vfxsa 10.78.1.1/24 vfx-a vfxa0 10.78.1.2/24
veth_link vfx-sw vfxsb 10.78.2.1/24 vfx-b vfxb0 10.78.2.2/24

# sw NAME PORT [args]: a switch in vfx-sw
sw() {
	local name=$1 port=$2; shift 2
	start "$name" ip netns exec vfx-sw "$SWITCH" -f --listen "tcp://0.0.0.0:$port" --switch-id "$name" \
		--key "$T/keys/switch_secret" --authorized "$T/auth" --control "ipc://$T/$name.ctl" "$@"
	wait_for 5 log_has "$name" "listening on" || fail "switch $name did not start"
}
roots() { echo --uplink "tcp://127.0.0.1:$PORT,tcp://127.0.0.1:$((PORT + 1))" --uplink-server-key "$T/keys/switch"; }
sw A $PORT
A=$LAST_PID
# shellcheck disable=SC2046
sw B $((PORT + 1)) --uplink "tcp://127.0.0.1:$PORT" --uplink-server-key "$T/keys/switch" --uplink-key "$T/keys/rootb_secret"
# shellcheck disable=SC2046
sw S1 $((PORT + 2)) $(roots) --uplink-key "$T/keys/s1_secret"
S1=$LAST_PID
# shellcheck disable=SC2046
sw S2 $((PORT + 3)) $(roots) --uplink-key "$T/keys/s2_secret"
S2=$LAST_PID
for s in B S1 S2; do wait_for 10 log_has $s "joined parent switch A" || fail "$s did not join A"; done

# guests: a serves big.bin on S1, b downloads it on S2
start launcher-a ip netns exec vfx-a "$QL" --switch "tcp://10.78.1.1:$((PORT + 2))" --server-key "$T/keys/switch" \
	--key "$T/keys/a_secret" --network lab -- "$VMLAB/run-guest" --name vfx-a --log "$T/a-serial.log" \
	--timeout 200 --mem 256 --serve --cmdline-extra vmlab.bigmb=64 --ip 192.168.78.10/24 --nic "vmfabric,mac=$MAC_A"
LA=$LAST_PID
start launcher-b ip netns exec vfx-b "$QL" --switch "tcp://10.78.2.1:$((PORT + 3))" --server-key "$T/keys/switch" \
	--key "$T/keys/b_secret" --network lab -- "$VMLAB/run-guest" --name vfx-b --log "$T/b-serial.log" \
	--timeout 200 --mem 256 --ip 192.168.78.11/24 --env PEER=192.168.78.10 \
	--script "$(dirname "$0")/tree-guest.sh" --nic "vmfabric,mac=$MAC_B"
LB=$LAST_PID
serial_has() { grep -aq -- "$2" "$T/$1-serial.log" 2>/dev/null; }
wait_for 90 serial_has b 'download: start' || { grep -a VMLAB-OUT "$T/b-serial.log"; fail "guest b did not reach a"; }
sleep 0.3
log "kill -9 the root A while b downloads"
kill -9 "$A"; wait "$A" 2>/dev/null
finish "$LB" 120 || fail "guest b did not finish within 120 s"
grep -v '^[0-9.]* vmfabric-' "$T/launcher-b.log"
[ "$RC" = 0 ] || fail "guest b: rc $RC"
log_has launcher-b "^download: done $BIG bytes$" || fail "the download did not complete whole"
for s in S1 S2; do log_has $s "joined parent switch B" || fail "$s did not move its trunk to B"; done
log_has B "lost the parent switch" || fail "B did not become the root"
kill -0 "$S1" && kill -0 "$S2" && kill -0 "$LA" || fail "a site switch or guest a's launcher died"
[ "$(grep -ac 'VMLAB: boot ' "$T/a-serial.log")" = 1 ] || fail "guest a rebooted"
! log_has launcher-a 'restart 1 in' || fail "a NIC process of guest a restarted"
pass "root A killed under a 64 MiB download between sites: S1 and S2 moved to B, the download completed whole"
kill -TERM "$LA"
pass "e2e_tree"
