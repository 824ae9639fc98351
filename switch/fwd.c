/* fwd.c - the switch's forwarding pass: input, forward, enqueue, flush */

/*
 * DOC: Theory of operation
 *
 * The switch is one ROUTER socket (CURVE server, ZAP fail-closed) and one
 * loop. switch_input() reads up to SWITCH_PASS_BUDGET messages; each goes
 * to handle_msg() (one decode, zero-copy: frames point into the message),
 * which hands session messages to port.c and frames, as struct frame[]
 * (codec_batch_frames(): FRAME_VNET, and a trunk's network index in .net),
 * to forward().
 *
 * Forwarding, per frame: runts, giants and multicast sources are dropped
 * and counted on the input port, then source MACs the port may not send
 * (--lock-mac, its key's macs policy) and new sources over its MAC limit;
 * the source is learnt per (network, VLAN) (a VLAN port's frames are
 * classified and filtered by vlanport.c, which also gives every output
 * port its form of the frame); broadcast, multicast and
 * unknown unicast go to every other port of the network; known unicast to
 * one port; nothing goes back out its source port.
 *
 * Frames are not sent one by one: enqueue() adds each to its destination's
 * batch (p->out, a copy of its struct frame with .net set to the network's
 * place in that batch's names), and the pass ends (switch_pass_end()) with
 * one FrameBatch message per port that got something (or earlier, when a
 * batch is full). The pass's messages stay alive until then, because the
 * queued frames point into them. Sends never block (ROUTER_MANDATORY +
 * DONTWAIT): a full peer costs tail drops on that peer only; an unreachable
 * one is removed, which is safe at any point of the pass (see port.c).
 */

#include <errno.h>
#include <string.h>

#include "capture.h"
#include "impair.h"
#include "log.h"
#include "port.h"
#include "portconf.h"
#include "uplink.h"
#include "util.h"
#include "vlanport.h"

static struct ratelimit rl_proto = RATELIMIT_INIT;
static struct ratelimit rl_nowelcome = { 0, 1000, 100, 0, 0 };

const char *const drop_names[DROP_MAX] = {
#define X(name, text) #name,
	DROP_REASONS(X)
#undef X
};

static void handle_msg(struct vswitch *sw, const uint8_t *r, size_t rlen, const char *key,
		       const char *peer, zmq_msg_t *msg, uint64_t now);
static void forward_batch(struct vswitch *sw, struct port *in, const struct frame *f, size_t nf,
			  const Vmfabric__FrameBatch *b, uint64_t now);
static void forward(struct vswitch *sw, struct port *in, struct network *n,
		    const struct frame *f, uint64_t now);
static void enqueue(struct vswitch *sw, struct port *p, struct network *n,
		    const struct frame *f, struct vlan_frame *vf);
static void flush_all(struct vswitch *sw);

/* --- input ------------------------------------------------------------- */

void switch_input(struct vswitch *sw)
{
	uint64_t now = now_ms();
	int budget;

	for (budget = SWITCH_PASS_BUDGET; budget > 0; budget--) {
		zmq_msg_t rid, msg;
		int more;

		zmq_msg_init(&rid);
		if (zmq_msg_recv(&rid, sw->router, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&rid);
			break;
		}
		zmq_msg_init(&msg);
		if (!zmq_msg_more(&rid) || zmq_msg_recv(&msg, sw->router, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&msg);
			zmq_msg_close(&rid);
			continue;
		}
		more = zmq_msg_more(&msg);
		if (more) {
			/* one part per message is the protocol; drop the lot */
			zmq_msg_t rest;
			uint32_t idx;

			zmq_msg_init(&rest);
			while (more && zmq_msg_recv(&rest, sw->router, ZMQ_DONTWAIT) >= 0)
				more = zmq_msg_more(&rest);
			zmq_msg_close(&rest);
			sw->ctr.multipart++;
			idx = port_by_rid(sw, zmq_msg_data(&rid), zmq_msg_size(&rid));
			if (idx != RID_FREE) {
				const char *key = sw->zap ? zmq_msg_gets(&msg, "User-Id") : "";

				if (key && !strcmp(key, sw->ports[idx].key)) {
					sw->ports[idx].ctr.drops[DROP_malformed]++;
					port_remove(sw, &sw->ports[idx], VMF_ERR_MALFORMED,
						    "multi-part message");
				}
			}
		} else {
			/* the metadata belongs to the message: read it before it moves */
			const char *key = sw->zap ? zmq_msg_gets(&msg, "User-Id") : NULL;
			const char *peer = zmq_msg_gets(&msg, "Peer-Address");
			char kbuf[CERT_Z85_LEN + 1], pbuf[64];

			str_copy(kbuf, key ? key : "", sizeof(kbuf));
			str_copy(pbuf, peer ? peer : "", sizeof(pbuf));
			switch_message(sw, zmq_msg_data(&rid), zmq_msg_size(&rid), key ? kbuf : NULL,
				       peer ? pbuf : NULL, &msg, now);
		}
		zmq_msg_close(&msg);
		zmq_msg_close(&rid);
	}
	switch_pass_end(sw);
}

