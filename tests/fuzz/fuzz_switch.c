/* fuzz_switch.c - fuzz the switch with interleaved messages from several connections (switch/) */

/*
 * The harnesses that feed the decoder one message at a time could not find
 * the dirty-list overflow of the security review: it needs a sequence
 * (a port re-sending Hello while another floods, within one pass). This
 * one drives the real switch (port.c, fwd.c, fdb.c, stats.c) through
 * switch_message(), as switch_input() does, with a program read from the
 * input:
 *
 *   byte 0: bit 0 ROUTER_MANDATORY (every send then fails EHOSTUNREACH:
 *           ports die in the middle of flushes and floods), bit 1 --insecure
 *           (no keys: no policy, no Hello budget)
 *   then records: [op] [args...]; op & 7 is the connection (routing id
 *   "cN", key N % 3), op >> 3 the action:
 *     0 Hello [b: network b & 3, name b >> 2 & 3, bad version if b & 0x80]
 *     1 FrameBatch [n] n x [b: src b & 7, dst b >> 3 & 7 (7 = broadcast),
 *       runt / giant / GSO super-frame from b >> 6]
 *     2 Keepalive   3 Bye [len] [reason]   4 raw bytes [len] [bytes]
 *     5 end of pass 6 time passes [b x 100 ms] and switch_tick()
 *     7 key 2 removed or re-admitted, then switch_revoke()
 *     8 kick the port of this connection   9 render every counter
 *     10 a trunk Hello [b: networks carried, a loop in its path]
 *     11 a tagged (trunk) batch [n] n x [b] [net]
 *     12 a live VLAN setting [b: port name b & 3, setting b >> 2 & 7]
 *     13 a FrameBatch with 802.1Q tags [n] n x [b as in 1] [t: t & 3 none, one tag,
 *        two tags, an S-tag; VIDs from t >> 2 & 3 and t >> 4 & 3; priority bits t >> 6]
 *     14 link state [b: port name b & 3, up if b & 4] (vmfabric-ctl link)
 *     15 a live impairment [b: port name b & 3, setting b >> 2 & 7] (vmfabric-ctl impair)
 *     16 held frames that are due leave (impair_run(), as the main loop calls it)
 *     other: a Welcome (only the switch may send one)
 * Keys: key 0 open; key 1 with a policy (networks n0,n1, names p*, two
 * source MACs, max-macs 2, create no, vlans trunk 1,2 native 3); key 2
 * open, revocable, may trunk. --port-vlan p1=access:1 is set at start.
 *
 * Oracles, after every record: the dirty list has no index twice and fits
 * its array; every live port is in its network's port list once and found
 * by its routing id; every network counts its live and dying ports; every
 * MAC table's per-port counts add up to its entry count and no entry
 * points at a free slot; the VLAN copies fit their buffer, and a port's
 * VLAN setting is its portconf entry's or its key's. ASan and UBSan do the
 * rest.
 */

#include <string.h>
#include <zmq.h>

#include "fuzz.h"
#include "impair.h"
#include "log.h"
#include "portconf.h"
#include "stats.h"
#include "switch.h"
#include "util.h"
#include "vlanport.h"

#define NCONN	8

static void *ctx, *router;
static struct zap zap;
static struct key_entry keys[3];
static char key_z85[3][CERT_Z85_LEN + 1];

static int key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, CERT_KEY_LEN);
}

static void setup(void)
{
	char why[256];
	static const char *const pol =
		"metadata\n    networks = \"n0,n1\"\n    names = \"p*\"\n"
		"    macs = \"02:00:00:00:00:01,02:00:00:00:00:02\"\n    max-macs = \"2\"\n"
		"    create = \"no\"\n    vlans = \"trunk 1,2 native 3\"\n";

	log_init("fuzz-switch");
	ctx = zmq_ctx_new();
	router = zmq_socket(ctx, ZMQ_ROUTER);
	zmq_bind(router, "inproc://fuzz-switch");
	for (int i = 0; i < 3; i++) {
		memset(keys[i].key, 0x11 * (i + 1), CERT_KEY_LEN);
		policy_default(&keys[i].policy);
		if (i == 1 && policy_parse(pol, &keys[i].policy, why, sizeof(why)))
			abort();
		keys[i].policy.trunk = i == 2;	/* the revocable key is a child switch's */
	}
	qsort(keys, 3, sizeof(keys[0]), key_cmp);
	for (int i = 0; i < 3; i++)
		cert_z85(keys[i].key, key_z85[i]);
}

