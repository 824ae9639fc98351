/* fdb.c - MAC learning table: (MAC, VLAN) -> port, bounded, with aging */

/*
 * DOC: Theory of operation
 *
 * One table per network. Keys are (MAC, VLAN); values the port index and
 * when the MAC was last seen as a source. The table has twice as many slots
 * as its bound, so probes stay short; deletion shifts later entries back
 * (no tombstones), so a long-running switch does not degrade. An entry
 * older than age_ms is treated as absent by lookups and reclaimed by
 * learning and by the periodic fdb_age() sweep. When @max entries are live,
 * a new MAC is not learnt (-ENOSPC, counted by the caller) and its frames
 * keep being flooded: the switch degrades to a hub for that MAC, never
 * evicts a live entry an attacker did not own. Each aging sweep records
 * when the oldest remaining entry can expire, so a flood of new sources
 * into a full table costs a sweep only when one could free a slot.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fdb.h"

int fdb_init(struct fdb *f, size_t max, uint64_t age_ms)
{
	size_t n = 16;

	while (n < 2 * max)
		n <<= 1;
	f->slots = malloc(n * sizeof(*f->slots));
	if (!f->slots)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		f->slots[i].port = FDB_EMPTY;
	f->mask = n - 1;
	f->max = max;
	f->count = 0;
	f->age_ms = age_ms;
	f->next_expiry = 0;
	return 0;
}

void fdb_free(struct fdb *f)
{
	if (!f)
		return;
	free(f->slots);
	f->slots = NULL;
	f->count = 0;
}

static size_t fdb_hash(const uint8_t mac[6], uint16_t vlan)
{
	uint64_t h = 0;

	memcpy(&h, mac, 6);
	h ^= (uint64_t)vlan << 48;
	h *= 0x9e3779b97f4a7c15ULL;
	return (size_t)(h >> 29);
}

static int key_eq(const struct fdb_entry *e, const uint8_t mac[6], uint16_t vlan)
{
	return e->vlan == vlan && !memcmp(e->mac, mac, 6);
}

/* Remove the entry in slot @i, shifting the probe chain back over it. */
static void fdb_remove_slot(struct fdb *f, size_t i)
{
	size_t j = i;

	f->slots[i].port = FDB_EMPTY;
	f->count--;
	for (;;) {
		size_t home;

		j = (j + 1) & f->mask;
		if (f->slots[j].port == FDB_EMPTY)
			return;
		home = fdb_hash(f->slots[j].mac, f->slots[j].vlan) & f->mask;
		/* can slot j's entry live in the hole at i? (i cyclically in [home, j)) */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			f->slots[i] = f->slots[j];
			f->slots[j].port = FDB_EMPTY;
			i = j;
		}
	}
}

static int expired(const struct fdb *f, const struct fdb_entry *e, uint64_t now)
{
	return now - e->seen_ms >= f->age_ms;
}

int fdb_learn(struct fdb *f, const uint8_t mac[6], uint16_t vlan, uint32_t port, uint64_t now)
{
	size_t i = fdb_hash(mac, vlan) & f->mask;

	for (;; i = (i + 1) & f->mask) {
		struct fdb_entry *e = &f->slots[i];

		if (e->port == FDB_EMPTY)
			break;
		if (key_eq(e, mac, vlan)) {
			/* an aged entry is gone (lookups say so): its return is no move */
			int r = expired(f, e, now) ? FDB_LEARNT :
				e->port != port ? FDB_MOVED : FDB_REFRESHED;

			e->port = port;
			e->seen_ms = now;
			return r;
		}
	}
	if (f->count >= f->max && (now < f->next_expiry || !fdb_age(f, now)))
		return -ENOSPC;
	/* aging may have shifted entries: probe again for a free slot */
	i = fdb_hash(mac, vlan) & f->mask;
	while (f->slots[i].port != FDB_EMPTY)
		i = (i + 1) & f->mask;
	memcpy(f->slots[i].mac, mac, 6);
	f->slots[i].vlan = vlan;
	f->slots[i].port = port;
	f->slots[i].seen_ms = now;
	f->count++;
	return FDB_LEARNT;
}

uint32_t fdb_lookup(struct fdb *f, const uint8_t mac[6], uint16_t vlan, uint64_t now)
{
	size_t i = fdb_hash(mac, vlan) & f->mask;

	for (;; i = (i + 1) & f->mask) {
		struct fdb_entry *e = &f->slots[i];

		if (e->port == FDB_EMPTY)
			return FDB_EMPTY;
		if (key_eq(e, mac, vlan)) {
			if (expired(f, e, now)) {
				fdb_remove_slot(f, i);
				return FDB_EMPTY;
			}
			return e->port;
		}
	}
}

/* Remove every entry matching @port (or aged, if @port is FDB_EMPTY). */
static size_t fdb_sweep(struct fdb *f, uint32_t port, uint64_t now)
{
	size_t removed = 0, i = 0;
	uint64_t oldest = UINT64_MAX;

	while (i <= f->mask) {
		struct fdb_entry *e = &f->slots[i];

		if (e->port != FDB_EMPTY &&
		    (port == FDB_EMPTY ? expired(f, e, now) : e->port == port)) {
			fdb_remove_slot(f, i);
			removed++;
			continue;	/* slot i now holds a shifted entry: look again */
		}
		if (e->port != FDB_EMPTY && e->seen_ms < oldest)
			oldest = e->seen_ms;
		i++;
	}
	/* later learning only adds newer entries: this stays a lower bound */
	if (port == FDB_EMPTY)
		f->next_expiry = oldest == UINT64_MAX ? 0 : oldest + f->age_ms;
	return removed;
}

size_t fdb_flush_port(struct fdb *f, uint32_t port)
{
	return fdb_sweep(f, port, 0);
}

size_t fdb_age(struct fdb *f, uint64_t now)
{
	return fdb_sweep(f, FDB_EMPTY, now);
}