void switch_message(struct vswitch *sw, const uint8_t *rid, size_t rid_len, const char *key,
		    const char *peer, zmq_msg_t *msg, uint64_t now)
{
	zmq_msg_t *live;

	/*
	 * Queued output points into this pass's messages (frames are not
	 * copied out of them) and the arena: end the pass before either fills.
	 */
	if (sw->n_live == SWITCH_PASS_BUDGET || sw->arena.cap - sw->arena.used < 2 * (size_t)VMF_MAX_MSG ||
	    vlan_buf_low(&sw->vbuf))
		switch_pass_end(sw);
	live = &sw->live[sw->n_live++];
	zmq_msg_init(live);
	zmq_msg_move(live, msg);
	handle_msg(sw, rid, rid_len, key, peer, live, now);
}

static void handle_msg(struct vswitch *sw, const uint8_t *r, size_t rlen, const char *key,
		       const char *peer, zmq_msg_t *msg, uint64_t now)
{
	uint32_t idx = port_by_rid(sw, r, rlen);
	struct port *p = idx == RID_FREE ? NULL : &sw->ports[idx];
	Vmfabric__Envelope *env;
	int rc;

	if (!key)
		key = "";
	if (sw->zap && !*key) {
		/* CURVE with ZAP always sets User-Id; without it the message proves nothing */
		sw->ctr.key_mismatch++;
		return;
	}
	if (p && strcmp(p->key, key)) {
		sw->ctr.key_mismatch++;
		log_rl(&rl_proto, LOG_WARNING, "message for port %s from another key (%.8s...): dropped",
		       p->name, key);
		return;
	}
	rc = codec_decode_zc(&sw->arena, zmq_msg_data(msg), zmq_msg_size(msg), &env);
	if (rc) {
		if (p) {
			p->ctr.drops[DROP_malformed]++;
			log_rl(&rl_proto, LOG_WARNING, "port %s: malformed message (%zu bytes): %s",
			       p->name, zmq_msg_size(msg), strerror(-rc));
			port_remove(sw, p, VMF_ERR_MALFORMED, "malformed message");
		} else {
			sw->ctr.malformed++;
			log_rl(&rl_proto, LOG_WARNING, "malformed message (%zu bytes) from key %.8s...: %s",
			       zmq_msg_size(msg), *key ? key : "none", strerror(-rc));
			port_send_error(sw, r, rlen, VMF_ERR_MALFORMED, "malformed message");
		}
		return;
	}
	if (p)
		p->last_rx_ms = now;

	switch (env->msg_case) {
	case VMFABRIC__ENVELOPE__MSG_HELLO:
		port_hello(sw, r, rlen, key, peer, p, env->hello, now);
		return;
	case VMFABRIC__ENVELOPE__MSG_BATCH: {
		struct frame f[VMF_MAX_BATCH_FRAMES];

		if (!p)
			break;
		forward_batch(sw, p, f, codec_batch_frames(env->batch, f), env->batch, now);
		return;
	}
	case VMFABRIC__ENVELOPE__MSG_KEEPALIVE:
		if (!p)
			break;
		{
			Vmfabric__Envelope reply = VMFABRIC__ENVELOPE__INIT;

			reply.msg_case = VMFABRIC__ENVELOPE__MSG_KEEPALIVE;
			reply.keepalive = env->keepalive;
			port_send_env(sw, r, rlen, &reply);
		}
		return;
	case VMFABRIC__ENVELOPE__MSG_BYE:
		if (p)
			port_remove(sw, p, 0, *env->bye->reason ? env->bye->reason : "bye");
		return;
	default:
		/* Welcome and Error only ever travel from the switch */
		if (p) {
			p->ctr.drops[DROP_malformed]++;
			port_remove(sw, p, VMF_ERR_MALFORMED, "unexpected message type");
		} else {
			sw->ctr.malformed++;
		}
		return;
	}
	/* data or keepalive before Welcome */
	sw->ctr.unknown_port++;
	if (ratelimit_ok(&rl_nowelcome))
		port_send_error(sw, r, rlen, VMF_ERR_NOT_WELCOMED, "send Hello first");
}

