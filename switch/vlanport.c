/* vlanport.c - VLANs on the switch's ports: settings, precedence, forwarding hooks */

/*
 * DOC: Theory of operation
 *
 * The rules are vlan.c's; this file puts them on the switch's ports.
 *
 * Settings. A port's 802.1Q setting comes, strongest first, from
 * "vmfabric-ctl port NAME vlan ..." and --port-vlan NAME=SPEC (both kept by
 * port name in its portconf entry, the later one winning: the option is read
 * at start), then from its key's policy (vlans = "..."), else none. The
 * result is one pointer, port->vlan, set at Hello, when a setting is made
 * live, and when the keys are reloaded (SIGHUP): NULL means transparent,
 * and costs forward() one test per frame and enqueue() two. "vlan none"
 * from vmfabric-ctl makes a port transparent whatever its key's policy
 * says (the administrator's word is the strongest); a restarted switch
 * applies the policy again.
 *
 * Inside the switch every frame has a VLAN: a VLAN port's from its
 * classification (vlan.h), a transparent port's from its outer 0x8100 tag,
 * 0 when it has none (as before VLANs existed: the MAC table is keyed by
 * (MAC, VLAN) in each network). Frames are not rewritten on the way in
 * (they stay in the received message, zero-copy); on the way out each
 * port gets the form it needs:
 *  - an access port, or a trunk port's native VLAN: untagged;
 *  - a trunk port's listed VLANs: tagged;
 *  - a transparent port, and trunks and uplinks between switches: the
 *    internal form, tagged with the frame's VLAN (untagged when it has
 *    none). So VLANs cross a tree of switches; the switch at the other end
 *    reads the tag as a transparent port's, and a VLAN-0 frame from a
 *    transparent port never reaches a VLAN port.
 * Transparent ports thus stand for "every VLAN, tagged": isolation
 * between VLANs holds among VLAN ports, so a network that needs it has
 * every port set (a key's policy can make sure).
 * A frame whose form differs from the stored one gets one copy per frame
 * (tag pushed or popped, made on first need and shared by every port that
 * takes that form) in the switch's per-pass buffer sw->vbuf, reset when
 * the pass ends; switch_message() ends a pass early when the buffer has no
 * room for one more message's copies. Nothing is allocated per frame.
 *
 * No VLAN hopping: a tagged frame on an access port is dropped
 * (vlan_tagged_on_access); on a trunk only the outer tag counts; and a
 * frame whose tag pop would uncover another tag (double-tagged) never
 * leaves a port untagged: it is kept from that port and counted on its
 * input port (vlan_double_tag). Other drops, counted on the input port:
 * vlan_denied (VLAN not allowed on the port, priority-tagged, S-tag),
 * vlan_untagged (untagged frame on a trunk port without a native VLAN).
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fdb.h"
#include "log.h"
#include "portconf.h"
#include "util.h"
#include "vlanport.h"

int vlan_port_in(struct port *in, const uint8_t *eth, size_t len, struct vlan_frame *vf)
{
	int tagged;

	switch (vlan_classify(in->vlan, eth, len, &vf->vid, &tagged)) {
	case VLAN_OK:
		vf->tagged = tagged;
		return -1;
	case VLAN_TAGGED_ON_ACCESS:
		return DROP_vlan_tagged_on_access;
	case VLAN_UNTAGGED:
		return DROP_vlan_untagged;
	case VLAN_SHORT:
		return DROP_runt;
	default:
		return DROP_vlan_denied;
	}
}

/* The frame, once its outer tag is gone, still starts with a tag. */
static int inner_tag(const struct frame *f, size_t hl)
{
	const uint8_t *e = f->data + hl;

	return f->len >= hl + 18 && vlan_is_tpid((uint16_t)(e[16] << 8 | e[17]));
}

const struct frame *vlan_port_out(struct vswitch *sw, struct port *p, struct vlan_frame *vf,
				  const struct frame *f)
{
	size_t hl = frame_hdr_len(f), len;
	uint8_t *dst;
	int want;

	if (!p->vlan) {
		if (!vf->vid || vf->tagged)
			return f;
		want = 1;	/* the internal form */
	} else {
		enum vlan_out o = vlan_egress(p->vlan, vf->vid);

		if (o == VLAN_OUT_SKIP)
			return NULL;
		want = o == VLAN_OUT_TAGGED;
	}
	if (want == vf->tagged)
		return f;
	if (!want && inner_tag(f, hl)) {
		vf->drops[DROP_vlan_double_tag]++;
		return NULL;
	}
	if (vf->alt.len)
		return &vf->alt;
	if (sw->vbuf.cap - sw->vbuf.used < f->len + VLAN_TAG_LEN) {
		p->ctr.drops[DROP_tx_full]++;	/* not when the pass ends in time (switch_message) */
		return NULL;
	}
	dst = sw->vbuf.mem + sw->vbuf.used;
	len = want ? vlan_push(dst, f->data, f->len, hl, vf->vid) : vlan_pop(dst, f->data, f->len, hl);
	if (!len) {
		vf->drops[DROP_malformed]++;	/* a virtio-net header pointing into the tag */
		return NULL;
	}
	sw->vbuf.used += len;
	vf->alt = (struct frame){ dst, (uint32_t)len, f->flags, f->net };
	return &vf->alt;
}

