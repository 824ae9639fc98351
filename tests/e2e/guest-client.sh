# Guest script (vmlab): ping + HTTP against PEER (a run-guest --serve guest),
# like vmlab/examples/b-client.sh; then, unless THROUGHPUT=0, 16 MiB over
# HTTP and nc; then, unless RESTART=0, the NIC-restart check: the host stops
# the peer's NIC process when it sees "restart: waiting for outage" (within
# OUTAGE_WAIT s, default 60), starts it again after "restart: outage seen";
# the peer must answer again within 15 s, with its QEMU untouched.
# Timing: /proc/uptime (10 ms resolution).
peer=${PEER:?}
outage_wait=${OUTAGE_WAIT:-60}
big=$((16 * 1024 * 1024))
now() { cut -d' ' -f1 /proc/uptime; }
secs() { cut -d. -f1 /proc/uptime; }
rate() { awk -v b="$1" -v a="$2" -v z="$3" 'BEGIN { d = z - a; if (d <= 0) d = 0.01;
         printf "%d bytes in %.2f s = %.1f Mbit/s\n", b, d, b * 8 / d / 1e6 }'; }

i=0
until ping -c 1 -W 1 "$peer" >/dev/null 2>&1; do
    i=$((i + 1)); [ "$i" -ge 60 ] && { echo "peer $peer unreachable"; exit 1; }
done
echo "peer $peer reachable (after $i failed probes)"
ping -c 10 -i 0.2 "$peer" | tail -n 2

i=0
until body=$(timeout 10 wget -q -O - "http://$peer/vmlab.txt" 2>&1); do
    i=$((i + 1)); [ "$i" -ge 20 ] && { echo "http fetch failed: $body"; exit 1; }; sleep 0.2
done
echo "http body: $body"
[ "$body" = VMLAB-HTTP-OK ] || exit 1

if [ "${THROUGHPUT:-1}" = 1 ]; then
t0=$(now); timeout 60 wget -q -O /dev/null "http://$peer/big.bin" || { echo "http_devnull failed"; exit 1; }; t1=$(now)
echo "http_devnull $(rate "$big" "$t0" "$t1")"
t0=$(now); timeout 60 wget -q -O /tmp/big.bin "http://$peer/big.bin" || { echo "http_tmpfs failed"; exit 1; }; t1=$(now)
got=$(wc -c </tmp/big.bin); rm -f /tmp/big.bin
[ "$got" = "$big" ] || { echo "http_tmpfs short download: $got bytes"; exit 1; }
echo "http_tmpfs $(rate "$got" "$t0" "$t1")"
t0=$(now); got=$(dd if=/dev/zero bs=64k count=256 2>/dev/null | timeout 60 nc "$peer" 9); t1=$(now)
[ "$got" = "$big" ] || { echo "nc_sink peer received ${got:-nothing}"; exit 1; }
echo "nc_sink $(rate "$got" "$t0" "$t1")"
fi
[ "${RESTART:-1}" = 1 ] || exit 0

echo "restart: waiting for outage"
end=$(($(secs) + outage_wait))
# t0: the start of the last probe that was answered, so "back after" bounds the outage
while t0=$(now); ping -c 1 -W 1 "$peer" >/dev/null 2>&1; do
    [ "$(secs)" -ge "$end" ] && { echo "restart: no outage within $outage_wait s"; exit 1; }
    sleep 0.1
done
echo "restart: outage seen"
end=$(($(secs) + 15))
until ping -c 1 -W 1 "$peer" >/dev/null 2>&1; do
    [ "$(secs)" -ge "$end" ] && { echo "restart: peer still unreachable after 15 s"; exit 1; }
done
t1=$(now)
echo "restart: peer back after $(awk -v a="$t0" -v z="$t1" 'BEGIN { printf "%.2f", z - a }') s"
ping -c 5 -i 0.2 "$peer" | tail -n 2
body=$(timeout 10 wget -q -O - "http://$peer/vmlab.txt" 2>&1)
echo "restart: http body: $body"
[ "$body" = VMLAB-HTTP-OK ]
