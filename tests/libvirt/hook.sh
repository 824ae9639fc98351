#!/bin/bash
# hook.sh - libvirt domains on the fabric through vmfabric-libvirt-hook, with a real libvirtd
#
# A real libvirtd 9.0 (libvirtd.sh: packages, qemu.conf, the hook linked into
# /etc/libvirt/hooks/qemu.d/vmfabric) and a CURVE switch on the root namespace,
# reached over ipc://. Domains are made from deploy/libvirt/example-domain.xml
# (mkdomain.py changes names, MACs, kernel, keys): vmlab guests booted with
# <kernel>/<initrd>/<cmdline>, serial console to a file, one type='udp' NIC.
#
#   vlv-a  serves HTTP (vmlab.serve), udp ports 7831/7832 set in the XML
#   vlv-b  pings a and fetches its page, then powers off; ports from --fill-ports
#   vlv-c  a key the switch does not know
#   vlv-d  type='server' (QEMU listens on TCP 7835, its NIC process connects)
#   vlv-e  a key file that does not exist
#
# Checks what a user sees: virsh start returns once the port has joined (the
# switch logged it); b reaches a (ping, HTTP body); virsh domif-setlink a
# down cuts b off from a and up brings it back, with the same NIC process;
# d (type='server') reaches a too, after its NIC process was killed and
# restarted; b and d powering off and
# virsh destroy of a leave no supervisor or NIC process behind (by PID) and no
# state; a started again joins under the same port name; a supervisor killed
# while libvirtd is down comes back at libvirtd's restart ("reconnect begin");
# c fails to start with the switch's refusal in libvirt's error, e with the
# NIC process's own error, leaving nothing running. The hook's lines reach syslog.

TEST_NAME=libvirt_hook
. "$(dirname "$0")/../lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/libvirtd.sh"
trap 'lvd_cleanup; cleanup' EXIT
HOOK=$VMF_BUILD/nicproc/vmfabric-libvirt-hook
EXAMPLE=$VMF_ROOT/deploy/libvirt/example-domain.xml
VMLAB=$SHARED/vmlab
NET=vlv
STATE=/run/vmfabric/libvirt
[ -x "$HOOK" ] || fail "build first: $HOOK missing (needs libxml2-dev)"

log "build-guest"
"$VMLAB/build-guest" >"$T/build-guest.out" 2>"$T/build-guest.log" || fail "vmlab/build-guest"
eval "$(grep -E '^VMLAB_(KERNEL|INITRD)=' "$T/build-guest.out")"

# ---- switch and keys -------------------------------------------------------------------
keys a b d
"$KEYTOOL" generate "$T/keys/c" >/dev/null || fail "keygen c"	# never admitted
start switch "$SWITCH" -f --listen "ipc://$T/switch.sock" --control "ipc://$T/switch.ctl" \
	--key "$T/keys/switch_secret" --authorized "$T/auth"
wait_for 10 log_has switch "listening on" || fail "switch did not start"

log "libvirtd"
lvd_setup "$HOOK"
LVD_DOMAINS=(vlv-a vlv-b vlv-c vlv-d vlv-e)

BOOT="console=ttyS0 quiet panic=-1 cryptomgr.notests mitigations=off"
# mkdom NAME G KEY=VALUE...: domain NAME (guest letter G) defined from the example
mkdom() {
	local name=$1 g=$2
	shift 2
	"$HERE/mkdomain.py" "$EXAMPLE" name="$name" kernel="$VMLAB_KERNEL" initrd="$VMLAB_INITRD" \
		serial="$T/$g-serial.log" switch="ipc://$T/switch.sock" server_key="$T/keys/switch" \
		key="$T/keys/${g}_secret" network="$NET" "$@" >"$T/$g.xml" || fail "mkdomain $name"
}
define() { lvd_virsh define "$1" >"$T/define.log" 2>&1 || fail "virsh define $1: $(cat "$T/define.log")"; }
uuid() { lvd_virsh domuuid "$1"; }
# sup UUID: the supervisor PID the hook recorded
sup() { cat "$STATE/$1/pid" 2>/dev/null; }
# gone PID...: none of them runs any more (a zombie has ended; its reaper may be slow)
gone() {
	local p
	for p in "$@"; do
		[ -e "/proc/$p" ] && [ "$(cut -d' ' -f3 "/proc/$p/stat" 2>/dev/null)" != Z ] && return 1
	done
	return 0
}
joins() { grep -c "port $1 joined network $NET" "$T/switch.log"; }

