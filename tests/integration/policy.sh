#!/bin/bash
# policy.sh - rights bound to keys, and the switch's defences against an admitted but hostile key
# (security review items 1, 3, 4, 5): Hello churn during a flood, key policy (networks, names,
# macs, max-macs, create) enforced and reloaded, per-port MAC limit, Hello budget, lazy tables
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/topo.sh"
PORT=7890
RAW=$VMF_BUILD/tests/integration/vmf-rawclient
CTL=$VMF_BUILD/switch/vmfabric-ctl
[ -x "$RAW" ] || fail "build first: $RAW missing"

# set_policy NAME LINE...: the admitted certificate of NAME carries these metadata lines
set_policy() {
	local n=$1; shift
	python3 - "$T/auth/$n" "$@" <<'PY'
import sys
path, lines = sys.argv[1], sys.argv[2:]
out = []
for l in open(path).read().split("\n"):
    out.append(l)
    if l == "metadata":
        out += ["    " + x for x in lines]
open(path, "w").write("\n".join(out))
PY
}

keys h1 h2 raw pol nocreate typo nets
sw_host
guest_host h1 1
guest_host h2 2
guest_host r 3
set_policy pol 'networks = "lab,lab2"' 'names = "pol/*"' 'macs = "02:99:00:00:00:fe"' 'max-macs = "8"'
set_policy nocreate 'create = "no"'
set_policy typo 'netwroks = "lab"'
# --keepalive 5000: the raw client's extra connections (nets:N) send none for 15 s
start_switch switch $PORT --max-ports 16 --port-macs 20 --max-macs 1048576 --keepalive 5000
hosts_up $PORT lab h1 h2
pings h1 192.168.77.2 2 || fail "ping before the tests"
log_has switch "typo.*unknown metadata key 'netwroks'" || fail "the switch did not refuse the certificate with a typo"

# raw NAME KEY STEP...: the raw client from vfi-r with key KEY; must succeed
raw() {
	local name=$1 key=$2; shift 2
	ip netns exec vfi-r "$RAW" --switch "tcp://10.99.3.1:$PORT" --server-key "$T/keys/switch" \
		--key "$T/keys/${key}_secret" "$@" >"$T/raw-$name.log" 2>&1 || { cat "$T/raw-$name.log"; fail "raw client: $name"; }
}
ctl() { "$CTL" --control "ipc://$T/switch.ctl" "$@"; }

start pinger ip netns exec vfi-h1 ping -n -i 0.1 -W 1 192.168.77.2
PINGER=$LAST_PID

# 1. a port re-sends Hello on its live connection while another port of its key broadcasts:
# with --max-ports 16, 32 such pairs in one pass overflowed the dirty-port list (heap overflow)
raw churn raw hello:1:lab:raw/c expect:welcome:3000 churn:32:lab:raw/c wait:500
kill -0 "$SW_PID" || fail "switch died during the Hello churn"
ctl --json stats >"$T/st.json" || fail "switch does not answer after the churn"
sw_stats
[ "$(sj 'len(d["ports"])')" -le 16 ] || fail "more ports than --max-ports after the churn"
pings h2 192.168.77.1 2 || fail "guests lost each other after the churn"
pass "Hello churn during broadcasts (32 pairs, --max-ports 16): switch alive, ports bounded, guests unaffected"

# 2. policy: networks, names, create, macs
raw net pol hello:1:other:pol/a expect:error:12:3000
raw name pol hello:1:lab:x/a expect:error:12:3000
raw create nocreate hello:1:brand-new:nc/a expect:error:12:3000
raw create-ok nocreate hello:1:lab:nc/a expect:welcome:3000
log_has raw-net "may not use network other" || fail "no reason for the network refusal: $(cat "$T/raw-net.log")"
log_has raw-name "may not use port name x/a" || fail "no reason for the name refusal"
log_has raw-create "may not create network brand-new" || fail "no reason for the create refusal"
! grep -q "expect welcome: ok" "$T/raw-net.log" || fail "refused key got a Welcome"
grep -q "handshake refused" <(ip netns exec vfi-r "$RAW" --switch "tcp://10.99.3.1:$PORT" --server-key "$T/keys/switch" \
	--key "$T/keys/typo_secret" wait:1500 2>&1) || fail "a certificate with an unknown policy key was admitted"
pass "policy: other network, foreign name, creating a network refused with Error policy and a reason; unknown policy key keeps the key out"

# a welcomed policy port: frames from a MAC it may not use are dropped; ctl shows its policy
start polport ip netns exec vfi-r "$RAW" --switch "tcp://10.99.3.1:$PORT" --server-key "$T/keys/switch" \
	--key "$T/keys/pol_secret" hello:1:lab:pol/a expect:welcome:3000 batch macs:3 wait:8000
