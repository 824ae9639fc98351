/* fuzz_libvirt.c - fuzz the libvirt hook's reading of domain XML (lvdomain.c) */

/*
 * The input is a domain XML as libvirtd hands it to the hook. lvd_parse()
 * must never crash or hang, and what it accepts must be usable: at most
 * LVD_MAX_NICS NICs, each with a unicast MAC, valid network and port names,
 * a switch endpoint, a backend; distinct MACs. An accepted domain that uses
 * vmfabric also survives --fill-ports unchanged in meaning: every port is
 * already set, so the rewritten XML parses to the same NICs.
 */

#include <string.h>

#include "fuzz.h"
#include "lvdomain.h"
#include "nicsup.h"

static struct lvd_domain d1, d2;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[512], *out;
	size_t outlen;

	if (lvd_parse(&d1, (const char *)data, size, why, sizeof(why))) {
		FUZZ_CHECK(*why);
		FUZZ_CHECK(d1.n == 0);
		return 0;
	}
	FUZZ_CHECK(d1.n >= 0 && d1.n <= LVD_MAX_NICS);
	FUZZ_CHECK(d1.has_fabric || d1.n == 0);
	for (int i = 0; i < d1.n; i++) {
		const struct lvd_nic *v = &d1.nics[i];

		FUZZ_CHECK(nicsup_valid_mac(v->mac));
		FUZZ_CHECK(codec_valid_name(v->network) && codec_valid_name(v->name));
		FUZZ_CHECK(!strncmp(v->sw, "tcp://", 6) || !strncmp(v->sw, "ipc://", 6));
		FUZZ_CHECK(*v->backend_opt == '-' && *v->backend_arg);
		FUZZ_CHECK(v->index == i);
		for (int j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(d1.nics[j].mac, v->mac));
	}
	if (!d1.has_fabric)
		return 0;
	FUZZ_CHECK(!lvd_fill_ports((const char *)data, size, &out, &outlen, why, sizeof(why)));
	FUZZ_CHECK(!lvd_parse(&d2, out, outlen, why, sizeof(why)));
	free(out);
	FUZZ_CHECK(d2.n == d1.n && !strcmp(d2.name, d1.name) && !strcmp(d2.uuid, d1.uuid));
	for (int i = 0; i < d1.n; i++) {
		FUZZ_CHECK(!strcmp(d1.nics[i].name, d2.nics[i].name));
		FUZZ_CHECK(!strcmp(d1.nics[i].backend_arg, d2.nics[i].backend_arg));
		FUZZ_CHECK(!strcmp(d1.nics[i].key, d2.nics[i].key));
	}
	return 0;
}
