# topo.sh - topology helpers for the integration tests (source after ../lib.sh)
#
# A switch host namespace vfi-sw and guest host namespaces vfi-NAME, each
# joined to vfi-sw by its own veth pair (10.99.N.1 on the switch side,
# 10.99.N.2 on the guest side). The switch listens on 0.0.0.0 in vfi-sw;
# every NIC process runs in its guest host and reaches the switch over
# TCP + CURVE across the veth. TAPs get fixed MACs (02:99:00:00:00:N) so that
# a restarted NIC process does not leave stale ARP entries behind, and IPv6
# is off in every namespace so that only the tests' own frames cross the
# fabric (counters stay exact).

#
# Another suite reuses it with its own names by setting, before sourcing:
# TOPO_NS (namespace prefix, default vfi), TOPO_NET (the N of 10.N.x.x and of
# the MACs 02:N:00:00:00:x, default 99). SW_WRAP / NIC_WRAP put a command in
# front of the switch or NIC (e.g. valgrind), SW_WAIT how long the switch may
# take to start (default 5 s).

TOPO_NS=${TOPO_NS:-vfi}
TOPO_NET=${TOPO_NET:-99}
SW_NS=$TOPO_NS-sw
# a switch that has a management endpoint gets its own, never the shared default
CTL_OPT=()
"$SWITCH" --help 2>/dev/null | grep -q -- "--control EP" && CTL_OPT=(--control "ipc://$T/switch.ctl")

# sw_host: the switch's namespace
sw_host() {
	netns_add "$SW_NS"
	ip netns exec "$SW_NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
}

# guest_host NAME N: namespace vfi-NAME linked to the switch host over 10.99.N.0/24
guest_host() {
	netns_add "$TOPO_NS-$1"
	ip netns exec "$TOPO_NS-$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	veth_link "$SW_NS" "$TOPO_NS-to-$1" "10.$TOPO_NET.$2.1/24" "$TOPO_NS-$1" "$TOPO_NS-up" "10.$TOPO_NET.$2.2/24"
}

# start_switch NAME PORT [extra args]: switch in vfi-sw with keys, auth dir and stats file
# ($SW_STATS, default $T/stats.json)
start_switch() {
	local name=$1 port=$2; shift 2
	start "$name" ip netns exec "$SW_NS" ${SW_WRAP:-} "$SWITCH" -f --listen "tcp://0.0.0.0:$port" \
		--key "$T/keys/switch_secret" --authorized "$T/auth" --stats-file "${SW_STATS:-$T/stats.json}" "${CTL_OPT[@]}" "$@"
	SW_PID=$LAST_PID
	wait_for "${SW_WAIT:-5}" log_has "$name" "listening on" || fail "switch $name did not start"
}

# start_nic HOST N KEY NETWORK PORT [extra args]: NIC process in vfi-HOST with TAP tap0
start_nic() {
	local host=$1 n=$2 key=$3 net=$4 port=$5; shift 5
	start "nic-$host" ip netns exec "$TOPO_NS-$host" ${NIC_WRAP:-} "$NIC" -f --switch "tcp://10.$TOPO_NET.$n.1:$port" \
		--server-key "$T/keys/switch" --key "$T/keys/${key}_secret" --network "$net" \
		--name "$host/tap0" --tap tap0 "$@"
	NIC_PID=$LAST_PID
}

# tap_setup HOST N ADDR/P [WAIT]: wait for tap0 in vfi-HOST, give it MAC 02:99:00:00:00:N and ADDR
tap_setup() {
	local ns=$TOPO_NS-$1
	wait_for "${4:-5}" ip -n "$ns" link show tap0 || fail "tap0 did not appear in $ns"
	ip -n "$ns" link set tap0 address "02:$TOPO_NET:00:00:00:$(printf %02x "$2")" || fail "tap0 MAC in $ns"
	ip -n "$ns" addr add "$3" dev tap0 || fail "tap0 address in $ns"
	ip -n "$ns" link set tap0 up
}

# joined LOGNAME: the NIC process behind LOGNAME has been welcomed (at least once)
joined() { log_has "$1" "joined network"; }

# pings HOST ADDR COUNT: COUNT pings from vfi-HOST to ADDR, 0.2 s apart, all answered
pings() { ip netns exec "$TOPO_NS-$1" ping -q -n -c "$3" -i 0.2 -W 1 "$2" >"$T/ping.out" 2>&1; }

# ping1 HOST ADDR: one ping answered within 1 s
ping1() { ip netns exec "$TOPO_NS-$1" ping -q -n -c 1 -W 1 "$2" >/dev/null 2>&1; }

# sw_stats: the switch's counters (JSON) in $T/s.json
sw_stats() { stats "$SW_PID" "${SW_STATS:-$T/stats.json}" >"$T/s.json"; }

# sj EXPR: evaluate EXPR on the last sw_stats (d is the document)
sj() { json "$1" <"$T/s.json"; }

# port_field NAME FIELD: FIELD of port NAME in the last sw_stats ("none" if absent)
port_field() {
	python3 - "$1" "$2" "$T/s.json" <<'PY'
import json, sys
name, field, path = sys.argv[1:4]
d = json.load(open(path))
v = "none"
for p in d["ports"]:
    if p["name"] == name:
        v = p
        for k in field.split("."):
            v = v[k]
print(v)
PY
}

# log_fixed NAME TEXT: the process log contains TEXT (no regex: Z85 keys are full of metacharacters)
log_fixed() { grep -Fq -- "$2" "$T/$1.log"; }

# hosts_up PORT NET HOST...: for each hN, a NIC process (key hN, network NET, PID in $HN) to the
# switch at PORT, its TAP at 192.168.77.N/24 (or SUBNET.N with HOSTS_SUBNET set), and wait until it joined
hosts_up() {
	local port=$1 net=$2 h; shift 2
	for h in "$@"; do
		start_nic "$h" "${h#h}" "$h" "$net" "$port"
		printf -v "H${h#h}" '%s' "$NIC_PID"	# H1=..., H2=...: each NIC's PID
	done
	for h in "$@"; do tap_setup "$h" "${h#h}" "${HOSTS_SUBNET:-192.168.77}.${h#h}/24"; done
	for h in "$@"; do wait_for 10 joined "nic-$h" || fail "$h did not join"; done
}

# pair_up PORT [SWITCH OPTION...]: the common start of a test: keys h1 h2, the switch host, guest
# hosts h1 and h2, a switch on PORT, and h1 and h2 joined to network lab (hosts_up)
pair_up() {
	local port=$1; shift
	keys h1 h2
	sw_host
	guest_host h1 1
	guest_host h2 2
	start_switch switch "$port" "$@"
	hosts_up "$port" lab h1 h2
}
