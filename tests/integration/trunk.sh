#!/bin/bash
# trunk.sh - a tree of switches: a root and two site switches joined by CURVE trunks. Hosts talk
# across sites and within a site; traffic within a site never crosses its trunk and survives the
# root's death; sites rejoin when the root returns; super-frames cross trunks whole; version-1
# ports still join; only keys whose policy says trunk = yes may trunk; revoking a site's key drops
# its trunk and every MAC behind it; a ring of three switches configured by mistake is cut and a
# broadcast stays bounded.
. "$(dirname "$0")/../lib.sh"
TOPO_NS=vtr TOPO_NET=95
. "$(dirname "$0")/topo.sh"
PORT=7892
RAW=$VMF_BUILD/tests/integration/vmf-rawclient
CTL=$VMF_BUILD/switch/vmfabric-ctl

# trunk_key NAME: NAME's admitted certificate may trunk
trunk_key() { sed -i 's/^metadata$/metadata\n    trunk = "yes"/' "$T/auth/$1"; }

keys a1 a2 b1 raw siteA siteB nope x y z
trunk_key siteA
trunk_key siteB
for k in x y z; do trunk_key $k; done
sw_host
guest_host a1 1
guest_host a2 2
guest_host b1 3

# sw NAME PORT [args]: a switch in the switch host, its own control socket and stats file
sw() {
	local name=$1 port=$2; shift 2
	start "$name" ip netns exec "$SW_NS" "$SWITCH" -f --listen "tcp://0.0.0.0:$port" \
		--key "$T/keys/switch_secret" --authorized "$T/auth" --stats-file "$T/$name.json" \
		--control "ipc://$T/$name.ctl" --switch-id "$name" "$@"
	wait_for 5 log_has "$name" "listening on" || fail "switch $name did not start"
}
uplink() { echo --uplink "tcp://127.0.0.1:$1" --uplink-server-key "$T/keys/switch" --uplink-key "$T/keys/${2}_secret"; }
ctlj() { "$CTL" --control "ipc://$T/$1.ctl" --json "${@:2}"; }
# portj SWITCH NAME EXPR: EXPR on port NAME of SWITCH (p is the port's JSON)
portj() {
	ctlj "$1" ports | python3 -c "import json,sys; d=json.load(sys.stdin); p=[p for p in d['ports'] if p['name']=='$2']; p=p[0] if p else None; print($3)"
}

sw root $PORT
ROOT=$LAST_PID
sw siteA $((PORT + 1)) $(uplink $PORT siteA)
sw siteB $((PORT + 2)) $(uplink $PORT siteB) --uplink-networks lab,other
wait_for 10 log_has siteA "uplink: joined parent switch root" || fail "site A did not join the root"
wait_for 10 log_has siteB "uplink: joined parent switch root" || fail "site B did not join the root"
start_nic a1 1 a1 lab $((PORT + 1)); A1=$NIC_PID
start_nic a2 2 a2 lab $((PORT + 1))
start_nic b1 3 b1 lab $((PORT + 2))
tap_setup a1 1 192.168.76.1/24
tap_setup a2 2 192.168.76.2/24
tap_setup b1 3 192.168.76.3/24
for h in a1 a2 b1; do wait_for 10 joined nic-$h || fail "$h did not join"; done
pings a1 192.168.76.3 3 || fail "a1 -> b1 across the root: $(cat "$T/ping.out")"
pings b1 192.168.76.2 3 || fail "b1 -> a2 across the root"
pings a1 192.168.76.2 3 || fail "a1 -> a2 within site A"
[ "$(portj root switch/siteA 'p["type"]+" "+p["switch_id"]')" = "trunk siteA" ] || fail "root's ports do not show site A's trunk: $(ctlj root ports)"
[ "$(portj root switch/siteA 'p["macs"] >= 2')" = True ] || fail "root learnt no MACs behind site A's trunk"
pass "root + 2 sites: a1 <-> b1 across trunks, a1 <-> a2 within a site; root shows the trunks with their switch ids and MACs"

