#!/bin/bash
# basic.sh - gateway end to end: DHCP lease, DNS, HTTP via the host address and
# through the gateway host's routing, ICMP echo, hostfwd, restrict, a second
# network with its own gateway on the same switch, and a gateway restart.
TEST_NAME=gateway_basic
source "$(dirname "$0")/gw-lib.sh"

fabric gw1 gw2 h1 h2 h3
netns_add vfg-gw
netns_add vfg-srv
veth_link vfg-gw vgw0 198.51.100.1/24 vfg-srv vsrv0 198.51.100.2/24
resolv_conf vfg-gw "nameserver 127.0.0.1"

# services on the gateway host's loopback and behind its routing
mkdir -p "$T/www" "$T/www2"
echo GATEWAY-LOOPBACK-OK >"$T/www/lo.txt"
echo ROUTED-SERVER-OK >"$T/www2/routed.txt"
start dns ip netns exec vfg-gw python3 "$GWT/dns.py" 127.0.0.1 53 www.vfg.test=198.51.100.2
start http-lo ip netns exec vfg-gw python3 -m http.server 18080 --bind 127.0.0.1 --directory "$T/www"
start http-srv ip netns exec vfg-srv python3 -m http.server 18081 --bind 198.51.100.2 --directory "$T/www2"
wait_for 5 log_has dns listening || fail "dns responder did not start"

LEASES=$T/gw1.leases
gateway gw1 vfg-gw gw1 lab --lease-file "$LEASES" --domainname vfg.test --dnssearch vfg.test \
	--hostfwd tcp:127.0.0.1:18090-10.0.2.15:18091 --metrics 127.0.0.1:18099
GW1_PID=$GW_PID	# 'ip netns exec' execs the gateway: this is its PID
gateway gw2 vfg-gw gw2 lab2 --net 10.0.3.0/24 --hostfwd tcp:127.0.0.1:18092-:18091

tap_host vfg-h1 h1 lab 02:00:00:00:01:01
tap_host vfg-h2 h2 lab2 02:00:00:00:02:01

# --- DHCP
L1=$(dhcp vfg-h1 tap0) || fail "h1 got no lease"
read -r IP1 R1 D1 DOM1 _ <<<"$L1"
[ "$IP1" = 10.0.2.15 ] && [ "$R1" = 10.0.2.2 ] && [ "$D1" = 10.0.2.3 ] && [ "$DOM1" = vfg.test ] ||
	fail "h1 lease: $L1 (want 10.0.2.15 10.0.2.2 10.0.2.3 vfg.test)"
pass "DHCP: h1 got $L1"
L2=$(dhcp vfg-h2 tap0) || fail "h2 got no lease"
[ "${L2%% *}" = 10.0.3.15 ] || fail "h2 lease from the second gateway: $L2"
pass "a second gateway on the same switch serves network lab2: h2 got ${L2%% *}"

# --- a quiet static guest at 10.0.2.16: the ARP probe keeps it out of the pool
tap_host vfg-h3 h3 lab 02:00:00:00:03:01
ip -n vfg-h3 addr add 10.0.2.16/24 dev tap0
ip -n vfg-h3 link add mv1 link tap0 address 02:00:00:00:03:02 type macvlan mode private
ip -n vfg-h3 link set mv1 up
L3=$(NO_CONFIG=1 dhcp vfg-h3 mv1) || fail "h3/mv1 got no lease"
[ "${L3%% *}" = 10.0.2.17 ] || fail "new client next to static 10.0.2.16 got ${L3%% *} (want 10.0.2.17)"
pass "static guest at 10.0.2.16 answered the probe: next client got 10.0.2.17"

# --- metrics: leases in use, DHCP counters; promtool accepts them
command -v promtool >/dev/null || EXTRA_PKGS="prometheus curl" "$VMF_ROOT/deploy/install-deps.sh"
ip netns exec vfg-gw curl -s -m 5 http://127.0.0.1:18099/metrics >"$T/gw-metrics.txt" || fail "no gateway metrics"
promtool check metrics <"$T/gw-metrics.txt" >"$T/promtool.out" 2>&1 || { cat "$T/promtool.out"; fail "promtool rejects gateway metrics"; }
LEASED=$(awk '$1 == "vmfabric_gateway_leases" { print $2 }' "$T/gw-metrics.txt")
ACKS=$(awk '$1 == "vmfabric_gateway_dhcp_messages_total{type=\"ack\"}" { print $2 }' "$T/gw-metrics.txt")
[ "$LEASED" = 2 ] || fail "gateway metrics: $LEASED leases in use (want 2: h1 and h3/mv1)"
[ -n "$ACKS" ] && [ "$ACKS" -ge 2 ] || fail "gateway metrics: $ACKS DHCP acks"
pass "gateway --metrics: promtool accepts it, 2 leases in use, $ACKS acks"

# --- DNS through the gateway host's resolver
OUT=$(ip netns exec vfg-h1 busybox nslookup www.vfg.test 10.0.2.3 2>&1)
grep -q 198.51.100.2 <<<"$OUT" || fail "DNS: $OUT"
pass "DNS via 10.0.2.3 -> gateway host's resolver"

