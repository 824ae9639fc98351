# Guest script (vmlab) for tests/bench/run.sh's guest paths: wait for PEER (a run-guest
# --serve guest), one warm-up download, then ROUNDS downloads of its /big.bin (BIGMB MiB)
# to /dev/null between "bench start" and "bench end" markers, 1 s of quiet around them so
# the host can sample CPU counters when it sees a marker. Timing: /proc/uptime.
peer=${PEER:?}
now() { cut -d' ' -f1 /proc/uptime; }
i=0
until ping -c 1 -W 1 "$peer" >/dev/null 2>&1; do
    i=$((i + 1)); [ "$i" -ge 60 ] && { echo "bench: peer $peer unreachable"; exit 1; }
done
timeout 60 wget -q -O /dev/null "http://$peer/big.bin" || { echo "bench: warm-up download failed"; exit 1; }
echo "bench start"
sleep 1
t0=$(now)
for r in $(seq "${ROUNDS:-4}"); do
    timeout 120 wget -q -O /dev/null "http://$peer/big.bin" || { echo "bench: download $r failed"; exit 1; }
done
t1=$(now)
echo "bench http $(( ${ROUNDS:-4} * ${BIGMB:-32} * 1048576 )) bytes $(awk -v a="$t0" -v z="$t1" 'BEGIN { printf "%.2f", z - a }') s"
sleep 1
echo "bench end"
