/* test_vlan.c - unit tests for the 802.1Q rules (switch/vlan.c) and their use on ports (vlanport.c) */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"

#include "vlanport.h"

static struct vlan_conf conf_of(const char *spec)
{
	struct vlan_conf c;
	const char *why = NULL;

	assert_int_equal(vlan_parse(spec, &c, &why), 0);
	return c;
}

static void assert_bad(const char *spec)
{
	struct vlan_conf c;
	const char *why = NULL;

	assert_int_equal(vlan_parse(spec, &c, &why), -EINVAL);
	assert_non_null(why);
}

static void assert_format(const char *spec, char sep, const char *want)
{
	struct vlan_conf c = conf_of(spec);
	char buf[VLAN_SPEC_MAX];

	vlan_format(&c, buf, sizeof(buf), sep);
	assert_string_equal(buf, want);
}

static void test_parse(void **state)
{
	struct vlan_conf c;

	(void)state;
	c = conf_of("access 10");
	assert_int_equal(c.mode, VLAN_ACCESS);
	assert_int_equal(c.pvid, 10);
	c = conf_of("none");
	assert_int_equal(c.mode, VLAN_NONE);
	assert_format("trunk 10,20 native 1", ' ', "trunk 10,20 native 1");
	assert_format("trunk:10,20:native:1", ' ', "trunk 10,20 native 1");
	assert_format("trunk 30,10-12,11", ':', "trunk:10-12,30");
	assert_format("trunk all", ' ', "trunk all");
	assert_format("trunk native 7", ' ', "trunk native 7");
	assert_format("access:4094", ' ', "access 4094");
	assert_format("  access\t1 ", ' ', "access 1");
	assert_bad("");
	assert_bad("access");
	assert_bad("access 0");
	assert_bad("access 4095");
	assert_bad("access 10 20");
	assert_bad("access -1");
	assert_bad("access 10x");
	assert_bad("trunk");
	assert_bad("trunk 10,");
	assert_bad("trunk ,10");
	assert_bad("trunk 10,,20");
	assert_bad("trunk 20-10");
	assert_bad("trunk 0-10");
	assert_bad("trunk 10 native");
	assert_bad("trunk 10 native 0");
	assert_bad("trunk 10 native 1 2");
	assert_bad("trunk 10 20");
	assert_bad("none 1");
	assert_bad("hybrid 1");
	assert_bad("a b c d e f g h i");
}

/* A long list is cut on a whole item, with "...", and never overruns. */
static void test_format_long(void **state)
{
	struct vlan_conf c;
	char buf[VLAN_SPEC_MAX];

	(void)state;
	memset(&c, 0, sizeof(c));
	c.mode = VLAN_TRUNK;
	for (unsigned int v = 2; v <= 4094; v += 2)
		c.allowed[v >> 3] |= (uint8_t)(1u << (v & 7));
	vlan_format(&c, buf, sizeof(buf), ' ');
	assert_true(strlen(buf) < sizeof(buf));
	assert_non_null(strstr(buf, "..."));
	assert_int_equal(strncmp(buf, "trunk 2,4,6,", 12), 0);
}

/* An Ethernet frame to 02:..:02 from 02:..:01, with tags @tags (TPID << 16 | TCI), then IPv4. */
static size_t frame(uint8_t *f, const uint32_t *tags, int n)
{
	size_t o = 12;

	memset(f, 0, 128);
	f[5] = 2;
	f[11] = 1;
	f[0] = f[6] = 2;
	for (int i = 0; i < n; i++, o += 4) {
		f[o] = (uint8_t)(tags[i] >> 24);
		f[o + 1] = (uint8_t)(tags[i] >> 16);
		f[o + 2] = (uint8_t)(tags[i] >> 8);
		f[o + 3] = (uint8_t)tags[i];
	}
	f[o] = 0x08;
	return 64;
}

