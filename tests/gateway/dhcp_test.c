/* dhcp_test.c - cmocka unit tests of the gateway's DHCP server (node/dhcp.c), no sockets */

#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../unit/unit.h"

#include "dhcp.h"
#include "dhcp_frames.h"

static const uint8_t GW[6] = { 0x52, 0x55, 10, 0, 2, 2 };

static void setup_conf(struct dhcp_conf *c, const char *start, const char *end, unsigned probe)
{
	memset(c, 0, sizeof(*c));
	inet_pton(AF_INET, "10.0.2.0", &c->net);
	inet_pton(AF_INET, "255.255.255.0", &c->mask);
	inet_pton(AF_INET, "10.0.2.2", &c->router);
	inet_pton(AF_INET, "10.0.2.3", &c->dns);
	inet_pton(AF_INET, start, &c->start);
	inet_pton(AF_INET, end, &c->end);
	c->lease_s = 3600;
	c->probe_ms = probe;
	c->domain = "lab.test";
	c->search[0] = "lab.test";
	c->search[1] = "example.test";
	memcpy(c->mac, GW, 6);
}

/* start(): a server on the pool START..END (setup_conf()) that must come up */
static void start(struct dhcp *d, struct dhcp_conf *c, const char *start, const char *end, unsigned probe)
{
	const char *why;

	setup_conf(c, start, end, probe);
	assert_int_equal(dhcp_init(d, c, &why), 0);
}

/* a DHCP request frame from @mac; @req/@sid/@ciaddr NULL = absent */
static size_t mkreq(uint8_t *f, const uint8_t *mac, int type, uint32_t xid, const char *req,
		    const char *sid, const char *ciaddr)
{
	uint32_t a[3] = { 0, 0, 0 };
	const char *s[3] = { req, sid, ciaddr };

	for (int i = 0; i < 3; i++)
		if (s[i])
			inet_pton(AF_INET, s[i], &a[i]);
	return dhcp_req_frame(f, mac, type, xid, a[0], a[1], a[2]);
}

/* an ARP reply from @mac for @ip to the gateway */
static size_t mkarp(uint8_t *f, const uint8_t *mac, const char *ip, int op)
{
	memset(f, 0, 60);
	memcpy(f, GW, 6);
	memcpy(f + 6, mac, 6);
	f[12] = 8; f[13] = 6; f[15] = 1; f[16] = 8; f[18] = 6; f[19] = 4; f[21] = (uint8_t)op;
	memcpy(f + 22, mac, 6);
	inet_pton(AF_INET, ip, f + 28);
	return 60;
}

/* reply type and yiaddr of a reply frame */
static int rtype(const uint8_t *r, size_t n, char *yi)
{
	const uint8_t *bp = r + 42, *o = bp + 240;

	assert_true(n >= 42 + 240);
	assert_int_equal(bp[0], 2);
	inet_ntop(AF_INET, bp + 16, yi, 16);
	while (o < r + n && *o != 255) {
		if (*o == 53)
			return o[2];
		o += 2 + o[1];
	}
	return -1;
}

static const uint8_t M1[6] = { 2, 0, 0, 0, 0, 1 }, M2[6] = { 2, 0, 0, 0, 0, 2 },
		     STATIC[6] = { 2, 0, 0, 0, 0, 0x99 }, EVIL[6] = { 2, 0, 0, 0, 0, 0xee };

/* send @f (built for chaddr) from the Ethernet source @src instead */
static size_t from(uint8_t *f, size_t n, const uint8_t *src)
{
	memcpy(f + 6, src, 6);
	return n;
}

/* an IPv4 UDP frame (not DHCP) from @mac and @ip to the gateway */
static size_t mkip(uint8_t *f, const uint8_t *mac, const char *ip)
{
	memset(f, 0, 60);
	memcpy(f, GW, 6);
	memcpy(f + 6, mac, 6);
	f[12] = 8;
	f[14] = 0x45;
	f[17] = 46;
	f[23] = 17;
	inet_pton(AF_INET, ip, f + 26);
	inet_pton(AF_INET, "10.0.2.2", f + 30);
	f[35] = 53;
	f[37] = 53;
	f[39] = 26;
	return 60;
}

