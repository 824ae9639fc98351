/* fuzz_envelope.c - fuzz the wire codec: codec_decode() on any bytes, and pack/decode round trips */

/*
 * Every ZeroMQ message a peer sends reaches codec_decode() first (switch,
 * NIC process, gateway, ctl). Oracle: decode never crashes or reads out of
 * bounds, respects its bounds (frames, virtio-net indices, text length), and
 * whatever it accepts packs back and decodes to the same message.
 */

#include <string.h>
#include <zmq.h>

#include "codec.h"
#include "fuzz.h"

static struct codec_arena arena, arena2;

static void check_same(const Vmfabric__Envelope *a, const Vmfabric__Envelope *b)
{
	FUZZ_CHECK(a->msg_case == b->msg_case);
	switch (a->msg_case) {
	case VMFABRIC__ENVELOPE__MSG_HELLO:
		FUZZ_CHECK(a->hello->version == b->hello->version);
		FUZZ_CHECK(!strcmp(a->hello->network, b->hello->network));
		FUZZ_CHECK(!strcmp(a->hello->port, b->hello->port));
		break;
	case VMFABRIC__ENVELOPE__MSG_BATCH:
		FUZZ_CHECK(a->batch->n_frames == b->batch->n_frames);
		FUZZ_CHECK(a->batch->n_vnet == b->batch->n_vnet);
		for (size_t i = 0; i < a->batch->n_frames; i++) {
			FUZZ_CHECK(a->batch->frames[i].len == b->batch->frames[i].len);
			FUZZ_CHECK(!a->batch->frames[i].len ||
				   !memcmp(a->batch->frames[i].data, b->batch->frames[i].data,
					   a->batch->frames[i].len));
		}
		break;
	case VMFABRIC__ENVELOPE__MSG_WELCOME:
		FUZZ_CHECK(a->welcome->mtu == b->welcome->mtu);
		FUZZ_CHECK(a->welcome->link_down == b->welcome->link_down);
		break;
	case VMFABRIC__ENVELOPE__MSG_LINK:
		FUZZ_CHECK(a->link->up == b->link->up);
		break;
	case VMFABRIC__ENVELOPE__MSG_ERROR:
		FUZZ_CHECK(a->error->code == b->error->code);
		FUZZ_CHECK(!strcmp(a->error->text, b->error->text));
		break;
	default:
		break;
	}
}

/*
 * protobuf-c keeps unknown fields and packs them again as it read them, even
 * ones it would refuse to read (field number 0). Nothing in vmfabric re-sends
 * a received envelope, so the round trip is over the known fields only.
 */
static void drop_unknown(Vmfabric__Envelope *env)
{
	env->base.n_unknown_fields = 0;
	switch (env->msg_case) {
	case VMFABRIC__ENVELOPE__MSG_HELLO: env->hello->base.n_unknown_fields = 0; break;
	case VMFABRIC__ENVELOPE__MSG_WELCOME: env->welcome->base.n_unknown_fields = 0; break;
	case VMFABRIC__ENVELOPE__MSG_ERROR: env->error->base.n_unknown_fields = 0; break;
	case VMFABRIC__ENVELOPE__MSG_KEEPALIVE: env->keepalive->base.n_unknown_fields = 0; break;
	case VMFABRIC__ENVELOPE__MSG_BATCH: env->batch->base.n_unknown_fields = 0; break;
	case VMFABRIC__ENVELOPE__MSG_BYE: env->bye->base.n_unknown_fields = 0; break;
	case VMFABRIC__ENVELOPE__MSG_LINK: env->link->base.n_unknown_fields = 0; break;
	default: break;
	}
}

/*
 * The edge conversion: struct frame[] from a decoded batch says what its
 * lists say, and packing those frames gives the same lists back.
 */
