#!/bin/bash
# run.sh - the benchmark suite: vmfabric next to veth, a Linux bridge and vde_switch, in one run.
#
# Paths between two network-namespace hosts (vfb-h1 192.0.2.1 -> vfb-h2 192.0.2.2), set up
# one after the other and measured the same way:
#   veth            a veth pair between the hosts (the kernel limit)
#   bridge          a veth per host into a Linux bridge in namespace vfb-br
#   vde             vde_switch + one vde_plug2tap per host (the user-space peer; its TAPs
#                   have no offloads)
#   vmf-insecure    vmfabric-switch --insecure in namespace vfb-sw, one vmfabric-nic per host
#                   (TAP with offloads, the default), TCP to the switch across veth pairs
#   vmf-curve       the same with CURVE on every hop
#   vmf-insecure-nooff, vmf-curve-nooff   the same with --offload off on both TAPs (no TSO
#                   super-frames: every frame at most MTU + 14 bytes)
#   vmf-curve-bp    vmf-curve with --busy-poll 5000 on the switch (an idle-priority thread
#                   keeps a CPU awake for 5 ms after each frame: waking a halted vCPU is the
#                   main latency cost here; its CPU time counts in the path's CPU figures)
#   vmf-curve-trunk a tree of switches: h1 on site switch A, h2 on site switch B, both
#                   children of a root over CURVE trunks (site -> root -> site: three switch
#                   hops, six CURVE boxes per frame instead of two); CPU counts all 5 processes
# Each path: iperf3 TCP for S seconds with 1 and with 4 streams; iperf3 UDP with 18-byte
# payloads (60-byte Ethernet frames, 64 on a wire with FCS), unlimited rate, frames received
# per second; ping RTT p50/p99 over N pings 2 ms apart; CPU seconds per GB during the TCP
# 1-stream test, two ways: the path's own processes (utime + stime from /proc/PID/stat,
# all threads: vde_switch and both vde_plug2tap, or vmfabric-switch and both vmfabric-nic;
# none for the kernel paths) and the whole machine (busy time from /proc/stat, so it includes
# iperf3, the kernel and anything else running).
#
# Guest paths (QEMU TCG guests from ../shared/vmlab, 256 MiB, namespace vfb-g): guest b
# downloads guest a's /big.bin (32 MiB, tmpfs) over HTTP ROUNDS (4) times (tests/bench/guest-http.sh):
#   guest-direct    QEMU's own -netdev socket between the two QEMUs (listen / connect): no fabric
#   guest-dgram     -netdev dgram + vmfabric-nic --dgram per guest, CURVE switch (offloads off in QEMU)
#   guest-vhost     -netdev vhost-user + vmfabric-nic --vhost-user per guest (RAM from
#                   memory-backend-memfd,share=on; TSO super-frames), CURVE switch
# HTTP Mbit/s from the guest's clock; CPU seconds per GB of the NIC processes, the switch and the
# two QEMUs over the download window (sampled at the guest's start/end markers, 1 s of quiet
# around them). They start QEMU: run the suite under flock /tmp/vmf-heavy.lock on a shared host.
#
# Gateway paths (issue 17 part 4; one vmlab guest in namespace vfb-gw, DHCP, then the same
# guest-http.sh downloads of a 32 MiB /big.bin from a python3 http.server on the namespace's
# loopback, reached as http://10.0.2.2/ through NAT):
#   gw-user         QEMU's own -netdev user (libslirp inside QEMU)
#   gw-dgram        -netdev dgram + vmfabric-nic --dgram, CURVE switch, vmfabric-gateway
#   gw-vhost        -netdev vhost-user + vmfabric-nic --vhost-user (guest TSO), CURVE switch,
#                   vmfabric-gateway (its TCP segments coalesced into TSO super-frames, --gro)
#   gw-vhost-nogro  the same with vmfabric-gateway --gro off (not in the default list)
# HTTP Mbit/s from the guest's clock, the ratio to gw-user, CPU s/GB of each process (QEMU,
# gateway, switch, NIC, the HTTP server) and the gateway's frames per message to the switch
# and TCP segments per super-frame (its SIGUSR1 counters).
#
# Switch scaling, no TAP in the way: a fresh vmfabric-switch in namespace vfb-sc per run,
# driven over loopback by vmf-loadgen (tests/bench/loadgen.c) with 2, 16, 64 and 256 ports,
# --insecure and CURVE (a key per port): forwarding rate (64-byte frames in batches of 32,
# every port to its pair), one-way latency under that load, round trip of one pair with the
# other ports idle, the switch's CPU per frame, and its memory per idle port (RSS with N idle
# ports minus RSS before they connected, divided by N).
#
# Output in --out DIR (default $VMF_BUILD/bench): results.json, results.md (tables with the
# ratios to vde and to veth, the targets of issue 5, the exact command), plot.png; --readme
# also puts results.md into README.md's Performance section (between the bench markers).
#
# Usage: tests/bench/run.sh [--seconds S (5)] [--pings N (1000)] [--out DIR] [--paths "LIST"]
#                           [--guests "direct dgram vhost gw-user gw-dgram gw-vhost"] [--ports "2 16 64 256"] [--readme] [--smoke]
# --smoke: 1-second measurements, 2 and 16 ports, no guest paths, then checks that every output exists and
# holds well-formed numbers (what ctest's bench_smoke runs). Root; a benchmark, not a test.
set -u
TEST_NAME=bench
CMDLINE="${VMF_BUILD:+VMF_BUILD=$VMF_BUILD }tests/bench/run.sh $*"
. "$(dirname "$0")/../lib.sh"
LOADGEN=$VMF_BUILD/tests/bench/vmf-loadgen