wait_for 5 log_has polport "sent 3 frames" || fail "policy port did not send"
sleep 0.5
sw_stats
[ "$(port_field pol/a rx_frames)" = 1 ] || fail "pol/a rx_frames $(port_field pol/a rx_frames), expected only the allowed MAC's frame"
[ "$(port_field pol/a drops.locked_mac)" = 3 ] || fail "pol/a drops.locked_mac $(port_field pol/a drops.locked_mac)"
[ "$(port_field pol/a policy.max_macs)" = 8 ] || fail "ports --json lacks the policy: $(port_field pol/a policy)"
ctl ports >"$T/ports.txt" || fail "ctl ports"
grep -q "policy networks=lab,lab2 names=pol/\* macs=1 max-macs=8" "$T/ports.txt" || { cat "$T/ports.txt"; fail "ctl ports (text) does not show the policy"; }
pass "policy macs: 3 frames from other MACs dropped (locked_mac), 1 accepted; ctl ports shows the policy"

# SIGHUP with a narrower policy: the live port is dropped with Error policy
sed -i 's/networks = "lab,lab2"/networks = "lab2"/' "$T/auth/pol"
kill -HUP "$SW_PID"
wait_for 5 log_has polport "rx error code=12" || fail "live port kept after its key lost the network: $(cat "$T/polport.log")"
sw_stats
[ "$(port_field pol/a name)" = none ] || fail "pol/a still a port"
pass "SIGHUP: a narrower policy drops the live port (Error policy)"

# 3. per-port MAC limit (--port-macs 20): 60 new sources, 20 learnt, 40 dropped as mac_limit
start macport ip netns exec vfi-r "$RAW" --switch "tcp://10.99.3.1:$PORT" --server-key "$T/keys/switch" \
	--key "$T/keys/raw_secret" hello:1:lab:raw/m expect:welcome:3000 macs:60 wait:6000
wait_for 5 log_has macport "sent 60 frames" || fail "raw/m did not send"
sleep 0.5
sw_stats
[ "$(port_field raw/m macs)" = 20 ] || fail "raw/m holds $(port_field raw/m macs) MACs, limit 20"
[ "$(port_field raw/m drops.mac_limit)" = 40 ] || fail "raw/m mac_limit drops $(port_field raw/m drops.mac_limit), expected 40"
pings h2 192.168.77.1 2 || fail "known hosts broken by the MAC limit"
pass "--port-macs 20: 60 new sources from one port, 20 learnt, 40 dropped (mac_limit); others unaffected"

# 4. Hello budget: 300 Hellos at once from one key; most are dropped and counted, the loop stays free
raw flood raw $(for i in $(seq 300); do echo "hello:1:lab:raw/f$((i % 4))"; done) wait:300
sw_stats
LIM=$(sj 'd["switch"]["hello_limited"]')
[ "$LIM" -ge 200 ] || fail "only $LIM of 300 Hellos limited"
pass "Hello budget: $LIM of 300 back-to-back Hellos from one key dropped (hello_limited)"

# tables sized by use: 5 more networks on a switch with --max-macs 1048576 cost little memory
# (each table took 48 MiB up front before). A fresh key: the Hello flood spent raw's budget.
start nets ip netns exec vfi-r "$RAW" --switch "tcp://10.99.3.1:$PORT" --server-key "$T/keys/switch" \
	--key "$T/keys/nets_secret" nets:5 wait:5000
NETSPID=$LAST_PID
have_nets() { sw_stats; [ "$(sj 'len(d["networks"])')" -ge 6 ]; }
wait_for 5 have_nets || fail "only $(sj 'len(d["networks"])') networks: the nets client was refused?"
RSS=$(awk '/VmRSS/ { print $2 }' "/proc/$SW_PID/status")
[ "$RSS" -lt 102400 ] || fail "switch RSS $RSS KiB with 6 networks (tables sized up front?)"
pass "6 live networks (5 made by one key) with --max-macs 1048576: switch RSS $RSS KiB"
stop "$NETSPID"

stop "$PINGER"
MISSING=$(awk -F'icmp_seq=' '/icmp_seq=/ { split($2, a, " "); s[a[1]] = 1; if (a[1] > m) m = a[1] } END { n = 0; for (i = 1; i <= m; i++) if (!(i in s)) n++; print n }' "$T/pinger.log")
[ "$MISSING" -le 2 ] || fail "$MISSING pings h1 -> h2 lost during the attacks"
pass "policy: h1 -> h2 kept pinging through every attack ($MISSING lost)"
