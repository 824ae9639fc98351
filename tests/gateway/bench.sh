#!/bin/bash
# bench.sh - TCP download throughput into a vmlab guest: QEMU's own -netdev user
# versus the fabric (guest -> dgram -> vmfabric-nic -> switch -> vmfabric-gateway),
# both fetching SIZE MiB over HTTP from a server on the host's loopback via 10.0.2.2.
# Not a ctest test (timing only). usage: bench.sh [SIZE_MIB] [RUNS]
TEST_NAME=gateway_bench
source "$(dirname "$0")/gw-lib.sh"
MIB=${1:-32}
RUNS=${2:-3}
VMLAB=$SHARED/vmlab
"$VMLAB/build-guest" >"$T/build-guest.log" 2>&1 || fail "vmlab build-guest failed"

mkdir -p "$T/www"
head -c $((MIB * 1048576)) /dev/zero >"$T/www/big.bin"
netns_add vfg-bq	# -netdev user guest: its own namespace, so 10.0.2.2 is that loopback
start http-user ip netns exec vfg-bq python3 -m http.server 18087 --bind 127.0.0.1 --directory "$T/www"
fabric gw1 vm1 vm2
netns_add vfg-bgw
start http-gw ip netns exec vfg-bgw python3 -m http.server 18087 --bind 127.0.0.1 --directory "$T/www"
gateway gw vfg-bgw gw1 lab
start nic-vm1 "$NIC" -f --switch "$EP" --server-key "$T/keys/switch" --key "$T/keys/vm1_secret" \
	--network lab --name vm1/eth0 --dgram "unix:$T/nic.sock,unix:$T/qemu.sock"
wait_for 5 log_has nic-vm1 "joined network" || fail "NIC did not join"
# stream: QEMU listens (server=on), the NIC process connects and reconnects
start nic-vm2 "$NIC" -f --switch "$EP" --server-key "$T/keys/switch" --key "$T/keys/vm2_secret" \
	--network lab --name vm2/eth0 --stream "unix:$T/stream.sock"
wait_for 5 log_has nic-vm2 "joined network" || fail "NIC did not join"

run() {	# run NAME NETDEV -> prints MB/s
	ip netns exec "${NS:-vfg-bq}" "$VMLAB/run-guest" --name "vfg-bench-$1" --mem 256 --log "$T/$1.serial" \
		--timeout 300 --netdev "$2" --device virtio-net-pci,netdev=n0,mac=52:54:00:47:00:02 --dhcp \
		--env URL=http://10.0.2.2:18087/big.bin --env SINK=1 --script "$GWT/guest-fetch.sh" \
		>"$T/$1.out" 2>&1 || { cat "$T/$1.out"; fail "guest $1 failed"; }
	awk -v mib="$MIB" '/^seconds/ { printf "%.1f\n", mib * 1.048576 / $2 }' "$T/$1.out"
}
for i in $(seq "$RUNS"); do
	U=$(NS=vfg-bq run user-$i "user,id=n0")
	F=$(NS=vfg-bq run dgram-$i "dgram,id=n0,local.type=unix,local.path=$T/qemu.sock,remote.type=unix,remote.path=$T/nic.sock")
	S=$(NS=vfg-bq run stream-$i "stream,id=n0,server=on,addr.type=unix,addr.path=$T/stream.sock")
	echo "run $i: $MIB MiB download, -netdev user ${U} MB/s, vmfabric gateway: dgram NIC ${F} MB/s, stream NIC ${S} MB/s"
done
