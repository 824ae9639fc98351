/* portconf.h - settings kept by port name: VLANs, impairment, link state */
#ifndef VMF_PORTCONF_H
#define VMF_PORTCONF_H

#include "impair.h"
#include "switch.h"

/*
 * DOC: Theory of operation
 *
 * A lab user configures a link by its name ("vm1/eth0"), before the guest
 * starts, and expects the setting to hold when the NIC process reconnects.
 * So per-port settings do not live in struct port (one session) but here,
 * one entry per port name, made by a switch option or by vmfabric-ctl and
 * never freed while the switch runs. A port finds its entry at Hello
 * (port->pconf; NULL: nothing set, the port is transparent and fast). A
 * setting made live is attached at once to every port of that name.
 *
 * Where a setting comes from, strongest first: vmfabric-ctl, the switch's
 * option, the key's policy, the default. Each feature keeps its own part of
 * the entry and the "set" flag that says whether it is given.
 *
 * Limits: at most --max-ports entries (the table is sized at start); a name
 * that does not fit is refused with -ENOSPC and a clear error to the caller.
 */

struct port_conf {
	int used;
	char name[VMF_NAME_MAX];
	/* link state (vmfabric-ctl link NAME down|up): down forwards nothing to or from the port */
	int link_down;
	int link_set;
	struct vlan_conf vlan;		/* 802.1Q (vlanport.c), given when vlan_set */
	int vlan_set;			/* VLAN_SRC_OPTION or VLAN_SRC_CTL; 0: not set here */
	struct impair_conf imp_opt, imp_ctl;	/* impairment: --impair, vmfabric-ctl impair; its queues are per session, in port->imp (impair.c) */
};

/** portconf_find() - the settings of port name @name, or NULL */
struct port_conf *portconf_find(struct vswitch *sw, const char *name);

/**
 * portconf_get() - the settings of @name, made empty if new, and attached
 * to every live port of that name. Return: the entry, or NULL (-ENOSPC:
 * table full, -EINVAL: bad name) with *@err set
 */
struct port_conf *portconf_get(struct vswitch *sw, const char *name, int *err);

/**
 * portconf_link() - set port name @name's link down (@up 0) or up: every
 * live port of that name stops (or resumes) forwarding, loses (down) its
 * MAC entries and is told with LinkState. Return: live ports told, or
 * -errno as portconf_get()
 */
int portconf_link(struct vswitch *sw, const char *name, int up);

#endif /* VMF_PORTCONF_H */
