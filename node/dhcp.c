/* dhcp.c - the gateway's DHCPv4 server (replaces libslirp's 16-lease one) */

/*
 * DOC: theory of operation
 *
 * libslirp 4.7 serves at most 16 DHCP clients, so the gateway disables its
 * DHCP (SlirpConfig.disable_dhcp) and answers here. This module has no
 * sockets and no clock of its own: dhcp_input() takes a frame and the time
 * and returns a reply frame; dhcp_poll() returns offers that were deferred.
 *
 * Pool: every address from start to end, minus the network, broadcast,
 * router and DNS addresses. One slot per address (the address is the index).
 * A slot is FREE, OFFERED (for 30 s) or BOUND (until the lease ends). A slot
 * keeps its last MAC when it becomes free: a returning client gets its old
 * address, and expired slots are reused oldest first, only once no
 * never-used address is left. Every message costs O(1) or O(log pool), also
 * on a 65536-address pool: slots are chained into a hash index by MAC (the
 * lease holder) and one by claiming MAC (below), and sit in a min-heap
 * ordered by the time each becomes free to offer (never used first, then
 * longest expired, lowest address on a tie); pick() looks at the heap's top.
 *
 * Who may speak for a client: a DHCP message counts only when its chaddr is
 * the frame's Ethernet source; anything else is dropped and counted
 * (spoofed), so one station cannot decline, release or request for another.
 * Forging the source MAC as well is the switch's to stop (--lock-mac, the
 * per-port MAC limit).
 *
 * Addresses in use by others: every frame the gateway receives is observed;
 * the sender of an ARP packet (whose sender MAC is the frame's source) and
 * the source of an IPv4 packet "claim" that address for that MAC for 10
 * minutes; a claimed address is not offered to another MAC. One MAC holds
 * at most DHCP_CLAIM_MAX live claims: further ones are ignored and counted
 * (claims_capped), so one station cannot take the pool away by ARP. A claim
 * never touches a bound lease: the holder of an unexpired lease gets its
 * renewal ACKed and its address offered again whatever others claim; claims
 * decide only who gets a free or expired address. Before offering an
 * address new to a client, the server sends an ARP probe (RFC 5227: sender
 * 0.0.0.0) and answers the DISCOVER @probe_ms later, unless another MAC
 * answered for the address (a claim, so capped too); then it picks another
 * one (3 tries). A DHCPDECLINE by the holder keeps the address from everyone
 * for 10 minutes (a claim of the decliner's).
 *
 * Messages: DISCOVER -> OFFER; REQUEST (selecting, init-reboot, renewing,
 * rebinding) -> ACK or NAK (a REQUEST for an address of another client or of
 * another subnet gets a NAK; one naming another server id is ignored);
 * DECLINE, RELEASE -> no reply; INFORM -> ACK with options only. No relay
 * agent support (giaddr is ignored: the gateway sits on the guests' L2).
 * Replies go to the client's MAC (broadcast if it asked for it, or a NAK).
 * An offer holds its address for 30 s; only a REQUEST binds it.
 *
 * Dropped: anything that is not a BOOTREQUEST over Ethernet/IPv4/UDP to
 * port 67 with a sane header and option list (counted as malformed); a
 * message naming another chaddr (spoofed); a DISCOVER when the pool is
 * exhausted (counted, no offer); a DISCOVER when DHCP_PENDING_MAX probes are
 * in flight (counted; the client retries).
 *
 * Not defended here: many stations (or one port forging many source MACs)
 * that each take one lease or claim one address can still empty the pool;
 * what bounds them is the switch's per-port MAC limit, together with a lease
 * time no longer than the switch's MAC age (README, gateway section).
 *
 * Lease file: one line per slot with a MAC, "MAC IP STATE EXPIRES_WALL_MS",
 * written to a new file beside PATH, fsynced and renamed over it (file_replace()).
 */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "dhcp.h"
#include "offload.h"
#include "siphash.h"
#include "util.h"

#define ETH_P_IP_	0x0800
#define ETH_P_ARP_	0x0806
#define BOOTP_MIN	236	/* fixed part of a BOOTP message */
#define BOOTP_OPT	240	/* fixed part + magic cookie */
#define OFFER_MS	30000	/* an unanswered offer holds its address this long */
#define SEEN_MS		600000	/* a claim keeps an address from others this long */
#define REFRESH_MS	60000	/* a live claim is renewed at most this often */
#define PROBE_TRIES	3

enum {
	DHCPDISCOVER = 1, DHCPOFFER, DHCPREQUEST, DHCPDECLINE, DHCPACK, DHCPNAK,
	DHCPRELEASE, DHCPINFORM,
};

/* What a request carried. */
struct req {
	uint32_t xid, ciaddr;
	uint16_t flags;
	uint8_t chaddr[6];
	int type;
	uint32_t requested;	/* option 50 */
	uint32_t server_id;	/* option 54 */
	int has_requested, has_server_id;
};

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32n(const uint8_t *p)	/* network order, as stored */
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static int mac_eq(const uint8_t *a, const uint8_t *b)
{
	return !memcmp(a, b, 6);
}

static uint64_t wall(const struct dhcp *d, uint64_t now)
{
	return (uint64_t)((int64_t)now + d->wall_offset);
}

/* slot index of @ip (network order), or -1 if it is not a pool address */
static long slot_of(const struct dhcp *d, uint32_t ip)
{
	uint32_t h = ntohl(ip), s = ntohl(d->conf.start);

	if (h < s || h - s >= d->pool_n)
		return -1;
	return (long)(h - s);
}

