#!/bin/bash
# fabric.sh - two TAP hosts in separate namespaces talk through the switch over TCP + CURVE
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/topo.sh"
PORT=7711

pair_up $PORT
log_has nic-h1 "CURVE" || fail "h1 does not say it uses CURVE"
pass "both NIC processes joined network lab"

# the guests really are apart: no route between the two TAP hosts except the fabric
ip -n vfi-h1 route get 192.168.77.2 | grep -q "dev tap0" || fail "h1 does not route 192.168.77.2 via tap0"

pings h1 192.168.77.2 20 || { cat "$T/ping.out"; fail "ping h1 -> h2"; }
grep -q " 0% packet loss" "$T/ping.out" || { cat "$T/ping.out"; fail "ping h1 -> h2 lost packets"; }
pass "20 pings h1 -> h2 across the fabric, 0% loss"
pings h2 192.168.77.1 5 || fail "ping h2 -> h1"
pass "ping h2 -> h1"

start iperf3-server ip netns exec vfi-h2 iperf3 -s -1 -B 192.168.77.2 -p 7712
listening() { ip netns exec vfi-h2 ss -ltnH "sport = :7712" | grep -q .; }
wait_for 5 listening || fail "iperf3 server did not start"
ip netns exec vfi-h1 iperf3 -c 192.168.77.2 -p 7712 -t 3 -J >"$T/iperf.json" 2>"$T/iperf.err" ||
	{ cat "$T/iperf.err" "$T/iperf.json"; fail "iperf3 h1 -> h2"; }
MBPS=$(json 'int(d["end"]["sum_received"]["bits_per_second"] / 1e6)' <"$T/iperf.json")
[ "$MBPS" -gt 100 ] || fail "iperf3 h1 -> h2: only $MBPS Mbit/s"
pass "iperf3 TCP h1 -> h2: $MBPS Mbit/s"

sw_stats
[ "$(sj 'len(d["networks"])')" = 1 ] || fail "expected one network: $(cat "$T/s.json")"
[ "$(sj 'd["networks"][0]["name"]')" = lab ] || fail "network is not lab"
[ "$(sj 'd["networks"][0]["ports"]')" = 2 ] || fail "network lab does not have 2 ports"
[ "$(sj 'd["networks"][0]["macs"]')" = 2 ] || fail "network lab does not have 2 MAC entries: $(cat "$T/s.json")"
for p in h1/tap0 h2/tap0; do
	[ "$(port_field $p network)" = lab ] || fail "port $p not in network lab"
	[ "$(port_field $p rx_frames)" -gt 1000 ] || fail "port $p rx_frames $(port_field $p rx_frames)"
	[ "$(port_field $p tx_frames)" -gt 1000 ] || fail "port $p tx_frames $(port_field $p tx_frames)"
	for d in runt giant src_mcast malformed; do
		[ "$(port_field $p drops.$d)" = 0 ] || fail "port $p drops.$d = $(port_field $p drops.$d)"
	done
done
H1KEY=$("$KEYTOOL" public "$T/keys/h1")
[ "$(port_field h1/tap0 key)" = "$H1KEY" ] || fail "port h1/tap0 is not bound to h1's key"
[ "$(sj 'd["switch"]["zap_denied"]')" = 0 ] || fail "switch denied someone"
pass "stats: lab has ports h1/tap0 and h2/tap0 (bound to their keys), 2 MACs, frames both ways, no drops"

# a NIC process stops cleanly: it says goodbye and the switch removes its port at once
stop "$H2"
sw_stats
[ "$(port_field h2/tap0 name)" = none ] || fail "h2/tap0 still in stats after its NIC stopped"
[ "$(sj 'd["networks"][0]["macs"]')" = 1 ] || fail "h2's MAC not flushed"
log_has switch "port h2/tap0 left network lab: NIC process stopping" || fail "switch did not log h2's Bye"
log_has nic-h2 "counters: guest rx [1-9]" || fail "NIC did not log its counters at exit"
pass "stopped NIC: port removed with its MAC entry, counters logged"
kill -0 "$H1" || fail "h1 NIC died"
pass "fabric"
