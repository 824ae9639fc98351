# ftopo.sh - topology and measurement helpers for the fault tests (source after ../lib.sh)
#
# tests/integration/topo.sh with the fault tests' own names: the switch
# host is namespace vfh-sw, guest hosts vfh-NAME joined to it by veth pairs
# (10.98.N.1 switch side, 10.98.N.2 guest side), TAP tap0 in each guest host
# with MAC 02:98:00:00:00:N, IPv6 off. TCP ports 7780-7789 only.

TOPO_NS=vfh
TOPO_NET=98
HOSTS_SUBNET=${HOSTS_SUBNET:-192.168.78}	# hosts_up, pair_up: the guest hosts' TAP subnet
. "$(dirname "${BASH_SOURCE[0]}")/../integration/topo.sh"
CTL_OPT=(--control "ipc://$T/switch.ctl")
CTL=$VMF_BUILD/switch/vmfabric-ctl

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
