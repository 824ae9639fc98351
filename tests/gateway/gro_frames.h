/* gro_frames.h - TCP/IPv4 segments as libslirp sends them, for the coalescer's test and fuzz loop */
#ifndef VMF_TEST_GRO_FRAMES_H
#define VMF_TEST_GRO_FRAMES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "offload.h"

#define SEG_FIN	0x01
#define SEG_SYN	0x02
#define SEG_PSH	0x08
#define SEG_ACK	0x10

/*
 * One segment into @f: 10.0.2.2:80 -> 10.0.2.15:40000 from 52:55:0a:00:02:02
 * to 52:54:00:00:00:01, DF, TTL 64, ack 1000, window 65535, @opt bytes of
 * TCP options (NOPs, a multiple of 4), @pay payload bytes that continue the
 * stream (byte i of the stream is (seq + i) * 7), valid checksums.
 * Return: frame length.
 */
static inline size_t gro_seg(uint8_t *f, uint32_t seq, uint16_t id, size_t pay, uint8_t flags,
			     size_t opt)
{
	static const uint8_t head[14] = { 0x52, 0x54, 0, 0, 0, 1, 0x52, 0x55, 10, 0, 2, 2, 8, 0 };
	uint8_t *ip = f + 14, *th = ip + 20;
	size_t thl = 20 + opt, len = 14 + 20 + thl + pay;
	uint32_t sum;

	memcpy(f, head, 14);
	memset(ip, 0, 20 + thl);
	ip[0] = 0x45;
	ip[2] = (uint8_t)((len - 14) >> 8);
	ip[3] = (uint8_t)(len - 14);
	ip[4] = (uint8_t)(id >> 8);
	ip[5] = (uint8_t)id;
	ip[6] = 0x40;
	ip[8] = 64;
	ip[9] = 6;
	ip[12] = 10; ip[13] = 0; ip[14] = 2; ip[15] = 2;
	ip[16] = 10; ip[17] = 0; ip[18] = 2; ip[19] = 15;
	ip[10] = 0;
	ip[11] = 0;
	sum = inet_csum(ip, 20, 0);
	ip[10] = (uint8_t)(sum >> 8);
	ip[11] = (uint8_t)sum;
	th[0] = 0; th[1] = 80; th[2] = 0x9c; th[3] = 0x40;
	th[4] = (uint8_t)(seq >> 24); th[5] = (uint8_t)(seq >> 16);
	th[6] = (uint8_t)(seq >> 8); th[7] = (uint8_t)seq;
	th[10] = 0x03; th[11] = 0xe8;
	th[12] = (uint8_t)((thl / 4) << 4);
	th[13] = flags;
	th[14] = 0xff; th[15] = 0xff;
	memset(th + 20, 1, opt);
	for (size_t i = 0; i < pay; i++)
		th[thl + i] = (uint8_t)((seq + i) * 7);
	sum = inet_csum(th, thl + pay, 0x0a00 + 0x0202 + 0x0a00 + 0x020f + 6 + (uint32_t)(thl + pay));
	th[16] = (uint8_t)(sum >> 8);
	th[17] = (uint8_t)sum;
	return len;
}

#endif /* VMF_TEST_GRO_FRAMES_H */
