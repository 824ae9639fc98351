# site.sh - two vmfabric sites joined by VXLAN + BGP EVPN (source after ../lib.sh)
#
# Per site X (a, b), number I (1, 2):
#   $FAB-X      the site's router: underlay veth $FAB-ul (10.78.0.I/24, MTU
#               1500) to the other site, Linux bridge br100 with VXLAN device
#               vxlan100 (VNI 100, local 10.78.0.I, nolearning, bridge port
#               learning off), zebra + bgpd (iBGP AS 65000, advertise-all-vni),
#               the vmfabric switch on tcp://127.0.0.1:$FAB_PORT+I-1 and the
#               uplink NIC: TAP vmf0, a port of br100 (--bridge), configured by
#               deploy/systemd/examples/site-evpn/uplink.conf (switch, keys and
#               name overridden on the command line).
#   $FAB-XN     a host: its TAP tap0 (10.77.0.IN/24, MAC 02:77:00:00:0I:0N),
#               made by a NIC process in $FAB-X (--netns) on the site switch.
# The overlay MTU is 1500 - 50 (VXLAN over IPv4) = 1450: the bridge takes the
# VXLAN device's MTU, the uplink TAP takes the bridge's, hosts use --mtu 1450.
# FRR runs as its user frr from its own files under $T/frr-X (config, pid files, vty
# sockets, zserv socket, log): no system FRR is touched. Every process is
# started with start() (stopped by PID at exit); the namespaces go with
# everything in them.

FAB=${FAB:-vev}
FAB_PORT=${FAB_PORT:-7850}
FAB_VNI=100
FAB_MTU=1450
FRR_DIR=/usr/lib/frr
CTL=$VMF_BUILD/switch/vmfabric-ctl
FAB_UPLINK_CONF=$VMF_ROOT/deploy/systemd/examples/site-evpn/uplink.conf

# fab_deps: install FRR (and iperf3) the project's way if missing
fab_deps() {
	[ -x "$FRR_DIR/bgpd" ] && command -v vtysh >/dev/null && command -v iperf3 >/dev/null ||
		EXTRA_PKGS="frr iperf3" "$VMF_ROOT/deploy/install-deps.sh" >/dev/null || fail "cannot install frr"
	[ -x "$FRR_DIR/bgpd" ] || fail "frr missing ($FRR_DIR/bgpd)"
}

# fab_ns NAME: a namespace without IPv6 (only the test's frames cross the fabric)
fab_ns() {
	netns_add "$1"
	ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
}

# fab_keys HOSTS...: switch key, host keys hX N, and per site an uplink key with the max-macs policy
fab_keys() {
	local s
	keys "$@"
	for s in a b; do
		"$KEYTOOL" generate "$T/keys/uplink-$s" >/dev/null || fail "keygen uplink-$s"
		# policy: a bridge port carries every MAC of the bridge's side
		sed '/^metadata$/a\    max-macs = "4096"' "$T/keys/uplink-$s" >"$T/auth/uplink-$s"
		grep -q 'max-macs = "4096"' "$T/auth/uplink-$s" || fail "max-macs policy line"
	done
}

# fab_site X I: the router namespace, bridge, VXLAN device, FRR, switch and uplink of site X
fab_site() {
	local x=$1 i=$2 ns=$FAB-$1 d=$T/frr-$1 peer=$(( 3 - $2 ))
	ip -n "$ns" link add br100 type bridge || fail "bridge in $ns"
	ip -n "$ns" link add vxlan100 type vxlan id "$FAB_VNI" local "10.78.0.$i" dev "$FAB-ul" dstport 4789 nolearning ||
		fail "vxlan in $ns"
	ip -n "$ns" link set vxlan100 master br100
	ip netns exec "$ns" bridge link set dev vxlan100 learning off
	ip -n "$ns" link set vxlan100 up
	ip -n "$ns" link set br100 up
	mkdir -p "$d"
	# FRR drops to its own user (whose vty group it checks): its dir is its own
	chmod 711 "$T"
	chown frr:frr "$d"
	cat >"$d/zebra.conf" <<-CONF
	hostname site-$x
	CONF
	cat >"$d/bgpd.conf" <<-CONF
	hostname site-$x
	router bgp 65000
	 bgp router-id 10.78.0.$i
	 no bgp default ipv4-unicast
	 neighbor 10.78.0.$peer remote-as 65000
	 neighbor 10.78.0.$peer timers 1 3
	 neighbor 10.78.0.$peer timers connect 1
	 address-family l2vpn evpn
	  neighbor 10.78.0.$peer activate
	  advertise-all-vni
	 exit-address-family
	CONF
	start "zebra-$x" ip netns exec "$ns" "$FRR_DIR/zebra" -u frr -g frr -f "$d/zebra.conf" \
		-i "$d/zebra.pid" -z "$d/zserv.api" --vty_socket "$d" -P 0 --log stdout
	wait_for 10 test -S "$d/zserv.api" || fail "zebra did not start in $ns"
	start "bgpd-$x" ip netns exec "$ns" "$FRR_DIR/bgpd" -u frr -g frr -f "$d/bgpd.conf" \
		-i "$d/bgpd.pid" -z "$d/zserv.api" --vty_socket "$d" -P 0 --log stdout
	start "sw-$x" ip netns exec "$ns" "$SWITCH" -f --listen "tcp://127.0.0.1:$(( FAB_PORT + i - 1 ))" \
		--key "$T/keys/switch_secret" --authorized "$T/auth" --control "ipc://$T/sw-$x.ctl" \
		--stats-file "$T/stats-$x.json" --mtu "$FAB_MTU"
	eval "SW_PID_$x=\$LAST_PID"
	wait_for 5 log_has "sw-$x" "listening on" || fail "switch of site $x did not start"
	# the uplink runs from the deploy example (tap vmf0, bridge br100, MTU 1450, network lab)
	fab_nic "uplink-$x" "$x" uplink-$x -c "$FAB_UPLINK_CONF"
	wait_for 5 fab_member "$x" || fail "vmf0 did not join br100 in $ns"
}

