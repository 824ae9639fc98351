# gw-lib.sh - helpers shared by the gateway tests (source it after setting TEST_NAME)
# shellcheck shell=bash
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
GWT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ -x "$GATEWAY" ] || { echo "[$TEST_NAME] build first: $GATEWAY missing"; exit 1; }
EP="ipc://$T/switch.ipc"
ETC_NETNS=()

gw_cleanup() {
	cleanup
	local d
	for d in "${ETC_NETNS[@]}"; do rm -rf "/etc/netns/$d"; done
}
trap gw_cleanup EXIT

# fabric NAME...: keys for the switch and every port NAME, and a running switch on $EP
fabric() {
	keys "$@"
	start switch "$SWITCH" -f --listen "$EP" --key "$T/keys/switch_secret" --authorized "$T/auth" \
		--stats-file "$T/switch.json" --control none
	SWITCH_PID=$LAST_PID
	wait_for 5 test -S "$T/switch.ipc" || fail "switch did not start"
}

# resolv_conf NS LINE...: /etc/resolv.conf as seen by 'ip netns exec NS'
resolv_conf() {
	local ns=$1; shift
	mkdir -p "/etc/netns/$ns"
	ETC_NETNS+=("$ns")
	printf '%s\n' "$@" >"/etc/netns/$ns/resolv.conf"
}

# tap_host NS NAME NETWORK MAC: namespace NS with TAP tap0 (MAC) attached by a NIC process
tap_host() {
	local ns=$1 name=$2 net=$3 mac=$4
	netns_add "$ns"
	start "nic-$name" "$NIC" -f --switch "$EP" --server-key "$T/keys/switch" \
		--key "$T/keys/${name}_secret" --network "$net" --name "$name" --tap tap0 --netns "$ns"
	wait_for 5 ip -n "$ns" link show tap0 || fail "no tap0 in $ns"
	ip -n "$ns" link set tap0 down
	ip -n "$ns" link set tap0 address "$mac"
	ip -n "$ns" link set tap0 up
	wait_for 5 log_has "nic-$name" "joined network" || fail "NIC $name did not join"
}

# gateway LOGNAME NS NAME NETWORK ARGS...: a gateway inside NS, waits until it joined
gateway() {
	local log=$1 ns=$2 name=$3 net=$4; shift 4
	start "$log" ip netns exec "$ns" "$GATEWAY" -f --switch "$EP" --server-key "$T/keys/switch" \
		--key "$T/keys/${name}_secret" --network "$net" --name "$name" "$@"
	GW_PID=$LAST_PID
	wait_for 5 log_has "$log" "joined network" || fail "gateway $name did not join"
}

# dhcp NS IF [ARGS]: busybox udhcpc once; prints "ip router dns domain mask"
dhcp() {
	local ns=$1 ifc=$2; shift 2
	mkdir -p "$T/leases-$ns"
	rm -f "$T/leases-$ns/$ifc"
	LEASE_DIR="$T/leases-$ns" ip netns exec "$ns" busybox udhcpc -i "$ifc" -f -q -n -t 5 -T 1 \
		-s "$GWT/udhcpc.script" "$@" >>"$T/udhcpc-$ns.log" 2>&1 || return 1
	cat "$T/leases-$ns/$ifc"
}

# counter_lines_above LOGNAME N: the log holds more than N counter lines
counter_lines_above() { [ "$(grep -c 'counters:' "$T/$1.log")" -gt "$2" ]; }

# counters LOGNAME PID: SIGUSR1, then the gateway's latest counter line
counters() {
	local before
	before=$(grep -c 'counters:' "$T/$1.log")
	kill -USR1 "$2"
	wait_for 5 counter_lines_above "$1" "$before" || fail "no counters from $1"
	grep 'counters:' "$T/$1.log" | tail -n1
}

# ctr LINE NAME: one number from a counter line ("exhausted 3" -> 3)
ctr() { sed -n "s/.*[ (]$2 \([0-9]*\).*/\1/p" <<<"$1"; }

# fetch NS URL [SECONDS]: HTTP GET from inside NS, body on stdout
fetch() { ip netns exec "$1" curl -s -m "${3:-5}" "$2"; }

# vmlab_guest: ../shared/vmlab's guest image, built if needed ($VMLAB: its directory)
vmlab_guest() {
	VMLAB=$SHARED/vmlab
	[ -x "$VMLAB/run-guest" ] || fail "vmlab not found at $VMLAB"
	"$VMLAB/build-guest" >"$T/build-guest.log" 2>&1 || fail "vmlab build-guest failed"
}

# www_file NAME BYTES: random content in $T/www/NAME, its MD5 in $SUM
www_file() {
	mkdir -p "$T/www"
	head -c "$2" /dev/urandom >"$T/www/$1"
	SUM=$(md5sum "$T/www/$1" | cut -d' ' -f1)
}
