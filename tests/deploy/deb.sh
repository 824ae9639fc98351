#!/bin/bash
# deb.sh - the CPack .deb installs on a clean Debian 12 (a fresh localhost/debian:bookworm-slim
# container, `apt-get install ./vmfabric_*.deb`, its library dependencies from Debian's archive),
# and there every executable answers --version, `vmfabric-key generate` makes a usable key pair,
# and the units, man pages and compose files are where the package says.
TEST_NAME=deploy_deb
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=deploy-lib.sh
. "$(dirname "$0")/deploy-lib.sh"

engine_start
deb_build
dpkg-deb -f "$DEB" Depends >"$T/depends"
for lib in libzmq5 libprotobuf-c1 libsodium23 libslirp0 libpcap0.8; do
	grep -q "$lib" "$T/depends" || fail "Depends lacks $lib: $(cat "$T/depends")"
done
pass "$(basename "$DEB"): Depends: $(cat "$T/depends")"

C=vfd-test-deb-$$
podman rm -f "$C" >/dev/null 2>&1
trap 'podman rm -f "$C" >/dev/null 2>&1; deploy_cleanup' EXIT
cat >"$T/check.sh" <<'IN'
set -eux
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends /deb/vmfabric_*.deb >/tmp/apt.log 2>&1 || { tail -20 /tmp/apt.log; exit 1; }
for b in vmfabric-switch vmfabric-nic vmfabric-gateway vmfabric-key vmfabric-ctl vmfabric-qemu; do
	[ -e /usr/bin/$b ] || { [ $b = vmfabric-qemu ] && continue; echo "missing $b"; exit 1; }
	out=$($b --version)
	[ "$out" = "$b $(dpkg-query -W -f='${Version}' vmfabric)" ] || { echo "$b --version: $out"; exit 1; }
	echo "VERSION $out"
done
mkdir -p /etc/vmfabric
vmfabric-key generate /etc/vmfabric/switch
[ "$(stat -c %a /etc/vmfabric/switch_secret)" = 600 ]
[ "$(stat -c %a /etc/vmfabric/switch)" = 644 ]
vmfabric-key check /etc/vmfabric/switch_secret
[ "$(vmfabric-key public /etc/vmfabric/switch)" = "$(vmfabric-key public /etc/vmfabric/switch_secret)" ]
for f in /usr/lib/systemd/system/vmfabric-switch.service /usr/lib/systemd/system/vmfabric-nic@.service \
	/usr/lib/systemd/system/vmfabric-gateway@.service /usr/share/man/man1/vmfabric-switch.1 \
	/usr/share/vmfabric/compose/lab.yml; do
	[ -f $f ] || { echo "missing $f"; exit 1; }
done
grep -qx 'ExecStart=/usr/bin/vmfabric-switch -f -c /etc/vmfabric/switch.conf' /usr/lib/systemd/system/vmfabric-switch.service
# a switch from the package starts with the generated key
mkdir -p /etc/vmfabric/authorized
vmfabric-switch -f --listen tcp://127.0.0.1:7000 --key /etc/vmfabric/switch_secret \
	--authorized /etc/vmfabric/authorized --control none >/tmp/switch.log 2>&1 &
for _ in $(seq 50); do grep -q listening /tmp/switch.log && break; sleep 0.1; done
grep listening /tmp/switch.log
kill %1
echo DEB-OK
IN
podman run --rm --name "$C" -v "$T/deb:/deb:ro" -v "$T/check.sh:/check.sh:ro" "$VMF_BASE_IMAGE" \
	bash /check.sh >"$T/container.log" 2>&1 || fail "in a fresh container: $(tail -25 "$T/container.log")"
grep -q DEB-OK "$T/container.log" || fail "check did not finish: $(tail -25 "$T/container.log")"
pass "installed with apt-get on a fresh $VMF_BASE_IMAGE: $(grep '^VERSION' "$T/container.log" | cut -d' ' -f2- | paste -sd, -)"
pass "vmfabric-key generate makes a 0600/0644 pair that loads; a switch starts with it; units and man pages in place"
