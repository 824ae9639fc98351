/* offload.h - virtio-net headers: TSO/GSO segmentation and checksum completion in software */
#ifndef VMF_OFFLOAD_H
#define VMF_OFFLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "frame.h"

/* struct virtio_net_hdr_v1 (little-endian), as TAP devices use it with TUNSETVNETHDRSZ 12 */
#define VNET_F_NEEDS_CSUM	1
#define VNET_GSO_NONE		0
#define VNET_GSO_TCPV4		1
#define VNET_GSO_TCPV6		4
#define VNET_GSO_ECN		0x80

#define OFFLOAD_MIN_MSS		64	/* a smaller gso_size is refused (it would explode a frame) */

struct offload_out {
	struct frame *f;	/* the plain frames made: @n of @cap */
	size_t cap, n;
	uint8_t *scratch;
	size_t scratch_cap, used;
	uint64_t segmented;	/* super-frames cut into segments */
	uint64_t segments;	/* segments made */
	uint64_t csummed;	/* partial checksums completed */
	uint64_t bad;		/* flagged frames that could not be handled: dropped */
};

int offload_out_init(struct offload_out *o, size_t max_frames, size_t scratch);
void offload_out_free(struct offload_out *o);

/**
 * offload_plain() - turn received frames into plain Ethernet frames for a
 * backend without offloads: unflagged frames pass as they are; a flagged frame
 * without GSO has its partial checksum completed (in place) and its header
 * skipped; a TCP super-frame (GSO TCPv4/TCPv6) is cut into gso_size segments in
 * o->scratch, each with correct IPv4 header, TCP and length fields. Result in
 * o->f/o->n, none flagged (valid until the next call).
 */
void offload_plain(struct offload_out *o, const struct frame *in, size_t n);

/** offload_csum_partial() - complete a NEEDS_CSUM checksum; Return: 0 or -EINVAL */
int offload_csum_partial(uint8_t *frame, size_t len, uint16_t start, uint16_t offset);

/** inet_csum() - ones' complement sum of @len bytes, folded and complemented, starting from @sum */
uint16_t inet_csum(const uint8_t *p, size_t len, uint32_t sum);

#endif /* VMF_OFFLOAD_H */
