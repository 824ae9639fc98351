#!/bin/bash
# cli.sh - command lines, config files, exit codes, key files, --netns, --insecure, limits
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/topo.sh"
HERE=$(cd "$(dirname "$0")" && pwd)


# --- every documented option is used by some integration, fault or fabric test -
for prog in "$SWITCH" "$NIC"; do
	"$prog" --help >"$T/help.out" || fail "$prog --help"
	# "-x, --name" or "--name": either spelling counts, in any non-comment line of the suite
	grep -oE '^ +(-[a-zA-Z], )?--[a-z-]+' "$T/help.out" | sed 's/^ *//; s/, /|/' >"$T/opts.txt"
	while read -r o; do
		grep -hv '^[[:space:]]*#' "$HERE"/*.sh "$HERE"/../faults/*.sh "$HERE"/../fabric/*.sh | grep -Eq -- "(^|[[:space:]\"'])($o)([=[:space:]\"']|\$)" ||
			fail "$(basename "$prog") $o is not exercised by any integration test"
	done <"$T/opts.txt"
	[ "$(wc -l <"$T/opts.txt")" -ge 15 ] || fail "could not read the options from $(basename "$prog") --help"
done
"$KEYTOOL" --help >"$T/help.out" || fail "vmfabric-key --help"
for o in generate --force public check; do
	grep -Fq -- "$o" "$T/help.out" || fail "vmfabric-key --help does not mention $o"
done
pass "every option in the --help of vmfabric-switch and vmfabric-nic is used in tests/integration"

# --- usage errors: 64, pointing at --help ---------------------------------------
mkdir -p "$T/keys" "$T/auth"
"$KEYTOOL" generate "$T/keys/switch" >/dev/null
"$KEYTOOL" generate "$T/keys/c1" >/dev/null
expect_exit 64 sw-flag "$SWITCH" --no-such-flag
out_has sw-flag "--help"
expect_exit 64 nic-flag "$NIC" -Q
out_has nic-flag "--help"
expect_exit 64 key-cmd "$KEYTOOL" frobnicate
out_has key-cmd "usage: vmfabric-key"
expect_exit 64 sw-nokey "$SWITCH" -f --listen tcp://127.0.0.1:7720 --authorized "$T/auth"
out_has sw-nokey "--key"
expect_exit 64 nic-nokey "$NIC" -f --switch tcp://127.0.0.1:7720 --server-key "$T/keys/switch" --dgram "unix:$T/x.nic,unix:$T/x.peer"
out_has nic-nokey "--key"
expect_exit 64 sw-badint "$SWITCH" -f --listen tcp://127.0.0.1:7720 --key "$T/keys/switch_secret" --authorized "$T/auth" --mtu 12
out_has sw-badint "--mtu"
expect_exit 64 sw-nolisten "$SWITCH" -f --key "$T/keys/switch_secret" --authorized "$T/auth"
out_has sw-nolisten "--listen"
expect_exit 64 nic-twobe "$NIC" -f --switch tcp://127.0.0.1:7720 --insecure --tap x0 --fd 3
out_has nic-twobe "exactly one backend"
expect_exit 64 sw-extra "$SWITCH" -f --listen tcp://127.0.0.1:7720 stray-argument
out_has sw-extra "--help"
pass "usage errors exit 64 and point at --help or the missing option"

# --- missing key files: 78, naming the file and the fix ----------------------------
expect_exit 78 sw-nofile "$SWITCH" -f --listen tcp://127.0.0.1:7720 --key "$T/keys/nope_secret" --authorized "$T/auth"
out_has sw-nofile "$T/keys/nope_secret"
out_has sw-nofile "vmfabric-key generate"
expect_exit 78 nic-nofile "$NIC" -f --switch tcp://127.0.0.1:7720 --server-key "$T/keys/switch" \
	--key "$T/keys/gone_secret" --dgram "unix:$T/y.nic,unix:$T/y.peer"
out_has nic-nofile "$T/keys/gone_secret"
out_has nic-nofile "vmfabric-key generate"
expect_exit 78 nic-nosrv "$NIC" -f --switch tcp://127.0.0.1:7720 --server-key "$T/keys/nosuchswitch" \
	--key "$T/keys/c1_secret" --dgram "unix:$T/z.nic,unix:$T/z.peer"
out_has nic-nosrv "$T/keys/nosuchswitch"
expect_exit 78 sw-noauth "$SWITCH" -f --listen tcp://127.0.0.1:7720 --key "$T/keys/switch_secret" --authorized "$T/nodir"
out_has sw-noauth "$T/nodir"
pass "missing key file or directory: exit 78, the message names the file and 'vmfabric-key generate'"

# --- -V, -h -------------------------------------------------------------------
for prog in "$SWITCH" "$NIC" "$KEYTOOL"; do
	expect_exit 0 version "$prog" --version
	grep -Eq "^$(basename "$prog") [0-9]+\.[0-9]+" "$T/version.out" || fail "$prog --version: $(cat "$T/version.out")"
	expect_exit 0 version "$prog" -V
	grep -Eq "^$(basename "$prog") [0-9]+\.[0-9]+" "$T/version.out" || fail "$prog -V: $(cat "$T/version.out")"
	expect_exit 0 help "$prog" -h
	out_has help "usage:"
done
pass "-V prints the version, -h the usage, both exit 0"

# --- config files and -n ---------------------------------------------------------
cat >"$T/switch.conf" <<CONF
# a switch config
listen = tcp://127.0.0.1:7720
key = $T/keys/switch_secret
authorized $T/auth
mac-age = 60
mtu = 9000
max-macs = 128
insecure = no
stats-file = "$T/cfg stats.json"
CONF
expect_exit 0 sw-check "$SWITCH" -c "$T/switch.conf" -n --mac-age 30 --max-ports 16
out_has sw-check "mac-age = 30"
out_has sw-check "mtu = 9000"
out_has sw-check "max-macs = 128"
out_has sw-check "max-ports = 16"
out_has sw-check "listen = tcp://127.0.0.1:7720"
out_has sw-check "stats-file = $T/cfg stats.json"
out_has sw-check "insecure = no"
grep -q "listening" "$T/sw-check.out" && fail "-n started the switch"
expect_exit 0 sw-check2 "$SWITCH" --config="$T/switch.conf" --check
out_has sw-check2 "mac-age = 60"
pass "-c FILE then the command line: -n shows mac-age 30 (flag) over 60 (file), mtu 9000 (file)"

printf 'listen = tcp://127.0.0.1:7720\n# fine so far\nmac_age = 5\n' >"$T/typo.conf"
expect_exit 78 sw-typo "$SWITCH" -c "$T/typo.conf" -n
out_has sw-typo "$T/typo.conf:3"
out_has sw-typo "mac_age"
printf 'switch = tcp://127.0.0.1:7720\nmtu = huge\n' >"$T/badval.conf"
expect_exit 78 nic-badval "$NIC" -c "$T/badval.conf" -n
out_has nic-badval "$T/badval.conf:2"
expect_exit 78 nic-noconf "$NIC" -c "$T/missing.conf" -n
out_has nic-noconf "$T/missing.conf"
pass "config errors exit 78 naming FILE:LINE"

cat >"$T/nic.conf" <<CONF
switch = tcp://127.0.0.1:7720
server-key = $T/keys/switch
key = $T/keys/c1_secret
network = fromfile
name = c1/eth0
mtu = 1400
tap = vfitap0
debug
CONF
expect_exit 0 nic-check "$NIC" -c "$T/nic.conf" -N fromflag -n
out_has nic-check "network = fromflag"
out_has nic-check "name = c1/eth0"
out_has nic-check "mtu = 1400"
out_has nic-check "debug = yes"
pass "vmfabric-nic -c FILE -N NAME -n: the flag wins, the file fills the rest"

# --- vmfabric-key -------------------------------------------------------------------
mkdir -p "$T/k"
expect_exit 0 gen "$KEYTOOL" generate "$T/k/alpha"
K1=$(cat "$T/gen.out")
[ ${#K1} = 40 ] || fail "generate printed '$K1', not a 40-character Z85 key"
[ "$(stat -c %a "$T/k/alpha")" = 644 ] || fail "public certificate mode $(stat -c %a "$T/k/alpha")"
[ "$(stat -c %a "$T/k/alpha_secret")" = 600 ] || fail "secret certificate mode $(stat -c %a "$T/k/alpha_secret")"
grep -q "^    public-key = \"$(printf %s "$K1" | sed 's/[][\\.*^$/]/\\&/g')\"" "$T/k/alpha" || fail "public certificate is not in zcert format"
grep -q "secret-key" "$T/k/alpha" && fail "public certificate holds the secret key"
grep -q "^    secret-key = \"" "$T/k/alpha_secret" || fail "secret certificate has no secret-key"
SUM=$(md5sum "$T/k/alpha" "$T/k/alpha_secret")
expect_exit 1 regen "$KEYTOOL" generate "$T/k/alpha"
out_has regen "--force"
[ "$(md5sum "$T/k/alpha" "$T/k/alpha_secret")" = "$SUM" ] || fail "generate overwrote a key pair without --force"
expect_exit 0 pub "$KEYTOOL" public "$T/k/alpha"
[ "$(cat "$T/pub.out")" = "$K1" ] || fail "public prints $(cat "$T/pub.out"), generate printed $K1"
expect_exit 0 pub2 "$KEYTOOL" public "$T/k/alpha_secret"
[ "$(cat "$T/pub2.out")" = "$K1" ] || fail "public of the secret file differs"
expect_exit 0 chk "$KEYTOOL" check "$T/k/alpha_secret"
out_has chk "ok"
chmod 604 "$T/k/alpha_secret"
expect_exit 1 chk2 "$KEYTOOL" check "$T/k/alpha_secret"
out_has chk2 "chmod 600 $T/k/alpha_secret"
expect_exit 0 force "$KEYTOOL" generate --force "$T/k/alpha"
K2=$(cat "$T/force.out")
[ ${#K2} = 40 ] && [ "$K2" != "$K1" ] || fail "generate --force did not make a new key"
[ "$(stat -c %a "$T/k/alpha_secret")" = 600 ] || fail "--force left the secret at mode $(stat -c %a "$T/k/alpha_secret")"
pass "vmfabric-key: generate writes NAME 0644 + NAME_secret 0600, refuses to overwrite without --force, public/check agree"

# --- a running insecure fabric over ipc://, TAPs made in other namespaces (--netns) ------
for ns in vfi-c1 vfi-c2; do
	netns_add $ns
	ip netns exec $ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
EP="ipc://$T/switch.ipc"
start switch "$SWITCH" -f -d --listen "$EP" --insecure --stats-file "$T/stats.json" --pidfile "$T/switch.pid" \
	--max-ports 3 --max-networks 2 --mac-age 2 --keepalive 300 --hwm 64 --io-threads 1 --mtu 1400 "${CTL_OPT[@]}"
SW_PID=$LAST_PID
wait_for 5 log_has switch "listening on ipc://" || fail "insecure switch did not start"
log_has switch "warning: --insecure" || fail "insecure switch does not warn"
[ "$(cat "$T/switch.pid")" = "$SW_PID" ] || fail "--pidfile holds $(cat "$T/switch.pid"), not $SW_PID"
# insecure_nic N: NIC process in the ROOT namespace, its TAP in vfi-cN
insecure_nic() {
	start "nic-c$1" "$NIC" -f -d --switch "$EP" --insecure --network cli --name "c$1/tap" \
		--tap vfitap --netns "vfi-c$1" --mtu 1400 --pidfile "$T/nic-c$1.pid"
}
insecure_nic 1; C1=$LAST_PID
insecure_nic 2; C2=$LAST_PID
for n in 1 2; do
	wait_for 5 ip -n vfi-c$n link show vfitap || fail "no vfitap in vfi-c$n"
	ip -n vfi-c$n link set vfitap address 02:99:00:00:01:0$n
	ip -n vfi-c$n addr add 192.168.79.$n/24 dev vfitap
done
ip link show vfitap >/dev/null 2>&1 && fail "the TAP was made in the root namespace"
[ "$(readlink /proc/$C1/ns/net)" = "$(readlink /proc/self/ns/net)" ] || fail "the NIC process is not in the root namespace"
ip -n vfi-c1 link show vfitap | grep -q "mtu 1400" || fail "TAP MTU is not 1400"
wait_for 5 joined nic-c1 || fail "c1 did not join"
wait_for 5 joined nic-c2 || fail "c2 did not join"
log_has nic-c1 "warning: --insecure" || fail "insecure NIC does not warn"
log_has nic-c1 "debug: connected to ipc://" || fail "-d: no debug line in the NIC log"
[ "$(cat "$T/nic-c1.pid")" = "$C1" ] || fail "NIC --pidfile"
ip netns exec vfi-c1 ping -q -n -c 5 -i 0.2 -W 1 192.168.79.2 >/dev/null || fail "ping over the insecure fabric"
ip netns exec vfi-c1 ping -q -n -c 2 -W 1 -M do -s 1372 192.168.79.2 >/dev/null || fail "1400-byte packets do not pass"
sw_stats
[ "$(sj 'd["networks"][0]["mtu"]')" = 1400 ] || fail "network MTU is not 1400"
[ "$(port_field c1/tap key)" = "" ] || fail "insecure port has a key"
pass "--insecure on both sides over ipc://, warnings logged; --netns: TAP in vfi-c1, NIC in the root namespace; ping works"

# --mac-age 2: quiet MACs are forgotten
macs0() { sw_stats; [ "$(sj 'd["networks"][0]["macs"]')" = 0 ]; }
wait_for 6 macs0 || fail "MAC entries not aged out after --mac-age 2"
pass "--mac-age 2: MAC entries aged out"

# --keepalive 300: a frozen NIC process loses its port within ~1 s, and comes back when it thaws
kill -STOP "$C2"
c2_gone() { sw_stats; [ "$(port_field c2/tap name)" = none ]; }
wait_for 3 c2_gone || { kill -CONT "$C2"; fail "frozen c2 not expired with --keepalive 300"; }
[ "$(sj 'd["switch"]["expired"]')" = 1 ] || { kill -CONT "$C2"; fail "expired counter"; }
log_has switch "port c2/tap left network cli: 3 keepalives missed" || { kill -CONT "$C2"; fail "no expiry log"; }
kill -CONT "$C2"
wait_for 10 ip netns exec vfi-c1 ping -q -n -c 1 -W 1 192.168.79.2 || fail "c2 did not come back after thawing"
pass "--keepalive 300: frozen port expired, back after SIGCONT"

# --max-networks 2 and --max-ports 3
start nic-other "$NIC" -f --switch "$EP" --insecure --network other --name o/1 --dgram "unix:$T/o1.nic,unix:$T/o1.peer"
wait_for 5 joined nic-other || fail "second network refused"
start nic-third "$NIC" -f --switch "$EP" --insecure --network third --name t/1 --dgram "unix:$T/t1.nic,unix:$T/t1.peer"
wait_for 5 log_has nic-third "too many networks" || fail "--max-networks 2: third network not refused"
start nic-fourth "$NIC" -f --switch "$EP" --insecure --network cli --name c4/x --dgram "unix:$T/c4.nic,unix:$T/c4.peer"
wait_for 5 log_has nic-fourth "port table full" || fail "--max-ports 3: fourth port not refused"
sw_stats
[ "$(sj 'len(d["ports"])')" = 3 ] || fail "expected 3 ports"
pass "--max-networks 2 and --max-ports 3: the next network and the next port are refused with a reason"
kill -0 "$SW_PID" || fail "switch died"

# --- one value per option, except the repeatable ones ------------------------------
expect_exit 64 twice-cli "$SWITCH" --listen ipc://$T/x.ipc --insecure --mtu 1500 --mtu 9000
out_has twice-cli "--mtu given twice"
printf 'insecure\nmtu = 1500\nmtu = 9000\n' >"$T/twice.conf"
expect_exit 78 twice-file "$SWITCH" -c "$T/twice.conf" --listen ipc://$T/x.ipc
out_has twice-file "'mtu' given twice (first at line 2)"
expect_exit 64 twice-nic "$NIC" --switch ipc://$T/x.ipc --switch ipc://$T/y.ipc --insecure --tap t0
out_has twice-nic "--switch given twice"
# --listen is repeatable: a port on the switch's host over ipc://, another over tcp://
start switch-two "$SWITCH" -f --insecure --control none --listen "ipc://$T/two.ipc" --listen tcp://127.0.0.1:7891
wait_for 5 log_has switch-two "listening on ipc://$T/two.ipc, tcp://127.0.0.1:7891" || fail "switch did not bind both --listen endpoints"
start nic-ipc "$NIC" -f --switch "ipc://$T/two.ipc" --insecure --network two --name two/ipc --dgram "unix:$T/t1.nic,unix:$T/t1.peer"
start nic-tcp "$NIC" -f --switch tcp://127.0.0.1:7891 --insecure --network two --name two/tcp --dgram "unix:$T/t2.nic,unix:$T/t2.peer"
wait_for 10 joined nic-ipc && wait_for 10 joined nic-tcp || fail "a port did not join through its --listen endpoint"
pass "options: --mtu twice (command line, file) and --switch twice refused; --listen twice binds both (ipc and tcp ports joined)"

# --- the management endpoint, where the switch has one --------------------------------
CTL=$VMF_BUILD/switch/vmfabric-ctl
if [ ${#CTL_OPT[@]} -gt 0 ] && [ -x "$CTL" ]; then
	"$CTL" --control "ipc://$T/switch.ctl" --json networks >"$T/ctl.out" 2>&1 || { cat "$T/ctl.out"; fail "vmfabric-ctl over ipc"; }
	out_has ctl '"cli"'
	[ "$(stat -c %a "$T/switch.ctl")" = 600 ] || fail "ipc control socket mode $(stat -c %a "$T/switch.ctl")"
	"$KEYTOOL" generate "$T/keys/admin" >/dev/null
	mkdir -p "$T/admin"
	cp "$T/keys/admin" "$T/admin/"
	cp "$T/keys/c1" "$T/auth/"
	start switch-adm "$SWITCH" -f --listen "ipc://$T/adm.ipc" --key "$T/keys/switch_secret" \
		--authorized "$T/auth" --control tcp://127.0.0.1:7719 --admin-authorized "$T/admin"
	wait_for 5 log_has switch-adm "management on tcp://127.0.0.1:7719" || fail "no tcp management endpoint"
	"$CTL" --control tcp://127.0.0.1:7719 --server-key "$T/keys/switch" --key "$T/keys/admin_secret" \
		--json stats >"$T/ctl-adm.out" 2>&1 || { cat "$T/ctl-adm.out"; fail "admin key refused on tcp control"; }
	out_has ctl-adm '"ok":true'
	"$CTL" --control tcp://127.0.0.1:7719 --server-key "$T/keys/switch" --key "$T/keys/c1_secret" \
		--timeout 1500 --json stats >"$T/ctl-port.out" 2>&1 && fail "a port key opened the management endpoint"
	pass "--control: ipc endpoint 0600 answers vmfabric-ctl; tcp endpoint admits --admin-authorized keys only"
fi
stop "$SW_PID"
[ -s "$T/stats.json" ] || fail "no stats written at exit"
pass "cli"
