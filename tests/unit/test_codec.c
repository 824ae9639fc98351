/* test_codec.c - unit tests for the envelope codec (proto/codec.c): round trips, bounds, malformed input */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"

#include "codec.h"

/* The switch's arena size; every test that is not about the arena uses it. */
#define CODEC_TEST_ARENA	(4 * (size_t)VMF_MAX_MSG)

struct codec_buf {
	uint8_t *data;
	size_t len;
};

static uint64_t codec_rng_state;

static uint32_t codec_rand(void)
{
	/* xorshift64*: deterministic, so every failure reproduces */
	codec_rng_state ^= codec_rng_state >> 12;
	codec_rng_state ^= codec_rng_state << 25;
	codec_rng_state ^= codec_rng_state >> 27;
	return (uint32_t)((codec_rng_state * 0x2545F4914F6CDD1DULL) >> 32);
}

static int codec_setup(void **state)
{
	struct codec_arena *a = malloc(sizeof(*a));

	assert_non_null(a);
	assert_int_equal(codec_arena_init(a, CODEC_TEST_ARENA), 0);
	*state = a;
	return 0;
}

static int codec_teardown(void **state)
{
	codec_arena_free(*state);
	free(*state);
	return 0;
}

/* Pack @env with codec_pack() and return a malloc'd copy of the bytes. */
static struct codec_buf codec_pack_copy(const Vmfabric__Envelope *env)
{
	struct codec_buf b;
	zmq_msg_t msg;

	assert_int_equal(codec_pack(env, &msg), 0);
	b.len = zmq_msg_size(&msg);
	b.data = malloc(b.len ? b.len : 1);
	assert_non_null(b.data);
	memcpy(b.data, zmq_msg_data(&msg), b.len);
	zmq_msg_close(&msg);
	return b;
}

/* Pack @env into a zmq message and decode that message's bytes. */
static Vmfabric__Envelope *codec_roundtrip(struct codec_arena *a, const Vmfabric__Envelope *env)
{
	Vmfabric__Envelope *out = NULL;
	zmq_msg_t msg;

	codec_arena_reset(a);
	assert_int_equal(codec_pack(env, &msg), 0);
	assert_int_equal(codec_decode(a, zmq_msg_data(&msg), zmq_msg_size(&msg), &out), 0);
	zmq_msg_close(&msg);
	assert_non_null(out);
	return out;
}

static int codec_decode_buf(struct codec_arena *a, const void *p, size_t len)
{
	Vmfabric__Envelope *out = (Vmfabric__Envelope *)(uintptr_t)1;
	int rc;

	codec_arena_reset(a);
	rc = codec_decode(a, p, len, &out);
	if (rc)
		assert_null(out);
	else
		assert_non_null(out);
	return rc;
}

static void codec_fill(uint8_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed * 31 + i * 7 + (i >> 8));
}

/* A FrameBatch of @n frames with lengths from @len_of, content from codec_fill(). */
static ProtobufCBinaryData *codec_make_frames(size_t n, size_t (*len_of)(size_t))
{
	ProtobufCBinaryData *f = calloc(n ? n : 1, sizeof(*f));

	assert_non_null(f);
	for (size_t i = 0; i < n; i++) {
		f[i].len = len_of(i);
		f[i].data = malloc(f[i].len ? f[i].len : 1);
		assert_non_null(f[i].data);
		codec_fill(f[i].data, f[i].len, (uint32_t)i);
	}
	return f;
}

static void codec_free_frames(ProtobufCBinaryData *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(f[i].data);
	free(f);
}

static size_t codec_len_mixed(size_t i)
{
	/* one 64 KiB GSO frame, a runt, and ordinary frames of varying sizes */
	if (i == 100)
		return VMF_MAX_FRAME;
	if (i == 7)
		return 1;
	return 60 + (i * 37) % 1455;
}

static size_t codec_len_one(size_t i)
{
	(void)i;
	return 1;
}

static size_t codec_len_small(size_t i)
{
	return 14 + i;
}

/*
 * Pack @n frames with an explicit list of flagged indices, as a peer may send
 * them (out of order, out of range): codec_pack_batch() only makes valid ones.
 */
static int codec_pack_pb(ProtobufCBinaryData *f, size_t n, uint32_t *vnet, size_t n_vnet,
			 zmq_msg_t *msg)
{
	Vmfabric__FrameBatch b = VMFABRIC__FRAME_BATCH__INIT;
	Vmfabric__Envelope env = VMFABRIC__ENVELOPE__INIT;

	b.n_frames = n;
	b.frames = f;
	b.n_vnet = n_vnet;
	b.vnet = vnet;
	env.msg_case = VMFABRIC__ENVELOPE__MSG_BATCH;
	env.batch = &b;
	return codec_pack(&env, msg);
}

static void codec_check_batch(const Vmfabric__Envelope *out, const ProtobufCBinaryData *f, size_t n)
{
	assert_int_equal(out->msg_case, VMFABRIC__ENVELOPE__MSG_BATCH);
	assert_non_null(out->batch);
	assert_int_equal(out->batch->n_frames, n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(out->batch->frames[i].len, f[i].len);
		assert_memory_equal(out->batch->frames[i].data, f[i].data, f[i].len);
	}
}