# the tree, as each switch sees it
[ "$(ctlj siteA tree | json 'd["above"]')" = "['root']" ] || fail "site A's tree: $(ctlj siteA tree)"
[ "$(ctlj root tree | json 'sorted(t["switch_id"] for t in d["trunks"])')" = "['siteA', 'siteB']" ] || fail "root's tree: $(ctlj root tree)"
"$CTL" --control "ipc://$T/root.ctl" tree --dot >"$T/tree.dot" || fail "tree --dot"
grep -q '"root" -> "siteA"' "$T/tree.dot" && grep -q '^digraph' "$T/tree.dot" || { cat "$T/tree.dot"; fail "tree --dot"; }
"$CTL" --control "ipc://$T/siteB.ctl" tree >"$T/tree.txt" || fail "tree (text)"
grep -q "siteB (this switch, uplink up)" "$T/tree.txt" || { cat "$T/tree.txt"; fail "tree (text)"; }
# capture on a trunk: the echo request and reply between the sites
timeout 15 "$CTL" --control "ipc://$T/root.ctl" capture switch/siteB -w "$T/trunk.pcap" --count 2 --filter icmp 2>"$T/cap.err" &
CAP=$!
sleep 0.5
pings a1 192.168.76.3 2 || fail "a1 -> b1 during the capture"
wait "$CAP" || { cat "$T/cap.err"; fail "capture on the trunk"; }
grep -q "2 frames captured" "$T/cap.err" || { cat "$T/cap.err"; fail "capture on the trunk did not report 2 frames"; }
pass "tree: site A sees root above; root sees both trunks (--json, --dot, text); capture on a trunk works"

# within a site, unicast never crosses the trunk (the ARP entries are warm)
T0=$(portj siteA uplink 'p["tx_frames"]')
ip netns exec vtr-a1 ping -q -n -c 100 -i 0.02 -W 1 192.168.76.2 >"$T/ping.out" 2>&1 || fail "100 pings a1 -> a2"
T1=$(portj siteA uplink 'p["tx_frames"]')
[ $((T1 - T0)) -le 4 ] || fail "$((T1 - T0)) frames went up site A's trunk during 100 pings within the site"
pass "local switching: 100 pings a1 <-> a2, $((T1 - T0)) frames up site A's trunk"

# super-frames cross trunks whole: TSO from a1 to b1
ip netns exec vtr-b1 iperf3 -s -1 -B 192.168.76.3 -p 7897 -D
sleep 0.5
ip netns exec vtr-a1 iperf3 -c 192.168.76.3 -p 7897 -t 2 -J >"$T/iperf.json" || fail "iperf3 a1 -> b1"
M=$(json 'int(d["end"]["sum_received"]["bits_per_second"] / 1e6)' <"$T/iperf.json")
AVG=$(portj root switch/siteA 'p["rx_bytes"] // max(p["rx_frames"], 1)')
[ "$AVG" -gt 3000 ] || fail "frames up site A's trunk average $AVG bytes: no super-frames"
pass "iperf3 a1 -> b1 through two trunks: $M Mbit/s, frames on the trunk average $AVG bytes (super-frames whole)"

# a version-1 port still joins (site A), a key without trunk = yes cannot trunk
ip netns exec "$SW_NS" "$RAW" --switch "tcp://127.0.0.1:$((PORT + 1))" --server-key "$T/keys/switch" \
	--key "$T/keys/raw_secret" hello:1:lab:raw/v1 expect:welcome:3000 >"$T/raw.log" 2>&1 || { cat "$T/raw.log"; fail "a version-1 port was refused"; }
sw nope $((PORT + 3)) $(uplink $PORT nope) --uplink-name nope/trunk
wait_for 10 log_has nope "may not trunk" || fail "a key without trunk = yes was not refused: $(tail -3 "$T/nope.log")"
pass "version-1 Hello welcomed; a child whose key may not trunk is refused and says so"

