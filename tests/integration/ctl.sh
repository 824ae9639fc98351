#!/bin/bash
# ctl.sh - vmfabric-ctl against a live fabric: ports/macs/networks/stats, kick, reload, live capture, admin CURVE
#
# Namespaces vfc-sw (switch), vfc-h1 and vfc-h2 (network lab), vfc-h3 (network other), each guest host
# joined to vfc-sw over veth (10.98.N.1 switch side, 10.98.N.2 guest side); NIC processes reach the
# switch over TCP + CURVE and give their guest host a TAP tap0. IPv6 is off so counters are exact.
. "$(dirname "$0")/../lib.sh"
CTL=$VMF_BUILD/switch/vmfabric-ctl
PORT=7760
ADMIN_PORT=7761
PORT2=7762
N=50
H1IP=192.168.76.1 H2IP=192.168.76.2 H3IP=192.168.75.3

command -v tshark >/dev/null || EXTRA_PKGS="tshark" "$VMF_ROOT/deploy/install-deps.sh" >/dev/null ||
	fail "cannot install tshark"
command -v tshark >/dev/null || fail "tshark missing"
command -v iperf3 >/dev/null || fail "iperf3 missing"
[ -x "$CTL" ] || fail "build first: $CTL missing"

# c ARGS...: vmfabric-ctl on the test switch's ipc management endpoint
c() { "$CTL" --control "ipc://$T/ctl" "$@"; }
# cj NAME ARGS...: vmfabric-ctl --json ARGS into $T/NAME.json, must succeed with "ok":true
cj() {
	local name=$1; shift
	c --json "$@" >"$T/$name.json" 2>"$T/$name.err" || { cat "$T/$name.err"; fail "vmfabric-ctl --json $*"; }
	[ "$(json 'd["ok"]' <"$T/$name.json")" = True ] || fail "vmfabric-ctl --json $*: $(cat "$T/$name.json")"
}
# jq_ NAME EXPR: python expression on $T/NAME.json (d is the document)
jq_() { json "$2" <"$T/$1.json"; }
# port_of NAME PORT FIELD: FIELD (dotted) of PORT in $T/NAME.json's "ports" ("none" if absent)
port_of() {
	python3 - "$T/$1.json" "$2" "$3" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
v = "none"
for p in d["ports"]:
    if p["name"] == sys.argv[2]:
        v = p
        for k in sys.argv[3].split("."):
            v = v[k]
print(v)
PY
}
in_ns() { local h=$1; shift; ip netns exec "vfc-$h" "$@"; }
joined_n() { [ "$(grep -c "joined network" "$T/nic-$1.log")" -ge "$2" ]; }
has_port() { cj hp ports; [ "$(port_of hp "$1" name)" = "$1" ]; }
no_port() { cj np ports; [ "$(port_of np "$1" name)" = none ]; }

# --- topology ---------------------------------------------------------------------
keys h1 h2 h3
netns_add vfc-sw
for h in h1 h2 h3; do netns_add "vfc-$h"; done
for ns in vfc-sw vfc-h1 vfc-h2 vfc-h3; do
	ip netns exec $ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
for n in 1 2 3; do veth_link vfc-sw "vfc-to-h$n" "10.98.$n.1/24" "vfc-h$n" vfc-up "10.98.$n.2/24"; done

start switch ip netns exec vfc-sw "$SWITCH" -f --listen "tcp://0.0.0.0:$PORT" --key "$T/keys/switch_secret" \
	--authorized "$T/auth" --control "ipc://$T/ctl"
SW_PID=$LAST_PID
wait_for 5 log_has switch "management on ipc://$T/ctl" || fail "switch did not start its management endpoint"
declare -A NICPID
for n in 1 2 3; do
	net=lab; [ $n = 3 ] && net=other
	start "nic-h$n" ip netns exec "vfc-h$n" "$NIC" -f --switch "tcp://10.98.$n.1:$PORT" \
		--server-key "$T/keys/switch" --key "$T/keys/h${n}_secret" --network $net --name "h$n/tap0" --tap tap0
	NICPID[h$n]=$LAST_PID
