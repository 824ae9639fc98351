#!/bin/bash
# hubsite.sh - the multi-host layout for real: deploy/compose/hub.yml (an HA pair of switches
# published on a host address, gateway) and two deploy/compose/site.yml projects, each on its own compose network,
# joining the hub's switch by address. The sites make their own port keys; only the public
# certificates travel (vmfabric-provision port | admit, switch-cert | set-switch-cert). Site guests
# get DHCP from the hub's gateway, reach each other over the fabric, and reach a web server on
# the hub's uplink through the gateway's NAT. A revoked site key loses its port. Then every
# project goes down leaving nothing behind.
TEST_NAME=deploy_compose_hubsite
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=deploy-lib.sh
. "$(dirname "$0")/deploy-lib.sh"

engine_start
image_build
C=$VMF_ROOT/deploy/compose
H=vfd-test-hub
HUBADDR=10.231.11.1	# the host's address on the hub project's network, where the switch is published
project $H VMF_PUBLISH=$HUBADDR:17000 VMF_PUBLISH2=$HUBADDR:17001 -f "$C/hub.yml" -f "$VMF_ROOT/tests/deploy/hub-test.yml"
for s in 1 2; do
	project vfd-test-site$s VMF_HUB=tcp://$HUBADDR:17000,tcp://$HUBADDR:17001 VMF_SITE=site$s VMF_SITE_SUBNET=10.231.2$s.0/24 \
		-f "$C/site.yml" -f "$VMF_ROOT/tests/deploy/site-test.yml"
done
for p in $H vfd-test-site1 vfd-test-site2; do [ -n "$(leftovers "$p")" ] && down "$p"; done

dc $H up -d --no-build >>"$T/compose-$H.log" 2>&1 || fail "hub up: $(tail -5 "$T/compose-$H.log")"
wait_for 60 healthy $H switch || fail "hub switch not healthy"
wait_for 60 healthy $H switch2 || fail "hub switch2 not healthy"
wait_for 30 eval 'cx $H switch2 vmfabric-ctl tree --json | json "d[\"above\"]" | grep -q hub-a' ||
	fail "switch2 did not join switch as its child: $(cx $H switch2 vmfabric-ctl tree 2>&1)"
pass "hub up: switch and switch2 (its child) published on $HUBADDR:17000 and :17001, gateway"

for s in 1 2; do
	S=vfd-test-site$s
	dc $S run --rm -T keys vmfabric-provision port site$s-guest >"$T/site$s.pub" 2>>"$T/compose-$S.log" ||
		fail "site$s: port key: $(tail -3 "$T/compose-$S.log")"
	dc $S run --rm -T keys >"$T/site$s-early.log" 2>&1 && fail "site$s keys service passed without the switch certificate"
	grep -q "no switch certificate" "$T/site$s-early.log" || fail "site$s: unclear early failure: $(cat "$T/site$s-early.log")"
	dc $H run --rm -T keys vmfabric-provision admit site$s-guest <"$T/site$s.pub" >>"$T/compose-$H.log" 2>&1 ||
		fail "hub: admit site$s-guest: $(tail -3 "$T/compose-$H.log")"
	dc $H run --rm -T keys vmfabric-provision switch-cert >"$T/switch.pub" 2>>"$T/compose-$H.log" || fail "hub: switch-cert"
	dc $S run --rm -T keys vmfabric-provision set-switch-cert <"$T/switch.pub" >>"$T/compose-$S.log" 2>&1 ||
		fail "site$s: set-switch-cert: $(tail -3 "$T/compose-$S.log")"
done
grep -q _secret "$T"/site*.pub && fail "a secret left a site"
cx $H switch vmfabric-ctl reload >/dev/null || fail "reload"
cx $H switch2 vmfabric-ctl reload >/dev/null || fail "reload switch2"
pass "keys: sites made their own pairs, the hub admitted their public certificates, sites got the switch's"

for s in 1 2; do
	dc vfd-test-site$s up -d --no-build >>"$T/compose-vfd-test-site$s.log" 2>&1 || fail "site$s up"
done
for s in 1 2; do
	wait_for 60 healthy vfd-test-site$s guest ||
		{ dc vfd-test-site$s logs >"$T/site$s-guest.log" 2>&1; fail "site$s guest has no lease"; }