/* The invariants every pass and every removal must keep. */
static void check(struct vswitch *sw)
{
	static uint8_t seen[64];
	uint32_t counted[8] = { 0 };

	FUZZ_CHECK(sw->n_dirty <= (uint32_t)sw->conf.max_ports);
	memset(seen, 0, sizeof(seen));
	for (uint32_t i = 0; i < sw->n_dirty; i++) {
		FUZZ_CHECK(sw->dirty[i] < (uint32_t)sw->conf.max_ports);
		FUZZ_CHECK(!seen[sw->dirty[i]]);
		seen[sw->dirty[i]] = 1;
	}
	memset(seen, 0, sizeof(seen));
	for (uint32_t i = 0; i < sw->n_dead; i++) {
		FUZZ_CHECK(!seen[sw->dead[i]]);
		seen[sw->dead[i]] = 1;
		FUZZ_CHECK(sw->ports[sw->dead[i]].dying);
	}
	for (long i = 0; i < sw->conf.max_ports; i++) {
		struct port *p = &sw->ports[i];
		uint32_t hits;

		if (!p->used && !p->dying)
			continue;
		FUZZ_CHECK(!(p->used && p->dying));
		for (long n = 0; n < sw->conf.max_networks; n++) {
			struct network *net = &sw->nets[n];

			if (!net->used)
				continue;
			hits = 0;
			for (uint32_t k = 0; k < net->n_ports; k++)
				hits += net->ports[k] == (uint32_t)i;
			/* a plain port is in its network once; a trunk in each it carries */
			FUZZ_CHECK(hits == (p->kind == PORT_PLAIN ? p->net == net
					    : p->used ? (uint32_t)switch_carries(p, net->name) : hits) &&
				   hits <= 1);
			counted[n] += hits;
		}
		FUZZ_CHECK(p->kind != PORT_PLAIN || (p->net && p->net->used));
		if (p->used)
			FUZZ_CHECK(p->out_n <= VMF_MAX_BATCH_FRAMES);
		if (p->used && p->vlan)
			FUZZ_CHECK(p->kind == PORT_PLAIN &&
				   ((p->pconf && p->vlan == &p->pconf->vlan) ||
				    (p->pol && p->vlan == &p->pol->vlans)));
	}
	FUZZ_CHECK(sw->vbuf.used <= sw->vbuf.cap);
	for (long n = 0; n < sw->conf.max_networks; n++) {
		struct network *net = &sw->nets[n];
		size_t sum = 0;

		if (!net->used)
			continue;
		FUZZ_CHECK(net->n_ports == counted[n] && net->n_ports > 0);
		for (uint32_t k = 0; k < net->fdb.n_ports; k++)
			sum += net->fdb.ports[k].count;
		FUZZ_CHECK(sum == net->fdb.count);
		for (size_t s = 0; s <= net->fdb.mask; s++) {
			uint32_t port = net->fdb.slots[s].port;

			FUZZ_CHECK(port == FDB_EMPTY || sw->ports[port].used);
		}
	}
}

/* Deliver @len bytes as a message from connection @c. */
static void deliver(struct vswitch *sw, int c, const void *data, size_t len, uint64_t now)
{
	char rid[3] = { 'c', (char)('0' + c), 0 };
	zmq_msg_t m;

	zmq_msg_init_size(&m, len);
	if (len)
		memcpy(zmq_msg_data(&m), data, len);
	switch_message(sw, (const uint8_t *)rid, 2, sw->zap ? key_z85[c % 3] : NULL, "fuzz", &m, now);
	zmq_msg_close(&m);
}