static enum vlan_verdict classify(const char *spec, const uint32_t *tags, int n, uint16_t *vid,
				  int *tagged)
{
	struct vlan_conf c = conf_of(spec);
	uint8_t f[128];
	size_t len = frame(f, tags, n);

	return vlan_classify(&c, f, len, vid, tagged);
}

static void test_classify(void **state)
{
	uint16_t vid;
	int tagged;

	(void)state;
	/* access: untagged in, its VLAN; any tag out */
	assert_int_equal(classify("access 10", NULL, 0, &vid, &tagged), VLAN_OK);
	assert_int_equal(vid, 10);
	assert_false(tagged);
	assert_int_equal(classify("access 10", (uint32_t[]){ 0x8100000a }, 1, &vid, &tagged),
			 VLAN_TAGGED_ON_ACCESS);
	assert_int_equal(classify("access 10", (uint32_t[]){ 0x81000014 }, 1, &vid, &tagged),
			 VLAN_TAGGED_ON_ACCESS);
	/* a priority tag, an S-tag, a 0x9100 tag: all tagged */
	assert_int_equal(classify("access 10", (uint32_t[]){ 0x8100e000 }, 1, &vid, &tagged),
			 VLAN_TAGGED_ON_ACCESS);
	assert_int_equal(classify("access 10", (uint32_t[]){ 0x88a80014, 0x8100000a }, 2, &vid, &tagged),
			 VLAN_TAGGED_ON_ACCESS);
	assert_int_equal(classify("access 10", (uint32_t[]){ 0x91000014 }, 1, &vid, &tagged),
			 VLAN_TAGGED_ON_ACCESS);

	/* trunk: listed tags, native untagged (and tagged), the rest denied */
	assert_int_equal(classify("trunk 10,20 native 1", (uint32_t[]){ 0x81000014 }, 1, &vid, &tagged),
			 VLAN_OK);
	assert_int_equal(vid, 20);
	assert_true(tagged);
	assert_int_equal(classify("trunk 10,20 native 1", (uint32_t[]){ 0x8100a014 }, 1, &vid, &tagged),
			 VLAN_OK);	/* priority bits do not change the VLAN */
	assert_int_equal(vid, 20);
	assert_int_equal(classify("trunk 10,20 native 1", NULL, 0, &vid, &tagged), VLAN_OK);
	assert_int_equal(vid, 1);
	assert_false(tagged);
	assert_int_equal(classify("trunk 10,20 native 1", (uint32_t[]){ 0x81000001 }, 1, &vid, &tagged),
			 VLAN_OK);
	assert_int_equal(vid, 1);
	assert_true(tagged);
	assert_int_equal(classify("trunk 10,20 native 1", (uint32_t[]){ 0x8100001e }, 1, &vid, &tagged),
			 VLAN_DENIED);
	assert_int_equal(classify("trunk 10,20", NULL, 0, &vid, &tagged), VLAN_UNTAGGED);
	assert_int_equal(classify("trunk 10,20 native 1", (uint32_t[]){ 0x81000000 }, 1, &vid, &tagged),
			 VLAN_DENIED);
	assert_int_equal(classify("trunk all", (uint32_t[]){ 0x81000fff }, 1, &vid, &tagged),
			 VLAN_DENIED);
	assert_int_equal(classify("trunk all", (uint32_t[]){ 0x88a8000a }, 1, &vid, &tagged),
			 VLAN_DENIED);
	/* double-tagged: the outer tag is the VLAN, the inner one is payload */
	assert_int_equal(classify("trunk 10", (uint32_t[]){ 0x8100000a, 0x81000014 }, 2, &vid, &tagged),
			 VLAN_OK);
	assert_int_equal(vid, 10);
	assert_int_equal(classify("trunk 10", (uint32_t[]){ 0x81000014, 0x8100000a }, 2, &vid, &tagged),
			 VLAN_DENIED);
	{
		struct vlan_conf c = conf_of("trunk 10");
		uint8_t f[128];

		frame(f, (uint32_t[]){ 0x8100000a }, 1);
		assert_int_equal(vlan_classify(&c, f, 17, &vid, &tagged), VLAN_SHORT);
	}
}