/* every index agrees with the slots */
static void check(const struct dhcp *d)
{
	const char *why = NULL;

	if (dhcp_check(d, &why))
		fail_msg("dhcp_check: %s", why);
}

/* DISCOVER + REQUEST for @mac; returns the type of the last reply, the address in @yi */
static int dora(struct dhcp *d, const uint8_t *mac, uint64_t now, char *yi)
{
	uint8_t f[600], r[DHCP_FRAME_MAX];
	int n = dhcp_input(d, f, mkreq(f, mac, 1, 1, NULL, NULL, NULL), now, r, sizeof(r));

	if (n <= 0)
		return n;
	if (rtype(r, (size_t)n, yi) != 2)
		return -1;
	n = dhcp_input(d, f, mkreq(f, mac, 3, 2, yi, "10.0.2.2", NULL), now, r, sizeof(r));
	return n > 0 ? rtype(r, (size_t)n, yi) : n;
}

/* DISCOVER -> OFFER, REQUEST -> ACK, same address on a second DISCOVER */
static void test_dora(void **state)
{
	struct dhcp d;
	struct dhcp_conf c;
	uint8_t f[600], r[DHCP_FRAME_MAX];
	char yi[16];
	int n;

	start(&d, &c, "10.0.2.15", "10.0.2.20", 0);
	n = dhcp_input(&d, f, mkreq(f, M1, 1, 7, NULL, NULL, NULL), 1000, r, sizeof(r));
	assert_true(n > 0);
	assert_int_equal(rtype(r, (size_t)n, yi), 2);
	assert_string_equal(yi, "10.0.2.15");
	assert_memory_equal(r, M1, 6);		/* unicast to chaddr */
	assert_memory_equal(r + 6, GW, 6);
	n = dhcp_input(&d, f, mkreq(f, M1, 3, 8, "10.0.2.15", "10.0.2.2", NULL), 1001, r, sizeof(r));
	assert_int_equal(rtype(r, (size_t)n, yi), 5);
	assert_string_equal(yi, "10.0.2.15");
	assert_int_equal(dhcp_bound(&d, 1002), 1);
	assert_int_equal(d.dirty, 1);
	/* another client, then a REQUEST for M1's address is refused */
	n = dhcp_input(&d, f, mkreq(f, M2, 1, 9, NULL, NULL, NULL), 1003, r, sizeof(r));
	assert_int_equal(rtype(r, (size_t)n, yi), 2);
	assert_string_equal(yi, "10.0.2.16");
	n = dhcp_input(&d, f, mkreq(f, M2, 3, 10, "10.0.2.15", NULL, NULL), 1004, r, sizeof(r));
	assert_int_equal(rtype(r, (size_t)n, yi), 6);
	/* another subnet: NAK */
	n = dhcp_input(&d, f, mkreq(f, M2, 3, 11, "192.0.2.7", NULL, NULL), 1005, r, sizeof(r));
	assert_int_equal(rtype(r, (size_t)n, yi), 6);
	dhcp_free(&d);
}

/* the pool runs out: no offer, counted */
static void test_exhausted(void **state)
{
	struct dhcp d;
	struct dhcp_conf c;
	uint8_t f[600], r[DHCP_FRAME_MAX], mac[6] = { 2, 0, 0, 0, 1, 0 };
	char yi[16];

	start(&d, &c, "10.0.2.15", "10.0.2.17", 0);
	for (int i = 0; i < 3; i++) {
		mac[5] = (uint8_t)i;
		assert_int_equal(dora(&d, mac, 10, yi), 5);
	}
	mac[5] = 9;
	assert_int_equal(dhcp_input(&d, f, mkreq(f, mac, 1, 1, NULL, NULL, NULL), 12, r, sizeof(r)), 0);
	assert_int_equal(d.ctr.exhausted, 1);
	dhcp_free(&d);
}