SECS=5 PINGS=1000 OUT=$VMF_BUILD/bench SMOKE=0 README=0
PATHS="veth bridge vde vmf-insecure vmf-curve vmf-insecure-nooff vmf-curve-nooff vmf-curve-bp vmf-curve-trunk"
PORTS="2 16 64 256" LG_WARM=1 LG_RTT=2
GUESTS="direct dgram vhost gw-user gw-dgram gw-vhost" ROUNDS=4
while [ $# -gt 0 ]; do
	case $1 in
	--seconds) SECS=$2; shift ;;
	--pings) PINGS=$2; shift ;;
	--out) OUT=$2; shift ;;
	--paths) PATHS=$2; shift ;;
	--ports) PORTS=$2; shift ;;
	--guests) GUESTS=$2; shift ;;
	--readme) README=1 ;;
	--smoke) SMOKE=1 SECS=1 PINGS=30 PORTS="2 16" LG_WARM=0.3 LG_RTT=0.5 GUESTS= ;;
	*) echo "usage: $0 [--seconds S] [--pings N] [--out DIR] [--paths LIST] [--guests LIST] [--ports LIST] [--readme] [--smoke]"; exit 64 ;;
	esac
	shift
done
[ -x "$LOADGEN" ] || fail "build first: $LOADGEN missing"
# the vmf-curve-bp path's poller lock: removed at the end if this run made it
[ -e /run/vmfabric/busypoll.lock ] || trap 'cleanup; rm -f /run/vmfabric/busypoll.lock' EXIT
need=()
command -v iperf3 >/dev/null || need+=(iperf3)
command -v vde_switch >/dev/null || need+=(vde2)
# the plot uses Debian's python3-matplotlib, so Debian's python3 (a python3 earlier in PATH may lack it)
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
"$PY" -c 'import matplotlib' 2>/dev/null || need+=(python3-matplotlib)
[ ${#need[@]} -eq 0 ] || EXTRA_PKGS="${need[*]}" "$VMF_ROOT/deploy/install-deps.sh" || fail "cannot install ${need[*]}"
"$PY" -c 'import matplotlib' 2>/dev/null || fail "$PY cannot import matplotlib"
mkdir -p "$OUT" || fail "cannot create $OUT"
RAW=$T/raw.jsonl
: >"$RAW"
HZ=$(getconf CLK_TCK)
START_LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
T_START=$(date +%s)
log "command: $CMDLINE; ${SECS} s per measurement; load average at start $START_LOAD"

# ticks PID...: utime + stime of the processes (every thread), in clock ticks
ticks() {
	local p s=0 f
	for p in "$@"; do
		f=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null) || continue
		set -- $f
		s=$((s + ${12} + ${13}))
	done
	echo $s
}
# sys_ticks: busy clock ticks of the whole machine (all of /proc/stat's cpu line but idle and iowait)
sys_ticks() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat; }

hosts() { netns_add vfb-h1; netns_add vfb-h2; }
addrs() {
	ip -n vfb-h1 addr add 192.0.2.1/24 dev "$1"; ip -n vfb-h1 link set "$1" up
	ip -n vfb-h2 addr add 192.0.2.2/24 dev "$2"; ip -n vfb-h2 link set "$2" up
}
teardown() {
	local p ns
	for p in "$@"; do stop "$p"; done
	for ns in "${NETNS[@]}"; do ip netns del "$ns" 2>/dev/null; done
	NETNS=()
}

