#!/bin/bash
# evpn.sh - two vmfabric sites joined through VXLAN + BGP EVPN (FRR), each
# site's switch uplinked into the site's Linux bridge by `vmfabric-nic --bridge`.
# Hosts on site A reach hosts on site B (ping, iperf3); the guests' MACs are
# EVPN type-2 routes on the other site and bridge fdb entries towards the
# remote VTEP; the uplink port carries the MACs of the bridge's side, as many
# as its key's max-macs policy allows (300 here, more than the default limit).
TEST_NAME=fabric_evpn
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/site.sh"

MA1=02:77:00:00:01:01 MB1=02:77:00:00:02:01
NMACS=300

fab_two_sites ha1 hb1
fab_host a 1
fab_host b 1
pass "two sites: switch, uplink in br100 (MTU $FAB_MTU), FRR iBGP EVPN session up"

# --- 1. reachability across the EVPN fabric -----------------------------------
wait_for 30 ip netns exec "$FAB-a1" ping -q -n -c 1 -W 1 10.77.0.21 ||
	fail "host a1 cannot reach host b1 across EVPN"
ip netns exec "$FAB-a1" ping -q -n -c 10 -i 0.1 -W 1 10.77.0.21 >"$T/ping.out" 2>&1 ||
	fail "pings a1 -> b1 lost: $(tail -n 2 "$T/ping.out")"
pass "a1 -> b1: 10 of 10 pings answered across VXLAN"
# full-size frames: 1422 + 8 (ICMP) + 20 (IP) = 1450, the overlay MTU, unfragmented
ip netns exec "$FAB-a1" ping -q -n -c 3 -i 0.2 -W 1 -s 1422 -M do 10.77.0.21 >"$T/ping.out" 2>&1 ||
	fail "1450-byte packets a1 -> b1 lost: $(tail -n 2 "$T/ping.out")"
pass "a1 -> b1: 1450-byte packets (the overlay MTU) cross unfragmented"

# --- 2. the control plane saw the guests ---------------------------------------
wait_for 10 fab_evpn_mac b "$MA1" 10.78.0.1 || fail "site b: $MA1 not a remote EVPN MAC behind 10.78.0.1: $(cat "$T/evpn-mac.json")"
wait_for 10 fab_evpn_mac a "$MB1" 10.78.0.2 || fail "site a: $MB1 not a remote EVPN MAC behind 10.78.0.2: $(cat "$T/evpn-mac.json")"
vty b "show evpn mac vni $FAB_VNI" >"$T/evpn-b.txt"
grep -Eq "^$MA1 +remote +10\.78\.0\.1" "$T/evpn-b.txt" || fail "show evpn mac vni $FAB_VNI on b: $(cat "$T/evpn-b.txt")"
vty b "show bgp l2vpn evpn route type macip" >"$T/type2-b.txt"
grep -q "\[2\]:\[0\]:\[48\]:\[$MA1\]" "$T/type2-b.txt" || fail "no type-2 route for $MA1 on b: $(cat "$T/type2-b.txt")"
pass "type-2 routes: $MA1 remote on b behind 10.78.0.1, $MB1 remote on a behind 10.78.0.2"
fab_fdb_remote b "$MA1" 10.78.0.1 || fail "bridge fdb on b: $(cat "$T/fdb-b.txt")"
fab_fdb_remote a "$MB1" 10.78.0.2 || fail "bridge fdb on a: $(cat "$T/fdb-a.txt")"
pass "bridge fdb: the remote guests' MACs sit on vxlan100 with the remote VTEP"

# --- 3. iperf3 across the sites ------------------------------------------------
start iperf-b1 ip netns exec "$FAB-b1" iperf3 -s -1 -p 7852
wait_for 5 sh -c "ip netns exec $FAB-b1 ss -ltn 'sport = :7852' | grep -q LISTEN" || fail "iperf3 server"
ip netns exec "$FAB-a1" iperf3 -c 10.77.0.21 -p 7852 -t 2 -J >"$T/iperf.json" 2>&1 || fail "iperf3 a1 -> b1: $(tail -n 5 "$T/iperf.json")"
BPS=$(json 'int(d["end"]["sum_received"]["bits_per_second"])' <"$T/iperf.json")
[ "$BPS" -gt 0 ] || fail "iperf3 a1 -> b1 moved nothing"
pass "iperf3 a1 -> b1 across EVPN: $(( BPS / 1000000 )) Mbit/s"

