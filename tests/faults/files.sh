#!/bin/bash
# files.sh - what another local user plants where a daemon writes or locks: a link at the stats
# temp file, at the pidfile and at the stats file itself (the daemon runs as root, the directory
# belongs to the user: nothing the links point to changes); ipc:// sockets born with their mode,
# and a link swapped in at the socket path right after bind(2) (strace widens the window);
# a FIFO, a link or another user's file at the --busy-poll lock (the switch neither hangs nor uses
# it, and SIGTERM still stops it); and an unprivileged user cannot take the busy-poll lock.
# Namespace vn3-files, TCP port 7820. Touches the machine-wide lock paths: run it alone
# (RUN_SERIAL); it puts back what was there.
. "$(dirname "$0")/../lib.sh"
PORT=7820
NS=vn3-files
U=nobody
id "$U" >/dev/null 2>&1 || fail "no user $U to plant files as"
RAW=$VMF_BUILD/tests/integration/vmf-rawclient
as_user() { setpriv --reuid="$U" --regid="$(id -g "$U")" --clear-groups "$@"; }

netns_add $NS
chmod 711 "$T"
printf 'precious\n' >"$T/victim"; chmod 644 "$T/victim"
victim_intact() { [ "$(cat "$T/victim")" = precious ] && [ "$(stat -c %a "$T/victim")" = 644 ]; }

# --- links where the switch writes its pidfile and stats (item 12) ---
D=$T/userdir; mkdir "$D"; chown "$U" "$D"
as_user ln -s "$T/victim" "$D/switch.pid" || fail "plant pidfile link"
as_user ln -s "$T/victim" "$D/stats.json.tmp" || fail "plant stats temp link"
start switch ip netns exec $NS "$SWITCH" -f --insecure --listen "tcp://127.0.0.1:$PORT" \
	--control "ipc://$T/switch.ctl" --pidfile "$D/switch.pid" --stats-file "$D/stats.json"
SW_PID=$LAST_PID
wait_for 5 log_has switch "listening on" || fail "switch did not start"
victim_intact || fail "the pidfile link was followed: victim now '$(cat "$T/victim")'"
[ -f "$D/switch.pid" ] && [ ! -L "$D/switch.pid" ] || fail "pidfile is not a regular file"
[ "$(cat "$D/switch.pid")" = "$SW_PID" ] || fail "pidfile holds '$(cat "$D/switch.pid")', not $SW_PID"
pass "a link at the pidfile path is replaced by the pidfile; the file it pointed to is unchanged"

kill -USR1 "$SW_PID"
wait_for 5 test -s "$D/stats.json" || fail "no stats file after SIGUSR1"
victim_intact || fail "the stats temp link was followed: victim now '$(head -c 60 "$T/victim")'"
json 'd["ports"]' <"$D/stats.json" >/dev/null || fail "stats file is not the switch's JSON"
pass "a link at the stats temp file (stats.json.tmp) is not followed; stats.json is written"

rm -f "$D/stats.json"; as_user ln -s "$T/victim" "$D/stats.json"
kill -USR1 "$SW_PID"
wait_for 5 test -f "$D/stats.json" -a ! -L "$D/stats.json" || fail "the stats link was not replaced"
victim_intact || fail "the stats file link was followed"
left=$(find "$D" -name '*.tmp' ! -name stats.json.tmp | wc -l)
[ "$left" = 0 ] || fail "$left temp files left in $D"
pass "a link at the stats file itself is replaced, not followed; no temp file left behind"
stop "$SW_PID"

# --- ipc:// sockets get their mode at bind time, whatever the umask (item 12) ---
(umask 000; exec ip netns exec $NS "$SWITCH" -f --insecure --listen "ipc://$T/sw.sock" \
	--control "ipc://$T/ctl.sock") >"$T/ipc.log" 2>&1 &
IPC_PID=$!; PIDS+=("$IPC_PID")
wait_for 5 grep -q "listening on" "$T/ipc.log" || fail "switch on ipc:// did not start"
[ "$(stat -c %A "$T/sw.sock")" = srw-rw---- ] || fail "listen socket is $(stat -c %A "$T/sw.sock"), not srw-rw----"
[ "$(stat -c %A "$T/ctl.sock")" = srw------- ] || fail "control socket is $(stat -c %A "$T/ctl.sock"), not srw-------"
stop "$IPC_PID"
pass "under umask 000 the listen socket is born 0660 and the control socket 0600"

# --- the race a chmod() by name after the bind loses (item 12): strace holds the switch 1.5 s
# right after bind(2); in that window user nobody swaps the new socket for a link to the victim ---
command -v strace >/dev/null || EXTRA_PKGS=strace "$VMF_ROOT/deploy/install-deps.sh"
start race ip netns exec $NS strace -f -o /dev/null -e trace=bind -e inject=bind:delay_exit=1500000 \
	"$SWITCH" -f --insecure --listen "ipc://$D/sw.sock" --control none
