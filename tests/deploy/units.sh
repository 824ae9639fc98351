#!/bin/bash
# units.sh - the systemd units for real: a container from the vmfabric image (the .deb installed)
# plus systemd boots systemd as PID 1; keys and configurations are made as the README says, and
# vmfabric-switch, vmfabric-nic@vm1, vmfabric-nic@vm2 and vmfabric-gateway@lab start under their
# full hardening. The NICs' TAPs exist, every port is on the switch (vmfabric-ctl over
# /run/vmfabric/switch.ctl), a DHCP client on tap-vm1 gets its lease from the gateway unit, the
# switch runs with no capability, and `systemctl reload` after removing a key drops that port.
TEST_NAME=deploy_systemd_boot
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=deploy-lib.sh
. "$(dirname "$0")/deploy-lib.sh"

engine_start
image_build
IMG=localhost/vmfabric-test-systemd:latest
mkdir -p "$T/sd"
printf 'FROM %s\nRUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends systemd && rm -rf /var/lib/apt/lists/*\n' \
	"$VMF_TEST_IMAGE" >"$T/sd/Dockerfile"
podman build -q -t "$IMG" "$T/sd" >"$T/sd-image.log" 2>&1 || fail "systemd image: $(tail -5 "$T/sd-image.log")"
C=vfd-test-systemd-$$
trap 'podman rm -f "$C" >/dev/null 2>&1; podman rmi "$IMG" >/dev/null 2>&1; deploy_cleanup' EXIT
podman run -d --name "$C" --network none --systemd=always --cap-add NET_ADMIN --device /dev/net/tun \
	"$IMG" /lib/systemd/systemd >/dev/null || fail "cannot boot systemd in a container"
sx() { podman exec -i "$C" "$@"; }
booted() { case "$(sx systemctl is-system-running 2>/dev/null)" in running|degraded) return 0 ;; esac; return 1; }
wait_for 30 booted || fail "systemd did not boot: $(podman logs "$C" 2>&1 | tail -5)"
sx bash -e >"$T/setup.log" 2>&1 <<'IN' || fail "setup: $(cat "$T/setup.log")"
mkdir -p /etc/vmfabric/authorized /etc/vmfabric/nic /etc/vmfabric/gateway
for k in switch vm1 vm2 gateway-lab; do vmfabric-key generate /etc/vmfabric/$k >/dev/null; done
cp /etc/vmfabric/vm1 /etc/vmfabric/vm2 /etc/vmfabric/gateway-lab /etc/vmfabric/authorized/
cp /usr/share/vmfabric/examples/switch.conf /etc/vmfabric/
cp /usr/share/vmfabric/examples/nic/vm1.conf /etc/vmfabric/nic/
sed 's/vm1/vm2/g' /usr/share/vmfabric/examples/nic/vm1.conf >/etc/vmfabric/nic/vm2.conf
cp /usr/share/vmfabric/examples/gateway/lab.conf /etc/vmfabric/gateway/
systemctl start vmfabric-switch
systemctl start vmfabric-nic@vm1 vmfabric-nic@vm2 vmfabric-gateway@lab
IN
ports() { sx vmfabric-ctl ports --json | json '" ".join(sorted(p["name"] for p in d["ports"]))'; }
all_in() { [ "$(ports)" = "gateway/lab vm1/eth0 vm2/eth0" ]; }
wait_for 15 all_in || fail "ports: '$(ports)'; $(sx systemctl --no-pager status 'vmfabric*' 2>&1 | tail -30)"
for u in vmfabric-switch vmfabric-nic@vm1 vmfabric-nic@vm2 vmfabric-gateway@lab; do
	[ "$(sx systemctl is-active $u)" = active ] || fail "$u: $(sx journalctl --no-pager -u $u | tail -5)"
done
for t in tap-vm1 tap-vm2; do sx ip link show $t >/dev/null || fail "no TAP device $t"; done
pass "switch, nic@vm1, nic@vm2, gateway@lab active under their units; TAPs up; 3 ports on the switch"

pid=$(sx systemctl show -p MainPID --value vmfabric-switch)
sx grep -q 'CapEff:.0000000000000000' "/proc/$pid/status" || fail "the switch has capabilities"
pid=$(sx systemctl show -p MainPID --value vmfabric-nic@vm1)
# CAP_NET_ADMIN at most (the NIC process may drop even that once its TAP is open)
sx grep -Eq 'CapBnd:\s+(0000000000000000|0000000000001000)$' "/proc/$pid/status" || fail "nic@vm1 bounding set is more than CAP_NET_ADMIN"
sx test -S /run/vmfabric/switch.ctl || fail "no /run/vmfabric/switch.ctl"
pass "the switch runs with no capability, the NIC with CAP_NET_ADMIN at most; control socket in /run/vmfabric"

sx busybox udhcpc -q -n -t 5 -T 1 -i tap-vm1 -s /usr/share/vmfabric/container/udhcpc.script >"$T/dhcp.log" 2>&1 ||
	fail "no DHCP lease on tap-vm1: $(cat "$T/dhcp.log")"
grep -q "lease of 10.0.2.15 obtained" "$T/dhcp.log" || fail "lease: $(cat "$T/dhcp.log")"
sx test -s /var/lib/vmfabric/lab.leases || fail "gateway@lab wrote no lease file in its StateDirectory"
pass "DHCP through the fabric from the gateway unit: $(grep -o 'lease of [0-9.]* obtained' "$T/dhcp.log"); lease file in /var/lib/vmfabric"

sx rm /etc/vmfabric/authorized/vm2
sx systemctl reload vmfabric-switch || fail "systemctl reload: $(sx journalctl --no-pager -u vmfabric-switch | tail -5)"
no_vm2() { [ "$(ports)" = "gateway/lab vm1/eth0" ]; }
wait_for 10 no_vm2 || fail "vm2 still on the switch after reload: $(ports)"
pass "systemctl reload (SIGHUP): the removed key's port is gone"