/* --- forwarding -------------------------------------------------------- */

/*
 * The @nf frames @f of batch @b from @in. A plain port's frames belong to
 * its network (tags from it are ignored); a trunk's or the uplink's each
 * name theirs (f[i].net into b->nets), resolved once per batch: a network
 * the trunk does not carry, or an untagged frame, is dropped (not_carried);
 * one this switch has not seen is made.
 */
static void forward_batch(struct vswitch *sw, struct port *in, const struct frame *f, size_t nf,
			  const Vmfabric__FrameBatch *b, uint64_t now)
{
	struct network *nets[VMF_MAX_BATCH_NETS];

	in->ctr.rx_msgs++;
	if (in->pconf && in->pconf->link_down) {
		in->ctr.drops[DROP_link_down] += nf;
		return;
	}
	if (in->kind != PORT_PLAIN)
		for (size_t k = 0; k < b->n_nets; k++)
			nets[k] = port_net(sw, in, b->nets[k]);
	for (size_t i = 0; i < nf && in->used; i++) {
		struct network *n = in->kind == PORT_PLAIN ? in->net : b->n_net ? nets[f[i].net] : NULL;

		if (!n) {
			in->ctr.drops[DROP_not_carried]++;
			continue;
		}
		forward(sw, in, n, &f[i], now);
	}
}

void switch_uplink_input(struct vswitch *sw)
{
	Vmfabric__FrameBatch *b;
	struct frame *f;
	size_t nf;
	uint64_t now = now_ms();

	for (int budget = 64; budget > 0 && uplink_recv(sw->uplink, &f, &nf, &b) == 1; budget--) {
		if (!sw->up)
			continue;
		sw->up->last_rx_ms = now;
		forward_batch(sw, sw->up, f, nf, b, now);
		/* the frames point into the uplink's message, released by its next recv */
		switch_pass_end(sw);
	}
}

/*
 * One frame from @in. FRAME_VNET: it starts with a virtio-net header
 * (codec_decode checked it is there); a GSO super-frame may then exceed the
 * MTU, up to VMF_MAX_FRAME, and the receiving NIC process segments it if it must.
 */
