# guest-fetch.sh - vmlab guest script: report the DHCP address, fetch $URL through
# the gateway, print its md5 (or discard it with SINK=1) and the transfer time.
addr=$(ip -4 -o addr show dev eth0 | awk '{print $4}')
echo "address ${addr:-none}"
echo "route $(ip route | grep '^default' || echo none)"
[ -n "$addr" ] || exit 1
out=/tmp/f
[ "${SINK:-0}" = 1 ] && out=/dev/null
t0=$(cut -d' ' -f1 /proc/uptime)
wget -q -O "$out" "$URL" || { echo "wget failed"; exit 1; }
t1=$(cut -d' ' -f1 /proc/uptime)
[ "$out" = /tmp/f ] && echo "md5 $(md5sum /tmp/f | cut -d' ' -f1) bytes $(wc -c </tmp/f)"
awk -v a="$t0" -v b="$t1" 'BEGIN { printf "seconds %.3f\n", b - a }'
exit 0
