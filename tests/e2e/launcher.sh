#!/bin/bash
# launcher.sh - end-to-end test of vmfabric-qemu: real QEMU guests (vmlab, TCG) launched through it
#
# Topology: the switch in namespace vfq-sw; namespaces vfq-a and vfq-b, each
# joined to it by a veth pair (10.79.N.1 switch side, 10.79.N.2); in each, one
# guest started as
#
#   a: vmfabric-qemu ... -- run-guest --serve --nic vmfabric,mac=..                 (virtio, default)
#   b: vmfabric-qemu ... -- run-guest --script guest-client.sh --nic vmfabric,mac=..,model=e1000
#
# Checks:
#   - bad options: each gives its message and exit code (64 usage, 78 config,
#     127 no such command) and runs nothing; -n shows the rewritten command
#   - a command that exits 3 (no QEMU): the launcher exits 3, its NIC process ends
#   - real QEMU with a bad argument after a rewritten -nic: exit 1 (QEMU's status)
#   - b pings a and fetches its page; b's NIC is an e1000 (serial log driver line)
#   - while b pings a in a loop, a's NIC process is killed with SIGKILL: the
#     launcher restarts it, b sees the outage end and fetches a's page again;
#     a's QEMU is the same process and booted once; the switch saw vfq-a/nic0
#     join twice
#   - b's script ends: b's launcher exits 0 and b's NIC process is gone
#   - SIGTERM to a's launcher: forwarded to run-guest, which stops QEMU (rc 130);
#     the launcher exits 130 and a's NIC process is gone

TEST_NAME=e2e_launcher
. "$(dirname "$0")/../lib.sh"
VMLAB=$SHARED/vmlab
QL=$VMF_BUILD/nicproc/vmfabric-qemu
T_START=$(date +%s%N)
PORT=7770
NET=lab
MAC_A=52:54:00:79:00:0a
MAC_B=52:54:00:79:00:0b

[ -x "$QL" ] || fail "build first: $QL missing"
log "build-guest"
"$VMLAB/build-guest" >"$T/build-guest.log" 2>&1 || fail "vmlab/build-guest"
command -v qemu-system-x86_64 >/dev/null || fail "qemu-system-x86_64 missing after build-guest"

keys a b
# fab NS KEY: the fabric options for a launcher in namespace vfq-NS
fab() { echo "--switch tcp://10.79.$1.1:$PORT --server-key $T/keys/switch --key $T/keys/$2_secret"; }

