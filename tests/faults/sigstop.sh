#!/bin/bash
# sigstop.sh - one port's NIC process stopped (SIGSTOP) while traffic is sent to it and the other
# ports run at full speed: the others keep >= 80% of their throughput, the switch's memory stays
# bounded, the stopped port's losses are counted on that port, and it comes back after SIGCONT
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/ftopo.sh"
PORT=7781
IPORT=7788
SECS=${SECS:-6}

keys h1 h2 h3 h4
sw_host
for i in 1 2 3 4; do guest_host h$i $i; done
# a long keepalive keeps the stopped port alive, so the switch has to hold (and bound) its queue
start_switch switch $PORT --keepalive 30000
for i in 1 2 3 4; do start_nic h$i $i h$i lab $PORT; eval H$i=\$NIC_PID; done
for i in 1 2 3 4; do tap_setup h$i $i 192.168.78.$i/24; done
for i in 1 2 3 4; do wait_for 10 joined nic-h$i || fail "h$i did not join"; done
for i in 2 3 4; do pings h1 192.168.78.$i 2 || fail "ping h1 -> h$i"; done
iperf_server h2 $IPORT

# background load towards h3: h4 sends UDP at 100 Mbit/s (and h3 answers nothing: it is just a sink)
iperf_server h3 7789
start load ip netns exec vfh-h4 iperf3 -u -b 100M -l 1400 -c 192.168.78.3 -p 7789 -t $((4 * SECS + 20))
sleep 1

BASE=$(iperf_mbps h1 192.168.78.2 $IPORT "$SECS")
[ "$BASE" -gt 50 ] || fail "baseline h1 -> h2 only $BASE Mbit/s"
RSS0=$(rss_kb "$SW_PID")
pass "baseline: h1 -> h2 $BASE Mbit/s while h4 sends 100 Mbit/s UDP to h3; switch RSS $RSS0 KiB"

kill -STOP "$H3"
start rss sh -c "while kill -0 $SW_PID 2>/dev/null; do awk '/^VmRSS:/ { print \$2 }' /proc/$SW_PID/status; sleep 0.5; done"
RSSMON=$LAST_PID
sleep 1
STOPPED=$(iperf_mbps h1 192.168.78.2 $IPORT "$SECS")
sleep 2
kill "$RSSMON"
sw_stats
TXFULL=$(port_field h3/tap0 drops.tx_full)
H3UP=$(port_field h3/tap0 name)
RSSMAX=$(sort -n "$T/rss.log" | tail -n 1)
kill -CONT "$H3"
pass "h3 stopped: h1 -> h2 $STOPPED Mbit/s; switch RSS max $RSSMAX KiB (before: $RSS0); h3 tx_full drops $TXFULL"
[ "$H3UP" = h3/tap0 ] || fail "the stopped port was removed (keepalive 30 s)"
[ $((STOPPED * 100)) -ge $((BASE * 80)) ] || fail "others lost throughput: $STOPPED < 80% of $BASE Mbit/s"
[ "$TXFULL" -gt 0 ] || fail "nothing counted as tx_full on the stopped port"
# bounded: the queue of the stopped port is capped by --hwm (256 batches) and the socket buffers
[ $((RSSMAX - RSS0)) -lt 65536 ] || fail "switch RSS grew by $((RSSMAX - RSS0)) KiB while h3 was stopped"
# and flat: the last half of the samples grows by less than 4 MiB
N=$(wc -l <"$T/rss.log")
LATE=$(tail -n $((N / 2)) "$T/rss.log" | sort -n | sed -n '1p;$p' | tr '\n' ' ')
set -- $LATE
[ $(( $2 - $1 )) -lt 4096 ] || fail "switch RSS still growing while h3 stopped: $LATE"

# h3 resumes: its NIC process catches up and works again, nobody had to restart
wait_for 10 ping1 h3 192.168.78.1 || fail "h3 did not come back after SIGCONT"
AFTER=$(iperf_mbps h1 192.168.78.2 $IPORT 3)
kill -0 "$H3" || fail "h3 died"
[ "$(grep -c "joined network" "$T/nic-h3.log")" = 1 ] || fail "h3 had to rejoin"
pass "sigstop: others kept $((STOPPED * 100 / BASE))% ($STOPPED of $BASE Mbit/s), switch RSS +$(( (RSSMAX - RSS0) / 1024 )) MiB and flat, $TXFULL frames dropped on the stopped port only; h3 back after SIGCONT without rejoining, h1 -> h2 $AFTER Mbit/s"
