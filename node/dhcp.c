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
 * router and DNS addresses. One slot per address, keyed by MAC by a linear
 * scan (pools are a few hundred to a few thousand addresses and DHCP is rare).
 * A slot is FREE, OFFERED (for 60 s) or BOUND (until the lease ends). A slot
 * keeps its last MAC when it becomes free: a returning client gets its old
 * address, and expired slots are reused oldest first, only once no
 * never-used address is left.
 *
 * Addresses in use by others: every frame the gateway receives is observed;
 * the sender of an ARP packet and the source of an IPv4 packet mark that
 * address as seen in use by that MAC (for 10 minutes). Such an address is
 * never offered to another MAC. Before offering an address new to a client,
 * the server sends an ARP probe (RFC 5227: sender 0.0.0.0) and answers the
 * DISCOVER @probe_ms later, unless another MAC answered for the address; then
 * it picks another one (3 tries). A probe answer or a DHCPDECLINE keeps the
 * address out of the pool for 10 minutes.
 *
 * Messages: DISCOVER -> OFFER; REQUEST (selecting, init-reboot, renewing,
 * rebinding) -> ACK or NAK (a REQUEST for an address of another client or of
 * another subnet gets a NAK; one naming another server id is ignored);
 * DECLINE, RELEASE -> no reply; INFORM -> ACK with options only. No relay
 * agent support (giaddr is ignored: the gateway sits on the guests' L2).
 * Replies go to the client's MAC (broadcast if it asked for it, or a NAK).
 *
 * Dropped: anything that is not a BOOTREQUEST over Ethernet/IPv4/UDP to
 * port 67 with a sane header and option list (counted as malformed); a
 * DISCOVER when the pool is exhausted (counted, no offer); a DISCOVER when
 * DHCP_PENDING_MAX probes are in flight (counted; the client retries).
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
#include <time.h>
#include <unistd.h>

#include "dhcp.h"
#include "util.h"

#define ETH_P_IP_	0x0800
#define ETH_P_ARP_	0x0806
#define BOOTP_MIN	236	/* fixed part of a BOOTP message */
#define BOOTP_OPT	240	/* fixed part + magic cookie */
#define OFFER_MS	60000
#define SEEN_MS		600000
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

int dhcp_init(struct dhcp *d, const struct dhcp_conf *c, const char **why)
{
	uint32_t s = ntohl(c->start), e = ntohl(c->end);
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
	d->slot = calloc(d->pool_n, sizeof(*d->slot));
	if (!d->slot) {
		*why = "out of memory";
		return -ENOMEM;
	}
	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mt);
	d->wall_offset = ((int64_t)rt.tv_sec - (int64_t)mt.tv_sec) * 1000 +
			 ((int64_t)rt.tv_nsec - (int64_t)mt.tv_nsec) / 1000000;
	return 0;
}

void dhcp_free(struct dhcp *d)
{
	if (!d)
		return;
	free(d->slot);
	d->slot = NULL;
}

/* someone other than @mac used the address recently */
static int in_use_by_other(const struct dhcp *d, uint32_t idx, const uint8_t *mac, uint64_t now)
{
	const struct dhcp_slot *s = &d->slot[idx];

	if (s->conflict_at && now - s->conflict_at < SEEN_MS)
		return 1;
	return s->seen_at && now - s->seen_at < SEEN_MS && !mac_eq(s->seen_mac, mac);
}

static long find_mac(const struct dhcp *d, const uint8_t *mac)
{
	for (uint32_t i = 0; i < d->pool_n; i++)
		if (d->slot[i].has_mac && mac_eq(d->slot[i].mac, mac))
			return (long)i;
	return -1;
}

/* slot @idx can go to @mac now */
static int usable(const struct dhcp *d, uint32_t idx, const uint8_t *mac, uint64_t now)
{
	const struct dhcp_slot *s = &d->slot[idx];

	if (reserved(d, ip_of(d, idx)) || in_use_by_other(d, idx, mac, now))
		return 0;
	if (s->has_mac && mac_eq(s->mac, mac))
		return 1;
	return s->state == DHCP_FREE || s->expires <= wall(d, now);
}

/* a pending probe holds this slot for another client */
static int probing(const struct dhcp *d, uint32_t idx, const uint8_t *mac)
{
	for (size_t i = 0; i < DHCP_PENDING_MAX; i++)
		if (d->pend[i].used && d->pend[i].idx == idx && !mac_eq(d->pend[i].mac, mac))
			return 1;
	return 0;
}

/*
 * Pick an address for @mac: its own slot, the requested one, a never-used
 * one, then the one that expired longest ago. Return: index or -1.
 */
