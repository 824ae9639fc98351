/* gro_test.c - cmocka unit tests of the gateway's TCP coalescer (node/gro.c), no sockets */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../unit/unit.h"

#include "codec.h"
#include "gro.h"
#include "gro_frames.h"
#include "offload.h"

#define MSS	1460
#define BUF	(VMF_VNET_HDR_LEN + 70000)

static uint8_t buf[BUF], seg[2000];

/* start a super-frame in buf with segment @f; Return: the room left behind it */
static size_t open_with(struct gro *r, const uint8_t *f, size_t len)
{
	size_t hdrs = gro_candidate(f, len);

	assert_true(hdrs > 0);
	memcpy(buf + VMF_VNET_HDR_LEN, f, len);
	gro_open(r, buf, len, hdrs);
	return sizeof(buf) - VMF_VNET_HDR_LEN - len;
}

static uint16_t le(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* n full segments and a short last one with PSH: one super-frame that cuts back into the originals */
static void test_roundtrip(void **state)
{
	static uint8_t orig[8][2000];
	size_t olen[8], len, room;
	struct gro r = { 0 };
	struct offload_out o;
	struct frame fr;
	int n = 6;

	for (int i = 0; i < n; i++)
		olen[i] = gro_seg(orig[i], 5000 + (uint32_t)i * MSS, (uint16_t)(65534 + i),
				  i == n - 1 ? 100 : MSS, SEG_ACK | (i == n - 1 ? SEG_PSH : 0), 0);
	room = open_with(&r, orig[0], olen[0]);
	for (int i = 1; i < n; i++) {
		size_t a = gro_append(&r, orig[i], olen[i], room);

		assert_int_equal(a, olen[i] - 54);
		room -= a;
	}
	/* after PSH nothing more joins */
	gro_seg(seg, 5000 + 5 * MSS + 100, 4, MSS, SEG_ACK, 0);
	assert_int_equal(gro_append(&r, seg, 1514, room), 0);
	assert_int_equal(gro_close(&r, &len), 1);
	assert_int_equal(len, 54 + 5 * MSS + 100);
	assert_int_equal(buf[0], VNET_F_NEEDS_CSUM);
	assert_int_equal(buf[1], VNET_GSO_TCPV4);
	assert_int_equal(le(buf + 2), 54);
	assert_int_equal(le(buf + 4), MSS);
	assert_int_equal(le(buf + 6), 34);
	assert_int_equal(le(buf + 8), 16);
	assert_int_equal(inet_csum(buf + VMF_VNET_HDR_LEN + 14, 20, 0), 0);	/* IPv4 header checksum */
	assert_int_equal(r.ctr.supers, 1);
	assert_int_equal(r.ctr.coalesced, 6);

	assert_int_equal(offload_out_init(&o, 64, 128 * 1024), 0);
	fr = (struct frame){ buf, (uint32_t)(VMF_VNET_HDR_LEN + len), FRAME_VNET, 0 };
	offload_plain(&o, &fr, 1);
	assert_int_equal(o.bad, 0);
	assert_int_equal(o.n, (size_t)n);
	for (int i = 0; i < n; i++) {
		assert_int_equal(o.f[i].len, olen[i]);
		assert_memory_equal(o.f[i].data, orig[i], olen[i]);	/* checksums and ids too */
	}
	offload_out_free(&o);
	assert_int_equal(gro_close(&r, &len), -ENOENT);
}

/* one segment alone is left as it came, without a header */
static void test_single(void **state)
{
	struct gro r = { 0 };
	size_t len, l = gro_seg(seg, 1, 7, MSS, SEG_ACK, 0);

	open_with(&r, seg, l);
	assert_int_equal(gro_close(&r, &len), 0);
	assert_int_equal(len, l);
	assert_memory_equal(buf + VMF_VNET_HDR_LEN, seg, l);
	assert_int_equal(r.ctr.supers, 0);
}

/* what may not start a super-frame */
static void test_candidate(void **state)
{
	size_t l;

	l = gro_seg(seg, 1, 1, MSS, SEG_ACK, 12);
	assert_int_equal(gro_candidate(seg, l), 14 + 20 + 32);		/* options are fine */
	l = gro_seg(seg, 1, 1, MSS, SEG_ACK | SEG_SYN, 0);
	assert_int_equal(gro_candidate(seg, l), 0);
	l = gro_seg(seg, 1, 1, MSS, SEG_ACK | SEG_FIN, 0);
	assert_int_equal(gro_candidate(seg, l), 0);
	l = gro_seg(seg, 1, 1, MSS, 0, 0);				/* no ACK */
	assert_int_equal(gro_candidate(seg, l), 0);
	l = gro_seg(seg, 1, 1, 0, SEG_ACK, 0);				/* pure ACK */
	assert_int_equal(gro_candidate(seg, l), 0);
	l = gro_seg(seg, 1, 1, 4, SEG_ACK, 0);				/* 58 bytes: would need padding */
	assert_int_equal(gro_candidate(seg, l), 0);
	l = gro_seg(seg, 1, 1, MSS, SEG_ACK, 0);
	assert_int_equal(gro_candidate(seg, l - 1), 0);			/* length != IPv4 total */
	seg[14 + 6] |= 0x20;						/* MF */
	assert_int_equal(gro_candidate(seg, l), 0);
	seg[14 + 6] = 0x40;
	seg[14] = 0x46;							/* IP options */
	assert_int_equal(gro_candidate(seg, l), 0);
	seg[14] = 0x45;
	seg[14 + 9] = 17;						/* UDP */
	assert_int_equal(gro_candidate(seg, l), 0);
	seg[14 + 9] = 6;
	seg[34 + 12] = 0x40;						/* data offset 16 */
	assert_int_equal(gro_candidate(seg, l), 0);
	seg[34 + 12] = 0xf0;						/* data offset 60: fine */
	assert_int_equal(gro_candidate(seg, l), 94);
	seg[12] = 0x86;
	assert_int_equal(gro_candidate(seg, l), 0);
	assert_int_equal(gro_candidate(seg, 20), 0);
}

/* a segment of another flow or state does not join */
static void test_mismatch(void **state)
{
	static const struct { int off; uint8_t v; } change[] = {
		{ 0, 0x02 },		/* destination MAC */
		{ 11, 0x09 },		/* source MAC */
		{ 14 + 1, 0x10 },	/* TOS */
		{ 14 + 6, 0x00 },	/* DF */
		{ 14 + 8, 63 },		/* TTL */
		{ 14 + 15, 3 },		/* source address */
		{ 14 + 19, 16 },	/* destination address */
		{ 34 + 1, 81 },		/* source port */
		{ 34 + 3, 0x41 },	/* destination port */
		{ 34 + 11, 0xe9 },	/* ack */
		{ 34 + 15, 0xfe },	/* window */
		{ 34 + 19, 1 },		/* urgent pointer */
	};
	struct gro r = { 0 };
	size_t room, l, len;

	for (size_t i = 0; i < sizeof(change) / sizeof(change[0]); i++) {
		l = gro_seg(seg, 100, 10, MSS, SEG_ACK, 0);
		room = open_with(&r, seg, l);
		l = gro_seg(seg, 100 + MSS, 11, MSS, SEG_ACK, 0);
		seg[change[i].off] = change[i].v;
		assert_int_equal(gro_append(&r, seg, l, room), 0);
		assert_int_equal(gro_close(&r, &len), 0);
	}
	/* sequence gap, id gap, other options, larger payload, out of room */
	l = gro_seg(seg, 100, 10, MSS, SEG_ACK, 0);
	room = open_with(&r, seg, l);
	l = gro_seg(seg, 101 + MSS, 11, MSS, SEG_ACK, 0);
	assert_int_equal(gro_append(&r, seg, l, room), 0);
	l = gro_seg(seg, 100 + MSS, 12, MSS, SEG_ACK, 0);
	assert_int_equal(gro_append(&r, seg, l, room), 0);
	l = gro_seg(seg, 100 + MSS, 11, MSS - 12, SEG_ACK, 12);
	assert_int_equal(gro_append(&r, seg, l, room), 0);
	l = gro_seg(seg, 100 + MSS, 11, MSS + 1, SEG_ACK, 0);
	assert_int_equal(gro_append(&r, seg, l, room), 0);
	l = gro_seg(seg, 100 + MSS, 11, MSS, SEG_ACK, 0);
	assert_int_equal(gro_append(&r, seg, l, MSS - 1), 0);
	assert_int_equal(gro_append(&r, seg, l, MSS), MSS);
	assert_int_equal(gro_close(&r, &len), 1);
	/* a short segment ends it */
	l = gro_seg(seg, 100, 10, MSS, SEG_ACK, 0);
	room = open_with(&r, seg, l);
	l = gro_seg(seg, 100 + MSS, 11, 500, SEG_ACK, 0);
	assert_int_equal(gro_append(&r, seg, l, room), 500);
	l = gro_seg(seg, 100 + MSS + 500, 12, 500, SEG_ACK, 0);
	assert_int_equal(gro_append(&r, seg, l, room), 0);
	assert_int_equal(gro_close(&r, &len), 1);
	/* nothing open */
	assert_int_equal(gro_append(&r, seg, l, room), 0);
}

/* the IPv4 total length stays within 16 bits */
static void test_limit(void **state)
{
	struct gro r = { 0 };
	size_t room, l, len, n = 1;
	uint32_t seq = 0xffff0000u;	/* wraps around */
	uint16_t id = 0xfff0;

	l = gro_seg(seg, seq, id, MSS, SEG_ACK, 0);
	room = open_with(&r, seg, l);
	for (;;) {
		size_t a;

		seq += MSS;
		id++;
		l = gro_seg(seg, seq, id, MSS, SEG_ACK, 0);
		a = gro_append(&r, seg, l, room);
		if (!a)
			break;
		room -= a;
		n++;
	}
	assert_int_equal(n, (GRO_MAX_IP - 40) / MSS);
	assert_int_equal(gro_close(&r, &len), 1);
	assert_true(len - 14 <= GRO_MAX_IP);
	assert_int_equal(len, 54 + n * MSS);
}

UNIT_MAIN("gro_test", NULL, NULL,
	    U(test_roundtrip), U(test_single), U(test_candidate), U(test_mismatch),
	    U(test_limit))