/* The pass's buffer, made when the first port gets a setting. */
static int vbuf_init(struct vswitch *sw)
{
	if (sw->vbuf.cap)
		return 0;
	sw->vbuf.mem = malloc(2 * (size_t)VLAN_BUF_NEED);
	if (!sw->vbuf.mem)
		return -ENOMEM;
	sw->vbuf.cap = 2 * (size_t)VLAN_BUF_NEED;
	sw->vbuf.used = 0;
	return 0;
}

void vlan_buf_free(struct vlan_buf *b)
{
	if (!b)
		return;
	free(b->mem);
	b->mem = NULL;
	b->cap = b->used = 0;
}

void vlan_port_resolve(struct vswitch *sw, struct port *p)
{
	const struct vlan_conf *c = NULL;

	if (p->kind == PORT_PLAIN) {
		if (p->pconf && p->pconf->vlan_set)
			c = &p->pconf->vlan;
		else if (p->pol && (p->pol->set & POLICY_VLANS))
			c = &p->pol->vlans;
	}
	p->vlan = c && c->mode != VLAN_NONE ? c : NULL;
	if (p->vlan && vbuf_init(sw))
		err("port %s: out of memory for VLAN rewrites: frames that need a tag pushed or "
		    "popped are dropped", p->name);
}

const char *vlan_port_source(const struct port *p)
{
	if (p->kind != PORT_PLAIN)
		return "none";	/* a trunk between switches: always the internal form */
	if (p->pconf && p->pconf->vlan_set)
		return p->pconf->vlan_set == VLAN_SRC_CTL ? "ctl" : "option";
	if (p->vlan)
		return "policy";
	return "none";
}

int vlan_port_set(struct vswitch *sw, const char *name, const char *spec, int src, const char **why)
{
	struct vlan_conf c;
	struct port_conf *pc;
	int err = 0, n = 0;

	if (!codec_valid_name(name)) {
		*why = "port names: 1-63 characters of A-Z a-z 0-9 - _ . / : @";
		return -EINVAL;
	}
	if (vlan_parse(spec, &c, why))
		return -EINVAL;
	if (c.mode != VLAN_NONE && vbuf_init(sw)) {
		*why = "out of memory";
		return -ENOMEM;
	}
	pc = portconf_get(sw, name, &err);
	if (!pc) {
		*why = err == -ENOSPC ? "no room for more port settings (--max-ports)" : "bad port name";
		return err;
	}
	pc->vlan = c;
	pc->vlan_set = src;
	for (long i = 0; i < sw->conf.max_ports; i++) {
		struct port *p = &sw->ports[i];

		if (!p->used || p->kind != PORT_PLAIN || p->pconf != pc)
			continue;
		vlan_port_resolve(sw, p);
		/* what it learnt belongs to its old VLANs */
		fdb_flush_port(&p->net->fdb, p->idx);
		n++;
	}
	return n;
}

int vlan_option(struct vswitch *sw, const char *arg, const char **why)
{
	char name[VMF_NAME_MAX];
	const char *eq = strchr(arg, '=');
	int rc;

	if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof(name)) {
		*why = "--port-vlan wants NAME=access:VID or NAME=trunk:VIDS[:native:VID]";
		return -EINVAL;
	}
	memcpy(name, arg, (size_t)(eq - arg));
	name[eq - arg] = '\0';
	rc = vlan_port_set(sw, name, eq + 1, VLAN_SRC_OPTION, why);
	return rc < 0 ? rc : 0;
}

void vlan_port_json(const struct port *p, FILE *f)
{
	const struct vlan_conf *c = p->vlan;
	char list[VLAN_SPEC_MAX];

	fprintf(f, ",\"vlan\":{\"mode\":\"%s\"", !c ? "none" : c->mode == VLAN_ACCESS ? "access" : "trunk");
	if (c && c->mode == VLAN_ACCESS)
		fprintf(f, ",\"vlan\":%u", c->pvid);
	if (c && c->mode == VLAN_TRUNK) {
		vlan_format_list(c, list, sizeof(list));
		fprintf(f, ",\"allowed\":\"%s\",\"native\":%u", list, c->pvid);
	}
	fprintf(f, ",\"source\":\"%s\"}", vlan_port_source(p));
}

void vlan_port_text(const struct port *p, FILE *f)
{
	char spec[VLAN_SPEC_MAX];

	if (!p->vlan && strcmp(vlan_port_source(p), "ctl"))
		return;
	if (p->vlan)
		vlan_format(p->vlan, spec, sizeof(spec), ' ');
	else
		str_copy(spec, "none", sizeof(spec));
	fprintf(f, "    vlan %s (%s)\n", spec, vlan_port_source(p));
}
