/* frame.h - one Ethernet frame in a batch, as every part of the fabric passes it */
#ifndef VMF_FRAME_H
#define VMF_FRAME_H

/*
 * DOC: Theory of operation
 *
 * A batch of frames is an array of struct frame and a count, everywhere:
 * a backend's reads and writes, offload_plain() in and out, the uplink's
 * send and receive, the gateway's output batch, the switch's input and its
 * per-port output queues. A frame points into memory its owner keeps for
 * the batch's life (a backend's slots, a received ZeroMQ message, the
 * gateway's output buffer); nothing is allocated per frame. FRAME_VNET says
 * the data starts with a VMF_VNET_HDR_LEN-byte virtio-net header (a TAP or
 * vhost-user guest with offloads: a GSO super-frame may then be up to
 * VMF_MAX_FRAME long). On the wire the flags are a FrameBatch's ascending
 * list of flagged indices: the codec turns one into the other, and nothing
 * else sees that list (codec_batch_frames, codec_pack_batch).
 */

#include <stddef.h>
#include <stdint.h>

#define VMF_VNET_HDR_LEN	12		/* struct virtio_net_hdr_v1 */

#define FRAME_VNET	0x1	/* data starts with a VMF_VNET_HDR_LEN-byte virtio-net header */

/**
 * struct frame - one frame of a batch
 * @data:	its bytes (the virtio-net header first if FRAME_VNET)
 * @len:	bytes at @data, header included
 * @flags:	FRAME_VNET
 * @net:	a trunk's or uplink's batch: index of the frame's network in
 *		the batch's list of names (FrameBatch.nets); 0 elsewhere. Kept
 *		here so that the switch queues one array per port, not two.
 */
struct frame {
	uint8_t *data;
	uint32_t len;
	uint16_t flags;
	uint16_t net;
};

/** frame_hdr_len() - bytes of virtio-net header in front of @f's Ethernet frame */
static inline size_t frame_hdr_len(const struct frame *f)
{
	return f->flags & FRAME_VNET ? VMF_VNET_HDR_LEN : 0;
}

/** frame_eth() - @f's Ethernet frame (behind a virtio-net header, if any) */
static inline uint8_t *frame_eth(const struct frame *f)
{
	return f->data + frame_hdr_len(f);
}

/** frame_eth_len() - length of @f's Ethernet frame (codec_decode() checked a flagged one holds its header) */
static inline size_t frame_eth_len(const struct frame *f)
{
	return f->len - frame_hdr_len(f);
}

#endif /* VMF_FRAME_H */