static void test_codec_roundtrip_hello(void **state)
{
	Vmfabric__Hello h = VMFABRIC__HELLO__INIT;
	Vmfabric__Envelope env = VMFABRIC__ENVELOPE__INIT, *out;

	h.version = VMF_PROTO_VERSION;
	h.network = "lab";
	h.port = "vm1/eth0";
	h.mtu = 9000;
	h.caps = VMF_CAP_VNET_HDR;
	env.msg_case = VMFABRIC__ENVELOPE__MSG_HELLO;
	env.hello = &h;
	out = codec_roundtrip(*state, &env);
	assert_int_equal(out->msg_case, VMFABRIC__ENVELOPE__MSG_HELLO);
	assert_int_equal(out->hello->version, VMF_PROTO_VERSION);
	assert_string_equal(out->hello->network, "lab");
	assert_string_equal(out->hello->port, "vm1/eth0");
	assert_int_equal(out->hello->mtu, 9000);
	assert_int_equal(out->hello->caps, VMF_CAP_VNET_HDR);
}

static void test_codec_roundtrip_welcome(void **state)
{
	Vmfabric__Welcome w = VMFABRIC__WELCOME__INIT;
	Vmfabric__Envelope env = VMFABRIC__ENVELOPE__INIT, *out;

	w.port_id = 0xfffffffeu;
	w.mtu = 1500;
	w.keepalive_ms = 1000;
	env.msg_case = VMFABRIC__ENVELOPE__MSG_WELCOME;
	env.welcome = &w;
	out = codec_roundtrip(*state, &env);
	assert_int_equal(out->msg_case, VMFABRIC__ENVELOPE__MSG_WELCOME);
	assert_int_equal(out->welcome->port_id, 0xfffffffeu);
	assert_int_equal(out->welcome->mtu, 1500);
	assert_int_equal(out->welcome->keepalive_ms, 1000);
	assert_false(out->welcome->link_down);
	w.link_down = 1;
	out = codec_roundtrip(*state, &env);
	assert_true(out->welcome->link_down);
}

/* LinkState: "up" false packs as an empty message and must still decode as LinkState */
static void test_codec_roundtrip_link(void **state)
{
	Vmfabric__LinkState ls = VMFABRIC__LINK_STATE__INIT;
	Vmfabric__Envelope env = VMFABRIC__ENVELOPE__INIT, *out;

	for (int up = 0; up < 2; up++) {
		ls.up = up;
		env.msg_case = VMFABRIC__ENVELOPE__MSG_LINK;
		env.link = &ls;
		out = codec_roundtrip(*state, &env);
		assert_int_equal(out->msg_case, VMFABRIC__ENVELOPE__MSG_LINK);
		assert_int_equal(out->link->up, up);
	}
}

static void test_codec_roundtrip_error(void **state)
{
	Vmfabric__Error e = VMFABRIC__ERROR__INIT;
	Vmfabric__Envelope env = VMFABRIC__ENVELOPE__INIT, *out;

	e.code = VMF_ERR_DENIED;
	e.text = "key not in the authorized directory";
	env.msg_case = VMFABRIC__ENVELOPE__MSG_ERROR;
	env.error = &e;
	out = codec_roundtrip(*state, &env);
	assert_int_equal(out->msg_case, VMFABRIC__ENVELOPE__MSG_ERROR);
	assert_int_equal(out->error->code, VMF_ERR_DENIED);
	assert_string_equal(out->error->text, "key not in the authorized directory");
	assert_string_equal(codec_err_name(out->error->code), "denied");
}

static void test_codec_roundtrip_keepalive(void **state)
{
	Vmfabric__Keepalive k = VMFABRIC__KEEPALIVE__INIT;
	Vmfabric__Envelope env = VMFABRIC__ENVELOPE__INIT, *out;

	/* seq 0 packs as an empty Keepalive: it must still decode as one */
	for (uint64_t seq = 0; seq < 3; seq++) {
		k.seq = seq ? 0x0123456789abcdefULL * seq : 0;
		env.msg_case = VMFABRIC__ENVELOPE__MSG_KEEPALIVE;
		env.keepalive = &k;
		out = codec_roundtrip(*state, &env);
		assert_int_equal(out->msg_case, VMFABRIC__ENVELOPE__MSG_KEEPALIVE);
		assert_true(out->keepalive->seq == k.seq);
	}
}

static void test_codec_roundtrip_bye(void **state)
{
	Vmfabric__Bye b = VMFABRIC__BYE__INIT;
	Vmfabric__Envelope env = VMFABRIC__ENVELOPE__INIT, *out;

	b.reason = "shutting down";
	env.msg_case = VMFABRIC__ENVELOPE__MSG_BYE;
	env.bye = &b;
	out = codec_roundtrip(*state, &env);
	assert_int_equal(out->msg_case, VMFABRIC__ENVELOPE__MSG_BYE);
	assert_string_equal(out->bye->reason, "shutting down");
}

static void codec_batch_roundtrip(struct codec_arena *a, size_t n, size_t (*len_of)(size_t))
{
	ProtobufCBinaryData *f = codec_make_frames(n, len_of);
	Vmfabric__Envelope *out = NULL;
	zmq_msg_t msg;

	codec_arena_reset(a);
	assert_int_equal(codec_pack_pb(f, n, NULL, 0, &msg), 0);
	assert_int_equal(codec_decode(a, zmq_msg_data(&msg), zmq_msg_size(&msg), &out), 0);
	codec_check_batch(out, f, n);
	/* decoded frames must not alias the zmq message: it is closed before use */
	if (n)
		assert_true(out->batch->frames[0].data < (uint8_t *)zmq_msg_data(&msg) ||
			    out->batch->frames[0].data >= (uint8_t *)zmq_msg_data(&msg) + zmq_msg_size(&msg));
	zmq_msg_close(&msg);
	codec_free_frames(f, n);
}

