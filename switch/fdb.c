/* fdb.c - MAC learning table: (MAC, VLAN) -> port, bounded, with aging */

/*
 * DOC: Theory of operation
 *
 * One table per network. Keys are (MAC, VLAN); values the port index and
 * when the MAC was last seen as a source. Slots are found with SipHash
 * under a key drawn per table (a peer cannot choose MACs that share a home
 * slot), probed linearly; deletion shifts later entries back (no
 * tombstones), so a long-running switch does not degrade.
 *
 * Memory follows use: a table starts at 64 slots and doubles while it is
 * more than half full, up to twice its bound, so a network with a few
 * guests costs a few KiB whatever --max-macs says, and creating networks
 * costs nothing until they learn.
 *
 * Every port's entries form a doubly linked chain through the slots (slot
 * indices, fixed up when deletion shifts an entry), so a port that leaves
 * is flushed in time proportional to its own entries, not to the table,
 * and the table knows how many entries each port has. A port may have a
 * limit (port security: --port-macs, or its key's max-macs policy): a new
 * source beyond it is refused (-EDQUOT, the caller drops the frame).
 *
 * An entry older than age_ms is treated as absent by lookups and reclaimed
 * by learning and by the periodic fdb_age() sweep. When @max entries are
 * live, a new MAC is not learnt (-ENOSPC, counted by the caller) and its
 * frames keep being flooded: the switch degrades to a hub for that MAC,
 * never evicts a live entry an attacker did not own. Each aging sweep
 * records when the oldest remaining entry can expire, so a flood of new
 * sources into a full table costs a sweep only when one could free a slot.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fdb.h"

#define FDB_MIN_SLOTS	64

/* Slots for a table of @max entries at its largest: at least twice as many. */
static size_t slots_for(size_t max)
{
	size_t n = 16;

	while (n < 2 * max)
		n <<= 1;
	return n;
}

static struct fdb_entry *slots_new(size_t n)
{
	struct fdb_entry *s = malloc(n * sizeof(*s));

	for (size_t i = 0; s && i < n; i++)
		s[i].port = FDB_EMPTY;
	return s;
}

int fdb_init(struct fdb *f, size_t max, uint64_t age_ms)
{
	size_t n = slots_for(max) < FDB_MIN_SLOTS ? slots_for(max) : FDB_MIN_SLOTS;
	int rc;

	memset(f, 0, sizeof(*f));
	rc = sip_key_random(&f->key);
	if (rc)
		return rc;
	f->slots = slots_new(n);
	if (!f->slots)
		return -ENOMEM;
	f->mask = n - 1;
	f->max = max;
	f->age_ms = age_ms;
	return 0;
}

void fdb_free(struct fdb *f)
{
	if (!f)
		return;
	free(f->slots);
	free(f->ports);
	f->slots = NULL;
	f->ports = NULL;
	f->n_ports = 0;
	f->count = 0;
}

static size_t fdb_home(const struct fdb *f, const uint8_t mac[6], uint16_t vlan)
{
	uint64_t m = (uint64_t)vlan << 48;

	memcpy(&m, mac, 6);	/* little-endian: the MAC fills the low 48 bits */
	return (size_t)siphash13_u64(&f->key, m) & f->mask;
}

static int key_eq(const struct fdb_entry *e, const uint8_t mac[6], uint16_t vlan)
{
	return e->vlan == vlan && !memcmp(e->mac, mac, 6);
}

/* Make room in f->ports for index @port. */
static int ports_reserve(struct fdb *f, uint32_t port)
{
	uint32_t n = f->n_ports ? f->n_ports : 16;
	struct fdb_port *p;

	if (port < f->n_ports)
		return 0;
	while (n <= port && n < UINT32_MAX / 2)
		n *= 2;
	if (n <= port)
		return -ENOMEM;
	p = realloc(f->ports, n * sizeof(*p));
	if (!p)
		return -ENOMEM;
	for (uint32_t i = f->n_ports; i < n; i++)
		p[i] = (struct fdb_port){ FDB_NIL, 0, 0 };
	f->ports = p;
	f->n_ports = n;
	return 0;
}

/* Put the entry in @slot at the head of its port's chain. */
static void chain_link(struct fdb *f, uint32_t slot)
{
	struct fdb_entry *e = &f->slots[slot];
	struct fdb_port *fp = &f->ports[e->port];

	e->prev = FDB_NIL;
	e->next = fp->head;
	if (fp->head != FDB_NIL)
		f->slots[fp->head].prev = slot;
	fp->head = slot;
	fp->count++;
}

static void chain_unlink(struct fdb *f, uint32_t slot)
{
	struct fdb_entry *e = &f->slots[slot];
	struct fdb_port *fp = &f->ports[e->port];

	if (e->prev != FDB_NIL)
		f->slots[e->prev].next = e->next;
	else
		fp->head = e->next;
	if (e->next != FDB_NIL)
		f->slots[e->next].prev = e->prev;
	fp->count--;
}

/* The entry now in slot @to was shifted there: point its neighbours at it. */
static void chain_moved(struct fdb *f, uint32_t to)
{
	struct fdb_entry *e = &f->slots[to];

	if (e->prev != FDB_NIL)
		f->slots[e->prev].next = to;
	else
		f->ports[e->port].head = to;
	if (e->next != FDB_NIL)
		f->slots[e->next].prev = to;
}

