/* gro.h - coalesce libslirp's TCP/IPv4 segments of one flow into GSO super-frames */
#ifndef VMF_GRO_H
#define VMF_GRO_H

#include <stddef.h>
#include <stdint.h>

#define GRO_MAX_IP	65535	/* IPv4 total length of a super-frame */

struct gro_ctr {
	uint64_t supers;	/* super-frames closed (two segments or more) */
	uint64_t coalesced;	/* segments in them */
};

/**
 * struct gro - the one open super-frame, in the caller's buffer
 * @hdr:	its virtio-net header (VMF_VNET_HDR_LEN bytes), the frame right
 *		behind it; NULL: nothing open
 * @len:	frame bytes so far (Ethernet onwards)
 * @hdrs:	Ethernet + IPv4 + TCP header bytes
 * @next_seq:	TCP sequence number the next segment must carry
 * @next_id:	IPv4 id the next segment must carry
 * @mss:	payload of the first segment: every segment but the last has it
 * @segs:	segments in it
 * @last:	no more segments fit (a short one or PSH came)
 */
struct gro {
	uint8_t *hdr;
	size_t len, hdrs;
	uint32_t next_seq;
	uint16_t next_id, mss;
	unsigned int segs;
	int last;
	struct gro_ctr ctr;
};

/**
 * gro_candidate() - may @f start a super-frame? Ethernet, IPv4 without
 * options or fragmentation, total length matching @len, TCP with only ACK
 * (and PSH) set and at least one payload byte, at least 60 bytes in all.
 * Return: its header bytes (Ethernet + IPv4 + TCP), 0 if not a candidate
 */
size_t gro_candidate(const uint8_t *f, size_t len);

/**
 * gro_open() - @p holds VMF_VNET_HDR_LEN bytes of room, then a copy of the
 * candidate frame (@len bytes, @hdrs from gro_candidate()); it becomes the
 * open super-frame. Nothing may be written behind it while it is open.
 */
void gro_open(struct gro *r, uint8_t *p, size_t len, size_t hdrs);

/**
 * gro_append() - append @f's payload to the open super-frame if @f is its
 * flow's next segment (same addresses, ports, ack, window, options, TTL,
 * TOS; sequence and IPv4 id following on; payload no larger than the
 * first's) and the result stays within GRO_MAX_IP and @room bytes.
 * Return: bytes appended behind the open frame, 0 if @f was not taken
 */
size_t gro_append(struct gro *r, const uint8_t *f, size_t len, size_t room);

/**
 * gro_close() - finish the open super-frame: with one segment the frame is
 * left as it came (at hdr + VMF_VNET_HDR_LEN, checksums intact); with more,
 * the IPv4 total length and header checksum are set, the TCP checksum field
 * holds the pseudo-header sum, and the header asks for GSO TCPv4
 * (NEEDS_CSUM, gso_size = the first segment's payload).
 * Return: 1 for a super-frame (header in front), 0 for a plain frame,
 * -ENOENT if nothing was open; *@len: frame bytes without the header
 */
int gro_close(struct gro *r, size_t *len);

#endif /* VMF_GRO_H */
