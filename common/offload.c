/* offload.c - virtio-net headers: TSO/GSO segmentation and checksum completion in software */

/*
 * DOC: Theory of operation
 *
 * A TAP opened with IFF_VNET_HDR and TUNSETOFFLOAD hands the NIC process
 * TCP super-frames of up to 64 KiB with a virtio-net header (gso_type,
 * gso_size = MSS, csum_start/csum_offset), and frames whose checksum is
 * left to the device (NEEDS_CSUM). They cross the fabric as they are,
 * flagged in the batch. A receiver that takes offloads (another such TAP)
 * writes them whole; every other backend (QEMU stream/dgram, a TAP without
 * offloads, the gateway) needs plain frames, made here:
 *
 * - NEEDS_CSUM, no GSO: the checksum field holds the pseudo-header sum; the
 *   ones' complement sum from csum_start to the end goes into it, in place.
 * - GSO TCPv4/TCPv6: headers (Ethernet, optional 802.1Q tag, IPv4 or IPv6
 *   without extension headers, TCP) are copied in front of each gso_size
 *   payload slice; IPv4 total length, id (+1 per segment) and header
 *   checksum, IPv6 payload length, TCP sequence number and flags (FIN/PSH on
 *   the last segment only, CWR on the first only) are set, and the TCP
 *   checksum is computed from scratch.
 *
 * Anything else flagged (UDP GSO, other protocols, bad offsets, an MSS below
 * OFFLOAD_MIN_MSS, a gso_size so large that a segment's IPv4 total length or
 * IPv6 payload length would not fit 16 bits, no room left) is dropped and
 * counted as bad: a peer cannot make this code read or write outside the
 * frame or the scratch buffer, nor send a segment whose headers lie.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "offload.h"

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t sum16(const uint8_t *p, size_t len, uint32_t sum)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

uint16_t inet_csum(const uint8_t *p, size_t len, uint32_t sum)
{
	sum = sum16(p, len, sum);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

int offload_csum_partial(uint8_t *frame, size_t len, uint16_t start, uint16_t offset)
{
	uint16_t c;

	if ((size_t)start + offset + 2 > len)
		return -EINVAL;
	c = inet_csum(frame + start, len - start, 0);
	wr16(frame + start + offset, c);
	return 0;
}

int offload_out_init(struct offload_out *o, size_t max_frames, size_t scratch)
{
	memset(o, 0, sizeof(*o));
	o->f = calloc(max_frames, sizeof(*o->f));
	o->scratch = malloc(scratch);
	if (!o->f || !o->scratch) {
		offload_out_free(o);
		return -ENOMEM;
	}
	o->cap = max_frames;
	o->scratch_cap = scratch;
	return 0;
}

void offload_out_free(struct offload_out *o)
{
	if (!o)
		return;
	free(o->f);
	free(o->scratch);
	o->f = NULL;
	o->scratch = NULL;
}

static int push(struct offload_out *o, uint8_t *f, size_t len)
{
	if (o->n == o->cap)
		return -ENOSPC;
	o->f[o->n++] = (struct frame){ f, (uint32_t)len, 0, 0 };
	return 0;
}

/* Cut one TCP super-frame @f (Ethernet onwards) into segments of @mss. */
static int segment(struct offload_out *o, const uint8_t *f, size_t len, uint8_t gso, uint16_t mss)
{
	size_t l3 = 14, l4, hdrs, plen, off;
	uint16_t ipid = 0, k;
	uint32_t seq;
	int v4;

	if (mss < OFFLOAD_MIN_MSS || len < l3)
		return -EINVAL;
	if (rd16(f + 12) == 0x8100)
		l3 += 4;
	if (len < l3 + 40)
		return -EINVAL;
	v4 = (gso & ~VNET_GSO_ECN) == VNET_GSO_TCPV4;
	if (v4) {
		size_t ihl = (size_t)(f[l3] & 15) * 4;

		if (rd16(f + l3 - 2) != 0x0800 || (f[l3] >> 4) != 4 || ihl < 20 || f[l3 + 9] != 6)
			return -EINVAL;
		l4 = l3 + ihl;
		ipid = rd16(f + l3 + 4);
	} else {
		if (rd16(f + l3 - 2) != 0x86dd || (f[l3] >> 4) != 6 || f[l3 + 6] != 6)
			return -EINVAL;
		l4 = l3 + 40;
	}
	if (len < l4 + 20)
		return -EINVAL;
	hdrs = l4 + (size_t)(f[l4 + 12] >> 4) * 4;
	if (hdrs < l4 + 20 || hdrs > len)
		return -EINVAL;
	plen = len - hdrs;
	/* the longest segment's IPv4 total / IPv6 payload length must fit its 16 bits */
	if ((v4 ? hdrs - l3 : hdrs - l4) + (plen < mss ? plen : mss) > 0xffff)
		return -EMSGSIZE;
	seq = (uint32_t)rd16(f + l4 + 4) << 16 | rd16(f + l4 + 6);

	for (off = 0, k = 0; off < plen || (plen == 0 && k == 0); off += mss, k++) {
		size_t seg = plen - off < mss ? plen - off : mss, slen = hdrs + seg;
		uint8_t *s = o->scratch + o->used, *ip, *tcp;
		uint32_t sum;

		if (o->scratch_cap - o->used < slen || o->n == o->cap)
			return -ENOSPC;
		memcpy(s, f, hdrs);
		memcpy(s + hdrs, f + hdrs + off, seg);
		ip = s + l3;
		tcp = s + l4;
		if (v4) {
			wr16(ip + 2, (uint16_t)(slen - l3));
			wr16(ip + 4, (uint16_t)(ipid + k));
			wr16(ip + 10, 0);
			wr16(ip + 10, inet_csum(ip, l4 - l3, 0));
			sum = sum16(ip + 12, 8, 0) + 6 + (uint32_t)(slen - l4);
		} else {
			wr16(ip + 4, (uint16_t)(slen - l4));
			sum = sum16(ip + 8, 32, 0) + 6 + (uint32_t)(slen - l4);
		}
		wr16(tcp + 4, (uint16_t)((seq + off) >> 16));
		wr16(tcp + 6, (uint16_t)(seq + off));
		if (off + seg < plen)
			tcp[13] &= (uint8_t)~0x09;	/* FIN, PSH: last segment only */
		if (k)
			tcp[13] &= (uint8_t)~0x80;	/* CWR: first segment only */
		wr16(tcp + 16, 0);
		wr16(tcp + 16, inet_csum(tcp, slen - l4, sum));
		push(o, s, slen);
		o->used += slen;
		o->segments++;
		if (plen == 0)
			break;
	}
	o->segmented++;
	return 0;
}

void offload_plain(struct offload_out *o, const struct frame *in, size_t n)
{
	size_t i;

	o->n = 0;
	o->used = 0;
	for (i = 0; i < n; i++) {
		/* a flagged frame holds its header: codec_decode() checked it */
		uint8_t *f = frame_eth(&in[i]), *h = in[i].data;
		size_t len = frame_eth_len(&in[i]);
		uint8_t gso;

		if (!(in[i].flags & FRAME_VNET)) {
			if (push(o, f, len))
				o->bad++;
			continue;
		}
		gso = h[1];
		if (gso == VNET_GSO_NONE) {
			if ((h[0] & VNET_F_NEEDS_CSUM) &&
			    offload_csum_partial(f, len, le16(h + 6), le16(h + 8))) {
				o->bad++;
				continue;
			}
			if (h[0] & VNET_F_NEEDS_CSUM)
				o->csummed++;
			if (push(o, f, len))
				o->bad++;
			continue;
		}
		if (((gso & ~VNET_GSO_ECN) != VNET_GSO_TCPV4 && (gso & ~VNET_GSO_ECN) != VNET_GSO_TCPV6) ||
		    segment(o, f, len, gso, le16(h + 4)))
			o->bad++;
	}
}