static uint32_t ip_of(const struct dhcp *d, uint32_t idx)
{
	return htonl(ntohl(d->conf.start) + idx);
}

/* addresses inside the range that are never handed out */
static int reserved(const struct dhcp *d, uint32_t ip)
{
	const struct dhcp_conf *c = &d->conf;

	return ip == c->router || ip == c->dns || ip == c->net || ip == (c->net | ~c->mask);
}

/* ---- indexes: by MAC, by claiming MAC, free order ---- */

/* bucket of @mac: SipHash under a key drawn at start-up, so that the
 * chains a station can lengthen depend on a value it does not know */
static uint32_t bucket(const struct dhcp *d, const uint8_t *mac)
{
	uint64_t h = 0;

	memcpy(&h, mac, 6);
	return (uint32_t)siphash13_u64(&d->hash_key, h) & d->bucket_mask;
}

static long mac_find(const struct dhcp *d, const uint8_t *mac)
{
	for (uint32_t i = d->mac_bucket[bucket(d, mac)]; i != DHCP_NONE; i = d->slot[i].mac_next)
		if (mac_eq(d->slot[i].mac, mac))
			return (long)i;
	return -1;
}

/* unlink @idx from the chain starting at *@p, following the link at @off */
static void chain_unlink(struct dhcp *d, uint32_t *p, uint32_t idx, size_t off)
{
	while (*p != DHCP_NONE && *p != idx)
		p = (uint32_t *)((char *)&d->slot[*p] + off);
	if (*p == idx)
		*p = *(uint32_t *)((char *)&d->slot[idx] + off);
	*(uint32_t *)((char *)&d->slot[idx] + off) = DHCP_NONE;
}

/* when slot @s becomes free to offer to anyone (wall ms): its hold, its claim */
static uint64_t free_at(const struct dhcp *d, const struct dhcp_slot *s)
{
	uint64_t k = s->has_mac ? s->expires : 0;

	if (s->claim_at && wall(d, s->claim_at + SEEN_MS) > k)
		k = wall(d, s->claim_at + SEEN_MS);
	return k;
}

static int heap_less(const struct dhcp *d, uint32_t a, uint32_t b)
{
	uint64_t ka = free_at(d, &d->slot[a]), kb = free_at(d, &d->slot[b]);

	return ka < kb || (ka == kb && a < b);
}

/* restore the heap after slot @idx's hold, MAC or claim changed */
static void heap_fix(struct dhcp *d, uint32_t idx)
{
	uint32_t pos = d->slot[idx].heap_pos;

	if (pos == DHCP_NONE)
		return;
	while (pos > 0 && heap_less(d, idx, d->heap[(pos - 1) / 2])) {
		d->heap[pos] = d->heap[(pos - 1) / 2];
		d->slot[d->heap[pos]].heap_pos = pos;
		pos = (pos - 1) / 2;
	}
	for (;;) {
		uint32_t c = 2 * pos + 1;

		if (c >= d->heap_n)
			break;
		if (c + 1 < d->heap_n && heap_less(d, d->heap[c + 1], d->heap[c]))
			c++;
		if (!heap_less(d, d->heap[c], idx))
			break;
		d->heap[pos] = d->heap[c];
		d->slot[d->heap[pos]].heap_pos = pos;
		pos = c;
	}
	d->heap[pos] = idx;
	d->slot[idx].heap_pos = pos;
}

static void pend_drop(struct dhcp *d, struct dhcp_pending *p)
{
	uint16_t pi = (uint16_t)(p - d->pend);

	if (!p->used)
		return;
	if (d->slot[p->idx].pend == pi + 1)
		d->slot[p->idx].pend = 0;
	p->used = 0;
	d->pend_free[d->n_pend_free++] = pi;
}

/* the probe in flight for slot @idx, if any */
static struct dhcp_pending *pend_of(struct dhcp *d, long idx)
{
	return idx >= 0 && d->slot[idx].pend ? &d->pend[d->slot[idx].pend - 1] : NULL;
}

/* give slot @idx the holder @mac (NULL: none), keeping the MAC index; a
 * probe in flight for the previous holder ends */
static void slot_set_mac(struct dhcp *d, uint32_t idx, const uint8_t *mac)
{
	struct dhcp_slot *s = &d->slot[idx];

	if (s->pend)
		pend_drop(d, &d->pend[s->pend - 1]);
	if (s->has_mac)
		chain_unlink(d, &d->mac_bucket[bucket(d, s->mac)], idx, offsetof(struct dhcp_slot, mac_next));
	s->has_mac = 0;
	if (mac) {
		uint32_t *b = &d->mac_bucket[bucket(d, mac)];

		memcpy(s->mac, mac, 6);
		s->has_mac = 1;
		s->mac_next = *b;
		*b = idx;
	}
	heap_fix(d, idx);
}

static int claim_live(const struct dhcp_slot *s, uint64_t now)
{
	return s->claim_at && now - s->claim_at < SEEN_MS;
}

/*
 * Record that @mac claims slot @idx (@decl: it declined it). Stale claims
 * met in @mac's chain are dropped on the way. Return: 0, or -ENOSPC when
 * @mac already holds DHCP_CLAIM_MAX other live claims (ignored, counted).
 */