# measure ID "LABEL" PID...: every per-path figure; one JSON line into $RAW
measure() {
	local id=$1 label=$2 srv tcp1 tcp4 udp rtt c0 c1 s0 s1 j
	shift 2
	ip netns exec vfb-h1 ping -c 3 -i 0.2 -W 1 192.0.2.2 >/dev/null || { log "$id: no connectivity"; return 1; }
	start "iperf-$id" ip netns exec vfb-h2 iperf3 -s -B 192.0.2.2
	srv=$LAST_PID
	wait_for 5 eval "ip netns exec vfb-h2 ss -Hltn 'sport = :5201' | grep -q 5201" || { log "$id: iperf3 server not up"; stop $srv; return 1; }
	sleep 0.2
	c0=$(ticks "$@"); s0=$(sys_ticks)
	tcp1=$(ip netns exec vfb-h1 iperf3 -c 192.0.2.2 -t "$SECS" -J 2>/dev/null |
		json '"%d %.0f" % (d["end"]["sum_received"]["bytes"], d["end"]["sum_received"]["bits_per_second"])' 2>/dev/null)
	c1=$(ticks "$@"); s1=$(sys_ticks)
	sleep 0.2
	tcp4=$(ip netns exec vfb-h1 iperf3 -c 192.0.2.2 -P 4 -t "$SECS" -J 2>/dev/null |
		json '"%.0f" % d["end"]["sum_received"]["bits_per_second"]' 2>/dev/null)
	sleep 0.2
	udp=$(ip netns exec vfb-h1 iperf3 -c 192.0.2.2 -u -b 0 -l 18 -t "$SECS" -J 2>/dev/null |
		json '"%.0f %.2f" % ((d["end"]["sum"]["packets"] - d["end"]["sum"]["lost_packets"]) / d["end"]["sum"]["seconds"], d["end"]["sum"]["lost_percent"])' 2>/dev/null)
	stop "$srv"
	rtt=$(ip netns exec vfb-h1 ping -c "$PINGS" -i 0.002 -W 1 192.0.2.2 2>/dev/null | sed -n 's/.* time=\([0-9.]*\) ms/\1/p' | tr '\n' ' ')
	j=$(python3 - "$id" "$label" "${tcp1:-}" "${tcp4:-}" "${udp:-}" "$rtt" "$((c1 - c0))" "$((s1 - s0))" "$HZ" "$#" <<'PY'
import json, sys
idn, label, tcp1, tcp4, udp, rtt, cpath, csys, hz, nproc = sys.argv[1:]
hz = float(hz)
r = {"id": idn, "label": label}
if tcp1:
    b, bps = tcp1.split()
    gb = int(b) / 1e9
    r["tcp1_gbit"] = float(bps) / 1e9
    r["tcp1_bytes"] = int(b)
    r["cpu_path_s_per_gb"] = (int(cpath) / hz / gb) if gb > 0 and int(nproc) > 0 else (0.0 if int(nproc) == 0 else None)
    r["cpu_sys_s_per_gb"] = int(csys) / hz / gb if gb > 0 else None
if tcp4:
    r["tcp4_gbit"] = float(tcp4) / 1e9
if udp:
    fps, lost = udp.split()
    r["udp64_fps"] = float(fps)
    r["udp64_lost_pct"] = float(lost)
s = sorted(float(x) * 1000 for x in rtt.split())
if s:
    r["ping_samples"] = len(s)
    r["rtt_p50_us"] = s[int(0.50 * (len(s) - 1) + 0.5)]
    r["rtt_p99_us"] = s[int(0.99 * (len(s) - 1) + 0.5)]
print(json.dumps(r))
PY
)
	echo "$j" >>"$RAW"
	log "$(echo "$j" | json '"%-18s tcp1 %s Gbit/s, tcp4 %s Gbit/s, udp64 %s fps, rtt p50 %s us p99 %s us, CPU s/GB path %s machine %s" % (d["id"], *("%.4g" % d[k] if d.get(k) is not None else "FAIL" for k in ("tcp1_gbit", "tcp4_gbit", "udp64_fps", "rtt_p50_us", "rtt_p99_us", "cpu_path_s_per_gb", "cpu_sys_s_per_gb")))')"
}

path_veth() {
	hosts
	ip link add a1 netns vfb-h1 type veth peer name a2 netns vfb-h2 || fail "veth"
	addrs a1 a2
	measure veth "veth pair (kernel)"
	teardown
}

