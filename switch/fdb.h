/* fdb.h - MAC learning table: (MAC, VLAN) -> port, bounded, with aging */
#ifndef VMF_FDB_H
#define VMF_FDB_H

#include <stddef.h>
#include <stdint.h>

struct fdb_entry {
	uint8_t mac[6];
	uint16_t vlan;
	uint32_t port;		/* FDB_EMPTY marks a free slot */
	uint64_t seen_ms;
};

#define FDB_EMPTY	UINT32_MAX

/**
 * struct fdb - open-addressing hash table with linear probing
 * @slots:	2 * @max slots, allocated once
 * @mask:	slot count - 1 (power of two)
 * @max:	most entries learnt at once; beyond that, learning is refused
 * @count:	entries in use
 * @age_ms:	an entry not refreshed for this long is gone
 */
struct fdb {
	struct fdb_entry *slots;
	size_t mask;
	size_t max;
	size_t count;
	uint64_t age_ms;
	uint64_t next_expiry;	/* no entry can age out before this (a lower bound) */
};

enum fdb_result {
	FDB_REFRESHED = 0,	/* known on this port */
	FDB_LEARNT = 1,		/* new entry */
	FDB_MOVED = 2,		/* was on another port, now here */
};

int fdb_init(struct fdb *f, size_t max, uint64_t age_ms);
void fdb_free(struct fdb *f);

/** fdb_learn() - Return: enum fdb_result, or -ENOSPC if the table is full */
int fdb_learn(struct fdb *f, const uint8_t mac[6], uint16_t vlan, uint32_t port, uint64_t now);

/** fdb_lookup() - Return: port, or FDB_EMPTY if unknown or aged out */
uint32_t fdb_lookup(struct fdb *f, const uint8_t mac[6], uint16_t vlan, uint64_t now);

/** fdb_flush_port() - forget every entry of @port; Return: entries removed */
size_t fdb_flush_port(struct fdb *f, uint32_t port);

/** fdb_age() - remove entries older than age_ms; Return: entries removed */
size_t fdb_age(struct fdb *f, uint64_t now);

#endif /* VMF_FDB_H */