static int claim(struct dhcp *d, uint32_t idx, const uint8_t *mac, int decl, uint64_t now)
{
	struct dhcp_slot *s = &d->slot[idx];
	uint32_t *p = &d->claim_bucket[bucket(d, mac)], n = 0;

	while (*p != DHCP_NONE) {
		uint32_t i = *p;
		struct dhcp_slot *c = &d->slot[i];

		if (!claim_live(c, now)) {
			*p = c->claim_next;
			c->claim_next = DHCP_NONE;
			c->claim_at = 0;
			heap_fix(d, i);
			continue;
		}
		if (i != idx && mac_eq(c->claim_mac, mac))
			n++;
		p = &c->claim_next;
	}
	if (n >= DHCP_CLAIM_MAX) {
		d->ctr.claims_capped++;
		return -ENOSPC;
	}
	if (s->claim_at)
		chain_unlink(d, &d->claim_bucket[bucket(d, s->claim_mac)], idx,
			     offsetof(struct dhcp_slot, claim_next));
	memcpy(s->claim_mac, mac, 6);
	s->claim_decl = (uint8_t)decl;
	s->claim_at = now ? now : 1;
	p = &d->claim_bucket[bucket(d, mac)];
	s->claim_next = *p;
	*p = idx;
	heap_fix(d, idx);
	return 0;
}

int dhcp_init(struct dhcp *d, const struct dhcp_conf *c, const char **why)
{
	uint32_t s = ntohl(c->start), e = ntohl(c->end), nb = 16;
	struct timespec rt, mt;

	memset(d, 0, sizeof(*d));
	d->conf = *c;
	if ((c->start & c->mask) != c->net || (c->end & c->mask) != c->net) {
		*why = "the DHCP range must lie inside the network";
		return -EINVAL;
	}
	if (e < s || e - s >= DHCP_POOL_MAX) {
		*why = "the DHCP range is empty or larger than 65536 addresses";
		return -EINVAL;
	}
	d->pool_n = e - s + 1;
	while (nb < d->pool_n)
		nb *= 2;
	d->bucket_mask = nb - 1;
	d->slot = calloc(d->pool_n, sizeof(*d->slot));
	d->heap = calloc(d->pool_n, sizeof(*d->heap));
	d->mac_bucket = malloc(nb * sizeof(*d->mac_bucket));
	d->claim_bucket = malloc(nb * sizeof(*d->claim_bucket));
	if (!d->slot || !d->heap || !d->mac_bucket || !d->claim_bucket) {
		dhcp_free(d);
		*why = "out of memory";
		return -ENOMEM;
	}
	memset(d->mac_bucket, 0xff, nb * sizeof(*d->mac_bucket));
	memset(d->claim_bucket, 0xff, nb * sizeof(*d->claim_bucket));
	/* all keys equal (never used): index order is already a heap */
	for (uint32_t i = 0; i < d->pool_n; i++) {
		d->slot[i].mac_next = d->slot[i].claim_next = d->slot[i].heap_pos = DHCP_NONE;
		if (reserved(d, ip_of(d, i)))
			continue;
		d->heap[d->heap_n] = i;
		d->slot[i].heap_pos = d->heap_n++;
	}
	for (uint32_t i = 0; i < DHCP_PENDING_MAX; i++)
		d->pend_free[i] = (uint16_t)(DHCP_PENDING_MAX - 1 - i);
	d->n_pend_free = DHCP_PENDING_MAX;
	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mt);
	if (sip_key_random(&d->hash_key)) {
		d->hash_key.k0 = (uint64_t)rt.tv_nsec ^ ((uint64_t)mt.tv_nsec << 32);
		d->hash_key.k1 = (uint64_t)mt.tv_sec ^ ((uint64_t)rt.tv_sec << 20);
	}
	d->wall_offset = ((int64_t)rt.tv_sec - (int64_t)mt.tv_sec) * 1000 +
			 ((int64_t)rt.tv_nsec - (int64_t)mt.tv_nsec) / 1000000;
	return 0;
}

void dhcp_free(struct dhcp *d)
{
	if (!d)
		return;
	free(d->slot);
	free(d->heap);
	free(d->mac_bucket);
	free(d->claim_bucket);
	d->slot = NULL;
	d->heap = NULL;
	d->mac_bucket = d->claim_bucket = NULL;
}

/* someone other than @mac claims the address (a decline: anyone) */
static int in_use_by_other(const struct dhcp *d, uint32_t idx, const uint8_t *mac, uint64_t now)
{
	const struct dhcp_slot *s = &d->slot[idx];

	return claim_live(s, now) && (s->claim_decl || !mac_eq(s->claim_mac, mac));
}

/* slot @idx holds an unexpired lease (claims do not touch it) */
static int lease_held(const struct dhcp *d, uint32_t idx, uint64_t now)
{
	const struct dhcp_slot *s = &d->slot[idx];

	return s->has_mac && s->state == DHCP_BOUND && s->expires > wall(d, now);
}

/* slot @idx can go to @mac now */
static int usable(const struct dhcp *d, uint32_t idx, const uint8_t *mac, uint64_t now)
{
	const struct dhcp_slot *s = &d->slot[idx];

	if (s->heap_pos == DHCP_NONE || in_use_by_other(d, idx, mac, now))
		return 0;
	if (s->has_mac && mac_eq(s->mac, mac))
		return 1;
	return s->state == DHCP_FREE || s->expires <= wall(d, now);
}

/*
 * Pick an address for @mac: its own slot, the requested one, then the top
 * of the free-order heap (never used, else expired longest ago) if that is
 * free now. Return: index or -1.
 */
static long pick(struct dhcp *d, const uint8_t *mac, uint32_t requested, uint64_t now)
{
	long own = mac_find(d, mac), r;
	uint32_t top;

	if (own >= 0 && (lease_held(d, (uint32_t)own, now) || usable(d, (uint32_t)own, mac, now)))
		return own;
	r = requested ? slot_of(d, requested) : -1;
	if (r >= 0 && usable(d, (uint32_t)r, mac, now) &&
	    (!d->slot[r].has_mac || mac_eq(d->slot[r].mac, mac)))
		return r;
	if (!d->heap_n)
		return -1;
	top = d->heap[0];
	if (free_at(d, &d->slot[top]) > wall(d, now) || !usable(d, top, mac, now))
		return -1;
	return (long)top;
}