# ---- a: defined with fixed ports; virsh start returns once its port joined ------------
mkdom vlv-a a mac=52:54:00:83:00:0a src_port=7831 local_port=7832 \
	cmdline="$BOOT vmlab.name=vlv-a vmlab.ip=10.83.0.1/24 vmlab.serve=1"
define "$T/a.xml"
UA=$(uuid vlv-a)
lvd_virsh start vlv-a >"$T/start-a.log" 2>&1 || fail "virsh start vlv-a: $(cat "$T/start-a.log")"
[ "$(joins vlv-a/nic0)" = 1 ] || fail "virsh start vlv-a returned before port vlv-a/nic0 joined"
SUP_A=$(sup "$UA")
[ -n "$SUP_A" ] || fail "no supervisor recorded in $STATE/$UA"
NICS_A=$(pgrep -P "$SUP_A")
[ "$(echo "$NICS_A" | wc -w)" = 1 ] || fail "supervisor $SUP_A runs '$NICS_A', not one NIC process"
tr '\0' ' ' <"/proc/$NICS_A/cmdline" | grep -q -- "--name vlv-a/nic0 --dgram udp:127.0.0.1:7831,udp:127.0.0.1:7832" ||
	fail "NIC process: $(tr '\0' ' ' <"/proc/$NICS_A/cmdline")"
pass "vlv-a started: port vlv-a/nic0 joined before virsh start returned (supervisor $SUP_A, NIC $NICS_A)"

# ---- b: ports chosen by --fill-ports; pings a and fetches its page ----------------------
mkdom vlv-b b mac=52:54:00:83:00:0b cmdline="$BOOT vmlab.name=vlv-b vmlab.ip=10.83.0.2/24 \
vmlab.env=PEER=10.83.0.1 vmlab.env=LINK=1 vmlab.run=$(base64 -w0 "$HERE/client.sh")"
"$HOOK" --fill-ports <"$T/b.xml" >"$T/b-filled.xml" || fail "--fill-ports"
grep -Eq "<(source|local) address=\"127.0.0.1\" port=\"0\"" "$T/b-filled.xml" && fail "--fill-ports left a port 0"
define "$T/b-filled.xml"
UB=$(uuid vlv-b)
lvd_virsh start vlv-b >"$T/start-b.log" 2>&1 || fail "virsh start vlv-b: $(cat "$T/start-b.log")"
SUP_B=$(sup "$UB")
NICS_B=$(pgrep -P "$SUP_B")
[ -n "$SUP_B" ] && [ -n "$NICS_B" ] || fail "vlv-b: no supervisor or NIC process"
# b's script, after its page: waits for an outage of a, then for a to come back
wait_for 90 grep -aq "link: waiting for outage" "$T/b-serial.log" ||
	fail "vlv-b did not reach its link check: $(tail -5 "$T/b-serial.log")"
grep -aq "VMLAB-OUT: http body: VMLAB-HTTP-OK" "$T/b-serial.log" || fail "vlv-b got no page from vlv-a"
grep -aq " 0% packet loss" "$T/b-serial.log" || fail "vlv-b lost pings"
pass "vlv-b pinged vlv-a and fetched its page over the fabric"

# carrier: libvirt's set_link on a vmfabric interface is QEMU's own; the NIC process stays
MAC_A=52:54:00:83:00:0a
lvd_virsh domif-setlink vlv-a "$MAC_A" down >/dev/null || fail "virsh domif-setlink vlv-a down"
lvd_virsh domif-getlink vlv-a "$MAC_A" | grep -q "down" || fail "domif-getlink does not say down"
wait_for 40 grep -aq "link: outage seen" "$T/b-serial.log" || fail "vlv-b still reaches vlv-a with its link down"
lvd_virsh domif-setlink vlv-a "$MAC_A" up >/dev/null || fail "virsh domif-setlink vlv-a up"
wait_for 60 grep -aq "VMLAB: done" "$T/b-serial.log" || fail "vlv-b did not finish: $(tail -5 "$T/b-serial.log")"
grep -a "VMLAB-OUT" "$T/b-serial.log" | sed 's/^/    /'
grep -aq "VMLAB: done rc=0" "$T/b-serial.log" || fail "vlv-b's script failed"
gone $NICS_A && fail "vlv-a's NIC process $NICS_A ended with the link change"
pass "virsh domif-setlink vlv-a down cut vlv-b off, up brought it back; same NIC process $NICS_A"

