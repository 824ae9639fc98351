/* test_fdb.c - unit tests for the MAC learning table (switch/fdb.c), checked against a reference model */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"

#include "fdb.h"

#define FDB_AGE		300000		/* the switch's default, 300 s */

static void fdb_mac(uint8_t mac[6], uint32_t n)
{
	mac[0] = 0x52;
	mac[1] = 0x54;
	mac[2] = (uint8_t)(n >> 24);
	mac[3] = (uint8_t)(n >> 16);
	mac[4] = (uint8_t)(n >> 8);
	mac[5] = (uint8_t)n;
}

static int fdb_setup(void **state)
{
	struct fdb *f = malloc(sizeof(*f));

	assert_non_null(f);
	assert_int_equal(fdb_init(f, 64, FDB_AGE), 0);
	*state = f;
	return 0;
}

static int fdb_teardown(void **state)
{
	fdb_free(*state);
	free(*state);
	return 0;
}

static void test_fdb_learn_lookup(void **state)
{
	struct fdb *f = *state;
	uint8_t a[6], b[6];

	fdb_mac(a, 1);
	fdb_mac(b, 2);
	assert_int_equal(fdb_lookup(f, a, 0, 1000), FDB_EMPTY);
	assert_int_equal(fdb_learn(f, a, 0, 1, 1000), FDB_LEARNT);
	assert_int_equal(fdb_learn(f, b, 0, 7, 1000), FDB_LEARNT);
	assert_int_equal(f->count, 2);
	assert_int_equal(fdb_lookup(f, a, 0, 1001), 1);
	assert_int_equal(fdb_lookup(f, b, 0, 1001), 7);
	/* a MAC differing in one bit is another MAC */
	b[5] ^= 0x80;
	assert_int_equal(fdb_lookup(f, b, 0, 1001), FDB_EMPTY);
}

static void test_fdb_refresh(void **state)
{
	struct fdb *f = *state;
	uint8_t a[6];

	fdb_mac(a, 10);
	assert_int_equal(fdb_learn(f, a, 0, 3, 1000), FDB_LEARNT);
	assert_int_equal(fdb_learn(f, a, 0, 3, 1000 + FDB_AGE / 2), FDB_REFRESHED);
	assert_int_equal(f->count, 1);
	/* past the first sighting's expiry, but not the refresh's */
	assert_int_equal(fdb_lookup(f, a, 0, 1000 + FDB_AGE + 10), 3);
	assert_int_equal(fdb_lookup(f, a, 0, 1000 + FDB_AGE / 2 + FDB_AGE), FDB_EMPTY);
}

static void test_fdb_move(void **state)
{
	struct fdb *f = *state;
	uint8_t a[6];

	fdb_mac(a, 20);
	assert_int_equal(fdb_learn(f, a, 5, 1, 1000), FDB_LEARNT);
	assert_int_equal(fdb_learn(f, a, 5, 2, 2000), FDB_MOVED);
	assert_int_equal(f->count, 1);
	assert_int_equal(fdb_lookup(f, a, 5, 2001), 2);
	assert_int_equal(fdb_learn(f, a, 5, 2, 3000), FDB_REFRESHED);
	assert_int_equal(fdb_learn(f, a, 5, 1, 4000), FDB_MOVED);
	assert_int_equal(fdb_lookup(f, a, 5, 4001), 1);
	/* the move refreshed the entry too */
	assert_int_equal(fdb_lookup(f, a, 5, 4000 + FDB_AGE - 1), 1);
}

static void test_fdb_vlan(void **state)
{
	struct fdb *f = *state;
	uint8_t a[6];

	fdb_mac(a, 30);
	assert_int_equal(fdb_learn(f, a, 10, 3, 1000), FDB_LEARNT);
	/* the same MAC on another VLAN is a separate entry, not a move */
	assert_int_equal(fdb_learn(f, a, 20, 4, 1000), FDB_LEARNT);
	assert_int_equal(f->count, 2);
	assert_int_equal(fdb_lookup(f, a, 10, 1001), 3);
	assert_int_equal(fdb_lookup(f, a, 20, 1001), 4);
	assert_int_equal(fdb_lookup(f, a, 0, 1001), FDB_EMPTY);
	assert_int_equal(fdb_lookup(f, a, 4095, 1001), FDB_EMPTY);
	assert_int_equal(fdb_flush_port(f, 3), 1);
	assert_int_equal(fdb_lookup(f, a, 10, 1002), FDB_EMPTY);
	assert_int_equal(fdb_lookup(f, a, 20, 1002), 4);
}