static long pick(struct dhcp *d, const uint8_t *mac, uint32_t requested, uint64_t now)
{
	long own = find_mac(d, mac), r, best = -1;
	uint64_t w = wall(d, now), oldest = UINT64_MAX;

	if (own >= 0 && usable(d, (uint32_t)own, mac, now))
		return own;
	r = requested ? slot_of(d, requested) : -1;
	if (r >= 0 && usable(d, (uint32_t)r, mac, now) && !probing(d, (uint32_t)r, mac) &&
	    (!d->slot[r].has_mac || mac_eq(d->slot[r].mac, mac)))
		return r;
	for (uint32_t i = 0; i < d->pool_n; i++) {
		const struct dhcp_slot *s = &d->slot[i];

		if (!usable(d, i, mac, now) || probing(d, i, mac))
			continue;
		if (!s->has_mac)
			return (long)i;
		if (s->state == DHCP_FREE || s->expires <= w) {
			if (s->expires < oldest) {
				oldest = s->expires;
				best = (long)i;
			}
		}
	}
	return best;
}

/* give @idx to @mac in @state */
static void assign(struct dhcp *d, uint32_t idx, const uint8_t *mac, int state, uint64_t now)
{
	long old = find_mac(d, mac);
	struct dhcp_slot *s = &d->slot[idx];

	if (old >= 0 && (uint32_t)old != idx) {
		d->slot[old].has_mac = 0;
		d->slot[old].state = DHCP_FREE;
		d->dirty = 1;
	}
	/* the file holds bindings: offers and renewals alone do not rewrite it */
	if (state == DHCP_BOUND && (!s->has_mac || !mac_eq(s->mac, mac) || s->state != state))
		d->dirty = 1;
	memcpy(s->mac, mac, 6);
	s->has_mac = 1;
	s->state = (uint8_t)state;
	s->expires = wall(d, now) + (state == DHCP_BOUND ? (uint64_t)d->conf.lease_s * 1000 : OFFER_MS);
}

/* note that @mac uses @ip */
static void observe(struct dhcp *d, uint32_t ip, const uint8_t *mac, uint64_t now)
{
	long idx = slot_of(d, ip);

	if (idx < 0 || (mac[0] & 1))
		return;
	memcpy(d->slot[idx].seen_mac, mac, 6);
	d->slot[idx].seen_at = now ? now : 1;
}

/* ---- reply construction ---- */

