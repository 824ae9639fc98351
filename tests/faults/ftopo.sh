# ftopo.sh - topology and measurement helpers for the fault tests (source after ../lib.sh)
#
# As tests/integration/topo.sh, with the fault tests' own names: the switch
# host is namespace vfh-sw, guest hosts vfh-NAME joined to it by veth pairs
# (10.98.N.1 switch side, 10.98.N.2 guest side), TAP tap0 in each guest host
# with MAC 02:98:00:00:00:N, IPv6 off. TCP ports 7780-7789 only.

SW_NS=vfh-sw
CTL_OPT=(--control "ipc://$T/switch.ctl")
CTL=$VMF_BUILD/switch/vmfabric-ctl

sw_host() {
	netns_add "$SW_NS"
	ip netns exec "$SW_NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
}

# guest_host NAME N
guest_host() {
	netns_add "vfh-$1"
	ip netns exec "vfh-$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	veth_link "$SW_NS" "vfh-to-$1" "10.98.$2.1/24" "vfh-$1" "vfh-up" "10.98.$2.2/24"
}

# start_switch NAME PORT [extra args] (SW_WRAP: a command prefix, e.g. valgrind)
start_switch() {
	local name=$1 port=$2; shift 2
	start "$name" ip netns exec "$SW_NS" ${SW_WRAP:-} "$SWITCH" -f --listen "tcp://0.0.0.0:$port" \
		--key "$T/keys/switch_secret" --authorized "$T/auth" --stats-file "$T/stats.json" "${CTL_OPT[@]}" "$@"
	SW_PID=$LAST_PID
	wait_for "${SW_WAIT:-5}" log_has "$name" "listening on" || fail "switch $name did not start"
}

# start_nic HOST N KEY NETWORK PORT [extra args] (NIC_WRAP: a command prefix)
start_nic() {
	local host=$1 n=$2 key=$3 net=$4 port=$5; shift 5
	start "nic-$host" ip netns exec "vfh-$host" ${NIC_WRAP:-} "$NIC" -f --switch "tcp://10.98.$n.1:$port" \
		--server-key "$T/keys/switch" --key "$T/keys/${key}_secret" --network "$net" \
		--name "$host/tap0" --tap tap0 "$@"
	NIC_PID=$LAST_PID
}

# tap_setup HOST N ADDR/P [WAIT]
tap_setup() {
	wait_for "${4:-5}" ip -n "vfh-$1" link show tap0 || fail "tap0 did not appear in vfh-$1"
	ip -n "vfh-$1" link set tap0 address "02:98:00:00:00:$(printf %02x "$2")" || fail "tap0 MAC in vfh-$1"
	ip -n "vfh-$1" addr add "$3" dev tap0 || fail "tap0 address in vfh-$1"
	ip -n "vfh-$1" link set tap0 up
}

joined() { log_has "$1" "joined network"; }
pings() { ip netns exec "vfh-$1" ping -q -n -c "$3" -i 0.2 -W 1 "$2" >"$T/ping.out" 2>&1; }
ping1() { ip netns exec "vfh-$1" ping -q -n -c 1 -W 1 "$2" >/dev/null 2>&1; }
sw_stats() { stats "$SW_PID" "$T/stats.json" >"$T/s.json"; }
sj() { json "$1" <"$T/s.json"; }
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

# real_pid PID: the process that "ip netns exec ... PROG" became (exec keeps the PID)
real_pid() { echo "$1"; }

# rss_kb PID: resident set size in KiB
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# cpu_ticks PID: user + system clock ticks used so far
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# iperf_server HOST PORT: iperf3 server in vfh-HOST, waits until it listens
iperf_server() {
	start "iperf-s-$1-$2" ip netns exec "vfh-$1" iperf3 -s -p "$2"
	local h=$1 p=$2
	listening() { ip netns exec "vfh-$h" ss -ltnH "sport = :$p" | grep -q .; }
	wait_for 5 listening || fail "iperf3 server in vfh-$1 did not start"
}

# iperf_mbps HOST ADDR PORT SECONDS [args]: TCP throughput HOST -> ADDR in Mbit/s (0 on failure)
iperf_mbps() {
	local h=$1 a=$2 p=$3 s=$4; shift 4
	ip netns exec "vfh-$h" iperf3 -c "$a" -p "$p" -t "$s" -J "$@" >"$T/iperf-$h.json" 2>/dev/null
	json 'int(d["end"]["sum_received"]["bits_per_second"] / 1e6) if "sum_received" in d["end"] else 0' \
		<"$T/iperf-$h.json" 2>/dev/null || echo 0
}
