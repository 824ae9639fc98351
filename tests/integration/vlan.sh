#!/bin/bash
# vlan.sh - 802.1Q per port (issue 14 part 1): access and trunk ports set by option, key policy and
# vmfabric-ctl; isolation between VLANs, tag push and pop, hopping attempts and their counters
. "$(dirname "$0")/../lib.sh"
TOPO_NS=vl TOPO_NET=74
. "$(dirname "$0")/topo.sh"
PORT=7400
CTL=$VMF_BUILD/switch/vmfabric-ctl
FRAMES="/usr/bin/python3 $(dirname "$0")/vlanframes.py"

# h1 trunk 10,20 native 1 | h2 access 10 | h3 access 20 (its key's policy) | h4 access 10 (the
# option over its key's policy, access 20) | h5 transparent | h6 trunk 20 native 1
keys h1 h2 h3 h4 h5 h6 h7 bad child
sed -i 's/^metadata$/metadata\n    trunk = "yes"/' "$T/auth/child"
sed -i 's/^metadata$/metadata\n    vlans = "access 20"/' "$T/auth/h3" "$T/auth/h4"
sed -i 's/^metadata$/metadata\n    vlans = "trunk 5000"/' "$T/auth/bad"
sw_host
for n in 1 2 3 4 5 6; do guest_host "h$n" "$n"; done
start_switch switch $PORT --port-vlan h1/tap0=trunk:10,20:native:1 --port-vlan h2/tap0=access:10 \
	--port-vlan h4/tap0=access:10 --port-vlan h6/tap0=trunk:20:native:1
HOSTS_SUBNET=192.168.74 hosts_up $PORT lab h1 h2 h3 h4 h5 h6

ctl() { "$CTL" --control "ipc://$T/switch.ctl" "$@"; }
# frames SRC TAGS [opts]: what every other host ($HOSTS) receives, as "h1=FORM h2=FORM ..."
frames() {
	local src=$1 tags=$2 hosts=() h; shift 2
	for h in ${HOSTS:-h1 h2 h3 h4 h5 h6}; do [ "$h" = "$src" ] || hosts+=("$h"); done
	$FRAMES vl "$src" "$tags" "$@" "${hosts[@]}" | tr '\n' ' ' | sed 's/ $//'
}
# expect SRC TAGS WANT: one frame, and exactly what it must look like everywhere
expect() {
	local got
	got=$(frames "$1" "$2")
	[ "$got" = "$3" ] || fail "frame from $1 tagged '$2': got '$got', want '$3'"
}
# drops PORT REASON: the port's drop counter, from vmfabric-ctl ports --json
drops() {
	ctl --json ports | python3 -c "import json,sys
for p in json.load(sys.stdin)['ports']:
    if p['name'] == '$1': print(p['drops']['$2'])"
}
vlan_of() {
	ctl --json ports | python3 -c "import json,sys
for p in json.load(sys.stdin)['ports']:
    if p['name'] == '$1': v = p['vlan']; print(v['mode'], v.get('vlan', v.get('allowed', '')), v.get('native', ''), v['source'])"
}

ctl ports >"$T/ports.txt" || fail "vmfabric-ctl ports"
grep -q "vlan trunk 10,20 native 1 (option)" "$T/ports.txt" || fail "ports does not show h1's trunk: $(cat "$T/ports.txt")"
[ "$(vlan_of h3/tap0)" = "access 20  policy" ] || fail "h3: $(vlan_of h3/tap0), want access 20 from its policy"
[ "$(vlan_of h4/tap0)" = "access 10  option" ] || fail "h4: $(vlan_of h4/tap0), want the option's access 10 over its policy"
[ "$(vlan_of h5/tap0)" = "none   none" ] || fail "h5: $(vlan_of h5/tap0), want none"
log_has switch "bad.*line [0-9]+: vlans: VLAN setting" || fail "a key with vlans = \"trunk 5000\" was not refused"
pass "settings: option, key policy (vlans = \"access 20\"), option over policy, none; shown by ctl ports"

# IP between access ports: same VLAN yes, other VLAN no
wait_for 10 ping1 h2 192.168.74.4 || fail "h2 (access 10) cannot ping h4 (access 10)"
ping1 h2 192.168.74.3 && fail "h2 (access 10) reached h3 (access 20)"
ping1 h4 192.168.74.3 && fail "h4 (access 10) reached h3 (access 20)"
pass "access ports: VLAN 10 hosts ping each other, not the VLAN 20 host"