/* give @idx to @mac in @state */
static void assign(struct dhcp *d, uint32_t idx, const uint8_t *mac, int state, uint64_t now)
{
	long old = mac_find(d, mac);
	struct dhcp_slot *s = &d->slot[idx];

	if (old >= 0 && (uint32_t)old != idx) {
		d->slot[old].state = DHCP_FREE;
		slot_set_mac(d, (uint32_t)old, NULL);
		d->dirty = 1;
	}
	/* the file holds bindings: offers and renewals alone do not rewrite it */
	if (state == DHCP_BOUND && (!s->has_mac || !mac_eq(s->mac, mac) || s->state != state))
		d->dirty = 1;
	if (!s->has_mac || !mac_eq(s->mac, mac))
		slot_set_mac(d, idx, mac);
	if (state == DHCP_BOUND && s->pend)
		pend_drop(d, &d->pend[s->pend - 1]);
	s->state = (uint8_t)state;
	s->expires = wall(d, now) + (state == DHCP_BOUND ? (uint64_t)d->conf.lease_s * 1000 : OFFER_MS);
	heap_fix(d, idx);
}

/*
 * Note that @mac uses @ip. The holder of an unexpired lease using it is no
 * claim; a claim already held by @mac is renewed at most every REFRESH_MS,
 * so this per-frame path stays O(1). Return: 1 if @mac now claims it.
 */
static int observe(struct dhcp *d, uint32_t ip, const uint8_t *mac, uint64_t now)
{
	long idx = slot_of(d, ip);
	struct dhcp_slot *s;

	if (idx < 0 || (mac[0] & 1) || mac_eq(mac, d->conf.mac))
		return 0;
	s = &d->slot[idx];
	if (s->heap_pos == DHCP_NONE)
		return 0;
	if (s->has_mac && mac_eq(s->mac, mac) && s->state != DHCP_FREE && s->expires > wall(d, now))
		return 0;
	if (claim_live(s, now) && !s->claim_decl && mac_eq(s->claim_mac, mac) &&
	    now - s->claim_at < REFRESH_MS)
		return 1;
	return claim(d, (uint32_t)idx, mac, 0, now) == 0;
}

/* ---- reply construction ---- */

struct opts {
	uint8_t *p, *end;
};

static void opt_add(struct opts *o, uint8_t code, const void *v, size_t n)
{
	if (n > 255 || o->p + 2 + n + 1 > o->end)	/* keep room for the end option */
		return;
	*o->p++ = code;
	*o->p++ = (uint8_t)n;
	memcpy(o->p, v, n);
	o->p += n;
}

static void opt_u32(struct opts *o, uint8_t code, uint32_t v)	/* v in network order */
{
	opt_add(o, code, &v, 4);
}

/* RFC 1035 name encoding of @search (no compression) for option 119 */
static size_t encode_search(const char *const *search, uint8_t *buf, size_t cap)
{
	size_t n = 0;

	for (; *search; search++) {
		const char *s = *search;

		while (*s) {
			const char *dot = strchr(s, '.');
			size_t l = dot ? (size_t)(dot - s) : strlen(s);

			if (l == 0 || l > 63 || n + 1 + l + 1 > cap)
				return 0;
			buf[n++] = (uint8_t)l;
			memcpy(buf + n, s, l);
			n += l;
			s += l;
			if (*s == '.')
				s++;
		}
		if (n + 1 > cap)
			return 0;
		buf[n++] = 0;
	}
	return n;
}

/*
 * Build a reply of @type for @r offering @yiaddr. @to_ip/@to_mac address the
 * frame. Return: frame length.
 */