path_bridge() {
	hosts; netns_add vfb-br
	ip -n vfb-br link add br0 type bridge && ip -n vfb-br link set br0 up || fail "bridge"
	ip link add a1 netns vfb-h1 type veth peer name b1 netns vfb-br
	ip link add a2 netns vfb-h2 type veth peer name b2 netns vfb-br
	ip -n vfb-br link set b1 master br0 up; ip -n vfb-br link set b2 master br0 up
	addrs a1 a2
	sleep 0.5
	measure bridge "Linux bridge (kernel)"
	teardown
}

path_vde() {
	local pids=() i
	hosts
	vde_switch -s "$T/vde.sw" -d -p "$T/vde.pid" >"$T/vde.log" 2>&1 || fail "vde_switch"
	wait_for 5 test -s "$T/vde.pid" || fail "vde_switch pid"
	pids+=("$(cat "$T/vde.pid")"); PIDS+=("${pids[-1]}")
	for i in 1 2; do
		ip netns exec vfb-h$i ip tuntap add mode tap name tap0 || fail "tap in vfb-h$i"
		ip netns exec vfb-h$i vde_plug2tap -s "$T/vde.sw" -d -P "$T/plug$i.pid" tap0 >>"$T/vde.log" 2>&1 || fail "vde_plug2tap"
		wait_for 5 test -s "$T/plug$i.pid" || fail "vde_plug2tap pid"
		pids+=("$(cat "$T/plug$i.pid")"); PIDS+=("${pids[-1]}")
	done
	addrs tap0 tap0
	sleep 1
	measure vde "vde_switch + vde_plug2tap" "${pids[@]}"
	teardown "${pids[@]}"
}

# nics_up ID PORT curve|insecure [NIC args]: NIC processes for vfb-h1 and vfb-h2 (TAP tap0 at
# 192.0.2.N) to the switch at 10.97.N.1:PORT, joined; their PIDs are added to the caller's pids
nics_up() {
	local id=$1 port=$2 mode=$3 i sec=()
	shift 3
	for i in 1 2; do
		if [ "$mode" = curve ]; then sec=(--server-key "$T/keys/switch" --key "$T/keys/h${i}_secret"); else sec=(--insecure); fi
		start "nic$i-$id" ip netns exec vfb-h$i "$NIC" -f --switch tcp://10.97.$i.1:$port "${sec[@]}" \
			--network bench --name h$i --tap tap0 "$@"
		pids+=("$LAST_PID")
	done
	for i in 1 2; do
		wait_for 5 ip -n vfb-h$i link show tap0 || fail "no tap0 in vfb-h$i ($id)"
		ip -n vfb-h$i addr add 192.0.2.$i/24 dev tap0
		wait_for 10 log_has "nic$i-$id" joined || fail "nic$i did not join ($id)"
	done
}

# path_vmf ID curve|insecure on|off [BUSY_POLL_USEC]
path_vmf() {
	local id=$1 mode=$2 off=$3 bp=${4:-0} pids=() label
	netns_add vfb-sw; hosts
	veth_link vfb-sw v1 10.97.1.1/24 vfb-h1 up0 10.97.1.2/24
	veth_link vfb-sw v2 10.97.2.1/24 vfb-h2 up0 10.97.2.2/24
	if [ "$mode" = curve ]; then
		[ -d "$T/auth" ] || keys h1 h2
		start "sw-$id" ip netns exec vfb-sw "$SWITCH" -f --listen tcp://0.0.0.0:7790 --control none \
			--key "$T/keys/switch_secret" --authorized "$T/auth" --busy-poll "$bp"
	else
		start "sw-$id" ip netns exec vfb-sw "$SWITCH" -f --listen tcp://0.0.0.0:7790 --control none --insecure
	fi
	pids+=("$LAST_PID")
	nics_up "$id" 7790 "$mode" --offload "$off"
	label="vmfabric $([ "$mode" = curve ] && echo CURVE || echo --insecure)$([ "$off" = off ] && echo ", --offload off")$([ "$bp" != 0 ] && echo ", switch --busy-poll $bp")"
	measure "$id" "$label" "${pids[@]}"
	teardown "${pids[@]}"
}