static void test_codec_roundtrip_batch(void **state)
{
	codec_batch_roundtrip(*state, 0, codec_len_one);
	codec_batch_roundtrip(*state, 1, codec_len_small);
	codec_batch_roundtrip(*state, VMF_MAX_BATCH_FRAMES, codec_len_mixed);
	codec_batch_roundtrip(*state, VMF_MAX_BATCH_FRAMES, codec_len_one);
}

static void test_codec_empty(void **state)
{
	Vmfabric__Envelope *out = (Vmfabric__Envelope *)(uintptr_t)1;

	/* zero bytes is a valid protobuf encoding of an envelope with no message */
	codec_arena_reset(*state);
	assert_int_equal(codec_decode(*state, "", 0, &out), -EBADMSG);
	assert_null(out);
}

static void test_codec_garbage(void **state)
{
	static const uint8_t all_ff[32] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	};
	static const uint8_t zeros[16] = { 0 };	/* tag 0 is invalid */
	uint8_t buf[512];
	unsigned int rejected = 0, i;

	assert_int_equal(codec_decode_buf(*state, all_ff, sizeof(all_ff)), -EBADMSG);
	assert_int_equal(codec_decode_buf(*state, zeros, sizeof(zeros)), -EBADMSG);
	assert_int_equal(codec_decode_buf(*state, "hello, world", 12), -EBADMSG);

	codec_rng_state = 0x5eed0001;
	for (i = 0; i < 2000; i++) {
		size_t len = 1 + codec_rand() % sizeof(buf);
		int rc;

		for (size_t j = 0; j < len; j++)
			buf[j] = (uint8_t)codec_rand();
		rc = codec_decode_buf(*state, buf, len);
		assert_true(rc == 0 || rc == -EBADMSG);
		rejected += rc == -EBADMSG;
	}
	/* random bytes are almost never a well-formed envelope */
	assert_true(rejected > 1900);
}

/* Every proper prefix of a one-field envelope breaks a length: all must be rejected. */
static void codec_check_truncations(struct codec_arena *a, const struct codec_buf *b, size_t step)
{
	for (size_t len = 0; len < b->len; len += (len < 64 || b->len - len < 64) ? 1 : step)
		if (codec_decode_buf(a, b->data, len) != -EBADMSG)
			fail_msg("prefix of %zu of %zu bytes was accepted", len, b->len);
	assert_int_equal(codec_decode_buf(a, b->data, b->len), 0);
}

static void test_codec_truncated(void **state)
{
	Vmfabric__Hello h = VMFABRIC__HELLO__INIT;
	Vmfabric__Welcome w = VMFABRIC__WELCOME__INIT;
	Vmfabric__Error e = VMFABRIC__ERROR__INIT;
	Vmfabric__Keepalive k = VMFABRIC__KEEPALIVE__INIT;
	Vmfabric__Bye bye = VMFABRIC__BYE__INIT;
	Vmfabric__FrameBatch batch = VMFABRIC__FRAME_BATCH__INIT;
	Vmfabric__Envelope env[6] = {
		VMFABRIC__ENVELOPE__INIT, VMFABRIC__ENVELOPE__INIT, VMFABRIC__ENVELOPE__INIT,
		VMFABRIC__ENVELOPE__INIT, VMFABRIC__ENVELOPE__INIT, VMFABRIC__ENVELOPE__INIT,
	};
	ProtobufCBinaryData *f = codec_make_frames(VMF_MAX_BATCH_FRAMES, codec_len_mixed);

	h.version = 1, h.network = "lab", h.port = "vm1/eth0", h.mtu = 1500, h.caps = 1;
	w.port_id = 7, w.mtu = 1500, w.keepalive_ms = 1000;
	e.code = VMF_ERR_FULL, e.text = "port table full";
	k.seq = 99;
	bye.reason = "bye";
	batch.n_frames = VMF_MAX_BATCH_FRAMES, batch.frames = f;
	env[0].msg_case = VMFABRIC__ENVELOPE__MSG_HELLO, env[0].hello = &h;
	env[1].msg_case = VMFABRIC__ENVELOPE__MSG_WELCOME, env[1].welcome = &w;
	env[2].msg_case = VMFABRIC__ENVELOPE__MSG_ERROR, env[2].error = &e;
	env[3].msg_case = VMFABRIC__ENVELOPE__MSG_KEEPALIVE, env[3].keepalive = &k;
	env[4].msg_case = VMFABRIC__ENVELOPE__MSG_BYE, env[4].bye = &bye;
	env[5].msg_case = VMFABRIC__ENVELOPE__MSG_BATCH, env[5].batch = &batch;

	for (size_t i = 0; i < 6; i++) {
		struct codec_buf b = codec_pack_copy(&env[i]);

		/* the big batch: every length near both ends, a sample in between */
		codec_check_truncations(*state, &b, i == 5 ? 997 : 1);
		free(b.data);
	}
	/* a small batch at every length */
	batch.n_frames = 5;
	{
		struct codec_buf b = codec_pack_copy(&env[5]);

		codec_check_truncations(*state, &b, 1);
		free(b.data);
	}
	codec_free_frames(f, VMF_MAX_BATCH_FRAMES);
}

