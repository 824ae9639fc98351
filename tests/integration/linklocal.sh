#!/bin/bash
# linklocal.sh - link-local frames pass (issue 14 part 5): STP BPDUs, LACP, LLDP and pause frames
# (01:80:c2:00:00:0X) from one TAP host reach the other as any multicast, seen by tshark; through
# a NIC process on a Linux bridge (--bridge) what the kernel bridge lets through, both ways
. "$(dirname "$0")/../lib.sh"
TOPO_NS=vl-ll TOPO_NET=75
. "$(dirname "$0")/topo.sh"
PORT=7402
FRAMES="/usr/bin/python3 $(dirname "$0")/vlanframes.py"
command -v tshark >/dev/null || fail "tshark is not installed"

LLDP="0207040275000000010405057461703006020078""0000"
STP="424203""0000000000""8000027500000001""00000000""8000027500000001""8001""0000""1400""0200""0f00"
LACP="0101""0114""8000027500000001000180000001""3d000000""0214""0000000000000000000000000000""00000000"
LACP+="0310""0000""000000000000000000000000""0000"$(printf '00%.0s' $(seq 50))
PAUSE="0001ffff"

keys h1 h2 h3
sw_host
for n in 1 2 3; do guest_host "h$n" "$n"; done
# behind h3's NIC: bridge br0 with the TAP and v0; v1, v0's peer, is "a host behind the bridge"
ip -n vl-ll-h3 link add br0 type bridge || fail "bridge"
ip -n vl-ll-h3 link add v0 type veth peer name v1 || fail "veth"
ip -n vl-ll-h3 link set v0 master br0
for i in br0 v0 v1; do ip -n vl-ll-h3 link set "$i" up; done
start_switch switch $PORT
HOSTS_SUBNET=192.168.75 hosts_up $PORT lab h1 h2
start_nic h3 3 h3 lab $PORT --bridge br0
wait_for 10 joined nic-h3 || fail "h3 (on a bridge) did not join"
mask=$(ip netns exec vl-ll-h3 cat /sys/class/net/tap0/brport/group_fwd_mask)
[ "$mask" = 0xfffc ] || fail "the TAP's bridge port has group_fwd_mask $mask, want 0xfffc"

# sniff NAME NS IF: tshark on IF in NS for 10 s, its link-local frames in $T/NAME.txt
sniff() {
	start "ts-$1" ip netns exec "$2" tshark -n -l -i "$3" -a duration:10 \
		-Y "eth.dst[0:5] == 01:80:c2:00:00" -T fields -e eth.dst -e frame.protocols
	eval "TS_$1=$LAST_PID"
	wait_for 10 log_has "ts-$1" "Capturing on" || fail "tshark on $2 $3 did not start"
}
# send SRC DST TYPE PAYLOAD HOSTS...: one frame; what the hosts saw
send() {
	local src=$1 dst=$2 type=$3 payload=$4; shift 4
	$FRAMES vl-ll "$src" - --dst "$dst" --type "$type" --payload "$payload" "$@" | tr '\n' ' ' | sed 's/ $//'
}
check() {
	local got
	got=$(send "${@:1:4}" "${@:6}")
	[ "$got" = "$5" ] || fail "$1 to $2 (type $3): got '$got', want '$5'"
}

sniff h2 vl-ll-h2 tap0
sniff br vl-ll-h3 v1
check h1 01:80:c2:00:00:00 0x0026 "$STP" "h2=u h3:v1=u" h2 h3:v1
check h1 01:80:c2:00:00:0e 0x88cc "$LLDP" "h2=u h3:v1=u" h2 h3:v1
check h1 01:80:c2:00:00:02 0x8809 "$LACP" "h2=u h3:v1=u" h2 h3:v1
check h1 01:80:c2:00:00:01 0x8808 "$PAUSE" "h2=u h3:v1=-" h2 h3:v1
wait "$TS_h2" "$TS_br" 2>/dev/null
for p in stp lldp lacp; do
	grep -q "^01:80:c2:00:00:0.*:$p" "$T/ts-h2.log" || fail "tshark on h2 did not see $p: $(cat "$T/ts-h2.log")"
	grep -q "^01:80:c2:00:00:0.*:$p" "$T/ts-br.log" || fail "tshark behind the bridge did not see $p: $(cat "$T/ts-br.log")"
done
grep -q "^01:80:c2:00:00:01.*:macc" "$T/ts-h2.log" || fail "tshark on h2 did not see the pause frame: $(cat "$T/ts-h2.log")"
grep -q "^01:80:c2:00:00:01" "$T/ts-br.log" && fail "the Linux bridge forwarded a pause frame"
pass "STP, LLDP, LACP and pause from a TAP host reach the other (tshark); behind --bridge all but pause"

# the other way, from behind the bridge: STP passes (bridge STP off); LLDP and LACP need the
# bridge's group_fwd_mask (LLDP) and the sending port's (LACP), as the README says
check h3:v1 01:80:c2:00:00:00 0x0026 "$STP" "h2=u" h2
check h3:v1 01:80:c2:00:00:0e 0x88cc "$LLDP" "h2=-" h2
ip -n vl-ll-h3 link set br0 type bridge group_fwd_mask 0x4000 || fail "bridge group_fwd_mask"
ip -n vl-ll-h3 link set v0 type bridge_slave group_fwd_mask 0x4004 || fail "port group_fwd_mask"
check h3:v1 01:80:c2:00:00:0e 0x88cc "$LLDP" "h2=u" h2
check h3:v1 01:80:c2:00:00:02 0x8809 "$LACP" "h2=u" h2
pass "from behind the bridge: STP passes; LLDP and LACP once the bridge's masks allow them"
sw_stats
[ "$(sj 'sum(sum(p["drops"].values()) for p in d["ports"])')" = 0 ] || fail "the switch dropped frames: $(cat "$T/s.json")"
