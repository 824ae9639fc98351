#!/bin/bash
# demo.sh - a vmfabric fabric on this machine: a switch host (switch + slirp gateway)
# and two guest hosts in network namespaces, joined by veth pairs, TAP NIC processes
# on each guest host, CURVE keys made on the spot. The hosts get DHCP leases from the
# gateway, fetch a page from the gateway host through 10.0.2.2, move data with iperf3,
# and ping each other through the encrypted switch until Ctrl-C (or for DEMO_SECONDS);
# then everything is cleaned up.
# Root, Debian 12. Usage: deploy/demo.sh [--seconds N]
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECONDS_TO_RUN=${DEMO_SECONDS:-0}
[ "${1:-}" = "--seconds" ] && SECONDS_TO_RUN=${2:?--seconds N}
[ "$(id -u)" = 0 ] || { echo "demo: run as root (network namespaces, TAP devices)"; exit 1; }

export VMF_BUILD=${VMF_BUILD:-$ROOT/build}
if [ -z "${DEMO_NO_BUILD:-}" ]; then
	echo "== building (installs missing packages with apt-get)"
	"$ROOT/deploy/build.sh"
fi
B=$VMF_BUILD
D=$(mktemp -d /tmp/vmfabric-demo.XXXXXX)
PIDS=()
NS="vfd-sw vfd-h1 vfd-h2"
cleanup() {
	trap - EXIT INT TERM
	echo; echo "== cleaning up"
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	for n in $NS; do ip netns del "$n" 2>/dev/null || true; done
	rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

echo "== keys (CURVE, czmq zcert files) in $D"
mkdir -p "$D/auth"
"$B/tls/vmfabric-key" generate "$D/switch" >/dev/null
for h in h1 h2 gw; do
	"$B/tls/vmfabric-key" generate "$D/$h" >/dev/null
	cp "$D/$h" "$D/auth/$h"		# admit the port's public key
done

echo "== three hosts: vfd-sw (switch) <-veth-> vfd-h1, vfd-sw <-veth-> vfd-h2"
for n in $NS; do ip netns del "$n" 2>/dev/null || true; ip netns add "$n"; ip -n "$n" link set lo up; done
ip link add v-h1 netns vfd-sw type veth peer name uplink netns vfd-h1
ip link add v-h2 netns vfd-sw type veth peer name uplink netns vfd-h2
ip -n vfd-sw addr add 10.98.1.1/24 dev v-h1; ip -n vfd-sw link set v-h1 up
ip -n vfd-sw addr add 10.98.2.1/24 dev v-h2; ip -n vfd-sw link set v-h2 up
ip -n vfd-h1 addr add 10.98.1.2/24 dev uplink; ip -n vfd-h1 link set uplink up
ip -n vfd-h2 addr add 10.98.2.2/24 dev uplink; ip -n vfd-h2 link set uplink up

echo "== switch on vfd-sw tcp://0.0.0.0:7700, management on $D/ctl"
ip netns exec vfd-sw "$B/switch/vmfabric-switch" -f --listen tcp://0.0.0.0:7700 \
	--key "$D/switch_secret" --authorized "$D/auth" --control "ipc://$D/ctl" 2>"$D/switch.log" &
PIDS+=($!)
sleep 0.3
echo "== gateway on vfd-sw for network lab (DHCP 10.0.2.15.., router/host 10.0.2.2, DNS 10.0.2.3)"
mkdir -p "$D/www"; echo "hello from the gateway host's loopback, through vmfabric-gateway" >"$D/www/hello.txt"
ip netns exec vfd-sw python3 -m http.server 8080 --bind 127.0.0.1 --directory "$D/www" >/dev/null 2>&1 &
PIDS+=($!)
ip netns exec vfd-sw "$B/node/vmfabric-gateway" -f --switch tcp://127.0.0.1:7700 --server-key "$D/switch" \
	--key "$D/gw_secret" --network lab --name gateway --lease-file "$D/lab.leases" 2>"$D/gateway.log" &
PIDS+=($!)
for i in 1 2; do
	echo "== NIC process on vfd-h$i: TAP tap0 <-> switch 10.98.$i.1 (network lab)"
	ip netns exec vfd-h$i "$B/nicproc/vmfabric-nic" -f --switch tcp://10.98.$i.1:7700 \
		--server-key "$D/switch" --key "$D/h${i}_secret" --network lab --name h$i/tap0 \
		--tap tap0 2>"$D/nic$i.log" &
	PIDS+=($!)
done
for _ in $(seq 50); do grep -q joined "$D/nic1.log" && grep -q joined "$D/nic2.log" && grep -q joined "$D/gateway.log" && break; sleep 0.1; done
cat "$D/switch.log" "$D/gateway.log" "$D/nic1.log" "$D/nic2.log"
BB=$(command -v busybox)
for i in 1 2; do
	for _ in $(seq 50); do ip -n vfd-h$i link show tap0 >/dev/null 2>&1 && break; sleep 0.1; done
	echo "== DHCP on vfd-h$i tap0"
	ip netns exec vfd-h$i "$BB" udhcpc -i tap0 -f -q -n -t 5 -T 1 -s "$ROOT/deploy/udhcpc.script" 2>/dev/null | grep udhcpc:
done
IP2=$(ip -n vfd-h2 -4 -o addr show dev tap0 | awk '{print $4}' | cut -d/ -f1)
[ -n "$IP2" ] || { echo "demo: vfd-h2 got no lease"; cat "$D/gateway.log"; exit 1; }

echo "== vfd-h1 fetches http://10.0.2.2:8080/hello.txt (the gateway host's loopback, through the gateway)"
ip netns exec vfd-h1 "$BB" wget -q -O - http://10.0.2.2:8080/hello.txt

echo "== iperf3 TCP 3 s, vfd-h1 -> vfd-h2 through the encrypted switch"
ip netns exec vfd-h2 iperf3 -s -1 -D >/dev/null 2>&1 || true
sleep 0.3
ip netns exec vfd-h1 iperf3 -c "$IP2" -t 3 2>&1 | grep -E 'sender|receiver' || true

echo "== vmfabric-ctl ports / macs (the switch's management channel)"
"$B/switch/vmfabric-ctl" --control "ipc://$D/ctl" ports
"$B/switch/vmfabric-ctl" --control "ipc://$D/ctl" macs

if [ "$SECONDS_TO_RUN" -gt 0 ]; then
	echo "== ping vfd-h1 -> vfd-h2 ($IP2) for $SECONDS_TO_RUN s"
	ip netns exec vfd-h1 ping -c "$SECONDS_TO_RUN" -i 1 "$IP2"
else
	echo "== ping vfd-h1 -> vfd-h2 ($IP2) through the fabric (Ctrl-C to stop and clean up)"
	ip netns exec vfd-h1 ping "$IP2" || true
fi
