/* dhcp_frames.h - DHCP request frames for the DHCP server's unit test and benchmark */
#ifndef VMF_TEST_DHCP_FRAMES_H
#define VMF_TEST_DHCP_FRAMES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * A broadcast DHCP request of @type from @mac (source and chaddr) into @f
 * (600 bytes); @req (option 50), @sid (option 54) and @ciaddr in network
 * order, 0 = absent. Return: frame length.
 */
static inline size_t dhcp_req_frame(uint8_t *f, const uint8_t *mac, int type, uint32_t xid,
				    uint32_t req, uint32_t sid, uint32_t ciaddr)
{
	uint8_t *ip = f + 14, *udp = ip + 20, *bp = udp + 8, *o = bp + 240;
	size_t blen;

	memset(f, 0, 600);
	memset(f, 0xff, 6);
	memcpy(f + 6, mac, 6);
	f[12] = 8;
	ip[0] = 0x45;
	ip[9] = 17;
	memset(ip + 16, 0xff, 4);
	udp[1] = 68;
	udp[3] = 67;
	bp[0] = 1; bp[1] = 1; bp[2] = 6;
	memcpy(bp + 4, &xid, 4);
	memcpy(bp + 12, &ciaddr, 4);
	memcpy(bp + 28, mac, 6);
	bp[236] = 99; bp[237] = 130; bp[238] = 83; bp[239] = 99;
	*o++ = 53; *o++ = 1; *o++ = (uint8_t)type;
	if (req) {
		*o++ = 50; *o++ = 4;
		memcpy(o, &req, 4);
		o += 4;
	}
	if (sid) {
		*o++ = 54; *o++ = 4;
		memcpy(o, &sid, 4);
		o += 4;
	}
	*o++ = 255;
	blen = (size_t)(o - bp);
	ip[2] = (uint8_t)((28 + blen) >> 8);
	ip[3] = (uint8_t)(28 + blen);
	udp[4] = (uint8_t)((8 + blen) >> 8);
	udp[5] = (uint8_t)(8 + blen);
	return 14 + 28 + blen;
}

#endif