# from the trunk: tags 10 and 20 reach their access ports untagged, native 1 goes untagged to trunks
expect h1 10 "h2=u h3=- h4=u h5=10 h6=-"
expect h1 20 "h2=- h3=u h4=- h5=20 h6=20"
expect h1 - "h2=- h3=- h4=- h5=1 h6=u"
expect h1 1 "h2=- h3=- h4=- h5=1 h6=u"
d0=$(drops h1/tap0 vlan_denied)
expect h1 30 "h2=- h3=- h4=- h5=- h6=-"
[ "$(drops h1/tap0 vlan_denied)" = $((d0 + 1)) ] || fail "VLAN 30 on the trunk not counted as vlan_denied"
# from access ports: tagged on the way to trunks and transparent ports
expect h2 - "h1=10 h3=- h4=u h5=10 h6=-"
expect h3 - "h1=20 h2=- h4=- h5=20 h6=20"
pass "trunk and access: tags pushed and popped, native untagged, VLAN 30 denied and counted"

# hopping: tagged frames into an access port, double tags, S-tags, priority tags
expect h2 20 "h1=- h3=- h4=- h5=- h6=-"
expect h2 0 "h1=- h3=- h4=- h5=- h6=-"
expect h2 s20.10 "h1=- h3=- h4=- h5=- h6=-"
[ "$(drops h2/tap0 vlan_tagged_on_access)" = 3 ] || fail "h2: $(drops h2/tap0 vlan_tagged_on_access) tagged frames counted, want 3"
# native VLAN 1 with VLAN 20 inside: popping it onto h6 would put it in VLAN 20 there
expect h1 1.20 "h2=- h3=- h4=- h5=1.20 h6=-"
# VLAN 10 with 20 inside: it stays in 10 (tagged on transparent ports), never popped onto h2/h4
expect h1 10.20 "h2=- h3=- h4=- h5=10.20 h6=-"
[ "$(drops h1/tap0 vlan_double_tag)" -ge 3 ] || fail "double tags not counted on h1: $(drops h1/tap0 vlan_double_tag)"
expect h1 s20 "h2=- h3=- h4=- h5=- h6=-"
expect h1 0 "h2=- h3=- h4=- h5=- h6=-"
pass "no hopping: tagged/priority/S-tagged frames on an access port dropped (vlan_tagged_on_access), double tags kept in their outer VLAN (vlan_double_tag)"

# a transparent port is a trunk of every VLAN for the others; its untagged frames reach no VLAN port
expect h5 20 "h1=20 h2=- h3=u h4=- h6=20"
expect h5 - "h1=- h2=- h3=- h4=- h6=-"
pass "transparent port: tagged frames enter their VLAN, untagged ones stay among transparent ports"

# the key's policy changes, the keys are reloaded: h3 moves to VLAN 10 at once
sed -i 's/vlans = "access 20"/vlans = "access 10"/' "$T/auth/h3"
ctl reload >/dev/null || fail "ctl reload"
[ "$(vlan_of h3/tap0)" = "access 10  policy" ] || fail "h3 after reload: $(vlan_of h3/tap0)"
expect h1 10 "h2=u h3=u h4=u h5=10 h6=-"
sed -i 's/vlans = "access 10"/vlans = "access 20"/' "$T/auth/h3"
ctl reload >/dev/null || fail "ctl reload"
expect h1 20 "h2=- h3=u h4=- h5=20 h6=20"
pass "key policy changed and reloaded: applied to the live port"

# live changes, kept by name
ctl port h2/tap0 vlan access 20 >"$T/ctl.out" || fail "ctl port vlan access 20: $(cat "$T/ctl.out")"
grep -q "vlan access 20 (1 live port)" "$T/ctl.out" || fail "ctl answer: $(cat "$T/ctl.out")"
[ "$(vlan_of h2/tap0)" = "access 20  ctl" ] || fail "h2 after ctl: $(vlan_of h2/tap0)"
expect h1 20 "h2=u h3=u h4=- h5=20 h6=20"
wait_for 10 ping1 h2 192.168.74.3 || fail "h2 moved to VLAN 20 cannot ping h3"
ping1 h2 192.168.74.4 && fail "h2 moved to VLAN 20 still reaches h4 (VLAN 10)"
ctl port h1/tap0 vlan trunk 10 >/dev/null || fail "ctl port h1 trunk 10"
d0=$(drops h1/tap0 vlan_untagged)
expect h1 - "h2=- h3=- h4=- h5=- h6=-"
[ "$(drops h1/tap0 vlan_untagged)" = $((d0 + 1)) ] || fail "untagged on a trunk without native not counted"
expect h1 20 "h2=- h3=- h4=- h5=- h6=-"
ctl --json port h2/tap0 vlan none >"$T/ctl.out" || fail "ctl port vlan none"
grep -q '"vlan":"none"' "$T/ctl.out" || fail "ctl --json answer: $(cat "$T/ctl.out")"
expect h1 10 "h2=10 h3=- h4=u h5=10 h6=-"
pass "vmfabric-ctl port NAME vlan access/trunk/none: applied at once, shown in ports --json"