static void test_fdb_aging(void **state)
{
	struct fdb *f = *state;
	uint8_t m[6];
	uint32_t i;

	fdb_mac(m, 40);
	assert_int_equal(fdb_learn(f, m, 0, 1, 1000), FDB_LEARNT);
	assert_int_equal(fdb_lookup(f, m, 0, 1000 + FDB_AGE - 1), 1);
	assert_int_equal(fdb_lookup(f, m, 0, 1000 + FDB_AGE), FDB_EMPTY);
	/* the lookup reclaimed it */
	assert_int_equal(f->count, 0);

	/* fdb_age() removes exactly the stale entries */
	for (i = 0; i < 20; i++) {
		fdb_mac(m, 100 + i);
		assert_int_equal(fdb_learn(f, m, 0, i % 4, 10000), FDB_LEARNT);
	}
	for (i = 0; i < 20; i += 2) {
		fdb_mac(m, 100 + i);
		assert_int_equal(fdb_learn(f, m, 0, i % 4, 20000), FDB_REFRESHED);
	}
	assert_int_equal(fdb_age(f, 10000 + FDB_AGE - 1), 0);
	assert_int_equal(f->count, 20);
	assert_int_equal(fdb_age(f, 10000 + FDB_AGE), 10);
	assert_int_equal(f->count, 10);
	for (i = 0; i < 20; i++) {
		fdb_mac(m, 100 + i);
		assert_int_equal(fdb_lookup(f, m, 0, 10000 + FDB_AGE), i % 2 ? FDB_EMPTY : i % 4);
	}
	assert_int_equal(fdb_age(f, 20000 + FDB_AGE), 10);
	assert_int_equal(f->count, 0);
}

/* A MAC that aged out and comes back is new, wherever it comes back. */
static void test_fdb_relearn_after_aging(void **state)
{
	struct fdb *f = *state;
	uint8_t m[6];

	fdb_mac(m, 50);
	assert_int_equal(fdb_learn(f, m, 0, 1, 1000), FDB_LEARNT);
	assert_int_equal(fdb_learn(f, m, 0, 2, 1000 + FDB_AGE), FDB_LEARNT);
	assert_int_equal(fdb_lookup(f, m, 0, 1000 + FDB_AGE), 2);
	assert_int_equal(fdb_learn(f, m, 0, 2, 1000 + 2 * FDB_AGE), FDB_LEARNT);
	assert_int_equal(f->count, 1);
}

static void test_fdb_bound(void **state)
{
	struct fdb f;
	uint8_t m[6];
	uint32_t i;

	(void)state;
	assert_int_equal(fdb_init(&f, 8, 1000), 0);
	for (i = 0; i < 8; i++) {
		fdb_mac(m, i);
		assert_int_equal(fdb_learn(&f, m, 0, i, 100), FDB_LEARNT);
	}
	fdb_mac(m, 8);
	assert_int_equal(fdb_learn(&f, m, 0, 8, 200), -ENOSPC);
	assert_int_equal(fdb_lookup(&f, m, 0, 200), FDB_EMPTY);
	assert_int_equal(f.count, 8);
	/* a full table still refreshes and moves what it knows */
	fdb_mac(m, 3);
	assert_int_equal(fdb_learn(&f, m, 0, 3, 600), FDB_REFRESHED);
	fdb_mac(m, 4);
	assert_int_equal(fdb_learn(&f, m, 0, 9, 600), FDB_MOVED);
	/* no live entry is evicted: every one of the 8 is still there */
	for (i = 0; i < 8; i++) {
		fdb_mac(m, i);
		assert_int_equal(fdb_lookup(&f, m, 0, 1099), i == 4 ? 9 : i);
	}
	/* once entries age out, learning reclaims them by itself */
	fdb_mac(m, 8);
	assert_int_equal(fdb_learn(&f, m, 0, 8, 1100), FDB_LEARNT);
	assert_int_equal(f.count, 3);	/* 3, 4 (refreshed at 600) and the new one */
	fdb_mac(m, 3);
	assert_int_equal(fdb_lookup(&f, m, 0, 1100), 3);
	/* ... and after an explicit sweep too */
	for (i = 20; f.count < 8; i++) {
		fdb_mac(m, i);
		assert_int_equal(fdb_learn(&f, m, 0, 1, 1200), FDB_LEARNT);
	}
	fdb_mac(m, 99);
	assert_int_equal(fdb_learn(&f, m, 0, 1, 1300), -ENOSPC);
	assert_int_equal(fdb_age(&f, 1600), 2);
	assert_int_equal(fdb_learn(&f, m, 0, 1, 1600), FDB_LEARNT);
	assert_int_equal(fdb_learn(&f, m, 1, 1, 1600), FDB_LEARNT);
	fdb_mac(m, 98);
	assert_int_equal(fdb_learn(&f, m, 0, 1, 1600), -ENOSPC);
	fdb_free(&f);
	fdb_free(NULL);
}

