/*
 * tap.c - TAP devices for the NIC process, optionally in another network
 * namespace, optionally a member of a host bridge
 *
 * DOC: Theory of operation
 *
 * tap_open() creates (or attaches to) the TAP device and leaves it up, all
 * while the process still has its capabilities: main.c drops them right
 * after. With --bridge BR the TAP is also made a port of the Linux bridge BR
 * (in the TAP's namespace), with the bridge's MTU; with --ovs-bridge BR it is
 * added to the Open vSwitch bridge BR by running ovs-vsctl. Such a port
 * carries every MAC that sits on the bridge's side: the switch sees them all
 * behind this one port (the key's max-macs policy must allow as many).
 *
 * Decisions:
 * - BR must exist and be a Linux bridge (driver "bridge"): anything else is
 *   refused, never created. Enslaving uses RTM_SETLINK IFLA_MASTER, which is
 *   a no-op when the TAP already is a port of BR (a persistent TAP that
 *   outlived an earlier run).
 * - The TAP takes the bridge's MTU: a port with a smaller MTU than its
 *   bridge silently drops larger frames in the kernel. A bridge MTU larger
 *   than --mtu is refused, since the fabric could not carry its frames.
 * - Link-local frames (01:80:c2:00:00:0X: LACP, LLDP, 802.1X...) that come
 *   from the fabric are forwarded by the bridge to its other ports, as a
 *   cable would carry them: the TAP's bridge port gets group_fwd_mask
 *   0xfffc (IFLA_BRPORT_GROUP_FWD_MASK). STP BPDUs (bit 0) stay the
 *   bridge's own business (forwarded while its STP is off, the default);
 *   pause frames (bit 1) no Linux bridge forwards. The other direction is
 *   the bridge's configuration (README, "Link-local frames"). A kernel
 *   that refuses the mask costs a warning, not the port.
 * - Offloads (virtio-net headers, TSO super-frames) stay on for a Linux
 *   bridge, which forwards GSO frames to any port (VXLAN included). For
 *   Open vSwitch they are turned off: the userspace datapath reads a system
 *   port through AF_PACKET without virtio-net headers and would see a
 *   64 KiB super-frame as one oversized packet (TCP through it stalls).
 *   The kernel datapath would take them, but which one a bridge uses is
 *   OVS's business: the safe choice costs only speed.
 * - The OVS port record is replaced at start (del-port --if-exists, then
 *   add-port, two transactions) and left in place at exit: the TAP vanishes
 *   with the process, OVS shows the port as missing until the NIC returns,
 *   and `ovs-vsctl del-port BR IF` removes it for good. ovs-vsctl is taken
 *   from PATH and finds the database the usual way (OVS_RUNDIR).
 * - The network's MTU comes later, in the switch's Welcome, when the NIC
 *   process has dropped its capabilities (it must, before ZeroMQ starts its
 *   threads), and setting a device's MTU needs CAP_NET_ADMIN. So a plain
 *   TAP gets an MTU helper (privilege separation, as OpenBSD daemons do):
 *   a child forked before the drop that keeps only CAP_NET_ADMIN, a socket
 *   in the TAP's namespace and a socketpair to the NIC process. It takes
 *   one request, a 32-bit MTU (68..65535), sets that MTU on this one TAP and
 *   answers 0 or -errno; it can do nothing else, and ends when the NIC
 *   process closes its end or dies (PR_SET_PDEATHSIG). A TAP on --bridge or
 *   --ovs-bridge keeps the MTU the bridge decided: no helper.
 * - Carrier (link state, vmfabric-ctl link) needs no privilege: the TAP's
 *   own fd takes TUNSETCARRIER. Carrier off makes the kernel stop sending
 *   on the TAP, and the host (or a bridge) sees the link down.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <linux/capability.h>
#include <linux/ethtool.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <poll.h>
#include <stddef.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend.h"
#include "log.h"
#include "priv.h"
#include "util.h"

extern char **environ;

/* start-up messages that name the device; tap_open() runs once, single-threaded */
static char tap_why[256];

/* A socket for interface ioctls in the current namespace, and @ifr naming @ifname. */
static int tap_ifsock(struct ifreq *ifr, const char *ifname, const char **why)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0) {
		*why = "socket(AF_INET) for interface setup";
		return -errno;
	}
	memset(ifr, 0, sizeof(*ifr));
	str_copy(ifr->ifr_name, ifname, IFNAMSIZ);
	return s;
}

