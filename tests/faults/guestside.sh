# guestside.sh - helpers for the guest-side fault tests (hijack, oversize, uplink-flood; source
# after ../lib.sh): one namespace vn1-NAME holding a switch on 127.0.0.1:7800 and the NIC
# processes, each NIC process's "QEMU" played by the test. Ports 7800-7809 only.

TOPO_NS=vn1
. "$(dirname "${BASH_SOURCE[0]}")/../integration/topo.sh"
RAW=$VMF_BUILD/tests/integration/vmf-rawclient
PORT=7800
EP=tcp://127.0.0.1:$PORT

# gs_setup NAME KEY...: namespace vn1-NAME, keys, a switch; NIC processes join network NAME
gs_setup() {
	local name=$1; shift
	[ -x "$RAW" ] || fail "build first: $RAW missing"
	GS_NET=$name
	SW_NS=vn1-$name
	RAW_CMD=(ip netns exec "$SW_NS" "$RAW" --switch "$EP" --server-key "$T/keys/switch"
		 --key "$T/keys/raw_secret")
	keys "$@"
	netns_add "$SW_NS"
	start_switch switch $PORT
}

# qnic NAME ARGS...: NIC process with key NAME, port q/NAME, log nic-NAME; its PID in PID_NAME
qnic() {
	local name=$1; shift
	start "nic-$name" ip netns exec "$SW_NS" "$NIC" -f --switch "$EP" --server-key "$T/keys/switch" \
		--key "$T/keys/${name}_secret" --network "$GS_NET" --name "q/$name" "$@"
	eval "PID_$name=\$LAST_PID"
}

# counters NAME: the NIC process's counter line after a SIGUSR1
counters() {
	local pid n
	eval "pid=\$PID_$1"
	n=$(grep -c "counters:" "$T/nic-$1.log")
	kill -USR1 "$pid"
	wait_for 5 test "$(grep -c "counters:" "$T/nic-$1.log")" -gt "$n" || fail "no counters from $1"
	grep "counters:" "$T/nic-$1.log" | tail -n 1
}

# raw STEP...: vmf-rawclient (key raw) runs STEP..., output in $T/raw.log; in the background:
# start raw "${RAW_CMD[@]}" STEP...
raw() { "${RAW_CMD[@]}" "$@" >"$T/raw.log" 2>&1; }