static int build(struct dhcp *d, const struct req *r, int type, uint32_t yiaddr, uint8_t *out,
		 size_t cap)
{
	const struct dhcp_conf *c = &d->conf;
	uint8_t *eth = out, *ip = out + 14, *udp = ip + 20, *bp = udp + 8;
	uint8_t t = (uint8_t)type, sbuf[256];
	struct opts o;
	uint32_t to_ip, lease = htonl(c->lease_s);
	const uint8_t *to_mac = r->chaddr;
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	size_t blen, n;
	uint16_t v;

	if (cap < DHCP_FRAME_MAX)
		return 0;
	memset(out, 0, DHCP_FRAME_MAX);
	bp[0] = 2;		/* BOOTREPLY */
	bp[1] = 1;
	bp[2] = 6;
	memcpy(bp + 4, &r->xid, 4);
	v = htons(r->flags);
	memcpy(bp + 10, &v, 2);
	if (type == DHCPINFORM || type == DHCPACK)
		memcpy(bp + 12, &r->ciaddr, 4);
	if (type != DHCPNAK)
		memcpy(bp + 16, &yiaddr, 4);
	if (type != DHCPNAK && c->bootfile)
		memcpy(bp + 20, &c->router, 4);	/* siaddr: the TFTP server */
	memcpy(bp + 28, r->chaddr, 6);
	if (c->bootfile && type != DHCPNAK)
		snprintf((char *)bp + 108, 128, "%s", c->bootfile);
	bp[236] = 99; bp[237] = 130; bp[238] = 83; bp[239] = 99;
	o.p = bp + BOOTP_OPT;
	o.end = out + DHCP_FRAME_MAX;
	if (type == DHCPINFORM)
		t = DHCPACK;
	opt_add(&o, 53, &t, 1);
	opt_u32(&o, 54, c->router);
	if (type != DHCPNAK) {
		if (type != DHCPINFORM) {
			opt_u32(&o, 51, lease);
			opt_u32(&o, 58, htonl(c->lease_s / 2));
			opt_u32(&o, 59, htonl(c->lease_s / 8 * 7));
		}
		opt_u32(&o, 1, c->mask);
		if (!c->restricted) {
			opt_u32(&o, 3, c->router);
			opt_u32(&o, 6, c->dns);
		}
		if (c->hostname)
			opt_add(&o, 12, c->hostname, strlen(c->hostname));
		if (c->domain)
			opt_add(&o, 15, c->domain, strlen(c->domain));
		if (c->tftp_server)
			opt_add(&o, 66, c->tftp_server, strlen(c->tftp_server));
		if (c->bootfile)
			opt_add(&o, 67, c->bootfile, strlen(c->bootfile));
		if (c->search[0] && (n = encode_search(c->search, sbuf, sizeof(sbuf))))
			opt_add(&o, 119, sbuf, n);
	}
	*o.p++ = 255;
	blen = (size_t)(o.p - bp);
	if (blen < 300)
		blen = 300;	/* BOOTP minimum, some clients insist */

	if (type == DHCPNAK || (r->flags & 0x8000)) {
		to_ip = 0xffffffff;
		to_mac = bcast;
	} else if (r->ciaddr) {
		to_ip = r->ciaddr;
	} else {
		to_ip = yiaddr;
	}
	memcpy(eth, to_mac, 6);
	memcpy(eth + 6, c->mac, 6);
	eth[12] = 0x08;
	eth[13] = 0x00;
	ip[0] = 0x45;
	v = htons((uint16_t)(20 + 8 + blen));
	memcpy(ip + 2, &v, 2);
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, &c->router, 4);
	memcpy(ip + 16, &to_ip, 4);
	v = htons(inet_csum(ip, 20, 0));
	memcpy(ip + 10, &v, 2);
	udp[1] = 67;
	udp[3] = 68;
	v = htons((uint16_t)(8 + blen));
	memcpy(udp + 4, &v, 2);
	{
		/* pseudo header: src, dst, proto, UDP length */
		uint32_t sum = get16(ip + 12) + get16(ip + 14) + get16(ip + 16) + get16(ip + 18) +
			       17 + (uint32_t)(8 + blen);
		uint16_t cs = inet_csum(udp, 8 + blen, sum);

		v = htons(cs ? cs : 0xffff);
		memcpy(udp + 6, &v, 2);
	}
	return (int)(14 + 20 + 8 + blen);
}

/* an ARP probe for slot @idx */
static int build_probe(struct dhcp *d, uint32_t idx, uint8_t *out, size_t cap)
{
	uint32_t tip = ip_of(d, idx);

	if (cap < 60)
		return 0;
	memset(out, 0, 60);
	memset(out, 0xff, 6);
	memcpy(out + 6, d->conf.mac, 6);
	out[12] = 0x08; out[13] = 0x06;
	out[14] = 0; out[15] = 1;		/* Ethernet */
	out[16] = 0x08; out[17] = 0;		/* IPv4 */
	out[18] = 6; out[19] = 4;
	out[20] = 0; out[21] = 1;		/* request */
	memcpy(out + 22, d->conf.mac, 6);	/* sender IP stays 0.0.0.0 */
	memcpy(out + 38, &tip, 4);
	d->ctr.probes++;
	return 60;
}

/* ---- parsing ---- */

/*
 * Check Ethernet/IPv4/UDP and locate the BOOTP message.
 * Return: 0 with @bp/@blen set, DHCP_NOT_DHCP, or -EBADMSG.
 */
static int locate(const uint8_t *f, size_t len, const uint8_t **bp, size_t *blen)
{
	const uint8_t *ip, *udp;
	size_t ihl, tot, ulen;

	if (len < 14 + 20 || get16(f + 12) != ETH_P_IP_)
		return DHCP_NOT_DHCP;
	ip = f + 14;
	if ((ip[0] >> 4) != 4 || ip[9] != 17)
		return DHCP_NOT_DHCP;
	ihl = (size_t)(ip[0] & 15) * 4;
	tot = get16(ip + 2);
	if (ihl < 20 || tot < ihl + 8 || 14 + tot > len)
		return DHCP_NOT_DHCP;	/* not even a UDP header: slirp drops it */
	udp = ip + ihl;
	if (get16(udp + 2) != 67)
		return DHCP_NOT_DHCP;
	if (get16(ip + 6) & 0x3fff)
		return -EBADMSG;	/* fragmented DHCP: not worth reassembling */
	ulen = get16(udp + 4);
	if (ulen < 8 || ulen > tot - ihl || ulen - 8 < BOOTP_OPT)
		return -EBADMSG;
	*bp = udp + 8;
	*blen = ulen - 8;
	return 0;
}