# b powered off: libvirt's release hook stopped its processes
wait_for 30 sh -c "[ \"\$(virsh -q -c qemu:///system domstate vlv-b)\" = 'shut off' ]" || fail "vlv-b still runs"
# (libvirt reports "shut off" before its release hook has run)
wait_for 10 gone "$SUP_B" $NICS_B || fail "vlv-b is off but supervisor $SUP_B / NIC $NICS_B still run"
[ -e "$STATE/$UB" ] && fail "state of vlv-b left in $STATE/$UB"
pass "vlv-b powered off: supervisor and NIC process gone, state removed"

# ---- d: type='server' (QEMU listens on TCP, the NIC connects) ---------------------------------
mkdom vlv-d d mac=52:54:00:83:00:0d type=server src_port=7835 \
	cmdline="$BOOT vmlab.name=vlv-d vmlab.ip=10.83.0.4/24 vmlab.env=PEER=10.83.0.1 vmlab.run=$(base64 -w0 "$HERE/client.sh")"
define "$T/d.xml"
lvd_virsh start vlv-d >"$T/start-d.log" 2>&1 || fail "virsh start vlv-d: $(cat "$T/start-d.log")"
SUP_D=$(sup "$(uuid vlv-d)")
NICS_D=$(pgrep -P "$SUP_D")
tr '\0' ' ' <"/proc/$NICS_D/cmdline" | grep -q -- "--name vlv-d/nic0 --stream tcp:127.0.0.1:7835" ||
	fail "vlv-d's NIC process: $(tr '\0' ' ' <"/proc/$NICS_D/cmdline")"
# QEMU accepted this NIC process; kill it: the supervisor starts another, which QEMU must accept
kill -KILL "$NICS_D"
wait_for 10 sh -c "pgrep -P $SUP_D | grep -qvx $NICS_D" || fail "vlv-d's NIC process was not restarted"
NICS_D=$(pgrep -P "$SUP_D")
wait_for 90 grep -aq "VMLAB: done" "$T/d-serial.log" || fail "vlv-d did not finish: $(tail -5 "$T/d-serial.log")"
grep -aq "VMLAB: done rc=0" "$T/d-serial.log" && grep -aq "VMLAB-OUT: http body: VMLAB-HTTP-OK" "$T/d-serial.log" ||
	fail "vlv-d (type server) did not reach vlv-a: $(grep -a VMLAB-OUT "$T/d-serial.log")"
wait_for 30 gone "$SUP_D" $NICS_D || fail "vlv-d is off but supervisor $SUP_D / NIC $NICS_D still run"
pass "vlv-d, type='server': its NIC process killed and restarted (now $NICS_D), QEMU took it back; pinged vlv-a, fetched its page; processes ended with it"

# ---- destroy a: nothing left ---------------------------------------------------------------
lvd_virsh destroy vlv-a >/dev/null || fail "virsh destroy vlv-a"
gone "$SUP_A" $NICS_A || fail "virsh destroy vlv-a returned with supervisor $SUP_A / NIC $NICS_A running"
[ -e "$STATE/$UA" ] && fail "state of vlv-a left in $STATE/$UA"
pass "virsh destroy vlv-a: supervisor and NIC process gone when it returned"

# ---- a again: same port name ----------------------------------------------------------------
lvd_virsh start vlv-a >"$T/start-a2.log" 2>&1 || fail "virsh start vlv-a again: $(cat "$T/start-a2.log")"
[ "$(joins vlv-a/nic0)" = 2 ] || fail "vlv-a restarted: port vlv-a/nic0 did not join again"
SUP_A=$(sup "$UA")
NICS_A=$(pgrep -P "$SUP_A")
pass "vlv-a restarted: joined again as vlv-a/nic0"

