/* codec.h - vmfabric envelope codec: bounded decode into an arena, pack into a zmq message */
#ifndef VMF_CODEC_H
#define VMF_CODEC_H

#include <stddef.h>
#include <stdint.h>
#include <zmq.h>
#include "frame.h"
#include "vmfabric.pb-c.h"

#define VMF_PROTO_VERSION	2	/* 2: trunks (Hello.kind, network tags on frames) */
#define VMF_PROTO_MIN		1	/* the oldest version a switch still welcomes */

/* Hello.kind */
#define VMF_KIND_PORT		0
#define VMF_KIND_TRUNK		1

/* Bounds shared by every part of the fabric. */
#define VMF_MAX_BATCH_FRAMES	256		/* frames in one FrameBatch */
#define VMF_MAX_BATCH_BYTES	(1024 * 1024)	/* frame bytes in one FrameBatch */
#define VMF_MAX_FRAME		(65536 + 64)	/* largest frame on the wire: GSO + header */
#define VMF_MAX_MSG		(VMF_MAX_BATCH_BYTES + VMF_MAX_FRAME + 8192)
#define VMF_NAME_MAX		64		/* network and port names, with NUL */
#define VMF_MAX_BATCH_NETS	64		/* networks named in one trunk batch */
#define VMF_MAX_PATH		16		/* switch ids in a trunk's path: tree depth */
#define VMF_MTU_MIN		68
#define VMF_MTU_MAX		65500
#define VMF_MTU_JUMBO		9216		/* a NIC process takes up to this MTU from its Welcome */
#define VMF_ETH_HLEN		14
#define VMF_ETH_OVERHEAD	18		/* header + one 802.1Q tag */

/* Capability bits in Hello.caps (none defined yet beyond reservation). */
#define VMF_CAP_VNET_HDR	0x1

/* Error codes in Error.code: X(NAME, code, name in logs and ctl, meaning), declared once */
#define VMF_ERRORS(X)										\
	X(VERSION, 1, "version", "unknown protocol version")					\
	X(DENIED, 2, "denied", "key not admitted")						\
	X(BADNAME, 3, "bad-name", "network or port name invalid")				\
	X(DUPLICATE, 4, "duplicate", "port name held by another key")				\
	X(NOT_WELCOMED, 5, "not-welcomed", "message before Hello/Welcome")			\
	X(MALFORMED, 6, "malformed", "undecodable or out-of-order message")			\
	X(REVOKED, 7, "revoked", "key removed from the authorized directory")			\
	X(FULL, 8, "full", "switch port table full")						\
	X(EXPIRED, 9, "expired", "keepalives missed")						\
	X(SHUTDOWN, 10, "shutdown", "switch is stopping")					\
	X(KICKED, 11, "kicked", "disconnected by an administrator")				\
	X(POLICY, 12, "policy", "the key's policy does not allow this network or name")		\
	X(LOOP, 13, "loop", "a trunk whose path contains this switch")

#define VMF_ERR_ENUM(n, c, s, m)	VMF_ERR_##n = c,
enum vmf_err { VMF_ERRORS(VMF_ERR_ENUM) };
#undef VMF_ERR_ENUM

const char *codec_err_name(uint32_t code);

/**
 * struct codec_arena - bump allocator that holds decoded messages
 * @buf:	memory, allocated once at start
 * @cap:	size of @buf
 * @used:	bytes handed out since the last reset
 *
 * Decoding never calls malloc: protobuf-c allocates from here, and
 * codec_arena_reset() releases everything at once.
 */
struct codec_arena {
	uint8_t *buf;
	size_t cap;
	size_t used;
};

int codec_arena_init(struct codec_arena *a, size_t cap);
void codec_arena_free(struct codec_arena *a);
void codec_arena_reset(struct codec_arena *a);

/**
 * codec_decode() - decode and validate one envelope
 * @a:		arena the result lives in (until its next reset)
 * @data, @len:	the message
 * @out:	decoded envelope
 *
 * Return: 0, -EMSGSIZE if @len exceeds VMF_MAX_MSG or the arena, -EBADMSG if
 * the bytes are not an envelope, carry no message, or break a bound (more
 * than VMF_MAX_BATCH_FRAMES frames, bad virtio-net header indices, a text
 * field of 1 KiB or more). Names are checked by the switch (codec_valid_name),
 * which tells the port why it refuses them.
 */
int codec_decode(struct codec_arena *a, const void *data, size_t len,
		 Vmfabric__Envelope **out);

/**
 * codec_decode_zc() - codec_decode() without copying frames: a FrameBatch's
 * frames point into @data, which must stay unchanged until they are used.
 * Same bounds and results as codec_decode(); other messages take its path.
 */
int codec_decode_zc(struct codec_arena *a, const void *data, size_t len,
		    Vmfabric__Envelope **out);

/** codec_pack() - pack @env into a freshly initialised @msg. Return: 0 or -errno */
int codec_pack(const Vmfabric__Envelope *env, zmq_msg_t *msg);

/**
 * codec_batch_frames() - the frames of decoded batch @b as struct frame[]
 * into @out (room for VMF_MAX_BATCH_FRAMES): FRAME_VNET from its list of
 * flagged indices, and each frame's network index (0 without tags). The
 * frames point where @b's do. Return: the number of frames
 */
size_t codec_batch_frames(const Vmfabric__FrameBatch *b, struct frame *out);

/**
 * codec_pack_batch() - pack @n frames (at most VMF_MAX_BATCH_FRAMES) as one
 * FrameBatch envelope into @msg; flagged frames are listed in its vnet field
 */
int codec_pack_batch(const struct frame *f, size_t n, zmq_msg_t *msg);

/**
 * codec_pack_batch_trunk() - a trunk's FrameBatch: frame i belongs to network
 * nets[f[i].net] (@n_nets names)
 */
int codec_pack_batch_trunk(const struct frame *f, size_t n, char **nets, size_t n_nets,
			   zmq_msg_t *msg);

/** codec_valid_name() - true if @s is a usable network or port name */
int codec_valid_name(const char *s);

#endif /* VMF_CODEC_H */
