#!/bin/bash
# soak.sh [SECONDS] - mixed traffic for SECONDS (default 60): TCP, small-packet UDP, ping, ARP
# broadcasts, management queries and counter dumps, across a switch and three NIC processes. The
# RSS of the switch and of every NIC process must not grow between the end of the warm-up (a
# quarter of the run, at least 10 s) and the end. Prints the RSS figures for the README.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/ftopo.sh"
PORT=7784
DUR=${1:-60}
WARM=$(( DUR / 4 > 10 ? DUR / 4 : 10 ))
SLACK_KB=${SLACK_KB:-4096}	# allowed after warm-up: allocator high-water marks; a leak per frame or batch is far more

keys h1 h2 h3
sw_host
for i in 1 2 3; do guest_host h$i $i; done
start_switch switch $PORT
for i in 1 2 3; do start_nic h$i $i h$i lab $PORT; eval H$i=\$NIC_PID; done
for i in 1 2 3; do tap_setup h$i $i 192.168.78.$i/24; done
for i in 1 2 3; do wait_for 10 joined nic-h$i || fail "h$i did not join"; done
pings h1 192.168.78.2 2 && pings h2 192.168.78.3 2 || fail "pings before the soak"
iperf_server h2 7788
iperf_server h1 7789

# the traffic, all of it bounded by DUR
start tcp ip netns exec vfh-h1 iperf3 -c 192.168.78.2 -p 7788 -t "$DUR" -b 300M -P 2 -i 10
start udp ip netns exec vfh-h3 iperf3 -u -c 192.168.78.1 -p 7789 -t "$DUR" -b 20M -l 200 -i 10
start ping ip netns exec vfh-h2 ping -n -q -i 0.02 -w "$DUR" 192.168.78.3
start arp bash -c "end=\$((SECONDS + $DUR)); while [ \$SECONDS -lt \$end ]; do ip -n vfh-h1 neigh flush dev tap0; ip -n vfh-h3 neigh flush dev tap0; ip netns exec vfh-h1 ping -c 1 -W 1 192.168.78.3 >/dev/null; sleep 0.5; done"
start mgmt bash -c "end=\$((SECONDS + $DUR)); while [ \$SECONDS -lt \$end ]; do for c in ports macs networks stats; do '$CTL' --control 'ipc://$T/switch.ctl' --json \$c >/dev/null; done; kill -USR1 $SW_PID $H1 $H2 $H3; sleep 1; done"

sample() {	# sample LABEL: RSS of switch, h1, h2, h3 in KiB, one line
	echo "$1 $(rss_kb "$SW_PID") $(rss_kb "$H1") $(rss_kb "$H2") $(rss_kb "$H3")" >>"$T/rss.txt"
}
T0=$SECONDS
sample start
sleep "$WARM"
sample warm
while [ $((SECONDS - T0)) -lt $((DUR - 2)) ]; do sleep 5; [ $((SECONDS - T0)) -lt $((DUR - 1)) ] && sample t+$((SECONDS - T0)); done
sample end
for p in "$SW_PID" "$H1" "$H2" "$H3"; do kill -0 "$p" || fail "process $p died during the soak"; done
sleep 3
TCP=$(awk '/receiver/ { print $6, $7 }' "$T/tcp.log" | tail -n 1)
LOSS=$(grep -o "[0-9.]*% packet loss" "$T/ping.log")
UDPLOSS=$(awk '/receiver/ { print $(NF-2), $(NF-1), $NF }' "$T/udp.log" | tail -n 1)
sw_stats
log "RSS KiB (switch h1 h2 h3):"; sed 's/^/    /' "$T/rss.txt"
read -r _ s0 a0 b0 c0 < <(grep "^warm " "$T/rss.txt")
read -r _ s1 a1 b1 c1 < <(grep "^end " "$T/rss.txt")
for x in "switch $s0 $s1" "h1 $a0 $a1" "h2 $b0 $b1" "h3 $c0 $c1"; do
	set -- $x
	[ $(( $3 - $2 )) -le "$SLACK_KB" ] || fail "$1 RSS grew from $2 to $3 KiB after the warm-up"
done
[ -n "$TCP" ] || fail "TCP stream did not finish: $(tail -n 3 "$T/tcp.log")"
pass "soak ${DUR} s: RSS after warm-up -> end: switch $s0 -> $s1, h1 $a0 -> $a1, h2 $b0 -> $b1, h3 $c0 -> $c1 KiB; TCP $TCP, ping $LOSS, UDP $UDPLOSS; $(sj 'd["switch"]["frames_out"]') frames out"