# a setting for a port name holds across a reconnect (the NIC process restarts)
ctl port h2/tap0 vlan access 20 >/dev/null || fail "ctl port h2 access 20"
for p in "${PIDS[@]}"; do tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- "--name h2/tap0" && stop "$p"; done
start_nic h2 2 h2 lab $PORT
tap_setup h2 2 192.168.74.2/24
wait_for 10 joined nic-h2 || fail "h2 did not come back"
[ "$(vlan_of h2/tap0)" = "access 20  ctl" ] || fail "h2 after its reconnect: $(vlan_of h2/tap0)"
expect h1 20 "h2=- h3=- h4=- h5=- h6=-"
ctl port h1/tap0 vlan trunk 10,20 native 1 >/dev/null || fail "ctl port h1 back"
expect h1 20 "h2=u h3=u h4=- h5=20 h6=20"
pass "a setting made live holds when the port's NIC process reconnects"

ctl port h9/tap0 vlan trunk 5 >"$T/ctl.out" || fail "ctl for a port not connected"
grep -q "applies when it joins" "$T/ctl.out" || fail "ctl answer for an absent port: $(cat "$T/ctl.out")"
ctl port h2/tap0 vlan access 4095 2>"$T/ctl.err" && fail "VLAN 4095 accepted"
grep -q "VIDs 1-4094" "$T/ctl.err" || fail "bad VID error: $(cat "$T/ctl.err")"
"$SWITCH" -f --insecure --listen tcp://127.0.0.1:7401 --control none --port-vlan h1=trunk:x \
	>"$T/bad.out" 2>&1 && fail "--port-vlan h1=trunk:x accepted"
grep -q "port-vlan" "$T/bad.out" || fail "bad --port-vlan error: $(cat "$T/bad.out")"
pass "errors: bad VID over ctl, bad --port-vlan at start; a setting for an absent port waits for it"
kill -0 "$SW_PID" || fail "switch died"

# a tree: a child switch with an access port of VLAN 10 (h7); the trunk between the switches
# carries frames tagged with their VLAN, so VLAN 10 spans both switches and 20 stays apart
guest_host h7 7
start child ip netns exec "$SW_NS" "$SWITCH" -f --listen "tcp://0.0.0.0:$((PORT + 3))" \
	--key "$T/keys/switch_secret" --authorized "$T/auth" --control "ipc://$T/child.ctl" \
	--switch-id child --uplink "tcp://127.0.0.1:$PORT" --uplink-server-key "$T/keys/switch" \
	--uplink-key "$T/keys/child_secret" --port-vlan h7/tap0=access:10
wait_for 10 log_has child "uplink: joined parent switch" || fail "the child switch did not join"
start_nic h7 7 h7 lab $((PORT + 3))
tap_setup h7 7 192.168.74.7/24
wait_for 10 joined nic-h7 || fail "h7 did not join the child switch"
HOSTS="h1 h2 h3 h4 h5 h6 h7"
# what the root sends the child: captured on the trunk, tagged with VLAN 10
timeout 10 "$CTL" --control "ipc://$T/switch.ctl" capture switch/child --count 1 --filter "vlan 10" \
	>"$T/cap.out" 2>&1 &
CAP=$!
sleep 0.5
expect h1 10 "h2=- h3=- h4=u h5=10 h6=- h7=u"
wait "$CAP" || fail "capture on the trunk to the child: $(cat "$T/cap.out")"
grep -q " 0x8100 " "$T/cap.out" || fail "the trunk to the child did not carry the VLAN tag: $(cat "$T/cap.out")"
expect h7 - "h1=10 h2=- h3=- h4=u h5=10 h6=-"
expect h1 20 "h2=u h3=u h4=- h5=20 h6=20 h7=-"
wait_for 10 ping1 h7 192.168.74.4 || fail "h7 (access 10, child switch) cannot ping h4 (access 10, root)"
ping1 h7 192.168.74.3 && fail "h7 (VLAN 10) reached h3 (VLAN 20) across the tree"
pass "tree of switches: VLAN 10 spans the trunk between switches (tagged on it), VLAN 20 stays apart"