static void test_egress(void **state)
{
	struct vlan_conf a = conf_of("access 10"), t = conf_of("trunk 10,20 native 1");

	(void)state;
	assert_int_equal(vlan_egress(&a, 10), VLAN_OUT_UNTAGGED);
	assert_int_equal(vlan_egress(&a, 20), VLAN_OUT_SKIP);
	assert_int_equal(vlan_egress(&a, 0), VLAN_OUT_SKIP);
	assert_int_equal(vlan_egress(&t, 1), VLAN_OUT_UNTAGGED);
	assert_int_equal(vlan_egress(&t, 10), VLAN_OUT_TAGGED);
	assert_int_equal(vlan_egress(&t, 20), VLAN_OUT_TAGGED);
	assert_int_equal(vlan_egress(&t, 30), VLAN_OUT_SKIP);
	assert_int_equal(vlan_egress(&t, 0), VLAN_OUT_SKIP);
	assert_int_equal(vlan_egress(&t, 4095), VLAN_OUT_SKIP);
}

static void test_push_pop(void **state)
{
	uint8_t f[128], t[132], back[128];
	size_t len = frame(f, NULL, 0), tl, bl;

	(void)state;
	tl = vlan_push(t, f, len, 0, 0x123);
	assert_int_equal(tl, len + 4);
	assert_memory_equal(t, f, 12);
	assert_int_equal(t[12], 0x81);
	assert_int_equal(t[13], 0x00);
	assert_int_equal(t[14], 0x01);
	assert_int_equal(t[15], 0x23);
	assert_memory_equal(t + 16, f + 12, len - 12);
	bl = vlan_pop(back, t, tl, 0);
	assert_int_equal(bl, len);
	assert_memory_equal(back, f, len);
	/* nothing to pop, too short to push */
	assert_int_equal(vlan_pop(back, f, len, 0), 0);
	assert_int_equal(vlan_push(t, f, 13, 0, 10), 0);
	assert_int_equal(vlan_pop(back, t, 17, 0), 0);
}

/* A virtio-net header: csum_start and hdr_len follow the Ethernet header's length. */
static void test_push_pop_vnet(void **state)
{
	uint8_t f[12 + 128], t[12 + 132], back[12 + 128];
	size_t len = 12 + frame(f + 12, NULL, 0), tl;

	(void)state;
	memset(f, 0, 12);
	f[0] = 1;		/* NEEDS_CSUM */
	f[1] = 1;		/* GSO TCPv4 */
	f[2] = 54;		/* hdr_len */
	f[4] = 0xb4;		/* gso_size 1460 */
	f[5] = 0x05;
	f[6] = 34;		/* csum_start: after Ethernet and IPv4 */
	f[8] = 16;		/* csum_offset: TCP */
	tl = vlan_push(t, f, len, 12, 10);
	assert_int_equal(tl, len + 4);
	assert_int_equal(t[6] | t[7] << 8, 38);
	assert_int_equal(t[2] | t[3] << 8, 58);
	assert_int_equal(t[8], 16);
	assert_int_equal(t[4] | t[5] << 8, 1460);
	assert_int_equal(t[12 + 12], 0x81);
	assert_int_equal(vlan_pop(back, t, tl, 12), len);
	assert_memory_equal(back, f, len);
	/* a header that points into the tag cannot be popped */
	t[6] = 15;
	t[7] = 0;
	assert_int_equal(vlan_pop(back, t, tl, 12), 0);
}

