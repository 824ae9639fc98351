/* dhcp.h - the gateway's DHCPv4 server: frame in, reply frame out, leases indexed by MAC and address */
#ifndef VMF_DHCP_H
#define VMF_DHCP_H

#include <stddef.h>
#include <stdint.h>

#include "siphash.h"

#define DHCP_POOL_MAX		65536	/* addresses in one pool */
#define DHCP_PENDING_MAX	256	/* offers waiting for their ARP probe */
#define DHCP_FRAME_MAX		1024	/* largest reply frame we build */
#define DHCP_SEARCH_MAX		8
#define DHCP_CLAIM_MAX		8	/* pool addresses one other MAC can keep out of the pool */

/* Returns of dhcp_input() besides a reply length: not a DHCP frame for us;
 * a DHCP message whose chaddr is not the frame's source MAC (dropped). */
#define DHCP_NOT_DHCP		(-ENOMSG)
#define DHCP_SPOOFED		(-EPERM)

/**
 * struct dhcp_conf - what the server hands out (addresses in network order)
 * @net, @mask:		the virtual network
 * @router:		gateway address: server identifier and router option
 * @dns:		DNS option
 * @start, @end:	pool, inclusive
 * @lease_s:		lease time
 * @restricted:		omit router and DNS options (as libslirp does)
 * @probe_ms:		ARP-probe a new address this long before offering it (0: no probe)
 * @hostname, @domain, @tftp_server, @bootfile: options, NULL if unset
 * @search:		domain search list (option 119), NULL terminated
 * @mac:		server MAC (source of replies and probes)
 */
struct dhcp_conf {
	uint32_t net, mask, router, dns, start, end;
	uint32_t lease_s;
	int restricted;
	unsigned int probe_ms;
	const char *hostname, *domain, *tftp_server, *bootfile;
	const char *search[DHCP_SEARCH_MAX + 1];
	uint8_t mac[6];
};

enum dhcp_state { DHCP_FREE, DHCP_OFFERED, DHCP_BOUND };

/* One pool address. A slot remembers its last MAC even when free, so a
 * returning client gets the same address. */
struct dhcp_slot {
	uint8_t mac[6];
	uint8_t has_mac;
	uint8_t state;		/* enum dhcp_state */
	uint64_t expires;	/* wall-clock ms (offer or lease end) */
	uint8_t claim_mac[6];	/* another station seen using the address, or its decliner */
	uint8_t claim_decl;	/* the claim is a DHCPDECLINE: nobody gets the address */
	uint8_t pad_;
	uint64_t claim_at;	/* monotonic ms of the claim, 0 = none */
	uint32_t mac_next;	/* chain of the MAC index (by @mac) */
	uint32_t claim_next;	/* chain of the claim index (by @claim_mac) */
	uint32_t heap_pos;	/* place in the free-order heap, DHCP_NONE if never offered */
	uint16_t pend;		/* pending probe index + 1, 0 = none */
};

#define DHCP_NONE		UINT32_MAX

struct dhcp_pending {
	uint8_t mac[6];
	uint32_t xid;
	uint16_t flags;
	uint32_t idx;		/* slot being probed */
	uint64_t due;		/* monotonic ms */
	uint8_t tries;
	uint8_t used;
	uint8_t conflict;	/* another MAC answered the probe */
};

struct dhcp_ctr {
	uint64_t rx, discover, request, decline, release, inform;
	uint64_t offer, ack, nak;
	uint64_t exhausted;	/* DISCOVER with no free address: no offer */
	uint64_t malformed;	/* bad DHCP frames, dropped */
	uint64_t spoofed;	/* chaddr is not the frame's source MAC: dropped */
	uint64_t claims_capped;	/* a MAC already claims DHCP_CLAIM_MAX addresses: ignored */
	uint64_t probes, conflicts, pending_full;
};

/*
 * struct dhcp - one server. Slots are indexed by address (slot_of), by MAC
 * (chained hash over @mac_bucket), by claiming MAC (@claim_bucket), and kept
 * in a min-heap by the time each becomes free to offer (@heap).
 */
struct dhcp {
	struct dhcp_conf conf;
	uint32_t pool_n;
	struct dhcp_slot *slot;
	uint32_t *mac_bucket, *claim_bucket;	/* DHCP_NONE-terminated chains */
	uint32_t bucket_mask;
	struct sip_key hash_key;
	uint32_t *heap;
	uint32_t heap_n;
	struct dhcp_pending pend[DHCP_PENDING_MAX];
	uint16_t pend_free[DHCP_PENDING_MAX];	/* stack of unused pend[] indexes */
	uint32_t n_pend_free;
	int64_t wall_offset;	/* wall ms = monotonic ms + this */
	int dirty;		/* a binding changed: save the lease file */
	uint64_t next_log;
	struct dhcp_ctr ctr;
};

/**
 * dhcp_init() - check @c and allocate the pool
 * Return: 0, or -EINVAL with *@why set
 */
int dhcp_init(struct dhcp *d, const struct dhcp_conf *c, const char **why);
void dhcp_free(struct dhcp *d);

/**
 * dhcp_input() - look at one frame from the network
 * @d:		server
 * @frame, @len: Ethernet frame
 * @now:	monotonic ms
 * @reply, @cap: where a reply frame goes (at least DHCP_FRAME_MAX)
 *
 * Every frame is observed: ARP and IPv4 sources inside the pool mark the
 * address as in use by that MAC. DHCP requests (UDP to port 67) are answered
 * when their chaddr is the frame's source MAC.
 *
 * Return: reply length (> 0), 0 if the frame was DHCP and needs no reply now,
 * DHCP_NOT_DHCP if it is not DHCP (pass it on), -EBADMSG for a malformed
 * DHCP frame, DHCP_SPOOFED for one naming another chaddr (both counted, dropped)
 */
int dhcp_input(struct dhcp *d, const uint8_t *frame, size_t len, uint64_t now,
	       uint8_t *reply, size_t cap);

/** dhcp_poll() - next deferred offer that is due. Return: its length or 0 */
int dhcp_poll(struct dhcp *d, uint64_t now, uint8_t *reply, size_t cap);

/** dhcp_timeout() - ms until dhcp_poll() has work, -1 if none */
long dhcp_timeout(const struct dhcp *d, uint64_t now);

/** dhcp_bound() - leases currently bound */
uint32_t dhcp_bound(const struct dhcp *d, uint64_t now);

/**
 * dhcp_check() - verify the indexes against the slots (tests and fuzzing)
 * Return: 0, or -EUCLEAN with *@why set
 */
int dhcp_check(const struct dhcp *d, const char **why);

/**
 * dhcp_save() - write the lease file atomically (tmp + fsync + rename)
 * Return: 0 or -errno
 */
int dhcp_save(struct dhcp *d, const char *path);

/**
 * dhcp_load() - read a lease file written by dhcp_save(); lines outside
 * the pool or unparsable are skipped and counted in *@skipped.
 * Return: leases loaded, or -errno (-ENOENT: no file yet)
 */
int dhcp_load(struct dhcp *d, const char *path, unsigned int *skipped);

#endif /* VMF_DHCP_H */
