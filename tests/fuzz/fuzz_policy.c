/* fuzz_policy.c - fuzz key policies in certificate metadata (tls/policy.c) */

/*
 * The input is a certificate's text. policy_parse() must never crash or
 * read past it; what it accepts must be within the bounds the switch
 * relies on (printable lists without quotes that fit, at most 64 unicast
 * MACs, VLAN ids 1..4094), and must survive a round trip: written back as
 * metadata lines, it parses to the same policy.
 */

#include <string.h>

#include "fuzz.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct key_policy p, q;
	static char list[16384];
	char text[70000], again[20480], why[512];
	size_t o;

	if (size >= sizeof(text))
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (policy_parse(text, &p, why, sizeof(why))) {
		FUZZ_CHECK(why[0] != '\0');
		return 0;
	}
	FUZZ_CHECK(p.n_macs <= POLICY_MACS_MAX);
	for (unsigned int i = 0; i < p.n_macs; i++)
		FUZZ_CHECK(!(p.macs[i][0] & 1));
	FUZZ_CHECK(!(p.set & POLICY_NETWORKS) || (strlen(p.networks) && !strchr(p.networks, '"')));
	FUZZ_CHECK(!(p.set & POLICY_NAMES) || (strlen(p.names) && !strchr(p.names, '"')));
	FUZZ_CHECK(!(p.set & POLICY_MAX_MACS) || (p.max_macs >= 1 && p.max_macs <= 1048576));

	o = (size_t)snprintf(again, sizeof(again), "metadata\n");
	if (p.set & POLICY_VLANS) {
		struct key_policy r;

		FUZZ_CHECK(p.vlans.mode != VLAN_NONE || !p.vlans.pvid);
		FUZZ_CHECK(p.vlans.pvid <= VLAN_VID_MAX && !(p.vlans.allowed[0] & 1) &&
			   !(p.vlans.allowed[VLAN_VID_MAX / 8] & 0x80));
		vlan_format_list(&p.vlans, list, sizeof(list));
		FUZZ_CHECK(!strstr(list, "..."));
		if (p.vlans.mode == VLAN_ACCESS)
			o += (size_t)snprintf(again + o, sizeof(again) - o, "    vlans = access:%u\n", p.vlans.pvid);
		else if (p.vlans.mode == VLAN_TRUNK && p.vlans.pvid)
			o += (size_t)snprintf(again + o, sizeof(again) - o,
					      "    vlans = \"trunk %s native %u\"\n", list, p.vlans.pvid);
		else if (p.vlans.mode == VLAN_TRUNK)
			o += (size_t)snprintf(again + o, sizeof(again) - o, "    vlans = \"trunk %s\"\n", list);
		else
			o += (size_t)snprintf(again + o, sizeof(again) - o, "    vlans = none\n");
		/* the line written back is the same setting (the rest of the round trip checks set) */
		FUZZ_CHECK(o < sizeof(again) && policy_parse(again, &r, why, sizeof(why)) == 0 &&
			   !memcmp(&r.vlans, &p.vlans, sizeof(p.vlans)));
	}
	if (p.set & POLICY_NETWORKS)
		o += (size_t)snprintf(again + o, sizeof(again) - o, "    networks = \"%s\"\n", p.networks);
	if (p.set & POLICY_NAMES)
		o += (size_t)snprintf(again + o, sizeof(again) - o, "    names = \"%s\"\n", p.names);
	if (p.n_macs) {
		o += (size_t)snprintf(again + o, sizeof(again) - o, "    macs = \"");
		for (unsigned int i = 0; i < p.n_macs; i++)
			o += (size_t)snprintf(again + o, sizeof(again) - o, "%s%02x:%02x:%02x:%02x:%02x:%02x",
					      i ? "," : "", p.macs[i][0], p.macs[i][1], p.macs[i][2],
					      p.macs[i][3], p.macs[i][4], p.macs[i][5]);
		o += (size_t)snprintf(again + o, sizeof(again) - o, "\"\n");
	}
	if (p.set & POLICY_MAX_MACS)
		o += (size_t)snprintf(again + o, sizeof(again) - o, "    max-macs = %u\n", p.max_macs);
	if (p.set & POLICY_CREATE)
		o += (size_t)snprintf(again + o, sizeof(again) - o, "    create = %s\n", p.create ? "yes" : "no");
	if (p.set & POLICY_TRUNK)
		o += (size_t)snprintf(again + o, sizeof(again) - o, "    trunk = %s\n", p.trunk ? "yes" : "no");
	if (p.set & POLICY_IMPAIR)
		o += (size_t)snprintf(again + o, sizeof(again) - o, "    impair = \"%s\"\n", p.impair);
	FUZZ_CHECK(o < sizeof(again));
	FUZZ_CHECK(policy_parse(again, &q, why, sizeof(why)) == 0);
	FUZZ_CHECK(p.set == q.set && p.n_macs == q.n_macs && p.max_macs == q.max_macs &&
		   p.create == q.create && p.trunk == q.trunk && !strcmp(p.networks, q.networks) &&
		   !strcmp(p.names, q.names) && !memcmp(p.macs, q.macs, sizeof(p.macs)) &&
		   !strcmp(p.impair, q.impair));
	return 0;
}
