/* priv.c - dropping privileges after start-up: capabilities, and root for another user */

/*
 * DOC: What each daemon keeps
 *
 * A NIC process needs CAP_NET_ADMIN (and CAP_SYS_ADMIN for --netns) only
 * to create the TAP device; after backend_open() it drops every capability
 * (a TAP or an inherited fd), or keeps only CAP_DAC_OVERRIDE when it has to
 * reconnect to socket paths another user may own (--stream, --dgram on
 * unix paths). The switch and the gateway bind their sockets and read their
 * keys as root, then, with --user NAME, become that user. Both set
 * no_new_privs, so nothing they could exec regains privileges. Done with
 * the raw system calls: no libcap dependency.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "priv.h"

static int caps_get(struct __user_cap_data_struct d[2])
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };

	return (int)syscall(SYS_capget, &h, d);
}

uint64_t priv_caps(void)
{
	struct __user_cap_data_struct d[2] = { { 0 } };

	if (caps_get(d))
		return 0;
	return (uint64_t)d[1].effective << 32 | d[0].effective;
}

int priv_drop_caps(uint64_t keep, const char **why)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = { { 0 } };
	uint64_t perm;

	if (caps_get(d)) {
		*why = "capget";
		return -errno;
	}
	perm = (uint64_t)d[1].permitted << 32 | d[0].permitted;
	keep &= perm;
	/* the bounding set first: that needs CAP_SETPCAP, which goes next */
	for (int c = 0; c < 64; c++) {
		if (!(keep & PRIV_CAP(c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) &&
		    errno != EINVAL && errno != EPERM) {
			*why = "prctl(PR_CAPBSET_DROP)";
			return -errno;
		}
	}
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	d[0].effective = d[0].permitted = (uint32_t)keep;
	d[1].effective = d[1].permitted = (uint32_t)(keep >> 32);
	d[0].inheritable = d[1].inheritable = 0;
	if (syscall(SYS_capset, &h, d)) {
		*why = "capset";
		return -errno;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		*why = "prctl(PR_SET_NO_NEW_PRIVS)";
		return -errno;
	}
	return 0;
}

int priv_switch_user(const char *user, const char **why)
{
	struct passwd *pw = getpwnam(user);

	if (!pw) {
		*why = "no such user";
		return -ENOENT;
	}
	if (geteuid() != 0) {
		*why = "--user needs the daemon to be started as root";
		return -EPERM;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) || setgid(pw->pw_gid) || setuid(pw->pw_uid)) {
		*why = "cannot change user or group";
		return -errno;
	}
	/* no way back: uid 0 must be gone for good */
	if (pw->pw_uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		*why = "still able to become root after setuid";
		return -EPERM;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		*why = "prctl(PR_SET_NO_NEW_PRIVS)";
		return -errno;
	}
	return 0;
}