RACE_PID=$LAST_PID
wait_for 5 test -S "$D/sw.sock" || fail "the switch under strace did not bind $D/sw.sock"
RACE_SW=$(pgrep -P "$RACE_PID"); PIDS+=($RACE_SW)	# strace's child: the cleanup stops it too
as_user mv "$D/sw.sock" "$D/sw.sock.real" && as_user ln -s "$T/victim" "$D/sw.sock" || fail "swap the socket"
wait_for 5 log_has race "listening on" || fail "the switch under strace did not start"
victim_intact || fail "a link swapped in at the socket path was followed: victim is now mode $(stat -c %a "$T/victim")"
[ "$(stat -c %A "$D/sw.sock.real")" = srw-rw---- ] || fail "listen socket is $(stat -c %A "$D/sw.sock.real")"
stop "$RACE_SW"
stop "$RACE_PID"
pass "a link swapped in right after bind(2) is not chmod()ed through; the socket itself is 0660"

# --- the --busy-poll lock (item 7) ---
LOCK=/run/vmfabric/busypoll.lock
OLD=/run/lock/vmfabric-busypoll	# where it used to be: a FIFO there hung old daemons
saved=()
for p in "$LOCK" "$OLD"; do
	if [ -e "$p" ] || [ -L "$p" ]; then mv "$p" "$T/saved.$(basename "$p")" && saved+=("$p"); fi
done
made_dir=0; [ -d /run/vmfabric ] || made_dir=1
restore() {
	rm -f "$LOCK" "$OLD"
	for p in "${saved[@]}"; do mv "$T/saved.$(basename "$p")" "$p"; done
	[ "$made_dir" = 0 ] || rmdir /run/vmfabric 2>/dev/null
	cleanup
}
trap restore EXIT
mkdir -p /run/vmfabric /run/lock

# start_bp NAME: a switch with --busy-poll; it must come up, admit a port and stop on SIGTERM
start_bp() {
	start "$1" ip netns exec $NS "$SWITCH" -f --insecure --listen "tcp://127.0.0.1:$PORT" --control none \
		--busy-poll 1000
	BP_PID=$LAST_PID
	wait_for 5 log_has "$1" "listening on" || fail "$1: switch did not start"
	ip netns exec $NS timeout 10 "$RAW" --switch "tcp://127.0.0.1:$PORT" --insecure \
		hello:1:lab:p1 expect:welcome:3000 >"$T/$1.raw" 2>&1 ||
		{ cat "$T/$1.raw"; fail "$1: the switch's loop does not run (no Welcome)"; }
	kill -TERM "$BP_PID"
	wait_for 3 bash -c "! kill -0 $BP_PID 2>/dev/null" || fail "$1: switch still running 3 s after SIGTERM"
	wait "$BP_PID" 2>/dev/null
}

mkfifo -m 666 "$LOCK" "$OLD"
start_bp bp-fifo
log_has bp-fifo "busypoll.lock is not a regular file" || fail "no warning about the FIFO at the lock"
rm -f "$LOCK" "$OLD"
mkfifo "$T/fifo"; ln -s "$T/fifo" "$LOCK"; ln -s "$T/fifo" "$OLD"
start_bp bp-link
log_has bp-link "busy-poll: cannot open $LOCK \(Too many levels of symbolic links\)" || fail "no warning about the link at the lock"
[ -L "$LOCK" ] || fail "the link at the lock was replaced"
rm -f "$LOCK" "$OLD"
touch "$LOCK"; chown "$U" "$LOCK"
start_bp bp-foreign
log_has bp-foreign "not a regular file of root or ours" || fail "another user's lock file was used"
rm -f "$LOCK"
pass "a FIFO, a link to a FIFO or another user's file at the lock: the switch warns, runs without the lock, stops on SIGTERM"

start_bp bp-own
log_has bp-own "warning: --busy-poll" && fail "warning with a lock of our own: $(grep busy-poll "$T/bp-own.log")"
[ -f "$LOCK" ] && [ "$(stat -c '%U %a' "$LOCK")" = "root 600" ] || fail "lock is $(stat -c '%F %U %a' "$LOCK")"
as_user flock -n "$LOCK" true 2>/dev/null && fail "user $U can take the busy-poll lock"
as_user touch /run/vmfabric/x 2>/dev/null && fail "user $U can write to /run/vmfabric"
pass "the lock is root's 0600 file in /run/vmfabric: user $U can neither take it nor plant anything there"
pass "files"
