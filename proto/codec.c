/* codec.c - vmfabric envelope codec: bounded decode into an arena, pack into a zmq message */

/*
 * DOC: Theory of operation
 *
 * Every ZeroMQ message on the fabric is one part holding one Envelope.
 * Decoding goes through protobuf-c with an arena allocator, so a batch of
 * frames costs one bump allocation per frame and nothing to free. Input
 * is bounded before protobuf-c sees it (VMF_MAX_MSG) and validated after:
 * an envelope must carry exactly one known message, a batch at most
 * VMF_MAX_BATCH_FRAMES frames with valid virtio-net header indices, and text
 * fields under 1 KiB (names are checked by the switch, which answers why).
 * Anything else is -EBADMSG; the caller drops it and counts it. Frame
 * lengths are the switching layer's business (runts and giants are
 * counted per reason there).
 *
 * The rest of the fabric never sees a FrameBatch's list of flagged
 * indices or its per-frame network tags: codec_batch_frames() turns a
 * decoded batch into struct frame[] (frame.h; FRAME_VNET and .net, the
 * frames left where they are), and the pack functions take struct frame[]
 * and build both lists from it.
 */

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

const char *codec_err_name(uint32_t code)
{
#define VMF_ERR_NAME(n, c, s, m)	[VMF_ERR_##n] = s,
	static const char *const names[] = { VMF_ERRORS(VMF_ERR_NAME) };
#undef VMF_ERR_NAME

	if (code < sizeof(names) / sizeof(names[0]) && names[code])
		return names[code];
	return "unknown";
}

int codec_arena_init(struct codec_arena *a, size_t cap)
{
	a->buf = malloc(cap);
	if (!a->buf)
		return -ENOMEM;
	a->cap = cap;
	a->used = 0;
	return 0;
}

void codec_arena_free(struct codec_arena *a)
{
	if (!a)
		return;
	free(a->buf);
	a->buf = NULL;
	a->cap = a->used = 0;
}

void codec_arena_reset(struct codec_arena *a)
{
	a->used = 0;
}

static void *arena_alloc(void *data, size_t size)
{
	struct codec_arena *a = data;
	size_t off = (a->used + 15) & ~(size_t)15;

	if (size > a->cap || off > a->cap - size)
		return NULL;
	a->used = off + size;
	return a->buf + off;
}

static void arena_nofree(void *data, void *ptr)
{
	(void)data;
	(void)ptr;
}

int codec_valid_name(const char *s)
{
	size_t n = 0;

	if (!s || !*s)
		return 0;
	for (; *s; s++, n++) {
		unsigned char c = (unsigned char)*s;

		if (n >= VMF_NAME_MAX - 1)
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		      c == '.' || c == '/' || c == ':' || c == '@'))
			return 0;
	}
	return 1;
}

static int text_ok(const char *s)
{
	return s && strlen(s) < 1024;
}

/*
 * A decoded batch's lists: flagged frames in ascending order, each long
 * enough for its header; network tags none, or one valid index per frame
 * into valid names.
 */
static int batch_lists_bad(const Vmfabric__FrameBatch *b)
{
	for (size_t i = 0; i < b->n_vnet; i++) {
		if (b->vnet[i] >= b->n_frames || (i && b->vnet[i] <= b->vnet[i - 1]) ||
		    b->frames[b->vnet[i]].len < VMF_VNET_HDR_LEN)
			return 1;
	}
	if (b->n_nets > VMF_MAX_BATCH_NETS || (b->n_net && b->n_net != b->n_frames) ||
	    (b->n_nets && !b->n_net))
		return 1;
	for (size_t i = 0; i < b->n_nets; i++)
		if (!codec_valid_name(b->nets[i]))
			return 1;
	for (size_t i = 0; i < b->n_net; i++)
		if (b->net[i] >= b->n_nets)
			return 1;
	return 0;
}

