/* vlanport.h - VLANs on the switch's ports: settings, precedence, forwarding hooks */
#ifndef VMF_VLANPORT_H
#define VMF_VLANPORT_H

#include <stdio.h>

#include "switch.h"
#include "vlan.h"

/* Room for the copies one message can need: each frame once, 4 bytes longer. */
#define VLAN_BUF_NEED	((size_t)VMF_MAX_MSG + VMF_MAX_BATCH_FRAMES * VLAN_TAG_LEN)

/* Where a port's setting in its portconf entry came from (port_conf.vlan_set). */
enum { VLAN_SRC_NONE, VLAN_SRC_OPTION, VLAN_SRC_CTL };

/**
 * struct vlan_frame - one frame on its way through forward(): its VLAN,
 * the form it is stored in, and its other form once made
 * @in:		the input port's setting (NULL: transparent, or a trunk of switches)
 * @drops:	the input port's drop counters
 * @vid:	its VLAN (0: none, from a transparent port)
 * @tagged:	the stored frame carries the tag of @vid
 * @alt:	the other form (tag pushed or popped), in the pass's buffer; len 0: not made yet
 */
struct vlan_frame {
	const struct vlan_conf *in;
	uint64_t *drops;
	uint16_t vid;
	int tagged;
	struct frame alt;
};

/**
 * vlan_port_in() - classify frame @eth (@len bytes, Ethernet) from port
 * @in into @vf. Return: -1 to forward it, else the DROP_ reason to count
 */
int vlan_port_in(struct port *in, const uint8_t *eth, size_t len, struct vlan_frame *vf);

/**
 * vlan_port_out() - the form of @f (its virtio-net header, if any, kept) that
 * port @p gets, or NULL when the frame is not for it. Only called when the
 * input or the output port has a setting.
 */
const struct frame *vlan_port_out(struct vswitch *sw, struct port *p, struct vlan_frame *vf,
				  const struct frame *f);

/** vlan_port_resolve() - point p->vlan at its setting: vmfabric-ctl or option, else its key's policy */
void vlan_port_resolve(struct vswitch *sw, struct port *p);

/** vlan_port_source() - "ctl", "option", "policy" or "none": where @p's setting comes from */
const char *vlan_port_source(const struct port *p);

/**
 * vlan_port_set() - give port name @name the setting @spec (vlan_parse()
 * syntax) from @src, at once on its live ports (their MAC entries go).
 * Return: the number of live ports it applies to, or -errno with *@why set
 */
int vlan_port_set(struct vswitch *sw, const char *name, const char *spec, int src, const char **why);

/** vlan_option() - one --port-vlan NAME=SPEC; Return: 0 or -errno with *@why set */
int vlan_option(struct vswitch *sw, const char *arg, const char **why);

/** vlan_buf_low() - too little room left in the pass's buffer for one more message's copies */
static inline int vlan_buf_low(const struct vlan_buf *b)
{
	return b->cap && b->cap - b->used < VLAN_BUF_NEED;
}

void vlan_buf_free(struct vlan_buf *b);

/** vlan_port_json() - ',"vlan":{...}' for @p's entry in "ports" */
void vlan_port_json(const struct port *p, FILE *f);

/** vlan_port_text() - a "    vlan ..." line under @p in "vmfabric-ctl ports" (none when transparent) */
void vlan_port_text(const struct port *p, FILE *f);

#endif /* VMF_VLANPORT_H */