/* an address seen in ARP is skipped; one that answers the probe too */
static void test_in_use(void **state)
{
	struct dhcp d;
	struct dhcp_conf c;
	uint8_t f[600], r[DHCP_FRAME_MAX];
	char yi[16];
	int n;

	start(&d, &c, "10.0.2.15", "10.0.2.30", 0);
	assert_int_equal(dhcp_input(&d, f, mkarp(f, STATIC, "10.0.2.15", 1), 5, r, sizeof(r)), DHCP_NOT_DHCP);
	n = dhcp_input(&d, f, mkreq(f, M1, 1, 7, NULL, NULL, NULL), 10, r, sizeof(r));
	assert_int_equal(rtype(r, (size_t)n, yi), 2);
	assert_string_equal(yi, "10.0.2.16");
	dhcp_free(&d);

	/* with probes: DISCOVER -> ARP probe; an answer -> next address probed */
	start(&d, &c, "10.0.2.15", "10.0.2.30", 200);
	n = dhcp_input(&d, f, mkreq(f, M1, 1, 7, NULL, NULL, NULL), 1000, r, sizeof(r));
	assert_int_equal(n, 60);
	assert_int_equal(r[13], 6);		/* ARP */
	assert_memory_equal(r + 38, "\x0a\x00\x02\x0f", 4);
	assert_int_equal(dhcp_timeout(&d, 1000), 200);
	assert_int_equal(dhcp_poll(&d, 1100, r, sizeof(r)), 0);
	/* 10.0.2.15 answers */
	mkarp(f, STATIC, "10.0.2.15", 2);
	assert_int_equal(dhcp_input(&d, f, 60, 1150, r, sizeof(r)), DHCP_NOT_DHCP);
	n = dhcp_poll(&d, 1150, r, sizeof(r));
	assert_int_equal(n, 60);
	assert_memory_equal(r + 38, "\x0a\x00\x02\x10", 4);
	assert_int_equal(dhcp_poll(&d, 1200, r, sizeof(r)), 0);
	n = dhcp_poll(&d, 1350, r, sizeof(r));
	assert_int_equal(rtype(r, (size_t)n, yi), 2);
	assert_string_equal(yi, "10.0.2.16");
	assert_int_equal(d.ctr.conflicts, 1);
	dhcp_free(&d);
}

/* leases survive dhcp_save() + dhcp_load() */
static void test_persist(void **state)
{
	struct dhcp d;
	struct dhcp_conf c;
	const char *why;
	uint8_t f[600], r[DHCP_FRAME_MAX];
	char yi[16], path[] = "/tmp/vmf-dhcp-test.XXXXXX";
	unsigned int skipped;
	int n, fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);
	start(&d, &c, "10.0.2.15", "10.0.2.30", 0);
	dhcp_input(&d, f, mkreq(f, M1, 1, 1, NULL, NULL, NULL), 10, r, sizeof(r));
	dhcp_input(&d, f, mkreq(f, M2, 1, 1, NULL, NULL, NULL), 10, r, sizeof(r));
	n = dhcp_input(&d, f, mkreq(f, M2, 3, 1, "10.0.2.16", "10.0.2.2", NULL), 11, r, sizeof(r));
	assert_int_equal(rtype(r, (size_t)n, yi), 5);
	assert_int_equal(dhcp_save(&d, path), 0);
	dhcp_free(&d);
	assert_int_equal(dhcp_init(&d, &c, &why), 0);
	assert_int_equal(dhcp_load(&d, path, &skipped), 2);	/* M1's offer is kept as a hint */
	n = dhcp_input(&d, f, mkreq(f, M1, 1, 1, NULL, NULL, NULL), 20, r, sizeof(r));
	assert_int_equal(rtype(r, (size_t)n, yi), 2);
	assert_string_equal(yi, "10.0.2.15");
	n = dhcp_input(&d, f, mkreq(f, M2, 1, 1, NULL, NULL, NULL), 20, r, sizeof(r));
	assert_int_equal(rtype(r, (size_t)n, yi), 2);
	assert_string_equal(yi, "10.0.2.16");
	/* renewing from the file */
	n = dhcp_input(&d, f, mkreq(f, M2, 3, 1, NULL, NULL, "10.0.2.16"), 21, r, sizeof(r));
	assert_int_equal(rtype(r, (size_t)n, yi), 5);
	dhcp_free(&d);
	unlink(path);
}