static void test_fdb_flush_port(void **state)
{
	struct fdb *f = *state;
	uint8_t m[6];
	uint32_t i;

	for (i = 0; i < 60; i++) {
		fdb_mac(m, 1000 + i);
		assert_int_equal(fdb_learn(f, m, (uint16_t)(i % 3), i % 5, 1000), FDB_LEARNT);
	}
	assert_int_equal(fdb_flush_port(f, 2), 12);
	assert_int_equal(f->count, 48);
	assert_int_equal(fdb_flush_port(f, 2), 0);
	assert_int_equal(fdb_flush_port(f, 77), 0);
	for (i = 0; i < 60; i++) {
		fdb_mac(m, 1000 + i);
		assert_int_equal(fdb_lookup(f, m, (uint16_t)(i % 3), 1001), i % 5 == 2 ? FDB_EMPTY : i % 5);
	}
}

/* Reference model: the table as a plain array, searched linearly. */
struct fdb_model {
	struct fdb_entry e[512];
	size_t n;
	size_t max;
	uint64_t age_ms;
};

static long fdb_model_find(const struct fdb_model *m, const uint8_t mac[6], uint16_t vlan)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->e[i].vlan == vlan && !memcmp(m->e[i].mac, mac, 6))
			return (long)i;
	return -1;
}

static void fdb_model_del(struct fdb_model *m, size_t i)
{
	m->e[i] = m->e[--m->n];
}

static size_t fdb_model_sweep(struct fdb_model *m, uint32_t port, uint64_t now)
{
	size_t removed = 0, i = 0;

	while (i < m->n) {
		int stale = port == FDB_EMPTY ? now - m->e[i].seen_ms >= m->age_ms : m->e[i].port == port;

		if (stale) {
			fdb_model_del(m, i);
			removed++;
		} else {
			i++;
		}
	}
	return removed;
}

static int fdb_model_learn(struct fdb_model *m, const uint8_t mac[6], uint16_t vlan, uint32_t port,
			   uint64_t now)
{
	long i = fdb_model_find(m, mac, vlan);
	int r;

	if (i >= 0) {
		if (now - m->e[i].seen_ms >= m->age_ms)
			r = FDB_LEARNT;
		else
			r = m->e[i].port == port ? FDB_REFRESHED : FDB_MOVED;
		m->e[i].port = port;
		m->e[i].seen_ms = now;
		return r;
	}
	if (m->n >= m->max && !fdb_model_sweep(m, FDB_EMPTY, now))
		return -ENOSPC;
	memcpy(m->e[m->n].mac, mac, 6);
	m->e[m->n].vlan = vlan;
	m->e[m->n].port = port;
	m->e[m->n].seen_ms = now;
	m->n++;
	return FDB_LEARNT;
}

static uint32_t fdb_model_lookup(struct fdb_model *m, const uint8_t mac[6], uint16_t vlan, uint64_t now)
{
	long i = fdb_model_find(m, mac, vlan);

	if (i < 0)
		return FDB_EMPTY;
	if (now - m->e[i].seen_ms >= m->age_ms) {
		fdb_model_del(m, (size_t)i);
		return FDB_EMPTY;
	}
	return m->e[i].port;
}