done
for n in 1 2 3; do
	wait_for 5 ip -n "vfc-h$n" link show tap0 || fail "tap0 did not appear in vfc-h$n"
	ip -n "vfc-h$n" link set tap0 up
done
ip -n vfc-h1 addr add $H1IP/24 dev tap0
ip -n vfc-h2 addr add $H2IP/24 dev tap0
ip -n vfc-h3 addr add $H3IP/24 dev tap0
for n in 1 2 3; do wait_for 10 joined_n "h$n" 1 || fail "h$n did not join"; done
mac_of() { ip -n "vfc-$1" link show tap0 | awk '/link\/ether/ {print $2}'; }
M1=$(mac_of h1) M2=$(mac_of h2) M3=$(mac_of h3)
[ -n "$M1" ] && [ -n "$M2" ] && [ -n "$M3" ] || fail "cannot read the TAP MACs"
# h3 announces itself in network other (an ARP request nobody answers)
in_ns h3 ping -q -n -c 1 -W 1 192.168.75.9 >/dev/null 2>&1
in_ns h1 ping -q -n -c $N -i 0.02 -W 1 $H2IP >"$T/ping.out" 2>&1 || { cat "$T/ping.out"; fail "ping h1 -> h2"; }
pass "3 NIC processes joined (h1, h2 in lab, h3 in other); $N pings h1 -> h2"

# --- 1. ports, macs, networks, stats ---------------------------------------------
cj ports ports
for p in h1 h2 h3; do
	[ "$(port_of ports $p/tap0 name)" = $p/tap0 ] || fail "ports --json lacks $p/tap0: $(cat "$T/ports.json")"
	[ "$(port_of ports $p/tap0 key)" = "$("$KEYTOOL" public "$T/keys/$p")" ] ||
		fail "ports --json: $p/tap0 key $(port_of ports $p/tap0 key) is not vmfabric-key public of $p's cert"
	for d in $(jq_ ports '" ".join(d["ports"][0]["drops"])'); do
		[ "$(port_of ports $p/tap0 drops.$d)" = 0 ] || fail "ports --json: $p/tap0 drops.$d = $(port_of ports $p/tap0 drops.$d)"
	done
	python3 -c "import sys; float(sys.argv[1]); float(sys.argv[2])" \
		"$(port_of ports $p/tap0 batch.rx_frames_per_msg)" "$(port_of ports $p/tap0 batch.tx_frames_per_msg)" ||
		fail "ports --json: $p/tap0 has no batch stats"
done
[ "$(jq_ ports 'len(d["ports"][0]["drops"])')" -ge 4 ] || fail "ports --json: drop reasons missing"
[ "$(port_of ports h1/tap0 network)" = lab ] && [ "$(port_of ports h2/tap0 network)" = lab ] ||
	fail "h1/h2 not in network lab"
[ "$(port_of ports h3/tap0 network)" = other ] || fail "h3 not in network other"
R1=$(port_of ports h1/tap0 rx_frames) T1=$(port_of ports h1/tap0 tx_frames)
R2=$(port_of ports h2/tap0 rx_frames) T2=$(port_of ports h2/tap0 tx_frames)
for v in "$R1" "$T1" "$R2" "$T2"; do [ "$v" -ge $N ] || fail "ports --json: frames $R1/$T1/$R2/$T2 (rx/tx h1, rx/tx h2) < $N"; done
# lab has two ports: all h1 sends goes to h2 and back
[ "$R1" = "$T2" ] || fail "h1 rx_frames $R1 != h2 tx_frames $T2"
[ "$R2" = "$T1" ] || fail "h2 rx_frames $R2 != h1 tx_frames $T1"
[ "$(port_of ports h1/tap0 rx_bytes)" = "$(port_of ports h2/tap0 tx_bytes)" ] || fail "h1 rx_bytes != h2 tx_bytes"
[ "$(python3 -c "print(float('$(port_of ports h1/tap0 batch.rx_frames_per_msg)') >= 1)")" = True ] ||
	fail "h1 batch rx_frames_per_msg < 1"
