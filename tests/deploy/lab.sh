#!/bin/bash
# lab.sh - deploy/compose/lab.yml for real (compose-env): keys made by the one-shot service,
# switch, gateway, an in-container NIC guest (alpha) and a sidecar-NIC guest (beta) on two
# internal compose networks. Both get DHCP leases from the gateway and reach each other over the
# fabric only; alpha reaches a web server on the gateway's uplink through the gateway's NAT.
# Then `down -v` must leave no container, network or volume of the project behind.
TEST_NAME=deploy_compose_lab
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=deploy-lib.sh
. "$(dirname "$0")/deploy-lib.sh"

engine_start
image_build
P=vfd-test-lab
project $P -f "$VMF_ROOT/deploy/compose/lab.yml" -f "$VMF_ROOT/tests/deploy/lab-test.yml"
[ -n "$(leftovers $P)" ] && down $P	# an aborted earlier run

dc $P up -d --no-build >"$T/compose-$P.log" 2>&1 || fail "up: $(tail -5 "$T/compose-$P.log")"
for s in switch alpha beta-nic; do
	wait_for 60 healthy $P $s || { dc $P logs --tail 20 >"$T/services.log" 2>&1; fail "$s not healthy"; }
done
pass "up: keys made and admitted, switch, gateway, alpha, beta-nic healthy"
dc $P logs keys 2>&1 | grep -q "admitted beta" || fail "keys service did not admit beta"

A=$(fabric_addr $P alpha); B=$(fabric_addr $P beta)
case "$A $B" in 10.0.2.*" "10.0.2.*) ;; *) fail "no DHCP leases from the gateway: alpha '$A' beta '$B'" ;; esac
[ "$A" != "$B" ] || fail "same address twice: $A"
pass "DHCP from the gateway: alpha $A, beta $B (beta's app container shares beta-nic's namespace)"

cx $P alpha busybox ping -c 3 -W 2 "$B" >"$T/ping.log" 2>&1 || fail "alpha cannot ping beta $B"
[ "$(http $P alpha "http://$B:8080/")" = "hello from beta" ] || fail "alpha cannot fetch from beta"
dc $P exec -T -d alpha busybox httpd -p 8081 -h /etc || fail "httpd in alpha"
sleep 0.3
[ "$(http $P beta "http://$A:8081/hostname")" = "$(cx $P alpha cat /etc/hostname)" ] ||
	fail "beta (an app container without capabilities) cannot fetch from alpha"
pass "alpha <-> beta over the fabric: ping, HTTP both ways"

# the compose networks alone cannot carry it: beta's own compose address is unreachable from alpha
BNET=$(cx $P beta-nic ip -4 -o addr show dev eth0 | awk '{split($4, a, "/"); print a[1]}')
ANET=$(cx $P alpha ip -4 -o addr show dev eth0 | awk '{split($4, a, "/"); print a[1]}')
[ -n "$BNET" ] && [ "${BNET%.*}" != "${ANET%.*}" ] || fail "alpha ($ANET) and beta ($BNET) share a compose subnet"
cx $P alpha ip route get "$BNET" | grep -q "dev eth0" && fail "alpha has a compose route to beta $BNET"
http $P alpha "http://$BNET:8080/" >/dev/null 2>&1 && fail "alpha reached beta's compose address $BNET"
pass "alpha ($ANET, site-a) cannot reach beta's compose address ($BNET, site-b)"

cx $P switch vmfabric-ctl ports --json >"$T/ports.json" || fail "vmfabric-ctl ports"
json '" ".join(sorted(p["name"] for p in d["ports"] if p["rx_frames"] > 0 and p["tx_frames"] > 0))' \
	<"$T/ports.json" | grep -qx "alpha beta gateway" || fail "switch ports: $(cat "$T/ports.json")"
pass "the switch carried it: alpha, beta and gateway have frames both ways"

[ "$(http $P alpha http://10.231.3.80:8080/)" = "hello from the uplink" ] ||
	fail "alpha cannot reach the uplink web server through the gateway's NAT"
cx $P alpha ip route get 10.231.3.80 | grep -q "via 10.0.2.2 dev fab0" || fail "uplink not routed via the gateway"
pass "NAT egress: alpha -> gateway (10.0.2.2) -> web server on the gateway's uplink"

down $P || fail "down: $(tail -5 "$T/compose-$P.log")"
left=$(leftovers $P)
[ -z "$left" ] || fail "left behind: $left"
pass "down -v: no container, network or volume of $P left"