# --- HTTP: host loopback, and a server behind the gateway host's routing (by name)
OUT=$(fetch vfg-h1 http://10.0.2.2:18080/lo.txt 5 2>&1)
[ "$OUT" = GATEWAY-LOOPBACK-OK ] || fail "HTTP via 10.0.2.2: $OUT"
pass "HTTP to the gateway host's loopback via 10.0.2.2"
OUT=$(fetch vfg-h1 http://198.51.100.2:18081/routed.txt 5 2>&1)
[ "$OUT" = ROUTED-SERVER-OK ] || fail "HTTP to the routed server: $OUT"
pass "HTTP NAT egress to a server in another namespace"
OUT=$(fetch vfg-h2 http://10.0.3.2:18080/lo.txt 5 2>&1)
[ "$OUT" = GATEWAY-LOOPBACK-OK ] || fail "HTTP via 10.0.3.2 on lab2: $OUT"
pass "HTTP from network lab2 through its own gateway"

# --- ICMP echo: the gateway itself, and NAT to the routed namespace
ip netns exec vfg-h1 ping -c 2 -W 2 10.0.2.2 >/dev/null || fail "ping 10.0.2.2"
ip netns exec vfg-h1 ping -c 2 -W 2 198.51.100.2 >/dev/null || fail "ping 198.51.100.2 through NAT"
pass "ICMP echo to the gateway and through NAT"

# --- UDP egress: DNS query straight to the routed namespace's resolver is not
# available, so query the gateway host's resolver through the host address
OUT=$(ip netns exec vfg-h1 busybox nslookup www.vfg.test 10.0.2.2 2>&1)
grep -q 198.51.100.2 <<<"$OUT" || fail "UDP to 10.0.2.2:53: $OUT"
pass "UDP NAT to the gateway host's loopback"

# --- malformed ARP, IPv4, DHCP and IPv6 frames: the gateway survives and still serves
ip netns exec vfg-h1 python3 "$GWT/junk.py" tap0 3000 52:55:0a:00:02:02 >"$T/junk.log" 2>&1 ||
	fail "junk sender: $(cat "$T/junk.log")"
sleep 0.5
kill -0 "$GW1_PID" || fail "gateway died on malformed frames"
C=$(counters gw1 "$GW1_PID")
[ "$(ctr "$C" malformed)" -gt 0 ] || fail "no malformed DHCP frames counted: $C"
OUT=$(fetch vfg-h1 http://10.0.2.2:18080/lo.txt 5 2>&1)
[ "$OUT" = GATEWAY-LOOPBACK-OK ] || fail "HTTP after junk: $OUT"
pass "3000 malformed frames: gateway alive, malformed=$(ctr "$C" malformed), still serving"

# --- hostfwd: gateway host 127.0.0.1:18090 -> h1:18091
mkdir -p "$T/www3"; echo GUEST-SERVER-OK >"$T/www3/g.txt"
start http-h1 ip netns exec vfg-h1 python3 -m http.server 18091 --bind 10.0.2.15 --directory "$T/www3"
wait_for 5 fetch vfg-h1 http://10.0.2.15:18091/g.txt || fail "guest http server"
OUT=$(fetch vfg-gw http://127.0.0.1:18090/g.txt 5 2>&1)
[ "$OUT" = GUEST-SERVER-OK ] || fail "hostfwd: $OUT"
pass "hostfwd tcp:127.0.0.1:18090 reaches the guest's server"

# --- restart: same lease, traffic resumes
stop "$GW1_PID"
log_has gw1 "counters:" || fail "gateway did not stop cleanly"
grep -q '02:00:00:00:01:01 10.0.2.15 bound' "$LEASES" || fail "lease file: $(cat "$LEASES")"
gateway gw1b vfg-gw gw1 lab --lease-file "$LEASES" --hostfwd tcp:127.0.0.1:18090-10.0.2.15:18091 --restrict on
OUT=$(fetch vfg-h1 http://198.51.100.2:18081/routed.txt 3 2>&1)
[ "$OUT" != ROUTED-SERVER-OK ] || fail "restrict=on still lets egress through"
OUT=$(fetch vfg-h1 http://10.0.2.2:18080/lo.txt 3 2>&1)
[ "$OUT" != GATEWAY-LOOPBACK-OK ] || fail "restrict=on still reaches host loopback"
pass "restrict=on blocks NAT egress and host loopback"
OUT=$(fetch vfg-gw http://127.0.0.1:18090/g.txt 5 2>&1)
[ "$OUT" = GUEST-SERVER-OK ] || fail "hostfwd under restrict: $OUT"
pass "hostfwd still works under restrict=on"
L1B=$(dhcp vfg-h1 tap0) || fail "h1 got no lease after the restart"
[ "${L1B%% *}" = "$IP1" ] || fail "after restart h1 got ${L1B%% *}, had $IP1"
pass "gateway restart: h1 keeps $IP1"
exit 0
