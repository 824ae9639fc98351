/* portconf.c - settings kept by port name (see portconf.h) */

#include <errno.h>
#include <string.h>

#include "port.h"
#include "portconf.h"
#include "util.h"

struct port_conf *portconf_find(struct vswitch *sw, const char *name)
{
	for (uint32_t i = 0; i < sw->n_pconf; i++)
		if (!strcmp(sw->pconf[i].name, name))
			return &sw->pconf[i];
	return NULL;
}

struct port_conf *portconf_get(struct vswitch *sw, const char *name, int *err)
{
	struct port_conf *pc = portconf_find(sw, name);

	if (!pc) {
		if (!*name || strlen(name) >= VMF_NAME_MAX) {
			*err = -EINVAL;
			return NULL;
		}
		if (sw->n_pconf == (uint32_t)sw->conf.max_ports) {
			*err = -ENOSPC;
			return NULL;
		}
		pc = &sw->pconf[sw->n_pconf++];
		memset(pc, 0, sizeof(*pc));
		pc->used = 1;
		str_copy(pc->name, name, sizeof(pc->name));
	}
	for (long i = 0; i < sw->conf.max_ports; i++) {
		struct port *p = &sw->ports[i];

		if (p->used && !strcmp(p->name, name))
			p->pconf = pc;
	}
	return pc;
}

int portconf_link(struct vswitch *sw, const char *name, int up)
{
	Vmfabric__LinkState ls = VMFABRIC__LINK_STATE__INIT;
	Vmfabric__Envelope env = VMFABRIC__ENVELOPE__INIT;
	struct port_conf *pc;
	int err = 0, told = 0;

	pc = portconf_get(sw, name, &err);
	if (!pc)
		return err;
	pc->link_down = !up;
	pc->link_set = 1;
	ls.up = up;
	env.msg_case = VMFABRIC__ENVELOPE__MSG_LINK;
	env.link = &ls;
	for (long i = 0; i < sw->conf.max_ports; i++) {
		struct port *p = &sw->ports[i];

		if (!p->used || p->pconf != pc)
			continue;
		/* a pulled cable: what was learnt behind it is gone */
		if (!up && p->net)
			fdb_flush_port(&p->net->fdb, p->idx);
		if (p->kind == PORT_PLAIN) {
			port_send_env(sw, p->rid, p->rid_len, &env);
			told++;
		}
	}
	return told;
}
