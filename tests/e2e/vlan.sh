#!/bin/bash
# vlan.sh - end-to-end 802.1Q (issue 14 part 1) with real QEMU guests (vmlab, TCG, 8021q):
#
#   t1, t2   trunk ports (--port-vlan ...=trunk:10,20): eth0.10 and eth0.20 in the guest
#   a10      access port, VLAN 10 (vmfabric-ctl port ... vlan access 10, set before it joins)
#   a20      access port, VLAN 20 (its key's policy: vlans = "access 20")
#
# t1 and t2 reach each other on both VLANs and t1 reaches a20; a10 reaches both trunk guests
# on VLAN 10, and neither an untagged address of VLAN 20's subnet nor its own eth0.20 (a
# hopping attempt) reaches a20, which is up all along. The switch counts a10's tagged frames.
# Run it under flock /tmp/vmf-heavy.lock (it starts four QEMU guests).

TEST_NAME=e2e_vlan
. "$(dirname "$0")/../lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
VMLAB=$SHARED/vmlab
CTL=$VMF_BUILD/switch/vmfabric-ctl
PORT=7410
NS=vl-e

"$VMLAB/build-guest" >"$T/build-guest.log" 2>&1 || fail "vmlab/build-guest"
netns_add "$NS"
keys t1 t2 a10 a20
sed -i 's/^metadata$/metadata\n    vlans = "access 20"/' "$T/auth/a20"
start switch ip netns exec "$NS" "$SWITCH" -f --listen "tcp://127.0.0.1:$PORT" \
	--key "$T/keys/switch_secret" --authorized "$T/auth" --control "ipc://$T/switch.ctl" \
	--port-vlan vm-t1/eth0=trunk:10,20 --port-vlan vm-t2/eth0=trunk:10,20
wait_for 10 log_has switch "listening on" || fail "switch did not start"
ctl() { "$CTL" --control "ipc://$T/switch.ctl" "$@"; }
ctl port vm-a10/eth0 vlan access 10 >/dev/null || fail "ctl port vm-a10/eth0 vlan access 10"

# guest G MAC BG|FG RUN-GUEST-ARGS...: G's NIC (listening on $T/G.sock), then its QEMU
guest() {
	local g=$1 mac=$2 mode=$3
	shift 3
	start "nic-$g" ip netns exec "$NS" "$NIC" -f --switch "tcp://127.0.0.1:$PORT" \
		--server-key "$T/keys/switch" --key "$T/keys/${g}_secret" --network lab \
		--name "vm-$g/eth0" --stream-listen "unix:$T/$g.sock"
	wait_for 10 test -S "$T/$g.sock" || fail "nic $g is not listening"
	set -- --name "vl-e-$g" --log "$T/$g-serial.log" \
		--netdev "stream,id=n0,server=off,addr.type=unix,addr.path=$T/$g.sock" \
		--device "virtio-net-pci,netdev=n0,mac=$mac" --script "$HERE/vlan-guest.sh" "$@"
	if [ "$mode" = BG ]; then
		local pid
		pid=$(ip netns exec "$NS" "$VMLAB/run-guest" --background --timeout 200 --serve "$@" \
			2>>"$T/run-guest-$g.log")
		[[ "$pid" =~ ^[0-9]+$ ]] || fail "guest $g did not start: $pid"
		PIDS+=("$pid")
	else
		start "guest-$g" ip netns exec "$NS" "$VMLAB/run-guest" --timeout 150 "$@"
	fi
}
serial_has() { grep -aq -- "$2" "$T/$1-serial.log" 2>/dev/null; }

guest a20 52:54:00:74:00:20 BG --ip 192.168.20.1/24
guest t2 52:54:00:74:00:12 BG --env VLANS=10,20 --env ME=12 --env REACH=192.168.10.11,192.168.20.11
guest t1 52:54:00:74:00:11 BG --env VLANS=10,20 --env ME=11 \
	--env REACH=192.168.10.12,192.168.20.12,192.168.20.1
for g in t1 t2; do
	wait_for 120 serial_has "$g" "VMLAB: run end" || fail "guest $g did not finish its script"
done
for a in 192.168.10.12 192.168.20.12 192.168.20.1; do
	serial_has t1 "reach $a: ok" || fail "t1 (trunk) did not reach $a: $(grep -a VMLAB-OUT "$T/t1-serial.log")"
done
for a in 192.168.10.11 192.168.20.11; do
	serial_has t2 "reach $a: ok" || fail "t2 (trunk) did not reach $a"
done
pass "trunk guests reach each other on VLANs 10 and 20 (8021q in the guests), and VLAN 20's access guest"

guest a10 52:54:00:74:00:10 FG --ip 192.168.10.1/24 --env REACH=192.168.10.11,192.168.10.12 --env OTHER=20
wait "$LAST_PID" || fail "guest a10: run-guest failed: $(tail -5 "$T/guest-a10.log")"
for a in 192.168.10.11 192.168.10.12; do
	log_has guest-a10 "reach $a: ok" || fail "a10 (access 10) did not reach $a: $(cat "$T/guest-a10.log")"
done
pass "the VLAN 10 access guest reaches both trunk guests' eth0.10"
log_has guest-a10 "^untagged to VLAN 20: isolated" || fail "a10 reached VLAN 20 untagged: $(cat "$T/guest-a10.log")"
log_has guest-a10 "^tagged to VLAN 20: isolated" || fail "a10 hopped to VLAN 20 with eth0.20: $(cat "$T/guest-a10.log")"
ctl --json ports >"$T/ports.json" || fail "ctl ports"
tagged=$(python3 -c "import json
for p in json.load(open('$T/ports.json'))['ports']:
    if p['name'] == 'vm-a10/eth0': print(p['drops']['vlan_tagged_on_access'], p['vlan']['source'])")
[ "${tagged% *}" -gt 0 ] || fail "a10's tagged frames were not counted: $tagged"
[ "${tagged#* }" = ctl ] || fail "a10's setting does not come from ctl: $tagged"
pass "isolation: a10 cannot reach VLAN 20 untagged nor through eth0.20 (${tagged% *} tagged frames dropped)"
