# Guest script (vmlab) for vlan.sh (lists are comma-separated). VLANS=10,20: VLAN devices eth0.V (8021q) with 192.168.V.ME.
# REACH: addresses to ping until they answer. OTHER=V (on an access port): try VLAN V's access
# guest 192.168.V.1, untagged with an address of its subnet, then tagged through eth0.V; both
# must fail. The host checks the lines printed.

# reach ADDR: ping until it answers (at most about 60 s)
reach() {
    i=0
    until ping -c 1 -W 1 "$1" >/dev/null 2>&1; do
        i=$((i + 1)); [ "$i" -ge 60 ] && { echo "reach $1: fail"; return 1; }
    done
    echo "reach $1: ok"
}

# try HOW: one more attempt at VLAN $OTHER's guest
try() {
    if ping -c 3 -W 1 "192.168.$OTHER.1" >/dev/null 2>&1; then echo "$1 to VLAN $OTHER: reached"
    else echo "$1 to VLAN $OTHER: isolated"; fi
}

modprobe 8021q || { echo "no 8021q"; exit 1; }
for v in $(echo "${VLANS:-}" | tr , " "); do
    vconfig add eth0 "$v" >/dev/null || exit 1
    ip addr add "192.168.$v.$ME/24" dev "eth0.$v"
    ip link set "eth0.$v" up
done
echo "vlans up: ${VLANS:-none}"
for a in $(echo "${REACH:-}" | tr , " "); do reach "$a"; done
[ -n "${OTHER:-}" ] || exit 0
ip addr add "192.168.$OTHER.99/24" dev eth0
try untagged
ip addr del "192.168.$OTHER.99/24" dev eth0
vconfig add eth0 "$OTHER" >/dev/null || exit 1
ip addr add "192.168.$OTHER.98/24" dev "eth0.$OTHER"
ip link set "eth0.$OTHER" up
try tagged
exit 0
