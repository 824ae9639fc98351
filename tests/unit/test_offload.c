/* test_offload.c - TSO/GSO segmentation and checksum completion (common/offload.c) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "unit.h"

#include "offload.h"

#define PAYLOAD	10000
#define MSS	1448

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Ones' complement sum of the TCP pseudo-header + segment: 0xffff when the checksum is right. */
static uint16_t tcp_check(const uint8_t *f, size_t len, int v4, size_t l3)
{
	size_t l4 = l3 + (v4 ? (size_t)(f[l3] & 15) * 4 : 40);
	uint8_t pseudo[40];
	size_t plen;
	uint32_t sum = 0;

	if (v4) {
		memcpy(pseudo, f + l3 + 12, 8);
		plen = 8;
	} else {
		memcpy(pseudo, f + l3 + 8, 32);
		plen = 32;
	}
	for (size_t i = 0; i < plen; i += 2)
		sum += get16(pseudo + i);
	sum += 6 + (uint32_t)(len - l4);
	return (uint16_t)~inet_csum(f + l4, len - l4, sum);
}

/*
 * A TSO super-frame as a TAP hands it over: 12-byte header, Ethernet, IPv4 or
 * IPv6, TCP with 12 bytes of options, @payload bytes; the checksum field holds
 * only the pseudo-header sum (NEEDS_CSUM).
 */