# fab_member X: the uplink TAP of site X is an up port of br100 with the bridge's MTU
fab_member() {
	ip -n "$FAB-$1" link show vmf0 | grep -q "UP,LOWER_UP.* master br100 " &&
		ip -n "$FAB-$1" link show vmf0 | grep -q "mtu $FAB_MTU "
}

# fab_nic LOGNAME X KEY ARGS...: a NIC process in site X's router namespace on its switch
fab_nic() {
	local name=$1 x=$2 key=$3 i; shift 3
	i=$([ "$x" = a ] && echo 1 || echo 2)
	start "$name" ip netns exec "$FAB-$x" "$NIC" -f --switch "tcp://127.0.0.1:$(( FAB_PORT + i - 1 ))" \
		--server-key "$T/keys/switch" --key "$T/keys/${key}_secret" --network lab --name "$x/$name" \
		--mtu "$FAB_MTU" "$@"
	wait_for 5 log_has "$name" "joined network" || fail "$name did not join"
}

# fab_host X N [S]: host $FAB-XN (made if missing) on the switch of site S (default X):
# its TAP tap0, made through --netns by NIC process hXN (key hXN), PID in $HOST_PID
fab_host() {
	local x=$1 n=$2 ns=$FAB-$1$2 i
	i=$([ "$x" = a ] && echo 1 || echo 2)
	[ -e "/run/netns/$ns" ] || fab_ns "$ns"
	fab_nic "h$x$n" "${3:-$x}" "h$x$n" --tap tap0 --netns "$ns"
	HOST_PID=$LAST_PID
	ip -n "$ns" link set tap0 address "02:77:00:00:0$i:0$n" || fail "tap0 MAC in $ns"
	ip -n "$ns" addr add "10.77.0.$i$n/24" dev tap0
	ip -n "$ns" link set tap0 up
}

# fab_two_sites HOSTS...: keys (for hosts named hXN), underlay, both sites, BGP session up
fab_two_sites() {
	fab_deps
	fab_keys "$@"
	fab_ns "$FAB-a"
	fab_ns "$FAB-b"
	veth_link "$FAB-a" "$FAB-ul" 10.78.0.1/24 "$FAB-b" "$FAB-ul" 10.78.0.2/24
	fab_site a 1
	fab_site b 2
	wait_for 30 fab_bgp_up a || fail "iBGP session between the sites did not come up"
}

# vty X CMD: vtysh command on site X's FRR
vty() { ip netns exec "$FAB-$1" vtysh --vty_socket "$T/frr-$1" -c "$2"; }

# fab_bgp_up X: site X's EVPN session with the other site is established
fab_bgp_up() {
	vty "$1" "show bgp l2vpn evpn summary json" >"$T/bgp-sum.json" 2>&1 || return 1
	/usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); \
sys.exit(0 if any(p.get('state') == 'Established' for p in d.get('peers', {}).values()) else 1)" "$T/bgp-sum.json"
}

# fab_evpn_mac X MAC VTEP: site X's FRR has MAC as a remote EVPN MAC behind VTEP
fab_evpn_mac() {
	vty "$1" "show evpn mac vni $FAB_VNI mac $2 json" >"$T/evpn-mac.json" 2>&1 || return 1
	/usr/bin/python3 - "$T/evpn-mac.json" "$2" "$3" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
m = d.get(sys.argv[2], d)
sys.exit(0 if m.get("type") == "remote" and m.get("remoteVtep") == sys.argv[3] else 1)
PY
}

# fab_fdb_remote X MAC VTEP: site X's bridge forwards MAC into vxlan100 towards VTEP
fab_fdb_remote() {
	ip netns exec "$FAB-$1" bridge fdb show dev vxlan100 >"$T/fdb-$1.txt" 2>&1 &&
		grep -q "^$2 .*dst $3 " "$T/fdb-$1.txt"
}
