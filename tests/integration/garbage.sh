#!/bin/bash
# garbage.sh - a hostile but admitted client: the switch survives, counts, and keeps forwarding
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/topo.sh"
PORT=7716
RAW=$VMF_BUILD/tests/integration/vmf-rawclient
[ -x "$RAW" ] || fail "build first: $RAW missing"

keys h1 h2 raw
sw_host
guest_host h1 1
guest_host h2 2
guest_host r 3
start_switch switch $PORT --max-macs 16
hosts_up $PORT lab h1 h2
pings h1 192.168.77.2 3 || fail "ping before the attack"
SWPID0=$SW_PID

# the guests keep pinging while the raw client misbehaves
start pinger ip netns exec vfi-h1 ping -n -i 0.1 -W 1 192.168.77.2
PINGER=$LAST_PID

# raw NAME STEP...: run the raw client from vfi-r with the admitted key "raw"
raw() {
	local name=$1; shift
	ip netns exec vfi-r "$RAW" --switch "tcp://10.99.3.1:$PORT" --server-key "$T/keys/switch" \
		--key "$T/keys/raw_secret" "$@" >"$T/raw-$name.log" 2>&1 || { cat "$T/raw-$name.log"; fail "raw client: $name"; }
	cat "$T/raw-$name.log" | sed "s/^/    [$name] /"
}

raw garbage garbage:3000 expect:error:6:3000
raw big big expect:disconnect:3000
raw early batch expect:error:5:3000
raw keepalive-early keepalive expect:error:5:3000
raw version hello:99:lab:raw/v expect:error:1:3000
raw badname hello:1:lab:bad\ name expect:error:3:3000
raw multipart multipart expect:silence:1000
raw welcome welcome expect:silence:1000
pass "garbage, oversized, out-of-order, bad version, bad name, multi-part, Welcome-from-client: each refused as expected"

# a welcomed raw port sends runts, giants and a multicast source, then stays connected
start rawport ip netns exec vfi-r "$RAW" --switch "tcp://10.99.3.1:$PORT" --server-key "$T/keys/switch" \
	--key "$T/keys/raw_secret" hello:1:lab:raw/0 expect:welcome:3000 bad-frames wait:2000 \
	macs:40 wait:6000 welcome expect:error:6:3000
RP=$LAST_PID
wait_for 5 log_has rawport "sent bad frames" || fail "raw port did not send its bad frames"
sleep 0.5
sw_stats
[ "$(port_field raw/0 network)" = lab ] || fail "raw/0 is not a port of lab: $(cat "$T/s.json")"
for d in runt giant src_mcast; do
	[ "$(port_field raw/0 drops.$d)" = 1 ] || fail "raw/0 drops.$d = $(port_field raw/0 drops.$d), expected 1"
done
[ "$(port_field raw/0 rx_frames)" = 0 ] || fail "a bad frame was accepted"
[ "$(sj 'd["networks"][0]["macs"]')" = 2 ] || fail "a bad frame was learnt: $(sj 'd["networks"][0]["macs"]') MACs"
pass "raw port: runt, giant and multicast-source frames dropped and counted per reason, nothing learnt"
wait_for 5 log_has rawport "sent 40 frames" || fail "raw port did not send its 40 source MACs"
sleep 0.5
sw_stats
[ "$(sj 'd["networks"][0]["macs"]')" = 16 ] || fail "--max-macs 16: lab holds $(sj 'd["networks"][0]["macs"]') MACs"
[ "$(port_field raw/0 fdb_full)" = 26 ] || fail "raw/0 fdb_full = $(port_field raw/0 fdb_full), expected 40 - 14 = 26"
[ "$(port_field raw/0 rx_frames)" = 40 ] || fail "raw/0 rx_frames = $(port_field raw/0 rx_frames)"
pings h2 192.168.77.1 3 || fail "a full MAC table broke h1 <-> h2"
pass "--max-macs 16: 40 new source MACs fill the table to 16, 26 counted as fdb_full, known hosts unaffected"
wait "$RP" || { cat "$T/rawport.log"; fail "raw port: Welcome from the client did not end its session"; }
sw_stats
[ "$(port_field raw/0 name)" = none ] || fail "raw/0 still a port after its protocol violation"
log_has switch "port raw/0 left network lab: unexpected message type" || fail "switch did not log the violation"
pass "Welcome sent by a welcomed client: port removed with Error malformed"

S='d["switch"]'
[ "$(sj "$S[\"malformed\"]")" -ge 2 ] || fail "switch.malformed $(sj "$S[\"malformed\"]")"
[ "$(sj "$S[\"multipart\"]")" -ge 1 ] || fail "switch.multipart not counted"
[ "$(sj "$S[\"unknown_port\"]")" -ge 2 ] || fail "switch.unknown_port $(sj "$S[\"unknown_port\"]")"
[ "$(sj "$S[\"bad_version\"]")" -ge 1 ] || fail "switch.bad_version not counted"
[ "$(sj "$S[\"bad_hello\"]")" -ge 1 ] || fail "switch.bad_hello not counted"
pass "stats: malformed=$(sj "$S[\"malformed\"]") multipart=$(sj "$S[\"multipart\"]") unknown_port=$(sj "$S[\"unknown_port\"]") bad_version=$(sj "$S[\"bad_version\"]") bad_hello=$(sj "$S[\"bad_hello\"]")"

# the switch is the same process and the guests never noticed
kill -0 "$SWPID0" || fail "switch died"
[ "$SW_PID" = "$SWPID0" ] || fail "switch pid changed"
stop "$PINGER"
SENT=$(grep -c "icmp_seq=" "$T/pinger.log")
MISSING=$(awk -F'icmp_seq=' '/icmp_seq=/ { split($2, a, " "); s[a[1]] = 1; if (a[1] > m) m = a[1] } END { n = 0; for (i = 1; i <= m; i++) if (!(i in s)) n++; print n }' "$T/pinger.log")
[ "$SENT" -ge 20 ] || fail "pinger got only $SENT answers"
[ "$MISSING" -le 1 ] || fail "$MISSING pings lost during the attack"
pings h2 192.168.77.1 5 || fail "ping after the attack"
[ "$(sj 'sorted(p["name"] for p in d["ports"])')" = "['h1/tap0', 'h2/tap0']" ] || fail "guest ports changed: $(sj '[p["name"] for p in d["ports"]]')"
pass "switch pid $SW_PID unchanged, $SENT pings answered during the attack ($MISSING lost), ping works after"
pass "garbage"