static void deliver_env(struct vswitch *sw, int c, const Vmfabric__Envelope *env, uint64_t now)
{
	zmq_msg_t m;

	if (codec_pack(env, &m))
		return;
	deliver(sw, c, zmq_msg_data(&m), zmq_msg_size(&m), now);
	zmq_msg_close(&m);
}

static void batch(struct vswitch *sw, int c, const uint8_t **data, size_t *size, uint64_t now,
		  int tags)
{
	static uint8_t buf[8][VMF_VNET_HDR_LEN + 3000 + 8];
	struct frame f[8];
	size_t n = (fuzz_byte(data, size) & 7) + 1;
	zmq_msg_t m;

	for (size_t i = 0; i < n; i++) {
		uint8_t b = fuzz_byte(data, size), *d = buf[i];
		size_t len = 60, hl = 0;

		memset(d, 0, sizeof(buf[i]));
		if (b >> 6 == 3) {
			/* a TSO super-frame with its virtio-net header */
			hl = VMF_VNET_HDR_LEN;
			d[1] = 1;	/* GSO TCPv4 */
			len = 3000 - hl;
		} else if (b >> 6 == 1) {
			len = 13;
		} else if (b >> 6 == 2) {
			len = 1600;
		}
		if ((b >> 3 & 7) == 7)
			memset(d + hl, 0xff, 6);
		else
			memcpy(d + hl, (uint8_t[6]){ 2, 0, 0, 0, 0, (uint8_t)(b >> 3 & 7) }, 6);
		memcpy(d + hl + 6, (uint8_t[6]){ (b & 7) == 7 ? 3 : 2, 0, 0, 0, 0, (uint8_t)(b & 7) }, 6);
		d[hl + 12] = 0x08;
		if (tags) {
			uint8_t t = fuzz_byte(data, size);
			size_t o = hl + 12, k = t & 3;

			for (size_t j = 0; j < k && len > 13; j++, o += 4) {
				d[o] = (k == 3 && !j) ? 0x88 : 0x81;
				d[o + 1] = (k == 3 && !j) ? 0xa8 : 0x00;
				d[o + 2] = (uint8_t)(t & 0xc0);
				d[o + 3] = (uint8_t)(t >> (j ? 4 : 2) & 3);
				len += 4;
			}
			d[o] = 0x08;
			if (hl) {
				d[6] = (uint8_t)(o - hl + 20);	/* NEEDS_CSUM: TCP after IPv4, shifted by the tags */
				d[0] = t & 0x20 ? 1 : 0;
				d[2] = (uint8_t)(o - hl + 42);
			}
		}
		f[i] = (struct frame){ d, (uint32_t)(hl + len), hl ? FRAME_VNET : 0, 0 };
	}
	if (codec_pack_batch(f, n, &m))
		return;
	deliver(sw, c, zmq_msg_data(&m), zmq_msg_size(&m), now);
	zmq_msg_close(&m);
}

