/* portconf.c - settings kept by port name (see portconf.h) */

#include <errno.h>
#include <string.h>

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
