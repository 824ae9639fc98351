/* switch.c - the L2 switch: ports, networks, forwarding, counters */

/*
 * DOC: Theory of operation
 *
 * The switch is one ROUTER socket (CURVE server, ZAP fail-closed) and one
 * loop. Each peer is a DEALER that first sends Hello; a routing id becomes
 * a port only after the switch has answered Welcome.
 *
 * Port life:
 *   unknown --Hello ok--> port --Bye / 3 keepalives missed / key revoked /
 *   unreachable / malformed message--> gone (MAC entries flushed)
 * A Hello for (network, name) that already exists with the same key takes
 * the old port over (a restarted NIC process); with another key it is
 * refused (VMF_ERR_DUPLICATE). Data or keepalives from a routing id
 * without a port get Error NOT_WELCOMED (rate limited), which makes a NIC
 * process whose switch restarted send Hello again.
 *
 * Identity: the routing id is chosen by the client and proves nothing; each
 * port is bound to the Z85 key its connection authenticated with (User-Id
 * from ZAP), and a message whose User-Id differs is dropped and counted.
 *
 * Forwarding, per frame: runts, giants and multicast sources are dropped
 * and counted on the input port; the source is learnt per (network, VLAN);
 * broadcast, multicast and unknown unicast go to every other port of the
 * network; known unicast to one port; nothing goes back out its source
 * port. Frames are not sent one by one: each destination port collects what
 * it gets during one pass over the input, and the pass ends with one
 * FrameBatch message per port (or earlier, when a batch is full). Sends
 * never block (ROUTER_MANDATORY + DONTWAIT): a full peer costs tail drops
 * on that peer only; an unreachable one is removed.
 */

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "switch.h"
#include "siphash.h"
#include "util.h"

const char *const drop_names[DROP_MAX] = {
#define X(name, text) #name,
	DROP_REASONS(X)
#undef X
};

#define RID_TOMB	(UINT32_MAX - 1)

/* Hellos a key may send: a burst, then this many per second. */
#define HELLO_BURST	32
#define HELLO_RATE	16

static struct ratelimit rl_proto = RATELIMIT_INIT;
static struct ratelimit rl_nowelcome = { 0, 1000, 100, 0, 0 };
static struct ratelimit rl_joinleave = { 0, 5000, 64, 0, 0 };

/* --- routing id table -------------------------------------------------- */

/* Routing ids are chosen by the peer: hash them with the switch's secret key. */
static size_t rid_home(const struct vswitch *sw, const uint8_t *rid, size_t len)
{
	return (size_t)siphash13(&sw->rid_key, rid, len) & sw->rid_mask;
}

static uint32_t rid_find(struct vswitch *sw, const uint8_t *rid, size_t len)
{
	size_t i = rid_home(sw, rid, len);

	for (;; i = (i + 1) & sw->rid_mask) {
		uint32_t v = sw->rid_tab[i];

		if (v == RID_FREE)
			return RID_FREE;
		if (v != RID_TOMB && sw->ports[v].rid_len == len &&
		    !memcmp(sw->ports[v].rid, rid, len))
			return v;
	}
}

static void rid_insert(struct vswitch *sw, uint32_t idx)
{
	struct port *p = &sw->ports[idx];
	size_t i = rid_home(sw, p->rid, p->rid_len);

	while (sw->rid_tab[i] != RID_FREE && sw->rid_tab[i] != RID_TOMB)
		i = (i + 1) & sw->rid_mask;
	if (sw->rid_tab[i] == RID_TOMB)
		sw->rid_tombs--;
	sw->rid_tab[i] = idx;
}

static void rid_remove(struct vswitch *sw, uint32_t idx)
{
	struct port *p = &sw->ports[idx];
	size_t i = rid_home(sw, p->rid, p->rid_len);

	for (; sw->rid_tab[i] != RID_FREE; i = (i + 1) & sw->rid_mask) {
		if (sw->rid_tab[i] == idx) {
			sw->rid_tab[i] = RID_TOMB;
			sw->rid_tombs++;
			break;
		}
	}
	/* many tombstones make misses slow: rebuild from the live ports */
	if (sw->rid_tombs > (sw->rid_mask + 1) / 4) {
		for (i = 0; i <= sw->rid_mask; i++)
			sw->rid_tab[i] = RID_FREE;
		sw->rid_tombs = 0;
		for (i = 0; i < (size_t)sw->conf.max_ports; i++)
			if (sw->ports[i].used && i != idx)
				rid_insert(sw, (uint32_t)i);
	}
}

/* --- sending ------------------------------------------------------------ */