/* malformed input never crashes and is counted */
static void test_malformed(void **state)
{
	struct dhcp d;
	struct dhcp_conf c;
	uint8_t f[600], r[DHCP_FRAME_MAX];
	size_t n;

	start(&d, &c, "10.0.2.15", "10.0.2.30", 0);
	n = mkreq(f, M1, 1, 1, NULL, NULL, NULL);
	for (size_t cut = 0; cut < n; cut++)
		assert_true(dhcp_input(&d, f, cut, 1, r, sizeof(r)) <= 0);
	n = mkreq(f, M1, 1, 1, NULL, NULL, NULL);
	f[42 + 241] = 200;		/* option 53 length past the end */
	assert_int_equal(dhcp_input(&d, f, n, 1, r, sizeof(r)), -EBADMSG);
	n = mkreq(f, M1, 9, 1, NULL, NULL, NULL);	/* unknown message type */
	assert_int_equal(dhcp_input(&d, f, n, 1, r, sizeof(r)), -EBADMSG);
	assert_true(d.ctr.malformed >= 2);
	dhcp_free(&d);
}

/*
 * Security review (issue 11) item 6: chaddr must be the frame's source. A
 * DECLINE, RELEASE or REQUEST from another station naming a victim's chaddr
 * is dropped and counted; the victim's renewal still gets its address.
 */
static void test_spoofed_chaddr(void **state)
{
	struct dhcp d;
	struct dhcp_conf c;
	uint8_t f[600], r[DHCP_FRAME_MAX];
	char yi[16];
	int n;

	start(&d, &c, "10.0.2.15", "10.0.2.30", 0);
	assert_int_equal(dora(&d, M1, 1000, yi), 5);
	assert_string_equal(yi, "10.0.2.15");
	d.dirty = 0;
	n = dhcp_input(&d, f, from(f, mkreq(f, M1, 4, 3, "10.0.2.15", "10.0.2.2", NULL), EVIL), 1100, r, sizeof(r));
	assert_int_equal(n, DHCP_SPOOFED);
	n = dhcp_input(&d, f, from(f, mkreq(f, M1, 7, 3, NULL, "10.0.2.2", "10.0.2.15"), EVIL), 1101, r, sizeof(r));
	assert_int_equal(n, DHCP_SPOOFED);
	n = dhcp_input(&d, f, from(f, mkreq(f, M1, 3, 3, "10.0.2.20", NULL, NULL), EVIL), 1102, r, sizeof(r));
	assert_int_equal(n, DHCP_SPOOFED);
	assert_int_equal(d.ctr.spoofed, 3);
	assert_int_equal(d.ctr.decline + d.ctr.release + d.ctr.request, 1);	/* M1's own */
	assert_int_equal(d.dirty, 0);
	/* the victim renews (RENEWING: ciaddr, no option 50/54): same address */
	n = dhcp_input(&d, f, mkreq(f, M1, 3, 4, NULL, NULL, "10.0.2.15"), 2000, r, sizeof(r));
	assert_int_equal(rtype(r, (size_t)n, yi), 5);
	assert_string_equal(yi, "10.0.2.15");
	n = dhcp_input(&d, f, mkreq(f, M1, 1, 5, NULL, NULL, NULL), 2001, r, sizeof(r));
	assert_int_equal(rtype(r, (size_t)n, yi), 2);
	assert_string_equal(yi, "10.0.2.15");
	/* its own DECLINE still works: the address is kept from everyone */
	n = dhcp_input(&d, f, mkreq(f, M1, 4, 6, "10.0.2.15", "10.0.2.2", NULL), 2002, r, sizeof(r));
	assert_int_equal(n, 0);
	assert_int_equal(d.ctr.conflicts, 1);
	assert_int_equal(dora(&d, M1, 2003, yi), 5);
	assert_string_equal(yi, "10.0.2.16");
	assert_int_equal(dora(&d, M2, 2004, yi), 5);
	assert_string_equal(yi, "10.0.2.17");
	check(&d);
	dhcp_free(&d);
}

/*
 * Item 6: an observation (ARP or IPv4 from another MAC with a bound
 * client's address) neither NAKs its renewal nor moves it elsewhere.
 */