# kill -9 the root: no ping lost within a site; the sites rejoin when it returns
start pinger ip netns exec vtr-a1 ping -n -i 0.05 -W 1 192.168.76.2
PINGER=$LAST_PID
sleep 0.5
kill -9 "$ROOT"; wait "$ROOT" 2>/dev/null
wait_for 10 log_has siteA "lost the parent switch" || fail "site A did not notice the root's death"
sleep 1
stop "$PINGER"
LOST=$(awk -F'icmp_seq=' '/icmp_seq=/ { split($2, a, " "); s[a[1]] = 1; if (a[1] > m) m = a[1] } END { n = 0; for (i = 1; i <= m; i++) if (!(i in s)) n++; print n }' "$T/pinger.log")
[ "$LOST" = 0 ] || fail "$LOST pings lost within site A while the root died"
sw root $PORT
wait_for 15 eval '[ "$(grep -c "uplink: joined parent switch root" "$T/siteA.log")" -ge 2 ]' || fail "site A did not rejoin"
wait_for 15 eval '[ "$(grep -c "uplink: joined parent switch root" "$T/siteB.log")" -ge 2 ]' || fail "site B did not rejoin"
kill -0 "$A1" || fail "a NIC process died"
# the sites announced what is below them: the new root knows a1, a2 and b1 before they send
rootmacs() { ctlj root macs | python3 -c "import json,sys; print(' '.join(sorted(m['mac'] for m in json.load(sys.stdin)['macs'])))"; }
announced() { [ "$(rootmacs)" = "02:95:00:00:00:01 02:95:00:00:00:02 02:95:00:00:00:03" ]; }
wait_for 5 announced || fail "the restarted root has not learnt the sites' MACs: $(rootmacs)"
wait_for 10 pings a1 192.168.76.3 1 || fail "a1 -> b1 after the root returned"
pass "root killed: 0 pings lost within site A; both sites rejoined the restarted root and announced their MACs to it; a1 -> b1 again"

# revoking site B's key drops its trunk and every MAC behind it
pings b1 192.168.76.1 2 || fail "b1 -> a1"
[ "$(ctlj root macs | python3 -c "import json,sys; print(sum(m['port'] == 'switch/siteB' for m in json.load(sys.stdin)['macs']))")" -ge 1 ] || fail "no MAC behind site B at the root"
rm "$T/auth/siteB"
"$CTL" --control "ipc://$T/root.ctl" reload >/dev/null || fail "ctl reload"
wait_for 5 eval '[ "$(portj root switch/siteB p)" = None ]' || fail "site B's trunk survived the revocation"
[ "$(ctlj root macs | python3 -c "import json,sys; print(sum(m['port'] == 'switch/siteB' for m in json.load(sys.stdin)['macs']))")" = 0 ] || fail "MACs behind the revoked trunk stayed"
! ping1 a1 192.168.76.3 || fail "a1 still reaches b1 behind the revoked trunk"
pass "revoked site B: trunk and the MACs behind it gone at the root, b1 unreachable from site A"

# a ring configured by mistake: x -> y -> z -> x. It is cut, and a broadcast stays bounded.
sw x $((PORT + 4)) $(uplink $((PORT + 5)) x); X=$LAST_PID
sw y $((PORT + 5)) $(uplink $((PORT + 6)) y); Y=$LAST_PID
sw z $((PORT + 6)) $(uplink $((PORT + 4)) z); Z=$LAST_PID
looped() { grep -qiE "loop" "$T/x.log" "$T/y.log" "$T/z.log"; }
wait_for 15 looped || fail "no switch of the ring saw the loop"
sleep 3
# frames_out SWITCH PID: frames the switch has sent (its --stats-file on SIGUSR1)
frames_out() { stats "$2" "$T/$1.json" | json 'd["switch"]["frames_out"]'; }
F0=$(( $(frames_out x $X) + $(frames_out y $Y) + $(frames_out z $Z) ))
ip netns exec "$SW_NS" "$RAW" --switch "tcp://127.0.0.1:$((PORT + 4))" --server-key "$T/keys/switch" \
	--key "$T/keys/raw_secret" hello:2:ring:raw/r expect:welcome:3000 batch batch batch wait:10000 >"$T/ring.log" 2>&1 ||
	{ cat "$T/ring.log"; fail "raw client on the ring"; }
F1=$(( $(frames_out x $X) + $(frames_out y $Y) + $(frames_out z $Z) ))
RX=$(grep -c "rx batch" "$T/ring.log")
[ $((F1 - F0)) -le 30 ] || fail "3 broadcasts made $((F1 - F0)) frames in the ring in 10 s: a loop"
[ "$RX" -le 3 ] || fail "the broadcasting port got $RX of its own broadcasts back"
pass "ring x -> y -> z -> x: cut ($(cat "$T/x.log" "$T/y.log" "$T/z.log" | grep -ci loop) loop lines); 3 broadcasts made $((F1 - F0)) frames in 10 s, $RX came back"
pass "trunk"
