/* test_uplink.c - unit tests for the port side's failover and re-announce (common/uplink.c) */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"

#include "uplink.h"
#include "util.h"

static void test_split(void **state)
{
	char a[] = "tcp://a:1,tcp://b:2,ipc:///c", one[] = "tcp://a:1", empty[] = "tcp://a:1,,x";
	char trail[] = "tcp://a:1,", many[] = "1,2,3,4,5,6,7,8,9", *out[UPLINK_MAX_EP];

	(void)state;
	assert_int_equal(uplink_split(a, out, UPLINK_MAX_EP), 3);
	assert_string_equal(out[0], "tcp://a:1");
	assert_string_equal(out[1], "tcp://b:2");
	assert_string_equal(out[2], "ipc:///c");
	assert_int_equal(uplink_split(one, out, UPLINK_MAX_EP), 1);
	assert_string_equal(out[0], "tcp://a:1");
	assert_int_equal(uplink_split(empty, out, UPLINK_MAX_EP), -EINVAL);
	assert_int_equal(uplink_split(trail, out, UPLINK_MAX_EP), -EINVAL);
	assert_int_equal(uplink_split(many, out, UPLINK_MAX_EP), -EINVAL);
}

static void test_failback_conf(void **state)
{
	struct uplink_conf c = { 0 };

	(void)state;
	uplink_conf_failback(&c, NULL);
	assert_int_equal(c.failback, 1);
	assert_int_equal(c.failback_hold_ms, 10000);
	uplink_conf_failback(&c, "off");
	assert_int_equal(c.failback, 0);
	uplink_conf_failback(&c, "3");
	assert_int_equal(c.failback, 1);
	assert_int_equal(c.failback_hold_ms, 3000);
}

/* A stand-in switch: a ROUTER on inproc://NAME in the uplink's context. */
struct fake_sw {
	void *sock;
	uint8_t rid[256];
	size_t rid_len;
	struct codec_arena arena;
};

static void sw_open(struct fake_sw *s, void *ctx, const char *ep)
{
	memset(s, 0, sizeof(*s));
	s->sock = zmq_socket(ctx, ZMQ_ROUTER);
	assert_non_null(s->sock);
	assert_int_equal(zmq_bind(s->sock, ep), 0);
	assert_int_equal(codec_arena_init(&s->arena, 2 * (size_t)VMF_MAX_MSG), 0);
}