# ---- bad options: clear errors before anything starts ------------------------
MARK=$T/command-ran
FAKE=(sh -c 'touch "$0"' "$MARK")
# bad CODE REGEX ARGS...: vmfabric-qemu ARGS exits CODE, says REGEX on stderr, runs nothing
bad() {
	local code=$1 re=$2 rc
	shift 2
	"$QL" "$@" >"$T/bad.out" 2>"$T/bad.err"
	rc=$?
	[ "$rc" = "$code" ] || { cat "$T/bad.err"; fail "vmfabric-qemu $*: rc $rc, expected $code"; }
	grep -Eq -- "$re" "$T/bad.err" || { cat "$T/bad.err"; fail "vmfabric-qemu $*: no '$re'"; }
	[ ! -e "$MARK" ] || fail "vmfabric-qemu $*: the command ran"
	echo "    rc $rc: $(head -1 "$T/bad.err")"
}
K=$(fab 1 a)
NICSPEC=vmfabric,network=$NET,mac=$MAC_A
log "bad options:"
# shellcheck disable=SC2086
{
bad 64 'no QEMU command' $K
bad 64 '--switch EP is required' -- "${FAKE[@]}" -nic "$NICSPEC"
bad 64 "unknown option 'speed'" $K -- "${FAKE[@]}" -nic "$NICSPEC,speed=10"
bad 64 'mac= is required' $K -- "${FAKE[@]}" -nic "vmfabric,network=$NET"
bad 64 'not a unicast MAC' $K -- "${FAKE[@]}" -nic "vmfabric,network=$NET,mac=01:00:5e:00:00:01"
bad 64 'no network' $K -- "${FAKE[@]}" -nic "vmfabric,mac=$MAC_A"
bad 64 'no -device ...,netdev=n1' $K -- "${FAKE[@]}" -netdev "vmfabric,id=n1,network=$NET"
bad 64 'two vmfabric NICs with mac' $K -- "${FAKE[@]}" -nic "$NICSPEC" --nic "$NICSPEC"
bad 64 'has no -nic vmfabric' $K -N $NET -- "${FAKE[@]}" -nic user
bad 64 'unrecognized option' $K --speed 10 -- "${FAKE[@]}" -nic "$NICSPEC"
bad 64 'drop -daemonize' $K -- "${FAKE[@]}" -daemonize -nic "$NICSPEC"
bad 78 'server-key: .*no such file' --switch tcp://10.79.1.1:$PORT --server-key "$T/nope" \
	--key "$T/keys/a_secret" -- "${FAKE[@]}" -nic "$NICSPEC"
cp "$T/keys/a_secret" "$T/open_secret"; chmod 644 "$T/open_secret"
bad 78 'chmod 600' --switch tcp://10.79.1.1:$PORT --server-key "$T/keys/switch" \
	--key "$T/open_secret" -- "${FAKE[@]}" -nic "$NICSPEC"
bad 78 'NIC process binary /nonexistent' $K --nic-binary /nonexistent -- "${FAKE[@]}" -nic "$NICSPEC"
bad 127 'command not found' $K -- vfq-no-such-qemu -nic "$NICSPEC"
}
pass "bad options: 15 cases, clear message and exit code, nothing started"

# shellcheck disable=SC2086
"$QL" $K -n -- qemu-system-x86_64 -name vm1 -m 128 -nic "$NICSPEC,model=e1000" \
	-netdev "vmfabric,id=n1,network=$NET,name=vm1/second" -device "virtio-net-pci,netdev=n1,mac=$MAC_B" \
	-serial stdio >"$T/check.out" 2>&1 || { cat "$T/check.out"; fail "vmfabric-qemu -n"; }
cat "$T/check.out"
grep -Eq "^qemu: qemu-system-x86_64 -name vm1 -m 128 -qmp unix:[^ ]*/qmp.sock,server=on,wait=off -netdev dgram,id=vmfabric0,local.type=fd,local.str=([0-9]+) -device e1000,netdev=vmfabric0,mac=$MAC_A -netdev dgram,id=n1,local.type=fd,local.str=[0-9]+ -device virtio-net-pci,netdev=n1,mac=$MAC_B -serial stdio$" "$T/check.out" ||
	fail "-n: unexpected QEMU command"
grep -q -- "^nic0: .*vmfabric-nic -f --switch tcp://10.79.1.1:$PORT .* --network $NET --name vm1/nic0 --fd 3$" "$T/check.out" ||
	fail "-n: unexpected NIC command"
grep -q -- "--name vm1/second --fd 3$" "$T/check.out" || fail "-n: -netdev vmfabric name= not used"
pass "-n: -nic vmfabric -> -netdev dgram,local.type=fd + -device MODEL; -netdev vmfabric -> -netdev dgram; rest untouched"

# the same options from -c FILE (the daemons' parser); the command line still wins
printf 'switch = tcp://10.79.1.1:%s\nserver-key = %s\nkey = %s\nnetwork = %s\nmtu = 9000\n' \
	"$PORT" "$T/keys/switch" "$T/keys/a_secret" "$NET" >"$T/launcher.conf"
"$QL" -c "$T/launcher.conf" --mtu 1400 -n -- qemu-system-x86_64 -name vm1 -m 128 -nic "vmfabric,mac=$MAC_A" \
	>"$T/conf.out" 2>&1 || { cat "$T/conf.out"; fail "vmfabric-qemu -c FILE -n"; }