int codec_decode(struct codec_arena *a, const void *data, size_t len,
		 Vmfabric__Envelope **out)
{
	ProtobufCAllocator alloc = {
		.alloc = arena_alloc, .free = arena_nofree, .allocator_data = a,
	};
	Vmfabric__Envelope *env;

	*out = NULL;
	if (len > VMF_MAX_MSG)
		return -EMSGSIZE;
	/*
	 * protobuf-c needs at most the input size plus, per field, an array
	 * entry, alignment and its scanned-member slab share (up to 64 bytes)
	 */
	if (a->cap - a->used < len + 8 * sizeof(ProtobufCBinaryData) * VMF_MAX_BATCH_FRAMES + 4096)
		return -EMSGSIZE;

	env = vmfabric__envelope__unpack(&alloc, len, data);
	if (!env)
		return -EBADMSG;

	switch (env->msg_case) {
	case VMFABRIC__ENVELOPE__MSG_HELLO:
		/* names are checked by the switch, which answers with a reason */
		if (!text_ok(env->hello->network) || !text_ok(env->hello->port) ||
		    env->hello->n_networks > VMF_MAX_BATCH_NETS || env->hello->n_path > VMF_MAX_PATH)
			return -EBADMSG;
		for (size_t i = 0; i < env->hello->n_networks; i++)
			if (!codec_valid_name(env->hello->networks[i]))
				return -EBADMSG;
		for (size_t i = 0; i < env->hello->n_path; i++)
			if (!codec_valid_name(env->hello->path[i]))
				return -EBADMSG;
		break;
	case VMFABRIC__ENVELOPE__MSG_WELCOME:
		if (!text_ok(env->welcome->switch_id) || env->welcome->n_path > VMF_MAX_PATH)
			return -EBADMSG;
		for (size_t i = 0; i < env->welcome->n_path; i++)
			if (!codec_valid_name(env->welcome->path[i]))
				return -EBADMSG;
		for (size_t i = 0; i < env->welcome->n_networks; i++)
			if (!env->welcome->networks[i] || !codec_valid_name(env->welcome->networks[i]->name))
				return -EBADMSG;
		break;
	case VMFABRIC__ENVELOPE__MSG_KEEPALIVE:
	case VMFABRIC__ENVELOPE__MSG_LINK:
		break;
	case VMFABRIC__ENVELOPE__MSG_ERROR:
		if (!text_ok(env->error->text))
			return -EBADMSG;
		break;
	case VMFABRIC__ENVELOPE__MSG_BYE:
		if (!text_ok(env->bye->reason))
			return -EBADMSG;
		break;
	case VMFABRIC__ENVELOPE__MSG_BATCH: {
		const Vmfabric__FrameBatch *b = env->batch;

		if (b->n_frames > VMF_MAX_BATCH_FRAMES || b->n_vnet > b->n_frames ||
		    batch_lists_bad(b))
			return -EBADMSG;
		break;
	}
	default:
		return -EBADMSG;
	}
	*out = env;
	return 0;
}

/*
 * Read a varint of at most @max bytes at *@p (< @end); Return: 0, or -1 if
 * truncated or longer. protobuf-c reads tags and lengths in at most 5 bytes,
 * other varints in at most 10.
 */
static int rd_varint(const uint8_t **p, const uint8_t *end, uint64_t *v, unsigned int max)
{
	unsigned int shift = 0;

	*v = 0;
	while (*p < end && shift < 7 * max) {
		uint8_t b = *(*p)++;

		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return 0;
		shift += 7;
	}
	return -1;
}

/*
 * The data path's common case, parsed by hand so that frames are not copied:
 * an Envelope holding only field 5 (FrameBatch), whose fields are 1 (bytes
 * frames), 2 (packed uint32 vnet) and, on trunks, 3 (string nets) and 4
 * (packed uint32 net). Returns 1 when it does not look like
 * that (the generic decoder then decides), 0 or -EBADMSG otherwise.
 */
static int decode_batch_zc(struct codec_arena *a, const uint8_t *p, size_t len,
			   Vmfabric__Envelope **out)
{
	const uint8_t *end = p + len, *bend, *q;
	Vmfabric__Envelope *env;
	Vmfabric__FrameBatch *b;
	uint64_t blen, v;
	size_t nf = 0, nv = 0, nn = 0, nt = 0;
	int bad = 0;

	if (len < 2 || p[0] != 0x2a)
		return 1;
	p++;
	if (rd_varint(&p, end, &blen, 5) || blen != (uint64_t)(end - p) || blen > INT_MAX)
		return 1;	/* another field follows, or truncated: generic path */
	bend = end;
	/*
	 * First pass: count and check every field. A field this parser does
	 * not know sends the whole message to the generic decoder, also after
	 * a bad field (which only sets @bad): both decoders then give the same
	 * verdict on every input.
	 */
	for (q = p; q < bend;) {
		uint64_t tag, l;

		if (rd_varint(&q, bend, &tag, 5) ||
		    (tag != 0x0a && tag != 0x12 && tag != 0x1a && tag != 0x22) ||
		    rd_varint(&q, bend, &l, 5) || l > (uint64_t)(bend - q))
			return 1;
		if (tag == 0x0a) {
			nf++;
		} else if (tag == 0x1a) {
			/* as protobuf-c reads a string: up to its first NUL */
			bad |= strnlen((const char *)q, (size_t)l) >= VMF_NAME_MAX;
			nn++;
		} else {
			const uint8_t *r = q;

			while (r < q + l) {
				if (rd_varint(&r, q + l, &v, 10)) {
					bad = 1;
					break;
				}
				if (v > UINT32_MAX)
					return 1;	/* protobuf-c keeps the low 32 bits: its call */
				if (tag == 0x12)
					nv++;
				else
					nt++;
			}
		}
		q += l;
	}
	if (bad || nf > VMF_MAX_BATCH_FRAMES || nv > nf || nn > VMF_MAX_BATCH_NETS || nt > nf)
		return -EBADMSG;
	env = arena_alloc(a, sizeof(*env));
	b = arena_alloc(a, sizeof(*b));
	if (!env || !b)
		return -EMSGSIZE;
	vmfabric__envelope__init(env);
	vmfabric__frame_batch__init(b);
	env->msg_case = VMFABRIC__ENVELOPE__MSG_BATCH;
	env->batch = b;
	b->frames = nf ? arena_alloc(a, nf * sizeof(*b->frames)) : NULL;
	b->vnet = nv ? arena_alloc(a, nv * sizeof(*b->vnet)) : NULL;
	b->nets = nn ? arena_alloc(a, nn * sizeof(*b->nets)) : NULL;
	b->net = nt ? arena_alloc(a, nt * sizeof(*b->net)) : NULL;
	if ((nf && !b->frames) || (nv && !b->vnet) || (nn && !b->nets) || (nt && !b->net))
		return -EMSGSIZE;
	/* second pass: fill (already validated) */
	for (q = p; q < bend;) {
		uint64_t tag, l;

		rd_varint(&q, bend, &tag, 5);
		rd_varint(&q, bend, &l, 5);
		if (tag == 0x0a) {
			b->frames[b->n_frames].len = (size_t)l;
			b->frames[b->n_frames].data = (uint8_t *)(uintptr_t)q;
			b->n_frames++;
		} else if (tag == 0x1a) {
			/* names are short: copied, for their NUL (and cut at a NUL inside, as protobuf-c does) */
			size_t sl = strnlen((const char *)q, (size_t)l);
			char *name = arena_alloc(a, sl + 1);

			if (!name)
				return -EMSGSIZE;
			memcpy(name, q, sl);
			name[sl] = '\0';
			b->nets[b->n_nets++] = name;
		} else {
			const uint8_t *r = q;

			while (r < q + l) {
				rd_varint(&r, q + l, &v, 10);
				if (tag == 0x12)
					b->vnet[b->n_vnet++] = (uint32_t)v;
				else
					b->net[b->n_net++] = (uint32_t)v;
			}
		}
		q += l;
	}
	if (batch_lists_bad(b))
		return -EBADMSG;
	*out = env;
	return 0;
}