/* Bring @ifname up with @mtu, in the current namespace. */
static int tap_up(const char *ifname, long mtu, const char **why)
{
	struct ifreq ifr;
	int s = tap_ifsock(&ifr, ifname, why);
	int rc = 0;

	if (s < 0)
		return s;
	ifr.ifr_mtu = (int)mtu;
	if (ioctl(s, SIOCSIFMTU, &ifr)) {
		rc = -errno;
		*why = "cannot set the TAP device's MTU";
		goto out;
	}
	if (ioctl(s, SIOCGIFFLAGS, &ifr)) {
		rc = -errno;
		*why = "cannot read the TAP device's flags";
		goto out;
	}
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr)) {
		rc = -errno;
		*why = "cannot bring the TAP device up";
	}
out:
	close(s);
	return rc;
}

/* The MTU of Linux bridge @br in the current namespace; refuse anything that is not one. */
static int tap_bridge_mtu(const char *br, long *mtu, const char **why)
{
	struct ethtool_drvinfo di = { .cmd = ETHTOOL_GDRVINFO };
	struct ifreq ifr;
	int s = tap_ifsock(&ifr, br, why);
	int rc = 0;

	if (s < 0)
		return s;
	if (ioctl(s, SIOCGIFMTU, &ifr)) {
		rc = -errno;
		snprintf(tap_why, sizeof(tap_why), "--bridge %s: no such interface here "
			 "(create the bridge first: ip link add %s type bridge)", br, br);
		*why = tap_why;
		goto out;
	}
	*mtu = ifr.ifr_mtu;
	ifr.ifr_data = (char *)&di;
	if (ioctl(s, SIOCETHTOOL, &ifr) || strcmp(di.driver, "bridge")) {
		rc = -EINVAL;
		snprintf(tap_why, sizeof(tap_why), "--bridge %s: not a Linux bridge "
			 "(an Open vSwitch bridge takes --ovs-bridge)", br);
		*why = tap_why;
	}
out:
	close(s);
	return rc;
}

/* Send the RTM_SETLINK request @req (@len bytes) and wait for its answer; Return: 0 or -errno */
static int tap_setlink(void *req, size_t len)
{
	struct {
		struct nlmsghdr nh;
		struct nlmsgerr e;
		char more[256];
	} ans;
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	struct nlmsghdr *nh = req;
	ssize_t n;
	int s, rc;

	s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (s < 0)
		return -errno;
	nh->nlmsg_len = (uint32_t)len;
	nh->nlmsg_type = RTM_SETLINK;
	nh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nh->nlmsg_seq = 1;
	if (sendto(s, req, len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
		rc = -errno;
		goto out;
	}
	n = recv(s, &ans, sizeof(ans), 0);
	if (n < 0)
		rc = -errno;
	else if ((size_t)n < sizeof(ans.nh) + sizeof(ans.e) || ans.nh.nlmsg_type != NLMSG_ERROR)
		rc = -EPROTO;
	else
		rc = ans.e.error;
out:
	close(s);
	return rc;
}

/* Make @ifname a port of bridge @br (RTM_SETLINK IFLA_MASTER) in the current namespace. */
static int tap_enslave(const char *ifname, const char *br, const char **why)
{
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
		struct rtattr rta;
		uint32_t master;
	} req;
	unsigned int tap = if_nametoindex(ifname), bri = if_nametoindex(br);

	*why = "cannot make the TAP device a port of the bridge";
	if (!tap || !bri)
		return -ENODEV;
	memset(&req, 0, sizeof(req));
	req.ifi.ifi_family = AF_UNSPEC;
	req.ifi.ifi_index = (int)tap;
	req.rta.rta_type = IFLA_MASTER;
	req.rta.rta_len = RTA_LENGTH(sizeof(uint32_t));
	req.master = bri;
	return tap_setlink(&req, sizeof(req));
}

/* Let the bridge forward link-local frames from bridge port @ifname (see DOC). */
static int tap_link_local(const char *ifname)
{
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
		struct rtattr protinfo;
		struct rtattr mask_rta;
		uint16_t mask;
		uint16_t pad;
	} req;

	memset(&req, 0, sizeof(req));
	req.ifi.ifi_family = AF_BRIDGE;
	req.ifi.ifi_index = (int)if_nametoindex(ifname);
	req.protinfo.rta_type = IFLA_PROTINFO | NLA_F_NESTED;
	req.protinfo.rta_len = (unsigned short)(sizeof(req) - offsetof(typeof(req), protinfo));
	req.mask_rta.rta_type = IFLA_BRPORT_GROUP_FWD_MASK;
	req.mask_rta.rta_len = RTA_LENGTH(sizeof(uint16_t));
	req.mask = 0xfffc;
	return tap_setlink(&req, sizeof(req));
}

