/* lvdomain.h - vmfabric-libvirt-hook: the vmfabric NICs of a libvirt domain's XML */
#ifndef VMF_LVDOMAIN_H
#define VMF_LVDOMAIN_H

#include <stddef.h>

#include "codec.h"

#define LVD_NS		"urn:vmfabric:libvirt:1"	/* the <metadata> namespace */
#define LVD_MAX_NICS	16
#define LVD_MAX_XML	(4 << 20)			/* larger domain XML is refused */
#define LVD_PATH_MAX	256
#define LVD_EP_MAX	256

/* How QEMU reaches the NIC process, from the <interface type=...>. */
enum lvd_kind {
	LVD_UDP,	/* type='udp': datagrams, QEMU binds <local>, sends to <source> */
	LVD_SERVER,	/* type='server': QEMU listens on TCP <source>, the NIC connects */
	LVD_CLIENT,	/* type='client': the NIC listens on TCP <source>, QEMU connects */
};

/* One vmfabric NIC: the NIC process's settings. */
struct lvd_nic {
	enum lvd_kind kind;
	int index;			/* among the domain's vmfabric interfaces, from 0 */
	char mac[18];
	char network[VMF_NAME_MAX], name[VMF_NAME_MAX];
	char sw[LVD_EP_MAX], server_key[LVD_PATH_MAX], key[LVD_PATH_MAX];
	char backend_opt[24];		/* --dgram, --stream or --stream-listen */
	char backend_arg[96];		/* its value */
};

struct lvd_domain {
	char name[256];
	char uuid[37];
	int has_fabric;			/* a <vmfabric:fabric> element is present */
	int insecure;
	long mtu;
	int admit_timeout_s;		/* prepare begin waits this long for the switch's answer */
	int n;
	struct lvd_nic nics[LVD_MAX_NICS];
};

/**
 * lvd_parse() - read the domain @xml (@len bytes): name, UUID and the vmfabric NICs
 * @why:	the reason, if the XML or its vmfabric settings are unusable
 *
 * Return: 0 (d->has_fabric tells whether the domain uses vmfabric at all), or -EINVAL with
 * @why set to one line naming the element and the fix
 */
int lvd_parse(struct lvd_domain *d, const char *xml, size_t len, char *why, size_t whylen);

/**
 * lvd_fill_ports() - the domain @xml with a free loopback port in every port='0' or missing
 * port of its vmfabric interfaces (and a <local> for type='udp' if missing)
 * @out:	malloc()ed result, @outlen its length
 *
 * Return: 0, or -errno with @why set
 */
int lvd_fill_ports(const char *xml, size_t len, char **out, size_t *outlen, char *why,
		   size_t whylen);

#endif /* VMF_LVDOMAIN_H */
