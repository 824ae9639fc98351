#!/bin/bash
# metrics-flood.sh - /metrics under a hostile client: one address holding as many idle connections
# as it can (reopening each one the switch closes) cannot lock a scraper at another address out,
# and a burst of GETs costs one rendering of the page, not one per request.
# Namespace vn3-met, TCP ports 7821 (switch) and 7822 (metrics).
. "$(dirname "$0")/../lib.sh"
PORT=7821
MPORT=7822
NS=vn3-met

netns_add $NS
start switch ip netns exec $NS "$SWITCH" -f --insecure --listen "tcp://127.0.0.1:$PORT" --control none \
	--metrics "127.0.0.1:$MPORT"
wait_for 5 log_has switch "metrics on" || fail "switch did not start"
scrape() { ip netns exec $NS curl -s -m "${1:-2}" "http://127.0.0.1:$MPORT/metrics"; }
metric() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }

# the flooder: from 127.0.0.2, keep 32 connections open, never send a request, reopen what closes
start flood ip netns exec $NS /usr/bin/python3 -c "
import selectors, socket, time
sel, end = selectors.DefaultSelector(), time.time() + 12
def conn():
    try:
        s = socket.create_connection(('127.0.0.1', $MPORT), source_address=('127.0.0.2', 0), timeout=1)
        s.setblocking(False); sel.register(s, selectors.EVENT_READ)
    except OSError:
        pass
for _ in range(32): conn()
opened = 32
while time.time() < end:
    for key, _ in sel.select(0.01):
        sel.unregister(key.fileobj); key.fileobj.close(); conn(); opened += 1
print('flooder opened', opened, flush=True)
time.sleep(30)"
sleep 1
ok=0
for i in $(seq 10); do
	scrape 2 >"$T/m.txt" && grep -q '^vmfabric_switch_uptime_seconds ' "$T/m.txt" && ok=$((ok + 1))
	sleep 0.3
done
[ "$ok" = 10 ] || fail "only $ok of 10 scrapes answered while one address flooded the metrics port"
pass "10 of 10 scrapes answered within 2 s while 127.0.0.2 kept 32 connections open"

# a burst of GETs: the page is rendered at most once a second, not per request
scrape >"$T/a.txt"; r0=$(metric vmfabric_metrics_renders_total "$T/a.txt"); t0=$(date +%s%N)
for i in $(seq 40); do scrape >"$T/b.txt" || fail "scrape $i of the burst"; done
t1=$(date +%s%N); r1=$(metric vmfabric_metrics_renders_total "$T/b.txt")
secs=$(( (t1 - t0) / 1000000000 + 1 ))
[ -n "$r0" ] && [ -n "$r1" ] || fail "no vmfabric_metrics_renders_total"
[ $((r1 - r0)) -le $((secs + 1)) ] || fail "$((r1 - r0)) renderings for 40 GETs in about $secs s"
pass "40 GETs in about $secs s: $((r1 - r0)) renderings of the page"
pass "metrics-flood"
