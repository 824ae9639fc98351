/* port.c - the switch's ports and networks: Hello, admission, policy, life and removal */

/*
 * DOC: Theory of operation
 *
 * A routing id becomes a port only after the switch has answered its Hello
 * with Welcome. Port life:
 *   unknown --Hello ok--> live --Bye / 3 keepalives missed / key revoked or
 *   its policy changed / unreachable / malformed message / kicked--> dying
 *   --reap--> free (its MAC entries went at the removal)
 * A Hello for (network, name) that already exists with the same key takes
 * the old port over (a restarted NIC process); with another key it is
 * refused (VMF_ERR_DUPLICATE). Data or keepalives from a routing id
 * without a port get Error NOT_WELCOMED (rate limited, in fwd.c), which
 * makes a NIC process whose switch restarted send Hello again.
 *
 * Identity: the routing id is chosen by the client and proves nothing (and
 * is hashed under a secret key, so it cannot be chosen to collide); each
 * port is bound to the Z85 key its connection authenticated with (User-Id
 * from ZAP), and a message whose User-Id differs is dropped and counted.
 *
 * Admission and policy: ZAP admits keys (tls/zap.c); what an admitted key
 * may do is its certificate's policy (tls/policy.c): networks and names
 * at Hello (Error POLICY), source MACs and the MAC limit per frame (fwd.c).
 * Each key has a Hello budget (HELLO_BURST, then HELLO_RATE per second):
 * a Hello costs the port's own MAC entries and a log line, and one key
 * must not be able to keep the loop busy with them.
 *
 * Removal is in two steps, so that it is safe wherever it happens: in the
 * middle of a flood over n->ports, while the port has output queued on the
 * dirty list, or between two messages of one pass. port_remove() ends the
 * port at once for everything that looks it up (routing id, MAC table, the
 * "used" flag every sender checks) but keeps its slot and its place in
 * n->ports; port_reap() gives them back once nothing can point at them: at
 * the end of every pass, and after removals outside a pass. A slot is never
 * reused while it is dying, so no index can be queued twice.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "impair.h"
#include "log.h"
#include "port.h"
#include "portconf.h"
#include "siphash.h"
#include "util.h"
#include "vlanport.h"

#define RID_TOMB	(UINT32_MAX - 1)

/* Hellos a key may send: a burst, then this many per second. */
#define HELLO_BURST	32
#define HELLO_RATE	16

static struct ratelimit rl_proto = RATELIMIT_INIT;
static struct ratelimit rl_joinleave = { 0, 5000, 64, 0, 0 };

/* --- routing id table -------------------------------------------------- */

/* Routing ids are chosen by the peer: hash them with the switch's secret key. */
static size_t rid_home(const struct vswitch *sw, const uint8_t *rid, size_t len)
{
	return (size_t)siphash13(&sw->rid_key, rid, len) & sw->rid_mask;
}

uint32_t port_by_rid(struct vswitch *sw, const uint8_t *rid, size_t len)
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

/* --- messages to one peer ---------------------------------------------- */

int port_send(struct vswitch *sw, const uint8_t *rid, size_t rid_len, zmq_msg_t *payload)
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

void port_send_env(struct vswitch *sw, const uint8_t *rid, size_t rid_len,
		     const Vmfabric__Envelope *env)
{
	zmq_msg_t m;

	if (codec_pack(env, &m))
		return;
	port_send(sw, rid, rid_len, &m);
}

void port_send_error(struct vswitch *sw, const uint8_t *rid, size_t rid_len,
		       uint32_t code, const char *text)
{
	Vmfabric__Error e = VMFABRIC__ERROR__INIT;
	Vmfabric__Envelope env = VMFABRIC__ENVELOPE__INIT;

	e.code = code;
	e.text = (char *)(uintptr_t)text;
	env.msg_case = VMFABRIC__ENVELOPE__MSG_ERROR;
	env.error = &e;
	port_send_env(sw, rid, rid_len, &env);
}

/* --- networks ---------------------------------------------------------- */

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

static uint32_t port_mac_limit(const struct vswitch *sw, const struct port *p);