static uint16_t csum(const uint8_t *p, size_t n, uint32_t sum)
{
	for (; n > 1; p += 2, n -= 2)
		sum += get16(p);
	if (n)
		sum += (uint32_t)p[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

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
	v = htons(csum(ip, 20, 0));
	memcpy(ip + 10, &v, 2);
	udp[1] = 67;
	udp[3] = 68;
	v = htons((uint16_t)(8 + blen));
	memcpy(udp + 4, &v, 2);
	{
		/* pseudo header: src, dst, proto, UDP length */
		uint32_t sum = get16(ip + 12) + get16(ip + 14) + get16(ip + 16) + get16(ip + 18) +
			       17 + (uint32_t)(8 + blen);
		uint16_t cs = csum(udp, 8 + blen, sum);

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

static struct dhcp_pending *pending_find(struct dhcp *d, const uint8_t *mac)
{
	for (size_t i = 0; i < DHCP_PENDING_MAX; i++)
		if (d->pend[i].used && mac_eq(d->pend[i].mac, mac))
			return &d->pend[i];
	return NULL;
}

static int discover(struct dhcp *d, const struct req *r, uint64_t now, uint8_t *out, size_t cap)
{
	long idx, own = find_mac(d, r->chaddr);
	struct dhcp_pending *p = pending_find(d, r->chaddr);

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
	/* a client's own bound lease needs no probe: it is using it */
	if (d->conf.probe_ms && !(idx == own && d->slot[idx].state == DHCP_BOUND &&
				  d->slot[idx].expires > wall(d, now))) {
		for (size_t i = 0; i < DHCP_PENDING_MAX; i++) {
			if (d->pend[i].used)
				continue;
			p = &d->pend[i];
			*p = (struct dhcp_pending){ { 0 }, r->xid, r->flags, (uint32_t)idx,
						    now + d->conf.probe_ms, 1, 1, 0 };
			memcpy(p->mac, r->chaddr, 6);
			return build_probe(d, (uint32_t)idx, out, cap);
		}
		d->ctr.pending_full++;
		return 0;
	}
	/* a bound client that asks again keeps its lease while it decides */
	if (!(idx == own && d->slot[idx].state == DHCP_BOUND && d->slot[idx].expires > wall(d, now)))
		assign(d, (uint32_t)idx, r->chaddr, DHCP_OFFERED, now);
	d->ctr.offer++;
	return build(d, r, DHCPOFFER, ip_of(d, (uint32_t)idx), out, cap);
}

static int request(struct dhcp *d, const struct req *r, uint64_t now, uint8_t *out, size_t cap)
{
	const struct dhcp_conf *c = &d->conf;
	long own = find_mac(d, r->chaddr), idx;
	uint32_t want;

	if (r->has_server_id) {			/* SELECTING */
		if (r->server_id != c->router) {
			/* the client took another server's offer */
			if (own >= 0 && d->slot[own].state == DHCP_OFFERED) {
				d->slot[own].state = DHCP_FREE;
				d->slot[own].expires = 0;
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
		if (own != idx && !usable(d, (uint32_t)idx, r->chaddr, now))
			goto nak;
		if (own != idx && d->slot[idx].has_mac && !mac_eq(d->slot[idx].mac, r->chaddr) &&
		    d->slot[idx].expires > wall(d, now))
			goto nak;
		if (in_use_by_other(d, (uint32_t)idx, r->chaddr, now) || reserved(d, want))
			goto nak;
	}
	assign(d, (uint32_t)idx, r->chaddr, DHCP_BOUND, now);
	d->ctr.ack++;
	return build(d, r, DHCPACK, ip_of(d, (uint32_t)idx), out, cap);
nak:
	d->ctr.nak++;
	return build(d, r, DHCPNAK, 0, out, cap);
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
		uint32_t spa = get32n(f + 28);

		if (spa && !mac_eq(f + 22, d->conf.mac)) {
			long idx = slot_of(d, spa);

			observe(d, spa, f + 22, now);
			/* an answer for an address we are probing */
			for (size_t i = 0; idx >= 0 && i < DHCP_PENDING_MAX; i++) {
				struct dhcp_pending *p = &d->pend[i];

				/* (a host answers for all its addresses on every interface:
				 * only another MAC than the client's is a conflict) */
				if (p->used && p->idx == (uint32_t)idx && !mac_eq(f + 22, p->mac) &&
				    !p->conflict) {
					d->ctr.conflicts++;
					d->slot[idx].conflict_at = now ? now : 1;
					p->conflict = 1;
					p->due = now;	/* dhcp_poll() picks another */
				}
			}
		}
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
		own = find_mac(d, r.chaddr);
		if (r.has_requested && own >= 0 && ip_of(d, (uint32_t)own) == r.requested) {
			static const uint8_t unknown[6] = { 0x02, 0, 0, 0, 0, 0 };

			observe(d, r.requested, unknown, now);
			d->slot[own].conflict_at = now ? now : 1;
			d->slot[own].has_mac = 0;
			d->slot[own].state = DHCP_FREE;
			d->ctr.conflicts++;
			d->dirty = 1;
		}
		return 0;
	case DHCPRELEASE:
		d->ctr.release++;
		own = find_mac(d, r.chaddr);
		if (own >= 0 && ip_of(d, (uint32_t)own) == r.ciaddr) {
			d->slot[own].state = DHCP_FREE;
			d->slot[own].expires = wall(d, now);
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
	for (size_t i = 0; i < DHCP_PENDING_MAX; i++) {
		struct dhcp_pending *p = &d->pend[i];
		struct req r = { 0 };
		long idx;

		if (!p->used || p->due > now)
			continue;
		r.xid = p->xid;
		r.flags = p->flags;
		memcpy(r.chaddr, p->mac, 6);
		if (!p->conflict && !in_use_by_other(d, p->idx, p->mac, now)) {
			p->used = 0;
			assign(d, p->idx, p->mac, DHCP_OFFERED, now);
			d->ctr.offer++;
			return build(d, &r, DHCPOFFER, ip_of(d, p->idx), out, cap);
		}
		/* the address answered: probe another one */
		p->used = 0;
		idx = p->tries < PROBE_TRIES ? pick(d, p->mac, 0, now) : -1;
		if (idx < 0) {
			if (p->tries >= PROBE_TRIES)
				continue;	/* the client will retry */
			d->ctr.exhausted++;
			continue;
		}
		p->used = 1;
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
		if (find_mac(d, mac) >= 0 || d->slot[idx].has_mac) {
			(*skipped)++;
			continue;
		}
		memcpy(d->slot[idx].mac, mac, 6);
		d->slot[idx].has_mac = 1;
		d->slot[idx].state = !strcmp(st, "bound") ? DHCP_BOUND : DHCP_FREE;
		d->slot[idx].expires = exp;
		n++;
	}
	fclose(f);
	return n;
}