static void test_codec_lying_length(void **state)
{
	/* Hello claims 100 bytes, 3 present */
	static const uint8_t outer[] = { 0x0a, 0x64, 0x08, 0x01, 0x12 };
	/* Hello is 4 bytes, its network string claims 16 */
	static const uint8_t inner[] = { 0x0a, 0x04, 0x12, 0x10, 'a', 'b' };
	/* a frame claims 2^32 bytes */
	static const uint8_t frame[] = { 0x2a, 0x07, 0x0a, 0x80, 0x80, 0x80, 0x80, 0x10, 0x00 };
	/* a frame length varint that never ends */
	static const uint8_t varint[] = { 0x2a, 0x0c, 0x0a, 0xff, 0xff, 0xff, 0xff, 0xff,
					  0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	/* the envelope length is 2^64 - 1 */
	static const uint8_t huge[] = { 0x2a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					0xff, 0xff, 0x01, 0x00 };

	assert_int_equal(codec_decode_buf(*state, outer, sizeof(outer)), -EBADMSG);
	assert_int_equal(codec_decode_buf(*state, inner, sizeof(inner)), -EBADMSG);
	assert_int_equal(codec_decode_buf(*state, frame, sizeof(frame)), -EBADMSG);
	assert_int_equal(codec_decode_buf(*state, varint, sizeof(varint)), -EBADMSG);
	assert_int_equal(codec_decode_buf(*state, huge, sizeof(huge)), -EBADMSG);
}

static void test_codec_wire_types(void **state)
{
	/* hello (a message) sent as a varint */
	static const uint8_t msg_as_varint[] = { 0x08, 0x01 };
	/* hello sent as fixed64 and as fixed32 */
	static const uint8_t msg_as_fixed64[] = { 0x09, 1, 2, 3, 4, 5, 6, 7, 8 };
	static const uint8_t msg_as_fixed32[] = { 0x0d, 1, 2, 3, 4 };
	/* Hello.version (uint32) sent length-delimited */
	static const uint8_t version_as_bytes[] = { 0x0a, 0x03, 0x0a, 0x01, 0x00 };
	/* FrameBatch.frames (bytes) sent as a varint */
	static const uint8_t frame_as_varint[] = { 0x2a, 0x02, 0x08, 0x05 };
	/* Hello.network (string) sent as fixed32 */
	static const uint8_t string_as_fixed32[] = { 0x0a, 0x05, 0x15, 'a', 'b', 'c', 'd' };
	/* deprecated group wire types 3/4 and the undefined 6/7 */
	static const uint8_t group[] = { 0x0b, 0x0c };
	static const uint8_t wt6[] = { 0x0e, 0x00 };
	static const uint8_t wt7[] = { 0x0f, 0x00 };
	/* only an unknown field: still no message */
	static const uint8_t unknown_only[] = { 0x78, 0x01 };
	/* a Hello followed by an unknown field is a Hello (forward compatible) */
	static const uint8_t hello_unknown[] = { 0x0a, 0x02, 0x08, 0x01, 0x78, 0x01 };

	assert_int_equal(codec_decode_buf(*state, msg_as_varint, sizeof(msg_as_varint)), -EBADMSG);
	assert_int_equal(codec_decode_buf(*state, msg_as_fixed64, sizeof(msg_as_fixed64)), -EBADMSG);
	assert_int_equal(codec_decode_buf(*state, msg_as_fixed32, sizeof(msg_as_fixed32)), -EBADMSG);
	assert_int_equal(codec_decode_buf(*state, version_as_bytes, sizeof(version_as_bytes)), -EBADMSG);
	assert_int_equal(codec_decode_buf(*state, frame_as_varint, sizeof(frame_as_varint)), -EBADMSG);
	assert_int_equal(codec_decode_buf(*state, string_as_fixed32, sizeof(string_as_fixed32)), -EBADMSG);
	assert_int_equal(codec_decode_buf(*state, group, sizeof(group)), -EBADMSG);
	assert_int_equal(codec_decode_buf(*state, wt6, sizeof(wt6)), -EBADMSG);
	assert_int_equal(codec_decode_buf(*state, wt7, sizeof(wt7)), -EBADMSG);
	assert_int_equal(codec_decode_buf(*state, unknown_only, sizeof(unknown_only)), -EBADMSG);
	assert_int_equal(codec_decode_buf(*state, hello_unknown, sizeof(hello_unknown)), 0);
}

static void test_codec_too_many_frames(void **state)
{
	ProtobufCBinaryData *f = codec_make_frames(VMF_MAX_BATCH_FRAMES + 1, codec_len_small);
	Vmfabric__Envelope *out = NULL;
	zmq_msg_t msg;

	assert_int_equal(codec_pack_pb(f, VMF_MAX_BATCH_FRAMES + 1, NULL, 0, &msg), 0);
	codec_arena_reset(*state);
	assert_int_equal(codec_decode(*state, zmq_msg_data(&msg), zmq_msg_size(&msg), &out), -EBADMSG);
	assert_null(out);
	zmq_msg_close(&msg);
	codec_free_frames(f, VMF_MAX_BATCH_FRAMES + 1);

	/* many empty frames: 2 bytes each on the wire, far over the bound */
	f = calloc(5000, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(codec_pack_pb(f, 5000, NULL, 0, &msg), 0);
	assert_int_equal(codec_decode_buf(*state, zmq_msg_data(&msg), zmq_msg_size(&msg)), -EBADMSG);
	zmq_msg_close(&msg);
	free(f);
}

static void test_codec_too_large(void **state)
{
	size_t len = (size_t)VMF_MAX_MSG + 1;
	uint8_t *big = calloc(1, len);
	ProtobufCBinaryData *f;
	zmq_msg_t msg;
	size_t i, n;

	assert_non_null(big);
	assert_int_equal(codec_decode_buf(*state, big, len), -EMSGSIZE);
	free(big);

	/* packing refuses what the other side would refuse: more than VMF_MAX_MSG */
	n = VMF_MAX_MSG / VMF_MAX_FRAME + 1;
	f = calloc(n, sizeof(*f));
	assert_non_null(f);
	for (i = 0; i < n; i++) {
		f[i].len = VMF_MAX_FRAME;
		f[i].data = calloc(1, VMF_MAX_FRAME);
		assert_non_null(f[i].data);
	}
	assert_int_equal(codec_pack_pb(f, n, NULL, 0, &msg), -EMSGSIZE);
	codec_free_frames(f, n);
}

static void test_codec_arena_small(void **state)
{
	struct codec_arena small;
	Vmfabric__Bye b = VMFABRIC__BYE__INIT;
	Vmfabric__Envelope env = VMFABRIC__ENVELOPE__INIT, *out = NULL;
	char reason[900];
	struct codec_buf buf;

	(void)state;
	memset(reason, 'x', sizeof(reason) - 1);
	reason[sizeof(reason) - 1] = '\0';
	b.reason = reason;
	env.msg_case = VMFABRIC__ENVELOPE__MSG_BYE;
	env.bye = &b;
	buf = codec_pack_copy(&env);

	assert_int_equal(codec_arena_init(&small, 1024), 0);
	assert_int_equal(codec_decode(&small, buf.data, buf.len, &out), -EMSGSIZE);
	assert_null(out);
	codec_arena_free(&small);

	/* an arena big enough until it has been used: reset makes room again */
	assert_int_equal(codec_arena_init(&small, 1024 * 1024), 0);
	small.used = small.cap - 1024;
	assert_int_equal(codec_decode(&small, buf.data, buf.len, &out), -EMSGSIZE);
	assert_null(out);
	codec_arena_reset(&small);
	assert_int_equal(codec_decode(&small, buf.data, buf.len, &out), 0);
	assert_string_equal(out->bye->reason, reason);
	codec_arena_free(&small);
	codec_arena_free(NULL);
	free(buf.data);
}

/* Decode @msg in a fresh arena of @cap bytes. */
static int codec_decode_in(size_t cap, zmq_msg_t *msg, const ProtobufCBinaryData *f, size_t n)
{
	struct codec_arena a;
	Vmfabric__Envelope *out = NULL;
	int rc;

	assert_int_equal(codec_arena_init(&a, cap), 0);
	rc = codec_decode(&a, zmq_msg_data(msg), zmq_msg_size(msg), &out);
	if (!rc)
		codec_check_batch(out, f, n);
	codec_arena_free(&a);
	return rc;
}

/*
 * The smallest arena that passes codec_decode()'s room check must hold the
 * decoded message: a valid batch is never reported as malformed (which
 * disconnects the peer) for lack of room.
 */
static void test_codec_arena_reserve(void **state)
{
	static size_t (*const lens[])(size_t) = { codec_len_one, codec_len_small, codec_len_mixed };

	(void)state;
	for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		ProtobufCBinaryData *f = codec_make_frames(VMF_MAX_BATCH_FRAMES, lens[k]);
		size_t lo, hi;
		zmq_msg_t msg;
		int rc;

		assert_int_equal(codec_pack_pb(f, VMF_MAX_BATCH_FRAMES, NULL, 0, &msg), 0);
		/* binary search: lo is refused for room, hi is not */
		lo = zmq_msg_size(&msg);
		hi = lo + 1024 * 1024;
		assert_int_equal(codec_decode_in(lo, &msg, f, VMF_MAX_BATCH_FRAMES), -EMSGSIZE);
		assert_int_equal(codec_decode_in(hi, &msg, f, VMF_MAX_BATCH_FRAMES), 0);
		while (hi - lo > 1) {
			size_t mid = lo + (hi - lo) / 2;

			if (codec_decode_in(mid, &msg, f, VMF_MAX_BATCH_FRAMES) == -EMSGSIZE)
				lo = mid;
			else
				hi = mid;
		}
		rc = codec_decode_in(hi, &msg, f, VMF_MAX_BATCH_FRAMES);
		if (rc)
			fail_msg("valid %d-frame batch of %zu bytes in an arena of %zu (the smallest "
				 "not refused for room): %d", VMF_MAX_BATCH_FRAMES, zmq_msg_size(&msg), hi, rc);
		zmq_msg_close(&msg);
		codec_free_frames(f, VMF_MAX_BATCH_FRAMES);
	}
}

static void test_codec_long_strings(void **state)
{
	Vmfabric__Hello h = VMFABRIC__HELLO__INIT;
	Vmfabric__Error e = VMFABRIC__ERROR__INIT;
	Vmfabric__Bye b = VMFABRIC__BYE__INIT;
	Vmfabric__Envelope env = VMFABRIC__ENVELOPE__INIT;
	char *s = malloc(5001);
	struct codec_buf buf;

	assert_non_null(s);
	memset(s, 'n', 5000);
	s[5000] = '\0';
	h.version = 1;
	h.network = "lab";
	h.port = "p";
	env.msg_case = VMFABRIC__ENVELOPE__MSG_HELLO;
	env.hello = &h;

	/* 1023 bytes is the longest text accepted, 1024 is malformed */
	for (int which = 0; which < 2; which++) {
		const char **field = which ? (const char **)&h.port : (const char **)&h.network;

		s[1023] = '\0';
		*field = s;
		buf = codec_pack_copy(&env);
		assert_int_equal(codec_decode_buf(*state, buf.data, buf.len), 0);
		free(buf.data);
		s[1023] = 'n';
		s[1024] = '\0';
		buf = codec_pack_copy(&env);
		assert_int_equal(codec_decode_buf(*state, buf.data, buf.len), -EBADMSG);
		free(buf.data);
		s[1024] = 'n';
		*field = "x";
	}

	e.code = VMF_ERR_MALFORMED;
	e.text = s;
	env.msg_case = VMFABRIC__ENVELOPE__MSG_ERROR;
	env.error = &e;
	buf = codec_pack_copy(&env);
	assert_int_equal(codec_decode_buf(*state, buf.data, buf.len), -EBADMSG);
	free(buf.data);

	b.reason = s;
	env.msg_case = VMFABRIC__ENVELOPE__MSG_BYE;
	env.bye = &b;
	buf = codec_pack_copy(&env);
	assert_int_equal(codec_decode_buf(*state, buf.data, buf.len), -EBADMSG);
	free(buf.data);
	free(s);
}

/* Check what a successful decode of a mutated message hands the caller. */
static void codec_check_sane(const Vmfabric__Envelope *out, size_t inlen)
{
	size_t total = 0;

	switch (out->msg_case) {
	case VMFABRIC__ENVELOPE__MSG_HELLO:
		assert_non_null(out->hello->network);
		assert_non_null(out->hello->port);
		assert_true(strlen(out->hello->network) < inlen && strlen(out->hello->port) < inlen);
		break;
	case VMFABRIC__ENVELOPE__MSG_ERROR:
		assert_true(strlen(out->error->text) < inlen);
		break;
	case VMFABRIC__ENVELOPE__MSG_BYE:
		assert_true(strlen(out->bye->reason) < inlen);
		break;
	case VMFABRIC__ENVELOPE__MSG_BATCH:
		assert_true(out->batch->n_frames <= VMF_MAX_BATCH_FRAMES);
		for (size_t i = 0; i < out->batch->n_frames; i++)
			total += out->batch->frames[i].len;
		assert_true(total <= inlen);
		break;
	case VMFABRIC__ENVELOPE__MSG_WELCOME:
	case VMFABRIC__ENVELOPE__MSG_KEEPALIVE:
	case VMFABRIC__ENVELOPE__MSG_LINK:
		break;
	default:
		fail_msg("decoded envelope with msg_case %d", out->msg_case);
	}
}

static void test_codec_mutations(void **state)
{
	Vmfabric__Hello h = VMFABRIC__HELLO__INIT;
	Vmfabric__Error e = VMFABRIC__ERROR__INIT;
	Vmfabric__Keepalive k = VMFABRIC__KEEPALIVE__INIT;
	Vmfabric__Welcome w = VMFABRIC__WELCOME__INIT;
	Vmfabric__Envelope env = VMFABRIC__ENVELOPE__INIT;
	ProtobufCBinaryData *f = codec_make_frames(12, codec_len_small);
	struct codec_buf src[5];
	unsigned int counts[3] = { 0 };
	uint8_t *buf;
	zmq_msg_t msg;

	h.version = 1, h.network = "lab", h.port = "vm1/eth0", h.mtu = 1500;
	env.msg_case = VMFABRIC__ENVELOPE__MSG_HELLO, env.hello = &h;
	src[0] = codec_pack_copy(&env);
	e.code = 3, e.text = "bad name";
	env.msg_case = VMFABRIC__ENVELOPE__MSG_ERROR, env.error = &e;
	src[1] = codec_pack_copy(&env);
	k.seq = 0xffffffffffULL;
	env.msg_case = VMFABRIC__ENVELOPE__MSG_KEEPALIVE, env.keepalive = &k;
	src[2] = codec_pack_copy(&env);
	w.port_id = 3, w.mtu = 1500, w.keepalive_ms = 1000;
	env.msg_case = VMFABRIC__ENVELOPE__MSG_WELCOME, env.welcome = &w;
	src[3] = codec_pack_copy(&env);
	assert_int_equal(codec_pack_pb(f, 12, NULL, 0, &msg), 0);
	src[4].len = zmq_msg_size(&msg);
	src[4].data = malloc(src[4].len);
	assert_non_null(src[4].data);
	memcpy(src[4].data, zmq_msg_data(&msg), src[4].len);
	zmq_msg_close(&msg);

	buf = malloc(src[4].len + 16);
	assert_non_null(buf);
	codec_rng_state = 0xc0dec5eedULL;
	for (unsigned int i = 0; i < 20000; i++) {
		const struct codec_buf *s = &src[codec_rand() % 5];
		size_t len = s->len;
		unsigned int op = codec_rand() % 4;
		Vmfabric__Envelope *out = NULL;
		int rc;

		memcpy(buf, s->data, s->len);
		if (op != 1)	/* change one byte (op 3: and truncate too) */
			buf[codec_rand() % len] = (uint8_t)codec_rand();
		if (op == 1 || op == 3)
			len = codec_rand() % (len + 1);
		if (op == 2 && codec_rand() % 2)	/* a bit flip in a length or tag */
			buf[codec_rand() % len] ^= (uint8_t)(1u << (codec_rand() % 8));
		codec_arena_reset(*state);
		rc = codec_decode(*state, buf, len, &out);
		if (rc == 0) {
			assert_non_null(out);
			codec_check_sane(out, len);
			counts[0]++;
		} else if (rc == -EBADMSG) {
			assert_null(out);
			counts[1]++;
		} else if (rc == -EMSGSIZE) {
			counts[2]++;
		} else {
			fail_msg("iteration %u: codec_decode returned %d", i, rc);
		}
	}
	/* both outcomes must actually occur, or the loop tested nothing */
	assert_true(counts[0] > 100);
	assert_true(counts[1] > 100);
	free(buf);
	for (size_t i = 0; i < 5; i++)
		free(src[i].data);
	codec_free_frames(f, 12);
}

static void test_codec_valid_name(void **state)
{
	static const char *const good[] = {
		"a", "lab", "vm1/eth0", "net-1_a.b:c@d", "ABCxyz0189",
		"123456789012345678901234567890123456789012345678901234567890123",	/* 63 */
	};
	static const char *const bad[] = {
		"", "a b", "a\tb", "tab\n", "semi;colon", "quote\"", "back\\slash", "per%cent",
		"caf\xc3\xa9", "star*", "1234567890123456789012345678901234567890123456789012345678901234",	/* 64 */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!codec_valid_name(good[i]))
			fail_msg("'%s' rejected", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (codec_valid_name(bad[i]))
			fail_msg("'%s' accepted", bad[i]);
	assert_false(codec_valid_name(NULL));
	assert_int_equal(strlen(good[5]), VMF_NAME_MAX - 1);
}

static void test_codec_err_name(void **state)
{
	(void)state;
	assert_string_equal(codec_err_name(VMF_ERR_VERSION), "version");
	assert_string_equal(codec_err_name(VMF_ERR_SHUTDOWN), "shutdown");
	assert_string_equal(codec_err_name(0), "unknown");
	assert_string_equal(codec_err_name(1000), "unknown");
	assert_string_equal(codec_err_name(UINT32_MAX), "unknown");
}

/* virtio-net header indices: kept on a round trip; out of range, unordered or too short refused */
static void test_codec_vnet_indices(void **state)
{
	static uint8_t f0[60], f1[8], f2[100];
	ProtobufCBinaryData fr[3] = { { sizeof(f0), f0 }, { sizeof(f1), f1 }, { sizeof(f2), f2 } };
	static const struct {
		uint32_t idx[3];
		size_t n;
		int rc;
	} cases[] = {
		{ { 0, 2 }, 2, 0 },
		{ { 2 }, 1, 0 },
		{ { 0, 3 }, 2, -EBADMSG },	/* no frame 3 */
		{ { 2, 0 }, 2, -EBADMSG },	/* not ascending */
		{ { 0, 0 }, 2, -EBADMSG },	/* twice */
		{ { 1 }, 1, -EBADMSG },		/* 8 bytes: no room for a 12-byte header */
		{ { 0, 1, 2 }, 3, -EBADMSG },
	};
	Vmfabric__Envelope *env;
	zmq_msg_t msg;

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		uint32_t idx[3];

		memcpy(idx, cases[c].idx, sizeof(idx));
		assert_int_equal(codec_pack_pb(fr, 3, idx, cases[c].n, &msg), 0);
		codec_arena_reset(*state);
		assert_int_equal(codec_decode(*state, zmq_msg_data(&msg), zmq_msg_size(&msg), &env),
				 cases[c].rc);
		if (!cases[c].rc) {
			assert_int_equal(env->batch->n_frames, 3);
			assert_int_equal(env->batch->n_vnet, cases[c].n);
			for (size_t i = 0; i < cases[c].n; i++)
				assert_int_equal(env->batch->vnet[i], cases[c].idx[i]);
		}
		zmq_msg_close(&msg);
	}
}

/* struct frame[] -> wire -> struct frame[]: flags, trunk network indices, bytes in place */
static void test_codec_frames_roundtrip(void **state)
{
	static uint8_t d[4][80];
	struct frame in[4], out[VMF_MAX_BATCH_FRAMES];
	char *nets[2] = { "lab", "dmz" };
	Vmfabric__Envelope *env;
	zmq_msg_t msg;

	for (int i = 0; i < 4; i++) {
		memset(d[i], 0x10 + i, sizeof(d[i]));
		in[i] = (struct frame){ d[i], (uint32_t)(20 + 10 * i), i & 1 ? FRAME_VNET : 0,
					(uint16_t)(i == 2) };
	}
	for (int trunk = 0; trunk < 2; trunk++) {
		assert_int_equal(trunk ? codec_pack_batch_trunk(in, 4, nets, 2, &msg)
				       : codec_pack_batch(in, 4, &msg), 0);
		codec_arena_reset(*state);
		assert_int_equal(codec_decode_zc(*state, zmq_msg_data(&msg), zmq_msg_size(&msg), &env), 0);
		assert_int_equal(env->batch->n_vnet, 2);
		assert_int_equal(env->batch->n_nets, trunk ? 2 : 0);
		assert_int_equal(codec_batch_frames(env->batch, out), 4);
		for (int i = 0; i < 4; i++) {
			assert_int_equal(out[i].len, in[i].len);
			assert_int_equal(out[i].flags, in[i].flags);
			assert_int_equal(out[i].net, trunk ? in[i].net : 0);
			assert_memory_equal(out[i].data, d[i], in[i].len);
			assert_true(out[i].data >= (uint8_t *)zmq_msg_data(&msg) &&
				    out[i].data < (uint8_t *)zmq_msg_data(&msg) + zmq_msg_size(&msg));
			assert_int_equal(frame_eth_len(&out[i]), in[i].len - (i & 1 ? VMF_VNET_HDR_LEN : 0));
		}
		zmq_msg_close(&msg);
	}
	/* more than a batch may hold is not packed */
	assert_int_equal(codec_pack_batch(out, VMF_MAX_BATCH_FRAMES + 1, &msg), -EMSGSIZE);
}

/*
 * codec_decode_zc() (frames left in place) must agree with codec_decode() on
 * every input: valid batches with and without virtio-net indices, and 50000
 * mutations and truncations of them.
 */
static void test_codec_zero_copy_agrees(void **state)
{
	ProtobufCBinaryData *f = codec_make_frames(20, codec_len_mixed);
	struct codec_arena zc;
	uint32_t idx[3] = { 1, 5, 19 };
	uint8_t *src[3], *buf;
	size_t srclen[3], maxlen = 0;
	unsigned int agree_ok = 0;
	zmq_msg_t msg;

	assert_int_equal(codec_arena_init(&zc, CODEC_TEST_ARENA), 0);
	for (int k = 0; k < 3; k++) {
		assert_int_equal(codec_pack_pb(f, k == 2 ? 0 : 20, idx, k == 1 ? 3 : 0, &msg), 0);
		srclen[k] = zmq_msg_size(&msg);
		src[k] = malloc(srclen[k]);
		assert_non_null(src[k]);
		memcpy(src[k], zmq_msg_data(&msg), srclen[k]);
		zmq_msg_close(&msg);
		maxlen = srclen[k] > maxlen ? srclen[k] : maxlen;
	}
	buf = malloc(maxlen);
	assert_non_null(buf);
	codec_rng_state = 0x2e40c0b7ULL;
	for (unsigned int i = 0; i < 50000; i++) {
		int k = (int)(codec_rand() % 3);
		size_t len = srclen[k];
		Vmfabric__Envelope *a = NULL, *b = NULL;
		int ra, rb;

		memcpy(buf, src[k], len);
		if (i >= 3) {	/* the first three are the valid originals */
			if (codec_rand() % 3)
				buf[codec_rand() % len] = (uint8_t)codec_rand();
			if (codec_rand() % 2)
				buf[codec_rand() % 8 % len] ^= (uint8_t)(1u << (codec_rand() % 8));
			if (codec_rand() % 3 == 0)
				len = codec_rand() % (len + 1);
		}
		codec_arena_reset(*state);
		codec_arena_reset(&zc);
		ra = codec_decode(*state, buf, len, &a);
		rb = codec_decode_zc(&zc, buf, len, &b);
		assert_int_equal(ra == 0, rb == 0);
		if (ra)
			continue;
		assert_int_equal(a->msg_case, b->msg_case);
		if (a->msg_case != VMFABRIC__ENVELOPE__MSG_BATCH)
			continue;
		assert_int_equal(a->batch->n_frames, b->batch->n_frames);
		assert_int_equal(a->batch->n_vnet, b->batch->n_vnet);
		for (size_t j = 0; j < a->batch->n_frames; j++) {
			assert_int_equal(a->batch->frames[j].len, b->batch->frames[j].len);
			assert_memory_equal(a->batch->frames[j].data, b->batch->frames[j].data,
					    a->batch->frames[j].len);
			/* zero copy for what codec_pack makes (mutants may take the generic path) */
			if (i < 3)
				assert_true(b->batch->frames[j].data >= buf &&
					    b->batch->frames[j].data + b->batch->frames[j].len <= buf + len);
		}
		for (size_t j = 0; j < a->batch->n_vnet; j++)
			assert_int_equal(a->batch->vnet[j], b->batch->vnet[j]);
		agree_ok++;
	}
	assert_true(agree_ok >= 3);
	for (int k = 0; k < 3; k++)
		free(src[k]);
	free(buf);
	codec_arena_free(&zc);
	codec_free_frames(f, 20);
}

UNIT_MAIN("codec", codec_setup, codec_teardown,
	    U(test_codec_zero_copy_agrees), U(test_codec_vnet_indices),
	    U(test_codec_frames_roundtrip), U(test_codec_roundtrip_hello),
	    U(test_codec_roundtrip_welcome), U(test_codec_roundtrip_link),
	    U(test_codec_roundtrip_error), U(test_codec_roundtrip_keepalive),
	    U(test_codec_roundtrip_bye), U(test_codec_roundtrip_batch), U(test_codec_empty),
	    U(test_codec_garbage), U(test_codec_truncated), U(test_codec_lying_length),
	    U(test_codec_wire_types), U(test_codec_too_many_frames), U(test_codec_too_large),
	    U(test_codec_arena_small), U(test_codec_arena_reserve), U(test_codec_long_strings),
	    U(test_codec_mutations), U(test_codec_valid_name), U(test_codec_err_name))