grep -q -- "^nic0: .*vmfabric-nic -f --switch tcp://10.79.1.1:$PORT .*--mtu 1400 --network $NET --name vm1/nic0 --fd 3$" "$T/conf.out" ||
	{ cat "$T/conf.out"; fail "-c FILE: the NIC command lacks the file's options"; }
printf 'swtich = tcp://x:1\n' >"$T/bad.conf"
bad 78 "bad.conf:1: unknown option 'swtich'" -c "$T/bad.conf" -- "${FAKE[@]}" -nic "$NICSPEC"
pass "-c FILE: options from a config file, --mtu on the command line over the file's; a typo exits 78 naming the line"

# ---- namespaces, switch -------------------------------------------------------
netns_add vfq-sw
n=1
for g in a b; do
	netns_add "vfq-$g"
	veth_link vfq-sw "vfqs$g" "10.79.$n.1/24" "vfq-$g" "vfq${g}0" "10.79.$n.2/24"
	n=$((n + 1))
done
# a switch with a management endpoint gets its own, never the shared default
CTL_OPT=()
"$SWITCH" --help 2>/dev/null | grep -q -- "--control EP" && CTL_OPT=(--control "ipc://$T/switch.ctl")
start switch ip netns exec vfq-sw "$SWITCH" -f --listen "tcp://0.0.0.0:$PORT" \
	--key "$T/keys/switch_secret" --authorized "$T/auth" "${CTL_OPT[@]}"
wait_for 10 log_has switch "listening on" || fail "switch did not start"

# ---- the command's exit status, with and without QEMU -------------------------
# shellcheck disable=SC2086
start launcher-sh ip netns exec vfq-b "$QL" $(fab 2 b) -N $NET -- \
	sh -c 'sleep 1; exit 3' sh -nic "vmfabric,mac=$MAC_B,name=vfq-sh/nic0"
wait "$LAST_PID"; rc=$?
[ "$rc" = 3 ] || fail "launcher around 'exit 3': rc $rc"
log_has launcher-sh 'exited with status 3: stopping 1 NIC process' || fail "launcher-sh: no stop line"
log_has launcher-sh 'nic0 vfq-sh/nic0: vmfabric-nic exited with status 0' || fail "launcher-sh: NIC did not end"
pass "command exits 3 -> NIC process stopped, vmfabric-qemu exits 3"

# shellcheck disable=SC2086
start launcher-bad ip netns exec vfq-b "$QL" $(fab 2 b) -N $NET -- qemu-system-x86_64 \
	-machine pc -nodefaults -display none -nic "vmfabric,mac=$MAC_B,name=vfq-bad/nic0" -no-such-option
wait "$LAST_PID"; rc=$?
[ "$rc" = 1 ] || fail "launcher around a failing QEMU: rc $rc"
log_has launcher-bad 'qemu-system-x86_64: -no-such-option: invalid option' || fail "QEMU's own error missing"
log_has launcher-bad 'vmfabric-nic (exited|was killed)' || fail "launcher-bad: NIC did not end"
pass "QEMU exits 1 (bad argument) -> NIC process stopped, vmfabric-qemu exits 1"

# ---- no NIC process for seconds: the launcher drains, the guest never blocks -----
# A stand-in QEMU sends minimum-size frames for 2 s with blocking sends (3 s
# timeout) while every NIC process exits at once (restarts at 0.5, 1, 2 s):
# without draining, the 11th datagram would block (net.unix.max_dgram_qlen).
printf '#!/bin/sh\necho "fake nic: exiting"; exit 1\n' >"$T/fakenic"; chmod +x "$T/fakenic"
cat >"$T/fakeqemu.py" <<'EOF'
import re, socket, sys, time
fd = int(re.search(r"local\.str=(\d+)", " ".join(sys.argv)).group(1))
s = socket.socket(fileno=fd)
s.settimeout(3)
frame = b"\xff" * 6 + b"\x02\x79\x00\x00\x00\x09" + b"\x08\x06" + b"\x00" * 46
n, t = 0, time.time()
while time.time() - t < 2.0:
    s.send(frame)
    n += 1