pass "ports --json: 3 ports with network and key (= vmfabric-key public), h1 rx $R1 = h2 tx, h2 rx $R2 = h1 tx (>= $N), no drops, batch stats"

c ports >"$T/ports.txt" 2>&1 || fail "vmfabric-ctl ports"
for p in h1 h2 h3; do
	grep -E "^$p/tap0 " "$T/ports.txt" | grep -Fq -- "$("$KEYTOOL" public "$T/keys/$p" | cut -c1-8)" ||
		{ cat "$T/ports.txt"; fail "ports (text) lacks $p/tap0 with its short key"; }
done
grep -q "^PORT " "$T/ports.txt" || fail "ports (text) has no header"
pass "ports (text): a header and one line per port with its short key"

cj macs macs
mac_port() { python3 -c "
import json, sys
d = json.load(open('$T/$1.json'))
print(' '.join(sorted(m['network'] + ',' + m['mac'] + ',' + m['port'] for m in d['macs'])))"; }
[ "$(mac_port macs)" = "$(printf '%s\n' "lab,$M1,h1/tap0" "lab,$M2,h2/tap0" "other,$M3,h3/tap0" | sort | xargs)" ] ||
	fail "macs --json: $(mac_port macs), expected $M1 -> h1/tap0, $M2 -> h2/tap0 (lab), $M3 -> h3/tap0 (other)"
python3 -c "
import json; d = json.load(open('$T/macs.json'))
assert all(0 <= m['age_ms'] < 15000 for m in d['macs']), d" || fail "macs --json: an age is not small"
cj macs-lab macs --network lab
[ "$(mac_port macs-lab)" = "$(printf '%s\n' "lab,$M1,h1/tap0" "lab,$M2,h2/tap0" | sort | xargs)" ] ||
	fail "macs --network lab: $(mac_port macs-lab)"
cj macs-other macs -N other
[ "$(mac_port macs-other)" = "other,$M3,h3/tap0" ] || fail "macs -N other: $(mac_port macs-other)"
c macs --network lab >"$T/macs.txt" 2>&1 || fail "vmfabric-ctl macs --network lab"
grep -Eq "^lab +$M1 .* h1/tap0 " "$T/macs.txt" && grep -Eq "^lab +$M2 .* h2/tap0 " "$T/macs.txt" ||
	{ cat "$T/macs.txt"; fail "macs (text) lacks the lab entries"; }
grep -q "h3/tap0" "$T/macs.txt" && fail "macs --network lab (text) shows h3"
pass "macs: exactly the TAP MACs ($M1 h1, $M2 h2 in lab; $M3 h3 in other), small ages, --network filters"

cj nets networks
[ "$(jq_ nets 'sorted((n["name"], n["ports"], n["macs"]) for n in d["networks"])')" = "[('lab', 2, 2), ('other', 1, 1)]" ] ||
	fail "networks --json: $(cat "$T/nets.json")"
c networks >"$T/nets.txt" 2>&1 || fail "vmfabric-ctl networks"
grep -Eq "^lab +[0-9]+ +2 +2 " "$T/nets.txt" || { cat "$T/nets.txt"; fail "networks (text)"; }
cj stats stats
jq_ stats 'd["uptime_ms"] > 0 and d["ports"] == 3 and d["networks"] == 2 and 0 <= d["loop_utilisation"] <= 1 and d["switch"]["zap_denied"] == 0' |
	grep -q True || fail "stats --json: $(cat "$T/stats.json")"
c stats >"$T/stats.txt" 2>&1 || fail "vmfabric-ctl stats"
grep -Eq "^ports +3$" "$T/stats.txt" && grep -q "^uptime" "$T/stats.txt" || { cat "$T/stats.txt"; fail "stats (text)"; }
pass "networks: lab 2 ports 2 MACs, other 1/1; stats: uptime, 3 ports, loop utilisation in [0,1]"

# --- 2. kick and reload -------------------------------------------------------------
c kick h2/tap0 >"$T/kick.out" 2>&1 || { cat "$T/kick.out"; fail "kick h2/tap0"; }
cj afterkick ports
[ "$(port_of afterkick h2/tap0 name)" = none ] || fail "h2/tap0 still in ports right after kick"
log_has switch "kicking port h2/tap0" || fail "switch did not log the kick"
wait_for 5 has_port h2/tap0 || fail "h2/tap0 did not come back within 5 s of the kick"
kill -0 "${NICPID[h2]}" || fail "the kicked NIC process died"
[ "$(grep -c "joined network" "$T/nic-h2.log")" = 2 ] || fail "h2's log does not show two joins"
in_ns h1 ping -q -n -c 2 -i 0.2 -W 1 $H2IP >/dev/null || fail "ping h1 -> h2 after the kick"
expect_exit 1 kick-none c kick nosuchport
out_has kick-none "no such port 'nosuchport'"
pass "kick: h2/tap0 left the port list, the same NIC process (pid ${NICPID[h2]}) joined again; kick nosuchport fails clearly"

rm "$T/auth/h3"
c reload >"$T/reload.out" 2>&1 || { cat "$T/reload.out"; fail "vmfabric-ctl reload"; }
cj afterreload ports
[ "$(port_of afterreload h3/tap0 name)" = none ] || fail "h3/tap0 still live after its key was removed and reload"
[ "$(jq_ afterreload 'len(d["ports"])')" = 2 ] || fail "reload removed more than h3"
log_has switch "reloaded $T/auth" || fail "switch did not log the reload"
sleep 1.5
no_port h3/tap0 || fail "h3/tap0 came back without a key"
pass "reload: removed key -> h3/tap0 disconnected and kept out, h1 and h2 untouched"

# --- 3. capture ------------------------------------------------------------------------
# bg_ping HOST ADDR INTERVAL COUNT: pings in the background, PID in $PING_PID
bg_ping() { start "ping-$1" ip netns exec "vfc-$1" ping -n -i "$3" -c "$4" -W 1 "$2"; PING_PID=$LAST_PID; }
tsh() { tshark "$@" 2>/dev/null; }

bg_ping h1 $H2IP 0.2 40
timeout 15 "$CTL" --control "ipc://$T/ctl" capture h1/tap0 -w - --count 4 --filter icmp 2>"$T/cap1.err" |
	tsh -r - -T fields -e ip.src -e ip.dst -e icmp.type >"$T/cap1.txt"
[ "$(wc -l <"$T/cap1.txt")" = 4 ] || { cat "$T/cap1.txt" "$T/cap1.err"; fail "capture --count 4: $(wc -l <"$T/cap1.txt") frames"; }
grep -Pq "^$H1IP\t$H2IP\t8$" "$T/cap1.txt" && grep -Pq "^$H2IP\t$H1IP\t0$" "$T/cap1.txt" ||
	{ cat "$T/cap1.txt"; fail "capture h1/tap0: no echo request h1 -> h2 and reply h2 -> h1"; }
[ "$(cut -f3 "$T/cap1.txt" | sort | xargs)" = "0 0 8 8" ] || { cat "$T/cap1.txt"; fail "capture h1/tap0 --filter icmp"; }
grep -q "4 frames captured" "$T/cap1.err" || { cat "$T/cap1.err"; fail "capture did not report its count"; }
pass "capture h1/tap0 -w - | tshark: echo requests $H1IP -> $H2IP (8) and replies back (0)"

c capture --network lab -w "$T/lab.pcap" --count 6 >"$T/cap2.out" 2>&1 || { cat "$T/cap2.out"; fail "capture --network lab"; }
tshark -r "$T/lab.pcap" -T fields -e eth.src -e ip.src >"$T/lab.txt" 2>"$T/lab.err" || { cat "$T/lab.err"; fail "tshark cannot read the pcap file"; }
[ "$(wc -l <"$T/lab.txt")" = 6 ] || { cat "$T/lab.txt"; fail "capture --network lab --count 6: $(wc -l <"$T/lab.txt") frames"; }
grep -Pq "^$M1\t$H1IP$" "$T/lab.txt" && grep -Pq "^$M2\t$H2IP$" "$T/lab.txt" ||
	{ cat "$T/lab.txt"; fail "network capture lacks frames from h1 or h2"; }
capinfos -M -E "$T/lab.pcap" 2>/dev/null | grep -Eq "encapsulation: +ether$" || fail "pcap link type is not Ethernet"
pass "capture --network lab -w FILE --count 6: tshark reads 6 Ethernet frames, from both h1 and h2"

# ARP and ICMP at once: flush the neighbour caches while the ping runs
stop "$PING_PID"
bg_ping h1 $H2IP 0.1 100
flusher() { while :; do ip -n vfc-h1 neigh flush all; ip -n vfc-h2 neigh flush all; sleep 0.25; done; }
flusher & FL_PID=$!
PIDS+=("$FL_PID")
start cap-all "$CTL" --control "ipc://$T/ctl" capture --network lab -w "$T/all.pcap" --count 30
CA=$LAST_PID
start cap-arp "$CTL" --control "ipc://$T/ctl" capture --network lab -w "$T/arp.pcap" --count 4 --filter arp
CR=$LAST_PID
start cap-rep "$CTL" --control "ipc://$T/ctl" capture --network lab -w "$T/rep.pcap" --count 4 \
	--filter 'icmp[icmptype]==icmp-echoreply'
CP=$LAST_PID
for p in $CA $CR $CP; do
	for _ in $(seq 100); do kill -0 $p 2>/dev/null || break; sleep 0.1; done
	kill -0 $p 2>/dev/null && fail "a filtered capture did not end within 10 s"
	wait $p || fail "a capture exited nonzero"
done
stop $FL_PID
tsh -r "$T/all.pcap" -T fields -e eth.type >"$T/all.txt"
tsh -r "$T/arp.pcap" -T fields -e eth.type >"$T/arp.txt"
tsh -r "$T/rep.pcap" -T fields -e eth.type -e icmp.type >"$T/rep.txt"
grep -q 0x0806 "$T/all.txt" && grep -q 0x0800 "$T/all.txt" ||
	{ sort "$T/all.txt" | uniq -c; fail "unfiltered capture did not see both ARP and IPv4"; }
[ "$(wc -l <"$T/arp.txt")" = 4 ] && [ "$(sort -u "$T/arp.txt")" = 0x0806 ] ||
	{ cat "$T/arp.txt"; fail "--filter arp kept something else"; }
[ "$(wc -l <"$T/rep.txt")" = 4 ] && [ "$(sort -u "$T/rep.txt")" = "$(printf '0x0800\t0')" ] ||
	{ cat "$T/rep.txt"; fail "--filter icmp-echoreply kept something else"; }
pass "BPF in the switch: with ARP and ICMP on the wire, --filter arp keeps only ARP, icmp[icmptype]==icmp-echoreply only replies"

expect_exit 1 badfilter c capture h1/tap0 --count 1 --filter 'tcp port ((( nonsense'
out_has badfilter "bad filter expression"
out_has badfilter "nonsense"
pass "a bad filter expression: exit 1, 'bad filter expression' with the parser's reason"

# readable while it runs: tshark prints the first frames before the capture ends
stop "$PING_PID"
bg_ping h1 $H2IP 0.5 20
mkfifo "$T/live.fifo"
start tshark-live sh -c "exec tshark -l -r '$T/live.fifo' -T fields -e icmp.type 2>/dev/null"
TL=$LAST_PID
start cap-live "$CTL" --control "ipc://$T/ctl" capture h1/tap0 -w "$T/live.fifo" --count 10 --filter icmp
CL=$LAST_PID
wait_for 4 test -s "$T/tshark-live.log" || fail "tshark printed nothing within 4 s of a running capture"
kill -0 $CL 2>/dev/null || fail "the capture had already ended when tshark printed its first frame (not live)"
FIRST=$(wc -l <"$T/tshark-live.log")
[ "$FIRST" -lt 10 ] || fail "tshark had all frames before the capture ended"
wait_for 10 eval "! kill -0 $CL" || fail "live capture did not end"
wait_for 3 eval "! kill -0 $TL" || fail "tshark did not see the end of the capture"
[ "$(wc -l <"$T/tshark-live.log")" = 10 ] || fail "live capture: $(wc -l <"$T/tshark-live.log") frames, not 10"
stop "$PING_PID"
pass "capture to a pipe is live: tshark printed $FIRST frame(s) while the capture ran, then all 10"

# --- 4. a stalled capture client costs captured records, never throughput ----------------------
start iperf3-server ip netns exec vfc-h2 iperf3 -s -B $H2IP -p 7763
listening() { in_ns h2 ss -ltnH "sport = :7763" | grep -q .; }
wait_for 5 listening || fail "iperf3 server did not start"
iperf() {
	in_ns h1 iperf3 -c $H2IP -p 7763 -t 3 -J >"$T/iperf-$1.json" 2>"$T/iperf-$1.err" ||
		{ cat "$T/iperf-$1.err" "$T/iperf-$1.json"; fail "iperf3 h1 -> h2 ($1)"; }
	json 'int(d["end"]["sum_received"]["bits_per_second"] / 1e6)' <"$T/iperf-$1.json"
}
BASE=$(iperf base)
start cap-stall "$CTL" --control "ipc://$T/ctl" capture h1/tap0 -w "$T/stall.pcap"
CS=$LAST_PID
wait_for 5 log_has switch "capture [0-9]+ started: port h1/tap0\$" || fail "stalled capture did not start"
kill -STOP $CS
STALL=$(iperf stalled)
kill -CONT $CS
[ $((STALL * 100)) -ge $((BASE * 80)) ] || fail "throughput with a stalled capture $STALL Mbit/s < 80% of $BASE Mbit/s"
stop $CS
wait_for 5 log_has switch "capture [0-9]+ ended: [0-9]+ records sent, [1-9][0-9]* dropped" ||
	fail "switch did not log the stalled capture's end with dropped records: $(grep 'ended' "$T/switch.log" | tail -1)"
ENDL=$(grep -E "capture [0-9]+ ended: [0-9]+ records sent, [1-9][0-9]* dropped" "$T/switch.log" | tail -1)
SENT=$(sed -E 's/.* ([0-9]+) records sent.*/\1/' <<<"$ENDL")
[ ${#SENT} -lt 12 ] || fail "nonsense record count in '$ENDL'"
kill -0 "$SW_PID" || fail "switch died"
in_ns h1 ping -q -n -c 3 -i 0.2 -W 1 $H2IP >/dev/null || fail "ping h1 -> h2 after the stalled capture"
cj afterstall stats
[ "$(jq_ afterstall 'd["captures"]')" = 0 ] || fail "a capture is left after its client stopped"
pass "iperf3 $BASE Mbit/s alone, $STALL Mbit/s with a SIGSTOPped capture client; switch: '${ENDL#*: }'"

# a client that keeps up under load: the switch's "records sent" is what reached the file
start cap-load "$CTL" --control "ipc://$T/ctl" capture h1/tap0 -w "$T/load.pcap" --count 5000
CLD=$LAST_PID
wait_for 5 log_has switch "capture [0-9]+ started: port h1/tap0\$" || fail "capture under load did not start"
iperf load >/dev/null
wait_for 5 eval "! kill -0 $CLD" || fail "capture --count 5000 under iperf3 did not end"
GOT=$(sed -nE 's/^vmfabric-ctl: ([0-9]+) frames captured$/\1/p' "$T/cap-load.log")
INFILE=$(capinfos -M -c "$T/load.pcap" 2>/dev/null | sed -nE 's/^Number of packets: +([0-9]+)$/\1/p')
ENDL=$(grep -E "capture [0-9]+ ended: " "$T/switch.log" | tail -1)
SENT=$(sed -E 's/.* ([0-9]+) records sent.*/\1/' <<<"$ENDL")
[ -n "$GOT" ] && [ "$GOT" = "$INFILE" ] || fail "capture client says '$GOT' frames, the file holds '$INFILE'"
[ "$SENT" = "$GOT" ] || fail "switch: '${ENDL#*: }', but the client wrote $GOT frames"
[ "$GOT" -gt 1000 ] || fail "capture under iperf3 got only $GOT frames"
pass "capture under iperf3 load: switch '${ENDL#*: }' = $GOT frames in the pcap"

# --- 5. management over tcp:// with CURVE admin keys ----------------------------------
"$KEYTOOL" generate "$T/keys/admin" >/dev/null || fail "keygen admin"
mkdir -p "$T/admin"
cp "$T/keys/admin" "$T/admin/"
start switch2 ip netns exec vfc-sw "$SWITCH" -f --listen "tcp://10.98.1.1:$PORT2" --key "$T/keys/switch_secret" \
	--authorized "$T/auth" --control "tcp://10.98.1.1:$ADMIN_PORT" --admin-authorized "$T/admin"
wait_for 5 log_has switch2 "management on tcp://10.98.1.1:$ADMIN_PORT" || fail "no tcp management endpoint"
start nic-h1b ip netns exec vfc-h1 "$NIC" -f --switch "tcp://10.98.1.1:$PORT2" --server-key "$T/keys/switch" \
	--key "$T/keys/h1_secret" --network admin-lab --name h1/dgram --dgram "unix:$T/h1b.nic,unix:$T/h1b.peer"
wait_for 5 joined_n h1b 1 || fail "h1/dgram did not join the second switch"
ADM=(--control "tcp://10.98.1.1:$ADMIN_PORT" --server-key "$T/keys/switch")
in_ns h1 "$CTL" "${ADM[@]}" --key "$T/keys/admin_secret" ports >"$T/adm.out" 2>&1 || { cat "$T/adm.out"; fail "admin key refused"; }
grep -Eq "^h1/dgram +admin-lab " "$T/adm.out" || { cat "$T/adm.out"; fail "ports over tcp does not show h1/dgram"; }
expect_exit 1 notadmin in_ns h1 "$CTL" "${ADM[@]}" --key "$T/keys/h1_secret" --timeout 1500 ports
out_has notadmin "admin-authorized"
wait_for 3 log_has switch2 "refused admin key" || fail "switch2 did not log the refused admin key"
[ "$(stat -c %a "$T/ctl")" = 600 ] || fail "ipc control socket mode $(stat -c %a "$T/ctl"), not 600"
pass "tcp:// control with CURVE: admin key lists ports, a port key is refused (exit 1, names --admin-authorized; switch logs it); ipc endpoint is 0600"

# --- 6. bad use ---------------------------------------------------------------------------
expect_exit 64 unknown c frobnicate
out_has unknown "unknown command 'frobnicate'"
expect_exit 64 capnone c capture --count 1
out_has capnone "capture"
expect_exit 64 capboth c capture h1/tap0 --network lab
expect_exit 64 kicknone c kick
expect_exit 1 noep "$CTL" --control ipc:///nonexistent/vfc.ctl ports
out_has noep "/nonexistent/vfc.ctl"
kill -0 "$SW_PID" || fail "switch died"
pass "unknown command and capture without a port or --network exit 64; a missing ipc endpoint is named"
pass "ctl"