static void sw_close(struct fake_sw *s)
{
	int zero = 0;

	zmq_setsockopt(s->sock, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_close(s->sock);
	codec_arena_free(&s->arena);
}

/* Run @u for up to @ms, until @s has a message; decode it. Return: the envelope or NULL */
static Vmfabric__Envelope *sw_wait(struct fake_sw *s, struct uplink *u, long ms)
{
	static zmq_msg_t m;
	static int have;
	uint64_t end = now_ms() + (uint64_t)ms;

	if (have)
		zmq_msg_close(&m);
	have = 0;
	codec_arena_reset(&s->arena);
	while (now_ms() < end) {
		struct frame *rf;
		size_t rn;
		zmq_msg_t id;
		Vmfabric__Envelope *env;

		zmq_msg_init(&id);
		if (zmq_msg_recv(&id, s->sock, ZMQ_DONTWAIT) >= 0) {
			s->rid_len = zmq_msg_size(&id);
			memcpy(s->rid, zmq_msg_data(&id), s->rid_len);
			zmq_msg_close(&id);
			zmq_msg_init(&m);
			assert_true(zmq_msg_recv(&m, s->sock, 0) >= 0);
			have = 1;
			assert_int_equal(codec_decode(&s->arena, zmq_msg_data(&m), zmq_msg_size(&m), &env), 0);
			return env;
		}
		zmq_msg_close(&id);
		if (u->mon)
			uplink_monitor(u);
		while (u->sock && uplink_recv(u, &rf, &rn, NULL) == 1)
			;
		uplink_tick(u, now_ms());
		zmq_poll(NULL, 0, 5);
	}
	return NULL;
}

static void sw_send(struct fake_sw *s, const Vmfabric__Envelope *env)
{
	zmq_msg_t m;

	assert_true(zmq_send(s->sock, s->rid, s->rid_len, ZMQ_SNDMORE) >= 0);
	assert_int_equal(codec_pack(env, &m), 0);
	assert_true(zmq_msg_send(&m, s->sock, 0) >= 0);
}

static void sw_welcome(struct fake_sw *s)
{
	Vmfabric__Welcome w = VMFABRIC__WELCOME__INIT;
	Vmfabric__Envelope env = VMFABRIC__ENVELOPE__INIT;

	w.port_id = 1;
	w.keepalive_ms = 1000;
	w.mtu = 1500;
	env.msg_case = VMFABRIC__ENVELOPE__MSG_WELCOME;
	env.welcome = &w;
	sw_send(s, &env);
}

/* Let @u read what the switch sent. */
static void pump(struct uplink *u, long ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;
	struct frame *rf;
	size_t rn;

	while (now_ms() < end) {
		while (u->sock && uplink_recv(u, &rf, &rn, NULL) == 1)
			;
		uplink_tick(u, now_ms());
		zmq_poll(NULL, 0, 5);
	}
}

static void frame(uint8_t *f, const char *src_last)
{
	memset(f, 0, 64);
	memset(f, 0xff, 6);
	f[6] = 0x02;
	f[11] = (uint8_t)src_last[0];
	f[12] = 0x08;
}

/*
 * Two switches: the first refuses the port (Error DENIED), the port moves
 * to the second without a restart; after a new Welcome from the second
 * (a reconnect) it announces each unicast source MAC it sent, once, in
 * QEMU's announce-self format.
 */
static void test_move_and_announce(void **state)
{
	static const uint8_t rarp_tail[] = { 0x80, 0x35, 0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x03 };
	struct uplink_conf c = { .endpoint = "inproc://sw-a,inproc://sw-b", .network = "lab", .name = "p1",
				 .mtu = 1500, .insecure = 1 };
	Vmfabric__Error e = VMFABRIC__ERROR__INIT;
	Vmfabric__Envelope env = VMFABRIC__ENVELOPE__INIT, *got;
	uint8_t f[4][64];
	struct frame fr[4];
	struct fake_sw a, b;
	struct uplink u;
	void *ctx = zmq_ctx_new();

	(void)state;
	uplink_conf_failback(&c, "off");
	sw_open(&a, ctx, "inproc://sw-a");
	sw_open(&b, ctx, "inproc://sw-b");
	assert_int_equal(uplink_init(&u, &c, ctx), 0);
	assert_int_equal(u.n_ep, 2);

	got = sw_wait(&a, &u, 3000);
	assert_non_null(got);
	assert_int_equal(got->msg_case, VMFABRIC__ENVELOPE__MSG_HELLO);
	e.code = VMF_ERR_DENIED;
	e.text = "no";
	env.msg_case = VMFABRIC__ENVELOPE__MSG_ERROR;
	env.error = &e;
	sw_send(&a, &env);

	got = sw_wait(&b, &u, 3000);
	assert_non_null(got);
	assert_int_equal(got->msg_case, VMFABRIC__ENVELOPE__MSG_HELLO);
	assert_int_equal(u.ep_cur, 1);
	assert_int_equal(u.ctr.moves, 1);
	sw_welcome(&b);
	pump(&u, 50);
	assert_int_equal(u.state, UPLINK_UP);

	/* source MACs ...01, ...02, ...01 again, and a multicast source that is never announced */
	frame(f[0], "\x01");
	frame(f[1], "\x02");
	frame(f[2], "\x01");
	frame(f[3], "\x03");
	f[3][6] = 0x01;
	for (int i = 0; i < 4; i++)
		fr[i] = (struct frame){ f[i], 64, 0, 0 };
	assert_int_equal(uplink_send(&u, fr, 4), 4);
	got = sw_wait(&b, &u, 1000);
	assert_non_null(got);
	assert_int_equal(got->msg_case, VMFABRIC__ENVELOPE__MSG_BATCH);
	assert_int_equal(u.n_macs, 2);

	sw_welcome(&b);
	do {
		got = sw_wait(&b, &u, 1000);
		assert_non_null(got);
	} while (got->msg_case == VMFABRIC__ENVELOPE__MSG_KEEPALIVE);
	assert_int_equal(got->msg_case, VMFABRIC__ENVELOPE__MSG_BATCH);
	assert_int_equal(got->batch->n_frames, 2);
	for (size_t i = 0; i < 2; i++) {
		const uint8_t *r = got->batch->frames[i].data;

		assert_int_equal(got->batch->frames[i].len, 60);
		for (int k = 0; k < 6; k++)
			assert_int_equal(r[k], 0xff);
		assert_memory_equal(r + 6, f[i] + 6, 6);
		assert_memory_equal(r + 12, rarp_tail, sizeof(rarp_tail));
		assert_memory_equal(r + 22, f[i] + 6, 6);
		assert_memory_equal(r + 32, f[i] + 6, 6);
	}
	assert_int_equal(u.ctr.announces, 2);

	uplink_free(&u);
	sw_close(&a);
	sw_close(&b);
	zmq_ctx_term(ctx);
}

/* The next message @s has, without waiting; decoded into its arena. Return: the envelope or NULL */
static Vmfabric__Envelope *sw_try(struct fake_sw *s)
{
	Vmfabric__Envelope *env = NULL;
	zmq_msg_t id, m;

	zmq_msg_init(&id);
	if (zmq_msg_recv(&id, s->sock, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&id);
		return NULL;
	}
	s->rid_len = zmq_msg_size(&id);
	memcpy(s->rid, zmq_msg_data(&id), s->rid_len);
	zmq_msg_close(&id);
	zmq_msg_init(&m);
	assert_true(zmq_msg_recv(&m, s->sock, 0) >= 0);
	codec_arena_reset(&s->arena);
	assert_int_equal(codec_decode(&s->arena, zmq_msg_data(&m), zmq_msg_size(&m), &env), 0);
	zmq_msg_close(&m);	/* codec_decode copies into the arena */
	return env;
}

static struct fake_sw la, lb;
static struct uplink lu;
static int readable_calls, batches;
static void *sock_a;
static uint64_t deadline;

static int lu_readable(void *arg)
{
	struct frame *f;
	size_t n;

	(void)arg;
	readable_calls++;
	while (uplink_recv(&lu, &f, &n, NULL) == 1)
		batches++;
	return 0;
}

/*
 * The two stand-in switches, each pass: A refuses the port (DENIED), B
 * welcomes it and then sends it 3 frames. Ends the loop when they arrived.
 */
static long switches(struct ev_loop *l, uint64_t now, void *arg)
{
	Vmfabric__Envelope env = VMFABRIC__ENVELOPE__INIT, *got;
	Vmfabric__Error e = VMFABRIC__ERROR__INIT;

	(void)arg;
	while ((got = sw_try(&la)))
		if (got->msg_case == VMFABRIC__ENVELOPE__MSG_HELLO) {
			e.code = VMF_ERR_DENIED;
			e.text = "no";
			env.msg_case = VMFABRIC__ENVELOPE__MSG_ERROR;
			env.error = &e;
			sw_send(&la, &env);
		}
	while ((got = sw_try(&lb)))
		if (got->msg_case == VMFABRIC__ENVELOPE__MSG_HELLO) {
			Vmfabric__FrameBatch fb = VMFABRIC__FRAME_BATCH__INIT;
			Vmfabric__Envelope benv = VMFABRIC__ENVELOPE__INIT;
			uint8_t f[3][64];
			ProtobufCBinaryData fr[3];

			sw_welcome(&lb);
			for (int i = 0; i < 3; i++) {
				frame(f[i], "\x05");
				fr[i] = (ProtobufCBinaryData){ 64, f[i] };
			}
			fb.n_frames = 3;
			fb.frames = fr;
			benv.msg_case = VMFABRIC__ENVELOPE__MSG_BATCH;
			benv.batch = &fb;
			sw_send(&lb, &benv);
		}
	if (lu.ctr.rx_frames >= 3 || now > deadline)
		ev_stop(l);
	return 5;
}

/*
 * Attached to a loop, the uplink polls its own sockets: refused by the first
 * switch it moves to the second, and the loop then polls the new socket
 * (no caller compares sockets); what arrives there is read through the
 * callback and counted by uplink_recv() itself.
 */
static void test_attach_follows_swap(void **state)
{
	struct uplink_conf c = { .endpoint = "inproc://lsw-a,inproc://lsw-b", .network = "lab",
				 .name = "p2", .mtu = 1500, .insecure = 1 };
	struct ev_loop l;
	void *ctx = zmq_ctx_new();

	(void)state;
	uplink_conf_failback(&c, "off");
	sw_open(&la, ctx, "inproc://lsw-a");
	sw_open(&lb, ctx, "inproc://lsw-b");
	assert_int_equal(ev_init(&l), 0);
	assert_int_equal(uplink_init(&lu, &c, ctx), 0);
	sock_a = lu.sock;
	assert_int_equal(ev_hook(&l, switches, NULL, NULL), 0);
	assert_int_equal(uplink_attach(&lu, &l, lu_readable, NULL), 0);
	assert_ptr_equal(l.slot[lu.h_data].zsock, sock_a);
	deadline = now_ms() + 5000;
	assert_int_equal(ev_run(&l), 0);

	assert_int_equal(lu.ep_cur, 1);
	assert_int_equal(lu.state, UPLINK_UP);
	assert_ptr_equal(l.slot[lu.h_data].zsock, lu.sock);
	assert_ptr_equal(l.slot[lu.h_mon].zsock, lu.mon);
	assert_int_equal(lu.ctr.rx_frames, 3);
	assert_int_equal(lu.ctr.rx_msgs, 1);
	assert_int_equal(batches, 1);
	assert_true(readable_calls >= 2);	/* A's Error, B's Welcome and batch */

	uplink_free(&lu);
	assert_null(l.slot[lu.h_data].zsock);	/* nothing left polled */
	ev_free(&l);
	sw_close(&la);
	sw_close(&lb);
	zmq_ctx_term(ctx);
}

UNIT_MAIN("uplink", NULL, NULL,
	    U(test_split), U(test_failback_conf), U(test_move_and_announce),
	    U(test_attach_follows_swap))
