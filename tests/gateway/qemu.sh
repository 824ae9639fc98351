#!/bin/bash
# qemu.sh - a real QEMU guest (vmlab) on the fabric through a NIC process
# (-netdev dgram) gets its lease from the gateway and fetches a file over HTTP
# from the gateway host's loopback via 10.0.2.2.
TEST_NAME=gateway_qemu
source "$(dirname "$0")/gw-lib.sh"
vmlab_guest

fabric gw1 vm1
netns_add vfg-qgw
www_file file.bin 1048576
start http ip netns exec vfg-qgw python3 -m http.server 18085 --bind 127.0.0.1 --directory "$T/www"
gateway gw vfg-qgw gw1 lab --lease-file "$T/lab.leases"

start nic-vm1 "$NIC" -f --switch "$EP" --server-key "$T/keys/switch" --key "$T/keys/vm1_secret" \
	--network lab --name vm1/eth0 --dgram "unix:$T/nic.sock,unix:$T/qemu.sock"
wait_for 5 log_has nic-vm1 "joined network" || fail "NIC did not join"

"$VMLAB/run-guest" --name vfg-qemu --log "$T/serial.log" --timeout 120 \
	--netdev "dgram,id=n0,local.type=unix,local.path=$T/qemu.sock,remote.type=unix,remote.path=$T/nic.sock" \
	--device virtio-net-pci,netdev=n0,mac=52:54:00:47:00:01 --dhcp \
	--env URL=http://10.0.2.2:18085/file.bin --script "$GWT/guest-fetch.sh" >"$T/guest.log" 2>&1
RC=$?
cat "$T/guest.log"
[ "$RC" = 0 ] || fail "guest rc=$RC"
grep -q '^address 10.0.2.15/24' "$T/guest.log" || fail "guest did not get 10.0.2.15 from the gateway"
grep -q "^md5 $SUM bytes 1048576" "$T/guest.log" || fail "file fetched through the gateway is wrong"
grep -q '52:54:00:47:00:01 10.0.2.15 bound' "$T/lab.leases" || fail "lease not in the lease file"
pass "QEMU guest: DHCP lease 10.0.2.15 from the gateway, 1 MiB over HTTP via 10.0.2.2 intact"
exit 0
