/* tap.c - TAP devices for the NIC process, optionally in another network namespace */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend.h"
#include "util.h"

/* Bring @ifname up with @mtu, in the current namespace. */
static int tap_up(const char *ifname, long mtu, const char **why)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int rc = 0;

	if (s < 0) {
		*why = "socket(AF_INET) for interface setup";
		return -errno;
	}
	memset(&ifr, 0, sizeof(ifr));
	str_copy(ifr.ifr_name, ifname, IFNAMSIZ);
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

int tap_open(const char *ifname, const char *netns, long mtu, int *offload, const char **why)
{
	int fd = -1, self = -1, target = -1, rc;
	struct ifreq ifr;

	if (strlen(ifname) >= IFNAMSIZ) {
		*why = "interface name longer than 15 characters";
		return -EINVAL;
	}
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
	rc = tap_up(ifname, mtu, why);
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
out:
	if (self >= 0)
		close(self);
	if (target >= 0)
		close(target);
	return fd >= 0 ? fd : rc;
}