# path_trunk ID: h1 on site switch A, h2 on site switch B, both children of a root (CURVE)
path_trunk() {
	local id=$1 pids=() i
	netns_add vfb-sw; hosts
	veth_link vfb-sw v1 10.97.1.1/24 vfb-h1 up0 10.97.1.2/24
	veth_link vfb-sw v2 10.97.2.1/24 vfb-h2 up0 10.97.2.2/24
	[ -d "$T/auth" ] || keys h1 h2
	for i in siteA siteB; do
		[ -f "$T/keys/$i" ] || { "$KEYTOOL" generate "$T/keys/$i" >/dev/null &&
			sed 's/^metadata$/metadata\n    trunk = "yes"/' "$T/keys/$i" >"$T/auth/$i"; }
	done
	start "root-$id" ip netns exec vfb-sw "$SWITCH" -f --listen tcp://127.0.0.1:7790 --control none \
		--key "$T/keys/switch_secret" --authorized "$T/auth" --switch-id root
	pids+=("$LAST_PID")
	for i in 1 2; do
		local site=$([ $i = 1 ] && echo siteA || echo siteB)
		start "$site-$id" ip netns exec vfb-sw "$SWITCH" -f --listen tcp://10.97.$i.1:7791 --control none \
			--key "$T/keys/switch_secret" --authorized "$T/auth" --switch-id "$site" \
			--uplink tcp://127.0.0.1:7790 --uplink-server-key "$T/keys/switch" --uplink-key "$T/keys/${site}_secret"
		pids+=("$LAST_PID")
		wait_for 10 log_has "$site-$id" "joined parent switch" || fail "$site did not join the root ($id)"
	done
	nics_up "$id" 7791 curve
	measure "$id" "vmfabric CURVE, site -> root -> site (two trunks)" "${pids[@]}"
	teardown "${pids[@]}"
}

# bench_switch ID NS PORT AUTHDIR KEY...: keys KEY... admitted in $T/AUTHDIR, a CURVE switch in
# namespace NS on 127.0.0.1:PORT (log sw-ID); its PID in $LAST_PID
bench_switch() {
	local id=$1 ns=$2 port=$3 auth=$4 k; shift 4
	mkdir -p "$T/$auth" "$T/keys"
	for k in "$@"; do
		[ -f "$T/keys/${k}_secret" ] || "$KEYTOOL" generate "$T/keys/$k" >/dev/null
		cp "$T/keys/$k" "$T/$auth/$k"
	done
	[ -f "$T/keys/switch" ] || "$KEYTOOL" generate "$T/keys/switch" >/dev/null
	start "sw-$id" ip netns exec "$ns" "$SWITCH" -f --listen "tcp://127.0.0.1:$port" --control none \
		--key "$T/keys/switch_secret" --authorized "$T/$auth"
	wait_for 5 log_has "sw-$id" listening || fail "switch for $id did not start"
}

# bench_nic ID NS PORT KEY NETWORK NAME MAC dgram|vhost SOCK: a NIC process in namespace NS
# (log ID, key KEY, switch on 127.0.0.1:PORT) for a vmlab guest's virtio-net device with MAC,
# its sockets at SOCK-*; its PID joins pids, the guest's QEMU arguments are in NIC_ARGS
bench_nic() {
	local id=$1 ns=$2 port=$3 key=$4 net=$5 name=$6 mac=$7 kind=$8 sock=$9 be listen
	if [ "$kind" = dgram ]; then
		NIC_ARGS=(--netdev "dgram,id=n0,local.type=unix,local.path=$sock-qemu.sock,remote.type=unix,remote.path=$sock-nic.sock"
			  --device "virtio-net-pci,netdev=n0,mac=$mac")
		be=(--dgram "unix:$sock-nic.sock,unix:$sock-qemu.sock")
		listen=$sock-nic.sock
	else
		NIC_ARGS=(--qemu-arg -object --qemu-arg "memory-backend-memfd,id=mem0,size=256M,share=on"
			  --qemu-arg -numa --qemu-arg "node,memdev=mem0"
			  --qemu-arg -chardev --qemu-arg "socket,id=c0,path=$sock.vhost,reconnect=1"
			  --netdev "vhost-user,id=n0,chardev=c0"
			  --device "virtio-net-pci,netdev=n0,mac=$mac,rx_queue_size=1024,tx_queue_size=1024,vectors=0")
		be=(--vhost-user "$sock.vhost")
		listen=$sock.vhost
	fi
	start "$id" ip netns exec "$ns" "$NIC" -f --switch "tcp://127.0.0.1:$port" --server-key "$T/keys/switch" \
		--key "$T/keys/${key}_secret" --network "$net" --name "$name" "${be[@]}"
	pids+=("$LAST_PID")
	wait_for 5 test -S "$listen" || fail "$id is not listening"
}