print("fakeqemu: sent %d frames" % n)
EOF
# shellcheck disable=SC2086
start launcher-drain "$QL" $(fab 1 a) -N $NET --nic-binary "$T/fakenic" -- \
	python3 "$T/fakeqemu.py" -nic "vmfabric,mac=$MAC_A,name=vfq-drain/nic0"
wait "$LAST_PID"; rc=$?
[ "$rc" = 0 ] || fail "stand-in QEMU blocked or failed (rc $rc)"
log_has launcher-drain 'restart 3 in 2.0 s' || fail "launcher-drain: no backoff 0.5 -> 1 -> 2 s"
log_has launcher-drain ' [1-9][0-9]* frames from the guest discarded in all' || fail "launcher-drain: nothing drained"
pass "no NIC process for 2 s: $(grep -o 'sent [0-9]* frames' "$T/launcher-drain.log") without blocking, $(sed -n 's/.*; \([0-9]*\) frames from the guest discarded in all.*/\1/p' "$T/launcher-drain.log") discarded by the launcher; backoff 0.5, 1, 2 s"

# ---- guests a and b, each through vmfabric-qemu --------------------------------
serial_has() { grep -aq -- "$2" "$T/$1-serial.log" 2>/dev/null; }
# shellcheck disable=SC2086
start launcher-a ip netns exec vfq-a "$QL" $(fab 1 a) --network "$NET" --pidfile "$T/launcher-a.pid" -- "$VMLAB/run-guest" \
	--name vfq-a --log "$T/a-serial.log" --timeout 200 --serve --ip 192.168.79.10/24 \
	--nic "vmfabric,mac=$MAC_A"
LA=$LAST_PID
# shellcheck disable=SC2086
start launcher-b ip netns exec vfq-b "$QL" $(fab 2 b) -- "$VMLAB/run-guest" \
	--name vfq-b --log "$T/b-serial.log" --timeout 150 --ip 192.168.79.11/24 \
	--env PEER=192.168.79.10 --env THROUGHPUT=0 --env OUTAGE_WAIT=40 \
	--script "$(dirname "$0")/guest-client.sh" --nic "vmfabric,network=$NET,mac=$MAC_B,model=e1000"
LB=$LAST_PID

wait_for 15 log_has launcher-a 'vfq-a/nic0: joined network' || fail "a's NIC process did not join"
[ "$(cat "$T/launcher-a.pid" 2>/dev/null)" = "$LA" ] || fail "--pidfile: '$(cat "$T/launcher-a.pid" 2>/dev/null)', expected $LA"
wait_for 15 log_has launcher-b 'vfq-b/nic0: joined network' || fail "b's NIC process did not join"
NIC_B=$(sed -n 's/.*nic0 vfq-b\/nic0: vmfabric-nic pid \([0-9]*\) .*/\1/p' "$T/launcher-b.log" | head -1)
[ -n "$NIC_B" ] || fail "no NIC pid in b's launcher log"

wait_for 60 serial_has b 'VMLAB-OUT: restart: waiting for outage' ||
	{ grep -a VMLAB-OUT "$T/b-serial.log"; fail "guest b did not get through ping + http"; }
grep -aq 'VMLAB: net iface=eth0 driver=e1000 ' "$T/b-serial.log" || fail "guest b's NIC is not an e1000"
pass "guest b (model=e1000) pings guest a (virtio) and fetches its page"

# ---- a's NIC process killed under the running guest ------------------------------
RG_A=$(sed -n 's/.*QEMU command .*run-guest: pid \([0-9]*\),.*/\1/p' "$T/launcher-a.log")
QEMU_A=$(ps -o pid=,comm= --ppid "$RG_A" | awk '$2 ~ /^qemu/ { print $1 }')
NIC_A=$(sed -n 's/.*nic0 vfq-a\/nic0: vmfabric-nic pid \([0-9]*\) .*/\1/p' "$T/launcher-a.log" | head -1)
[ -n "$QEMU_A" ] && [ -n "$NIC_A" ] || fail "cannot find a's QEMU ($QEMU_A) or NIC ($NIC_A) pid"
log "kill -9 a's NIC process $NIC_A (a's QEMU $QEMU_A keeps running)"
kill -9 "$NIC_A"
wait_for 5 log_has launcher-a 'vfq-a/nic0: vmfabric-nic was killed by signal 9 .*restart 1 in 0.5 s' ||
	fail "launcher a did not notice the dead NIC process"