/* Run ovs-vsctl with @argv (from PATH, our environment); 0 if it succeeded. */
static int tap_vsctl(char *const argv[], const char **why)
{
	pid_t pid;
	int st, rc;

	rc = posix_spawnp(&pid, "ovs-vsctl", NULL, NULL, argv, environ);
	if (rc) {
		*why = "--ovs-bridge: cannot run ovs-vsctl (is Open vSwitch installed?)";
		return -rc;
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) {
			*why = "--ovs-bridge: waitpid(ovs-vsctl)";
			return -errno;
		}
	return WIFEXITED(st) && !WEXITSTATUS(st) ? 0 : -EINVAL;
}

/*
 * Replace the OVS port @ifname on bridge @br. Two transactions: ovs-vswitchd
 * keeps the netdev of a port deleted and re-added in one, and a TAP created
 * again under the same name would stay unread.
 */
static int tap_ovs_add(const char *ifname, const char *br, const char **why)
{
	char *del[] = { "ovs-vsctl", "--timeout=20", "--if-exists", "del-port", (char *)ifname, NULL };
	char *add[] = { "ovs-vsctl", "--timeout=20", "add-port", (char *)br, (char *)ifname, NULL };
	int rc = tap_vsctl(del, why);

	if (!rc)
		rc = tap_vsctl(add, why);
	if (rc == -EINVAL) {
		snprintf(tap_why, sizeof(tap_why), "--ovs-bridge %s: ovs-vsctl add-port %s %s failed "
			 "(its message is above; does the bridge exist, is ovs-vswitchd running?)",
			 br, br, ifname);
		*why = tap_why;
	}
	return rc;
}

int tap_open(const struct backend_conf *c, int *offload, int *ifsock, const char **why)
{
	const char *ifname = c->tap, *netns = c->netns;
	int fd = -1, self = -1, target = -1, rc;
	long mtu = c->mtu, br_mtu = 0;
	struct ifreq ifr;

	if (strlen(ifname) >= IFNAMSIZ) {
		*why = "interface name longer than 15 characters";
		return -EINVAL;
	}
	if (c->bridge && c->ovs_bridge) {
		*why = "give --bridge or --ovs-bridge, not both";
		return -EINVAL;
	}
	if ((c->bridge && strlen(c->bridge) >= IFNAMSIZ) ||
	    (c->ovs_bridge && strlen(c->ovs_bridge) >= IFNAMSIZ)) {
		*why = "bridge name longer than 15 characters";
		return -EINVAL;
	}
	if (c->ovs_bridge)
		*offload = 0;
	if (netns) {
		char path[256];

		snprintf(path, sizeof(path), "/run/netns/%s", netns);
		self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
		target = open(path, O_RDONLY | O_CLOEXEC);
		if (self < 0 || target < 0) {
			rc = -errno;
			*why = "cannot open the network namespace (does /run/netns/NAME exist? see ip netns)";
			goto out;
		}
		if (setns(target, CLONE_NEWNET)) {
			rc = -errno;
			*why = "cannot enter the network namespace (needs CAP_SYS_ADMIN)";
			goto out;
		}
	}
	if (c->bridge) {
		rc = tap_bridge_mtu(c->bridge, &br_mtu, why);
		if (rc)
			goto restore;
		if (br_mtu > mtu) {
			snprintf(tap_why, sizeof(tap_why), "--bridge %s has MTU %ld, more than --mtu %ld: "
				 "give --mtu %ld (and that MTU to every port of the network)",
				 c->bridge, br_mtu, mtu, br_mtu);
			*why = tap_why;
			rc = -EINVAL;
			goto restore;
		}
		if (br_mtu < mtu)
			info("TAP %s takes the MTU %ld of bridge %s: give the network's guests that MTU too",
			     ifname, br_mtu, c->bridge);
		mtu = br_mtu;
	}
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		*why = "cannot open /dev/net/tun";
		goto restore;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (*offload ? IFF_VNET_HDR : 0);
	str_copy(ifr.ifr_name, ifname, IFNAMSIZ);
	if (ioctl(fd, TUNSETIFF, &ifr)) {
		rc = -errno;
		*why = errno == EBUSY ? "TAP device is in use by another process"
		     : errno == EPERM ? "not allowed to create or attach the TAP device (needs CAP_NET_ADMIN, or a persistent TAP owned by this user)"
		     : "TUNSETIFF failed (is there a non-TAP device of that name?)";
		close(fd);
		fd = -1;
		goto restore;
	}
	if (*offload) {
		/* 12-byte virtio_net_hdr_v1; TCP segmentation and checksums left to us */
		int hsz = 12;

		if (ioctl(fd, TUNSETVNETHDRSZ, &hsz) ||
		    ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6)) {
			/* an old kernel or a TAP that refuses: plain frames it is */
			*offload = 0;
			close(fd);
			fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
			ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
			if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr)) {
				rc = -errno;
				*why = "cannot reopen the TAP device without offloads";
				if (fd >= 0)
					close(fd);
				fd = -1;
				goto restore;
			}
		}
	}
	rc = c->bridge ? tap_enslave(ifname, c->bridge, why) : 0;
	if (!rc && c->bridge && (rc = tap_link_local(ifname))) {
		warn("bridge %s: cannot set group_fwd_mask on port %s (%s): link-local frames "
		     "from the fabric stop at the bridge", c->bridge, ifname, strerror(-rc));
		rc = 0;
	}
	if (!rc)
		rc = tap_up(ifname, mtu, why);
	/* for the MTU helper: a socket in the TAP's namespace, made while we are in it */
	if (!rc && !c->bridge && !c->ovs_bridge) {
		*ifsock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (*ifsock < 0) {
			rc = -errno;
			*why = "socket(AF_INET) for the TAP's MTU";
		}
	}
	if (rc) {
		close(fd);
		fd = -1;
	}