# http_row ID LABEL RES [NAME=TICKS]... [ctr=LINE]: one JSON line into $RAW (and the log): the
# guest's HTTP rate from RES ("BYTES SECONDS"), CPU seconds per GB for each NAME
# (cpu_NAME_s_per_gb; empty TICKS: null), and from ctr= (a gateway's counters line) its batching
http_row() {
	python3 - "$HZ" "$@" >>"$RAW" <<'PY'
import json, re, sys
hz = float(sys.argv[1])
idn, label, res = sys.argv[2:5]
args = dict(a.split("=", 1) for a in sys.argv[5:])
ctr = args.pop("ctr", "")
r = {"id": idn, "label": label}
if res:
    b, s = res.split()
    gb = int(b) / 1e9
    r["http_mbit"] = int(b) * 8 / float(s) / 1e6 if float(s) > 0 else None
    r["http_bytes"] = int(b)
    for name, ticks in args.items():
        r["cpu_%s_s_per_gb" % name] = int(ticks) / hz / gb if ticks else None
m = re.search(r" tx (\d+) frames \(.*?; (\d+) batches; (\d+) segments coalesced into (\d+) super-frames", ctr)
if m:
    tx, msgs, segs, sup = (int(x) for x in m.groups())
    r["gw_frames_per_msg"] = tx / msgs if msgs else None
    r["gw_segments_per_super"] = segs / sup if sup else None
    r["gw_coalesced_share"] = segs / tx if tx else None
print(json.dumps(r))
PY
	log "$(tail -1 "$RAW")"
}