/* Every live slot is a model entry (no duplicates), and every model entry is findable. */
static void fdb_check_against_model(struct fdb *f, struct fdb_model *m, uint64_t now)
{
	size_t used = 0;

	for (size_t s = 0; s <= f->mask; s++) {
		const struct fdb_entry *e = &f->slots[s];
		long i;

		if (e->port == FDB_EMPTY)
			continue;
		used++;
		i = fdb_model_find(m, e->mac, e->vlan);
		assert_true(i >= 0);
		assert_int_equal(m->e[i].port, e->port);
		assert_true(m->e[i].seen_ms == e->seen_ms);
	}
	assert_int_equal(used, m->n);
	assert_int_equal(f->count, m->n);
	/* every port's chain holds exactly its entries, linked both ways */
	for (uint32_t port = 0; port < 8; port++) {
		uint32_t want = 0, n = 0, prev = FDB_NIL;

		for (size_t i = 0; i < m->n; i++)
			want += m->e[i].port == port;
		assert_int_equal(fdb_port_count(f, port), want);
		for (uint32_t s = port < f->n_ports ? f->ports[port].head : FDB_NIL; s != FDB_NIL;
		     s = f->slots[s].next) {
			assert_int_equal(f->slots[s].port, port);
			assert_int_equal(f->slots[s].prev, prev);
			prev = s;
			assert_true(++n <= want);
		}
		assert_int_equal(n, want);
	}
	/* lookups may reclaim expired entries: mirror that in the model */
	for (size_t i = 0; i < m->n;) {
		struct fdb_entry e = m->e[i];
		uint32_t want = fdb_model_lookup(m, e.mac, e.vlan, now);

		assert_int_equal(fdb_lookup(f, e.mac, e.vlan, now), want);
		if (want != FDB_EMPTY)
			i++;
	}
	assert_int_equal(f->count, m->n);
}

static uint64_t fdb_rng_state;

static uint32_t fdb_rand(void)
{
	fdb_rng_state ^= fdb_rng_state >> 12;
	fdb_rng_state ^= fdb_rng_state << 25;
	fdb_rng_state ^= fdb_rng_state >> 27;
	return (uint32_t)((fdb_rng_state * 0x2545F4914F6CDD1DULL) >> 32);
}

static void fdb_stress(size_t max, uint32_t macs, uint64_t age_ms, unsigned int ops, uint64_t seed)
{
	struct fdb_model *m = calloc(1, sizeof(*m));
	struct fdb f;
	uint64_t now = 1000;
	unsigned int counts[4] = { 0 };	/* refreshed, learnt, moved, full */

	assert_non_null(m);
	assert_int_equal(fdb_init(&f, max, age_ms), 0);
	m->max = max;
	m->age_ms = age_ms;
	fdb_rng_state = seed;
	for (unsigned int op = 0; op < ops; op++) {
		uint32_t r = fdb_rand() % 100, port = fdb_rand() % 8;
		uint16_t vlan = (uint16_t)(fdb_rand() % 3);
		uint8_t mac[6];

		fdb_mac(mac, fdb_rand() % macs);
		now += fdb_rand() % (age_ms / 500 + 1);
		if (r < 70) {
			int want = fdb_model_learn(m, mac, vlan, port, now);

			assert_int_equal(fdb_learn(&f, mac, vlan, port, now), want);
			counts[want == -ENOSPC ? 3 : want]++;
		} else if (r < 95) {
			uint32_t want = fdb_model_lookup(m, mac, vlan, now);

			assert_int_equal(fdb_lookup(&f, mac, vlan, now), want);
		} else if (r < 96) {
			assert_int_equal(fdb_flush_port(&f, port), fdb_model_sweep(m, port, 0));
		} else {
			assert_int_equal(fdb_age(&f, now), fdb_model_sweep(m, FDB_EMPTY, now));
		}
		if (op % 64 == 0)
			fdb_check_against_model(&f, m, now);
	}
	fdb_check_against_model(&f, m, now);
	/* the run went through every outcome, or it proved little */
	print_message("fdb max %zu: refreshed %u learnt %u moved %u full %u\n", max, counts[0], counts[1], counts[2], counts[3]);
	for (size_t i = 0; i < 4; i++)
		assert_true(counts[i] > 0);
	fdb_free(&f);
	free(m);
}

