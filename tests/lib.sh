# lib.sh - shell helpers shared by the integration and end-to-end tests (source it)
#
# Every test gets its own temp dir ($T), and a cleanup trap that stops the
# processes it started (by PID, never by name), deletes the network
# namespaces it created and removes $T. Namespace names carry the test's
# prefix so that parallel tests never collide.

set -u
VMF_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VMF_BUILD=${VMF_BUILD:-$VMF_ROOT/build}
SWITCH=$VMF_BUILD/switch/vmfabric-switch
NIC=$VMF_BUILD/nicproc/vmfabric-nic
KEYTOOL=$VMF_BUILD/tls/vmfabric-key
GATEWAY=$VMF_BUILD/node/vmfabric-gateway
SHARED=${VMF_SHARED:-$VMF_ROOT/../shared}

T=$(mktemp -d /tmp/vmf-test.XXXXXX)
PIDS=()
NETNS=()
TEST_NAME=${TEST_NAME:-$(basename "$0" .sh)}

cleanup() {
	local p ns
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	for ns in "${NETNS[@]}"; do ip netns del "$ns" 2>/dev/null; done
	if [ "${KEEP_TMP:-0}" = 1 ]; then echo "logs kept in $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "[$TEST_NAME] $*"; }
fail() {
	echo "[$TEST_NAME] FAIL: $*"
	for f in "$T"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -n 25 "$f"; }; done
	exit 1
}
pass() { echo "[$TEST_NAME] ok: $*"; }

# netns_add NAME: a fresh namespace with lo up, deleted at exit
netns_add() {
	ip netns del "$1" 2>/dev/null
	ip netns add "$1" || fail "ip netns add $1"
	ip -n "$1" link set lo up
	NETNS+=("$1")
}

# veth_link NS1 IF1 ADDR1/P NS2 IF2 ADDR2/P
veth_link() {
	ip link add "$2" netns "$1" type veth peer name "$5" netns "$4" || fail "veth $2/$5"
	ip -n "$1" addr add "$3" dev "$2"; ip -n "$1" link set "$2" up
	ip -n "$4" addr add "$6" dev "$5"; ip -n "$4" link set "$5" up
}

# start NAME CMD...: run in the background, log to $T/NAME.log, remember the PID in $LAST_PID
start() {
	local name=$1; shift
	"$@" >"$T/$name.log" 2>&1 &
	LAST_PID=$!
	PIDS+=("$LAST_PID")
}

# stop PID: TERM and wait
stop() {
	kill -TERM "$1" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

# expect_exit CODE NAME CMD...: CMD exits with CODE; its output (stdout and stderr) is in $T/NAME.out
expect_exit() {
	local want=$1 name=$2 rc; shift 2
	"$@" >"$T/$name.out" 2>&1
	rc=$?
	[ "$rc" = "$want" ] || { cat "$T/$name.out"; fail "$name: exit $rc, expected $want"; }
}

# out_has NAME TEXT: $T/NAME.out (from expect_exit) contains TEXT
out_has() { grep -Fq -- "$2" "$T/$1.out" || { cat "$T/$1.out"; fail "$1: output lacks '$2'"; }; }

# finish PID SECONDS: wait until PID (a child) ends, at most SECONDS; its exit status goes to $RC.
# False if it still runs.
finish() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$1" 2>/dev/null && return 1
	wait "$1"; RC=$?
	return 0
}

# guest_client_ok LOGNAME PEER [PINGS]: the vmlab client in $T/LOGNAME.log reached PEER: "peer
# PEER reachable", pings without loss (exactly PINGS ping runs when given) and the right HTTP body
guest_client_ok() {
	local g=$1 peer=${2//./\\.} n
	log_has "$g" "^peer $peer reachable" || fail "$g: peer $2 not reachable"
	n=$(grep -c ' 0% packet loss' "$T/$g.log")
	[ "$n" -ge 1 ] && [ -z "${3:-}" -o "$n" = "${3:-}" ] || fail "$g: ping lost packets"
	log_has "$g" '^http body: VMLAB-HTTP-OK$' || fail "$g: wrong HTTP body"
}

# guest_figures LOGNAME: log the vmlab client's throughput lines
guest_figures() {
	local k
	for k in http_devnull http_tmpfs nc_sink; do log "  $(grep "^$k " "$T/$1.log")"; done
}

# wait_for SECONDS CMD...: true once CMD succeeds, false after SECONDS
wait_for() {
	local deadline=$(( $(date +%s%N) / 1000000 + $1 * 1000 )); shift
	while ! "$@" >/dev/null 2>&1; do
		[ $(( $(date +%s%N) / 1000000 )) -ge $deadline ] && return 1
		sleep 0.1
	done
	return 0
}

# log_has NAME REGEX: the process log contains REGEX
log_has() { grep -Eq -- "$2" "$T/$1.log"; }

# keys NAME...: a switch key pair in $T/keys and one pair per NAME, admitted in $T/auth
keys() {
	mkdir -p "$T/keys" "$T/auth"
	"$KEYTOOL" generate "$T/keys/switch" >/dev/null || fail "keygen switch"
	local n
	for n in "$@"; do
		"$KEYTOOL" generate "$T/keys/$n" >/dev/null || fail "keygen $n"
		cp "$T/keys/$n" "$T/auth/$n"
	done
}

# loadgen_switch ID NS PORT curve|insecure: a switch for vmf-loadgen in namespace NS on
# 127.0.0.1:PORT (log ID; curve: key $T/keys/switch, loadgen's keys admitted from $T/lg); its PID
# in $LAST_PID, loadgen's matching security options in LG_SEC
loadgen_switch() {
	local id=$1 ns=$2 port=$3 mode=$4 sec=(--insecure)
	LG_SEC=(--insecure)
	if [ "$mode" = curve ]; then
		sec=(--key "$T/keys/switch_secret" --authorized "$T/lg")
		LG_SEC=(--server-key "$T/keys/switch" --keys "$T/lg")
	fi
	start "$id" ip netns exec "$ns" "$SWITCH" -f --listen "tcp://127.0.0.1:$port" --control none "${sec[@]}"
	wait_for 5 log_has "$id" "listening on" || fail "switch $id did not start"
}

# stats PID FILE: ask a switch for its counters (SIGUSR1) and print the JSON
stats() {
	rm -f "$2"
	kill -USR1 "$1"
	wait_for 5 test -s "$2" || fail "no stats from switch"
	cat "$2"
}

# json EXPR < FILE: evaluate a python expression on the JSON document d
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

[ "$(id -u)" = 0 ] || { echo "[$TEST_NAME] needs root (network namespaces, TAP)"; exit 1; }
[ -x "$SWITCH" ] || { echo "[$TEST_NAME] build first: $SWITCH missing"; exit 1; }