/* @idx joins @n's flooding list, with its MAC limit there. */
static void net_add_port(struct vswitch *sw, struct network *n, uint32_t idx)
{
	n->ports[n->n_ports++] = idx;
	fdb_port_limit(&n->fdb, idx, port_mac_limit(sw, &sw->ports[idx]));
}

/* @idx leaves @n's list; Return: 1 if it was there */
static int net_del_port(struct network *n, uint32_t idx)
{
	for (uint32_t i = 0; i < n->n_ports; i++) {
		if (n->ports[i] == idx) {
			n->ports[i] = n->ports[--n->n_ports];
			return 1;
		}
	}
	return 0;
}

int switch_carries(const struct port *p, const char *net)
{
	if (p->kind == PORT_PLAIN)
		return 0;
	if (!p->n_carry)
		return 1;
	for (uint32_t i = 0; i < p->n_carry; i++)
		if (!strcmp(p->carry[i], net))
			return 1;
	return 0;
}

/*
 * The MTU of network @name: its --network-mtu, else the parent's (its
 * Welcome named the network), else --mtu. *@explicit: --network-mtu gave it.
 */
static uint32_t net_mtu_of(const struct vswitch *sw, const char *name, int *explicit)
{
	if (explicit)
		*explicit = 0;
	for (size_t i = 0; i < sw->conf.n_net_mtus; i++) {
		if (!strcmp(sw->conf.net_mtus[i].name, name)) {
			if (explicit)
				*explicit = 1;
			return sw->conf.net_mtus[i].mtu;
		}
	}
	for (uint32_t i = 0; i < sw->n_up_mtus; i++)
		if (!strcmp(sw->up_mtus[i].name, name))
			return sw->up_mtus[i].mtu;
	return (uint32_t)sw->conf.mtu;
}

void switch_parent_mtus(struct vswitch *sw, Vmfabric__NetInfo **ni, size_t n)
{
	sw->n_up_mtus = 0;
	for (size_t i = 0; i < n && sw->n_up_mtus < VMF_MAX_BATCH_NETS; i++) {
		if (ni[i]->mtu < VMF_MTU_MIN || ni[i]->mtu > VMF_MTU_MAX)
			continue;
		str_copy(sw->up_mtus[sw->n_up_mtus].name, ni[i]->name, VMF_NAME_MAX);
		sw->up_mtus[sw->n_up_mtus++].mtu = ni[i]->mtu;
	}
	for (long i = 0; i < sw->conf.max_networks; i++) {
		struct network *nw = &sw->nets[i];
		uint32_t plain = 0, mtu;
		int explicit;

		if (!nw->used)
			continue;
		mtu = net_mtu_of(sw, nw->name, &explicit);
		if (mtu == nw->mtu)
			continue;
		for (uint32_t k = 0; k < nw->n_ports; k++)
			plain += sw->ports[nw->ports[k]].kind == PORT_PLAIN;
		/* welcomed ports were told the old MTU: only a network without them follows */
		if (explicit || plain) {
			log_rl(&rl_joinleave, LOG_WARNING, "network %s has MTU %u at the parent, %u here%s",
			       nw->name, mtu, nw->mtu, explicit ? " (--network-mtu)" :
			       ": its ports keep it until the network is made again");
			continue;
		}
		log_rl(&rl_joinleave, LOG_INFO, "network %s takes the parent's MTU %u", nw->name, mtu);
		nw->mtu = mtu;
	}
}

int net_mtu_parse(const char *spec, struct net_mtu *m, const char **why)
{
	const char *eq = strchr(spec, '=');
	char *end;
	long v;

	memset(m, 0, sizeof(*m));
	if (!eq || eq == spec || (size_t)(eq - spec) >= sizeof(m->name)) {
		*why = "--network-mtu needs NAME=BYTES";
		return -EINVAL;
	}
	memcpy(m->name, spec, (size_t)(eq - spec));
	if (!codec_valid_name(m->name)) {
		*why = "--network-mtu: invalid network name";
		return -EINVAL;
	}
	errno = 0;
	v = strtol(eq + 1, &end, 10);
	if (errno || end == eq + 1 || *end || v < VMF_MTU_MIN || v > 65000) {
		*why = "--network-mtu: BYTES is 68..65000";
		return -EINVAL;
	}
	m->mtu = (uint32_t)v;
	return 0;
}