restore:
	if (netns && self >= 0 && setns(self, CLONE_NEWNET)) {
		/* we would keep running in the wrong namespace: stop here */
		if (fd >= 0)
			close(fd);
		fd = -1;
		rc = -errno;
		*why = "cannot return to the original network namespace";
	}
	if (fd >= 0 && c->ovs_bridge) {
		rc = tap_ovs_add(ifname, c->ovs_bridge, why);
		if (rc) {
			close(fd);
			fd = -1;
		}
	}
out:
	if (self >= 0)
		close(self);
	if (target >= 0)
		close(target);
	return fd >= 0 ? fd : rc;
}

/* The helper's loop: one MTU in, 0 or -errno out, for TAP @ifname only. */
static void __attribute__((noreturn)) tap_helper_main(int fd, int s, const char *ifname)
{
	const char *why;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* nothing of the NIC process's but our two sockets */
	for (int i = 0; i < 1024; i++)
		if (i != fd && i != s && i > 2)
			close(i);
	if (priv_drop_caps(PRIV_CAP(CAP_NET_ADMIN), &why))
		_exit(1);
	for (;;) {
		struct ifreq ifr;
		uint32_t mtu;
		int32_t rc = 0;

		if (read(fd, &mtu, sizeof(mtu)) != (ssize_t)sizeof(mtu))
			_exit(0);
		memset(&ifr, 0, sizeof(ifr));
		str_copy(ifr.ifr_name, ifname, IFNAMSIZ);
		ifr.ifr_mtu = (int)mtu;
		if (mtu < VMF_MTU_MIN || mtu > 65535)
			rc = -EINVAL;
		else if (ioctl(s, SIOCSIFMTU, &ifr))
			rc = -errno;
		if (write(fd, &rc, sizeof(rc)) != (ssize_t)sizeof(rc))
			_exit(0);
	}
}

int tap_helper_start(const char *ifname, int ifsock)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return -errno;
	pid = fork();
	if (pid < 0) {
		int rc = -errno;

		close(sv[0]);
		close(sv[1]);
		return rc;
	}
	if (pid == 0)
		tap_helper_main(sv[1], ifsock, ifname);
	close(sv[1]);
	return sv[0];
}

int tap_helper_mtu(int fd, uint32_t mtu)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	int32_t rc;

	if (write(fd, &mtu, sizeof(mtu)) != (ssize_t)sizeof(mtu))
		return -EPIPE;
	/* one ioctl away: a helper that does not answer within a second is gone */
	if (poll(&pfd, 1, 1000) != 1 || read(fd, &rc, sizeof(rc)) != (ssize_t)sizeof(rc))
		return -EPIPE;
	return rc;
}

int tap_carrier(int fd, int on)
{
	int v = on;

	return ioctl(fd, TUNSETCARRIER, &v) ? -errno : 0;
}