/* Remove the entry in slot @i, shifting the probe chain back over it. */
static void fdb_remove_slot(struct fdb *f, size_t i)
{
	size_t j = i;

	chain_unlink(f, (uint32_t)i);
	f->slots[i].port = FDB_EMPTY;
	f->count--;
	for (;;) {
		size_t home;

		j = (j + 1) & f->mask;
		if (f->slots[j].port == FDB_EMPTY)
			return;
		home = fdb_home(f, f->slots[j].mac, f->slots[j].vlan);
		/* can slot j's entry live in the hole at i? (i cyclically in [home, j)) */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			f->slots[i] = f->slots[j];
			f->slots[j].port = FDB_EMPTY;
			chain_moved(f, (uint32_t)i);
			i = j;
		}
	}
}

/* A free slot for (mac, vlan), which is not in the table. */
static size_t free_slot(const struct fdb *f, const uint8_t mac[6], uint16_t vlan)
{
	size_t i = fdb_home(f, mac, vlan);

	while (f->slots[i].port != FDB_EMPTY)
		i = (i + 1) & f->mask;
	return i;
}

/* Double the slot array and re-insert every entry (chains are rebuilt). */
static int fdb_grow(struct fdb *f)
{
	struct fdb_entry *old = f->slots;
	size_t n = f->mask + 1;

	f->slots = slots_new(2 * n);
	if (!f->slots) {
		f->slots = old;
		return -ENOMEM;
	}
	f->mask = 2 * n - 1;
	for (uint32_t p = 0; p < f->n_ports; p++) {
		f->ports[p].head = FDB_NIL;
		f->ports[p].count = 0;
	}
	for (size_t i = 0; i < n; i++) {
		size_t k;

		if (old[i].port == FDB_EMPTY)
			continue;
		k = free_slot(f, old[i].mac, old[i].vlan);
		f->slots[k] = old[i];
		chain_link(f, (uint32_t)k);
	}
	free(old);
	return 0;
}

static int expired(const struct fdb *f, const struct fdb_entry *e, uint64_t now)
{
	return now - e->seen_ms >= f->age_ms;
}

static int at_limit(const struct fdb *f, uint32_t port)
{
	const struct fdb_port *fp = &f->ports[port];

	return fp->limit && fp->count >= fp->limit;
}

int fdb_learn(struct fdb *f, const uint8_t mac[6], uint16_t vlan, uint32_t port, uint64_t now)
{
	size_t i = fdb_home(f, mac, vlan);

	if (ports_reserve(f, port))
		return -ENOSPC;
	for (;; i = (i + 1) & f->mask) {
		struct fdb_entry *e = &f->slots[i];
		int r;

		if (e->port == FDB_EMPTY)
			break;
		if (!key_eq(e, mac, vlan))
			continue;
		/* an aged entry is gone (lookups say so): its return is no move */
		r = expired(f, e, now) ? FDB_LEARNT : e->port != port ? FDB_MOVED : FDB_REFRESHED;
		if (e->port != port) {
			if (at_limit(f, port))
				return -EDQUOT;
			chain_unlink(f, (uint32_t)i);
			e->port = port;
			chain_link(f, (uint32_t)i);
		}
		e->seen_ms = now;
		return r;
	}
	if (at_limit(f, port))
		return -EDQUOT;
	if (f->count >= f->max && (now < f->next_expiry || !fdb_age(f, now)))
		return -ENOSPC;
	/* keep the table at most half full while it may grow; never full */
	if (2 * (f->count + 1) > f->mask + 1 && f->mask + 1 < slots_for(f->max) &&
	    fdb_grow(f) && f->count + 2 > f->mask + 1)
		return -ENOSPC;
	/* aging or growing may have moved entries: look for a free slot now */
	i = free_slot(f, mac, vlan);
	memcpy(f->slots[i].mac, mac, 6);
	f->slots[i].vlan = vlan;
	f->slots[i].port = port;
	f->slots[i].seen_ms = now;
	chain_link(f, (uint32_t)i);
	f->count++;
	return FDB_LEARNT;
}

uint32_t fdb_lookup(struct fdb *f, const uint8_t mac[6], uint16_t vlan, uint64_t now)
{
	size_t i = fdb_home(f, mac, vlan);

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

int fdb_port_limit(struct fdb *f, uint32_t port, uint32_t limit)
{
	if (ports_reserve(f, port))
		return -ENOMEM;
	f->ports[port].limit = limit;
	return 0;
}

uint32_t fdb_port_count(const struct fdb *f, uint32_t port)
{
	return port < f->n_ports ? f->ports[port].count : 0;
}

size_t fdb_flush_port(struct fdb *f, uint32_t port)
{
	size_t removed = 0;

	if (port >= f->n_ports)
		return 0;
	while (f->ports[port].head != FDB_NIL) {
		fdb_remove_slot(f, f->ports[port].head);
		removed++;
	}
	f->ports[port].limit = 0;
	return removed;
}

size_t fdb_age(struct fdb *f, uint64_t now)
{
	size_t removed = 0, i = 0;
	uint64_t oldest = UINT64_MAX;

	while (i <= f->mask) {
		struct fdb_entry *e = &f->slots[i];

		if (e->port != FDB_EMPTY && expired(f, e, now)) {
			fdb_remove_slot(f, i);
			removed++;
			continue;	/* slot i now holds a shifted entry: look again */
		}
		if (e->port != FDB_EMPTY && e->seen_ms < oldest)
			oldest = e->seen_ms;
		i++;
	}
	/* later learning only adds newer entries: this stays a lower bound */
	f->next_expiry = oldest == UINT64_MAX ? 0 : oldest + f->age_ms;
	return removed;
}

const struct fdb_entry *fdb_next(const struct fdb *f, size_t *pos, uint64_t now)
{
	while (*pos <= f->mask) {
		const struct fdb_entry *e = &f->slots[(*pos)++];

		if (e->port != FDB_EMPTY && !expired(f, e, now))
			return e;
	}
	return NULL;
}
