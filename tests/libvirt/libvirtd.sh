# libvirtd.sh - a real libvirtd (9.0, no systemd) with the vmfabric hook, for tests (source after ../lib.sh)
#
# lvd_setup: installs libvirt-daemon, libvirt-daemon-driver-qemu and libvirt-clients if missing;
# creates the libvirt-qemu user and group if missing (libvirt's default QEMU user); writes
# /etc/libvirt/qemu.conf (the old one is kept in $T and put back at exit, or the file is
# removed if there was none) with security_driver = "none", cgroup_controllers = [ ],
# stdio_handler = "file" and QEMU running as root (the vmlab kernel lives in root's cache);
# links the hook as /etc/libvirt/hooks/qemu.d/vmfabric (removed at exit); starts libvirtd -d.
# A libvirtd that answers already is an error: it looks for hooks only when it starts.
# The libvirtd it started is stopped by PID at exit; domains named in LVD_DOMAINS are
# destroyed and undefined first. When /dev/log is missing, a small listener in $T/syslog.log
# stands in for syslog (removed at exit), so the hook's logs are there to read.

VIRSH=(virsh -q -c qemu:///system)
LVD_HOOK_DIR=/etc/libvirt/hooks/qemu.d
LVD_HOOK=$LVD_HOOK_DIR/vmfabric
LVD_QEMU_CONF=/etc/libvirt/qemu.conf
LVD_DOMAINS=()
LVD_PID=""
LVD_SYSLOG_PID=""
LVD_CONF_SAVED=""

lvd_cleanup() {
	local d
	for d in "${LVD_DOMAINS[@]}"; do
		"${VIRSH[@]}" destroy "$d" >/dev/null 2>&1
		"${VIRSH[@]}" undefine "$d" >/dev/null 2>&1
		rm -f "/var/log/libvirt/qemu/$d.log"
	done
	if [ -n "$LVD_PID" ]; then
		kill -TERM "$LVD_PID" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$LVD_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$LVD_PID" 2>/dev/null
	fi
	[ -L "$LVD_HOOK" ] && rm -f "$LVD_HOOK"
	rmdir "$LVD_HOOK_DIR" /etc/libvirt/hooks 2>/dev/null
	case "$LVD_CONF_SAVED" in
	none) rm -f "$LVD_QEMU_CONF" ;;
	"") ;;
	*) cp -p "$LVD_CONF_SAVED" "$LVD_QEMU_CONF" ;;
	esac
	if [ -n "$LVD_SYSLOG_PID" ]; then
		kill -TERM "$LVD_SYSLOG_PID" 2>/dev/null
		wait "$LVD_SYSLOG_PID" 2>/dev/null
		rm -f /dev/log
	fi
}

# lvd_virsh ARGS...: virsh on qemu:///system
lvd_virsh() { "${VIRSH[@]}" "$@"; }

lvd_setup() {
	local hook_bin=$1 missing=() p
	for p in libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		log "installing ${missing[*]}"
		apt-get update -qq >/dev/null 2>&1
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
			>"$T/apt.log" 2>&1 || fail "apt-get install ${missing[*]}"
	fi
	getent group libvirt-qemu >/dev/null || groupadd --system libvirt-qemu || fail "groupadd libvirt-qemu"
	getent passwd libvirt-qemu >/dev/null || useradd --system -g libvirt-qemu -d /var/lib/libvirt \
		-s /usr/sbin/nologin libvirt-qemu || fail "useradd libvirt-qemu"

	if [ ! -e /dev/log ]; then
		/usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
print("ready", flush=True)
with open(sys.argv[1], "ab", buffering=0) as f:
    while True:
        f.write(s.recv(65536).rstrip(b"\0\n") + b"\n")
' "$T/syslog.log" >"$T/syslog-listener.log" 2>&1 &
		LVD_SYSLOG_PID=$!
		wait_for 5 grep -q ready "$T/syslog-listener.log" || fail "syslog stand-in did not start"
	fi

	# the packages' own directories, in case an image left them out
	mkdir -p /etc/libvirt /var/log/libvirt/qemu /var/lib/libvirt/qemu /var/cache/libvirt/qemu
	if [ -z "$LVD_CONF_SAVED" ]; then
		if [ -e "$LVD_QEMU_CONF" ]; then
			LVD_CONF_SAVED=$T/qemu.conf.orig
			cp -p "$LVD_QEMU_CONF" "$LVD_CONF_SAVED"
			grep -vE '^[[:space:]]*(security_driver|cgroup_controllers|stdio_handler|user|group)[[:space:]]*=' \
				"$LVD_CONF_SAVED" >"$T/qemu.conf.new"
		else
			LVD_CONF_SAVED=none
			: >"$T/qemu.conf.new"
		fi
		cat >>"$T/qemu.conf.new" <<-'CONF'
		# written by vmfabric's tests/libvirt/libvirtd.sh (the original is put back at exit)
		security_driver = "none"
		cgroup_controllers = [ ]
		stdio_handler = "file"
		user = "root"
		group = "root"
		CONF
		cp "$T/qemu.conf.new" "$LVD_QEMU_CONF"
	fi

	mkdir -p "$LVD_HOOK_DIR"
	[ -e "$LVD_HOOK" ] && [ ! -L "$LVD_HOOK" ] && fail "$LVD_HOOK exists and is not our link: not touching it"
	ln -sfn "$hook_bin" "$LVD_HOOK"

	if "${VIRSH[@]}" uri >/dev/null 2>&1; then
		# libvirtd 9.0 looks for hooks only at its start (SIGHUP does not look again)
		fail "a libvirtd this test did not start answers on qemu:///system: it would not see the hook; stop it first"
	else
		libvirtd -d -p "$T/libvirtd.pid" >"$T/libvirtd.log" 2>&1 || fail "libvirtd -d: $(cat "$T/libvirtd.log")"
		wait_for 10 test -s "$T/libvirtd.pid" || fail "libvirtd wrote no pidfile"
		LVD_PID=$(cat "$T/libvirtd.pid")
	fi
	wait_for 20 "${VIRSH[@]}" uri || fail "libvirtd does not answer on qemu:///system"
}