# the child's trunk comes back: it announces the MACs below it in their VLANs
macs_of() {
	ctl --json macs | python3 -c "import json,sys
print(' '.join('%s@%s' % (m['vlan'], m['port']) for m in json.load(sys.stdin)['macs'] if m['mac'] == '$1'))"
}
[ "$(macs_of 02:74:00:00:00:07)" = "10@switch/child" ] || fail "root's entry for h7: $(macs_of 02:74:00:00:00:07)"
ctl kick switch/child >/dev/null || fail "kick the child's trunk"
wait_for 10 sh -c "[ \"\$(grep -c 'uplink: joined parent switch' '$T/child.log')\" -ge 2 ]" || fail "the child did not rejoin"
sleep 0.5
[ "$(macs_of 02:74:00:00:00:07)" = "10@switch/child" ] || fail "after the child rejoined, root's entry for h7: '$(macs_of 02:74:00:00:00:07)' (want 10@switch/child, announced)"
pass "a child switch that rejoins announces its MACs in their VLANs"

# TSO super-frames (virtio-net headers) through a tag push and a pop: from h7 (access 10, TAP
# offloads) the child switch sends them tagged up the trunk (csum_start and hdr_len + 4), the root
# pops the tag for h4, whose NIC process runs without offloads and cuts them into segments,
# completing checksums at csum_start: an offset moved one way and not back breaks TCP. (The host
# kernel has neither 8021q nor bridge VLAN filtering, so no TAP host here ends tagged TCP; the
# exact offsets are in tests/unit/test_vlan.c.)
# restart_nic HOST N [args]: the host's NIC process again, with args
restart_nic() {
	local h=$1 n=$2 p; shift 2
	for p in "${PIDS[@]}"; do tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- "--name $h/tap0" && stop "$p"; done
	start_nic "$h" "$n" "$h" lab $PORT "$@"
	tap_setup "$h" "$n" "192.168.74.$n/24"
	wait_for 10 joined "nic-$h" || fail "$h did not come back"
}
# xfer FROM TO ADDR MB: MB MiB over TCP from FROM to a server on ADDR in TO, all received
xfer() {
	start "srv-$2" ip netns exec "vl-$2" /usr/bin/python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 5001)); s.listen(1); s.settimeout(20)
c, _ = s.accept(); c.settimeout(20); n = 0
while True:
    d = c.recv(1 << 20)
    if not d: break
    n += len(d)
print("received", n)' "$3"
	local srv=$LAST_PID
	wait_for 5 sh -c "ip netns exec vl-$2 ss -Hltn 'sport = :5001' | grep -q LISTEN" || return 1
	ip netns exec "vl-$1" timeout 30 /usr/bin/python3 -c '
import socket, sys
c = socket.create_connection((sys.argv[1], 5001), timeout=10); b = bytes(range(256)) * 4096
for _ in range(int(sys.argv[2])): c.sendall(b)
c.close()' "$3" "$4" || return 1
	wait "$srv"
	grep -q "^received $(( $4 * 1048576 ))$" "$T/srv-$2.log"
}
restart_nic h4 4 --offload off
ip netns exec vl-h7 ethtool -k tap0 | grep -q "^tcp-segmentation-offload: on" || fail "h7's TAP has no TSO"
timeout 20 "$CTL" --control "ipc://$T/switch.ctl" capture switch/child --count 1 \
	--filter "vlan 10 and greater 3000" >"$T/cap.out" 2>&1 &
CAP=$!
sleep 0.5
xfer h7 h4 192.168.74.4 16 || fail "16 MiB from h7 (child, TSO) to h4 (root, no offloads): $(cat "$T/srv-h4.log")"
wait "$CAP" || fail "no tagged super-frame on the trunk from the child: $(cat "$T/cap.out")"
grep -q " 0x8100 len [0-9]\{4,5\} " "$T/cap.out" || fail "capture: $(cat "$T/cap.out")"
pass "TSO super-frames tagged up the trunk and popped for a NIC without offloads: 16 MiB of TCP intact"