int codec_decode_zc(struct codec_arena *a, const void *data, size_t len,
		    Vmfabric__Envelope **out)
{
	int rc;

	*out = NULL;
	if (len > VMF_MAX_MSG)
		return -EMSGSIZE;
	rc = decode_batch_zc(a, data, len, out);
	if (rc <= 0) {
		if (rc)
			*out = NULL;
		return rc;
	}
	return codec_decode(a, data, len, out);
}

int codec_pack(const Vmfabric__Envelope *env, zmq_msg_t *msg)
{
	size_t len = vmfabric__envelope__get_packed_size(env);

	if (len > VMF_MAX_MSG)
		return -EMSGSIZE;
	if (zmq_msg_init_size(msg, len))
		return -errno;
	vmfabric__envelope__pack(env, zmq_msg_data(msg));
	return 0;
}

size_t codec_batch_frames(const Vmfabric__FrameBatch *b, struct frame *out)
{
	/* codec_decode() checked: ascending indices, each frame long enough for its header */
	for (size_t i = 0, v = 0; i < b->n_frames; i++) {
		int vnet = v < b->n_vnet && b->vnet[v] == i;

		v += (size_t)vnet;
		out[i] = (struct frame){ b->frames[i].data, (uint32_t)b->frames[i].len,
					 vnet ? FRAME_VNET : 0, b->n_net ? (uint16_t)b->net[i] : 0 };
	}
	return b->n_frames;
}

int codec_pack_batch(const struct frame *f, size_t n, zmq_msg_t *msg)
{
	return codec_pack_batch_trunk(f, n, NULL, 0, msg);
}

int codec_pack_batch_trunk(const struct frame *f, size_t n, char **nets, size_t n_nets,
			   zmq_msg_t *msg)
{
	Vmfabric__FrameBatch batch = VMFABRIC__FRAME_BATCH__INIT;
	Vmfabric__Envelope env = VMFABRIC__ENVELOPE__INIT;
	ProtobufCBinaryData pf[VMF_MAX_BATCH_FRAMES];
	uint32_t vnet[VMF_MAX_BATCH_FRAMES], net[VMF_MAX_BATCH_FRAMES];

	if (n > VMF_MAX_BATCH_FRAMES)
		return -EMSGSIZE;
	for (size_t i = 0; i < n; i++) {
		pf[i] = (ProtobufCBinaryData){ f[i].len, f[i].data };
		if (f[i].flags & FRAME_VNET)
			vnet[batch.n_vnet++] = (uint32_t)i;
		net[i] = f[i].net;
	}
	batch.n_frames = n;
	batch.frames = pf;
	batch.vnet = vnet;
	batch.n_nets = n_nets;
	batch.nets = nets;
	batch.n_net = n_nets ? n : 0;
	batch.net = net;
	env.msg_case = VMFABRIC__ENVELOPE__MSG_BATCH;
	env.batch = &batch;
	return codec_pack(&env, msg);
}