static void forward(struct vswitch *sw, struct port *in, struct network *n,
		    const struct frame *f, uint64_t now)
{
	size_t hl = frame_hdr_len(f), len = f->len - hl;
	const uint8_t *d = f->data + hl;
	size_t max = hl && f->data[1] ? VMF_MAX_FRAME - hl : n->mtu + VMF_ETH_OVERHEAD;
	struct vlan_frame vf = { .in = in->vlan, .drops = in->ctr.drops };
	uint32_t dst;
	int r;

	if (in->imp && impair_take(sw, in, IMPAIR_IN, n, f))
		return;
	if (sw->captures)
		capture_frame(sw, in, n->name, f, CAP_IN);
	if (len < VMF_ETH_HLEN) {
		in->ctr.drops[DROP_runt]++;
		return;
	}
	if (len > max) {
		in->ctr.drops[DROP_giant]++;
		n->giants++;
		return;
	}
	if (d[6] & 1) {
		in->ctr.drops[DROP_src_mcast]++;
		return;
	}
	if ((in->lock && !port_lock_allows(in->lock, d + 6)) || !policy_allows_mac(in->pol, d + 6)) {
		in->ctr.drops[DROP_locked_mac]++;
		return;
	}
	if (!in->vlan) {
		r = vlan_tagged(d, len);
		vf.vid = (uint16_t)(r > 0 ? r : 0);
		vf.tagged = r > 0;
	} else if ((r = vlan_port_in(in, d, len, &vf)) >= 0) {
		in->ctr.drops[r]++;
		return;
	}

	r = fdb_learn(&n->fdb, d + 6, vf.vid, in->idx, now);
	if (r == -EDQUOT) {
		in->ctr.drops[DROP_mac_limit]++;
		return;
	}
	in->ctr.rx_frames++;
	in->ctr.rx_bytes += len;
	if (r == FDB_MOVED)
		in->ctr.mac_moves++;
	else if (r == -ENOSPC)
		in->ctr.fdb_full++;

	if (!(d[0] & 1)) {
		dst = fdb_lookup(&n->fdb, d, vf.vid, now);
		if (dst == in->idx) {
			in->ctr.drops[DROP_hairpin]++;
			return;
		}
		if (dst != FDB_EMPTY) {
			enqueue(sw, &sw->ports[dst], n, f, &vf);
			return;
		}
	}
	in->ctr.flooded++;
	n->flooded++;
	/*
	 * enqueue() may end a port (its peer is gone); it stays in n->ports
	 * until the reap. A frame never goes back out the port, trunk or
	 * uplink it came in on, so a tree of switches cannot loop it.
	 */
	for (uint32_t i = 0; i < n->n_ports; i++)
		if (n->ports[i] != in->idx)
			enqueue(sw, &sw->ports[n->ports[i]], n, f, &vf);
}

/* --- output: per-port batches, sent at the end of the pass ------------- */

/* Send everything queued for @p as one FrameBatch. */
static void port_flush(struct vswitch *sw, struct port *p)
{
	zmq_msg_t m;
	int rc;

	if (!p->used || !p->out_n)
		return;
	rc = p->kind == PORT_PLAIN ? codec_pack_batch(p->out, p->out_n, &m) :
		codec_pack_batch_trunk(p->out, p->out_n, p->out_nets, p->n_out_nets, &m);
	if (!rc)
		rc = p->kind == PORT_UPLINK ? uplink_send_msg(sw->uplink, &m, p->out_n)
					    : port_send(sw, p->rid, p->rid_len, &m);
	if (!rc) {
		p->ctr.tx_msgs++;
		p->ctr.tx_frames += p->out_n;
		/* Ethernet bytes, like rx_bytes: virtio-net headers are not counted */
		p->ctr.tx_bytes += p->out_bytes - (size_t)VMF_VNET_HDR_LEN * p->out_n_vnet;
		sw->ctr.batches_out++;
		sw->ctr.frames_out += p->out_n;
	} else if (rc == -EHOSTUNREACH) {
		p->ctr.drops[DROP_tx_unreachable] += p->out_n;
	} else {
		p->ctr.drops[DROP_tx_full] += p->out_n;
	}
	p->out_n = 0;
	p->out_n_vnet = 0;
	p->out_bytes = 0;
	p->n_out_nets = 0;
	if (rc == -EHOSTUNREACH && p->kind != PORT_UPLINK)
		port_remove(sw, p, 0, "connection gone");
}

/* The index of network @n in @p's batch (trunks and the uplink tag every frame). */
static uint32_t out_net_index(struct port *p, struct network *n)
{
	for (uint32_t k = 0; k < p->n_out_nets; k++)
		if (p->out_nets[k] == n->name)
			return k;
	p->out_nets[p->n_out_nets] = n->name;
	return p->n_out_nets++;
}

