/* fdb.h - MAC learning table: (MAC, VLAN) -> port, bounded, with aging */
#ifndef VMF_FDB_H
#define VMF_FDB_H

#include <stddef.h>
#include <stdint.h>

#include "siphash.h"

/**
 * struct fdb_entry - one learnt (MAC, VLAN)
 * @port:	FDB_EMPTY marks a free slot
 * @prev, @next: slots of the neighbours in the port's chain (FDB_NIL ends)
 */
struct fdb_entry {
	uint8_t mac[6];
	uint16_t vlan;
	uint32_t port;
	uint32_t prev, next;
	uint64_t seen_ms;
};

#define FDB_EMPTY	UINT32_MAX
#define FDB_NIL		UINT32_MAX

/**
 * struct fdb_port - what the table knows per port
 * @head:	first slot of the port's chain of entries (FDB_NIL: none)
 * @count:	entries on the port
 * @limit:	most entries the port may have (0: only the table's bound)
 */
struct fdb_port {
	uint32_t head;
	uint32_t count;
	uint32_t limit;
};

/**
 * struct fdb - open-addressing hash table with linear probing
 * @slots:	slot array; grows by doubling up to 2 * @max slots
 * @mask:	slot count - 1 (power of two)
 * @max:	most entries learnt at once; beyond that, learning is refused
 * @count:	entries in use
 * @age_ms:	an entry not refreshed for this long is gone
 * @key:	hash key, random per table
 * @ports:	per-port chains, counts and limits, indexed by port
 * @n_ports:	size of @ports
 */
struct fdb {
	struct fdb_entry *slots;
	size_t mask;
	size_t max;
	size_t count;
	uint64_t age_ms;
	uint64_t next_expiry;	/* no entry can age out before this (a lower bound) */
	struct sip_key key;
	struct fdb_port *ports;
	uint32_t n_ports;
};

enum fdb_result {
	FDB_REFRESHED = 0,	/* known on this port */
	FDB_LEARNT = 1,		/* new entry */
	FDB_MOVED = 2,		/* was on another port, now here */
};

/** fdb_init() - an empty table for up to @max entries; memory grows with use */
int fdb_init(struct fdb *f, size_t max, uint64_t age_ms);
void fdb_free(struct fdb *f);

/**
 * fdb_learn() - @mac was seen as a source on @port
 * Return: enum fdb_result, -ENOSPC if the table is full, -EDQUOT if @port
 * holds its limit of entries (the MAC is not learnt or moved)
 */
int fdb_learn(struct fdb *f, const uint8_t mac[6], uint16_t vlan, uint32_t port, uint64_t now);

/** fdb_lookup() - Return: port, or FDB_EMPTY if unknown or aged out */
uint32_t fdb_lookup(struct fdb *f, const uint8_t mac[6], uint16_t vlan, uint64_t now);

/**
 * fdb_port_limit() - at most @limit entries on @port (0: no limit of its
 * own); entries it already has beyond the limit stay until they age out
 * Return: 0 or -ENOMEM
 */
int fdb_port_limit(struct fdb *f, uint32_t port, uint32_t limit);

/** fdb_port_count() - entries on @port */
uint32_t fdb_port_count(const struct fdb *f, uint32_t port);

/** fdb_flush_port() - forget every entry of @port (its chain only); Return: entries removed */
size_t fdb_flush_port(struct fdb *f, uint32_t port);

/** fdb_age() - remove entries older than age_ms; Return: entries removed */
size_t fdb_age(struct fdb *f, uint64_t now);

/**
 * fdb_next() - iterate over the live (not aged) entries: start with *@pos = 0;
 * Return: the next entry, or NULL at the end. The table must not change
 * while iterating.
 */
const struct fdb_entry *fdb_next(const struct fdb *f, size_t *pos, uint64_t now);

#endif /* VMF_FDB_H */