wait_for 10 log_has launcher-a 'vfq-a/nic0: vmfabric-nic pid [0-9]+ .*restarted' || fail "no restart"
NIC_A2=$(sed -n 's/.*nic0 vfq-a\/nic0: vmfabric-nic pid \([0-9]*\) .*restarted.*/\1/p' "$T/launcher-a.log")

# b's script ends -> run-guest exits 0 -> the launcher stops b's NIC and exits 0
finish "$LB" 60 || fail "guest b did not finish within 60 s of the kill"
grep -v '^[0-9.]* vmfabric-' "$T/launcher-b.log"
[ "$RC" = 0 ] || fail "guest b: vmfabric-qemu rc=$RC"
guest_client_ok launcher-b 192.168.79.10 2
log_has launcher-b '^restart: outage seen' || fail "guest b: no outage seen"
log_has launcher-b '^restart: http body: VMLAB-HTTP-OK$' || fail "guest b: no HTTP after a's NIC restart"
kill -0 "$QEMU_A" 2>/dev/null || fail "a's QEMU died"
[ "$(ps -o pid=,comm= --ppid "$RG_A" | awk '$2 ~ /^qemu/ { print $1 }')" = "$QEMU_A" ] || fail "a's QEMU changed"
[ "$(grep -ac 'VMLAB: boot ' "$T/a-serial.log")" = 1 ] || fail "guest a rebooted"
[ "$(grep -c 'port vfq-a/nic0 joined network' "$T/switch.log")" = 2 ] || fail "switch: vfq-a/nic0 did not join twice"
kill -0 "$NIC_A2" 2>/dev/null || fail "restarted NIC $NIC_A2 is not running"
RECOVERY=$(grep -o 'peer back after .*' "$T/launcher-b.log")
pass "a's NIC process killed -> restarted as pid $NIC_A2; b: $RECOVERY, HTTP ok; same QEMU, one boot"
log_has launcher-b 'exited with status 0: stopping 1 NIC process' || fail "b's launcher: no stop line"
log_has launcher-b 'nic0 vfq-b/nic0: vmfabric-nic exited' || fail "b's launcher: NIC end not logged"
kill -0 "$NIC_B" 2>/dev/null && fail "b's NIC process $NIC_B outlived its launcher"
pass "guest b's QEMU ended -> its NIC process ended, vmfabric-qemu exited 0"

# ---- SIGTERM to a's launcher: forwarded; everything ends --------------------------
kill -TERM "$LA"
for _ in $(seq 100); do kill -0 "$LA" 2>/dev/null || break; sleep 0.1; done
kill -0 "$LA" 2>/dev/null && fail "launcher a did not exit after SIGTERM"
wait "$LA"; rc=$?
[ "$rc" = 130 ] || fail "launcher a: rc $rc (run-guest exits 130 when stopped)"
log_has launcher-a "forwarding Terminated to $RG_A" || fail "launcher a did not forward SIGTERM"
kill -0 "$QEMU_A" 2>/dev/null && fail "a's QEMU still runs"
kill -0 "$NIC_A2" 2>/dev/null && fail "a's NIC process still runs"
log_has launcher-a 'nic0 vfq-a/nic0: restarted 1 time' || fail "launcher a: restart count"
pass "SIGTERM -> run-guest stopped QEMU, NIC process ended, vmfabric-qemu exited with the command's 130"

log "wall time $(( ($(date +%s%N) - T_START) / 1000000 )) ms; NIC restart: b saw a $RECOVERY"
pass "e2e_launcher"