static void batch_frames_agree(const Vmfabric__FrameBatch *b)
{
	static struct codec_arena a3;
	struct frame f[VMF_MAX_BATCH_FRAMES];
	Vmfabric__Envelope *again;
	size_t n, flagged = 0;
	zmq_msg_t m;

	if (!a3.buf && codec_arena_init(&a3, 2 * (size_t)VMF_MAX_MSG))
		abort();
	n = codec_batch_frames(b, f);
	FUZZ_CHECK(n == b->n_frames);
	for (size_t i = 0; i < n; i++) {
		FUZZ_CHECK(f[i].len == b->frames[i].len && f[i].data == b->frames[i].data);
		FUZZ_CHECK(f[i].net == (b->n_net ? b->net[i] : 0));
		if (f[i].flags & FRAME_VNET) {
			FUZZ_CHECK(flagged < b->n_vnet && b->vnet[flagged] == i);
			FUZZ_CHECK(f[i].len >= VMF_VNET_HDR_LEN);
			flagged++;
		}
	}
	FUZZ_CHECK(flagged == b->n_vnet);
	/* a generic decode may hand out more names than frames use: pack them all */
	if (codec_pack_batch_trunk(f, n, b->nets, b->n_nets, &m))
		return;	/* over VMF_MAX_MSG once re-packed: nothing to compare */
	codec_arena_reset(&a3);
	FUZZ_CHECK(codec_decode(&a3, zmq_msg_data(&m), zmq_msg_size(&m), &again) == 0);
	FUZZ_CHECK(again->batch->n_frames == n && again->batch->n_vnet == b->n_vnet &&
		   again->batch->n_nets == b->n_nets);
	for (size_t i = 0; i < b->n_vnet; i++)
		FUZZ_CHECK(again->batch->vnet[i] == b->vnet[i]);
	zmq_msg_close(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Vmfabric__Envelope *env, *again, *zenv;
	zmq_msg_t m;
	int rc, zrc;

	if (!arena.buf && (codec_arena_init(&arena, 4 * (size_t)VMF_MAX_MSG) ||
			   codec_arena_init(&arena2, 4 * (size_t)VMF_MAX_MSG)))
		abort();
	/* the data path's zero-copy decoder must agree with protobuf-c's on everything */
	codec_arena_reset(&arena2);
	zrc = codec_decode_zc(&arena2, data, size, &zenv);
	codec_arena_reset(&arena);
	rc = codec_decode(&arena, data, size, &env);
	FUZZ_CHECK((rc == 0) == (zrc == 0));
	if (rc) {
		FUZZ_CHECK(rc == -EBADMSG || rc == -EMSGSIZE);
		FUZZ_CHECK(env == NULL && zenv == NULL);
		return 0;
	}
	FUZZ_CHECK(zenv && zenv->msg_case == env->msg_case);
	if (env->msg_case == VMFABRIC__ENVELOPE__MSG_BATCH) {
		FUZZ_CHECK(zenv->batch->n_frames == env->batch->n_frames &&
			   zenv->batch->n_vnet == env->batch->n_vnet &&
			   zenv->batch->n_nets == env->batch->n_nets &&
			   zenv->batch->n_net == env->batch->n_net);
		for (size_t i = 0; i < env->batch->n_nets; i++)
			FUZZ_CHECK(!strcmp(zenv->batch->nets[i], env->batch->nets[i]));
		for (size_t i = 0; i < env->batch->n_net; i++)
			FUZZ_CHECK(zenv->batch->net[i] == env->batch->net[i] &&
				   env->batch->net[i] < env->batch->n_nets);
		for (size_t i = 0; i < env->batch->n_frames; i++)
			FUZZ_CHECK(zenv->batch->frames[i].len == env->batch->frames[i].len &&
				   (!env->batch->frames[i].len ||	/* protobuf-c: NULL data */
				    !memcmp(zenv->batch->frames[i].data, env->batch->frames[i].data,
					    env->batch->frames[i].len)));
	}
	FUZZ_CHECK(env && arena.used <= arena.cap);
	if (env->msg_case == VMFABRIC__ENVELOPE__MSG_BATCH) {
		const Vmfabric__FrameBatch *b = env->batch;

		FUZZ_CHECK(b->n_frames <= VMF_MAX_BATCH_FRAMES);
		for (size_t i = 0; i < b->n_vnet; i++)
			FUZZ_CHECK(b->vnet[i] < b->n_frames &&
				   b->frames[b->vnet[i]].len >= VMF_VNET_HDR_LEN);
		/* touch every frame byte: a length past the input shows up under ASan */
		for (size_t i = 0; i < b->n_frames; i++) {
			volatile uint8_t sink = 0;

			for (size_t k = 0; k < b->frames[i].len; k++)
				sink ^= b->frames[i].data[k];
			(void)sink;
		}
		batch_frames_agree(b);
	}
	/* round trip: what decode accepts, pack writes and decode accepts again */
	drop_unknown(env);
	FUZZ_CHECK(codec_pack(env, &m) == 0);
	codec_arena_reset(&arena2);
	FUZZ_CHECK(codec_decode(&arena2, zmq_msg_data(&m), zmq_msg_size(&m), &again) == 0);
	check_same(env, again);
	zmq_msg_close(&m);
	return 0;
}
