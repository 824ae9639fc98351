/* dhcp_fuzz.c - fuzz harness for the gateway's DHCP server: libFuzzer entry + deterministic loop */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "dhcp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct dhcp d;
static int ready;

static void init(void)
{
	struct dhcp_conf c = { 0 };
	const char *why;

	inet_pton(AF_INET, "10.0.2.0", &c.net);
	inet_pton(AF_INET, "255.255.255.0", &c.mask);
	inet_pton(AF_INET, "10.0.2.2", &c.router);
	inet_pton(AF_INET, "10.0.2.3", &c.dns);
	inet_pton(AF_INET, "10.0.2.15", &c.start);
	inet_pton(AF_INET, "10.0.2.40", &c.end);
	c.lease_s = 3600;
	c.probe_ms = 50;
	c.domain = "lab.test";
	c.search[0] = "lab.test";
	c.mac[0] = 0x52;
	c.mac[1] = 0x55;
	if (dhcp_init(&d, &c, &why))
		abort();
	ready = 1;
}

/* one input: frames separated by their first two bytes (length), time advancing */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint64_t now = 1;
	uint8_t r[DHCP_FRAME_MAX];
	const char *why;

	if (!ready)
		init();
	while (size >= 2) {
		size_t n = (size_t)(data[0] << 8 | data[1]) % 1600;
		int rc;

		data += 2;
		size -= 2;
		if (n > size)
			n = size;
		now += 37;
		rc = dhcp_input(&d, data, n, now, r, sizeof(r));
		if (rc > DHCP_FRAME_MAX)
			abort();
		while ((rc = dhcp_poll(&d, now, r, sizeof(r))) > 0)
			if (rc > DHCP_FRAME_MAX)
				abort();
		if (dhcp_check(&d, &why)) {	/* the indexes agree with the slots */
			printf("dhcp fuzz: %s\n", why);
			abort();
		}
		data += n;
		size -= n;
	}
	return 0;
}

#ifndef VMF_LIBFUZZER
#include "fuzz_rng.h"

/* a valid DHCP request to mutate */
static size_t seed_dhcp(uint8_t *f, int type)
{
	uint8_t *ip = f + 14, *udp = ip + 20, *bp = udp + 8, *o = bp + 240;
	size_t blen;

	memset(f, 0, 700);
	memset(f, 0xff, 6);
	f[6] = 2; f[11] = (uint8_t)(next() & 31);
	f[12] = 8;
	ip[0] = 0x45; ip[9] = 17;
	udp[1] = 68; udp[3] = 67;
	bp[0] = 1; bp[1] = 1; bp[2] = 6;
	memcpy(bp + 28, f + 6, 6);
	bp[236] = 99; bp[237] = 130; bp[238] = 83; bp[239] = 99;
	*o++ = 53; *o++ = 1; *o++ = (uint8_t)type;
	*o++ = 50; *o++ = 4; *o++ = 10; *o++ = 0; *o++ = 2; *o++ = (uint8_t)(15 + (next() & 31));
	if (next() & 1) {
		*o++ = 54; *o++ = 4; *o++ = 10; *o++ = 0; *o++ = 2; *o++ = 2;
	}
	*o++ = 255;
	blen = (size_t)(o - bp);
	ip[2] = (uint8_t)((28 + blen) >> 8); ip[3] = (uint8_t)(28 + blen);
	udp[4] = (uint8_t)((8 + blen) >> 8); udp[5] = (uint8_t)(8 + blen);
	return 42 + blen;
}

static size_t seed_arp(uint8_t *f)
{
	memset(f, 0, 60);
	f[0] = 0x52; f[1] = 0x55; f[6] = 2; f[11] = (uint8_t)(next() & 31);
	f[12] = 8; f[13] = 6; f[15] = 1; f[16] = 8; f[18] = 6; f[19] = 4; f[21] = (uint8_t)(1 + (next() & 1));
	memcpy(f + 22, f + 6, 6);
	f[28] = 10; f[30] = 2; f[31] = (uint8_t)(15 + (next() & 31));
	return 60;
}

int main(int argc, char **argv)
{
	long iters = argc > 1 ? strtol(argv[1], NULL, 0) : 500000;
	uint8_t in[2 + 700], *f = in + 2;

	for (long i = 0; i < iters; i++) {
		size_t n;
		uint32_t k = next() % 6, muts;

		n = k == 0 ? seed_arp(f) : seed_dhcp(f, (int)(1 + next() % 8));
		muts = next() % 8;
		for (uint32_t m = 0; m < muts; m++) {
			switch (next() % 4) {
			case 0: if (n) f[next() % n] = (uint8_t)next(); break;	/* byte */
			case 1: if (n) f[next() % n] ^= (uint8_t)(1u << (next() % 8)); break;
			case 2: n = next() % (n + 1); break;			/* truncate */
			case 3: {						/* grow with junk */
				size_t add = next() % 64;

				for (size_t j = 0; j < add && n < 700; j++)
					f[n++] = (uint8_t)next();
				break;
			}
			}
		}
		in[0] = (uint8_t)(n >> 8);
		in[1] = (uint8_t)n;
		LLVMFuzzerTestOneInput(in, n + 2);
	}
	printf("dhcp fuzz: %ld inputs, %llu DHCP frames, %llu malformed, %llu offers, %llu acks, %llu naks, "
	       "%llu probes, %llu exhausted, %llu spoofed\n", iters, (unsigned long long)d.ctr.rx,
	       (unsigned long long)d.ctr.malformed, (unsigned long long)d.ctr.offer,
	       (unsigned long long)d.ctr.ack, (unsigned long long)d.ctr.nak,
	       (unsigned long long)d.ctr.probes, (unsigned long long)d.ctr.exhausted,
	       (unsigned long long)d.ctr.spoofed);
	/* the loop must reach the interesting paths, or it tests nothing */
	if (!d.ctr.offer || !d.ctr.ack || !d.ctr.malformed || !d.ctr.nak || !d.ctr.spoofed) {
		printf("dhcp fuzz: a path was never reached\n");
		return 1;
	}
	dhcp_free(&d);
	return 0;
}
#endif
