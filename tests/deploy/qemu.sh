#!/bin/bash
# qemu.sh - a QEMU guest in a container on the compose lab: deploy/compose/lab.yml + qemu.yml,
# the `vm` container (Dockerfile target qemu, no capability) runs vmfabric-qemu around
# qemu-system-x86_64 (TCG) booting the vmlab guest (../shared/vmlab) with -nic vmfabric. The
# guest gets its address from the gateway by DHCP and serves HTTP; alpha pings it and beta (on
# another compose network than the vm container) fetches its page over the fabric. Then nothing
# is left behind.
TEST_NAME=deploy_compose_qemu
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=deploy-lib.sh
. "$(dirname "$0")/deploy-lib.sh"

[ -x "$VMF_BUILD/nicproc/vmfabric-qemu" ] || fail "vmfabric-qemu not built"
"$SHARED/vmlab/build-guest" >"$T/build-guest.env" 2>"$T/build-guest.log" || fail "vmlab/build-guest"
# shellcheck disable=SC1090
. <(grep -E '^VMLAB_(KERNEL|INITRD)=' "$T/build-guest.env")
mkdir -p "$T/guest"
cp "$VMLAB_KERNEL" "$T/guest/vmlinuz"; cp "$VMLAB_INITRD" "$T/guest/initrd"

engine_start
image_build
image_build qemu localhost/vmfabric-test-qemu:latest
C=$VMF_ROOT/deploy/compose
P=vfd-test-qemu
export VMF_QEMU_IMAGE=localhost/vmfabric-test-qemu:latest VMF_GUEST=$T/guest
export VMF_GUEST_APPEND="console=ttyS0 quiet panic=-1 vmlab.name=vm vmlab.dhcp=1 vmlab.serve=1"
project $P -f "$C/lab.yml" -f "$C/qemu.yml" -f "$VMF_ROOT/tests/deploy/lab-test.yml"
[ -n "$(leftovers $P)" ] && down $P

dc $P up -d --no-build >"$T/compose-$P.log" 2>&1 || fail "up: $(tail -5 "$T/compose-$P.log")"
wait_for 60 healthy $P alpha || fail "alpha not healthy"
serial() { dc $P logs --no-color vm 2>&1 | tr -d '\r' >"$T/vm.log"; grep -q "$1" "$T/vm.log"; }
wait_for 120 serial "VMLAB: serve" || fail "the guest did not come up: $(tail -20 "$T/vm.log")"
VM=$(sed -n 's/.*VMLAB: dhcp-lease iface=eth0 ip=\([0-9.]*\)\/.*/\1/p' "$T/vm.log" | head -1)
case "$VM" in 10.0.2.*) ;; *) fail "guest lease: '$VM'" ;; esac
grep -q "mac=52:54:00:fa:b0:01" "$T/vm.log" || fail "guest NIC MAC not as given to -nic vmfabric"
pass "QEMU guest in container vm (no capability) booted, DHCP from the gateway: $VM"

A=$(fabric_addr $P alpha)
cx $P alpha busybox ping -c 3 -W 2 "$VM" >"$T/ping.log" 2>&1 || fail "alpha cannot ping the guest $VM"
[ "$(http $P beta "http://$VM/vmlab.txt")" = VMLAB-HTTP-OK ] || fail "beta cannot fetch the guest's page"
pass "QEMU guest ($VM) over the fabric: alpha ($A) pings it, beta (compose network site-b, vm is on site-a) fetches its page"

cx $P switch vmfabric-ctl ports --json >"$T/ports.json" || fail "ports"
json '" ".join(sorted(p["name"] for p in d["ports"]))' <"$T/ports.json" | grep -q "vm/eth0" ||
	fail "no vm/eth0 port: $(cat "$T/ports.json")"
pass "the switch has port vm/eth0 (vmfabric-qemu's NIC process)"

down $P || fail "down: $(tail -5 "$T/compose-$P.log")"
left=$(leftovers $P)
[ -z "$left" ] || fail "left behind: $left"
pass "down -v: no container, network or volume of $P left"