/* Send @payload to @rid without blocking; Return: 0 or -errno. Consumes @payload. */
static int send_to(struct vswitch *sw, const uint8_t *rid, size_t rid_len, zmq_msg_t *payload)
{
	int rc = 0;

	if (zmq_send(sw->router, rid, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
		rc = -errno;
	else if (zmq_msg_send(payload, sw->router, ZMQ_DONTWAIT) < 0)
		rc = -errno;
	if (rc)
		zmq_msg_close(payload);
	return rc;
}

static void send_env(struct vswitch *sw, const uint8_t *rid, size_t rid_len,
		     const Vmfabric__Envelope *env)
{
	zmq_msg_t m;

	if (codec_pack(env, &m))
		return;
	send_to(sw, rid, rid_len, &m);
}

static void send_error(struct vswitch *sw, const uint8_t *rid, size_t rid_len,
		       uint32_t code, const char *text)
{
	Vmfabric__Error e = VMFABRIC__ERROR__INIT;
	Vmfabric__Envelope env = VMFABRIC__ENVELOPE__INIT;

	e.code = code;
	e.text = (char *)(uintptr_t)text;
	env.msg_case = VMFABRIC__ENVELOPE__MSG_ERROR;
	env.error = &e;
	send_env(sw, rid, rid_len, &env);
}

static void port_remove(struct vswitch *sw, struct port *p, uint32_t code, const char *why);

/* Send everything queued for @p as one FrameBatch. */
static void port_flush(struct vswitch *sw, struct port *p)
{
	zmq_msg_t m;
	int rc;

	if (!p->used || !p->out_n)
		return;
	rc = codec_pack_batch_vnet(p->out, p->out_n, p->out_vnet, p->out_n_vnet, &m);
	if (!rc)
		rc = send_to(sw, p->rid, p->rid_len, &m);
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
	if (rc == -EHOSTUNREACH)
		port_remove(sw, p, 0, "connection gone");
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

/* Capture sees Ethernet frames: skip a virtio-net header. */
static void capture(struct vswitch *sw, const struct port *p, const ProtobufCBinaryData *f,
		    int vnet, int dir)
{
	ProtobufCBinaryData e = { f->len - (vnet ? VMF_VNET_HDR_LEN : 0),
				  f->data + (vnet ? VMF_VNET_HDR_LEN : 0) };

	capture_frame(sw, p, &e, dir);
}

static void enqueue(struct vswitch *sw, struct port *p, const ProtobufCBinaryData *f, int vnet)
{
	if (p->out_n == VMF_MAX_BATCH_FRAMES || p->out_bytes + f->len > VMF_MAX_BATCH_BYTES)
		port_flush(sw, p);
	if (!p->used)
		return;	/* gone, or just removed by the flush: nothing more reaches it */
	if (sw->captures)
		capture(sw, p, f, vnet, CAP_OUT);
	if (vnet)
		p->out_vnet[p->out_n_vnet++] = p->out_n;
	p->out[p->out_n++] = *f;
	p->out_bytes += f->len;
	if (!p->dirty) {
		p->dirty = 1;
		sw->dirty[sw->n_dirty++] = p->idx;
	}
}

/* --- networks and ports ------------------------------------------------- */

static struct network *net_find(struct vswitch *sw, const char *name, struct network **free_net)
{
	*free_net = NULL;
	for (long i = 0; i < sw->conf.max_networks; i++) {
		struct network *n = &sw->nets[i];

		if (n->used && !strcmp(n->name, name))
			return n;
		if (!n->used && !*free_net)
			*free_net = n;
	}
	return NULL;
}

/* A new network in the free slot @n. Return: 0 or -ENOMEM */
static int net_create(struct vswitch *sw, struct network *n, const char *name)
{
	/* the MAC table starts small and grows with use (fdb.c) */
	if (fdb_init(&n->fdb, (size_t)sw->conf.max_macs, (uint64_t)sw->conf.mac_age_s * 1000))
		return -ENOMEM;
	n->ports = calloc((size_t)sw->conf.max_ports, sizeof(uint32_t));
	if (!n->ports) {
		fdb_free(&n->fdb);
		return -ENOMEM;
	}
	n->used = 1;
	str_copy(n->name, name, sizeof(n->name));
	n->mtu = (uint32_t)sw->conf.mtu;
	n->n_ports = 0;
	n->flooded = 0;
	log_rl(&rl_joinleave, LOG_INFO, "network %s created (MTU %u)", name, n->mtu);
	return 0;
}

static void net_free(struct network *n)
{
	fdb_free(&n->fdb);
	free(n->ports);
	n->ports = NULL;
	n->used = 0;
	log_rl(&rl_joinleave, LOG_INFO, "network %s removed (no ports)", n->name);
}

/*
 * Removal is in two steps, so that it is safe wherever it happens: in the
 * middle of a flood over n->ports, while the port has output queued on the
 * dirty list, or between two messages of one pass. port_remove() ends the
 * port at once for everything that looks it up (routing id, MAC table, the
 * "used" flag every sender checks) but keeps its slot and its place in
 * n->ports; ports_reap() gives them back once nothing can point at them:
 * at the end of every pass, and after removals outside a pass. A slot is
 * never reused while it is dying, so no index can be queued twice.
 */
static void port_remove(struct vswitch *sw, struct port *p, uint32_t code, const char *why)
{
	struct network *n = p->net;
	size_t flushed;

	if (!p->used)
		return;
	if (code)
		send_error(sw, p->rid, p->rid_len, code, why);
	flushed = fdb_flush_port(&n->fdb, p->idx);
	rid_remove(sw, p->idx);
	p->used = 0;
	p->dying = 1;
	sw->dead[sw->n_dead++] = p->idx;
	p->out_n = 0;
	p->out_n_vnet = 0;
	p->out_bytes = 0;
	log_rl(&rl_joinleave, LOG_INFO, "port %s left network %s: %s (%zu MAC entries flushed)",
	       p->name, n->name, why, flushed);
}

/* Give back the slots of removed ports that nothing points at any more. */
static void ports_reap(struct vswitch *sw)
{
	uint32_t keep = 0;

	for (uint32_t i = 0; i < sw->n_dead; i++) {
		struct port *p = &sw->ports[sw->dead[i]];
		struct network *n = p->net;

		if (p->dirty) {
			sw->dead[keep++] = p->idx;	/* on the dirty list until the flush */
			continue;
		}
		n->ports[p->net_slot] = n->ports[--n->n_ports];
		sw->ports[n->ports[p->net_slot]].net_slot = p->net_slot;
		p->dying = 0;
		p->net = NULL;
		if (!n->n_ports)
			net_free(n);
	}
	sw->n_dead = keep;
}

static struct port *port_find_name(struct vswitch *sw, struct network *n, const char *name)
{
	for (uint32_t i = 0; i < n->n_ports; i++) {
		struct port *p = &sw->ports[n->ports[i]];

		if (p->used && !strcmp(p->name, name))
			return p;
	}
	return NULL;
}

static struct port *port_alloc(struct vswitch *sw)
{
	for (long i = 0; i < sw->conf.max_ports; i++)
		if (!sw->ports[i].used && !sw->ports[i].dying)
			return &sw->ports[i];
	return NULL;
}

/*
 * The admitted key's entry (policy, Hello budget), or NULL when the key is
 * not (or no longer) admitted. With --insecure there are no keys: every
 * port gets the open default and no Hello budget.
 */
static struct key_entry *key_entry_of(struct vswitch *sw, const char *key)
{
	uint8_t bin[CERT_KEY_LEN];

	if (!sw->zap)
		return NULL;
	if (strlen(key) != CERT_Z85_LEN || !zmq_z85_decode(bin, key))
		return NULL;
	return keyset_find(&sw->zap->keys, bin);
}

/* Take one token from a Hello bucket (HELLO_BURST, refilled at HELLO_RATE/s). */
static int hello_budget(struct key_entry *k, uint64_t now)
{
	uint64_t add;

	if (!k->hello_ms) {
		k->hello_ms = now;
		k->hello_tokens = HELLO_BURST;
	}
	add = (now - k->hello_ms) * HELLO_RATE / 1000;
	if (add) {
		k->hello_tokens = (uint32_t)MIN((uint64_t)HELLO_BURST, k->hello_tokens + add);
		k->hello_ms += add * 1000 / HELLO_RATE;
	}
	if (!k->hello_tokens)
		return 0;
	k->hello_tokens--;
	return 1;
}

/* The MAC entries port @p may hold: its key's max-macs, else --port-macs. */
static uint32_t port_mac_limit(const struct vswitch *sw, const struct port *p)
{
	if (p->pol && (p->pol->set & POLICY_MAX_MACS))
		return p->pol->max_macs;
	return (uint32_t)sw->conf.port_macs;
}

static void handle_hello(struct vswitch *sw, const uint8_t *r, size_t rlen, const char *key,
			 const char *peer, struct port *old, const Vmfabric__Hello *h, uint64_t now)
{
	Vmfabric__Welcome w = VMFABRIC__WELCOME__INIT;
	Vmfabric__Envelope env = VMFABRIC__ENVELOPE__INIT;
	struct key_entry *ke = key_entry_of(sw, key);
	const struct key_policy *pol = ke ? &ke->policy : NULL;
	struct network *n, *free_net;
	struct port *p, *same;
	char text[200];

	if (sw->zap && !ke) {
		sw->ctr.revoked++;
		send_error(sw, r, rlen, VMF_ERR_DENIED, "key not in the authorized directory");
		if (old)
			port_remove(sw, old, 0, "key no longer admitted");
		return;
	}
	/* each Hello costs a table walk and log lines: a key gets a budget of them */
	if (ke && !hello_budget(ke, now)) {
		sw->ctr.hello_limited++;
		log_rl(&rl_proto, LOG_WARNING, "Hello from key %.8s... over its rate (%d/s): dropped",
		       key, HELLO_RATE);
		return;
	}
	if (h->version != VMF_PROTO_VERSION) {
		sw->ctr.bad_version++;
		snprintf(text, sizeof(text), "protocol version %u not supported (switch speaks %d)",
			 h->version, VMF_PROTO_VERSION);
		log_rl(&rl_proto, LOG_WARNING, "refused Hello from %s: %s", key, text);
		send_error(sw, r, rlen, VMF_ERR_VERSION, text);
		if (old)
			port_remove(sw, old, 0, "bad protocol version");
		return;
	}
	if (!codec_valid_name(h->network) || !codec_valid_name(h->port)) {
		sw->ctr.bad_hello++;
		send_error(sw, r, rlen, VMF_ERR_BADNAME,
			   "network and port names: 1-63 characters of A-Z a-z 0-9 - _ . / : @");
		return;
	}
	if (!policy_allows_network(pol, h->network) || !policy_allows_name(pol, h->port)) {
		sw->ctr.policy++;
		snprintf(text, sizeof(text), "this key may not use %s %s", 
			 policy_allows_network(pol, h->network) ? "port name" : "network",
			 policy_allows_network(pol, h->network) ? h->port : h->network);
		log_rl(&rl_proto, LOG_WARNING, "refused Hello from key %.8s...: %s", key, text);
		send_error(sw, r, rlen, VMF_ERR_POLICY, text);
		return;
	}
	/* a second Hello on a live session starts it over */
	if (old)
		port_remove(sw, old, 0, "new Hello on the same connection");

	n = net_find(sw, h->network, &free_net);
	if (!n && pol && !pol->create) {
		sw->ctr.policy++;
		snprintf(text, sizeof(text), "this key may not create network %s (it does not exist)",
			 h->network);
		send_error(sw, r, rlen, VMF_ERR_POLICY, text);
		return;
	}
	if (!n && (!free_net || net_create(sw, free_net, h->network))) {
		send_error(sw, r, rlen, VMF_ERR_FULL, "too many networks on this switch");
		return;
	}
	n = n ? n : free_net;
	same = port_find_name(sw, n, h->port);
	if (same && strcmp(same->key, key)) {
		sw->ctr.bad_hello++;
		send_error(sw, r, rlen, VMF_ERR_DUPLICATE, "port name in use by another key");
		log_rl(&rl_proto, LOG_WARNING, "refused port %s on %s: name held by another key",
		       h->port, h->network);
		goto unused;
	}
	if (same) {
		sw->ctr.takeovers++;
		port_remove(sw, same, VMF_ERR_DUPLICATE, "taken over by a new session of the same key");
	}
	p = port_alloc(sw);
	if (!p) {
		/* between two messages: slots of ports removed so far may be free */
		ports_reap(sw);
		p = port_alloc(sw);
	}
	if (!p) {
		send_error(sw, r, rlen, VMF_ERR_FULL, "switch port table full");
		goto unused;
	}
	memset(&p->ctr, 0, sizeof(p->ctr));
	p->used = 1;
	p->idx = (uint32_t)(p - sw->ports);
	p->id = ++sw->next_id;
	memcpy(p->rid, r, rlen);
	p->rid_len = (uint8_t)rlen;
	str_copy(p->key, key, sizeof(p->key));
	str_copy(p->name, h->port, sizeof(p->name));
	str_copy(p->peer, peer ? peer : "", sizeof(p->peer));
	p->net = n;
	p->pol = pol;
	p->lock = NULL;
	for (size_t k = 0; k < sw->n_locks; k++)
		if (!strcmp(sw->locks[k].port, p->name))
			p->lock = &sw->locks[k];
	p->net_slot = n->n_ports;
	n->ports[n->n_ports++] = p->idx;
	p->since_ms = p->last_rx_ms = now;
	p->out_n = 0;
	p->out_n_vnet = 0;
	p->out_bytes = 0;
	p->dirty = 0;
	rid_insert(sw, p->idx);
	fdb_port_limit(&n->fdb, p->idx, port_mac_limit(sw, p));

	w.port_id = p->id;
	w.mtu = n->mtu;
	w.keepalive_ms = (uint32_t)sw->conf.keepalive_ms;
	env.msg_case = VMFABRIC__ENVELOPE__MSG_WELCOME;
	env.welcome = &w;
	send_env(sw, r, rlen, &env);
	log_rl(&rl_joinleave, LOG_INFO, "port %s joined network %s (id %u, key %.8s..., %u ports)",
	       p->name, n->name, p->id, *key ? key : "none", n->n_ports);
	return;
unused:
	/* a network created for this Hello and left without ports goes again */
	if (!n->n_ports)
		net_free(n);
}

int mac_lock_parse(const char *spec, struct mac_lock *l, const char **why)
{
	const char *eq = strchr(spec, '='), *m;

	memset(l, 0, sizeof(*l));
	if (!eq || eq == spec || (size_t)(eq - spec) >= sizeof(l->port)) {
		*why = "--lock-mac needs PORTNAME=MAC[,MAC...]";
		return -EINVAL;
	}
	memcpy(l->port, spec, (size_t)(eq - spec));
	if (!codec_valid_name(l->port)) {
		*why = "--lock-mac: invalid port name";
		return -EINVAL;
	}
	for (m = eq + 1; *m; ) {
		unsigned int b[6];
		int used = 0;

		if (l->n == LOCK_MACS_MAX) {
			*why = "--lock-mac: at most 16 MACs per port";
			return -EINVAL;
		}
		if (sscanf(m, "%2x:%2x:%2x:%2x:%2x:%2x%n", &b[0], &b[1], &b[2], &b[3], &b[4],
			   &b[5], &used) != 6 || used != 17 || (m[used] && m[used] != ',') || (b[0] & 1)) {
			*why = "--lock-mac: MACs are unicast xx:xx:xx:xx:xx:xx, separated by commas";
			return -EINVAL;
		}
		for (int i = 0; i < 6; i++)
			l->macs[l->n][i] = (uint8_t)b[i];
		l->n++;
		m += used;
		if (*m == ',' && !*++m) {
			*why = "--lock-mac: trailing comma";
			return -EINVAL;
		}
	}
	if (!l->n) {
		*why = "--lock-mac needs at least one MAC";
		return -EINVAL;
	}
	return 0;
}

static int lock_allows(const struct mac_lock *l, const uint8_t *src)
{
	for (unsigned int i = 0; i < l->n; i++)
		if (!memcmp(l->macs[i], src, 6))
			return 1;
	return 0;
}

/*
 * One frame from @in. @vnet: it starts with a virtio-net header (codec_decode
 * checked it is there); a GSO super-frame may then exceed the MTU, up to
 * VMF_MAX_FRAME, and the receiving NIC process segments it if it must.
 */
static void forward(struct vswitch *sw, struct port *in, const ProtobufCBinaryData *f, int vnet,
		    uint64_t now)
{
	struct network *n = in->net;
	size_t hl = vnet ? VMF_VNET_HDR_LEN : 0, len = f->len - hl;
	const uint8_t *d = f->data + hl;
	size_t max = vnet && f->data[1] ? VMF_MAX_FRAME - hl : n->mtu + VMF_ETH_OVERHEAD;
	uint16_t vlan = 0;
	uint32_t dst;
	int r;

	if (sw->captures)
		capture(sw, in, f, vnet, CAP_IN);
	if (len < VMF_ETH_HLEN) {
		in->ctr.drops[DROP_runt]++;
		return;
	}
	if (len > max) {
		in->ctr.drops[DROP_giant]++;
		return;
	}
	if (d[6] & 1) {
		in->ctr.drops[DROP_src_mcast]++;
		return;
	}
	if ((in->lock && !lock_allows(in->lock, d + 6)) || !policy_allows_mac(in->pol, d + 6)) {
		in->ctr.drops[DROP_locked_mac]++;
		return;
	}
	if (d[12] == 0x81 && d[13] == 0x00 && len >= VMF_ETH_HLEN + 4)
		vlan = (uint16_t)(((d[14] << 8) | d[15]) & 0x0fff);

	r = fdb_learn(&n->fdb, d + 6, vlan, in->idx, now);
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
		dst = fdb_lookup(&n->fdb, d, vlan, now);
		if (dst == in->idx) {
			in->ctr.drops[DROP_hairpin]++;
			return;
		}
		if (dst != FDB_EMPTY) {
			enqueue(sw, &sw->ports[dst], f, vnet);
			return;
		}
	}
	in->ctr.flooded++;
	n->flooded++;
	/* enqueue() may end a port (its peer is gone); it stays in n->ports until the reap */
	for (uint32_t i = 0; i < n->n_ports; i++)
		if (n->ports[i] != in->idx)
			enqueue(sw, &sw->ports[n->ports[i]], f, vnet);
}

static void handle_msg(struct vswitch *sw, const uint8_t *r, size_t rlen, const char *key,
		       const char *peer, zmq_msg_t *msg, uint64_t now)
{
	uint32_t idx = rid_find(sw, r, rlen);
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
			send_error(sw, r, rlen, VMF_ERR_MALFORMED, "malformed message");
		}
		return;
	}
	if (p)
		p->last_rx_ms = now;

	switch (env->msg_case) {
	case VMFABRIC__ENVELOPE__MSG_HELLO:
		handle_hello(sw, r, rlen, key, peer, p, env->hello, now);
		return;
	case VMFABRIC__ENVELOPE__MSG_BATCH:
		if (!p)
			break;
		p->ctr.rx_msgs++;
		for (size_t i = 0, v = 0; i < env->batch->n_frames && p->used; i++) {
			int vnet = v < env->batch->n_vnet && env->batch->vnet[v] == i;

			v += (size_t)vnet;
			forward(sw, p, &env->batch->frames[i], vnet, now);
		}
		return;
	case VMFABRIC__ENVELOPE__MSG_KEEPALIVE:
		if (!p)
			break;
		{
			Vmfabric__Envelope reply = VMFABRIC__ENVELOPE__INIT;

			reply.msg_case = VMFABRIC__ENVELOPE__MSG_KEEPALIVE;
			reply.keepalive = env->keepalive;
			send_env(sw, r, rlen, &reply);
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
		send_error(sw, r, rlen, VMF_ERR_NOT_WELCOMED, "send Hello first");
}

void switch_pass_end(struct vswitch *sw)
{
	flush_all(sw);
	ports_reap(sw);
	codec_arena_reset(&sw->arena);
	for (uint32_t i = 0; i < sw->n_live; i++)
		zmq_msg_close(&sw->live[i]);
	sw->n_live = 0;
}

void switch_message(struct vswitch *sw, const uint8_t *rid, size_t rid_len, const char *key,
		    const char *peer, zmq_msg_t *msg, uint64_t now)
{
	zmq_msg_t *live;

	/*
	 * Queued output points into this pass's messages (frames are not
	 * copied out of them) and the arena: end the pass before either fills.
	 */
	if (sw->n_live == SWITCH_PASS_BUDGET || sw->arena.cap - sw->arena.used < 2 * (size_t)VMF_MAX_MSG)
		switch_pass_end(sw);
	live = &sw->live[sw->n_live++];
	zmq_msg_init(live);
	zmq_msg_move(live, msg);
	handle_msg(sw, rid, rid_len, key, peer, live, now);
}

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
			idx = rid_find(sw, zmq_msg_data(&rid), zmq_msg_size(&rid));
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

void switch_tick(struct vswitch *sw, uint64_t now)
{
	uint64_t dead = 3 * (uint64_t)sw->conf.keepalive_ms;

	for (long i = 0; i < sw->conf.max_ports; i++) {
		struct port *p = &sw->ports[i];

		if (p->used && now - p->last_rx_ms > dead) {
			sw->ctr.expired++;
			port_remove(sw, p, VMF_ERR_EXPIRED, "3 keepalives missed");
		}
	}
	ports_reap(sw);
	for (long i = 0; i < sw->conf.max_networks; i++)
		if (sw->nets[i].used)
			fdb_age(&sw->nets[i].fdb, now);
}

void switch_revoke(struct vswitch *sw)
{
	for (long i = 0; i < sw->conf.max_ports; i++) {
		struct port *p = &sw->ports[i];
		struct key_entry *ke;

		if (!p->used || !sw->zap)
			continue;
		/* the key set was reloaded: policy pointers into the old one are stale */
		ke = key_entry_of(sw, p->key);
		p->pol = ke ? &ke->policy : NULL;
		if (!ke) {
			sw->ctr.revoked++;
			port_remove(sw, p, VMF_ERR_REVOKED, "key removed from the authorized directory");
		} else if (!policy_allows_network(p->pol, p->net->name) ||
			   !policy_allows_name(p->pol, p->name)) {
			sw->ctr.policy++;
			port_remove(sw, p, VMF_ERR_POLICY, "the key's policy no longer allows this port");
		} else {
			fdb_port_limit(&p->net->fdb, p->idx, port_mac_limit(sw, p));
		}
	}
	ports_reap(sw);
}

void switch_shutdown(struct vswitch *sw)
{
	for (long i = 0; i < sw->conf.max_ports; i++)
		if (sw->ports[i].used)
			port_remove(sw, &sw->ports[i], VMF_ERR_SHUTDOWN, "switch shutting down");
	ports_reap(sw);
}

int switch_init(struct vswitch *sw, const struct switch_conf *conf, void *router, struct zap *zap)
{
	size_t n = 16;

	memset(sw, 0, sizeof(*sw));
	sw->conf = *conf;
	sw->router = router;
	sw->zap = zap;
	sw->start_ms = now_ms();
	while (n < 4 * (size_t)conf->max_ports)
		n <<= 1;
	sw->rid_mask = n - 1;
	sw->rid_tab = malloc(n * sizeof(uint32_t));
	sw->ports = calloc((size_t)conf->max_ports, sizeof(*sw->ports));
	sw->nets = calloc((size_t)conf->max_networks, sizeof(*sw->nets));
	sw->dirty = calloc((size_t)conf->max_ports, sizeof(uint32_t));
	sw->dead = calloc((size_t)conf->max_ports, sizeof(uint32_t));
	if (!sw->rid_tab || !sw->ports || !sw->nets || !sw->dirty || !sw->dead ||
	    sip_key_random(&sw->rid_key) || codec_arena_init(&sw->arena, 4 * (size_t)VMF_MAX_MSG)) {
		switch_free(sw);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		sw->rid_tab[i] = RID_FREE;
	return 0;
}

void switch_free(struct vswitch *sw)
{
	if (!sw)
		return;
	for (uint32_t i = 0; i < sw->n_live; i++)
		zmq_msg_close(&sw->live[i]);
	sw->n_live = 0;
	for (long i = 0; sw->nets && i < sw->conf.max_networks; i++) {
		if (sw->nets[i].used) {
			fdb_free(&sw->nets[i].fdb);
			free(sw->nets[i].ports);
		}
	}
	free(sw->nets);
	free(sw->ports);
	free(sw->rid_tab);
	free(sw->dirty);
	free(sw->dead);
	codec_arena_free(&sw->arena);
	sw->nets = NULL;
	sw->ports = NULL;
	sw->rid_tab = NULL;
	sw->dirty = NULL;
	sw->dead = NULL;
}

void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

#define U(x) ((unsigned long long)(x))

void switch_json_totals(struct vswitch *sw, FILE *f)
{
	fprintf(f, "{\"unknown_port\":%llu,\"bad_version\":%llu,\"bad_hello\":%llu,"
		"\"key_mismatch\":%llu,\"malformed\":%llu,\"multipart\":%llu,\"expired\":%llu,"
		"\"revoked\":%llu,\"takeovers\":%llu,\"batches_out\":%llu,\"frames_out\":%llu",
		U(sw->ctr.unknown_port), U(sw->ctr.bad_version), U(sw->ctr.bad_hello),
		U(sw->ctr.key_mismatch), U(sw->ctr.malformed), U(sw->ctr.multipart),
		U(sw->ctr.expired), U(sw->ctr.revoked), U(sw->ctr.takeovers),
		U(sw->ctr.batches_out), U(sw->ctr.frames_out));
	if (sw->zap)
		fprintf(f, ",\"zap_allowed\":%llu,\"zap_denied\":%llu", U(sw->zap->allowed),
			U(sw->zap->denied));
	fputc('}', f);
}

void switch_json_networks(struct vswitch *sw, FILE *f)
{
	int first = 1;

	fputc('[', f);
	for (long i = 0; i < sw->conf.max_networks; i++) {
		struct network *n = &sw->nets[i];

		if (!n->used)
			continue;
		fprintf(f, "%s{\"name\":", first ? "" : ",");
		json_str(f, n->name);
		fprintf(f, ",\"mtu\":%u,\"ports\":%u,\"macs\":%zu,\"max_macs\":%zu,\"flooded\":%llu}",
			n->mtu, n->n_ports, n->fdb.count, n->fdb.max, U(n->flooded));
		first = 0;
	}
	fputc(']', f);
}

void switch_json_ports(struct vswitch *sw, FILE *f)
{
	uint64_t now = now_ms();
	int first = 1;

	fputc('[', f);
	for (long i = 0; i < sw->conf.max_ports; i++) {
		struct port *p = &sw->ports[i];

		if (!p->used)
			continue;
		fprintf(f, "%s{\"id\":%u,\"name\":", first ? "" : ",", p->id);
		json_str(f, p->name);
		fprintf(f, ",\"network\":");
		json_str(f, p->net->name);
		fprintf(f, ",\"key\":\"%s\",\"peer\":", p->key);
		json_str(f, p->peer);
		fprintf(f, ",\"uptime_ms\":%llu,\"rx_msgs\":%llu,\"rx_frames\":%llu,"
			"\"rx_bytes\":%llu,\"tx_msgs\":%llu,\"tx_frames\":%llu,\"tx_bytes\":%llu,"
			"\"mac_moves\":%llu,\"fdb_full\":%llu,\"flooded\":%llu,"
			"\"batch\":{\"rx_frames_per_msg\":%.2f,\"tx_frames_per_msg\":%.2f},\"drops\":{",
			U(now - p->since_ms), U(p->ctr.rx_msgs), U(p->ctr.rx_frames),
			U(p->ctr.rx_bytes), U(p->ctr.tx_msgs), U(p->ctr.tx_frames), U(p->ctr.tx_bytes),
			U(p->ctr.mac_moves), U(p->ctr.fdb_full), U(p->ctr.flooded),
			p->ctr.rx_msgs ? (double)p->ctr.rx_frames / (double)p->ctr.rx_msgs : 0.0,
			p->ctr.tx_msgs ? (double)p->ctr.tx_frames / (double)p->ctr.tx_msgs : 0.0);
		for (int d = 0; d < DROP_MAX; d++)
			fprintf(f, "%s\"%s\":%llu", d ? "," : "", drop_names[d], U(p->ctr.drops[d]));
		fprintf(f, "}}");
		first = 0;
	}
	fputc(']', f);
}

void switch_json_macs(struct vswitch *sw, FILE *f, const char *net)
{
	uint64_t now = now_ms();
	int first = 1;

	fputc('[', f);
	for (long i = 0; i < sw->conf.max_networks; i++) {
		struct network *n = &sw->nets[i];

		if (!n->used || (net && strcmp(net, n->name)))
			continue;
		for (size_t k = 0; k <= n->fdb.mask; k++) {
			const struct fdb_entry *e = &n->fdb.slots[k];
			char mac[18];

			if (e->port == FDB_EMPTY || now - e->seen_ms >= n->fdb.age_ms)
				continue;
			fprintf(f, "%s{\"network\":", first ? "" : ",");
			json_str(f, n->name);
			fprintf(f, ",\"mac\":\"%s\",\"vlan\":%u,\"port\":", mac_fmt(e->mac, mac), e->vlan);
			json_str(f, sw->ports[e->port].name);
			fprintf(f, ",\"age_ms\":%llu}", U(now - e->seen_ms));
			first = 0;
		}
	}
	fputc(']', f);
}

void switch_stats_json(struct vswitch *sw, FILE *f)
{
	fprintf(f, "{\"uptime_ms\":%llu,\"switch\":", U(now_ms() - sw->start_ms));
	switch_json_totals(sw, f);
	fprintf(f, ",\"networks\":");
	switch_json_networks(sw, f);
	fprintf(f, ",\"ports\":");
	switch_json_ports(sw, f);
	fprintf(f, "}\n");
}

struct port *switch_port_by_name(struct vswitch *sw, const char *name, const char *net)
{
	for (long i = 0; i < sw->conf.max_ports; i++) {
		struct port *p = &sw->ports[i];

		if (p->used && !strcmp(p->name, name) && (!net || !strcmp(p->net->name, net)))
			return p;
	}
	return NULL;
}

void switch_kick(struct vswitch *sw, struct port *p)
{
	port_remove(sw, p, VMF_ERR_KICKED, "disconnected by an administrator");
	ports_reap(sw);
}

/* One Prometheus metric family header. */
static void prom_family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void switch_prometheus(void *arg, FILE *f)
{
	struct vswitch *sw = arg;
	static const struct {
		const char *name, *help;
		size_t off;
	} pc[] = {
		{ "vmfabric_port_rx_messages_total", "Messages received from the port", offsetof(struct port_ctr, rx_msgs) },
		{ "vmfabric_port_rx_frames_total", "Frames received from the port and accepted", offsetof(struct port_ctr, rx_frames) },
		{ "vmfabric_port_rx_bytes_total", "Bytes of accepted frames from the port", offsetof(struct port_ctr, rx_bytes) },
		{ "vmfabric_port_tx_messages_total", "Batches sent to the port", offsetof(struct port_ctr, tx_msgs) },
		{ "vmfabric_port_tx_frames_total", "Frames sent to the port", offsetof(struct port_ctr, tx_frames) },
		{ "vmfabric_port_tx_bytes_total", "Bytes sent to the port", offsetof(struct port_ctr, tx_bytes) },
		{ "vmfabric_port_mac_moves_total", "Known MACs that moved to the port", offsetof(struct port_ctr, mac_moves) },
		{ "vmfabric_port_fdb_full_total", "Source MACs not learnt: table full", offsetof(struct port_ctr, fdb_full) },
		{ "vmfabric_port_flooded_total", "Frames from the port flooded to the network", offsetof(struct port_ctr, flooded) },
	};
	const struct {
		const char *reason;
		uint64_t v;
	} sd[] = {
		{ "unknown_port", sw->ctr.unknown_port }, { "bad_version", sw->ctr.bad_version },
		{ "bad_hello", sw->ctr.bad_hello }, { "key_mismatch", sw->ctr.key_mismatch },
		{ "malformed", sw->ctr.malformed }, { "multipart", sw->ctr.multipart },
	};
	size_t i;
	long k;

	prom_family(f, "vmfabric_switch_uptime_seconds", "gauge", "Seconds since the switch started");
	fprintf(f, "vmfabric_switch_uptime_seconds %.3f\n", (double)(now_ms() - sw->start_ms) / 1000);
	prom_family(f, "vmfabric_switch_loop_utilisation", "gauge", "Share of the last second the loop was busy");
	fprintf(f, "vmfabric_switch_loop_utilisation %.4f\n",
		sw->total_us ? (double)sw->busy_us / (double)sw->total_us : 0.0);
	prom_family(f, "vmfabric_switch_dropped_messages_total", "counter",
		    "Messages dropped that no port can be charged with, by reason");
	for (i = 0; i < ARRAY_SIZE(sd); i++)
		fprintf(f, "vmfabric_switch_dropped_messages_total{reason=\"%s\"} %llu\n", sd[i].reason,
			U(sd[i].v));
	prom_family(f, "vmfabric_switch_port_events_total", "counter", "Ports that ended, by cause");
	fprintf(f, "vmfabric_switch_port_events_total{event=\"expired\"} %llu\n", U(sw->ctr.expired));
	fprintf(f, "vmfabric_switch_port_events_total{event=\"revoked\"} %llu\n", U(sw->ctr.revoked));
	fprintf(f, "vmfabric_switch_port_events_total{event=\"taken_over\"} %llu\n", U(sw->ctr.takeovers));
	if (sw->zap) {
		prom_family(f, "vmfabric_switch_admissions_total", "counter", "ZAP answers, by result");
		fprintf(f, "vmfabric_switch_admissions_total{result=\"allowed\"} %llu\n", U(sw->zap->allowed));
		fprintf(f, "vmfabric_switch_admissions_total{result=\"denied\"} %llu\n", U(sw->zap->denied));
	}

	prom_family(f, "vmfabric_network_ports", "gauge", "Ports in the network");
	for (k = 0; k < sw->conf.max_networks; k++) {
		if (!sw->nets[k].used)
			continue;
		fprintf(f, "vmfabric_network_ports{network=");
		metrics_label(f, sw->nets[k].name);
		fprintf(f, "} %u\n", sw->nets[k].n_ports);
	}
	prom_family(f, "vmfabric_network_macs", "gauge", "Entries in the network's MAC table");
	for (k = 0; k < sw->conf.max_networks; k++) {
		if (!sw->nets[k].used)
			continue;
		fprintf(f, "vmfabric_network_macs{network=");
		metrics_label(f, sw->nets[k].name);
		fprintf(f, "} %zu\n", sw->nets[k].fdb.count);
	}
	prom_family(f, "vmfabric_network_macs_max", "gauge", "Bound of the network's MAC table");
	for (k = 0; k < sw->conf.max_networks; k++) {
		if (!sw->nets[k].used)
			continue;
		fprintf(f, "vmfabric_network_macs_max{network=");
		metrics_label(f, sw->nets[k].name);
		fprintf(f, "} %zu\n", sw->nets[k].fdb.max);
	}

	for (i = 0; i < ARRAY_SIZE(pc); i++) {
		prom_family(f, pc[i].name, "counter", pc[i].help);
		for (k = 0; k < sw->conf.max_ports; k++) {
			const struct port *p = &sw->ports[k];

			if (!p->used)
				continue;
			fprintf(f, "%s{network=", pc[i].name);
			metrics_label(f, p->net->name);
			fprintf(f, ",port=");
			metrics_label(f, p->name);
			fprintf(f, "} %llu\n", U(*(const uint64_t *)((const char *)&p->ctr + pc[i].off)));
		}
	}
	prom_family(f, "vmfabric_port_drops_total", "counter", "Frames dropped, by port and reason");
	for (k = 0; k < sw->conf.max_ports; k++) {
		const struct port *p = &sw->ports[k];

		if (!p->used)
			continue;
		for (int d = 0; d < DROP_MAX; d++) {
			fprintf(f, "vmfabric_port_drops_total{network=");
			metrics_label(f, p->net->name);
			fprintf(f, ",port=");
			metrics_label(f, p->name);
			fprintf(f, ",reason=\"%s\"} %llu\n", drop_names[d], U(p->ctr.drops[d]));
		}
	}
}
