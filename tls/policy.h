/* policy.h - what a port key may do, stated in its certificate's metadata */
#ifndef VMF_POLICY_H
#define VMF_POLICY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vlan.h"

#define POLICY_LIST_MAX	256	/* bytes of a pattern list, with NUL */
#define POLICY_MACS_MAX	64

/* Which fields a certificate set (bits of key_policy.set). */
enum {
	POLICY_NETWORKS = 1 << 0,
	POLICY_NAMES = 1 << 1,
	POLICY_MACS = 1 << 2,
	POLICY_MAX_MACS = 1 << 3,
	POLICY_CREATE = 1 << 4,
	POLICY_TRUNK = 1 << 5,
	POLICY_VLANS = 1 << 6,
	POLICY_IMPAIR = 1 << 7,
};

/**
 * struct key_policy - the rights of one admitted key; a field not set
 * keeps the open default (any network, any name, any source MAC, the
 * switch's --port-macs, may create networks, may not trunk)
 * @networks:	comma-separated fnmatch(3) patterns of networks it may join
 * @names:	comma-separated patterns of port names it may use
 * @macs:	source MACs its ports may send from
 * @max_macs:	MAC entries one of its ports may hold in the switch
 * @create:	may create a network that does not exist yet
 * @trunk:	may join as a trunk (a switch uplink)
 * @vlans:	its ports' 802.1Q setting (vlan.h), unless vmfabric-ctl or
 *		--port-vlan sets one for the port name
 * @impair:	link impairment of its ports, as vmfabric-switch --impair SPEC
 */
struct key_policy {
	unsigned int set;
	char networks[POLICY_LIST_MAX];
	char names[POLICY_LIST_MAX];
	uint8_t macs[POLICY_MACS_MAX][6];
	unsigned int n_macs;
	uint32_t max_macs;
	int create;
	int trunk;
	struct vlan_conf vlans;
	char impair[POLICY_LIST_MAX];
};

/*
 * policy_impair_check - set by the switch (impair.c): checks an impair
 * value, 0 or -EINVAL with the reason in @why; a bad one refuses the
 * certificate. Unset, only its characters are checked.
 */
extern int (*policy_impair_check)(const char *spec, char *why, size_t whylen);

/** policy_default() - the open default */
void policy_default(struct key_policy *p);

/**
 * policy_parse() - read the metadata section of a zcert text
 * Return: 0, or -EINVAL with the reason (naming the line) in @why. An
 * unknown key is an error, so that a typo cannot open what it meant to
 * close; czmq's informational keys (name, email, organization, ...) pass.
 */
int policy_parse(const char *text, struct key_policy *p, char *why, size_t whylen);

/** policy_load() - policy_parse() of the file @path; Return: 0 or -errno / -EINVAL */
int policy_load(const char *path, struct key_policy *p, char *why, size_t whylen);

/** policy_match() - @s matches one of the patterns in the comma-separated @list */
int policy_match(const char *list, const char *s);

int policy_allows_network(const struct key_policy *p, const char *net);
int policy_allows_name(const struct key_policy *p, const char *name);
int policy_allows_mac(const struct key_policy *p, const uint8_t mac[6]);

/** policy_json() - the fields that are set, as one JSON object */
void policy_json(const struct key_policy *p, FILE *f);

/** policy_text() - the same on one line for people ("-" when open) */
void policy_text(const struct key_policy *p, FILE *f);

#endif /* VMF_POLICY_H */
