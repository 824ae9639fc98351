#!/bin/bash
# spoof.sh - the DHCP attacks of security review item 6 (issue 11), each from a
# hostile TAP host on the fabric against a fresh gateway (default /24 pool,
# .15 - .254 = 240 addresses, ARP probes on):
#   decline  a DHCPDECLINE from the attacker's MAC naming the victim's chaddr and
#            address: the victim's renewal must still get its address
#   arp      one gratuitous ARP from the attacker with the victim's address:
#            the victim's renewal must not be NAKed, its DISCOVER not moved
#            (while the attacker's claim on a free address still holds)
#   arpflood 240 ARPs from the attacker, one per pool address: a new client
#            must still get a lease (one MAC claims at most 8 addresses)
#   flood    240 DISCOVER + REQUEST with invented chaddrs from the attacker's
#            MAC: nothing may be offered or bound; a new client gets a lease
# usage: spoof.sh [STEP...]   (default: all, in this order)
TEST_NAME=gateway_spoof
source "$(dirname "$0")/gw-lib.sh"
STEPS=("$@")
[ ${#STEPS[@]} -gt 0 ] || STEPS=(decline arp arpflood flood)
VICTIM=02:00:00:00:21:01
NEWCOMER=02:00:00:00:21:02
TOOL=(python3 "$GWT/dhcp-spoof.py")

fabric gw1 v1 a1
netns_add vn2-gw
tap_host vn2-v v1 lab $VICTIM
tap_host vn2-a a1 lab 02:00:00:00:22:01
ip -n vn2-v link add mv1 link tap0 address $NEWCOMER type macvlan mode private
ip -n vn2-v link set mv1 up

N=0
# fresh_gateway: a new gateway with no leases (the previous one stopped)
fresh_gateway() {
	[ -n "${GW_PID:-}" ] && stop "$GW_PID"
	N=$((N + 1))
	gateway "gw$N" vn2-gw gw1 lab --ipv6 off
	GWLOG=gw$N
}

# declined: the gateway counted a DECLINE, taken or dropped as spoofed (sets C)
declined() {
	local a b
	C=$(counters "$GWLOG" "$GW_PID")
	a=$(ctr "$C" decline)
	b=$(ctr "$C" spoofed)
	[ $(( ${a:-0} + ${b:-0} )) -ge 1 ]
}

# victim_lease: the victim's address (a real udhcpc run, address configured)
victim_lease() {
	local l
	l=$(dhcp vn2-v tap0) || fail "victim got no lease"
	echo "${l%% *}"
}

step_decline() {
	fresh_gateway
	IP=$(victim_lease)
	ip netns exec vn2-a "${TOOL[@]}" decline tap0 $VICTIM "$IP" 10.0.2.2 >>"$T/tool.log" 2>&1 ||
		fail "decline sender: $(tail -n 3 "$T/tool.log")"
	# the gateway has the DECLINE (taken, or dropped as spoofed) before the victim renews
	wait_for 5 declined || fail "the gateway never saw the DECLINE: $C"
	R=$(ip netns exec vn2-v "${TOOL[@]}" renew tap0 "$IP")
	[ "$R" = "ACK $IP" ] || fail "after a spoofed DECLINE the victim's renewal of $IP got: $R"
	C=$(counters "$GWLOG" "$GW_PID")
	[ "$(ctr "$C" spoofed)" = 1 ] || fail "spoofed counter: $C"
	[ "$(ctr "$C" decline)" = 0 ] || fail "the spoofed DECLINE was counted as a DECLINE: $C"
	log_has "$GWLOG" "dropped a DHCP message from 02:00:00:00:22:01 naming another client" ||
		fail "no log line for the spoofed DECLINE"
	pass "spoofed DECLINE for $IP dropped (spoofed=1, logged); the victim renews $IP"
}

step_arp() {
	fresh_gateway
	IP=$(victim_lease)
	[ "$IP" = 10.0.2.15 ] || fail "victim got $IP (want 10.0.2.15)"
	# the victim's address, then a free one: a new client skipping .16 shows that
	# the gateway has both ARPs (same path, in order) before the victim renews
	ip netns exec vn2-a "${TOOL[@]}" arp tap0 "$IP" >>"$T/tool.log" 2>&1 &&
		ip netns exec vn2-a "${TOOL[@]}" arp tap0 10.0.2.16 >>"$T/tool.log" 2>&1 ||
		fail "ARP sender: $(tail -n 3 "$T/tool.log")"
	L=$(NO_CONFIG=1 dhcp vn2-v mv1) || fail "new client got no lease"
	[ "${L%% *}" = 10.0.2.17 ] || fail "new client got ${L%% *}: the claim on 10.0.2.16 was not seen"
	R=$(ip netns exec vn2-v "${TOOL[@]}" renew tap0 "$IP")
	[ "$R" = "ACK $IP" ] || fail "after one spoofed ARP the victim's renewal of $IP got: $R"
	IP2=$(victim_lease)
	[ "$IP2" = "$IP" ] || fail "after one spoofed ARP the victim's DISCOVER got $IP2, had $IP"
	C=$(counters "$GWLOG" "$GW_PID")
	[ "$(ctr "$C" nak)" = 0 ] || fail "NAKs sent: $C"
	pass "one spoofed ARP for $IP: the victim's renewal is ACKed and its DISCOVER offered $IP again"
}

step_arpflood() {
	fresh_gateway
	ip netns exec vn2-a "${TOOL[@]}" arp tap0 10.0.2.15 10.0.2.254 >>"$T/tool.log" 2>&1 ||
		fail "ARP sender: $(tail -n 3 "$T/tool.log")"
	sleep 0.5
	L=$(NO_CONFIG=1 dhcp vn2-v mv1) || fail "after 240 ARPs from one MAC a new client got no lease"
	C=$(counters "$GWLOG" "$GW_PID")
	[ "$(ctr "$C" claims_capped)" = 232 ] || fail "claims_capped (want 240 - 8): $C"
	[ "$(ctr "$C" exhausted)" = 0 ] || fail "pool exhausted: $C"
	log_has "$GWLOG" "02:00:00:00:22:01 claims more than 8 pool addresses" || fail "no log line for the ARP flood"
	pass "240 ARPs from one MAC: 8 addresses held back, claims_capped=232, a new client got ${L%% *}"
}

step_flood() {
	fresh_gateway
	R=$(ip netns exec vn2-a "${TOOL[@]}" flood tap0 240 10.0.2.2) || fail "flood sender failed"
	[ "$R" = "offers 0 acks 0" ] || fail "240 DISCOVER + REQUEST with invented chaddrs: $R"
	L=$(NO_CONFIG=1 dhcp vn2-v mv1) || fail "after the invented-chaddr flood a new client got no lease"
	C=$(counters "$GWLOG" "$GW_PID")
	[ "$(ctr "$C" spoofed)" = 240 ] || fail "spoofed counter (want 240): $C"
	[ "$(ctr "$C" offer)" = 1 ] || fail "offers (want only the new client's): $C"
	pass "240 DISCOVERs with invented chaddrs: $R, spoofed=240; a new client got ${L%% *}"
}

for s in "${STEPS[@]}"; do
	"step_$s"
done
kill -0 "$GW_PID" || fail "gateway died"
exit 0
