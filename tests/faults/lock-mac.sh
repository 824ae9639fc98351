#!/bin/bash
# lock-mac.sh - port security: a --lock-mac port that sends from other source MACs (a spoofing
# namespace host) gets those frames dropped and counted (locked_mac); the victim's MAC entry
# stays on the victim's port; unlocked ports are unaffected
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/ftopo.sh"
PORT=7786
H1MAC=02:98:00:00:00:01
H3MAC=02:98:00:00:00:03

keys h1 h2 h3
sw_host
for i in 1 2 3; do guest_host h$i $i; done
start_switch switch $PORT --lock-mac "h3/tap0=$H3MAC,02:98:00:00:03:03"
log_has switch "port h3/tap0: locked to 2 source MACs" || fail "switch did not log the lock"
for i in 1 2 3; do start_nic h$i $i h$i lab $PORT; done
for i in 1 2 3; do tap_setup h$i $i 192.168.78.$i/24; done
for i in 1 2 3; do wait_for 10 joined nic-h$i || fail "h$i did not join"; done
pings h3 192.168.78.1 3 || fail "the locked port cannot talk from its own MAC"
pings h2 192.168.78.1 2 || fail "ping h2 -> h1"
pass "h3/tap0 locked to $H3MAC (and one more): it talks from its own MAC"

# the spoofer: 200 frames from h1's MAC, 300 from random MACs
ip netns exec vfh-h3 python3 "$(dirname "$0")/spoof.py" tap0 $H1MAC 200 >/dev/null || fail "spoof.py"
ip netns exec vfh-h3 python3 "$(dirname "$0")/spoof.py" tap0 random 300 >/dev/null || fail "spoof.py"
sleep 0.5
sw_stats
LOCKED=$(port_field h3/tap0 drops.locked_mac)
[ "$LOCKED" = 500 ] || fail "h3/tap0 drops.locked_mac = $LOCKED, expected 500"
[ "$(port_field h1/tap0 mac_moves)" = 0 ] && [ "$(port_field h3/tap0 mac_moves)" = 0 ] || fail "h1's MAC moved"
OWNER=$("$CTL" --control "ipc://$T/switch.ctl" --json macs | json "[m['port'] for m in d['macs'] if m['mac'] == '$H1MAC'][0]")
[ "$OWNER" = h1/tap0 ] || fail "h1's MAC is now on $OWNER"
[ "$(sj 'd["networks"][0]["macs"]')" -le 3 ] || fail "spoofed MACs were learnt: $(sj 'd["networks"][0]["macs"]')"
for p in h1/tap0 h2/tap0; do [ "$(port_field $p drops.locked_mac)" = 0 ] || fail "$p has locked_mac drops"; done
pings h2 192.168.78.1 3 || fail "h2 -> h1 broken after the spoofing"
"$CTL" --control "ipc://$T/switch.ctl" --json ports | grep -q '"locked_mac":500' || fail "ctl ports does not show locked_mac"
pass "500 spoofed frames (200 as h1, 300 random) dropped as locked_mac, none learnt, h1's MAC stays on h1/tap0"

# the whole host changes its MAC: it is cut off until it changes back
ip -n vfh-h3 neigh flush dev tap0
ip -n vfh-h3 link set tap0 address 02:98:00:00:00:33
! pings h3 192.168.78.1 2 || fail "h3 talks from an unlisted MAC"
ip -n vfh-h3 link set tap0 address $H3MAC
wait_for 5 ping1 h3 192.168.78.1 || fail "h3 did not come back with its own MAC"
sw_stats
pass "lock-mac: h3 with an unlisted MAC is cut off ($(port_field h3/tap0 drops.locked_mac) locked_mac drops), back with its own"
