#!/bin/bash
# vhost.sh - a QEMU guest on vhost-user (guest TSO) behind the gateway: DHCP, then a 24 MiB
# random file over HTTP from the gateway host's loopback via 10.0.2.2, checksum verified. The
# gateway learns that the guest's NIC takes offloads and sends the download as TSO
# super-frames (--gro, the default), which the NIC process writes into the guest whole.
TEST_NAME=gateway_vhost
source "$(dirname "$0")/gw-lib.sh"
vmlab_guest

fabric gw1 vm1
netns_add vgp-vh
www_file big.bin $((24 * 1048576))
start http ip netns exec vgp-vh python3 -m http.server 7460 --bind 127.0.0.1 --directory "$T/www"
gateway gw vgp-vh gw1 lab
start nic-vm1 "$NIC" -f --switch "$EP" --server-key "$T/keys/switch" --key "$T/keys/vm1_secret" \
	--network lab --name vm1/eth0 --vhost-user "$T/vm1.vhost"
NIC_PID=$LAST_PID
wait_for 5 test -S "$T/vm1.vhost" || fail "NIC is not listening on $T/vm1.vhost"

"$VMLAB/run-guest" --name vgp-vhost --mem 256 --log "$T/serial.log" --timeout 150 \
	--qemu-arg -object --qemu-arg "memory-backend-memfd,id=mem0,size=256M,share=on" \
	--qemu-arg -numa --qemu-arg "node,memdev=mem0" \
	--qemu-arg -chardev --qemu-arg "socket,id=c0,path=$T/vm1.vhost,reconnect=1" \
	--netdev "vhost-user,id=n0,chardev=c0" \
	--device "virtio-net-pci,netdev=n0,mac=52:54:00:47:01:01,rx_queue_size=1024,tx_queue_size=1024,vectors=0" \
	--dhcp --env URL=http://10.0.2.2:7460/big.bin --script "$GWT/guest-fetch.sh" >"$T/guest.log" 2>&1
RC=$?
cat "$T/guest.log"
[ "$RC" = 0 ] || fail "guest rc=$RC"
grep -q '^address 10.0.2.15/24' "$T/guest.log" || fail "guest did not get 10.0.2.15 from the gateway"
grep -q "^md5 $SUM bytes $((24 * 1048576))" "$T/guest.log" || fail "file fetched through the gateway is wrong"

C=$(counters gw "$GW_PID")
echo "$C"
SUPERS=$(sed -n 's/.* \([0-9]*\) super-frames).*/\1/p' <<<"$C")
SEGS=$(sed -n 's/.* \([0-9]*\) segments coalesced into.*/\1/p' <<<"$C")
[ -n "$SUPERS" ] && [ "$SUPERS" -gt 0 ] || fail "the gateway sent no super-frames to the vhost-user guest"
# 24 MiB is about 17000 segments of 1460 bytes: most of them must have gone out coalesced
[ "$SEGS" -gt 12000 ] || fail "only $SEGS segments coalesced"
stop "$NIC_PID"
grep 'vhost-user' "$T/nic-vm1.log" | tail -n1
WHOLE=$(grep -o 'to guest whole [0-9]*' "$T/nic-vm1.log" | tail -n1 | awk '{print $4}')
[ -n "$WHOLE" ] && [ "$WHOLE" -gt 0 ] || fail "the NIC process wrote no super-frame into the guest whole"
pass "vhost-user guest: 24 MiB through the gateway intact, $SEGS segments in $SUPERS super-frames, $WHOLE written whole"
exit 0
