#!/bin/bash
# ovs.sh - a vmfabric switch uplinked into an Open vSwitch bridge (userspace
# datapath, datapath_type=netdev) by `vmfabric-nic --ovs-bridge`: a host
# behind OVS pings a vmfabric host through the uplink and runs iperf3 both
# ways (the uplink's offloads are off: with them on, TCP through the userspace
# datapath stalls), both sides learn each other's MACs, and a restarted uplink
# NIC replaces its stale OVS port record.
# ovsdb-server and ovs-vswitchd run from the test's own db, run and log dir
# (no kernel module, no system OVS touched) and are stopped by PID at exit.
TEST_NAME=fabric_ovs
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/site.sh"

O=$FAB-o PORT=7853
MH=02:77:00:00:03:01 MO=02:77:00:00:03:02
export OVS_RUNDIR=$T/ovs OVS_DBDIR=$T/ovs OVS_LOGDIR=$T/ovs
[ -x /usr/sbin/ovs-vswitchd ] || EXTRA_PKGS="openvswitch-switch" "$VMF_ROOT/deploy/install-deps.sh" >/dev/null ||
	fail "cannot install openvswitch-switch"
command -v ethtool >/dev/null || EXTRA_PKGS="ethtool" "$VMF_ROOT/deploy/install-deps.sh" >/dev/null ||
	fail "cannot install ethtool"
[ -x /usr/sbin/ovs-vswitchd ] || fail "openvswitch-switch missing"
vsctl() { ovs-vsctl --timeout=20 "$@"; }

keys ho1 uplink-o
sed '/^metadata$/a\    max-macs = "4096"' "$T/keys/uplink-o" >"$T/auth/uplink-o"
fab_ns "$O"
fab_ns "$O-h"
fab_ns "$O-1"

# --- OVS in $O: private database, userspace datapath ------------------------------
mkdir -p "$OVS_RUNDIR"
ovsdb-tool create "$T/ovs/conf.db" /usr/share/openvswitch/vswitch.ovsschema || fail "ovsdb-tool create"
start ovsdb ovsdb-server "$T/ovs/conf.db" --remote="punix:$T/ovs/db.sock" \
	--pidfile="$T/ovs/ovsdb-server.pid" --unixctl="$T/ovs/ovsdb-server.ctl"
wait_for 10 test -S "$T/ovs/db.sock" || fail "ovsdb-server did not start"
vsctl --no-wait init || fail "ovs-vsctl init"
start vswitchd ip netns exec "$O" ovs-vswitchd "unix:$T/ovs/db.sock" \
	--pidfile="$T/ovs/ovs-vswitchd.pid" --unixctl="$T/ovs/ovs-vswitchd.ctl"
wait_for 10 test -S "$T/ovs/ovs-vswitchd.ctl" || fail "ovs-vswitchd did not start"
vsctl add-br br0 -- set bridge br0 datapath_type=netdev || fail "ovs-vsctl add-br br0 (netdev)"
ip -n "$O" link set br0 up
# the host behind OVS: a veth whose other end is a port of br0
veth_link "$O-h" eth0 10.77.3.2/24 "$O" ovh 10.255.255.1/32
ip -n "$O" addr flush dev ovh
ip -n "$O-h" link set eth0 address "$MO"
# the userspace datapath reads and writes the veth through AF_PACKET: no checksum offload there
ip netns exec "$O-h" ethtool -K eth0 tx off >/dev/null || fail "ethtool -K eth0 tx off"
ip netns exec "$O" ethtool -K ovh tx off >/dev/null || fail "ethtool -K ovh tx off"
vsctl add-port br0 ovh || fail "ovs-vsctl add-port br0 ovh"
pass "OVS: ovsdb-server + ovs-vswitchd (userspace datapath), bridge br0 with host $MO"

# --- vmfabric in $O: switch, a host, the uplink into br0 ------------------------------
start sw ip netns exec "$O" "$SWITCH" -f --listen "tcp://127.0.0.1:$PORT" --key "$T/keys/switch_secret" \
	--authorized "$T/auth" --control "ipc://$T/sw.ctl"
wait_for 5 log_has sw "listening on" || fail "switch did not start"
onic() {
	local name=$1 key=$2; shift 2
	start "$name" ip netns exec "$O" "$NIC" -f --switch "tcp://127.0.0.1:$PORT" --server-key "$T/keys/switch" \
		--key "$T/keys/${key}_secret" --network lab --name "o/$name" "$@"
	wait_for 5 log_has "$name" "joined network" || fail "$name did not join"
}
onic ho1 ho1 --tap tap0 --netns "$O-1"
ip -n "$O-1" link set tap0 address "$MH"
ip -n "$O-1" addr add 10.77.3.1/24 dev tap0
ip -n "$O-1" link set tap0 up
onic uplink uplink-o --tap vmf0 --ovs-bridge br0
UPLINK=$LAST_PID
log_has uplink "offloads on" && fail "the OVS uplink kept TAP offloads on"
vsctl list-ports br0 | grep -qx vmf0 || fail "vmf0 is not a port of br0: $(vsctl list-ports br0)"
pass "uplink: vmf0 added to br0 by vmfabric-nic --ovs-bridge (offloads off)"