# guest_path direct|dgram|vhost: two vmlab guests, b downloads a's big.bin; one JSON line into $RAW
guest_path() {
	local kind=$1 id=guest-$1 na=() nb=() pids=() sw=() qa qb g w0 w1 q0 q1 s0 s1 res label
	local vl=$SHARED/vmlab mac=52:54:00:98:00
	netns_add vfb-g
	if [ "$kind" != direct ]; then
		bench_switch "$id" vfb-g 7880 gauth g1 g2
		sw=("$LAST_PID")
	fi
	for g in 1 2; do
		local a=()
		case $kind in
		direct)
			[ $g = 1 ] && a=(--netdev "socket,id=n0,listen=127.0.0.1:7881") ||
				a=(--netdev "socket,id=n0,connect=127.0.0.1:7881")
			a+=(--device "virtio-net-pci,netdev=n0,mac=$mac:0$g") ;;
		dgram|vhost)
			bench_nic "nic$g-$id" vfb-g 7880 "g$g" gbench "g$g" "$mac:0$g" "$kind" "$T/g$g"
			a=("${NIC_ARGS[@]}") ;;
		esac
		eval "args$g=(\"\${a[@]}\")"
	done
	[ "$kind" = dgram ] && { wait_for 5 test -S "$T/g1-nic.sock" && wait_for 5 test -S "$T/g2-nic.sock" || fail "dgram NICs ($id)"; }
	qa=$(ip netns exec vfb-g "$vl/run-guest" --name vfb-g1 --log "$T/$id-a.log" --background --timeout 300 \
		--mem 256 --serve --cmdline-extra vmlab.bigmb=32 --ip 10.98.0.1/24 "${args1[@]}" 2>>"$T/run-guest.log")
	[[ "$qa" =~ ^[0-9]+$ ]] || { log "$id: guest a did not start"; teardown "${pids[@]}" "${sw[@]}"; return 1; }
	PIDS+=("$qa")
	wait_for 60 grep -aq 'VMLAB: serve ' "$T/$id-a.log" || log "$id: guest a is not serving"
	qb=$(ip netns exec vfb-g "$vl/run-guest" --name vfb-g2 --log "$T/$id-b.log" --background --timeout 300 \
		--mem 256 --ip 10.98.0.2/24 --env PEER=10.98.0.1 --env ROUNDS=$ROUNDS --env BIGMB=32 \
		--script "$(dirname "$0")/guest-http.sh" "${args2[@]}" 2>>"$T/run-guest.log")
	[[ "$qb" =~ ^[0-9]+$ ]] || { log "$id: guest b did not start"; teardown "$qa" "${pids[@]}" "${sw[@]}"; return 1; }
	PIDS+=("$qb")
	if wait_for 120 grep -aq 'VMLAB-OUT: bench start' "$T/$id-b.log"; then
		w0=$(ticks "${pids[@]}"); q0=$(ticks "$qa" "$qb"); s0=$(ticks "${sw[@]}")
		wait_for 300 grep -aq 'VMLAB-OUT: bench end' "$T/$id-b.log"
		w1=$(ticks "${pids[@]}"); q1=$(ticks "$qa" "$qb"); s1=$(ticks "${sw[@]}")
	fi
	res=$(sed -n 's/^VMLAB-OUT: bench http \([0-9]*\) bytes \([0-9.]*\) s.*/\1 \2/p' "$T/$id-b.log" | tr -d '\r')
	[ -n "$res" ] || { log "$id: no result"; grep -a 'VMLAB-OUT' "$T/$id-b.log" | tail -3; }
	case $kind in
	direct) label="QEMU -netdev socket, guest to guest (no fabric)" ;;
	dgram) label="vmfabric CURVE, QEMU -netdev dgram" ;;
	vhost) label="vmfabric CURVE, vhost-user (offloads)" ;;
	esac
	local fab=; [ ${#pids[@]} -gt 0 ] && fab=1
	http_row "$id" "$label" "$res" nic=${fab:+$((${w1:-0} - ${w0:-0}))} \
		switch=${fab:+$((${s1:-0} - ${s0:-0}))} qemu=$((${q1:-0} - ${q0:-0}))
	stop "$qa"; stop "$qb"
	teardown "${pids[@]}" "${sw[@]}"
}

# gw_path user|dgram|vhost|vhost-nogro: one vmlab guest downloads big.bin from an HTTP server on the
# namespace's loopback via 10.0.2.2, through QEMU's -netdev user or through vmfabric-gateway;
# one JSON line into $RAW
gw_path() {
	local kind=$1 id=gw-$1 a=() pids=() sw=() gw=() http q g0 g1 q0 q1 s0 s1 n0 n1 h0 h1 res label c gro=
	local vl=$SHARED/vmlab mac=52:54:00:98:01:01
	netns_add vfb-gw
	mkdir -p "$T/gwww"
	[ -f "$T/gwww/big.bin" ] || head -c $((32 * 1048576)) /dev/urandom >"$T/gwww/big.bin"
	start "http-$id" ip netns exec vfb-gw python3 -m http.server 80 --bind 127.0.0.1 --directory "$T/gwww"
	http=$LAST_PID
	[ "$kind" = vhost-nogro ] && { kind=vhost; gro=off; }
	if [ "$kind" != user ]; then
		bench_switch "$id" vfb-gw 7882 gwauth gwg gwgw
		sw=("$LAST_PID")
		start "gateway-$id" ip netns exec vfb-gw "$GATEWAY" -f --switch tcp://127.0.0.1:7882 \
			--server-key "$T/keys/switch" --key "$T/keys/gwgw_secret" --network gwbench --name gw ${gro:+--gro $gro}
		gw=("$LAST_PID")
		wait_for 5 log_has "gateway-$id" "joined network" || fail "gateway ($id) did not join"
	fi
	case $kind in
	user) a=(--netdev "user,id=n0" --device "virtio-net-pci,netdev=n0,mac=$mac") ;;
	dgram|vhost)
		bench_nic "nic-$id" vfb-gw 7882 gwg gwbench g "$mac" "$kind" "$T/gw"
		a=("${NIC_ARGS[@]}") ;;
	esac
	q=$(ip netns exec vfb-gw "$vl/run-guest" --name vfb-gw --log "$T/$id.log" --background --timeout 300 \
		--mem 256 --dhcp --env PEER=10.0.2.2 --env ROUNDS=$ROUNDS --env BIGMB=32 \
		--script "$(dirname "$0")/guest-http.sh" "${a[@]}" 2>>"$T/run-guest.log")
	[[ "$q" =~ ^[0-9]+$ ]] || { log "$id: guest did not start"; teardown "$http" "${pids[@]}" "${gw[@]}" "${sw[@]}"; return 1; }
	PIDS+=("$q")
	if wait_for 120 grep -aq 'VMLAB-OUT: bench start' "$T/$id.log"; then
		q0=$(ticks "$q"); g0=$(ticks "${gw[@]}"); s0=$(ticks "${sw[@]}"); n0=$(ticks "${pids[@]}"); h0=$(ticks "$http")
		wait_for 300 grep -aq 'VMLAB-OUT: bench end' "$T/$id.log"
		q1=$(ticks "$q"); g1=$(ticks "${gw[@]}"); s1=$(ticks "${sw[@]}"); n1=$(ticks "${pids[@]}"); h1=$(ticks "$http")
	fi
	res=$(sed -n 's/^VMLAB-OUT: bench http \([0-9]*\) bytes \([0-9.]*\) s.*/\1 \2/p' "$T/$id.log" | tr -d '\r')
	[ -n "$res" ] || { log "$id: no result"; grep -a 'VMLAB-OUT' "$T/$id.log" | tail -3; }
	c=
	if [ ${#gw[@]} -gt 0 ]; then
		kill -USR1 "${gw[0]}"
		wait_for 5 log_has "gateway-$id" "counters:"
		c=$(grep 'counters:' "$T/gateway-$id.log" | tail -n1)
	fi
	case $kind in
	user) label="QEMU -netdev user (libslirp in QEMU)" ;;
	dgram) label="vmfabric-gateway, CURVE, QEMU -netdev dgram" ;;
	vhost) label="vmfabric-gateway, CURVE, vhost-user (offloads)" ;;
	esac
	[ "$gro" = off ] && label="$label, --gro off"
	local fab=; [ ${#gw[@]} -gt 0 ] && fab=1
	http_row "$id" "$label" "$res" qemu=$((${q1:-0} - ${q0:-0})) http=$((${h1:-0} - ${h0:-0})) \
		gateway=${fab:+$((${g1:-0} - ${g0:-0}))} switch=${fab:+$((${s1:-0} - ${s0:-0}))} \
		nic=${fab:+$((${n1:-0} - ${n0:-0}))} "ctr=$c"
	stop "$q"
	teardown "$http" "${pids[@]}" "${gw[@]}" "${sw[@]}"
}

# scale curve|insecure N: a fresh switch, vmf-loadgen with N ports; one JSON line into $RAW
scale() {
	local mode=$1 n=$2 sw out
	netns_add vfb-sc
	[ "$mode" != curve ] || [ -f "$T/keys/switch" ] || keys
	loadgen_switch "scale-sw-$mode-$n" vfb-sc 7791 "$mode"
	sw=$LAST_PID
	sleep 0.3
	out=$(ip netns exec vfb-sc "$LOADGEN" --switch tcp://127.0.0.1:7791 "${LG_SEC[@]}" --ports "$n" \
		--seconds "$SECS" --warmup "$LG_WARM" --rtt-seconds "$LG_RTT" --switch-pid "$sw" 2>"$T/loadgen.err")
	sed 's/^/    /' "$T/loadgen.err"
	if [ -n "$out" ]; then
		echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); d["id"]="scale"; print(json.dumps(d))' >>"$RAW"
	else
		log "loadgen failed ($mode, $n ports)"
	fi
	teardown "$sw"
}