/* A new network in the free slot @n, with every trunk that carries it. Return: 0 or -ENOMEM */
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
	n->mtu = net_mtu_of(sw, name, NULL);
	n->n_ports = 0;
	n->flooded = 0;
	n->giants = 0;
	/* every trunk and the uplink that carry it are in it from the start */
	for (long i = 0; i < sw->conf.max_ports; i++)
		if (sw->ports[i].used && switch_carries(&sw->ports[i], name))
			net_add_port(sw, n, (uint32_t)i);
	log_rl(&rl_joinleave, LOG_INFO, "network %s created (MTU %u)", name, n->mtu);
	return 0;
}

static void net_free(struct network *n)
{
	fdb_free(&n->fdb);
	free(n->ports);
	n->ports = NULL;
	n->n_ports = 0;
	n->used = 0;
	log_rl(&rl_joinleave, LOG_INFO, "network %s removed (no ports)", n->name);
}

struct network *port_net(struct vswitch *sw, const struct port *p, const char *name)
{
	struct network *n, *free_net;

	if (!switch_carries(p, name))
		return NULL;
	n = net_find(sw, name, &free_net);
	if (n)
		return n;
	/* a trunk brings a network this switch has not seen: it is made here */
	if (!free_net || net_create(sw, free_net, name))
		return NULL;
	return free_net;
}

/* --- ports ------------------------------------------------------------- */

void port_remove(struct vswitch *sw, struct port *p, uint32_t code, const char *why)
{
	size_t flushed = 0;

	if (!p->used)
		return;
	if (code && p->kind != PORT_UPLINK)
		port_send_error(sw, p->rid, p->rid_len, code, why);
	for (long i = 0; i < sw->conf.max_networks; i++)
		if (sw->nets[i].used && (p->net == &sw->nets[i] || p->kind != PORT_PLAIN))
			flushed += fdb_flush_port(&sw->nets[i].fdb, p->idx);
	if (p->kind != PORT_UPLINK)
		rid_remove(sw, p->idx);
	p->used = 0;
	p->dying = 1;
	sw->dead[sw->n_dead++] = p->idx;
	p->out_n = 0;
	p->out_n_vnet = 0;
	p->out_bytes = 0;
	p->n_out_nets = 0;
	if (p->kind == PORT_PLAIN)
		log_rl(&rl_joinleave, LOG_INFO, "port %s left network %s: %s (%zu MAC entries flushed)",
		       p->name, p->net->name, why, flushed);
	else
		log_rl(&rl_joinleave, LOG_INFO, "trunk %s (switch %s) left: %s (%zu MAC entries flushed)",
		       p->name, p->switch_id, why, flushed);
}

void port_reap(struct vswitch *sw)
{
	uint32_t keep = 0;

	for (uint32_t i = 0; i < sw->n_dead; i++) {
		struct port *p = &sw->ports[sw->dead[i]];

		if (p->dirty) {
			sw->dead[keep++] = p->idx;	/* on the dirty list until the flush */
			continue;
		}
		for (long k = 0; k < sw->conf.max_networks; k++) {
			struct network *n = &sw->nets[k];

			if (!n->used || (p->kind == PORT_PLAIN && p->net != n))
				continue;
			if (net_del_port(n, p->idx) && !n->n_ports)
				net_free(n);
		}
		impair_port_end(sw, p);	/* nothing points into its queues any more */
		p->dying = 0;
		p->net = NULL;
		free(p->carry);
		p->carry = NULL;
		p->n_carry = 0;
		if (sw->up == p)
			sw->up = NULL;
	}
	sw->n_dead = keep;
}