static void test_claim_spares_lease(void **state)
{
	struct dhcp d;
	struct dhcp_conf c;
	const char *why;
	uint8_t f[600], r[DHCP_FRAME_MAX];
	char yi[16];
	int n;

	for (unsigned probe = 0; probe <= 200; probe += 200) {
		setup_conf(&c, "10.0.2.15", "10.0.2.30", probe);
		assert_int_equal(dhcp_init(&d, &c, &why), 0);
		n = dhcp_input(&d, f, mkreq(f, M1, 1, 1, NULL, NULL, NULL), 1000, r, sizeof(r));
		if (probe)
			n = dhcp_poll(&d, 1000 + probe, r, sizeof(r));
		assert_int_equal(rtype(r, (size_t)n, yi), 2);
		n = dhcp_input(&d, f, mkreq(f, M1, 3, 2, yi, "10.0.2.2", NULL), 1500, r, sizeof(r));
		assert_int_equal(rtype(r, (size_t)n, yi), 5);
		assert_string_equal(yi, "10.0.2.15");
		/* one ARP reply and one IPv4 packet from another MAC with that address */
		assert_int_equal(dhcp_input(&d, f, mkarp(f, EVIL, "10.0.2.15", 2), 2000, r, sizeof(r)),
				 DHCP_NOT_DHCP);
		assert_int_equal(dhcp_input(&d, f, mkip(f, EVIL, "10.0.2.15"), 2001, r, sizeof(r)),
				 DHCP_NOT_DHCP);
		n = dhcp_input(&d, f, mkreq(f, M1, 3, 3, NULL, NULL, "10.0.2.15"), 3000, r, sizeof(r));
		assert_int_equal(rtype(r, (size_t)n, yi), 5);
		assert_string_equal(yi, "10.0.2.15");
		/* INIT-REBOOT, and a new DISCOVER (no probe: it holds the lease) */
		n = dhcp_input(&d, f, mkreq(f, M1, 3, 4, "10.0.2.15", NULL, NULL), 3001, r, sizeof(r));
		assert_int_equal(rtype(r, (size_t)n, yi), 5);
		n = dhcp_input(&d, f, mkreq(f, M1, 1, 5, "10.0.2.15", NULL, NULL), 3002, r, sizeof(r));
		assert_int_equal(rtype(r, (size_t)n, yi), 2);
		assert_string_equal(yi, "10.0.2.15");
		assert_int_equal(d.ctr.nak, 0);
		/* the claim still keeps a free address from others: the EVIL MAC
		 * uses .16, which M2 does not get */
		dhcp_input(&d, f, mkarp(f, EVIL, "10.0.2.16", 1), 3003, r, sizeof(r));
		n = dhcp_input(&d, f, mkreq(f, M2, 1, 6, "10.0.2.16", NULL, NULL), 3004, r, sizeof(r));
		if (probe)
			n = dhcp_poll(&d, 3004 + probe, r, sizeof(r));
		assert_int_equal(rtype(r, (size_t)n, yi), 2);
		assert_string_equal(yi, "10.0.2.17");
		check(&d);
		dhcp_free(&d);
	}
}

/*
 * Item 6: one MAC sending ARP for every pool address keeps at most
 * DHCP_CLAIM_MAX of them from others; the rest stay available.
 */
static void test_claim_cap(void **state)
{
	struct dhcp d;
	struct dhcp_conf c;
	uint8_t f[600], r[DHCP_FRAME_MAX];
	char yi[16], ip[16];
	int n;

	start(&d, &c, "10.0.2.15", "10.0.2.254", 0);
	for (int i = 15; i <= 254; i++) {
		snprintf(ip, sizeof(ip), "10.0.2.%d", i);
		dhcp_input(&d, f, mkarp(f, EVIL, ip, 2), 1000 + (uint64_t)i, r, sizeof(r));
	}
	assert_int_equal(d.ctr.claims_capped, 240 - DHCP_CLAIM_MAX);
	n = dhcp_input(&d, f, mkreq(f, M1, 1, 1, NULL, NULL, NULL), 2000, r, sizeof(r));
	assert_int_equal(rtype(r, (size_t)n, yi), 2);
	assert_string_equal(yi, "10.0.2.23");	/* .15 - .22 are claimed */
	/* a probe answered by a capped MAC is no conflict */
	dhcp_free(&d);
	start(&d, &c, "10.0.2.15", "10.0.2.254", 200);
	for (int round = 0; round < 4; round++) {
		uint8_t mac[6] = { 2, 0, 0, 0, 3, (uint8_t)round };

		uint64_t now = 10000 + 1000 * (uint64_t)round;

		n = dhcp_input(&d, f, mkreq(f, mac, 1, 1, NULL, NULL, NULL), now, r, sizeof(r));
		while (n == 60) {	/* the attacker answers every probe at once */
			inet_ntop(AF_INET, r + 38, ip, sizeof(ip));
			dhcp_input(&d, f, mkarp(f, EVIL, ip, 2), ++now, r, sizeof(r));
			n = dhcp_poll(&d, now, r, sizeof(r));
			if (!n)		/* not a conflict: the probe runs its time */
				n = dhcp_poll(&d, now += 200, r, sizeof(r));
		}
		if (round < 2)
			assert_int_equal(n, 0);		/* 3 probes answered: no offer */
		else
			assert_int_equal(rtype(r, (size_t)n, yi), 2);
	}
	assert_int_equal(d.ctr.conflicts, DHCP_CLAIM_MAX);
	check(&d);
	dhcp_free(&d);
}

