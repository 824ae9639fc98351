# Guest script (vmlab) for tree.sh: wait for PEER, announce the download, fetch PEER's big.bin
# into tmpfs and report its size (the host kills the active root switch meanwhile).
peer=${PEER:?}
i=0
until ping -c 1 -W 1 "$peer" >/dev/null 2>&1; do
    i=$((i + 1)); [ "$i" -ge 60 ] && { echo "peer $peer unreachable"; exit 1; }
done
echo "peer $peer reachable"
# the peer's httpd may start after its kernel answers pings
i=0
until [ "$(timeout 5 wget -q -O - "http://$peer/vmlab.txt" 2>/dev/null)" = VMLAB-HTTP-OK ]; do
    i=$((i + 1)); [ "$i" -ge 50 ] && { echo "peer $peer serves nothing"; exit 1; }; sleep 0.2
done
echo "download: start"
timeout 120 wget -q -O /tmp/big.bin "http://$peer/big.bin" || { echo "download: failed"; exit 1; }
echo "download: done $(wc -c </tmp/big.bin) bytes"