static int parse(const uint8_t *bp, size_t blen, struct req *r)
{
	size_t i = BOOTP_OPT;

	memset(r, 0, sizeof(*r));
	if (bp[0] != 1 || bp[1] != 1 || bp[2] != 6)
		return -EBADMSG;
	if (bp[236] != 99 || bp[237] != 130 || bp[238] != 83 || bp[239] != 99)
		return -EBADMSG;
	memcpy(&r->xid, bp + 4, 4);
	r->flags = get16(bp + 10);
	r->ciaddr = get32n(bp + 12);
	memcpy(r->chaddr, bp + 28, 6);
	if (r->chaddr[0] & 1)
		return -EBADMSG;
	while (i < blen) {
		uint8_t code = bp[i], l;

		if (code == 255)
			break;
		if (code == 0) {
			i++;
			continue;
		}
		if (i + 2 > blen)
			return -EBADMSG;
		l = bp[i + 1];
		if (i + 2 + l > blen)
			return -EBADMSG;
		switch (code) {
		case 53:
			if (l != 1)
				return -EBADMSG;
			r->type = bp[i + 2];
			break;
		case 50:
			if (l != 4)
				return -EBADMSG;
			r->requested = get32n(bp + i + 2);
			r->has_requested = 1;
			break;
		case 54:
			if (l != 4)
				return -EBADMSG;
			r->server_id = get32n(bp + i + 2);
			r->has_server_id = 1;
			break;
		}
		i += 2 + (size_t)l;
	}
	if (r->type < DHCPDISCOVER || r->type > DHCPINFORM || r->type == DHCPOFFER ||
	    r->type == DHCPACK || r->type == DHCPNAK)
		return -EBADMSG;
	return 0;
}

static int discover(struct dhcp *d, const struct req *r, uint64_t now, uint8_t *out, size_t cap)
{
	long idx, own = mac_find(d, r->chaddr);
	struct dhcp_pending *p = pend_of(d, own);
	int held;

	if (p) {		/* a retransmission while we probe */
		p->xid = r->xid;
		p->flags = r->flags;
		return 0;
	}
	idx = pick(d, r->chaddr, r->has_requested ? r->requested : 0, now);
	if (idx < 0) {
		d->ctr.exhausted++;
		return 0;
	}
	/* a client's own bound lease needs no probe (it is using it), and it
	 * keeps its lease while it decides */
	held = idx == own && lease_held(d, (uint32_t)idx, now);
	if (d->conf.probe_ms && !held) {
		uint16_t pi;

		if (!d->n_pend_free) {
			d->ctr.pending_full++;
			return 0;
		}
		pi = d->pend_free[--d->n_pend_free];
		assign(d, (uint32_t)idx, r->chaddr, DHCP_OFFERED, now);
		p = &d->pend[pi];
		*p = (struct dhcp_pending){ { 0 }, r->xid, r->flags, (uint32_t)idx,
					    now + d->conf.probe_ms, 1, 1, 0 };
		memcpy(p->mac, r->chaddr, 6);
		d->slot[idx].pend = (uint16_t)(pi + 1);
		return build_probe(d, (uint32_t)idx, out, cap);
	}
	if (!held)
		assign(d, (uint32_t)idx, r->chaddr, DHCP_OFFERED, now);
	d->ctr.offer++;
	return build(d, r, DHCPOFFER, ip_of(d, (uint32_t)idx), out, cap);
}

static int request(struct dhcp *d, const struct req *r, uint64_t now, uint8_t *out, size_t cap)
{
	const struct dhcp_conf *c = &d->conf;
	long own = mac_find(d, r->chaddr), idx;
	uint32_t want;

	if (r->has_server_id) {			/* SELECTING */
		if (r->server_id != c->router) {
			/* the client took another server's offer */
			if (own >= 0 && d->slot[own].state == DHCP_OFFERED) {
				d->slot[own].state = DHCP_FREE;
				d->slot[own].expires = 0;
				heap_fix(d, (uint32_t)own);
			}
			return 0;
		}
		want = r->has_requested ? r->requested : r->ciaddr;
		if (own < 0 || ip_of(d, (uint32_t)own) != want || d->slot[own].state == DHCP_FREE)
			goto nak;
		idx = own;
	} else {				/* INIT-REBOOT, RENEWING, REBINDING */
		want = r->has_requested ? r->requested : r->ciaddr;
		if (!want)
			return -EBADMSG;
		if ((want & c->mask) != c->net)
			goto nak;
		idx = slot_of(d, want);
		if (idx < 0)
			return 0;		/* not ours to judge (static or other server) */
		/* the holder of an unexpired lease keeps it, whatever others claim */
		if (!(own == idx && lease_held(d, (uint32_t)idx, now))) {
			if (own != idx && !usable(d, (uint32_t)idx, r->chaddr, now))
				goto nak;
			if (in_use_by_other(d, (uint32_t)idx, r->chaddr, now) || reserved(d, want))
				goto nak;
		}
	}
	assign(d, (uint32_t)idx, r->chaddr, DHCP_BOUND, now);
	d->ctr.ack++;
	return build(d, r, DHCPACK, ip_of(d, (uint32_t)idx), out, cap);
nak:
	d->ctr.nak++;
	return build(d, r, DHCPNAK, 0, out, cap);
}

/* an ARP packet: its sender claims its address, maybe answering a probe */
static void arp_input(struct dhcp *d, const uint8_t *f, uint64_t now)
{
	uint32_t spa = get32n(f + 28);
	struct dhcp_pending *p;

	/* a sender MAC that is not the frame's source speaks for someone else */
	if (!spa || !mac_eq(f + 22, f + 6) || !observe(d, spa, f + 22, now))
		return;
	/* an answer for an address we are probing (a host answers for all its
	 * addresses on every interface: only another MAC than the client's is
	 * a conflict) */
	p = pend_of(d, slot_of(d, spa));
	if (p && !mac_eq(f + 22, p->mac) && !p->conflict) {
		d->ctr.conflicts++;
		p->conflict = 1;
		p->due = now;	/* dhcp_poll() picks another */
	}
}

