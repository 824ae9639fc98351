#!/bin/bash
# systemd.sh - the units of an install prefix pass `systemd-analyze verify` (their ExecStart=
# binaries exist, every directive is known; the templates as instances, the NIC also with its
# netns drop-in), carry the hardening the README promises, and score well in
# `systemd-analyze security --offline`. Then the capability sets of the units are tried for
# real with setpriv: a switch with no capability and TAP NIC processes with CAP_NET_ADMIN alone
# carry a ping; a NIC whose TAP is in another namespace (--netns) fails without CAP_SYS_ADMIN
# and works with it, as the drop-in says.
TEST_NAME=deploy_systemd
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"

command -v systemd-analyze >/dev/null || EXTRA_PKGS=systemd "$VMF_ROOT/deploy/install-deps.sh"
command -v setpriv >/dev/null || fail "setpriv (util-linux) missing"
P=$T/prefix
cmake --install "$VMF_BUILD" --prefix "$P" >"$T/install.log" 2>&1 || fail "cmake --install"
U=$P/lib/systemd/system
export MANPATH=$P/share/man	# Documentation=man:... is checked too

verify() {	# verify UNIT...: no output and status 0
	SYSTEMD_UNIT_PATH="$U:" systemd-analyze verify "$@" >"$T/verify.log" 2>&1 ||
		fail "verify $*: $(cat "$T/verify.log")"
	[ ! -s "$T/verify.log" ] || fail "verify $*: $(cat "$T/verify.log")"
}
verify "$U/vmfabric-switch.service"
verify vmfabric-nic@vm1.service vmfabric-gateway@lab.service
mkdir -p "$U/vmfabric-nic@ns1.service.d"
cp "$P/share/vmfabric/systemd/vmfabric-nic-netns.conf" "$U/vmfabric-nic@ns1.service.d/netns.conf"
verify vmfabric-nic@ns1.service
# the check itself must catch a wrong binary path
sed "s|$P/bin/vmfabric-switch|$P/bin/vmfabric-nonexistent|" "$U/vmfabric-switch.service" >"$T/bad.service"
systemd-analyze verify "$T/bad.service" >/dev/null 2>&1 && fail "verify accepted a missing ExecStart binary"
pass "systemd-analyze verify: switch, nic@vm1, gateway@lab, nic@ns1 with the netns drop-in"

has() { grep -qx -- "$2" "$U/$1" || fail "$1 lacks '$2'"; }
for u in vmfabric-switch.service vmfabric-nic@.service vmfabric-gateway@.service; do
	for d in Type=exec NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes \
		ConfigurationDirectory=vmfabric RestrictSUIDSGID=yes MemoryDenyWriteExecute=yes; do
		has $u "$d"
	done
	grep -q "^ExecStart=$P/bin/vmfabric-[a-z]* -f -c /etc/vmfabric/" "$U/$u" || fail "$u: ExecStart without -f -c"