# --- 4. a bridge port carries every MAC of its side -------------------------------
# NMACS stations behind site b's bridge (a veth port) each send a broadcast:
# site b's FRR advertises them, site a's bridge floods them into vmf0, and
# site a's switch learns them all behind its uplink port, as its key's
# policy (max-macs = 4096) allows beyond the default per-port limit.
ip -n "$FAB-b" link add inj0 type veth peer name inj1 || fail "veth inj0"
ip -n "$FAB-b" link set inj0 master br100
ip -n "$FAB-b" link set inj0 up
ip -n "$FAB-b" link set inj1 up
ip netns exec "$FAB-b" /usr/bin/python3 - "$NMACS" <<'PY' || fail "sending from $NMACS MACs"
import socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("inj1", 0))
for i in range(int(sys.argv[1])):
    src = bytes([0x02, 0x77, 0x01, 0x00, i >> 8, i & 0xff])
    s.send(b"\xff" * 6 + src + b"\x88\xb5" + b"vmfabric evpn test".ljust(46, b"\0"))
    if i % 50 == 49:
        time.sleep(0.02)
PY
uplink_macs() {
	"$CTL" --control "ipc://$T/sw-a.ctl" --json macs >"$T/macs-a.json" 2>&1 &&
	/usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); \
print(sum(1 for m in d['macs'] if m['port'] == 'a/uplink-a'))" "$T/macs-a.json"
}
uplink_has_all() { [ "$(uplink_macs)" -ge $(( NMACS + 1 )) ]; }
wait_for 10 uplink_has_all || fail "vmfabric-ctl macs on site a: $(uplink_macs) MACs behind a/uplink-a, expected $(( NMACS + 1 ))"
"$CTL" --control "ipc://$T/sw-a.ctl" macs >"$T/macs-a.txt" 2>&1 || fail "vmfabric-ctl macs"
grep -q "$MB1.*a/uplink-a" "$T/macs-a.txt" || fail "vmfabric-ctl macs: $MB1 not behind a/uplink-a: $(head "$T/macs-a.txt")"
grep -q "02:77:01:00:01:2b.*a/uplink-a" "$T/macs-a.txt" || fail "vmfabric-ctl macs: station 299 not behind a/uplink-a"
"$CTL" --control "ipc://$T/sw-a.ctl" --json ports >"$T/ports-a.json" 2>&1 || fail "vmfabric-ctl ports"
/usr/bin/python3 - "$T/ports-a.json" "$NMACS" <<'PY' || fail "uplink port counters: $(cat "$T/ports-a.json")"
import json, sys
d = json.load(open(sys.argv[1]))
p = [p for p in d["ports"] if p["name"] == "a/uplink-a"][0]
assert p["rx_frames"] >= int(sys.argv[2]), p
assert p["fdb_full"] == 0 and sum(p["drops"].values()) == 0, p
PY
evpn_remote_count() {
	vty a "show evpn mac vni $FAB_VNI json" >"$T/evpn-a.json" 2>&1 &&
	/usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); \
print(sum(1 for m in d['macs'].values() if m.get('type') == 'remote' and m.get('remoteVtep') == '10.78.0.2'))" "$T/evpn-a.json"
}
evpn_has_all() { [ "$(evpn_remote_count)" -ge $(( NMACS + 1 )) ]; }
wait_for 20 evpn_has_all || fail "site a: $(evpn_remote_count) remote EVPN MACs behind 10.78.0.2, expected $(( NMACS + 1 ))"
pass "$NMACS stations behind site b: type-2 routes on a, all learnt behind a/uplink-a (vmfabric-ctl macs, no drops)"

# --- 5. what --bridge refuses ---------------------------------------------------
refused() {
	local want=$1; shift
	ip netns exec "$FAB-a" "$NIC" --insecure --switch tcp://127.0.0.1:7859 --network lab --name x \
		"$@" >"$T/refused.log" 2>&1 && fail "vmfabric-nic $* started"
	grep -Fq -- "$want" "$T/refused.log" || fail "vmfabric-nic $*: $(cat "$T/refused.log")"
	ip -n "$FAB-a" link show vmf9 >/dev/null 2>&1 && fail "vmfabric-nic $* left TAP vmf9 behind"
	return 0
}
refused "--bridge nobr0: no such interface" --tap vmf9 --bridge nobr0
refused "--bridge vxlan100: not a Linux bridge" --tap vmf9 --bridge vxlan100
refused "--bridge br100 has MTU $FAB_MTU, more than --mtu 1280" --tap vmf9 --bridge br100 --mtu 1280
refused "--bridge and --ovs-bridge only apply to --tap" --stream unix:$T/none --bridge br100
pass "--bridge refuses a missing bridge, a non-bridge and a bridge MTU above --mtu"