int dhcp_input(struct dhcp *d, const uint8_t *f, size_t len, uint64_t now, uint8_t *out, size_t cap)
{
	const uint8_t *bp;
	struct req r;
	size_t blen;
	long own;
	int rc;

	if (len >= 14 + 28 && get16(f + 12) == ETH_P_ARP_ && get16(f + 14) == 1 &&
	    get16(f + 16) == ETH_P_IP_ && f[18] == 6 && f[19] == 4) {
		arp_input(d, f, now);
		return DHCP_NOT_DHCP;
	}
	rc = locate(f, len, &bp, &blen);
	if (rc == DHCP_NOT_DHCP) {
		if (len >= 34 && get16(f + 12) == ETH_P_IP_ && (f[14] >> 4) == 4)
			observe(d, get32n(f + 26), f + 6, now);
		return rc;
	}
	d->ctr.rx++;
	if (rc || parse(bp, blen, &r)) {
		d->ctr.malformed++;
		return -EBADMSG;
	}
	if (!mac_eq(r.chaddr, f + 6)) {
		d->ctr.spoofed++;
		return DHCP_SPOOFED;
	}
	switch (r.type) {
	case DHCPDISCOVER:
		d->ctr.discover++;
		return discover(d, &r, now, out, cap);
	case DHCPREQUEST:
		d->ctr.request++;
		rc = request(d, &r, now, out, cap);
		if (rc == -EBADMSG)
			d->ctr.malformed++;
		return rc;
	case DHCPDECLINE:
		d->ctr.decline++;
		own = mac_find(d, r.chaddr);
		if (r.has_requested && own >= 0 && ip_of(d, (uint32_t)own) == r.requested) {
			d->slot[own].state = DHCP_FREE;
			slot_set_mac(d, (uint32_t)own, NULL);
			claim(d, (uint32_t)own, r.chaddr, 1, now);
			d->ctr.conflicts++;
			d->dirty = 1;
		}
		return 0;
	case DHCPRELEASE:
		d->ctr.release++;
		own = mac_find(d, r.chaddr);
		if (own >= 0 && ip_of(d, (uint32_t)own) == r.ciaddr) {
			d->slot[own].state = DHCP_FREE;
			d->slot[own].expires = wall(d, now);
			heap_fix(d, (uint32_t)own);
			d->dirty = 1;
		}
		return 0;
	case DHCPINFORM:
		d->ctr.inform++;
		if (!r.ciaddr)
			return 0;
		return build(d, &r, DHCPINFORM, 0, out, cap);
	}
	return 0;
}

int dhcp_poll(struct dhcp *d, uint64_t now, uint8_t *out, size_t cap)
{
	if (d->n_pend_free == DHCP_PENDING_MAX)
		return 0;
	for (size_t i = 0; i < DHCP_PENDING_MAX; i++) {
		struct dhcp_pending *p = &d->pend[i];
		struct dhcp_slot *s = &d->slot[p->idx];
		struct req r = { 0 };
		long idx;

		if (!p->used || p->due > now)
			continue;
		r.xid = p->xid;
		r.flags = p->flags;
		memcpy(r.chaddr, p->mac, 6);
		if (!p->conflict && !in_use_by_other(d, p->idx, p->mac, now) && s->has_mac &&
		    mac_eq(s->mac, p->mac)) {
			idx = p->idx;
			pend_drop(d, p);
			assign(d, (uint32_t)idx, r.chaddr, DHCP_OFFERED, now);
			d->ctr.offer++;
			return build(d, &r, DHCPOFFER, ip_of(d, (uint32_t)idx), out, cap);
		}
		/* the address answered: probe another one */
		if (p->tries >= PROBE_TRIES) {
			pend_drop(d, p);	/* the client will retry */
			continue;
		}
		s->pend = 0;
		idx = pick(d, p->mac, 0, now);
		if (idx < 0) {
			pend_drop(d, p);
			d->ctr.exhausted++;
			continue;
		}
		assign(d, (uint32_t)idx, r.chaddr, DHCP_OFFERED, now);
		d->slot[idx].pend = (uint16_t)(i + 1);
		p->conflict = 0;
		p->idx = (uint32_t)idx;
		p->tries++;
		p->due = now + d->conf.probe_ms;
		return build_probe(d, (uint32_t)idx, out, cap);
	}
	return 0;
}

long dhcp_timeout(const struct dhcp *d, uint64_t now)
{
	long t = -1;

	if (d->n_pend_free == DHCP_PENDING_MAX)
		return -1;
	for (size_t i = 0; i < DHCP_PENDING_MAX; i++) {
		const struct dhcp_pending *p = &d->pend[i];
		long left;

		if (!p->used)
			continue;
		left = p->due > now ? (long)(p->due - now) : 0;
		if (t < 0 || left < t)
			t = left;
	}
	return t;
}

uint32_t dhcp_bound(const struct dhcp *d, uint64_t now)
{
	uint32_t n = 0;
	uint64_t w = wall(d, now);

	for (uint32_t i = 0; i < d->pool_n; i++)
		if (d->slot[i].state == DHCP_BOUND && d->slot[i].expires > w)
			n++;
	return n;
}

int dhcp_save(struct dhcp *d, const char *path)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	f = open_memstream(&buf, &len);
	if (!f)
		return -errno;
	fprintf(f, "# vmfabric-gateway leases: MAC IP STATE EXPIRES(unix ms)\n");
	for (uint32_t i = 0; i < d->pool_n; i++) {
		const struct dhcp_slot *s = &d->slot[i];
		struct in_addr a = { ip_of(d, i) };
		char ip[INET_ADDRSTRLEN];

		if (!s->has_mac)
			continue;
		inet_ntop(AF_INET, &a, ip, sizeof(ip));
		fprintf(f, "%02x:%02x:%02x:%02x:%02x:%02x %s %s %llu\n", s->mac[0], s->mac[1],
			s->mac[2], s->mac[3], s->mac[4], s->mac[5], ip,
			s->state == DHCP_BOUND ? "bound" : s->state == DHCP_OFFERED ? "offered" : "free",
			(unsigned long long)s->expires);
	}
	/* a new file beside @path, renamed over it: never a link planted at PATH.tmp */
	rc = fclose(f) ? -errno : file_replace(path, buf, len, 0644, 0);
	free(buf);
	if (!rc)
		d->dirty = 0;
	return rc;
}