/*
 * Item 6: 240 DISCOVER + REQUEST with invented chaddrs from one station
 * bind nothing; a real client still gets a lease.
 */
static void test_invented_chaddr(void **state)
{
	struct dhcp d;
	struct dhcp_conf c;
	uint8_t f[600], r[DHCP_FRAME_MAX], mac[6] = { 2, 0, 0, 7, 0, 0 };
	char yi[16];
	int n;

	start(&d, &c, "10.0.2.15", "10.0.2.254", 0);
	for (int i = 0; i < 240; i++) {
		mac[5] = (uint8_t)i;
		n = dhcp_input(&d, f, from(f, mkreq(f, mac, 1, 1, NULL, NULL, NULL), EVIL), 10, r, sizeof(r));
		assert_int_equal(n, DHCP_SPOOFED);
		snprintf(yi, sizeof(yi), "10.0.2.%d", 15 + i);
		n = dhcp_input(&d, f, from(f, mkreq(f, mac, 3, 2, yi, "10.0.2.2", NULL), EVIL), 11, r, sizeof(r));
		assert_int_equal(n, DHCP_SPOOFED);
	}
	assert_int_equal(d.ctr.spoofed, 480);
	assert_int_equal(dhcp_bound(&d, 12), 0);
	assert_int_equal(dora(&d, M1, 12, yi), 5);
	assert_string_equal(yi, "10.0.2.15");
	dhcp_free(&d);
}

/* an unanswered offer holds its address 30 s, and is not a binding */
static void test_offer_hold(void **state)
{
	struct dhcp d;
	struct dhcp_conf c;
	uint8_t f[600], r[DHCP_FRAME_MAX], mac[6] = { 2, 0, 0, 8, 0, 0 };
	char yi[16];
	int n;

	start(&d, &c, "10.0.2.15", "10.0.2.17", 0);
	for (int i = 0; i < 3; i++) {
		mac[5] = (uint8_t)i;
		n = dhcp_input(&d, f, mkreq(f, mac, 1, 1, NULL, NULL, NULL), 1000, r, sizeof(r));
		assert_int_equal(rtype(r, (size_t)n, yi), 2);
	}
	assert_int_equal(d.dirty, 0);
	assert_int_equal(dhcp_bound(&d, 1000), 0);
	assert_int_equal(dhcp_input(&d, f, mkreq(f, M1, 1, 1, NULL, NULL, NULL), 30999, r, sizeof(r)), 0);
	assert_int_equal(d.ctr.exhausted, 1);
	n = dhcp_input(&d, f, mkreq(f, M1, 1, 1, NULL, NULL, NULL), 31000, r, sizeof(r));
	assert_int_equal(rtype(r, (size_t)n, yi), 2);
	assert_string_equal(yi, "10.0.2.15");
	/* the client whose offer lapsed and was reused gets a NAK, then another */
	mac[5] = 0;
	n = dhcp_input(&d, f, mkreq(f, mac, 3, 2, "10.0.2.15", "10.0.2.2", NULL), 31001, r, sizeof(r));
	assert_int_equal(rtype(r, (size_t)n, yi), 6);
	check(&d);
	dhcp_free(&d);
}

