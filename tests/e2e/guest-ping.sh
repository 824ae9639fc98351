# Guest script (vmlab): wait for PEER, report ping RTT, fetch PEER's test page.
# Used by the guests attached with -netdev stream,server=off and socket,connect.
peer=${PEER:?}
i=0
until ping -c 1 -W 1 "$peer" >/dev/null 2>&1; do
    i=$((i + 1)); [ "$i" -ge 60 ] && { echo "peer $peer unreachable"; exit 1; }
done
echo "peer $peer reachable (after $i failed probes)"
ping -c 5 -i 0.2 "$peer" | tail -n 2
i=0
until body=$(timeout 10 wget -q -O - "http://$peer/vmlab.txt" 2>&1); do
    i=$((i + 1)); [ "$i" -ge 20 ] && { echo "http fetch failed: $body"; exit 1; }; sleep 0.2
done
echo "http body: $body"
[ "$body" = VMLAB-HTTP-OK ]