# --- 1. the host behind OVS reaches the vmfabric host -----------------------------
wait_for 20 ip netns exec "$O-h" ping -q -n -c 1 -W 1 10.77.3.1 || fail "OVS host cannot reach the vmfabric host"
ip netns exec "$O-h" ping -q -n -c 10 -i 0.1 -W 1 10.77.3.1 >"$T/ping.out" 2>&1 ||
	fail "pings lost: $(tail -n 2 "$T/ping.out")"
pass "OVS host -> vmfabric host: 10 of 10 pings answered"
ovs-appctl -t "$T/ovs/ovs-vswitchd.ctl" fdb/show br0 >"$T/fdb.txt" || fail "ovs-appctl fdb/show"
VMF0_OFPORT=$(vsctl get interface vmf0 ofport)
grep -Eq "^ +$VMF0_OFPORT +0 +$MH " "$T/fdb.txt" || fail "OVS fdb: $MH not behind vmf0 (ofport $VMF0_OFPORT): $(cat "$T/fdb.txt")"
"$CTL" --control "ipc://$T/sw.ctl" macs >"$T/macs.txt" || fail "vmfabric-ctl macs"
grep -q "$MO .*o/uplink" "$T/macs.txt" || fail "vmfabric-ctl macs: $MO not behind o/uplink: $(cat "$T/macs.txt")"
pass "OVS learnt $MH behind vmf0; vmfabric-ctl macs shows $MO behind o/uplink"

# TCP both ways: the uplink's frames are plain (no super-frames the datapath cannot take)
start iperf-h ip netns exec "$O-h" iperf3 -s -1 -p 7855
wait_for 5 sh -c "ip netns exec $O-h ss -ltn 'sport = :7855' | grep -q LISTEN" || fail "iperf3 server"
ip netns exec "$O-1" timeout 20 iperf3 -c 10.77.3.2 -p 7855 -t 2 -J >"$T/iperf.json" 2>&1 ||
	fail "iperf3 vmfabric host -> OVS host: $(tail -n 5 "$T/iperf.json")"
BPS=$(json 'int(d["end"]["sum_received"]["bits_per_second"])' <"$T/iperf.json")
[ "$BPS" -gt 0 ] || fail "iperf3 vmfabric host -> OVS host moved nothing"
start iperf-1 ip netns exec "$O-1" iperf3 -s -1 -p 7856
wait_for 5 sh -c "ip netns exec $O-1 ss -ltn 'sport = :7856' | grep -q LISTEN" || fail "iperf3 server"
ip netns exec "$O-h" timeout 20 iperf3 -c 10.77.3.1 -p 7856 -t 2 -J >"$T/iperf2.json" 2>&1 ||
	fail "iperf3 OVS host -> vmfabric host: $(tail -n 5 "$T/iperf2.json")"
BPS2=$(json 'int(d["end"]["sum_received"]["bits_per_second"])' <"$T/iperf2.json")
[ "$BPS2" -gt 0 ] || fail "iperf3 OVS host -> vmfabric host moved nothing"
pass "iperf3 through the OVS uplink: $(( BPS / 1000000 )) Mbit/s to the OVS host, $(( BPS2 / 1000000 )) Mbit/s back"

# --- 2. a restarted uplink replaces its OVS port record -----------------------------
stop "$UPLINK"
wait_for 5 sh -c "! ip -n $O link show vmf0" || fail "vmf0 outlived its NIC process"
vsctl list-ports br0 | grep -qx vmf0 || fail "the stale port record is gone already (expected kept until restart)"
onic uplink2 uplink-o --tap vmf0 --ovs-bridge br0
[ "$(vsctl list-ports br0 | grep -cx vmf0)" = 1 ] || fail "br0 ports after restart: $(vsctl list-ports br0)"
wait_for 20 ip netns exec "$O-h" ping -q -n -c 1 -W 1 10.77.3.1 || fail "no path after the uplink restarted"
pass "uplink restarted: one vmf0 port in br0, the path is back"

# --- 3. what --ovs-bridge refuses -----------------------------------------------------
ip netns exec "$O" "$NIC" --insecure --switch tcp://127.0.0.1:7869 --network lab --name x --tap vmf9 \
	--ovs-bridge nobr0 >"$T/refused.log" 2>&1 && fail "--ovs-bridge nobr0 started"
grep -q -- "--ovs-bridge nobr0: ovs-vsctl add-port nobr0 vmf9 failed" "$T/refused.log" || fail "--ovs-bridge nobr0: $(cat "$T/refused.log")"
ip netns exec "$O" "$NIC" --insecure --switch tcp://127.0.0.1:7869 --network lab --name x --tap vmf9 \
	--ovs-bridge br0 --bridge br0 >"$T/refused.log" 2>&1 && fail "--ovs-bridge with --bridge started"
grep -q -- "give --bridge or --ovs-bridge, not both" "$T/refused.log" || fail "both bridges: $(cat "$T/refused.log")"
pass "--ovs-bridge refuses a missing OVS bridge, and --bridge with it"