done
G1=$(fabric_addr vfd-test-site1 guest); G2=$(fabric_addr vfd-test-site2 guest)
case "$G1 $G2" in 10.0.2.*" "10.0.2.*) ;; *) fail "leases: site1 '$G1' site2 '$G2'" ;; esac
N1=$(cx vfd-test-site1 guest ip -4 -o addr show dev eth0 | awk '{print $4}')
N2=$(cx vfd-test-site2 guest ip -4 -o addr show dev eth0 | awk '{print $4}')
pass "site guests leased by the hub's gateway: site1 $G1 (compose net $N1), site2 $G2 (compose net $N2)"

cx vfd-test-site1 guest busybox ping -c 3 -W 2 "$G2" >"$T/ping.log" 2>&1 || fail "site1 cannot ping site2 $G2"
cx vfd-test-site2 guest ip route get "$G1" | grep -q "dev fab0" || fail "site2 -> site1 not over fab0"
dc vfd-test-site1 exec -T -d guest busybox httpd -p 8081 -h /etc || fail "httpd on site1"
sleep 0.3
[ "$(http vfd-test-site2 guest "http://$G1:8081/hostname")" = site1-guest ] || fail "site2 cannot fetch from site1"
pass "site1 <-> site2 over the fabric through the hub's switch: ping, HTTP"

cx vfd-test-site1 guest ip route add 10.231.13.80/32 via 10.0.2.2 dev fab0 || fail "route"
[ "$(http vfd-test-site1 guest http://10.231.13.80:8080/)" = "hello from the hub uplink" ] ||
	fail "site1 cannot reach the hub uplink through the gateway's NAT"
pass "NAT egress: site1 guest -> hub gateway -> web server on the hub's internal uplink"

# the HA pair: with switch stopped, the ports move to switch2 and the sites still talk
dc $H stop switch >>"$T/compose-$H.log" 2>&1 || fail "stop switch"
wait_for 10 eval 'cx $H switch2 vmfabric-ctl ports --json | json "len([p for p in d[\"ports\"] if p[\"type\"] == \"port\"])" | grep -qx 3' ||
	fail "the ports did not move to switch2: $(cx $H switch2 vmfabric-ctl ports 2>&1)"
wait_for 10 cx vfd-test-site1 guest busybox ping -c 1 -W 1 "$G2" || fail "site1 cannot reach site2 through switch2"
dc $H start switch >>"$T/compose-$H.log" 2>&1 || fail "start switch"
wait_for 60 healthy $H switch || fail "switch not healthy after its restart"
back() { cx $H switch vmfabric-ctl ports --json | json '" ".join(sorted(p["name"] for p in d["ports"] if p["type"] == "port"))' | grep -qx "gateway site1-guest site2-guest"; }
# a port moves back once its probe has seen switch up for the 10-s hold-down; a probe whose
# handshake was refused while switch started retries after 5 s, then 10 s
wait_for 60 back || fail "the ports did not fail back to switch within 60 s: switch has
$(cx $H switch vmfabric-ctl ports 2>&1)
switch2 has
$(cx $H switch2 vmfabric-ctl ports 2>&1)"
pass "HA pair: switch stopped, the ports moved to switch2 and the sites kept talking; switch back, they failed back"

cx $H switch vmfabric-ctl ports --json >"$T/ports.json" || fail "ports"
json '" ".join(sorted(p["name"] for p in d["ports"] if p["type"] == "port"))' <"$T/ports.json" | grep -qx "gateway site1-guest site2-guest" ||
	fail "ports: $(cat "$T/ports.json")"
dc $H run --rm -T keys vmfabric-provision revoke site2-guest >>"$T/compose-$H.log" 2>&1 || fail "revoke"
# both switches of the pair: a key revoked at one must not join the other
cx $H switch2 vmfabric-ctl reload >/dev/null || fail "reload switch2"
cx $H switch vmfabric-ctl reload >/dev/null || fail "reload"
gone() { cx $H switch vmfabric-ctl ports --json | json '" ".join(sorted(p["name"] for p in d["ports"] if p["type"] == "port"))' | grep -qx "gateway site1-guest"; }
wait_for 10 gone || fail "site2-guest still on the switch after revoke + reload"
cx vfd-test-site1 guest busybox ping -c 1 -W 2 "$G2" >/dev/null 2>&1 && fail "site1 still reaches revoked site2"
pass "revoke + reload: site2-guest is off the fabric"

for p in vfd-test-site2 vfd-test-site1 $H; do
	down "$p" || fail "down $p: $(tail -5 "$T/compose-$p.log")"
	left=$(leftovers "$p")
	[ -z "$left" ] || fail "left behind by $p: $left"
done
pass "down -v: nothing left of the hub and both sites"
