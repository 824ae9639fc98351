#!/bin/bash
# privileges.sh - after start-up a TAP NIC process holds no capability (and no_new_privs), a NIC
# on a socket path keeps only CAP_DAC_OVERRIDE, and the switch and gateway started as root with
# --user nobody run as nobody with no capability, while the fabric works
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/ftopo.sh"
PORT=7787
U=nobody
id "$U" >/dev/null 2>&1 || { echo "[privileges] no user $U: skipped"; exit 0; }

status() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

keys h1 h2 gw
chmod 711 "$T"; chmod 755 "$T/auth"
mkdir -p "$T/run"; chown "$U" "$T/run"
sw_host
guest_host h1 1
guest_host h2 2
guest_host g 3
SW_STATS=$T/run/stats.json
start_switch switch $PORT --user $U
wait_for 5 log_has switch "running as user $U" || fail "switch did not switch user"
[ "$(status "$SW_PID" Uid)" = "$(id -u $U)" ] || fail "switch uid is $(status "$SW_PID" Uid)"
[ "$(status "$SW_PID" CapEff)" = 0000000000000000 ] || fail "switch CapEff $(status "$SW_PID" CapEff)"
[ "$(status "$SW_PID" NoNewPrivs)" = 1 ] || fail "switch without no_new_privs"
start_nic h1 1 h1 lab $PORT; H1=$NIC_PID
start_nic h2 2 h2 lab $PORT
tap_setup h1 1 192.168.78.1/24
tap_setup h2 2 192.168.78.2/24
wait_for 10 joined nic-h1 || fail "h1 did not join"
wait_for 10 joined nic-h2 || fail "h2 did not join"
pings h1 192.168.78.2 3 || fail "ping through a switch running as $U"
for k in CapEff CapPrm CapBnd CapAmb; do
	[ "$(status "$H1" $k)" = 0000000000000000 ] || fail "TAP NIC $k = $(status "$H1" $k)"
done
[ "$(status "$H1" NoNewPrivs)" = 1 ] || fail "TAP NIC without no_new_privs"
log_has nic-h1 "privileges dropped: no capabilities left" || fail "NIC did not log the drop"
kill -HUP "$SW_PID"
wait_for 5 log_has switch "reload|authorized" || true
pings h2 192.168.78.1 2 || fail "ping after a reload as $U"
pass "switch runs as $U (uid $(status "$SW_PID" Uid), CapEff 0, no_new_privs); TAP NIC: CapEff/CapPrm/CapBnd/CapAmb all 0, no_new_privs; ping works"

# a NIC on a unix socket path keeps CAP_DAC_OVERRIDE only (QEMU's socket may belong to another user)
start nic-s ip netns exec vfh-g "$NIC" -f --switch "tcp://10.98.3.1:$PORT" --server-key "$T/keys/switch" \
	--key "$T/keys/gw_secret" --network lab --name g/stream --stream "unix:$T/none.sock"
S=$LAST_PID
wait_for 10 log_has nic-s "privileges dropped" || fail "stream NIC did not drop privileges"
[ "$(status "$S" CapEff)" = 0000000000000002 ] || fail "stream NIC CapEff $(status "$S" CapEff), expected CAP_DAC_OVERRIDE only"
stop "$S"
pass "stream NIC on a unix path: CapEff 0000000000000002 (CAP_DAC_OVERRIDE only)"

# the gateway with --user
start gateway ip netns exec vfh-g "$GATEWAY" -f --switch "tcp://10.98.3.1:$PORT" --server-key "$T/keys/switch" \
	--key "$T/keys/gw_secret" --network lab --name g/gw --user $U
G=$LAST_PID
wait_for 10 log_has gateway "running as user $U" || fail "gateway did not switch user"
wait_for 10 log_has gateway "joined network" || fail "gateway (as $U) did not join"
[ "$(status "$G" Uid)" = "$(id -u $U)" ] && [ "$(status "$G" CapEff)" = 0000000000000000 ] ||
	fail "gateway uid $(status "$G" Uid) CapEff $(status "$G" CapEff)"
pass "privileges: gateway runs as $U with no capability and joins the fabric"