/* @vf: the frame's VLAN (NULL: the switch's own frame, as it is) */
static void enqueue(struct vswitch *sw, struct port *p, struct network *n,
		    const struct frame *f, struct vlan_frame *vf)
{
	struct frame *o;

	if (vf && (vf->in || p->vlan) && p->used && !(f = vlan_port_out(sw, p, vf, f)))
		return;
	if (p->imp && impair_take(sw, p, IMPAIR_OUT, n, f))
		return;
	if (p->out_n == VMF_MAX_BATCH_FRAMES || p->out_bytes + f->len > VMF_MAX_BATCH_BYTES ||
	    p->n_out_nets == VMF_MAX_BATCH_NETS)
		port_flush(sw, p);
	if (!p->used)
		return;	/* gone, or just removed by the flush: nothing more reaches it */
	if (p->pconf && p->pconf->link_down) {
		p->ctr.drops[DROP_link_down]++;
		return;
	}
	if (sw->captures)
		capture_frame(sw, p, n->name, f, CAP_OUT);
	o = &p->out[p->out_n++];
	*o = *f;
	o->net = p->kind != PORT_PLAIN ? (uint16_t)out_net_index(p, n) : 0;
	p->out_n_vnet += f->flags & FRAME_VNET;
	p->out_bytes += f->len;
	if (!p->dirty) {
		p->dirty = 1;
		sw->dirty[sw->n_dirty++] = p->idx;
	}
}

void switch_impair_deliver(struct vswitch *sw, struct port *p, struct network *n,
			   const struct frame *f, int dir)
{
	if (dir == IMPAIR_IN)
		forward(sw, p, n, f, now_ms());
	else
		enqueue(sw, p, n, f, NULL);	/* its VLAN tag was set before it was held */
}

static void flush_all(struct vswitch *sw)
{
	for (uint32_t i = 0; i < sw->n_dirty; i++) {
		struct port *p = &sw->ports[sw->dirty[i]];

		p->dirty = 0;
		port_flush(sw, p);
	}
	sw->n_dirty = 0;
	if (sw->captures)
		capture_flush(sw);
}

void switch_pass_end(struct vswitch *sw)
{
	flush_all(sw);
	port_reap(sw);
	codec_arena_reset(&sw->arena);
	sw->vbuf.used = 0;
	for (uint32_t i = 0; i < sw->n_live; i++)
		zmq_msg_close(&sw->live[i]);
	sw->n_live = 0;
}

/*
 * After the uplink comes up (first time, or after a move), every MAC this
 * switch reaches below itself is announced to the parent with a gratuitous
 * RARP, as a port does after a move: every switch above learns at once
 * where they are, instead of flooding to find out.
 */
void switch_announce(struct vswitch *sw)
{
	static uint8_t frames[VMF_MAX_BATCH_FRAMES][60 + VLAN_TAG_LEN];
	struct port *up = sw->up;
	uint64_t now = now_ms();
	size_t n = 0, total = 0;

	if (!up || !up->used)
		return;
	for (long i = 0; i < sw->conf.max_networks; i++) {
		struct network *net = &sw->nets[i];
		const struct fdb_entry *e;
		size_t pos = 0;

		if (!net->used || !switch_carries(up, net->name))
			continue;
		while ((e = fdb_next(&net->fdb, &pos, now))) {
			struct frame f = { frames[n], 60, 0, 0 };
			uint8_t rarp[60];

			if (e->port == up->idx)
				continue;
			uplink_rarp_frame(rarp, e->mac);
			/* in its VLAN (the trunk's internal form), so that the parent learns it there */
			if (e->vlan)
				f.len = (uint32_t)vlan_push(frames[n], rarp, sizeof(rarp), 0, e->vlan);
			else
				memcpy(frames[n], rarp, sizeof(rarp));
			enqueue(sw, up, net, &f, NULL);
			total++;
			if (++n == VMF_MAX_BATCH_FRAMES) {
				flush_all(sw);	/* the frames live in one static array */
				n = 0;
			}
		}
	}
	flush_all(sw);
	if (total)
		debug("uplink: announced %zu MACs to the parent", total);
}
