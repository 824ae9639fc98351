#!/bin/bash
# metrics.sh - switch --metrics: Prometheus text that promtool accepts, values that follow the traffic,
# and a scraper that cannot stall forwarding
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/topo.sh"
PORT=7717
MPORT=7718
command -v promtool >/dev/null || EXTRA_PKGS=prometheus "$VMF_ROOT/deploy/install-deps.sh"
command -v curl >/dev/null || EXTRA_PKGS=curl "$VMF_ROOT/deploy/install-deps.sh"

pair_up $PORT --metrics "10.99.1.1:$MPORT"
log_has switch "metrics on http://10.99.1.1:$MPORT/metrics" || fail "switch does not announce its metrics endpoint"
pings h1 192.168.77.2 20 || fail "ping h1 -> h2"

scrape() { ip netns exec vfi-h1 curl -s -m 5 "http://10.99.1.1:$MPORT$1"; }
scrape /metrics >"$T/m.txt" || fail "no answer from /metrics"
promtool check metrics <"$T/m.txt" >"$T/promtool.out" 2>&1 || { cat "$T/promtool.out"; fail "promtool rejects the metrics"; }
pass "promtool check metrics accepts the exposition ($(wc -l <"$T/m.txt") lines)"

metric() { awk -v k="$1" '$1 == k { print $2 }' "$T/m.txt"; }
RX=$(metric 'vmfabric_port_rx_frames_total{network="lab",port="h1/tap0"}')
TX=$(metric 'vmfabric_port_tx_frames_total{network="lab",port="h2/tap0"}')
[ -n "$RX" ] && [ "$RX" -ge 20 ] || fail "h1/tap0 rx frames '$RX' after 20 pings"
[ -n "$TX" ] && [ "$TX" -ge 20 ] || fail "h2/tap0 tx frames '$TX' after 20 pings"
[ "$(metric 'vmfabric_network_ports{network="lab"}')" = 2 ] || fail "network lab ports"
[ "$(metric 'vmfabric_network_macs{network="lab"}')" = 2 ] || fail "network lab MAC count"
[ "$(metric 'vmfabric_port_drops_total{network="lab",port="h1/tap0",reason="runt"}')" = 0 ] || fail "drops by reason missing"
[ "$(metric 'vmfabric_switch_admissions_total{result="allowed"}')" -ge 2 ] || fail "admissions"
pass "per-port frames ($RX in, $TX out), drops by reason, MAC table size and admissions follow the traffic"

# the counters move between scrapes
pings h1 192.168.77.2 10 || fail "ping h1 -> h2 (2)"
scrape /metrics >"$T/m.txt"
RX2=$(metric 'vmfabric_port_rx_frames_total{network="lab",port="h1/tap0"}')
[ "$RX2" -ge $((RX + 10)) ] || fail "rx frames did not grow: $RX -> $RX2"
pass "rx frames grow with traffic: $RX -> $RX2"

CODE=$(ip netns exec vfi-h1 curl -s -o /dev/null -w '%{http_code}' -m 5 "http://10.99.1.1:$MPORT/other")
[ "$CODE" = 404 ] || fail "GET /other answered $CODE, not 404"
pass "anything but /metrics is 404"

# idle scrapers (connections that never send a request) cannot stall the switch
for i in $(seq 10); do
	start idle$i ip netns exec vfi-h1 python3 -c "
import socket, time
s = socket.create_connection(('10.99.1.1', $MPORT)); time.sleep(30)"
done
sleep 0.5
pings h1 192.168.77.2 10 || fail "forwarding stalled while 10 idle metrics connections were open"
grep -q " 0% packet loss" "$T/ping.out" || fail "pings lost while idle scrapers were connected"
pass "10 idle metrics connections: forwarding unaffected"
# they time out after 5 s, then scraping works again
sleep 5.5
scrape /metrics | grep -q vmfabric_switch_uptime_seconds || fail "metrics not served after idle clients timed out"
pass "idle connections are cut after 5 s and /metrics answers again"
pass "metrics"
