#!/bin/bash
# tap-bench.sh - a namespace host on a TAP NIC process (offloads on, the default) downloads
# 64 MiB over HTTP from the gateway host's loopback via 10.0.2.2, with the gateway's --gro
# on and off in turn (ROUNDS times each, 3 downloads per gateway). Not a ctest test (timing
# only). usage: tap-bench.sh [ROUNDS]; prints MB/s per download and the gateway's counters.
TEST_NAME=gateway_tap_bench
source "$(dirname "$0")/gw-lib.sh"
ROUNDS=${1:-2}
fabric gw1 h1
netns_add vgp-tgw
mkdir -p "$T/www"
head -c $((64 * 1048576)) /dev/zero >"$T/www/big.bin"
start http ip netns exec vgp-tgw python3 -m http.server 7461 --bind 127.0.0.1 --directory "$T/www"
tap_host vgp-th h1 lab 52:54:00:47:02:01
for _ in $(seq "$ROUNDS"); do
	for g in on off; do
		gateway "gw-$g" vgp-tgw gw1 lab --gro "$g"
		L=$(dhcp vgp-th tap0) || fail "no lease from the gateway"
		ip -n vgp-th addr flush dev tap0
		ip -n vgp-th addr add "${L%% *}/24" dev tap0
		ip -n vgp-th route replace default via 10.0.2.2
		for _ in 1 2 3; do
			ip netns exec vgp-th curl -s -o /dev/null -w "%{speed_download}\n" \
				http://10.0.2.2:7461/big.bin | awk -v g="$g" '{ printf "--gro %s: %.1f MB/s\n", g, $1 / 1e6 }'
		done
		counters "gw-$g" "$GW_PID" | grep -o "tx [0-9]* frames.*super-frames)"
		stop "$GW_PID"
	done
done