# ---- libvirtd restart: the hook's reconnect brings a lost supervisor back ---------------------
kill -TERM "$LVD_PID"
wait_for 10 gone "$LVD_PID" || fail "libvirtd did not stop"
kill -KILL "$SUP_A"
wait_for 5 gone "$SUP_A" $NICS_A || fail "NIC $NICS_A outlived its supervisor (PR_SET_PDEATHSIG)"
rm -f "$T/libvirtd.pid"
libvirtd -d -p "$T/libvirtd.pid" >>"$T/libvirtd.log" 2>&1 || fail "libvirtd restart"
wait_for 10 test -s "$T/libvirtd.pid" || fail "restarted libvirtd wrote no pidfile"
LVD_PID=$(cat "$T/libvirtd.pid")
wait_for 20 lvd_virsh uri || fail "libvirtd does not answer after restart"
wait_for 15 sh -c "[ \$(grep -c 'port vlv-a/nic0 joined network $NET' '$T/switch.log') = 3 ]" ||
	fail "after libvirtd's restart vlv-a's port did not come back"
[ "$(lvd_virsh domstate vlv-a)" = running ] || fail "vlv-a not running after libvirtd's restart"
SUP_A=$(sup "$UA")
NICS_A=$(pgrep -P "$SUP_A")
pass "libvirtd restarted: reconnect started a new supervisor ($SUP_A), vlv-a/nic0 joined again"
lvd_virsh destroy vlv-a >/dev/null || fail "virsh destroy vlv-a"
gone "$SUP_A" $NICS_A || fail "second destroy left supervisor $SUP_A / NIC $NICS_A"

# ---- c: key not admitted: the start fails with the switch's reason -----------------------------
mkdom vlv-c c mac=52:54:00:83:00:0c src_port=7833 local_port=7834 cmdline="$BOOT vmlab.name=vlv-c"
define "$T/c.xml"
UC=$(uuid vlv-c)
lvd_virsh start vlv-c >"$T/start-c.log" 2>&1 && fail "vlv-c started with a key the switch refuses"
sed 's/^/    /' "$T/start-c.log"
grep -q "vmfabric: domain vlv-c: port vlv-c/nic0 (mac 52:54:00:83:00:0c, network $NET): switch .*refused our key" \
	"$T/start-c.log" || fail "libvirt's error does not carry the refusal"
[ "$(lvd_virsh domstate vlv-c)" = "shut off" ] || fail "vlv-c is not shut off"
[ -e "$STATE/$UC" ] && fail "state of vlv-c left in $STATE/$UC"
pgrep -f -- "--supervise $UC" >/dev/null && fail "a supervisor of vlv-c still runs"
pgrep -f -- "--name vlv-c/nic0" >/dev/null && fail "a NIC process of vlv-c still runs"
pass "vlv-c refused: virsh start failed with the switch's reason, nothing left running"

# ---- e: its key file does not exist: the NIC process dies at start, the start fails ----------------
mkdom vlv-e e mac=52:54:00:83:00:0e src_port=7836 local_port=7837 cmdline="$BOOT vmlab.name=vlv-e"
define "$T/e.xml"
UE=$(uuid vlv-e)
lvd_virsh start vlv-e >"$T/start-e.log" 2>&1 && fail "vlv-e started without its key file"
grep -q "vmfabric: domain vlv-e: port vlv-e/nic0 (mac 52:54:00:83:00:0e, network $NET): vmfabric-nic exited with status 78: .*$T/keys/e_secret" \
	"$T/start-e.log" || fail "libvirt's error does not say why vlv-e's NIC process ended: $(cat "$T/start-e.log")"
[ -e "$STATE/$UE" ] && fail "state of vlv-e left in $STATE/$UE"
pgrep -f -- "--supervise $UE" >/dev/null && fail "a supervisor of vlv-e still runs"
pass "vlv-e without its key file: virsh start failed with the NIC process's reason: $(grep -o 'status 78: .*' "$T/start-e.log" | head -1)"

if [ -n "$LVD_SYSLOG_PID" ]; then
	grep -q "vmfabric-libvirt.*vlv-a.*joined network $NET" "$T/syslog.log" ||
		fail "no 'joined network' from vlv-a's NIC in syslog"
	grep -q "vmfabric-libvirt-hook.*vlv-c.*refused" "$T/syslog.log" || fail "the hook's refusal is not in syslog"
	pass "the hook and its NIC processes log to syslog ($(wc -l <"$T/syslog.log") lines)"
fi
log "all checks passed"
