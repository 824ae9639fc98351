/* dhcp_bench.c - cost of one DHCP message on a /16 pool (node/dhcp.c through its public API only)
 *
 * Not a test: it prints figures (quoted in README.md, gateway section).
 * It uses only dhcp.h's API, so it also builds against an older dhcp.c for a
 * before/after comparison. Three cases on 10.0.0.0/16, pool .0.15 - .255.254
 * (65520 addresses), ARP probes off:
 *   reuse  every address was used once and has expired (a lease file of 65520
 *          free leases): each DISCOVER from a new MAC takes the oldest one
 *   full   every address is bound: each DISCOVER is refused (exhausted)
 *   fill   an empty pool: DISCOVER + REQUEST per new client until full
 * Each case stops after its message budget or 5 s, whichever comes first.
 * usage: gateway_dhcp_bench [MESSAGES]   (default 2000 per case; fill: the pool)
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dhcp.h"
#include "dhcp_frames.h"
#include "util.h"

static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void conf16(struct dhcp_conf *c)
{
	memset(c, 0, sizeof(*c));
	inet_pton(AF_INET, "10.0.0.0", &c->net);
	inet_pton(AF_INET, "255.255.0.0", &c->mask);
	inet_pton(AF_INET, "10.0.0.2", &c->router);
	inet_pton(AF_INET, "10.0.0.3", &c->dns);
	inet_pton(AF_INET, "10.0.0.15", &c->start);
	inet_pton(AF_INET, "10.0.255.254", &c->end);
	c->lease_s = 86400;
	c->mac[0] = 0x52;
	c->mac[1] = 0x55;
}

static void mac_n(uint8_t *mac, uint8_t tag, uint32_t i)
{
	mac[0] = 2; mac[1] = tag; mac[2] = 0;
	mac[3] = (uint8_t)(i >> 16); mac[4] = (uint8_t)(i >> 8); mac[5] = (uint8_t)i;
}

/* a lease file with every pool address held by its own MAC in @state until @exp(i) */
static int lease_file(char *path, const char *state, int future)
{
	int fd = mkstemp(path);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	uint64_t w = wall_ms();

	if (!f)
		return -1;
	for (uint32_t i = 0; i < 65520; i++) {
		uint32_t a = 15 + i;

		fprintf(f, "02:01:00:%02x:%02x:%02x 10.0.%u.%u %s %llu\n", (i >> 16) & 255, (i >> 8) & 255,
			i & 255, a >> 8, a & 255, state,
			(unsigned long long)(future ? w + 86400000 : 1000 + i));
	}
	return fclose(f);
}

/* @n DISCOVERs from new MACs; prints the mean; returns replies > 0 */
static void discovers(struct dhcp *d, const char *name, long n)
{
	uint8_t f[600], r[DHCP_FRAME_MAX], mac[6];
	uint64_t t0 = now_us(), t = t0;
	long i, offers = 0;

	for (i = 0; i < n && t - t0 < 5000000u; i++) {
		mac_n(mac, 9, (uint32_t)i);
		if (dhcp_input(d, f, dhcp_req_frame(f, mac, 1, (uint32_t)i, 0, 0, 0), now_ms(), r, sizeof(r)) > 0)
			offers++;
		t = now_us();
	}
	printf("%-6s %6ld DISCOVERs, %6ld offers, %10.2f us per DISCOVER\n", name, i, offers,
	       (double)(t - t0) / (double)i);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 0) : 2000;
	struct dhcp d;
	struct dhcp_conf c;
	const char *why;
	char path[] = "/tmp/vmf-dhcp-bench.XXXXXX";
	unsigned int skipped;
	uint8_t f[600], r[DHCP_FRAME_MAX], mac[6];
	uint64_t t0, t;
	long i, acks = 0;
	int rc;

	conf16(&c);
	/* reuse */
	if (dhcp_init(&d, &c, &why) || lease_file(path, "free", 0))
		return 1;
	t0 = now_us();
	rc = dhcp_load(&d, path, &skipped);
	printf("load   %6d leases in %.1f ms\n", rc, (double)(now_us() - t0) / 1e3);
	unlink(path);
	discovers(&d, "reuse", n);
	dhcp_free(&d);
	/* full */
	strcpy(path, "/tmp/vmf-dhcp-bench.XXXXXX");
	if (dhcp_init(&d, &c, &why) || lease_file(path, "bound", 1))
		return 1;
	dhcp_load(&d, path, &skipped);
	unlink(path);
	discovers(&d, "full", n);
	dhcp_free(&d);
	/* fill */
	if (dhcp_init(&d, &c, &why))
		return 1;
	t0 = t = now_us();
	for (i = 0; i < (long)d.pool_n && t - t0 < 5000000u; i++) {
		int k;

		mac_n(mac, 10, (uint32_t)i);
		k = dhcp_input(&d, f, dhcp_req_frame(f, mac, 1, (uint32_t)i, 0, 0, 0), now_ms(), r, sizeof(r));
		if (k > 0) {
			uint32_t yi;

			memcpy(&yi, r + 42 + 16, 4);
			k = dhcp_input(&d, f, dhcp_req_frame(f, mac, 3, (uint32_t)i, yi, c.router, 0), now_ms(), r, sizeof(r));
			acks += k > 0 && r[42 + 242] == 5;
		}
		t = now_us();
	}
	printf("fill   %6ld clients, %6ld acks, %10.2f us per DISCOVER + REQUEST\n", i, acks,
	       (double)(t - t0) / (double)i);
	dhcp_free(&d);
	return 0;
}
