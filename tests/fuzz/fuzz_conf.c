/* fuzz_conf.c - fuzz config files (-c FILE): the parser, and print -> parse round trips */

/*
 * The input is a config file for a table with every option type (string,
 * bounded integer, boolean, repeatable list, on/off, MAC, addresses and
 * networks). conf_load_file() must never
 * crash, and what it accepts, conf_print() (what -n shows) must print as a
 * file that loads again to the same values: the output of -n is a valid
 * config file with the same meaning.
 */

#define _GNU_SOURCE
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conf.h"
#include "fuzz.h"

static char *s_a, *s_b;
static long i_a = 1500, i_b;
static int b_a, b_b;
static struct conf_list l_a;
static int o_a = -1;
static struct conf_mac m_a;
static struct conf_ip4 a4;
static struct conf_ip6 a6;
static struct conf_net4 n4;
static struct conf_net6 n6;

static const struct conf_opt opts[] = {
	{ "switch", 's', CONF_STR, &s_a, "EP", "a string", 0, 0 },
	{ "name", 0, CONF_STR, &s_b, "NAME", "another string", 0, 0 },
	{ "mtu", 0, CONF_INT, &i_a, "BYTES", "an integer", 68, 65500 },
	{ "hwm", 0, CONF_INT, &i_b, "N", "a negative-capable integer", -5, 1L << 40 },
	{ "insecure", 0, CONF_BOOL, &b_a, NULL, "a flag", 0, 0 },
	{ "ipv6", 0, CONF_BOOL, &b_b, NULL, "another flag", 0, 0 },
	{ "hostfwd", 0, CONF_LIST, &l_a, "RULE", "a list", 0, 0 },
	{ "offload", 0, CONF_ONOFF, &o_a, "on|off", "on or off", 0, 0 },
	{ "mac", 0, CONF_MAC, &m_a, "MAC", "a MAC address", 0, 0 },
	{ "host", 0, CONF_IP4, &a4, "ADDR", "an IPv4 address", 0, 0 },
	{ "ipv6-host", 0, CONF_IP6, &a6, "ADDR", "an IPv6 address", 0, 0 },
	{ "net", 0, CONF_NET4, &n4, "ADDR[/MASK]", "an IPv4 network", 8, 30 },
	{ "ipv6-net", 0, CONF_NET6, &n6, "ADDR/LEN", "an IPv6 prefix", 0, 126 },
	{ NULL, 0, 0, NULL, NULL, NULL, 0, 0 },
};

static void reset(struct conf_std *std)
{
	free(s_a);
	free(s_b);
	s_a = s_b = NULL;
	i_a = 1500;	/* defaults inside the bounds, as every program has */
	i_b = 0;
	b_a = b_b = 0;
	o_a = -1;
	memset(&m_a, 0, sizeof(m_a));
	memset(&a4, 0, sizeof(a4));
	memset(&a6, 0, sizeof(a6));
	memset(&n4, 0, sizeof(n4));
	memset(&n6, 0, sizeof(n6));
	for (size_t i = 0; i < l_a.n; i++)
		free(l_a.v[i]);
	free(l_a.v);
	l_a.v = NULL;
	l_a.n = 0;
	free(std->pidfile);
	memset(std, 0, sizeof(*std));
}

/* the effective configuration as conf_print() shows it */
static char *printed(const struct conf_std *std, size_t *len)
{
	char *out = NULL;
	FILE *f = open_memstream(&out, len);

	if (!f)
		abort();
	conf_print(f, opts, std);
	fclose(f);
	return out;
}

static int load(int fd, const void *data, size_t size, struct conf_std *std)
{
	char path[64];

	if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return conf_load_file("fuzz", path, opts, std);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	struct conf_std std = { 0 };
	char *first, *second;
	size_t n1, n2;

	if (fd < 0) {
		fd = memfd_create("fuzz-conf", MFD_CLOEXEC);
		if (fd < 0)
			abort();
	}
	if (load(fd, data, size, &std)) {
		reset(&std);
		return 0;
	}
	first = printed(&std, &n1);
	reset(&std);
	FUZZ_CHECK(load(fd, first, n1, &std) == 0);
	second = printed(&std, &n2);
	reset(&std);
	if (n1 != n2 || memcmp(first, second, n1)) {
		fprintf(stdout, "round trip differs:\n--- first\n%s--- second\n%s", first, second);
		FUZZ_CHECK(0);
	}
	free(first);
	free(second);
	return 0;
}