done
has vmfabric-switch.service CapabilityBoundingSet=
has vmfabric-switch.service RuntimeDirectory=vmfabric
has vmfabric-switch.service StateDirectory=vmfabric
has vmfabric-gateway@.service CapabilityBoundingSet=
has vmfabric-gateway@.service StateDirectory=vmfabric
has vmfabric-nic@.service CapabilityBoundingSet=CAP_NET_ADMIN
has vmfabric-nic@.service "DeviceAllow=/dev/net/tun rw"
for u in vmfabric-switch.service vmfabric-nic@vm1.service vmfabric-gateway@lab.service; do
	lvl=$(SYSTEMD_UNIT_PATH="$U:" systemd-analyze security --offline=true --no-pager "$u" 2>/dev/null |
		sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	[ -n "$lvl" ] || fail "no exposure level for $u"
	awk -v l="$lvl" 'BEGIN { exit !(l <= 3.0) }' || fail "$u: exposure $lvl > 3.0"
	log "$u: exposure level $lvl"
done
pass "hardening: -f with Type=exec, NoNewPrivileges, ProtectSystem=strict, minimal capability sets"

for bc in switch:switch.conf nic:nic/vm1.conf gateway:gateway/lab.conf; do
	b=vmfabric-${bc%%:*} c=${bc#*:}
	"$P/bin/$b" -c "$P/share/vmfabric/examples/$c" -n >"$T/check.log" 2>&1 || fail "$b -n -c $c: $(cat "$T/check.log")"
done
pass "example configurations parse (-c FILE -n)"

# --- the capability sets, for real (setpriv: bounding set as in the unit, no new privileges) ---
keys h1 h2 h3
netns_add vfd-sd-sw; netns_add vfd-sd-h1; netns_add vfd-sd-h2; netns_add vfd-sd-h3
veth_link vfd-sd-sw s1 10.232.1.1/24 vfd-sd-h1 uplink 10.232.1.2/24
veth_link vfd-sd-sw s2 10.232.2.1/24 vfd-sd-h2 uplink 10.232.2.2/24
start switch ip netns exec vfd-sd-sw setpriv --no-new-privs --inh-caps=-all --bounding-set=-all -- \
	"$P/bin/vmfabric-switch" -f --listen tcp://0.0.0.0:7790 --key "$T/keys/switch_secret" \
	--authorized "$T/auth" --control "ipc://$T/switch.ctl"
SW=$LAST_PID
wait_for 5 log_has switch listening || fail "switch with no capability did not start"
grep -q CapEff:.0000000000000000 "/proc/$SW/status" || fail "switch has capabilities: $(grep Cap "/proc/$SW/status")"
for i in 1 2; do
	start nic$i ip netns exec vfd-sd-h$i setpriv --no-new-privs --inh-caps=-all --bounding-set=-all,+net_admin -- \
		"$P/bin/vmfabric-nic" -f --switch tcp://10.232.$i.1:7790 --server-key "$T/keys/switch" \
		--key "$T/keys/h${i}_secret" --network sd --name h$i --tap tap0
done
for i in 1 2; do
	wait_for 10 ip -n vfd-sd-h$i link show tap0 || fail "nic$i with CAP_NET_ADMIN alone made no TAP"
	ip -n vfd-sd-h$i addr add 10.232.9.$i/24 dev tap0
done
wait_for 10 log_has nic1 joined || fail "nic1 did not join"
wait_for 10 log_has nic2 joined || fail "nic2 did not join"
ip netns exec vfd-sd-h1 ping -c 2 -W 2 10.232.9.2 >"$T/ping.log" 2>&1 || fail "no ping h1 -> h2"
pass "switch with no capability, TAP NICs with CAP_NET_ADMIN only: ping through the fabric"

# --netns: the NIC runs in the switch's namespace and puts its TAP into vfd-sd-h3
start nic3a ip netns exec vfd-sd-sw setpriv --no-new-privs --inh-caps=-all --bounding-set=-all,+net_admin -- \
	"$P/bin/vmfabric-nic" -f --switch tcp://127.0.0.1:7790 --server-key "$T/keys/switch" \
	--key "$T/keys/h3_secret" --network sd --name h3 --tap tap0 --netns vfd-sd-h3
wait_for 5 bash -c "! kill -0 $LAST_PID" || fail "NIC with --netns ran without CAP_SYS_ADMIN"
ip -n vfd-sd-h3 link show tap0 >/dev/null 2>&1 && fail "a TAP appeared in vfd-sd-h3 without CAP_SYS_ADMIN"
start nic3 ip netns exec vfd-sd-sw setpriv --no-new-privs --inh-caps=-all --bounding-set=-all,+net_admin,+sys_admin -- \
	"$P/bin/vmfabric-nic" -f --switch tcp://127.0.0.1:7790 --server-key "$T/keys/switch" \
	--key "$T/keys/h3_secret" --network sd --name h3 --tap tap0 --netns vfd-sd-h3
wait_for 10 ip -n vfd-sd-h3 link show tap0 || fail "NIC with CAP_NET_ADMIN+CAP_SYS_ADMIN made no TAP in vfd-sd-h3"
ip -n vfd-sd-h3 addr add 10.232.9.3/24 dev tap0
wait_for 10 log_has nic3 joined || fail "nic3 did not join"
ip netns exec vfd-sd-h1 ping -c 2 -W 2 10.232.9.3 >>"$T/ping.log" 2>&1 || fail "no ping h1 -> h3"
pass "--netns needs CAP_SYS_ADMIN: refused without it ($(grep -m1 -o 'error: .*' "$T/nic3a.log")), works with it"