/* the indexes stay consistent under a random mix of messages on a /16 */
static void test_index_random(void **state)
{
	struct dhcp d;
	struct dhcp_conf c;
	uint8_t f[600], r[DHCP_FRAME_MAX];
	uint64_t rng = 0x243f6a8885a308d3ull, now = 1000;
	char ip[16];

	start(&d, &c, "10.0.2.15", "10.0.2.60", 20);
	for (int i = 0; i < 40000; i++) {
		uint8_t mac[6] = { 2, 0, 0, 9, 0, 0 };
		uint32_t k;
		size_t n;

		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		k = (uint32_t)rng;
		mac[5] = (uint8_t)(k % 61);
		snprintf(ip, sizeof(ip), "10.0.2.%u", 10 + (k >> 8) % 56);
		now += (k >> 16) % 3000;
		switch ((k >> 24) % 7) {
		case 0: n = mkarp(f, mac, ip, 1 + ((k >> 4) & 1)); break;
		case 1: n = mkreq(f, mac, 1, k, ((k >> 3) & 1) ? ip : NULL, NULL, NULL); break;
		case 2: n = mkreq(f, mac, 3, k, ip, ((k >> 3) & 1) ? "10.0.2.2" : NULL, NULL); break;
		case 3: n = mkreq(f, mac, 4, k, ip, "10.0.2.2", NULL); break;
		case 4: n = mkreq(f, mac, 7, k, NULL, "10.0.2.2", ip); break;
		case 5: n = mkip(f, mac, ip); break;
		default: n = mkreq(f, mac, 3, k, NULL, NULL, ip); break;
		}
		dhcp_input(&d, f, n, now, r, sizeof(r));
		while (dhcp_poll(&d, now, r, sizeof(r)) > 0)
			;
		if (i % 16 == 0)
			check(&d);
	}
	assert_true(d.ctr.ack > 100 && d.ctr.conflicts > 10 && d.ctr.offer > 100);
	check(&d);
	dhcp_free(&d);
}

/* a full /16: 65520 clients bound, the next refused, the first renews */
static void test_full_16(void **state)
{
	struct dhcp d;
	struct dhcp_conf c;
	const char *why;
	uint8_t f[600], r[DHCP_FRAME_MAX], mac[6] = { 2, 0, 0xa, 0, 0, 0 };
	char yi[16];
	int n;

	setup_conf(&c, "10.0.0.15", "10.0.255.254", 0);
	inet_pton(AF_INET, "10.0.0.0", &c.net);
	inet_pton(AF_INET, "255.255.0.0", &c.mask);
	inet_pton(AF_INET, "10.0.0.2", &c.router);
	inet_pton(AF_INET, "10.0.0.3", &c.dns);
	assert_int_equal(dhcp_init(&d, &c, &why), 0);
	assert_int_equal(d.pool_n, 65520);
	for (uint32_t i = 0; i < d.pool_n; i++) {
		mac[3] = (uint8_t)(i >> 16);
		mac[4] = (uint8_t)(i >> 8);
		mac[5] = (uint8_t)i;
		n = dhcp_input(&d, f, mkreq(f, mac, 1, i, NULL, NULL, NULL), 10, r, sizeof(r));
		assert_int_equal(rtype(r, (size_t)n, yi), 2);
		/* the server id of a /16 gateway */
		n = dhcp_input(&d, f, mkreq(f, mac, 3, i, yi, "10.0.0.2", NULL), 10, r, sizeof(r));
		assert_int_equal(rtype(r, (size_t)n, yi), 5);
	}
	assert_string_equal(yi, "10.0.255.254");
	assert_int_equal(dhcp_bound(&d, 11), 65520);
	assert_int_equal(dhcp_input(&d, f, mkreq(f, M1, 1, 1, NULL, NULL, NULL), 11, r, sizeof(r)), 0);
	assert_int_equal(d.ctr.exhausted, 1);
	mac[3] = mac[4] = mac[5] = 0;
	n = dhcp_input(&d, f, mkreq(f, mac, 3, 1, NULL, NULL, "10.0.0.15"), 12, r, sizeof(r));
	assert_int_equal(rtype(r, (size_t)n, yi), 5);
	assert_string_equal(yi, "10.0.0.15");
	check(&d);
	dhcp_free(&d);
}

UNIT_MAIN("dhcp_test", NULL, NULL,
	    U(test_dora), U(test_exhausted), U(test_in_use), U(test_persist), U(test_malformed),
	    U(test_spoofed_chaddr), U(test_claim_spares_lease), U(test_claim_cap),
	    U(test_invented_chaddr), U(test_offer_hold), U(test_index_random), U(test_full_16))