static struct port *port_find_name(struct vswitch *sw, struct network *n, const char *name)
{
	for (uint32_t i = 0; i < n->n_ports; i++) {
		struct port *p = &sw->ports[n->ports[i]];

		if (p->used && p->kind == PORT_PLAIN && !strcmp(p->name, name))
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

/*
 * The MAC entries port @p may hold in one network: its key's max-macs, else
 * --port-macs for a plain port; a trunk or the uplink carries whole
 * subtrees, so only its key's max-macs limits it.
 */
static uint32_t port_mac_limit(const struct vswitch *sw, const struct port *p)
{
	if (p->pol && (p->pol->set & POLICY_MAX_MACS))
		return p->pol->max_macs;
	return p->kind == PORT_PLAIN ? (uint32_t)sw->conf.port_macs : 0;
}

/* Is @id on this switch's path (itself or above it)? */
static int on_my_path(const struct vswitch *sw, const char *id)
{
	if (!strcmp(id, sw->conf.id))
		return 1;
	for (uint32_t i = 0; i < sw->n_ancestors; i++)
		if (!strcmp(id, sw->ancestors[i]))
			return 1;
	return 0;
}

/* A Welcome; to a trunk it tells where this switch is in the tree and its networks. */
static void port_welcome(struct vswitch *sw, const struct port *p, uint32_t mtu)
{
	Vmfabric__Welcome w = VMFABRIC__WELCOME__INIT;
	Vmfabric__Envelope env = VMFABRIC__ENVELOPE__INIT;
	Vmfabric__NetInfo ni[64], *nip[64];
	char *path[VMF_MAX_PATH];

	w.port_id = p->id;
	w.mtu = mtu;
	w.keepalive_ms = (uint32_t)sw->conf.keepalive_ms;
	w.link_down = p->kind == PORT_PLAIN && p->pconf && p->pconf->link_down;
	if (p->kind == PORT_TRUNK) {
		w.switch_id = (char *)(uintptr_t)sw->conf.id;
		for (uint32_t i = 0; i < sw->n_ancestors; i++)
			path[i] = sw->ancestors[i];
		w.path = path;
		w.n_path = sw->n_ancestors;
		for (long i = 0; i < sw->conf.max_networks && w.n_networks < 64; i++) {
			if (!sw->nets[i].used || !switch_carries(p, sw->nets[i].name))
				continue;
			vmfabric__net_info__init(&ni[w.n_networks]);
			ni[w.n_networks].name = sw->nets[i].name;
			ni[w.n_networks].mtu = sw->nets[i].mtu;
			nip[w.n_networks] = &ni[w.n_networks];
			w.n_networks++;
		}
		w.networks = nip;
	}
	env.msg_case = VMFABRIC__ENVELOPE__MSG_WELCOME;
	env.welcome = &w;
	port_send_env(sw, p->rid, p->rid_len, &env);
}

/*
 * A slot for a new session: @same (the same key's session under this name,
 * or NULL) is taken over first; with no free slot, removed ports are reaped
 * (we are between two messages). Return: the slot, or NULL (table full).
 * *@reaped tells the caller that networks may have gone with the reap.
 */
static struct port *port_slot(struct vswitch *sw, struct port *same, int *reaped)
{
	struct port *p;

	if (same) {
		sw->ctr.takeovers++;
		port_remove(sw, same, VMF_ERR_DUPLICATE, "taken over by a new session of the same key");
	}
	*reaped = 0;
	p = port_alloc(sw);
	if (!p) {
		port_reap(sw);
		*reaped = 1;
		p = port_alloc(sw);
	}
	return p;
}

/*
 * A welcomed session in the free slot @p: identity, counters and queues
 * reset; the caller adds what its kind needs (network, carried networks).
 */
static void port_init(struct vswitch *sw, struct port *p, int kind, const uint8_t *r, size_t rlen,
		      const char *key, const char *peer, const Vmfabric__Hello *h,
		      const struct key_policy *pol, uint64_t now)
{
	memset(&p->ctr, 0, sizeof(p->ctr));
	p->used = 1;
	p->kind = kind;
	p->version = h->version;
	p->idx = (uint32_t)(p - sw->ports);
	p->id = ++sw->next_id;
	memcpy(p->rid, r, rlen);
	p->rid_len = (uint8_t)rlen;
	str_copy(p->key, key, sizeof(p->key));
	str_copy(p->name, h->port, sizeof(p->name));
	str_copy(p->peer, peer ? peer : "", sizeof(p->peer));
	p->net = NULL;
	p->pol = pol;
	p->lock = NULL;
	p->pconf = portconf_find(sw, p->name);
	vlan_port_resolve(sw, p);
	impair_port_apply(sw, p);
	p->since_ms = p->last_rx_ms = now;
	p->out_n = p->out_n_vnet = p->n_out_nets = 0;
	p->out_bytes = 0;
	p->dirty = 0;
	rid_insert(sw, p->idx);
}

/* A child switch's Hello: a trunk carrying its networks (h->networks, none: all). */
static void trunk_hello(struct vswitch *sw, const uint8_t *r, size_t rlen, const char *key,
			const char *peer, struct port *old, const Vmfabric__Hello *h,
			const struct key_policy *pol, uint64_t now)
{
	struct port *p, *same = NULL;
	char text[200];
	int reaped;

	if (sw->zap && !(pol && pol->trunk)) {
		sw->ctr.policy++;
		log_rl(&rl_proto, LOG_WARNING, "refused trunk %s from key %.8s...: its policy has no "
		       "trunk = yes", h->port, key);
		port_send_error(sw, r, rlen, VMF_ERR_POLICY, "this key may not trunk (policy trunk = yes)");
		return;
	}
	for (size_t i = 0; i < h->n_path; i++) {
		/* the child, or a switch above it, is this switch or above it */
		if (on_my_path(sw, h->path[i])) {
			sw->ctr.loops++;
			snprintf(text, sizeof(text), "loop: switch %s is on this trunk's path and on mine",
				 h->path[i]);
			log_rl(&rl_proto, LOG_WARNING, "refused trunk %s: %s", h->port, text);
			port_send_error(sw, r, rlen, VMF_ERR_LOOP, text);
			if (old)
				port_remove(sw, old, 0, "loop");
			return;
		}
	}
	if (old)
		port_remove(sw, old, 0, "new Hello on the same connection");
	for (long i = 0; i < sw->conf.max_ports; i++)
		if (sw->ports[i].used && sw->ports[i].kind == PORT_TRUNK &&
		    !strcmp(sw->ports[i].name, h->port))
			same = &sw->ports[i];
	if (same && strcmp(same->key, key)) {
		sw->ctr.bad_hello++;
		port_send_error(sw, r, rlen, VMF_ERR_DUPLICATE, "trunk name in use by another key");
		return;
	}
	p = port_slot(sw, same, &reaped);
	if (!p || (h->n_networks && !(p->carry = calloc(h->n_networks, sizeof(*p->carry))))) {
		port_send_error(sw, r, rlen, VMF_ERR_FULL, "switch port table full");
		return;
	}
	port_init(sw, p, PORT_TRUNK, r, rlen, key, peer, h, pol, now);
	str_copy(p->switch_id, h->path[0], sizeof(p->switch_id));
	p->n_carry = (uint32_t)h->n_networks;
	for (size_t i = 0; i < h->n_networks; i++)
		str_copy(p->carry[i], h->networks[i], VMF_NAME_MAX);
	for (long i = 0; i < sw->conf.max_networks; i++)
		if (sw->nets[i].used && switch_carries(p, sw->nets[i].name))
			net_add_port(sw, &sw->nets[i], p->idx);
	port_welcome(sw, p, (uint32_t)sw->conf.mtu);
	log_rl(&rl_joinleave, LOG_INFO, "trunk %s joined: switch %s, %s (id %u, key %.8s...)",
	       p->name, p->switch_id, p->n_carry ? "its listed networks" : "every network", p->id,
	       *key ? key : "none");
}

void port_hello(struct vswitch *sw, const uint8_t *r, size_t rlen, const char *key,
			 const char *peer, struct port *old, const Vmfabric__Hello *h, uint64_t now)
{
	struct key_entry *ke = key_entry_of(sw, key);
	const struct key_policy *pol = ke ? &ke->policy : NULL;
	struct network *n, *free_net;
	struct port *p, *same;
	char text[200];
	int reaped;

	if (sw->zap && !ke) {
		sw->ctr.revoked++;
		port_send_error(sw, r, rlen, VMF_ERR_DENIED, "key not in the authorized directory");
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
	if (h->version < VMF_PROTO_MIN || h->version > VMF_PROTO_VERSION ||
	    (h->kind == VMF_KIND_TRUNK && h->version < 2) || h->kind > VMF_KIND_TRUNK) {
		sw->ctr.bad_version++;
		snprintf(text, sizeof(text), "protocol version %u not supported (switch speaks %d)",
			 h->version, VMF_PROTO_VERSION);
		log_rl(&rl_proto, LOG_WARNING, "refused Hello from %s: %s", key, text);
		port_send_error(sw, r, rlen, VMF_ERR_VERSION, text);
		if (old)
			port_remove(sw, old, 0, "bad protocol version");
		return;
	}
	if (h->kind == VMF_KIND_TRUNK && codec_valid_name(h->port) && h->n_path) {
		trunk_hello(sw, r, rlen, key, peer, old, h, pol, now);
		return;
	}
	if (!codec_valid_name(h->network) || !codec_valid_name(h->port)) {
		sw->ctr.bad_hello++;
		port_send_error(sw, r, rlen, VMF_ERR_BADNAME,
			   "network and port names: 1-63 characters of A-Z a-z 0-9 - _ . / : @");
		return;
	}
	if (!policy_allows_network(pol, h->network) || !policy_allows_name(pol, h->port)) {
		sw->ctr.policy++;
		snprintf(text, sizeof(text), "this key may not use %s %s", 
			 policy_allows_network(pol, h->network) ? "port name" : "network",
			 policy_allows_network(pol, h->network) ? h->port : h->network);
		log_rl(&rl_proto, LOG_WARNING, "refused Hello from key %.8s...: %s", key, text);
		port_send_error(sw, r, rlen, VMF_ERR_POLICY, text);
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
		port_send_error(sw, r, rlen, VMF_ERR_POLICY, text);
		return;
	}
	if (!n && (!free_net || net_create(sw, free_net, h->network))) {
		port_send_error(sw, r, rlen, VMF_ERR_FULL, "too many networks on this switch");
		return;
	}
	n = n ? n : free_net;
	same = port_find_name(sw, n, h->port);
	if (same && strcmp(same->key, key)) {
		sw->ctr.bad_hello++;
		port_send_error(sw, r, rlen, VMF_ERR_DUPLICATE, "port name in use by another key");
		log_rl(&rl_proto, LOG_WARNING, "refused port %s on %s: name held by another key",
		       h->port, h->network);
		goto unused;
	}
	p = port_slot(sw, same, &reaped);
	if (reaped) {
		/*
		 * The reap may have freed the network, if its last ports were the
		 * ones this Hello replaced: it existed when the Hello came, so it
		 * is made again whatever the key's create policy says.
		 */
		n = net_find(sw, h->network, &free_net);
		if (!n && (!free_net || net_create(sw, free_net, h->network))) {
			port_send_error(sw, r, rlen, VMF_ERR_FULL, "too many networks on this switch");
			return;
		}
		n = n ? n : free_net;
	}
	if (!p) {
		port_send_error(sw, r, rlen, VMF_ERR_FULL, "switch port table full");
		goto unused;
	}
	port_init(sw, p, PORT_PLAIN, r, rlen, key, peer, h, pol, now);
	p->net = n;
	for (size_t k = 0; k < sw->n_locks; k++)
		if (!strcmp(sw->locks[k].port, p->name))
			p->lock = &sw->locks[k];
	net_add_port(sw, n, p->idx);
	port_welcome(sw, p, n->mtu);
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
	m = eq + 1;
	switch (conf_mac_list(m, l->macs, LOCK_MACS_MAX, &l->n)) {
	case 0:
		break;
	case -E2BIG:
		*why = "--lock-mac: at most 16 MACs per port";
		return -EINVAL;
	default:
		*why = *m ? "--lock-mac: MACs are unicast xx:xx:xx:xx:xx:xx, separated by commas" :
			    "--lock-mac needs at least one MAC";
		return -EINVAL;
	}
	return 0;
}

int port_lock_allows(const struct mac_lock *l, const uint8_t *src)
{
	for (unsigned int i = 0; i < l->n; i++)
		if (!memcmp(l->macs[i], src, 6))
			return 1;
	return 0;
}

struct port *switch_port_by_name(struct vswitch *sw, const char *name, const char *net)
{
	for (long i = 0; i < sw->conf.max_ports; i++) {
		struct port *p = &sw->ports[i];

		if (p->used && !strcmp(p->name, name) &&
		    (!net || (p->kind == PORT_PLAIN ? !strcmp(p->net->name, net) : switch_carries(p, net))))
			return p;
	}
	return NULL;
}

void switch_kick(struct vswitch *sw, struct port *p)
{
	port_remove(sw, p, VMF_ERR_KICKED, "disconnected by an administrator");
	port_reap(sw);
}

void switch_tick(struct vswitch *sw, uint64_t now)
{
	uint64_t dead = 3 * (uint64_t)sw->conf.keepalive_ms;

	for (long i = 0; i < sw->conf.max_ports; i++) {
		struct port *p = &sw->ports[i];

		if (p->used && p->kind != PORT_UPLINK && now - p->last_rx_ms > dead) {
			sw->ctr.expired++;
			port_remove(sw, p, VMF_ERR_EXPIRED, "3 keepalives missed");
		}
	}
	port_reap(sw);
	for (long i = 0; i < sw->conf.max_networks; i++) {
		struct network *n = &sw->nets[i];
		uint32_t plain = 0;

		if (!n->used)
			continue;
		fdb_age(&n->fdb, now);
		/*
		 * A network that only trunks are in lives while it has MAC entries:
		 * once they have aged out, nothing uses it here (a tagged frame
		 * makes it again).
		 */
		for (uint32_t k = 0; k < n->n_ports; k++)
			plain += sw->ports[n->ports[k]].kind == PORT_PLAIN;
		if (!plain && !n->fdb.count)
			net_free(n);
	}
}

void switch_revoke(struct vswitch *sw)
{
	for (long i = 0; i < sw->conf.max_ports; i++) {
		struct port *p = &sw->ports[i];
		struct key_entry *ke;

		if (!p->used || !sw->zap || p->kind == PORT_UPLINK)
			continue;
		/* the key set was reloaded: policy pointers into the old one are stale */
		ke = key_entry_of(sw, p->key);
		p->pol = ke ? &ke->policy : NULL;
		vlan_port_resolve(sw, p);	/* it pointed into the old key set */
		if (!ke) {
			sw->ctr.revoked++;
			port_remove(sw, p, VMF_ERR_REVOKED, "key removed from the authorized directory");
		} else if (p->kind == PORT_PLAIN ? !policy_allows_network(p->pol, p->net->name) ||
						   !policy_allows_name(p->pol, p->name)
						 : p->kind == PORT_TRUNK && !p->pol->trunk) {
			sw->ctr.policy++;
			port_remove(sw, p, VMF_ERR_POLICY, "the key's policy no longer allows this port");
		} else {
			for (long k = 0; k < sw->conf.max_networks; k++)
				if (sw->nets[k].used && (p->net == &sw->nets[k] ||
							 switch_carries(p, sw->nets[k].name)))
					fdb_port_limit(&sw->nets[k].fdb, p->idx, port_mac_limit(sw, p));
			impair_port_apply(sw, p);	/* its key's impair policy may have changed */
		}
	}
	port_reap(sw);
}

void switch_shutdown(struct vswitch *sw)
{
	for (long i = 0; i < sw->conf.max_ports; i++)
		if (sw->ports[i].used)
			port_remove(sw, &sw->ports[i], VMF_ERR_SHUTDOWN, "switch shutting down");
	port_reap(sw);
}

int switch_init(struct vswitch *sw, const struct switch_conf *conf, void *router, struct zap *zap)
{
	size_t n = 16;

	memset(sw, 0, sizeof(*sw));
	sw->conf = *conf;
	if (!sw->conf.id)
		sw->conf.id = "switch";	/* every switch has an id: trees, loops, vmfabric-ctl tree */
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
	sw->pconf = calloc((size_t)conf->max_ports, sizeof(*sw->pconf));
	if (!sw->rid_tab || !sw->ports || !sw->nets || !sw->dirty || !sw->dead || !sw->pconf ||
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
	for (long i = 0; sw->ports && i < sw->conf.max_ports; i++)
		free(sw->ports[i].carry);
	free(sw->nets);
	free(sw->ports);
	free(sw->rid_tab);
	free(sw->dirty);
	free(sw->dead);
	free(sw->pconf);
	codec_arena_free(&sw->arena);
	vlan_buf_free(&sw->vbuf);
	sw->nets = NULL;
	sw->ports = NULL;
	sw->rid_tab = NULL;
	sw->dirty = NULL;
	sw->dead = NULL;
	sw->pconf = NULL;
}

/* --- the uplink: this switch as a child of another ---------------------- */

int switch_uplink_start(struct vswitch *sw, struct uplink *u, const char *carry)
{
	struct port *p = port_alloc(sw);
	size_t n = 0;

	if (!p)
		return -ENOMEM;
	memset(p, 0, sizeof(*p));
	if (carry) {
		char list[1024], *save = NULL;

		str_copy(list, carry, sizeof(list));
		p->carry = calloc(VMF_MAX_BATCH_NETS, sizeof(*p->carry));
		if (!p->carry)
			return -ENOMEM;
		for (char *t = strtok_r(list, ",", &save); t && n < VMF_MAX_BATCH_NETS;
		     t = strtok_r(NULL, ",", &save))
			str_copy(p->carry[n++], t, VMF_NAME_MAX);
	}
	p->n_carry = (uint32_t)n;
	p->used = 1;
	p->kind = PORT_UPLINK;
	p->version = VMF_PROTO_VERSION;
	p->idx = (uint32_t)(p - sw->ports);
	p->id = ++sw->next_id;
	str_copy(p->name, "uplink", sizeof(p->name));
	p->since_ms = p->last_rx_ms = now_ms();
	sw->uplink = u;
	sw->up = p;
	sw->uplink_carry = carry;
	for (long i = 0; i < sw->conf.max_networks; i++)
		if (sw->nets[i].used && switch_carries(p, sw->nets[i].name))
			net_add_port(sw, &sw->nets[i], p->idx);
	return 0;
}

/* Tell every child where this switch now is in the tree. */
static void rewelcome_trunks(struct vswitch *sw)
{
	for (long i = 0; i < sw->conf.max_ports; i++)
		if (sw->ports[i].used && sw->ports[i].kind == PORT_TRUNK)
			port_welcome(sw, &sw->ports[i], (uint32_t)sw->conf.mtu);
}

int switch_uplink_state(struct vswitch *sw, int up, char **path, size_t n_path)
{
	struct port *p = sw->up;

	if (!p)
		return 0;
	if (!up) {
		/* what was learnt behind the parent is unreachable now */
		for (long i = 0; i < sw->conf.max_networks; i++)
			if (sw->nets[i].used)
				fdb_flush_port(&sw->nets[i].fdb, p->idx);
		for (long i = 0; i < sw->conf.max_networks; i++)
			if (sw->nets[i].used)
				fdb_port_limit(&sw->nets[i].fdb, p->idx, port_mac_limit(sw, p));
		if (sw->n_ancestors) {
			sw->n_ancestors = 0;
			rewelcome_trunks(sw);
		}
		return 0;
	}
	for (size_t i = 0; i < n_path; i++) {
		if (!strcmp(path[i], sw->conf.id)) {
			sw->ctr.loops++;
			log_rl(&rl_proto, LOG_WARNING, "loop: this switch (%s) is above its own parent; "
			       "dropping the uplink", sw->conf.id);
			return -ELOOP;
		}
	}
	sw->n_ancestors = 0;
	for (size_t i = 0; i < n_path && i < VMF_MAX_PATH; i++)
		str_copy(sw->ancestors[sw->n_ancestors++], path[i], VMF_NAME_MAX);
	p->since_ms = now_ms();
	rewelcome_trunks(sw);
	return 0;
}
