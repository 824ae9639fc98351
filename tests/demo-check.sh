#!/bin/bash
# demo-check.sh - the README's first command works: deploy/demo.sh --seconds 3 shows DHCP leases from the
# gateway, a page fetched through 10.0.2.2, iperf3 and pings through the encrypted fabric, and cleans up
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$(mktemp /tmp/vmf-demo-check.XXXXXX)
trap 'rm -f "$OUT"' EXIT
fail() { echo "[demo] FAIL: $*"; cat "$OUT"; exit 1; }
DEMO_NO_BUILD=1 timeout 120 "$ROOT/deploy/demo.sh" --seconds 3 >"$OUT" 2>&1 || fail "demo.sh exited $?"
grep -q "udhcpc: tap0 got 10.0.2.15 router 10.0.2.2" "$OUT" || fail "no DHCP lease for the first host"
grep -q "udhcpc: tap0 got 10.0.2.16 router 10.0.2.2" "$OUT" || fail "no DHCP lease for the second host"
grep -q "^hello from the gateway host's loopback" "$OUT" || fail "no page through 10.0.2.2"
grep -q "receiver" "$OUT" || fail "no iperf3 result"
grep -q "3 packets transmitted, 3 received, 0% packet loss" "$OUT" || fail "pings lost"
grep -Eq "^h1/tap0 +lab " "$OUT" || fail "vmfabric-ctl ports does not list h1/tap0"
for ns in vfd-sw vfd-h1 vfd-h2; do ip netns list | grep -qw "$ns" && fail "namespace $ns left behind"; done
ls -d /tmp/vmfabric-demo.* >/dev/null 2>&1 && fail "demo temp dir left behind"
echo "[demo] ok: leases, gateway page, iperf3, pings, ctl; cleaned up"