int dhcp_load(struct dhcp *d, const char *path, unsigned int *skipped)
{
	char line[256], ip[64], st[16];
	unsigned int m[6];
	unsigned long long exp;
	FILE *f = fopen(path, "re");
	int n = 0;

	*skipped = 0;
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		struct in_addr a;
		uint8_t mac[6];
		long idx;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (sscanf(line, "%2x:%2x:%2x:%2x:%2x:%2x %63s %15s %llu", &m[0], &m[1], &m[2],
			   &m[3], &m[4], &m[5], ip, st, &exp) != 9 ||
		    inet_pton(AF_INET, ip, &a) != 1 || (idx = slot_of(d, a.s_addr)) < 0 ||
		    reserved(d, a.s_addr) || (m[0] & 1)) {
			(*skipped)++;
			continue;
		}
		for (int i = 0; i < 6; i++)
			mac[i] = (uint8_t)m[i];
		if (mac_find(d, mac) >= 0 || d->slot[idx].has_mac) {
			(*skipped)++;
			continue;
		}
		d->slot[idx].state = !strcmp(st, "bound") ? DHCP_BOUND : DHCP_FREE;
		d->slot[idx].expires = exp;
		slot_set_mac(d, (uint32_t)idx, mac);
		n++;
	}
	fclose(f);
	return n;
}

/* the chain of bucket @b at link offset @off holds exactly the slots it should; Return: 0 or -EINVAL */
static int check_chain(const struct dhcp *d, uint32_t b, size_t off, size_t mac_off, uint32_t *seen)
{
	uint32_t i = off == offsetof(struct dhcp_slot, mac_next) ? d->mac_bucket[b] : d->claim_bucket[b];

	for (; i != DHCP_NONE; i = *(const uint32_t *)((const char *)&d->slot[i] + off)) {
		if (i >= d->pool_n || ++seen[i] > 1 ||
		    bucket(d, (const uint8_t *)&d->slot[i] + mac_off) != b)
			return -EINVAL;
	}
	return 0;
}

int dhcp_check(const struct dhcp *d, const char **why)
{
	uint32_t *seen = calloc(d->pool_n, sizeof(*seen)), used = 0;
	int rc = -EUCLEAN;

	*why = "out of memory";
	if (!seen)
		return -ENOMEM;
	*why = "a MAC chain is broken (loop, foreign slot or wrong bucket)";
	for (uint32_t b = 0; b <= d->bucket_mask; b++)
		if (check_chain(d, b, offsetof(struct dhcp_slot, mac_next), offsetof(struct dhcp_slot, mac), seen))
			goto out;
	*why = "a slot with a MAC is not in the MAC index, or one without is";
	for (uint32_t i = 0; i < d->pool_n; i++)
		if (seen[i] != d->slot[i].has_mac || (d->slot[i].has_mac && mac_find(d, d->slot[i].mac) != (long)i))
			goto out;
	memset(seen, 0, d->pool_n * sizeof(*seen));
	*why = "a claim chain is broken (loop, foreign slot or wrong bucket)";
	for (uint32_t b = 0; b <= d->bucket_mask; b++)
		if (check_chain(d, b, offsetof(struct dhcp_slot, claim_next),
				offsetof(struct dhcp_slot, claim_mac), seen))
			goto out;
	*why = "a claimed slot is not in the claim index, or an unclaimed one is";
	for (uint32_t i = 0; i < d->pool_n; i++)
		if (seen[i] != (d->slot[i].claim_at != 0))
			goto out;
	*why = "the free-order heap is out of order or out of step with the slots";
	for (uint32_t pos = 0; pos < d->heap_n; pos++) {
		uint32_t i = d->heap[pos];

		if (i >= d->pool_n || d->slot[i].heap_pos != pos || reserved(d, ip_of(d, i)) ||
		    (pos && heap_less(d, i, d->heap[(pos - 1) / 2])))
			goto out;
	}
	for (uint32_t i = 0; i < d->pool_n; i++)
		if ((d->slot[i].heap_pos == DHCP_NONE) != reserved(d, ip_of(d, i)))
			goto out;
	*why = "a pending probe and its slot disagree";
	for (uint32_t i = 0; i < DHCP_PENDING_MAX; i++) {
		const struct dhcp_pending *p = &d->pend[i];

		if (!p->used)
			continue;
		used++;
		if (p->idx >= d->pool_n || d->slot[p->idx].pend != i + 1 || !d->slot[p->idx].has_mac ||
		    !mac_eq(d->slot[p->idx].mac, p->mac))
			goto out;
	}
	for (uint32_t i = 0; i < d->pool_n; i++)
		if (d->slot[i].pend && (d->slot[i].pend > DHCP_PENDING_MAX || !d->pend[d->slot[i].pend - 1].used ||
					d->pend[d->slot[i].pend - 1].idx != i))
			goto out;
	if (used + d->n_pend_free != DHCP_PENDING_MAX)
		goto out;
	rc = 0;
	*why = NULL;
out:
	free(seen);
	return rc;
}