/* A tagged batch [n] n x [b: as batch(), then net index byte] with names from n0..n3 and a bad one. */
static void trunk_batch(struct vswitch *sw, int c, const uint8_t **data, size_t *size, uint64_t now)
{
	static char *names[] = { "n0", "n1", "n2", "n3", "bad name" };
	static uint8_t buf[8][64];
	struct frame f[8];
	size_t n = (fuzz_byte(data, size) & 7) + 1;
	zmq_msg_t m;

	for (size_t i = 0; i < n; i++) {
		uint8_t b = fuzz_byte(data, size), *d = buf[i];

		memset(d, 0, sizeof(buf[i]));
		if ((b >> 3 & 7) == 7)
			memset(d, 0xff, 6);
		else
			memcpy(d, (uint8_t[6]){ 2, 0, 0, 0, 0, (uint8_t)(b >> 3 & 7) }, 6);
		memcpy(d + 6, (uint8_t[6]){ 2, 0, 0, 0, 1, (uint8_t)(b & 7) }, 6);
		d[12] = 0x08;
		f[i] = (struct frame){ d, b >> 6 ? 60 : 13, 0, 0 };
		f[i].net = fuzz_byte(data, size) % 4;
	}
	/* "bad name" is never valid: the decoder refuses such a batch, the switch counts it */
	if (codec_pack_batch_trunk(f, n, names, *size & 1 ? 5 : 4, &m))
		return;
	deliver(sw, c, zmq_msg_data(&m), zmq_msg_size(&m), now);
	zmq_msg_close(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const nets[] = { "n0", "n1", "n2", "n3" };
	static const char *const names[] = { "p0", "p1", "x0", "p0/b" };
	struct switch_conf conf = {
		.max_ports = 6, .max_networks = 3, .max_macs = 64, .mac_age_s = 300,
		.mtu = 1500, .keepalive_ms = 1000, .port_macs = 8, .id = "me",
	};
	struct vswitch sw;
	uint64_t now = 1000000;
	uint8_t flags;
	int mandatory;
	FILE *devnull;

	if (!ctx)
		setup();
	flags = fuzz_byte(&data, &size);
	mandatory = flags & 1;
	zmq_setsockopt(router, ZMQ_ROUTER_MANDATORY, &mandatory, sizeof(mandatory));
	zap.keys.e = keys;
	zap.keys.n = 3;
	if (switch_init(&sw, &conf, router, flags & 2 ? NULL : &zap))
		return 0;
	{
		const char *why;

		if (vlan_option(&sw, "p1=access:1", &why))
			abort();
	}
	devnull = fopen("/dev/null", "w");
	while (size) {
		uint8_t op = fuzz_byte(&data, &size);
		int c = op & 7;
		Vmfabric__Envelope env = VMFABRIC__ENVELOPE__INIT;

		switch (op >> 3) {
		case 0: {
			Vmfabric__Hello h = VMFABRIC__HELLO__INIT;
			uint8_t b = fuzz_byte(&data, &size);

			h.version = b & 0x80 ? 7 : VMF_PROTO_VERSION;
			h.network = (char *)(uintptr_t)nets[b & 3];
			h.port = (char *)(uintptr_t)names[b >> 2 & 3];
			h.mtu = 1500;
			env.msg_case = VMFABRIC__ENVELOPE__MSG_HELLO;
			env.hello = &h;
			deliver_env(&sw, c, &env, now);
			break;
		}
		case 1:
		case 13:
			batch(&sw, c, &data, &size, now, op >> 3 == 13);
			break;
		case 12: {
			static const char *const specs[] = {
				"access 1", "access 2", "trunk 1,2", "trunk 1 native 2", "trunk all",
				"none", "trunk native 3", "trunk 0",
			};
			const char *why;
			uint8_t b = fuzz_byte(&data, &size);

			vlan_port_set(&sw, names[b & 3], specs[b >> 2 & 7], VLAN_SRC_CTL, &why);
			break;
		}
		case 2: {
			Vmfabric__Keepalive k = VMFABRIC__KEEPALIVE__INIT;

			env.msg_case = VMFABRIC__ENVELOPE__MSG_KEEPALIVE;
			env.keepalive = &k;
			deliver_env(&sw, c, &env, now);
			break;
		}
		case 3: {
			Vmfabric__Bye b = VMFABRIC__BYE__INIT;
			char reason[256];
			size_t n = fuzz_byte(&data, &size);

			n = MIN(n, size);
			memcpy(reason, data, n);
			reason[n] = '\0';
			data += n;
			size -= n;
			b.reason = reason;
			env.msg_case = VMFABRIC__ENVELOPE__MSG_BYE;
			env.bye = &b;
			deliver_env(&sw, c, &env, now);
			break;
		}
		case 4: {
			size_t n = fuzz_byte(&data, &size);

			n = MIN(n, size);
			deliver(&sw, c, data, n, now);
			data += n;
			size -= n;
			break;
		}
		case 5:
			switch_pass_end(&sw);
			break;
		case 6:
			switch_pass_end(&sw);
			now += 100 * (uint64_t)fuzz_byte(&data, &size);
			switch_tick(&sw, now);
			break;
		case 7:
			switch_pass_end(&sw);
			zap.keys.n = zap.keys.n == 3 ? 2 : 3;	/* the last key comes and goes */
			switch_revoke(&sw);
			break;
		case 8: {
			char rid[3] = { 'c', (char)('0' + c), 0 };

			switch_pass_end(&sw);
			for (long i = 0; i < sw.conf.max_ports; i++)
				if (sw.ports[i].used && sw.ports[i].rid_len == 2 &&
				    !memcmp(sw.ports[i].rid, rid, 2))
					switch_kick(&sw, &sw.ports[i]);
			break;
		}
		case 10: {
			/* a trunk Hello [b: carried networks bits 0-3 (none: all), path bits 4-7] */
			static char *carry[4], *path[3];
			static char id_self[] = "me", id_a[] = "child-a", id_b[] = "child-b";
			Vmfabric__Hello h = VMFABRIC__HELLO__INIT;
			uint8_t b = fuzz_byte(&data, &size);

			h.version = VMF_PROTO_VERSION;
			h.kind = VMF_KIND_TRUNK;
			h.port = (char *)(uintptr_t)(c & 1 ? "switch/a" : "switch/b");
			h.network = (char *)(uintptr_t)"";
			for (int k = 0; k < 4; k++)
				if (b & (1 << k))
					carry[h.n_networks++] = (char *)(uintptr_t)nets[k];
			h.networks = carry;
			path[h.n_path++] = c & 1 ? id_a : id_b;
			if (b & 0x10)
				path[h.n_path++] = id_self;	/* a loop */
			if (b & 0x20)
				path[h.n_path++] = c & 1 ? id_b : id_a;
			h.path = path;
			env.msg_case = VMFABRIC__ENVELOPE__MSG_HELLO;
			env.hello = &h;
			deliver_env(&sw, c, &env, now);
			break;
		}
		case 11:
			trunk_batch(&sw, c, &data, &size, now);
			break;
		case 14: {
			uint8_t b = fuzz_byte(&data, &size);

			/* as control.c does it: between passes */
			switch_pass_end(&sw);
			portconf_link(&sw, names[b & 3], b & 4);
			break;
		}
		case 15: {
			static const char *const specs[] = {
				"delay=1ms", "loss=50%,seed=1", "dup=50%,seed=2",
				"reorder=50%,delay=1ms,seed=3", "rate=1mbit,queue=4,queue-bytes=3000",
				"delay=1ms,direction=in", "jitter=1ms,delay=2ms,direction=both",
				"clear,direction=both",
			};
			uint8_t b = fuzz_byte(&data, &size);
			char *argv[2] = { (char *)(uintptr_t)names[b & 3], (char *)(uintptr_t)specs[b >> 2 & 7] };
			char why[256];

			switch_pass_end(&sw);
			if (devnull)
				impair_control(&sw, 2, argv, b & 0x80, devnull, why, sizeof(why));
			break;
		}
		case 16:
			switch_pass_end(&sw);
			impair_run(&sw);
			break;
		case 9:
			switch_pass_end(&sw);
			if (devnull) {
				stats_json(&sw, devnull);
				stats_text_ports(&sw, devnull);
				stats_text_macs(&sw, devnull, NULL);
				stats_text_totals(&sw, devnull);
				stats_prometheus(&sw, devnull);
			}
			break;
		default: {
			Vmfabric__Welcome w = VMFABRIC__WELCOME__INIT;

			env.msg_case = VMFABRIC__ENVELOPE__MSG_WELCOME;
			env.welcome = &w;
			deliver_env(&sw, c, &env, now);
			break;
		}
		}
		check(&sw);
	}
	switch_pass_end(&sw);
	check(&sw);
	switch_shutdown(&sw);
	switch_free(&sw);
	zap.keys.n = 3;
	for (int i = 0; i < 3; i++)
		keys[i].hello_ms = keys[i].hello_tokens = 0;
	if (devnull)
		fclose(devnull);
	return 0;
}
