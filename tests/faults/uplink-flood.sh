#!/bin/bash
# uplink-flood.sh - a switch that sends faster than a NIC process can pass frames on does not
# starve the other direction: during a flood of TSO super-frames towards a NIC process (each cut
# into 1000 segments for its TAP), the frames its guest sends keep reaching the switch and the
# session stays up. Namespace vn1-fl, TCP port 7800. Argument: flood seconds (default 4).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/guestside.sh"
SECS=${1:-4}

gs_setup fl nic raw
# the guest side is a TAP without offloads: every frame from the switch costs a write(), and a
# super-frame with gso_size 64 becomes 1000 of them, far more work than the switch spends on it
qnic nic --tap tap0 --offload off
wait_for 5 ip -n "$SW_NS" link show tap0 || fail "tap0 did not appear"
ip -n "$SW_NS" addr add 10.77.0.1/24 dev tap0
ip -n "$SW_NS" link set tap0 up
ip -n "$SW_NS" neigh add 10.77.0.2 lladdr 02:9a:00:00:01:02 dev tap0
wait_for 10 joined nic-nic || fail "the NIC process did not join"
# the guest: one UDP datagram every 20 ms out of tap0
cat >"$T/guest.py" <<'PY'
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
while True:
    s.sendto(b"guest", ("10.77.0.2", 9))
    time.sleep(0.02)
PY
start guest ip netns exec "$SW_NS" python3 "$T/guest.py"

start raw "${RAW_CMD[@]}" hello:1:fl:raw/0 expect:welcome:3000 "tso:64:64000:$((SECS * 1000))"
RAWP=$LAST_PID
wait_for 5 log_has raw "expect welcome: ok" || fail "raw client not welcomed"
sleep 1
sw_stats; A=$(port_field q/nic rx_frames); RA=$(port_field q/nic tx_frames)
sleep $((SECS - 2))
sw_stats; B=$(port_field q/nic rx_frames); RB=$(port_field q/nic tx_frames)
for v in "$A" "$B" "$RA" "$RB"; do
	[[ $v =~ ^[0-9]+$ ]] || fail "port q/nic left the switch during the flood (its keepalives starved)"
done
wait "$RAWP" || fail "raw client: $(tail -n 3 "$T/raw.log")"
log "$(grep "sent" "$T/raw.log" | tail -n 1)"
log "during the flood ($((SECS - 2)) s): $((B - A)) frames from the guest reached the switch, $((RB - RA)) went to the NIC process"
[ "$((RB - RA))" -gt 0 ] || fail "no flood reached the NIC process"
[ "$((B - A))" -ge $(( (SECS - 2) * 10 )) ] || fail "the guest's frames starved during the flood: $((B - A)) in $((SECS - 2)) s"
[ "$(grep -c "joined network" "$T/nic-nic.log")" = 1 ] || fail "the session did not survive the flood"
pass "uplink-flood"