/* The switch's side: one copy per frame, shared; double-tags never leave untagged. */
static void test_port_out(void **state)
{
	static struct vswitch sw;
	static struct port pa, pt, px;
	struct vlan_conf a = conf_of("access 10"), t = conf_of("trunk 10,20 native 1");
	uint8_t f[128], dt[128];
	struct frame in = { f, (uint32_t)frame(f, (uint32_t[]){ 0x8100000a }, 1), 0, 0 };
	struct frame dbl = { dt, (uint32_t)frame(dt, (uint32_t[]){ 0x81000001, 0x81000014 }, 2), 0, 0 };
	uint64_t drops[DROP_MAX] = { 0 };
	struct vlan_frame vf = { .in = &t, .drops = drops, .vid = 10, .tagged = 1 };
	const struct frame *o1, *o2;

	(void)state;
	memset(&sw, 0, sizeof(sw));
	sw.vbuf.cap = 4096;
	sw.vbuf.mem = malloc(sw.vbuf.cap);
	assert_non_null(sw.vbuf.mem);
	pa.vlan = &a;
	pt.vlan = &t;
	px.vlan = NULL;
	/* tagged VLAN 10 from a trunk: the trunk and a transparent port take it as it is */
	assert_ptr_equal(vlan_port_out(&sw, &pt, &vf, &in), &in);
	assert_ptr_equal(vlan_port_out(&sw, &px, &vf, &in), &in);
	/* the access port gets it popped; a second access port shares the copy */
	o1 = vlan_port_out(&sw, &pa, &vf, &in);
	o2 = vlan_port_out(&sw, &pa, &vf, &in);
	assert_non_null(o1);
	assert_ptr_equal(o1, o2);
	assert_int_equal(o1->len, in.len - 4);
	assert_int_equal(o1->data[12], 0x08);
	assert_int_equal(sw.vbuf.used, in.len - 4);
	/* VLAN 20 is not the access port's */
	vf = (struct vlan_frame){ .in = &t, .drops = drops, .vid = 20, .tagged = 1 };
	assert_null(vlan_port_out(&sw, &pa, &vf, &in));
	/* untagged VLAN 10 from an access port: pushed for the trunk and a transparent port */
	vf = (struct vlan_frame){ .in = &a, .drops = drops, .vid = 10, .tagged = 0 };
	in.len = frame(f, NULL, 0);
	o1 = vlan_port_out(&sw, &px, &vf, &in);
	assert_non_null(o1);
	assert_int_equal(o1->len, in.len + 4);
	assert_int_equal(o1->data[15], 10);
	assert_ptr_equal(vlan_port_out(&sw, &pt, &vf, &in), o1);
	assert_ptr_equal(vlan_port_out(&sw, &pa, &vf, &in), &in);
	/* native VLAN 1, tagged, with VLAN 20 inside: never popped onto a port */
	vf = (struct vlan_frame){ .in = &t, .drops = drops, .vid = 1, .tagged = 1 };
	assert_null(vlan_port_out(&sw, &pt, &vf, &dbl));
	assert_int_equal(drops[DROP_vlan_double_tag], 1);
	assert_ptr_equal(vlan_port_out(&sw, &px, &vf, &dbl), &dbl);
	/* a frame without a VLAN from a transparent port reaches no VLAN port */
	vf = (struct vlan_frame){ .in = NULL, .drops = drops, .vid = 0, .tagged = 0 };
	assert_null(vlan_port_out(&sw, &pa, &vf, &in));
	assert_null(vlan_port_out(&sw, &pt, &vf, &in));
	/* no room left: dropped and counted, never written past the buffer */
	sw.vbuf.used = sw.vbuf.cap - 10;
	vf = (struct vlan_frame){ .in = &a, .drops = drops, .vid = 10, .tagged = 0 };
	assert_null(vlan_port_out(&sw, &pt, &vf, &in));
	assert_int_equal(pt.ctr.drops[DROP_tx_full], 1);
	vlan_buf_free(&sw.vbuf);
	vlan_buf_free(NULL);
}

UNIT_MAIN("vlan", NULL, NULL,
	    U(test_parse), U(test_format_long), U(test_classify), U(test_egress),
	    U(test_push_pop), U(test_push_pop_vnet), U(test_port_out))
