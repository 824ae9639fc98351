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

#include "dhcp.h"

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

/* a DHCP request frame from @mac; @req/@sid 0 = option absent */
static size_t mkreq(uint8_t *f, const uint8_t *mac, int type, uint32_t xid, const char *req,
		    const char *sid, const char *ciaddr)
{
	uint8_t *ip = f + 14, *udp = ip + 20, *bp = udp + 8, *o = bp + 240;
	size_t blen;
	uint16_t v;

	memset(f, 0, 600);
	memset(f, 0xff, 6);
	memcpy(f + 6, mac, 6);
	f[12] = 8;
	ip[0] = 0x45;
	ip[9] = 17;
	memset(ip + 16, 0xff, 4);
	udp[1] = 68;
	udp[3] = 67;
	bp[0] = 1; bp[1] = 1; bp[2] = 6;
	memcpy(bp + 4, &xid, 4);
	if (ciaddr)
		inet_pton(AF_INET, ciaddr, bp + 12);
	memcpy(bp + 28, mac, 6);
	bp[236] = 99; bp[237] = 130; bp[238] = 83; bp[239] = 99;
	*o++ = 53; *o++ = 1; *o++ = (uint8_t)type;
	if (req) {
		*o++ = 50; *o++ = 4;
		inet_pton(AF_INET, req, o);
		o += 4;
	}
	if (sid) {
		*o++ = 54; *o++ = 4;
		inet_pton(AF_INET, sid, o);
		o += 4;
	}
	*o++ = 255;
	blen = (size_t)(o - bp);
	v = htons((uint16_t)(28 + blen));
	memcpy(ip + 2, &v, 2);
	v = htons((uint16_t)(8 + blen));
	memcpy(udp + 4, &v, 2);
	return 14 + 28 + blen;
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
		     STATIC[6] = { 2, 0, 0, 0, 0, 0x99 };

/* DISCOVER -> OFFER, REQUEST -> ACK, same address on a second DISCOVER */
static void test_dora(void **state)
{
	struct dhcp d;
	struct dhcp_conf c;
	const char *why;
	uint8_t f[600], r[DHCP_FRAME_MAX];
	char yi[16];
	int n;

	setup_conf(&c, "10.0.2.15", "10.0.2.20", 0);
	assert_int_equal(dhcp_init(&d, &c, &why), 0);
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
	const char *why;
	uint8_t f[600], r[DHCP_FRAME_MAX], mac[6] = { 2, 0, 0, 0, 1, 0 };
	char yi[16];
	int n;

	setup_conf(&c, "10.0.2.15", "10.0.2.17", 0);
	assert_int_equal(dhcp_init(&d, &c, &why), 0);
	for (int i = 0; i < 3; i++) {
		mac[5] = (uint8_t)i;
		n = dhcp_input(&d, f, mkreq(f, mac, 1, 1, NULL, NULL, NULL), 10, r, sizeof(r));
		assert_int_equal(rtype(r, (size_t)n, yi), 2);
		n = dhcp_input(&d, f, mkreq(f, mac, 3, 2, yi, "10.0.2.2", NULL), 11, r, sizeof(r));
		assert_int_equal(rtype(r, (size_t)n, yi), 5);
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
	const char *why;
	uint8_t f[600], r[DHCP_FRAME_MAX];
	char yi[16];
	int n;

	setup_conf(&c, "10.0.2.15", "10.0.2.30", 0);
	assert_int_equal(dhcp_init(&d, &c, &why), 0);
	assert_int_equal(dhcp_input(&d, f, mkarp(f, STATIC, "10.0.2.15", 1), 5, r, sizeof(r)), DHCP_NOT_DHCP);
	n = dhcp_input(&d, f, mkreq(f, M1, 1, 7, NULL, NULL, NULL), 10, r, sizeof(r));
	assert_int_equal(rtype(r, (size_t)n, yi), 2);
	assert_string_equal(yi, "10.0.2.16");
	dhcp_free(&d);

	/* with probes: DISCOVER -> ARP probe; an answer -> next address probed */
	setup_conf(&c, "10.0.2.15", "10.0.2.30", 200);
	assert_int_equal(dhcp_init(&d, &c, &why), 0);
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
	setup_conf(&c, "10.0.2.15", "10.0.2.30", 0);
	assert_int_equal(dhcp_init(&d, &c, &why), 0);
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
	const char *why;
	uint8_t f[600], r[DHCP_FRAME_MAX];
	size_t n;

	setup_conf(&c, "10.0.2.15", "10.0.2.30", 0);
	assert_int_equal(dhcp_init(&d, &c, &why), 0);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dora),
		cmocka_unit_test(test_exhausted),
		cmocka_unit_test(test_in_use),
		cmocka_unit_test(test_persist),
		cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
