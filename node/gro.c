/* gro.c - coalesce libslirp's TCP/IPv4 segments of one flow into GSO super-frames */

/*
 * DOC: Theory of operation
 *
 * libslirp hands the gateway one MSS-sized TCP segment per send_packet
 * call, and a download sends dozens of them per poll round. Towards a
 * receiver that takes TSO super-frames (a vhost-user guest, a TAP with
 * offloads; the NIC process cuts them for any other, see common/offload.c),
 * the gateway sends one frame with a virtio-net header (GSO TCPv4) instead:
 * one frame for the switch to forward, for the NIC to write and for the
 * guest's stack to take in, instead of up to 44.
 *
 * One super-frame is open at a time, at the end of the caller's output
 * buffer, so a segment that continues it is appended in place (its payload
 * copied once, as the plain frame would have been). A segment continues it
 * when it belongs to the same flow with the same state: Ethernet addresses,
 * IPv4 TOS, TTL, flags and addresses, TCP ports, ack, data offset and
 * reserved bits, window, urgent pointer and options byte for byte, TCP flags ACK (a PSH is taken and ends the
 * super-frame), sequence number and IPv4 id following on from the last
 * segment, and a payload no larger than the first's (a smaller one is
 * taken and ends it: gso_size is the first segment's payload, and only the
 * last segment may be shorter; a first payload below OFFLOAD_MIN_MSS takes
 * nothing more). Anything else (SYN, FIN, RST, URG, ECN
 * flags, IP options, fragments, a length that does not match the IPv4 total
 * length) is not coalesced: the caller closes the open super-frame and
 * sends the frame as it is. The payload comes from the Internet through
 * libslirp, but the checks only read bytes inside @len and the super-frame
 * never grows past GRO_MAX_IP bytes of IPv4 or the room the caller gives.
 *
 * Closing a super-frame of two segments or more rewrites what the segments
 * no longer share: IPv4 total length and header checksum; the TCP checksum
 * field gets the pseudo-header sum over the whole length (the NEEDS_CSUM
 * convention, csum_start at the TCP header), which is what a receiver that
 * segments (offload.c) or a guest stack expects. A single segment goes out
 * as it came, without a header.
 */

#include <errno.h>
#include <string.h>

#include "codec.h"
#include "gro.h"
#include "offload.h"

#define ETH	14
#define L4	(ETH + 20)	/* no IPv4 options */
#define TH_FIN	0x01
#define TH_PSH	0x08
#define TH_ACK	0x10

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void wr16le(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

size_t gro_candidate(const uint8_t *f, size_t len)
{
	size_t hdrs;

	if (len < 60 || len > ETH + GRO_MAX_IP)
		return 0;
	if (rd16(f + 12) != 0x0800 || f[ETH] != 0x45 || f[ETH + 9] != 6)
		return 0;
	if (rd16(f + ETH + 2) != len - ETH || (rd16(f + ETH + 6) & 0x3fff))
		return 0;	/* padded or short, MF or a fragment offset */
	hdrs = L4 + (size_t)(f[L4 + 12] >> 4) * 4;
	if (hdrs < L4 + 20 || hdrs >= len)
		return 0;	/* bad data offset, or no payload */
	if ((f[L4 + 13] & ~TH_PSH) != TH_ACK)
		return 0;
	return hdrs;
}

void gro_open(struct gro *r, uint8_t *p, size_t len, size_t hdrs)
{
	const uint8_t *f = p + VMF_VNET_HDR_LEN;

	r->hdr = p;
	r->len = len;
	r->hdrs = hdrs;
	r->mss = (uint16_t)(len - hdrs);
	r->next_seq = rd32(f + L4 + 4) + (uint32_t)(len - hdrs);
	r->next_id = (uint16_t)(rd16(f + ETH + 4) + 1);
	r->segs = 1;
	/* a gso_size below OFFLOAD_MIN_MSS would be refused by the receiver's segmenter */
	r->last = (f[L4 + 13] & TH_PSH) || r->mss < OFFLOAD_MIN_MSS;
}

size_t gro_append(struct gro *r, const uint8_t *f, size_t len, size_t room)
{
	uint8_t *o;
	size_t pay;

	if (!r->hdr || r->last || gro_candidate(f, len) != r->hdrs)
		return 0;
	o = r->hdr + VMF_VNET_HDR_LEN;
	pay = len - r->hdrs;
	if (pay > r->mss || pay > room || r->len - ETH + pay > GRO_MAX_IP)
		return 0;
	if (rd32(f + L4 + 4) != r->next_seq || rd16(f + ETH + 4) != r->next_id)
		return 0;
	if (memcmp(o, f, 12) ||				/* Ethernet addresses */
	    o[ETH + 1] != f[ETH + 1] ||			/* TOS */
	    rd16(o + ETH + 6) != rd16(f + ETH + 6) ||	/* DF */
	    o[ETH + 8] != f[ETH + 8] ||			/* TTL */
	    memcmp(o + ETH + 12, f + ETH + 12, 8) ||	/* addresses */
	    memcmp(o + L4, f + L4, 4) ||		/* ports */
	    memcmp(o + L4 + 8, f + L4 + 8, 5) ||	/* ack, data offset and reserved bits */
	    memcmp(o + L4 + 14, f + L4 + 14, 2) ||	/* window */
	    memcmp(o + L4 + 18, f + L4 + 18, r->hdrs - L4 - 18))
		return 0;				/* urgent pointer, options */
	memcpy(o + r->len, f + r->hdrs, pay);
	r->len += pay;
	r->next_seq += (uint32_t)pay;
	r->next_id++;
	r->segs++;
	if (f[L4 + 13] & TH_PSH) {
		o[L4 + 13] |= TH_PSH;
		r->last = 1;
	}
	if (pay < r->mss)
		r->last = 1;
	return pay;
}

int gro_close(struct gro *r, size_t *len)
{
	uint8_t *h = r->hdr, *o;
	uint16_t tcplen;

	if (!h)
		return -ENOENT;
	r->hdr = NULL;
	*len = r->len;
	if (r->segs < 2)
		return 0;
	o = h + VMF_VNET_HDR_LEN;
	wr16(o + ETH + 2, (uint16_t)(r->len - ETH));
	wr16(o + ETH + 10, 0);
	wr16(o + ETH + 10, inet_csum(o + ETH, 20, 0));
	tcplen = (uint16_t)(r->len - L4);
	wr16(o + L4 + 16, (uint16_t)~inet_csum(o + ETH + 12, 8, 6u + tcplen));
	memset(h, 0, VMF_VNET_HDR_LEN);
	h[0] = VNET_F_NEEDS_CSUM;
	h[1] = VNET_GSO_TCPV4;
	wr16le(h + 2, (uint16_t)r->hdrs);
	wr16le(h + 4, r->mss);
	wr16le(h + 6, L4);
	wr16le(h + 8, 16);
	r->ctr.supers++;
	r->ctr.coalesced += r->segs;
	return 1;
}
