#!/bin/bash
# isolation.sh - two networks on one switch, all four guests on one IP subnet: nothing crosses
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/topo.sh"
PORT=7714

keys a1 a2 b1 b2
sw_host
guest_host a1 1
guest_host a2 2
guest_host b1 3
guest_host b2 4
start_switch switch $PORT
start_nic a1 1 a1 lab-a $PORT
start_nic a2 2 a2 lab-a $PORT
start_nic b1 3 b1 lab-b $PORT
start_nic b2 4 b2 lab-b $PORT
tap_setup a1 1 192.168.78.1/24
tap_setup a2 2 192.168.78.2/24
tap_setup b1 3 192.168.78.3/24
tap_setup b2 4 192.168.78.4/24
for h in a1 a2 b1 b2; do wait_for 10 joined nic-$h || fail "$h did not join"; done

pings a1 192.168.78.2 5 || fail "a1 -> a2 (same network)"
pass "lab-a: a1 <-> a2 ping"

# b hosts are quiet now (IPv6 off, nothing else talks): whatever reaches their TAPs is a leak
# frames the NIC process writes into a TAP count as the TAP's rx
tap_in() { ip netns exec "vfi-$1" cat /sys/class/net/tap0/statistics/rx_packets; }
B1=$(tap_in b1); B2=$(tap_in b2); A2=$(tap_in a2)
ip netns exec vfi-a1 ping -n -c 3 -i 0.2 -W 1 192.168.78.3 >"$T/leak.out" 2>&1 && fail "a1 reached b1 across networks"
ip netns exec vfi-a2 ping -n -c 3 -i 0.2 -W 1 -b 192.168.78.255 >>"$T/leak.out" 2>&1
ip netns exec vfi-a1 ping -n -c 3 -i 0.2 -W 1 192.168.78.4 >>"$T/leak.out" 2>&1 && fail "a1 reached b2 across networks"
# control: a1's ARP broadcasts for b's addresses were flooded to a2, so the counter works
[ "$(tap_in a2)" -gt "$A2" ] || fail "a2's TAP did not see lab-a's floods"
[ "$(tap_in b1)" = "$B1" ] || fail "frames from lab-a reached b1's TAP ($B1 -> $(tap_in b1))"
[ "$(tap_in b2)" = "$B2" ] || fail "frames from lab-a reached b2's TAP ($B2 -> $(tap_in b2))"
ip -n vfi-a1 neigh show 192.168.78.3 | grep -q lladdr && fail "a1 resolved b1's MAC"
pass "lab-a -> lab-b: pings (unicast and broadcast) fail, ARP unresolved, b TAPs received nothing"

pings b1 192.168.78.4 5 || fail "b1 -> b2 (same network)"
pass "lab-b: b1 <-> b2 ping"
A1=$(tap_in a1)
ip netns exec vfi-b2 ping -n -c 3 -i 0.2 -W 1 192.168.78.2 >>"$T/leak.out" 2>&1 && fail "b2 reached a2 across networks"
[ "$(tap_in a1)" = "$A1" ] || fail "frames from lab-b reached a1's TAP"
pass "lab-b -> lab-a: ping fails, a TAPs received nothing"

sw_stats
cat >"$T/check.py" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
nets = {n["name"]: n for n in d["networks"]}
assert sorted(nets) == ["lab-a", "lab-b"], nets
for n in ("lab-a", "lab-b"):
    assert nets[n]["ports"] == 2, (n, nets[n])
    assert nets[n]["macs"] == 2, (n, nets[n])
where = {p["name"]: p["network"] for p in d["ports"]}
assert where == {"a1/tap0": "lab-a", "a2/tap0": "lab-a", "b1/tap0": "lab-b", "b2/tap0": "lab-b"}, where
PY
python3 "$T/check.py" "$T/s.json" || fail "stats: $(cat "$T/s.json")"
pass "stats: lab-a holds a1,a2 and 2 MACs; lab-b holds b1,b2 and 2 MACs"
pass "isolation"