for p in $PATHS; do
	log "path $p"
	case $p in
	veth) path_veth ;;
	bridge) path_bridge ;;
	vde) path_vde ;;
	vmf-insecure) path_vmf "$p" insecure on ;;
	vmf-curve) path_vmf "$p" curve on ;;
	vmf-insecure-nooff) path_vmf "$p" insecure off ;;
	vmf-curve-nooff) path_vmf "$p" curve off ;;
	vmf-curve-bp) path_vmf "$p" curve on 5000 ;;
	vmf-curve-trunk) path_trunk "$p" ;;
	*) fail "unknown path $p" ;;
	esac
done
if [ -n "$GUESTS" ]; then
	"$SHARED/vmlab/build-guest" >"$T/build-guest.log" 2>&1 || fail "vmlab/build-guest"
fi
for g in $GUESTS; do
	log "guest path $g"
	case $g in
	direct|dgram|vhost) guest_path "$g" ;;
	gw-user|gw-dgram|gw-vhost|gw-vhost-nogro) gw_path "${g#gw-}" ;;
	*) fail "unknown guest path $g" ;;
	esac
done
for mode in ${PORTS:+insecure curve}; do
	# keys for the largest run first, so every size reuses them
	max=0; for n in $PORTS; do [ "$n" -gt "$max" ] && max=$n; done
	[ "$mode" = curve ] && { mkdir -p "$T/lg"; "$LOADGEN" --gen-keys "$T/lg" "$max" || fail "loadgen keys"; }
	for n in $PORTS; do
		log "switch scaling: $mode, $n ports"
		scale "$mode" "$n"
	done
done

"$PY" "$(dirname "$0")/report.py" --raw "$RAW" --out "$OUT" --command "$CMDLINE" \
	--seconds "$SECS" --pings "$PINGS" --load-start "$START_LOAD" --load-end "$(cut -d' ' -f1-3 /proc/loadavg)" \
	--elapsed $(( $(date +%s) - T_START )) || fail "report"
cat "$OUT/results.md"
log "results in $OUT: results.md results.json plot.png ($(( $(date +%s) - T_START )) s)"
if [ "$README" = 1 ]; then
	"$PY" "$(dirname "$0")/report.py" --readme "$VMF_ROOT/README.md" --out "$OUT" || fail "README update"
	log "README.md Performance section updated"
fi
if [ "$SMOKE" = 1 ]; then
	"$PY" "$(dirname "$0")/report.py" --check "$OUT" --paths "$PATHS" --ports "$PORTS" || fail "smoke check"
	pass "smoke: every output exists and holds well-formed numbers"
fi