static size_t offload_superframe(uint8_t *buf, int v4, size_t payload, uint8_t gso, uint16_t mss)
{
	uint8_t *f = buf + VMF_VNET_HDR_LEN, *ip = f + 14, *tcp;
	size_t l4, len;

	memset(buf, 0, VMF_VNET_HDR_LEN);
	buf[0] = VNET_F_NEEDS_CSUM;
	buf[1] = gso;
	buf[4] = (uint8_t)mss;
	buf[5] = (uint8_t)(mss >> 8);
	memcpy(f, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01", 12);
	if (v4) {
		put16(f + 12, 0x0800);
		memset(ip, 0, 20);
		ip[0] = 0x45;
		ip[8] = 64;
		ip[9] = 6;
		put16(ip + 4, 0x1234);
		memcpy(ip + 12, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
		l4 = 14 + 20;
	} else {
		put16(f + 12, 0x86dd);
		memset(ip, 0, 40);
		ip[0] = 0x60;
		ip[6] = 6;
		ip[7] = 64;
		ip[8] = 0xfd;
		ip[23] = 1;
		ip[24] = 0xfd;
		ip[39] = 2;
		l4 = 14 + 40;
	}
	tcp = f + l4;
	memset(tcp, 0, 32);
	put16(tcp, 40000);
	put16(tcp + 2, 5201);
	put16(tcp + 4, 0x1000);	/* seq 0x10000000 */
	put16(tcp + 8, 0x2000);
	tcp[12] = 8 << 4;	/* 32-byte header */
	tcp[13] = 0x18 | 0x01 | 0x80;	/* PSH ACK FIN CWR */
	memset(tcp + 20, 1, 12);	/* NOPs */
	len = l4 + 32 + payload;
	for (size_t i = 0; i < payload; i++)
		tcp[32 + i] = (uint8_t)(i * 31 + 7);
	if (v4)
		put16(ip + 2, (uint16_t)(len - 14));
	else
		put16(ip + 4, (uint16_t)(len - l4));
	buf[6] = (uint8_t)l4;	/* csum_start */
	buf[8] = 16;		/* csum_offset */
	return VMF_VNET_HDR_LEN + len;
}

static void offload_check_segments(int v4)
{
	static uint8_t buf[VMF_MAX_FRAME + 64];	/* the IPv6 case is 2 bytes over the wire's limit */
	struct offload_out o;
	struct frame fr = { buf, 0, FRAME_VNET, 0 };
	size_t l3 = 14, l4 = v4 ? 34 : 54, got = 0;

	fr.len = offload_superframe(buf, v4, PAYLOAD, v4 ? VNET_GSO_TCPV4 : VNET_GSO_TCPV6, MSS);
	assert_int_equal(offload_out_init(&o, 1024, 1 << 20), 0);
	offload_plain(&o, &fr, 1);
	assert_int_equal(o.bad, 0);
	assert_int_equal(o.n, (PAYLOAD + MSS - 1) / MSS);
	for (size_t k = 0; k < o.n; k++) {
		const uint8_t *s = o.f[k].data, *tcp = s + l4;
		size_t seg = o.f[k].len - l4 - 32;
		uint32_t seq = (uint32_t)get16(tcp + 4) << 16 | get16(tcp + 6);

		assert_true(seg == MSS || k == o.n - 1);
		if (v4) {
			assert_int_equal(get16(s + l3 + 2), o.f[k].len - 14);
			assert_int_equal(get16(s + l3 + 4), 0x1234 + k);
			assert_int_equal(inet_csum(s + l3, 20, 0), 0);	/* header checksum right */
		} else {
			assert_int_equal(get16(s + l3 + 4), o.f[k].len - l4);
		}
		assert_int_equal(tcp_check(s, o.f[k].len, v4, l3), 0xffff);
		assert_int_equal(seq, 0x10000000u + got);
		assert_int_equal(!!(tcp[13] & 0x01), k == o.n - 1);	/* FIN last only */
		assert_int_equal(!!(tcp[13] & 0x08), k == o.n - 1);	/* PSH last only */
		assert_int_equal(!!(tcp[13] & 0x80), k == 0);		/* CWR first only */
		assert_memory_equal(tcp + 32, buf + VMF_VNET_HDR_LEN + l4 + 32 + got, seg);
		got += seg;
	}
	assert_int_equal(got, PAYLOAD);
	assert_int_equal(o.segmented, 1);
	offload_out_free(&o);
}

static void test_offload_tso4(void **state)
{
	(void)state;
	offload_check_segments(1);
}

static void test_offload_tso6(void **state)
{
	(void)state;
	offload_check_segments(0);
}

/* No GSO, NEEDS_CSUM: the checksum is completed in place; unflagged frames pass untouched. */
static void test_offload_partial_csum(void **state)
{
	static uint8_t buf[4096], plain[100];
	struct frame fr[2] = { { buf, 0, FRAME_VNET, 0 }, { plain, sizeof(plain), 0, 0 } };
	struct offload_out o;
	uint32_t sum = 0;

	(void)state;
	fr[0].len = offload_superframe(buf, 1, 500, VNET_GSO_NONE, 0);
	/* seed the field with the pseudo-header sum, as the kernel does */
	sum = get16(buf + 12 + 26) + get16(buf + 12 + 28) + get16(buf + 12 + 30) + get16(buf + 12 + 32);
	sum += 6 + 32 + 500;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	put16(buf + 12 + 34 + 16, (uint16_t)sum);
	memset(plain, 0xab, sizeof(plain));
	assert_int_equal(offload_out_init(&o, 16, 4096), 0);
	offload_plain(&o, fr, 2);
	assert_int_equal(o.n, 2);
	assert_int_equal(o.csummed, 1);
	assert_ptr_equal(o.f[0].data, buf + VMF_VNET_HDR_LEN);
	assert_int_equal(o.f[0].len, fr[0].len - VMF_VNET_HDR_LEN);
	assert_int_equal(tcp_check(o.f[0].data, o.f[0].len, 1, 14), 0xffff);
	assert_ptr_equal(o.f[1].data, plain);
	assert_int_equal(o.f[1].len, sizeof(plain));
	offload_out_free(&o);
}

/* What cannot be handled is dropped and counted, never read or written out of bounds. */
static void test_offload_bad(void **state)
{
	static uint8_t buf[VMF_MAX_FRAME + 64];	/* the IPv6 case is 2 bytes over the wire's limit */
	struct offload_out o;
	struct frame fr = { buf, 0, FRAME_VNET, 0 };
	size_t full;

	(void)state;
	assert_int_equal(offload_out_init(&o, 8, 1 << 20), 0);
	fr.len = offload_superframe(buf, 1, PAYLOAD, VNET_GSO_TCPV4, 1);	/* MSS 1 */
	offload_plain(&o, &fr, 1);
	assert_int_equal(o.n, 0);
	assert_int_equal(o.bad, 1);
	fr.len = offload_superframe(buf, 1, PAYLOAD, 3 /* UDP */, MSS);
	offload_plain(&o, &fr, 1);
	assert_int_equal(o.bad, 2);
	/* more segments than room: what fits goes, the rest is counted */
	fr.len = offload_superframe(buf, 1, PAYLOAD, VNET_GSO_TCPV4, MSS);
	offload_plain(&o, &fr, 1);
	assert_int_equal(o.n, 7);
	o.cap = 3;
	offload_plain(&o, &fr, 1);
	assert_int_equal(o.n, 3);
	assert_int_equal(o.bad, 3);
	o.cap = 8;
	/* every truncation of a super-frame, and a checksum offset past the end */
	full = offload_superframe(buf, 1, 3000, VNET_GSO_TCPV4, MSS);
	for (size_t len = VMF_VNET_HDR_LEN; len < full; len++) {
		fr.len = len;
		offload_plain(&o, &fr, 1);
		assert_true(o.n <= 3);
	}
	full = offload_superframe(buf, 1, 10, VNET_GSO_NONE, 0);
	buf[6] = 0xff;
	buf[7] = 0xff;
	fr.len = full;
	offload_plain(&o, &fr, 1);
	assert_int_equal(o.n, 0);
	offload_out_free(&o);
}

/*
 * A segment's IPv4 total length (IPv6 payload length) is 16 bits: a
 * super-frame whose gso_size makes a longer segment is refused and counted,
 * never sent with a wrapped length (65588 bytes, gso_size 65535: "38").
 * The largest segment that fits passes with the exact length.
 */
static void test_offload_ip_length(void **state)
{
	static uint8_t buf[VMF_MAX_FRAME + 64];	/* the IPv6 case is 2 bytes over the wire's limit */
	struct offload_out o;
	struct frame fr = { buf, 0, FRAME_VNET, 0 };

	(void)state;
	assert_int_equal(offload_out_init(&o, 64, 1 << 20), 0);
	/* 14 + 20 + 32 + 65522 = 65588 bytes of Ethernet: IPv4 length would be 65574 */
	fr.len = offload_superframe(buf, 1, 65522, VNET_GSO_TCPV4, 65535);
	assert_int_equal(fr.len, VMF_VNET_HDR_LEN + 65588);
	offload_plain(&o, &fr, 1);
	assert_int_equal(o.n, 0);
	assert_int_equal(o.bad, 1);
	/* IPv4 total length exactly 65535 */
	fr.len = offload_superframe(buf, 1, 65535 - 20 - 32, VNET_GSO_TCPV4, 65535);
	offload_plain(&o, &fr, 1);
	assert_int_equal(o.n, 1);
	assert_int_equal(get16(o.f[0].data + 14 + 2), 65535);
	assert_int_equal(o.f[0].len, 14 + 65535);
	assert_int_equal(tcp_check(o.f[0].data, o.f[0].len, 1, 14), 0xffff);
	/* IPv6: payload length 65535 passes, one byte more is refused */
	fr.len = offload_superframe(buf, 0, 65535 - 32, VNET_GSO_TCPV6, 65535);
	offload_plain(&o, &fr, 1);
	assert_int_equal(o.n, 1);
	assert_int_equal(get16(o.f[0].data + 14 + 4), 65535);
	fr.len = offload_superframe(buf, 0, 65535 - 32 + 1, VNET_GSO_TCPV6, 65535);
	offload_plain(&o, &fr, 1);
	assert_int_equal(o.n, 0);
	assert_int_equal(o.bad, 2);
	/* a big payload with an MSS that fits is cut as usual */
	fr.len = offload_superframe(buf, 1, 65522, VNET_GSO_TCPV4, 60000);
	offload_plain(&o, &fr, 1);
	assert_int_equal(o.n, 2);
	assert_int_equal(get16(o.f[0].data + 14 + 2), 20 + 32 + 60000);
	assert_int_equal(o.bad, 2);
	offload_out_free(&o);
}

UNIT_MAIN("offload", NULL, NULL,
	    U(test_offload_tso4), U(test_offload_tso6), U(test_offload_partial_csum),
	    U(test_offload_bad), U(test_offload_ip_length))
