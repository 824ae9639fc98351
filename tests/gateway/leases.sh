#!/bin/bash
# leases.sh - 250 DHCP clients (macvlans with distinct MACs on one TAP host) get
# 250 distinct leases from one gateway; a 251st is refused cleanly (no offer,
# counted, logged); after a gateway restart every MAC gets its address back.
TEST_NAME=gateway_leases
source "$(dirname "$0")/gw-lib.sh"
N=250

fabric gw1 m1
netns_add vfg-lgw
LEASES=$T/lab.leases
# .5 - .254: exactly 250 addresses
GWARGS=(--lease-file "$LEASES" --dhcpstart 10.0.2.5 --dhcpend 10.0.2.254 --ipv6 off)
gateway gw vfg-lgw gw1 lab "${GWARGS[@]}"
tap_host vfg-m1 m1 lab 02:00:00:00:0f:01
M1_PID=$LAST_PID

{
	for i in $(seq 1 $((N + 1))); do
		printf 'link add mv%d link tap0 address 02:00:00:aa:%02x:%02x type macvlan mode private\n' \
			"$i" $((i / 256)) $((i % 256))
		printf 'link set mv%d up\n' "$i"
	done
} >"$T/links"
ip -n vfg-m1 -batch "$T/links" || fail "cannot create macvlans"

mkdir -p "$T/l1" "$T/l2"
# run_clients DIR FIRST LAST: udhcpc on mvFIRST..mvLAST in parallel, leases in DIR
run_clients() {
	mkdir -p "$1.log"
	# one netns exec for all of them: 250 parallel "ip netns exec" mounts are a test of ip
	seq "$2" "$3" | NO_CONFIG=1 LEASE_DIR=$1 ip netns exec vfg-m1 xargs -P 64 -I{} sh -c \
		'exec busybox udhcpc -i mv$1 -f -q -n -t 6 -T 2 -s "$2" >"$3/mv$1" 2>&1' \
		_ {} "$GWT/udhcpc.script" "$1.log"
	return 0
}

# missing DIR FIRST LAST GWLOG GWPID: say which clients got no lease, with their udhcpc output,
# the gateway's counters, the NIC's counters and the namespace's kernel drops
missing() {
	local i
	for i in $(seq "$2" "$3"); do
		[ -s "$1/mv$i" ] && continue
		echo "--- mv$i (no lease):"
		cat "$1.log/mv$i"
		ip -n vfg-m1 -s link show "mv$i" | sed -n '3,6p'
	done
	echo "--- gateway counters: $(counters "$4" "$5")"
	kill -USR1 "$M1_PID"; sleep 0.5
	echo "--- nic counters: $(grep 'counters:' "$T/nic-m1.log" | tail -n1)"
	echo "--- tap0 in vfg-m1:"; ip -n vfg-m1 -s link show tap0 | sed -n '3,6p'
	echo "--- softnet_stat (processed dropped squeezed, per CPU):"; awk '{ print $1, $2, $3 }' /proc/net/softnet_stat
}

T0=$(date +%s)
run_clients "$T/l1" 1 $N
GOT=$(cat "$T"/l1/mv* 2>/dev/null | wc -l)
DISTINCT=$(cat "$T"/l1/mv* 2>/dev/null | awk '{print $1}' | sort -u | wc -l)
[ "$GOT" = $N ] || fail "$GOT of $N clients got a lease
$(missing "$T/l1" 1 $N gw "$GW_PID")"
[ "$DISTINCT" = $N ] || fail "only $DISTINCT distinct addresses for $N clients"
pass "$N clients, $N distinct leases in $(( $(date +%s) - T0 )) s"
[ "$(grep -c ' bound ' "$LEASES")" = $N ] || fail "lease file holds $(grep -c ' bound ' "$LEASES") bound leases"
pass "lease file holds $N bound leases"

# the 251st: pool exhausted, no offer
if NO_CONFIG=1 LEASE_DIR=$T/l1 ip netns exec vfg-m1 busybox udhcpc -i mv$((N + 1)) -f -q -n -t 2 -T 1 \
	-s "$GWT/udhcpc.script" >>"$T/udhcpc.log" 2>&1; then
	fail "client $((N + 1)) got a lease from an exhausted pool: $(cat "$T/l1/mv$((N + 1))")"
fi
C=$(counters gw "$GW_PID")
EX=$(ctr "$C" exhausted)
[ "${EX:-0}" -ge 1 ] || fail "exhausted counter is '${EX}': $C"
log_has gw "DHCP pool exhausted: no offer for 02:00:00:aa:00:fb" || fail "no log line for the refused client"
[ "$(ctr "$C" offer)" -ge $N ] || fail "offers: $C"
pass "client $((N + 1)) refused: no offer, exhausted=$EX, logged"
kill -0 "$GW_PID" || fail "gateway died"

# restart: same MAC -> same address
stop "$GW_PID"
gateway gw2 vfg-lgw gw1 lab "${GWARGS[@]}"
log_has gw2 "leases: $N loaded" || fail "restarted gateway did not load $N leases"
run_clients "$T/l2" 1 $N
SAME=0
for i in $(seq 1 $N); do
	a=$(awk '{print $1}' "$T/l1/mv$i" 2>/dev/null)
	b=$(awk '{print $1}' "$T/l2/mv$i" 2>/dev/null)
	[ -n "$a" ] && [ "$a" = "$b" ] && SAME=$((SAME + 1))
done
[ "$SAME" = $N ] || fail "after restart only $SAME of $N clients got their address back
$(missing "$T/l2" 1 $N gw2 "$GW_PID")"
pass "gateway restart: all $N clients got the same address back"
exit 0