static void test_fdb_stress(void **state)
{
	(void)state;
	/* a table kept near its bound: long probe chains, wrap-around, -ENOSPC */
	fdb_stress(64, 200, 5000, 200000, 0x1234);
	/* the smallest table (16 slots) */
	fdb_stress(8, 20, 2000, 100000, 0x5678);
	/* a larger one, with longer aging */
	fdb_stress(256, 300, 100000, 200000, 0x9abc);
}

/* A port at its limit learns no new MAC and takes none over; flushing frees its quota. */
static void test_fdb_port_limit(void **state)
{
	struct fdb *f = *state;
	uint8_t mac[6];

	assert_int_equal(fdb_port_limit(f, 3, 2), 0);
	fdb_mac(mac, 1);
	assert_int_equal(fdb_learn(f, mac, 0, 3, 1000), FDB_LEARNT);
	fdb_mac(mac, 2);
	assert_int_equal(fdb_learn(f, mac, 0, 3, 1000), FDB_LEARNT);
	fdb_mac(mac, 3);
	assert_int_equal(fdb_learn(f, mac, 0, 3, 1000), -EDQUOT);
	assert_int_equal(fdb_lookup(f, mac, 0, 1001), FDB_EMPTY);
	/* a MAC known on another port cannot move to the full port either */
	assert_int_equal(fdb_learn(f, mac, 0, 4, 1000), FDB_LEARNT);
	assert_int_equal(fdb_learn(f, mac, 0, 3, 1001), -EDQUOT);
	assert_int_equal(fdb_lookup(f, mac, 0, 1002), 4);
	/* known MACs are refreshed as before */
	fdb_mac(mac, 1);
	assert_int_equal(fdb_learn(f, mac, 0, 3, 1002), FDB_REFRESHED);
	assert_int_equal(fdb_port_count(f, 3), 2);
	assert_int_equal(fdb_flush_port(f, 3), 2);
	assert_int_equal(fdb_port_count(f, 3), 0);
	/* the flush also lifts the limit: the slot index goes to the next port */
	for (uint32_t i = 10; i < 20; i++) {
		fdb_mac(mac, i);
		assert_int_equal(fdb_learn(f, mac, 0, 3, 1003), FDB_LEARNT);
	}
	assert_int_equal(fdb_port_count(f, 3), 10);
}

/*
 * MACs that all shared one home slot under the old unkeyed hash
 * ((mac | vlan << 48) * 0x9e3779b97f4a7c15 >> 29, masked) must not form one
 * cluster: with a keyed hash the longest run of occupied slots stays short.
 */
static void test_fdb_collisions(void **state)
{
	struct fdb f;
	uint8_t mac[6];
	size_t found = 0, run = 0, longest = 0;
	const size_t want = 1000;

	(void)state;
	assert_int_equal(fdb_init(&f, 1024, FDB_AGE), 0);
	for (uint64_t c = 0; found < want; c++) {
		uint64_t h = 0;

		fdb_mac(mac, (uint32_t)c);
		memcpy(&h, mac, 6);
		if (((h * 0x9e3779b97f4a7c15ULL) >> 29 & 2047) != 0)
			continue;
		assert_int_equal(fdb_learn(&f, mac, 0, (uint32_t)(found % 7), 1000), FDB_LEARNT);
		found++;
	}
	assert_int_equal(f.count, want);
	assert_int_equal(f.mask + 1, 2048);	/* grown from 64 slots as it filled */
	for (size_t i = 0; i < 2 * (f.mask + 1); i++) {
		if (f.slots[i & f.mask].port != FDB_EMPTY) {
			run++;
			longest = run > longest ? run : longest;
		} else {
			run = 0;
		}
	}
	print_message("1000 MACs colliding under the old hash: longest cluster %zu slots\n", longest);
	assert_true(longest < 200);
	fdb_free(&f);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fdb_setup, fdb_teardown)
UNIT_MAIN("fdb", NULL, NULL,
	    T(test_fdb_learn_lookup), T(test_fdb_refresh), T(test_fdb_move), T(test_fdb_vlan),
	    T(test_fdb_aging), T(test_fdb_relearn_after_aging), U(test_fdb_bound),
	    T(test_fdb_flush_port), U(test_fdb_stress), T(test_fdb_port_limit),
	    U(test_fdb_collisions))
